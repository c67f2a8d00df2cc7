#!/usr/bin/env bash
# tools/bench/chat_ab.sh - the chat scenario of `make bench`, alone, against
# several builds in turn, with where the CPU went: the tool that found issue
# #11's chat regression (docs/benchmarks.md "Issue #11").
#
#   tools/bench/chat_ab.sh [-n RUNS] LABEL=BIN_DIR [LABEL=BIN_DIR ...]
#
# For each of RUNS rounds (default 2), for each build in the order given: a
# fresh deploy/local/stack.py (2 gateways, rate limits off) of BIN_DIR's
# daemons, then build/bin/loadgen's chat with make bench's options (the
# BENCH_* sizes of tools/bench/common.sh: 5,000 connections, 5,000 msgs/s,
# 500 senders, 1,000 channels, 10 s by default). The
# same loadgen (this tree's) drives every build. Prints two lines a run:
#   LABEL  p50 / p99 delivery ms, ack p50 / p99 ms, delivered/expected
#   LABEL  CPU seconds of the measured phase: each daemon, each PostgreSQL
#          database's backends (pg:<db>), the whole machine (machine)
# A build of another commit: git worktree add --detach DIR COMMIT; make -C DIR all.
set -u
cd "$(dirname "$0")/../.." || exit 2
PY=/usr/bin/python3
# make bench's chat sizes (CHAT_OPTS, PROCS, DUR: BENCH_* as in run.sh),
# stop_pid, wait_file, stack_port, stack_gateway_pids
# shellcheck source=tools/bench/common.sh
. tools/bench/common.sh
RUNS=2
if [ "${1:-}" = -n ]; then RUNS=$2; shift 2; fi
if [ $# -eq 0 ]; then sed -n '2,17p' "$0" >&2; exit 2; fi
for b in "$@"; do
	[ -x "${b#*=}/gateway" ] || { echo "chat_ab: ${b#*=}/gateway missing" >&2; exit 2; }
done
STACK_PID=
WORK=
cleanup() {
	[ -n "$STACK_PID" ] && stop_pid "$STACK_PID"
	STACK_PID=
	[ -n "$WORK" ] && rm -rf "$WORK"
	WORK=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# one LABEL BIN_DIR - one run, two lines
one() {
	local label=$1 bin=$2 j port gw tok lg c0 c1
	WORK=$(mktemp -d /tmp/chat-ab.XXXXXX)
	PARLEY_RATE_LIMITS=0 setsid "$PY" deploy/local/stack.py run --base "$WORK/stack" \
		--free-ports --no-seed --gateways 2 --bin-dir "$bin" > "$WORK/stack.log" 2>&1 &
	STACK_PID=$!
	j=$WORK/stack/stack.json
	wait_file "$j" 120 || { echo "chat_ab: $label: the stack did not start" >&2; tail -5 "$WORK/stack.log" >&2; cleanup; return; }
	port=$(stack_port "$j")
	gw=$(stack_gateway_pids "$j")
	tok=$(cat "$WORK/stack/admin-token")
	# run.sh's chat line: the same options
	build/bin/loadgen --mode parley --scenario chat --port "$port" --procs "$PROCS" \
		--duration "$DUR" --server-pids "$gw" --label "$label" --out "$WORK/chat.json" \
		"${CHAT_OPTS[@]}" --ping-ms 10000 --admin-token "$tok" \
		--provision "$WORK/users.txt" > /dev/null 2> "$WORK/loadgen.log" &
	lg=$!
	# the measured phase starts when loadgen reports the warm-up done
	while kill -0 "$lg" 2>/dev/null && ! grep -qs 'warm-up:' "$WORK/loadgen.log"; do sleep 0.05; done
	c0=$($PY tools/bench/cpu_sample.py "$j")
	wait "$lg"
	c1=$($PY tools/bench/cpu_sample.py "$j")
	if [ -s "$WORK/chat.json" ]; then
		$PY - "$WORK/chat.json" "$label" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); l = d["latency_ms"]; a = d["ack_ms"]; c = d["counters"]
print("%-12s p50 %6.1f p99 %7.1f ms  ack p50 %6.1f p99 %7.1f ms  delivered %d/%d" % (
    sys.argv[2], l["p50"], l["p99"], a["p50"], a["p99"], c["delivered"], c["expected"]))
PY
		printf '%-12s cpu s: %s\n' "$label" "$($PY tools/bench/cpu_sample.py --diff "$c0" "$c1")"
	else
		echo "chat_ab: $label: loadgen failed" >&2; tail -5 "$WORK/loadgen.log" >&2
	fi
	cleanup
}

for _ in $(seq "$RUNS"); do
	for b in "$@"; do one "${b%%=*}" "${b#*=}"; done
done
