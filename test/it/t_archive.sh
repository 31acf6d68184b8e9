#!/usr/bin/env bash
# WAL archive: archive_command works (nothing failed); archive-push is idempotent for
# identical content and refuses a different file under an existing name; archive-get
# returns the same bytes, and fails for a missing segment or history file. A segment
# switched early is stored with zeros after its switch record (recovery never reads
# there): a recycled segment's old WAL in that rest is neither stored nor compared.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26480

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE TABLE t AS SELECT g FROM generate_series(1, 200000) g"
for _ in 1 2 3; do wal_switch_and_wait $P; done
assert_eq "archiver reports no failure" 0 "$(psql_q postgres "SELECT failed_count FROM pg_stat_archiver")"
# the segment just archived: a finished segment, still in pg_wal until the next checkpoint
seg=$(psql_q postgres "SELECT last_archived_wal FROM pg_stat_archiver")
assert_match "an archived segment" "$seg" '^[0-9A-F]{24}$'
install -d -o "$PG_USER" "$T/orig"
cp "${PG_DATA[src]}/pg_wal/$seg" "$T/orig/$seg"
wal="$T/orig"
stored=$(st_keys "tenback/$(st_sysid)/archive" | grep -F "/$seg" | head -n 1)
assert_contains "segment stored under tenback/<sysid>/archive/<timeline>/" "$stored" "/archive/"
log "stored as $stored ($(st_size "$stored") bytes of $(stat -c %s "$wal/$seg"))"
before=$(st_md5 "$stored")

# identical content again: success, stored file unchanged
install -d -o "$PG_USER" "$T/w"
cp "$wal/$seg" "$T/w/$seg"; chown "$PG_USER:" "$T/w/$seg"
tb_ok "archive-push of the same segment again succeeds" archive-push --cluster src "$T/w/$seg" || true
assert_eq "stored file unchanged by the repeated push" "$before" "$(st_md5 "$stored")"

# different content under the same name: refused
install -d -o "$PG_USER" "$T/bad"
cp "$wal/$seg" "$T/bad/$seg"; chown "$PG_USER:" "$T/bad/$seg"
flip_byte "$T/bad/$seg" 100   # in the first record, before the segment's switch record
tb_fails "archive-push of different content under an existing name fails" nz archive-push --cluster src "$T/bad/$seg"
assert_contains "the error names the segment" "$TB_ALL" "$seg"
assert_contains "stderr has ERROR:" "$TB_ERR" "ERROR:"
assert_eq "stored file unchanged by the refused push" "$before" "$(st_md5 "$stored")"
# a prefix of the archived content (the same bytes, fewer of them): refused too
head -c 8388608 "$wal/$seg" >"$T/bad/$seg"
tb_fails "archive-push of a prefix of the archived segment fails" nz archive-push --cluster src "$T/bad/$seg"
assert_contains "saying the content differs" "$TB_ERR" "already archived with different content"
assert_contains "and how" "$TB_ERR" "the one a prefix of the other"
assert_eq "stored file unchanged by the refused prefix" "$before" "$(st_md5 "$stored")"

# archive-get: same bytes
tb_ok "archive-get of an archived segment" archive-get --cluster src "$seg" "$T/w/got" || true
assert_ok "archive-get returns the same bytes" cmp "$wal/$seg" "$T/w/got"

# The segment was switched early (pg_switch_wal): its WAL ends far before 8 MiB. The
# same segment with old WAL after its switch record (as a recycled segment has it) is
# the same content to recovery: accepted, the stored object unchanged.
cp "$wal/$seg" "$T/bad/$seg"
head -c 1048576 /dev/urandom | dd of="$T/bad/$seg" bs=1M seek=8 conv=notrunc status=none
tb_ok "archive-push of the segment with other bytes after its switch record succeeds" \
	archive-push --cluster src "$T/bad/$seg" || true
assert_eq "stored file unchanged by it" "$before" "$(st_md5 "$stored")"
# Pushed first with such a rest (under a name not archived yet), it is stored with
# zeros there: archive-get gives the WAL and zeros, neither the old bytes nor less.
fresh=0000000100000000000000F0
cp "$T/bad/$seg" "$T/bad/$fresh"; chown "$PG_USER:" "$T/bad/$fresh"
tb_ok "archive-push of a switched segment with old bytes after its switch record" \
	archive-push --cluster src "$T/bad/$fresh" || true
tb_ok "archive-get of it" archive-get --cluster src "$fresh" "$T/w/fresh" || true
assert_eq "its size is the segment's" "$(stat -c %s "$wal/$seg")" "$(stat -c %s "$T/w/fresh")"
assert_ok "its WAL is the segment's (the first 1 MiB)" cmp -n 1048576 "$wal/$seg" "$T/w/fresh"
assert_ok "the old bytes after the switch record are zeros" cmp -n 1048576 -i 8388608:0 "$T/w/fresh" /dev/zero
assert_ok "and the rest to the end too" cmp "$wal/$seg" "$T/w/fresh"
fresh_obj=$(st_keys "tenback/$(st_sysid)/archive" | grep -F "/$fresh" | head -n 1)
log "stored as $fresh_obj ($(st_size "$fresh_obj") bytes; the same segment with 1 MiB of random bytes after its switch record)"
assert_true "the old bytes were not stored (under 64 KiB)" test "$(st_size "$fresh_obj")" -lt 65536

# missing segment / history file: non-zero, no file left
tb_fails "archive-get of a missing segment fails" nz archive-get --cluster src 0000000100000000000000FE "$T/w/missing"
assert_true "no file created for the missing segment" test ! -e "$T/w/missing"
tb_fails "archive-get of a missing history file fails" nz archive-get --cluster src 00000009.history "$T/w/missing.history"
assert_true "no file created for the missing history file" test ! -e "$T/w/missing.history"

# archive-push of a path that does not exist
tb_fails "archive-push of a missing file fails" nz archive-push --cluster src "$T/w/000000010000000000000077"
assert_contains "it names the missing file" "$TB_ALL" "000000010000000000000077"

# unknown cluster
tb_fails "archive-push to an unknown cluster fails" nz archive-push --cluster nope "$T/w/$seg"

# archiving still works
wal_switch_and_wait $P
assert_eq "archiver still reports no failure" 0 "$(psql_q postgres "SELECT failed_count FROM pg_stat_archiver")"
