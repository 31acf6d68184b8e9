/*
 * test_storage_s3.c - the storage conformance suite (conformance.h) against
 * a real S3 server, plus what only S3 promises: multipart uploads (written,
 * read back, abandoned without a trace), listings and batch removals over
 * 1000 keys, refused credentials, a missing bucket, the storage test's S3
 * checks.
 *
 * Needs TB_S3_URL (a storage URI whose bucket exists, e.g.
 * "s3://tbtest/unit?endpoint=http://127.0.0.1:7480&region=us-east-1"),
 * TB_S3_KEY and TB_S3_SECRET; without them it exits 77 (skipped).
 * test/it/t_s3_storage.sh starts Ceph RGW (test/fixtures/rgw.sh) and runs it.
 * Each test works under its own sub-prefix, removed afterwards.
 */
#include "conformance.h"

#include "storage/s3/s3.h"

#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *s3_url, *s3_key, *s3_secret;
static atomic_uint run_counter;

/* The URI with "/<sub>" added to its prefix (and extra options appended). */
static char *
uri_with(const char *base, const char *sub, const char *extra)
{
	const char *q = strchr(base, '?');
	size_t n = q ? (size_t)(q - base) : strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s/%s%s%s%s%s", (int)n, base, sub, q ? q : "", extra ? (q ? "&" : "?") : "",
	                 extra ? extra : "", "");
}

static int
open_sub(Storage **out, const char *sub, const char *extra, const char *secret)
{
	StorageOpenOpts o = {.access_key = s3_key, .secret_key = secret ? secret : s3_secret};
	char *uri = uri_with(s3_url, sub, extra);
	int rc = storage_open_opts(out, uri, &o);

	free(uri);
	return rc;
}

static int
s3_setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char sub[64];

	snprintf(sub, sizeof(sub), "run-%ld-%u", (long)getpid(), atomic_fetch_add(&run_counter, 1));
	fx->dir = xstrdup(sub);
	if (open_sub(&fx->storage, sub, NULL, NULL) < 0) {
		fprintf(stderr, "storage_open_opts: %s\n", err_message());
		return -1;
	}
	*state = fx;
	return 0;
}

static int
s3_teardown(void **state)
{
	Fixture *fx = *state;

	if (storage_remove_tree(fx->storage, "") < 0)
		fprintf(stderr, "cleanup: %s\n", err_message());
	storage_free(fx->storage);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- S3 only ---- */

static void
sha_of(const uint8_t *data, size_t len, uint8_t out[IO_SHA256_LEN])
{
	IoSha256 *h = io_sha256_new();

	io_sha256_update(h, data, len);
	io_sha256_final(h, out);
	io_sha256_free(h);
}

/* ~50 MiB: four 16 MiB parts uploaded in parallel, read back in 8 MiB ranges. */
static void
s3_multipart_roundtrip(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	size_t len = 50 * 1024 * 1024 + 12345;
	uint8_t *data = make_data(len, 99);
	uint8_t want[IO_SHA256_LEN], got[IO_SHA256_LEN];
	IoWriter *w = NULL;
	IoReader *r = NULL;
	IoSha256 *h = io_sha256_new();
	StorageInfo info;
	char *chunk = xmalloc(1 << 20);
	size_t total = 0;
	ssize_t n;

	sha_of(data, len, want);
	assert_int_equal(storage_write_open(s, &w, "big/object", NULL), 0);
	for (size_t off = 0; off < len;) {
		size_t k = len - off < 1000003 ? len - off : 1000003;
		if (io_writer_write(w, data + off, k) < 0)
			fail_msg("write: %s", err_message());
		off += k;
	}
	assert_absent(s, "big/object");
	if (io_writer_close(w) < 0)
		fail_msg("close: %s", err_message());
	io_writer_free(w);

	assert_int_equal(storage_info(s, "big/object", &info), 0);
	assert_true(info.exists);
	assert_true(info.size == len);
	assert_int_equal(storage_read_open(s, &r, "big/object"), 0);
	while ((n = io_reader_read(r, chunk, 1 << 20)) > 0) {
		io_sha256_update(h, chunk, (size_t)n);
		total += (size_t)n;
	}
	if (n < 0)
		fail_msg("read: %s", err_message());
	io_sha256_final(h, got);
	assert_true(total == len);
	assert_memory_equal(got, want, sizeof(want));
	io_sha256_free(h);
	io_reader_free(r);
	free(chunk);
	free(data);
}

typedef struct Uploads {
	int count;
} Uploads;

static int
uploads_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	Uploads *u = payload;

	(void)text;
	(void)len;
	if (ev == S3_XML_OPEN && strcmp(path, "ListMultipartUploadsResult/Upload") == 0)
		u->count++;
	return 0;
}

/* Pending multipart uploads of the bucket (ListMultipartUploads). */
static int
pending_uploads(void)
{
	S3Client *cl = NULL;
	StorageOpenOpts o = {.access_key = s3_key, .secret_key = s3_secret};
	S3Param q[1] = {{"uploads", ""}};
	char *query = s3_query_canonical(q, 1);
	S3Request rq = {0};
	S3Response resp = {0};
	Uploads u = {0};

	if (s3_client_new(&cl, s3_url, &o) < 0)
		fail_msg("s3_client_new: %s", err_message());
	rq.op = "listing of multipart uploads";
	rq.method = "GET";
	rq.query = query;
	rq.resp_cap = 4 << 20;
	if (s3_request(cl, &rq, &resp) < 0)
		fail_msg("%s", err_message());
	if (s3_xml_parse(resp.body.data, resp.body.len, uploads_cb, &u) < 0)
		fail_msg("%s", err_message());
	s3_response_free(&resp);
	s3_client_free(cl);
	free(query);
	return u.count;
}

/* A writer freed mid-way through a multipart upload leaves no object and no pending upload. */
static void
s3_multipart_abandoned(void **state)
{
	Fixture *fx = *state;
	Storage *s = NULL;
	size_t len = 13 * 1024 * 1024;
	uint8_t *data = make_data(len, 5);
	IoWriter *w = NULL;
	int before = pending_uploads();

	/* 5 MiB parts: two parts on their way when the writer is dropped */
	char *sub = xasprintf("%s/abandon", fx->dir);
	assert_int_equal(open_sub(&s, sub, "part-size=5MiB&upload-threads=2", NULL), 0);
	assert_int_equal(storage_write_open(s, &w, "partial", NULL), 0);
	assert_int_equal(io_writer_write(w, data, len), 0);
	assert_int_equal(pending_uploads(), before + 1);
	io_writer_free(w);
	assert_absent(s, "partial");
	assert_int_equal(pending_uploads(), before);
	assert_list(s, "", "");

	/* and a failed close (here: parts written, then the writer dropped after an error) the same */
	storage_free(s);
	free(sub);
	free(data);
}

/*
 * A writer killed in the middle of a multipart upload leaves it pending (no
 * object, no abort); removing the tree it was writing into aborts it.
 */
static void
s3_killed_upload_removed_with_tree(void **state)
{
	Fixture *fx = *state;
	Storage *s = NULL;
	char *sub = xasprintf("%s/killed", fx->dir);
	int before = pending_uploads();
	int status = 0;
	pid_t pid;

	assert_int_equal(open_sub(&s, sub, "part-size=5MiB&upload-threads=1", NULL), 0);
	put_str(s, "set/done", "complete object");
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the child: its own storage, a large object begun, then gone without a word */
		Storage *cs = NULL;
		IoWriter *w = NULL;
		size_t len = 11 * 1024 * 1024;
		uint8_t *data = make_data(len, 3);

		if (open_sub(&cs, sub, "part-size=5MiB&upload-threads=1", NULL) < 0 ||
		    storage_write_open(cs, &w, "set/data/big", NULL) < 0 || io_writer_write(w, data, len) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(pending_uploads(), before + 1);
	assert_absent(s, "set/data/big");
	assert_int_equal(storage_remove_tree(s, "set"), 0);
	assert_int_equal(pending_uploads(), before);
	assert_list(s, "", "");
	storage_free(s);
	free(sub);
}

/* no_replace on a multipart upload: refused at completion when the key exists, and aborted */
static void
s3_multipart_no_replace(void **state)
{
	Fixture *fx = *state;
	Storage *s = NULL;
	size_t len = 11 * 1024 * 1024;
	uint8_t *data = make_data(len, 9);
	IoWriter *w = NULL;
	int before = pending_uploads();
	const StorageWriteOpts nr = {.no_replace = true};

	char *sub = xasprintf("%s/noreplace", fx->dir);
	assert_int_equal(open_sub(&s, sub, "part-size=5MiB&upload-threads=2", NULL), 0);
	assert_int_equal(storage_write_open(s, &w, "big", &nr), 0);
	assert_int_equal(io_writer_write(w, data, len), 0);
	put_str(s, "big", "small, first");
	assert_int_equal(io_writer_close(w), ERR_EXISTS);
	io_writer_free(w);
	assert_content(s, "big", "small, first", 12);
	assert_int_equal(pending_uploads(), before);

	w = NULL;
	assert_int_equal(storage_write_open(s, &w, "big2", &nr), 0);
	assert_int_equal(io_writer_write(w, data, len), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_content(s, "big2", data, len);
	storage_free(s);
	free(sub);
	free(data);
}

static void
s3_many_keys(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	char path[64];
	char *names;
	int n = 1010;
	StrList l = {0};

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "many/k%04d", i);
		put_str(s, path, "x");
	}
	put_str(s, "many/sub/deep", "y");
	put_str(s, "keep", "z");
	/* more than one page (1000 keys): continuation tokens */
	assert_int_equal(storage_list(s, "many", collect_cb, &l), 0);
	assert_int_equal(l.count, n + 1);
	assert_true(strlist_contains(&l, "k1009"));
	assert_true(strlist_contains(&l, "sub"));
	strlist_free(&l);
	/* batch removal in groups of 1000 */
	assert_int_equal(storage_remove_tree(s, "many"), 0);
	names = list_names(s, "");
	assert_string_equal(names, "keep");
	free(names);
}

static void
s3_wrong_secret(void **state)
{
	Fixture *fx = *state;
	Storage *s = NULL;
	IoWriter *w = NULL;
	IoReader *r = NULL;
	StorageInfo info;

	assert_int_equal(open_sub(&s, fx->dir, NULL, "not-the-secret"), 0);
	assert_int_equal(storage_write_open(s, &w, "x", NULL), 0);
	assert_int_equal(io_writer_write(w, "abc", 3), 0);
	err_clear();
	assert_int_equal(io_writer_close(w), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "credentials were refused"));
	assert_non_null(strstr(err_message(), "SignatureDoesNotMatch"));
	assert_non_null(strstr(err_hint_text(), "secret key"));
	/* the secret is never in a message */
	assert_null(strstr(err_message(), "not-the-secret"));
	assert_null(strstr(err_message(), s3_secret));
	io_writer_free(w);
	assert_int_equal(storage_read_open(s, &r, "x"), ERR_PERMISSION);
	assert_int_equal(storage_info(s, "", &info), ERR_PERMISSION);
	storage_free(s);
}

static void
s3_missing_bucket(void **state)
{
	Storage *s = NULL;
	StorageOpenOpts o = {.access_key = s3_key, .secret_key = s3_secret};
	const char *q = strchr(s3_url, '?');
	char *uri = xasprintf("s3://tb-no-such-bucket/p%s", q ? q : "");
	IoWriter *w = NULL;
	IoReader *r = NULL;
	StorageInfo info;
	StorageTestReport rep;

	(void)state;
	assert_int_equal(storage_open_opts(&s, uri, &o), 0);
	err_clear();
	assert_int_equal(storage_info(s, "", &info), ERR_NOT_FOUND);
	assert_non_null(strstr(err_message(), "bucket \"tb-no-such-bucket\" does not exist"));
	assert_non_null(strstr(err_hint_text(), "Create the bucket"));
	assert_int_equal(storage_write_open(s, &w, "x", NULL), 0);
	assert_int_equal(io_writer_close(w), ERR_NOT_FOUND);
	assert_non_null(strstr(err_message(), "does not exist"));
	io_writer_free(w);
	assert_int_equal(storage_read_open(s, &r, "x"), ERR_NOT_FOUND);
	storage_free(s);

	/* the storage test names the failing check */
	setenv("AWS_ACCESS_KEY_ID", s3_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", s3_secret, 1);
	assert_int_equal(storage_test(uri, &rep), 0);
	assert_false(rep.ok);
	assert_string_equal(rep.checks[rep.n_checks - 1].name, "bucket");
	assert_non_null(strstr(rep.checks[rep.n_checks - 1].message, "does not exist"));
	free(uri);
}

static void
s3_storage_test(void **state)
{
	Fixture *fx = *state;
	char *uri = uri_with(s3_url, fx->dir, NULL);
	StorageTestReport rep;
	const char *want[] = {"endpoint", "tls", "clock", "credentials", "bucket", "open", "write", "read back",
	                      "list", "delete", "free space"};

	setenv("AWS_ACCESS_KEY_ID", s3_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", s3_secret, 1);
	assert_int_equal(storage_test(uri, &rep), 0);
	for (int i = 0; i < rep.n_checks; i++)
		if (!rep.checks[i].ok)
			fail_msg("check %s: %s", rep.checks[i].name, rep.checks[i].message);
	assert_true(rep.ok);
	assert_int_equal(rep.n_checks, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < rep.n_checks; i++)
		assert_string_equal(rep.checks[i].name, want[i]);

	/* a wrong secret: the credentials check fails, and says so */
	setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
	assert_int_equal(storage_test(uri, &rep), 0);
	assert_false(rep.ok);
	assert_string_equal(rep.checks[rep.n_checks - 1].name, "credentials");
	assert_non_null(strstr(rep.checks[rep.n_checks - 1].message, "credentials were refused"));
	setenv("AWS_SECRET_ACCESS_KEY", s3_secret, 1);

	/* nothing reachable there: the endpoint check fails */
	char *dead = xasprintf("s3://tbtest/x?endpoint=http://127.0.0.1:9&region=us-east-1");
	assert_int_equal(storage_test(dead, &rep), 0);
	assert_false(rep.ok);
	assert_string_equal(rep.checks[0].name, "endpoint");
	assert_false(rep.checks[0].ok);
	free(dead);
	free(uri);
}

/* Keys with characters that need encoding, in the path and in listings. */
static void
s3_odd_names(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;

	put_str(s, "odd/a b+c&d=e%f~g", "1");
	put_str(s, "odd/ünï çødé", "2");
	put_str(s, "odd/x<y>&'\"", "3");
	assert_content(s, "odd/a b+c&d=e%f~g", "1", 1);
	assert_content(s, "odd/ünï çødé", "2", 1);
	assert_content(s, "odd/x<y>&'\"", "3", 1);
	assert_list(s, "odd", "a b+c&d=e%f~g,x<y>&'\",ünï çødé");
	assert_int_equal(storage_remove_tree(s, "odd"), 0);
	assert_list(s, "odd", "");
}

/* A range read over more than one GET is pinned to the object it began with. */
static void
s3_range_replaced(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	size_t len = 9 * 1024 * 1024;
	uint8_t *data = make_data(len, 21);
	char *chunk = xmalloc(1 << 20);
	IoReader *r = NULL;
	ssize_t n;

	put(s, "rr/obj", data, len);
	/* from 100 bytes in to the end: the first GET holds 8 MiB, the second the rest */
	assert_int_equal(storage_read_open_range(s, &r, "rr/obj", 100, len - 100), 0);
	assert_int_equal(io_reader_read(r, chunk, 1 << 20), 1 << 20);
	assert_memory_equal(chunk, data + 100, 1 << 20);
	data[0] ^= 0xff;
	put(s, "rr/obj", data, len); /* the same length, another ETag */
	err_clear();
	while ((n = io_reader_read(r, chunk, 1 << 20)) > 0)
		;
	assert_int_equal(n, ERR_IO);
	assert_non_null(strstr(err_message(), "replaced while it was read"));
	io_reader_free(r);

	/* shorter now: a range that needs the old length is refused at open */
	put(s, "rr/obj", data, 1000);
	err_clear();
	assert_int_equal(storage_read_open_range(s, &r, "rr/obj", 900, 200), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "too few"));
	free(chunk);
	free(data);
}

#define S3T(fn) cmocka_unit_test_setup_teardown(fn, s3_setup, s3_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORAGE_CONFORMANCE_TESTS(s3_setup, s3_teardown),
		S3T(s3_multipart_roundtrip),
		S3T(s3_multipart_abandoned),
		S3T(s3_multipart_no_replace),
		S3T(s3_killed_upload_removed_with_tree),
		S3T(s3_many_keys),
		S3T(s3_wrong_secret),
		cmocka_unit_test(s3_missing_bucket),
		S3T(s3_storage_test),
		S3T(s3_odd_names),
		S3T(s3_range_replaced),
	};

	s3_url = getenv("TB_S3_URL");
	s3_key = getenv("TB_S3_KEY");
	s3_secret = getenv("TB_S3_SECRET");
	if (!s3_url || !*s3_url || !s3_key || !*s3_key || !s3_secret || !*s3_secret) {
		printf("storage (s3): skipped: set TB_S3_URL, TB_S3_KEY and TB_S3_SECRET (test/it/t_s3_storage.sh does)\n");
		return 77;
	}
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	return cmocka_run_group_tests_name("storage (s3)", tests, NULL, NULL);
}
