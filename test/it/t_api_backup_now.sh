#!/usr/bin/env bash
# "Back up now" through the daemon's REST API, with the seed's messages provoked for
# real (issue 4, "Tests that must pass"):
#   1. incremental on a tenant without a full: "Check if ready to data backup" FAILED
#      with "Full data backup needed before incremental data backup";
#   2. the cluster registered with a non-superuser role that has what a backup needs
#      but not pg_checkpoint: "Start cluster compact if necessary" FAILED with
#      "Cluster compaction needed before full data backup"; GRANT pg_checkpoint; Retry
#      resumes at that step (the check step is not run again) and the set restores
#      equal to the source;
#   3. an UPGRADING cluster: the check step fails saying so; NORMAL again: Retry works;
#   4. storage Test: a file:// URI under a regular file fails with the failed check
#      named; a good one passes with each check listed;
#   5. a second backup while one runs: 409 naming the running task;
#   6. the CLI through the daemon (--server, --wait): prints the set id; a failing
#      backup exits non-zero with the step's message.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=26601; R1=26602; HTTP=26603

pg_create src $P checksums=on
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 2
psql_q crm "CREATE TABLE notes AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 5000) g"
# The backup role: what tenback's queries need, and not pg_checkpoint.
#   REPLICATION           not needed by the queries, kept as a backup role usually has it
#   pg_read_all_settings  current_setting('archive_command') (superuser-only setting)
#   pg_read_all_stats     pg_database_size() of every tenant (tenant list)
#   pg_backup_start/stop  revoked from PUBLIC by default
psql_q postgres "CREATE ROLE tb LOGIN REPLICATION;
GRANT pg_read_all_settings, pg_read_all_stats TO tb;
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean) TO tb"
assert_eq "role tb is no superuser and has no pg_checkpoint" "f f" \
	"$(psql_q postgres "SELECT rolsuper, pg_has_role('tb', 'pg_checkpoint', 'MEMBER') FROM pg_roles WHERE rolname = 'tb'" | tr '|' ' ')"

user_add admin 'admin-pw-1' admin
daemon_start $HTTP
API_TOKEN=$(api_token admin 'admin-pw-1')
assert_match "admin gets an API token" "$API_TOKEN" '^.{16,}$'

install -d -o "$PG_USER" -m 700 "$T/storage"
api_expect "register cluster src (role tb) over the API" 201 POST /api/v1/clusters \
	"$(jq -nc --arg c "host=$SOCK port=$P user=tb dbname=postgres" --arg d "${PG_DATA[src]}" \
		--arg s "file://$T/storage" '{name: "src", conninfo: $c, pgdata: $d, storage: $s}')" || exit 1
wal_switch_and_wait $P   # archiving works now that src is registered

shop=$(tenant_id src shop)
crm=$(tenant_id src crm)
assert_match "tenant shop has an id <cluster>:<oid>" "$shop" '^src:[0-9]+$'
assert_match "tenant crm has an id" "$crm" '^src:[0-9]+$'
[[ -n $shop && -n $crm ]] || exit 1
api GET /api/v1/tenants
assert_eq "shop's backup method is physical" physical \
	"$(printf '%s' "$API_BODY" | jq -r --arg i "$shop" '.[] | select(.id == $i) | .backup_method')"

# ---- 1. incremental without a full
backup_start "$shop" incremental
assert_eq "incremental backup request accepted (202)" 202 "$API_STATUS"
assert_eq "the new task is RUNNING with 5 steps" "RUNNING 5" \
	"$(printf '%s' "$API_BODY" | jq -r '"\(.status) \(.steps | length)"')"
task_wait "$TASK_ID" || true
log "$(task_summary)"
assert_eq "incremental without a full: task FAILED" FAILED "$(task_status)"
assert_eq "step \"Check if ready to data backup\" FAILED" FAILED "$(task_step 'Check if ready to data backup' .status)"
assert_eq "its message" "Full data backup needed before incremental data backup" \
	"$(task_step 'Check if ready to data backup' .error.message)"
assert_eq "later steps never ran" "PENDING PENDING PENDING PENDING" \
	"$(printf '%s' "$API_BODY" | jq -r '[.steps[1:][].status] | join(" ")')"
assert_eq "no set listed for shop" 0 "$(set_count src shop)"

# ---- 2. the checkpoint step without pg_checkpoint, then Retry
backup_start "$shop" full
assert_eq "full backup request accepted (202)" 202 "$API_STATUS"
full_task=$TASK_ID
task_wait "$full_task" || true
log "$(task_summary)"
assert_eq "full backup as tb: task FAILED" FAILED "$(task_status)"
assert_eq "\"Check if ready to data backup\" SUCCEEDED" SUCCEEDED "$(task_step 'Check if ready to data backup' .status)"
assert_eq "\"Start cluster compact if necessary\" FAILED" FAILED "$(task_step 'Start cluster compact if necessary' .status)"
assert_eq "its message" "Cluster compaction needed before full data backup" \
	"$(task_step 'Start cluster compact if necessary' .error.message)"
assert_contains "its hint names pg_checkpoint" "$(task_step 'Start cluster compact if necessary' .error.hint)" pg_checkpoint
check_started=$(task_step 'Check if ready to data backup' .started_at)
check_attempts=$(task_step 'Check if ready to data backup' .attempts)
assert_eq "the check step ran once" 1 "$check_attempts"
assert_eq "no set listed after the failed full" 0 "$(set_count src shop)"

psql_q postgres "GRANT pg_checkpoint TO tb"
sleep 1.1  # a re-run check step would get a later started_at (times have 1 s resolution)
api_expect "Retry of the failed task" "200|202" POST "/api/v1/tasks/$full_task/retry"
task_wait "$full_task" 120 || true
log "$(task_summary)"
assert_eq "after GRANT pg_checkpoint, Retry: task SUCCEEDED" SUCCEEDED "$(task_status)"
assert_eq "every step SUCCEEDED" "SUCCEEDED SUCCEEDED SUCCEEDED SUCCEEDED SUCCEEDED" \
	"$(printf '%s' "$API_BODY" | jq -r '[.steps[].status] | join(" ")')"
assert_eq "the check step was not run again (attempts)" 1 "$(task_step 'Check if ready to data backup' .attempts)"
assert_eq "the check step was not run again (started_at)" "$check_started" \
	"$(task_step 'Check if ready to data backup' .started_at)"
assert_eq "the checkpoint step ran twice" 2 "$(task_step 'Start cluster compact if necessary' .attempts)"
assert_eq "the checkpoint step's error is gone" null "$(task_step 'Start cluster compact if necessary' .error)"

assert_eq "one set listed for shop (CLI)" 1 "$(set_count src shop)"
set1=$(set_ids src shop)
api GET "/api/v1/tenants/$shop/sets"
assert_eq "GET sets lists it, completed and full" "$set1 completed full" \
	"$(printf '%s' "$API_BODY" | jq -r '[.[] | select(.status == "completed")] | map("\(.id) \(.status) \(.type)") | join(",")')"
src_fp=$(tenant_fingerprint $P "$SOCK" shop)
if tb_restore_start src shop "$set1" "$T/r1" $R1; then
	compare_tenant "the set restores equal to the source" $P $R1 shop
	check_invariant $R1 shop
	pg_stop "$T/r1" immediate || true
fi
assert_eq "the source did not change meanwhile" "$src_fp" "$(tenant_fingerprint $P "$SOCK" shop)"

# now an incremental is accepted and succeeds
backup_start "$shop" incremental
task_wait "$TASK_ID" 120 || true
assert_eq "incremental after the full: SUCCEEDED" SUCCEEDED "$(task_status)"
assert_eq "the incremental's checkpoint step did not need a checkpoint" SUCCEEDED \
	"$(task_step 'Start cluster compact if necessary' .status)"

# ---- 3. an UPGRADING cluster
api_expect "mark src UPGRADING" 200 POST /api/v1/clusters/src/status '{"status": "UPGRADING"}'
api GET /api/v1/clusters/src
assert_eq "cluster src shows UPGRADING" UPGRADING "$(printf '%s' "$API_BODY" | jq -r '.status')"
backup_start "$crm" full
assert_eq "backup of an upgrading cluster's tenant is accepted as a task (202)" 202 "$API_STATUS"
up_task=$TASK_ID
task_wait "$up_task" || true
log "$(task_summary)"
assert_eq "upgrading: task FAILED" FAILED "$(task_status)"
assert_eq "upgrading: the check step FAILED" FAILED "$(task_step 'Check if ready to data backup' .status)"
assert_contains "upgrading: the message says so" "$(task_step 'Check if ready to data backup' .error.message)" upgrading
api_expect "mark src NORMAL" 200 POST /api/v1/clusters/src/status '{"status": "NORMAL"}'
api_expect "Retry the upgrading-failed task" "200|202" POST "/api/v1/tasks/$up_task/retry"
task_wait "$up_task" 120 || true
log "$(task_summary)"
assert_eq "back to NORMAL, Retry: SUCCEEDED" SUCCEEDED "$(task_status)"
assert_eq "one set listed for crm" 1 "$(set_count src crm)"

# ---- 4. storage Test
printf 'not a directory\n' >"$T/plainfile"
api_expect "Test of a storage under a regular file answers" 200 POST /api/v1/storages/test \
	"$(jq -nc --arg u "file://$T/plainfile/store" '{uri: $u}')"
log "bad storage: $(printf '%s' "$API_BODY" | jq -c '.checks')"
assert_eq "bad storage: ok is false" false "$(printf '%s' "$API_BODY" | jq -r '.ok')"
bad_check=$(printf '%s' "$API_BODY" | jq -r '[.checks[] | select(.ok == false)][0] | "\(.name): \(.message)"')
assert_match "bad storage: a failed check is named with its message" "$bad_check" '^[a-z][a-z _-]*: .+'
install -d -o "$PG_USER" -m 700 "$T/goodstore"
api_expect "Test of a good storage answers" 200 POST /api/v1/storages/test \
	"$(jq -nc --arg u "file://$T/goodstore" '{uri: $u}')"
log "good storage: $(printf '%s' "$API_BODY" | jq -c '.checks')"
assert_eq "good storage: ok is true" true "$(printf '%s' "$API_BODY" | jq -r '.ok')"
assert_eq "good storage: every check ok" true "$(printf '%s' "$API_BODY" | jq -r '.checks | all(.ok)')"
names=$(printf '%s' "$API_BODY" | jq -r '[.checks[].name] | join(" ")')
for c in write read list delete; do
	assert_contains "good storage: a \"$c\" check is listed" "$names" "$c"
done
assert_eq "good storage: the probe left nothing behind" "" "$(find "$T/goodstore" -type f | head -5)"

# ---- 5. a second backup while one runs
backup_start "$shop" full
assert_eq "first backup accepted" 202 "$API_STATUS"
run_task=$TASK_ID
backup_start "$shop" full
assert_eq "second backup of the same tenant refused with 409" 409 "$API_STATUS"
assert_api_error "409 answer"
assert_contains "409 names the running task" "$(printf '%s' "$API_BODY" | jq -r '.error.message')" "task $run_task"
task_wait "$run_task" 120 || true
assert_eq "the first backup still SUCCEEDED" SUCCEEDED "$(task_status)"

# ---- 6. the CLI through the daemon
n_before=$(set_count src shop)
tb_remote backup --cluster src --tenant shop --mode full --max-rate 512M --wait
if [[ $TB_RC -eq 0 ]]; then ok "tenback --server backup --max-rate 512M --wait succeeds"; else
	not_ok "tenback --server backup --max-rate 512M --wait succeeds" "exit $TB_RC" "$TB_ALL"; fi
api GET "/api/v1/tasks?tenant=$(tenant_id src shop)"
assert_eq "the task keeps the rate in its parameters" 536870912 \
	"$(printf '%s' "$API_BODY" | jq -r 'max_by(.id) | .params.max_rate' 2>&1)"
assert_contains "and its check step logs it" "$(printf '%s' "$API_BODY" | jq -r 'max_by(.id) | .steps[0].log' 2>&1)" \
	"rate limit: at most 512.0 MiB per second"
assert_contains "--wait shows the steps" "$TB_ALL" "Start cluster compact if necessary"
cli_set=$(last_line "$TB_OUT")
assert_match "--wait prints the set id" "$cli_set" '^[0-9]{8}-[0-9]{6}F$'
assert_eq "a set more is listed" $((n_before + 1)) "$(set_count src shop)"
assert_contains "the printed set is the newest listed" "$(set_ids src shop | tail -n 1)" "${cli_set:-no set id printed}"

tb_remote backup --cluster src --tenant notes_db_absent --mode full --wait
assert_ne "--wait for an unknown tenant exits non-zero" 0 "$TB_RC"
# crm has its full now; a fresh database has none: the incremental fails in the check step
psql_q postgres "CREATE DATABASE fresh"
tb_remote backup --cluster src --tenant fresh --mode incremental --wait
assert_ne "--wait of a failing incremental exits non-zero" 0 "$TB_RC"
assert_contains "--wait prints the step's message" "$TB_ERR" "Full data backup needed before incremental data backup"
assert_contains "--wait names the failed step" "$TB_ERR" "Check if ready to data backup"

assert_true "the daemon still runs" daemon_running
assert_ok "the daemon stops on SIGTERM" daemon_stop
