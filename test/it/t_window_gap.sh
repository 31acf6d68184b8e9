#!/usr/bin/env bash
# A missing WAL segment in the archive. Full set, then writes and WAL switches so that
# several segments are archived; one in the middle is moved away:
#   - window --output json: the set's range ends at the gap, naming the segment;
#   - a restore to an LSN beyond the gap is refused ("is not in a restorable range",
#     naming the gap), the target directory not created;
# the segment put back: the range ends at "end of the archive" and the same restore
# works, with every row written up to that LSN.
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
require_tenback

P=26530; R=26531

pg_create src $P checksums=on
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 1
pgbench_init $P crm 1
psql_q shop "CREATE TABLE steps (n int PRIMARY KEY)"
wal_switch_and_wait $P

tb_must "full backup" backup --cluster src --tenant shop --mode full
F=$(last_line "$TB_OUT")
stop_lsn=$(set_json src shop | jq -r --arg id "$F" '.[] | select(.id == $id) | .stop_lsn')
stop_seg=$(psql_q postgres "SELECT pg_walfile_name('$stop_lsn')")
log "set $F stops at $stop_lsn (segment $stop_seg)"

# five steps, each in a segment of its own
segs=()
for n in 1 2 3 4 5; do
	psql_q shop "INSERT INTO steps VALUES ($n)"
	lsn_end=$(psql_q postgres "SELECT pg_current_wal_insert_lsn()")
	segs+=("$(psql_q postgres "SELECT pg_walfile_name('$lsn_end')")")
	wal_switch_and_wait $P
done
psql_q shop "INSERT INTO steps VALUES (6)"
wal_switch_and_wait $P
log "steps were written in segments ${segs[*]}; LSN after step 5: $lsn_end"

ARCH="tenback/$(st_sysid)/archive/00000001"
gap=${segs[2]}
gap_file=$(st_keys "$ARCH" | grep -F "$ARCH/$gap" | head -n 1)
assert_true "segment $gap of step 3 is archived" test -n "$gap_file"
assert_true "the gap segment comes after the set's stop segment" test "$gap" \> "$stop_seg"

# window_of SET FIELD: a field of SET's range in window --output json
window_of() {
	printf '%s' "$WIN" | jq -r --arg id "$1" '[.[] | select(.set == $id)][0] | '"$2" 2>&1
}

tb_ok "window before the gap" window --cluster src --tenant shop --output json || true
WIN=$TB_OUT
log "window: $(printf '%s' "$WIN" | jq -c . 2>&1)"
assert_contains "range of $F ends at the end of the archive" "$(window_of "$F" .end_reason)" "end of the archive"

install -d -o "$PG_USER" "$T/moved"
st_get "$gap_file" "$T/moved/gap"
st_rm "$gap_file"
tb_ok "window with segment $gap missing" window --cluster src --tenant shop --output json || true
WIN=$TB_OUT
log "window: $(printf '%s' "$WIN" | jq -c . 2>&1)"
reason=$(window_of "$F" .end_reason)
assert_contains "range of $F ends at a gap" "$reason" "gap"
assert_contains "the end reason names the missing segment" "$reason" "$gap"
end_lsn=$(window_of "$F" .end_lsn)
assert_match "the range has an end LSN" "$end_lsn" '^[0-9A-F]+/[0-9A-F]+$'
assert_eq "the range ends before the LSN after step 5" t \
	"$(psql_q postgres "SELECT '$end_lsn'::pg_lsn < '$lsn_end'::pg_lsn" 2>&1)"
assert_eq "the range ends no earlier than the set's stop LSN" t \
	"$(psql_q postgres "SELECT '$end_lsn'::pg_lsn >= '$stop_lsn'::pg_lsn" 2>&1)"
tb_ok "window text output" window --cluster src --tenant shop || true
assert_contains "window text names the missing segment" "$TB_OUT" "$gap"

tb_fails "restore to an LSN beyond the gap is refused" 1 restore --cluster src --tenant shop \
	--to "$T/r_gap" --port $R --socket-dir "$SOCK" --start --target-lsn "$lsn_end"
assert_contains "is not in a restorable range" "$TB_ERR" "is not in a restorable range"
assert_contains "the refusal names the gap" "$TB_ALL" "$gap"
assert_contains "the refusal says which range is nearest (the set's)" "$TB_ALL" "nearest range starts at backup set $F"
assert_true "target directory not created" test ! -e "$T/r_gap"

# the segment back
st_put "$T/moved/gap" "$gap_file"
tb_ok "window with the segment back" window --cluster src --tenant shop --output json || true
WIN=$TB_OUT
reason=$(window_of "$F" .end_reason)
assert_contains "range of $F ends at the end of the archive again" "$reason" "end of the archive"
assert_not_contains "no gap any more" "$reason" "gap"
if tb_ok "restore to the LSN after step 5" restore --cluster src --tenant shop --to "$T/r" \
	--port $R --socket-dir "$SOCK" --start --target-lsn "$lsn_end"; then
	assert_eq "steps 1 to 5 restored, not 6" "1,2,3,4,5" \
		"$(psql_at $R shop "SELECT string_agg(n::text, ',' ORDER BY n) FROM steps" 2>&1)"
	check_amcheck $R shop
	check_invariant $R shop
	assert_ok "clean stop" pg_stop "$T/r"
fi
