#!/usr/bin/env bash
# scripts/test.sh: set up (scripts/setup.sh), run the unit tests (meson test) and every
# integration test test/it/t_*.sh, then end with exactly one line "N passed, N failed"
# counting unit test programs and integration tests. Exits non-zero if any failed.
#
#   sudo ./scripts/test.sh                  # everything
#   sudo ./scripts/test.sh archive kill9    # only integration tests whose name has a word
#   KEEP=1 ...                              # keep each integration test's temp directory
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

# after a test that had to be killed: stop what it left behind
reap() {
	local d pidfile
	for d in /tmp/tb-*-"$TB_RUN_ID".*; do
		[[ -d $d ]] || continue
		while IFS= read -r pidfile; do
			runuser -u postgres -- timeout 30 /usr/lib/postgresql/15/bin/pg_ctl \
				-D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1 || true
		done < <(find "$d" -maxdepth 4 -name postmaster.pid 2>/dev/null)
		while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done \
			< <(awk -v d="$d" 'index($2, d) == 1 { print $2 }' /proc/mounts)
		[[ ${KEEP:-0} == 1 ]] || rm -rf "$d"
	done
}

echo
echo "== integration tests (logs in $logdir/)"
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	t0=$SECONDS
	TEST_NAME=$name timeout -k 30 "${IT_TIMEOUT:-600}" bash "$t" >"$logdir/$name.log" 2>&1
	rc=$?
	reap
	secs=$((SECONDS - t0))
	n_ok=$(grep -c '^ok - ' "$logdir/$name.log")
	if [[ $rc -eq 0 ]]; then
		passed=$((passed + 1))
		printf 'PASS %-28s %4ss  (%s checks)\n' "$name" "$secs" "$n_ok"
	else
		failed=$((failed + 1)); failed_names+=("$name")
		[[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out" || why="exit $rc"
		printf 'FAIL %-28s %4ss  (%s, %s checks ok)\n' "$name" "$secs" "$why" "$n_ok"
		grep -A8 '^not ok - ' "$logdir/$name.log" | head -n 80 | sed 's/^/    /'
		echo "    (full log: $logdir/$name.log)"
	fi
done

finish
