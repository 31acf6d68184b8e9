#!/usr/bin/env bash
# scripts/demo.sh: tenback end to end on a throwaway PostgreSQL 15 instance.
#
# Sets up (scripts/setup.sh), then: a PostgreSQL 15 instance with data checksums,
# archive_mode=on and tenback as archive_command, in a temporary directory with its
# own port and socket directory; two tenants (databases shop and crm) with pgbench
# data; registers the cluster; lists tenants; takes a full backup of shop while
# pgbench writes to it; lists and verifies the set; restores it to a new directory and
# port and starts it; checks that every shop table equals the source and that crm is
# absent. Prints PASS or FAIL, and removes everything it created (KEEP=1 keeps it).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
"$REPO/scripts/setup.sh"

TEST_NAME=demo
source "$REPO/test/it/lib.sh"

step() { printf '\n==> %s\n' "$*"; }
show() { [[ -n $1 ]] && printf '%s\n' "$1" | sed 's/^/    /'; return 0; }
it_summary_hook() {
	echo
	if [[ $2 -eq 0 ]]; then
		echo "PASS: tenant shop was backed up online and restored; $1 checks passed."
	else
		echo "FAIL: $2 of $(($1 + $2)) checks failed (see the 'not ok' lines above)."
	fi
}
require_tenback

P=26400; R=26401

step "a PostgreSQL 15 instance in $T (port $P, archive_command = tenback archive-push)"
pg_create main $P checksums=on
grep -E '^(port|archive_mode|archive_command|unix_socket_directories)' "${PG_DATA[main]}/postgresql.conf" | sed 's/^/    /'

step "tenback cluster add main ..."
cluster_add main
show "$TB_ALL"

step "two tenants, shop and crm, with pgbench data"
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 5
pgbench_init $P crm 2

step "tenback tenant list --cluster main"
tb_ok "tenant list" tenant list --cluster main || true
show "$TB_OUT"

step "tenback backup --cluster main --tenant shop --mode full   (pgbench writing meanwhile)"
workload_start shop 600
sleep 2
tb_must "full backup of shop" backup --cluster main --tenant shop --mode full
show "$TB_ALL"
set_id=$(last_line "$TB_OUT")
sleep 2
workload_stop
wal_switch_and_wait $P

step "tenback set list --cluster main --tenant shop"
tb_ok "set list" set list --cluster main --tenant shop || true
show "$TB_OUT"

step "tenback verify --cluster main --tenant shop --set $set_id"
tb_ok "verify" verify --cluster main --tenant shop --set "$set_id" || true
show "$TB_ALL"

step "tenback restore --cluster main --tenant shop --set $set_id --to $T/shop-restored --port $R --start"
if tb_restore_start main shop "$set_id" "$T/shop-restored" $R; then
	show "$TB_ALL"
	step "checks on the restored instance"
	compare_tenant "every shop table equals the source (ordered row checksums)" $P $R shop
	tenant_fingerprint $R "$SOCK" shop | sed 's/^/    /'
	assert_eq "crm is absent, shop present" "postgres shop" "$(databases $R | xargs)"
	check_invariant $R shop
fi
