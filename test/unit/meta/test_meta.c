/*
 * test_meta.c - unit tests for src/meta: the SQLite metadata store.
 *
 * Invariants under test: meta_open leaves the schema at the last migration
 * and refuses a newer one; what is stored comes back field for field after
 * a reopen; lookups of missing names fail with ERR_NOT_FOUND and the
 * message a user sees; set lists filter and order as the header says; a
 * storage configuration's sealed key pair unseals (or fails naming it), and
 * a configuration that backup sets live in keeps its URI and stays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "meta/meta.h"
#include "meta/secret.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The number of migrations in src/meta/meta.c; raise it with each new one. */
#define N_MIGRATIONS meta_schema_latest()

typedef struct Fixture {
	char *dir;    /* temp directory */
	char *home;   /* dir/home: does not exist before meta_open */
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

static int
setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/tenback-test-meta-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	fx->home = xasprintf("%s/home", fx->dir);
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
	free(fx->dir);
	free(fx);
	return 0;
}

static Meta *
open_meta(Fixture *fx)
{
	if (meta_open(&fx->meta, fx->home) < 0)
		fail_msg("meta_open: %s", err_message());
	return fx->meta;
}

static void
reopen(Fixture *fx)
{
	meta_free(fx->meta);
	fx->meta = NULL;
	open_meta(fx);
}

static MetaCluster
cluster_fixture(const char *name)
{
	MetaCluster c = {
		.name = (char *)name,
		.conninfo = (char *)"host=/run/postgresql port=5432 dbname='it''s'",
		.pgdata = (char *)"/var/lib/postgresql/17/main",
		.storage = (char *)"file:///srv/backups",
		.compress = (char *)"zstd",
		.system_id = (char *)"7441234567890123456",
		.pg_version = 170002,
		.status = NULL, /* defaults to NORMAL */
		.created_at = (char *)"2026-11-26 15:08:50+00",
	};
	return c;
}

static MetaSet
set_fixture(const char *cluster, const char *tenant, const char *id, const char *status)
{
	MetaSet s = {
		.cluster = (char *)cluster,
		.tenant = (char *)tenant,
		.id = (char *)id,
		.type = (char *)"full",
		.method = (char *)"physical",
		.status = (char *)status,
		.pid = 4242,
		.storage_path = (char *)"tenback/7441234567890123456/shop/20261126-150850F",
		.start_time = (char *)"2026-11-26 15:08:50+00",
		.stop_time = NULL,
		.start_lsn = (char *)"0/2000028",
		.stop_lsn = NULL,
		.timeline = 1,
		.system_id = (char *)"7441234567890123456",
		.size_bytes = 5000000000LL,
		.stored_bytes = 1234567,
		.file_count = 987,
		.error = NULL,
	};
	return s;
}

static void
assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void
assert_set_equal(const MetaSet *got, const MetaSet *want)
{
	assert_string_equal(got->cluster, want->cluster);
	assert_string_equal(got->tenant, want->tenant);
	assert_string_equal(got->id, want->id);
	assert_string_equal(got->type, want->type);
	assert_string_equal(got->method, want->method);
	assert_string_equal(got->status, want->status);
	assert_true(got->pid == want->pid);
	assert_string_equal(got->storage_path, want->storage_path);
	assert_str_or_null(got->start_time, want->start_time);
	assert_str_or_null(got->stop_time, want->stop_time);
	assert_str_or_null(got->start_lsn, want->start_lsn);
	assert_str_or_null(got->stop_lsn, want->stop_lsn);
	assert_true(got->timeline == want->timeline);
	assert_str_or_null(got->system_id, want->system_id);
	assert_true(got->size_bytes == want->size_bytes);
	assert_true(got->stored_bytes == want->stored_bytes);
	assert_true(got->file_count == want->file_count);
	assert_str_or_null(got->error, want->error);
}

/* Set ids of a list joined with ',' (tenant:id). */
static char *
set_keys(Meta *m, const char *cluster, const char *tenant, const char *status)
{
	MetaSet *a = NULL;
	size_t n = 0;
	Buf b = BUF_INIT;

	if (meta_set_list(m, cluster, tenant, status, &a, &n) < 0)
		fail_msg("meta_set_list: %s", err_message());
	for (size_t set_idx = 0; set_idx < n; set_idx++)
		buf_printf(&b, "%s%s:%s", set_idx ? "," : "", a[set_idx].tenant, a[set_idx].id);
	meta_set_array_free(a, n);
	return buf_steal(&b);
}

static void
assert_sets(Meta *m, const char *cluster, const char *tenant, const char *status, const char *want)
{
	char *got = set_keys(m, cluster, tenant, status);

	if (strcmp(got, want) != 0)
		fail_msg("meta_set_list(%s, %s, %s) = \"%s\", want \"%s\"", cluster, tenant ? tenant : "NULL",
		         status ? status : "NULL", got, want);
	free(got);
}

/* ---- tests ---- */

static void
test_open_creates_home(void **state)
{
	Fixture *fx = *state;
	char *db = xasprintf("%s/metadata.db", fx->home);
	struct stat st;
	Meta *m;

	assert_int_equal(stat(fx->home, &st), -1);
	m = open_meta(fx);
	assert_int_equal(stat(fx->home, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(db, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(meta_schema_version(m), N_MIGRATIONS);

	/* an existing home and database are simply opened */
	reopen(fx);
	assert_int_equal(meta_schema_version(fx->meta), N_MIGRATIONS);
	free(db);
}

static void
test_open_fails_below_file(void **state)
{
	Fixture *fx = *state;
	char *file = xasprintf("%s/plain", fx->dir);
	char *home = xasprintf("%s/plain/home", fx->dir);
	FILE *f = fopen(file, "w");
	Meta *m = (Meta *)(uintptr_t)1;

	assert_non_null(f);
	fclose(f);
	err_clear();
	assert_true(meta_open(&m, home) < 0);
	assert_null(m);
	assert_non_null(strstr(err_message(), "could not create tenback home"));
	assert_non_null(strstr(err_message(), home));
	assert_string_not_equal(err_hint_text(), "");
	free(file);
	free(home);
}

static void
test_reopen_keeps_data(void **state)
{
	Fixture *fx = *state;
	MetaCluster c = cluster_fixture("main");
	MetaSet s = set_fixture("main", "shop", "20261126-150850F", "completed");
	MetaCluster got;
	MetaSet *sets = NULL;
	size_t n = 0;

	open_meta(fx);
	assert_int_equal(meta_cluster_add(fx->meta, &c), 0);
	assert_int_equal(meta_set_insert(fx->meta, &s), 0);
	reopen(fx);

	assert_int_equal(meta_cluster_get(fx->meta, "main", &got), 0);
	assert_string_equal(got.name, "main");
	assert_string_equal(got.conninfo, c.conninfo);
	assert_string_equal(got.system_id, c.system_id);
	meta_cluster_clear(&got);
	assert_int_equal(meta_set_list(fx->meta, "main", NULL, NULL, &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_set_equal(&sets[0], &s);
	meta_set_array_free(sets, n);
}

static void
test_cluster_add_get_list_remove(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster c = cluster_fixture("zeta");
	MetaCluster got;
	MetaCluster *list = NULL;
	size_t n = 99;

	assert_int_equal(meta_cluster_list(m, &list, &n), 0);
	assert_int_equal(n, 0);
	meta_cluster_array_free(list, n);

	assert_int_equal(meta_cluster_add(m, &c), 0);
	c = cluster_fixture("alpha");
	c.status = (char *)"UPGRADING";
	c.pg_version = 150004;
	assert_int_equal(meta_cluster_add(m, &c), 0);

	assert_int_equal(meta_cluster_get(m, "zeta", &got), 0);
	assert_string_equal(got.name, "zeta");
	assert_string_equal(got.conninfo, "host=/run/postgresql port=5432 dbname='it''s'");
	assert_string_equal(got.pgdata, "/var/lib/postgresql/17/main");
	assert_string_equal(got.storage, "file:///srv/backups");
	assert_string_equal(got.compress, "zstd");
	assert_string_equal(got.system_id, "7441234567890123456");
	assert_int_equal(got.pg_version, 170002);
	assert_string_equal(got.status, "NORMAL");
	assert_string_equal(got.created_at, "2026-11-26 15:08:50+00");
	meta_cluster_clear(&got);
	assert_null(got.name);
	meta_cluster_clear(NULL);

	assert_int_equal(meta_cluster_get(m, "alpha", &got), 0);
	assert_string_equal(got.status, "UPGRADING");
	assert_int_equal(got.pg_version, 150004);
	meta_cluster_clear(&got);

	/* ordered by name */
	assert_int_equal(meta_cluster_list(m, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "alpha");
	assert_string_equal(list[1].name, "zeta");
	assert_string_equal(list[1].pgdata, "/var/lib/postgresql/17/main");
	meta_cluster_array_free(list, n);

	assert_int_equal(meta_cluster_remove(m, "zeta"), 0);
	assert_int_equal(meta_cluster_get(m, "zeta", &got), ERR_NOT_FOUND);
	assert_int_equal(meta_cluster_list(m, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "alpha");
	meta_cluster_array_free(list, n);
}

static void
test_cluster_duplicate(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster c = cluster_fixture("main");
	MetaCluster got;

	assert_int_equal(meta_cluster_add(m, &c), 0);
	c.pgdata = (char *)"/elsewhere";
	err_clear();
	assert_int_equal(meta_cluster_add(m, &c), ERR_EXISTS);
	assert_int_equal(err_code(), ERR_EXISTS);
	assert_string_equal(err_message(), "cluster \"main\" already exists");
	/* the first registration is untouched */
	assert_int_equal(meta_cluster_get(m, "main", &got), 0);
	assert_string_equal(got.pgdata, "/var/lib/postgresql/17/main");
	meta_cluster_clear(&got);
}

static void
test_cluster_missing(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster got;

	memset(&got, 0xab, sizeof(got));
	err_clear();
	assert_int_equal(meta_cluster_get(m, "x", &got), ERR_NOT_FOUND);
	assert_int_equal(err_code(), ERR_NOT_FOUND);
	assert_string_equal(err_message(), "cluster \"x\" does not exist");
	assert_non_null(strstr(err_hint_text(), "tenback cluster list"));
	/* out is left empty, safe to clear */
	assert_null(got.name);
	meta_cluster_clear(&got);

	err_clear();
	assert_int_equal(meta_cluster_remove(m, "x"), ERR_NOT_FOUND);
	assert_string_equal(err_message(), "cluster \"x\" does not exist");
}

/* A cluster with a required field missing is invalid input, not a duplicate. */
static void
test_cluster_add_incomplete_is_not_exists(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster c = cluster_fixture("main");
	MetaCluster *list = NULL;
	size_t n = 0;
	int rc;

	c.created_at = NULL;
	rc = meta_cluster_add(m, &c);
	assert_true(rc < 0);
	assert_int_not_equal(rc, ERR_EXISTS);
	assert_null(strstr(err_message(), "already exists"));
	assert_int_equal(meta_cluster_list(m, &list, &n), 0);
	assert_int_equal(n, 0);
	meta_cluster_array_free(list, n);
}

/* A set of an unregistered cluster is refused, and not as a duplicate. */
static void
test_set_insert_unknown_cluster(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaSet s = set_fixture("ghost", "shop", "20261126-120000F", "running");
	int rc;

	rc = meta_set_insert(m, &s);
	assert_true(rc < 0);
	assert_sets(m, "ghost", NULL, NULL, "");
	assert_int_not_equal(rc, ERR_EXISTS);
}

static void
test_set_insert_update_list(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster c = cluster_fixture("main");
	MetaCluster c2 = cluster_fixture("other");
	MetaSet s;
	MetaSet *sets = NULL;
	size_t n = 0;

	assert_int_equal(meta_cluster_add(m, &c), 0);
	assert_int_equal(meta_cluster_add(m, &c2), 0);
	/* inserted out of order */
	s = set_fixture("main", "shop", "20261126-120000F", "completed");
	assert_int_equal(meta_set_insert(m, &s), 0);
	s = set_fixture("main", "*", "20261126-110000F", "failed");
	s.error = (char *)"could not connect";
	assert_int_equal(meta_set_insert(m, &s), 0);
	s = set_fixture("main", "shop", "20261126-100000F", "completed");
	assert_int_equal(meta_set_insert(m, &s), 0);
	s = set_fixture("main", "crm", "20261126-130000F", "running");
	assert_int_equal(meta_set_insert(m, &s), 0);
	s = set_fixture("other", "shop", "20261126-090000F", "completed");
	assert_int_equal(meta_set_insert(m, &s), 0);

	/* ordered by id; filters by tenant and status; other clusters never listed */
	assert_sets(m, "main", NULL, NULL,
	            "shop:20261126-100000F,*:20261126-110000F,shop:20261126-120000F,crm:20261126-130000F");
	assert_sets(m, "main", "shop", NULL, "shop:20261126-100000F,shop:20261126-120000F");
	assert_sets(m, "main", NULL, "completed", "shop:20261126-100000F,shop:20261126-120000F");
	assert_sets(m, "main", "*", "failed", "*:20261126-110000F");
	assert_sets(m, "main", "crm", "completed", "");
	assert_sets(m, "main", "nobody", NULL, "");
	assert_sets(m, "other", NULL, NULL, "shop:20261126-090000F");
	assert_sets(m, "unknown", NULL, NULL, "");

	/* every field comes back */
	assert_int_equal(meta_set_list(m, "main", "*", NULL, &sets, &n), 0);
	assert_int_equal(n, 1);
	s = set_fixture("main", "*", "20261126-110000F", "failed");
	s.error = (char *)"could not connect";
	assert_set_equal(&sets[0], &s);
	meta_set_array_free(sets, n);

	/* update replaces every column of that row only */
	s = set_fixture("main", "crm", "20261126-130000F", "completed");
	s.pid = 0;
	s.stop_time = (char *)"2026-11-26 13:10:00+00";
	s.stop_lsn = (char *)"0/3000100";
	s.size_bytes = 42;
	s.file_count = 3;
	assert_int_equal(meta_set_update(m, &s), 0);
	assert_int_equal(meta_set_list(m, "main", "crm", NULL, &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_set_equal(&sets[0], &s);
	meta_set_array_free(sets, n);
	assert_sets(m, "main", NULL, "running", "");
	assert_sets(m, "main", NULL, "completed",
	            "shop:20261126-100000F,shop:20261126-120000F,crm:20261126-130000F");

	/* the same id in another tenant is another set; a duplicate key is not */
	s = set_fixture("main", "crm", "20261126-120000F", "running");
	assert_int_equal(meta_set_insert(m, &s), 0);
	s = set_fixture("main", "shop", "20261126-120000F", "running");
	assert_int_equal(meta_set_insert(m, &s), ERR_EXISTS);
	assert_sets(m, "main", NULL, "running", "crm:20261126-120000F");

	/* delete */
	assert_int_equal(meta_set_delete(m, "main", "shop", "20261126-100000F"), 0);
	assert_sets(m, "main", "shop", NULL, "shop:20261126-120000F");
}

static void
test_cluster_remove_cascades(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster c = cluster_fixture("main");
	MetaSet s = set_fixture("main", "shop", "20261126-120000F", "completed");

	assert_int_equal(meta_cluster_add(m, &c), 0);
	assert_int_equal(meta_set_insert(m, &s), 0);
	assert_int_equal(meta_cluster_remove(m, "main"), 0);
	assert_sets(m, "main", NULL, NULL, "");
	/* registering the name again starts empty */
	assert_int_equal(meta_cluster_add(m, &c), 0);
	assert_sets(m, "main", NULL, NULL, "");
}

static void
test_newer_schema_refused(void **state)
{
	Fixture *fx = *state;
	char *db_path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;
	Meta *m = (Meta *)(uintptr_t)1;
	char want[64];

	open_meta(fx);
	meta_free(fx->meta);
	fx->meta = NULL;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	char *sql = xasprintf("PRAGMA user_version = %d", N_MIGRATIONS + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	sqlite3_close(db);

	err_clear();
	assert_int_equal(meta_open(&m, fx->home), ERR_UNSUPPORTED);
	assert_null(m);
	assert_int_equal(err_code(), ERR_UNSUPPORTED);
	snprintf(want, sizeof(want), "schema version %d, newer", N_MIGRATIONS + 1);
	assert_non_null(strstr(err_message(), want));
	assert_non_null(strstr(err_message(), db_path));
	assert_string_equal(err_hint_text(), "Upgrade tenback.");
	free(db_path);
}

/* A storage configuration whose secret is plain, sealed with the home's key. */
static void
put_storage(Meta *m, const char *home, const char *name, const char *uri, const char *plain)
{
	MetaStorage st = {.name = (char *)name, .uri = (char *)uri};

	if (plain)
		assert_int_equal(secret_seal(home, (const uint8_t *)plain, strlen(plain), &st.secret, &st.secret_len), 0);
	if (meta_storage_put(m, &st) < 0)
		fail_msg("meta_storage_put: %s", err_message());
	free(st.secret);
}

static int
keys_of(Meta *m, const char *name, char **access, char **secret)
{
	MetaStorage st = {0};
	int rc;

	assert_int_equal(meta_storage_get(m, name, &st), 0);
	rc = meta_storage_keys(m, &st, access, secret);
	meta_storage_clear(&st);
	return rc;
}

static void
test_storage_keys(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	char *ak = NULL, *sk = NULL;
	char *key_path = xasprintf("%s/%s", fx->home, SECRET_KEY_FILE);
	FILE *f;

	put_storage(m, fx->home, "s3main", "s3://b/p?endpoint=http://127.0.0.1:9&region=us-east-1",
	            "{\"access_key\":\"AKIA1\",\"secret_key\":\"s3cr\\\"et\"}");
	assert_int_equal(keys_of(m, "s3main", &ak, &sk), 0);
	assert_string_equal(ak, "AKIA1");
	assert_string_equal(sk, "s3cr\"et");
	free(ak);
	free(sk);

	/* none sealed: both NULL; one key only: the other NULL */
	put_storage(m, fx->home, "plain", "file:///srv/b", NULL);
	assert_int_equal(keys_of(m, "plain", &ak, &sk), 0);
	assert_null(ak);
	assert_null(sk);
	put_storage(m, fx->home, "half", "file:///srv/b", "{\"access_key\":null,\"secret_key\":\"x\"}");
	assert_int_equal(keys_of(m, "half", &ak, &sk), 0);
	assert_null(ak);
	assert_string_equal(sk, "x");
	free(sk);

	/* not what the API seals */
	put_storage(m, fx->home, "garbled", "file:///srv/b", "access\nsecret");
	assert_int_equal(keys_of(m, "garbled", &ak, &sk), ERR_CORRUPT);
	assert_string_equal(err_message(), "the secret of storage configuration \"garbled\" is malformed");
	assert_null(ak);
	assert_null(sk);

	/* another master key: the secret does not unseal, and the error names the configuration */
	assert_int_equal(unlink(key_path), 0);
	f = fopen(key_path, "w");
	assert_non_null(f);
	fputs("0123456789abcdef0123456789abcdef", f);
	fclose(f);
	assert_int_equal(chmod(key_path, 0600), 0);
	assert_int_equal(keys_of(m, "s3main", &ak, &sk), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "could not unseal the secret of storage configuration \"s3main\""));
	assert_non_null(strstr(err_hint_text(), "enter the storage's keys again"));
	assert_null(ak);
	assert_null(sk);
	free(key_path);
}

static void
test_storage_with_sets_stays(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaCluster c = cluster_fixture("main");
	MetaSet s = set_fixture("main", "shop", "20261126-120000F", "completed");
	MetaStorage got = {0};

	assert_int_equal(meta_cluster_add(m, &c), 0);
	put_storage(m, fx->home, "s3main", "s3://b/p", NULL);
	put_storage(m, fx->home, "spare", "s3://b/q", NULL);
	s.storage = (char *)"s3main";
	assert_int_equal(meta_set_insert(m, &s), 0);
	s = set_fixture("main", "shop", "20261126-130000F", "failed");
	s.storage = (char *)"spare";
	assert_int_equal(meta_set_insert(m, &s), 0);

	assert_int_equal(meta_storage_remove(m, "s3main"), ERR_INVALID);
	assert_string_equal(err_message(), "storage configuration \"s3main\" holds backup sets");
	assert_string_equal(err_detail_text(), "1 backup set(s) were written to it.");
	/* new keys for the same place: fine; another place: refused */
	put_storage(m, fx->home, "s3main", "s3://b/p", "{\"access_key\":\"a\",\"secret_key\":\"b\"}");
	{
		MetaStorage moved = {.name = (char *)"s3main", .uri = (char *)"s3://other/p"};
		assert_int_equal(meta_storage_put(m, &moved), ERR_INVALID);
		assert_non_null(strstr(err_message(), "its URI cannot change"));
	}
	assert_int_equal(meta_storage_get(m, "s3main", &got), 0);
	assert_string_equal(got.uri, "s3://b/p");
	assert_non_null(got.secret);
	meta_storage_clear(&got);

	/* a failed attempt holds nothing */
	assert_int_equal(meta_storage_remove(m, "spare"), 0);
	/* once its sets are gone, it goes */
	assert_int_equal(meta_set_delete(m, "main", "shop", "20261126-120000F"), 0);
	assert_int_equal(meta_storage_remove(m, "s3main"), 0);
	assert_int_equal(meta_storage_get(m, "s3main", &got), ERR_NOT_FOUND);
}

static void
add_auth(Meta *m, const char *id, const char *kind, const char *user, int64_t expires_at)
{
	MetaAuth a = {.id = (char *)id, .kind = (char *)kind, .user_name = (char *)user, .expires_at = expires_at};

	if (strcmp(kind, "session") == 0)
		a.csrf = (char *)"csrf-token";
	else
		a.label = (char *)"ci";
	assert_int_equal(meta_auth_add(m, &a), 0);
}

/* Admins list live sessions and tokens and revoke one (by a prefix of its id) or all of a user's. */
static void
test_auth_list_and_revoke(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	MetaUser ann = {.name = (char *)"ann", .role = (char *)"admin", .password_hash = (char *)"h"};
	MetaUser bob = {.name = (char *)"bob", .role = (char *)"operator", .password_hash = (char *)"h"};
	MetaAuth *list = NULL, got = {0};
	size_t n = 0;

	assert_int_equal(meta_user_add(m, &ann), 0);
	assert_int_equal(meta_user_add(m, &bob), 0);
	add_auth(m, "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111", "session", "ann", 2000);
	add_auth(m, "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222", "session", "bob", 2000);
	add_auth(m, "bbbb2222cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333", "token", "bob", 0);
	add_auth(m, "dddd4444dddd4444dddd4444dddd4444dddd4444dddd4444dddd4444dddd4444", "session", "bob", 500);

	/* the expired one is not listed; no CSRF token in a listing */
	assert_int_equal(meta_auth_list(m, NULL, 1000, &list, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_null(list[i].csrf);
	meta_auth_array_free(list, n);
	assert_int_equal(meta_auth_list(m, "bob", 1000, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].role, "operator");
	meta_auth_array_free(list, n);

	/* a prefix: malformed, ambiguous, unknown, then one */
	assert_int_equal(meta_auth_revoke(m, "bbbb", &got), ERR_INVALID);
	assert_int_equal(meta_auth_revoke(m, "BBBB2222", &got), ERR_INVALID);
	assert_int_equal(meta_auth_revoke(m, "bbbb2222", &got), ERR_INVALID);
	assert_non_null(strstr(err_message(), "ambiguous"));
	assert_int_equal(meta_auth_revoke(m, "eeee5555", &got), ERR_NOT_FOUND);
	assert_int_equal(meta_auth_revoke(m, "bbbb2222cccc", &got), 0);
	assert_string_equal(got.kind, "token");
	assert_string_equal(got.user_name, "bob");
	meta_auth_clear(&got);
	assert_int_equal(meta_auth_get(m, "bbbb2222cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333", &got),
	                 ERR_NOT_FOUND);

	/* all of bob's (the expired one too); ann's stays */
	assert_int_equal(meta_auth_revoke_user(m, "bob", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(meta_auth_list(m, NULL, 1000, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].user_name, "ann");
	meta_auth_array_free(list, n);
}

/* A home others can look into is refused (metadata and master key inside), named with a hint. */
static void
test_open_home_open_to_others_refused(void **state)
{
	Fixture *fx = *state;
	Meta *m = open_meta(fx);
	char *want = xasprintf("tenback home \"%s\" is accessible by group or others", fx->home);

	meta_free(m);
	fx->meta = NULL;
	assert_int_equal(chmod(fx->home, 0750), 0);
	assert_int_equal(meta_open(&m, fx->home), ERR_PERMISSION);
	assert_null(m);
	assert_string_equal(err_message(), want);
	assert_non_null(strstr(err_hint_text(), "chmod 700"));
	assert_int_equal(chmod(fx->home, 0700), 0);
	assert_int_equal(meta_open(&m, fx->home), 0);
	meta_free(m);
	free(want);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_home_open_to_others_refused),
		T(test_open_creates_home),
		T(test_open_fails_below_file),
		T(test_reopen_keeps_data),
		T(test_cluster_add_get_list_remove),
		T(test_cluster_duplicate),
		T(test_cluster_missing),
		T(test_cluster_add_incomplete_is_not_exists),
		T(test_set_insert_unknown_cluster),
		T(test_set_insert_update_list),
		T(test_cluster_remove_cascades),
		T(test_newer_schema_refused),
		T(test_storage_keys),
		T(test_storage_with_sets_stays),
		T(test_auth_list_and_revoke),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
