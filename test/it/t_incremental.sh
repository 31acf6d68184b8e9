#!/usr/bin/env bash
# Incremental sets (data checksums on; tenants shop, pgbench scale 10, and crm):
#   - an incremental with no full set of the tenant (crm has one) fails with the exact
#     message, exit 1, and writes nothing to the storage;
#   - full S0 (no writes during it), writes, incremental S1, writes and DDL (CREATE,
#     TRUNCATE, DROP, VACUUM FULL, CLUSTER, a file shortened by VACUUM, ALTER TABLE SET
#     TABLESPACE), incremental S2: restoring each set with --target immediate gives
#     exactly the tables as they were right after that set, amcheck clean, the pgbench
#     invariant holds;
#   - set list shows the types, parents and chain; verify of S2 passes;
#   - an incremental S3 taken while pgbench writes, restored with the default target
#     after the workload stopped and the WAL was switched, equals the source.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26500; R0=26501; R1=26502; R2=26503; R3=26504

pg_create src $P checksums=on
cluster_add src
TS="$T/ts_src"
install -d -o "$PG_USER" -m 700 "$TS"
psql_q postgres "CREATE TABLESPACE tsx LOCATION '$TS'"
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 10
pgbench_init $P crm 2
psql_q shop "CREATE EXTENSION amcheck"
# tables the DDL between S1 and S2 works on
psql_q shop "CREATE TABLE t_trunc (id int PRIMARY KEY, v text);
INSERT INTO t_trunc SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE TABLE t_drop (id int PRIMARY KEY, v text);
INSERT INTO t_drop SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE TABLE t_vf (id int PRIMARY KEY, v text);
INSERT INTO t_vf SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
CREATE TABLE t_cl (id int, k int, v text);
INSERT INTO t_cl SELECT g, (g * 7919) % 30000, md5(g::text) FROM generate_series(1, 30000) g;
CREATE INDEX t_cl_k ON t_cl (k);
CREATE TABLE t_shrink (id int PRIMARY KEY, v text);
INSERT INTO t_shrink SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 40000) g;
CREATE TABLE t_move (id int PRIMARY KEY, v text);
INSERT INTO t_move SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
psql_q shop "VACUUM ANALYZE"
wal_switch_and_wait $P
log "setup done at ${SECONDS}s"

# ---- an incremental before any full set of shop (crm has one): refused, nothing written
tb_must "full backup of the other tenant crm" backup --cluster src --tenant crm --mode full
tb_fails "incremental with no full set fails" 1 backup --cluster src --tenant shop --mode incremental
assert_contains "exact message" "$TB_ERR" "ERROR: Full data backup needed before incremental data backup"
assert_contains "with a hint" "$TB_ERR" "HINT:"
assert_eq "no set directory for shop in the storage" "" \
	"$(find "$T/storage" -mindepth 1 -type d -name shop 2>/dev/null; find "$T/storage" -mindepth 1 -type f -path '*/shop/*' 2>/dev/null)"
assert_eq "set list of shop is empty" 0 "$(set_count src shop)"
assert_eq "crm's set is still the only one" 1 "$(set_count src)"

# ---- S0: full, nothing writes during it
# S0 with SHA-256 checksums, its incrementals with CRC-32C: the chain restores mix them
tb_must "full backup S0" backup --cluster src --tenant shop --mode full --checksum sha256
S0=$(last_line "$TB_OUT")
assert_match "S0 id ends in F" "$S0" '^[0-9]{8}-[0-9]{6}F$'
FP0=$(tenant_fingerprint $P "$SOCK" shop)
log "S0 $S0 and its fingerprint done at ${SECONDS}s"

# ---- writes, S1
workload_start shop 5
workload_start crm 5
psql_q shop "UPDATE t_vf SET v = v || 'x' WHERE id % 10 = 0; INSERT INTO t_trunc SELECT g, 'more' FROM generate_series(20001, 21000) g"
sleep 6
workload_stop
sleep 1
tb_must "incremental S1" backup --cluster src --tenant shop --mode incremental
S1=$(last_line "$TB_OUT")
assert_match "S1 id ends in I" "$S1" '^[0-9]{8}-[0-9]{6}I$'
FP1=$(tenant_fingerprint $P "$SOCK" shop)
assert_ne "the writes changed shop between S0 and S1" "$FP0" "$FP1"
log "S1 $S1 and its fingerprint done at ${SECONDS}s"

# ---- writes and DDL, S2
workload_start shop 5
sleep 3
psql_q shop "CREATE TABLE t_new (id int PRIMARY KEY, v text);
INSERT INTO t_new SELECT g, md5(g::text) FROM generate_series(1, 15000) g"
psql_q shop "TRUNCATE t_trunc"
psql_q shop "INSERT INTO t_trunc SELECT g, 'after truncate' FROM generate_series(1, 500) g"
psql_q shop "DROP TABLE t_drop"
psql_q shop "DELETE FROM t_vf WHERE id % 3 = 0"
psql_q shop "VACUUM FULL t_vf"
psql_q shop "UPDATE t_cl SET v = 'changed' WHERE id % 50 = 0"
psql_q shop "CLUSTER t_cl USING t_cl_k"
psql_q shop "DELETE FROM t_shrink WHERE id > 10000"
psql_q shop "VACUUM t_shrink"
psql_q shop "ALTER TABLE t_move SET TABLESPACE tsx"
psql_q shop "UPDATE t_move SET v = 'moved' WHERE id % 100 = 0"
sleep 3
workload_stop
sleep 1
tb_must "incremental S2" backup --cluster src --tenant shop --mode incremental
S2=$(last_line "$TB_OUT")
assert_match "S2 id ends in I" "$S2" '^[0-9]{8}-[0-9]{6}I$'
FP2=$(tenant_fingerprint $P "$SOCK" shop)
assert_contains "t_new is in the fingerprint after S2" "$FP2" "public.t_new 15000 "
assert_not_contains "t_drop is gone after S2" "$FP2" "public.t_drop "
log "S2 $S2 and its fingerprint done at ${SECONDS}s"

# ---- set list: types, parents, chains
sets=$(set_json src shop)
assert_eq "three sets listed" 3 "$(printf '%s' "$sets" | jq 'length' 2>&1)"
j() { printf '%s' "$sets" | jq -r --arg id "$1" ".[] | select(.id == \$id) | $2" 2>&1; }
assert_eq "S0 type" full "$(j "$S0" '.type | ascii_downcase')"
assert_eq "S1 type" incremental "$(j "$S1" '.type | ascii_downcase')"
assert_eq "S2 type" incremental "$(j "$S2" '.type | ascii_downcase')"
assert_eq "S0 has no parent" "" "$(j "$S0" '.parent // ""')"
assert_eq "S1's parent is S0" "$S0" "$(j "$S1" '.parent')"
assert_eq "S2's parent is S1" "$S1" "$(j "$S2" '.parent')"
assert_eq "S0's chain" "$S0" "$(j "$S0" '.chain | join(",")')"
assert_eq "S1's chain" "$S0,$S1" "$(j "$S1" '.chain | join(",")')"
assert_eq "S2's chain" "$S0,$S1,$S2" "$(j "$S2" '.chain | join(",")')"
log "stored bytes: S0 $(j "$S0" .stored_bytes), S1 $(j "$S1" .stored_bytes), S2 $(j "$S2" .stored_bytes)"
tb_ok "verify S2 (the whole chain)" verify --cluster src --tenant shop --set "$S2" || true

# ---- restore each set at its end point
# restore_check SET DIR PORT FINGERPRINT NAME
restore_check() {
	local set=$1 dir=$2 port=$3 fp=$4 name=$5
	if tb_restore_start src shop "$set" "$dir" "$port" --target immediate \
		--tablespace-map "$TS=$dir-ts"; then
		assert_eq "$name: every shop table equals the source right after $name" "$fp" \
			"$(tenant_fingerprint "$port" "$SOCK" shop 2>&1)"
		assert_eq "$name: databases are postgres and shop" "postgres shop" "$(databases "$port" | xargs)"
		check_amcheck "$port" shop
		check_invariant "$port" shop
		assert_ok "$name: clean stop" pg_stop "$dir"
		assert_ok "$name: pg_checksums --check" pg_checksums_check "$dir"
	fi
	log "$name restored and checked at ${SECONDS}s"
}
restore_check "$S0" "$T/r0" $R0 "$FP0" S0
restore_check "$S1" "$T/r1" $R1 "$FP1" S1
restore_check "$S2" "$T/r2" $R2 "$FP2" S2

# ---- S3: an incremental while pgbench writes; default target (all archived WAL)
workload_start shop 900
workload_start crm 900
sleep 3
tb_must "incremental S3 under load" backup --cluster src --tenant shop --mode incremental
S3=$(last_line "$TB_OUT")
assert_match "S3 id ends in I" "$S3" '^[0-9]{8}-[0-9]{6}I$'
sleep 2
workload_stop
wait_no_sessions $P shop
wal_switch_and_wait $P
assert_eq "S3's chain" "$S0,$S1,$S2,$S3" \
	"$(set_json src shop | jq -r --arg id "$S3" '.[] | select(.id == $id) | .chain | join(",")' 2>&1)"
if tb_restore_start src shop "$S3" "$T/r3" $R3 --tablespace-map "$TS=$T/r3-ts"; then
	compare_tenant "S3 (latest): every shop table equals the source" $P $R3 shop
	check_amcheck $R3 shop
	check_invariant $R3 shop
	assert_ok "S3: clean stop" pg_stop "$T/r3"
fi
check_invariant $P shop
log "done at ${SECONDS}s"
