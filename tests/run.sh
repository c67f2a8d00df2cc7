#!/usr/bin/env bash
# run.sh - `make test`: build, run every unit test under ASan/UBSan, then the
# integration suite against real Redis, PostgreSQL, devkafka and the daemons,
# then the end-to-end tests with Slack's Node SDKs and the web client in Chromium,
# then the offline checks of deploy/ (tests/deploy/check.sh).
#
# Prints one line per suite and, last, exactly one line "N passed, N failed"
# (the totals). Exits non-zero if anything failed or a step errored (a build
# failure, a crash, a timeout, a missing summary). Every step has a hard
# timeout. Logs of each step are kept under build/test-logs/.
#
#   PARLEY_TEST_UNIT_TIMEOUT   seconds per unit-test binary (default 120)
#   PARLEY_TEST_IT_TIMEOUT     seconds for the whole integration suite (default 1200)
#   PARLEY_TEST_FUZZ_SECONDS   seconds per libFuzzer target (default 10, at most 20)
#   PYTEST_ARGS                extra arguments for pytest (e.g. "-k skeleton -x")
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=2
LOGS=build/test-logs
mkdir -p "$LOGS"
passed=0
failed=0
errors=0

say() { printf '%s\n' "$*"; }

# step NAME TIMEOUT CMD... - run a build step with a hard timeout; log to file
step() {
	local name=$1 secs=$2; shift 2
	local log="$LOGS/$name.log"
	local rc=0
	timeout --kill-after=10 "$secs" "$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then
		say "$name: ok"
		return 0
	fi
	say "$name: FAILED (exit $rc$([ $rc = 124 ] && echo ', timed out'), log $log)"
	# the compiler's and linker's complaints, not the command lines
	{ grep -E 'error|Error|undefined reference|warning' "$log" || tail -n 20 "$log"; } |
		head -n 30 | cut -c1-300 | sed 's/^/    /'
	errors=$((errors + 1))
	return 1
}

# 1. build (the daemons for the integration suite, the sanitized unit tests)
step build 1200 make -j"$JOBS" all
build_ok=$?
# -k: one test that does not build must not keep the others from running
step unit-build 1200 make -k -j"$JOBS" SAN=1 unit-build

# 2. unit tests: each binary ends with "<name>: N passed, N failed"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
u_pass=0 u_fail=0 u_bins=0
unit_log="$LOGS/unit.log"
: >"$unit_log"
while IFS= read -r bin; do
	u_bins=$((u_bins + 1))
	name=$(basename "$bin")
	lsan=
	[ "$name" = rpc_test ] && lsan="suppressions=$PWD/tests/unit/lsan-rpc.supp"
	out=$(cd "$(dirname "$bin")" && LSAN_OPTIONS="$lsan" timeout --kill-after=5 \
		"${PARLEY_TEST_UNIT_TIMEOUT:-120}" "./$name" 2>&1)
	rc=$?
	printf '=== %s (exit %d)\n%s\n' "$bin" "$rc" "$out" >>"$unit_log"
	summary=$(printf '%s\n' "$out" | grep -E "^${name}: [0-9]+ passed, [0-9]+ failed\$" | tail -n 1)
	if [ -z "$summary" ]; then
		say "  $name: no summary line (exit $rc$([ $rc = 124 ] && echo ', timed out')) - counted as 1 failure"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/    /'
		u_fail=$((u_fail + 1))
		continue
	fi
	p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$summary")
	f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$summary")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		# a clean summary but a bad exit: a sanitizer report at exit (leaks)
		say "  $name: $summary but exit $rc - counted as 1 failure"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/    /'
		f=1
	elif [ "$f" != 0 ]; then
		say "  $name: $p passed, $f failed"
		printf '%s\n' "$out" | grep -iE 'fail|error' | head -n 20 | sed 's/^/    /'
	fi
	u_pass=$((u_pass + p))
	u_fail=$((u_fail + f))
done < <(find build/asan/test -type f -name '*_test' -perm -u+x 2>/dev/null | sort)
say "unit: $u_pass passed, $u_fail failed ($u_bins binaries, log $unit_log)"
passed=$((passed + u_pass))
failed=$((failed + u_fail))

# 2b. architecture (tests/check/circles.py): no call or #include circle between
# the files of a folder, no daemon including another's headers, no gateway file
# including a header of a layer above its own (gw.h's table); one check per
# folder, ends with "circles: N passed, N failed"
c_log="$LOGS/circles.log"
timeout --kill-after=5 120 /usr/bin/python3 tests/check/circles.py >"$c_log" 2>&1
rc=$?
summary=$(grep -E '^circles: [0-9]+ passed, [0-9]+ failed$' "$c_log" | tail -n 1)
if [ -z "$summary" ]; then
	say "circles: FAILED (exit $rc, no summary line, log $c_log) - counted as 1 failure"
	tail -n 20 "$c_log" | sed 's/^/    /'
	failed=$((failed + 1))
else
	c_pass=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$summary")
	c_fail=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$summary")
	[ "$rc" != 0 ] && [ "$c_fail" = 0 ] && c_fail=1
	say "$summary (log $c_log)"
	[ "$c_fail" = 0 ] || grep -E 'FAIL|->' "$c_log" | head -n 30 | sed 's/^/    /'
	passed=$((passed + c_pass))
	failed=$((failed + c_fail))
fi

# 2c. the libFuzzer targets, each briefly from its corpus (`make fuzz` runs
# them longer); a crash, leak or sanitizer report is a failure
fz_log="$LOGS/fuzz.log"
if step fuzz-build 1200 make -j"$JOBS" fuzz-build; then
	fz_secs=${PARLEY_TEST_FUZZ_SECONDS:-10}
	[ "$fz_secs" -le 20 ] 2>/dev/null || fz_secs=20
	FUZZ_SECONDS=$fz_secs bash tests/fuzz/run.sh >"$fz_log" 2>&1
	rc=$?
	summary=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed$' "$fz_log" | tail -n 1)
	f_pass=$(sed -E 's/^fuzz: ([0-9]+) passed.*/\1/' <<<"$summary")
	f_fail=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
	if [ -z "$summary" ] || { [ "$rc" != 0 ] && [ "$f_fail" = 0 ]; }; then
		say "fuzz: FAILED (exit $rc, summary: ${summary:-none}, log $fz_log)"
		tail -n 20 "$fz_log" | sed 's/^/    /'
		f_pass=0 f_fail=1
	else
		say "fuzz: $f_pass passed, $f_fail failed (log $fz_log)"
		[ "$f_fail" = 0 ] || grep -vE '^fuzz: ' "$fz_log" | head -n 20 | sed 's/^/    /'
	fi
	passed=$((passed + f_pass))
	failed=$((failed + f_fail))
fi

# 3. integration tests (need the daemons from step 1)
it_log="$LOGS/integration.log"
if [ "$build_ok" = 0 ]; then
	# shellcheck disable=SC2086
	timeout --kill-after=20 "${PARLEY_TEST_IT_TIMEOUT:-1200}" \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration \
		${PYTEST_ARGS:-} >"$it_log" 2>&1
	rc=$?
	# the last line looks like "== 3 failed, 40 passed, 1 error in 12.3s =="
	summary=$(grep -E '^=+ .* in [0-9.]+s' "$it_log" | tail -n 1)
	[ -n "$summary" ] || summary=$(grep -E '(passed|failed|error|no tests ran).* in [0-9.]+s' \
		"$it_log" | tail -n 1)
	num() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
	i_pass=$(num passed)
	i_fail=$(( $(num failed) + $(num 'errors?') ))
	if [ -z "$summary" ] || { [ "$rc" != 0 ] && [ "$i_fail" = 0 ]; }; then
		say "integration: FAILED (exit $rc$([ $rc = 124 ] && echo ', timed out'), summary: ${summary:-none})"
		tail -n 60 "$it_log" | sed 's/^/    /'
		i_fail=$((i_fail + 1))
	else
		say "integration: $i_pass passed, $i_fail failed (log $it_log)"
		if [ "$i_fail" != 0 ]; then
			# the short summary of failures and errors (pytest -ra)
			grep -E '^(FAILED|ERROR) ' "$it_log" | head -n 40 | cut -c1-200 | sed 's/^/    /'
		fi
	fi
	passed=$((passed + i_pass))
	failed=$((failed + i_fail))
else
	say "integration: skipped (build failed) - counted as 1 failure"
	failed=$((failed + 1))
fi

# node_suite NAME SCRIPT TIMEOUT - a suite that ends with "N passed, N failed"
# (the Node end-to-end tests); adds its counts to the totals
node_suite() {
	local name=$1 script=$2 secs=$3 log="$LOGS/$1.log" rc summary s_pass s_fail
	if [ "$build_ok" != 0 ]; then
		say "$name: skipped (build failed) - counted as 1 failure"
		failed=$((failed + 1))
		return
	fi
	timeout --kill-after=20 "$secs" bash "$script" >"$log" 2>&1
	rc=$?
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -z "$summary" ]; then
		say "$name: FAILED (exit $rc, no summary line, log $log)"
		tail -n 30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		return
	fi
	s_pass=${summary%% passed*}
	s_fail=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
	[ "$rc" != 0 ] && [ "$s_fail" = 0 ] && s_fail=1
	say "$name: $s_pass passed, $s_fail failed (log $log)"
	[ "$s_fail" = 0 ] || grep -E '^not ok|# fail|Error' "$log" | head -n 20 | sed 's/^/    /'
	passed=$((passed + s_pass))
	failed=$((failed + s_fail))
}

# 4. end to end: Slack's official Node SDKs against a private stack
node_suite e2e tests/e2e/run.sh "${PARLEY_TEST_E2E_TIMEOUT:-600}"
# 5. the web client in a real browser (Debian's chromium, playwright-core)
node_suite e2e-web tests/e2e/web/run.sh "${PARLEY_TEST_WEB_TIMEOUT:-300}"
# 6. deploy/ checked offline: compose, Dockerfile, Prometheus rules and their
# unit tests, the dashboard, haproxy, the Kubernetes manifests, yamllint
node_suite deploy tests/deploy/check.sh "${PARLEY_TEST_DEPLOY_TIMEOUT:-300}"

failed=$((failed + errors))
say "$passed passed, $failed failed"
[ "$failed" = 0 ]
