#!/usr/bin/env bash
# --tenant '*': the whole instance is backed up under load (3 worker threads) and
# restored (1 worker); every database (including postgres) holds exactly the source's
# data.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26430; R=26431

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
psql_q postgres "CREATE DATABASE misc"
pgbench_init $P shop 5
pgbench_init $P crm 3
psql_q postgres "CREATE TABLE notes AS SELECT g AS id, repeat('n', g % 300) AS txt FROM generate_series(1, 20000) g"
psql_q misc "
CREATE TABLE kv (k text PRIMARY KEY, v jsonb, ts timestamptz DEFAULT '2020-01-01');
INSERT INTO kv SELECT 'k' || g, jsonb_build_object('g', g, 'big', repeat('x', g % 5000)) FROM generate_series(1, 5000) g;
CREATE INDEX kv_v ON kv USING gin (v)"

workload_start shop 900
workload_start crm 900
sleep 3
# more workers than CPUs: the copy does not depend on their number
tb_must "backup of the whole instance, 3 jobs" backup --cluster src --tenant '*' --jobs 3
set_id=$(last_line "$TB_OUT")
assert_match "backup prints a set id" "$set_id" '^[0-9]{8}-[0-9]{6}F$'
sleep 2
workload_stop
wal_switch_and_wait $P

assert_eq "one set listed for '*'" 1 "$(set_count src '*')"
tb_ok "verify" verify --cluster src --tenant '*' --set "$set_id" || true

if tb_restore_start src '*' "$set_id" "$T/r" $R --jobs 1; then
	assert_eq "same databases" "$(databases $P | xargs)" "$(databases $R | xargs)"
	for db in $(databases $P); do
		compare_tenant "every table of $db equals the source" $P $R "$db"
		check_amcheck $R "$db"
	done
	check_invariant $R shop
	check_invariant $R crm
	assert_ok "clean stop of the restored instance" pg_stop "$T/r"
	assert_ok "pg_checksums --check" pg_checksums_check "$T/r"
fi
