#!/usr/bin/env bash
# tenback check --cluster NAME: a cluster set up right passes every check (exit 0, one
# OK line each, JSON too); each of these fails with its own reason, hint and exit 1:
# archive_command not tenback's, archive_command naming another cluster, an
# archive_command that names tenback but fails (the WAL switch is not archived in
# time), a storage this user cannot write, a home that is not the one archive_command
# names, a data directory this user cannot read. A logical-only cluster skips the WAL
# checks. Usage errors exit 2.
source "$(dirname "$0")/lib.sh"
require_tenback

P=27400
pg_create src $P
cluster_add src

# check_line NAME: the line of check NAME in TB_OUT
check_line() { grep -E "^(OK|FAIL|SKIP) +$1 " <<<"$TB_OUT" || true; }

tb_ok "check passes on a good cluster" check --cluster src --archive-timeout 60
for c in home connection "data directory" archive_mode archive_command storage "WAL archived"; do
	assert_match "OK: $c" "$(check_line "$c")" "^OK "
done
assert_eq "seven checks" "7" "$(grep -cE '^(OK|FAIL|SKIP) ' <<<"$TB_OUT")"
tb_ok "check --output json" check --cluster src --output json
assert_eq "JSON: every check OK" "OK OK OK OK OK OK OK" "$(jq -r '[.[].status] | join(" ")' <<<"$TB_OUT")"
assert_eq "JSON: names" "home,connection,data directory,archive_mode,archive_command,storage,WAL archived" \
	"$(jq -r '[.[].check] | join(",")' <<<"$TB_OUT")"

tb_fails "check without --cluster is a usage error" 2 check
tb_fails "check --archive-timeout 0 is a usage error" 2 check --cluster src --archive-timeout 0
tb_fails "check of an unknown cluster" 1 check --cluster nosuch
assert_contains "names it" "$TB_ERR" 'cluster "nosuch" does not exist'

# --- archive_command not tenback's
good_cmd=$(psql_q postgres "SHOW archive_command")
set_cmd() { psql_q postgres "ALTER SYSTEM SET archive_command = '$1'" && psql_q postgres "SELECT pg_reload_conf()" >/dev/null; }
wait_cmd() { [[ $(psql_q postgres "SHOW archive_command") == "$1" ]]; }
set_cmd "cp %p /nonexistent/%f"
wait_for "reload" 20 wait_cmd "cp %p /nonexistent/%f"
tb_fails "archive_command not tenback's fails" 1 check --cluster src
assert_match "FAIL archive_command" "$(check_line archive_command)" "^FAIL +archive_command +archive_command does not go through tenback archive-push"
assert_contains "with the command to set" "$TB_OUT" "HINT: Set archive_command = 'tenback --home $TB_HOME archive-push --cluster src %p'"
assert_match "the WAL check is skipped" "$(check_line "WAL archived")" "^SKIP "
assert_match "the others pass" "$(check_line storage)" "^OK "
assert_contains "ERROR counts the failures" "$TB_ERR" 'ERROR: 1 of the checks of cluster "src" failed'

# --- another cluster named
set_cmd "$TENBACK --home $TB_HOME archive-push --cluster other %p"
wait_for "reload" 20 wait_cmd "$TENBACK --home $TB_HOME archive-push --cluster other %p"
tb_fails "archive_command naming another cluster fails" 1 check --cluster src
assert_match "FAIL archive_command naming the cluster" "$(check_line archive_command)" 'does not name cluster "src"'

# --- tenback's command, but it fails: the switched segment never reaches the archive
set_cmd "false $TENBACK --home $TB_HOME archive-push --cluster src %p"
wait_for "reload" 20 wait_cmd "false $TENBACK --home $TB_HOME archive-push --cluster src %p"
tb_fails "a failing archive_command fails the WAL check" 1 check --cluster src --archive-timeout 3
assert_match "archive_command itself looks right" "$(check_line archive_command)" "^OK "
assert_match "FAIL WAL archived" "$(check_line "WAL archived")" 'was not archived within 3 seconds'
assert_contains "pg_stat_archiver's failure in the detail" "$TB_OUT" "DETAIL: pg_stat_archiver: the last failure was for"

set_cmd "$good_cmd"
wait_for "reload" 20 wait_cmd "$good_cmd"
tb_ok "good again" check --cluster src

# --- a storage this user cannot write
find "$T/storage" -type d -exec chmod 500 {} +
tb_fails "an unwritable storage fails" 1 check --cluster src
assert_match "FAIL storage" "$(check_line storage)" "^FAIL +storage +.*not writable"
assert_match "the WAL check is skipped" "$(check_line "WAL archived")" "^SKIP +WAL archived +the storage failed"
find "$T/storage" -type d -exec chmod 700 {} +

# --- another home: the same metadata, but archive_command names the first home
install -d -o "$PG_USER" -m 700 "$T/home2"
as_pg sqlite3 "$TB_HOME/metadata.db" ".backup '$T/home2/metadata.db'"
as_pg cp -p "$TB_HOME"/master.key "$T/home2/" 2>/dev/null || true
tb_run_home() { TB_RC=0; TB_OUT=$(as_pg "$TENBACK" --home "$T/home2" "$@" 2>"$T/log/tb.err") || TB_RC=$?; TB_ERR=$(cat "$T/log/tb.err"); }
tb_run_home check --cluster src
assert_eq "a wrong --home fails (exit 1)" "1" "$TB_RC"
assert_match "FAIL archive_command: another home" "$(check_line archive_command)" "archive_command uses another home, \"$TB_HOME\""

# --- a data directory this user cannot read: the instance's control file and
# directories copied to a place postgres loses access to after registering it (making
# the running instance's own files unreadable would break the instance too)
ro=$T/ro-data
install -d -o "$PG_USER" -m 700 "$ro" "$ro/global" "$ro/base"
install -o "$PG_USER" -m 600 "${PG_DATA[src]}/global/pg_control" "$ro/global/pg_control"
install -o "$PG_USER" -m 600 "${PG_DATA[src]}/PG_VERSION" "$ro/PG_VERSION"
tb_must "register the copy as a cluster" cluster add ro --conninfo "$(conninfo src)" --pgdata "$ro" --storage "$STORAGE_URI"
chown -R root: "$ro"
tb_fails "an unreadable data directory fails" 1 check --cluster ro
assert_match "FAIL data directory" "$(check_line "data directory")" '^FAIL +data directory +data directory ".*" is not readable'
assert_contains "with a hint" "$TB_OUT" "HINT: Run tenback as the user that owns the data directory"

# --- logical only: no data directory, no WAL checks
tb_must "register it for logical backup" cluster add lonly --conninfo "$(conninfo src)" --storage "$STORAGE_URI"
tb_ok "check of a logical-only cluster passes" check --cluster lonly
assert_match "no data directory: skipped" "$(check_line "data directory")" "^SKIP "
assert_match "WAL: skipped" "$(check_line "WAL archived")" "^SKIP +WAL archived +logical backup only"

# --- the conninfo reaches another instance (the registration edited behind tenback's back)
pg_create other 27401
as_pg sqlite3 "$TB_HOME/metadata.db" "UPDATE cluster SET conninfo = '$(conninfo other)' WHERE name = 'src'"
tb_fails "another instance behind the conninfo fails" 1 check --cluster src
assert_match "FAIL connection" "$(check_line connection)" 'now answers with another system identifier'
assert_match "the archive checks are skipped" "$(check_line archive_command)" "^SKIP +archive_command +no connection"
as_pg sqlite3 "$TB_HOME/metadata.db" "UPDATE cluster SET conninfo = '$(conninfo src)' WHERE name = 'src'"
pg_stop other
tb_ok "good again" check --cluster src

# --- the home's permissions: a home others can enter is refused before any check
chmod 750 "$TB_HOME"
tb_fails "a home open to the group fails" 1 check --cluster src
assert_contains "naming it" "$TB_ERR" "is accessible by group or others"
assert_contains "with the fix" "$TB_ERR" "HINT: Run \"chmod 700 $TB_HOME\"."
chmod 700 "$TB_HOME"
# run by another user (root here) than the one owning the home
out=$(cd "$T" && "$TENBACK" --home "$TB_HOME" check --cluster src 2>&1) && rc=0 || rc=$?
assert_eq "another user than the home's owner: exit 1" "1" "$rc"
assert_match "FAIL home" "$(grep -E '^FAIL +home ' <<<"$out")" 'belongs to another user'
