# test/it/lib.sh: the integration-test harness, sourced by every test/it/t_*.sh
# (and by scripts/demo.sh).
#
# It gives each test a private temporary root, real PostgreSQL 15 instances run by
# the unprivileged "postgres" user (as in production), a tenback home and storage
# owned by that user, a pgbench workload, exact comparison of tables between two
# instances, amcheck, the pgbench invariant, pg_checksums, and TAP-like assertions.
#
# Invariant: whatever happens (assertion failure, error, signal), every PostgreSQL
# instance and background process the test started is stopped, every file system it
# mounted is unmounted, and its temporary root is removed (kept with KEEP=1).
# A test exits 0 only if it made at least one assertion and all of them passed.
#
# Must be run as root (it switches to postgres with runuser, mounts tmpfs).
# Nothing here depends on anything outside the repository and Debian packages.

set -Eeuo pipefail

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IT_DIR/../.." && pwd)
TENBACK=${TENBACK:-$REPO_ROOT/build/tenback}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres
TB_TIMEOUT=${TB_TIMEOUT:-600}       # seconds any single tenback command may take
WAIT_TIMEOUT=${WAIT_TIMEOUT:-120}   # seconds any wait loop may take
TEST_NAME=${TEST_NAME:-$(basename "${0%.sh}")}

export PATH="$PGBIN:$PATH"
export LC_ALL=C.UTF-8
unset PGDATA PGPORT PGHOST PGUSER PGDATABASE PGSERVICE PGOPTIONS || true

if [[ $(id -u) -ne 0 ]]; then
	echo "Bail out! $TEST_NAME must run as root (it runs PostgreSQL as $PG_USER)" >&2
	exit 1
fi
if ! id "$PG_USER" >/dev/null 2>&1; then
	echo "Bail out! no user \"$PG_USER\": run scripts/setup.sh first" >&2
	exit 1
fi

# ---------------------------------------------------------------- temp root
umask 022
# TB_RUN_ID (set by scripts/test.sh) lets the runner find and clean up after a test
# it had to kill.
T=$(mktemp -d "/tmp/tb-${TEST_NAME#t_}${TB_RUN_ID:+-$TB_RUN_ID}.XXXXXX")
chmod 755 "$T"
chown "$PG_USER:" "$T"
# postgres must be able to run the binary (archive_command runs it too); a checkout
# under a private directory (/root/...) is not reachable, so use a copy then.
if [[ -x $TENBACK ]] && ! runuser -u "$PG_USER" -- test -x "$TENBACK"; then
	install -d -m 755 "$T/bin"
	install -m 755 "$TENBACK" "$T/bin/tenback"
	TENBACK="$T/bin/tenback"
fi
SOCK="$T/s"                 # unix socket directory of every instance of this test
TB_HOME="$T/home"           # tenback --home
install -d -o "$PG_USER" -m 700 "$SOCK" "$TB_HOME" "$T/log"
CUR_PORT=""                 # port used by psql_q; set by pg_create / pg_use

declare -a _BG_PIDS=()      # process-group leaders started in background
declare -a _MOUNTS=()       # mount points to unmount
declare -A PG_DATA=()       # instance name -> data dir
declare -A PG_PORT=()       # instance name -> port

N_OK=0
N_FAIL=0
_ERR_LINE=""
_ERR_CMD=""

log() { printf '# %s\n' "$*"; }

# ---------------------------------------------------------------- cleanup
_stop_bg() {
	local pid
	for pid in "${_BG_PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for pid in "${_BG_PIDS[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	_BG_PIDS=()
}

_stop_all_postgres() {
	# Every instance under $T: ours and the ones tenback restored.
	local pidfile dir
	while IFS= read -r pidfile; do
		dir=$(dirname "$pidfile")
		runuser -u "$PG_USER" -- timeout 30 "$PGBIN/pg_ctl" -D "$dir" -m immediate -w stop \
			>/dev/null 2>&1 || true
	done < <(find "$T" -maxdepth 4 -name postmaster.pid 2>/dev/null)
}

_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ $rc -ne 0 && -n $_ERR_LINE ]]; then
		printf 'not ok - %s aborted at %s: %s (exit %s)\n' "$TEST_NAME" "$_ERR_LINE" "$_ERR_CMD" "$rc"
		N_FAIL=$((N_FAIL + 1))
	elif [[ $rc -ne 0 ]]; then
		printf 'not ok - %s exited with status %s\n' "$TEST_NAME" "$rc"
		N_FAIL=$((N_FAIL + 1))
	fi
	_stop_bg
	_stop_all_postgres
	if [[ -d $T/rgw/run ]]; then "$REPO_ROOT/test/fixtures/rgw.sh" stop "$T/rgw" >/dev/null 2>&1; fi
	local m
	for m in "${_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	if [[ $N_FAIL -gt 0 || $rc -ne 0 ]]; then
		# Show the end of each server log: the first thing one wants after a failure.
		local f
		for f in "$T"/log/*.log "$T"/*/tenback_*.log; do
			[[ -f $f ]] || continue
			echo "# ---- tail of $f"
			grep -vE 'Broken pipe|connection to client lost|Connection reset by peer|unexpected EOF on client' "$f" \
				| tail -n 25 | sed 's/^/#   /'
		done
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "# KEEP=1: left $T in place"
	else
		rm -rf "$T"
	fi
	if [[ $N_OK -eq 0 && $N_FAIL -eq 0 ]]; then
		echo "not ok - $TEST_NAME made no assertion"
		N_FAIL=1
	fi
	echo "# $TEST_NAME: $N_OK ok, $N_FAIL not ok"
	if declare -F it_summary_hook >/dev/null; then it_summary_hook "$N_OK" "$N_FAIL"; fi
	if [[ $N_FAIL -gt 0 ]]; then exit 1; fi
	exit 0
}
_on_err() {
	_ERR_CMD=$BASH_COMMAND
	_ERR_LINE=""
	local i
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		_ERR_LINE+="${FUNCNAME[i]}@$(basename "${BASH_SOURCE[i]}"):${BASH_LINENO[i - 1]} "
	done
}
trap _on_err ERR
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- assertions
ok()     { N_OK=$((N_OK + 1)); printf 'ok - %s\n' "$1"; }
not_ok() { N_FAIL=$((N_FAIL + 1)); printf 'not ok - %s\n' "$1"; shift; local l; for l in "$@"; do printf '#   %s\n' "$l"; done; }

# assert_eq DESC EXPECTED ACTUAL
assert_eq() {
	if [[ "$2" == "$3" ]]; then ok "$1"; else
		not_ok "$1" "expected: $(printf '%s' "$2" | head -c 2000)" "got:      $(printf '%s' "$3" | head -c 2000)"
		return 0
	fi
}

# assert_ne DESC UNEXPECTED ACTUAL
assert_ne() {
	if [[ "$2" != "$3" ]]; then ok "$1"; else not_ok "$1" "got the unexpected value: $3"; fi
}

# assert_contains DESC HAYSTACK NEEDLE (case-insensitive substring; NEEDLE may be an ERE with -E as $4)
assert_contains() {
	# (a here-string, not printf | grep -q: grep stops at the first match, and with
	# pipefail printf's SIGPIPE on a long text would turn a match into a failure)
	if [[ ${4:-} == -E ]]; then
		if grep -qiE -- "$3" <<<"$2"; then ok "$1"; return 0; fi
	elif grep -qiF -- "$3" <<<"$2"; then ok "$1"; return 0; fi
	not_ok "$1" "expected to find: $3" "in: $(printf '%s' "$2" | head -c 3000)"
}

# assert_not_contains DESC HAYSTACK NEEDLE
assert_not_contains() {
	if grep -qiF -- "$3" <<<"$2"; then
		not_ok "$1" "did not expect: $3" "in: $(printf '%s' "$2" | head -c 3000)"
	else ok "$1"; fi
}

# assert_match DESC STRING ERE
assert_match() {
	if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1" "expected to match: $3" "got: $2"; fi
}

# assert_ok DESC CMD...: CMD must exit 0
assert_ok() {
	local desc=$1; shift
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [[ $rc -eq 0 ]]; then ok "$desc"; else not_ok "$desc" "command: $*" "exit $rc: $(printf '%s' "$out" | tail -n 20)"; fi
}

# assert_fails DESC CMD...: CMD must exit non-zero; its output is left in $FAIL_OUT
FAIL_OUT=""
assert_fails() {
	local desc=$1; shift
	local rc=0
	FAIL_OUT=$("$@" 2>&1) || rc=$?
	if [[ $rc -ne 0 ]]; then ok "$desc (exit $rc)"; else not_ok "$desc" "command: $*" "exited 0: $(printf '%s' "$FAIL_OUT" | tail -n 20)"; fi
}

# assert_true DESC CONDITION-CMD...: like assert_ok, without capturing output
assert_true() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "condition failed: $*"; fi
}

# ---------------------------------------------------------------- running things
as_pg() { (cd "$T" && runuser -u "$PG_USER" -- "$@"); }

# tb ARGS...: run build/tenback as postgres with this test's --home; exit status passes through.
tb() {
	echo "\$ tenback $*" >>"$T/log/tenback-commands.txt"
	# TB_RSS_FILE=FILE: record tenback's peak resident set size (KiB) there
	local -a pre=()
	[[ -n ${TB_RSS_FILE:-} ]] && pre=(/usr/bin/time -o "$TB_RSS_FILE" -f %M)
	(cd "$T" && runuser -u "$PG_USER" -- "${pre[@]}" timeout -k 10 "$TB_TIMEOUT" "$TENBACK" --home "$TB_HOME" "$@")
}

# tb_run ARGS...: run tb, never fail; sets TB_RC, TB_OUT (stdout), TB_ERR (stderr), TB_ALL (both).
TB_RC=0; TB_OUT=""; TB_ERR=""; TB_ALL=""
tb_run() {
	TB_RC=0
	tb "$@" >"$T/log/tb.out" 2>"$T/log/tb.err" || TB_RC=$?
	TB_OUT=$(cat "$T/log/tb.out")
	TB_ERR=$(cat "$T/log/tb.err")
	TB_ALL="$TB_OUT"$'\n'"$TB_ERR"
	{ echo "  exit $TB_RC"; sed 's/^/  out: /' "$T/log/tb.out"; sed 's/^/  err: /' "$T/log/tb.err"; } >>"$T/log/tenback-commands.txt"
}

# tb_ok DESC ARGS...: tenback must succeed (an assertion; the test goes on either way,
# the return status tells). Output in TB_OUT/TB_ERR/TB_ALL.
tb_ok() {
	local desc=$1; shift
	tb_run "$@"
	if [[ $TB_RC -eq 0 ]]; then ok "$desc"; return 0; fi
	not_ok "$desc" "command: tenback $*" "exit $TB_RC" "stdout: $(printf '%s' "$TB_OUT" | tail -n 20)" "stderr: $(printf '%s' "$TB_ERR" | tail -n 40)"
	return 1
}

# tb_must DESC ARGS...: like tb_ok, but the test cannot go on without it: stop there
tb_must() {
	tb_ok "$@" || { log "cannot go on without: $1"; exit 1; }
}

# tb_fails DESC EXPECTED_RC ARGS...: tenback must exit with EXPECTED_RC ("nz" = any non-zero);
# output in TB_OUT/TB_ERR/TB_ALL
tb_fails() {
	local desc=$1 want=$2; shift 2
	tb_run "$@"
	if [[ $want == nz && $TB_RC -ne 0 ]] || [[ $want != nz && $TB_RC -eq $want ]]; then
		ok "$desc (exit $TB_RC)"; return 0
	fi
	not_ok "$desc" "command: tenback $*" "expected exit $want, got $TB_RC" "stdout: $(printf '%s' "$TB_OUT" | tail -n 10)" "stderr: $(printf '%s' "$TB_ERR" | tail -n 20)"
	return 0   # an assertion: the test goes on
}

# check that the tenback binary exists; a test cannot do anything without it
require_tenback() {
	if [[ ! -x $TENBACK ]]; then
		not_ok "tenback binary exists at $TENBACK" "build it: meson setup build && ninja -C build"
		exit 1
	fi
}

# wait_for DESC TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds; returns 1 on timeout
wait_for() {
	local desc=$1 limit=$2; shift 2
	local deadline=$((SECONDS + limit))
	while ! "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out after ${limit}s waiting for: $desc"
			return 1
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------- PostgreSQL instances
# pg_create NAME PORT [checksums=on|off] [archive=on|off]: initdb as postgres,
# configure, start. Sets CUR_PORT. archive=off starts with archive_mode=off (the
# archive_command is set all the same); pg_archive_on turns it on later.
pg_create() {
	local name=$1 port=$2 checksums=on archive=on opt
	shift 2
	for opt in "$@"; do
		case $opt in
		checksums=on | checksums=off) checksums=${opt#*=} ;;
		archive=on | archive=off) archive=${opt#*=} ;;
		*) echo "pg_create: unknown option $opt" >&2; return 1 ;;
		esac
	done
	local data="$T/$name"
	local -a kflag=()
	[[ $checksums == on ]] && kflag=(-k)
	as_pg "$PGBIN/initdb" "${kflag[@]}" -D "$data" -U "$PG_USER" --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$T/log/initdb-$name.txt" 2>&1 \
		|| { cat "$T/log/initdb-$name.txt"; return 1; }
	cat >>"$data/postgresql.conf" <<-EOF

	# ---- test harness ($TEST_NAME)
	port = $port
	listen_addresses = ''
	unix_socket_directories = '$SOCK'
	wal_level = replica
	archive_mode = $archive
	archive_command = '$TENBACK --home $TB_HOME archive-push --cluster $name %p'
	max_wal_size = 64MB
	min_wal_size = 32MB
	checkpoint_timeout = 60s
	shared_buffers = 64MB
	max_connections = 40
	log_checkpoints = on
	log_line_prefix = '%m [%p] '
	EOF
	PG_DATA[$name]=$data
	PG_PORT[$name]=$port
	CUR_PORT=$port
	pg_start "$name"
}

# pg_archive_on NAME: archive_mode = on, restart
pg_archive_on() {
	echo "archive_mode = on" >>"${PG_DATA[$1]}/postgresql.conf"
	pg_stop "$1"
	pg_start "$1"
}

pg_start() {
	local name=$1
	as_pg timeout 120 "$PGBIN/pg_ctl" -D "${PG_DATA[$name]}" -l "$T/log/$name.log" -w -t 100 start >/dev/null \
		|| { tail -n 30 "$T/log/$name.log"; return 1; }
}

# pg_stop NAME|DIR [mode]: clean (fast) shutdown by default
pg_stop() {
	local dir=${PG_DATA[$1]:-$1} mode=${2:-fast}
	as_pg timeout 120 "$PGBIN/pg_ctl" -D "$dir" -m "$mode" -w -t 100 stop >/dev/null
}

pg_is_running() { as_pg "$PGBIN/pg_ctl" -D "${PG_DATA[$1]:-$1}" status >/dev/null 2>&1; }

pg_use() { CUR_PORT=${PG_PORT[$1]:-$1}; }

# psql_at PORT DB SQL: run SQL, print unaligned tuples only; stops on the first error
psql_at() {
	as_pg timeout -k 5 "${PSQL_TIMEOUT:-300}" "$PGBIN/psql" -X -q -h "$SOCK" -p "$1" -U "$PG_USER" -d "$2" \
		-v ON_ERROR_STOP=1 -At -c "$3"
}

# psql_q DB SQL: against the current instance (CUR_PORT)
psql_q() { psql_at "$CUR_PORT" "$1" "$2"; }

# conninfo NAME: the conninfo tenback should use for an instance
conninfo() { echo "host=$SOCK port=${PG_PORT[$1]} user=$PG_USER dbname=postgres"; }

# cluster_add NAME [extra tenback options...]: register the instance NAME with this
# test's storage (storage_setup: $T/storage, or a bucket on a private S3 server)
cluster_add() {
	local name=$1; shift
	storage_setup
	local -a cred=()
	[[ -n $STORAGE_CRED ]] && cred=(--storage-credentials "$STORAGE_CRED")
	tb_must "cluster add $name" cluster add "$name" --conninfo "$(conninfo "$name")" \
		--pgdata "${PG_DATA[$name]}" --storage "$STORAGE_URI" "${cred[@]}" "$@"
}

# ---------------------------------------------------------------- the storage: file or S3
# TB_STORAGE=file (default) or s3 picks where cluster_add keeps the backups and the
# WAL archive. A test that holds for both says so with a line "# tb-storage: file s3"
# (scripts/test.sh runs those a second time with TB_STORAGE=s3). With s3, the test
# gets its own Ceph RGW (test/fixtures/rgw.sh: real SigV4 checks) on 127.0.0.1, a
# bucket, and a 0600 credentials file that cluster add seals into the metadata.
# Tests reach into the storage only through the st_* functions below, with paths
# relative to the storage root ("tenback/<system id>/...").
TB_STORAGE=${TB_STORAGE:-file}
STORAGE_URI=""
STORAGE_CRED=""
S3_RGW_PORT=${TB_S3_RGW_PORT:-26990}   # and the next port for its monitor
S3_EP="http://127.0.0.1:$S3_RGW_PORT"
S3_BUCKET=tbit
S3_PREFIX=it
S3_AK=""; S3_SK=""

storage_setup() {
	[[ -n $STORAGE_URI ]] && return 0
	case $TB_STORAGE in
	file)
		install -d -o "$PG_USER" -m 700 "$T/storage"
		STORAGE_URI="file://$T/storage" ;;
	s3)
		s3_server_start
		STORAGE_URI="s3://$S3_BUCKET/$S3_PREFIX?endpoint=$S3_EP&region=us-east-1&uri-style=path" ;;
	*) echo "TB_STORAGE must be file or s3, not \"$TB_STORAGE\"" >&2; return 1 ;;
	esac
}

# s3_server_start: RGW in $T/rgw (stopped by _cleanup), the bucket, the credentials file
s3_server_start() {
	local t0=$SECONDS
	S3_AK="tb-it-$RANDOM$RANDOM"
	S3_SK="tb-secret-$RANDOM$RANDOM$RANDOM"
	if ! RGW_FIXTURE_ACCESS_KEY=$S3_AK RGW_FIXTURE_SECRET_KEY=$S3_SK \
		"$REPO_ROOT/test/fixtures/rgw.sh" start "$T/rgw" "$S3_RGW_PORT" >"$T/log/rgw.txt" 2>&1; then
		tail -n 20 "$T/log/rgw.txt" >&2
		echo "Bail out! the S3 server (Ceph RGW) did not start: scripts/setup.sh installs it" >&2
		return 1
	fi
	log "S3 server (Ceph RGW) up on $S3_EP in $((SECONDS - t0)) s"
	[[ $(s3curl PUT "$S3_BUCKET" -o /dev/null -w '%{http_code}') == 200 ]] \
		|| { echo "could not create bucket $S3_BUCKET" >&2; return 1; }
	STORAGE_CRED="$T/s3.cred"
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_AK" "$S3_SK" >"$STORAGE_CRED"
	chown "$PG_USER:" "$STORAGE_CRED"
	chmod 600 "$STORAGE_CRED"
}

# s3curl METHOD PATH [curl args...]: a request to the test's S3 server, signed by curl
# (PATH: "bucket/key..." already encoded; a query must be canonical: sorted, encoded)
s3curl() {
	local method=$1 path=$2; shift 2
	curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_AK:$S3_SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$method" "$S3_EP/$path" "$@"
}

_s3_uri_enc() { jq -rn --arg v "$1" '$v | @uri'; }
# the object key of a storage path, URL-encoded with its slashes kept
_s3_key() { _s3_uri_enc "$S3_PREFIX/$1" | sed 's|%2F|/|g'; }

# _s3_list PREFIX DELIM: every <Key> (or with DELIM "/", every CommonPrefix) under the
# key prefix, following continuation tokens; prints the raw answers' items, one per line
_s3_list() {
	local prefix=$1 delim=$2 token="" q page
	while :; do
		q=""
		[[ -n $token ]] && q+="continuation-token=$(_s3_uri_enc "$token")&"
		[[ -n $delim ]] && q+="delimiter=%2F&"
		q+="list-type=2&max-keys=1000&prefix=$(_s3_uri_enc "$prefix")"
		page=$(s3curl GET "$S3_BUCKET?$q") || return 1
		if [[ $page != *"<ListBucketResult"* ]]; then echo "S3 list failed: $page" >&2; return 1; fi
		if [[ -n $delim ]]; then
			grep -oP '<CommonPrefixes><Prefix>\K[^<]*' <<<"$page" || true
		else
			grep -oP '<Contents>.*?</Contents>' <<<"$page" || true
		fi
		token=$(grep -oP '<NextContinuationToken>\K[^<]*' <<<"$page" || true)
		[[ -n $token ]] || break
	done
}

# st_keys DIR: every object under DIR (relative paths from the storage root), sorted
st_keys() {
	local dir=${1%/}
	if [[ $TB_STORAGE == s3 ]]; then
		# (no object under DIR is an empty answer, not a failure)
		_s3_list "$S3_PREFIX/$dir/" "" | { grep -oP '<Key>\K[^<]*' || true; } | sed "s|^$S3_PREFIX/||" | sort
	else
		[[ -d $T/storage/$dir ]] || return 0
		(cd "$T/storage" && find "$dir" -type f | sort)
	fi
}

# st_sizes DIR: "SIZE PATH" for every object under DIR, sorted by size
st_sizes() {
	local dir=${1%/}
	if [[ $TB_STORAGE == s3 ]]; then
		_s3_list "$S3_PREFIX/$dir/" "" | sed -E 's|.*<Key>([^<]*)</Key>.*<Size>([0-9]+)</Size>.*|\2 \1|' \
			| sed "s| $S3_PREFIX/| |" | sort -n
	else
		[[ -d $T/storage/$dir ]] || return 0
		# a backup running meanwhile renames its temporary files: not an error of the listing
		(cd "$T/storage" && find "$dir" -ignore_readdir_race -type f -printf '%s %p\n' | sort -n)
	fi
}

# st_md5 PATH: md5 of the stored object's bytes
st_md5() {
	local tmp="$T/log/md5.$$"
	st_get "$1" "$tmp" && md5sum "$tmp" | cut -d' ' -f1
	rm -f "$tmp"
}

# st_dirs DIR: the names of DIR's subdirectories (S3: common prefixes), sorted
st_dirs() {
	local dir=${1%/}
	if [[ $TB_STORAGE == s3 ]]; then
		_s3_list "$S3_PREFIX/$dir/" / | sed "s|^$S3_PREFIX/$dir/||; s|/\$||" | sort
	else
		[[ -d $T/storage/$dir ]] || return 0
		find "$T/storage/$dir" -ignore_readdir_race -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
	fi
}

# st_exists PATH: the object exists
st_exists() {
	if [[ $TB_STORAGE == s3 ]]; then
		[[ $(s3curl HEAD "$S3_BUCKET/$(_s3_key "$1")" -I -o /dev/null -w '%{http_code}') == 200 ]]
	else
		[[ -f $T/storage/$1 ]]
	fi
}

# st_size PATH: the object's size in bytes
st_size() {
	if [[ $TB_STORAGE == s3 ]]; then
		s3curl HEAD "$S3_BUCKET/$(_s3_key "$1")" -I | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }'
	else
		stat -c %s "$T/storage/$1"
	fi
}

# st_get PATH FILE / st_put FILE PATH / st_rm PATH
st_get() {
	if [[ $TB_STORAGE == s3 ]]; then
		s3curl GET "$S3_BUCKET/$(_s3_key "$1")" -f -o "$2"
	else
		cp -p "$T/storage/$1" "$2"
	fi
}
st_put() {
	if [[ $TB_STORAGE == s3 ]]; then
		[[ $(s3curl PUT "$S3_BUCKET/$(_s3_key "$2")" -T "$1" -o /dev/null -w '%{http_code}') == 200 ]]
	else
		install -d -o "$PG_USER" -m 700 "$(dirname "$T/storage/$2")"
		cp "$1" "$T/storage/$2"
		chown "$PG_USER:" "$T/storage/$2"
		chmod 600 "$T/storage/$2"
	fi
}
st_rm() {
	if [[ $TB_STORAGE == s3 ]]; then
		s3curl DELETE "$S3_BUCKET/$(_s3_key "$1")" -f -o /dev/null
	else
		rm -f "$T/storage/$1"
	fi
}

# st_flip_byte PATH OFFSET: invert one byte of a stored object
st_flip_byte() {
	if [[ $TB_STORAGE == s3 ]]; then
		local tmp="$T/log/flip.$$"
		st_get "$1" "$tmp" && flip_byte "$tmp" "$2" && st_put "$tmp" "$1"
		rm -f "$tmp"
	else
		flip_byte "$T/storage/$1" "$2"
	fi
}

# st_sum DIR: one checksum of every object's path and content under DIR (S3: its ETag,
# which changes with the content) - equal before and after means nothing changed
st_sum() {
	local dir=${1%/}
	if [[ $TB_STORAGE == s3 ]]; then
		_s3_list "$S3_PREFIX/$dir/" "" | sed -E 's|<LastModified>[^<]*</LastModified>||' | sort | md5sum
	else
		(cd "$T/storage" && find "$dir" -type f -exec md5sum {} + | sort | md5sum)
	fi
}

# st_sysid: the system identifier directory under tenback/ (the only one)
st_sysid() { st_dirs tenback | head -n 1; }

# s3_pending_uploads [SUBSTRING]: incomplete multipart uploads in the bucket (of keys
# containing SUBSTRING); 0 with file storage
s3_pending_uploads() {
	if [[ $TB_STORAGE == s3 ]]; then
		s3curl GET "$S3_BUCKET?uploads=" | grep -oP '<Upload><Key>\K[^<]*' | grep -cF -- "${1:-}" || true
	else
		echo 0
	fi
}

# pgbench_init PORT DB SCALE
pgbench_init() {
	as_pg timeout 600 "$PGBIN/pgbench" -h "$SOCK" -p "$1" -U "$PG_USER" -i -s "$3" -q "$2" \
		>>"$T/log/pgbench-init.txt" 2>&1 || { tail -n 20 "$T/log/pgbench-init.txt"; return 1; }
}

# wal_switch_and_wait PORT: switch WAL and wait until the finished segment is archived
wal_switch_and_wait() {
	local port=$1 seg
	# Make sure there is something in the current segment, so the switch really switches.
	psql_at "$port" postgres "CREATE TEMP TABLE _tb_sw(x int); DROP TABLE _tb_sw; SELECT 1" >/dev/null
	seg=$(psql_at "$port" postgres "SELECT pg_walfile_name(pg_switch_wal())")
	if ! wait_for "segment $seg archived on port $port" "$WAIT_TIMEOUT" \
		_archived_at_least "$port" "$seg"; then
		psql_at "$port" postgres "SELECT * FROM pg_stat_archiver" >&2 || true
		return 1
	fi
}
_archived_at_least() {
	local last
	last=$(psql_at "$1" postgres "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
	[[ -n $last && ! $last < $2 ]]
}

# ---------------------------------------------------------------- workload
# bg CMD...: start CMD in its own process group in the background, remember it
bg() {
	(cd "$T" && exec setsid "$@") &
	_BG_PIDS+=("$!")
}

# workload_start DB SECONDS [PORT]: pgbench TPC-B (4 clients) plus VACUUM every 2 s
workload_start() {
	local db=$1 secs=$2 port=${3:-$CUR_PORT}
	bg runuser -u "$PG_USER" -- "$PGBIN/pgbench" -h "$SOCK" -p "$port" -U "$PG_USER" -n -c 4 -j 2 \
		-T "$secs" "$db" >>"$T/log/workload-$db-$port.txt" 2>&1
	bg bash -c '
		end=$((SECONDS + $1))
		while ((SECONDS < end)); do
			runuser -u '"$PG_USER"' -- "'"$PGBIN"'/psql" -X -q -h "$2" -p "$3" -U '"$PG_USER"' -d "$4" \
				-c "VACUUM pgbench_accounts" -c "VACUUM pgbench_tellers" -c "VACUUM pgbench_branches" \
				-c "VACUUM pgbench_history" || true
			sleep 2
		done' vacuum-loop "$secs" "$SOCK" "$port" "$db" >>"$T/log/vacuum-$db-$port.txt" 2>&1
}

# workload_stop: stop every background process started by workload_start / bg
workload_stop() { _stop_bg; }

# ---------------------------------------------------------------- comparisons
# tenant_fingerprint PORT SOCK DB: one line per user table, sorted:
#   schema.table <rows> <md5 of all rows in text form, ordered>
# Unlogged and temporary tables are left out (their contents are not backed up by design).
tenant_fingerprint() {
	local port=$1 sock=$2 db=$3 tbl
	local -a tables
	mapfile -t tables < <(
		as_pg "$PGBIN/psql" -X -q -h "$sock" -p "$port" -U "$PG_USER" -d "$db" -v ON_ERROR_STOP=1 -At -c "
			SELECT format('%I.%I', n.nspname, c.relname)
			  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
			   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
			   AND n.nspname NOT LIKE 'pg_toast%'
			 ORDER BY 1")
	for tbl in "${tables[@]}"; do
		printf '%s ' "$tbl"
		as_pg "$PGBIN/psql" -X -q -h "$sock" -p "$port" -U "$PG_USER" -d "$db" -v ON_ERROR_STOP=1 -At -F ' ' -c "
			SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))
			  FROM $tbl t"
	done
}

# wait_no_sessions PORT DB: wait until nobody is connected to DB
wait_no_sessions() {
	wait_for "no sessions in $2" "$WAIT_TIMEOUT" _no_sessions "$1" "$2"
}
_no_sessions() {
	[[ $(psql_at "$1" postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$2'") == 0 ]]
}

# databases PORT: sorted list of connectable non-template databases
databases() {
	psql_at "$1" postgres "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1"
}

# amcheck_all PORT DB: bt_index_check(heapallindexed) on every btree index and
# verify_heapam on every table; prints the problems found (nothing when clean),
# returns non-zero when anything is found or a check errors out.
amcheck_all() {
	local port=$1 db=$2 out
	if [[ $(psql_at "$port" "$db" "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") == 0 ]]; then
		psql_at "$port" "$db" "CREATE EXTENSION amcheck" >/dev/null
	fi
	out=$(psql_at "$port" "$db" "
		SELECT bt_index_check(index => c.oid, heapallindexed => true)
		  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		  JOIN pg_am a ON a.oid = c.relam
		 WHERE a.amname = 'btree' AND c.relpersistence <> 't' AND i.indisready AND i.indisvalid" 2>&1) \
		|| { echo "bt_index_check failed: $out"; return 1; }
	out=$(psql_at "$port" "$db" "
		SELECT c.oid::regclass || ' blk ' || coalesce(v.blkno::text, '?') || ': ' || v.msg
		  FROM pg_class c, LATERAL verify_heapam(c.oid) v
		 WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'" 2>&1) \
		|| { echo "verify_heapam failed: $out"; return 1; }
	if [[ -n $out ]]; then echo "$out"; return 1; fi
	return 0
}

# pgbench_invariant PORT DB: prints the four sums; returns 0 iff they are equal
pgbench_invariant() {
	local sums
	sums=$(psql_at "$1" "$2" "
		SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts) || ' ' ||
		       (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches) || ' ' ||
		       (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers)  || ' ' ||
		       (SELECT coalesce(sum(delta), 0)    FROM pgbench_history)")
	echo "$sums"
	local a b c d
	read -r a b c d <<<"$sums"
	[[ $a == "$b" && $b == "$c" && $c == "$d" ]]
}

# pg_checksums_check DIR: pg_checksums --check on a stopped data directory
pg_checksums_check() { as_pg "$PGBIN/pg_checksums" --check -D "$1"; }

# ---------------------------------------------------------------- tenback output helpers
# set_json CLUSTER [TENANT]: the json set list, or "ERROR: ..." when tenback or jq fails
set_json() {
	local -a args=(set list --cluster "$1" --output json)
	[[ -n ${2:-} ]] && args+=(--tenant "$2")
	local out rc=0
	out=$(tb "${args[@]}" 2>&1) || rc=$?
	if [[ $rc -ne 0 ]] || ! printf '%s' "$out" | jq -e 'type == "array"' >/dev/null 2>&1; then
		echo "ERROR: set list failed (exit $rc): $out"
		return 0
	fi
	printf '%s\n' "$out"
}

# set_count CLUSTER [TENANT]: number of completed sets listed, or an error text
set_count() {
	local j
	j=$(set_json "$@")
	if [[ $j == ERROR:* ]]; then echo "$j"; else printf '%s' "$j" | jq 'length'; fi
}

# set_ids CLUSTER [TENANT]: ids of the completed sets, one per line
set_ids() {
	local j
	j=$(set_json "$@")
	if [[ $j == ERROR:* ]]; then echo "$j"; else printf '%s' "$j" | jq -r '.[].id'; fi
}

# last_line TEXT: the last non-empty line (tenback backup prints the set id)
last_line() { printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1 | tr -d '[:space:]'; }

# flip_byte FILE OFFSET: invert every bit of one byte in place
flip_byte() {
	perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!"; binmode $f;
		seek($f, $ARGV[1], 0); read($f, my $b, 1) == 1 or die "short file";
		seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 0xff); close($f) or die' "$1" "$2"
}

# tb_restore_start CLUSTER TENANT SET DIR PORT [more restore options...]:
# restore into DIR and start it on PORT (socket dir $SOCK); asserts success and the
# "ready" line. Returns 1 (after a not-ok) when it failed, so callers can skip checks.
tb_restore_start() {
	local cluster=$1 tenant=$2 set=$3 dir=$4 port=$5; shift 5
	if ! tb_ok "restore $tenant set $set to $(basename "$dir") on port $port $*" \
		restore --cluster "$cluster" --tenant "$tenant" --set "$set" --to "$dir" \
		--port "$port" --socket-dir "$SOCK" --start "$@"; then
		local f
		for f in "$dir"/tenback_*.log "$dir"/log/*; do
			[[ -f $f ]] || continue
			echo "#   ---- tail of $f"
			tail -n 40 "$f" | sed 's/^/#     /'
		done
		return 1
	fi
	assert_contains "restore reports the tenant ready on port $port" "$TB_ALL" \
		"tenant \"$tenant\" is ready on port $port"
	if ! psql_at "$port" postgres "SELECT 1" >/dev/null 2>&1; then
		not_ok "restored instance answers on port $port"
		return 1
	fi
}

# compare_tenant DESC SRC_PORT DST_PORT DB: every table of DB equal on both instances
compare_tenant() {
	local desc=$1 a b
	a=$(tenant_fingerprint "$2" "$SOCK" "$4")
	b=$(tenant_fingerprint "$3" "$SOCK" "$4") || true
	if [[ -z $a ]]; then not_ok "$desc: source has tables in $4"; return 0; fi
	assert_eq "$desc" "$a" "$b"
}

# check_restored_tenant PORT DB: amcheck clean, and the pgbench invariant when it is a pgbench db
check_amcheck() {
	local out
	if out=$(amcheck_all "$1" "$2" 2>&1); then ok "amcheck clean in $2 on port $1"
	else not_ok "amcheck clean in $2 on port $1" "$out"; fi
}
check_invariant() {
	local out
	if out=$(pgbench_invariant "$1" "$2" 2>&1); then ok "pgbench invariant holds in $2 on port $1 ($out)"
	else not_ok "pgbench invariant holds in $2 on port $1" "$out"; fi
}
