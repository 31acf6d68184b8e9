#!/usr/bin/env bash
# Small files are bundled: a tenant with a few thousand small tables (heap, primary
# key, TOAST table and index, and after VACUUM their free space and visibility maps;
# enough data for several 32 MiB bundles) plus pgbench data, data checksums on, lz4.
#   - full backup, writes and DDL, incremental: each set holds far fewer objects than
#     stored files (the small ones in <set>/bundles/NNNNNN, the large ones at
#     data/<path>), and the manifest says where each bundled file is;
#   - the incremental's chain restores (files from the bundles of both sets): every
#     table equals the source, amcheck clean, the pgbench invariant holds;
#   - verify passes; one byte flipped inside a bundle makes verify fail naming the file
#     stored there;
#   - set delete removes the sets with their bundles.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26570; R=26571
N_TABLES=${TB_BUNDLE_TABLES:-2500}

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 5
psql_q shop "CREATE EXTENSION amcheck"
# the small tables, committed in batches (one transaction would run out of locks);
# every tenth a few hundred KiB, so that the bundles pass 32 MiB and a set has several
psql_q shop "DO \$\$ BEGIN
	FOR i IN 1..$N_TABLES LOOP
		EXECUTE format('CREATE TABLE small_%s (id int PRIMARY KEY, v text)', i);
		EXECUTE format('INSERT INTO small_%s SELECT g, md5(g::text) || md5((g * %s)::text) FROM generate_series(1, %s) g',
		               i, i, CASE WHEN i % 10 = 0 THEN 2500 ELSE 1 + i % 40 END);
		IF i % 200 = 0 THEN COMMIT; END IF;
	END LOOP;
END \$\$"
psql_q shop "VACUUM"
wal_switch_and_wait $P
log "setup done at ${SECONDS}s"

# set_manifest SET: the set's manifest (JSON) into $T/log/manifest-SET.json
set_manifest() {
	st_get "tenback/$(st_sysid)/shop/$1/manifest" "$T/log/manifest-$1.json"
}

# check_set SET NAME: objects in the set far below its stored files; the manifest
# and the storage agree on what is bundled
check_set() {
	local set=$1 name=$2 dir files bundled objects in_data bundles
	dir="tenback/$(st_sysid)/shop/$set"
	set_manifest "$set"
	files=$(jq '[.files[] | select(.kind == "file" or (.kind == "incr" and .blocks != ""))] | length' \
		"$T/log/manifest-$set.json")
	bundled=$(jq '[.files[] | select(.bundle)] | length' "$T/log/manifest-$set.json")
	objects=$(st_keys "$dir" | wc -l)
	in_data=$(st_keys "$dir/data" | wc -l)
	bundles=$(st_keys "$dir/bundles" | wc -l)
	log "$name: $files stored files, $bundled of them in $bundles bundles; $objects objects in the set"
	assert_true "$name: thousands of stored files ($files)" test "$files" -ge 2000
	assert_true "$name: objects in the set ($objects) far below stored files ($files)" \
		test $((objects * 20)) -lt "$files"
	assert_eq "$name: the files not bundled are the objects under data/" "$((files - bundled))" "$in_data"
	assert_eq "$name: the bundles the manifest names are those in the storage" \
		"$(jq -r '[.files[] | select(.bundle) | .bundle] | unique | map(tostring | ("000000" + .)[-6:]) | .[]' \
			"$T/log/manifest-$set.json" | xargs)" \
		"$(st_keys "$dir/bundles" | sed 's|.*/||' | xargs)"
	assert_eq "$name: every bundle ends where the last file in it ends" 0 \
		"$(jq -r '.files[] | select(.bundle) | "\(.bundle) \(.bundle_offset + .stored_size)"' "$T/log/manifest-$set.json" \
			| sort -n -k1,1 -k2,2 | awk '{ end[$1] = $2 } END { for (b in end) print b, end[b] }' \
			| while read -r b e; do
				s=$(st_size "$dir/bundles/$(printf '%06d' "$b")")
				[[ $s == "$e" ]] || echo "bundle $b: $s bytes, its last file ends at $e"
			done | wc -l)"
}

# ---- full backup
TB_RSS_FILE="$T/log/rss-full.txt" tb_must "full backup (lz4)" backup --cluster src --tenant shop --mode full \
	--compress lz4
F=$(last_line "$TB_OUT")
log "full backup $F: peak RSS $(cat "$T/log/rss-full.txt") KiB"
check_set "$F" "full set"
if ((N_TABLES >= 2500)); then
	assert_true "the full set has more than one bundle" \
		test "$(jq '[.files[] | select(.bundle) | .bundle] | max' "$T/log/manifest-$F.json")" -gt 1
else
	assert_true "the full set has a bundle" \
		test "$(jq '[.files[] | select(.bundle) | .bundle] | max' "$T/log/manifest-$F.json")" -ge 1
fi
assert_contains "a relation file is bundled" \
	"$(jq -r '.files[] | select(.bundle) | .path' "$T/log/manifest-$F.json")" "base/"

# ---- writes and DDL, then an incremental
psql_q shop "DO \$\$ BEGIN
	FOR i IN 1..$N_TABLES BY 7 LOOP
		EXECUTE format('UPDATE small_%s SET v = upper(v) WHERE id %% 3 = 0', i);
		IF i % 700 = 1 THEN COMMIT; END IF;
	END LOOP;
END \$\$"
psql_q shop "DROP TABLE small_5, small_6, small_7;
TRUNCATE small_8;
CREATE TABLE later (id int PRIMARY KEY, v text);
INSERT INTO later SELECT g, repeat('x', g % 100) FROM generate_series(1, 3000) g"
psql_q shop "VACUUM small_1, small_2, small_3"
as_pg "$PGBIN/pgbench" -h "$SOCK" -p $P -U "$PG_USER" -n -c 2 -T 4 shop >"$T/log/pgbench.txt" 2>&1
wal_switch_and_wait $P
TB_RSS_FILE="$T/log/rss-incr.txt" tb_must "incremental backup" backup --cluster src --tenant shop \
	--mode incremental --compress lz4
I=$(last_line "$TB_OUT")
log "incremental $I: peak RSS $(cat "$T/log/rss-incr.txt") KiB"
check_set "$I" "incremental set"
assert_true "the incremental bundles pages of relation files too" \
	test "$(jq '[.files[] | select(.kind == "incr" and .bundle)] | length' "$T/log/manifest-$I.json")" -gt 0
wal_switch_and_wait $P

tb_ok "verify the incremental (its whole chain)" --log-level debug verify --cluster src --tenant shop --set "$I" || true
if [[ $TB_STORAGE == s3 ]]; then
	# on S3 one ranged GET of a window of a bundle serves the members inside it
	reads=$(grep -oP 'bundles: \K[0-9]+ members read with [0-9]+ requests' <<<"$TB_ERR" || true)
	log "verify on S3: ${reads:-no bundle reads logged}"
	members=${reads%% *}; requests=$(awk '{ print $5 }' <<<"$reads")
	assert_true "verify reads thousands of bundled files (${members:-0})" test "${members:-0}" -ge 2000
	assert_true "with few requests: at most one per 20 members (${requests:-?})" \
		test "$((${requests:-999999} * 20))" -le "${members:-0}"
fi

# ---- the incremental's chain restores, every table equal to the source
if TB_RSS_FILE="$T/log/rss-restore.txt" tb_restore_start src shop "$I" "$T/r" $R; then
	log "restore: peak RSS $(cat "$T/log/rss-restore.txt") KiB"
	assert_eq "restored: as many tables as the source" \
		"$(psql_at $P shop "SELECT count(*) FROM pg_class WHERE relkind = 'r'")" \
		"$(psql_at $R shop "SELECT count(*) FROM pg_class WHERE relkind = 'r'")"
	compare_tenant "restored: every table of shop equals the source" $P $R shop
	check_amcheck $R shop
	check_invariant $R shop
	assert_ok "restored: clean stop" pg_stop "$T/r"
	assert_ok "restored: pg_checksums --check" pg_checksums_check "$T/r"
fi

# ---- a byte flipped inside a bundle of the full set: verify names the file stored there
read -r victim vb voff vsize < <(jq -r '[.files[] | select(.bundle == 1)] | .[length / 2 | floor]
	| "\(.path) \(.bundle) \(.bundle_offset) \(.stored_size)"' "$T/log/manifest-$F.json")
log "flipping a byte of $victim (bundle $vb at $voff, $vsize bytes)"
st_flip_byte "tenback/$(st_sysid)/shop/$F/bundles/$(printf '%06d' "$vb")" $((voff + vsize / 2))
tb_fails "verify of the full set with a damaged bundle fails" 1 verify --cluster src --tenant shop --set "$F"
assert_contains "verify names the file stored where the byte was flipped" "$TB_ALL" "data/$victim"
assert_contains "verify says it is damaged" "$TB_ALL" "damaged"
tb_fails "verify of the incremental (it reads its whole chain) fails too" 1 \
	verify --cluster src --tenant shop --set "$I"
assert_contains "and names the same file" "$TB_ALL" "$F/data/$victim"

# ---- set delete removes the sets with their bundles
tb_ok "set delete --with-dependents of the full set" set delete --cluster src --tenant shop --set "$F" \
	--with-dependents || true
assert_eq "no set of shop listed" 0 "$(set_count src shop)"
assert_eq "nothing of the full set left (bundles included)" "" "$(st_keys "tenback/$(st_sysid)/shop/$F")"
assert_eq "nothing of the incremental left (bundles included)" "" "$(st_keys "tenback/$(st_sysid)/shop/$I")"
