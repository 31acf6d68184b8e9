#!/usr/bin/env bash
# A flipped byte in a stored data file: verify fails naming the file, restore refuses
# naming it and leaves the target absent or empty. Checked for a zstd-compressed set
# (the default) and an uncompressed one; an intact lz4 set still verifies.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26440

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 3
pgbench_init $P crm 1

# corrupt_largest SET_ID: flip a byte in the middle of the set's largest stored data
# file (found through the manifest: a small file lives in a bundle, at its offset);
# prints that file's path in the data directory
corrupt_largest() {
	local setdir big rel size f at
	setdir="tenback/$(st_sysid)/shop/$1"
	st_get "$setdir/manifest" "$T/log/manifest.$1" || { echo "no manifest for set $1" >&2; return 1; }
	big=$(jq -c '[.files[] | select(.kind == "file" and (.stored_size // 0) > 0)] | max_by(.stored_size)' \
		"$T/log/manifest.$1")
	rel=$(jq -r .path <<<"$big")
	size=$(jq -r .stored_size <<<"$big")
	if [[ $(jq -r '.bundle // 0' <<<"$big") != 0 ]]; then
		f="$setdir/bundles/$(printf '%06d' "$(jq -r .bundle <<<"$big")")"
		at=$(( $(jq -r .bundle_offset <<<"$big") + size / 2 ))
	else
		f="$setdir/data/$rel"
		at=$((size / 2))
	fi
	st_flip_byte "$f" "$at"
	echo "$rel"
}

# --- set 1: zstd (default)
tb_must "backup 1 (zstd)" backup --cluster src --tenant shop
set1=$(last_line "$TB_OUT")
tb_ok "verify intact set 1" verify --cluster src --tenant shop --set "$set1" || true

# --- set 2: lz4, stays intact
sleep 1
tb_must "backup 2 (lz4)" backup --cluster src --tenant shop --compress lz4
set2=$(last_line "$TB_OUT")

# --- set 3: uncompressed
sleep 1
tb_must "backup 3 (none)" backup --cluster src --tenant shop --compress none
set3=$(last_line "$TB_OUT")
assert_eq "three sets listed" 3 "$(set_count src shop)"

for s in "$set1" "$set3"; do
	bad=$(corrupt_largest "$s")
	log "set $s: flipped a byte in $bad"
	assert_match "corrupted file is a relation file of a database" "$bad" '^base/[0-9]+/[0-9]+'
	tb_fails "verify of corrupted set $s fails" 1 verify --cluster src --tenant shop --set "$s"
	assert_contains "verify names the corrupted file" "$TB_ALL" "$bad"
	assert_contains "verify error starts with ERROR:" "$TB_ERR" "ERROR:"
	tb_fails "restore of corrupted set $s refuses" 1 restore --cluster src --tenant shop --set "$s" \
		--to "$T/r_$s" --port 26441 --socket-dir "$SOCK" --start
	assert_contains "restore names the corrupted file" "$TB_ALL" "$bad"
	assert_eq "restore target left absent or empty" "" "$(ls -A "$T/r_$s" 2>/dev/null)"
	assert_eq "nothing listening on the restore port" no \
		"$(psql_at 26441 postgres 'SELECT 1' >/dev/null 2>&1 && echo yes || echo no)"
done

tb_ok "verify intact lz4 set 2" verify --cluster src --tenant shop --set "$set2" || true
tb_ok "restore of the intact set 2 (no start)" restore --cluster src --tenant shop --set "$set2" \
	--to "$T/r_good" --port 26442 --socket-dir "$SOCK" || true
assert_true "restored directory has PG_VERSION" test -f "$T/r_good/PG_VERSION"
