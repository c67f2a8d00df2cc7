#!/usr/bin/env bash
# run.sh - end-to-end tests with Slack's official Node SDKs (@slack/web-api,
# @slack/rtm-api) against Parley, through node's built-in test runner.
#
#   tests/e2e/run.sh                 start a private stack (deploy/local/stack.py,
#                                    free ports, temp dir), run, stop it
#   PARLEY_URL=http://127.0.0.1:8080 PARLEY_ADMIN_TOKEN=… tests/e2e/run.sh
#                                    run against a running stack
#
# Installs tests/e2e/slack-sdk/node_modules with `npm ci` (from
# package-lock.json) when it is missing or older than the lock file.
# Ends with exactly one line "N passed, N failed" and exits non-zero if
# anything failed. Every step has a hard timeout.
#
#   PARLEY_BIN_DIR           binaries for a private stack (default build/bin)
#   PARLEY_E2E_TIMEOUT       seconds for the node tests (default 300)
#   PARLEY_E2E_FILTER        a node --test-name-pattern
#   PARLEY_TEST_KEEP=1       keep the private stack's directory
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
SDK=tests/e2e/slack-sdk
PY=/usr/bin/python3
stack_pid=""
stack_dir=""

say() { printf '%s\n' "$*"; }

cleanup() {
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
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	say "e2e: $*"
	say "0 passed, 1 failed"
	exit 1
}

# 1. node and the npm packages
command -v node >/dev/null || fail "node is not installed"
command -v npm >/dev/null || fail "npm is not installed"
if [ ! -d "$SDK/node_modules/@slack/web-api" ] || [ ! -d "$SDK/node_modules/@slack/rtm-api" ] ||
	[ "$SDK/package-lock.json" -nt "$SDK/node_modules/.package-lock.json" ]; then
	say "e2e: npm ci in $SDK"
	(cd "$SDK" && timeout --kill-after=10 600 npm ci --no-audit --no-fund --prefer-offline \
		>"$REPO/build/e2e-npm.log" 2>&1) || {
		tail -n 30 "$REPO/build/e2e-npm.log" 2>/dev/null
		fail "npm ci failed (log build/e2e-npm.log)"
	}
fi

# 2. a stack: the caller's, or a private one started the one way Parley starts
if [ -z "${PARLEY_URL:-}" ]; then
	stack_dir=$(mktemp -d "${PARLEY_TEST_TMP:-/tmp}/parley-e2e-XXXXXX")
	chmod 755 "$stack_dir"
	mkdir -p "$REPO/build"
	log="$stack_dir/stack.out"
	# stack.py run: free ports, no demo seed (the tests provision their own),
	# rate limits off (these tests are not about them), 1 gateway, 2 shards
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
	say "e2e: private stack at $PARLEY_URL ($stack_dir)"
fi
[ -n "${PARLEY_ADMIN_TOKEN:-}" ] || fail "PARLEY_ADMIN_TOKEN is not set"
export PARLEY_URL PARLEY_ADMIN_TOKEN

# 3. the tests (TAP output; the summary lines "# pass N" / "# fail N")
out="$REPO/build/e2e-node.log"
mkdir -p "$REPO/build"
args=(--test --test-reporter=tap --test-concurrency=1)
[ -n "${PARLEY_E2E_FILTER:-}" ] && args+=(--test-name-pattern="$PARLEY_E2E_FILTER")
(cd "$SDK" && timeout --kill-after=10 "${PARLEY_E2E_TIMEOUT:-300}" \
	node "${args[@]}" web-api.test.js rtm-api.test.js) >"$out" 2>&1
rc=$?
grep -E '^# (Subtest|tests|pass|fail)|^not ok|^ok ' "$out" | sed 's/^/    /'
grep -E -A12 '^\s+not ok' "$out" | grep -E "error:|expected|actual|message|code" | head -n 40 |
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
say "e2e slack-sdk: $p passed, $f failed (log $out)"
say "$p passed, $f failed"
[ "$f" = 0 ]
