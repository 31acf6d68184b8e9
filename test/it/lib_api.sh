# test/it/lib_api.sh: helpers for tests of the daemon (tenback serve) over HTTP.
# Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/lib_api.sh"
#
# daemon_start PORT [serve options...]   start "tenback serve" as postgres in the
#                                        background, log in $T/log/daemon-N.log; waits
#                                        until /api/v1/openapi.json answers
# daemon_stop                            SIGTERM, wait (SIGKILL after DAEMON_STOP_TIMEOUT)
# daemon_kill9                           SIGKILL (a crash)
# user_add NAME PASSWORD ROLE            tenback user add (password on standard input)
# api METHOD PATH [JSON]                 request with "Authorization: Bearer $API_TOKEN";
#                                        sets API_STATUS (HTTP status, 000 when no
#                                        answer) and API_BODY; prints nothing
# api_s METHOD PATH [JSON]               the same with the session (cookie jar $API_JAR)
#                                        and "X-CSRF-Token: $API_CSRF"
# api_logon USER PASSWORD                POST /api/v1/sessions into $API_JAR; sets API_CSRF
# api_token USER PASSWORD [LABEL]        logs on (own cookie jar) and prints a new API token
# api_expect DESC STATUS METHOD PATH [JSON]   api, then assert the status
# backup_start TENANT_ID MODE             POST a backup; TASK_ID is the task (empty: refused)
# task_wait ID [TIMEOUT]                 poll GET /api/v1/tasks/ID until it is not RUNNING;
#                                        API_BODY holds the last answer; 1 on timeout
# task_step ID_JSON STEP_NAME FIELD      jq on a step of a task's JSON (in $API_BODY or $2)
# tenant_id CLUSTER NAME                 the tenant's id from GET /api/v1/tenants
#
# Every request and its answer (status and response body; never the request body,
# which may hold a secret on purpose) go to $T/log/api-transcript.txt.
# Variables: API_URL, API_TOKEN, API_JAR, API_CSRF, DAEMON_PID, DAEMON_LOG, API_TIMEOUT
# (curl's --max-time, default 60 s), DAEMON_GLOBAL_OPTS (array of tenback options put
# before "serve", e.g. --log-level debug).

API_URL=""
API_TOKEN=""
API_JAR="$T/log/cookies.txt"
API_CSRF=""
API_STATUS=""
API_BODY=""
API_TIMEOUT=${API_TIMEOUT:-60}
API_TRANSCRIPT="$T/log/api-transcript.txt"
DAEMON_PID=""
DAEMON_LOG=""
DAEMON_STOP_TIMEOUT=${DAEMON_STOP_TIMEOUT:-30}
declare -a DAEMON_GLOBAL_OPTS=()
_DAEMON_N=0

# user_add NAME PASSWORD ROLE
user_add() {
	printf '%s\n' "$2" | tb user add "$1" --role "$3" >/dev/null
}

# daemon_start PORT [serve options...]
daemon_start() {
	# TB_PORT_SHIFT: scripts/test.sh runs two lanes at once; the same test in both must
	# not want the same TCP port
	local port=$(($1 + ${TB_PORT_SHIFT:-0})); shift
	_DAEMON_N=$((_DAEMON_N + 1))
	DAEMON_LOG="$T/log/daemon-$_DAEMON_N.log"
	: >"$DAEMON_LOG"
	chown "$PG_USER:" "$DAEMON_LOG"
	API_URL="http://127.0.0.1:$port"
	echo "\$ tenback serve --listen 127.0.0.1:$port $* (log $DAEMON_LOG)" >>"$T/log/tenback-commands.txt"
	# setpriv execs (no fork, unlike runuser): $! is the daemon itself, so that
	# kill -9 hits it and not a parent that would survive.
	bg setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups \
		"$TENBACK" --home "$TB_HOME" "${DAEMON_GLOBAL_OPTS[@]}" serve --listen "127.0.0.1:$port" "$@" \
		>>"$DAEMON_LOG" 2>&1
	DAEMON_PID=${_BG_PIDS[-1]}
	if ! wait_for "daemon on port $port" "$WAIT_TIMEOUT" _daemon_answers; then
		not_ok "daemon starts on port $port" "log: $(tail -n 20 "$DAEMON_LOG")"
		return 1
	fi
}
_daemon_answers() {
	kill -0 "$DAEMON_PID" 2>/dev/null || return 1
	curl -fsS --max-time 5 -o /dev/null "$API_URL/api/v1/openapi.json"
}

# daemon_running: the daemon started last is alive
daemon_running() { [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; }

# daemon_stop: SIGTERM and wait; returns 1 (after SIGKILL) when it does not stop in time
daemon_stop() {
	[[ -n $DAEMON_PID ]] || return 0
	local deadline=$((SECONDS + DAEMON_STOP_TIMEOUT)) rc=0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	while kill -0 "$DAEMON_PID" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "daemon $DAEMON_PID did not stop within ${DAEMON_STOP_TIMEOUT}s after SIGTERM: SIGKILL"
			kill -KILL "$DAEMON_PID" 2>/dev/null || true
			rc=1
			break
		fi
		sleep 0.2
	done
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
	return $rc
}

# daemon_kill9: a crash
daemon_kill9() {
	[[ -n $DAEMON_PID ]] || return 0
	kill -KILL "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
}

# _api_curl AUTHMODE METHOD PATH [JSON]: AUTHMODE bearer|session|none
_api_curl() {
	local mode=$1 method=$2 path=$3 body=${4-} out
	local -a args=(-sS --path-as-is --max-time "$API_TIMEOUT" -X "$method" -o "$T/log/api.body"
		-w '%{http_code}' -H 'Accept: application/json')
	case $mode in
	bearer) [[ -n $API_TOKEN ]] && args+=(-H "Authorization: Bearer $API_TOKEN") ;;
	session)
		args+=(-b "$API_JAR" -c "$API_JAR")
		[[ -n $API_CSRF ]] && args+=(-H "X-CSRF-Token: $API_CSRF")
		;;
	esac
	if [[ $# -ge 4 ]]; then
		# the body from a file: large bodies do not fit an argument list
		printf '%s' "$body" >"$T/log/api.req"
		args+=(-H 'Content-Type: application/json' --data-binary "@$T/log/api.req")
	fi
	: >"$T/log/api.body"
	out=$(curl "${args[@]}" "$API_URL$path" 2>>"$T/log/api-curl-errors.txt") || true
	rm -f "$T/log/api.req"
	API_STATUS=${out:-000}
	API_BODY=$(cat "$T/log/api.body")
	printf '%s %s %s -> %s %s\n' "$(date -u +%T)" "$method" "$path" "$API_STATUS" \
		"$(printf '%s' "$API_BODY" | head -c 3000)" >>"$API_TRANSCRIPT"
	return 0
}

api()      { _api_curl bearer "$@"; }
api_s()    { _api_curl session "$@"; }
api_anon() { _api_curl none "$@"; }

# api_logon USER PASSWORD: a session in $API_JAR, its CSRF token in API_CSRF
api_logon() {
	rm -f "$API_JAR"
	API_CSRF=""
	api_s POST /api/v1/sessions "$(jq -nc --arg u "$1" --arg p "$2" '{username: $u, password: $p}')"
	[[ $API_STATUS == 200 ]] || return 1
	API_CSRF=$(printf '%s' "$API_BODY" | jq -r '.csrf_token')
}

# api_token USER PASSWORD [LABEL]: prints a new API token of USER
api_token() {
	local API_JAR="$T/log/cookies-token-$1.txt" API_CSRF=""
	api_logon "$1" "$2" || { echo "api_token: log on as $1 failed: $API_STATUS $API_BODY" >&2; return 1; }
	api_s POST /api/v1/tokens "$(jq -nc --arg l "${3:-test}" '{label: $l}')"
	[[ $API_STATUS == 200 || $API_STATUS == 201 ]] \
		|| { echo "api_token: POST /api/v1/tokens: $API_STATUS $API_BODY" >&2; return 1; }
	printf '%s' "$API_BODY" | jq -r '.token'
}

# api_expect DESC STATUS METHOD PATH [JSON]: a request whose HTTP status must be STATUS
# (an ERE: "4.." for any client error)
api_expect() {
	local desc=$1 want=$2; shift 2
	api "$@"
	if [[ $API_STATUS =~ ^($want)$ ]]; then ok "$desc (HTTP $API_STATUS)"; return 0; fi
	not_ok "$desc" "request: $1 $2" "expected HTTP $want, got $API_STATUS" "body: $(printf '%s' "$API_BODY" | head -c 2000)"
	return 1
}

# assert_api_error DESC: $API_BODY is {"error": {"code": "...", "message": "..."}} with
# a non-empty code and message
assert_api_error() {
	if printf '%s' "$API_BODY" | jq -e '.error | (.code | type == "string" and length > 0) and
		(.message | type == "string" and length > 0)' >/dev/null 2>&1; then
		ok "$1: JSON error ($(printf '%s' "$API_BODY" | jq -r '.error.code + ": " + .error.message' | head -c 200))"
	else
		not_ok "$1: JSON error with code and message" "body: $(printf '%s' "$API_BODY" | head -c 2000)"
	fi
}

# task_wait ID [TIMEOUT]: until the task is no longer RUNNING; API_BODY is its JSON
task_wait() {
	local id=$1 limit=${2:-$WAIT_TIMEOUT} st
	local deadline=$((SECONDS + limit))
	if [[ ! $id =~ ^[0-9]+$ ]]; then
		not_ok "task_wait: no task to wait for (\"$id\")"
		return 1
	fi
	while :; do
		api GET "/api/v1/tasks/$id"
		st=$(printf '%s' "$API_BODY" | jq -r '.status // empty' 2>/dev/null || true)
		if [[ $API_STATUS == 200 && -n $st && $st != RUNNING ]]; then return 0; fi
		if ((SECONDS >= deadline)); then
			not_ok "task $id ends within ${limit}s" "last answer: HTTP $API_STATUS" "$(task_summary)"
			return 1
		fi
		sleep 0.3
	done
}

# task_status [JSON]: the task's status
task_status() { printf '%s' "${1-$API_BODY}" | jq -r '.status' 2>&1 || true; }

# task_step NAME FIELD [JSON]: a field of the step named NAME (jq path after the step,
# e.g. .status, .error.message, .attempts)
task_step() {
	printf '%s' "${3-$API_BODY}" | jq -r --arg n "$1" ".steps[] | select(.name == \$n) | $2" 2>&1 || true
}

# task_summary [JSON]: one line per step: name status attempts error
task_summary() {
	printf '%s' "${1-$API_BODY}" | jq -r '"task \(.id) \(.status) \(.error // "")",
		(.steps[] | "  \(.name): \(.status) (attempts \(.attempts)) \(.error.message // "")")' 2>&1 || true
}

# tenant_id CLUSTER NAME: the id GET /api/v1/tenants gives the tenant
tenant_id() {
	api GET /api/v1/tenants
	printf '%s' "$API_BODY" | jq -r --arg c "$1" --arg n "$2" \
		'.[] | select(.cluster == $c and .name == $n) | .id' 2>/dev/null || true
}

# backup_start TENANT_ID MODE: POST a backup; sets TASK_ID (empty when refused:
# API_STATUS / API_BODY tell why)
TASK_ID=""
backup_start() {
	TASK_ID=""
	api POST "/api/v1/tenants/$1/backups" "$(jq -nc --arg m "$2" '{mode: $m}')"
	if [[ $API_STATUS == 202 ]]; then TASK_ID=$(printf '%s' "$API_BODY" | jq -r '.id'); fi
}

# tb_remote ARGS...: tenback through the daemon with the current token (tb_run's variables)
tb_remote() { tb_run --server "$API_URL" --token "$API_TOKEN" "$@"; }
