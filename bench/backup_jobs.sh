#!/usr/bin/env bash
# bench/backup_jobs.sh: wall time and CPU of a full physical backup and restore of a
# pgbench database, by --jobs, against an older tenback, pg_basebackup and pgBackRest.
#
#   sudo bash bench/backup_jobs.sh [SCALE [JOBS...]]        (default: 20, then 1 2)
#
# Environment:
#   BENCH_COMPRESS=lz4      compression of every tool (lz4, zstd, none)
#   BENCH_REPEAT=3          runs of each case; every run is printed, then the best
#   TB_BEFORE=PATH          an older tenback binary, run without --jobs
#   BENCH_BASEBACKUP=1      also pg_basebackup -Ft --compress=server-<compress> -X none
#   BENCH_PGBACKREST=1      also pgBackRest full backups, process-max 1 and each JOBS
#   BENCH_RESTORE=1         also restore the last tenback set with each --jobs (no start)
#   BENCH_WRAP="CMD ARGS --" a profiler run around each tenback command (perf record, strace -c -f)
#
# The data files are in the page cache (pgbench just wrote them, and nothing drops
# caches: the machine is shared), so this measures the CPU side of the copy. Sets and
# pgBackRest backups are kept until the end: removing thousands of files just before
# the next run slows its file creation (ext4 skips recently freed inodes). Times are
# printed, never asserted. Uses test/it/lib.sh: its own PostgreSQL, home and storage
# under a temporary directory, all removed at the end.
TEST_NAME=bench_backup_jobs
source "$(dirname "$0")/../test/it/lib.sh"
require_tenback

SCALE=${1:-20}
shift || true
JOBS=("$@")
[[ ${#JOBS[@]} -gt 0 ]] || JOBS=(1 2)
COMP=${BENCH_COMPRESS:-lz4}
REPEAT=${BENCH_REPEAT:-3}
P=26520

pg_create src $P checksums=on
cluster_add src --compress "$COMP"
psql_q postgres "CREATE DATABASE bench"
log "pgbench -i -s $SCALE"
pgbench_init $P bench "$SCALE"
psql_q postgres "CHECKPOINT"
wal_switch_and_wait $P
log "data directory: $(du -sh "${PG_DATA[src]}" | cut -f1), pgbench_accounts:" \
	"$(psql_q bench "SELECT pg_size_pretty(pg_relation_size('pgbench_accounts'))")"

RESULTS=()
# timed LABEL CMD...: run CMD as postgres under /usr/bin/time -v; print and keep the figures
timed() {
	local label=$1; shift
	local tf="$T/log/time.txt"
	local -a wrap=()
	# BENCH_WRAP="perf record -g -o FILE --" (word-split on purpose): a profiler around tenback runs
	[[ -n ${BENCH_WRAP:-} && $label == tenback* ]] && read -r -a wrap <<<"$BENCH_WRAP"
	if ! (cd "$T" && "${wrap[@]}" runuser -u "$PG_USER" -- /usr/bin/time -v -o "$tf" "$@") >"$T/log/bench-cmd.txt" 2>&1; then
		not_ok "$label" "$(tail -n 20 "$T/log/bench-cmd.txt")"
		return 1
	fi
	local wall user sys rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tf")
	user=$(awk -F': ' '/User time/ {print $2}' "$tf")
	sys=$(awk -F': ' '/System time/ {print $2}' "$tf")
	rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$tf")
	local line
	line=$(printf '%-44s wall %8s  user %7.2f s  sys %6.2f s  maxrss %6d MiB' "$label" "$wall" "$user" "$sys" \
		$((rss / 1024)))
	# tenback's own account of the copy alone (without checkpoint, WAL, recovery)
	local inner
	inner=$(grep -oE "data: .* in [0-9.]+ s.*|files laid down in .*" "$T/log/bench-cmd.txt" | tail -n 1 || true)
	[[ -n $inner ]] && line+="  [$inner]"
	echo "# $line"
	RESULTS+=("$line")
}

last_set() { tb set list --cluster src --tenant bench --output json | jq -r '.[-1].id'; }

tb_backup() {
	local bin=$1 label=$2; shift 2
	local -a opts=()
	# BENCH_TB_OPTS="--log-level debug": tenback's global options (debug: each large file's copy time)
	[[ -n ${BENCH_TB_OPTS:-} ]] && read -r -a opts <<<"$BENCH_TB_OPTS"
	timed "$label" "$bin" --home "$TB_HOME" "${opts[@]}" backup --cluster src --tenant bench --mode full "$@"
	grep -E "DEBUG: copied" "$T/log/bench-cmd.txt" | sed 's/^/#   /' || true
}

for ((run = 1; run <= REPEAT; run++)); do
	if [[ -n ${TB_BEFORE:-} ]]; then
		install -m 755 "$TB_BEFORE" "$T/bin-before"
		tb_backup "$T/bin-before" "tenback before (one thread) run $run"
	fi
	for j in "${JOBS[@]}"; do
		tb_backup "$TENBACK" "tenback --jobs $j run $run" --jobs "$j"
		if [[ ${BENCH_RESTORE:-0} == 1 && $run == "$REPEAT" && $j == "${JOBS[-1]}" ]]; then
			set_id=$(last_set)
			for rj in "${JOBS[@]}"; do
				rm -rf "$T/restored"
				timed "tenback restore --jobs $rj" "$TENBACK" --home "$TB_HOME" restore --cluster src \
					--tenant bench --set "$set_id" --to "$T/restored" --jobs "$rj" --target immediate \
					--socket-dir "$SOCK" --port $((P + 1))
			done
			rm -rf "$T/restored"
		fi
	done
	if [[ ${BENCH_BASEBACKUP:-0} == 1 ]]; then
		rm -rf "$T/bb"
		timed "pg_basebackup -Ft server-$COMP run $run" "$PGBIN/pg_basebackup" -h "$SOCK" -p $P -U "$PG_USER" \
			-D "$T/bb" -Ft --compress="server-$COMP" -X none --checkpoint=fast
		rm -rf "$T/bb"
	fi
	if [[ ${BENCH_PGBACKREST:-0} == 1 && ! -d $T/pgbr ]]; then
		install -d -o "$PG_USER" "$T/pgbr" "$T/pgbr/repo" "$T/pgbr/log" "$T/pgbr/lock" "$T/pgbr/spool"
		cat >"$T/pgbr/pgbackrest.conf" <<-EOF
		[global]
		repo1-path=$T/pgbr/repo
		log-path=$T/pgbr/log
		lock-path=$T/pgbr/lock
		spool-path=$T/pgbr/spool
		log-level-console=warn
		compress-type=$COMP
		start-fast=y
		archive-check=n
		[bench]
		pg1-path=${PG_DATA[src]}
		pg1-port=$P
		pg1-socket-path=$SOCK
		pg1-user=$PG_USER
		EOF
		chown -R "$PG_USER:" "$T/pgbr"
		as_pg pgbackrest --config="$T/pgbr/pgbackrest.conf" --stanza=bench stanza-create >/dev/null 2>&1 || true
	fi
	if [[ ${BENCH_PGBACKREST:-0} == 1 ]]; then
		for j in $(printf '%s\n' 1 "${JOBS[@]}" | sort -nu); do
			timed "pgbackrest process-max $j run $run" pgbackrest --config="$T/pgbr/pgbackrest.conf" \
				--stanza=bench --type=full --process-max="$j" --archive-check=n backup
		done
	fi
done

echo "# ---- summary (scale $SCALE, $COMP, $(nproc) CPUs)"
for line in "${RESULTS[@]}"; do echo "# $line"; done
ok "benchmark ran"
