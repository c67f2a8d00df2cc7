#!/usr/bin/env bash
# run.sh - run the libFuzzer targets (build/fuzz/bin/fuzz_<name>, `make
# fuzz-build`), each for FUZZ_SECONDS (default 90), seeded from
# tests/fuzz/corpus/<name>/ (read only: every file there, crash-* regressions
# included, runs first). New inputs go to build/fuzz/work/<name>/, a crash's
# input to build/fuzz/artifacts/<name>/. Inputs are at most 4096 bytes.
#
#   tests/fuzz/run.sh [name...]     default: every built target
#
# Prints one line per target, "fuzz_<name>: N execs, N crashes (log ...)",
# and last "fuzz: N passed, N failed" (a target passes when it ran its time
# without a crash, leak, timeout or sanitizer report). Exits non-zero on any
# failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${FUZZ_SECONDS:-90}
dir=build/fuzz
names=("$@")
if [ ${#names[@]} = 0 ]; then
	for b in "$dir"/bin/fuzz_*; do
		[ -x "$b" ] && names+=("${b##*/fuzz_}")
	done
fi
passed=0
failed=0
mkdir -p "$dir/logs"
for n in "${names[@]}"; do
	bin=$dir/bin/fuzz_$n log=$dir/logs/$n.log
	mkdir -p "$dir/work/$n" "$dir/artifacts/$n" "tests/fuzz/corpus/$n"
	if [ ! -x "$bin" ]; then
		echo "fuzz_$n: not built - counted as 1 failure"
		failed=$((failed + 1))
		continue
	fi
	# hard stop well after the run's own end (slow inputs, a hung target)
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		timeout --kill-after=10 $((secs + 60)) "$bin" -max_total_time="$secs" \
		-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/$n/" "$dir/work/$n" "tests/fuzz/corpus/$n" \
		>"$log" 2>&1
	rc=$?
	execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
	crashes=0
	[ "$rc" = 0 ] || crashes=1
	echo "fuzz_$n: ${execs:-0} execs, $crashes crashes (${secs}s, log $log)"
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		grep -E 'ERROR|runtime error|deadly signal|Test unit written|SUMMARY' "$log" |
			head -n 8 | cut -c1-200 | sed 's/^/    /'
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
