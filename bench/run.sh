#!/usr/bin/env bash
# bench/run.sh: tenback vs pgBackRest vs pg_basebackup on one throwaway PostgreSQL 15
# instance, in one run. See bench/README.md for what each case measures.
#
#   sudo ./bench/run.sh [--scale N] [--reps N] [--quick] [--keep]
#
# As root on Debian 12: installs what is missing (scripts/setup.sh with TB_SETUP_S3=0,
# pgbackrest, time), builds tenback in release mode into build-bench/, creates a
# PostgreSQL 15 instance in /tmp/bench-XXXXXX run by the unprivileged user "postgres"
# (port 27600, its own socket directory, data checksums, archive_command = tenback
# archive-push), loads the dataset, runs every case REPS times with the tools
# alternating, and writes bench/results/<UTC date>-<hostname>.md and .json. Figures
# are reported, never asserted. Everything but bench/results is removed on exit.
#
# Environment (development only): BENCH_TENBACK=/path/to/tenback uses that binary
# instead of building build-bench/; BENCH_PORT (default 27600) the first of the two
# ports used; BENCH_TIMEOUT (default 3600) seconds any one measured command may take.
set -Eeuo pipefail
umask 022

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PG_USER=postgres
PORT=${BENCH_PORT:-27600}        # the source instance
RPORT=$((PORT + 1))              # restored instances, started for the check only
LIMIT=${BENCH_TIMEOUT:-3600}

SCALE=50
REPS=3
KEEP=0
opt_scale="" opt_reps=""
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
	case $1 in
	--scale) opt_scale=${2:?--scale needs a number}; shift 2 ;;
	--scale=*) opt_scale=${1#*=}; shift ;;
	--reps) opt_reps=${2:?--reps needs a number}; shift 2 ;;
	--reps=*) opt_reps=${1#*=}; shift ;;
	--quick) SCALE=5; REPS=1; shift ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option \"$1\"" >&2; usage >&2; exit 2 ;;
	esac
done
[[ -n $opt_scale ]] && SCALE=$opt_scale
[[ -n $opt_reps ]] && REPS=$opt_reps
if ! [[ $SCALE =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: --scale and --reps take positive integers" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "run.sh: run as root (sudo ./bench/run.sh): it installs packages and runs PostgreSQL as $PG_USER" >&2
	exit 1
fi

export LC_ALL=C.UTF-8
unset PGDATA PGPORT PGHOST PGUSER PGDATABASE PGSERVICE PGOPTIONS || true
T0_RUN=$SECONDS
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
say() { printf '==> %s\n' "$*"; }

# ------------------------------------------------------------------ dependencies
need=(build-essential meson ninja-build pkg-config libzstd-dev liblz4-dev libssl-dev libsqlite3-dev
	libpq-dev libmicrohttpd-dev libargon2-dev libcurl4-openssl-dev postgresql-15 postgresql-contrib jq)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${need[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
	say "missing ${missing[*]}: scripts/setup.sh (TB_SETUP_S3=0)"
	TB_SETUP_S3=0 "$REPO/scripts/setup.sh"
fi
missing=()
for p in pgbackrest time procps util-linux coreutils; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q "${missing[@]}" >/dev/null
fi
[[ -x $PGBIN/postgres ]] || { echo "run.sh: no PostgreSQL 15 in $PGBIN" >&2; exit 1; }
id "$PG_USER" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_USER"

# ------------------------------------------------------------------ build
if [[ -n ${BENCH_TENBACK:-} ]]; then
	TB_BUILT=$BENCH_TENBACK
	say "using $TB_BUILT (BENCH_TENBACK; no build)"
else
	say "building tenback (release) into build-bench/"
	blog=$(mktemp /tmp/bench-build.XXXXXX.log)
	if [[ -f $REPO/build-bench/build.ninja ]]; then
		mopts=(setup --reconfigure "$REPO/build-bench" --buildtype=release -Dtests=disabled)
	else
		mopts=(setup "$REPO/build-bench" --buildtype=release -Dtests=disabled)
	fi
	if ! (cd "$REPO" && meson "${mopts[@]}" && ninja -C build-bench) >"$blog" 2>&1; then
		tail -n 40 "$blog" >&2
		echo "run.sh: the release build failed (log above)" >&2
		rm -f "$blog"
		exit 1
	fi
	rm -f "$blog"
	TB_BUILT=$REPO/build-bench/tenback
fi

# what was built: the working tree at the start (others may commit during the run)
tbver=$(git -c safe.directory="$REPO" -C "$REPO" describe --always --dirty --tags 2>/dev/null || echo unknown)
if [[ -n ${BENCH_TENBACK:-} ]]; then tbver="binary $BENCH_TENBACK (tree at the start: $tbver)"; fi

# ------------------------------------------------------------------ temp dir, cleanup
T=$(mktemp -d /tmp/bench-XXXXXX)
chmod 755 "$T"
chown "$PG_USER:" "$T"
PGD=$T/pg                 # the source instance
SOCK=$T/s                 # unix socket directory of every instance
TBH=$T/tb-home            # tenback --home
TBREPO=$T/tb-repo         # tenback storage (file://)
BRREPO=$T/pgbr-repo       # pgBackRest repo1-path
BRCONF=$T/pgbackrest.conf
LOG=$T/log
OUT=$T/out                # pg_basebackup output, restore targets
install -d -o "$PG_USER" -m 700 "$SOCK" "$TBH" "$TBREPO" "$BRREPO" "$T/pgbr-lock" "$LOG" "$OUT" "$T/bin"
install -m 755 "$TB_BUILT" "$T/bin/tenback"
install -m 755 "$BENCH_DIR/lib/iowrap.sh" "$T/bin/iowrap.sh"
TB=$T/bin/tenback
RECORDS=$T/records.jsonl
: >"$RECORDS"
chown "$PG_USER:" "$RECORDS"
ERRORS=$T/errors.txt
: >"$ERRORS"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM ERR
	set +e
	local pidfile pid
	while IFS= read -r pidfile; do
		runuser -u "$PG_USER" -- timeout 60 "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop \
			>/dev/null 2>&1
	done < <(find "$T" -maxdepth 4 -name postmaster.pid 2>/dev/null)
	# leftovers of an interrupted measurement: processes whose command line names $T
	local procs args
	procs=$(ps -eo pid=,args=)
	while read -r pid args; do
		if [[ $args == *"$T/"* && $pid != "$$" ]]; then kill -KILL "$pid" 2>/dev/null; fi
	done <<<"$procs"
	if [[ $KEEP == 1 ]]; then
		echo "run.sh: --keep: left $T in place"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ helpers
as_pg() { (cd "$T" && runuser -u "$PG_USER" -- "$@"); }
sql() {  # sql DB SQL [PORT]
	as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p "${3:-$PORT}" -U "$PG_USER" -d "$1" -v ON_ERROR_STOP=1 -At -c "$2"
}
tbc() { as_pg "$TB" --home "$TBH" "$@"; }
pgbr() { as_pg pgbackrest --config="$BRCONF" --stanza=bench "$@"; }
bytes() { du -sb "$1" 2>/dev/null | cut -f1; }
note_error() { printf '%s\n' "$*" >>"$ERRORS"; printf '    !! %s\n' "$*" >&2; }

wait_archive_idle() {  # until no WAL segment waits for archive_command
	local deadline=$((SECONDS + 300))
	while compgen -G "$PGD/pg_wal/archive_status/*.ready" >/dev/null; do
		if ((SECONDS >= deadline)); then
			note_error "WAL archiving did not catch up within 300 s: $(sql postgres 'SELECT * FROM pg_stat_archiver')"
			return 0
		fi
		sleep 0.2
	done
}
settle() { make_room; wait_archive_idle; sync; sleep 1; }

# What a measurement wrote is not deleted until the end of the run, space permitting.
# On ext4 without a journal (this kind of VM's disk) the inode allocator skips inodes
# freed in the last 60 s, 360 s when their inode table block is dirty again, one by one
# (recently_deleted() in fs/ext4/ialloc.c): after a measurement's thousands of files
# are deleted, the next one creating thousands of files (a restore, a pgBackRest
# backup) spends seconds scanning past them, whichever tool it is. So outputs are
# renamed into $TRASH (no inode freed), sets and backups stay in their repositories,
# and make_room deletes them only when free space runs low (counted in the report).
TRASH=$T/trash
TB_DELETE=()            # tenback sets to delete: "TENANT|SET"
BR_EXPIRE=()            # pgBackRest fulls to expire
N_PURGES=0
discard() {  # discard DIR: out of the way, deleted later
	[[ -e $1 ]] || return 0
	mkdir -p "$TRASH"
	mv "$1" "$TRASH/$(basename "$1").$RANDOM$RANDOM"
}
make_room() {  # delete what was deferred when less than twice the instance plus 4 GiB is free
	local free
	free=$(df -B1 --output=avail "$T" | tail -n 1 | tr -d ' ')
	if ((free >= 2 * INST_BYTES + 4 * 1073741824)); then return 0; fi
	purge_deferred
}
purge_deferred() {
	local e
	for e in "${TB_DELETE[@]}"; do
		tbc set delete --cluster bench --tenant "${e%%|*}" --set "${e#*|}" --with-dependents >/dev/null 2>&1 \
			|| note_error "tenback set delete ${e#*|} failed"
	done
	TB_DELETE=()
	for e in "${BR_EXPIRE[@]}"; do br_expire "$e"; done
	BR_EXPIRE=()
	rm -rf "$TRASH"
	N_PURGES=$((N_PURGES + 1))
}

# measure NAME CMD...: run CMD as $PG_USER after settle; sets M_RC, M_SEC (wall
# seconds, to the millisecond: iowrap's START to END), M_RSS (KiB: the largest resident set of any one process of the tree, GNU
# time's %M), M_RCHAR and M_RBYTES (/proc io rchar/read_bytes summed over the tree),
# M_ERR (the last ERROR line). stdout in $LOG/NAME.out, stderr (timestamped) in $LOG/NAME.err
measure() {
	local name=$1
	shift
	settle
	M_RC=0
	as_pg /usr/bin/time -o "$LOG/$name.time" -f '%e %M' bash "$T/bin/iowrap.sh" "$LOG/$name.io" "$LOG/$name.err" \
		"$LIMIT" "$@" >"$LOG/$name.out" || M_RC=$?
	M_SEC="" M_RSS=""
	[[ -s $LOG/$name.time ]] && read -r M_SEC M_RSS < <(tail -n 1 "$LOG/$name.time")
	[[ $M_SEC =~ ^[0-9.]+$ ]] || M_SEC=""
	# the wall time to the millisecond, from iowrap's START and END (GNU time's %e has 10 ms steps,
	# the size of a ratio's margin for a 0.1 s incremental); %e when they are missing
	local wall
	wall=$(awk '$1 == "START" { s = $2 } $1 == "END" { e = $2 } END { if (s != "" && e != "") printf "%.3f", e - s }' \
		"$LOG/$name.err" 2>/dev/null || true)
	[[ $wall =~ ^[0-9]+\.[0-9]+$ ]] && M_SEC=$wall
	[[ $M_RSS =~ ^[0-9]+$ ]] || M_RSS=""
	M_RCHAR=$(awk '$1 == "rchar:" { print $2 }' "$LOG/$name.io" 2>/dev/null || true)
	M_RBYTES=$(awk '$1 == "read_bytes:" { print $2 }' "$LOG/$name.io" 2>/dev/null || true)
	M_ERR=""
	if [[ $M_RC -ne 0 ]]; then
		M_ERR=$(grep -v '^END ' "$LOG/$name.err" | cut -d' ' -f2- | grep -E 'ERROR|FATAL|error' | tail -n 3 | tr '\n' ' ' || true)
		[[ -n $M_ERR ]] || M_ERR=$(grep -v '^END ' "$LOG/$name.err" | cut -d' ' -f2- | tail -n 3 | tr '\n' ' ')
		note_error "$name: exit $M_RC: $M_ERR"
	fi
	printf '    %-44s %8ss  %6s MiB RSS%s\n' "$name" "$M_SEC" "$((M_RSS / 1024))" \
		"$([[ $M_RC -ne 0 ]] && echo "  FAILED (exit $M_RC)")"
}

# record CASE VARIANT TOOL REP [key=value...]: one raw repetition, from the M_* of the
# last measure plus the given fields (numbers when they look like numbers)
record() {
	local c=$1 v=$2 tool=$3 rep=$4
	shift 4
	local -a args=(--arg case "$c" --arg variant "$v" --arg tool "$tool" --argjson rep "$rep"
		--argjson rc "$M_RC" --argjson seconds "${M_SEC:-null}" --argjson rss_kib "${M_RSS:-null}"
		--argjson rchar "${M_RCHAR:-null}" --argjson proc_read_bytes "${M_RBYTES:-null}" --arg error "$M_ERR")
	local filt='{case: $case, variant: $variant, tool: $tool, rep: $rep, rc: $rc, seconds: $seconds,
		rss_kib: $rss_kib, rchar: $rchar, proc_read_bytes: $proc_read_bytes, error: $error}'
	local kv k val
	for kv in "$@" "${REC_EXTRA[@]}"; do
		k=${kv%%=*}
		val=${kv#*=}
		if [[ $val =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
			args+=(--argjson "$k" "$val")
		elif [[ $val == true || $val == false || $val == null ]]; then
			args+=(--argjson "$k" "$val")
		else
			args+=(--arg "$k" "$val")
		fi
		filt+=" + {$k: \$$k}"
	done
	jq -cn "${args[@]}" "$filt" >>"$RECORDS"
}

REC_EXTRA=()   # key=value fields added to every record (the workload of an incremental)

# tenback's own figures from its log line "data: N files, [F MiB in files, ]X MiB read,
# Y MiB stored in S s" (the "in files" figure came with page reads by WAL block
# references: then "read" is what it read, "in files" the size of the files)
tb_log_mib() {  # tb_log_mib NAME "read"|"stored"|"in files": bytes, or nothing
	grep -E ' INFO: data: [0-9]+ files, ' "$LOG/$1.err" | tail -n 1 | grep -oP "[0-9.]+(?= MiB $2)" \
		| awk '{ printf "%.0f\n", $1 * 1048576 }' || true
}
tb_set_dir() { find "$TBREPO" -mindepth 4 -maxdepth 4 -type d -name "$1" | head -n 1; }   # tenback/<system id>/<tenant>/<set>
br_info() { pgbr --output=json info; }     # the stanza's info (JSON)
br_last_label() { br_info | jq -r '.[0].backup[-1].label // empty'; }

# ------------------------------------------------------------------ the instance
say "PostgreSQL 15 instance in $PGD (port $PORT, socket $SOCK), tenback home $TBH"
as_pg "$PGBIN/initdb" -k -D "$PGD" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOG/initdb.txt" 2>&1 \
	|| { cat "$LOG/initdb.txt"; exit 1; }
cat >>"$PGD/postgresql.conf" <<EOF

# ---- bench/run.sh
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
wal_level = replica
archive_mode = on
archive_command = '$TB --home $TBH archive-push --cluster bench %p'
max_wal_size = 4GB
min_wal_size = 512MB
wal_keep_size = 1GB
checkpoint_timeout = 30min
shared_buffers = 256MB
max_connections = 40
autovacuum = off
log_checkpoints = on
log_line_prefix = '%m [%p] '
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGD" -l "$LOG/pg.log" -w -t 120 start >/dev/null || { tail -n 30 "$LOG/pg.log"; exit 1; }

say "tenback cluster add bench (storage file://$TBREPO)"
tbc cluster add bench --conninfo "host=$SOCK port=$PORT user=$PG_USER dbname=postgres" --pgdata "$PGD" \
	--storage "file://$TBREPO" --compress zstd >/dev/null

T5=$(((SCALE + 8) / 16))
((T5 >= 1)) || T5=1
say "dataset: big (pgbench -s $SCALE), tenant5 (pgbench -s $T5), small01..small20"
sql postgres "CREATE DATABASE big"
sql postgres "CREATE DATABASE tenant5"
as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U "$PG_USER" -i -s "$SCALE" -q big >"$LOG/pgbench-big.txt" 2>&1 \
	|| { tail "$LOG/pgbench-big.txt"; exit 1; }
as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U "$PG_USER" -i -s "$T5" -q tenant5 >"$LOG/pgbench-t5.txt" 2>&1 \
	|| { tail "$LOG/pgbench-t5.txt"; exit 1; }
for i in $(seq -w 1 20); do
	sql postgres "CREATE DATABASE small$i"
	sql "small$i" "
		CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), created timestamptz);
		INSERT INTO items SELECT g, md5(g::text), (g % 1000) / 7.0, now() - g * interval '1 minute'
			FROM generate_series(1, 15000) g;
		CREATE INDEX ON items (name);
		CREATE TABLE events (id bigserial PRIMARY KEY, item_id int REFERENCES items, payload jsonb, at timestamptz);
		INSERT INTO events (item_id, payload, at) SELECT 1 + g % 15000, jsonb_build_object('k', g, 'v', md5((g * 7)::text)),
			now() FROM generate_series(1, 15000) g;
		CREATE INDEX ON events (item_id);"
done
sql big "CREATE EXTENSION IF NOT EXISTS pageinspect"
as_pg "$PGBIN/vacuumdb" -h "$SOCK" -p "$PORT" -U "$PG_USER" --all --analyze -q
sql postgres "CHECKPOINT"
sql postgres "SELECT pg_switch_wal()" >/dev/null
wait_archive_idle

# sizes
INST_BYTES=$(($(bytes "$PGD") - $(bytes "$PGD/pg_wal")))   # what a full backup reads: the data directory without pg_wal
DB_BYTES=$(sql postgres "SELECT sum(pg_database_size(oid)) FROM pg_database")
BIG_BYTES=$(sql postgres "SELECT pg_database_size('big')")
T5_BYTES=$(sql postgres "SELECT pg_database_size('tenant5')")
T5_PCT=$(awk -v a="$T5_BYTES" -v b="$DB_BYTES" 'BEGIN { printf "%.1f", 100 * a / b }')
SMALL_AVG=$(sql postgres "SELECT (avg(pg_database_size(oid)) / 1048576)::numeric(10,1) FROM pg_database WHERE datname LIKE 'small%'")
say "instance: $((INST_BYTES / 1048576)) MiB in the data directory without pg_wal; big $((BIG_BYTES / 1048576)) MiB, tenant5 $((T5_BYTES / 1048576)) MiB ($T5_PCT % of all databases), small* $SMALL_AVG MiB each"

cat >"$BRCONF" <<EOF
[global]
repo1-path=$BRREPO
repo1-retention-full=9999999
lock-path=$T/pgbr-lock
log-level-console=warn
log-level-stderr=warn
log-level-file=off
start-fast=y
archive-check=n

[bench]
pg1-path=$PGD
pg1-port=$PORT
pg1-socket-path=$SOCK
pg1-user=$PG_USER
EOF
chown "$PG_USER:" "$BRCONF"
pgbr stanza-create >"$LOG/stanza-create.txt" 2>&1 || { cat "$LOG/stanza-create.txt"; exit 1; }

# the --jobs option of tenback backup / restore (physical): passed only where supported
TB_JOBS_BACKUP=no
# (the usage error exits 2: read its text first, or pipefail makes the test false)
usage_text=$("$TB" backup --help 2>&1 || true)
if grep -q -- '--jobs' <<<"$usage_text"; then TB_JOBS_BACKUP=yes; fi
# restore already has --jobs for logical sets: a physical restore with --jobs is a usage
# error (exit 2) until it supports it
TB_JOBS_RESTORE=no
jrc=0
tbc restore --cluster nosuchcluster --tenant x --to "$OUT/probe" --jobs 2 >/dev/null 2>&1 || jrc=$?
[[ $jrc -ne 2 ]] && TB_JOBS_RESTORE=yes
rm -rf "$OUT/probe"
say "tenback --jobs: backup $TB_JOBS_BACKUP, restore $TB_JOBS_RESTORE (passed only where supported)"
tb_jobs() {  # tb_jobs backup|restore N: the option words to pass
	local v=TB_JOBS_${1^^}
	[[ ${!v} == yes ]] && echo "--jobs $2"
	return 0
}
# cases 2-4 use two workers where tenback can, else one (both tools alike)
W=1
[[ $TB_JOBS_BACKUP == yes ]] && W=2

# warm the page cache with the data directory (everything fits in RAM): all tools alike
find "$PGD" -type f -exec cat {} + >/dev/null

# ------------------------------------------------------------------ per-tool steps
# Every step measures one command, records it, and removes what it wrote unless kept.
declare -A BR_KEEP=()   # pgBackRest labels still needed
BR_PREV_FULL=""         # pgBackRest must keep one full: expire the previous one after the next

tb_backup() {  # tb_backup CASE VARIANT REP TENANT MODE COMPRESS WORKERS KEEP(0|1): sets TB_ID
	local c=$1 v=$2 rep=$3 tenant=$4 mode=$5 comp=$6 w=$7 keep=$8 name
	name="$c-$v-tenback-r$rep"
	# shellcheck disable=SC2046
	measure "$name" "$TB" --home "$TBH" --log-level info backup --cluster bench --tenant "$tenant" \
		--mode "$mode" --compress "$comp" $(tb_jobs backup "$w")
	TB_ID=""
	local rd="" st="" dir=""
	if [[ $M_RC -eq 0 ]]; then
		TB_ID=$(tail -n 1 "$LOG/$name.out")
		rd=$(tb_log_mib "$name" read)
		dir=$(tb_set_dir "$TB_ID")
		[[ -n $dir ]] && st=$(bytes "$dir")
	fi
	# when its log lines came (seconds from the start): pg_backup_start, data copied, WAL
	# copied, set completed
	local ph
	ph=$(awk 'NR == 1 { t0 = $2; next } function at() { return sprintf("%.2f", $1 - t0) }
		/: pg_backup_start/ && a == "" { a = at() } / INFO: data: / && b == "" { b = at() }
		/WAL segment\(s\) copied/ && c == "" { c = at() } /completed: / && d == "" { d = at() }
		END { print "at_backup_start=" (a == "" ? "null" : a), "at_data_done=" (b == "" ? "null" : b),
		      "at_wal_done=" (c == "" ? "null" : c), "at_completed=" (d == "" ? "null" : d) }' "$LOG/$name.err")
	# shellcheck disable=SC2086
	record "$c" "$v" tenback "$rep" $ph tenant="$tenant" mode="$mode" compress="$comp" workers="$w" \
		jobs_passed="$TB_JOBS_BACKUP" set="$TB_ID" tool_read_bytes="${rd:-null}" stored_bytes="${st:-null}" \
		tool_stored_bytes="$(t=$(tb_log_mib "$name" stored); echo "${t:-null}")" \
		files_bytes="$(t=$(tb_log_mib "$name" "in files"); echo "${t:-null}")" \
		detect="$(grep -oP ' INFO: \Kchanged pages: .*' "$LOG/$name.err" | head -n 1 || true)"
	# deleted later (discard); an incremental's parent is the newest set of the tenant,
	# and case 3 takes its full right before its incrementals
	if [[ $keep == 0 && -n $TB_ID ]]; then TB_DELETE+=("$tenant|$TB_ID"); fi
	return 0
}

br_expire() {  # br_expire LABEL: expire a full (and its incrementals)
	pgbr expire --set="$1" >"$LOG/expire.txt" 2>&1 || note_error "pgbackrest expire --set=$1: $(tail -n 2 "$LOG/expire.txt")"
}

br_backup() {  # br_backup CASE VARIANT REP TYPE COMPRESS WORKERS KEEP: sets BR_LABEL
	local c=$1 v=$2 rep=$3 type=$4 comp=$5 w=$6 keep=$7 name
	local -a lvl=()
	name="$c-$v-pgbackrest-r$rep"
	case $comp in
	none) ;;
	lz4) lvl=(--compress-level=1) ;;   # lz4 levels below 3 are all the fast mode, as tenback's 0
	zstd) comp=zst; lvl=(--compress-level=3) ;;
	esac
	measure "$name" pgbackrest --config="$BRCONF" --stanza=bench --type="$type" --compress-type="$comp" \
		"${lvl[@]}" --process-max="$w" backup
	BR_LABEL=""
	local delta="" size="" rsize="" rdelta="" dir="" st=""
	if [[ $M_RC -eq 0 ]]; then
		local info
		info=$(br_info | jq -c '.[0].backup[-1]')
		BR_LABEL=$(jq -r .label <<<"$info")
		delta=$(jq -r .info.delta <<<"$info")
		size=$(jq -r .info.size <<<"$info")
		rsize=$(jq -r .info.repository.size <<<"$info")
		rdelta=$(jq -r .info.repository.delta <<<"$info")
		dir=$BRREPO/backup/bench/$BR_LABEL
		[[ -d $dir ]] && st=$(bytes "$dir")
	fi
	record "$c" "$v" pgbackrest "$rep" tenant='*' mode="$type" compress="$comp" workers="$w" set="$BR_LABEL" \
		tool_read_bytes="${delta:-null}" db_size_bytes="${size:-null}" repo_size_bytes="${rsize:-null}" \
		repo_delta_bytes="${rdelta:-null}" stored_bytes="${st:-null}"
	if [[ $type == full && -n $BR_LABEL ]]; then
		if [[ -n $BR_PREV_FULL && -z ${BR_KEEP[$BR_PREV_FULL]:-} ]]; then BR_EXPIRE+=("$BR_PREV_FULL"); fi
		BR_PREV_FULL=$BR_LABEL
		[[ $keep == 1 ]] && BR_KEEP[$BR_LABEL]=1
	fi
	return 0
}

bb_backup() {  # bb_backup CASE VARIANT REP COMPRESS
	local c=$1 v=$2 rep=$3 comp=$4 name dir
	local -a z=()
	case $comp in
	lz4) z=(--compress=server-lz4) ;;     # PostgreSQL's default levels: lz4 fast, zstd 3
	zstd) z=(--compress=server-zstd) ;;
	esac
	name="$c-$v-pg_basebackup-r$rep"
	dir=$OUT/basebackup
	discard "$dir"
	measure "$name" "$PGBIN/pg_basebackup" -h "$SOCK" -p "$PORT" -U "$PG_USER" -D "$dir" -Ft -X fetch -c fast "${z[@]}"
	local st=""
	[[ $M_RC -eq 0 ]] && st=$(bytes "$dir")
	record "$c" "$v" pg_basebackup "$rep" tenant='*' mode=full compress="$comp" workers=1 \
		stored_bytes="${st:-null}" wal=fetch format=tar
	discard "$dir"
	return 0
}

# restored-instance check: start it on $RPORT, compare with the expected "sum count"
check_restored() {  # check_restored TOOL WHAT DIR EXPECTED
	local tool=$1 what=$2 dir=$3 want=$4 got="" dbs=""
	if as_pg "$PGBIN/pg_ctl" -D "$dir" -o "-p $RPORT -k $SOCK -c archive_mode=off" -l "$LOG/check-$tool-$what.log" \
		-w -t 600 start >/dev/null 2>&1; then
		got=$(sql big "SELECT sum(abalance) || ' ' || count(*) FROM pgbench_accounts" "$RPORT" 2>&1 || true)
		dbs=$(sql postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'small%' OR datname IN ('big', 'tenant5')" "$RPORT" 2>&1 || true)
		as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 300 stop >/dev/null 2>&1 || true
	else
		got="(did not start: $(tail -n 3 "$LOG/check-$tool-$what.log" | tr '\n' ' '))"
	fi
	local ok=false
	[[ $got == "$want" && $dbs == 22 ]] && ok=true
	say "restore check $tool $what: source \"$want\", restored \"$got\", databases $dbs/22: $([[ $ok == true ]] && echo OK || echo MISMATCH)"
	jq -cn --arg tool "$tool" --arg what "$what" --arg want "$want" --arg got "$got" --arg dbs "$dbs" --argjson ok "$ok" \
		'{check: "restore", tool: $tool, what: $what, source: $want, restored: $got, databases: $dbs, ok: $ok}' >>"$T/checks.jsonl"
	[[ $ok == true ]] || note_error "restore check $tool $what: source \"$want\", restored \"$got\", databases $dbs"
}

tb_restore() {  # tb_restore VARIANT REP SET CHECK_EXPECTED(or "")
	local v=$1 rep=$2 set=$3 want=$4 name dir
	name="restore-$v-tenback-r$rep"
	dir=$OUT/restore-tenback
	discard "$dir"
	# shellcheck disable=SC2046
	measure "$name" "$TB" --home "$TBH" --log-level info restore --cluster bench --tenant '*' --set "$set" \
		--to "$dir" --target immediate --port "$RPORT" --socket-dir "$SOCK" $(tb_jobs restore "$W")
	# the phases, from the timestamps of its log lines: laying down the files (and sync)
	# until "recovering (WAL replay ...", then its first recovery
	local lay="" st=""
	lay=$(awk 'NR == 1 { t0 = $2 } /INFO: recovering/ && !d { printf "%.3f\n", $1 - t0; d = 1 }' "$LOG/$name.err")
	[[ $M_RC -eq 0 ]] && st=$(bytes "$dir")
	record restore "$v" tenback "$rep" set="$set" workers="$W" jobs_passed="$TB_JOBS_RESTORE" \
		laydown_seconds="${lay:-null}" restored_bytes="${st:-null}" includes_recovery=true
	if [[ $M_RC -eq 0 && -n $want ]]; then check_restored tenback "$v" "$dir" "$want"; fi
	discard "$dir"
	return 0
}

br_restore() {  # br_restore VARIANT REP LABEL CHECK_EXPECTED(or "")
	local v=$1 rep=$2 label=$3 want=$4 name dir st=""
	name="restore-$v-pgbackrest-r$rep"
	dir=$OUT/restore-pgbackrest
	discard "$dir"
	install -d -o "$PG_USER" -m 700 "$dir"
	measure "$name" pgbackrest --config="$BRCONF" --stanza=bench --pg1-path="$dir" --set="$label" \
		--type=immediate --target-action=promote --archive-mode=off --process-max="$W" \
		"--recovery-option=restore_command=$TB --home $TBH archive-get --cluster bench %f %p" restore
	local rc1=$M_RC
	[[ $M_RC -eq 0 ]] && st=$(bytes "$dir")
	record restore "$v" pgbackrest "$rep" set="$label" workers="$W" restored_bytes="${st:-null}" includes_recovery=false
	# the first recovery, as tenback restore does it: start (hot_standby off: ready only
	# once promoted), shut down (checkpoint)
	if [[ $rc1 -eq 0 ]]; then
		measure "recovery-$v-pgbackrest-r$rep" bash -c "'$PGBIN/pg_ctl' -D '$dir' -o '-p $RPORT -k $SOCK -c hot_standby=off' \
			-l '$LOG/recovery-$v-pgbackrest-r$rep.log' -w -t 3000 start && '$PGBIN/pg_ctl' -D '$dir' -m fast -w -t 600 stop"
		record recovery "$v" pgbackrest "$rep" set="$label"
		if [[ $M_RC -eq 0 && -n $want ]]; then check_restored pgbackrest "$v" "$dir" "$want"; fi
	fi
	discard "$dir"
	return 0
}

# the workload: update random rows of big.pgbench_accounts so that about PCT % of the
# instance's pages change (heap pages of the old and new row versions, primary key
# leaf pages); the number of rows comes from the table's and index's page counts.
HEAP_PAGES=$(sql big "SELECT pg_relation_size('pgbench_accounts') / 8192")
IDX_PAGES=$(sql big "SELECT pg_relation_size('pgbench_accounts_pkey') / 8192")
NROWS=$(sql big "SELECT count(*) FROM pgbench_accounts")
INST_PAGES=$((INST_BYTES / 8192))
rows_for_pct() {  # expected distinct pages touched by k random updates: H(1-e^-k/H) + I(1-e^-k/I) + k/rows_per_page
	awk -v f="$1" -v H="$HEAP_PAGES" -v I="$IDX_PAGES" -v N="$INST_PAGES" -v R="$NROWS" 'BEGIN {
		target = f / 100 * N; rpp = R / H; lo = 0; hi = R
		for (i = 0; i < 100; i++) { k = (lo + hi) / 2
			t = H * (1 - exp(-k / H)) + I * (1 - exp(-k / I)) + k / rpp
			if (t < target) lo = k; else hi = k }
		printf "%d\n", k }'
}
workload() {  # workload PCT: sets WL_ROWS WL_PAGES (measured) WL_PCT
	local pct=$1 lsn
	WL_ROWS=$(rows_for_pct "$pct")
	lsn=$(sql postgres "SELECT pg_current_wal_lsn()")
	sql big "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid IN
		(SELECT 1 + floor(random() * $NROWS)::int FROM generate_series(1, $WL_ROWS))"
	sql postgres "CHECKPOINT"
	# measured: pages of pgbench_accounts and its primary key whose LSN moved past the start
	WL_PAGES=$(sql big "SELECT
		(SELECT count(*) FROM generate_series(0, pg_relation_size('pgbench_accounts') / 8192 - 1) b
		  WHERE (page_header(get_raw_page('pgbench_accounts', b::int))).lsn > '$lsn')
	  + (SELECT count(*) FROM generate_series(1, pg_relation_size('pgbench_accounts_pkey') / 8192 - 1) b
		  WHERE (page_header(get_raw_page('pgbench_accounts_pkey', b::int))).lsn > '$lsn')")
	WL_PCT=$(awk -v a="$WL_PAGES" -v b="$INST_PAGES" 'BEGIN { printf "%.2f", 100 * a / b }')
	say "workload ~$pct %: $WL_ROWS rows updated, $WL_PAGES pages changed = $WL_PCT % of the instance's $INST_PAGES pages"
	jq -cn --argjson target "$pct" --argjson rows "$WL_ROWS" --argjson pages "$WL_PAGES" --argjson pct "$WL_PCT" \
		--argjson inst "$INST_PAGES" '{workload_target_pct: $target, rows: $rows, pages_changed: $pages, pct_of_instance: $pct, instance_pages: $inst}' \
		>>"$T/workloads.jsonl"
}
source_fingerprint() { sql big "SELECT sum(abalance) || ' ' || count(*) FROM pgbench_accounts"; }

# ------------------------------------------------------------------ the run
for rep in $(seq 1 "$REPS"); do
	say "repetition $rep of $REPS"
	# 1. full backup of the whole instance
	for comp in none lz4 zstd; do
		for w in 1 2; do
			# without --jobs tenback's 2-worker run would repeat its 1-worker run: skipped
			# (the report compares pgBackRest's 2 workers with tenback's one process)
			if [[ $w == 1 || $TB_JOBS_BACKUP == yes ]]; then tb_backup full "$comp-w$w" "$rep" '*' full "$comp" "$w" 0; fi
			br_backup full "$comp-w$w" "$rep" full "$comp" "$w" 0
			[[ $w == 1 ]] && bb_backup full "$comp-w$w" "$rep" "$comp"
		done
	done
	# 2. one tenant (5 %) vs the whole instance, tenback (the instance: case 1's zstd run)
	tb_backup tenant "tenant5-zstd-w$W" "$rep" tenant5 full zstd "$W" 0
	# 3. incrementals after ~1 % and ~10 % of the pages changed
	tb_backup incr "parent-full-zstd-w$W" "$rep" '*' full zstd "$W" 1
	TB_FULL=$TB_ID
	br_backup incr "parent-full-zstd-w$W" "$rep" full zstd "$W" 1
	BR_FULL=$BR_LABEL
	FP_FULL=$(source_fingerprint)
	workload 1
	REC_EXTRA=(workload_rows="$WL_ROWS" workload_pages="$WL_PAGES" workload_pct="$WL_PCT")
	tb_backup incr "1pct-zstd-w$W" "$rep" '*' incremental zstd "$W" 1
	TB_INCR1=$TB_ID
	br_backup incr "1pct-zstd-w$W" "$rep" incr zstd "$W" 1
	BR_INCR1=$BR_LABEL
	workload 10
	REC_EXTRA=(workload_rows="$WL_ROWS" workload_pages="$WL_PAGES" workload_pct="$WL_PCT")
	tb_backup incr "10pct-zstd-w$W" "$rep" '*' incremental zstd "$W" 1
	TB_INCR10=$TB_ID
	br_backup incr "10pct-zstd-w$W" "$rep" incr zstd "$W" 1
	BR_INCR10=$BR_LABEL
	REC_EXTRA=()
	FP_CHAIN=$(source_fingerprint)
	# 4. restores: the full, and the chain full + 1 % + 10 %
	chk_full="" chk_chain=""
	if [[ $rep == 1 ]]; then chk_full=$FP_FULL; chk_chain=$FP_CHAIN; fi
	[[ -n $TB_FULL ]] && tb_restore full "$rep" "$TB_FULL" "$chk_full"
	[[ -n $BR_FULL ]] && br_restore full "$rep" "$BR_FULL" "$chk_full"
	if [[ -n $TB_INCR10 && -n $TB_INCR1 ]]; then tb_restore chain "$rep" "$TB_INCR10" "$chk_chain"; fi
	if [[ -n $BR_INCR10 && -n $BR_INCR1 ]]; then br_restore chain "$rep" "$BR_INCR10" "$chk_chain"; fi
	# drop this repetition's chains
	[[ -n $TB_FULL ]] && TB_DELETE+=("*|$TB_FULL")
	if [[ -n $BR_FULL ]]; then unset "BR_KEEP[$BR_FULL]"; fi
done

# ------------------------------------------------------------------ results
say "writing results"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
HOST=$(hostname -s 2>/dev/null || hostname)
RES=$BENCH_DIR/results
mkdir -p "$RES"
BASE=$RES/$STAMP-$HOST
ELAPSED=$((SECONDS - T0_RUN))

S_TB="\`tenback --log-level info backup --cluster bench --tenant '*'|tenant5 --mode full|incremental --compress none|lz4|zstd\`$(if [[ $TB_JOBS_BACKUP == yes ]]; then echo " --jobs N"; else echo " (no --jobs: not supported by this build)"; fi); levels: tenback's defaults (lz4 0 = the fast mode, zstd 3); storage file:// on the same file system; a set includes the WAL from its start to its stop, so the backup waits for the stop segment to be archived. \`tenback restore --set ID --to DIR --target immediate --port P --socket-dir S\`$(if [[ $TB_JOBS_RESTORE == yes ]]; then echo " --jobs N"; fi): lays the files down, sync(), then runs its first recovery itself (a private postgres replays the set's WAL to its end, is promoted and shut down); \"files only\" is the time until its log line \"recovering (WAL replay ...)\"."
S_BR="\`pgbackrest --config=... --stanza=bench --type=full|incr --compress-type=none|lz4|zst --compress-level=1|3 --process-max=N backup\` with start-fast=y, archive-check=n (WAL archiving is tenback's: pgBackRest's backups neither wait for nor hold WAL), checksum-page on (its default with data checksums, as tenback verifies page checksums), repo1-path on the same file system; lz4 level 1 is the same fast mode as tenback's 0. pgBackRest 2.45 has no block incremental: an incr copies every changed file whole. \`pgbackrest restore --pg1-path=DIR --set=LABEL --type=immediate --target-action=promote --archive-mode=off --recovery-option=restore_command=tenback archive-get ... --process-max=N\` lays the files down only; \"restore + recovery\" adds the same first recovery tenback does, measured separately: pg_ctl start -w (hot_standby=off: ready once promoted) then pg_ctl stop -m fast."
S_BB="\`pg_basebackup -Ft -X fetch -c fast [--compress=server-lz4|server-zstd]\` (PostgreSQL's default levels: lz4 fast, zstd 3): one process, in the w1 rows only; the server reads (and compresses) the files, so its time includes the walsender's work but its RSS and rchar do not. -X fetch puts the WAL from start to stop into the backup, as a tenback set holds it (-X none would not be restorable on its own, -X stream adds a second connection)."
S_PG="PostgreSQL 15 from Debian, initdb --data-checksums, shared_buffers 256MB, max_wal_size 4GB, checkpoint_timeout 30min, autovacuum off, archive_command = tenback archive-push; run by the unprivileged user $PG_USER, as every tool is."
S_BETWEEN="wait until no WAL segment awaits archiving, sync, 1 s; what a measurement wrote is kept until the end of the run (outputs renamed aside, sets and backups left in their repositories) unless free space runs low: on ext4 without a journal the inode allocator skips inodes freed in the last minutes one by one, so a measurement that creates thousands of files right after thousands were deleted pays seconds for it, whichever tool it is (deletions during this run: $N_PURGES); the data directory is read once into the page cache before the first one."
cpu=$(lscpu | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
mem=$(free -b | awk '/^Mem:/ { print $2 }')
disk=$(df -B1 --output=avail "$T" | tail -n 1 | tr -d ' ')
fs=$(df --output=source,fstype "$T" | tail -n 1 | tr -s ' ')
brver=$(pgbackrest version)
pgver=$("$PGBIN/postgres" --version)

touch "$T/checks.jsonl" "$T/workloads.jsonl"
jq -n \
	--slurpfile records "$RECORDS" \
	--slurpfile checks "$T/checks.jsonl" \
	--slurpfile workloads "$T/workloads.jsonl" \
	--arg stamp "$STAMP" --arg host "$HOST" --arg cpu "$cpu" --argjson cores "$(nproc)" --argjson mem "$mem" \
	--arg kernel "$(uname -r)" --argjson disk "$disk" --arg fs "$fs" --arg tbver "$tbver" --arg brver "$brver" \
	--arg pgver "$pgver" --arg bbver "$("$PGBIN/pg_basebackup" --version)" \
	--argjson scale "$SCALE" --argjson t5 "$T5" --argjson reps "$REPS" --argjson w "$W" \
	--arg jb "$TB_JOBS_BACKUP" --arg jr "$TB_JOBS_RESTORE" --argjson inst "$INST_BYTES" --argjson dbb "$DB_BYTES" \
	--argjson big "$BIG_BYTES" --argjson t5b "$T5_BYTES" --argjson elapsed "$ELAPSED" \
	--arg l0 "$LOAD_START" --arg l1 "$(cut -d' ' -f1 /proc/loadavg)" \
	--rawfile errors "$ERRORS" --arg s_tb "$S_TB" --arg s_br "$S_BR" --arg s_bb "$S_BB" --arg s_pg "$S_PG" --arg s_between "$S_BETWEEN" \
	'{
		run: {utc: $stamp, host: $host, seconds: $elapsed, loadavg_start: $l0, loadavg_end: $l1, scale: $scale, tenant5_scale: $t5, reps: $reps,
		      workers_cases_2_to_4: $w, tenback_jobs_backup: $jb, tenback_jobs_restore: $jr},
		machine: {cpu: $cpu, cores: $cores, ram_bytes: $mem, kernel: $kernel, disk_free_bytes: $disk, filesystem: $fs},
		settings: {tenback: $s_tb, pgBackRest: $s_br, pg_basebackup: $s_bb, PostgreSQL: $s_pg, "between measurements": $s_between},
		versions: {tenback: $tbver, pgbackrest: $brver, postgresql: $pgver, pg_basebackup: $bbver},
		dataset: {data_dir_bytes_without_wal: $inst, databases_bytes: $dbb, big_bytes: $big, tenant5_bytes: $t5b},
		workloads: $workloads, restore_checks: $checks,
		errors: ($errors | split("\n") | map(select(length > 0))),
		records: $records
	}' >"$BASE.json"

# the Markdown report: medians over the successful repetitions of each case/variant/tool
"$BENCH_DIR/lib/report.sh" "$BASE.json" >"$BASE.md"
chown -R --reference="$BENCH_DIR" "$RES" 2>/dev/null || true
echo
cat "$BASE.md"
echo
say "results: $BASE.md and $BASE.json ($((ELAPSED / 60)) min $((ELAPSED % 60)) s)"
