#!/usr/bin/env bash
# Bad input gets a clear error (exit 1, "ERROR: ..." naming the problem) and leaves
# nothing half-done (no set listed): unknown cluster, unknown tenant, PostgreSQL not
# running, wrong --pgdata (another instance: system identifier mismatch), storage
# not writable, WAL archiving not through tenback; usage errors exit 2; a non-empty restore target is refused without
# --force.
source "$(dirname "$0")/lib.sh"
require_tenback

P=26450; P2=26451

pg_create src $P checksums=on
pg_create other $P2 checksums=on
pg_use src
cluster_add src
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
pgbench_init $P shop 1

# expect_error DESC NEEDLE-ERE ARGS...: exit 1, "ERROR:" on stderr, NEEDLE in the output
expect_error() {
	local desc=$1 needle=$2; shift 2
	tb_fails "$desc: exit 1" 1 "$@"
	assert_contains "$desc: stderr has ERROR:" "$TB_ERR" "ERROR:"
	assert_contains "$desc: message" "$TB_ALL" "$needle" -E
}

# --- usage errors
tb_fails "no command is a usage error" 2
tb_fails "unknown command is a usage error" 2 frobnicate
tb_fails "backup without --cluster is a usage error" 2 backup --tenant shop
tb_fails "unknown option is a usage error" 2 backup --cluster src --tenant shop --no-such-option
tb_fails "bad --compress value is a usage error" 2 backup --cluster src --tenant shop --compress rot13
tb_fails "backup --jobs 0 is a usage error" 2 backup --cluster src --tenant shop --jobs 0
assert_contains "naming --jobs" "$TB_ERR" 'invalid value for --jobs: "0"'
assert_contains "and its range" "$TB_ERR" "from 1 to 64"
tb_fails "backup --jobs 65 is a usage error" 2 backup --cluster src --tenant shop --jobs 65
tb_fails "restore --jobs x is a usage error" 2 restore --cluster src --tenant shop --to "$T/x" --jobs x
assert_contains "naming --jobs" "$TB_ERR" 'invalid value for --jobs: "x"'
tb_fails "backup --jobs through --server is a usage error" 2 --server http://127.0.0.1:9 backup --cluster src \
	--tenant shop --jobs 2
assert_contains "saying the server uses its default" "$TB_ERR" "--jobs is for a backup run by this command"
tb_fails "backup --max-rate 100 (bytes) is a usage error" 2 backup --cluster src --tenant shop --max-rate 100
assert_contains "saying it is too low" "$TB_ERR" "--max-rate is too low: 100 bytes per second"
assert_contains "hinting at the unit" "$TB_ERR" '"64M" is 64 MiB per second'
tb_fails "backup --max-rate 64Q is a usage error" 2 backup --cluster src --tenant shop --max-rate 64Q
assert_contains "naming --max-rate" "$TB_ERR" 'invalid size for --max-rate: "64Q"'
tb_fails "backup --checksum md5 is a usage error" 2 backup --cluster src --tenant shop --checksum md5
assert_contains "naming the checksum" "$TB_ERR" 'unknown checksum "md5"'
assert_contains "with the choices" "$TB_ERR" "Use crc32c or sha256."
assert_eq "no set listed after the usage errors" 0 "$(set_count src)"

# --- unknown cluster
expect_error "unknown cluster" '"nope"' backup --cluster nope --tenant shop
expect_error "set list of unknown cluster" '"nope"' set list --cluster nope

# --- unknown tenant
expect_error "unknown tenant" '"nosuch"' backup --cluster src --tenant nosuch
assert_eq "no set listed after unknown tenant" 0 "$(set_count src)"

# --- unknown set
expect_error "verify of an unknown set" 'set|not found|no such' verify --cluster src --tenant shop --set 20000101-000000F

# --- PostgreSQL not running
pg_stop src
expect_error "PostgreSQL not running" 'connect|not running|refused|no such file' \
	backup --cluster src --tenant shop
pg_start src
assert_eq "no set listed after backup of a stopped instance" 0 "$(set_count src)"

# --- wrong --pgdata: conninfo of src, data directory of other
install -d -o "$PG_USER" -m 700 "$T/storage2"
tb_run cluster add wrongdir --conninfo "$(conninfo src)" --pgdata "${PG_DATA[other]}" --storage "file://$T/storage2"
if [[ $TB_RC -ne 0 ]]; then
	assert_eq "cluster add with wrong pgdata: exit 1" 1 "$TB_RC"
	assert_contains "cluster add with wrong pgdata names the system identifier" "$TB_ALL" "system identifier"
else
	expect_error "backup with wrong pgdata" 'system identifier' backup --cluster wrongdir --tenant shop
	assert_eq "no set listed for the wrong-pgdata cluster" 0 "$(set_count wrongdir)"
fi
assert_eq "no file written to the wrong-pgdata storage's sets" "" \
	"$(find "$T/storage2" -path '*/shop/*' -type f 2>/dev/null)"

# --- pgdata that is not a data directory at all
tb_run cluster add nodir --conninfo "$(conninfo src)" --pgdata "$T/does-not-exist" --storage "file://$T/storage2"
if [[ $TB_RC -ne 0 ]]; then
	assert_eq "cluster add with missing pgdata: exit 1" 1 "$TB_RC"
	assert_contains "cluster add with missing pgdata names it" "$TB_ALL" "$T/does-not-exist"
else
	expect_error "backup with missing pgdata" "does-not-exist" backup --cluster nodir --tenant shop
fi

# --- storage not writable (a root-owned directory)
install -d -o root -m 755 "$T/ro"
tb_run cluster add rostore --conninfo "$(conninfo src)" --pgdata "${PG_DATA[src]}" --storage "file://$T/ro"
if [[ $TB_RC -ne 0 ]]; then
	assert_eq "cluster add with unwritable storage: exit 1" 1 "$TB_RC"
	assert_contains "cluster add with unwritable storage says why" "$TB_ALL" 'permission denied|not writable' -E
else
	expect_error "backup to unwritable storage" 'permission denied|not writable' \
		backup --cluster rostore --tenant shop
	assert_eq "no set listed for the unwritable storage" 0 "$(set_count rostore)"
fi
assert_eq "nothing written under the unwritable storage" "" "$(ls -A "$T/ro")"

# --- storage that stops being writable after registration (the other instance)
install -d -o "$PG_USER" -m 700 "$T/st3"
tb_must "cluster add other" cluster add other --conninfo "$(conninfo other)" \
	--pgdata "${PG_DATA[other]}" --storage "file://$T/st3"
psql_at $P2 postgres "CREATE DATABASE acct"
wal_switch_and_wait $P2
chown -R root: "$T/st3"
chmod -R go-w "$T/st3"
expect_error "backup to storage that became unwritable" 'permission denied|not writable' \
	backup --cluster other --tenant acct
chown -R "$PG_USER:" "$T/st3"
assert_eq "no set listed for the unwritable storage" 0 "$(set_count other)"

# --- WAL archiving that does not go through tenback (archive_command is reloadable)
saved_cmd=$(psql_q postgres "SHOW archive_command")
psql_q postgres "ALTER SYSTEM SET archive_command = 'cp %p /nowhere/%f'"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
sleep 1
expect_error "archiving not through tenback" 'WAL archiving of cluster "src" does not go through tenback' \
	backup --cluster src --tenant shop
assert_contains "naming the archive_command" "$TB_ALL" 'archive_command is "cp %p /nowhere/%f"'
assert_contains "with the setting to use" "$TB_ALL" "archive-push --cluster src"
assert_eq "no set listed after the archiving error" 0 "$(set_count src)"
# archiving that fails now: a warning only (the set's WAL comes from pg_wal; a wait
# for the archive would fail with the reason)
psql_q postgres "ALTER SYSTEM SET archive_command = '/bin/false archive-push %p'"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
sleep 1
psql_q postgres "SELECT pg_switch_wal()" >/dev/null
for _ in $(seq 1 100); do
	[[ $(psql_q postgres "SELECT failed_count > 0 FROM pg_stat_archiver") == t ]] && break
	sleep 0.2
done
assert_eq "the archiver reports a failure" t "$(psql_q postgres "SELECT failed_count > 0 FROM pg_stat_archiver")"
tb_run backup --cluster src --tenant shop --mode full
assert_eq "a backup while archiving fails: exit 0" 0 "$TB_RC"
assert_contains "a backup while archiving fails warns" "$TB_ERR" 'WARNING: WAL archiving of cluster "src" failed for 0000'
tb_must "set delete of that set" set delete --cluster src --tenant shop --set "$(last_line "$TB_OUT")"
psql_q postgres "ALTER SYSTEM RESET archive_command"
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
sleep 1
assert_eq "archive_command restored" "$saved_cmd" "$(psql_q postgres "SHOW archive_command")"

# --- a good backup, then a non-empty restore target
tb_must "a valid backup still works" backup --cluster src --tenant shop
set_id=$(last_line "$TB_OUT")
assert_eq "exactly one set listed" 1 "$(set_count src)"
install -d -o "$PG_USER" "$T/target"
echo precious >"$T/target/keep.txt"
chown "$PG_USER:" "$T/target/keep.txt"
expect_error "restore into a non-empty directory" 'not empty|non-empty|--force' \
	restore --cluster src --tenant shop --set "$set_id" --to "$T/target" --port 26452 --socket-dir "$SOCK"
assert_eq "the non-empty target is untouched" "keep.txt" "$(ls -A "$T/target")"
assert_eq "its file is intact" precious "$(cat "$T/target/keep.txt")"
tb_ok "restore into the non-empty directory with --force" \
	restore --cluster src --tenant shop --set "$set_id" --to "$T/target" --port 26452 --socket-dir "$SOCK" --force || true
assert_true "forced restore laid down PG_VERSION" test -f "$T/target/PG_VERSION"

# --- an unknown tenant on restore
expect_error "restore of an unknown tenant" '"nosuch"' \
	restore --cluster src --tenant nosuch --set latest --to "$T/t2" --port 26453 --socket-dir "$SOCK"
assert_true "no directory created for the failed restore" test ! -e "$T/t2"

# --- a home others can look into (metadata, master key): refused until chmod 700
# (a master key file others can read is refused too: test/unit/meta/test_secret.c)
chmod 755 "$TB_HOME"
expect_error "a home accessible by others is refused" 'accessible by group or others' \
	set list --cluster src
assert_contains "the hint says how to fix it" "$TB_ERR" "chmod 700 $TB_HOME"
chmod 700 "$TB_HOME"
tb_ok "with mode 0700 the same command works" set list --cluster src || true

# --- the CLI's changes are in the audit log too, with the OS user, the outcome, and
# no password of a conninfo
tb_run cluster add pwtest --conninfo "host=$SOCK port=1 user=$PG_USER password=topsecret-42" --storage "file://$T/st2"
tb_ok "audit list" audit list --output json --limit 1000 || true
assert_eq "the failed cluster add is audited, its password hidden" "cli.cluster.add os:$PG_USER error" \
	"$(printf '%s' "$TB_OUT" | jq -r '[.[] | select(.object | contains("pwtest"))] | first | "\(.action) \(.user) \(.outcome | split(":")[0])"' 2>&1)"
assert_eq "the password is nowhere in the audit log" 0 "$(grep -c -F topsecret-42 <<<"$TB_OUT" || true)"
assert_true "failed backups are audited" test "$(printf '%s' "$TB_OUT" | jq '[.[] | select(.action == "cli.backup" and (.outcome | startswith("error")))] | length' 2>&1)" -ge 1
assert_eq "reads are not audited" 0 "$(printf '%s' "$TB_OUT" | jq '[.[] | select(.action | test("list"))] | length' 2>&1)"
