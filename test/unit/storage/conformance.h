/*
 * conformance.h - the storage conformance suite: tests written against
 * storage.h only, included by each driver's test program
 * (test_storage.c: posix, test_storage_s3.c: S3), which provides a fixture
 * putting a Fixture with a fresh, empty Storage in *state.
 *
 * The invariant they check is storage.h's atomic-write contract: an object
 * is visible, with exactly what was written, once io_writer_close()
 * succeeded, and nothing at all is visible otherwise.
 *
 * Every conf_* test is static: a program lists them with
 * STORAGE_CONFORMANCE_TESTS(setup, teardown).
 */
#ifndef TENBACK_TEST_STORAGE_CONFORMANCE_H
#define TENBACK_TEST_STORAGE_CONFORMANCE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "io/io.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Fixture {
	Storage *storage;
	char *dir;          /* posix: the temp directory holding the root; S3: the URI */
} Fixture;

/* ---- helpers (storage.h only) ---- */

static void
put(Storage *s, const char *path, const void *data, size_t len)
{
	IoWriter *w = NULL;

	if (storage_write_open(s, &w, path, NULL) < 0)
		fail_msg("storage_write_open(%s): %s", path, err_message());
	assert_int_equal(io_writer_write(w, data, len), 0);
	if (io_writer_close(w) < 0)
		fail_msg("io_writer_close(%s): %s", path, err_message());
	io_writer_free(w);
}

static void
put_str(Storage *s, const char *path, const char *text)
{
	put(s, path, text, strlen(text));
}

/* Whole object into out; returns storage_read_open's or the read's code. */
static int
get(Storage *s, const char *path, Buf *out)
{
	IoReader *r = NULL;
	char chunk[4096];
	ssize_t n;
	int rc;

	buf_reset(out);
	if ((rc = storage_read_open(s, &r, path)) < 0)
		return rc;
	while ((n = io_reader_read(r, chunk, sizeof(chunk))) > 0)
		buf_append(out, chunk, (size_t)n);
	io_reader_free(r);
	return n < 0 ? (int)n : 0;
}

static void
assert_content(Storage *s, const char *path, const void *want, size_t len)
{
	Buf b = BUF_INIT;

	if (get(s, path, &b) < 0)
		fail_msg("read of %s: %s", path, err_message());
	assert_int_equal(b.len, len);
	if (len)
		assert_memory_equal(b.data, want, len);
	buf_free(&b);
}

static void
assert_absent(Storage *s, const char *path)
{
	StorageInfo info;
	IoReader *r = NULL;

	assert_int_equal(storage_info(s, path, &info), 0);
	if (info.exists)
		fail_msg("\"%s\" exists", path);
	assert_int_equal(storage_read_open(s, &r, path), ERR_NOT_FOUND);
	assert_null(r);
}

static int
collect_cb(const char *name, const StorageInfo *info, void *payload)
{
	StrList *l = payload;

	assert_true(info->exists);
	strlist_add(l, name);
	return 0;
}

/* Sorted names under path, joined with ',' ("" when none). */
static char *
list_names(Storage *s, const char *path)
{
	StrList l = {0};
	Buf b = BUF_INIT;

	if (storage_list(s, path, collect_cb, &l) < 0)
		fail_msg("storage_list(%s): %s", path, err_message());
	strlist_sort(&l);
	for (size_t name_idx = 0; name_idx < l.count; name_idx++)
		buf_printf(&b, "%s%s", name_idx ? "," : "", l.items[name_idx]);
	strlist_free(&l);
	return buf_steal(&b);
}

static void
assert_list(Storage *s, const char *path, const char *want)
{
	char *got = list_names(s, path);

	if (strcmp(got, want) != 0)
		fail_msg("storage_list(\"%s\") = \"%s\", want \"%s\"", path, got, want);
	free(got);
}

static uint8_t *
make_data(size_t len, uint64_t seed)
{
	uint8_t *p = xmalloc(len);

	for (size_t byte_idx = 0; byte_idx < len; byte_idx++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[byte_idx] = (uint8_t)seed;
	}
	return p;
}

/* ---- conformance ---- */

static void
conf_write_close_visible(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	size_t len = 3 * 1024 * 1024 + 17;
	uint8_t *data = make_data(len, 42);
	IoWriter *w = NULL;
	StorageInfo info;

	/* written in uneven chunks into directories that do not exist yet */
	assert_int_equal(storage_write_open(s, &w, "a/b/c/big.bin", NULL), 0);
	assert_non_null(w);
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 70001 ? len - off : 70001;
		assert_int_equal(io_writer_write(w, data + off, n), 0);
		off += n;
	}
	assert_absent(s, "a/b/c/big.bin");
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);

	assert_content(s, "a/b/c/big.bin", data, len);
	assert_int_equal(storage_info(s, "a/b/c/big.bin", &info), 0);
	assert_true(info.exists);
	assert_false(info.is_dir);
	assert_true(info.size == len);
	assert_list(s, "a/b/c", "big.bin");

	/* small and empty objects, no_sync */
	StorageWriteOpts no_sync = {.no_sync = true};
	assert_int_equal(storage_write_open(s, &w, "empty", &no_sync), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_content(s, "empty", "", 0);
	assert_int_equal(storage_info(s, "empty", &info), 0);
	assert_true(info.exists);
	assert_true(info.size == 0);
	put_str(s, "small", "hello\n");
	assert_content(s, "small", "hello\n", 6);
	free(data);
}

static void
conf_free_without_close(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	IoWriter *w = NULL;

	assert_int_equal(storage_write_open(s, &w, "dir/abandoned", NULL), 0);
	assert_int_equal(io_writer_write(w, "partial", 7), 0);
	io_writer_free(w);
	assert_absent(s, "dir/abandoned");
	/* no temporary object left behind either */
	assert_list(s, "dir", "");

	/* nor when nothing was written */
	assert_int_equal(storage_write_open(s, &w, "dir/abandoned2", NULL), 0);
	io_writer_free(w);
	assert_absent(s, "dir/abandoned2");
	assert_list(s, "dir", "");
}

static void
conf_overwrite_atomic(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	IoWriter *w = NULL;

	put_str(s, "obj", "old content");

	/* while the new version is being written, readers see the old one */
	assert_int_equal(storage_write_open(s, &w, "obj", NULL), 0);
	assert_int_equal(io_writer_write(w, "new", 3), 0);
	assert_content(s, "obj", "old content", 11);
	StorageInfo info;
	assert_int_equal(storage_info(s, "obj", &info), 0);
	assert_true(info.exists && info.size == 11);
	assert_int_equal(io_writer_write(w, " content, longer", 16), 0);
	assert_content(s, "obj", "old content", 11);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_content(s, "obj", "new content, longer", 19);

	/* an abandoned overwrite keeps the old version */
	assert_int_equal(storage_write_open(s, &w, "obj", NULL), 0);
	assert_int_equal(io_writer_write(w, "x", 1), 0);
	io_writer_free(w);
	assert_content(s, "obj", "new content, longer", 19);
	assert_list(s, "", "obj");

	/* a shorter version replaces a longer one entirely */
	put_str(s, "obj", "s");
	assert_content(s, "obj", "s", 1);
}

/* no_replace: the first writer to close wins, a later one gets ERR_EXISTS and changes nothing */
static void
conf_no_replace(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	const StorageWriteOpts nr = {.no_replace = true};
	IoWriter *w1 = NULL, *w2 = NULL;

	assert_int_equal(storage_write_open(s, &w1, "once", &nr), 0);
	assert_int_equal(io_writer_write(w1, "first", 5), 0);
	assert_int_equal(io_writer_close(w1), 0);
	io_writer_free(w1);
	assert_content(s, "once", "first", 5);

	w1 = NULL;
	assert_int_equal(storage_write_open(s, &w1, "once", &nr), 0);
	assert_int_equal(io_writer_write(w1, "second", 6), 0);
	assert_int_equal(io_writer_close(w1), ERR_EXISTS);
	io_writer_free(w1);
	assert_content(s, "once", "first", 5);

	/* two writers racing for a new name: both open before either closes */
	w1 = NULL;
	assert_int_equal(storage_write_open(s, &w1, "race-nr", &nr), 0);
	assert_int_equal(storage_write_open(s, &w2, "race-nr", &nr), 0);
	assert_int_equal(io_writer_write(w1, "one", 3), 0);
	assert_int_equal(io_writer_write(w2, "two!", 4), 0);
	assert_int_equal(io_writer_close(w2), 0);
	assert_int_equal(io_writer_close(w1), ERR_EXISTS);
	io_writer_free(w1);
	io_writer_free(w2);
	assert_content(s, "race-nr", "two!", 4);

	/* without no_replace the same name is replaced */
	put_str(s, "once", "third");
	assert_content(s, "once", "third", 5);
}

typedef struct RaceArg {
	Storage *s;
	int writer_idx;
	int rc;
} RaceArg;

static void *
race_writer(void *p)
{
	RaceArg *a = p;
	IoWriter *w = NULL;
	char chunk[4096];
	char own[32];

	memset(chunk, 'A' + a->writer_idx, sizeof(chunk));
	snprintf(own, sizeof(own), "own-%d", a->writer_idx);
	a->rc = storage_write_open(a->s, &w, "race", NULL);
	for (int i = 0; a->rc == 0 && i < 64; i++)
		a->rc = io_writer_write(w, chunk, sizeof(chunk));
	if (a->rc == 0)
		a->rc = io_writer_close(w);
	io_writer_free(w);
	/* and one object per thread, read back by the same thread */
	if (a->rc == 0) {
		Buf b = BUF_INIT;
		w = NULL;
		a->rc = storage_write_open(a->s, &w, own, NULL);
		if (a->rc == 0)
			a->rc = io_writer_write(w, own, strlen(own));
		if (a->rc == 0)
			a->rc = io_writer_close(w);
		io_writer_free(w);
		if (a->rc == 0)
			a->rc = get(a->s, own, &b);
		if (a->rc == 0 && (b.len != strlen(own) || memcmp(b.data, own, b.len) != 0))
			a->rc = -1;
		buf_free(&b);
	}
	return NULL;
}

static void
conf_concurrent_writers(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	pthread_t th[4];
	RaceArg args[4];
	Buf b = BUF_INIT;

	for (int i = 0; i < 4; i++) {
		args[i] = (RaceArg){s, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, race_writer, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].rc, 0);
	}
	/* one writer's complete content, never a mix */
	assert_int_equal(get(s, "race", &b), 0);
	assert_int_equal(b.len, 64 * 4096);
	for (size_t byte_idx = 1; byte_idx < b.len; byte_idx++)
		if (b.data[byte_idx] != b.data[0])
			fail_msg("mixed content at byte %zu", byte_idx);
	assert_in_range(b.data[0], 'A', 'D');
	buf_free(&b);
	assert_list(s, "", "own-0,own-1,own-2,own-3,race");
}

static void
conf_read_missing(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	IoReader *r = (IoReader *)(uintptr_t)1;

	err_clear();
	assert_int_equal(storage_read_open(s, &r, "no/such/object"), ERR_NOT_FOUND);
	assert_null(r);
	assert_int_equal(err_code(), ERR_NOT_FOUND);
	/* the message names the path */
	assert_non_null(strstr(err_message(), "no/such/object"));
	/* a missing object directly at the root, and under an object */
	put_str(s, "file", "x");
	assert_int_equal(storage_read_open(s, &r, "missing"), ERR_NOT_FOUND);
	assert_int_equal(storage_read_open(s, &r, "file/below"), ERR_NOT_FOUND);
}

static void
conf_info(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	StorageInfo info;
	time_t before = time(NULL);

	memset(&info, 0xff, sizeof(info));
	assert_int_equal(storage_info(s, "missing", &info), 0);
	assert_false(info.exists);
	assert_false(info.is_dir);
	assert_true(info.size == 0);

	put_str(s, "d/obj", "0123456789");
	assert_int_equal(storage_info(s, "d/obj", &info), 0);
	assert_true(info.exists);
	assert_false(info.is_dir);
	assert_true(info.size == 10);
	assert_true(info.mtime >= (int64_t)before - 2 && info.mtime <= (int64_t)time(NULL) + 2);

	/* below an object is simply missing */
	assert_int_equal(storage_info(s, "d/obj/x", &info), 0);
	assert_false(info.exists);
}

static int
stop_cb(const char *name, const StorageInfo *info, void *payload)
{
	int *calls = payload;

	(void)name;
	(void)info;
	(*calls)++;
	return ERR_EXISTS;
}

typedef struct SizeCheck {
	int checked;
} SizeCheck;

static int
size_cb(const char *name, const StorageInfo *info, void *payload)
{
	SizeCheck *sc = payload;

	if (strcmp(name, "a") == 0) {
		assert_false(info->is_dir);
		assert_true(info->size == 1);
		sc->checked++;
	} else if (strcmp(name, "bb") == 0) {
		assert_true(info->size == 2);
		sc->checked++;
	}
	return 0;
}

static void
conf_list(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	SizeCheck sc = {0};
	int calls = 0;

	put_str(s, "l/a", "1");
	put_str(s, "l/bb", "22");
	put_str(s, "l/sub/c", "333");
	put_str(s, "l/sub/deeper/e", "4444");
	put_str(s, "l2/other", "5");
	put_str(s, "top", "6");

	/* direct children only */
	assert_list(s, "l", "a,bb,sub");
	assert_list(s, "l/sub", "c,deeper");
	assert_list(s, "l/sub/deeper", "e");
	assert_list(s, "", "l,l2,top");
	/* a missing path, and a path that is an object, list nothing */
	assert_list(s, "missing", "");
	assert_list(s, "missing/deeper", "");
	assert_list(s, "l/a", "");
	/* "l" is not a prefix of "l2"'s children */
	assert_list(s, "l2", "other");

	assert_int_equal(storage_list(s, "l", size_cb, &sc), 0);
	assert_int_equal(sc.checked, 2);

	/* a callback's error stops the walk with that code */
	assert_int_equal(storage_list(s, "l", stop_cb, &calls), ERR_EXISTS);
	assert_int_equal(calls, 1);
}

static void
conf_remove(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;

	put_str(s, "r/one", "1");
	put_str(s, "r/two", "2");
	assert_int_equal(storage_remove(s, "r/one"), 0);
	assert_absent(s, "r/one");
	assert_content(s, "r/two", "2", 1);
	assert_list(s, "r", "two");
	/* missing is not an error, twice, nor in a missing directory */
	assert_int_equal(storage_remove(s, "r/one"), 0);
	assert_int_equal(storage_remove(s, "r/never"), 0);
	assert_int_equal(storage_remove(s, "nodir/never"), 0);
}

static void
conf_remove_tree(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;

	put_str(s, "t/a", "1");
	put_str(s, "t/sub/b", "2");
	put_str(s, "t/sub/deep/c", "3");
	put_str(s, "t2/keep", "4");
	put_str(s, "t.keep", "5");

	assert_int_equal(storage_remove_tree(s, "t/sub"), 0);
	assert_absent(s, "t/sub/b");
	assert_absent(s, "t/sub/deep/c");
	assert_list(s, "t/sub", "");
	assert_content(s, "t/a", "1", 1);

	assert_int_equal(storage_remove_tree(s, "t"), 0);
	assert_absent(s, "t/a");
	assert_list(s, "t", "");
	/* siblings sharing the name as a prefix stay */
	assert_content(s, "t2/keep", "4", 1);
	assert_content(s, "t.keep", "5", 1);
	assert_list(s, "", "t.keep,t2");

	/* missing is fine */
	assert_int_equal(storage_remove_tree(s, "t"), 0);
	assert_int_equal(storage_remove_tree(s, "never/was"), 0);
}

static void
conf_copy(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	size_t len = 600 * 1024 + 3; /* more than one copy chunk */
	uint8_t *data = make_data(len, 7);

	put(s, "src/obj", data, len);
	assert_int_equal(storage_copy(s, "src/obj", "dst/deep/copy", NULL), 0);
	assert_content(s, "dst/deep/copy", data, len);
	assert_content(s, "src/obj", data, len);

	/* over an existing object */
	put_str(s, "dst/small", "old");
	assert_int_equal(storage_copy(s, "src/obj", "dst/small", NULL), 0);
	assert_content(s, "dst/small", data, len);

	/* a missing source: ERR_NOT_FOUND and no destination */
	assert_int_equal(storage_copy(s, "src/missing", "dst/none", NULL), ERR_NOT_FOUND);
	assert_absent(s, "dst/none");
	assert_list(s, "dst", "deep,small");
	free(data);
}

static void
conf_sync(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	StorageWriteOpts no_sync = {.no_sync = true};
	IoWriter *w = NULL;

	for (int i = 0; i < 3; i++) {
		char path[32];
		snprintf(path, sizeof(path), "set/data/%d", i);
		assert_int_equal(storage_write_open(s, &w, path, &no_sync), 0);
		assert_int_equal(io_writer_write(w, path, strlen(path)), 0);
		assert_int_equal(io_writer_close(w), 0);
		io_writer_free(w);
	}
	assert_int_equal(storage_sync(s, "set"), 0);
	assert_content(s, "set/data/2", "set/data/2", 10);
	assert_list(s, "set/data", "0,1,2");
}

static void
conf_probe(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;

	assert_int_equal(storage_probe(s, ""), 0);
	assert_int_equal(storage_probe(s, "tenback/probe"), 0);
	/* nothing left behind */
	assert_list(s, "tenback/probe", "");
	/* posix keeps the emptied directory; an object store has no directories */
	char *root = list_names(s, "");
	if (strcmp(root, "tenback") != 0 && strcmp(root, "") != 0)
		fail_msg("storage_list(\"\") = \"%s\" after the probes", root);
	free(root);
}

static void
check_bad_path(Storage *s, const char *path)
{
	IoWriter *w = NULL;
	IoReader *r = NULL;
	StorageInfo info;
	StrList l = {0};

	err_clear();
	if (storage_write_open(s, &w, path, NULL) >= 0)
		fail_msg("storage_write_open accepted \"%s\"", path);
	assert_null(w);
	assert_non_null(strstr(err_message(), "invalid storage path"));
	assert_true(storage_read_open(s, &r, path) < 0);
	assert_null(r);
	assert_true(storage_info(s, path, &info) < 0);
	assert_true(storage_list(s, path, collect_cb, &l) < 0);
	assert_int_equal(l.count, 0);
	assert_true(storage_remove(s, path) < 0);
	assert_true(storage_remove_tree(s, path) < 0);
	assert_true(storage_sync(s, path) < 0);
	assert_true(storage_probe(s, path) < 0);
}

static void
conf_paths_refused(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;

	put_str(s, "ok", "x");
	check_bad_path(s, "..");
	check_bad_path(s, "../escape");
	check_bad_path(s, "a/../../escape");
	check_bad_path(s, "a/..");
	check_bad_path(s, "a/../ok");
	check_bad_path(s, ".");
	check_bad_path(s, "./ok");
	check_bad_path(s, "a/./b");
	check_bad_path(s, "/abs");
	check_bad_path(s, "/");
	assert_true(storage_copy(s, "ok", "../escape", NULL) < 0);
	assert_true(storage_copy(s, "../ok", "copy", NULL) < 0);
	assert_absent(s, "copy");
	/* names that merely contain dots are fine */
	put_str(s, "..a/b..", "dots");
	assert_content(s, "..a/b..", "dots", 4);
	put_str(s, "...", "three");
	assert_content(s, "...", "three", 5);
}


/* ---- range reads ---- */

/* Read a whole stream in reads of at most step bytes. */
static int
read_all(IoReader *r, Buf *out, size_t step)
{
	char *chunk = xmalloc(step);
	ssize_t n;

	buf_reset(out);
	while ((n = io_reader_read(r, chunk, step)) > 0)
		buf_append(out, chunk, (size_t)n);
	free(chunk);
	return n < 0 ? (int)n : 0;
}

static void
assert_range(Storage *s, const char *path, const uint8_t *data, uint64_t offset, uint64_t length, size_t step)
{
	IoReader *r = NULL;
	Buf b = BUF_INIT;

	if (storage_read_open_range(s, &r, path, offset, length) < 0)
		fail_msg("storage_read_open_range(%s, %llu, %llu): %s", path, (unsigned long long)offset,
		         (unsigned long long)length, err_message());
	if (read_all(r, &b, step) < 0)
		fail_msg("read of %s at %llu: %s", path, (unsigned long long)offset, err_message());
	if (b.len != length)
		fail_msg("range %llu+%llu of %s: %zu bytes read", (unsigned long long)offset, (unsigned long long)length,
		         path, b.len);
	if (length)
		assert_memory_equal(b.data, data + offset, length);
	/* and the end stays the end */
	assert_int_equal(io_reader_read(r, b.data ? b.data : (char *)&b, 1), 0);
	io_reader_free(r);
	buf_free(&b);
}

static void
conf_read_range(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	const size_t mib = 1024 * 1024;
	size_t len = 9 * mib + 4321; /* more than one 8 MiB range of the S3 reader */
	uint8_t *data = make_data(len, 77);
	IoReader *r = (IoReader *)(uintptr_t)1;

	put(s, "rng/obj", data, len);
	assert_range(s, "rng/obj", data, 0, len, 1 << 20);
	assert_range(s, "rng/obj", data, 1, len - 1, 70001);
	assert_range(s, "rng/obj", data, len - 10, 10, 3);
	assert_range(s, "rng/obj", data, 123, 4567, 4096);
	/* across the S3 reader's 8 MiB ranges, read in odd steps */
	assert_range(s, "rng/obj", data, 8 * mib - 5000, mib + 3, 65537);
	assert_range(s, "rng/obj", data, 3, 8 * mib, 1 << 20);
	/* empty ranges, at the start, inside and at the end */
	assert_range(s, "rng/obj", data, 0, 0, 16);
	assert_range(s, "rng/obj", data, 777, 0, 16);
	assert_range(s, "rng/obj", data, len, 0, 16);

	/* a range past the end: ERR_CORRUPT at open, naming the object */
	err_clear();
	assert_int_equal(storage_read_open_range(s, &r, "rng/obj", len - 1, 2), ERR_CORRUPT);
	assert_null(r);
	assert_non_null(strstr(err_message(), "rng/obj"));
	assert_int_equal(storage_read_open_range(s, &r, "rng/obj", len + 5, 1), ERR_CORRUPT);
	assert_int_equal(storage_read_open_range(s, &r, "rng/obj", len + 1, 0), ERR_CORRUPT);
	/* a missing object: ERR_NOT_FOUND naming the path, with or without length */
	err_clear();
	assert_int_equal(storage_read_open_range(s, &r, "rng/missing", 0, 10), ERR_NOT_FOUND);
	assert_non_null(strstr(err_message(), "rng/missing"));
	assert_int_equal(storage_read_open_range(s, &r, "rng/missing", 0, 0), ERR_NOT_FOUND);
	/* a range of an empty object */
	put(s, "rng/empty", "", 0);
	assert_range(s, "rng/empty", data, 0, 0, 16);
	assert_int_equal(storage_read_open_range(s, &r, "rng/empty", 0, 1), ERR_CORRUPT);
	/* the range's bounds must not wrap */
	assert_true(storage_read_open_range(s, &r, "rng/obj", UINT64_MAX, 2) < 0);
	assert_null(r);
	free(data);
}

/* ---- bundles ---- */

/* Write path with len bytes of content seed, in writes of step bytes, no_sync;
 * close, then take its place. */
static bool
put_bundled(Storage *s, const char *path, size_t len, uint64_t seed, size_t step, uint32_t *out_bundle,
            uint64_t *out_offset)
{
	StorageWriteOpts ns = {.no_sync = true};
	uint8_t *data = make_data(len ? len : 1, seed);
	IoWriter *w = NULL;
	bool taken;

	if (storage_write_open(s, &w, path, &ns) < 0)
		fail_msg("storage_write_open(%s): %s", path, err_message());
	for (size_t off = 0; off < len;) {
		size_t n = len - off < step ? len - off : step;
		if (io_writer_write(w, data + off, n) < 0)
			fail_msg("write %s: %s", path, err_message());
		off += n;
	}
	if (io_writer_close(w) < 0)
		fail_msg("close %s: %s", path, err_message());
	io_writer_free(w);
	taken = storage_bundle_take(s, path, out_bundle, out_offset);
	free(data);
	return taken;
}

static void
assert_seeded(Storage *s, const char *path, size_t len, uint64_t seed)
{
	uint8_t *data = make_data(len ? len : 1, seed);

	assert_content(s, path, data, len);
	free(data);
}

static void
conf_bundle_small_and_large(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	static const size_t sizes[] = {0, 10, 999, 1000, 1001, 5000, 700, 700, 700, 700, 700, 700, 700, 700, 1};
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	uint32_t bundle[sizeof(sizes) / sizeof(sizes[0])];
	uint64_t offset[sizeof(sizes) / sizeof(sizes[0])];
	bool in[sizeof(sizes) / sizeof(sizes[0])];
	uint64_t next_offset = 0;
	uint32_t cur = 0;
	char path[64];
	StorageInfo info;
	uint32_t b;
	uint64_t o;

	assert_int_equal(storage_bundle_begin(s, "set", 1000, 3000), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "set/data/f%02zu", i);
		/* writes of 600 bytes: 1001 bytes cross the limit in the second write */
		in[i] = put_bundled(s, path, sizes[i], 100 + i, 600, &bundle[i], &offset[i]);
		assert_int_equal(in[i], sizes[i] <= 1000);
		if (!in[i]) {
			assert_int_equal(bundle[i], 0);
			assert_true(offset[i] == 0);
			continue;
		}
		/* whole objects one after the other; a new bundle when the next would pass 3000 bytes */
		if (cur == 0 || (next_offset > 0 && next_offset + sizes[i] > 3000)) {
			cur++;
			next_offset = 0;
		}
		assert_int_equal(bundle[i], cur);
		assert_true(offset[i] == next_offset);
		next_offset += sizes[i];
		/* taken once */
		assert_false(storage_bundle_take(s, path, &b, &o));
	}
	assert_false(storage_bundle_take(s, "set/data/never", &b, &o));

	/* never bundled: outside dir, inside dir/bundles/, without no_sync, with no_replace */
	assert_false(put_bundled(s, "other/small", 10, 1, 10, &b, &o));
	assert_false(put_bundled(s, "setx/small", 10, 2, 10, &b, &o));
	assert_false(put_bundled(s, "set/bundles/mine", 10, 3, 10, &b, &o));
	put_str(s, "set/synced", "synced");
	assert_false(storage_bundle_take(s, "set/synced", &b, &o));
	const StorageWriteOpts nr = {.no_sync = true, .no_replace = true};
	IoWriter *w = NULL;
	assert_int_equal(storage_write_open(s, &w, "set/once", &nr), 0);
	assert_int_equal(io_writer_write(w, "once", 4), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_false(storage_bundle_take(s, "set/once", &b, &o));
	assert_content(s, "set/once", "once", 4);
	assert_seeded(s, "setx/small", 10, 2);

	assert_int_equal(storage_bundle_end(s), 0);
	/* and after the end, writes are ordinary */
	assert_false(put_bundled(s, "set/data/late", 10, 4, 10, &b, &o));
	assert_seeded(s, "set/data/late", 10, 4);

	/* the bundles, and only the large objects as objects of their own */
	assert_int_equal(cur, 3);
	assert_list(s, "set/bundles", "000001,000002,000003,mine");
	assert_list(s, "set/data", "f04,f05,late");
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "set/data/f%02zu", i);
		if (in[i])
			assert_absent(s, path);
		else
			assert_seeded(s, path, sizes[i], 100 + i);
	}
	/* read back through aliases */
	for (size_t i = 0; i < n; i++) {
		char *bp = storage_bundle_path("set", bundle[i]);
		snprintf(path, sizeof(path), "set/data/f%02zu", i);
		if (in[i])
			assert_int_equal(storage_alias_add(s, path, bp, offset[i], sizes[i]), 0);
		free(bp);
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "set/data/f%02zu", i);
		assert_seeded(s, path, sizes[i], 100 + i);
		assert_int_equal(storage_info(s, path, &info), 0);
		assert_true(info.exists);
		assert_false(info.is_dir);
		assert_true(info.size == sizes[i]);
	}
	/* an alias is read like an object: storage_copy makes it a real one */
	assert_int_equal(storage_copy(s, "set/data/f02", "copy/f02", NULL), 0);
	assert_seeded(s, "copy/f02", sizes[2], 102);
}

typedef struct BundleArg {
	Storage *s;
	int thread_idx;
	int n;
	size_t *sizes;
	uint32_t *bundle;
	uint64_t *offset;
	bool *in;
} BundleArg;

static void *
bundle_thread(void *p)
{
	BundleArg *a = p;
	char path[64];

	for (int i = 0; i < a->n; i++) {
		snprintf(path, sizeof(path), "par/data/t%d/%04d", a->thread_idx, i);
		a->in[i] = put_bundled(a->s, path, a->sizes[i], (uint64_t)(a->thread_idx * 100000 + i + 1), 333,
		                       &a->bundle[i], &a->offset[i]);
	}
	return NULL;
}

typedef struct Piece {
	uint32_t bundle;
	uint64_t offset;
	uint64_t len;
} Piece;

static int
cmp_piece(const void *x, const void *y)
{
	const Piece *a = x, *b = y;

	if (a->bundle != b->bundle)
		return a->bundle < b->bundle ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Several threads write many objects at once; every small one lands whole in a
 * bundle, the pieces of each bundle tile it, and every object reads back. */
static void
conf_bundle_threads(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	enum { THREADS = 4, PER = 150 };
	pthread_t th[THREADS];
	BundleArg args[THREADS];
	Piece *pieces = xcalloc(THREADS * PER, sizeof(*pieces));
	size_t n_pieces = 0;
	uint64_t seed = 12345;
	char path[64];

	assert_int_equal(storage_bundle_begin(s, "par", 2048, 40000), 0);
	for (int t = 0; t < THREADS; t++) {
		args[t] = (BundleArg){s, t, PER, xcalloc(PER, sizeof(size_t)), xcalloc(PER, sizeof(uint32_t)),
		                      xcalloc(PER, sizeof(uint64_t)), xcalloc(PER, sizeof(bool))};
		for (int i = 0; i < PER; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			args[t].sizes[i] = (size_t)(seed % 3000); /* a third past the limit */
		}
		assert_int_equal(pthread_create(&th[t], NULL, bundle_thread, &args[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	assert_int_equal(storage_bundle_end(s), 0);

	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER; i++) {
			assert_int_equal(args[t].in[i], args[t].sizes[i] <= 2048);
			if (args[t].in[i])
				pieces[n_pieces++] = (Piece){args[t].bundle[i], args[t].offset[i], args[t].sizes[i]};
		}
	qsort(pieces, n_pieces, sizeof(*pieces), cmp_piece);
	for (size_t k = 0; k < n_pieces; k++) {
		bool first = k == 0 || pieces[k].bundle != pieces[k - 1].bundle;
		if (first) {
			assert_true(pieces[k].offset == 0);
			assert_int_equal(pieces[k].bundle, k == 0 ? 1 : pieces[k - 1].bundle + 1);
		} else {
			assert_true(pieces[k].offset == pieces[k - 1].offset + pieces[k - 1].len);
		}
		bool last = k + 1 == n_pieces || pieces[k + 1].bundle != pieces[k].bundle;
		if (last) {
			char *bp = storage_bundle_path("par", pieces[k].bundle);
			StorageInfo info;
			assert_int_equal(storage_info(s, bp, &info), 0);
			assert_true(info.exists);
			/* the bundle is exactly its pieces, and within the target */
			assert_true(info.size == pieces[k].offset + pieces[k].len);
			assert_true(info.size <= 40000);
			free(bp);
		}
	}
	assert_true(pieces[n_pieces - 1].bundle > 1);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER; i++) {
			snprintf(path, sizeof(path), "par/data/t%d/%04d", t, i);
			if (args[t].in[i]) {
				char *bp = storage_bundle_path("par", args[t].bundle[i]);
				assert_int_equal(storage_alias_add(s, path, bp, args[t].offset[i], args[t].sizes[i]), 0);
				free(bp);
			}
		}
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < PER; i++) {
			snprintf(path, sizeof(path), "par/data/t%d/%04d", t, i);
			assert_seeded(s, path, args[t].sizes[i], (uint64_t)(t * 100000 + i + 1));
		}
		free(args[t].sizes);
		free(args[t].bundle);
		free(args[t].offset);
		free(args[t].in);
	}
	free(pieces);
}

static void
conf_bundle_sessions(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	IoWriter *w = NULL;
	IoReader *r = NULL;
	StorageInfo info;
	uint32_t b;
	uint64_t o;

	/* bad arguments */
	err_clear();
	assert_int_equal(storage_bundle_begin(s, "x", 2000, 1000), ERR_INVALID);
	assert_int_equal(storage_bundle_begin(s, "", 0, 0), ERR_INTERNAL);
	assert_int_equal(storage_bundle_begin(s, "../x", 0, 0), ERR_INTERNAL);
	/* nothing to end or abandon */
	assert_int_equal(storage_bundle_end(s), 0);
	storage_bundle_abandon(s);

	/* numbering continues after the bundles there; once on, not again */
	assert_int_equal(storage_bundle_begin(s, "ses", 0, 0), 0);
	assert_int_equal(storage_bundle_begin(s, "ses", 0, 0), ERR_INTERNAL);
	assert_true(put_bundled(s, "ses/a", 100, 1, 100, &b, &o));
	assert_int_equal(b, 1);
	assert_int_equal(storage_bundle_end(s), 0);
	assert_int_equal(storage_bundle_begin(s, "ses", 0, 0), 0);
	assert_true(put_bundled(s, "ses/b", 100, 2, 100, &b, &o));
	assert_int_equal(b, 2);
	assert_true(o == 0);
	/* a writer freed without close leaves nothing, not even a record */
	StorageWriteOpts ns = {.no_sync = true};
	assert_int_equal(storage_write_open(s, &w, "ses/dropped", &ns), 0);
	assert_int_equal(io_writer_write(w, "xyz", 3), 0);
	io_writer_free(w);
	assert_false(storage_bundle_take(s, "ses/dropped", &b, &o));
	assert_int_equal(storage_bundle_end(s), 0);
	assert_list(s, "ses/bundles", "000001,000002");
	assert_true(storage_info(s, "ses/bundles/000002", &info) == 0 && info.size == 100);

	/* abandoned: the current bundle never shows */
	assert_int_equal(storage_bundle_begin(s, "ses", 0, 0), 0);
	assert_true(put_bundled(s, "ses/c", 100, 3, 100, &b, &o));
	assert_int_equal(b, 3);
	storage_bundle_abandon(s);
	assert_list(s, "ses/bundles", "000001,000002");
	assert_absent(s, "ses/c");

	/* aliases: replaced by a later one; a missing bundle or one too short makes the alias absent */
	assert_int_equal(storage_alias_add(s, "ses/a", "ses/bundles/000002", 0, 100), 0);
	assert_seeded(s, "ses/a", 100, 2);
	assert_int_equal(storage_alias_add(s, "ses/a", "ses/bundles/000001", 0, 100), 0);
	assert_seeded(s, "ses/a", 100, 1);
	assert_int_equal(storage_alias_add(s, "ses/gone", "ses/bundles/000009", 0, 10), 0);
	assert_int_equal(storage_info(s, "ses/gone", &info), 0);
	assert_false(info.exists);
	assert_int_equal(storage_read_open(s, &r, "ses/gone"), ERR_NOT_FOUND);
	assert_int_equal(storage_alias_add(s, "ses/long", "ses/bundles/000001", 50, 51), 0);
	assert_int_equal(storage_info(s, "ses/long", &info), 0);
	assert_false(info.exists);
	err_clear();
	assert_int_equal(storage_read_open(s, &r, "ses/long"), ERR_CORRUPT);
	assert_null(r);
	assert_non_null(strstr(err_message(), "ses/bundles/000001"));
	/* bad alias paths and ranges */
	assert_int_equal(storage_alias_add(s, "../x", "ses/bundles/000001", 0, 1), ERR_INTERNAL);
	assert_int_equal(storage_alias_add(s, "ses/x", "", 0, 1), ERR_INTERNAL);
	assert_true(storage_alias_add(s, "ses/x", "ses/bundles/000001", UINT64_MAX, 2) < 0);
	/* many aliases: the map grows and finds them all */
	for (int i = 0; i < 5000; i++) {
		char p[48];
		snprintf(p, sizeof(p), "many/%d/%s", i, i % 7 ? "short" : "a/somewhat/longer/path/for/the/chunks");
		assert_int_equal(storage_alias_add(s, p, i % 2 ? "ses/bundles/000001" : "ses/bundles/000002",
		                                   (uint64_t)(i % 100), 0), 0);
	}
	for (int i = 0; i < 5000; i += 499) {
		char p[48];
		snprintf(p, sizeof(p), "many/%d/%s", i, i % 7 ? "short" : "a/somewhat/longer/path/for/the/chunks");
		assert_int_equal(storage_info(s, p, &info), 0);
		assert_true(info.exists && info.size == 0);
	}
}

/* Every test that holds for every driver. */
#define STORAGE_CONFORMANCE_TESTS(setup, teardown) \
	cmocka_unit_test_setup_teardown(conf_write_close_visible, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_free_without_close, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_overwrite_atomic, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_no_replace, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_concurrent_writers, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_read_missing, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_info, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_list, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_remove, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_remove_tree, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_copy, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_sync, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_probe, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_paths_refused, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_read_range, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_bundle_small_and_large, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_bundle_threads, setup, teardown), \
	cmocka_unit_test_setup_teardown(conf_bundle_sessions, setup, teardown)

#endif
