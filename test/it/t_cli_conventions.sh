#!/usr/bin/env bash
# The CLI's conventions (doc/tenback.1): every listing takes --output json and prints
# one JSON array; usage errors exit 2, failures 1 with "ERROR:"; --quiet leaves only
# errors on stderr, --verbose adds DEBUG lines; with stderr on the journal
# ($JOURNAL_STREAM names it) lines carry their syslog priority (<3> ERROR, <6> INFO),
# and not when stderr is elsewhere; backup and restore draw a progress line (bytes,
# rate) on a terminal and none when stderr is not one.
source "$(dirname "$0")/lib.sh"
require_tenback

P=27410; P2=27411
pg_create src $P
cluster_add src
psql_q postgres "CREATE DATABASE shop"
pgbench_init $P shop 2

# --- every listing: --output json is one JSON array (jq parses it), text by default
echo 'a-long-password-1' | tb user add alice --role admin >/dev/null
tb_must "backup" backup --cluster src --tenant shop
set_id=$(last_line "$TB_OUT")
for cmd in "cluster list" "tenant list --cluster src" "set list --cluster src" "window --cluster src --tenant shop" \
	"storage list" "audit list" "user list"; do
	# shellcheck disable=SC2086
	tb_ok "$cmd --output json" $cmd --output json
	assert_eq "$cmd: a JSON array" "array" "$(jq -r type <<<"$TB_OUT" 2>/dev/null || echo invalid)"
	# shellcheck disable=SC2086
	tb_fails "$cmd --output yaml is a usage error" 2 $cmd --output yaml
	assert_contains "$cmd: names the format" "$TB_ERR" 'invalid output format "yaml"'
done

# --- exit codes
tb_fails "an unknown option: exit 2" 2 cluster list --frobnicate
tb_fails "a failure: exit 1" 1 set list --cluster nosuch
assert_match "ERROR: first" "$(head -n 1 <<<"$TB_ERR")" '^ERROR: cluster "nosuch" does not exist'

# --- --quiet, --verbose
tb_ok "--quiet backup" --quiet backup --cluster src --tenant shop
assert_eq "--quiet: nothing on stderr" "" "$TB_ERR"
assert_match "--quiet: the set id on stdout" "$(last_line "$TB_OUT")" '^[0-9]{8}-[0-9]{6}F$'
tb_ok "-q works too" -q cluster list
tb_ok "--verbose backup" --verbose backup --cluster src --tenant shop
assert_contains "--verbose: DEBUG lines" "$TB_ERR" "DEBUG: "
tb_ok "a plain backup" backup --cluster src --tenant shop
assert_contains "INFO lines by default" "$TB_ERR" "INFO: "
assert_not_contains "no DEBUG lines by default" "$TB_ERR" "DEBUG: "
assert_not_contains "no progress line when stderr is not a terminal" "$TB_ERR" $'\r'

# --- journald priorities
jf=$T/log/journal.txt
as_pg bash -c 'exec 2>"$1"; JOURNAL_STREAM=$(stat -c %d:%i "$1") "$2" --home "$3" backup --cluster src --tenant nosuch' \
	_ "$jf" "$TENBACK" "$TB_HOME" >/dev/null || true
assert_match "an error on the journal: <3>ERROR" "$(grep ERROR "$jf")" '^<3>ERROR: '
as_pg bash -c 'exec 2>"$1"; JOURNAL_STREAM=$(stat -c %d:%i "$1") "$2" --home "$3" backup --cluster src --tenant shop' \
	_ "$jf" "$TENBACK" "$TB_HOME" >/dev/null
assert_match "info on the journal: <6>INFO" "$(grep -m1 INFO "$jf")" '^<6>INFO: '
as_pg bash -c 'exec 2>"$1"; JOURNAL_STREAM=1:1 "$2" --home "$3" set list --cluster nosuch' \
	_ "$jf" "$TENBACK" "$TB_HOME" >/dev/null || true
assert_match "JOURNAL_STREAM naming another stream: no prefix" "$(head -n 1 "$jf")" '^ERROR: '

# --- progress on a terminal (script(1) gives the command a pseudo-terminal)
tty_out=$T/log/tty.txt
as_pg script -qec "$TENBACK --home $TB_HOME backup --cluster src --tenant shop" "$tty_out" >/dev/null
assert_match "backup on a terminal: a progress line" "$(tr '\r' '\n' <"$tty_out" | grep -a '^.*backup: ' | tail -n 1)" \
	'backup: [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B \(100%\), [0-9]+ files, [0-9.]+ [KMG]?i?B/s'
pg_stop src
as_pg script -qec "$TENBACK --home $TB_HOME restore --cluster src --tenant shop --to $T/restored --port $P2" "$tty_out" >/dev/null
assert_match "restore on a terminal: a progress line" "$(tr '\r' '\n' <"$tty_out" | grep -a 'restore: ' | tail -n 1)" \
	'restore: [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B \(100%\)'
tb_ok "restore --quiet" --quiet restore --cluster src --tenant shop --to "$T/restored2" --port $P2
assert_eq "restore --quiet: nothing on stderr" "" "$TB_ERR"

# --- the man page and the bash completion know every command of the usage text
mapfile -t cmds < <("$TENBACK" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }' | sort -u)
assert_true "the usage text lists commands" test "${#cmds[@]}" -gt 10
# --- "tenback COMMAND --help" answers with the command's usage on stdout, exit 0
for c in "${cmds[@]}"; do
	[[ $c == version ]] && continue
	tb_run "$c" --help
	assert_eq "$c --help: exit 0, its usage on stdout, nothing on stderr" "0 Usage: tenback $c|" \
		"$TB_RC $(head -n 1 <<<"$TB_OUT" | cut -c1-$((15 + ${#c})))|$TB_ERR"
done
for c in "${cmds[@]}"; do
	assert_true "man page: $c" grep -q "^\\\\fB${c//-/\\\\-}" "$REPO_ROOT/doc/tenback.1"
	assert_true "completion: $c" grep -qE "commands=\"[^\"]*\\<$c\\>" "$REPO_ROOT/completion/tenback.bash"
done
