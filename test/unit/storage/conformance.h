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
	cmocka_unit_test_setup_teardown(conf_paths_refused, setup, teardown)

#endif
