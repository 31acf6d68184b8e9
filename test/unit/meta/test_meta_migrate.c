/*
 * test_meta_migrate.c - unit tests for the metadata store's migrations: a
 * database written by an older tenback opens in this one.
 *
 * Invariants under test: meta_open takes a schema-version-1 database (made
 * here by hand with migration 1's statements, as the first release wrote
 * it) to meta_schema_latest() with every row intact and the new columns
 * NULL; MetaSet.parent and MetaSet.storage (migration 6: the storage
 * configuration a set lives in) round-trip through insert, update, list and
 * a reopen; a database at version 5 keeps its rows at NULL storage when it
 * takes migration 6; a migration that fails is rolled back whole, leaving the version
 * where it was, and names its number.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "meta/meta.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What migration 9 adds, undone: a database as version 8 left it. */
#define UNDO_9 "DROP TABLE cluster_key; ALTER TABLE backup_set DROP COLUMN encryption_key;"
/* What migration 8 adds, undone: a database as version 7 left it. */
#define UNDO_8 "DROP TABLE notify_attempt; DROP TABLE notify_delivery; DROP TABLE notify_channel;" \
	" DROP TABLE alert; ALTER TABLE strategy DROP COLUMN alerts;"

/* Migration 1 of src/meta/meta.c, verbatim: what a version-1 database holds. */
static const char schema_v1[] =
	"CREATE TABLE cluster ("
	"  name TEXT PRIMARY KEY,"
	"  conninfo TEXT NOT NULL,"
	"  pgdata TEXT NOT NULL,"
	"  storage TEXT NOT NULL,"
	"  compress TEXT NOT NULL,"
	"  system_id TEXT NOT NULL,"
	"  pg_version INTEGER NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'NORMAL',"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE backup_set ("
	"  cluster TEXT NOT NULL REFERENCES cluster(name) ON DELETE CASCADE,"
	"  tenant TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  method TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  pid INTEGER,"
	"  storage_path TEXT NOT NULL,"
	"  start_time TEXT, stop_time TEXT, start_lsn TEXT, stop_lsn TEXT,"
	"  timeline INTEGER, system_id TEXT,"
	"  size_bytes INTEGER, stored_bytes INTEGER, file_count INTEGER,"
	"  error TEXT,"
	"  PRIMARY KEY (cluster, tenant, id));";

static const char rows_v1[] =
	"INSERT INTO cluster VALUES ('main', 'host=/run/postgresql dbname=''it''''s''', '/var/lib/postgresql/17/main',"
	"  'file:///srv/backups', 'zstd', '7441234567890123456', 170002, 'NORMAL', '2026-11-26 15:00:00+00');"
	"INSERT INTO backup_set VALUES ('main', 'shop', '20261126-150850F', 'full', 'physical', 'completed', NULL,"
	"  'tenback/7441234567890123456/shop/20261126-150850F', '2026-11-26 15:08:50+00', '2026-11-26 15:09:12+00',"
	"  '16/B374D848', '16/B5000060', 1, '7441234567890123456', 5000000000, 1234567, 987, NULL);"
	"INSERT INTO backup_set VALUES ('main', 'shop', '20261125-010000F', 'full', 'physical', 'failed', 77,"
	"  'tenback/7441234567890123456/shop/20261125-010000F', '2026-11-25 01:00:00+00', NULL,"
	"  '16/1000028', NULL, 1, '7441234567890123456', NULL, NULL, NULL, 'the backup process was interrupted');";

typedef struct Fixture {
	char *dir;
	char *home;
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
	char tmpl[] = "/tmp/tenback-test-migrate-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	fx->home = xasprintf("%s/home", fx->dir);
	if (mkdir(fx->home, 0700) < 0)
		return -1;
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

static void
exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

/* HOME/metadata.db as tenback 0.1 left it, plus `extra` SQL. */
static void
make_v1(Fixture *fx, const char *extra)
{
	char *path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "PRAGMA journal_mode = WAL");
	exec_sql(db, "BEGIN");
	exec_sql(db, schema_v1);
	exec_sql(db, rows_v1);
	if (extra)
		exec_sql(db, extra);
	exec_sql(db, "PRAGMA user_version = 1");
	exec_sql(db, "COMMIT");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	free(path);
}

static int
raw_user_version(Fixture *fx)
{
	char *path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return v;
}

static void
open_meta(Fixture *fx)
{
	if (meta_open(&fx->meta, fx->home) < 0)
		fail_msg("meta_open: %s", err_message());
}

static void
reopen(Fixture *fx)
{
	meta_free(fx->meta);
	fx->meta = NULL;
	open_meta(fx);
}

static void
test_migrate_from_v1(void **state)
{
	Fixture *fx = *state;
	MetaCluster c = {0};
	MetaSet *sets = NULL;
	size_t n = 0;

	make_v1(fx, NULL);
	assert_int_equal(raw_user_version(fx), 1);
	open_meta(fx);
	assert_int_equal(meta_schema_version(fx->meta), meta_schema_latest());
	assert_true(meta_schema_latest() >= 2);

	assert_int_equal(meta_cluster_get(fx->meta, "main", &c), 0);
	assert_string_equal(c.conninfo, "host=/run/postgresql dbname='it''s'");
	assert_string_equal(c.pgdata, "/var/lib/postgresql/17/main");
	assert_string_equal(c.storage, "file:///srv/backups");
	assert_string_equal(c.compress, "zstd");
	assert_string_equal(c.system_id, "7441234567890123456");
	assert_int_equal(c.pg_version, 170002);
	assert_string_equal(c.status, "NORMAL");
	assert_string_equal(c.created_at, "2026-11-26 15:00:00+00");
	meta_cluster_clear(&c);

	assert_int_equal(meta_set_list(fx->meta, "main", NULL, NULL, &sets, &n), 0);
	assert_int_equal(n, 2);
	/* ordered by id */
	assert_string_equal(sets[0].id, "20261125-010000F");
	assert_string_equal(sets[0].status, "failed");
	assert_int_equal(sets[0].pid, 77);
	assert_null(sets[0].stop_time);
	assert_null(sets[0].stop_lsn);
	assert_string_equal(sets[0].error, "the backup process was interrupted");
	assert_null(sets[0].parent);

	assert_string_equal(sets[1].cluster, "main");
	assert_string_equal(sets[1].tenant, "shop");
	assert_string_equal(sets[1].id, "20261126-150850F");
	assert_string_equal(sets[1].type, "full");
	assert_string_equal(sets[1].method, "physical");
	assert_string_equal(sets[1].status, "completed");
	assert_string_equal(sets[1].storage_path, "tenback/7441234567890123456/shop/20261126-150850F");
	assert_string_equal(sets[1].start_time, "2026-11-26 15:08:50+00");
	assert_string_equal(sets[1].stop_time, "2026-11-26 15:09:12+00");
	assert_string_equal(sets[1].start_lsn, "16/B374D848");
	assert_string_equal(sets[1].stop_lsn, "16/B5000060");
	assert_int_equal(sets[1].timeline, 1);
	assert_string_equal(sets[1].system_id, "7441234567890123456");
	assert_true(sets[1].size_bytes == 5000000000LL);
	assert_int_equal(sets[1].stored_bytes, 1234567);
	assert_int_equal(sets[1].file_count, 987);
	assert_null(sets[1].error);
	assert_null(sets[1].parent); /* the new column, NULL for old rows */
	assert_null(sets[0].storage);
	assert_null(sets[1].storage); /* old sets live in the cluster's own storage */
	meta_set_array_free(sets, n);

	/* the migrated database is the same after a reopen, and nothing runs twice */
	reopen(fx);
	assert_int_equal(meta_schema_version(fx->meta), meta_schema_latest());
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "completed", &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_null(sets[0].parent);
	meta_set_array_free(sets, n);
	meta_free(fx->meta);
	fx->meta = NULL;
	assert_int_equal(raw_user_version(fx), meta_schema_latest());
}

static void
test_parent_round_trip(void **state)
{
	Fixture *fx = *state;
	MetaSet *sets = NULL;
	size_t n = 0;
	MetaSet s = {
		.cluster = (char *)"main",
		.tenant = (char *)"shop",
		.id = (char *)"20261126-160000I",
		.type = (char *)"incremental",
		.method = (char *)"physical",
		.status = (char *)"running",
		.pid = 4242,
		.storage_path = (char *)"tenback/7441234567890123456/shop/20261126-160000I",
		.start_time = (char *)"2026-11-26 16:00:00+00",
		.timeline = 1,
		.system_id = (char *)"7441234567890123456",
		.parent = (char *)"20261126-150850F",
	};

	make_v1(fx, NULL);
	open_meta(fx);
	assert_int_equal(meta_set_insert(fx->meta, &s), 0);
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "running", &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sets[0].type, "incremental");
	assert_string_equal(sets[0].parent, "20261126-150850F");
	meta_set_array_free(sets, n);

	/* update keeps it, or changes it */
	s.status = (char *)"completed";
	s.pid = 0;
	s.parent = (char *)"20261126-155000I";
	assert_int_equal(meta_set_update(fx->meta, &s), 0);
	reopen(fx);
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "completed", &sets, &n), 0);
	assert_int_equal(n, 2);
	assert_null(sets[0].parent);
	assert_string_equal(sets[1].id, "20261126-160000I");
	assert_string_equal(sets[1].parent, "20261126-155000I");
	assert_int_equal(sets[1].pid, 0);
	meta_set_array_free(sets, n);

	/* and back to NULL */
	s.parent = NULL;
	assert_int_equal(meta_set_update(fx->meta, &s), 0);
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "completed", &sets, &n), 0);
	assert_null(sets[1].parent);
	meta_set_array_free(sets, n);
}

/* Migration 6 alone: a version-5 database (what the release before it
 * wrote) keeps its rows, their storage NULL; the column then round-trips. */
static void
test_set_storage_round_trip(void **state)
{
	Fixture *fx = *state;
	MetaSet *sets = NULL;
	size_t n = 0;
	char *path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;
	MetaSet s = {
		.cluster = (char *)"main",
		.tenant = (char *)"shop",
		.id = (char *)"20261126-170000F",
		.type = (char *)"full",
		.method = (char *)"physical",
		.status = (char *)"running",
		.pid = 99,
		.storage_path = (char *)"tenback/7441234567890123456/shop/20261126-170000F",
		.start_time = (char *)"2026-11-26 17:00:00+00",
		.timeline = 1,
		.system_id = (char *)"7441234567890123456",
		.storage = (char *)"s3main",
	};

	/* to version 5 with this binary's migrations, then back to the row layout of 5 */
	make_v1(fx, NULL);
	open_meta(fx);
	meta_free(fx->meta);
	fx->meta = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, UNDO_9 UNDO_8 "DROP TABLE audit; ALTER TABLE backup_set DROP COLUMN storage; PRAGMA user_version = 5");
	sqlite3_close(db);
	assert_int_equal(raw_user_version(fx), 5);

	open_meta(fx);
	assert_true(meta_schema_latest() >= 6);
	assert_int_equal(meta_schema_version(fx->meta), meta_schema_latest());
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", NULL, &sets, &n), 0);
	assert_int_equal(n, 2);
	assert_null(sets[0].storage);
	assert_null(sets[1].storage);
	assert_string_equal(sets[1].stop_lsn, "16/B5000060"); /* the rest intact */
	meta_set_array_free(sets, n);

	assert_int_equal(meta_set_insert(fx->meta, &s), 0);
	reopen(fx);
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "running", &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sets[0].storage, "s3main");
	assert_string_equal(sets[0].storage_path, "tenback/7441234567890123456/shop/20261126-170000F");
	meta_set_array_free(sets, n);

	/* verification leaves it; update keeps or clears it */
	assert_int_equal(meta_set_verified(fx->meta, "main", "shop", s.id, "ok", NULL), 0);
	s.status = (char *)"completed";
	assert_int_equal(meta_set_update(fx->meta, &s), 0);
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "completed", &sets, &n), 0);
	assert_int_equal(n, 2);
	assert_null(sets[0].storage);
	assert_string_equal(sets[1].storage, "s3main");
	meta_set_array_free(sets, n);
	s.storage = NULL;
	assert_int_equal(meta_set_update(fx->meta, &s), 0);
	assert_int_equal(meta_set_list(fx->meta, "main", "shop", "completed", &sets, &n), 0);
	assert_null(sets[1].storage);
	meta_set_array_free(sets, n);
	free(path);
}

/* A database that cannot take migration 2 (its backup_set already has a
 * parent column): meta_open fails naming the migration, and the version
 * and the rows stay as they were. */
static void
test_failed_migration_rolls_back(void **state)
{
	Fixture *fx = *state;
	Meta *m = NULL;

	make_v1(fx, "ALTER TABLE backup_set ADD COLUMN parent TEXT;");
	assert_true(meta_open(&m, fx->home) < 0);
	assert_null(m);
	assert_non_null(strstr(err_message(), "migration 2"));
	assert_int_equal(raw_user_version(fx), 1);
	/* a second try fails the same way: nothing half-applied */
	assert_true(meta_open(&m, fx->home) < 0);
	assert_non_null(strstr(err_message(), "migration 2"));
	assert_int_equal(raw_user_version(fx), 1);
}

static void
test_newer_schema_refused(void **state)
{
	Fixture *fx = *state;
	Meta *m = NULL;
	char *path = xasprintf("%s/metadata.db", fx->home);
	char *pragma = xasprintf("PRAGMA user_version = %d", meta_schema_latest() + 1);
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, schema_v1);
	exec_sql(db, pragma);
	sqlite3_close(db);
	assert_int_equal(meta_open(&m, fx->home), ERR_UNSUPPORTED);
	assert_null(m);
	assert_non_null(strstr(err_message(), "newer than this tenback"));
	assert_string_equal(err_hint_text(), "Upgrade tenback.");
	assert_int_equal(raw_user_version(fx), meta_schema_latest() + 1);
	free(path);
	free(pragma);
}

/* Migration 7 alone: a version-6 database keeps its rows and gains the
 * audit log, which appends and lists newest first, paging by id. */
static void
test_audit_log_added(void **state)
{
	Fixture *fx = *state;
	char *path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;
	MetaAudit *a = NULL;
	MetaCluster c;
	size_t n = 0;
	MetaAudit e = {
		.user_name = (char *)"alice",
		.role = (char *)"operator",
		.client = (char *)"127.0.0.1",
		.action = (char *)"backup.start",
		.object = (char *)"tenants/main:shop/backups",
		.outcome = (char *)"ok",
		.detail = (char *)"task 7",
	};

	make_v1(fx, NULL);
	open_meta(fx);
	meta_free(fx->meta);
	fx->meta = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, UNDO_9 UNDO_8 "DROP TABLE audit; PRAGMA user_version = 6");
	sqlite3_close(db);
	assert_int_equal(raw_user_version(fx), 6);

	open_meta(fx);
	assert_int_equal(raw_user_version(fx), meta_schema_latest());
	assert_int_equal(meta_cluster_get(fx->meta, "main", &c), 0); /* the version-1 row is still there */
	meta_cluster_clear(&c);
	assert_int_equal(meta_audit_list(fx->meta, 0, 0, &a, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(meta_audit_add(fx->meta, &e), 0);
	e.user_name = (char *)"bob";
	e.role = NULL;
	e.client = NULL;
	e.action = (char *)"logon";
	e.outcome = (char *)"unauthenticated: wrong user name or password";
	e.detail = NULL;
	assert_int_equal(meta_audit_add(fx->meta, &e), 0);
	assert_int_equal(meta_audit_list(fx->meta, 0, 0, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].user_name, "bob");
	assert_null(a[0].role);
	assert_null(a[0].detail);
	assert_string_equal(a[1].action, "backup.start");
	assert_string_equal(a[1].detail, "task 7");
	assert_non_null(strstr(a[1].at, "+00"));
	assert_true(a[0].id > a[1].id);
	{
		int64_t newest = a[0].id;
		meta_audit_array_free(a, n);
		assert_int_equal(meta_audit_list(fx->meta, 10, newest, &a, &n), 0);
		assert_int_equal(n, 1);
		assert_string_equal(a[0].user_name, "alice");
	}
	meta_audit_array_free(a, n);
	free(path);
}

/* Migration 8 alone: a version-7 database with a strategy keeps it (alert
 * thresholds NULL: the defaults) and gains alerts, channels, deliveries and
 * attempts: an alert fires once per kind and object, resolves, and may
 * fire again; a channel's deliveries and attempts list joined. */
static void
test_alerts_added(void **state)
{
	Fixture *fx = *state;
	char *path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;
	MetaStrategy st;
	MetaAlert a = {0}, b = {0}, *list = NULL;
	MetaChannel c = {0};
	MetaDelivery d = {0}, *due = NULL;
	MetaAttempt t = {0}, *tries = NULL;
	size_t n = 0;

	make_v1(fx, NULL);
	open_meta(fx);
	meta_free(fx->meta);
	fx->meta = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "INSERT INTO strategy (cluster, tenant, method, schedule, retention_days, compress, enabled)"
	             " VALUES ('main', 'shop', 'physical', '{}', 7, 'zstd', 1);");
	exec_sql(db, UNDO_9 UNDO_8 "PRAGMA user_version = 7");
	sqlite3_close(db);
	assert_int_equal(raw_user_version(fx), 7);

	open_meta(fx);
	assert_int_equal(raw_user_version(fx), meta_schema_latest());
	assert_int_equal(meta_strategy_get(fx->meta, "main", "shop", &st), 0);
	assert_null(st.alerts);
	assert_string_equal(st.method, "physical");
	meta_strategy_clear(&st);

	a.kind = xstrdup("backup_failed");
	a.object = xstrdup("tenants/main/shop");
	a.cluster = xstrdup("main");
	a.tenant = xstrdup("shop");
	a.task_id = 12;
	a.message = xstrdup("Backup task 12 failed");
	assert_int_equal(meta_alert_fire(fx->meta, &a), 0);
	assert_true(a.id > 0);
	b.kind = (char *)"backup_failed";
	b.object = (char *)"tenants/main/shop";
	b.message = (char *)"again";
	assert_int_equal(meta_alert_fire(fx->meta, &b), ERR_EXISTS); /* one firing per kind and object */
	assert_int_equal(meta_alert_list(fx->meta, true, 0, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].task_id, 12);
	assert_null(list[0].resolved_at);
	meta_alert_array_free(list, n);
	assert_int_equal(meta_alert_resolve(fx->meta, a.id), 0);
	assert_int_equal(meta_alert_list(fx->meta, true, 0, &list, &n), 0);
	assert_int_equal(n, 0);
	meta_alert_array_free(list, n);
	b.fired_at = NULL;
	assert_int_equal(meta_alert_fire(fx->meta, &b), 0); /* resolved: may fire again */
	free(b.fired_at);
	assert_int_equal(meta_alert_list(fx->meta, false, 0, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].message, "again");
	assert_non_null(list[1].resolved_at);
	meta_alert_array_free(list, n);
	assert_int_equal(meta_alert_ack(fx->meta, a.id, "alice"), 0);
	assert_int_equal(meta_alert_ack(fx->meta, 999, "alice"), ERR_NOT_FOUND);

	c.name = (char *)"ops";
	c.type = (char *)"webhook";
	c.url = (char *)"http://127.0.0.1:9/hook";
	c.secret = (uint8_t *)"sealed";
	c.secret_len = 6;
	assert_int_equal(meta_channel_add(fx->meta, &c), 0);
	assert_int_equal(meta_channel_add(fx->meta, &c), ERR_EXISTS);
	d.channel_id = c.id;
	d.alert_id = a.id;
	d.event = (char *)"fired";
	d.payload = (char *)"{}";
	d.next_attempt_at = 100;
	assert_int_equal(meta_delivery_add(fx->meta, &d), 0);
	assert_int_equal(meta_delivery_due(fx->meta, 99, &due, &n), 0);
	assert_int_equal(n, 0);
	meta_delivery_array_free(due, n);
	assert_int_equal(meta_delivery_due(fx->meta, 100, &due, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(due[0].status, "pending");
	t.delivery_id = due[0].id;
	t.attempt = 1;
	t.outcome = (char *)"failed";
	t.http_status = 500;
	t.error = (char *)"webhook answered HTTP 500";
	assert_int_equal(meta_attempt_add(fx->meta, &t), 0);
	free(due[0].status);
	due[0].status = xstrdup("delivered");
	due[0].attempts = 2;
	assert_int_equal(meta_delivery_update(fx->meta, &due[0]), 0);
	meta_delivery_array_free(due, n);
	assert_int_equal(meta_delivery_due(fx->meta, 1000, &due, &n), 0);
	assert_int_equal(n, 0);
	meta_delivery_array_free(due, n);
	assert_int_equal(meta_attempt_list(fx->meta, c.id, 0, &tries, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tries[0].channel, "ops");
	assert_int_equal(tries[0].http_status, 500);
	assert_string_equal(tries[0].delivery_status, "delivered");
	meta_attempt_array_free(tries, n);
	/* removing the channel takes its deliveries and attempts */
	assert_int_equal(meta_channel_remove(fx->meta, c.id), 0);
	assert_int_equal(meta_attempt_list(fx->meta, 0, 0, &tries, &n), 0);
	assert_int_equal(n, 0);
	meta_attempt_array_free(tries, n);
	meta_alert_clear(&a);
	free(path);
}

/* Migration 9 alone: a version-8 database gains the clusters' encryption
 * keys (one current key per cluster; removing the cluster removes them)
 * and each set's key fingerprint (NULL for the sets of before). */
static void
test_cluster_keys_added(void **state)
{
	Fixture *fx = *state;
	char *path = xasprintf("%s/metadata.db", fx->home);
	sqlite3 *db = NULL;
	MetaKey *a = NULL;
	size_t n = 0;
	MetaKey k = {
		.cluster = (char *)"main",
		.fingerprint = (char *)"00112233aabbccdd",
		.kind = (char *)"key-file",
		.sealed = (uint8_t *)"sealed",
		.sealed_len = 6,
		.current = true,
	};

	make_v1(fx, NULL);
	open_meta(fx);
	meta_free(fx->meta);
	fx->meta = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, UNDO_9 "PRAGMA user_version = 8");
	sqlite3_close(db);
	open_meta(fx);
	assert_int_equal(raw_user_version(fx), meta_schema_latest());
	assert_int_equal(meta_key_list(fx->meta, "main", &a, &n), 0);
	assert_int_equal(n, 0);
	/* the sets of before are not encrypted; a new one records its key */
	{
		MetaSet *sets = NULL;
		size_t n_sets = 0;
		MetaSet enc = {
			.cluster = (char *)"main",
			.tenant = (char *)"shop",
			.id = (char *)"20261127-010000F",
			.type = (char *)"full",
			.method = (char *)"physical",
			.status = (char *)"completed",
			.storage_path = (char *)"tenback/7441234567890123456/shop/20261127-010000F",
			.encryption_key = (char *)"00112233aabbccdd",
		};
		assert_int_equal(meta_set_list(fx->meta, "main", "shop", NULL, &sets, &n_sets), 0);
		assert_int_equal(n_sets, 2);
		assert_null(sets[0].encryption_key);
		assert_null(sets[1].encryption_key);
		meta_set_array_free(sets, n_sets);
		assert_int_equal(meta_set_insert(fx->meta, &enc), 0);
		assert_int_equal(meta_set_list(fx->meta, "main", "shop", NULL, &sets, &n_sets), 0);
		assert_int_equal(n_sets, 3);
		assert_string_equal(sets[2].encryption_key, "00112233aabbccdd");
		meta_set_array_free(sets, n_sets);
	}
	assert_int_equal(meta_key_put(fx->meta, &k), 0);
	k.fingerprint = (char *)"ffeeddccbbaa9988";
	k.kind = (char *)"passphrase";
	assert_int_equal(meta_key_put(fx->meta, &k), 0);
	assert_int_equal(meta_key_list(fx->meta, "main", &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].fingerprint, "ffeeddccbbaa9988");   /* the current one first, and only it */
	assert_true(a[0].current);
	assert_false(a[1].current);
	assert_int_equal(a[1].sealed_len, 6);
	assert_memory_equal(a[1].sealed, "sealed", 6);
	meta_key_array_free(a, n);
	assert_int_equal(meta_key_clear_current(fx->meta, "main"), 0);
	assert_int_equal(meta_key_list(fx->meta, "main", &a, &n), 0);
	assert_false(a[0].current || a[1].current);
	meta_key_array_free(a, n);
	assert_int_equal(meta_key_remove(fx->meta, "main", "00112233aabbccdd"), 0);
	assert_int_equal(meta_key_remove(fx->meta, "main", "00112233aabbccdd"), ERR_NOT_FOUND);
	assert_non_null(strstr(err_message(), "has no encryption key"));
	assert_int_equal(meta_cluster_remove(fx->meta, "main"), 0);
	assert_int_equal(meta_key_list(fx->meta, "main", &a, &n), 0);
	assert_int_equal(n, 0);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_log_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alerts_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_keys_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_storage_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
