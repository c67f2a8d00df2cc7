#!/usr/bin/python3
"""circles.py - the architecture checks of `make test` (tests/run.sh, suite "circles").

For every folder of FOLDERS, three checks, counted as one:

  calls     no call circle between its .c files: file A uses a non-static function
            defined in file B and B, directly or through others, uses one of A's.
            Definitions come from Universal Ctags (`ctags -x --c-kinds=f`); uses are
            the identifiers of each file (comments, strings and character constants
            removed) that name another file's non-static function: a call, or the
            function's address handed over as a callback (both make A depend on B).
            An up-call that must exist goes through an ops table registered at init
            (as lib/loop.h does), so the lower file names no function of the upper.
  includes  no #include circle between the folder's files (quoted includes only).
  borders   a daemon or tool includes only its own headers, lib/, proto/, the
            generated protobuf header and tests/unit/ (never another daemon's or
            tool's); proto/ includes only proto/, lib/ and the generated header;
            lib/ includes only lib/ (it knows nothing of chat).

A folder of LAYERS has a fourth, counted with them:

  layers    its files stand in layers, lowest first, and a file includes the headers of
            its own layer and of the layers below, never of a layer above. The table is
            the one a newcomer reads, in the top comment of the folder's shared header
            (gateway/gw.h): its first indented block, one line per file, the layer's
            name in the first column (on its first file's line), the file.c in the
            second, what it does further right (deeper lines continue that). A header
            P_<m>.h or <m>.h is of m.c's layer, the table's own header P.h of the lowest,
            a header the table names (message-svc's ms_chan.h) of the layer it stands in.
            Every .c file (unit tests aside) and header must be placed; the table must
            name only files that exist, each once. The top layer (main.c) includes all.
            When LAYER_DOCS names a document for the folder, its "| layer | modules |"
            table must place the same .c files in the same layers.

NOT_YET names the folders whose call circles predate the check, each with the circle
it had when the check came in. Their circles are printed (information, not failure);
their include and border checks are enforced like everyone's. When a folder's circle is
gone, the script says so: remove the folder from NOT_YET in the same change.

Prints one line per folder and last "circles: N passed, N failed"; exit 1 on a failure.
Run from anywhere: /usr/bin/python3 tests/check/circles.py [folder ...]
Limits: a call hidden in a macro of a header is not seen (write the macro's callee in
the header's own module); a function defined in two files counts for the first.
"""
import os
import re
import subprocess
import sys

# PARLEY_CIRCLES_ROOT: another tree to check (the checker's own test builds one)
ROOT = os.environ.get("PARLEY_CIRCLES_ROOT") or \
    os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# every folder with C sources; a new daemon or tool is added here
FOLDERS = ["lib", "proto", "gateway", "message-svc", "presence-svc", "notify-svc",
           "search-indexer", "tools/devkafka", "tools/loadgen", "tools/floor",
           "tools/msgbench", "tools/searchbench", "tools/resend"]

# folder -> the call circle(s) it had when the check came in (issue #11); remove the
# entry when the circle is broken, never add one
NOT_YET = {
}

# folder -> the header whose top comment holds its layer table; a folder not named here
# has no layers
LAYERS = {"gateway": "gw.h", "message-svc": "message_svc.h"}

# folder -> the document whose "| layer | modules |" table restates the header's for
# readers: it must name the same files in the same layers (the top layer may be left to
# the prose)
LAYER_DOCS = {"gateway": "docs/gateway.md"}

SHARED = {"lib", "proto"}
GEN = "build/gen"   # parley.pb-c.h, found on the include path of every object
TEST_SCAFFOLD = "tests/unit"

COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING_RE = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
IDENT_RE = re.compile(r"\b[A-Za-z_]\w*\b")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
WORD_RE = re.compile(r"\S+")
FILE_RE = re.compile(r"^[\w.-]+\.[ch]$")
DOC_ROW_RE = re.compile(r"^\|\s*([\w-]+)\s*\|(.*)\|\s*$")
DOC_FILE_RE = re.compile(r"`([\w.-]+\.c)`")


def strip(text):
    """the code of a C file without comments, strings and character constants"""
    text = COMMENT_RE.sub(" ", text)
    text = STRING_RE.sub('""', text)
    return re.sub(r"^\s*#\s*include[^\n]*", "", text, flags=re.M)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def sources(folder):
    """the .c files of folder that go into its programs (not the unit tests)"""
    d = os.path.join(ROOT, folder)
    return sorted(f for f in os.listdir(d) if f.endswith(".c") and not f.endswith("_test.c"))


def definitions(folder, files):
    """(name -> file of its non-static definition, file -> set of its static names)"""
    out = subprocess.run(["ctags", "-x", "--c-kinds=f", "--language-force=C"]
                         + [os.path.join(ROOT, folder, f) for f in files],
                         capture_output=True, text=True, check=True).stdout
    public, static = {}, {f: set() for f in files}
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 5:
            continue
        name, path, src = parts[0], parts[3], parts[4]
        f = os.path.basename(path)
        if f not in static:
            continue
        if re.match(r"\s*static\b", src):
            static[f].add(name)
        else:
            public.setdefault(name, f)
    return public, static


def call_edges(folder):
    """file -> {file it uses: [names]} over the folder's sources"""
    files = sources(folder)
    public, static = definitions(folder, files)
    edges = {f: {} for f in files}
    for f in files:
        names = set(IDENT_RE.findall(strip(read(os.path.join(ROOT, folder, f)))))
        for name in sorted(names - static[f]):
            g = public.get(name)
            if g and g != f:
                edges[f].setdefault(g, []).append(name)
    return edges


def components(edges):
    """the strongly connected components of more than one node (Tarjan)"""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def describe(comp, edges):
    """one line per edge inside a circle: a.c -> b.c (b_fn, ...)"""
    lines = []
    for a in comp:
        for b in sorted(edges[a]):
            if b in comp:
                names = edges[a][b]
                more = " +%d" % (len(names) - 3) if len(names) > 3 else ""
                lines.append("      %s -> %s (%s%s)" % (a, b, ", ".join(names[:3]), more))
    return lines


def resolve(folder, name):
    """the repository path a quoted include of a file in folder names, or None"""
    for base in [folder, "lib", "proto", TEST_SCAFFOLD, GEN]:
        p = os.path.normpath(os.path.join(base, name))
        if os.path.exists(os.path.join(ROOT, p)) or (base == GEN and name == "parley.pb-c.h"):
            return p
    return None


def include_checks(folder):
    """(include circles as lists of files, border breaches as lines)"""
    d = os.path.join(ROOT, folder)
    files = sorted(f for f in os.listdir(d) if f.endswith((".c", ".h")))
    edges = {f: {} for f in files}
    breaches = []
    for f in files:
        for name in INCLUDE_RE.findall(read(os.path.join(d, f))):
            p = resolve(folder, name)
            if p is None:
                continue    # a system header in quotes, or not found: the compiler says so
            top = os.path.dirname(p)
            if top == folder:
                if os.path.basename(p) != f:
                    edges[f].setdefault(os.path.basename(p), []).append(name)
                continue
            if folder == "lib":
                allowed = set()
            elif folder == "proto":
                allowed = {"lib", GEN}
            else:
                allowed = {"lib", "proto", GEN}
            if f.endswith("_test.c"):
                allowed = allowed | {TEST_SCAFFOLD}
            if top not in allowed:
                breaches.append("%s/%s includes %s (%s)" % (folder, f, name, p))
    return components(edges), breaches, edges


def layer_table(folder, header):
    """(file.c -> layer index, layer names, problems) from the first indented block of
    the top comment of folder/header"""
    path = os.path.join(ROOT, folder, header)
    where = "%s/%s" % (folder, header)
    if not os.path.exists(path):
        return {}, [], ["%s is missing (it holds the folder's layer table)" % where]
    text = read(path)
    m = re.search(r"/\*.*?\*/", text, re.S)
    first = text.count("\n", 0, m.start()) + 1 if m else 0
    block = []      # (line number, the text after the comment's "*", indented)
    for n, line in enumerate(m.group(0).splitlines() if m else [], first):
        rest = line.split("*", 1)[1] if "*" in line else line    # after " *" or "/*"
        rest = rest.replace("*/", "").rstrip()
        if rest.startswith("  ") and rest.strip():
            block.append((n, rest))
        elif block:
            break
    words = list(WORD_RE.finditer(block[0][1])) if block else []
    if len(words) < 2:
        return {}, [], ["%s has no layer table (an indented block in its top comment "
                        "that starts: layer  file.c  what it does)" % where]
    lcol, fcol = words[0].start(), words[1].start()
    columns = "the layers ('%s') nor the files ('%s')" % (words[0].group(),
                                                            words[1].group())
    table, names, problems = {}, [], []
    for n, rest in block:
        words = list(WORD_RE.finditer(rest))
        col = words[0].start()
        if col == lcol:
            if len(words) < 2 or words[1].start() != fcol:
                problems.append("%s:%d: layer %s: its first file does not stand under "
                                "the files" % (where, n, words[0].group()))
                continue
            if words[0].group() in names:
                problems.append("%s:%d: layer %s opened twice"
                                % (where, n, words[0].group()))
            names.append(words[0].group())
            f = words[1].group()
        elif col == fcol:
            f = words[0].group()
        elif col > fcol:
            continue        # the description goes on
        else:
            problems.append("%s:%d: '%s' stands under neither %s, nor right of them "
                            "(a description)" % (where, n, words[0].group(), columns))
            continue
        if not FILE_RE.match(f):
            problems.append("%s:%d: '%s' where the table names a file.c" % (where, n, f))
        elif f in table:
            problems.append("%s:%d: %s placed twice" % (where, n, f))
        else:
            table[f] = len(names) - 1
    return table, names, problems


def layer_checks(folder):
    """the breaches of the folder's layers as lines (none for a folder without LAYERS)"""
    header = LAYERS.get(folder)
    if header is None:
        return []
    table, names, breaches = layer_table(folder, header)
    if not table:
        return breaches or ["%s/%s: its layer table places no file" % (folder, header)]
    d = os.path.join(ROOT, folder)
    files = sorted(f for f in os.listdir(d)
                   if f.endswith((".c", ".h")) and not f.endswith("_test.c"))
    for f in sorted(table):
        if f not in files:
            breaches.append("%s/%s places %s, which does not exist" % (folder, header, f))
    prefix = header[:-2] + "_"

    def layer(f):
        """the layer index of a file of the folder, None when the table places none"""
        if f == header:
            return 0
        if f in table:
            return table[f]
        if f.endswith(".h"):
            m = f[len(prefix):] if f.startswith(prefix) else f
            f = m[:-2] + ".c"
        return table.get(f)

    for f in files:
        mine = layer(f)
        if mine is None:
            what = "" if f.endswith(".c") else " (no %s in it)" % (
                (f[len(prefix):] if f.startswith(prefix) else f)[:-2] + ".c")
            breaches.append("%s/%s is in no layer of %s's table%s: place it"
                            % (folder, f, header, what))
            continue
        for name in INCLUDE_RE.findall(read(os.path.join(d, f))):
            p = resolve(folder, name)
            if p is None or os.path.dirname(p) != folder:
                continue
            theirs = layer(os.path.basename(p))
            if theirs is not None and theirs > mine:
                breaches.append("%s/%s (%s) includes %s (%s): a layer above its own"
                                % (folder, f, names[mine], name, names[theirs]))
    return breaches + layer_doc_checks(folder, header, table, names)


def layer_doc_checks(folder, header, table, names):
    """where LAYER_DOCS's document for folder places a .c file otherwise than the header"""
    doc = LAYER_DOCS.get(folder)
    if doc is None:
        return []
    path = os.path.join(ROOT, doc)
    if not os.path.exists(path):
        return ["%s is missing (it restates %s's layer table)" % (doc, header)]
    placed = {}     # file.c -> layer name, from the document's table rows
    for line in read(path).splitlines():
        m = DOC_ROW_RE.match(line)
        if m and m.group(1) in names:
            for f in DOC_FILE_RE.findall(m.group(2)):
                placed[f] = m.group(1)
    problems = []
    for f, i in sorted(table.items()):
        if not f.endswith(".c"):
            continue
        if f not in placed:
            if i != len(names) - 1:
                problems.append("%s places no %s (%s's table: layer %s)"
                                % (doc, f, header, names[i]))
        elif placed[f] != names[i]:
            problems.append("%s places %s in layer %s, %s's table in %s"
                            % (doc, f, placed[f], header, names[i]))
    for f in sorted(set(placed) - set(table)):
        problems.append("%s places %s, which %s's table does not" % (doc, f, header))
    return problems


def check(folder):
    """print the folder's result; True when it passes"""
    if not os.path.isdir(os.path.join(ROOT, folder)):
        print("  %s: missing folder (FOLDERS names it)" % folder)
        return False
    cedges = call_edges(folder)
    ccircles = components(cedges)
    icircles, breaches, iedges = include_checks(folder)
    layers = layer_checks(folder)
    ok = not icircles and not breaches and not layers and \
        (folder in NOT_YET or not ccircles)
    status = "ok" if ok else "FAILED"
    if folder in NOT_YET:
        status += " (calls: not yet, see NOT_YET)" if ccircles else \
            " (calls: no circle any more - remove %s from NOT_YET)" % folder
    print("  %s: %s" % (folder, status))
    for c in ccircles:
        tag = "not yet" if folder in NOT_YET else "FAIL"
        print("    %s: call circle of %d files: %s" % (tag, len(c), ", ".join(c)))
        print("\n".join(describe(c, cedges)))
    for c in icircles:
        print("    FAIL: #include circle: %s" % ", ".join(c))
        print("\n".join(describe(c, iedges)))
    for b in breaches:
        print("    FAIL: border: %s" % b)
    for b in layers:
        print("    FAIL: layer: %s" % b)
    return ok


def main(argv):
    folders = argv[1:] or FOLDERS
    try:
        subprocess.run(["ctags", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        print("  ctags: Universal Ctags is missing (Debian package universal-ctags)")
        print("circles: 0 passed, 1 failed")
        return 1
    passed = failed = 0
    for folder in folders:
        if check(folder.rstrip("/")):
            passed += 1
        else:
            failed += 1
    print("circles: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
