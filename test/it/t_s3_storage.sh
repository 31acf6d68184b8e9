#!/usr/bin/env bash
# S3 storage against a real, signature-checking S3 server (Ceph RGW started by
# test/fixtures/rgw.sh on loopback): the storage conformance suite
# (test_storage_s3), then a whole tenback flow through s3:// - cluster add,
# WAL archived by archive_command (archive-push), backup, verify, restore with
# archive-get - and the errors a user meets: a wrong secret, a missing bucket,
# a credentials file readable by others, no credentials at all.
# Then TLS: the same gateway also serves https:// with a certificate from a
# throwaway CA; tenback refuses it without ca-file=, accepts it with it, goes
# on without checks (and says so) with verify-tls=false, and runs a whole
# flow (cluster add, archive-push, backup, verify, restore) over TLS.
#
# Credentials: the flow's URI names a 0600 credentials file (credentials-file=),
# so archive_command and restore_command need nothing in PostgreSQL's
# environment; a second cluster uses AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=26940; P2=26941; R=26942
RGW_PORT=${TB_RGW_PORT:-26950}          # and RGW_PORT+1 for its monitor
RGW_TLS_PORT=${TB_RGW_TLS_PORT:-26952}  # the same gateway over TLS
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

# a throwaway CA and a server certificate for IP 127.0.0.1 (the CN matches nothing:
# only the subjectAltName can), and a second CA that signed nothing here
TLS="$T/tls"
install -d -m 755 "$TLS"
if ! (
	set -e; cd "$TLS"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tenback test CA" -keyout ca.key -out ca.pem
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" -keyout other-ca.key -out other-ca.pem
	openssl req -newkey rsa:2048 -nodes -subj "/CN=tenback test gateway" -keyout server.key -out server.csr
	printf '%s\n' 'subjectAltName = IP:127.0.0.1' 'basicConstraints = critical, CA:FALSE' \
		'keyUsage = critical, digitalSignature, keyEncipherment' 'extendedKeyUsage = serverAuth' >server.ext
	openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-extfile server.ext -out server.pem
	chmod 600 ./*.key; chmod 644 ca.pem other-ca.pem server.pem
) >"$T/log/openssl.txt" 2>&1; then
	not_ok "a throwaway CA and server certificate" "$(tail -n 20 "$T/log/openssl.txt")"
	exit 1
fi

t0=$SECONDS
if ! RGW_FIXTURE_ACCESS_KEY=$AK RGW_FIXTURE_SECRET_KEY=$SK RGW_FIXTURE_TLS_PORT=$RGW_TLS_PORT \
	RGW_FIXTURE_TLS_CERT="$TLS/server.pem" RGW_FIXTURE_TLS_KEY="$TLS/server.key" \
	"$RGW" start "$RGWD" "$RGW_PORT" >"$T/log/rgw.txt" 2>&1; then
	not_ok "RGW starts" "$(tail -n 20 "$T/log/rgw.txt")"
	exit 1
fi
ok "RGW up on 127.0.0.1:$RGW_PORT, TLS on $RGW_TLS_PORT, in $((SECONDS - t0)) s"
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

# ---- tenback storage test: each check reported on its own, from the command line
tb_ok "storage test of the S3 URI passes" storage test "$SURI" || true
for c in endpoint credentials bucket clock write "read back" list delete; do
	assert_match "storage test reports the \"$c\" check ok" "$TB_OUT" "(^|"$'\n'")$c +ok "
done
assert_contains "storage test ends with a verdict" "$TB_OUT" "storage test passed"
tb_fails "storage test with a wrong secret fails" 1 storage test "$BASE&credentials-file=$T/bad.cred"
assert_match "it fails at the credentials check" "$TB_OUT" "(^|"$'\n'")credentials +FAILED "
assert_contains "and says the credentials were refused" "$TB_ALL" "credentials were refused"
assert_not_contains "and writes nothing (no write check)" "$TB_OUT" "write "
tb_fails "storage test of a missing bucket fails" 1 storage test \
	"s3://tb-no-such-bucket/x?endpoint=$EP&region=us-east-1&credentials-file=$CRED"
assert_match "it fails at the bucket check" "$TB_OUT" "(^|"$'\n'")bucket +FAILED "
tb_run storage test "$SURI" --output json
assert_eq "storage test --output json: ok, and its checks" "true true" \
	"$(printf '%s' "$TB_OUT" | jq -r '"\(.ok) \(.checks | length >= 9)"' 2>&1)"
# a named configuration keeps its keys sealed and tests with them
tb_ok "storage add: a named configuration from a credentials file" storage add s3cfg --uri "$BASE" \
	--storage-credentials "$CRED" || true
assert_eq "its secret is sealed, not in clear, in the metadata" 0 "$(grep -c -aF -- "$SK" "$TB_HOME/metadata.db" || true)"
tb_ok "storage test of the configuration by name (its sealed keys)" storage test s3cfg || true
tb_ok "storage list shows it with keys" storage list || true
assert_match "storage list: name, keys, URI" "$TB_OUT" "s3cfg +keys +s3://tbtest/it"
tb_ok "storage remove" storage remove s3cfg || true

# ---- TLS: the same gateway on https://127.0.0.1:$RGW_TLS_PORT, certified by the throwaway CA
TEP="https://127.0.0.1:$RGW_TLS_PORT"
TBASE="s3://tbtest/tls?endpoint=$TEP&region=us-east-1&uri-style=path&credentials-file=$CRED"
assert_eq "the credentials file is back in place, 0600, owned by $PG_USER" "600 $PG_USER" "$(stat -c '%a %U' "$CRED")"

# curl: the port speaks TLS, and only the throwaway CA vouches for its certificate,
# so nothing below can pass over plain HTTP or on the system's CAs by mistake
assert_eq "curl --cacert: the TLS port answers over verified TLS" "https 200 0" \
	"$(curl -sS --cacert "$TLS/ca.pem" -o /dev/null -w '%{scheme} %{http_code} %{ssl_verify_result}' "$TEP/" 2>&1 | tr 'A-Z' 'a-z')"
rc=0; curl -sS -o /dev/null --max-time 10 "$TEP/" 2>"$T/log/curl-tls.txt" || rc=$?
assert_eq "curl without the CA: the certificate is not trusted (curl exit 60)" 60 "$rc"
assert_eq "curl: plain HTTP to the TLS port gets no HTTP answer" 000 \
	"$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://127.0.0.1:$RGW_TLS_PORT/" || true)"

# the storage test (doc/s3.md "Storage Test": endpoint, TLS, credentials, bucket, clock,
# write, read back, list, delete), as the console's Test runs it: POST /api/v1/storages/test,
# by a daemon (as postgres) on port $R, free again since the restored instance stopped
stest() { api POST /api/v1/storages/test "$(jq -nc --arg u "$1" '{uri: $u}')"; }
check() { printf '%s' "$API_BODY" | jq -r --arg n "$1" '.checks[] | select(.name == $n) | '"$2" 2>&1 || true; }
user_add admin 'admin-pw-1' admin
if daemon_start $R; then
	API_TOKEN=$(api_token admin 'admin-pw-1')

	stest "$TBASE"
	assert_eq "storage test over TLS without ca-file: answered" 200 "$API_STATUS"
	assert_eq "storage test over TLS without ca-file: fails" false "$(printf '%s' "$API_BODY" | jq -r .ok)"
	assert_eq "storage test without ca-file: the endpoint answers, the tls check fails" "true false" \
		"$(check endpoint .ok) $(check tls .ok)"
	assert_contains "storage test without ca-file: the certificate was not accepted" "$(check tls .message)" \
		"TLS certificate was not accepted"
	assert_contains "storage test without ca-file: says why (curl's reason)" "$(check tls .message)" \
		"SSL certificate problem"
	assert_contains "storage test without ca-file: hints at ca-file" "$(check tls .message)" "ca-file="
	assert_eq "storage test without ca-file: stops at tls (nothing written)" "" "$(check write .ok)"

	stest "$TBASE&ca-file=$TLS/other-ca.pem"
	assert_eq "storage test with the CA of someone else: the tls check fails" "false false" \
		"$(printf '%s' "$API_BODY" | jq -r .ok) $(check tls .ok)"

	stest "s3://tbtest/tls?endpoint=https://localhost:$RGW_TLS_PORT&region=us-east-1&uri-style=path&credentials-file=$CRED&ca-file=$TLS/ca.pem"
	assert_eq "storage test with the CA but a host name the certificate does not name: the tls check fails" \
		"false false" "$(printf '%s' "$API_BODY" | jq -r .ok) $(check tls .ok)"
	assert_contains "and the hint says the certificate does not name that host" "$(check tls .message)" \
		"does not name the host"

	stest "$TBASE&ca-file=$TLS/ca.pem"
	assert_eq "storage test with ca-file: ok" true "$(printf '%s' "$API_BODY" | jq -r .ok)"
	assert_eq "storage test with ca-file: every check ran and passed" \
		"endpoint:true tls:true clock:true credentials:true bucket:true open:true write:true read back:true list:true delete:true" \
		"$(printf '%s' "$API_BODY" | jq -r '[.checks[] | select(.name != "free space") | "\(.name):\(.ok)"] | join(" ")')"
	assert_eq "storage test with ca-file: no check failed" 0 \
		"$(printf '%s' "$API_BODY" | jq '[.checks[] | select(.ok | not)] | length')"
	assert_eq "storage test with ca-file: the certificate is verified" "the server's certificate is verified" \
		"$(check tls .message)"

	n_warn=$(grep -c "TLS certificate verification is off" "$DAEMON_LOG" || true)
	stest "$TBASE&verify-tls=false"
	assert_eq "storage test with verify-tls=false: ok" true "$(printf '%s' "$API_BODY" | jq -r .ok)"
	assert_eq "storage test with verify-tls=false: no check failed" 0 \
		"$(printf '%s' "$API_BODY" | jq '[.checks[] | select(.ok | not)] | length')"
	assert_contains "storage test with verify-tls=false: the tls check says there is no verification" \
		"$(check tls .message)" "without certificate verification"
	assert_eq "verify-tls=false: the daemon logs a warning that verification is off" 1 \
		"$(( $(grep -c "TLS certificate verification is off" "$DAEMON_LOG" || true) > n_warn ))"
	assert_ok "the daemon stops" daemon_stop
fi

# the command line: cluster add of the second instance over TLS (it was registered with
# the environment's keys above: remove it, its backups stay in the bucket)
tb_must "cluster remove other" cluster remove other

add_other "$TBASE"
assert_ne "cluster add over TLS without ca-file: fails" 0 "$TB_RC"
assert_contains "cluster add over TLS without ca-file: the certificate was not accepted" "$TB_ERR" \
	"TLS certificate was not accepted"
assert_contains "cluster add over TLS without ca-file: hints at ca-file" "$TB_ERR" "ca-file="

add_other "$TBASE&verify-tls=false"
assert_eq "cluster add with verify-tls=false: succeeds" 0 "$TB_RC"
assert_contains "cluster add with verify-tls=false: warns that verification is off" "$TB_ERR" \
	"TLS certificate verification is off"
tb_must "cluster remove other (verify-tls=false)" cluster remove other

tb_must "cluster add over TLS with ca-file" cluster add other --conninfo "$(conninfo other)" \
	--pgdata "${PG_DATA[other]}" --storage "$TBASE&ca-file=$TLS/ca.pem"
assert_not_contains "cluster add with ca-file: no warning about verification" "$TB_ERR" "verification is off"

# a small flow over TLS: archive-push (archive_command), backup, verify, restore with archive-get
psql_at $P2 postgres "CREATE TABLE tls_notes AS SELECT g AS id, md5(g::text) AS txt FROM generate_series(1, 5000) g"
failed0=$(psql_at $P2 postgres "SELECT failed_count FROM pg_stat_archiver")
assert_ok "a WAL segment archived over TLS" wal_switch_and_wait $P2
assert_eq "archive_command over TLS never failed" "$failed0" \
	"$(psql_at $P2 postgres "SELECT failed_count FROM pg_stat_archiver")"
if tb_ok "backup over TLS" backup --cluster other --tenant '*'; then
	tset=$(last_line "$TB_OUT")
	tb_ok "verify the set over TLS" verify --cluster other --tenant '*' --set "$tset" || true
	psql_at $P2 postgres "INSERT INTO tls_notes SELECT g, 'after' FROM generate_series(5001, 6000) g"
	wal_switch_and_wait $P2
	if tb_restore_start other '*' "$tset" "$T/r2" $R; then
		compare_tenant "the instance restored over TLS equals the source" $P2 $R postgres
		assert_ok "clean stop of the instance restored over TLS" pg_stop "$T/r2"
	fi
fi
tkeys=$(EP=$TEP s3curl GET "tbtest?list-type=2&max-keys=1000&prefix=tls%2Ftenback%2F" --cacert "$TLS/ca.pem")
assert_contains "the backup and the WAL went to the bucket under tls/ (listed over TLS)" "$tkeys" "<Key>tls/tenback/"
assert_contains "archived WAL under tls/" "$tkeys" "/archive/"

leak=$(grep -rlF -- "$SK" "$TB_HOME" "$T/log" "$T/r2" 2>/dev/null | grep -v '/log/rgw.txt$' || true)
assert_eq "the secret key is in no file tenback wrote (TLS part included)" "" "$leak"
