#!/usr/bin/env bash
# kill -9 of tenback in the middle of a backup: no set is listed, PostgreSQL is not
# left in backup mode, the next backup succeeds (in bounded memory) and restores, and
# the killed set's leftovers are gone from storage. On S3 the kill comes in the
# middle of a multipart upload; the next backup also aborts the upload left pending.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26470; R=26471

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 20      # about 300 MB, so the backup takes a while
wal_switch_and_wait $P

SHOP="tenback/$(st_sysid)/shop"
shop_dir_bytes() { st_sizes "$SHOP" | awk '{ s += $1 } END { print s + 0 }'; }

# start the backup uncompressed (slowest to write) and remember tenback's own pid
bg runuser -u "$PG_USER" -- bash -c 'echo $$ >"$1/tenback.pid"; exec "$2" --home "$3" backup --cluster src --tenant shop --compress none' \
	tb-bg "$T" "$TENBACK" "$TB_HOME" >>"$T/log/killed-backup.txt" 2>&1
wait_for "tenback pid file" 30 test -s "$T/tenback.pid"
tb_pid=$(cat "$T/tenback.pid")
enough_written() {
	if [[ $TB_STORAGE == s3 ]]; then (( $(s3_pending_uploads "/shop/") > 0 ))
	else (( $(shop_dir_bytes) > 20000000 )); fi
}
wait_for "backup data written" 120 enough_written || true
[[ $TB_STORAGE == s3 ]] && sleep 1   # some parts of the upload on their way
written=$(shop_dir_bytes)
if kill -0 "$tb_pid" 2>/dev/null; then
	kill -9 "$tb_pid"
	ok "killed tenback (pid $tb_pid) mid-backup after $written bytes written"
else
	not_ok "tenback was still running when we meant to kill it" "$(cat "$T/log/killed-backup.txt")"
fi
tb_gone() { ! kill -0 "$tb_pid" 2>/dev/null; }
wait_for "tenback gone" 30 tb_gone || true
workload_stop   # reaps the background runuser

leftovers=$(st_dirs "$SHOP")
log "set directories after the kill: $(echo $leftovers); multipart uploads pending: $(s3_pending_uploads /shop/)"
assert_eq "no set listed after the kill" 0 "$(set_count src shop)"
no_other_clients() {
	[[ $(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()") == 0 ]]
}
assert_true "the killed backup's session ends (server not left in backup mode)" \
	wait_for "killed session gone" 30 no_other_clients

TB_RSS_FILE="$T/rss.txt" tb_must "the next backup succeeds" backup --cluster src --tenant shop
rss_kib=$(tail -n 1 "$T/rss.txt")
log "peak RSS of the backup: $rss_kib KiB"
if [[ ${TB_SANITIZED:-0} == 1 ]]; then
	log "memory bound not checked under sanitizers (their shadow memory counts as resident)"
else
	assert_true "backup of a $(psql_q postgres "SELECT pg_size_pretty(pg_database_size('shop'))") tenant stays under 100 MiB resident ($rss_kib KiB)" \
		test "$rss_kib" -lt 102400
fi
set_id=$(last_line "$TB_OUT")
assert_eq "one set listed" 1 "$(set_count src shop)"
assert_eq "it is the new set" "$set_id" "$(set_ids src shop)"
for d in $leftovers; do
	if [[ $d != "$set_id" ]]; then
		assert_eq "the killed set's leftovers are gone: $d" "" "$(st_keys "$SHOP/$d")"
	fi
done
assert_eq "only the new set's directory is left for shop" "$set_id" "$(st_dirs "$SHOP")"
assert_eq "no multipart upload is left pending" 0 "$(s3_pending_uploads)"
tb_ok "verify the new set" verify --cluster src --tenant shop --set "$set_id" || true
wal_switch_and_wait $P
if tb_restore_start src shop "$set_id" "$T/r" $R; then
	compare_tenant "every shop table equals the source" $P $R shop
	check_amcheck $R shop
fi
