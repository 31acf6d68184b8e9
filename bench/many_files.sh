#!/usr/bin/env bash
# bench/many_files.sh: peak resident memory of tenback on a tenant with many files.
#
#   sudo ./bench/many_files.sh [--tables N] [--jobs N] [--keep]
#
# As root on Debian 12 (PostgreSQL 15 and tenback's build dependencies installed, e.g.
# by bench/run.sh or scripts/setup.sh): builds tenback in release mode into
# build-bench/ (unless BENCH_TENBACK names a binary), creates a throwaway PostgreSQL 15
# instance in /tmp/bench-many-XXXXXX run by "postgres" (port BENCH_PORT, default 27610,
# restores use the next port), a database "many" of N tables (default 26000) each
# "(id int primary key, v text)" with one row: four files each (heap, primary key,
# toast table and its index), about 4 N files in the tenant. Then, all with --jobs
# (default 2): a full backup, an incremental after updating 1 % of the tables, a verify
# of the incremental (the chain), a restore of the full and a restore of the chain.
# Prints a Markdown table of the peak resident set size (GNU time's %M) of each
# command and writes it to bench/results/<UTC date>-<host>-many-files.md. Figures are
# reported, never asserted. Everything else is removed on exit.
#
# Environment: BENCH_TENBACK=/path/to/tenback[:/path/to/other] measures each binary in
# turn on the same instance (a column each); BENCH_PORT (default 27610).
set -Eeuo pipefail
umask 022

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PG_USER=postgres
PORT=${BENCH_PORT:-27610}
RPORT=$((PORT + 1))
TABLES=26000
JOBS=2
KEEP=0
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
	case $1 in
	--tables) TABLES=${2:?--tables needs a number}; shift 2 ;;
	--jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "many_files.sh: unknown option \"$1\"" >&2; usage >&2; exit 2 ;;
	esac
done
if ! [[ $TABLES =~ ^[1-9][0-9]*$ && $JOBS =~ ^[1-9][0-9]*$ ]]; then
	echo "many_files.sh: --tables and --jobs take positive integers" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "many_files.sh: run as root: it runs PostgreSQL as $PG_USER" >&2
	exit 1
fi
[[ -x $PGBIN/postgres && -x /usr/bin/time ]] || { echo "many_files.sh: needs PostgreSQL 15 and GNU time" >&2; exit 1; }
export LC_ALL=C.UTF-8
unset PGDATA PGPORT PGHOST PGUSER PGDATABASE PGSERVICE PGOPTIONS || true
say() { printf '==> %s\n' "$*"; }

if [[ -n ${BENCH_TENBACK:-} ]]; then
	IFS=: read -r -a BINS <<<"$BENCH_TENBACK"
else
	say "building tenback (release) into build-bench/"
	if [[ -f $REPO/build-bench/build.ninja ]]; then
		mopts=(setup --reconfigure "$REPO/build-bench" --buildtype=release -Dtests=disabled)
	else
		mopts=(setup "$REPO/build-bench" --buildtype=release -Dtests=disabled)
	fi
	(cd "$REPO" && meson "${mopts[@]}" && ninja -C build-bench) >/dev/null
	BINS=("$REPO/build-bench/tenback")
fi

T=$(mktemp -d /tmp/bench-many-XXXXXX)
chmod 755 "$T"
chown "$PG_USER:" "$T"
PGD=$T/pg SOCK=$T/s LOG=$T/log OUT=$T/out
install -d -o "$PG_USER" -m 700 "$SOCK" "$LOG" "$OUT" "$T/bin"
cleanup() {
	local rc=$?
	trap - EXIT INT TERM ERR
	set +e
	while IFS= read -r pidfile; do
		runuser -u "$PG_USER" -- timeout 60 "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop \
			>/dev/null 2>&1
	done < <(find "$T" -maxdepth 4 -name postmaster.pid 2>/dev/null)
	if [[ $KEEP == 1 ]]; then echo "many_files.sh: --keep: left $T in place"; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "many_files.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg() { (cd "$T" && runuser -u "$PG_USER" -- "$@"); }
sql() { as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p "$PORT" -U "$PG_USER" -d "$1" -v ON_ERROR_STOP=1 -At -c "$2"; }

# one instance; archive_command runs the binary being measured (archive-push is not
# measured), named by $T/current: "BINARY HOME"
for bi in "${!BINS[@]}"; do
	install -m 755 "${BINS[$bi]}" "$T/bin/tenback$bi"
	install -d -o "$PG_USER" -m 700 "$T/home$bi" "$T/repo$bi"
done
echo "$T/bin/tenback0 $T/home0" >"$T/current"
cat >"$T/bin/archive.sh" <<EOF
#!/bin/sh
read -r tb home <"$T/current" && exec "\$tb" --home "\$home" archive-push --cluster bench "\$2"
EOF
chmod 755 "$T/bin/archive.sh"
say "PostgreSQL 15 instance in $PGD (port $PORT)"
as_pg "$PGBIN/initdb" -k -D "$PGD" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOG/initdb.txt" 2>&1 \
	|| { cat "$LOG/initdb.txt"; exit 1; }
cat >>"$PGD/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
wal_level = replica
archive_mode = on
archive_command = '$T/bin/archive.sh archive-push %p'
max_wal_size = 4GB
autovacuum = off
fsync = off
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGD" -l "$LOG/pg.log" -w -t 120 start >/dev/null || { tail -n 30 "$LOG/pg.log"; exit 1; }

say "database \"many\": $TABLES tables (id int primary key, v text) with one row each"
sql postgres "CREATE DATABASE many"
batch=500
for ((b = 0; b < TABLES; b += batch)); do
	e=$((b + batch < TABLES ? b + batch : TABLES))
	sql many "DO \$\$ BEGIN FOR i IN $b..$((e - 1)) LOOP
		EXECUTE format('CREATE TABLE t_%s (id int primary key, v text); INSERT INTO t_%s VALUES (1, ''x'')', i, i);
	END LOOP; END \$\$"
done
sql postgres "CHECKPOINT"
NFILES=$(find "$PGD/base/$(sql postgres "SELECT oid FROM pg_database WHERE datname = 'many'")" -type f | wc -l)
say "$NFILES files in the tenant's database directory"

declare -A RSS
OPS=(full incremental verify restore-full restore-chain)
# measure BIN_IDX OP CMD...: peak RSS in KiB into RSS[BIN_IDX,OP]; prints CMD's stdout
measure() {
	local bi=$1 op=$2 rc=0
	shift 2
	sync
	as_pg /usr/bin/time -o "$LOG/$bi-$op.time" -f '%M' "$@" >"$LOG/$bi-$op.out" 2>"$LOG/$bi-$op.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "many_files.sh: $op failed (binary $bi, exit $rc):" >&2
		tail -n 5 "$LOG/$bi-$op.err" >&2
		RSS[$bi,$op]=failed
		return 0
	fi
	RSS[$bi,$op]=$(tail -n 1 "$LOG/$bi-$op.time")
	say "$op: $(awk '{ printf "%.1f MiB", $1 / 1024 }' <<<"${RSS[$bi,$op]}")"
}

for bi in "${!BINS[@]}"; do
	tb=$T/bin/tenback$bi
	home=$T/home$bi
	say "binary $bi: ${BINS[$bi]}"
	echo "$tb $home" >"$T/current"
	as_pg "$tb" --home "$home" cluster add bench --conninfo "host=$SOCK port=$PORT user=$PG_USER dbname=postgres" \
		--pgdata "$PGD" --storage "file://$T/repo$bi" --compress zstd >/dev/null
	sql postgres "SELECT pg_switch_wal()" >/dev/null
	sql postgres "CHECKPOINT"
	measure "$bi" full "$tb" --home "$home" backup --cluster bench --tenant many --mode full --jobs "$JOBS"
	full=$(tail -n 1 "$LOG/$bi-full.out")
	n1=$(((TABLES + 99) / 100))
	sql many "DO \$\$ BEGIN FOR i IN 0..$((n1 - 1)) LOOP
		EXECUTE format('UPDATE t_%s SET v = v || ''y''', (i * 100) % $TABLES); END LOOP; END \$\$"
	sql postgres "CHECKPOINT"
	measure "$bi" incremental "$tb" --home "$home" backup --cluster bench --tenant many --mode incremental \
		--jobs "$JOBS"
	incr=$(tail -n 1 "$LOG/$bi-incremental.out")
	measure "$bi" verify "$tb" --home "$home" verify --cluster bench --tenant many --set "$incr"
	for what in full chain; do
		set=$full
		[[ $what == chain ]] && set=$incr
		rm -rf "$OUT/r"
		measure "$bi" "restore-$what" "$tb" --home "$home" restore --cluster bench --tenant many --set "$set" \
			--to "$OUT/r" --target immediate --port "$RPORT" --socket-dir "$SOCK" --jobs "$JOBS"
		rm -rf "$OUT/r"
	done
done

mib() { [[ $1 =~ ^[0-9]+$ ]] && awk '{ printf "%.1f", $1 / 1024 }' <<<"$1" || echo "$1"; }
host=$(hostname -s 2>/dev/null || echo host)
res=$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)-$host-many-files.md
{
	echo "# tenback peak RSS, tenant of $NFILES files ($TABLES tables), --jobs $JOBS"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs; GNU time %M of each command (MiB)."
	echo
	for bi in "${!BINS[@]}"; do echo "- binary $bi: ${BINS[$bi]}"; done
	echo
	hdr="| operation |" sep="|---|"
	for bi in "${!BINS[@]}"; do hdr+=" binary $bi |"; sep+="---:|"; done
	echo "$hdr"
	echo "$sep"
	for op in "${OPS[@]}"; do
		row="| $op |"
		for bi in "${!BINS[@]}"; do row+=" $(mib "${RSS[$bi,$op]:-}") |"; done
		echo "$row"
	done
} >"$res"
cat "$res"
echo "written to $res"
