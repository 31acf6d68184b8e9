#!/usr/bin/env bash
# scripts/fuzz.sh [--build DIR] [--seconds N] [--update-corpus] [TARGET...]
#
# Runs every libFuzzer target (test/fuzz/fuzz_*.c; all by default) for N seconds
# (default 20) from its corpus in the repository (test/fuzz/corpus/TARGET; inputs
# found meanwhile go to a temporary directory, merged back into the repository's
# corpus only with --update-corpus). A crash, leak or timeout is copied into
# test/fuzz/regress/TARGET/, which the unit tests replay from then on
# (fuzz-replay-TARGET), and fails the run. DIR (default build-fuzz) is configured
# with clang, -Dfuzz=true and ASan+UBSan when it does not exist yet.
# Prints one line per target with its executions and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

build=build-fuzz seconds=20 update=0
targets=()
while (($#)); do
	case $1 in
	--build) build=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--update-corpus) update=1; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
if ((${#targets[@]} == 0)); then
	for f in test/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c | sed 's/^fuzz_//')"); done
fi

if ! command -v clang >/dev/null; then
	echo "fuzz.sh: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 2
fi
if ! ninja -C "$build" >"$build/fuzz-build.log" 2>&1; then
	tail -n 30 "$build/fuzz-build.log" >&2
	echo "fuzz.sh: the build failed" >&2
	exit 2
fi

passed=0 failed=0
work=$(mktemp -d /tmp/tb-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
	bin=$build/test/fuzz/fuzz_$t
	seeds=test/fuzz/corpus/$t
	if [[ ! -x $bin ]]; then
		echo "FAIL fuzz $t: no $bin (is $build configured with -Dfuzz=true?)"
		failed=$((failed + 1)); continue
	fi
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	cp -r "$seeds"/. "$work/$t/corpus/" 2>/dev/null
	# detect_leaks: a leak is a finding too; -timeout: an input that takes 10 s hangs
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" >"$work/$t/log" 2>&1
	rc=$?
	runs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$work/$t/log" | tail -n 1)
	cov=$(grep -oP 'cov: \K[0-9]+' "$work/$t/log" | tail -n 1)
	if ((rc == 0)) && ! compgen -G "$work/$t/artifacts/*" >/dev/null; then
		printf 'PASS fuzz %-10s %9s executions in %ss (%s/s), coverage %s edges\n' "$t" "${runs:-?}" "$seconds" \
			"$(( ${runs:-0} / (seconds > 0 ? seconds : 1) ))" "${cov:-?}"
		passed=$((passed + 1))
		if ((update)); then
			mkdir -p "$work/$t/merged"
			"$bin" -merge=1 "$seeds" "$work/$t/corpus" >/dev/null 2>&1 || true
		fi
	else
		mkdir -p "test/fuzz/regress/$t"
		for a in "$work/$t/artifacts"/*; do
			[[ -f $a ]] && cp "$a" "test/fuzz/regress/$t/"
		done
		printf 'FAIL fuzz %-10s exit %s; inputs kept in test/fuzz/regress/%s/:\n' "$t" "$rc" "$t"
		ls "test/fuzz/regress/$t" | sed 's/^/    /'
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$work/$t/log" | head -n 20 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
((failed == 0))
