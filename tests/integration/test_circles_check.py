"""test_circles_check.py - tests/check/circles.py (the architecture check of
`make test`) fails on what it is there to catch, on a small tree of its own:
a call circle (through a call or a callback's address), an #include circle, a
daemon including another's header, lib/ including proto/; gateway, once on its
NOT_YET list, is held to it like every folder."""

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


def test_gateway_is_checked_like_every_folder(tmp_path):
    # gateway left NOT_YET when its circles were broken (issue #11): a call
    # circle in it fails now, as in any other folder
    write(tmp_path, "gateway/a.c", "int b_fn(void);\nint a_fn(void) { return b_fn(); }\n")
    write(tmp_path, "gateway/b.c", "int a_fn(void);\nint b_fn(void) { return a_fn(); }\n")
    rc, out = run(tmp_path, "gateway")
    assert rc == 1, out
    assert "FAIL: call circle of 2 files: a.c, b.c" in out
    write(tmp_path, "gateway/b.c", "int b_fn(void) { return 0; }\n")
    rc, out = run(tmp_path, "gateway")
    assert rc == 0, out
    assert "gateway: ok" in out
