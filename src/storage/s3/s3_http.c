/*
 * s3_http.c - one S3 request: URL, SigV4 (libcurl's CURLOPT_AWS_SIGV4),
 * retries with backoff and jitter, and the error a caller sees.
 *
 * Invariants: every request carries x-amz-content-sha256 (the body's real
 * SHA-256: RGW insists, and plain-HTTP endpoints get integrity with it); the
 * query string is canonical already (s3_query_canonical), because libcurl
 * 7.88 signs it as given; the secret key goes to libcurl only, never to a
 * message; answers are collected up to the request's resp_cap, so memory
 * stays bounded whatever a server sends.
 *
 * Easy handles are pooled (a mutex-protected stack) so connections are
 * reused across requests and threads.
 */
#include "storage/s3/s3.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "io/io.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 16

struct S3Client {
	S3Config cfg;
	char *sigv4;        /* "aws:amz:REGION:s3" */
	pthread_mutex_t lock;
	CURL *pool[POOL_MAX];
	int n_pool;
	unsigned seed;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
s3_client_new(S3Client **out, const char *uri, const StorageOpenOpts *o)
{
	S3Client *cl;
	int rc;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return err_set(ERR_INTERNAL, "could not initialize libcurl: %s", curl_easy_strerror(curl_init_rc));
	cl = xcalloc(1, sizeof(*cl));
	if ((rc = s3_config_parse(&cl->cfg, uri, o)) < 0) {
		free(cl);
		return rc;
	}
	cl->sigv4 = xasprintf("aws:amz:%s:s3", cl->cfg.region);
	pthread_mutex_init(&cl->lock, NULL);
	cl->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)cl;
	*out = cl;
	return 0;
}

void
s3_client_free(S3Client *cl)
{
	if (cl == NULL)
		return;
	for (int i = 0; i < cl->n_pool; i++)
		curl_easy_cleanup(cl->pool[i]);
	pthread_mutex_destroy(&cl->lock);
	free(cl->sigv4);
	s3_config_free(&cl->cfg);
	free(cl);
}

const S3Config *
s3_client_config(const S3Client *cl)
{
	return &cl->cfg;
}

static CURL *
handle_get(S3Client *cl)
{
	CURL *h = NULL;

	pthread_mutex_lock(&cl->lock);
	if (cl->n_pool > 0)
		h = cl->pool[--cl->n_pool];
	pthread_mutex_unlock(&cl->lock);
	if (h == NULL)
		h = curl_easy_init();
	ASSERT(h != NULL);
	return h;
}

static void
handle_put(S3Client *cl, CURL *h)
{
	pthread_mutex_lock(&cl->lock);
	if (cl->n_pool < POOL_MAX) {
		cl->pool[cl->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&cl->lock);
	if (h)
		curl_easy_cleanup(h);
}

void
s3_response_free(S3Response *r)
{
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- classification ---- */

static bool
code_is(const char *s3_code, const char *want)
{
	return s3_code && strcmp(s3_code, want) == 0;
}

S3Retry
s3_retry_classify(int curl_code, long status, const char *s3_code)
{
	if (curl_code != CURLE_OK) {
		switch (curl_code) {
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_WEIRD_SERVER_REPLY: /* a reply garbled on the way */
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return S3_RETRY_YES;
		default:
			return S3_RETRY_NO;
		}
	}
	if (code_is(s3_code, "SlowDown") || code_is(s3_code, "InternalError") || code_is(s3_code, "RequestTimeout") ||
	    code_is(s3_code, "ServiceUnavailable"))
		return S3_RETRY_YES;
	if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504)
		return S3_RETRY_YES;
	return S3_RETRY_NO;
}

int
s3_error_code(int curl_code, long status, const char *s3_code)
{
	if (curl_code != CURLE_OK)
		return curl_code == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_NETWORK;
	if (code_is(s3_code, "QuotaExceeded") || code_is(s3_code, "EntityTooLarge") ||
	    code_is(s3_code, "XMinioStorageFull") || status == 507)
		return ERR_NO_SPACE;
	if (code_is(s3_code, "NoSuchBucket") || code_is(s3_code, "NoSuchKey") || code_is(s3_code, "NoSuchUpload"))
		return ERR_NOT_FOUND;
	if (status == 403 || status == 401)
		return ERR_PERMISSION;
	if (status == 404)
		return ERR_NOT_FOUND;
	if (status == 429 || status == 503 || code_is(s3_code, "SlowDown"))
		return ERR_BUSY;
	if (status >= 500 || code_is(s3_code, "RequestTimeout"))
		return ERR_NETWORK;
	if (status == 409)
		return ERR_EXISTS;
	if (status == 400 || status == 411 || status == 412 || status == 416)
		return ERR_INVALID;
	return ERR_IO;
}

int
s3_backoff_ms(int attempt, unsigned *seed)
{
	long cap = 100L << (attempt > 7 ? 7 : (attempt < 1 ? 0 : attempt - 1));

	if (cap > 8000)
		cap = 8000;
	/* "equal jitter": at least half the step, so retries do spread out */
	return (int)(cap / 2 + (long)((unsigned long)rand_r(seed) % (unsigned long)(cap / 2 + 1)));
}

/* ---- one attempt ---- */

typedef struct Xfer {
	const S3Request *rq;
	S3Response *resp;
	const char *body;
	size_t body_off;
	bool too_big;
} Xfer;

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *p)
{
	Xfer *x = p;
	size_t want = size * nmemb, left = x->rq->body_len - x->body_off;
	size_t n = want < left ? want : left;

	memcpy(dst, x->body + x->body_off, n);
	x->body_off += n;
	return n;
}

static size_t
write_cb(char *src, size_t size, size_t nmemb, void *p)
{
	Xfer *x = p;
	size_t n = size * nmemb;

	if (x->resp->body.len + n > x->rq->resp_cap) {
		x->too_big = true;
		return 0;
	}
	buf_append(&x->resp->body, src, n);
	return n;
}

static void
header_value(char *out, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t
header_cb(char *line, size_t size, size_t nmemb, void *p)
{
	Xfer *x = p;
	size_t n = size * nmemb;
	const char *colon = memchr(line, ':', n);
	char val[256];

	if (colon == NULL)
		return n;
	size_t kl = (size_t)(colon - line), vl = n - kl - 1;
	header_value(val, sizeof(val), colon + 1, vl);
	if (kl == 4 && strncasecmp(line, "etag", 4) == 0) {
		header_value(x->resp->etag, sizeof(x->resp->etag), colon + 1, vl);
	} else if (kl == 14 && strncasecmp(line, "content-length", 14) == 0) {
		x->resp->content_length = strtoull(val, NULL, 10);
		x->resp->has_content_length = true;
	} else if (kl == 13 && strncasecmp(line, "content-range", 13) == 0) {
		header_value(x->resp->content_range, sizeof(x->resp->content_range), colon + 1, vl);
	} else if (kl == 13 && strncasecmp(line, "last-modified", 13) == 0) {
		time_t t = curl_getdate(val, NULL);
		x->resp->last_modified = t > 0 ? (int64_t)t : 0;
	} else if (kl == 4 && strncasecmp(line, "date", 4) == 0) {
		time_t t = curl_getdate(val, NULL);
		x->resp->server_date = t > 0 ? (int64_t)t : 0;
	}
	return n;
}

static char *
build_url(S3Client *cl, const S3Request *rq)
{
	const S3Config *c = &cl->cfg;
	Buf u = BUF_INIT;

	if (c->path_style) {
		buf_printf(&u, "%s/", c->endpoint);
		s3_uri_encode(&u, c->bucket, false);
	} else {
		const char *host = strstr(c->endpoint, "://") + 3;
		buf_printf(&u, "%.*s%s.%s", (int)(host - c->endpoint), c->endpoint, c->bucket, host);
	}
	if (rq->key) {
		buf_putc(&u, '/');
		s3_uri_encode(&u, rq->key, true);
	} else if (!c->path_style) {
		buf_putc(&u, '/');
	}
	if (rq->query && *rq->query)
		buf_printf(&u, "?%s", rq->query);
	return buf_steal(&u);
}

static void
attempt(S3Client *cl, const S3Request *rq, S3Response *resp)
{
	const S3Config *c = &cl->cfg;
	CURL *h = handle_get(cl);
	struct curl_slist *hdrs = NULL;
	char *url = build_url(cl, rq);
	char line[512], errbuf[CURL_ERROR_SIZE];
	uint8_t sha[IO_SHA256_LEN];
	char sha_hex[2 * IO_SHA256_LEN + 1];
	IoSha256 *hs;
	Xfer x = {rq, resp, rq->body, 0, false};
	CURLcode cc;

	buf_free(&resp->body);
	memset(resp, 0, sizeof(*resp));
	errbuf[0] = '\0';

	hs = io_sha256_new();
	if (rq->body_len)
		io_sha256_update(hs, rq->body, rq->body_len);
	io_sha256_final(hs, sha);
	io_sha256_free(hs);
	io_hex(sha_hex, sha, sizeof(sha));
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", sha_hex);
	hdrs = curl_slist_append(hdrs, line);
	/* no "Expect:" to suppress 100-continue: libcurl 7.88 signs the empty header it does not send */
	if (rq->content_md5) {
		snprintf(line, sizeof(line), "Content-MD5: %s", rq->content_md5);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
		snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type ? rq->content_type : "application/octet-stream");
		hdrs = curl_slist_append(hdrs, line);
	}
	if (rq->range) {
		snprintf(line, sizeof(line), "Range: %s", rq->range);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (rq->if_match) {
		snprintf(line, sizeof(line), "If-Match: %s", rq->if_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (rq->if_none_match)
		hdrs = curl_slist_append(hdrs, "If-None-Match: *");
	if (c->session_token) {
		Buf t = BUF_INIT;
		buf_printf(&t, "x-amz-security-token: %s", c->session_token);
		hdrs = curl_slist_append(hdrs, t.data);
		explicit_bzero(t.data, t.len);
		buf_free(&t);
	}

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, cl->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a stalled transfer: less than 1 KiB/s for 60 s */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}

	cc = curl_easy_perform(h);
	resp->local_date = (int64_t)time(NULL);
	if (x.too_big) {
		resp->curl_code = CURLE_WRITE_ERROR;
		snprintf(resp->curl_error, sizeof(resp->curl_error), "the answer is larger than %zu bytes", rq->resp_cap);
	} else if (cc != CURLE_OK) {
		resp->curl_code = (int)cc;
		snprintf(resp->curl_error, sizeof(resp->curl_error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		if ((resp->status < 200 || resp->status >= 300) && resp->body.len > 0) {
			s3_xml_get(resp->body.data, resp->body.len, "Error/Code", resp->err_code, sizeof(resp->err_code));
			s3_xml_get(resp->body.data, resp->body.len, "Error/Message", resp->err_message,
			           sizeof(resp->err_message));
		}
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	free(url);
	/* a handle whose transfer failed may hold a broken connection: do not pool it */
	if (cc == CURLE_OK)
		handle_put(cl, h);
	else
		curl_easy_cleanup(h);
}

/* "HTTP 503 SlowDown: Please reduce your request rate" / "connection refused: ..." */
static void
describe(const S3Response *r, char *out, size_t cap)
{
	if (r->curl_code != CURLE_OK)
		snprintf(out, cap, "%s", r->curl_error[0] ? r->curl_error : curl_easy_strerror((CURLcode)r->curl_code));
	else if (r->err_code[0])
		snprintf(out, cap, "HTTP %ld %s%s%s", r->status, r->err_code, r->err_message[0] ? ": " : "",
		         r->err_message);
	else
		snprintf(out, cap, "HTTP %ld", r->status);
}

static void
object_name(S3Client *cl, const S3Request *rq, char *out, size_t cap)
{
	snprintf(out, cap, "s3://%s/%s", cl->cfg.bucket, rq->key ? rq->key : cl->cfg.prefix);
}

int
s3_fail(S3Client *cl, const S3Request *rq, const S3Response *r)
{
	char what[640], obj[1200];
	int code = s3_error_code(r->curl_code, r->status, r->err_code);
	int rc;

	describe(r, what, sizeof(what));
	object_name(cl, rq, obj, sizeof(obj));
	if (r->curl_code == CURLE_OK && (r->status == 403 || r->status == 401) &&
	    (r->err_code[0] == '\0' || strcmp(r->err_code, "SignatureDoesNotMatch") == 0 ||
	     strcmp(r->err_code, "InvalidAccessKeyId") == 0)) {
		rc = err_set(code, "S3 %s of \"%s\" failed: the credentials were refused (%s)", rq->op, obj, what);
		err_hint("Check the access key and the secret key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the "
		         "credentials file) and that the clock is right.");
	} else if (code_is(r->err_code, "AccessDenied")) {
		rc = err_set(code, "S3 %s of \"%s\" failed: access denied (%s)", rq->op, obj, what);
		err_hint("The key was accepted but may not do this: check the user's or the bucket's policy.");
	} else if (code_is(r->err_code, "RequestTimeTooSkewed")) {
		rc = err_set(code, "S3 %s of \"%s\" failed: the clock is off (%s)", rq->op, obj, what);
		err_hint("Set the system clock (NTP): S3 signatures are valid for 15 minutes.");
	} else if (code_is(r->err_code, "NoSuchBucket")) {
		rc = err_set(code, "S3 %s of \"%s\" failed: the bucket \"%s\" does not exist (%s)", rq->op, obj,
		             cl->cfg.bucket, what);
		err_hint("Create the bucket, or correct the bucket name in the storage URI.");
	} else if (r->curl_code == CURLE_PEER_FAILED_VERIFICATION || r->curl_code == CURLE_SSL_CACERT_BADFILE) {
		rc = err_set(code, "S3 %s of \"%s\" failed: the server's TLS certificate was not accepted (%s)", rq->op,
		             obj, what);
		if (strstr(what, "subject name") || strstr(what, "does not match"))
			err_hint("The certificate does not name the host in endpoint=: use a name it is issued for.");
		else
			err_hint("Give the CA with ca-file=/path/ca.pem in the storage URI (or, not recommended, "
			         "verify-tls=false).");
	} else if (r->curl_code == CURLE_COULDNT_CONNECT || r->curl_code == CURLE_COULDNT_RESOLVE_HOST) {
		rc = err_set(code, "S3 %s of \"%s\" failed: could not reach %s (%s)", rq->op, obj, cl->cfg.endpoint, what);
		err_hint("Check endpoint= in the storage URI and that the server is up.");
	} else {
		rc = err_set(code, "S3 %s of \"%s\" failed: %s", rq->op, obj, what);
		if (code == ERR_NO_SPACE)
			err_hint("The bucket's quota or the store is full.");
	}
	return rc;
}

static int
gave_up(S3Client *cl, const S3Request *rq, const S3Response *resp, int tries, int64_t t0)
{
	int rc = s3_fail(cl, rq, resp);

	err_detail("Gave up after %d attempts in %lld ms (retries=%d, retry-time=%d s in the storage URI).", tries,
	           (long long)(time_now_ms() - t0), cl->cfg.retries, cl->cfg.retry_ms / 1000);
	return rc;
}

int
s3_request(S3Client *cl, const S3Request *rq, S3Response *resp)
{
	int64_t t0 = time_now_ms();
	int tries = 0;
	char what[640], obj[1200];

	for (;;) {
		attempt(cl, rq, resp);
		tries++;
		if (resp->curl_code == CURLE_OK && ((resp->status >= 200 && resp->status < 300) ||
		                                    (rq->also_ok[0] && resp->status == rq->also_ok[0]) ||
		                                    (rq->also_ok[1] && resp->status == rq->also_ok[1])))
			return 0;
		if (rq->no_retry || s3_retry_classify(resp->curl_code, resp->status, resp->err_code) == S3_RETRY_NO)
			return s3_fail(cl, rq, resp);
		if (tries > cl->cfg.retries)
			return gave_up(cl, rq, resp, tries, t0);
		int wait_ms;
		pthread_mutex_lock(&cl->lock);
		wait_ms = s3_backoff_ms(tries, &cl->seed);
		pthread_mutex_unlock(&cl->lock);
		if (time_now_ms() - t0 + wait_ms > cl->cfg.retry_ms)
			return gave_up(cl, rq, resp, tries, t0);
		describe(resp, what, sizeof(what));
		object_name(cl, rq, obj, sizeof(obj));
		log_warning("S3 %s of \"%s\": %s; retry %d of %d in %d ms", rq->op, obj, what, tries, cl->cfg.retries,
		            wait_ms);
		struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0)
			;
	}
}
