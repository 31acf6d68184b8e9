#!/usr/bin/env bash
# An upgrade keeps the metadata: a store written by an older tenback (schema version 6,
# test/fixtures/meta/schema-v6.sql: two clusters, an incremental chain, a logical set,
# two tasks with their steps) is opened by this one, which migrates it to its latest
# schema version (that of a store it creates itself), and every cluster, set, task and
# step is still there, unchanged; what the new migrations add (the audit log) works.
# No PostgreSQL instance: the commands below only read the metadata.
source "$(dirname "$0")/lib.sh"
require_tenback

FIXTURE=$REPO_ROOT/test/fixtures/meta/schema-v6.sql
TB_SQL() { as_pg sqlite3 -batch "$TB_HOME/metadata.db" "$1"; }

as_pg sqlite3 -batch "$TB_HOME/metadata.db" <"$FIXTURE"
assert_eq "the fixture is at schema version 6" "6" "$(TB_SQL 'PRAGMA user_version')"
tasks_before=$(TB_SQL "SELECT id, type, cluster, tenant, status, params, state, error FROM task ORDER BY id")
steps_before=$(TB_SQL "SELECT task_id, idx, name, status, error_message FROM task_step ORDER BY task_id, idx")

tb_ok "cluster list opens the old store" cluster list --output json
assert_eq "both clusters listed" "logical main" "$(jq -r '[.[].name] | sort | join(" ")' <<<"$TB_OUT")"
assert_eq "the cluster's version and system id kept" "150004 7441234567890123456" \
	"$(jq -r '.[] | select(.name == "main") | "\(.pg_version // .version) \(.system_id)"' <<<"$TB_OUT")"

# the schema version a fresh store gets from this binary
install -d -o "$PG_USER" -m 700 "$T/fresh"
as_pg "$TENBACK" --home "$T/fresh" cluster list >/dev/null
latest=$(as_pg sqlite3 -batch "$T/fresh/metadata.db" 'PRAGMA user_version')
assert_eq "migrated to the latest schema version ($latest)" "$latest" "$(TB_SQL 'PRAGMA user_version')"
assert_true "the latest is newer than the fixture" test "$latest" -gt 6

tb_ok "set list of the physical tenant" set list --cluster main --tenant shop --output json
assert_eq "the chain's sets" "20261125-010000F 20261126-010000I" "$(jq -r '[.[].id] | join(" ")' <<<"$TB_OUT")"
assert_eq "the incremental names its parent" "20261125-010000F" \
	"$(jq -r '.[] | select(.id == "20261126-010000I") | .parent' <<<"$TB_OUT")"
assert_eq "its chain" "20261125-010000F,20261126-010000I" \
	"$(jq -r '.[] | select(.id == "20261126-010000I") | .chain | join(",")' <<<"$TB_OUT")"
assert_eq "the verification kept" "ok 2026-11-25 02:00:00+00" \
	"$(jq -r '.[] | select(.id == "20261125-010000F") | "\(.verify_status) \(.verified_at)"' <<<"$TB_OUT")"
assert_eq "sizes kept" "50000000 800000" \
	"$(jq -r '.[] | select(.id == "20261126-010000I") | "\(.size_bytes) \(.stored_bytes)"' <<<"$TB_OUT")"
tb_ok "set list of the logical tenant" set list --cluster logical --output json
assert_eq "the logical set" "20261126-020000F logical" "$(jq -r '.[] | "\(.id) \(.method)"' <<<"$TB_OUT")"

assert_eq "tasks unchanged" "$tasks_before" \
	"$(TB_SQL "SELECT id, type, cluster, tenant, status, params, state, error FROM task ORDER BY id")"
assert_eq "task steps unchanged" "$steps_before" \
	"$(TB_SQL "SELECT task_id, idx, name, status, error_message FROM task_step ORDER BY task_id, idx")"
assert_eq "two tasks, six steps" "2|6" "$(TB_SQL 'SELECT (SELECT count(*) FROM task), (SELECT count(*) FROM task_step)')"

# what migration 7 added works on the migrated store
tb_ok "a change after the upgrade" cluster remove logical
tb_ok "audit list on the migrated store" audit list --output json
assert_eq "the change is in the audit log" "cli.cluster.remove" "$(jq -r '.[0].action' <<<"$TB_OUT")"
tb_ok "cluster list" cluster list --output json
assert_eq "one cluster left" "main" "$(jq -r '[.[].name] | join(" ")' <<<"$TB_OUT")"
tb_ok "its sets are still there" set list --cluster main --output json
assert_eq "two sets" "2" "$(jq length <<<"$TB_OUT")"
