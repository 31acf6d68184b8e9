#!/usr/bin/env bash
# Free space and visibility maps in incrementals. They are not described by the WAL
# block by block (the free space map is not WAL-logged, and clearing a visibility map
# bit moves no page LSN), so an incremental copies them whole, unless a map file has
# the size and modification time its parent recorded and that time is at least 2 s
# older than the parent's start: then it is not read, and its entry refers to the
# parent's copy. Checked here: a map left alone is reused (its entry names the full
# set's copy); the maps of a table updated and vacuumed after the parent are read again
# (the update clears visibility bits without WAL block references; the backup's
# checkpoint writes the map, which moves its time); the restored chain equals the
# source, with the same visibility map, nothing marked all-visible that is not
# (pg_visibility), and amcheck clean.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26580; R=26581

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q shop "CREATE EXTENSION pg_visibility"
psql_q shop "CREATE EXTENSION amcheck"
psql_q shop "CREATE TABLE still (id int PRIMARY KEY, pad text)"
psql_q shop "CREATE TABLE busy (id int PRIMARY KEY, pad text)"
psql_q shop "INSERT INTO still SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g"
psql_q shop "INSERT INTO busy SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g"
psql_q shop "VACUUM (FREEZE) still"
psql_q shop "VACUUM (FREEZE) busy"
psql_q postgres "CHECKPOINT"
# the maps' times at least 2 s before the full set's start
sleep 3
wal_switch_and_wait $P
SHOP="tenback/$(st_sysid)/shop"
busy_vm=$(psql_q shop "SELECT pg_relation_filepath('busy') || '_vm'")
still_vm=$(psql_q shop "SELECT pg_relation_filepath('still') || '_vm'")
still_fsm=$(psql_q shop "SELECT pg_relation_filepath('still') || '_fsm'")
log "maps: $still_vm, $still_fsm, $busy_vm"
assert_true "the visibility and free space maps exist" \
	test -s "${PG_DATA[src]}/$still_vm" -a -s "${PG_DATA[src]}/$still_fsm" -a -s "${PG_DATA[src]}/$busy_vm"

tb_must "full backup" backup --cluster src --tenant shop
full=$(last_line "$TB_OUT")

# after the parent: rows of busy updated (visibility bits cleared) and deleted, then vacuumed
psql_q shop "UPDATE busy SET pad = 'changed ' || id WHERE id % 97 = 0"
psql_q shop "DELETE FROM busy WHERE id % 89 = 0"
psql_q shop "VACUUM busy"
sleep 1
tb_must "incremental backup" backup --cluster src --tenant shop --mode incremental
incr=$(last_line "$TB_OUT")
assert_match "its log counts the map files it did not read" "$TB_ALL" \
	'[0-9]+ free space and visibility map files unchanged since before the parent backup: not read'

st_get "$SHOP/$incr/manifest" "$T/manifest-incr.json"
entry() { jq -c --arg p "$1" '.files[] | select(.path == $p)' "$T/manifest-incr.json"; }
log "still's map entry: $(entry "$still_vm")"
log "busy's map entry: $(entry "$busy_vm")"
assert_eq "the untouched table's visibility map is taken from the full set" "incr $full" \
	"$(entry "$still_vm" | jq -r '.kind + " " + ([.parts[].set] | join(","))')"
assert_eq "so is its free space map" "incr $full" \
	"$(entry "$still_fsm" | jq -r '.kind + " " + ([.parts[].set] | join(","))')"
assert_eq "the updated table's visibility map is read again and stored whole" "file" \
	"$(entry "$busy_vm" | jq -r '.kind')"
assert_eq "the reused map stores nothing of its own" "null" "$(entry "$still_vm" | jq -r '.stored_size')"

tb_ok "verify the incremental (its reused maps are checked in the full set)" verify --cluster src --tenant shop \
	--set "$incr" || true

want_vm=$(psql_q shop "SELECT md5(string_agg(blkno || ':' || all_visible || ':' || all_frozen, ',' ORDER BY blkno))
	FROM pg_visibility_map('busy')")
if tb_restore_start src shop "$incr" "$T/r" $R; then
	compare_tenant "every shop table equals the source" $P $R shop
	assert_eq "the restored visibility map of the updated table equals the source's" "$want_vm" \
		"$(psql_at $R shop "SELECT md5(string_agg(blkno || ':' || all_visible || ':' || all_frozen, ',' ORDER BY blkno))
			FROM pg_visibility_map('busy')")"
	assert_eq "no page of busy is marked all-visible with a tuple that is not (pg_check_visible)" 0 \
		"$(psql_at $R shop "SELECT count(*) FROM pg_check_visible('busy')")"
	assert_eq "nor of still" 0 "$(psql_at $R shop "SELECT count(*) FROM pg_check_visible('still')")"
	assert_eq "index-only count of busy equals the heap's" \
		"$(psql_at $R shop "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM busy WHERE id > 0" | tail -n 1)" \
		"$(psql_at $R shop "SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM busy" | tail -n 1)"
	check_amcheck $R shop
fi
