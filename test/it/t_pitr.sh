#!/usr/bin/env bash
# Point-in-time restore. A full set S0 and an incremental S1, both taken before the
# commits A, restore point 'before_b', B, C (a second apart). With no --set, restore
# picks the newest set before the target (S1) and stops at:
#   - the server time recorded between B and C: A and B, not C;
#   - the restore point 'before_b': A only;
#   - the LSN right after A committed: A only;
#   - B's transaction id: A and B.
# Refused, exit 1, target directory not created: a time in the future ("is not in a
# restorable range") and a time before the first set ("is before the consistency point").
# A time between S0 and S1 picks S0.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26520; R_TIME=26521; R_NAME=26522; R_LSN=26523; R_XID=26524; R_BAD=26525; R_MID=26526

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 2
pgbench_init $P crm 1
psql_q shop "CREATE TABLE events (label text PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
wal_switch_and_wait $P

# server time before any set
now_utc="to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
t_before=$(psql_q postgres "SELECT $now_utc")
sleep 1.2

tb_must "full backup S0" backup --cluster src --tenant shop --mode full
S0=$(last_line "$TB_OUT")
psql_q shop "INSERT INTO events VALUES ('pre')"
sleep 1.2
t_mid=$(psql_q postgres "SELECT $now_utc")
sleep 1.2
workload_start shop 3
sleep 4
workload_stop
tb_must "incremental S1" backup --cluster src --tenant shop --mode incremental
S1=$(last_line "$TB_OUT")
assert_match "S1 is an incremental" "$S1" 'I$'
sleep 1.2

psql_q shop "INSERT INTO events VALUES ('A')"
lsn_a=$(psql_q postgres "SELECT pg_current_wal_insert_lsn()")
sleep 1.2
rp_lsn=$(psql_q postgres "SELECT pg_create_restore_point('before_b')")
sleep 1.2
xid_b=$(psql_q shop "INSERT INTO events VALUES ('B'); SELECT pg_current_xact_id()")
sleep 1.2
t_bc=$(psql_q postgres "SELECT $now_utc")
sleep 1.2
psql_q shop "INSERT INTO events VALUES ('C')"
log "A then LSN $lsn_a; restore point at $rp_lsn; B xid $xid_b; time between B and C $t_bc"
assert_match "B's xid is a number" "$xid_b" '^[0-9]+$'
wal_switch_and_wait $P
assert_eq "source holds pre,A,B,C" "A,B,C,pre" "$(psql_q shop "SELECT string_agg(label, ',' ORDER BY label) FROM events")"

# pitr_check NAME DIR PORT EXPECTED [SET] TARGET-OPTIONS...: restore with no --set,
# start, the labels in events must be EXPECTED, the set chosen must be SET (default S1)
pitr_check() {
	local name=$1 dir=$2 port=$3 want=$4 pick=$S1; shift 4
	if [[ $1 != -* ]]; then pick=$1; shift; fi
	if ! tb_ok "$name: restore $*" restore --cluster src --tenant shop --to "$dir" \
		--port "$port" --socket-dir "$SOCK" --start "$@"; then
		return 0
	fi
	assert_contains "$name: restore reports the tenant ready" "$TB_ALL" "tenant \"shop\" is ready on port $port"
	assert_contains "$name: the newest set before the target ($pick) was chosen" "$TB_ALL" "starting from backup set $pick"
	assert_eq "$name: events holds $want" "$want" \
		"$(psql_at "$port" shop "SELECT string_agg(label, ',' ORDER BY label) FROM events" 2>&1)"
	check_invariant "$port" shop
	check_amcheck "$port" shop
	assert_ok "$name: clean stop" pg_stop "$dir"
}

pitr_check "time between B and C" "$T/r_time" $R_TIME "A,B,pre" --target-time "$t_bc"
pitr_check "restore point before_b" "$T/r_name" $R_NAME "A,pre" --target-name before_b
pitr_check "LSN right after A" "$T/r_lsn" $R_LSN "A,pre" --target-lsn "$lsn_a"
pitr_check "xid of B" "$T/r_xid" $R_XID "A,B,pre" --target-xid "$xid_b"
pitr_check "time between S0 and S1" "$T/r_mid" $R_MID "pre" "$S0" --target-time "$t_mid"

# ---- refused targets
tb_fails "a target time in the future is refused" 1 restore --cluster src --tenant shop \
	--to "$T/r_future" --port $R_BAD --socket-dir "$SOCK" --start --target-time '2099-01-01 00:00:00+00'
assert_contains "future: is not in a restorable range" "$TB_ERR" "is not in a restorable range"
assert_true "future: target directory not created" test ! -e "$T/r_future"

tb_fails "a target time before the first set is refused" 1 restore --cluster src --tenant shop \
	--to "$T/r_early" --port $R_BAD --socket-dir "$SOCK" --start --target-time "$t_before"
assert_contains "early: is before the consistency point" "$TB_ERR" "is before the consistency point"
assert_true "early: target directory not created" test ! -e "$T/r_early"
assert_eq "nothing listening on the refused restores' port" no \
	"$(psql_at $R_BAD postgres 'SELECT 1' >/dev/null 2>&1 && echo yes || echo no)"
