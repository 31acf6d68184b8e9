#!/usr/bin/env bash
# tb-faultproxy (test/fixtures/faultproxy.c), the fault-injecting HTTP/1.1 proxy
# the S3 tests put between tenback and RGW, checked with curl against a real RGW
# (test/fixtures/rgw.sh on loopback): in pass mode it is transparent (a 40 MiB
# PUT and GET byte for byte, HEAD, list, chunked bodies both ways, keep-alive,
# SigV4 signatures still valid, "Expect: 100-continue" answered at once); each fault
# mode does what the control file says and logs it (503 SlowDown every Nth
# request up to a count, 500, a reset, a response cut in the middle of its
# body, the network down); removing the control file restores pass; the proxy
# stops cleanly on SIGTERM with nothing on stderr (no sanitizer report when
# built with ASan/UBSan).
source "$(dirname "$0")/lib.sh"

RGW_PORT=${TB_RGW_PORT:-26975}          # and RGW_PORT+1 for its monitor
PROXY_PORT=${TB_PROXY_PORT:-26977}
RGW="$REPO_ROOT/test/fixtures/rgw.sh"
RGWD="$T/rgw"
PROXY="${TB_BUILD_DIR:-$REPO_ROOT/build}/test/fixtures/tb-faultproxy"
CTL="$T/faults.ctl"
PLOG="$T/log/faultproxy.log"
AK="tb-it-$RANDOM$RANDOM"
SK="tb-secret-$RANDOM$RANDOM$RANDOM"
SLOWDOWN_XML='<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'

if ! command -v radosgw >/dev/null; then
	not_ok "radosgw is installed" "run scripts/setup.sh (it installs ceph-mon ceph-osd radosgw ceph-common)"
	exit 1
fi
if [[ ! -x $PROXY ]]; then
	not_ok "tb-faultproxy exists at $PROXY" "build it: ninja -C build (or set TB_BUILD_DIR)"
	exit 1
fi

# stop the S3 server whatever happens, before lib.sh removes $T (the proxy is a bg process)
trap '_rc=$?; set +e; "$RGW" stop "$RGWD" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT

t0=$SECONDS
if ! RGW_FIXTURE_ACCESS_KEY=$AK RGW_FIXTURE_SECRET_KEY=$SK "$RGW" start "$RGWD" "$RGW_PORT" >"$T/log/rgw.txt" 2>&1; then
	not_ok "RGW starts" "$(tail -n 20 "$T/log/rgw.txt")"
	exit 1
fi
ok "RGW up on 127.0.0.1:$RGW_PORT in $((SECONDS - t0)) s"

bg "$PROXY" --listen "$PROXY_PORT" --upstream "$RGW_PORT" --control "$CTL" --log "$PLOG" \
	>"$T/log/faultproxy.out" 2>"$T/log/faultproxy.err"
PROXY_PID=${_BG_PIDS[-1]}
if ! wait_for "the proxy listens" 20 grep -qx "listening on 127.0.0.1:$PROXY_PORT" "$T/log/faultproxy.out"; then
	not_ok "tb-faultproxy starts" "$(cat "$T/log/faultproxy.out" "$T/log/faultproxy.err")"
	exit 1
fi
ok "tb-faultproxy says it listens on 127.0.0.1:$PROXY_PORT"
EP="http://127.0.0.1:$PROXY_PORT"

# s3curl METHOD PATH [curl args...]: a request signed by curl's SigV4, through the proxy
s3curl() {
	local method=$1 path=$2; shift 2
	curl -sS --max-time 120 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$method" "$EP/$path" "$@"
}
# control WORDS...: replace the control file (a new inode: the proxy sees the change at once)
control() {
	printf '%s\n' "$*" >"$CTL.tmp"
	mv "$CTL.tmp" "$CTL"
}
# log_since N: the proxy's log after its first N lines
log_lines() { wc -l <"$PLOG"; }
log_since() { tail -n +"$(($1 + 1))" "$PLOG"; }

# ---- pass mode: transparent
assert_eq "bucket created through the proxy" 200 "$(s3curl PUT tbfp -o /dev/null -w '%{http_code}')"
head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/big"
assert_eq "a 40 MiB PUT through the proxy" 200 \
	"$(s3curl PUT tbfp/big -T "$T/big" -o /dev/null -w '%{http_code}')"
code=$(s3curl GET tbfp/big -o "$T/big.got" -w '%{http_code}') || true
assert_eq "a 40 MiB GET through the proxy" 200 "$code"
assert_true "the object comes back byte for byte" cmp -s "$T/big" "$T/big.got"
head=$(s3curl HEAD tbfp/big -I 2>&1 | tr -d '\r') || true
assert_contains "HEAD through the proxy answers 200" "$head" "HTTP/1.1 200"
assert_contains "HEAD gives the object's length" "$head" "Content-Length: 41943040"
list=$(s3curl GET "tbfp?list-type=2") || true
assert_contains "list through the proxy shows the object" "$list" "<Key>big</Key>"
log_pass=$(grep -c -- '-> pass 200$' "$PLOG" || true)
assert_eq "the log has a pass line per request (bucket, PUT, GET, HEAD, list)" 5 "$log_pass"
assert_match "a log line is <unix-ms> <method> <target> -> <action> <status>" \
	"$(grep ' /tbfp/big -> ' "$PLOG" | head -n 1)" '^[0-9]{13} PUT /tbfp/big -> pass 200$'

# keep-alive: two requests, one client connection, and a bodyless HEAD in between
out=$(s3curl HEAD tbfp/big -I -v -o /dev/null --next --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$EP/tbfp/big" -o "$T/big.got2" 2>&1) || true
assert_contains "the client connection is kept alive across requests" "$out" "Re-using existing connection"
assert_true "the object after a HEAD on the same connection is whole" cmp -s "$T/big" "$T/big.got2"

# a chunked response (RGW lists are chunked) and then another request on the same connection
out=$(s3curl GET "tbfp?list-type=2" -v -o "$T/list" --next --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$EP/tbfp/big" -o "$T/big.got5" 2>&1) || true
assert_contains "a chunked response is relayed" "$out" "< Transfer-Encoding: chunked"
assert_contains "whole" "$(cat "$T/list")" "</ListBucketResult>"
assert_contains "and the connection is kept alive after it" "$out" "Re-using existing connection"
assert_true "the object after the list on the same connection is whole" cmp -s "$T/big" "$T/big.got5"

# a chunked request body: RGW wants a Content-Length on a PUT (411), but takes a chunked
# CompleteMultipartUpload
head -c 300000 /dev/urandom >"$T/part"
upload=$(s3curl POST "tbfp/multi?uploads=" | sed -n 's|.*<UploadId>\(.*\)</UploadId>.*|\1|p') || true
etag=$(s3curl PUT "tbfp/multi?partNumber=1&uploadId=$upload" -T "$T/part" -D - -o /dev/null \
	| tr -d '\r' | sed -n 's/^etag: //Ip') || true
printf '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' \
	"$etag" >"$T/complete.xml"
out=$(s3curl POST "tbfp/multi?uploadId=$upload" -H 'Transfer-Encoding: chunked' --data-binary @"$T/complete.xml" \
	-v -w 'code=%{http_code}' 2>&1) || true
assert_contains "curl sent the CompleteMultipartUpload body chunked" "$out" "> Transfer-Encoding: chunked"
assert_contains "a chunked request body is relayed (the upload completes)" "$out" "code=200"
code=$(s3curl GET tbfp/multi -o "$T/part.got" -w '%{http_code}') || true
assert_eq "the object completed with a chunked body is there" 200 "$code"
assert_true "and whole" cmp -s "$T/part" "$T/part.got"

# Expect: 100-continue is answered by the proxy itself (no 1 s wait in curl); curl signs
# an Expect set with -H, so the proxy keeps that one for RGW and swallows RGW's own 100
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/two"
t1=$(date +%s%N)
out=$(s3curl PUT tbfp/two -T "$T/two" -H 'Expect: 100-continue' -v -o /dev/null -w 'code=%{http_code}' 2>&1) || true
t2=$(date +%s%N)
log "2 MiB PUT with Expect: 100-continue took $(((t2 - t1) / 1000000)) ms"
assert_contains "the 2 MiB PUT sent Expect: 100-continue" "$out" "> Expect: 100-continue"
assert_contains "the client got 100 Continue" "$out" "< HTTP/1.1 100 Continue"
assert_contains "the PUT with Expect: 100-continue succeeds" "$out" "code=200"
code=$(s3curl GET tbfp/two -o "$T/two.got" -w '%{http_code}') || true
assert_eq "the object put with Expect: 100-continue is there" 200 "$code"
assert_true "and whole" cmp -s "$T/two" "$T/two.got"
# curl adds Expect by itself, unsigned, to a PUT over 1 MiB: the proxy strips that one
out=$(s3curl PUT tbfp/two -T "$T/two" -v -o /dev/null -w 'code=%{http_code}' 2>&1) || true
assert_contains "a PUT with curl's own Expect: 100-continue succeeds" "$out" "code=200"

# ---- 503 SlowDown on every 2nd request, 3 times
n0=$(log_lines)
control mode=503 every=2 count=3
codes=""
for i in 1 2 3 4 5 6 7 8; do
	c=$(s3curl GET tbfp/two -o "$T/r$i" -w '%{http_code}') || true
	codes+="$c "
done
assert_eq "mode=503 every=2 count=3: requests 2, 4 and 6 get 503" "200 503 200 503 200 503 200 200 " "$codes"
assert_eq "the log shows exactly 3 faults" 3 "$(log_since "$n0" | grep -c -- '-> 503 503$' || true)"
assert_eq "the log shows 5 passes" 5 "$(log_since "$n0" | grep -c -- '-> pass 200$' || true)"
assert_eq "the 503 body is S3's SlowDown error" "$SLOWDOWN_XML" "$(cat "$T/r2")"
assert_true "the answers in between are the object" cmp -s "$T/two" "$T/r3"

# ---- percent=: faults by chance, the same sequence for the same seed
pct_codes() {
	local i c out=""
	control mode=503 percent=40 seed="$1"
	for i in $(seq 30); do
		c=$(s3curl HEAD tbfp/two -I -o /dev/null -w '%{http_code}') || true
		out+="$c "
	done
	echo "$out"
}
a=$(pct_codes 7); b=$(pct_codes 7); c3=$(pct_codes 8)
n503=$(grep -o 503 <<<"$a" | wc -l)
assert_true "percent=40: some but not all of 30 HEADs get 503 ($n503)" test "$n503" -ge 4 -a "$n503" -le 26
assert_eq "the same seed gives the same sequence" "$a" "$b"
assert_ne "another seed another one" "$a" "$c3"
control mode=503 methods=HEAD
out=$(s3curl HEAD tbfp/two -I -v -o /dev/null -w 'code=%{http_code}' --next \
	--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	-o "$T/after-head" -w 'code=%{http_code}' "$EP/tbfp/two" 2>&1) || true
assert_contains "methods=HEAD: the HEAD gets 503" "$out" "code=503"
assert_contains "the GET after it, on the same connection, gets the object" "$out" "code=200"
assert_contains "(the same connection)" "$out" "Re-using existing connection"
assert_true "a 503 to a HEAD has no body: the GET's answer is the object, whole" cmp -s "$T/two" "$T/after-head"

# a body sent to a 503 is read and discarded: the same connection goes on
control mode=503 methods=PUT count=1
out=$(s3curl PUT tbfp/two -T "$T/two" -v -o "$T/put503" -w 'code=%{http_code}' --next \
	--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	-o /dev/null -w 'code=%{http_code}' "$EP/tbfp/two" 2>&1) || true
assert_contains "methods=PUT: the PUT gets 503" "$out" "code=503"
assert_contains "the GET after it passes" "$out" "code=200"
assert_contains "on the same connection" "$out" "Re-using existing connection"

# ---- 500 InternalError
control mode=500 match=/tbfp/two count=1
c=$(s3curl GET tbfp/two -o "$T/r500" -w '%{http_code}') || true
assert_eq "mode=500: 500" 500 "$c"
assert_contains "the 500 body is S3's InternalError" "$(cat "$T/r500")" "<Code>InternalError</Code>"

# ---- reset: one connection error, then pass
n0=$(log_lines)
control mode=reset count=1
rc=0; c=$(s3curl GET tbfp/two -o /dev/null -w '%{http_code}' 2>"$T/curl.err") || rc=$?
assert_ne "mode=reset count=1: curl fails" 0 "$rc"
assert_contains "with a connection error" "$(cat "$T/curl.err")" 'reset|Empty reply|\((52|56)\)' -E
c=$(s3curl GET tbfp/two -o /dev/null -w '%{http_code}') || true
assert_eq "the next request passes" 200 "$c"
assert_eq "the log shows one reset" 1 "$(log_since "$n0" | grep -c -- '-> reset -$' || true)"

# ---- a response cut in the middle of its body
control mode=drop-mid-body methods=GET count=1
rc=0; s3curl GET tbfp/big -o "$T/big.cut" 2>"$T/curl.err" || rc=$?
assert_ne "mode=drop-mid-body: the GET fails" 0 "$rc"
size=$(stat -c %s "$T/big.cut" 2>/dev/null || echo 0)
assert_eq "after half the body exactly" $((20 * 1024 * 1024)) "$size"
assert_contains "the log shows the drop" "$(cat "$PLOG")" "GET /tbfp/big -> drop 200"
c=$(s3curl GET tbfp/big -o "$T/big.got3" -w '%{http_code}') || true
assert_eq "the next GET passes" 200 "$c"
assert_true "and is whole" cmp -s "$T/big" "$T/big.got3"

# ---- the network down
n0=$(log_lines)
control mode=down
rc=0; c=$(s3curl GET tbfp/two -o /dev/null -w '%{http_code}' 2>"$T/curl.err") || rc=$?
assert_ne "mode=down: curl gets no answer" 0 "$rc"
assert_eq "no HTTP status" 000 "$c"
assert_contains "the log shows the connection refused" "$(log_since "$n0")" "-> down -"

# ---- no control file: pass again
rm -f "$CTL"
c=$(s3curl GET tbfp/two -o "$T/two.got4" -w '%{http_code}') || true
assert_eq "without the control file, requests pass again" 200 "$c"
assert_true "whole" cmp -s "$T/two" "$T/two.got4"

# ---- malformed input: 400 and a close
out=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET / HTTP/1.1\r\nBad header\r\n\r\n" >&3; cat <&3' _ "$PROXY_PORT" 2>&1) || true
assert_contains "a malformed request gets 400" "$out" "HTTP/1.1 400 Bad Request"
c=$(s3curl GET tbfp/two -o /dev/null -w '%{http_code}') || true
assert_eq "and the proxy goes on" 200 "$c"

# ---- clean stop
kill -TERM "$PROXY_PID"
rc=0; wait "$PROXY_PID" || rc=$?
assert_eq "tb-faultproxy exits 0 on SIGTERM" 0 "$rc"
assert_eq "tb-faultproxy wrote nothing on stderr (no sanitizer report)" "" "$(cat "$T/log/faultproxy.err")"
