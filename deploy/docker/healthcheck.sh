#!/bin/sh
# parley-healthcheck - the container's HEALTHCHECK: GET /healthz on the ops
# port (PARLEY_OPS_ADDR), or on the gateway's client port (PARLEY_HTTP_ADDR)
# where no ops address is set. 0.0.0.0 is asked as 127.0.0.1.
set -eu
addr=${PARLEY_OPS_ADDR:-${PARLEY_HTTP_ADDR:-127.0.0.1:8080}}
port=${addr##*:}
exec curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${port}/healthz"
