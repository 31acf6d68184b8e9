/*
 * test_probe.c - unit tests for storage_test() (src/storage/probe.c), the
 * console's Test button.
 *
 * Invariants under test: a writable storage passes every check in order,
 * each named and timed, with the free space known; a failing storage stops
 * at the first failed check with a message that says why, later checks
 * absent; the probe object never stays behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "storage/storage.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Fixture {
	char *dir;
} Fixture;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/tenback-test-probe-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *fx = *state;

	chmod(fx->dir, 0700);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->dir);
	free(fx);
	return 0;
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
writable_dir_all_ok(void **state)
{
	Fixture *fx = *state;
	static const char *const names[] = {"open", "write", "read back", "list", "delete", "free space"};
	char *root = xasprintf("%s/backups", fx->dir);
	char *uri = xasprintf("file://%s", root);
	StorageTestReport r;

	assert_int_equal(storage_test(uri, &r), 0);
	for (int i = 0; i < r.n_checks; i++)
		if (!r.checks[i].ok)
			fail_msg("check \"%s\" failed: %s", r.checks[i].name, r.checks[i].message);
	assert_true(r.ok);
	assert_int_equal(r.n_checks, 6);
	for (int i = 0; i < 6; i++) {
		assert_string_equal(r.checks[i].name, names[i]);
		assert_true(r.checks[i].elapsed_ms >= 0);
		assert_true(r.checks[i].message[0] != '\0');
	}
	assert_true(r.free_bytes > 0);
	assert_non_null(strstr(r.checks[5].message, " free"));
	/* the root was created and the probe object is gone */
	assert_int_equal(count_entries(root), 0);
	/* twice in a row: no leftovers in the way */
	assert_int_equal(storage_test(uri, &r), 0);
	assert_true(r.ok);
	assert_int_equal(count_entries(root), 0);
	free(uri);
	free(root);
}

static void
root_under_regular_file(void **state)
{
	Fixture *fx = *state;
	char *file = xasprintf("%s/plain", fx->dir);
	char *uri = xasprintf("file://%s/plain/backups", fx->dir);
	StorageTestReport r;
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(storage_test(uri, &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.free_bytes, -1);
	/* the first failed check is the last one reported */
	assert_true(r.n_checks >= 1 && r.n_checks <= 2);
	for (int i = 0; i + 1 < r.n_checks; i++)
		assert_true(r.checks[i].ok);
	assert_false(r.checks[r.n_checks - 1].ok);
	assert_true(strcmp(r.checks[r.n_checks - 1].name, "open") == 0 ||
	            strcmp(r.checks[r.n_checks - 1].name, "write") == 0);
	/* clear: it names the path and says why */
	assert_non_null(strstr(r.checks[r.n_checks - 1].message, "plain"));
	assert_non_null(strstr(r.checks[r.n_checks - 1].message, "Not a directory"));
	free(uri);
	free(file);
}

static void
root_is_regular_file(void **state)
{
	Fixture *fx = *state;
	char *file = xasprintf("%s/plain", fx->dir);
	char *uri = xasprintf("file://%s", file);
	char *want = xasprintf("the root of storage \"%s\" is not a directory", uri);
	StorageTestReport r;
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(storage_test(uri, &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.n_checks, 1);
	assert_string_equal(r.checks[0].name, "open");
	assert_false(r.checks[0].ok);
	assert_string_equal(r.checks[0].message, want);
	free(want);
	free(uri);
	free(file);
}

static void
read_only_root_fails_write(void **state)
{
	Fixture *fx = *state;
	char *root, *uri;
	StorageTestReport r;

	if (geteuid() == 0)
		skip();   /* root writes anywhere */
	root = xasprintf("%s/ro", fx->dir);
	uri = xasprintf("file://%s", root);
	assert_int_equal(mkdir(root, 0500), 0);
	assert_int_equal(storage_test(uri, &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.n_checks, 2);
	assert_string_equal(r.checks[0].name, "open");
	assert_true(r.checks[0].ok);
	assert_string_equal(r.checks[1].name, "write");
	assert_false(r.checks[1].ok);
	assert_non_null(strstr(r.checks[1].message, "Permission denied"));
	chmod(root, 0700);
	assert_int_equal(count_entries(root), 0);
	free(uri);
	free(root);
}

static void
unsupported_scheme(void **state)
{
	StorageTestReport r;

	(void)state;
	assert_int_equal(storage_test("ftp://backup.example.com/tenback", &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.n_checks, 1);
	assert_string_equal(r.checks[0].name, "open");
	assert_false(r.checks[0].ok);
	assert_string_equal(r.checks[0].message, "storage type \"ftp\" is not supported. Use file:///absolute/path or "
	                                         "s3://bucket/prefix?endpoint=https://host&region=REGION.");
	assert_int_equal(r.free_bytes, -1);

	assert_int_equal(storage_test("file://relative/path", &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.n_checks, 1);
	assert_non_null(strstr(r.checks[0].message, "invalid storage URI \"file://relative/path\""));
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(writable_dir_all_ok),
		T(root_under_regular_file),
		T(root_is_regular_file),
		T(read_only_root_fails_write),
		T(unsupported_scheme),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
