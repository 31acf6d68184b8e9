#!/usr/bin/env bash
# Backups to a named S3 storage configuration, over the daemon's REST API, against a
# real signature-checking S3 server (Ceph RGW from test/fixtures/rgw.sh on loopback).
#
# The cluster is registered with plain file:// storage (its WAL archive lives there).
# A storage configuration "s3main" (s3:// URI, its key pair sealed in the metadata) is
# tested, named by the tenant's strategy, and every set of the tenant goes there: the
# full and the incremental "Back up Now" tasks, a Retry after a daemon restart, verify
# (CLI and API), restore (CLI) equal to the source, and delete (API). The keys come
# only from the sealed configuration: no AWS_* variable is set for the daemon or the
# CLI. Also: the Test of a configuration with a wrong secret fails its credentials
# check; an incremental to the cluster's own storage does not build on the full in
# s3main; a configuration sets live in cannot be removed; the secret key appears in
# no file tenback wrote.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=26962; R1=26963; R2=26964; HTTP=26965
RGW_PORT=26960 RGW_MON_PORT=26961
RGW="$REPO_ROOT/test/fixtures/rgw.sh"
RGWD="$T/rgw-named"
AK="tb-named-$RANDOM$RANDOM"
SK="tb-named-secret-$RANDOM$RANDOM$RANDOM-never-logged"
BUCKET=tbnamed
EP="http://127.0.0.1:$RGW_PORT"
S3URI="s3://$BUCKET/named?endpoint=$EP&region=us-east-1&uri-style=path"
# The keys must come from the sealed configuration, never from the environment.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE || true

if ! command -v radosgw >/dev/null; then
	not_ok "radosgw is installed" "run scripts/setup.sh (it installs ceph-mon ceph-osd radosgw ceph-common)"
	exit 1
fi

# stop the S3 server whatever happens, before lib.sh removes $T
trap '_rc=$?; set +e; "$RGW" stop "$RGWD" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT

t0=$SECONDS
if ! RGW_FIXTURE_ACCESS_KEY=$AK RGW_FIXTURE_SECRET_KEY=$SK RGW_FIXTURE_MON_PORT=$RGW_MON_PORT \
	"$RGW" start "$RGWD" "$RGW_PORT" >"$T/log/rgw.txt" 2>&1; then
	not_ok "RGW starts" "$(tail -n 20 "$T/log/rgw.txt")"
	exit 1
fi
ok "RGW up on 127.0.0.1:$RGW_PORT in $((SECONDS - t0)) s"

# rgwcurl METHOD PATH [curl args...]: a request to RGW signed by curl (SigV4)
rgwcurl() {
	local method=$1 path=$2; shift 2
	curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$method" "$EP/$path" "$@"
}
# bucket_keys PREFIX: every key under named/PREFIX, following continuation tokens
# (curl signs the query as given: it must be canonical, sorted and encoded)
bucket_keys() {
	local enc token="" q page
	enc=$(jq -rn --arg v "named/$1" '$v | @uri')
	while :; do
		q=""
		[[ -n $token ]] && q="continuation-token=$(jq -rn --arg v "$token" '$v | @uri')&"
		page=$(rgwcurl GET "$BUCKET?${q}list-type=2&max-keys=1000&prefix=$enc") || return 1
		if [[ $page != *"<ListBucketResult"* ]]; then echo "S3 list failed: $page" >&2; return 1; fi
		grep -oP '<Key>\K[^<]*' <<<"$page" || true
		token=$(grep -oP '<NextContinuationToken>\K[^<]*' <<<"$page" || true)
		[[ -n $token ]] || break
	done
}
# has_key KEYS TEXT: yes when a line of KEYS contains TEXT (no pipe: a listing is long)
has_key() { if grep -qF -- "$2" <<<"$1"; then echo yes; else echo no; fi; }
assert_eq "bucket $BUCKET created" 200 "$(rgwcurl PUT "$BUCKET" -o /dev/null -w '%{http_code}')"

# ---- the cluster, registered with file:// storage
pg_create src $P checksums=on
psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 2
psql_q shop "CREATE TABLE notes AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 5000) g"
TB_STORAGE=file cluster_add src
assert_match "the cluster's own storage is file://" \
	"$(tb cluster list --output json | jq -r '.[] | select(.name == "src") | .storage')" '^file://'
wal_switch_and_wait $P
sysid=$(psql_q postgres "SELECT system_identifier FROM pg_control_system()")

user_add admin 'admin-pw-1' admin
daemon_start $HTTP || exit 1
assert_eq "the daemon has no AWS key in its environment" 0 \
	"$(tr '\0' '\n' <"/proc/$DAEMON_PID/environ" | grep -cE '^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=' || true)"
API_TOKEN=$(api_token admin 'admin-pw-1')
assert_match "admin gets an API token" "$API_TOKEN" '^.{16,}$'
shop=$(tenant_id src shop)
assert_match "tenant shop has an id" "$shop" '^src:[0-9]+$'
[[ -n $shop ]] || exit 1

# ---- the storage configurations and their Test
api_expect "create storage configuration s3main with its key pair" 201 POST /api/v1/storages \
	"$(jq -nc --arg u "$S3URI" --arg a "$AK" --arg s "$SK" '{name: "s3main", uri: $u, access_key: $a, secret_key: $s}')" \
	|| exit 1
assert_eq "s3main has a secret" true "$(printf '%s' "$API_BODY" | jq -r '.has_secret')"
assert_not_contains "the answer does not echo the secret" "$API_BODY" "$SK"

api_expect "Test of s3main answers" 200 POST /api/v1/storages/s3main/test
log "s3main: $(printf '%s' "$API_BODY" | jq -c '[.checks[] | {name, ok}]')"
assert_eq "Test of s3main: ok" true "$(printf '%s' "$API_BODY" | jq -r '.ok')"
assert_eq "Test of s3main: every check ok" true "$(printf '%s' "$API_BODY" | jq -r '.checks | all(.ok)')"
assert_contains "Test of s3main: a credentials check passed" \
	"$(printf '%s' "$API_BODY" | jq -r '[.checks[] | select(.ok) | .name] | join(",")')" credentials

api_expect "create s3wrong (the right access key, a wrong secret)" 201 POST /api/v1/storages \
	"$(jq -nc --arg u "$S3URI" --arg a "$AK" '{name: "s3wrong", uri: $u, access_key: $a, secret_key: "not-the-secret"}')"
api_expect "Test of s3wrong answers" 200 POST /api/v1/storages/s3wrong/test
log "s3wrong: $(printf '%s' "$API_BODY" | jq -c '[.checks[] | {name, ok}]')"
assert_eq "Test of s3wrong: not ok" false "$(printf '%s' "$API_BODY" | jq -r '.ok')"
assert_eq "Test of s3wrong: the failed check is credentials" credentials \
	"$(printf '%s' "$API_BODY" | jq -r '[.checks[] | select(.ok == false)][0].name')"
api_expect "s3wrong removed" 204 DELETE /api/v1/storages/s3wrong

# ---- the strategy names s3main (its slot is ~22 h away: it does not fire during the test)
slot=$(date -u -d '-2 hours' +%H:%M)
api_expect "PUT a strategy with storage s3main" 200 PUT "/api/v1/tenants/$shop/strategy" \
	"$(jq -nc --arg t "$slot" '{storage: "s3main", retention_days: 30,
		schedule: {kind: "week", time: $t, days: {mon: "FULL", tue: "FULL", wed: "FULL", thu: "FULL",
		fri: "FULL", sat: "FULL", sun: "FULL"}}}')" || exit 1
assert_eq "the strategy's storage is s3main" s3main "$(printf '%s' "$API_BODY" | jq -r '.storage')"

# ---- Back up Now: a full backup into s3main
backup_start "$shop" full
assert_eq "full backup accepted (202)" 202 "$API_STATUS"
task_wait "$TASK_ID" 300 || true
log "$(task_summary)"
assert_eq "full backup to s3main: SUCCEEDED" SUCCEEDED "$(task_status)"
assert_eq "the task names its storage" s3main "$(printf '%s' "$API_BODY" | jq -r '.params.storage')"
full=$(set_ids src shop | tail -n 1)
assert_match "a full set is listed" "$full" '^[0-9]{8}-[0-9]{6}F$'
api GET "/api/v1/tenants/$shop/sets"
assert_eq "GET sets: the set lives in s3main" "completed full s3main" \
	"$(printf '%s' "$API_BODY" | jq -r --arg i "$full" '.[] | select(.id == $i) | "\(.status) \(.type) \(.storage)"')"
keys=$(bucket_keys "tenback/$sysid/shop/$full/")
log "$(wc -l <<<"$keys") objects of set $full in the bucket"
assert_eq "the set's manifest is in the bucket" yes "$(has_key "$keys" "named/tenback/$sysid/shop/$full/manifest")"
assert_eq "the set's WAL is in the bucket" yes "$(has_key "$keys" "named/tenback/$sysid/shop/$full/wal/")"
assert_true "the set's data are in the bucket (files and bundles of small files)" \
	grep -qE "named/tenback/$sysid/shop/$full/(data/base/|bundles/)" <<<"$keys"
assert_eq "nothing of the set under the file:// storage" "" \
	"$(find "$T/storage" -path "*/$full*" 2>/dev/null | head -n 3)"
assert_true "the WAL archive stays in the cluster's file:// storage" \
	test -d "$T/storage/tenback/$sysid/archive"
assert_eq "no WAL archive in the bucket" "" "$(bucket_keys "tenback/$sysid/archive/" | head -n 3)"

tb_ok "verify the set in s3main (CLI)" verify --cluster src --tenant shop --set "$full" || true
api_expect "verify the set in s3main (API)" 200 POST "/api/v1/tenants/$shop/sets/$full/verify"
assert_eq "API verify: ok" ok "$(printf '%s' "$API_BODY" | jq -r '.verify_status')"
api_expect "the restorable window answers" 200 GET "/api/v1/tenants/$shop/window"
assert_contains "the window starts at the set in s3main" "$API_BODY" "$full"

if tb_restore_start src shop "$full" "$T/r1" $R1; then
	compare_tenant "the full set from s3main restores equal to the source" $P $R1 shop
	check_invariant $R1 shop
	pg_stop "$T/r1" immediate || true
fi

# ---- writes, then an incremental; Retry of it after a daemon restart
psql_q shop "UPDATE pgbench_accounts SET filler = md5(aid::text) WHERE aid % 40 = 0;
INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(5001, 7000) g;
DELETE FROM notes WHERE id % 9 = 0"
wal_switch_and_wait $P

# a chain never spans two storages: the cluster's own storage has no full
tb_run backup --cluster src --tenant shop --mode incremental
assert_ne "an incremental to the cluster's own storage fails" 0 "$TB_RC"
assert_contains "... with \"Full data backup needed\"" "$TB_ERR" \
	"Full data backup needed before incremental data backup"
assert_contains "... saying there is no set in that storage" "$TB_ERR" "in the storage of cluster"
tb_run backup --cluster src --tenant shop --mode incremental --storage nowhere
assert_ne "a backup to an unknown storage configuration fails" 0 "$TB_RC"
assert_contains "... naming it" "$TB_ERR" 'storage configuration "nowhere" does not exist'

api_expect "mark src UPGRADING" 200 POST /api/v1/clusters/src/status '{"status": "UPGRADING"}'
backup_start "$shop" incremental
inc_task=$TASK_ID
task_wait "$inc_task" || true
assert_eq "incremental while upgrading: FAILED at the check" "FAILED FAILED" \
	"$(task_status) $(task_step 'Check if ready to data backup' .status)"
api_expect "mark src NORMAL" 200 POST /api/v1/clusters/src/status '{"status": "NORMAL"}'
assert_ok "the daemon stops" daemon_stop
daemon_start $HTTP || exit 1
api_expect "Retry of the incremental after the restart" "200|202" POST "/api/v1/tasks/$inc_task/retry"
task_wait "$inc_task" 300 || true
log "$(task_summary)"
assert_eq "the retried incremental: SUCCEEDED" SUCCEEDED "$(task_status)"
incr=$(set_ids src shop | tail -n 1)
assert_match "an incremental set is listed" "$incr" '^[0-9]{8}-[0-9]{6}I$'
api GET "/api/v1/tenants/$shop/sets"
assert_eq "the incremental builds on the full and lives in s3main" "incremental $full s3main" \
	"$(printf '%s' "$API_BODY" | jq -r --arg i "$incr" '.[] | select(.id == $i) | "\(.type) \(.parent) \(.storage)"')"
assert_eq "the incremental's manifest is in the bucket" yes \
	"$(has_key "$(bucket_keys "tenback/$sysid/shop/$incr/")" "named/tenback/$sysid/shop/$incr/manifest")"
tb_ok "verify the incremental (its chain read from s3main)" verify --cluster src --tenant shop --set "$incr" || true

if tb_restore_start src shop "$incr" "$T/r2" $R2; then
	compare_tenant "the incremental from s3main restores equal to the source" $P $R2 shop
	check_invariant $R2 shop
	pg_stop "$T/r2" immediate || true
fi

# ---- a configuration that sets live in stays; deleting the sets empties the bucket
api_expect "the strategy no longer names a storage" 200 PUT "/api/v1/tenants/$shop/strategy" \
	"$(jq -nc --arg t "$slot" '{retention_days: 30, schedule: {kind: "week", time: $t, days: {mon: "FULL"}}}')"
api_expect "s3main cannot be removed while sets live in it" "4.." DELETE /api/v1/storages/s3main
assert_contains "... saying so" "$(printf '%s' "$API_BODY" | jq -r '.error.message')" "holds backup sets"
api_expect "s3main cannot move to another URI" "4.." POST /api/v1/storages \
	"$(jq -nc --arg a "$AK" --arg s "$SK" '{name: "s3main", uri: "file:///tmp/elsewhere", access_key: $a, secret_key: $s}')"

api_expect "the full cannot go alone" "4.." DELETE "/api/v1/tenants/$shop/sets/$full"
api_expect "delete the full with its dependents" 200 DELETE "/api/v1/tenants/$shop/sets/$full?with_dependents=true"
assert_eq "both sets deleted" "$incr,$full" "$(printf '%s' "$API_BODY" | jq -r '.deleted | join(",")')"
assert_eq "no set listed" 0 "$(set_count src shop)"
assert_eq "their objects are gone from the bucket" "" "$(bucket_keys "tenback/$sysid/shop/" | head -n 5)"
api_expect "now s3main can be removed" 204 DELETE /api/v1/storages/s3main

# ---- the secret key is in no file tenback wrote
assert_eq "the metadata keeps the secret sealed, not in clear" 0 \
	"$(grep -c -aF -- "$SK" "$TB_HOME/metadata.db" || true)"
leak=$(grep -rlF -- "$SK" "$TB_HOME" "$T/log" "$T/storage" 2>/dev/null | grep -v '/log/rgw.txt$' || true)
assert_eq "the secret key is in no file under the home, the logs or the storage" "" "$leak"
assert_ok "the daemon stops on SIGTERM" daemon_stop
leak=$(grep -rlF -- "$SK" "$TB_HOME" "$T/log" 2>/dev/null | grep -v '/log/rgw.txt$' || true)
assert_eq "nor after the daemon stopped" "" "$leak"
