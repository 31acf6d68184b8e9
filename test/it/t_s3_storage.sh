#!/usr/bin/env bash
# S3 storage against a real, signature-checking S3 server (Ceph RGW started by
# test/fixtures/rgw.sh on loopback): the storage conformance suite
# (test_storage_s3), then a whole tenback flow through s3:// - cluster add,
# WAL archived by archive_command (archive-push), backup, verify, restore with
# archive-get - and the errors a user meets: a wrong secret, a missing bucket,
# a credentials file readable by others, no credentials at all.
#
# Credentials: the flow's URI names a 0600 credentials file (credentials-file=),
# so archive_command and restore_command need nothing in PostgreSQL's
# environment; a second cluster uses AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26940; P2=26941; R=26942
RGW_PORT=${TB_RGW_PORT:-26950}          # and RGW_PORT+1 for its monitor
RGW="$REPO_ROOT/test/fixtures/rgw.sh"
RGWD="$T/rgw"
UNIT="${TB_BUILD_DIR:-$REPO_ROOT/build}/test/unit/storage/test_storage_s3"
AK="tb-it-$RANDOM$RANDOM"
SK="tb-secret-$RANDOM$RANDOM$RANDOM-never-logged"

if ! command -v radosgw >/dev/null; then
	not_ok "radosgw is installed" "run scripts/setup.sh (it installs ceph-mon ceph-osd radosgw ceph-common)"
	exit 1
fi

# stop the S3 server whatever happens, before lib.sh removes $T
trap '_rc=$?; set +e; "$RGW" stop "$RGWD" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT

t0=$SECONDS
if ! RGW_FIXTURE_ACCESS_KEY=$AK RGW_FIXTURE_SECRET_KEY=$SK "$RGW" start "$RGWD" "$RGW_PORT" >"$T/log/rgw.txt" 2>&1; then
	not_ok "RGW starts" "$(tail -n 20 "$T/log/rgw.txt")"
	exit 1
fi
ok "RGW up on 127.0.0.1:$RGW_PORT in $((SECONDS - t0)) s"
EP="http://127.0.0.1:$RGW_PORT"

# s3curl METHOD PATH [curl args...]: a signed request to RGW (curl's own SigV4)
s3curl() {
	local method=$1 path=$2; shift 2
	curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$method" "$EP/$path" "$@"
}
assert_eq "bucket tbtest created" 200 "$(s3curl PUT tbtest -o /dev/null -w '%{http_code}')"

# ---- the conformance suite and S3's own unit tests, against RGW
if [[ -x $UNIT ]]; then
	t1=$SECONDS
	out=$(TB_S3_URL="s3://tbtest/unit?endpoint=$EP&region=us-east-1" TB_S3_KEY=$AK TB_S3_SECRET=$SK \
		timeout 600 "$UNIT" 2>&1) && rc=0 || rc=$?
	echo "$out" >"$T/log/test_storage_s3.txt"
	if [[ $rc -eq 0 ]]; then
		ok "storage conformance suite on S3 ($(grep -c '^\[       OK' <<<"$out") tests, $((SECONDS - t1)) s)"
	else
		not_ok "storage conformance suite on S3 (exit $rc)" "$(grep -E 'ERROR|FAILED' <<<"$out" | head -n 20)"
	fi
	assert_not_contains "the secret key is in no test output" "$out" "$SK"
else
	not_ok "unit test program $UNIT exists" "build it: ninja -C build"
fi

# ---- credentials: a 0600 file owned by the user tenback runs as
CRED="$T/s3.cred"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >"$CRED"
chown "$PG_USER:" "$CRED"; chmod 600 "$CRED"
BASE="s3://tbtest/it?endpoint=$EP&region=us-east-1&uri-style=path"
SURI="$BASE&credentials-file=$CRED"

pg_create src $P checksums=on
tb_must "cluster add with an s3:// storage and --storage-credentials" cluster add src \
	--conninfo "$(conninfo src)" --pgdata "${PG_DATA[src]}" --storage "$BASE" --storage-credentials "$CRED"
# From here on the key pair exists only sealed in the metadata: archive_command
# (archive-push), backup, verify and restore (archive-get) must use it from there.
mv "$CRED" "$CRED.away"
assert_eq "the metadata keeps the storage keys sealed, not in clear" 0 \
	"$(grep -c -aF -- "$SK" "$TB_HOME/metadata.db" || true)"
assert_eq "the metadata holds a sealed key pair for the cluster" 1 \
	"$(runuser -u "$PG_USER" -- sqlite3 "$TB_HOME/metadata.db" "SELECT count(*) FROM cluster WHERE name = 'src' AND length(storage_secret) > 40" 2>/dev/null || echo sqlite3-missing)"
psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 3
psql_q postgres "CREATE TABLE notes AS SELECT g AS id, repeat('n', g % 300) AS txt FROM generate_series(1, 20000) g"

wal_switch_and_wait $P
assert_eq "archive_command (archive-push to S3) never failed" 0 \
	"$(psql_q postgres "SELECT failed_count FROM pg_stat_archiver")"

workload_start shop 600
sleep 2
tb_must "backup to S3" backup --cluster src --tenant '*'
set_id=$(last_line "$TB_OUT")
assert_match "backup prints a set id" "$set_id" '^[0-9]{8}-[0-9]{6}F$'
sleep 1
workload_stop
wal_switch_and_wait $P

# (curl signs the query as given: it must be canonical, sorted)
keys=$(s3curl GET "tbtest?list-type=2&max-keys=1000&prefix=it%2Ftenback%2F")
assert_contains "backup objects are in the bucket under the prefix" "$keys" "<Key>it/tenback/"
sysid=$(sed -n 's|.*<Key>it/tenback/\([0-9]*\)/.*|\1|p' <<<"$keys")
wal=$(s3curl GET "tbtest?list-type=2&max-keys=5&prefix=it%2Ftenback%2F$sysid%2Farchive%2F")
assert_contains "archived WAL is in the bucket" "$wal" "<Key>it/tenback/$sysid/archive/"
uploads=$(s3curl GET "tbtest?uploads=")
assert_not_contains "no multipart upload left pending" "$uploads" "<Upload>"

tb_ok "verify the set in S3" verify --cluster src --tenant '*' --set "$set_id" || true

if tb_restore_start src '*' "$set_id" "$T/r" $R; then
	assert_eq "same databases" "$(databases $P | xargs)" "$(databases $R | xargs)"
	for db in $(databases $P); do
		compare_tenant "every table of $db equals the source" $P $R "$db"
	done
	check_invariant $R shop
	assert_ok "clean stop of the restored instance" pg_stop "$T/r"
fi

mv "$CRED.away" "$CRED"

# secrets stay out of the metadata, the logs and the command output
leak=$(grep -rlF -- "$SK" "$TB_HOME" "$T/log" "$T/r" 2>/dev/null | grep -v '/log/rgw.txt$' || true)
assert_eq "the secret key is in no file tenback wrote" "" "$leak"

# ---- the errors a user meets (a second instance; cluster add fails before it stores anything)
pg_create other $P2 checksums=on
add_other() { tb_run cluster add other --conninfo "$(conninfo other)" --pgdata "${PG_DATA[other]}" --storage "$1"; }

printf 'aws_access_key_id = %s\naws_secret_access_key = wrong\n' "$AK" >"$T/bad.cred"
chown "$PG_USER:" "$T/bad.cred"; chmod 600 "$T/bad.cred"
add_other "$BASE&credentials-file=$T/bad.cred"
assert_ne "a wrong secret key: cluster add fails" 0 "$TB_RC"
assert_contains "a wrong secret key: \"credentials were refused\"" "$TB_ERR" "credentials were refused"
assert_contains "a wrong secret key: names SignatureDoesNotMatch" "$TB_ERR" "SignatureDoesNotMatch"

add_other "s3://tb-no-such-bucket/x?endpoint=$EP&region=us-east-1&credentials-file=$CRED"
assert_ne "a missing bucket: cluster add fails" 0 "$TB_RC"
assert_contains "a missing bucket: says the bucket does not exist" "$TB_ERR" \
	'bucket "tb-no-such-bucket" does not exist'

chmod 644 "$CRED"
add_other "$SURI"
assert_ne "a credentials file readable by others: refused" 0 "$TB_RC"
assert_contains "a credentials file readable by others: says so" "$TB_ERR" "readable by others"
chmod 600 "$CRED"

add_other "$BASE"
assert_ne "no credentials at all: cluster add fails" 0 "$TB_RC"
assert_contains "no credentials at all: says so" "$TB_ERR" "no S3 credentials"

# the environment's keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
tb_ok "cluster add with keys from the environment" cluster add other --conninfo "$(conninfo other)" \
	--pgdata "${PG_DATA[other]}" --storage "s3://tbtest/env?endpoint=$EP&region=us-east-1" || true
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
