#!/usr/bin/env bash
# Alerts and notifications (issue 10, items 1 and 2), through a real daemon evaluating
# every second (tenback serve --alert-interval 1), a loopback webhook receiver
# (test/fixtures/webhook_receiver.py) and a loopback SMTP sink (test/fixtures/smtp_sink.py):
#   - channels: a webhook (all kinds) and an e-mail channel (wal_archive_lag only),
#     listed without their secrets; a webhook without a secret or with an unknown kind
#     is refused;
#   - Test (API and CLI): a signed test request reaches the receiver (the test computes
#     the HMAC-SHA256 of the exact body with openssl and compares it with
#     X-Tenback-Signature), a test mail reaches the sink with its subject;
#   - a backup to a storage made read-only fails: the alert backup_failed fires once,
#     shown by GET /api/v1/alerts and "tenback alert list"; the receiver answers 500
#     to the first delivery: the attempts show a failed try (HTTP 500) then a delivered
#     one (the retry), the delivered body signed; after the storage is writable again
#     and a backup succeeds, the alert resolves and a "resolved" event is delivered;
#   - WAL archiving made to fail (archive_command = 'false') with a strategy threshold
#     of 3 s: wal_archive_lag fires with OCP's message ("A log backup is delayed by N
#     seconds, exceeding the threshold of 3 seconds") and wal_archive_failing fires;
#     they fire once however many passes see them; the e-mail channel gets the lag
#     alert (subject and body checked), not the other kinds; archiving repaired, both
#     resolve;
#   - storage use over 1 byte and no backup within 1 s (strategy thresholds) fire, and
#     resolve with the default thresholds;
#   - the audit log names the new actions and never holds the secret; the alert
#     metric tenback_alerts_firing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=27300; HTTP=27390
RECV=$((27391 + ${TB_PORT_SHIFT:-0})); SMTP=$((27392 + ${TB_PORT_SHIFT:-0}))
FIX="$(cd "$(dirname "$0")/../fixtures" && pwd)"
SECRET='s3cret-hmac-key-for-tests-0123456789'
HOOKS="$T/hooks"; MAILS="$T/mails"
mkdir -p "$HOOKS" "$MAILS"

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
wal_switch_and_wait $P
user_add admin 'admin-pw-al' admin
user_add watcher 'watcher-pw-al' viewer

bg python3 "$FIX/webhook_receiver.py" "$RECV" "$HOOKS" >"$T/log/webhook.log" 2>&1
bg python3 "$FIX/smtp_sink.py" "$SMTP" "$MAILS" >"$T/log/smtp.log" 2>&1
wait_for "webhook receiver" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RECV" || { not_ok "webhook receiver starts"; exit 1; }
wait_for "SMTP sink" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP" || { not_ok "SMTP sink starts"; exit 1; }

daemon_start $HTTP --alert-interval 1
API_TOKEN=$(api_token admin 'admin-pw-al')
VIEW=$(api_token watcher 'watcher-pw-al')
shop=$(tenant_id src shop)
[[ -n $shop ]] || { not_ok "tenant shop has an id"; exit 1; }

# ---- channels
api_expect "a webhook channel without a secret is refused" 400 POST /api/v1/notification-channels \
	"$(jq -nc --arg u "http://127.0.0.1:$RECV/hook" '{name: "nosecret", type: "webhook", url: $u}')"
assert_contains "it says why" "$API_BODY" "needs a secret"
api_expect "a channel with an unknown kind is refused" 400 POST /api/v1/notification-channels \
	"$(jq -nc --arg u "http://127.0.0.1:$RECV/hook" --arg s "$SECRET" \
		'{name: "badkind", type: "webhook", url: $u, secret: $s, kinds: ["disk_on_fire"]}')"
assert_contains "it names the kind" "$API_BODY" 'unknown alert kind \"disk_on_fire\"'
api_expect "add webhook channel hooks" 201 POST /api/v1/notification-channels \
	"$(jq -nc --arg u "http://127.0.0.1:$RECV/hook" --arg s "$SECRET" '{name: "hooks", type: "webhook", url: $u, secret: $s}')"
assert_eq "it has a secret, not shown" "true" "$(printf '%s' "$API_BODY" | jq -r '.has_secret')"
assert_not_contains "the answer does not hold the secret" "$API_BODY" "$SECRET"
tb_ok "add e-mail channel mail (CLI), for wal_archive_lag only" notify channel add mail --type email \
	--url "smtp://127.0.0.1:$SMTP" --from tenback@example.com --to 'ops@example.com, dba@example.com' \
	--kinds wal_archive_lag
api_expect "list channels" 200 GET /api/v1/notification-channels
assert_eq "two channels" "hooks webhook,mail email" \
	"$(printf '%s' "$API_BODY" | jq -r '[.[] | "\(.name) \(.type)"] | join(",")')"
assert_not_contains "the list does not hold the secret" "$API_BODY" "$SECRET"
assert_eq "the mail channel takes wal_archive_lag only" '["wal_archive_lag"]' \
	"$(printf '%s' "$API_BODY" | jq -c '.[] | select(.name == "mail") | .kinds')"
API_TOKEN_SAVE=$API_TOKEN; API_TOKEN=$VIEW
api_expect "a viewer may not list the channels" 403 GET /api/v1/notification-channels
api_expect "a viewer may list the alerts" 200 GET /api/v1/alerts
API_TOKEN=$API_TOKEN_SAVE
assert_true "the secret is not stored in clear in the metadata" \
	bash -c "! grep -qa -- '$SECRET' '$TB_HOME/metadata.db' '$TB_HOME'/metadata.db-wal 2>/dev/null"

# check_signature N: req-N's X-Tenback-Signature is sha256=HMAC-SHA256(secret, body)
check_signature() {
	local n=$1 want got
	want="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$HOOKS/req-$n.body" | cut -d' ' -f1)"
	got=$(awk -F': ' 'tolower($1) == "x-tenback-signature" { print $2 }' "$HOOKS/req-$n.headers" | tr -d '\r')
	assert_eq "request $n: X-Tenback-Signature is the HMAC-SHA256 of its body" "$want" "$got"
	assert_match "request $n: X-Tenback-Timestamp is Unix seconds" \
		"$(awk -F': ' 'tolower($1) == "x-tenback-timestamp" { print $2 }' "$HOOKS/req-$n.headers" | tr -d '\r')" '^[0-9]{10}$'
}
n_requests() { [[ -f $HOOKS/requests.log ]] && wc -l <"$HOOKS/requests.log" || echo 0; }
# req_where JQ: the number of the last received request whose body matches the jq filter
req_where() {
	local n last=""
	for ((n = 1; n <= $(n_requests); n++)); do
		jq -e "$1" "$HOOKS/req-$n.body" >/dev/null 2>&1 && last=$n
	done
	echo "$last"
}

# ---- Test
api_expect "Test of hooks" 200 POST /api/v1/notification-channels/hooks/test
assert_eq "delivered" "true" "$(printf '%s' "$API_BODY" | jq -r '.delivered')"
# (an alert the daemon finds meanwhile may reach the receiver too: count the tests)
n_tests() { local n c=0; for ((n = 1; n <= $(n_requests); n++)); do
	jq -e '.event == "test"' "$HOOKS/req-$n.body" >/dev/null 2>&1 && c=$((c + 1)); done; echo "$c"; }
assert_eq "the receiver got one test request" 1 "$(n_tests)"
t1=$(req_where '.event == "test"')
assert_eq "it is a test event" "test test" "$(jq -r '"\(.event) \(.alert.kind)"' "$HOOKS/req-${t1:-1}.body")"
check_signature "${t1:-1}"
tb_ok "tenback notify test hooks" notify test hooks
assert_contains "it says delivered" "$TB_OUT" "delivered"
assert_eq "the receiver got a second test request" 2 "$(n_tests)"
check_signature "$(req_where '.event == "test"')"
tb_ok "tenback notify test mail" notify test mail
assert_true "the sink got a mail" test -f "$MAILS/mail-1.eml"
assert_contains "test mail subject" "$(grep -i '^Subject:' "$MAILS/mail-1.eml")" "[tenback] TEST test notification-channels/"
assert_contains "test mail body" "$(cat "$MAILS/mail-1.eml")" 'Test notification from tenback through channel "mail"'
assert_contains "both recipients in the envelope" "$(cat "$MAILS/mail-1.env")" "dba@example.com"
tb_fails "a test to a channel that does not exist fails" 1 notify test nosuch
assert_contains "it names the channel" "$TB_ERR" 'notification channel "nosuch" does not exist'

# ---- a failed backup: fired once, retried delivery, resolved
BAD="$T/bad-storage"
mkdir -p "$BAD"; chown "$PG_USER:" "$BAD"
api_expect "storage configuration bad" 201 POST /api/v1/storages "$(jq -nc --arg u "file://$BAD" '{name: "bad", uri: $u}')"
chmod 0555 "$BAD"
echo 500 >"$HOOKS/statuses"
before=$(n_requests)
api POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "storage": "bad"}'
TASK_ID=$(printf '%s' "$API_BODY" | jq -r '.id // empty')
task_wait "$TASK_ID" && assert_eq "the backup to the read-only storage fails" FAILED "$(task_status)"
failed_task=$TASK_ID

firing() { api GET "/api/v1/alerts?state=firing"; printf '%s' "$API_BODY" | jq -e --arg k "$1" 'any(.[]; .kind == $k)' >/dev/null; }
resolved() { api GET "/api/v1/alerts?state=all"; printf '%s' "$API_BODY" | jq -e --arg k "$1" 'any(.[]; .kind == $k and .state == "resolved")' >/dev/null; }
if wait_for "backup_failed fires" 30 firing backup_failed; then ok "alert backup_failed fires"; else not_ok "alert backup_failed fires"; fi
api GET "/api/v1/alerts?state=firing"
a=$(printf '%s' "$API_BODY" | jq -c '[.[] | select(.kind == "backup_failed")] | first')
assert_eq "its object is the tenant" "tenants/src/shop" "$(jq -r .object <<<"$a")"
assert_eq "it names the task" "$failed_task" "$(jq -r .task_id <<<"$a")"
assert_contains "its message" "$(jq -r .message <<<"$a")" "Backup task $failed_task of tenant \"shop\" of cluster \"src\" failed"
tb_ok "tenback alert list --output json" alert list --output json
assert_eq "the CLI shows it" "backup_failed tenants/src/shop firing" \
	"$(printf '%s' "$TB_OUT" | jq -r '.[] | select(.kind == "backup_failed") | "\(.kind) \(.object) \(.state)"')"
tb_ok "tenback alert list (text)" alert list
assert_contains "the text list shows it" "$TB_OUT" "backup_failed"

fired_delivered() {
	local n; n=$(req_where 'select(.event == "fired" and .alert.kind == "backup_failed")')
	[[ -n $n ]] && awk -v n="$n" '$1 == n && $3 == 200' "$HOOKS/requests.log" | grep -q .
}
if wait_for "the fired event is delivered after a retry" 30 fired_delivered; then
	ok "the webhook got the backup_failed alert (after a 500)"
else
	not_ok "the webhook got the backup_failed alert (after a 500)" "$(cat "$HOOKS/requests.log" 2>/dev/null)"
fi
n=$(req_where 'select(.event == "fired" and .alert.kind == "backup_failed")')
check_signature "$n"
assert_eq "the body carries the alert" "fired backup_failed tenants/src/shop hooks" \
	"$(jq -r '"\(.event) \(.alert.kind) \(.alert.object) \(.channel)"' "$HOOKS/req-$n.body")"
assert_eq "it is the second attempt" 2 "$(jq -r .attempt "$HOOKS/req-$n.body")"
delivery=$(jq -r .delivery "$HOOKS/req-$n.body")
api_expect "GET /api/v1/notification-attempts" 200 GET "/api/v1/notification-attempts?channel=hooks"
assert_eq "attempts of the delivery: failed (HTTP 500), then delivered" "1 failed 500 webhook answered HTTP 500|2 delivered 200 null" \
	"$(printf '%s' "$API_BODY" | jq -r --argjson d "$delivery" \
		'[.[] | select(.delivery_id == $d)] | sort_by(.attempt) | map("\(.attempt) \(.outcome) \(.http_status) \(.error)") | join("|")')"
tb_ok "tenback notify attempts --output json" notify attempts --channel hooks --output json
assert_eq "the CLI lists the same attempts" "failed,delivered" \
	"$(printf '%s' "$TB_OUT" | jq -r --argjson d "$delivery" '[.[] | select(.delivery_id == $d)] | sort_by(.attempt) | map(.outcome) | join(",")')"

sleep 3
api GET "/api/v1/alerts?state=all"
assert_eq "fired once: one backup_failed alert after several passes" 1 \
	"$(printf '%s' "$API_BODY" | jq '[.[] | select(.kind == "backup_failed")] | length')"
assert_eq "one fired delivery for it" 1 \
	"$(for ((k = 1; k <= $(n_requests); k++)); do jq -r 'select(.event == "fired" and .alert.kind == "backup_failed") | .delivery' "$HOOKS/req-$k.body"; done | sort -u | wc -l)"

chmod 0755 "$BAD"
api POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "storage": "bad"}'
TASK_ID=$(printf '%s' "$API_BODY" | jq -r '.id // empty')
task_wait "$TASK_ID" && assert_eq "the backup succeeds once the storage is writable" SUCCEEDED "$(task_status)"
if wait_for "backup_failed resolves" 30 resolved backup_failed; then ok "alert backup_failed resolves"; else not_ok "alert backup_failed resolves"; fi
resolved_sent() { [[ -n $(req_where 'select(.event == "resolved" and .alert.kind == "backup_failed")') ]]; }
assert_true "the webhook gets the resolution" wait_for "resolved event" 30 resolved_sent
n=$(req_where 'select(.event == "resolved" and .alert.kind == "backup_failed")')
[[ -n $n ]] && check_signature "$n"
[[ -n $n ]] && assert_match "the resolved event has its time" "$(jq -r .alert.resolved_at "$HOOKS/req-$n.body")" '^20[0-9-]+ [0-9:]+\+00$'

# ---- WAL archiving delayed and failing
api_expect "strategy with a WAL lag threshold of 3 s" 200 PUT "/api/v1/tenants/$shop/strategy" \
	'{"schedule": {"kind": "week", "days": {"sun": "FULL"}, "time": "03:00"}, "alerts": {"wal_lag_seconds": 3}}'
assert_eq "the strategy shows its thresholds (the rest defaults)" "3 14400 0 0" \
	"$(printf '%s' "$API_BODY" | jq -r '.alerts | "\(.wal_lag_seconds) \(.backup_duration_seconds) \(.backup_overdue_seconds) \(.storage_bytes)"')"
api_expect "an unknown threshold is refused" 400 PUT "/api/v1/tenants/$shop/strategy" \
	'{"schedule": {"kind": "week", "days": {"sun": "FULL"}, "time": "03:00"}, "alerts": {"lag": 3}}'
assert_contains "it names the key" "$API_BODY" 'unknown key \"lag\"'
psql_q postgres "ALTER SYSTEM SET archive_command = 'false'"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
psql_q postgres "CREATE TABLE t(x int); INSERT INTO t VALUES (1)"
psql_q postgres "SELECT pg_switch_wal()" >/dev/null
if wait_for "wal_archive_lag fires" 60 firing wal_archive_lag; then ok "alert wal_archive_lag fires"; else not_ok "alert wal_archive_lag fires"; fi
if wait_for "wal_archive_failing fires" 30 firing wal_archive_failing; then ok "alert wal_archive_failing fires"; else not_ok "alert wal_archive_failing fires"; fi
api GET "/api/v1/alerts?state=firing"
msg=$(printf '%s' "$API_BODY" | jq -r '.[] | select(.kind == "wal_archive_lag") | .message')
assert_match "OCP's message" "$msg" '^A log backup is delayed by [0-9]+ seconds, exceeding the threshold of 3 seconds$'
assert_eq "its object is the cluster" "clusters/src" \
	"$(printf '%s' "$API_BODY" | jq -r '.[] | select(.kind == "wal_archive_lag") | .object')"
assert_contains "the failing alert says archive_command failed" \
	"$(printf '%s' "$API_BODY" | jq -r '.[] | select(.kind == "wal_archive_failing") | .message')" "archive_command failed"
lag_mail() { grep -l 'wal_archive_lag' "$MAILS"/mail-*.eml >/dev/null 2>&1; }
assert_true "the e-mail channel gets the lag alert" wait_for "lag mail" 30 lag_mail
m=$(grep -l 'FIRING wal_archive_lag' "$MAILS"/mail-*.eml | head -n 1)
assert_eq "its subject" "Subject: [tenback] FIRING wal_archive_lag clusters/src" "$(grep -i '^Subject:' "$m" | tr -d '\r')"
assert_contains "its body has the message" "$(cat "$m")" "A log backup is delayed by"
assert_true "the webhook gets the failing alert" wait_for "failing hook" 30 \
	bash -c "for f in '$HOOKS'/req-*.body; do jq -e 'select(.alert.kind == \"wal_archive_failing\")' \"\$f\" >/dev/null && exit 0; done; exit 1"
metric_firing() {
	curl -sS -H "Authorization: Bearer $API_TOKEN" "$API_URL/metrics" | awk -v k="tenback_alerts_firing{kind=\"$1\"}" '$1 == k { print $2 }'
}
assert_eq "tenback_alerts_firing counts it" 1 "$(metric_firing wal_archive_lag)"
sleep 3
api GET "/api/v1/alerts?state=all"
assert_eq "fired once: one wal_archive_lag alert after several passes" 1 \
	"$(printf '%s' "$API_BODY" | jq '[.[] | select(.kind == "wal_archive_lag")] | length')"
assert_eq "one lag mail" 1 "$(grep -l 'FIRING wal_archive_lag' "$MAILS"/mail-*.eml | wc -l)"
assert_eq "no mail of another kind (the channel takes wal_archive_lag only)" "" \
	"$(grep -l 'Subject: \[tenback\] [A-Z]* \(backup_failed\|wal_archive_failing\)' "$MAILS"/mail-*.eml || true)"

api_expect "acknowledge the lag alert" 200 POST "/api/v1/alerts/$(printf '%s' "$API_BODY" | jq -r '[.[] | select(.kind == "wal_archive_lag")][0].id')/ack"
assert_eq "acknowledged by admin, still firing" "admin firing" "$(printf '%s' "$API_BODY" | jq -r '"\(.acknowledged_by) \(.state)"')"

psql_q postgres "ALTER SYSTEM RESET archive_command"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
wal_switch_and_wait $P || not_ok "archiving works again"
if wait_for "wal_archive_lag resolves" 30 resolved wal_archive_lag; then ok "alert wal_archive_lag resolves"; else not_ok "alert wal_archive_lag resolves"; fi
if wait_for "wal_archive_failing resolves" 30 resolved wal_archive_failing; then ok "alert wal_archive_failing resolves"; else not_ok "alert wal_archive_failing resolves"; fi
resolved_mail() { grep -l 'RESOLVED wal_archive_lag' "$MAILS"/mail-*.eml >/dev/null 2>&1; }
assert_true "the e-mail channel gets the resolution" wait_for "resolved mail" 30 resolved_mail
api GET "/api/v1/alerts?state=firing"
assert_eq "nothing firing" 0 "$(printf '%s' "$API_BODY" | jq 'length')"
tb_ok "tenback alert list" alert list
assert_contains "says nothing fires" "$TB_OUT" "no alert firing"

# ---- storage use and overdue backups, from the strategy's thresholds
api_expect "strategy: storage threshold 1 byte, overdue after 1 s" 200 PUT "/api/v1/tenants/$shop/strategy" \
	'{"schedule": {"kind": "week", "days": {"sun": "FULL"}, "time": "03:00"}, "alerts": {"storage_bytes": 1, "backup_overdue_seconds": 1}}'
if wait_for "storage_use fires" 30 firing storage_use; then ok "alert storage_use fires"; else not_ok "alert storage_use fires"; fi
if wait_for "backup_overdue fires" 30 firing backup_overdue; then ok "alert backup_overdue fires"; else not_ok "alert backup_overdue fires"; fi
api GET "/api/v1/alerts?state=firing"
assert_match "the storage message" "$(printf '%s' "$API_BODY" | jq -r '.[] | select(.kind == "storage_use") | .message')" \
	'^Backup sets of tenant "shop" of cluster "src" hold .* \([0-9]+ bytes\), exceeding the threshold of .*\(1 bytes\)$'
assert_match "the overdue message" "$(printf '%s' "$API_BODY" | jq -r '.[] | select(.kind == "backup_overdue") | .message')" \
	'^No successful backup of tenant "shop" of cluster "src" for [0-9]+ seconds, exceeding the threshold of 1 seconds$'
api_expect "strategy back to the default thresholds" 200 PUT "/api/v1/tenants/$shop/strategy" \
	'{"schedule": {"kind": "week", "days": {"sun": "FULL"}, "time": "03:00"}}'
if wait_for "storage_use resolves" 30 resolved storage_use; then ok "alert storage_use resolves"; else not_ok "alert storage_use resolves"; fi
if wait_for "backup_overdue resolves" 30 resolved backup_overdue; then ok "alert backup_overdue resolves"; else not_ok "alert backup_overdue resolves"; fi

# ---- the audit log
api_expect "audit log" 200 GET "/api/v1/audit?limit=200"
for action in channel.create channel.test alert.ack; do
	assert_eq "audit has $action" true "$(printf '%s' "$API_BODY" | jq --arg a "$action" 'any(.[]; .action == $a)')"
done
assert_eq "no task named in the channel and alert entries" "" \
	"$(printf '%s' "$API_BODY" | jq -r '.[] | select(.action | test("^(channel|alert)[.]")) | .detail // empty')"
assert_not_contains "the audit log never holds the secret" "$API_BODY" "$SECRET"
tb_ok "audit list (CLI)" audit list --output json
assert_true "the CLI's notify test is audited" bash -c "printf '%s' '$TB_OUT' | jq -e 'any(.[]; .action == \"cli.notify.test\")' >/dev/null"
assert_not_contains "the daemon log never holds the secret" "$(cat "$DAEMON_LOG")" "$SECRET"

daemon_stop
