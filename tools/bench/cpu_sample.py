#!/usr/bin/python3
"""cpu_sample.py - CPU time of a local stack's processes, for tools/bench/chat_ab.sh.

  cpu_sample.py STACK_JSON              print one JSON object of CPU seconds so far:
                                        each daemon of stack.json's "pids", each
                                        PostgreSQL database's backends together
                                        ("pg:<database>"; the stack's other
                                        PostgreSQL processes "pg:other") and
                                        the machine's busy time ("machine")
  cpu_sample.py --diff BEFORE AFTER     print AFTER - BEFORE, one "name=seconds" each

Backends that ended between the two samples are not counted (their time is
lost with them); chat_ab's backends live as long as the stack."""
import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """(utime + stime) of pid in seconds, its command name and its parent's pid;
    None when gone"""
    try:
        with open("/proc/%s/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK, name, int(fields[1])


def sample(stack_json):
    with open(stack_json) as f:
        pids = json.load(f)["pids"]
    out = {}
    for name, pid in sorted(pids.items()):
        got = proc_cpu(pid)
        if got is not None and name != "postgres":
            out[name] = got[0]
    postmaster = pids.get("postgres")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        got = proc_cpu(pid)
        if got is None or got[1] != "postgres" or got[2] != postmaster:
            continue        # another program, or another stack's PostgreSQL
        try:
            with open("/proc/%s/cmdline" % pid) as f:
                title = f.read().split()     # "postgres: user database host(port) state"
        except OSError:
            continue
        backend = len(title) > 3 and title[0] == "postgres:" and (
            "(" in title[3] or title[3] == "[local]")
        db = title[2] if backend else "other"
        key = "pg:" + db
        out[key] = out.get(key, 0.0) + got[0]
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:]]
    out["machine"] = (sum(t) - t[3] - t[4]) / TICK        # all but idle and iowait
    return out


def main(argv):
    if len(argv) == 4 and argv[1] == "--diff":
        a, b = json.loads(argv[2]), json.loads(argv[3])
        print(" ".join("%s=%.2f" % (k, b[k] - a.get(k, 0.0)) for k in sorted(b)
                       if b[k] - a.get(k, 0.0) >= 0.005))
        return 0
    if len(argv) == 2 and not argv[1].startswith("-"):
        print(json.dumps(sample(argv[1])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
