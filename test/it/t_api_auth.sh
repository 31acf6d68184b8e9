#!/usr/bin/env bash
# Authorization and hostile input against the daemon (issue 4):
#   - no session: 401; viewer starting a backup: 403; operator starts a backup but may
#     not register a cluster (403); wrong password: 401, and after 5 failures 429 (even
#     with the right password); a session cookie without the CSRF header on POST: 403;
#   - malformed JSON, an unknown field, a wrong type: 400 with {"error": {code, message}};
#     a body over 64 KiB: 413; path traversal in names and in console paths: 4xx, nothing
#     of /etc served; the daemon keeps serving;
#   - storage secrets never appear in a response, in the daemon's log (at debug level)
#     or in any file of the tenback home (metadata.db and its WAL);
#   - the audit log (admins only) names who started, was refused or failed to log on,
#     with the task made, newest first, pages with limit/before, and holds no password.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=26641; HTTP=26643
AK=AKIA-SECRET-123; SK=SK-SECRET-456

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q shop "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g"
wal_switch_and_wait $P

user_add admin 'admin-pw-3' admin
user_add oper 'oper-pw-3' operator
user_add view 'view-pw-3' viewer
user_add victim 'victim-pw-3' viewer
DAEMON_GLOBAL_OPTS=(--log-level debug)   # the secrets must not appear even at debug level
install -d -m 755 "$T/web"
echo '<html>tenback</html>' >"$T/web/index.html"
daemon_start $HTTP --web "$T/web"

ADMIN=$(api_token admin 'admin-pw-3')
OPER=$(api_token oper 'oper-pw-3')
VIEW=$(api_token view 'view-pw-3')
API_TOKEN=$ADMIN
shop=$(tenant_id src shop)
assert_match "tenant shop has an id" "$shop" '^src:[0-9]+$'

# ---- authentication and roles
API_TOKEN="" api GET /api/v1/tenants
assert_eq "no credentials: GET tenants is 401" 401 "$API_STATUS"
assert_api_error "401 answer"
API_TOKEN="" api POST "/api/v1/tenants/$shop/backups" '{"mode": "full"}'
assert_eq "no credentials: POST backups is 401" 401 "$API_STATUS"
API_TOKEN="not-a-token" api GET /api/v1/tenants
assert_eq "a made-up bearer token: 401" 401 "$API_STATUS"

API_TOKEN=$VIEW api GET /api/v1/tenants
assert_eq "viewer may list tenants" 200 "$API_STATUS"
API_TOKEN=$VIEW api POST "/api/v1/tenants/$shop/backups" '{"mode": "full"}'
assert_eq "viewer starting a backup: 403" 403 "$API_STATUS"
assert_api_error "403 answer"
API_TOKEN=$VIEW api GET "/api/v1/tenants/$shop/tasks"
assert_eq "the viewer's refused backup made no task" 0 "$(printf '%s' "$API_BODY" | jq 'length' 2>&1)"

API_TOKEN=$OPER api POST "/api/v1/tenants/$shop/backups" '{"mode": "full"}'
assert_eq "operator starts a backup: 202" 202 "$API_STATUS"
op_task=$(printf '%s' "$API_BODY" | jq -r '.id')
API_TOKEN=$OPER api POST /api/v1/clusters \
	"$(jq -nc --arg c "$(conninfo src)" --arg d "${PG_DATA[src]}" '{name: "other", conninfo: $c, pgdata: $d, storage: "file:///tmp/x"}')"
assert_eq "operator registering a cluster: 403" 403 "$API_STATUS"
API_TOKEN=$OPER api POST /api/v1/clusters/src/status '{"status": "UPGRADING"}'
assert_eq "operator changing a cluster's status: 403" 403 "$API_STATUS"
API_TOKEN=$OPER api POST /api/v1/scheduler/run '{}'
assert_eq "operator running the scheduler: 403" 403 "$API_STATUS"
task_wait "$op_task" 120 || true
assert_eq "the operator's backup SUCCEEDED" SUCCEEDED "$(task_status)"

# ---- log on: wrong passwords, rate limit
for i in 1 2 3 4 5; do
	API_JAR="$T/log/victim.txt" api_s POST /api/v1/sessions '{"username": "victim", "password": "wrong"}'
	assert_eq "wrong password #$i: 401" 401 "$API_STATUS"
done
assert_api_error "wrong password answer"
API_JAR="$T/log/victim.txt" api_s POST /api/v1/sessions '{"username": "victim", "password": "wrong"}'
assert_eq "6th log-on after 5 failures: 429" 429 "$API_STATUS"
assert_api_error "429 answer"
API_JAR="$T/log/victim.txt" api_s POST /api/v1/sessions '{"username": "victim", "password": "victim-pw-3"}'
assert_eq "even the right password is refused while rate-limited: 429" 429 "$API_STATUS"
API_JAR="$T/log/nobody.txt" api_s POST /api/v1/sessions '{"username": "nobody", "password": "x"}'
assert_eq "unknown user: 401 (like a wrong password)" 401 "$API_STATUS"
assert_true "other users still log on" api_logon oper 'oper-pw-3'

# ---- session cookie and CSRF
api_logon admin 'admin-pw-3'
assert_eq "admin logs on" 200 "$API_STATUS"
assert_contains "the session cookie is HttpOnly" "$(grep tb_session "$API_JAR" || true)" "#HttpOnly_"
API_CSRF="" api_s GET /api/v1/me
assert_eq "session without CSRF header: GET works" 200 "$API_STATUS"
API_CSRF="" api_s POST /api/v1/tokens '{"label": "x"}'
assert_eq "session without CSRF header: POST is 403" 403 "$API_STATUS"
assert_api_error "CSRF refusal"
API_CSRF="0123456789abcdef0123456789abcdef" api_s POST /api/v1/tokens '{"label": "x"}'
assert_eq "session with a wrong CSRF token: POST is 403" 403 "$API_STATUS"
api_s POST /api/v1/tokens '{"label": "x"}'
assert_eq "session with its CSRF token: POST works" 201 "$API_STATUS"

# ---- hostile bodies
api_expect "malformed JSON: 400" 400 POST "/api/v1/tenants/$shop/backups" '{"mode": "full"' && assert_api_error "malformed JSON"
api_expect "not an object: 400" 400 POST "/api/v1/tenants/$shop/backups" '["full"]' && assert_api_error "not an object"
api_expect "unknown field: 400" 400 POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "speed": "max"}' \
	&& assert_api_error "unknown field"
assert_contains "unknown field: the message names it" "$(printf '%s' "$API_BODY" | jq -r '.error.message')" speed
api_expect "wrong type: 400" 400 POST "/api/v1/tenants/$shop/backups" '{"mode": 5}' && assert_api_error "wrong type"
assert_contains "wrong type: the message names the field" "$(printf '%s' "$API_BODY" | jq -r '.error.message')" mode
api_expect "missing field: 400" 400 POST "/api/v1/tenants/$shop/backups" '{}' && assert_api_error "missing field"
api_expect "bad mode: 400" 400 POST "/api/v1/tenants/$shop/backups" '{"mode": "partial"}' && assert_api_error "bad mode"
api_expect "duplicate key: 400" 400 POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "mode": "incremental"}'
api_expect "NUL byte escaped in a name: 4xx" "4.." POST /api/v1/storages '{"name": "a\u0000b", "uri": "file:///tmp/x"}'
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
api_expect "a body over 64 KiB: 413" 413 POST /api/v1/storages "{\"name\": \"big\", \"uri\": \"file:///$big\"}" \
	&& assert_api_error "413 answer"
deep=$(printf '[%.0s' $(seq 1 5000))
api_expect "5000 nested arrays: 400" 400 POST /api/v1/storages "$deep"
api_expect "a tenant id that is no id: 400" 400 GET "/api/v1/tenants/nonsense"
api_expect "a task id that is no number: 400" 400 GET "/api/v1/tasks/12abc"
api_expect "an unknown task: 404" 404 GET "/api/v1/tasks/999999"
api_expect "an unknown route: 404" 404 GET "/api/v1/nothing"

# ---- path traversal
api_expect "storage name ..%2F..%2Fetc: 4xx" "4.." DELETE "/api/v1/storages/..%2F..%2Fetc"
api_expect "storage name with encoded slash in Test: 4xx" "4.." POST "/api/v1/storages/..%2F..%2Fetc/test"
api_expect "cluster name ../../etc: 4xx" "4.." GET "/api/v1/clusters/..%2F..%2Fetc%2Fpasswd"
api_expect "tenant id with traversal: 4xx" "4.." GET "/api/v1/tenants/..%2F..%2Fetc%2Fpasswd"
api_expect "strategy of a traversal tenant: 4xx" "4.." PUT "/api/v1/tenants/..%2Fsrc:1/strategy" \
	'{"schedule": {"kind": "week", "days": {"mon": "FULL"}, "time": "02:00"}}'
api_expect "storage config named ../x: 400" 400 POST /api/v1/storages '{"name": "../x", "uri": "file:///tmp/x"}'
api_expect "cluster named ../x: 400" 400 POST /api/v1/clusters \
	"$(jq -nc --arg c "$(conninfo src)" --arg d "${PG_DATA[src]}" '{name: "../x", conninfo: $c, pgdata: $d, storage: "file:///tmp/x"}')"
for p in "/web/../../etc/passwd" "/web/..%2F..%2Fetc%2Fpasswd" "/web/%2e%2e/%2e%2e/etc/passwd" \
	"/../../etc/passwd" "/web//etc/passwd" "/web/....//....//etc/passwd"; do
	API_TOKEN="" api GET "$p"
	if [[ $API_STATUS =~ ^4..$ ]] && ! grep -q 'root:' <<<"$API_BODY"; then ok "GET $p: $API_STATUS, nothing served"
	else not_ok "GET $p: 4xx, nothing served" "HTTP $API_STATUS" "$(head -c 300 <<<"$API_BODY")"; fi
done
API_TOKEN="" api GET /
assert_eq "the console's index is still served" "200 <html>tenback</html>" "$API_STATUS $API_BODY"

# ---- secrets
api POST /api/v1/storages "$(jq -nc --arg u "file://$T/sstore" --arg a "$AK" --arg s "$SK" \
	'{name: "sec", uri: $u, access_key: $a, secret_key: $s}')"
assert_eq "storage with secrets created: 201" 201 "$API_STATUS"
assert_eq "it says it has a secret" true "$(printf '%s' "$API_BODY" | jq -r '.has_secret')"
api GET /api/v1/storages
assert_eq "GET storages lists it" true "$(printf '%s' "$API_BODY" | jq -r 'any(.[]; .name == "sec" and .has_secret)')"
# requests that fail with the secret inside: the error must not echo it
api POST /api/v1/storages "{\"name\": \"sec2\", \"uri\": \"file:///tmp/x\", \"secret_key\": \"$SK\""
assert_eq "malformed body with a secret: 400" 400 "$API_STATUS"
api POST /api/v1/storages "{\"name\": \"sec2\", \"uri\": \"file:///tmp/x\", \"secret_key\": \"$SK\", \"extra\": \"$AK\"}"
assert_eq "unknown field next to a secret: 400" 400 "$API_STATUS"
api POST /api/v1/storages "{\"name\": \"sec2\", \"uri\": \"ftp://x\", \"access_key\": \"$AK\", \"secret_key\": \"$SK\"}"
assert_eq "bad URI next to a secret: 400" 400 "$API_STATUS"
api POST /api/v1/storages "{\"name\": \"sec 2\", \"uri\": \"file:///tmp/x\", \"access_key\": 5, \"secret_key\": \"$SK\"}"
assert_eq "wrong-typed access key next to a secret: 400" 400 "$API_STATUS"
api POST /api/v1/storages/sec/test
assert_eq "Test of the storage with secrets answers" 200 "$API_STATUS"
api DELETE "/api/v1/storages/sec"
assert_eq "storage with secrets deleted" 204 "$API_STATUS"
api POST /api/v1/storages "$(jq -nc --arg u "file://$T/sstore" --arg a "$AK" --arg s "$SK" \
	'{name: "sec", uri: $u, access_key: $a, secret_key: $s}')"
assert_eq "created again (to be in metadata.db at the end)" 201 "$API_STATUS"

# ---- sessions and tokens: admins list and revoke them
user_add leaver 'leaver-pw-3' operator
LEAVER=$(api_token leaver 'leaver-pw-3' ci-job)
LJAR="$T/log/leaver.txt"
API_JAR=$LJAR api_logon leaver 'leaver-pw-3'
LCSRF=$API_CSRF
API_JAR=$LJAR API_CSRF=$LCSRF api_s GET /api/v1/me
assert_eq "the leaver's session works" "200 leaver" "$API_STATUS $(printf '%s' "$API_BODY" | jq -r '.user' 2>&1)"
API_TOKEN=$OPER api GET /api/v1/sessions
assert_eq "an operator may not list sessions: 403" 403 "$API_STATUS"
API_TOKEN=$VIEW api DELETE "/api/v1/users/leaver/sessions"
assert_eq "a viewer may not revoke sessions: 403" 403 "$API_STATUS"
api GET /api/v1/sessions
assert_eq "an admin lists the sessions and tokens" 200 "$API_STATUS"
SESSIONS=$API_BODY
# (api_token logs on to make the token: a session of its own)
assert_eq "the leaver has two sessions and a token" "session session token" \
	"$(printf '%s' "$SESSIONS" | jq -r '[.[] | select(.user == "leaver") | .kind] | sort | join(" ")' 2>&1)"
assert_eq "the admin's own token is marked current" 1 \
	"$(printf '%s' "$SESSIONS" | jq '[.[] | select(.current)] | length' 2>&1)"
assert_eq "ids are 16 hex digits" true "$(printf '%s' "$SESSIONS" | jq 'all(.[]; .id | test("^[0-9a-f]{16}$"))' 2>&1)"
assert_eq "no token, no CSRF token in the listing" 0 \
	"$(grep -c -F -e "$LEAVER" -e "$LCSRF" <<<"$SESSIONS" || true)"
api GET "/api/v1/sessions?user=leaver"
assert_eq "?user= lists one user's" 3 "$(printf '%s' "$API_BODY" | jq 'length' 2>&1)"
tid=$(printf '%s' "$SESSIONS" | jq -r '.[] | select(.user == "leaver" and .kind == "token") | .id')
api_expect "a malformed id: 400" 400 DELETE "/api/v1/sessions/xyz"
api_expect "an unknown id: 404" 404 DELETE "/api/v1/sessions/0000000000000000"
api DELETE "/api/v1/sessions/$tid"
assert_eq "the admin revokes the leaver's token" "200 token leaver" \
	"$API_STATUS $(printf '%s' "$API_BODY" | jq -r '.revoked.kind + " " + .revoked.user' 2>&1)"
API_TOKEN=$LEAVER api GET /api/v1/me
assert_eq "the revoked token is refused: 401" 401 "$API_STATUS"
API_JAR=$LJAR API_CSRF=$LCSRF api_s GET /api/v1/me
assert_eq "the leaver's session still works" 200 "$API_STATUS"
api DELETE "/api/v1/users/leaver/sessions"
assert_eq "the admin revokes every session of the leaver" "200 2" \
	"$API_STATUS $(printf '%s' "$API_BODY" | jq -r '.revoked' 2>&1)"
API_JAR=$LJAR API_CSRF=$LCSRF api_s GET /api/v1/me
assert_eq "the revoked session is refused: 401" 401 "$API_STATUS"
API_JAR=$LJAR API_CSRF=$LCSRF api_s POST "/api/v1/tenants/$shop/backups" '{"mode": "full"}'
assert_eq "and may not start a backup: 401" 401 "$API_STATUS"
api_expect "an unknown user: 404" 404 DELETE "/api/v1/users/nobody/sessions"
# the CLI: list, revoke a user's, a new password ends the sessions, remove
LEAVER=$(api_token leaver 'leaver-pw-3' again)
tb_ok "user sessions lists them" user sessions --user leaver --output json
assert_eq "the CLI lists the leaver's new token and session" "session token" \
	"$(printf '%s' "$TB_OUT" | jq -r '[.[].kind] | sort | join(" ")' 2>&1)"
tb_ok "user revoke NAME" user revoke leaver
assert_contains "it says how many" "$TB_OUT" '2 session(s) and token(s) of user "leaver" revoked'
API_TOKEN=$LEAVER api GET /api/v1/me
assert_eq "a token revoked by the CLI is refused: 401" 401 "$API_STATUS"
LEAVER=$(api_token leaver 'leaver-pw-3' third)
run_passwd() { printf '%s\n' 'leaver-pw-4' | tb user passwd leaver; }
assert_ok "user passwd with the new password on standard input" run_passwd
API_TOKEN=$LEAVER api GET /api/v1/me
assert_eq "a new password ends the tokens: 401" 401 "$API_STATUS"
API_JAR=$LJAR api_s POST /api/v1/sessions '{"username": "leaver", "password": "leaver-pw-3"}'
assert_eq "the old password is refused" 401 "$API_STATUS"
API_JAR=$LJAR api_s POST /api/v1/sessions '{"username": "leaver", "password": "leaver-pw-4"}'
assert_eq "the new one works" 200 "$API_STATUS"
tb_ok "user remove" user remove leaver
API_JAR=$LJAR api_s GET /api/v1/me
assert_eq "a removed user's session is refused: 401" 401 "$API_STATUS"
tb_fails "revoking a removed user's sessions: not found" nz user revoke leaver
assert_contains "it names the user" "$TB_ERR" 'user "leaver"'

# ---- the audit log: who did what, allowed or not; for admins only; no password in it
API_TOKEN=$VIEW api GET /api/v1/audit
assert_eq "a viewer may not read the audit log: 403" 403 "$API_STATUS"
API_TOKEN=$OPER api GET /api/v1/audit
assert_eq "an operator may not read the audit log: 403" 403 "$API_STATUS"
api GET "/api/v1/audit?limit=1000"
assert_eq "an admin reads the audit log" 200 "$API_STATUS"
AUDIT=$API_BODY
aud() { printf '%s' "$AUDIT" | jq -r "$1" 2>&1; }
assert_eq "the operator's backup start, with the task it made" "oper operator ok task $op_task" \
	"$(aud "[.[] | select(.action == \"backup.start\" and .user == \"oper\")] | last | \"\\(.user) \\(.role) \\(.outcome) \\(.detail)\"")"
assert_eq "the viewer's refused backup start" "view forbidden" \
	"$(aud "[.[] | select(.action == \"backup.start\" and .user == \"view\")] | last | \"\\(.user) \\(.outcome | split(\":\")[0])\"")"
assert_true "failed log-ons of victim are there, with the name they tried" \
	test "$(aud '[.[] | select(.action == "logon" and .user == "victim" and (.outcome | startswith("ok") | not))] | length')" -ge 5
assert_eq "the operator's refused cluster registration" "forbidden" \
	"$(aud '[.[] | select(.action == "cluster.create" and .user == "oper")] | last | .outcome | split(":")[0]')"
assert_eq "every API entry has a time, a client and an object" 0 \
	"$(aud '[.[] | select((.user | startswith("os:") | not) and (.at == null or .client == null or .object == null))] | length')"
assert_true "the CLI's user additions are there too, by the OS user" \
	test "$(aud '[.[] | select(.action == "cli.user.add" and (.user | startswith("os:")))] | length')" -ge 4
assert_eq "the admin's revocations" "session.revoke user.sessions.revoke" \
	"$(aud '[.[] | select(.user == "admin" and (.action | endswith("revoke")) and .outcome == "ok") | .action] | reverse | join(" ")')"
assert_true "the CLI's revoke, passwd and remove" \
	test "$(aud '[.[] | select(.action == "cli.user.revoke" or .action == "cli.user.passwd" or .action == "cli.user.remove")] | length')" -ge 3
assert_eq "entries are newest first" true "$(aud '[.[].id] == ([.[].id] | sort | reverse)')"
for pw in oper-pw-3 victim-pw-3 admin-pw-3 "$SK"; do
	assert_eq "\"$pw\" is not in the audit log" 0 "$(grep -c -F -- "$pw" <<<"$AUDIT" || true)"
done
api GET "/api/v1/audit?limit=2"
assert_eq "limit pages the log" 2 "$(printf '%s' "$API_BODY" | jq 'length' 2>&1)"
before=$(printf '%s' "$API_BODY" | jq -r '.[1].id')
api GET "/api/v1/audit?limit=1&before=$before"
assert_eq "before= gives the next page" "$((before - 1))" "$(printf '%s' "$API_BODY" | jq -r '.[0].id' 2>&1)"

# ---- the daemon still serves
api GET /api/v1/me
assert_eq "the daemon still answers after all of that" "200 admin" "$API_STATUS $(printf '%s' "$API_BODY" | jq -r '.user')"
assert_true "the daemon process still runs" daemon_running
assert_ok "the daemon stops on SIGTERM" daemon_stop

for s in "$AK" "$SK"; do
	assert_eq "\"$s\" in no response (transcript)" 0 "$(grep -c -F -- "$s" "$API_TRANSCRIPT" || true)"
	assert_eq "\"$s\" not in the daemon's log" 0 "$(grep -c -F -- "$s" "$DAEMON_LOG" || true)"
	assert_eq "\"$s\" not in metadata.db" 0 "$(grep -c -a -F -- "$s" "$TB_HOME/metadata.db" || true)"
	assert_eq "\"$s\" in no file of the tenback home" "" "$(grep -r -l -a -F -- "$s" "$TB_HOME" || true)"
done
assert_true "the daemon's log is not empty (debug level)" test -s "$DAEMON_LOG"
