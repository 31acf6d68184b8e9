#!/usr/bin/env bash
# Chains of sets: full F, incremental I1, incremental I2.
#   - set delete of I1 (I2 depends on it) is refused, naming I2, and deletes nothing;
#   - F's manifest lost: verify of I2 fails naming F; restore of I2 fails and leaves no
#     target directory;
#   - F's manifest back, a byte flipped in one of F's stored data files: verify of I2
#     fails naming that file; restore of I2 refuses;
#   - set delete --with-dependents of F deletes all three (set list empty, directories
#     gone); an incremental is then refused again (no full set).
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26540; R=26541

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 3
pgbench_init $P crm 1

# F keeps SHA-256 checksums (as every set before CRC-32C did), I1 and I2 the default
# CRC-32C: one chain mixes both kinds
tb_must "full backup F" backup --cluster src --tenant shop --mode full --checksum sha256
F=$(last_line "$TB_OUT")
workload_start shop 3
sleep 4
workload_stop
tb_must "incremental I1" backup --cluster src --tenant shop --mode incremental
I1=$(last_line "$TB_OUT")
workload_start shop 3
sleep 4
workload_stop
tb_must "incremental I2" backup --cluster src --tenant shop --mode incremental
I2=$(last_line "$TB_OUT")
assert_eq "I2's chain is F, I1, I2" "$F,$I1,$I2" \
	"$(set_json src shop | jq -r --arg id "$I2" '.[] | select(.id == $id) | .chain | join(",")' 2>&1)"
tb_ok "verify I2 while the chain is intact" verify --cluster src --tenant shop --set "$I2" || true

SETS="tenback/$(st_sysid)/shop"
for s in "$F" "$I1" "$I2"; do
	assert_true "set $s has a manifest in the storage" st_exists "$SETS/$s/manifest"
done
install -d -o "$PG_USER" "$T/aside"
st_get "$SETS/$F/manifest" "$T/aside/F.kinds"
st_get "$SETS/$I1/manifest" "$T/aside/I1.kinds"
kinds() { jq -r '[.files[] | select(.stored_size != null) | (if .crc32c then "crc32c" elif .sha256 then "sha256" else "none" end)] | unique | join(",")' "$1"; }
assert_eq "F's files have SHA-256 checksums" sha256 "$(kinds "$T/aside/F.kinds")"
assert_eq "I1's files have CRC-32C checksums" crc32c "$(kinds "$T/aside/I1.kinds")"
assert_eq "manifests are of format 2" "2 2" "$(jq -r .format "$T/aside/F.kinds") $(jq -r .format "$T/aside/I1.kinds")"
storage_sum() { st_sum "$SETS"; }
sum0=$(storage_sum)

# ---- deleting a set a kept incremental depends on
tb_fails "set delete of I1 is refused" 1 set delete --cluster src --tenant shop --set "$I1"
assert_contains "the refusal names I2" "$TB_ALL" "$I2"
assert_eq "still three sets listed" 3 "$(set_count src shop)"
assert_eq "nothing in the storage changed" "$sum0" "$(storage_sum)"

# ---- F's manifest lost
st_get "$SETS/$F/manifest" "$T/aside/manifest"
st_rm "$SETS/$F/manifest"
tb_fails "verify of I2 fails when F's manifest is lost" 1 verify --cluster src --tenant shop --set "$I2"
assert_contains "verify names the missing set F" "$TB_ALL" "$F"
assert_contains "verify says ERROR:" "$TB_ERR" "ERROR:"
tb_fails "restore of I2 fails when F's manifest is lost" 1 restore --cluster src --tenant shop \
	--set "$I2" --to "$T/r_lost" --port $R --socket-dir "$SOCK" --start
assert_contains "restore names the missing set F" "$TB_ALL" "$F"
assert_true "restore left no target directory" test ! -e "$T/r_lost"
st_put "$T/aside/manifest" "$SETS/$F/manifest"
assert_eq "storage as before once the manifest is back" "$sum0" "$(storage_sum)"
tb_ok "verify I2 with F's manifest back" verify --cluster src --tenant shop --set "$I2" || true

# ---- a byte flipped in F's largest stored data file (pgbench_accounts' pages: I2
# takes most of them from F)
# (the largest by the manifest: a small set keeps it in a bundle, at its offset)
st_get "$SETS/$F/manifest" "$T/aside/F.manifest"
big=$(jq -c '[.files[] | select(.kind == "file" and (.stored_size // 0) > 0)] | max_by(.stored_size)' "$T/aside/F.manifest")
rel=$(jq -r .path <<<"$big")
size=$(jq -r .stored_size <<<"$big")
if [[ $(jq -r '.bundle // 0' <<<"$big") != 0 ]]; then
	f="$SETS/$F/bundles/$(printf '%06d' "$(jq -r .bundle <<<"$big")")"
	at=$(( $(jq -r .bundle_offset <<<"$big") + size / 2 ))
else
	f="$SETS/$F/data/$rel"
	at=$((size / 2))
fi
log "flipping a byte in $rel of $F ($size bytes stored, in $f at $at)"
assert_match "the file is a relation file of shop" "$rel" '^base/[0-9]+/[0-9]+'
st_get "$f" "$T/aside/good"
st_flip_byte "$f" "$at"
tb_fails "verify of I2 fails with a corrupt file in F" 1 verify --cluster src --tenant shop --set "$I2"
assert_contains "verify names the corrupt file" "$TB_ALL" "$rel"
tb_fails "restore of I2 refuses with a corrupt file in F" 1 restore --cluster src --tenant shop \
	--set "$I2" --to "$T/r_bad" --port $R --socket-dir "$SOCK" --start
assert_contains "restore names the corrupt file" "$TB_ALL" "$rel"
assert_eq "restore target left absent or empty" "" "$(ls -A "$T/r_bad" 2>/dev/null)"
assert_eq "nothing listening on the restore port" no \
	"$(psql_at $R postgres 'SELECT 1' >/dev/null 2>&1 && echo yes || echo no)"
st_put "$T/aside/good" "$f"

# ---- delete F with its dependents
tb_ok "set delete --with-dependents of F" set delete --cluster src --tenant shop --set "$F" --with-dependents || true
assert_eq "no set listed for shop" 0 "$(set_count src shop)"
for s in "$F" "$I1" "$I2"; do
	assert_eq "nothing of $s is left in the storage" "" "$(st_keys "$SETS/$s")"
done
# with no full set left, an incremental is refused again
tb_fails "incremental after the chain was deleted fails" 1 backup --cluster src --tenant shop --mode incremental
assert_contains "exact message" "$TB_ERR" "ERROR: Full data backup needed before incremental data backup"
assert_eq "still no set listed for shop" 0 "$(set_count src shop)"
