#!/usr/bin/env bash
# What object stores do under load and in outages, against a real S3 server (Ceph
# RGW, test/fixtures/rgw.sh) with tb-faultproxy (test/fixtures/faultproxy.c) between
# tenback and it. Cluster "a" reaches the server through the proxy:
#   1. 503 SlowDown on a quarter of the requests (and 500s, and connections reset) while a
#      backup runs and archive_command pushes WAL: each is retried (logged), the backup
#      completes, verify and a restore read through responses cut mid-body, and the
#      restored tenant equals the source;
#   2. the gateway killed (kill -9) in the middle of a multipart upload and started
#      again a few seconds later: the upload resumes, the backup completes and restores;
# Cluster "b" has a small retry budget (retries=2&retry-time=3 in its URI):
#   3. the gateway killed mid-upload and kept down: the backup fails cleanly, naming the
#      operation, the object and the last error; no set is listed, no partial object
#      is visible, nothing is left half-written in the metadata; with the gateway back
#      the next backup succeeds, removes the failed set's leftovers (incomplete uploads
#      included) and restores;
#   4. the network cut (the proxy refusing everything) during archive-push: PostgreSQL
#      keeps the segments and retries; once the network is back everything is archived.
# tb-storage: s3 (this test is about S3 only: it starts its own server)
TB_STORAGE=s3
source "$(dirname "$0")/lib.sh"
require_tenback

PA=26981; PB=26982; RA=26983; RB=26984
PROXY_PORT=26995
PROXY="${TB_BUILD_DIR:-$REPO_ROOT/build}/test/fixtures/tb-faultproxy"
RGW="$REPO_ROOT/test/fixtures/rgw.sh"
CTL="$T/faults.ctl"
PLOG="$T/log/faultproxy.log"

if [[ ! -x $PROXY ]]; then
	not_ok "tb-faultproxy exists at $PROXY" "build it: ninja -C build"
	exit 1
fi
storage_setup   # the S3 server, the bucket, the credentials file
# the proxy is not one of lib.sh's bg processes: workload_stop must leave it running
setsid "$PROXY" --listen "$PROXY_PORT" --upstream "$S3_RGW_PORT" --control "$CTL" --log "$PLOG" \
	>"$T/log/faultproxy.out" 2>"$T/log/faultproxy.err" &
PROXY_PID=$!
trap '_rc=$?; kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; (exit $_rc); _cleanup' EXIT
wait_for "the proxy listens" 20 grep -qx "listening on 127.0.0.1:$PROXY_PORT" "$T/log/faultproxy.out" \
	|| { not_ok "tb-faultproxy starts" "$(cat "$T/log/faultproxy.err")"; exit 1; }
VIA="endpoint=http://127.0.0.1:$PROXY_PORT&region=us-east-1&uri-style=path&part-size=5MiB"   # small parts: multipart on tens of MB

# faults WORDS...: the proxy's control file (written aside and renamed: seen at once)
faults() {
	printf '%s\n' "$*" >"$CTL.tmp"
	mv "$CTL.tmp" "$CTL"
}
injected() { grep -c -- "-> $1" "$PLOG" || true; }

# ---- cluster a: through the proxy, default retries
pg_create a $PA checksums=on
STORAGE_URI="s3://$S3_BUCKET/$S3_PREFIX?$VIA"   # the st_* helpers look under $S3_PREFIX
cluster_add a
psql_q postgres "CREATE DATABASE shop"
pgbench_init $PA shop 4
psql_q shop "CREATE TABLE notes AS SELECT g AS id, md5(g::text) AS txt FROM generate_series(1, 50000) g"
wal_switch_and_wait $PA

# ---- 1. 503 SlowDown, 500, reset connections
log "phase 1 at $SECONDS s"
faults mode=503 percent=20 seed=11
workload_start shop 600 $PA
tb_run backup --cluster a --tenant shop --compress lz4
faults mode=500 percent=10 seed=12
psql_q postgres "SELECT pg_switch_wal()" >/dev/null
sleep 1
faults mode=reset percent=20 seed=13
psql_q postgres "SELECT pg_switch_wal()" >/dev/null
sleep 1
workload_stop
if [[ $TB_RC -eq 0 ]]; then ok "backup completes with a 503 SlowDown on one request in five"; else
	not_ok "backup completes with a 503 SlowDown on one request in five" "exit $TB_RC" "$(tail -n 20 <<<"$TB_ERR")"
fi
set1=$(last_line "$TB_OUT")
n503=$(injected 503)
log "503s injected: $n503; retries logged by tenback: $(grep -c 'retry' <<<"$TB_ERR" || true)"
# (small files go into bundles: a backup makes tens of requests, not thousands)
assert_true "the proxy answered 503 to several requests ($n503)" test "$n503" -ge 3
assert_contains "each retry is logged, naming the answer" "$TB_ERR" "HTTP 503 SlowDown"
assert_contains "and the attempt" "$TB_ERR" "retry 1 of"
faults mode=pass
wal_switch_and_wait $PA
assert_true "resets were injected during archiving" test "$(injected reset)" -ge 1

# reads under faults: responses cut in the middle of their bodies, and 503s
# (one GET of a bundle's window serves many small files: verify makes tens of GETs)
faults mode=drop-mid-body methods=GET percent=30 seed=14
tb_ok "verify reads through responses cut mid-body" verify --cluster a --tenant shop --set "$set1" || true
assert_true "responses were cut during verify ($(injected drop))" test "$(injected drop)" -ge 2
faults mode=503 methods=GET percent=10 seed=15
if tb_restore_start a shop "$set1" "$T/r1" $RA; then
	faults mode=pass
	compare_tenant "restored under faults: every shop table equals the source" $PA $RA shop
	check_amcheck $RA shop
	check_invariant $RA shop
	pg_stop "$T/r1"
fi
faults mode=pass

# ---- 2. the gateway killed in the middle of a multipart upload, back after 4 s
log "phase 2 at $SECONDS s"
psql_q shop "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 150000) g"
wal_switch_and_wait $PA
rm -f "$T/bk2.out" "$T/bk2.err"
bg runuser -u "$PG_USER" -- "$TENBACK" --home "$TB_HOME" backup --cluster a --tenant shop --compress none \
	>"$T/bk2.out" 2>"$T/bk2.err"
bk2=${_BG_PIDS[-1]}
uploading() { (( $(s3_pending_uploads "/shop/") > 0 )); }
if wait_for "a multipart upload of shop under way" 120 uploading; then
	sleep 0.2
	"$RGW" gw-stop "$T/rgw"
	ok "gateway killed (kill -9) in the middle of a multipart upload"
	sleep 4
	"$RGW" gw-start "$T/rgw" >>"$T/log/rgw.txt" 2>&1
	ok "gateway started again"
else
	not_ok "a multipart upload of shop was under way"
fi
bk2_done() { ! kill -0 "$bk2" 2>/dev/null; }
wait_for "the backup ends" 300 bk2_done || true
wait "$bk2" && rc=0 || rc=$?
assert_eq "the backup rode out the outage and completed" 0 "$rc"
[[ $rc == 0 ]] || log "it said: $(grep -E 'ERROR|DETAIL|HINT|retry' "$T/bk2.err" | tail -n 8 | tr '\n' '|')"
set2=$(last_line "$(cat "$T/bk2.out")")
assert_contains "the outage was retried, and logged" "$(cat "$T/bk2.err")" "retry"
assert_eq "no multipart upload left pending" 0 "$(s3_pending_uploads)"
tb_ok "verify the set taken across the outage" verify --cluster a --tenant shop --set "$set2" || true
wal_switch_and_wait $PA
if tb_restore_start a shop "$set2" "$T/r2" $RA; then
	compare_tenant "every shop table equals the source" $PA $RA shop
	check_amcheck $RA shop
	pg_stop "$T/r2"
fi

# ---- 2b. the answer to a multipart completion lost after the gateway committed it: the
# retried completion of the same upload succeeds (RGW answers it again), the set verifies
log "phase 2b at $SECONDS s"
faults mode=drop-mid-body methods=POST match=uploadId count=1
tb_run backup --cluster a --tenant shop --compress none
faults mode=pass
if [[ $TB_RC -eq 0 ]]; then ok "a backup whose completion answer was cut completes"; else
	not_ok "a backup whose completion answer was cut completes" "exit $TB_RC" "$(tail -n 20 <<<"$TB_ERR")"
fi
set3=$(last_line "$TB_OUT")
assert_eq "the proxy cut the answer to one completion" 1 "$(grep -c 'POST .*uploadId=.* -> drop' "$PLOG" || true)"
assert_match "the completion was retried, and logged" "$TB_ERR" \
	'S3 completion of a multipart upload of "[^"]+": .*; retry 1 of'
tb_ok "verify that set" verify --cluster a --tenant shop --set "$set3" || true

# ---- 3. cluster b: a small retry budget; the gateway down for good during the backup
log "phase 3 at $SECONDS s"
pg_create b $PB checksums=on
S3_PREFIX=b     # cluster b's root, for the st_* helpers too
STORAGE_URI="s3://$S3_BUCKET/b?endpoint=$S3_EP&region=us-east-1&uri-style=path&part-size=5MiB&retries=2&retry-time=3"
cluster_add b
psql_q postgres "CREATE DATABASE crm"
pgbench_init $PB crm 3
wal_switch_and_wait $PB
rm -f "$T/bk3.out" "$T/bk3.err"
bg runuser -u "$PG_USER" -- "$TENBACK" --home "$TB_HOME" backup --cluster b --tenant crm --compress none \
	>"$T/bk3.out" 2>"$T/bk3.err"
bk3=${_BG_PIDS[-1]}
uploading_crm() { (( $(s3_pending_uploads "/crm/") > 0 )); }
if wait_for "a multipart upload of crm under way" 120 uploading_crm; then
	sleep 0.2
	"$RGW" gw-stop "$T/rgw"
	ok "gateway killed in the middle of crm's multipart upload"
fi
bk3_done() { ! kill -0 "$bk3" 2>/dev/null; }
wait_for "the backup gives up" 120 bk3_done || true
wait "$bk3" && rc=0 || rc=$?
err3=$(cat "$T/bk3.err")
assert_ne "the backup fails while the server is down" 0 "$rc"
assert_contains "the error names the S3 operation and the object" "$err3" 'of "s3://'"$S3_BUCKET"'/b/tenback/'
assert_contains "the error gives the last error" "$err3" "could not reach"
assert_contains "and how long it tried" "$err3" "Gave up after"
assert_eq "no set listed for crm" 0 "$(set_count b crm)"
row=$(as_pg sqlite3 "$TB_HOME/metadata.db" "SELECT status || ': ' || error FROM backup_set WHERE cluster = 'b'")
assert_match "the set's row in the metadata says failed, and why (the S3 operation)" "$row" '^failed: .*S3 [a-z ]+ of "s3://'
"$RGW" gw-start "$T/rgw" >>"$T/log/rgw.txt" 2>&1
# the sets of crm that hold objects: from the keys, not from the common prefixes of a
# delimited listing (RGW keeps a prefix listed while index entries of writes its crash
# cut short are pending, with no object under it)
crm_sets() {
	local s
	for s in $(st_dirs tenback); do
		st_keys "tenback/$s/crm" | sed -E "s|^tenback/$s/crm/([^/]+)/.*|\1|"
	done | sort -u
}
failed_set=$(crm_sets | xargs)
log "after the failure: set directories of crm: ${failed_set:-none}; uploads pending: $(s3_pending_uploads /crm/)"
manifests=0
for s in $(st_dirs tenback); do
	for d in $(st_dirs "tenback/$s/crm"); do
		st_exists "tenback/$s/crm/$d/manifest" && manifests=$((manifests + 1))
	done
done
assert_eq "the failed set has no manifest in the storage" 0 "$manifests"

# the next backup succeeds and removes what the failed one left
wal_switch_and_wait $PB
tb_must "the next backup of crm succeeds" backup --cluster b --tenant crm
set3=$(last_line "$TB_OUT")
log "the next backup said: $(grep -i 'incomplete\|interrupted' <<<"$TB_ERR" | xargs)"
left=$(crm_sets | xargs)
assert_eq "only the new set is in the storage" "$set3" "$left"
if [[ $left != "$set3" ]]; then
	for d in $left; do
		[[ $d == "$set3" ]] || log "left in $d: $(for s in $(st_dirs tenback); do st_keys "tenback/$s/crm/$d"; done | xargs)"
	done
fi
assert_eq "no multipart upload left pending" 0 "$(s3_pending_uploads)"
wal_switch_and_wait $PB
if tb_restore_start b crm "$set3" "$T/r3" $RB; then
	compare_tenant "every crm table equals the source" $PB $RB crm
	check_invariant $RB crm
	pg_stop "$T/r3"
fi

# ---- 4. the network cut while PostgreSQL archives (cluster a, through the proxy)
log "phase 4 at $SECONDS s"
S3_PREFIX=it
before=$(psql_at $PA postgres "SELECT failed_count FROM pg_stat_archiver")
faults mode=down
psql_at $PA shop "INSERT INTO notes SELECT g, 'cut' FROM generate_series(50001, 60000) g"
cut_seg=$(psql_at $PA postgres "SELECT pg_walfile_name(pg_switch_wal())")
archive_failed() { (( $(psql_at $PA postgres "SELECT failed_count FROM pg_stat_archiver") > before )); }
assert_true "archive-push fails while the network is cut" wait_for "an archive failure" 200 archive_failed
assert_true "the segment stays in pg_wal, ready to be pushed" \
	test -e "${PG_DATA[a]}/pg_wal/archive_status/$cut_seg.ready"
assert_contains "the failure names the segment and the endpoint" \
	"$(grep -a 'archive command failed\|ERROR' "$T/log/a.log" | tail -n 20)" "$cut_seg"
faults mode=pass
assert_true "archived once the network is back" wait_for "segment archived" 200 _archived_at_least $PA "$cut_seg"
assert_eq "the segment is in the archive" 1 "$(st_keys "tenback/$(psql_at $PA postgres "SELECT system_identifier FROM pg_control_system()")/archive" | grep -c "/$cut_seg" || true)"
