#!/usr/bin/python3
"""settings_used.py - every PARLEY_* variable the compose file and the
Kubernetes manifests give a daemon is a setting that daemon has (its
--help, the built binary) or one the image's entrypoint reads; a typo or a
setting a daemon does not have would otherwise be silently ignored.

    settings_used.py COMPOSE_CONFIG_YAML K8S_RENDERED_YAML [BIN_DIR]

deploy/pending-settings.txt lists settings the files use ahead of the
daemons; one that a daemon has by now must leave that list.
"""
import re
import subprocess
import sys

import yaml

DAEMONS = ["gateway", "message-svc", "presence-svc", "notify-svc", "search-indexer",
           "devkafka"]
# read by deploy/docker/entrypoint.sh, not by the daemons
ENTRYPOINT = {"PARLEY_SHARD_FROM_HOSTNAME", "PARLEY_POD_NAME", "PARLEY_PG_DSN_DIR",
              "PARLEY_MESSAGE_URL_TEMPLATE", "PARLEY_SEARCH_URL_TEMPLATE"}
ENTRYPOINT_RE = re.compile(r"^PARLEY_PG_DSN_\d+(_FILE)?$")


def settings(bin_dir):
    out = {}
    for d in DAEMONS:
        r = subprocess.run(["%s/%s" % (bin_dir, d), "--help"], capture_output=True,
                           text=True, timeout=30)
        out[d] = set(re.findall(r"env (PARLEY_[A-Z0-9_]+)", r.stdout + r.stderr))
        if not out[d]:
            sys.exit("%s --help lists no settings" % d)
    return out


def pending(path="deploy/pending-settings.txt"):
    out = set()
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if line:
            out.add((line[0], line[1]))
    return out


PENDING = pending()


def check(where, daemon, names, known, bad):
    for n in sorted(names):
        if not n.startswith("PARLEY_") or n in ENTRYPOINT or ENTRYPOINT_RE.match(n):
            continue
        if n not in known[daemon] and (daemon, n) not in PENDING:
            bad.append("%s: %s has no setting %s" % (where, daemon, n))


def main():
    compose, k8s = sys.argv[1], sys.argv[2]
    known = settings(sys.argv[3] if len(sys.argv) > 3 else "build/bin")
    bad = ["deploy/pending-settings.txt: %s has %s now, delete the line" % (d, n)
           for d, n in sorted(PENDING) if n in known[d]]
    c = yaml.safe_load(open(compose))
    for svc, spec in c["services"].items():
        cmd = spec.get("command") or []
        if not cmd or cmd[0] not in DAEMONS:
            continue
        env = spec.get("environment") or {}
        names = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        check("compose " + svc, cmd[0], names, known, bad)
    objs = [o for o in yaml.safe_load_all(open(k8s)) if o]
    cms = {o["metadata"]["name"]: set(o.get("data", {})) for o in objs if o["kind"] == "ConfigMap"}
    for o in objs:
        if o["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for ct in o["spec"]["template"]["spec"]["containers"]:
            daemon = (ct.get("args") or [None])[0]
            if daemon not in DAEMONS:
                continue
            names = {e["name"] for e in ct.get("env", [])}
            # envFrom gives every key of the ConfigMap; a key no daemon has is a
            # typo, a key of another daemon is fine (one ConfigMap for all)
            for ef in ct.get("envFrom", []):
                for k in cms.get(ef.get("configMapRef", {}).get("name"), ()):
                    if not any(k in s for s in known.values()) and \
                            k not in ENTRYPOINT and not ENTRYPOINT_RE.match(k):
                        bad.append("k8s ConfigMap key %s is no daemon's setting" % k)
            check("k8s %s/%s" % (o["kind"], o["metadata"]["name"]), daemon, names, known, bad)
    if bad:
        sys.exit("\n".join(sorted(set(bad))))
    print("ok")


if __name__ == "__main__":
    main()
