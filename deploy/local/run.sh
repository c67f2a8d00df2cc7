#!/usr/bin/env bash
# run.sh - `make run`: start the local Parley stack in the foreground under
# var/ (deploy/local/stack.py), seed the demo team and print how to connect.
# Ctrl-C or SIGTERM stops every process it started.
#
#   PARLEY_GATEWAY_PROCS=N   gateway processes sharing port 8080 (default: one per core),
#                            process k with its own ops port 9160+k (/metrics)
#   PARLEY_LB=haproxy        two gateways on ports 8081, 8082 behind haproxy on 8080
#                            (deploy/haproxy/haproxy.cfg, the compose config)
#   A daemon that exits is restarted (full-jitter backoff, deploy/local/supervise.py)
#   PARLEY_ADMIN_TOKEN=...   the admin token (default: generated once into var/admin-token)
#   PARLEY_RESET=1           drop the demo databases and var/seed.json first
#   PARLEY_*                 any daemon setting, passed through to every daemon
set -euo pipefail
cd "$(dirname "$0")/../.."
# exec: stack.py receives the signals itself and stops its children in order
exec /usr/bin/python3 deploy/local/stack.py run --base "${PARLEY_VAR_DIR:-$PWD/var}" "$@"
