/*
 * probe.c - storage_test(): the console's Test button, one timed check per
 * capability a backup needs, so a user sees which one fails and why.
 *
 * Invariant: the probe object has a name no backup uses (".tenback-test-*"
 * at the root) and is removed before storage_test returns, whichever check
 * failed after it was written.
 *
 * Why not storage_probe(): it answers yes or no for a whole round trip;
 * here each step is reported and timed on its own.
 */
#include "storage/storage.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PROBE_BYTES 1024

static atomic_uint test_counter;

/* Start a check: named, not yet ok. */
static StorageCheck *
check_begin(StorageTestReport *r, const char *name, int64_t *out_start_ms)
{
	StorageCheck *c = &r->checks[r->n_checks++];

	ASSERT(r->n_checks <= (int)(sizeof(r->checks) / sizeof(r->checks[0])));
	snprintf(c->name, sizeof(c->name), "%s", name);
	*out_start_ms = time_now_ms();
	return c;
}

/* Finish a check: ok with message, or failed with the thread's error record. */
static bool
check_end(StorageTestReport *r, StorageCheck *c, int64_t start_ms, bool ok, const char *message)
{
	c->elapsed_ms = time_now_ms() - start_ms;
	c->ok = ok;
	if (ok) {
		snprintf(c->message, sizeof(c->message), "%s", message);
		return true;
	}
	if (message) {
		snprintf(c->message, sizeof(c->message), "%s", message);
	} else {
		const char *detail = err_detail_text();
		const char *hint = err_hint_text();
		snprintf(c->message, sizeof(c->message), "%s%s%s%s%s", err_message(), detail[0] ? ". " : "", detail,
		         hint[0] ? (detail[0] ? " " : ". ") : "", hint);
	}
	r->ok = false;
	return false;
}

typedef struct Found {
	const char *name;
	bool found;
} Found;

static int
list_cb(const char *name, const StorageInfo *info, void *payload)
{
	Found *f = payload;

	(void)info;
	if (strcmp(name, f->name) == 0)
		f->found = true;
	return 0;
}

static void
fill_probe(char *buf, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(name[i % nl] ^ (char)(i * 131));
}

int
storage_test(const char *uri, StorageTestReport *out)
{
	return storage_test_opts(uri, NULL, out);
}

int
storage_test_opts(const char *uri, const StorageOpenOpts *o, StorageTestReport *out)
{
	Storage *s = NULL;
	IoWriter *w = NULL;
	IoReader *r = NULL;
	StorageCheck *c;
	StorageInfo info;
	char name[96], msg[256];
	char want[PROBE_BYTES], got[PROBE_BYTES + 1];
	bool written = false;
	int64_t t0;
	ssize_t n;
	Found found;

	if (uri == NULL || out == NULL)
		return err_set(ERR_INTERNAL, "storage_test called without a URI or report");
	memset(out, 0, sizeof(*out));
	out->ok = true;
	out->free_bytes = -1;
	snprintf(name, sizeof(name), ".tenback-test-%ld-%u-%lld", (long)getpid(), atomic_fetch_add(&test_counter, 1),
	         (long long)time(NULL));
	fill_probe(want, sizeof(want), name);

	/* a store's own checks first (S3: endpoint, TLS, credentials, bucket,
	 * clock), so "open" is not where a bad key or a missing bucket shows */
	if (storage_open_opts(&s, uri, o) == 0 && !storage_driver_test(s, out))
		goto out;
	c = check_begin(out, "open", &t0);
	if ((s == NULL && storage_open_opts(&s, uri, o) < 0) || storage_info(s, "", &info) < 0) {
		check_end(out, c, t0, false, NULL);
		goto out;
	}
	if (!info.exists || !info.is_dir) {
		snprintf(msg, sizeof(msg), "the root of storage \"%s\" is %s", uri,
		         info.exists ? "not a directory" : "missing");
		check_end(out, c, t0, false, msg);
		goto out;
	}
	if (!check_end(out, c, t0, true, "the storage root is reachable"))
		goto out;

	c = check_begin(out, "write", &t0);
	written = true;   /* from here on, clean up even after a failed write (harmless if absent) */
	if (storage_write_open(s, &w, name, NULL) < 0 || io_writer_write(w, want, sizeof(want)) < 0 ||
	    io_writer_close(w) < 0) {
		check_end(out, c, t0, false, NULL);
		goto out;
	}
	snprintf(msg, sizeof(msg), "wrote %d bytes to \"%s\"", PROBE_BYTES, name);
	check_end(out, c, t0, true, msg);

	c = check_begin(out, "read back", &t0);
	if (storage_read_open(s, &r, name) < 0 || (n = io_reader_read_full(r, got, sizeof(got))) < 0) {
		check_end(out, c, t0, false, NULL);
		goto out;
	}
	if (n != PROBE_BYTES || memcmp(got, want, PROBE_BYTES) != 0) {
		snprintf(msg, sizeof(msg), "storage \"%s\" returned other data than written (%zd bytes, %d written)", uri, n,
		         PROBE_BYTES);
		check_end(out, c, t0, false, msg);
		goto out;
	}
	check_end(out, c, t0, true, "read back the same bytes");

	c = check_begin(out, "list", &t0);
	found.name = name;
	found.found = false;
	if (storage_list(s, "", list_cb, &found) < 0) {
		check_end(out, c, t0, false, NULL);
		goto out;
	}
	if (!found.found) {
		snprintf(msg, sizeof(msg), "storage \"%s\" does not list the object just written", uri);
		check_end(out, c, t0, false, msg);
		goto out;
	}
	check_end(out, c, t0, true, "the object is listed");

	c = check_begin(out, "delete", &t0);
	if (storage_remove(s, name) < 0 || storage_info(s, name, &info) < 0) {
		check_end(out, c, t0, false, NULL);
		goto out;
	}
	if (info.exists) {
		snprintf(msg, sizeof(msg), "storage \"%s\" still has the object after deleting it", uri);
		check_end(out, c, t0, false, msg);
		goto out;
	}
	written = false;
	check_end(out, c, t0, true, "the object is gone");

	c = check_begin(out, "free space", &t0);
	if (str_starts_with(uri, "file://")) {
		const char *root = uri + strlen("file://");
		struct statvfs vfs;
		char size[32];

		if (statvfs(root, &vfs) < 0) {
			err_errno(errno, "could not read the free space of \"%s\"", root);
			check_end(out, c, t0, false, NULL);
			goto out;
		}
		out->free_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
		size_format(size, sizeof(size), (uint64_t)out->free_bytes);
		snprintf(msg, sizeof(msg), "%s free", size);
		check_end(out, c, t0, true, msg);
	} else {
		check_end(out, c, t0, true, "this storage does not report free space");
	}
out:
	io_writer_free(w);
	io_reader_free(r);
	if (written && s)
		storage_remove(s, name);   /* best effort: the failed check already says what is wrong */
	storage_free(s);
	return 0;
}

void
storage_test_report_json(JsonWriter *w, const char *uri, const StorageTestReport *r)
{
	json_object_begin(w);
	json_kv_string(w, "uri", uri);
	json_kv_bool(w, "ok", r->ok);
	json_key(w, "free_bytes");
	if (r->free_bytes >= 0)
		json_int(w, r->free_bytes);
	else
		json_null(w);
	json_key(w, "checks");
	json_array_begin(w);
	for (int i = 0; i < r->n_checks && i < STORAGE_TEST_MAX_CHECKS; i++) {
		json_object_begin(w);
		json_kv_string(w, "name", r->checks[i].name);
		json_kv_bool(w, "ok", r->checks[i].ok);
		json_kv_string(w, "message", r->checks[i].message);
		json_kv_int(w, "elapsed_ms", r->checks[i].elapsed_ms);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_end(w);
}
