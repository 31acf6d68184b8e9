#!/usr/bin/env bash
# Storage on a 20 MiB tmpfs: a backup bigger than that fails with a no-space error,
# lists no set and leaves no set files behind; once the file system has room, the
# next backup succeeds, verifies and restores.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26460; R=26461

SMALL="$T/small"
install -d "$SMALL"
mount -t tmpfs -o size=20m,mode=0700 tmpfs "$SMALL"
_MOUNTS+=("$SMALL")
chown "$PG_USER:" "$SMALL"

# Load the data before archiving starts, so the WAL of the load never lands on the
# small file system: only the backup should fill it.
pg_create src $P checksums=on archive=off
tb_must "cluster add with storage on the small tmpfs" cluster add src --conninfo "$(conninfo src)" \
	--pgdata "${PG_DATA[src]}" --storage "file://$SMALL"
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 3       # about 45 MB of relation files, more than 20 MiB uncompressed
psql_q postgres "CHECKPOINT"
pg_archive_on src
wal_switch_and_wait $P
log "tmpfs use before the backup: $(df -k --output=used "$SMALL" | tail -n 1 | xargs) KiB"

tb_fails "uncompressed backup onto a full file system fails" 1 backup --cluster src --tenant shop --compress none
assert_contains "the error says there is no space" "$TB_ALL" 'no space|space left|disk full|file system full' -E
assert_contains "stderr has ERROR:" "$TB_ERR" "ERROR:"
assert_eq "no set listed after the failed backup" 0 "$(set_count src shop)"
assert_eq "no set files left in storage" "" \
	"$(find "$SMALL/tenback" -mindepth 3 -path '*/shop/*' -type f 2>/dev/null | head -n 5)"
log "tmpfs use after the failure: $(df -k --output=used "$SMALL" | tail -n 1 | xargs) KiB"

mount -o remount,size=400m "$SMALL"
tb_must "with room, the next backup succeeds" backup --cluster src --tenant shop --compress none
set_id=$(last_line "$TB_OUT")
assert_eq "one set listed" 1 "$(set_count src shop)"
tb_ok "verify the new set" verify --cluster src --tenant shop --set "$set_id" || true
wal_switch_and_wait $P
if tb_restore_start src shop "$set_id" "$T/r" $R; then
	compare_tenant "every shop table equals the source" $P $R shop
	check_invariant $R shop
fi

# ---- a restore onto a file system that fills up: a clear error, nothing looks restored.
# Its relation files are written with O_DIRECT where the file system takes it (tmpfs
# does since Linux 6.6), so this is the direct write's ENOSPC as much as the buffered one.
TGT="$T/target"
install -d "$TGT"
mount -t tmpfs -o size=24m,mode=0700 tmpfs "$TGT"
_MOUNTS+=("$TGT")
chown "$PG_USER:" "$TGT"
R2=26462
tb_fails "a restore onto a full file system fails" 1 restore --cluster src --tenant shop --set "$set_id" \
	--to "$TGT/r"
log "the restore said: $(grep -m 1 'ERROR' <<<"$TB_ALL")"
assert_contains "the error says there is no space" "$TB_ALL" 'No space left on device'
assert_contains "and names the file it was writing" "$TB_ALL" "could not write file \"$TGT/r/"
assert_true "no restored data directory is left to be started (no PG_VERSION, no postgresql.auto.conf)" \
	test ! -e "$TGT/r/PG_VERSION" -o ! -e "$TGT/r/global/pg_control"
mount -o remount,size=400m "$TGT"
if tb_restore_start src shop "$set_id" "$TGT/r" $R2 --force; then
	compare_tenant "with room, --force restores over it: every shop table equals the source" $P $R2 shop
	check_invariant $R2 shop
fi
