#!/usr/bin/env bash
# The known trap: data checksums OFF (PostgreSQL's default, so VACUUM's Heap2/VISIBLE
# records carry no full-page image) and the other tenant (crm) has hash, GIN and GiST
# indexes with UPDATE/DELETE/VACUUM running during the backup (Hash/DELETE records
# carry no image either). Replaying that WAL onto crm's zeroed files PANICs a naive
# restore; tenback's restore of shop must succeed, shop equal to the source, crm gone.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26420; R=26421

pg_create src $P checksums=off
cluster_add src
assert_eq "source has data checksums off" off "$(psql_q postgres "SHOW data_checksums")"
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 5
psql_q shop "CREATE EXTENSION amcheck"

psql_q crm "
CREATE TABLE docs (id int PRIMARY KEY, tag text, arr int[], pt point, body tsvector);
INSERT INTO docs
SELECT g, md5(g::text), ARRAY[g % 100, g % 7, g], point(g % 1000, g / 1000),
       to_tsvector('simple', 'word' || (g % 500) || ' other' || (g % 13))
  FROM generate_series(1, 40000) g;
CREATE INDEX docs_tag_hash ON docs USING hash (tag);
CREATE INDEX docs_arr_gin ON docs USING gin (arr);
CREATE INDEX docs_body_gin ON docs USING gin (body);
CREATE INDEX docs_pt_gist ON docs USING gist (pt)"
psql_q crm "VACUUM ANALYZE docs"
# The trap made certain: pages written before the backup's checkpoint and first
# vacuumed after it get Heap2/VISIBLE records without a full-page image (checksums
# off). A throttled VACUUM keeps doing that for the whole backup window.
psql_q crm "CREATE TABLE cold WITH (autovacuum_enabled = off) AS SELECT g AS id, md5(g::text) AS m FROM generate_series(1, 1500000) g"
psql_q crm "CHECKPOINT"

# crm churn: update, delete, re-insert, vacuum, in a loop (hash index vacuum included)
crm_loop() {
	local k=0
	while true; do
		k=$(( (k + 1) % 20 ))
		runuser -u "$PG_USER" -- "$PGBIN/psql" -X -q -h "$SOCK" -p "$P" -U "$PG_USER" -d crm \
			-c "UPDATE docs SET tag = md5(random()::text), arr = arr || $k, pt = point(random() * 1000, random() * 1000) WHERE id % 20 = $k" \
			-c "DELETE FROM docs WHERE id % 40 = $k" \
			-c "INSERT INTO docs SELECT g, md5(g::text), ARRAY[g % 100], point(g % 1000, 1), to_tsvector('simple', 'w' || g) FROM generate_series(1, 40000) g WHERE g % 40 = $k ON CONFLICT DO NOTHING" \
			-c "VACUUM docs" || true
	done
}
export -f crm_loop
export P SOCK PGBIN PG_USER
bg bash -c crm_loop >>"$T/log/crm-loop.txt" 2>&1
workload_start shop 900
bg runuser -u "$PG_USER" -- "$PGBIN/psql" -X -q -h "$SOCK" -p "$P" -U "$PG_USER" -d crm \
	-c "SET vacuum_cost_delay = 5" -c "SET vacuum_cost_limit = 100" -c "VACUUM cold"
sleep 5
t0=$SECONDS
tb_must "full backup of shop while crm churns" backup --cluster src --tenant shop
set_id=$(last_line "$TB_OUT")
log "backup took $((SECONDS - t0)) s, set $set_id"
sleep 3
workload_stop
wal_switch_and_wait $P

assert_eq "one set listed" 1 "$(set_count src shop)"

if tb_restore_start src shop "$set_id" "$T/r" $R; then
	assert_match "recovery met crm pages without images and skipped them" \
		"$(grep -c 'of relation base/' "$T/r/tenback_recovery.log")" '^[1-9][0-9]*$'
	assert_eq "databases are postgres and shop" "postgres shop" "$(databases $R | xargs)"
	assert_eq "no crm in pg_database" 0 \
		"$(psql_at $R postgres "SELECT count(*) FROM pg_database WHERE datname = 'crm'")"
	compare_tenant "every shop table equals the source" $P $R shop
	check_invariant $R shop
	check_amcheck $R shop
	assert_ok "clean stop of the restored instance" pg_stop "$T/r"
fi
