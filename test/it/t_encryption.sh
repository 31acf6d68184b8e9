#!/usr/bin/env bash
# Encryption at rest (AES-256-GCM). A cluster whose WAL and sets are stored without
# compression, so that any plaintext would show; its current key a key file (K1).
#   - a full and an incremental backup of a tenant while pgbench writes: no stored
#     object holds a marker string inserted into a table (the source's data directory
#     does), the set's manifest and the archived WAL are encrypted objects;
#   - the incremental's chain restores equal to the source (row checksums, amcheck, the
#     pgbench invariant), and to a point in time (WAL through archive-get, decrypted);
#   - rotation to a passphrase (P2): a new set uses it, the old sets keep K1; both
#     restore and verify, each with its own key from the cluster's keyring; a logical
#     set is encrypted too and restores as SQL; set list names each set's key;
#   - encryption off: a new set is in the clear; its manifest put in place of an
#     encrypted set's is refused (the metadata knows the set is encrypted);
#   - the key K1 removed and another key added: restore fails naming the key needed
#     and writes nothing in the target; verify fails the same way; a wrong passphrase
#     says "wrong passphrase"; with the keys back, both verify;
#   - a byte flipped in an encrypted object fails verify;
#   - the current key file gone: a backup fails naming it, archive-push fails and stores
#     nothing (PostgreSQL keeps the segment), archiving goes on once it is back;
#   - a key file open to others is refused; the passphrase is in no file of the home,
#     no log and not the audit log;
#   - the API: keys listed (fingerprints only), a passphrase added (never echoed),
#     bad requests refused, a key removed, encryption turned off; sets show their key.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=27200; R=27201; R_PITR=27202; R_NEW=27203; R_BAD=27204; HTTP=27205
MARKER="TENBACK-PLAINTEXT-MARKER-7d1c5e"
PASS2="correct horse battery staple $RANDOM"

# key_file NAME: 32 random bytes, owned by postgres (tenback and archive-push run as it), 0600
key_file() {
	install -m 600 -o "$PG_USER" /dev/null "$T/$1"
	head -c 32 /dev/urandom >"$T/$1"
	echo "$T/$1"
}
K1=$(key_file k1.key)
K3=$(key_file k3.key)
install -m 600 -o "$PG_USER" /dev/null "$T/p2.pass"
printf '%s\n' "$PASS2" >"$T/p2.pass"
install -m 600 -o "$PG_USER" /dev/null "$T/wrong.pass"
printf 'not the passphrase\n' >"$T/wrong.pass"

pg_create src $P checksums=on
cluster_add src --compress none

# ---- refused key files, then K1 as the current key
install -m 644 -o "$PG_USER" /dev/null "$T/open.key"
head -c 32 /dev/urandom >"$T/open.key"
tb_fails "a key file readable by others is refused" 1 cluster encryption src --key-file "$T/open.key"
assert_contains "it says why" "$TB_ERR" "accessible by group or others"
install -m 600 -o "$PG_USER" /dev/null "$T/short.key"
head -c 16 /dev/urandom >"$T/short.key"
tb_fails "a key file of 16 bytes is refused" 1 cluster encryption src --key-file "$T/short.key"
assert_contains "it says its size" "$TB_ERR" "has 16 bytes, not 32"
tb_must "encryption on with key file K1" cluster encryption src --key-file "$K1"
FP1=$(grep -oE '[0-9a-f]{16}' <<<"$TB_OUT" | head -n 1)
assert_match "K1 has a fingerprint" "$FP1" '^[0-9a-f]{16}$'
wal_switch_and_wait $P   # WAL from here on is encrypted

psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 2
psql_q shop "CREATE EXTENSION amcheck"
psql_q shop "CREATE TABLE secret (id int PRIMARY KEY, v text)"
psql_q shop "INSERT INTO secret SELECT g, '$MARKER-' || g FROM generate_series(1, 2000) g"
psql_q shop "CREATE TABLE events (label text PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
psql_q postgres "CHECKPOINT"
wal_switch_and_wait $P
assert_true "the marker is in the source's data directory (the check below can see it)" \
	grep -rqa "$MARKER" "${PG_DATA[src]}/base"

# ---- full and incremental while pgbench writes
workload_start shop 8
sleep 1
tb_must "encrypted full backup under load" backup --cluster src --tenant shop --mode full --compress none
F1=$(last_line "$TB_OUT")
sleep 2
psql_q shop "INSERT INTO secret SELECT g, '$MARKER-' || g FROM generate_series(2001, 3000) g"
tb_must "encrypted incremental backup under load" backup --cluster src --tenant shop --mode incremental \
	--compress none
I1=$(last_line "$TB_OUT")
assert_match "the second set is an incremental" "$I1" 'I$'
workload_stop
psql_q shop "INSERT INTO events VALUES ('A')"
sleep 1.2
t_ab=$(psql_q postgres "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1.2
psql_q shop "INSERT INTO events VALUES ('B')"
wal_switch_and_wait $P
SYS=$(st_sysid)

# ---- nothing in the clear: every stored object is searched for the marker
st_get "tenback/$SYS/shop/$I1/manifest" "$T/log/manifest-I1"
assert_eq "the manifest is an encrypted object" "TBX1" "$(head -c 4 "$T/log/manifest-I1")"
wal_obj=$(st_keys "tenback/$SYS/archive" | tail -n 1)
st_get "$wal_obj" "$T/log/wal-obj"
assert_eq "an archived WAL file is an encrypted object" "TBX1" "$(head -c 4 "$T/log/wal-obj")"
found=""
n_objects=0
while read -r key; do
	n_objects=$((n_objects + 1))
	st_get "$key" "$T/log/obj" || { found+="unreadable $key "; continue; }
	if grep -qa "$MARKER" "$T/log/obj"; then found+="$key "; fi
	if grep -qa "pgbench_accounts" "$T/log/obj"; then found+="$key(catalog) "; fi
done < <(st_keys "tenback/$SYS")
log "searched $n_objects stored objects for the marker"
assert_true "objects were searched" test "$n_objects" -gt 10
assert_eq "no stored object holds the marker or a table name in the clear" "" "$found"

# ---- the chain restores equal to the source, and to a point in time
if tb_restore_start src shop "$I1" "$T/r" $R; then
	compare_tenant "restored (latest): every table of shop equals the source" $P $R shop
	check_amcheck $R shop
	check_invariant $R shop
	assert_ok "restored: clean stop" pg_stop "$T/r"
fi
if tb_restore_start src shop "$I1" "$T/r_pitr" $R_PITR --target-time "$t_ab"; then
	assert_eq "restored to a time between A and B: A only" "A" \
		"$(psql_at $R_PITR shop "SELECT string_agg(label, ',' ORDER BY label) FROM events" 2>&1)"
	check_invariant $R_PITR shop
	assert_ok "restored to a time: clean stop" pg_stop "$T/r_pitr"
fi

# ---- rotation: a passphrase is the current key; old sets keep K1
tb_must "rotate to passphrase P2" cluster encryption src --passphrase-file "$T/p2.pass"
FP2=$(grep -oE '[0-9a-f]{16}' <<<"$TB_OUT" | head -n 1)
assert_ne "P2's key is another key" "$FP1" "$FP2"
tb_must "cluster keys" cluster keys src
assert_match "P2 is current" "$TB_OUT" "$FP2 +passphrase +yes"
assert_match "K1 is kept, not current" "$TB_OUT" "$FP1 +key-file +no"
psql_q shop "INSERT INTO events VALUES ('C')"
tb_must "full backup after rotation" backup --cluster src --tenant shop --mode full --compress none
F2=$(last_line "$TB_OUT")
wal_switch_and_wait $P
st_get "tenback/$SYS/shop/$F2/manifest" "$T/log/manifest-F2"
assert_eq "the new set's manifest names P2's key" "$FP2" "$(xxd -s 28 -l 8 -p "$T/log/manifest-F2")"
assert_eq "the old set's manifest names K1's key" "$FP1" "$(xxd -s 28 -l 8 -p "$T/log/manifest-I1")"
tb_ok "verify the old chain (K1)" verify --cluster src --tenant shop --set "$I1" || true
tb_ok "verify the new set (P2)" verify --cluster src --tenant shop --set "$F2" || true
if tb_restore_start src shop "$F2" "$T/r_new" $R_NEW; then
	compare_tenant "restored new set: every table of shop equals the source" $P $R_NEW shop
	check_amcheck $R_NEW shop
	assert_ok "restored new set: clean stop" pg_stop "$T/r_new"
fi
tb_ok "the old full set still restores (K1)" restore --cluster src --tenant shop --set "$F1" \
	--to "$T/r_old" --port $R_BAD --socket-dir "$SOCK" || true
assert_true "the old set's files are laid down" test -f "$T/r_old/PG_VERSION"

# ---- a logical set is encrypted too, and restores as SQL
tb_must "logical backup (no compression)" backup --cluster src --tenant shop --method logical --compress none
L=$(last_line "$TB_OUT")
found=""
while read -r key; do
	st_get "$key" "$T/log/obj"
	[[ $(head -c 4 "$T/log/obj") == TBX1 ]] || found+="$key(not encrypted) "
	if grep -qa "$MARKER" "$T/log/obj"; then found+="$key "; fi
done < <(st_keys "tenback/$SYS/shop/$L")
assert_eq "every object of the logical set is encrypted, no marker in the clear" "" "$found"
tb_ok "restore the logical set as SQL" restore --cluster src --tenant shop --set "$L" --sql-file "$T/shop.sql" || true
assert_true "the SQL holds the marker rows" grep -q "$MARKER-3000" "$T/shop.sql"
sets=$(set_json src shop)
assert_eq "set list names each set's key" "$F1 $FP1,$I1 $FP1,$F2 $FP2,$L $FP2" \
	"$(jq -r '[.[] | "\(.id) \(.encryption_key)"] | join(",")' <<<"$sets")"

# ---- encryption off: a set in the clear; its manifest put in place of an encrypted one is refused
tb_must "encryption off" cluster encryption src --off
tb_must "logical backup in the clear" backup --cluster src --tenant shop --method logical --compress none
L2=$(last_line "$TB_OUT")
assert_eq "the set taken with encryption off has no key" "null" \
	"$(set_json src shop | jq -r --arg s "$L2" '.[] | select(.id == $s) | .encryption_key')"
st_get "tenback/$SYS/shop/$L2/manifest" "$T/log/plain-manifest"
assert_eq "its manifest is in the clear" "{" "$(head -c 1 "$T/log/plain-manifest")"
tb_ok "verify the set in the clear" verify --cluster src --tenant shop --set "$L2" || true
st_put "$T/log/plain-manifest" "tenback/$SYS/shop/$L/manifest"
tb_fails "an unencrypted manifest in place of an encrypted set's is refused" 1 \
	verify --cluster src --tenant shop --set "$L"
assert_contains "it says the object is not encrypted but its set is" "$TB_ALL" "is not encrypted, but its set is"

# ---- the wrong key: fails naming the key needed, writes nothing
tb_must "remove K1 from the keyring" cluster key-remove src --fingerprint "$FP1"
tb_must "add another key file K3" cluster key-add src --key-file "$K3"
tb_fails "restore of the old chain with the wrong key fails" 1 restore --cluster src --tenant shop --set "$I1" \
	--to "$T/r_wrong" --port $R_BAD --socket-dir "$SOCK" --start
assert_contains "it names the key the set was encrypted with" "$TB_ERR" "was encrypted with key $FP1"
assert_eq "restore with the wrong key wrote nothing" "" "$(ls -A "$T/r_wrong" 2>/dev/null)"
assert_eq "nothing listening on the refused restore's port" no \
	"$(psql_at $R_BAD postgres 'SELECT 1' >/dev/null 2>&1 && echo yes || echo no)"
tb_fails "verify of the old chain with the wrong key fails" 1 verify --cluster src --tenant shop --set "$I1"
assert_contains "verify names the key needed" "$TB_ALL" "$FP1"
tb_must "encryption back on K3 (so P2 may be removed)" cluster encryption src --key-file "$K3"
tb_must "remove P2" cluster key-remove src --fingerprint "$FP2"
tb_must "add a wrong passphrase" cluster key-add src --passphrase-file "$T/wrong.pass"
tb_fails "verify of the new set with a wrong passphrase fails" 1 verify --cluster src --tenant shop --set "$F2"
assert_contains "it says wrong passphrase" "$TB_ALL" "wrong passphrase"
tb_must "K1 back" cluster key-add src --key-file "$K1"
tb_must "P2 back" cluster key-add src --passphrase-file "$T/p2.pass"
tb_ok "with the keys back the old chain verifies" verify --cluster src --tenant shop --set "$I1" || true
tb_ok "and the new set verifies" verify --cluster src --tenant shop --set "$F2" || true
tb_fails "the current key cannot be removed" 1 cluster key-remove src --fingerprint "$(tb cluster keys src \
	| awk '$3 == "yes" {print $1}')"

# ---- a flipped byte in an encrypted object fails verify
read -r vsize victim < <(st_sizes "tenback/$SYS/shop/$F2" | grep -E '/(data|bundles)/' | tail -n 1)
log "flipping a byte in the middle of $victim ($vsize bytes)"
st_flip_byte "$victim" $((vsize / 2))
tb_fails "verify of the set with a flipped byte fails" 1 verify --cluster src --tenant shop --set "$F2"
assert_contains "verify says the object is damaged" "$TB_ALL" "damaged"

# ---- the passphrase is nowhere in the clear
assert_fails "the passphrase is in no file of the home" grep -rqaF "$PASS2" "$TB_HOME"
assert_fails "the passphrase is in no log" grep -rqaF "$PASS2" "$T/log"
tb_ok "audit list" audit list --limit 100 || true
assert_contains "the audit log has the rotation" "$TB_OUT" "cli.cluster.encryption"
assert_not_contains "the audit log has no passphrase" "$TB_OUT" "$PASS2"

# ---- the current key file gone: nothing is written, in the clear or otherwise
mv "$K3" "$K3.gone"
tb_fails "a backup with the current key file gone fails" 1 backup --cluster src --tenant shop --mode full
assert_contains "it names the current key that cannot be used" "$TB_ERR" "cannot use the current encryption key"
n_archived=$(st_keys "tenback/$SYS/archive" | wc -l)
failed_before=$(psql_q postgres "SELECT failed_count FROM pg_stat_archiver")
psql_q shop "INSERT INTO events VALUES ('D')"
psql_q postgres "SELECT pg_switch_wal()" >/dev/null
_archiver_failed_more() { [[ $(psql_q postgres "SELECT failed_count FROM pg_stat_archiver") -gt $1 ]]; }
wait_for "archive-push failing" 30 _archiver_failed_more "$failed_before" || true
assert_true "archive-push fails while the current key is gone" \
	test "$(psql_q postgres "SELECT failed_count FROM pg_stat_archiver")" -gt "$failed_before"
assert_eq "and stores nothing" "$n_archived" "$(st_keys "tenback/$SYS/archive" | wc -l)"
mv "$K3.gone" "$K3"
assert_ok "with the key back, archiving goes on" wal_switch_and_wait $P
assert_true "the held segments are archived" test "$(st_keys "tenback/$SYS/archive" | wc -l)" -gt "$n_archived"

# ---- the API
PASS4="api passphrase $RANDOM$RANDOM"
user_add admin 'a-long-admin-password' admin
daemon_start $HTTP
API_TOKEN=$(api_token admin 'a-long-admin-password')
CUR=$(tb cluster keys src --output json | jq -r '.[] | select(.current) | .fingerprint')
if api_expect "GET the cluster's keys" 200 GET /api/v1/clusters/src/keys; then
	assert_eq "the API names the current key" "$CUR" "$(jq -r .current <<<"$API_BODY")"
	assert_eq "and lists every key by fingerprint and kind only" "fingerprint,kind,current,created_at" \
		"$(jq -r '[.keys[] | keys_unsorted | join(",")] | unique | join(";")' <<<"$API_BODY")"
fi
if api_expect "POST a passphrase as an old key" 201 POST /api/v1/clusters/src/keys \
	"$(jq -nc --arg p "$PASS4" '{passphrase: $p, current: false}')"; then
	FP4=$(jq -r --arg c "$CUR" '[.keys[] | select(.kind == "passphrase" and .current == false)] | last | .fingerprint' \
		<<<"$API_BODY")
	assert_eq "the current key is unchanged" "$CUR" "$(jq -r .current <<<"$API_BODY")"
	assert_not_contains "the answer does not hold the passphrase" "$API_BODY" "$PASS4"
fi
api_expect "a key file and a passphrase at once are refused" 400 POST /api/v1/clusters/src/keys \
	'{"key_file": "/nonexistent", "passphrase": "x"}' && assert_api_error "both given"
api_expect "a relative key file is refused" 400 POST /api/v1/clusters/src/keys '{"key_file": "k.key"}' || true
api_expect "the current key cannot be removed" 400 DELETE "/api/v1/clusters/src/keys/$CUR" || true
api_expect "a bad fingerprint is refused" 400 DELETE "/api/v1/clusters/src/keys/zz" || true
api_expect "a key removed" 200 DELETE "/api/v1/clusters/src/keys/$FP4" || true
assert_not_contains "it is gone" "$API_BODY" "\"$FP4\""
if api_expect "encryption off" 200 DELETE /api/v1/clusters/src/encryption; then
	assert_eq "no current key" "null" "$(jq -r .current <<<"$API_BODY")"
fi
if api_expect "the tenant's sets" 200 GET "/api/v1/tenants/$(tenant_id src shop)/sets"; then
	assert_eq "the API shows each set's key" "$FP2" \
		"$(jq -r --arg s "$F2" '(if type == "array" then . else .sets end)[] | select(.id == $s) | .encryption_key' <<<"$API_BODY")"
fi
daemon_stop
assert_fails "the API's passphrase is in no file of the home" grep -rqaF "$PASS4" "$TB_HOME"
assert_fails "nor in any log or transcript" grep -rqaF "$PASS4" "$T/log"
