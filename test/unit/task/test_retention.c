/*
 * test_retention.c - unit tests for src/task/retention.c, on a real
 * metadata home and a file:// storage in a temporary directory.
 *
 * Invariants under test: only completed sets that ended more than the
 * retention period ago are deleted; the newest full and everything built on
 * it stay whatever their age; a parent stays while a set that stays (also a
 * running one) builds on it; children go before parents; what is deleted
 * leaves both the store and the storage, and nothing else does; a logical
 * set is a full set that nothing builds on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "meta/meta.h"
#include "task/retention.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYSID "7441234567890123456"
#define DAY 86400

typedef struct Fixture {
	char *dir;
	char *home;
	char *store;
	Meta *meta;
	time_t now;
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
	char tmpl[] = "/tmp/tenback-test-retention-XXXXXX";
	char *uri;
	MetaCluster c = {0};
	struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 26, .tm_hour = 12};

	log_set_level(LOG_WARNING);
	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	fx->home = xasprintf("%s/home", fx->dir);
	fx->store = xasprintf("%s/store", fx->dir);
	fx->now = timegm(&tm);
	if (meta_open(&fx->meta, fx->home) < 0)
		return -1;
	uri = xasprintf("file://%s", fx->store);
	c.name = (char *)"main";
	c.conninfo = (char *)"host=/run/postgresql port=5432";
	c.pgdata = (char *)"/var/lib/postgresql/17/main";
	c.storage = uri;
	c.compress = (char *)"zstd";
	c.system_id = (char *)SYSID;
	c.pg_version = 170002;
	c.created_at = (char *)"2026-01-01 00:00:00+00";
	if (meta_cluster_add(fx->meta, &c) < 0) {
		free(uri);
		return -1;
	}
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
	free(fx->store);
	free(fx->dir);
	free(fx);
	return 0;
}

static char *
set_dir(Fixture *fx, const char *tenant, const char *id)
{
	return xasprintf("%s/tenback/" SYSID "/%s/%s", fx->store, tenant, id);
}

/* A set row of tenant, ended age_s seconds before now, with a manifest on storage. */
static void
add_set_method(Fixture *fx, const char *tenant, const char *id, const char *type, const char *status, int64_t age_s,
               const char *parent, const char *method)
{
	char stop[32], start[32];
	char *dir = set_dir(fx, tenant, id);
	char *path = xasprintf("%s/manifest", dir);
	char *rel = xasprintf("tenback/" SYSID "/%s/%s", tenant, id);
	char *cmd = xasprintf("mkdir -p '%s'", dir);
	FILE *f;
	MetaSet s = {0};

	time_format_utc(stop, sizeof(stop), fx->now - (time_t)age_s);
	time_format_utc(start, sizeof(start), fx->now - (time_t)age_s - 600);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"manifest\": \"a small one\"}\n", f);
	assert_int_equal(fclose(f), 0);

	s.cluster = (char *)"main";
	s.tenant = (char *)tenant;
	s.id = (char *)id;
	s.type = (char *)type;
	s.method = (char *)method;
	s.status = (char *)status;
	s.storage_path = rel;
	s.start_time = start;
	s.stop_time = strcmp(status, "completed") == 0 ? stop : NULL;
	s.start_lsn = (char *)"0/2000028";
	s.stop_lsn = (char *)"0/2000100";
	s.timeline = 1;
	s.system_id = (char *)SYSID;
	s.parent = (char *)parent;
	if (meta_set_insert(fx->meta, &s) < 0)
		fail_msg("meta_set_insert: %s", err_message());
	free(cmd);
	free(rel);
	free(path);
	free(dir);
}

static void
add_set(Fixture *fx, const char *tenant, const char *id, const char *type, const char *status, int64_t age_s,
        const char *parent)
{
	add_set_method(fx, tenant, id, type, status, age_s, parent, "physical");
}

/* The tenant's set ids in the store, comma-separated. */
static char *
set_ids(Fixture *fx, const char *tenant)
{
	MetaSet *sets = NULL;
	size_t n = 0;
	Buf b = BUF_INIT;

	if (meta_set_list(fx->meta, "main", tenant, NULL, &sets, &n) < 0)
		fail_msg("meta_set_list: %s", err_message());
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", sets[i].id);
	meta_set_array_free(sets, n);
	return buf_steal(&b);
}

static char *
joined(const StrList *l)
{
	Buf b = BUF_INIT;

	for (size_t i = 0; i < l->count; i++)
		buf_printf(&b, "%s%s", i ? "," : "", l->items[i]);
	return buf_steal(&b);
}

static void
assert_run(Fixture *fx, const char *tenant, int64_t days, const char *want_deleted, const char *want_left)
{
	StrList deleted = {0};
	char *got;

	if (retention_run(fx->meta, "main", tenant, days, fx->now, &deleted) < 0)
		fail_msg("retention_run: %s", err_message());
	got = joined(&deleted);
	assert_string_equal(got, want_deleted);
	free(got);
	got = set_ids(fx, tenant);
	assert_string_equal(got, want_left);
	free(got);
	strlist_free(&deleted);
}

static void
assert_on_storage(Fixture *fx, const char *tenant, const char *id, bool want)
{
	char *dir = set_dir(fx, tenant, id);
	struct stat st;

	if ((stat(dir, &st) == 0) != want)
		fail_msg("set directory %s: %s", dir, want ? "missing" : "still there");
	free(dir);
}

/* F1 I1 I2 | F2 I3: the old chain goes, leaves first; the newest chain stays, old as F2 is. */
static void
chains(void **state)
{
	Fixture *fx = *state;

	add_set(fx, "shop", "20261001-000000F", "full", "completed", 56 * DAY, NULL);
	add_set(fx, "shop", "20261010-000000F", "full", "completed", 47 * DAY, NULL);
	add_set(fx, "shop", "20261011-000000I", "incremental", "completed", 46 * DAY, "20261010-000000F");
	add_set(fx, "shop", "20261012-000000I", "incremental", "completed", 45 * DAY, "20261011-000000I");
	add_set(fx, "shop", "20261105-000000F", "full", "completed", 21 * DAY, NULL);
	add_set(fx, "shop", "20261124-000000I", "incremental", "completed", 2 * DAY, "20261105-000000F");
	/* a failed attempt is not retention's business; another tenant neither */
	add_set(fx, "shop", "20261002-000000F", "full", "failed", 55 * DAY, NULL);
	add_set(fx, "crm", "20261001-000000F", "full", "completed", 56 * DAY, NULL);
	add_set(fx, "crm", "20261002-000000F", "full", "completed", 55 * DAY, NULL);

	assert_run(fx, "shop", 7, "20261001-000000F,20261012-000000I,20261011-000000I,20261010-000000F",
	           "20261002-000000F,20261105-000000F,20261124-000000I");
	assert_on_storage(fx, "shop", "20261001-000000F", false);
	assert_on_storage(fx, "shop", "20261010-000000F", false);
	assert_on_storage(fx, "shop", "20261011-000000I", false);
	assert_on_storage(fx, "shop", "20261012-000000I", false);
	assert_on_storage(fx, "shop", "20261105-000000F", true);
	assert_on_storage(fx, "shop", "20261124-000000I", true);
	assert_on_storage(fx, "crm", "20261001-000000F", true);

	/* a second pass finds nothing more */
	assert_run(fx, "shop", 7, "", "20261002-000000F,20261105-000000F,20261124-000000I");
	/* with 30 days the old crm full goes, the newest stays */
	assert_run(fx, "crm", 30, "20261001-000000F", "20261002-000000F");
}

/* Logical sets are full sets nothing builds on: an expired one goes; when the newest
 * full set is logical it is the newest restorable chain, alone, and an old physical
 * chain expires. */
static void
logical_sets(void **state)
{
	Fixture *fx = *state;

	add_set_method(fx, "shop", "20261001-000000F", "full", "completed", 40 * DAY, NULL, "logical");
	add_set(fx, "shop", "20261010-000000F", "full", "completed", 30 * DAY, NULL);
	add_set(fx, "shop", "20261011-000000I", "incremental", "completed", 29 * DAY, "20261010-000000F");
	add_set_method(fx, "shop", "20261020-000000F", "full", "completed", 20 * DAY, NULL, "logical");
	assert_run(fx, "shop", 7, "20261001-000000F,20261011-000000I,20261010-000000F", "20261020-000000F");
	assert_on_storage(fx, "shop", "20261001-000000F", false);
	assert_on_storage(fx, "shop", "20261020-000000F", true);
	/* the only set, however old, stays */
	assert_run(fx, "shop", 7, "", "20261020-000000F");
}

/* The newest chain grows by incrementals on incrementals: all of it stays. */
static void
newest_chain_whole(void **state)
{
	Fixture *fx = *state;

	add_set(fx, "shop", "20260901-000000F", "full", "completed", 90 * DAY, NULL);
	add_set(fx, "shop", "20260902-000000I", "incremental", "completed", 89 * DAY, "20260901-000000F");
	add_set(fx, "shop", "20260903-000000I", "incremental", "completed", 88 * DAY, "20260902-000000I");
	assert_run(fx, "shop", 7, "", "20260901-000000F,20260902-000000I,20260903-000000I");
}

static void
only_old_full_kept(void **state)
{
	Fixture *fx = *state;

	add_set(fx, "shop", "20260801-000000F", "full", "completed", 100 * DAY, NULL);
	assert_run(fx, "shop", 1, "", "20260801-000000F");
	assert_on_storage(fx, "shop", "20260801-000000F", true);
}

/* F1 (old) <- I1 (recent), F2 newer than F1: I1 stays, so F1 does. */
static void
old_full_with_recent_incremental(void **state)
{
	Fixture *fx = *state;

	add_set(fx, "shop", "20261001-000000F", "full", "completed", 40 * DAY, NULL);
	add_set(fx, "shop", "20261106-000000F", "full", "completed", 20 * DAY, NULL);
	add_set(fx, "shop", "20261123-000000I", "incremental", "completed", 3 * DAY, "20261001-000000F");
	assert_run(fx, "shop", 7, "", "20261001-000000F,20261106-000000F,20261123-000000I");
	/* once the incremental is old too, both go, the incremental first */
	assert_run(fx, "shop", 2, "20261123-000000I,20261001-000000F", "20261106-000000F");
}

/* A running incremental on an expired full keeps it; a failed one does not. */
static void
running_child_keeps_parent(void **state)
{
	Fixture *fx = *state;

	add_set(fx, "shop", "20261001-000000F", "full", "completed", 40 * DAY, NULL);
	add_set(fx, "shop", "20261002-000000F", "full", "completed", 39 * DAY, NULL);
	add_set(fx, "shop", "20261110-000000F", "full", "completed", 16 * DAY, NULL);
	add_set(fx, "shop", "20261126-000000I", "incremental", "running", 0, "20261001-000000F");
	add_set(fx, "shop", "20261125-000000I", "incremental", "failed", 1 * DAY, "20261002-000000F");
	assert_run(fx, "shop", 7, "20261002-000000F",
	           "20261001-000000F,20261110-000000F,20261125-000000I,20261126-000000I");
}

/* "More than days ago": exactly at the boundary a set stays. */
static void
boundary(void **state)
{
	Fixture *fx = *state;

	add_set(fx, "shop", "20261118-000000F", "full", "completed", 8 * DAY + 1, NULL);
	add_set(fx, "shop", "20261119-000000F", "full", "completed", 7 * DAY, NULL);
	add_set(fx, "shop", "20261120-000000F", "full", "completed", 1 * DAY, NULL);
	assert_run(fx, "shop", 8, "20261118-000000F", "20261119-000000F,20261120-000000F");
	assert_run(fx, "shop", 7, "", "20261119-000000F,20261120-000000F");
	assert_run(fx, "shop", 6, "20261119-000000F", "20261120-000000F");
}

static void
invalid_days(void **state)
{
	Fixture *fx = *state;
	StrList deleted = {0};

	add_set(fx, "shop", "20261001-000000F", "full", "completed", 40 * DAY, NULL);
	assert_int_equal(retention_run(fx->meta, "main", "shop", 0, fx->now, &deleted), ERR_INVALID);
	assert_string_equal(err_message(), "invalid retention period: 0 days");
	assert_int_equal(retention_run(fx->meta, "main", "shop", -3, fx->now, &deleted), ERR_INVALID);
	assert_int_equal((int)deleted.count, 0);
	/* a huge period deletes nothing and does not overflow */
	assert_run(fx, "shop", INT64_MAX, "", "20261001-000000F");
	/* an unknown cluster: the store's error */
	assert_int_equal(retention_run(fx->meta, "nope", "shop", 7, fx->now, NULL), ERR_NOT_FOUND);
	assert_string_equal(err_message(), "cluster \"nope\" does not exist");
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(chains),
		T(logical_sets),
		T(newest_chain_whole),
		T(only_old_full_kept),
		T(old_full_with_recent_incremental),
		T(running_child_keeps_parent),
		T(boundary),
		T(invalid_days),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
