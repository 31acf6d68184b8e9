/*
 * s3.c - the storage driver for S3-compatible object stores (AWS S3, Ceph
 * RGW, MinIO, OSS, COS).
 *
 * Layout: a storage path "a/b" is the object key "<prefix>a/b"; a
 * "directory" is a common prefix ("a/"), there are no directory objects.
 *
 * The atomic-write contract: an object is written with one PUT when it fits
 * in one part (part-size, 16 MiB by default), otherwise by a multipart
 * upload; either way S3 makes it visible only when the PUT or the
 * CompleteMultipartUpload succeeded, so a writer freed without a successful
 * close leaves nothing visible.  The multipart upload is aborted then (and
 * after any failure), so no parts are left to bill.
 *
 * Bounded memory: a writer holds the part being filled; the parts being
 * uploaded come from upload-threads buffers that all writers of the storage
 * share (3 by default: with two files written at once, 5 parts, 80 MiB at
 * 16 MiB parts, where each writer had its own 3 before); a writer with
 * none free waits for its own upload to end.  A reader holds one 8 MiB
 * range.  Reads are ranged GETs pinned to
 * the first answer's ETag (If-Match), so an object replaced while it is read
 * is an error, never a mix of two versions.  A range read
 * (storage_read_open_range) is the same walk from its offset, its last GET
 * ending where the range ends.
 *
 * Objects are durable when their upload completed: no sync operation.
 */
#include "storage/s3/s3.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "storage/driver.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_CHUNK (8u * 1024 * 1024)
#define LIST_CAP (4u * 1024 * 1024)     /* one ListObjectsV2 page: 1000 keys */
#define SMALL_CAP (256u * 1024)          /* errors, InitiateMultipartUpload, ... */
#define DELETE_BATCH 1000

typedef struct S3 {
	S3Client *cl;
	/* Part buffers beyond each writer's own one, shared by every writer of the
	 * storage (upload-threads of them): memory stays bounded by the writers
	 * running at once plus upload-threads parts, not by writers times threads. */
	pthread_mutex_t parts_mu;
	int parts_free;
} S3;

/* One more part buffer for a writer, if the storage has one free. */
static bool
take_part(S3 *s)
{
	bool ok;

	pthread_mutex_lock(&s->parts_mu);
	ok = s->parts_free > 0;
	if (ok)
		s->parts_free--;
	pthread_mutex_unlock(&s->parts_mu);
	return ok;
}

static void
give_parts(S3 *s, int n)
{
	pthread_mutex_lock(&s->parts_mu);
	s->parts_free += n;
	pthread_mutex_unlock(&s->parts_mu);
}

static const S3Config *
cfg(S3 *s)
{
	return s3_client_config(s->cl);
}

static char *
full_key(S3 *s, const char *path)
{
	return xasprintf("%s%s", cfg(s)->prefix, path);
}

/* ---------------------------------------------------------------- writer */

typedef struct Part {
	int number;
	uint8_t *data;
	size_t len;
} Part;

typedef struct S3Writer {
	S3 *s3;
	char *key;
	size_t part_size;
	uint8_t *buf;             /* the part being filled */
	size_t len;
	uint64_t total;
	bool committed;
	bool no_replace;          /* ERR_EXISTS rather than replacing an existing key */

	/* multipart */
	char *upload_id;
	int n_parts;              /* parts handed to the workers */
	char (*etags)[128];        /* etags[n-1]: part n's ETag; under mu */
	int etags_cap;
	pthread_t *threads;
	int n_threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	Part *queue;              /* ring of n_threads */
	int q_head, q_len;
	int in_flight;            /* queued or uploading */
	int parts_held;           /* buffers taken with take_part (given back at free) */
	uint8_t **spare;          /* buffers back from the workers */
	int n_spare;
	bool stop;
	bool failed;
	int fail_code;
	char *fail_message;
	char *fail_detail;
	char *fail_hint;
} S3Writer;

static int
md5_base64(const void *data, size_t len, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return err_set(ERR_INTERNAL, "could not compute MD5");
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}

/* Record the thread's error as the writer's (first one wins); under mu. */
static void
record_failure(S3Writer *w)
{
	if (!w->failed) {
		w->failed = true;
		w->fail_code = err_code() < 0 ? err_code() : ERR_IO;
		w->fail_message = xstrdup(err_message());
		w->fail_detail = xstrdup(err_detail_text());
		w->fail_hint = xstrdup(err_hint_text());
	}
}

/* Set the thread's error record from the writer's failure. */
static int
raise_failure(S3Writer *w)
{
	int rc = err_set(w->fail_code, "%s", w->fail_message ? w->fail_message : "S3 upload failed");

	if (w->fail_detail && *w->fail_detail)
		err_detail("%s", w->fail_detail);
	if (w->fail_hint && *w->fail_hint)
		err_hint("%s", w->fail_hint);
	return rc;
}

static int
upload_part(S3Writer *w, const Part *p)
{
	char num[16];
	S3Param q[2] = {{"partNumber", num}, {"uploadId", w->upload_id}};
	char *query;
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	snprintf(num, sizeof(num), "%d", p->number);
	query = s3_query_canonical(q, 2);
	rq.op = "upload of a part";
	rq.method = "PUT";
	rq.key = w->key;
	rq.query = query;
	rq.body = p->data;
	rq.body_len = p->len;
	rq.resp_cap = SMALL_CAP;
	rc = s3_request(w->s3->cl, &rq, &resp);
	if (rc == 0 && resp.etag[0] == '\0')
		rc = err_set(ERR_IO, "S3 upload of part %d of \"s3://%s/%s\": the answer has no ETag", p->number,
		             cfg(w->s3)->bucket, w->key);
	if (rc == 0) {
		pthread_mutex_lock(&w->mu);
		snprintf(w->etags[p->number - 1], sizeof(w->etags[0]), "%s", resp.etag);
		pthread_mutex_unlock(&w->mu);
	}
	s3_response_free(&resp);
	free(query);
	return rc;
}

static void *
worker(void *arg)
{
	S3Writer *w = arg;

	for (;;) {
		Part p;
		int rc = 0;

		pthread_mutex_lock(&w->mu);
		while (w->q_len == 0 && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->q_len == 0) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		p = w->queue[w->q_head];
		w->q_head = (w->q_head + 1) % w->n_threads;
		w->q_len--;
		bool skip = w->failed;
		pthread_mutex_unlock(&w->mu);

		if (!skip)
			rc = upload_part(w, &p);

		pthread_mutex_lock(&w->mu);
		if (rc < 0)
			record_failure(w);
		w->spare[w->n_spare++] = p.data;
		w->in_flight--;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
}

static int
initiate(S3Writer *w)
{
	S3Param q[1] = {{"uploads", ""}};
	char *query = s3_query_canonical(q, 1);
	char id[1024];
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	rq.op = "start of a multipart upload";
	rq.method = "POST";
	rq.key = w->key;
	rq.query = query;
	rq.resp_cap = SMALL_CAP;
	rc = s3_request(w->s3->cl, &rq, &resp);
	if (rc == 0 && !s3_xml_get(resp.body.data, resp.body.len, "InitiateMultipartUploadResult/UploadId", id,
	                           sizeof(id)))
		rc = err_set(ERR_IO, "S3 start of a multipart upload of \"s3://%s/%s\": no UploadId in the answer",
		             cfg(w->s3)->bucket, w->key);
	if (rc == 0 && id[0] == '\0')
		rc = err_set(ERR_IO, "S3 start of a multipart upload of \"s3://%s/%s\": an empty UploadId",
		             cfg(w->s3)->bucket, w->key);
	s3_response_free(&resp);
	free(query);
	if (rc < 0)
		return rc;
	w->upload_id = xstrdup(id);
	w->queue = xcalloc((size_t)w->n_threads, sizeof(*w->queue));
	w->spare = xcalloc((size_t)w->n_threads + 1, sizeof(*w->spare));
	w->threads = xcalloc((size_t)w->n_threads, sizeof(*w->threads));
	for (int i = 0; i < w->n_threads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker, w) != 0) {
			/* fewer workers still work; none is an error */
			if (i == 0)
				return err_set(ERR_INTERNAL, "could not start an S3 upload thread");
			w->n_threads = i;
			break;
		}
	}
	return 0;
}

/* Hand the filled buffer to the workers (starting the upload first). */
static int
submit_part(S3Writer *w)
{
	int rc;

	if (w->upload_id == NULL && (rc = initiate(w)) < 0)
		return rc;
	if (w->n_parts >= S3_MAX_PARTS) {
		rc = err_set(ERR_NO_SPACE, "S3 upload of \"s3://%s/%s\": more than %d parts of %zu bytes",
		             cfg(w->s3)->bucket, w->key, S3_MAX_PARTS, w->part_size);
		err_hint("Raise part-size in the storage URI.");
		return rc;
	}
	pthread_mutex_lock(&w->mu);
	while (w->in_flight >= w->n_threads && !w->failed)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->failed) {
		pthread_mutex_unlock(&w->mu);
		return raise_failure(w);
	}
	if (w->n_parts >= w->etags_cap) {
		w->etags_cap = w->etags_cap ? w->etags_cap * 2 : 64;
		w->etags = xrealloc(w->etags, (size_t)w->etags_cap * sizeof(*w->etags));
	}
	w->n_parts++;
	w->etags[w->n_parts - 1][0] = '\0';
	w->queue[(w->q_head + w->q_len) % w->n_threads] = (Part){w->n_parts, w->buf, w->len};
	w->q_len++;
	w->in_flight++;
	pthread_cond_broadcast(&w->cv);
	/* the next buffer: one back from an upload, else one more of the storage's,
	 * else wait for an upload of ours (one is under way: it ends, or fails) */
	w->buf = NULL;
	while (w->n_spare == 0 && !w->failed) {
		if (take_part(w->s3)) {
			w->parts_held++;
			break;
		}
		pthread_cond_wait(&w->cv, &w->mu);
	}
	if (w->n_spare > 0)
		w->buf = w->spare[--w->n_spare];
	pthread_mutex_unlock(&w->mu);
	if (w->buf == NULL)
		w->buf = xmalloc(w->part_size); /* the one taken; after a failure, to be freed */
	w->len = 0;
	return 0;
}

static int
sw_write(void *impl, const void *data, size_t len)
{
	S3Writer *w = impl;
	const uint8_t *p = data;
	int rc;

	while (len > 0) {
		if (w->len == w->part_size && (rc = submit_part(w)) < 0)
			return rc;
		size_t n = w->part_size - w->len < len ? w->part_size - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		w->total += n;
		p += n;
		len -= n;
	}
	return 0;
}

static void
stop_workers(S3Writer *w)
{
	if (w->threads == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	free(w->threads);
	w->threads = NULL;
}

/*
 * no_replace: a lookup before the write commits (stores that ignore
 * "If-None-Match: *" still get this check), and the commit itself is
 * conditional where the store honours it (AWS S3, Ceph RGW for PUT).
 */
static int
exists_refusal(S3Writer *w)
{
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	rq.op = "lookup";
	rq.method = "HEAD";
	rq.key = w->key;
	rq.resp_cap = SMALL_CAP;
	rq.also_ok[0] = 404;
	rc = s3_request(w->s3->cl, &rq, &resp);
	if (rc == 0 && resp.status != 404)
		rc = err_set(ERR_EXISTS, "\"s3://%s/%s\" already exists", cfg(w->s3)->bucket, w->key);
	s3_response_free(&resp);
	return rc;
}

/* 412 to a conditional write: the key appeared meanwhile */
static int
precondition_refusal(S3Writer *w, int rc, const S3Response *resp)
{
	if (rc < 0 && w->no_replace && resp->status == 412)
		return err_set(ERR_EXISTS, "\"s3://%s/%s\" already exists", cfg(w->s3)->bucket, w->key);
	return rc;
}

static int
complete(S3Writer *w)
{
	S3Param q[1] = {{"uploadId", w->upload_id}};
	char *query = s3_query_canonical(q, 1);
	char code[64], msg[256];
	Buf body = BUF_INIT;
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	buf_puts(&body, "<CompleteMultipartUpload>");
	for (int i = 0; i < w->n_parts; i++) {
		buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
		s3_xml_escape(&body, w->etags[i]);
		buf_puts(&body, "</ETag></Part>");
	}
	buf_puts(&body, "</CompleteMultipartUpload>");
	rq.op = "completion of a multipart upload";
	rq.method = "POST";
	rq.key = w->key;
	rq.query = query;
	rq.body = body.data;
	rq.body_len = body.len;
	rq.content_type = "application/xml";
	rq.resp_cap = SMALL_CAP;
	rq.if_none_match = w->no_replace;
	rc = precondition_refusal(w, s3_request(w->s3->cl, &rq, &resp), &resp);
	/* S3 may answer 200 and still fail: the error is in the body */
	if (rc == 0 && s3_xml_get(resp.body.data, resp.body.len, "Error/Code", code, sizeof(code))) {
		s3_xml_get(resp.body.data, resp.body.len, "Error/Message", msg, sizeof(msg));
		rc = err_set(ERR_IO, "S3 completion of a multipart upload of \"s3://%s/%s\" failed: %s%s%s",
		             cfg(w->s3)->bucket, w->key, code, msg[0] ? ": " : "", msg);
	}
	s3_response_free(&resp);
	buf_free(&body);
	free(query);
	return rc;
}

/* AbortMultipartUpload of key's upload_id; one already gone is fine. */
static int
abort_key_upload(S3 *s, const char *key, const char *upload_id)
{
	S3Param q[1] = {{"uploadId", upload_id}};
	char *query = s3_query_canonical(q, 1);
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	rq.op = "abort of a multipart upload";
	rq.method = "DELETE";
	rq.key = key;
	rq.query = query;
	rq.resp_cap = SMALL_CAP;
	rq.also_ok[0] = 404;
	rc = s3_request(s->cl, &rq, &resp);
	s3_response_free(&resp);
	free(query);
	return rc;
}

static void
abort_upload(S3Writer *w)
{
	if (abort_key_upload(w->s3, w->key, w->upload_id) < 0)
		log_warning("%s (the incomplete upload stays until it is aborted or expires)", err_message());
}

static int
put_single(S3Writer *w)
{
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	rq.op = "upload";
	rq.method = "PUT";
	rq.key = w->key;
	rq.body = w->buf;
	rq.body_len = w->len;
	rq.resp_cap = SMALL_CAP;
	rq.if_none_match = w->no_replace;
	rc = precondition_refusal(w, s3_request(w->s3->cl, &rq, &resp), &resp);
	s3_response_free(&resp);
	return rc;
}

static int
sw_close(void *impl)
{
	S3Writer *w = impl;
	int rc;

	if (w->upload_id == NULL) {
		if ((w->no_replace && (rc = exists_refusal(w)) < 0) || (rc = put_single(w)) < 0)
			return rc;
		w->committed = true;
		return 0;
	}
	if ((rc = submit_part(w)) < 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	while (w->in_flight > 0)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	stop_workers(w);
	if (w->failed)
		return raise_failure(w);
	if ((w->no_replace && (rc = exists_refusal(w)) < 0) || (rc = complete(w)) < 0)
		return rc;
	w->committed = true;
	return 0;
}

static void
sw_free(void *impl)
{
	S3Writer *w = impl;

	if (w->threads) {
		/* abandoned: let queued parts be skipped, wait for the ones on the wire */
		pthread_mutex_lock(&w->mu);
		if (!w->failed) {
			w->failed = true;
			w->fail_code = ERR_CANCELLED;
		}
		pthread_mutex_unlock(&w->mu);
		stop_workers(w);
	}
	if (w->upload_id && !w->committed)
		abort_upload(w);
	for (int i = 0; i < w->n_spare; i++)
		free(w->spare[i]);
	give_parts(w->s3, w->parts_held);
	free(w->spare);
	free(w->queue);
	free(w->etags);
	free(w->buf);
	free(w->upload_id);
	free(w->fail_message);
	free(w->fail_detail);
	free(w->fail_hint);
	free(w->key);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

static const IoWriterOps s3_writer_ops = {sw_write, sw_close, sw_free};

static int
s3_write_open(void *drv, IoWriter **out, const char *path, const StorageWriteOpts *opts)
{
	S3 *s = drv;
	S3Writer *w = xcalloc(1, sizeof(*w));

	/* no_sync needs nothing: objects are durable when their upload completes */
	w->s3 = s;
	w->no_replace = opts && opts->no_replace;
	w->key = full_key(s, path);
	w->part_size = cfg(s)->part_size;
	w->n_threads = cfg(s)->upload_threads;
	w->buf = xmalloc(w->part_size);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	*out = io_writer_new(&s3_writer_ops, w);
	return 0;
}

/* ---------------------------------------------------------------- reader */

typedef struct S3Reader {
	S3 *s3;
	char *key;
	uint64_t start;           /* first byte read */
	uint64_t end;             /* ranged: the byte after the range; else UINT64_MAX */
	bool ranged;
	uint64_t next;            /* offset of the next range to fetch */
	uint64_t size;            /* of the object */
	char etag[128];
	S3Response resp;          /* body: the current range */
	size_t pos;
	bool eof;
} S3Reader;

/* "bytes 0-99/1234" -> 0 and 1234; "bytes [star]/1234" (an unsatisfiable range) -> UINT64_MAX and 1234 */
static bool
parse_content_range(const char *cr, uint64_t *out_first, uint64_t *out_total)
{
	const char *slash = strrchr(cr, '/');
	const char *sp = strchr(cr, ' ');
	char *end;

	if (slash == NULL || slash[1] == '*' || sp == NULL)
		return false;
	*out_total = strtoull(slash + 1, &end, 10);
	if (end == slash + 1)
		return false;
	if (sp[1] == '*') {
		*out_first = UINT64_MAX;
		return true;
	}
	*out_first = strtoull(sp + 1, &end, 10);
	return end != sp + 1;
}

static int
short_object(S3Reader *r, uint64_t total)
{
	return err_set(ERR_CORRUPT, "S3 object \"s3://%s/%s\" holds %llu bytes, too few for %llu bytes at offset %llu",
	               cfg(r->s3)->bucket, r->key, (unsigned long long)total, (unsigned long long)(r->end - r->start),
	               (unsigned long long)r->start);
}

static int
fetch(S3Reader *r)
{
	char range[64];
	S3Request rq = {0};
	bool first = r->next == r->start;
	uint64_t last = r->next + READ_CHUNK - 1;
	uint64_t got_first = 0, total = 0;
	int rc;

	if (r->ranged && last > r->end - 1)
		last = r->end - 1;
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)r->next, (unsigned long long)last);
	rq.op = "read";
	rq.method = "GET";
	rq.key = r->key;
	rq.range = range;
	rq.if_match = first ? NULL : r->etag;
	rq.resp_cap = (size_t)(last - r->next) + 1 + SMALL_CAP; /* room for an error's XML */
	rq.also_ok[0] = 416;
	r->pos = 0;
	if ((rc = s3_request(r->s3->cl, &rq, &r->resp)) < 0) {
		if (rc == ERR_INVALID && r->resp.status == 412)
			return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": the object was replaced while it was read",
			               cfg(r->s3)->bucket, r->key);
		return rc;
	}
	if (first)
		snprintf(r->etag, sizeof(r->etag), "%s", r->resp.etag);
	if (r->resp.status == 416) {
		/* the range starts at or after the end */
		if (!first)
			return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": the object shrank while it was read",
			               cfg(r->s3)->bucket, r->key);
		if (r->ranged)
			return short_object(r, parse_content_range(r->resp.content_range, &got_first, &total) ? total : 0);
		/* a range of an empty object */
		buf_reset(&r->resp.body);
		r->size = 0;
		r->eof = true;
		return 0;
	}
	if (r->resp.status == 206) {
		if (!parse_content_range(r->resp.content_range, &got_first, &total) || got_first != r->next)
			return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": a bad Content-Range \"%s\"", cfg(r->s3)->bucket,
			               r->key, r->resp.content_range);
		if (!first && total != r->size)
			return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": the object changed while it was read",
			               cfg(r->s3)->bucket, r->key);
		r->size = total;
		if (first && r->ranged && total < r->end)
			return short_object(r, total);
		if (r->resp.body.len > last - r->next + 1)
			return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": more bytes than the range asked for",
			               cfg(r->s3)->bucket, r->key);
	} else {
		/* 200: the whole object (a server that ignores ranges) */
		if (!first || r->start > 0)
			return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": the server ignored the range", cfg(r->s3)->bucket,
			               r->key);
		r->size = r->resp.body.len;
		if (r->ranged && r->size < r->end)
			return short_object(r, r->size);
		if (r->ranged)
			r->resp.body.len = (size_t)r->end; /* only the range */
	}
	if (r->resp.body.len == 0 && r->next < r->size)
		return err_set(ERR_IO, "S3 read of \"s3://%s/%s\": an empty range before the end", cfg(r->s3)->bucket,
		               r->key);
	r->next += r->resp.body.len;
	if (r->next >= r->size || (r->ranged && r->next >= r->end))
		r->eof = true;
	return 0;
}

static ssize_t
sr_read(void *impl, void *buf, size_t cap)
{
	S3Reader *r = impl;
	int rc;

	while (r->pos == r->resp.body.len) {
		if (r->eof)
			return 0;
		if ((rc = fetch(r)) < 0)
			return rc;
	}
	size_t n = r->resp.body.len - r->pos < cap ? r->resp.body.len - r->pos : cap;
	memcpy(buf, r->resp.body.data + r->pos, n);
	r->pos += n;
	return (ssize_t)n;
}

static void
sr_free(void *impl)
{
	S3Reader *r = impl;

	s3_response_free(&r->resp);
	free(r->key);
	free(r);
}

static const IoReaderOps s3_reader_ops = {sr_read, sr_free};

static int s3_info(void *drv, const char *path, StorageInfo *out);

static int
reader_open(S3 *s, IoReader **out, const char *path, uint64_t offset, uint64_t length, bool ranged)
{
	S3Reader *r = xcalloc(1, sizeof(*r));
	int rc;

	r->s3 = s;
	r->key = full_key(s, path);
	r->start = r->next = offset;
	r->ranged = ranged;
	r->end = ranged ? offset + length : UINT64_MAX;
	if (ranged && length == 0) {
		/* nothing to read: only that the object is there and long enough */
		StorageInfo info;
		if ((rc = s3_info(s, path, &info)) == 0 && (!info.exists || info.is_dir))
			rc = err_set(ERR_NOT_FOUND, "object \"%s\" not found in s3://%s/%s", path, cfg(s)->bucket,
			             cfg(s)->prefix);
		else if (rc == 0 && info.size < offset)
			rc = short_object(r, info.size);
		if (rc < 0) {
			sr_free(r);
			return rc;
		}
		r->eof = true;
		*out = io_reader_new(&s3_reader_ops, r);
		return 0;
	}
	/* the first range now: a missing object is ERR_NOT_FOUND here, naming the path */
	if ((rc = fetch(r)) < 0) {
		if (rc == ERR_NOT_FOUND && r->resp.status == 404 && strcmp(r->resp.err_code, "NoSuchBucket") != 0)
			rc = err_set(ERR_NOT_FOUND, "object \"%s\" not found in s3://%s/%s", path, cfg(s)->bucket,
			             cfg(s)->prefix);
		sr_free(r);
		return rc;
	}
	*out = io_reader_new(&s3_reader_ops, r);
	return 0;
}

static int
s3_read_open(void *drv, IoReader **out, const char *path)
{
	return reader_open(drv, out, path, 0, 0, false);
}

static int
s3_read_open_range(void *drv, IoReader **out, const char *path, uint64_t offset, uint64_t length)
{
	return reader_open(drv, out, path, offset, length, true);
}

/* ---------------------------------------------------------------- list */

typedef struct ListEntry {
	char *name;
	StorageInfo info;
} ListEntry;

typedef struct ListPage {
	const char *strip;        /* the listed prefix, removed from names */
	ListEntry *items;
	size_t n, cap;
	bool truncated;
	char *token;
	char *last_key;           /* full key of the last Contents (for remove_tree) */
	/* the element being read */
	char *key;
	uint64_t size;
	int64_t mtime;
	bool bad;
} ListPage;

static int64_t
parse_iso8601(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

static void
page_add(ListPage *pg, const char *full, bool is_dir, uint64_t size, int64_t mtime)
{
	size_t sl = strlen(pg->strip);
	char *name;

	if (strncmp(full, pg->strip, sl) != 0)
		return;
	name = xstrdup(full + sl);
	if (is_dir) {
		size_t n = strlen(name);
		if (n > 0 && name[n - 1] == '/')
			name[n - 1] = '\0';
	}
	/* the prefix itself (a "directory marker" object) or odd keys ("a//b") are not children */
	if (name[0] == '\0' || strchr(name, '/')) {
		free(name);
		return;
	}
	if (pg->n == pg->cap) {
		pg->cap = pg->cap ? pg->cap * 2 : 64;
		pg->items = xrealloc(pg->items, pg->cap * sizeof(*pg->items));
	}
	pg->items[pg->n].name = name;
	pg->items[pg->n].info = (StorageInfo){.exists = true, .is_dir = is_dir, .size = size, .mtime = mtime};
	pg->n++;
}

static int
list_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	ListPage *pg = payload;

	(void)len;
	if (ev == S3_XML_OPEN && (strcmp(path, "ListBucketResult/Contents") == 0 ||
	                          strcmp(path, "ListBucketResult/CommonPrefixes") == 0)) {
		free(pg->key);
		pg->key = NULL;
		pg->size = 0;
		pg->mtime = 0;
	} else if (ev == S3_XML_TEXT) {
		if (strcmp(path, "ListBucketResult/Contents/Key") == 0 ||
		    strcmp(path, "ListBucketResult/CommonPrefixes/Prefix") == 0) {
			free(pg->key);
			pg->key = xstrdup(text);
		} else if (strcmp(path, "ListBucketResult/Contents/Size") == 0) {
			pg->size = strtoull(text, NULL, 10);
		} else if (strcmp(path, "ListBucketResult/Contents/LastModified") == 0) {
			pg->mtime = parse_iso8601(text);
		} else if (strcmp(path, "ListBucketResult/IsTruncated") == 0) {
			pg->truncated = strcmp(text, "true") == 0;
		} else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0) {
			free(pg->token);
			pg->token = xstrdup(text);
		}
	} else if (ev == S3_XML_CLOSE) {
		bool contents = strcmp(path, "ListBucketResult/Contents") == 0;
		if (contents || strcmp(path, "ListBucketResult/CommonPrefixes") == 0) {
			if (pg->key == NULL) {
				pg->bad = true;
				return 0;
			}
			page_add(pg, pg->key, !contents, pg->size, pg->mtime);
			if (contents) {
				free(pg->last_key);
				pg->last_key = pg->key;
				pg->key = NULL;
			}
		}
	}
	return 0;
}

static void
page_free(ListPage *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		free(pg->items[i].name);
	free(pg->items);
	free(pg->token);
	free(pg->key);
	free(pg->last_key);
	memset(pg, 0, sizeof(*pg));
}

/* One ListObjectsV2 page of prefix; delimiter "/" or none; token or start_after may be NULL. */
static int
list_page(S3 *s, const char *op, const char *prefix, bool delimit, const char *token, const char *start_after,
          int max_keys, ListPage *pg)
{
	S3Param q[6];
	size_t n = 0;
	char mk[16];
	char *query;
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	q[n++] = (S3Param){"list-type", "2"};
	q[n++] = (S3Param){"prefix", prefix};
	if (delimit)
		q[n++] = (S3Param){"delimiter", "/"};
	if (token)
		q[n++] = (S3Param){"continuation-token", token};
	if (start_after)
		q[n++] = (S3Param){"start-after", start_after};
	if (max_keys > 0) {
		snprintf(mk, sizeof(mk), "%d", max_keys);
		q[n++] = (S3Param){"max-keys", mk};
	}
	query = s3_query_canonical(q, n);
	rq.op = op;
	rq.method = "GET";
	rq.key = NULL;
	rq.query = query;
	rq.resp_cap = LIST_CAP;
	rc = s3_request(s->cl, &rq, &resp);
	free(query);
	if (rc == 0) {
		pg->strip = prefix;
		rc = s3_xml_parse(resp.body.data, resp.body.len, list_cb, pg);
		if (rc == 0 && pg->bad)
			rc = err_set(ERR_CORRUPT, "malformed XML in the S3 answer: an entry without a key");
		if (rc < 0)
			err_prefix("S3 %s of \"s3://%s/%s\"", op, cfg(s)->bucket, prefix);
		else if (pg->truncated && (pg->token == NULL || *pg->token == '\0') && max_keys <= 0 && !start_after)
			rc = err_set(ERR_CORRUPT, "S3 %s of \"s3://%s/%s\": a truncated listing without a continuation token",
			             op, cfg(s)->bucket, prefix);
	}
	s3_response_free(&resp);
	return rc;
}

/* The key prefix of a storage "directory": "<prefix>path/" or "<prefix>" for the root. */
static char *
dir_prefix(S3 *s, const char *path)
{
	return path[0] ? xasprintf("%s%s/", cfg(s)->prefix, path) : xstrdup(cfg(s)->prefix);
}

static int
s3_list(void *drv, const char *path, StorageListCb cb, void *payload)
{
	S3 *s = drv;
	char *prefix = dir_prefix(s, path);
	char *token = NULL;
	int rc = 0;

	for (;;) {
		ListPage pg = {0};
		if ((rc = list_page(s, "listing", prefix, true, token, NULL, 0, &pg)) < 0) {
			page_free(&pg);
			break;
		}
		for (size_t i = 0; i < pg.n && rc == 0; i++)
			rc = cb(pg.items[i].name, &pg.items[i].info, payload);
		free(token);
		token = pg.truncated && pg.token ? xstrdup(pg.token) : NULL;
		page_free(&pg);
		if (rc < 0 || token == NULL)
			break;
	}
	free(token);
	free(prefix);
	return rc;
}

/* ---------------------------------------------------------------- info, remove */

static int
s3_info(void *drv, const char *path, StorageInfo *out)
{
	S3 *s = drv;
	char *prefix;
	ListPage pg = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (path[0]) {
		S3Request rq = {0};
		S3Response resp = {0};
		char *key = full_key(s, path);

		rq.op = "lookup";
		rq.method = "HEAD";
		rq.key = key;
		rq.resp_cap = SMALL_CAP;
		rq.also_ok[0] = 404;
		rc = s3_request(s->cl, &rq, &resp);
		if (rc == 0 && resp.status != 404) {
			out->exists = true;
			out->size = resp.content_length;
			out->mtime = resp.last_modified;
		}
		s3_response_free(&resp);
		free(key);
		if (rc < 0 || out->exists)
			return rc;
	}
	/* a "directory": anything under path/ (the root: the bucket must answer) */
	prefix = dir_prefix(s, path);
	rc = list_page(s, "lookup", prefix, true, NULL, NULL, 1, &pg);
	if (rc == 0 && (path[0] == '\0' || pg.n > 0 || pg.last_key)) {
		out->exists = true;
		out->is_dir = true;
	}
	page_free(&pg);
	free(prefix);
	return rc;
}

static int
s3_remove(void *drv, const char *path)
{
	S3 *s = drv;
	char *key = full_key(s, path);
	S3Request rq = {0};
	S3Response resp = {0};
	int rc;

	rq.op = "removal";
	rq.method = "DELETE";
	rq.key = key;
	rq.resp_cap = SMALL_CAP;
	rq.also_ok[0] = 404;
	rc = s3_request(s->cl, &rq, &resp);
	if (rc == 0 && resp.status == 404 && strcmp(resp.err_code, "NoSuchBucket") == 0)
		rc = s3_fail(s->cl, &rq, &resp);
	s3_response_free(&resp);
	free(key);
	return rc;
}

typedef struct DelResult {
	int errors;
	char key[256];
	char code[64];
	char message[256];
	bool in_error;
} DelResult;

static int
del_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	DelResult *d = payload;

	(void)len;
	if (ev == S3_XML_OPEN && strcmp(path, "DeleteResult/Error") == 0) {
		d->errors++;
		d->in_error = d->errors == 1;
	} else if (ev == S3_XML_TEXT && d->in_error) {
		if (strcmp(path, "DeleteResult/Error/Key") == 0)
			snprintf(d->key, sizeof(d->key), "%s", text);
		else if (strcmp(path, "DeleteResult/Error/Code") == 0)
			snprintf(d->code, sizeof(d->code), "%s", text);
		else if (strcmp(path, "DeleteResult/Error/Message") == 0)
			snprintf(d->message, sizeof(d->message), "%s", text);
	} else if (ev == S3_XML_CLOSE && strcmp(path, "DeleteResult/Error") == 0) {
		d->in_error = false;
	}
	return 0;
}

/* DeleteObjects for up to 1000 full keys. */
static int
delete_batch(S3 *s, char **keys, size_t n)
{
	S3Param q[1] = {{"delete", ""}};
	char *query = s3_query_canonical(q, 1);
	char md5[32];
	Buf body = BUF_INIT;
	S3Request rq = {0};
	S3Response resp = {0};
	DelResult d = {0};
	int rc;

	buf_puts(&body, "<Delete><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		buf_puts(&body, "<Object><Key>");
		s3_xml_escape(&body, keys[i]);
		buf_puts(&body, "</Key></Object>");
	}
	buf_puts(&body, "</Delete>");
	if ((rc = md5_base64(body.data, body.len, md5)) < 0)
		goto out;
	rq.op = "batch removal";
	rq.method = "POST";
	rq.key = NULL;
	rq.query = query;
	rq.body = body.data;
	rq.body_len = body.len;
	rq.content_md5 = md5;
	rq.content_type = "application/xml";
	rq.resp_cap = LIST_CAP;
	if ((rc = s3_request(s->cl, &rq, &resp)) < 0)
		goto out;
	if (resp.body.len > 0 && (rc = s3_xml_parse(resp.body.data, resp.body.len, del_cb, &d)) < 0) {
		err_prefix("S3 batch removal in \"s3://%s\"", cfg(s)->bucket);
		goto out;
	}
	if (d.errors > 0)
		rc = err_set(strcmp(d.code, "AccessDenied") == 0 ? ERR_PERMISSION : ERR_IO,
		             "S3 batch removal: %d of %zu objects not removed; \"s3://%s/%s\": %s%s%s", d.errors, n,
		             cfg(s)->bucket, d.key, d.code, d.message[0] ? ": " : "", d.message);
out:
	s3_response_free(&resp);
	buf_free(&body);
	free(query);
	return rc;
}

typedef struct KeyPage {
	StrList keys;
	bool truncated;
} KeyPage;

static int
keys_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	KeyPage *kp = payload;

	(void)len;
	if (ev != S3_XML_TEXT)
		return 0;
	if (strcmp(path, "ListBucketResult/Contents/Key") == 0)
		strlist_add(&kp->keys, text);
	else if (strcmp(path, "ListBucketResult/IsTruncated") == 0)
		kp->truncated = strcmp(text, "true") == 0;
	return 0;
}

/* A page of ListMultipartUploads: (key, upload id) pairs. */
typedef struct UploadPage {
	StrList keys;
	StrList ids;
	char *key, *id;           /* of the <Upload> being read */
	char *next_key, *next_id; /* markers of the next page */
	bool truncated;
} UploadPage;

static int
uploads_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	UploadPage *up = payload;

	(void)len;
	if (ev == S3_XML_CLOSE && strcmp(path, "ListMultipartUploadsResult/Upload") == 0) {
		if (up->key && up->id) {
			strlist_add(&up->keys, up->key);
			strlist_add(&up->ids, up->id);
		}
		free(up->key);
		free(up->id);
		up->key = up->id = NULL;
	}
	if (ev != S3_XML_TEXT)
		return 0;
	if (strcmp(path, "ListMultipartUploadsResult/Upload/Key") == 0) {
		free(up->key);
		up->key = xstrdup(text);
	} else if (strcmp(path, "ListMultipartUploadsResult/Upload/UploadId") == 0) {
		free(up->id);
		up->id = xstrdup(text);
	} else if (strcmp(path, "ListMultipartUploadsResult/NextKeyMarker") == 0) {
		free(up->next_key);
		up->next_key = xstrdup(text);
	} else if (strcmp(path, "ListMultipartUploadsResult/NextUploadIdMarker") == 0) {
		free(up->next_id);
		up->next_id = xstrdup(text);
	} else if (strcmp(path, "ListMultipartUploadsResult/IsTruncated") == 0) {
		up->truncated = strcmp(text, "true") == 0;
	}
	return 0;
}

static void
upload_page_free(UploadPage *up)
{
	strlist_free(&up->keys);
	strlist_free(&up->ids);
	free(up->key);
	free(up->id);
	free(up->next_key);
	free(up->next_id);
	memset(up, 0, sizeof(*up));
}

/*
 * Abort every incomplete multipart upload under prefix: what a writer killed
 * mid-upload left behind (invisible, but the store keeps and bills its parts).
 */
static int
abort_pending_uploads(S3 *s, const char *prefix)
{
	char *key_marker = NULL, *id_marker = NULL;
	int rc = 0;

	for (;;) {
		S3Param q[4];
		size_t nq = 0;
		char *query;
		S3Request rq = {0};
		S3Response resp = {0};
		UploadPage up = {0};

		if (key_marker)
			q[nq++] = (S3Param){"key-marker", key_marker};
		q[nq++] = (S3Param){"prefix", prefix};
		if (id_marker)
			q[nq++] = (S3Param){"upload-id-marker", id_marker};
		q[nq++] = (S3Param){"uploads", ""};
		query = s3_query_canonical(q, nq);
		rq.op = "listing of pending uploads";
		rq.method = "GET";
		rq.query = query;
		rq.resp_cap = LIST_CAP;
		rc = s3_request(s->cl, &rq, &resp);
		free(query);
		if (rc == 0 && (rc = s3_xml_parse(resp.body.data, resp.body.len, uploads_cb, &up)) < 0)
			err_prefix("S3 listing of pending uploads under \"s3://%s/%s\"", cfg(s)->bucket, prefix);
		s3_response_free(&resp);
		for (size_t i = 0; rc == 0 && i < up.keys.count; i++)
			if ((rc = abort_key_upload(s, up.keys.items[i], up.ids.items[i])) == 0)
				log_info("aborted an incomplete upload of \"s3://%s/%s\"", cfg(s)->bucket, up.keys.items[i]);
		bool more = rc == 0 && up.truncated && up.next_key != NULL;
		if (more) {
			free(key_marker);
			free(id_marker);
			key_marker = xstrdup(up.next_key);
			id_marker = up.next_id ? xstrdup(up.next_id) : NULL;
		}
		upload_page_free(&up);
		if (!more)
			break;
	}
	free(key_marker);
	free(id_marker);
	return rc;
}

static int
s3_remove_tree(void *drv, const char *path)
{
	S3 *s = drv;
	char *prefix = dir_prefix(s, path);
	char *after = NULL;
	int rc = 0;

	/* the object named path itself, if any */
	if (path[0] && (rc = s3_remove(drv, path)) < 0)
		goto out;
	/* every key below, DELETE_BATCH at a time (no delimiter); the next page
	 * starts after the last key removed */
	for (;;) {
		S3Param q[4];
		size_t nq = 0;
		char mk[16];
		char *query;
		S3Request rq = {0};
		S3Response resp = {0};
		KeyPage kp = {0};

		snprintf(mk, sizeof(mk), "%d", DELETE_BATCH);
		q[nq++] = (S3Param){"list-type", "2"};
		q[nq++] = (S3Param){"prefix", prefix};
		q[nq++] = (S3Param){"max-keys", mk};
		if (after)
			q[nq++] = (S3Param){"start-after", after};
		query = s3_query_canonical(q, nq);
		rq.op = "listing for a tree removal";
		rq.method = "GET";
		rq.query = query;
		rq.resp_cap = LIST_CAP;
		rc = s3_request(s->cl, &rq, &resp);
		free(query);
		if (rc == 0 && (rc = s3_xml_parse(resp.body.data, resp.body.len, keys_cb, &kp)) < 0)
			err_prefix("S3 listing for a tree removal of \"s3://%s/%s\"", cfg(s)->bucket, prefix);
		s3_response_free(&resp);
		if (rc == 0 && kp.keys.count > 0) {
			rc = delete_batch(s, kp.keys.items, kp.keys.count);
			free(after);
			after = xstrdup(kp.keys.items[kp.keys.count - 1]);
		}
		bool more = kp.truncated && kp.keys.count > 0;
		strlist_free(&kp.keys);
		if (rc < 0 || !more)
			break;
	}
	if (rc == 0)
		rc = abort_pending_uploads(s, prefix);
out:
	free(after);
	free(prefix);
	return rc;
}

/* ---------------------------------------------------------------- test, free */

/* Append a check; false (and r->ok false) when it failed. */
static bool
add_check(StorageTestReport *r, const char *name, bool ok, int64_t ms, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static bool
add_check(StorageTestReport *r, const char *name, bool ok, int64_t ms, const char *fmt, ...)
{
	StorageCheck *c;
	va_list ap;

	if (r->n_checks >= (int)(sizeof(r->checks) / sizeof(r->checks[0])))
		return ok;
	c = &r->checks[r->n_checks++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->ok = ok;
	c->elapsed_ms = ms;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	if (!ok)
		r->ok = false;
	return ok;
}

static bool
is_tls_error(int cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CACERT_BADFILE ||
	       cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_CRL_BADFILE;
}

/* The error record of a failed answer as one line (message, hint). */
static void
fail_text(S3 *s, const S3Request *rq, const S3Response *resp, char *out, size_t cap)
{
	s3_fail(s->cl, rq, resp);
	snprintf(out, cap, "%s%s%s", err_message(), err_hint_text()[0] ? ". " : "", err_hint_text());
}

/*
 * One ListObjectsV2 of the prefix, without retries, read five ways: did an
 * HTTP answer come (endpoint), over verified TLS (tls), with a Date close
 * to ours (clock: SigV4 signatures fail beyond 15 minutes), accepting the
 * signature (credentials), and finding the bucket (bucket).
 */
static bool
s3_test(void *drv, StorageTestReport *r)
{
	S3 *s = drv;
	const S3Config *c = cfg(s);
	S3Param q[3] = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", c->prefix}};
	char *query = s3_query_canonical(q, 3);
	S3Request rq = {0};
	S3Response resp = {0};
	char text[256];
	bool https = str_starts_with(c->endpoint, "https://");
	bool ok = false;
	int64_t t0, ms;

	rq.op = "test listing";
	rq.method = "GET";
	rq.query = query;
	rq.resp_cap = LIST_CAP;
	rq.no_retry = true;
	t0 = time_now_ms();
	s3_request(s->cl, &rq, &resp);
	ms = time_now_ms() - t0;
	err_clear();

	if (resp.curl_code != CURLE_OK && !is_tls_error(resp.curl_code)) {
		fail_text(s, &rq, &resp, text, sizeof(text));
		add_check(r, "endpoint", false, ms, "%s", text);
		goto out;
	}
	add_check(r, "endpoint", true, ms, "%s answers", c->endpoint);
	if (resp.curl_code != CURLE_OK) {
		fail_text(s, &rq, &resp, text, sizeof(text));
		add_check(r, "tls", false, 0, "%s", text);
		goto out;
	}
	if (!https)
		add_check(r, "tls", true, 0, "plain HTTP: no TLS (use an https:// endpoint outside a trusted network)");
	else if (c->verify_tls)
		add_check(r, "tls", true, 0, "the server's certificate is verified");
	else
		add_check(r, "tls", true, 0, "TLS without certificate verification (verify-tls=false)");

	if (strcmp(resp.err_code, "RequestTimeTooSkewed") == 0) {
		add_check(r, "clock", false, 0, "the server refused the request's time (RequestTimeTooSkewed): set the "
		                                "system clock (NTP)");
		goto out;
	}
	if (resp.server_date > 0) {
		int64_t skew = resp.local_date - resp.server_date;
		int64_t abs_skew = skew < 0 ? -skew : skew;
		if (abs_skew > 900) {
			add_check(r, "clock", false, 0,
			          "the clock is %lld s %s the server's: S3 signatures fail beyond 15 minutes; set the "
			          "system clock (NTP)",
			          (long long)abs_skew, skew > 0 ? "ahead of" : "behind");
			goto out;
		}
		if (abs_skew > 300) {
			log_warning("the clock is %lld s %s the S3 server's at %s: S3 signatures fail beyond 15 minutes",
			            (long long)abs_skew, skew > 0 ? "ahead of" : "behind", c->endpoint);
			add_check(r, "clock", true, 0,
			          "warning: the clock is %lld s %s the server's (signatures fail beyond 15 minutes)",
			          (long long)abs_skew, skew > 0 ? "ahead of" : "behind");
		} else {
			add_check(r, "clock", true, 0, "within %lld s of the server's", (long long)abs_skew);
		}
	} else {
		add_check(r, "clock", true, 0, "the server sent no Date: not checked");
	}

	if (resp.status == 403 || resp.status == 401) {
		fail_text(s, &rq, &resp, text, sizeof(text));
		add_check(r, "credentials", false, 0, "%s", text);
		goto out;
	}
	add_check(r, "credentials", true, 0, "the server accepted the key \"%s\"", c->access_key);
	if (resp.status < 200 || resp.status >= 300) {
		fail_text(s, &rq, &resp, text, sizeof(text));
		add_check(r, "bucket", false, 0, "%s", text);
		goto out;
	}
	ok = add_check(r, "bucket", true, 0, "bucket \"%s\" exists", c->bucket);
out:
	s3_response_free(&resp);
	free(query);
	return ok;
}

static void
s3_free(void *drv)
{
	S3 *s = drv;

	if (s == NULL)
		return;
	s3_client_free(s->cl);
	pthread_mutex_destroy(&s->parts_mu);
	free(s);
}

int
storage_s3_new(void **out, const char *uri, const StorageOpenOpts *o)
{
	S3 *s = xcalloc(1, sizeof(*s));
	int rc;

	if ((rc = s3_client_new(&s->cl, uri, o)) < 0) {
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->parts_mu, NULL);
	s->parts_free = cfg(s)->upload_threads;
	*out = s;
	return 0;
}

const StorageDriver storage_s3_driver = {
	.name = "s3",
	.write_open = s3_write_open,
	.read_open = s3_read_open,
	.read_open_range = s3_read_open_range,
	.info = s3_info,
	.list = s3_list,
	.remove = s3_remove,
	.remove_tree = s3_remove_tree,
	.sync = NULL,   /* objects are durable when their upload completes */
	.free = s3_free,
	.test = s3_test,
	.remote = true,
};
