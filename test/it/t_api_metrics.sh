#!/usr/bin/env bash
# GET /metrics (issue 10): the Prometheus text format, checked by Prometheus's own parser
# (promtool check metrics), carrying the figures after backups:
#   - before any backup: tenback_up 1, the cluster up, no backup samples;
#   - after a full and an incremental through the API: last success time, size, stored
#     bytes and duration per tenant and type equal to the sets' own figures (set list),
#     sets kept, tasks by state, the task's duration; WAL archiving figures of the
#     cluster (archived count above 0, nothing failing);
#   - a stopped cluster: tenback_cluster_up 0 and the scrape still answers quickly;
#   - without a token: 401; a viewer's token: 200 (Prometheus' bearer token).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback
command -v promtool >/dev/null || { not_ok "promtool is installed (apt-get install prometheus)"; exit 1; }

P=26661; HTTP=26663

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 2
wal_switch_and_wait $P
user_add admin 'admin-pw-m' admin
user_add watcher 'watcher-pw-m' viewer
daemon_start $HTTP
API_TOKEN=$(api_token admin 'admin-pw-m')
VIEW=$(api_token watcher 'watcher-pw-m' prometheus)
shop=$(tenant_id src shop)

# scrape [TOKEN]: GET /metrics into $T/metrics.txt; METRICS_STATUS
scrape() {
	METRICS_STATUS=$(curl -sS -o "$T/metrics.txt" -w '%{http_code} %{content_type}' \
		${1:+-H "Authorization: Bearer $1"} "$API_URL/metrics" 2>>"$T/log/curl.txt" || true)
}
# metric NAME LABELS: the value of the sample NAME{LABELS} (LABELS as written, sorted as emitted)
metric() { awk -v k="$1{$2}" '$1 == k { print $2 }' "$T/metrics.txt"; }

scrape
assert_eq "/metrics without a token: 401" 401 "${METRICS_STATUS%% *}"
scrape "$VIEW"
assert_eq "/metrics with a viewer's token: 200, Prometheus text format" \
	"200 text/plain; version=0.0.4; charset=utf-8" "$METRICS_STATUS"
assert_ok "promtool parses it (before any backup)" promtool check metrics <"$T/metrics.txt"
assert_eq "tenback_up" 1 "$(awk '$1 == "tenback_up" { print $2 }' "$T/metrics.txt")"
assert_eq "the cluster is up" 1 "$(metric tenback_cluster_up 'cluster="src"')"
assert_eq "no backup sample yet" 0 "$(grep -c '^tenback_backup_last' "$T/metrics.txt" || true)"

backup_start "$shop" full
task_wait "$TASK_ID" && assert_eq "full backup task succeeded" SUCCEEDED "$(task_status)"
full_task=$TASK_ID
psql_q shop "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 50 = 0"
backup_start "$shop" incremental
task_wait "$TASK_ID" && assert_eq "incremental backup task succeeded" SUCCEEDED "$(task_status)"
wal_switch_and_wait $P

scrape "$VIEW"
assert_ok "promtool parses it (after backups)" promtool check metrics <"$T/metrics.txt"
sets=$(set_json src shop)
for type in full incremental; do
	L="cluster=\"src\",tenant=\"shop\",type=\"$type\""
	s=$(printf '%s' "$sets" | jq -c --arg t "$type" '[.[] | select((.type | ascii_downcase) == $t)] | last')
	assert_eq "$type: last size is the set's" "$(jq -r .size_bytes <<<"$s")" "$(metric tenback_backup_last_size_bytes "$L")"
	assert_eq "$type: last stored bytes are the set's" "$(jq -r .stored_bytes <<<"$s")" \
		"$(metric tenback_backup_last_stored_bytes "$L")"
	stop=$(date -d "$(jq -r .stop_time <<<"$s" | sed 's/+00$/ UTC/')" +%s)
	assert_eq "$type: last success time is the set's stop time" "$stop" \
		"$(metric tenback_backup_last_success_timestamp_seconds "$L")"
	assert_true "$type: a duration is there" test -n "$(metric tenback_backup_last_duration_seconds "$L")"
	assert_eq "$type: one set kept" 1 "$(metric tenback_backup_sets "$L")"
done
assert_eq "stored bytes of the tenant: the sum of its sets" \
	"$(printf '%s' "$sets" | jq '[.[].stored_bytes] | add')" \
	"$(metric tenback_backup_stored_bytes 'cluster="src",tenant="shop"')"
assert_eq "two succeeded backup tasks of shop" 2 \
	"$(metric tenback_tasks 'type="backup",cluster="src",tenant="shop",state="SUCCEEDED"')"
assert_true "the last backup task's duration" \
	test -n "$(metric tenback_task_last_duration_seconds 'type="backup",cluster="src",tenant="shop"')"
archived=$(metric tenback_wal_archived_total 'cluster="src"')
assert_true "WAL files archived ($archived)" test "${archived:-0}" -gt 0
assert_eq "no archive failure" 0 "$(metric tenback_wal_archive_failing 'cluster="src"')"
assert_eq "nothing waits, no lag" "0 0" \
	"$(metric tenback_wal_archive_ready_files 'cluster="src"') $(metric tenback_wal_archive_lag_seconds 'cluster="src"')"

# a cluster that does not answer: up 0, and the scrape still answers
pg_stop src
t0=$SECONDS
scrape "$VIEW"
assert_eq "with the cluster stopped the scrape answers" 200 "${METRICS_STATUS%% *}"
assert_true "within 10 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 10
assert_eq "the cluster is down" 0 "$(metric tenback_cluster_up 'cluster="src"')"
assert_ok "promtool parses it (cluster down)" promtool check metrics <"$T/metrics.txt"
assert_eq "the backup figures are still there" 1 \
	"$(metric tenback_backup_sets 'cluster="src",tenant="shop",type="full"')"
log "full task $full_task; metrics: $(wc -l <"$T/metrics.txt") lines"
assert_ok "the example alert rules load in Prometheus (promtool check rules)" \
	promtool check rules "$(dirname "$0")/../../doc/monitoring/prometheus-rules.yml"
assert_ok "the example Grafana dashboard is valid JSON" jq -e '.panels | length > 0' \
	"$(dirname "$0")/../../doc/monitoring/grafana-dashboard.json"
