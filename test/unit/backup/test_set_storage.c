/*
 * test_set_storage.c - unit tests for where a backup set's storage comes
 * from: the cluster's own storage, or a named storage configuration opened
 * with its own sealed key pair (cluster_storage_open, set_storage_open), and
 * deleting sets each from the storage it lives in (backup_set_delete).
 *
 * Invariants under test: a set row naming a storage configuration is read
 * and removed there and nowhere else; a chain deleted with its dependents
 * goes from its storage; an unknown configuration and a secret that does not
 * unseal fail naming them; a named S3 configuration gets its keys from the
 * metadata, never from the environment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/backup.h"
#include "backup/backup_int.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "meta/meta.h"
#include "meta/secret.h"
#include "storage/storage.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYSID "7441234567890123456"

typedef struct Fixture {
	char *dir;
	char *home;
	char *own;     /* the cluster's storage root */
	char *other;   /* the root of storage configuration "other" */
	Meta *meta;
} Fixture;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
put_storage(Fixture *fx, const char *name, const char *uri, const char *plain)
{
	MetaStorage st = {.name = (char *)name, .uri = (char *)uri};

	if (plain)
		assert_int_equal(secret_seal(fx->home, (const uint8_t *)plain, strlen(plain), &st.secret, &st.secret_len), 0);
	if (meta_storage_put(fx->meta, &st) < 0)
		fail_msg("meta_storage_put: %s", err_message());
	free(st.secret);
}

static int
setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/tenback-test-setstorage-XXXXXX";
	MetaCluster c = {
		.name = (char *)"main",
		.conninfo = (char *)"host=/nonexistent",
		.pgdata = (char *)"/nonexistent",
		.compress = (char *)"zstd",
		.system_id = (char *)SYSID,
		.pg_version = 170000,
		.created_at = (char *)"2026-11-26 15:00:00+00",
	};
	char *uri;

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	fx->home = xasprintf("%s/home", fx->dir);
	fx->own = xasprintf("%s/own", fx->dir);
	fx->other = xasprintf("%s/other", fx->dir);
	if (mkdir(fx->own, 0700) < 0 || mkdir(fx->other, 0700) < 0)
		return -1;
	if (meta_open(&fx->meta, fx->home) < 0)
		return -1;
	c.storage = xasprintf("file://%s", fx->own);
	if (meta_cluster_add(fx->meta, &c) < 0)
		return -1;
	free(c.storage);
	uri = xasprintf("file://%s", fx->other);
	put_storage(fx, "other", uri, "{\"access_key\":\"a\",\"secret_key\":\"b\"}");
	free(uri);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *fx = *state;

	meta_free(fx->meta);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->home);
	free(fx->own);
	free(fx->other);
	free(fx->dir);
	free(fx);
	return 0;
}

/* A completed set: its row, and a manifest plus a data file under root. */
static void
add_set(Fixture *fx, const char *root, const char *storage, const char *id, const char *parent)
{
	char *dir = manifest_set_dir(SYSID, "shop", id);
	char *cmd = xasprintf("mkdir -p '%s/%s/data' && echo m > '%s/%s/manifest' && echo d > '%s/%s/data/f'", root,
	                      dir, root, dir, root, dir);
	MetaSet s = {
		.cluster = (char *)"main",
		.tenant = (char *)"shop",
		.id = (char *)id,
		.type = (char *)(parent ? "incremental" : "full"),
		.method = (char *)"physical",
		.status = (char *)"completed",
		.storage_path = dir,
		.start_time = (char *)"2026-11-26 15:00:00+00",
		.stop_time = (char *)"2026-11-26 15:01:00+00",
		.timeline = 1,
		.system_id = (char *)SYSID,
		.parent = (char *)parent,
		.storage = (char *)storage,
	};

	assert_int_equal(system(cmd), 0);
	if (meta_set_insert(fx->meta, &s) < 0)
		fail_msg("meta_set_insert: %s", err_message());
	free(cmd);
	free(dir);
}

static bool
set_on_disk(const char *root, const char *id)
{
	char *dir = manifest_set_dir(SYSID, "shop", id);
	char *path = xasprintf("%s/%s", root, dir);
	struct stat st;
	bool there = stat(path, &st) == 0;

	free(path);
	free(dir);
	return there;
}

static void
get_set(Fixture *fx, const char *id, MetaSet *out)
{
	if (backup_find_set(fx->meta, "main", "shop", id, out) < 0)
		fail_msg("backup_find_set: %s", err_message());
}

static void
test_open_by_set(void **state)
{
	Fixture *fx = *state;
	MetaCluster c = {0};
	MetaSet row = {0};
	Storage *s = NULL;
	char *want;

	add_set(fx, fx->own, NULL, "20261126-100000F", NULL);
	add_set(fx, fx->other, "other", "20261126-110000F", NULL);
	assert_int_equal(meta_cluster_get(fx->meta, "main", &c), 0);

	get_set(fx, "20261126-100000F", &row);
	assert_int_equal(set_storage_open(fx->meta, &c, &row, &s), 0);
	want = xasprintf("file://%s", fx->own);
	assert_string_equal(storage_uri(s), want);
	free(want);
	storage_free(s);
	meta_set_clear(&row);

	get_set(fx, "20261126-110000F", &row);
	assert_string_equal(row.storage, "other");
	assert_int_equal(set_storage_open(fx->meta, &c, &row, &s), 0);
	want = xasprintf("file://%s", fx->other);
	assert_string_equal(storage_uri(s), want);
	free(want);
	storage_free(s);
	meta_set_clear(&row);
	meta_cluster_clear(&c);
}

static void
test_open_errors(void **state)
{
	Fixture *fx = *state;
	MetaCluster c = {0};
	MetaSet row = {0};
	Storage *s = NULL;
	char *key_path = xasprintf("%s/%s", fx->home, SECRET_KEY_FILE);
	int fd;

	assert_int_equal(meta_cluster_get(fx->meta, "main", &c), 0);

	/* an unknown configuration */
	assert_int_equal(cluster_storage_open(fx->meta, &c, "nowhere", &s), ERR_NOT_FOUND);
	assert_string_equal(err_message(), "storage configuration \"nowhere\" does not exist");
	assert_null(s);
	add_set(fx, fx->other, "gone", "20261126-120000F", NULL);
	get_set(fx, "20261126-120000F", &row);
	assert_int_equal(set_storage_open(fx->meta, &c, &row, &s), ERR_NOT_FOUND);
	assert_string_equal(err_message(), "could not open storage \"gone\" of backup set \"20261126-120000F\": "
	                                   "storage configuration \"gone\" does not exist");
	meta_set_clear(&row);

	/* a secret that does not unseal: another master key */
	assert_int_equal(unlink(key_path), 0);
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
	close(fd);
	assert_int_equal(cluster_storage_open(fx->meta, &c, "other", &s), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "could not unseal the secret of storage configuration \"other\""));
	assert_null(s);
	meta_cluster_clear(&c);
	free(key_path);
}

/* A named S3 configuration is opened with its sealed keys: without them
 * (and with no AWS_* in the environment) it cannot be opened at all. */
static void
test_named_s3_uses_sealed_keys(void **state)
{
	Fixture *fx = *state;
	MetaCluster c = {0};
	Storage *s = NULL;

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	put_storage(fx, "s3keys", "s3://bucket/p?endpoint=http://127.0.0.1:9&region=us-east-1",
	            "{\"access_key\":\"AKIAUNIT\",\"secret_key\":\"unit-secret\"}");
	put_storage(fx, "s3bare", "s3://bucket/p?endpoint=http://127.0.0.1:9&region=us-east-1", NULL);
	assert_int_equal(meta_cluster_get(fx->meta, "main", &c), 0);

	if (cluster_storage_open(fx->meta, &c, "s3keys", &s) < 0)
		fail_msg("named S3 storage with sealed keys: %s", err_message());
	storage_free(s);
	s = NULL;
	assert_true(cluster_storage_open(fx->meta, &c, "s3bare", &s) < 0);
	assert_non_null(strstr(err_message(), "no S3 credentials"));
	assert_null(s);
	meta_cluster_clear(&c);
}

static void
test_delete_from_own_storage(void **state)
{
	Fixture *fx = *state;
	StrList deleted = {0};

	add_set(fx, fx->own, NULL, "20261126-100000F", NULL);
	add_set(fx, fx->other, "other", "20261126-110000F", NULL);
	/* the same id in the other storage would be removed if delete looked there */
	add_set(fx, fx->other, "other", "20261126-115000F", NULL);

	assert_int_equal(backup_set_delete(fx->meta, "main", "shop", "20261126-110000F", false, &deleted), 0);
	assert_int_equal(deleted.count, 1);
	assert_false(set_on_disk(fx->other, "20261126-110000F"));
	assert_true(set_on_disk(fx->other, "20261126-115000F"));
	assert_true(set_on_disk(fx->own, "20261126-100000F"));
	strlist_free(&deleted);

	assert_int_equal(backup_set_delete(fx->meta, "main", "shop", "20261126-100000F", false, &deleted), 0);
	assert_false(set_on_disk(fx->own, "20261126-100000F"));
	assert_true(set_on_disk(fx->other, "20261126-115000F"));
	strlist_free(&deleted);
}

static void
test_delete_chain_with_dependents(void **state)
{
	Fixture *fx = *state;
	StrList deleted = {0};
	MetaSet *sets = NULL;
	size_t n = 0;

	add_set(fx, fx->other, "other", "20261126-100000F", NULL);
	add_set(fx, fx->other, "other", "20261126-101000I", "20261126-100000F");
	add_set(fx, fx->other, "other", "20261126-102000I", "20261126-101000I");
	add_set(fx, fx->own, NULL, "20261126-103000F", NULL);

	assert_int_equal(backup_set_delete(fx->meta, "main", "shop", "20261126-100000F", false, &deleted), ERR_INVALID);
	assert_true(set_on_disk(fx->other, "20261126-100000F"));
	assert_int_equal(backup_set_delete(fx->meta, "main", "shop", "20261126-100000F", true, &deleted), 0);
	assert_int_equal(deleted.count, 3);
	assert_string_equal(deleted.items[0], "20261126-102000I"); /* leaves first */
	assert_false(set_on_disk(fx->other, "20261126-100000F"));
	assert_false(set_on_disk(fx->other, "20261126-101000I"));
	assert_false(set_on_disk(fx->other, "20261126-102000I"));
	assert_true(set_on_disk(fx->own, "20261126-103000F"));
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", NULL, &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_null(sets[0].storage);
	meta_set_array_free(sets, n);
	strlist_free(&deleted);
	/* with its sets gone, the configuration can go */
	assert_int_equal(meta_storage_remove(fx->meta, "other"), 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_by_set),
		T(test_open_errors),
		T(test_named_s3_uses_sealed_keys),
		T(test_delete_from_own_storage),
		T(test_delete_chain_with_dependents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
