#!/usr/bin/env bash
# scripts/test.sh: set up (scripts/setup.sh), run the unit tests (meson test) and every
# integration test test/it/t_*.sh, then end with exactly one line "N passed, N failed"
# counting unit test programs and integration tests. Exits non-zero if any failed.
#
#   sudo ./scripts/test.sh                  # everything
#   sudo ./scripts/test.sh archive kill9    # only integration tests whose name has a word
#   KEEP=1 ...                              # keep each integration test's temp directory
#   S3=0 ...                                # skip the second pass on S3 storage
#   SANITIZE=0 ...                          # skip the pass under ASan+UBSan
#   IT_TIMEOUT=600                          # seconds one integration test may take
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
umask 022
started=$SECONDS
passed=0
failed=0
failed_names=()

finish() {
	echo
	echo "total time: $((SECONDS - started)) s"
	if ((${#failed_names[@]})); then echo "failed: ${failed_names[*]}"; fi
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
	exit
}

if ! ./scripts/setup.sh; then
	failed=1; failed_names+=(setup)
	finish
fi

# ---- unit tests: one cmocka program per module
echo "== unit tests"
rm -f build/meson-logs/testlog.json
meson test -C build --print-errorlogs
unit_rc=$?
if [[ -f build/meson-logs/testlog.json ]]; then
	u_ok=$(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' build/meson-logs/testlog.json)
	u_bad=$(jq -s '[.[] | select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP")] | length' build/meson-logs/testlog.json)
	mapfile -t bad_names < <(jq -r 'select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP") | .name' build/meson-logs/testlog.json)
	passed=$((passed + u_ok)); failed=$((failed + u_bad))
	failed_names+=("${bad_names[@]}")
	if [[ $unit_rc -ne 0 && $u_bad -eq 0 ]]; then failed=$((failed + 1)); failed_names+=("meson-test"); fi
elif [[ $unit_rc -ne 0 ]]; then
	failed=$((failed + 1)); failed_names+=("meson-test")
fi

# ---- integration tests
export TB_RUN_ID="r$$"
logdir=build/it-logs
mkdir -p "$logdir"
tests=()
for t in test/it/t_*.sh; do
	name=$(basename "$t" .sh)
	if (($#)); then
		want=0
		for w in "$@"; do [[ $name == *"$w"* ]] && want=1; done
		((want)) || continue
	fi
	tests+=("$t")
done

# reap NAME: after a test (killed or not), stop what it left behind - its PostgreSQL
# instances, mounts, S3 server and fault proxy - in its own directory only (the other
# lane's test is running meanwhile)
reap() {
	local d pidfile
	for d in /tmp/tb-"${1#t_}"-"$TB_RUN_ID".*; do
		[[ -d $d ]] || continue
		while IFS= read -r pidfile; do
			runuser -u postgres -- timeout 30 /usr/lib/postgresql/15/bin/pg_ctl \
				-D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1 || true
		done < <(find "$d" -maxdepth 4 -name postmaster.pid 2>/dev/null)
		while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done \
			< <(awk -v d="$d" 'index($2, d) == 1 { print $2 }' /proc/mounts)
		for r in "$d"/rgw*; do
			[[ -d $r/run ]] && test/fixtures/rgw.sh stop "$r" >/dev/null 2>&1
		done
		pkill -KILL -f -- "--control $d/" 2>/dev/null || true
		[[ ${KEEP:-0} == 1 ]] || rm -rf "$d"
	done
}

# Results: one line "PASS|FAIL NAME" per test or check in $results; counted at the end.
results=$logdir/results.txt
: >"$results"
record() { echo "$1 $2" >>"$results"; }

# run_it SUFFIX TEST...: run each integration test (its name gets SUFFIX), print a line
run_it() {
	local suffix=$1 t name t0 rc secs n_ok why
	shift
	for t in "$@"; do
		name=$(basename "$t" .sh)$suffix
		t0=$SECONDS
		TEST_NAME=$name timeout -k 30 "${IT_TIMEOUT:-600}" bash "$t" >"$logdir/$name.log" 2>&1
		rc=$?
		reap "$name"
		secs=$((SECONDS - t0))
		n_ok=$(grep -c '^ok - ' "$logdir/$name.log")
		if [[ $rc -eq 0 ]]; then
			record PASS "$name"
			printf 'PASS %-34s %4ss  (%s checks)\n' "$name" "$secs" "$n_ok"
		else
			record FAIL "$name"
			[[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out" || why="exit $rc"
			printf 'FAIL %-34s %4ss  (%s, %s checks ok)\n' "$name" "$secs" "$why" "$n_ok"
			grep -B2 -A8 '^not ok - ' "$logdir/$name.log" | head -n 80 | sed 's/^/    /'
			echo "    (full log: $logdir/$name.log)"
		fi
	done
}

echo
# ---- two lanes at once, each on its own half of the file-storage tests first:
#   lane 1: its file tests, the console in a real browser, then the tests that hold for
#           both storages again on S3 ("# tb-storage: file s3"; TB_STORAGE=s3, API ports
#           shifted by 1000, one RGW on 27030);
#   lane 2: its file tests, then unit and integration tests under ASan+UBSan.
# PostgreSQL listens on a private socket directory per test, so only TCP ports can
# meet: a test and its ASan run use the same ones (lane 2 runs both, in turn), and so
# do t_api_metrics and t_api_scheduler (both in lane 1). Every other TCP port (API
# daemons, RGW fixtures, proxies, receivers) is a test's own.
lane2_file=" t_archive t_kill9 t_verify_corrupt t_pitr t_chain_integrity t_api_backup_now t_api_auth t_s3_storage
	t_logical t_alerts t_encryption t_bundles t_incremental t_s3_faults "
tests1=() tests2=()
for t in "${tests[@]}"; do
	if [[ " $(echo $lane2_file) " == *" $(basename "$t" .sh) "* ]]; then
		tests2+=("$t")
	else
		tests1+=("$t")
	fi
done
echo "== integration tests (logs in $logdir/), in two lanes"

lane_s3() {
	local t t0 rc line
	local -a s3_tests=()
	if (($# == 0)) || [[ " $* " == *" browser "* ]]; then
		echo "== browser tests (screenshots in build/browser-artifacts/)"
		t0=$SECONDS
		bash test/browser/run.sh >"$logdir/browser.log" 2>&1
		rc=$?
		reap browser_console   # (run.sh names its test so)
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logdir/browser.log" | tail -n 1)
		if [[ $rc -eq 0 ]]; then
			record PASS browser; printf 'PASS %-34s %4ss  (%s)\n' "browser console" "$((SECONDS - t0))" "$line"
		else
			record FAIL browser
			printf 'FAIL %-34s %4ss  (%s)\n' "browser console" "$((SECONDS - t0))" "${line:-no summary}"
			grep -iE 'not ok|fail|error' "$logdir/browser.log" | head -n 30 | sed 's/^/    /'
			echo "    (full log: $logdir/browser.log)"
		fi
	fi
	[[ ${S3:-1} == 1 ]] || return 0
	for t in "${tests[@]}"; do
		grep -q '^# tb-storage: file s3' "$t" && s3_tests+=("$t")
	done
	((${#s3_tests[@]})) || return 0
	echo "== integration tests on S3 storage (Ceph RGW on loopback)"
	TB_STORAGE=s3 TB_S3_RGW_PORT=27030 TB_PORT_SHIFT=1000 run_it "-s3" "${s3_tests[@]}"
}

# AddressSanitizer + UndefinedBehaviorSanitizer: unit tests, then the integration tests
# with the instrumented tenback, which also runs as PostgreSQL's archive_command and
# restore_command. Every report goes to a file; any file there fails the run.
lane_asan() {
	local t san_dir
	local -a asan_tests=()
	echo "== unit tests under ASan+UBSan (clang, with the libFuzzer targets)"
	# clang: the same build gives the fuzz targets (-Dfuzz=true); an older gcc
	# build-asan without them is configured afresh
	if [[ -f build-asan/build.ninja ]] && ! grep -q 'fuzz_json' build-asan/build.ninja; then
		rm -rf build-asan
	fi
	if [[ ! -f build-asan/build.ninja ]]; then
		CC=clang meson setup build-asan -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	fi
	if ! ninja -C build-asan >"$logdir/build-asan.log" 2>&1; then
		record FAIL build-asan; tail -20 "$logdir/build-asan.log"
		return 0
	fi
	san_dir=$(mktemp -d /tmp/tb-sanitizer-reports.XXXXXX)
	chmod 1777 "$san_dir"
	export ASAN_OPTIONS="log_path=$san_dir/asan:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$san_dir/ubsan:print_stacktrace=1"
	if meson test -C build-asan --print-errorlogs >"$logdir/unit-asan.log" 2>&1; then
		record PASS unit-asan; echo "PASS unit tests (asan)"
	else
		record FAIL unit-asan; echo "FAIL unit tests (asan): see $logdir/unit-asan.log"
	fi
	echo "== integration tests under ASan+UBSan"
	# A representative subset reaches every code path the suite reaches (CI must stay
	# well under 25 minutes on 2 cores); SANITIZE_ALL=1 runs every integration test.
	for t in "${tests[@]}"; do
		if [[ ${SANITIZE_ALL:-0} == 1 || $# -gt 0 ]]; then asan_tests+=("$t"); continue; fi
		case $(basename "$t" .sh) in
		t_archive|t_kill9|t_verify_corrupt|t_pitr|t_chain_integrity|t_api_backup_now|t_api_auth|\
		t_s3_storage|t_logical|t_alerts|t_encryption)
			asan_tests+=("$t") ;;
		esac
	done
	TENBACK=$PWD/build-asan/tenback TB_BUILD_DIR=$PWD/build-asan TB_SANITIZED=1 run_it "-asan" "${asan_tests[@]}"
	if compgen -G "$san_dir/*" >/dev/null; then
		record FAIL sanitizer-reports
		echo "FAIL sanitizer reports:"; head -n 60 "$san_dir"/* | sed 's/^/    /'
	else
		record PASS no-sanitizer-reports; echo "PASS no sanitizer reports"
	fi
	rm -rf "$san_dir"
	echo "== fuzzing: every parser of untrusted bytes, ${FUZZ_SECONDS:-10} s each (scripts/fuzz.sh)"
	if ./scripts/fuzz.sh --build build-asan --seconds "${FUZZ_SECONDS:-10}" >"$logdir/fuzz.log" 2>&1; then
		record PASS fuzz
	else
		record FAIL fuzz
	fi
	grep -E '^(PASS|FAIL) fuzz|^    ' "$logdir/fuzz.log"
	# valgrind's memcheck finds what ASan does not (uninitialised reads, overlapping
	# copies); the unit tests on a sixteenth of their data (TB_TEST_SMALL=1)
	echo "== unit tests under valgrind"
	if TB_TEST_SMALL=1 meson test -C build --no-rebuild --timeout-multiplier=20 --print-errorlogs \
		--wrap='valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect -q' \
		>"$logdir/unit-valgrind.log" 2>&1; then
		record PASS unit-valgrind; echo "PASS unit tests (valgrind)"
	else
		record FAIL unit-valgrind; echo "FAIL unit tests (valgrind): see $logdir/unit-valgrind.log"
		grep -E '==[0-9]+== [A-Z]|FAIL' "$logdir/unit-valgrind.log" | head -n 20 | sed 's/^/    /'
	fi
}

lane_1() {
	echo "== integration tests, lane 1"
	run_it "" "${tests1[@]}"
	lane_s3 "$@"
}
lane_2() {
	echo "== integration tests, lane 2"
	run_it "" "${tests2[@]}"
	if [[ ${SANITIZE:-1} == 1 ]]; then lane_asan "$@"; fi
}
lane_1 "$@" >"$logdir/lane-1.out" 2>&1 &
pid_1=$!
lane_2 "$@" >"$logdir/lane-2.out" 2>&1 &
pid_2=$!
wait "$pid_1"
echo; cat "$logdir/lane-1.out"
wait "$pid_2"
echo; cat "$logdir/lane-2.out"

while read -r verdict name; do
	if [[ $verdict == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$name"); fi
done <"$results"
finish
