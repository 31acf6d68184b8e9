#!/usr/bin/env bash
# Online full backup of one tenant (shop) while pgbench writes to it and to a second
# tenant (crm) during the whole backup; data checksums on. Restores:
#   1. --target immediate: consistent (pgbench invariant, amcheck), only shop left;
#   2. default target (latest, all archived WAL): every shop table equals the source,
#      crm and the databases created after the backup are gone, amcheck clean,
#      pgbench invariant, pg_checksums --check on the stopped instance.
# The immediate restore runs first on purpose: its new timeline must not lead the
# later "latest" restore away from the source's history.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26410; R_IMM=26411; R_LATEST=26412

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 10
pgbench_init $P crm 5
psql_q shop "CREATE EXTENSION amcheck"
# the other tenant has hash, GIN and GiST indexes and is vacuumed during the backup
psql_q crm "CREATE TABLE docs (id int PRIMARY KEY, tag text, arr int[], pt point);
INSERT INTO docs SELECT g, md5(g::text), ARRAY[g % 100, g], point(g % 1000, g / 1000) FROM generate_series(1, 30000) g;
CREATE INDEX ON docs USING hash (tag); CREATE INDEX ON docs USING gin (arr); CREATE INDEX ON docs USING gist (pt)"
# an unlogged table: only its init fork is backed up; it must come back empty
psql_q shop "CREATE UNLOGGED TABLE scratch AS SELECT g AS id FROM generate_series(1, 1000) g"

tb_ok "tenant list" tenant list --cluster src --output json || true
assert_contains "tenant list names shop" "$TB_OUT" '"shop"'
assert_contains "tenant list names crm" "$TB_OUT" '"crm"'
shop_oid=$(psql_q postgres "SELECT oid FROM pg_database WHERE datname = 'shop'")
assert_eq "tenant list gives shop's oid" "$shop_oid" \
	"$(printf '%s' "$TB_OUT" | jq -r '.[] | select(.name == "shop") | .oid' 2>&1)"

wal_switch_and_wait $P

workload_start shop 900
workload_start crm 900
crm_vacuum_loop() {
	local k=0
	while true; do
		k=$(( (k + 1) % 10 ))
		runuser -u "$PG_USER" -- "$PGBIN/psql" -X -q -h "$SOCK" -p "$P" -U "$PG_USER" -d crm \
			-c "UPDATE docs SET tag = md5(random()::text), pt = point(random() * 1000, 1) WHERE id % 10 = $k" \
			-c "DELETE FROM docs WHERE id % 50 = $k" -c "VACUUM docs" || true
	done
}
export -f crm_vacuum_loop
export P SOCK PGBIN PG_USER
bg bash -c crm_vacuum_loop >>"$T/log/crm-vacuum.txt" 2>&1
sleep 3
t0=$SECONDS
tb_must "full backup of shop under load" backup --cluster src --tenant shop --mode full
set_id=$(last_line "$TB_OUT")
log "backup took $((SECONDS - t0)) s, set $set_id"
assert_match "backup prints a set id" "$set_id" '^[0-9]{8}-[0-9]{6}F$'
# under this load PostgreSQL may archive and recycle every segment before the backup
# copies it: then they all come from the archive (t_tablespace shows a quiet one's)
assert_match "the backup says where the set's WAL came from" "$TB_ERR" \
	'WAL segment\(s\) copied into the set, [0-9]+ of them from pg_wal'
sleep 3
workload_stop

# Created after the backup: replayed by a "latest" restore, and must be dropped there.
wait_no_sessions $P crm
psql_q postgres "CREATE DATABASE late"
psql_q postgres "CREATE DATABASE late_fc TEMPLATE crm STRATEGY FILE_COPY"
wal_switch_and_wait $P

sets=$(set_json src shop)
assert_eq "one set listed for shop" 1 "$(printf '%s' "$sets" | jq 'length' 2>&1)"
assert_eq "listed set id" "$set_id" "$(printf '%s' "$sets" | jq -r '.[0].id' 2>&1)"
assert_eq "listed set tenant" shop "$(printf '%s' "$sets" | jq -r '.[0].tenant' 2>&1)"
assert_eq "listed set type" full "$(printf '%s' "$sets" | jq -r '.[0].type | ascii_downcase' 2>&1)"
assert_eq "no set listed for crm" 0 "$(set_count src crm)"
assert_eq "set list json has every documented field" \
	"cluster id size_bytes start_lsn start_time status stop_lsn stop_time stored_bytes tenant type" \
	"$(printf '%s' "$sets" | jq -r '.[0] | keys_unsorted | map(select(IN("id", "cluster", "tenant", "type", "status",
		"start_time", "stop_time", "start_lsn", "stop_lsn", "size_bytes", "stored_bytes"))) | sort | join(" ")' 2>&1)"
assert_eq "listed set status" completed "$(printf '%s' "$sets" | jq -r '.[0].status | ascii_downcase' 2>&1)"
tb_ok "cluster list" cluster list --output json || true
assert_eq "cluster list names src" src "$(printf '%s' "$TB_OUT" | jq -r '.[].name' 2>&1)"

tb_ok "verify latest set" verify --cluster src --tenant shop --set latest || true

src_fp=$(tenant_fingerprint $P "$SOCK" shop)
log "source shop: $(printf '%s' "$src_fp" | tr '\n' ';')"

# ---- restore 1: --target immediate
if tb_restore_start src shop "$set_id" "$T/r_imm" $R_IMM --target immediate; then
	assert_eq "immediate: databases are postgres and shop" "postgres shop" "$(databases $R_IMM | xargs)"
	assert_eq "immediate: no crm in pg_database" 0 \
		"$(psql_at $R_IMM postgres "SELECT count(*) FROM pg_database WHERE datname = 'crm'")"
	check_invariant $R_IMM shop
	check_amcheck $R_IMM shop
	check_amcheck $R_IMM postgres
	assert_eq "immediate: unlogged table is empty" 0 "$(psql_at $R_IMM shop "SELECT count(*) FROM scratch" 2>&1)"
	assert_ok "immediate: clean stop" pg_stop "$T/r_imm"
	assert_ok "immediate: pg_checksums --check" pg_checksums_check "$T/r_imm"
fi

# ---- restore 2: default target (latest)
if tb_restore_start src shop latest "$T/r_latest" $R_LATEST; then
	assert_eq "latest: databases are postgres and shop" "postgres shop" "$(databases $R_LATEST | xargs)"
	assert_eq "latest: pg_database holds only postgres, shop, templates" \
		"postgres shop template0 template1" \
		"$(psql_at $R_LATEST postgres "SELECT datname FROM pg_database ORDER BY 1" | xargs)"
	compare_tenant "latest: every shop table equals the source" $P $R_LATEST shop
	check_invariant $R_LATEST shop
	check_amcheck $R_LATEST shop
	check_amcheck $R_LATEST postgres
	assert_eq "latest: restored instance is a primary" f \
		"$(psql_at $R_LATEST postgres "SELECT pg_is_in_recovery()")"
	assert_ok "latest: restored instance accepts writes" \
		psql_at $R_LATEST shop "CREATE TABLE after_restore(x int); INSERT INTO after_restore VALUES (1)"
	assert_ok "latest: clean stop" pg_stop "$T/r_latest"
	assert_ok "latest: pg_checksums --check" pg_checksums_check "$T/r_latest"
fi

# the source is untouched and still consistent
check_invariant $P shop
check_invariant $P crm
