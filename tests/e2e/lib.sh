# lib.sh - what both end-to-end suites share (sourced by tests/e2e/run.sh and
# tests/e2e/web/run.sh, which set REPO, PY and E2E_NAME first): messages, the
# private stack and its cleanup, `npm ci` when needed, and the node test
# runner with its one summary line "N passed, N failed".

stack_pid=""
stack_dir=""

say() { printf '%s\n' "$*"; }

fail() {
	say "$E2E_NAME: $*"
	say "0 passed, 1 failed"
	exit 1
}

# e2e_cleanup - stop the private stack (TERM, up to 30 s, then KILL) and
# remove its directory unless PARLEY_TEST_KEEP=1
e2e_cleanup() {
	if [ -n "$stack_pid" ] && kill -0 "$stack_pid" 2>/dev/null; then
		kill -TERM "$stack_pid" 2>/dev/null
		for _ in $(seq 1 300); do
			kill -0 "$stack_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$stack_pid" 2>/dev/null && kill -KILL "$stack_pid" 2>/dev/null
		wait "$stack_pid" 2>/dev/null
	fi
	if [ -n "$stack_dir" ] && [ "${PARLEY_TEST_KEEP:-}" != 1 ]; then
		rm -rf "$stack_dir"
	elif [ -n "$stack_dir" ]; then
		say "kept $stack_dir"
	fi
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# e2e_npm_ci DIR LOG PACKAGE... - npm ci in DIR when a node_modules/PACKAGE
# is missing or the modules are older than the lock file
e2e_npm_ci() {
	local dir=$1 log=$2 pkg need=0
	shift 2
	command -v node >/dev/null || fail "node is not installed"
	command -v npm >/dev/null || fail "npm is not installed"
	for pkg in "$@"; do
		[ -d "$dir/node_modules/$pkg" ] || need=1
	done
	[ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ] && need=1
	if [ "$need" = 1 ]; then
		say "$E2E_NAME: npm ci in $dir"
		(cd "$dir" && timeout --kill-after=10 600 npm ci --no-audit --no-fund --prefer-offline \
			>"$log" 2>&1) || {
			tail -n 30 "$log" 2>/dev/null
			fail "npm ci failed (log $log)"
		}
	fi
}

# e2e_stack PREFIX - unless PARLEY_URL is set, a private stack started the one
# way Parley starts (stack.py run: free ports, no demo seed, rate limits off,
# 1 gateway, 2 shards); exports PARLEY_URL and PARLEY_ADMIN_TOKEN
e2e_stack() {
	local log
	if [ -z "${PARLEY_URL:-}" ]; then
		stack_dir=$(mktemp -d "${PARLEY_TEST_TMP:-/tmp}/$1-XXXXXX")
		chmod 755 "$stack_dir"
		log="$stack_dir/stack.out"
		PARLEY_RATE_LIMITS=0 PARLEY_GATEWAY_PROCS=1 \
			PARLEY_ADMIN_TOKEN="e2e-admin-$(basename "$stack_dir")" \
			"$PY" deploy/local/stack.py run --base "$stack_dir" --free-ports --no-seed \
			${PARLEY_BIN_DIR:+--bin-dir "$PARLEY_BIN_DIR"} >"$log" 2>&1 &
		stack_pid=$!
		for _ in $(seq 1 1200); do
			[ -f "$stack_dir/stack.json" ] && break
			kill -0 "$stack_pid" 2>/dev/null || break
			sleep 0.1
		done
		if [ ! -f "$stack_dir/stack.json" ]; then
			tail -n 40 "$log"
			fail "the stack did not start (log above)"
		fi
		PARLEY_URL=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_url"])' \
			"$stack_dir/stack.json")
		PARLEY_ADMIN_TOKEN="e2e-admin-$(basename "$stack_dir")"
		say "$E2E_NAME: private stack at $PARLEY_URL ($stack_dir)"
	fi
	[ -n "${PARLEY_ADMIN_TOKEN:-}" ] || fail "PARLEY_ADMIN_TOKEN is not set"
	export PARLEY_URL PARLEY_ADMIN_TOKEN
}

# e2e_node DIR TIMEOUT OUT NOTE FILE... - node --test (TAP) on FILE... in DIR;
# prints the results, then "N passed, N failed"; returns non-zero on failure
e2e_node() {
	local dir=$1 timeout=$2 out=$3 note=$4 rc p f
	shift 4
	local args=(--test --test-reporter=tap --test-concurrency=1)
	[ -n "${PARLEY_E2E_FILTER:-}" ] && args+=(--test-name-pattern="$PARLEY_E2E_FILTER")
	(cd "$dir" && timeout --kill-after=10 "$timeout" node "${args[@]}" "$@") >"$out" 2>&1
	rc=$?
	grep -E '^# (Subtest|tests|pass|fail|live)|^not ok|^ok ' "$out" | sed 's/^/    /'
	grep -E -A14 '^\s+not ok' "$out" |
		grep -E "error:|expected|actual|message|code|Timeout|waiting" | head -n 40 |
		sed 's/^/    /'
	p=$(grep -E '^# pass [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+')
	f=$(grep -E '^# fail [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+')
	if [ -z "$p" ] || [ -z "$f" ]; then
		tail -n 30 "$out"
		fail "no summary from node --test (exit $rc$([ $rc = 124 ] && echo ', timed out'); log $out)"
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
	fi
	say "$E2E_NAME: $p passed, $f failed (log $out$note)"
	say "$p passed, $f failed"
	[ "$f" = 0 ]
}
