#!/usr/bin/env bash
# An incremental after about 1% of a tenant's pages changed stores about 1% of the
# full set's data: a tenant of ~150 MB of hex text (compresses to roughly half, not to
# nothing), frozen and checkpointed; full set; one row updated (HOT, same length) on
# every 100th page of the big table; CHECKPOINT; incremental. Its stored_bytes must be
# under a tenth of the full's; the pages changed are counted with pageinspect; the
# incremental restores to data equal to the source.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26510; R=26511

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P crm 1
psql_q shop "CREATE EXTENSION pageinspect"
# fillfactor 90: the updated row's new version fits on its page (HOT), so changing a
# row changes that page only, and the primary key index not at all
psql_q shop "CREATE TABLE big (id int PRIMARY KEY, pad text) WITH (fillfactor = 90)"
psql_q shop "INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) || md5((g * 7)::text)
	FROM generate_series(1, 1100000) g"
# hint bits and the visibility map set now, so that reading the table later does not
# rewrite every page (with checksums, setting a hint bit logs the page and moves its LSN)
psql_q shop "VACUUM (FREEZE, ANALYZE) big"
psql_q shop "CHECKPOINT"
db_mb=$(psql_q shop "SELECT pg_database_size('shop') / 1048576")
pages=$(psql_q shop "SELECT pg_relation_size('big') / 8192")
log "shop is $db_mb MB; big has $pages pages"
assert_true "the tenant is between 100 and 250 MB ($db_mb MB)" test "$db_mb" -ge 100 -a "$db_mb" -le 250
wal_switch_and_wait $P

tb_must "full backup" backup --cluster src --tenant shop --mode full
F=$(last_line "$TB_OUT")
f_start=$(set_json src shop | jq -r --arg id "$F" '.[] | select(.id == $id) | .start_lsn')
log "full set $F, start LSN $f_start"

# one row (line pointer 2) on every 100th page: 1% of big's pages
psql_q shop "UPDATE big SET pad = md5(random()::text) || md5(random()::text) || md5(random()::text)
	WHERE (ctid::text::point)[0]::bigint % 100 = 0 AND (ctid::text::point)[1] = 2"
changed=$(psql_q shop "SELECT count(*) FROM generate_series(0, pg_relation_size('big') / 8192 - 1) b
	WHERE (page_header(get_raw_page('big', b::int))).lsn > '$f_start'::pg_lsn")
idx_changed=$(psql_q shop "SELECT count(*) FROM generate_series(0, pg_relation_size('big_pkey') / 8192 - 1) b
	WHERE (page_header(get_raw_page('big_pkey', b::int))).lsn > '$f_start'::pg_lsn")
log "pages of big changed since the full set: $changed of $pages; of big_pkey: $idx_changed"
assert_true "about 1% of big's pages changed ($changed of $pages)" \
	test "$changed" -ge $((pages / 100 - 2)) -a "$changed" -le $((pages / 100 + pages / 200))
psql_q shop "CHECKPOINT"

tb_must "incremental backup" backup --cluster src --tenant shop --mode incremental
I=$(last_line "$TB_OUT")
sets=$(set_json src shop)
f_stored=$(printf '%s' "$sets" | jq -r --arg id "$F" '.[] | select(.id == $id) | .stored_bytes' 2>&1)
i_stored=$(printf '%s' "$sets" | jq -r --arg id "$I" '.[] | select(.id == $id) | .stored_bytes' 2>&1)
f_size=$(printf '%s' "$sets" | jq -r --arg id "$F" '.[] | select(.id == $id) | .size_bytes' 2>&1)
i_size=$(printf '%s' "$sets" | jq -r --arg id "$I" '.[] | select(.id == $id) | .size_bytes' 2>&1)
log "full $F: size_bytes $f_size, stored_bytes $f_stored"
log "incremental $I: size_bytes $i_size, stored_bytes $i_stored"
assert_match "full's stored_bytes is a number" "$f_stored" '^[0-9]+$'
assert_match "incremental's stored_bytes is a number" "$i_stored" '^[0-9]+$'
assert_true "the full set stores more than 30 MB (the data does not compress to nothing)" \
	test "${f_stored:-0}" -gt 31457280
assert_true "incremental stores less than a tenth of the full ($i_stored < $f_stored / 10)" \
	test "$((${i_stored:-999999999999} * 10))" -lt "${f_stored:-0}"
assert_eq "the incremental's parent is the full" "$F" \
	"$(printf '%s' "$sets" | jq -r --arg id "$I" '.[] | select(.id == $id) | .parent' 2>&1)"

if tb_restore_start src shop "$I" "$T/r" $R --target immediate; then
	compare_tenant "every shop table equals the source" $P $R shop
	check_amcheck $R shop
	assert_ok "clean stop" pg_stop "$T/r"
	assert_ok "pg_checksums --check" pg_checksums_check "$T/r"
fi
