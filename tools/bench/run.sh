#!/usr/bin/env bash
# tools/bench/run.sh - Parley's benchmark suite (`make bench`).
#
# Starts what it measures, each on free ports, and stops all of it (by PID):
#   floor     build/bin/floor: the raw epoll write() loop (one process;
#             a second one joins the port just before its storm)
#   socketio  tools/bench/socketio/server.js: Socket.IO 4 + redis adapter,
#             one process per core, with its own redis-server
#   parley    deploy/local/stack.py (PARLEY_RATE_LIMITS=0), when the
#             daemons are built
#   msgbench  a fresh stack (1 gateway, 2 shards) and build/bin/msgbench
#             straight to message-svc: sustained sends/s with persistence,
#             send -> ack latency at BENCH_RATE, and a plain batched INSERT
#             of the same rows into the same PostgreSQL (issue #4)
#   search    (only when named: BENCH_MODES=search) a fresh stack and
#             build/bin/searchbench: BENCH_SEARCH_MESSAGES generated messages
#             (1,000,000) over 1,000 channels and 10,000 users indexed
#             (msgs/s, bytes/msg), p50/p99 of typical queries by sort, and
#             the indexing lag at BENCH_SEARCH_RATE msgs/s (2000) (issue #14)
# Runs with channels provision them completely before any client connects,
# then connect everyone, then warm up (one message per channel, until every
# member had it) before the measured phase.
# Runs the same scenarios against each with build/bin/loadgen, prints one
# table, writes bench/results/<timestamp>.json. Bounded by BENCH_BUDGET_S.
#
# Sizes (environment):
#   BENCH_MODES="floor socketio parley msgbench"   BENCH_CONNS=19000 (idle, broadcast)
#   (the baselines first: they are quick; Parley's provisioning is the slow part)
#   BENCH_CHAT_CONNS=5000  BENCH_RATE=5000  BENCH_DURATION=10  BENCH_PROCS=2
#   BENCH_CHANNELS=1000  BENCH_LARGE=4  BENCH_LARGE_SHARE=0.005
#   BENCH_SMALL_PER_USER=1  BENCH_SENDERS=500  BENCH_GATEWAYS=2
#   BENCH_SIO_PROCS=$(nproc)  BENCH_BUDGET_S=840
#   BENCH_KEEP_WORK=1 keeps the work directory (loadgen and daemon logs)
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${PARLEY_BIN_DIR:-$ROOT/build/bin}
PY=/usr/bin/python3
# the chat sizes (BENCH_CHAT_CONNS ... BENCH_SENDERS, CHAT_OPTS), stop_pid,
# wait_file, stack_port, stack_gateway_pids
# shellcheck source=tools/bench/common.sh
. tools/bench/common.sh
MODES=${BENCH_MODES:-"floor socketio parley msgbench"}
CONNS=${BENCH_CONNS:-19000}
GATEWAYS=${BENCH_GATEWAYS:-2}
SIO_PROCS=${BENCH_SIO_PROCS:-$(nproc)}
BUDGET=${BENCH_BUDGET_S:-840}
START=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d /tmp/parley-bench.XXXXXX)
OUT=$ROOT/bench/results/$STAMP.json
PIDS=()            # everything started here, stopped in reverse order

log() { echo "bench: $*" >&2; }
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

LG_PID=
cleanup() {
	local i
	[ -n "$LG_PID" ] && stop_pid "$LG_PID"
	for (( i=${#PIDS[@]}-1; i>=0; i-- )); do stop_pid "${PIDS[$i]}"; done
	if [ "${BENCH_KEEP_WORK:-0}" = 1 ]; then log "kept $WORK (logs of every run)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# lg MODE SCENARIO NAME PORT SERVER_PIDS [extra loadgen options] - one run into $WORK/MODE-NAME.json
lg() {
	local mode=$1 scen=$2 name=$3 port=$4 pids=$5; shift 5
	local t=$(( $(left) ))
	if [ "$t" -lt 30 ]; then log "budget spent: skipping $mode $name"; return 0; fi
	log "$mode $name ($scen) ..."
	# in the background and waited for, so that a signal reaches the trap at once
	timeout -k 5 "$t" "$BIN/loadgen" --mode "$mode" --scenario "$scen" --port "$port" \
		--procs "$PROCS" --duration "$DUR" --server-pids "$pids" --label "$name" \
		--out "$WORK/$mode-$name.json" "$@" > /dev/null 2> "$WORK/$mode-$name.log" &
	LG_PID=$!
	wait "$LG_PID" || { log "$mode $name failed:"; tail -5 "$WORK/$mode-$name.log" >&2; }
	LG_PID=
}

# suite MODE PORT PIDS KILL_PIDS AUX_PIDS [extra] - the standard set against one server
# (AUX_PIDS: the side's redis-server, whose RSS is reported on a line of its own)
suite() {
	local mode=$1 port=$2 pids=$3 kill=$4 aux=$5; shift 5
	if [ -n "$aux" ]; then set -- --aux-pids "$aux" "$@"; fi
	# idle at N first: the server's RSS growth is measured on a fresh process
	lg "$mode" idle idle "$port" "$pids" --conns "$CONNS" --channels 0 --ping-ms 10000 --settle 5 "$@"
	lg "$mode" idle idle-1k "$port" "$pids" --conns 1000 --channels 0 --ping-ms 1000 --settle 5 "$@"
	lg "$mode" chat chat "$port" "$pids" "${CHAT_OPTS[@]}" --ping-ms 10000 "$@"
	lg "$mode" slow slow "$port" "$pids" "${CHAT_OPTS[@]}" --rate $(( RATE / 2 )) --slow-frac 0.05 "$@"
	if [ "$kill" = floor2 ]; then
		# the floor's storm: a second floor joins the port, the first is killed
		"$BIN/floor" --port "$port" 2> "$WORK/floor2.err" &
		PIDS+=("$!"); kill=$pids; pids="$pids,$!"
		sleep 0.3
	fi
	if [ -n "$kill" ]; then
		lg "$mode" storm storm "$port" "$pids" "${CHAT_OPTS[@]}" --rate $(( RATE / 10 )) \
			--kill-pids "$kill" --ping-ms 5000 "$@"
	fi
	# last: Parley's invites of N members are the slowest part of the suite. After
	# the storm Parley's surviving gateway holds all N (N local members); Socket.IO
	# has re-forked its worker (3 s after the kill); the floor is one process throughout.
	lg "$mode" broadcast broadcast "$port" "$pids" --conns "$CONNS" --rounds 5 --ping-ms 0 --settle 5 "$@"
}

run_floor() {
	local port p1 p2
	"$BIN/floor" --port 0 --port-file "$WORK/floor.port" 2> "$WORK/floor.err" &
	p1=$!; PIDS+=("$p1")
	wait_file "$WORK/floor.port" 10 || { log "floor did not start"; return; }
	port=$(cat "$WORK/floor.port")
	# the storm: a second floor joins the port, the first is killed; the
	# broadcast that follows runs on the survivor alone
	suite floor "$port" "$p1" floor2 ""
	grep -h floor-fanout "$WORK"/floor*.err > "$WORK/floor-fanout.txt" || true
}

run_socketio() {
	local rport port pids rpid
	[ -d tools/bench/socketio/node_modules/socket.io ] ||
		(cd tools/bench/socketio && npm ci --no-audit --no-fund > "$WORK/npm.log" 2>&1) ||
		{ log "npm ci failed"; return; }
	rport=$(free_port); port=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		> "$WORK/redis.log" 2>&1 &
	rpid=$!; PIDS+=("$rpid")
	node tools/bench/socketio/server.js --port "$port" --redis-port "$rport" \
		--procs "$SIO_PROCS" --pid-file "$WORK/sio.pids" > "$WORK/sio.log" 2>&1 &
	PIDS+=("$!")
	wait_file "$WORK/sio.pids" 20 || { log "socket.io did not start"; tail "$WORK/sio.log" >&2; return; }
	pids=$(tr -d '\n' < "$WORK/sio.pids")
	suite socketio "$port" "$pids" "$(echo "$pids" | cut -d, -f2)" "$rpid"
}

run_parley() {
	local base=$WORK/stack port gw tok rpid
	for d in gateway message-svc presence-svc notify-svc search-indexer devkafka; do
		[ -x "$BIN/$d" ] || { log "parley: $BIN/$d missing, skipped"; return; }
	done
	PARLEY_RATE_LIMITS=0 setsid $PY deploy/local/stack.py run --base "$base" --free-ports \
		--no-seed --gateways "$GATEWAYS" > "$WORK/stack.log" 2>&1 &
	PIDS+=("$!")
	wait_file "$base/stack.json" 120 || { log "parley stack did not start"; tail "$WORK/stack.log" >&2; return; }
	port=$(stack_port "$base/stack.json")
	gw=$(stack_gateway_pids "$base/stack.json")
	rpid=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["pids"].get("redis",""))' "$base/stack.json")
	tok=$(cat "$base/admin-token")
	# the rate limits must be off: check what the gateway really runs with
	tr '\0' '\n' < "/proc/$(echo "$gw" | cut -d, -f1)/environ" | grep -q '^PARLEY_RATE_LIMITS=0$' ||
		log "parley: WARNING: the gateway does not run with PARLEY_RATE_LIMITS=0"
	suite parley "$port" "$gw" "$(echo "$gw" | cut -d, -f1)" "$rpid" --admin-token "$tok" \
		--provision "$WORK/parley-users.txt"
}

# run_msgbench - issue #4's figures on a fresh stack: 10 s of sends with 2048
# in flight over 64 channels, then BENCH_RATE msgs/s for 10 s, then the
# plain INSERT baseline (tools/msgbench/main.c); its lines go to the table
run_msgbench() {
	local base=$WORK/mstack pg
	[ -x "$BIN/msgbench" ] || { log "msgbench: $BIN/msgbench missing, skipped"; return; }
	[ "$(left)" -lt 90 ] && { log "budget spent: skipping msgbench"; return; }
	setsid $PY deploy/local/stack.py run --base "$base" --free-ports --no-seed \
		--gateways 1 > "$WORK/mstack.log" 2>&1 &
	PIDS+=("$!")
	wait_file "$base/stack.json" 120 || { log "msgbench stack did not start"; tail "$WORK/mstack.log" >&2; return; }
	pg=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["pg_port"])' "$base/stack.json")
	log "msgbench"
	timeout 300 "$BIN/msgbench" --run-dir "$base/run" \
		--pg-dsn-fmt "host=127.0.0.1 port=$pg user=postgres dbname=parley_shard_%d" \
		--seconds 10 --window 2048 --channels 64 --rate "$RATE" --rate-seconds 10 \
		> "$WORK/msgbench.txt" 2> "$WORK/msgbench.err" || log "msgbench failed (see $WORK/msgbench.err)"
}

# run_search - issue #14's figures on a fresh stack (tools/searchbench/main.c)
run_search() {
	local base=$WORK/sstack pg ops brokers
	[ -x "$BIN/searchbench" ] || { log "search: $BIN/searchbench missing, skipped"; return; }
	setsid $PY deploy/local/stack.py run --base "$base" --free-ports --no-seed \
		--gateways 1 > "$WORK/sstack.log" 2>&1 &
	PIDS+=("$!")
	wait_file "$base/stack.json" 120 || { log "search stack did not start"; tail "$WORK/sstack.log" >&2; return; }
	pg=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["pg_port"])' "$base/stack.json")
	ops=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["ops"]["search-indexer"].split("//")[1])' "$base/stack.json")
	brokers=$(head -1 "$base/run/kafka.brokers")
	log "search (${BENCH_SEARCH_MESSAGES:-1000000} messages)"
	timeout 3000 "$BIN/searchbench" --run-dir "$base/run" --brokers "$brokers" --ops "$ops" \
		--dir-dsn "host=127.0.0.1 port=$pg user=postgres dbname=parley_shard_0" \
		--index-dsn "host=127.0.0.1 port=$pg user=postgres dbname=parley_search" \
		--messages "${BENCH_SEARCH_MESSAGES:-1000000}" --channels 1000 --users 10000 \
		--queries "${BENCH_SEARCH_QUERIES:-40}" --rate "${BENCH_SEARCH_RATE:-2000}" \
		--rate-seconds "${BENCH_SEARCH_RATE_SECONDS:-20}" \
		> "$WORK/searchbench.txt" 2> "$WORK/searchbench.err" || log "searchbench failed (see $WORK/searchbench.err)"
	sed 's/^/search /' "$WORK/searchbench.txt" >&2
}

for m in $MODES; do
	case $m in
	floor) run_floor ;;
	socketio) run_socketio ;;
	parley) run_parley ;;
	msgbench) run_msgbench ;;
	search) run_search ;;
	*) log "unknown mode $m" ;;
	esac
	# each server is stopped before the next one is measured
	for (( i=${#PIDS[@]}-1; i>=0; i-- )); do stop_pid "${PIDS[$i]}"; done
	PIDS=()
done

mkdir -p bench/results
$PY tools/bench/table.py "$WORK" "$OUT" "$STAMP" "conns=$CONNS chat_conns=$CHAT_CONNS rate=$RATE \
channels=$CHANNELS large=$LARGE large_share=$LARGE_SHARE small_per_user=$SMALL senders=$SENDERS \
duration_s=$DUR loadgen_procs=$PROCS gateways=$GATEWAYS sio_procs=$SIO_PROCS"
log "results: $OUT ($(( $(date +%s) - START )) s)"
