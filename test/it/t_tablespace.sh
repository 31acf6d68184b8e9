#!/usr/bin/env bash
# A tenant with a table and an index in another tablespace: backed up, and restored
# with --tablespace-map OLD=NEW; data equal, the files under NEW, the source's
# tablespace directory untouched. Without a map, a restore on the same machine must
# not write into the live source's tablespace directory.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26490; R=26491

pg_create src $P checksums=on
cluster_add src
TS_OLD="$T/ts_old"; TS_NEW="$T/ts_new"
install -d -o "$PG_USER" -m 700 "$TS_OLD"
psql_q postgres "CREATE TABLESPACE tsx LOCATION '$TS_OLD'"
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 2
pgbench_init $P crm 1
psql_q shop "CREATE TABLE far (id int, payload text) TABLESPACE tsx"
psql_q shop "INSERT INTO far SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 50000) g"
psql_q shop "CREATE INDEX far_id ON far (id) TABLESPACE tsx"
psql_q crm "CREATE TABLE crm_far (id int) TABLESPACE tsx"
psql_q crm "INSERT INTO crm_far SELECT generate_series(1, 10000)"
far_node=$(psql_q shop "SELECT pg_relation_filepath('far')")
log "far is at $far_node"

tb_must "backup of shop" backup --cluster src --tenant shop
set_id=$(last_line "$TB_OUT")
# quiet: the finished segments are still in pg_wal, copied without waiting for the archiver
assert_match "the set's WAL is read from pg_wal, not waited for in the archive" "$TB_ERR" \
	'WAL segment\(s\) copied into the set, [1-9][0-9]* of them from pg_wal'
psql_q shop "INSERT INTO far SELECT g, 'after' FROM generate_series(50001, 50100) g"
wal_switch_and_wait $P

src_fp=$(tenant_fingerprint $P "$SOCK" shop)
crm_oid=$(psql_q postgres "SELECT oid FROM pg_database WHERE datname = 'crm'")
# stop the source (everything archived at shutdown) so its tablespace files stay still
pg_stop src
old_sum=$(find "$TS_OLD" -type f -exec md5sum {} + | sort | md5sum)

# without a map, the source's tablespace directory is not empty: refuse
tb_fails "restore without --tablespace-map into a live source's tablespace is refused" 1 \
	restore --cluster src --tenant shop --set "$set_id" --to "$T/r_nomap" --port 26492 --socket-dir "$SOCK"
assert_contains "it names the tablespace directory" "$TB_ALL" "$TS_OLD"

if tb_restore_start src shop "$set_id" "$T/r" $R --tablespace-map "$TS_OLD=$TS_NEW"; then
	assert_eq "tablespace location is the new directory" "$TS_NEW" \
		"$(psql_at $R postgres "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'tsx'")"
	assert_eq "every shop table equals the source" "$src_fp" "$(tenant_fingerprint $R "$SOCK" shop)"
	assert_eq "far has the rows written after the backup" 50100 "$(psql_at $R shop "SELECT count(*) FROM far")"
	check_amcheck $R shop
	check_invariant $R shop
	assert_true "far's files are under the new directory" \
		test -n "$(find "$TS_NEW" -path "*/$(basename "$(dirname "$far_node")")/*" -type f | head -n 1)"
	assert_eq "pg_tblspc link points to the new directory" "$TS_NEW" \
		"$(readlink "$T/r/pg_tblspc/$(psql_at $R postgres "SELECT oid FROM pg_tablespace WHERE spcname = 'tsx'")")"
	assert_eq "no crm files left in the new tablespace directory" "" \
		"$(find "$TS_NEW" -mindepth 2 -maxdepth 2 -type d -name "$crm_oid")"
	assert_ok "clean stop" pg_stop "$T/r"
	assert_ok "pg_checksums --check" pg_checksums_check "$T/r"
fi
assert_eq "the source's tablespace directory is untouched" "$old_sum" \
	"$(find "$TS_OLD" -type f -exec md5sum {} + | sort | md5sum)"
