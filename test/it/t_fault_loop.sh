#!/usr/bin/env bash
# Faults injected in a loop (issue 9); after each, the outcome is checked: no listed set
# that fails verify, the next run succeeds, nothing of the source is lost.
#   - kill -9 of tenback at 12 points spread over a full backup (measured first);
#   - kill -9 of archive-push at random points, as PostgreSQL's archive_command, 8 times:
#     PostgreSQL retries, and the archive restores the source to its latest state;
#   - kill -9 of a restore at 5 points: the partial directory is refused as a target
#     without --force, and --force restores it whole;
#   - PostgreSQL restarted (fast) during a backup: the backup fails saying why, no set;
#   - the storage read-only: the backup fails naming the file system, nothing listed;
#     writable again, the next backup succeeds;
#   - one WAL segment pushed twice at once, 5 times: both succeed, one archived copy,
#     equal to the segment.
# At the end every listed set verifies and the latest restores equal to the source.
# (The storage full: t_disk_full; the network to S3 cut: t_s3_faults.)
source "$(dirname "$0")/lib.sh"
require_tenback

P=26560; R=26561; RR=26562; RL=26563

pg_create src $P checksums=on
KILLWRAP="$T/killwrap.sh"
cat >"$KILLWRAP" <<EOF
#!/usr/bin/env bash
# archive_command: tenback archive-push, killed with SIGKILL after a random delay for
# the first KILLS attempts that are still running then (PostgreSQL retries)
n=\$(cat "$T/kills" 2>/dev/null || echo 0)
"$TENBACK" --home "$TB_HOME" archive-push --cluster src "\$1" &
pid=\$!
if (( n < 8 )); then
	sleep "0.0\$((RANDOM % 10))"
	if kill -0 \$pid 2>/dev/null; then
		kill -9 \$pid
		echo \$((n + 1)) >"$T/kills"
		echo "killed archive-push of \$1 (kill \$((n + 1)))" >>"$T/log/archive-kills.txt"
		wait \$pid
		exit 1
	fi
fi
wait \$pid
EOF
chmod 755 "$KILLWRAP"
cluster_add src
psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 10
psql_q shop "CREATE EXTENSION amcheck"
wal_switch_and_wait $P
SHOP="tenback/$(st_sysid)/shop"

# ---- kill -9 of backups at 12 points over a backup's duration
# the shorter of two backups spaces the kills: the first one, on a cold cache and with
# more WAL to wait for, can take longer than those that follow
dur_ms=0
for n in 1 2; do
	t0=$(date +%s%N)
	tb_must "full backup $n (its duration spaces the kills)" backup --cluster src --tenant shop --compress none
	d=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ "$dur_ms" -eq 0 ] || [ "$d" -lt "$dur_ms" ]; then dur_ms=$d; fi
done
log "a full backup takes $dur_ms ms (the shorter of two)"
sets_before=$(set_count src shop)
# tb_bg LOG ARGS...: tenback ARGS as the PostgreSQL user in the background; TB_BG_PID is
# tenback's own pid (runuser stays as its parent: killing runuser would not kill it)
tb_bg() {
	local logf=$1; shift
	rm -f "$T/bg.pid"
	TB_BG_T0=$(date +%s%N)
	runuser -u "$PG_USER" -- bash -c 'echo $$ >"$1"; shift; exec "$@"' tb-bg "$T/bg.pid" \
		"$TENBACK" --home "$TB_HOME" "$@" >>"$logf" 2>&1 &
	TB_BG_WAITER=$!
	# every 10 ms, not wait_for's 0.2 s: the kill points are tens of milliseconds apart
	for _ in $(seq 1 1000); do [[ -s $T/bg.pid ]] && break; sleep 0.01; done
	TB_BG_PID=$(cat "$T/bg.pid")
}
# tb_bg_kill_after MS: SIGKILL to tenback MS milliseconds after tb_bg launched it (not
# after its pid was seen); true when it was still running
tb_bg_kill_after() {
	local rc=1 left=$(($1 - ($(date +%s%N) - TB_BG_T0) / 1000000))
	if ((left > 0)); then sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"; fi
	if kill -9 "$TB_BG_PID" 2>/dev/null; then rc=0; fi
	wait "$TB_BG_WAITER" 2>/dev/null || true
	return $rc
}
no_other_clients() {
	[[ $(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()") == 0 ]]
}
killed=0
for i in $(seq 1 12); do
	at_ms=$(( dur_ms * i / 20 ))   # 12 points over the first 60 % (the timed run includes start-up)
	tb_bg "$T/log/killed-backups.txt" backup --cluster src --tenant shop --compress none
	if tb_bg_kill_after "$at_ms"; then killed=$((killed + 1)); fi
	wait_for "the killed backup's session gone" 30 no_other_clients >/dev/null || true
done
log "$killed of 12 backups killed while running (the others had finished)"
assert_true "at least 8 of the 12 backups were killed while running ($killed)" test "$killed" -ge 8
completed=$(( $(set_count src shop) - sets_before ))
# a backup killed after its manifest was stored (while it said so and exited) is complete:
# listed sets are at least those that finished, and each of them verifies (below)
assert_true "the backups that finished are listed ($completed listed, $((12 - killed)) finished unkilled)" \
	test "$completed" -ge "$((12 - killed))" -a "$completed" -le 12
tb_must "the next backup succeeds" backup --cluster src --tenant shop
after_kills=$(last_line "$TB_OUT")
assert_eq "no set directory without its manifest is left" "" \
	"$(for d in $(st_dirs "$SHOP"); do st_exists "$SHOP/$d/manifest" || echo "$d"; done)"

# ---- kill -9 of archive-push, as archive_command, while pgbench writes
psql_q postgres "ALTER SYSTEM SET archive_command = '$KILLWRAP %p'"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
workload_start shop 12
for i in 1 2 3 4 5 6; do
	sleep 2
	psql_q postgres "SELECT pg_switch_wal()" >/dev/null
done
workload_stop
wait_no_sessions $P shop
wait_for "8 archive-push runs killed" 120 test "$(cat "$T/kills" 2>/dev/null || echo 0)" -ge 8 || true
assert_eq "8 archive-push runs were killed mid-way" 8 "$(cat "$T/kills" 2>/dev/null || echo 0)"
wal_switch_and_wait $P
assert_eq "PostgreSQL's archiver caught up (nothing pending)" 0 \
	"$(find "${PG_DATA[src]}/pg_wal/archive_status" -name '*.ready' | wc -l)"
psql_q postgres "ALTER SYSTEM RESET archive_command"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
FP=$(tenant_fingerprint $P "$SOCK" shop)
if tb_restore_start src shop "$after_kills" "$T/rl" $RL; then
	assert_eq "the archive written through the kills replays to the source's latest state" "$FP" \
		"$(tenant_fingerprint $RL "$SOCK" shop 2>&1)"
	check_amcheck $RL shop
	assert_ok "clean stop" pg_stop "$T/rl"
fi

# ---- kill -9 of restores at 5 points; the partial directory is refused, --force restores
t0=$(date +%s%N)
tb_must "a restore (its duration spaces the kills)" restore --cluster src --tenant shop --set "$after_kills" --to "$T/rt"
rdur_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rm -rf "$T/rt"
for i in 1 2 3 4 5; do
	at_ms=$(( rdur_ms * i / 6 ))
	tb_bg "$T/log/killed-restores.txt" restore --cluster src --tenant shop --set "$after_kills" --to "$T/rk$i"
	tb_bg_kill_after "$at_ms" || log "restore $i had finished before its kill"
	server_gone() { ! pg_is_running "$T/rk$i"; }
	assert_true "restore $i killed: no server left running in its directory" \
		wait_for "the restore's server gone" 30 server_gone
	if [[ -d $T/rk$i && -n $(ls -A "$T/rk$i") ]]; then
		tb_fails "restore $i killed: its partial directory is refused as a target" 1 \
			restore --cluster src --tenant shop --set "$after_kills" --to "$T/rk$i"
		assert_contains "restore $i: the refusal says why" "$TB_ALL" "not empty"
	else
		ok "restore $i killed before it wrote anything"
	fi
done
if tb_restore_start src shop "$after_kills" "$T/rk3" $RR --force; then
	compare_tenant "--force over a killed restore's directory: every shop table equals the source" $P $RR shop
	check_amcheck $RR shop
	assert_ok "clean stop" pg_stop "$T/rk3"
fi

# ---- PostgreSQL restarted (fast) during a backup
sets_before=$(set_count src shop)
runuser -u "$PG_USER" -- "$TENBACK" --home "$TB_HOME" backup --cluster src --tenant shop --compress none \
	>"$T/log/restart-backup.txt" 2>&1 &
pid=$!
# as soon as the backup has begun (not after a share of a measured duration: a warm
# backup of this tenant is over in a few hundred milliseconds)
for _ in $(seq 1 1000); do grep -q ': pg_backup_start' "$T/log/restart-backup.txt" 2>/dev/null && break; sleep 0.01; done
as_pg "$PGBIN/pg_ctl" -D "${PG_DATA[src]}" restart -m fast -w -l "$T/log/src.log" >/dev/null
rc=0; wait "$pid" || rc=$?
assert_eq "the backup across a server restart fails" 1 "$rc"
assert_contains "it says the connection was lost" "$(cat "$T/log/restart-backup.txt")" "ERROR:"
log "its error: $(grep -m1 ERROR: "$T/log/restart-backup.txt")"
assert_eq "no set is listed for it" "$sets_before" "$(set_count src shop)"
tb_must "the next backup succeeds" backup --cluster src --tenant shop

# ---- the storage read-only
RO="$T/ro"
install -d "$RO"
mount -t tmpfs -o size=512m,mode=0700 tmpfs "$RO"
_MOUNTS+=("$RO")
chown "$PG_USER:" "$RO"
tb_must "a storage configuration on a file system that will turn read-only" storage add rofs --uri "file://$RO"
tb_must "a backup to it while writable" backup --cluster src --tenant shop --storage rofs
sets_before=$(set_count src shop)
mount -o remount,ro "$RO"
tb_fails "a backup to the read-only storage fails" 1 backup --cluster src --tenant shop --storage rofs
assert_contains "it names the read-only file system" "$TB_ERR" "Read-only file system"
assert_eq "no set is listed for it" "$sets_before" "$(set_count src shop)"
mount -o remount,rw "$RO"
tb_must "writable again: the next backup succeeds" backup --cluster src --tenant shop --storage rofs

# ---- one segment pushed twice at once, 5 times
wal_switch_and_wait $P
sysid=$(st_sysid)
mkdir -p "$T/push" && chown "$PG_USER:" "$T/push"
for i in 1 2 3 4 5; do
	key=$(st_keys "tenback/$sysid/archive" | grep -E '/[0-9A-F]{24}$' | sed -n "$((i + 1))p")
	seg=$(basename "$key")
	tb_must "archive-get $seg" archive-get --cluster src "$seg" "$T/push/$seg"
	st_rm "$key"
	runuser -u "$PG_USER" -- "$TENBACK" --home "$TB_HOME" archive-push --cluster src "$T/push/$seg" \
		>"$T/log/push-a-$i.txt" 2>&1 &
	a=$!
	runuser -u "$PG_USER" -- "$TENBACK" --home "$TB_HOME" archive-push --cluster src "$T/push/$seg" \
		>"$T/log/push-b-$i.txt" 2>&1 &
	b=$!
	ra=0; wait "$a" || ra=$?
	rb=0; wait "$b" || rb=$?
	assert_eq "segment $seg pushed twice at once: both succeed" "0 0" "$ra $rb"
	tb_must "archive-get $seg again" archive-get --cluster src "$seg" "$T/push/$seg.back"
	assert_ok "the archived copy equals the segment" cmp "$T/push/$seg" "$T/push/$seg.back"
	rm -f "$T/push/$seg" "$T/push/$seg.back"
done

# ---- every listed set verifies; the latest restores equal to the source
for id in $(set_ids src shop); do
	tb_ok "verify $id" verify --cluster src --tenant shop --set "$id" || true
done
wal_switch_and_wait $P
if tb_restore_start src shop latest "$T/rend" $R; then
	compare_tenant "after every fault: the latest set restores equal to the source" $P $R shop
	check_amcheck $R shop
	check_invariant $R shop
fi
log "done at ${SECONDS}s"
