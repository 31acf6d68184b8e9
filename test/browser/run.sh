#!/usr/bin/env bash
# test/browser/run.sh: the web console end to end, in Debian's headless Chromium driven
# by playwright-core, against the real daemon and a real PostgreSQL 15 (issue 5).
#
# Sets up (through test/it/lib.sh, so everything is stopped and removed at exit):
#   - instance "src" (checksums on, WAL archived through tenback), databases shop
#     (pgbench scale $BROWSER_SCALE, default 150: the data step of a backup lasts long enough to be seen live,
#     about 2 s at 1 GB/s; at 60 it had become too short to sample once backups got faster) and crm (small);
#   - role tb: what a backup needs (REPLICATION, pg_read_all_settings,
#     pg_read_all_stats, EXECUTE on pg_backup_start/stop) but NOT pg_checkpoint, so
#     that a full backup fails in "Start cluster compact if necessary" until the test
#     grants it;
#   - cluster "src" registered with conninfo user=tb; users admin, operator, viewer;
#   - "tenback serve" as postgres on a free port in 26700-26799;
# then runs test/browser/console.test.mjs, which prints "N passed, N failed".
# Screenshots: build/browser-artifacts/*.png.
#
# Needs (as root): apt-get install -y chromium; (cd test/browser && npm ci).
# HOLD=1: set up, print the console's URL and wait (Ctrl-C ends and cleans up).
TEST_NAME=browser_console
BROWSER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$BROWSER_DIR/../it/lib.sh"
source "$BROWSER_DIR/../it/lib_api.sh"

NODE_RAN=0
# The summary line the CI reads comes from the node test; when it never ran (set-up
# failed), say so in the same form.
it_summary_hook() {
	if [[ $NODE_RAN == 0 && ${HOLD:-0} != 1 ]]; then echo "0 passed, 1 failed"; fi
}

require_tenback
# A private copy: others may rebuild build/tenback while this runs.
if [[ $TENBACK != "$T/bin/tenback" ]]; then
	install -d -m 755 "$T/bin"
	install -m 755 "$TENBACK" "$T/bin/tenback"
	TENBACK="$T/bin/tenback"
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM ]]; then
	not_ok "chromium is installed at $CHROMIUM" "apt-get install -y chromium"
	exit 1
fi
if [[ ! -d $BROWSER_DIR/node_modules/playwright-core ]]; then
	not_ok "playwright-core is installed" "cd test/browser && npm ci"
	exit 1
fi

# free_port: a port of 26700-26799 nobody listens on (TCP) and not handed out yet
declare -A _PORTS_TAKEN=()
free_port() {
	local p
	for ((p = 26700; p <= 26799; p++)); do
		[[ -n ${_PORTS_TAKEN[$p]:-} ]] && continue
		if [[ -z $(ss -Htan "( sport = :$p )" 2>/dev/null) ]] && [[ ! -e $SOCK/.s.PGSQL.$p ]]; then
			_PORTS_TAKEN[$p]=1
			echo "$p"
			return 0
		fi
	done
	echo "no free port in 26700-26799" >&2
	return 1
}
# Assigned here, not in $( ) subshells, so that _PORTS_TAKEN remembers them.
_pick() { local p; p=$(free_port) || return 1; _PORTS_TAKEN[$p]=1; printf -v "$1" '%s' "$p"; }
_pick PGP
_pick HTTP
_pick RESTORE_PORT

SCALE=${BROWSER_SCALE:-150}
log "instance src on port $PGP, daemon on $HTTP, restore port $RESTORE_PORT, pgbench scale $SCALE"
pg_create src "$PGP" checksums=on
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
# pgbench_accounts in partitions: the daemon reports progress between files, so a
# tenant of many files shows its bytes growing while "Back up data" runs.
as_pg timeout 600 "$PGBIN/pgbench" -h "$SOCK" -p "$PGP" -U "$PG_USER" -i -s "$SCALE" --partitions=24 -q shop \
	>>"$T/log/pgbench-init.txt" 2>&1 || { tail -n 20 "$T/log/pgbench-init.txt"; exit 1; }
psql_q crm "CREATE TABLE notes AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 5000) g"
psql_q postgres "CREATE ROLE tb LOGIN REPLICATION;
GRANT pg_read_all_settings, pg_read_all_stats TO tb;
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean) TO tb"
assert_eq "role tb is no superuser and has no pg_checkpoint" "f f" \
	"$(psql_q postgres "SELECT rolsuper, pg_has_role('tb', 'pg_checkpoint', 'MEMBER') FROM pg_roles WHERE rolname = 'tb'" | tr '|' ' ')"

install -d -o "$PG_USER" -m 700 "$T/storage" "$T/restore"
tb_must "cluster add src (role tb)" cluster add src --conninfo "host=$SOCK port=$PGP user=tb dbname=postgres" \
	--pgdata "${PG_DATA[src]}" --storage "file://$T/storage"
wal_switch_and_wait "$PGP"

user_add admin 'admin-pw-1' admin
user_add operator 'operator-pw-1' operator
user_add viewer 'viewer-pw-1' viewer
# a webhook channel nothing listens to: the console's Test shows the failure
printf '%s\n' 'browser-test-secret-0123456789' >"$T/hook.secret"
chown "$PG_USER:" "$T/hook.secret"
tb_must "notification channel hook (nothing listens)" notify channel add hook --type webhook \
	--url "http://127.0.0.1:1/hook" --secret-file "$T/hook.secret"
daemon_start "$HTTP" --web "$REPO_ROOT/web" --alert-interval 2 || exit 1
ok "daemon serves the console from $REPO_ROOT/web on port $HTTP"

ARTIFACTS="$REPO_ROOT/build/browser-artifacts"
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png "$ARTIFACTS"/console-test.log

export TB_URL="$API_URL" TB_ARTIFACTS="$ARTIFACTS" TB_CHROMIUM="$CHROMIUM" \
	TB_CLUSTER=src TB_TENANT=shop TB_SOCK="$SOCK" TB_PGPORT="$PGP" TB_PGBIN="$PGBIN" \
	TB_RESTORE_DIR="$T/restore/shop-1" TB_RESTORE_PORT="$RESTORE_PORT" TB_TMP="$T" \
	TB_ADMIN_PW='admin-pw-1' TB_OPERATOR_PW='operator-pw-1' TB_VIEWER_PW='viewer-pw-1'

if [[ ${HOLD:-0} == 1 ]]; then
	echo "console: $API_URL (admin/admin-pw-1, operator/operator-pw-1, viewer/viewer-pw-1); Ctrl-C ends"
	env | grep '^TB_' >"$T/env.txt"
	echo "env: $T/env.txt"
	while daemon_running; do sleep 2; done
	exit 0
fi

NODE_RAN=1
rc=0
(cd "$BROWSER_DIR" && timeout -k 10 "${BROWSER_TIMEOUT:-900}" node console.test.mjs) 2>&1 | tee "$ARTIFACTS/console-test.log" || rc=$?
if [[ $rc -eq 0 ]]; then ok "console.test.mjs passed"; else not_ok "console.test.mjs passed (exit $rc)"; fi
assert_true "the daemon still runs" daemon_running
daemon_stop || true
[[ $rc -eq 0 ]]
