# tools/bench/common.sh - what run.sh (`make bench`) and chat_ab.sh share:
# the sizes of the chat scenario (so both run the same one), stopping a
# process, waiting for a file, and reading a local stack's stack.json.
# Sourced from the project root; PY is set here if the caller has not.
# shellcheck shell=bash disable=SC2034  # the sizes are used by the scripts that source this
PY=${PY:-/usr/bin/python3}
CHAT_CONNS=${BENCH_CHAT_CONNS:-5000}
RATE=${BENCH_RATE:-5000}
DUR=${BENCH_DURATION:-10}
PROCS=${BENCH_PROCS:-2}
CHANNELS=${BENCH_CHANNELS:-1000}
LARGE=${BENCH_LARGE:-4}
LARGE_SHARE=${BENCH_LARGE_SHARE:-0.005}
SMALL=${BENCH_SMALL_PER_USER:-1}
SENDERS=${BENCH_SENDERS:-500}
CHAT_OPTS=(--conns "$CHAT_CONNS" --rate "$RATE" --senders "$SENDERS" --channels "$CHANNELS"
	--large "$LARGE" --large-share "$LARGE_SHARE" --small-per-user "$SMALL")

# stop_pid PID - TERM, wait up to 15 s, then KILL
stop_pid() {
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
}

# wait_file F SECONDS - until F exists and is not empty
wait_file() {
	for _ in $(seq $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}

# stack_port STACK_JSON - the port of the stack's HTTP URL (its load balancer
# or only gateway)
stack_port() {
	$PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["http_url"].rsplit(":",1)[1])' "$1"
}

# stack_gateway_pids STACK_JSON - the gateways' pids, comma-separated
stack_gateway_pids() {
	$PY -c 'import json,sys;p=json.load(open(sys.argv[1]))["pids"];print(",".join(str(v) for k,v in sorted(p.items()) if k.startswith("gateway")))' "$1"
}
