/*
 * s3.h - the S3 driver's internals, exposed for its unit tests
 * (test/unit/storage/test_s3_parts.c); callers use storage.h only.
 *
 * Pieces: the s3:// URI and credentials (s3_config.c), canonical query
 * strings and key encoding (s3_config.c), a tiny XML reader for the few S3
 * answers the driver needs (s3_xml.c), requests with SigV4 signing, retries
 * and error mapping (s3_http.c), and the driver itself (s3.c).
 *
 * Secrets: the secret key lives only in S3Config.secret_key and in libcurl's
 * CURLOPT_USERPWD; it is never formatted into a message or a log line.
 */
#ifndef TENBACK_STORAGE_S3_S3_H
#define TENBACK_STORAGE_S3_S3_H

#include "common/buf.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_MIN_PART_SIZE (5u * 1024 * 1024)        /* S3's minimum for all but the last part */
#define S3_DEFAULT_PART_SIZE (16u * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_DEFAULT_UPLOAD_THREADS 3
#define S3_DEFAULT_RETRIES 10   /* backoff 0.1 s doubling to 8 s: rides out a gateway restart of ~20 s */
#define S3_DEFAULT_RETRY_MS 120000                 /* total time a request may spend retrying */
#define S3_MAX_XML_BYTES (8u * 1024 * 1024)        /* the largest answer the driver parses */

typedef struct S3Config {
	char *bucket;
	char *prefix;          /* "" or "a/b/" (always ends with '/') */
	char *endpoint;        /* "http://host:port", no trailing '/' */
	char *region;
	bool path_style;       /* http://host/bucket/key instead of http://bucket.host/key */
	char *ca_file;         /* NULL: the system's CA store */
	bool verify_tls;
	char *access_key;
	char *secret_key;      /* never logged */
	char *session_token;   /* AWS_SESSION_TOKEN, optional; never logged */
	size_t part_size;
	int upload_threads;
	int retries;           /* retries after the first attempt */
	int retry_ms;          /* total time bound for one request's retries */
} S3Config;

/*
 * s3://bucket[/prefix][?option=value&...]; options: endpoint, region,
 * uri-style (path|host), ca-file, verify-tls (true|false), credentials-file,
 * part-size (bytes or with KiB/MiB/GiB), upload-threads, retries.
 * Credentials: o->access_key/secret_key, else o->credentials_file, else the
 * URI's credentials-file, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
 * o may be NULL.  On error nothing is left allocated in c.
 */
int s3_config_parse(S3Config *c, const char *uri, const StorageOpenOpts *o);
void s3_config_free(S3Config *c);
/* A credentials file: mode 0600 or stricter, "key = value" lines, keys
 * aws_access_key_id / aws_secret_access_key (any case, also
 * AWS_ACCESS_KEY_ID=...), '#' comments and [sections] ignored. */
int s3_read_credentials_file(const char *path, char **out_access, char **out_secret);

/* RFC 3986 encoding: unreserved bytes kept, '/' kept if keep_slash, the rest %XX (upper case). */
void s3_uri_encode(Buf *out, const char *s, bool keep_slash);

typedef struct S3Param {
	const char *key;
	const char *value;     /* NULL or "": "key=" */
} S3Param;
/* The canonical query string SigV4 signs: sorted by encoded key (then value),
 * each key and value RFC 3986-encoded, "key=" for empty values. malloc'd. */
char *s3_query_canonical(const S3Param *params, size_t n);

/* ---- XML ---- */

typedef enum S3XmlEvent {
	S3_XML_OPEN,           /* path names the element just opened */
	S3_XML_TEXT,           /* text of a leaf element (entities decoded), once per element */
	S3_XML_CLOSE,
} S3XmlEvent;

/* path: element names from the root joined with '/', e.g. "ListBucketResult/Contents/Key".
 * A callback returning <0 stops the parse with that code. */
typedef int (*S3XmlCb)(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len);
/* Parse a whole document; malformed input (unbalanced tags, bad entities, too
 * deep, too long names) is ERR_CORRUPT. */
int s3_xml_parse(const char *doc, size_t len, S3XmlCb cb, void *payload);
/* Text of the first element at path ("Error/Code") into out (truncated to cap);
 * false when absent or the document is malformed. */
bool s3_xml_get(const char *doc, size_t len, const char *path, char *out, size_t cap);
/* Escape text for an XML body (& < > " '). */
void s3_xml_escape(Buf *out, const char *s);

/* ---- requests ---- */

typedef enum S3Retry {
	S3_RETRY_NO = 0,
	S3_RETRY_YES = 1,
} S3Retry;

/* Is a failed attempt worth retrying?  curl_code: a CURLcode (0 if the
 * transfer completed); status: the HTTP status (0 if none); s3_code: the
 * Error/Code of the answer ("" if none). */
S3Retry s3_retry_classify(int curl_code, long status, const char *s3_code);
/* The ErrCode of a final failure (same inputs). */
int s3_error_code(int curl_code, long status, const char *s3_code);
/* Backoff before retry number attempt (1, 2, ...): exponential with full jitter, in ms. */
int s3_backoff_ms(int attempt, unsigned *seed);

typedef struct S3Client S3Client;

int s3_client_new(S3Client **out, const char *uri, const StorageOpenOpts *o);
void s3_client_free(S3Client *cl);
const S3Config *s3_client_config(const S3Client *cl);

/* A request.  key: the full object key (prefix included) or NULL for the bucket. */
typedef struct S3Request {
	const char *op;            /* for messages: "upload", "read", ... */
	const char *method;
	const char *key;
	const char *query;         /* canonical (s3_query_canonical) or NULL */
	const void *body;          /* request body (PUT/POST), may be NULL */
	size_t body_len;
	const char *content_md5;   /* base64, or NULL */
	const char *content_type;  /* or NULL */
	const char *range;         /* "bytes=0-99" or NULL */
	const char *if_match;      /* ETag, or NULL */
	bool if_none_match;        /* "If-None-Match: *": write only when the key does not exist */
	/* response body: collected into resp (bounded by resp_cap) */
	size_t resp_cap;
	bool no_retry;             /* one attempt only (the storage test) */
	long also_ok[2];           /* statuses that are answers, not failures (404 for "missing") */
} S3Request;

typedef struct S3Response {
	long status;
	int curl_code;
	Buf body;
	char etag[128];
	char err_code[64];
	char err_message[256];
	uint64_t content_length;
	bool has_content_length;
	char content_range[96];
	int64_t last_modified;     /* unix time, 0 unknown */
	int64_t server_date;       /* unix time of the Date header, 0 unknown */
	int64_t local_date;        /* local time when the answer came */
	char curl_error[256];
} S3Response;

void s3_response_free(S3Response *r);
/*
 * Perform a request with retries.  Returns 0 when the final answer is 2xx
 * (or one of also_ok: check resp->status); otherwise a negative ErrCode
 * with a message naming the operation, the object and the last error.
 * resp is always filled in (free it with s3_response_free).
 */
int s3_request(S3Client *cl, const S3Request *rq, S3Response *resp);
/* Set the thread's error record for a failed answer (used by s3_request). */
int s3_fail(S3Client *cl, const S3Request *rq, const S3Response *resp);

#endif
