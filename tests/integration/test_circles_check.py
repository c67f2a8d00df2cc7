"""test_circles_check.py - tests/check/circles.py (the architecture check of
`make test`) fails on what it is there to catch, on a small tree of its own:
a call circle (through a call or a callback's address), an #include circle, a
daemon including another's header, lib/ including proto/; gateway, once on its
NOT_YET list, is held to it like every folder; gateway's layers, read from the
table in gw.h's top comment: an include of a higher layer, a file the table
does not place, a table naming a missing file or out of its columns fail, an
include of its own layer or one below passes; docs/gateway.md's restated
table must agree with gw.h's; message-svc's table places its layer headers
(ms_chan.h) by name."""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "check", "circles.py")


def run(root, *folders):
    env = dict(os.environ, PARLEY_CIRCLES_ROOT=str(root))
    p = subprocess.run(["/usr/bin/python3", SCRIPT, *folders], env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout


def write(root, path, text):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_clean_folder_passes(tmp_path):
    write(tmp_path, "lib/a.h", "int a_fn(void);\n")
    write(tmp_path, "lib/a.c", '#include "a.h"\n#include "b.h"\nint a_fn(void) { return b_fn(); }\n')
    write(tmp_path, "lib/b.h", "int b_fn(void);\n")
    write(tmp_path, "lib/b.c", '#include "b.h"\n/* a_fn( in a comment */\n'
          'static int c(void) { return 0; }\nint b_fn(void) { return c() + sizeof("a_fn()"); }\n')
    rc, out = run(tmp_path, "lib")
    assert rc == 0, out
    assert "circles: 1 passed, 0 failed" in out


def test_call_circle_fails(tmp_path):
    write(tmp_path, "presence-svc/a.c", "int b_fn(void);\nint a_fn(void) { return b_fn(); }\n")
    write(tmp_path, "presence-svc/b.c", "int a_fn(void);\nint b_fn(void) { return a_fn(); }\n")
    rc, out = run(tmp_path, "presence-svc")
    assert rc == 1, out
    assert "FAIL: call circle of 2 files: a.c, b.c" in out
    assert "a.c -> b.c (b_fn)" in out and "b.c -> a.c (a_fn)" in out
    assert "circles: 0 passed, 1 failed" in out


def test_callback_address_counts(tmp_path):
    # b.c hands a.c's function over as a callback: still a dependency on a.c
    write(tmp_path, "tools/x/a.c", "int b_fn(void);\nint a_fn(void) { return b_fn(); }\n")
    write(tmp_path, "tools/x/b.c", "int a_fn(void);\nint (*b_cb)(void);\n"
          "int b_fn(void) { b_cb = a_fn; return 0; }\n")
    rc, out = run(tmp_path, "tools/x")
    assert rc == 1, out
    assert "b.c -> a.c (a_fn)" in out


def test_include_circle_and_borders_fail(tmp_path):
    write(tmp_path, "gateway/x.h", '#include "y.h"\n')
    write(tmp_path, "gateway/y.h", '#include "x.h"\n')
    write(tmp_path, "gateway/z.c", '#include "../message-svc/m.h"\n')
    write(tmp_path, "message-svc/m.h", "int m;\n")
    write(tmp_path, "proto/p.h", "int p;\n")
    write(tmp_path, "lib/l.c", '#include "p.h"\n')
    rc, out = run(tmp_path, "gateway", "lib")
    assert rc == 1, out
    assert "#include circle: x.h, y.h" in out
    assert "border: gateway/z.c includes ../message-svc/m.h" in out
    assert "border: lib/l.c includes p.h (proto/p.h)" in out
    assert "circles: 0 passed, 2 failed" in out


# a gateway's gw.h: the layer table in its top comment, laid out as the real one
GW_H = """/* gw.h - what every module shares. The layers, lowest first:
 *
 *   base        a.c        the lowest
 *               b.c        beside a.c; a description goes on below,
 *                          naming c.c as prose does
 *   upper       c.c        above base
 *   main        main.c     above all
 *
 * Prose after the table is not read: d.c, e.c. */
#ifndef GW_H
#define GW_H
#endif
"""


def gateway(root):
    """a gateway that passes: GW_H, a.c b.c (base), c.c (upper), main.c, with
    gw_a.h, gw_b.h, gw_c.h; each .c includes gw.h and its own header"""
    write(root, "gateway/gw.h", GW_H)
    for m in "abc":
        write(root, "gateway/gw_%s.h" % m, '#include "gw.h"\n')
        write(root, "gateway/%s.c" % m, '#include "gw.h"\n#include "gw_%s.h"\n' % m)
    write(root, "gateway/main.c", "".join('#include "gw_%s.h"\n' % m for m in "abc"))
    write(root, "docs/gateway.md", GW_DOC)


# docs/gateway.md: the same table for readers (main left to the prose)
GW_DOC = """# Gateway

| layer | modules |
|---|---|
| base | `a.c` (the lowest), `b.c` |
| upper | `c.c` |

`main.c` sits above all.
"""


def test_gateway_is_checked_like_every_folder(tmp_path):
    # gateway left NOT_YET when its circles were broken (issue #11): a call
    # circle in it fails now, as in any other folder
    gateway(tmp_path)
    write(tmp_path, "gateway/a.c", "int b_fn(void);\nint a_fn(void) { return b_fn(); }\n")
    write(tmp_path, "gateway/b.c", "int a_fn(void);\nint b_fn(void) { return a_fn(); }\n")
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: call circle of 2 files: a.c, b.c" in out
    write(tmp_path, "gateway/b.c", "int b_fn(void) { return 0; }\n")
    rc, out = run(tmp_path, "gateway")
    assert rc == 0, out
    assert "gateway: ok" in out


def test_layers_include_of_a_higher_layer_fails(tmp_path):
    # base's a.c, and base's header gw_b.h, include upper's gw_c.h
    gateway(tmp_path)
    rc, out = run(tmp_path, "gateway")
    assert rc == 0, out
    write(tmp_path, "gateway/a.c", '#include "gw.h"\n#include "gw_a.h"\n#include "gw_c.h"\n')
    write(tmp_path, "gateway/gw_b.h", '#include "gw.h"\n#include "gw_c.h"\n')
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: gateway/a.c (base) includes gw_c.h (upper): a layer above its own" in out
    assert "FAIL: layer: gateway/gw_b.h (base) includes gw_c.h (upper)" in out
    assert "circles: 0 passed, 1 failed" in out


def test_layers_own_layer_and_below_pass(tmp_path):
    # a.c includes b.c's header (same layer), gw_b.h includes gw_a.h, c.c
    # includes base's headers (below); main.c includes every layer's
    gateway(tmp_path)
    write(tmp_path, "gateway/a.c", '#include "gw.h"\n#include "gw_a.h"\n#include "gw_b.h"\n')
    write(tmp_path, "gateway/gw_b.h", '#include "gw.h"\n#include "gw_a.h"\n')
    write(tmp_path, "gateway/c.c", '#include "gw_c.h"\n#include "gw_a.h"\n#include "gw_b.h"\n')
    rc, out = run(tmp_path, "gateway")
    assert rc == 0, out
    assert "gateway: ok" in out and "FAIL" not in out


def test_layers_a_file_the_table_does_not_place_fails(tmp_path):
    # d.c and gw_e.h are named only in prose after the table; x.c is nowhere
    gateway(tmp_path)
    write(tmp_path, "gateway/d.c", '#include "gw.h"\n')
    write(tmp_path, "gateway/x.c", '#include "gw.h"\n')
    write(tmp_path, "gateway/gw_e.h", '#include "gw.h"\n')
    write(tmp_path, "gateway/d_test.c", '#include "gw_c.h"\n')    # unit tests aside
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: gateway/d.c is in no layer of gw.h's table: place it" in out
    assert "FAIL: layer: gateway/x.c is in no layer of gw.h's table: place it" in out
    assert "FAIL: layer: gateway/gw_e.h is in no layer of gw.h's table (no e.c in it)" in out
    assert out.count("FAIL: ") == 3, out


def test_layers_table_must_be_whole(tmp_path):
    # a table naming a file that is gone, a line out of the columns, no gw.h
    gateway(tmp_path)
    (tmp_path / "gateway/b.c").unlink()
    (tmp_path / "gateway/gw_b.h").unlink()
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: gateway/gw.h places b.c, which does not exist" in out
    gateway(tmp_path)
    write(tmp_path, "gateway/gw.h", GW_H.replace(" *               b.c ", " *          b.c      "))
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: gateway/gw.h:4: 'b.c' stands under neither the layers ('base')" in out
    assert "FAIL: layer: gateway/b.c is in no layer of gw.h's table" in out
    (tmp_path / "gateway/gw.h").unlink()
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: gateway/gw.h is missing (it holds the folder's layer table)" in out


def test_layer_doc_must_agree_with_the_header(tmp_path):
    # the document moves b.c up, forgets c.c and names a z.c gw.h does not
    gateway(tmp_path)
    write(tmp_path, "docs/gateway.md", GW_DOC.replace("`a.c` (the lowest), `b.c`", "`a.c`")
          .replace("| upper | `c.c` |", "| upper | `b.c`, `z.c` |"))
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: docs/gateway.md places b.c in layer upper, gw.h's table in base" in out
    assert "FAIL: layer: docs/gateway.md places no c.c (gw.h's table: layer upper)" in out
    assert "FAIL: layer: docs/gateway.md places z.c, which gw.h's table does not" in out
    assert out.count("FAIL: ") == 3, out
    (tmp_path / "docs/gateway.md").unlink()
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: layer: docs/gateway.md is missing (it restates gw.h's layer table)" in out


# message-svc: one header per layer, placed in the table by name
MS_H = """/* message_svc.h - the layers:
 *
 *   base     state.c    the lowest (this header)
 *   chan     ms_chan.h  channel state
 *            chan.c     the table
 *   methods  ms_methods.h
 *            post.c     a handler
 *   main     main.c     above all
 */
"""


def test_message_svc_layers_place_headers_by_name(tmp_path):
    write(tmp_path, "message-svc/message_svc.h", MS_H)
    write(tmp_path, "message-svc/ms_chan.h", '#include "message_svc.h"\n')
    write(tmp_path, "message-svc/ms_methods.h", '#include "message_svc.h"\n')
    write(tmp_path, "message-svc/state.c", '#include "message_svc.h"\n')
    write(tmp_path, "message-svc/chan.c", '#include "message_svc.h"\n#include "ms_chan.h"\n')
    write(tmp_path, "message-svc/post.c", '#include "ms_chan.h"\n#include "ms_methods.h"\n')
    write(tmp_path, "message-svc/main.c", '#include "ms_methods.h"\n')
    rc, out = run(tmp_path, "message-svc")
    assert rc == 0, out
    # the channel state reaching up to the handlers' header fails
    write(tmp_path, "message-svc/chan.c", '#include "ms_chan.h"\n#include "ms_methods.h"\n')
    write(tmp_path, "message-svc/ms_chan.h", '#include "ms_methods.h"\n')
    write(tmp_path, "message-svc/ms_pure.h", '#include "message_svc.h"\n')
    rc, out = run(tmp_path, "message-svc")
    assert rc == 1, out
    assert "FAIL: layer: message-svc/chan.c (chan) includes ms_methods.h (methods)" in out
    assert "FAIL: layer: message-svc/ms_chan.h (chan) includes ms_methods.h (methods)" in out
    assert "FAIL: layer: message-svc/ms_pure.h is in no layer of message_svc.h's table" in out
    assert out.count("FAIL: ") == 3, out
