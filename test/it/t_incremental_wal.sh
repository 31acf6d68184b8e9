#!/usr/bin/env bash
# Incrementals driven by the WAL (issue 8): the changed pages are the blocks named by
# the WAL records since the parent's start, and only those pages are read.
#   - quiet source, after writes and DDL (new table, TRUNCATE, DROP, VACUUM FULL, a
#     file shortened by VACUUM, CREATE INDEX, CREATE DATABASE): --detect compare reads
#     every page too and compares block for block: identical, nothing only in one;
#   - while pgbench writes: compare finds no page the WAL missed (pages changed after
#     the start are counted apart: the set's own WAL replays them);
#   - the default incremental (WAL) while pgbench writes reads less than its files
#     hold, and its chain restores equal to the source: amcheck, pg_checksums, the
#     pgbench invariant;
#   - a damaged archived segment in the window: the backup says why the WAL cannot be
#     used, reads every page instead, completes, and restores equal;
#   - a small tenant (crm) of a busy instance: the WAL since its full is larger than its
#     pages, so the default reads its pages instead, says so, and restores equal.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26550; R3=26553; R4=26554; R5=26555

pg_create src $P checksums=on
cluster_add src
psql_q postgres "ALTER SYSTEM SET autovacuum = off"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 10
pgbench_init $P crm 2
psql_q shop "CREATE EXTENSION amcheck"
psql_q shop "CREATE TABLE t_trunc (id int PRIMARY KEY, v text);
INSERT INTO t_trunc SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE TABLE t_drop (id int PRIMARY KEY, v text);
INSERT INTO t_drop SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE TABLE t_vf (id int PRIMARY KEY, v text);
INSERT INTO t_vf SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
CREATE TABLE t_shrink (id int PRIMARY KEY, v text);
INSERT INTO t_shrink SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 40000) g"
psql_q shop "VACUUM ANALYZE"
wal_switch_and_wait $P

tb_must "full backup S0" backup --cluster src --tenant shop --mode full
S0=$(last_line "$TB_OUT")
tb_must "full backup of the small tenant crm" backup --cluster src --tenant crm --mode full

# compare_line: the "detect compare:" line of the last run
compare_line() { grep -o 'detect compare: .*' <<<"$TB_ERR" | head -n 1; }

# ---- S1: writes and DDL, then quiet: the WAL's blocks equal the scan's, block for block
as_pg "$PGBIN/pgbench" -h "$SOCK" -p $P -U "$PG_USER" -n -c 2 -T 4 shop >"$T/log/pgbench-s1.txt" 2>&1
psql_q shop "CREATE TABLE t_new (id int PRIMARY KEY, v text);
INSERT INTO t_new SELECT g, md5(g::text) FROM generate_series(1, 15000) g"
psql_q shop "TRUNCATE t_trunc"
psql_q shop "INSERT INTO t_trunc SELECT g, 'after truncate' FROM generate_series(1, 500) g"
psql_q shop "DROP TABLE t_drop"
psql_q shop "DELETE FROM t_vf WHERE id % 3 = 0"
psql_q shop "VACUUM FULL t_vf"
psql_q shop "DELETE FROM t_shrink WHERE id > 10000"
psql_q shop "VACUUM t_shrink"
psql_q shop "CREATE INDEX ON pgbench_accounts (abalance)"
psql_q shop "UPDATE pgbench_accounts SET filler = 'x' WHERE aid % 97 = 0"
psql_q postgres "CREATE DATABASE other TEMPLATE template0"
psql_q postgres "CHECKPOINT"
wait_no_sessions $P shop
tb_must "incremental S1, --detect compare, quiet source" \
	backup --cluster src --tenant shop --mode incremental --detect compare
S1=$(last_line "$TB_OUT")
line=$(compare_line)
log "S1: $line"
assert_contains "S1: the changed pages came from the WAL" "$TB_ERR" "changed pages: from the WAL since the parent backup"
assert_contains "S1: nothing the scan stored was missed by the WAL" "$line" \
	"not named by the WAL: 0 (0 changed after the start, 0 all-zero)"
assert_contains "S1: nothing the WAL named was left by the scan" "$line" "only in the WAL: 0;"
scan=$(sed -E 's/.*the scan stored ([0-9]+) pages.*/\1/' <<<"$line")
walb=$(sed -E 's/.*the WAL named ([0-9]+);.*/\1/' <<<"$line")
assert_eq "S1: the scan's and the WAL's page counts are equal" "$scan" "$walb"
assert_true "S1: the writes changed more than 1000 pages ($scan)" test "${scan:-0}" -gt 1000
whole=$(sed -E 's/.*describe by blocks: ([0-9]+).*/\1/' <<<"$line")
assert_true "S1: truncated and recreated files were read whole ($whole)" test "${whole:-0}" -gt 0

# ---- S2: compare while pgbench writes: no page the WAL missed
workload_start shop 900
sleep 3
tb_must "incremental S2, --detect compare, while pgbench writes" \
	backup --cluster src --tenant shop --mode incremental --detect compare
line=$(compare_line)
log "S2: $line"
assert_contains "S2: compared" "$line" "the WAL named"

# ---- S3: the default (WAL) incremental while pgbench writes, then restore its chain
sleep 2
tb_must "incremental S3 (WAL) while pgbench writes" backup --cluster src --tenant shop --mode incremental --detect wal
S3=$(last_line "$TB_OUT")
assert_contains "S3: the changed pages came from the WAL" "$TB_ERR" "changed pages: from the WAL since the parent backup"
data=$(grep -o 'data: .*' <<<"$TB_ERR" | head -n 1)
log "S3: $data"
in_files=$(sed -E 's/.* ([0-9.]+) MiB in files.*/\1/' <<<"$data")
read_mib=$(sed -E 's/.* ([0-9.]+) MiB read.*/\1/' <<<"$data")
assert_true "S3 read less than its files hold ($read_mib < $in_files MiB)" \
	awk -v r="$read_mib" -v f="$in_files" 'BEGIN { exit !(r + 0 < f + 0) }'
sleep 2
workload_stop
wait_no_sessions $P shop
wal_switch_and_wait $P
assert_eq "S3's chain has four sets" 4 \
	"$(set_json src shop | jq -r --arg id "$S3" '.[] | select(.id == $id) | .chain | length' 2>&1)"
if tb_restore_start src shop "$S3" "$T/r3" $R3; then
	compare_tenant "S3 (WAL-driven chain): every shop table equals the source" $P $R3 shop
	check_amcheck $R3 shop
	check_invariant $R3 shop
	assert_ok "S3: clean stop" pg_stop "$T/r3"
	assert_ok "S3: pg_checksums --check" pg_checksums_check "$T/r3"
fi

# ---- S4: a damaged segment in the window: falls back to reading every page
as_pg "$PGBIN/pgbench" -h "$SOCK" -p $P -U "$PG_USER" -n -c 2 -T 3 shop >"$T/log/pgbench-s4.txt" 2>&1
wal_switch_and_wait $P
sysid=$(st_sysid)
seg=$(st_keys "tenback/$sysid/archive" | grep -E '/[0-9A-F]{24}$' | tail -n 1)
# only in the archive: a checkpoint recycles it in pg_wal (archived, before the redo
# point), where the backup would read it undamaged first
psql_q postgres "CHECKPOINT" >/dev/null
assert_true "the segment to damage is no longer in pg_wal" test ! -e "${PG_DATA[src]}/pg_wal/$(basename "$seg")"
log "damaging $seg"
st_flip_byte "$seg" 2000
tb_must "incremental S4 with a damaged segment in the window" backup --cluster src --tenant shop --mode incremental --detect wal
S4=$(last_line "$TB_OUT")
assert_contains "S4 says why the WAL cannot be used" "$TB_ERR" "the WAL since the parent backup cannot be used ("
assert_contains "S4 names the segment" "$TB_ERR" "$(basename "$seg")"
assert_contains "S4 reads every page instead" "$TB_ERR" "reading every page instead"
wal_switch_and_wait $P
if tb_restore_start src shop "$S4" "$T/r4" $R4; then
	compare_tenant "S4 (page scan after the fallback): every shop table equals the source" $P $R4 shop
	check_amcheck $R4 shop
	assert_ok "S4: clean stop" pg_stop "$T/r4"
fi
# ---- crm, a small tenant of a busy instance: the WAL since its full is more than its
# pages, so the default reads its pages instead, saying so; the set restores equal
tb_must "incremental of crm" backup --cluster src --tenant crm --mode incremental
assert_contains "crm: reads every page, the WAL being larger, and says so" "$TB_ERR" \
	"changed pages: reading every page: the WAL since the parent backup ("
CRM=$(last_line "$TB_OUT")
wal_switch_and_wait $P
if tb_restore_start src crm "$CRM" "$T/r5" $R5; then
	compare_tenant "crm incremental: every crm table equals the source" $P $R5 crm
	assert_ok "crm: clean stop" pg_stop "$T/r5"
fi
log "done at ${SECONDS}s"
