/*
 * meta.c - SQLite metadata store with numbered migrations.
 *
 * Invariant: schema_version holds the number of the last migration applied;
 * migrations run in one transaction each, in order, and never change.
 */
#include "meta/meta.h"
#include "meta/meta_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


static const char *const migrations[] = {
	/* 1 */
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
	"  PRIMARY KEY (cluster, tenant, id));",
	/* 2: incremental sets name their parent */
	"ALTER TABLE backup_set ADD COLUMN parent TEXT;",
	/* 3: the control plane: accounts, storage configurations, strategies, tasks */
	"CREATE TABLE app_user ("
	"  name TEXT PRIMARY KEY,"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),"
	"  password_hash TEXT NOT NULL,"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE auth_secret ("
	"  id TEXT PRIMARY KEY,"                 /* SHA-256 (hex) of the session or token secret */
	"  kind TEXT NOT NULL CHECK (kind IN ('session', 'token')),"
	"  user_name TEXT NOT NULL REFERENCES app_user(name) ON DELETE CASCADE,"
	"  label TEXT,"
	"  csrf TEXT,"
	"  created_at TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL);"         /* Unix seconds; 0: never */
	"CREATE TABLE storage_config ("
	"  name TEXT PRIMARY KEY,"
	"  uri TEXT NOT NULL,"
	"  secret BLOB,"                         /* encrypted with the home's master key */
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE strategy ("
	"  cluster TEXT NOT NULL REFERENCES cluster(name) ON DELETE CASCADE,"
	"  tenant TEXT NOT NULL,"
	"  method TEXT NOT NULL,"
	"  storage TEXT REFERENCES storage_config(name),"
	"  schedule TEXT NOT NULL,"              /* JSON, see doc/strategy.md */
	"  retention_days INTEGER NOT NULL,"
	"  compress TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL,"
	"  last_fired TEXT,"
	"  PRIMARY KEY (cluster, tenant));"
	"CREATE TABLE task ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  cluster TEXT NOT NULL,"
	"  tenant TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  params TEXT NOT NULL,"                /* JSON */
	"  state TEXT NOT NULL DEFAULT '{}',"    /* JSON: what steps hand on (set id, ...) */
	"  created_by TEXT,"
	"  created_at TEXT NOT NULL,"
	"  started_at TEXT, finished_at TEXT,"
	"  error TEXT,"
	"  cancel_requested INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX task_by_tenant ON task (cluster, tenant, id);"
	"CREATE TABLE task_step ("
	"  task_id INTEGER NOT NULL REFERENCES task(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  started_at TEXT, finished_at TEXT,"
	"  error_code TEXT, error_message TEXT, error_detail TEXT, error_hint TEXT,"
	"  log TEXT NOT NULL DEFAULT '',"
	"  bytes_done INTEGER NOT NULL DEFAULT 0,"
	"  bytes_total INTEGER NOT NULL DEFAULT 0,"
	"  files_done INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (task_id, idx));",
	/* 4: the last verification of each set */
	"ALTER TABLE backup_set ADD COLUMN verified_at TEXT;"
	"ALTER TABLE backup_set ADD COLUMN verify_status TEXT;"
	"ALTER TABLE backup_set ADD COLUMN verify_error TEXT;",
	/* 5: a cluster's storage key pair, sealed with the home's master key */
	"ALTER TABLE cluster ADD COLUMN storage_secret BLOB;",
	/* 6: the storage configuration a set was written to (NULL: the cluster's own storage) */
	"ALTER TABLE backup_set ADD COLUMN storage TEXT;",
	/* 7: the audit log: who did what, when, from where, and how it ended */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at TEXT NOT NULL,"
	"  user_name TEXT NOT NULL,"
	"  role TEXT,"
	"  client TEXT,"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  detail TEXT);",
	/* 8: alerts and their notifications (doc/alerts.md); a strategy's alert thresholds */
	"ALTER TABLE strategy ADD COLUMN alerts TEXT;"   /* JSON, NULL: the defaults */
	"CREATE TABLE alert ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL,"
	"  object TEXT NOT NULL,"                /* clusters/NAME, tenants/CLUSTER/DB, tasks/ID */
	"  cluster TEXT, tenant TEXT, task_id INTEGER,"
	"  message TEXT NOT NULL,"
	"  fired_at TEXT NOT NULL,"
	"  resolved_at TEXT,"
	"  acked_at TEXT, acked_by TEXT);"
	"CREATE UNIQUE INDEX alert_firing ON alert (kind, object) WHERE resolved_at IS NULL;"
	"CREATE TABLE notify_channel ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  type TEXT NOT NULL CHECK (type IN ('webhook', 'email')),"
	"  url TEXT NOT NULL,"                   /* http(s):// or smtp(s):// */
	"  secret BLOB,"                         /* sealed: the HMAC key, or the SMTP password */
	"  username TEXT, mail_from TEXT, mail_to TEXT,"
	"  kinds TEXT NOT NULL DEFAULT '',"      /* comma-separated alert kinds; '': every kind */
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE notify_delivery ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  channel_id INTEGER NOT NULL REFERENCES notify_channel(id) ON DELETE CASCADE,"
	"  alert_id INTEGER,"                    /* NULL for a test */
	"  event TEXT NOT NULL,"                 /* fired, resolved, test */
	"  payload TEXT NOT NULL,"               /* JSON: the event and the alert */
	"  status TEXT NOT NULL,"                /* pending, delivered, failed */
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL,"    /* Unix seconds */
	"  last_error TEXT,"
	"  created_at TEXT NOT NULL,"
	"  delivered_at TEXT);"
	"CREATE INDEX notify_delivery_due ON notify_delivery (status, next_attempt_at);"
	"CREATE TABLE notify_attempt ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  delivery_id INTEGER NOT NULL REFERENCES notify_delivery(id) ON DELETE CASCADE,"
	"  attempt INTEGER NOT NULL,"
	"  at TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"               /* delivered, failed */
	"  http_status INTEGER,"
	"  error TEXT);",
	/* 9: a cluster's encryption keys (doc/repository.md, "Encryption"): the current one encrypts new
	 * sets and WAL, the others read older ones; the key file's path or the passphrase sealed */
	"CREATE TABLE cluster_key ("
	"  cluster TEXT NOT NULL REFERENCES cluster(name) ON DELETE CASCADE,"
	"  fingerprint TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('key-file', 'passphrase')),"
	"  sealed BLOB NOT NULL,"              /* encrypted with the home's master key */
	"  current INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL,"
	"  PRIMARY KEY (cluster, fingerprint));"
	"ALTER TABLE backup_set ADD COLUMN encryption_key TEXT;",   /* the key's fingerprint; NULL: not encrypted */
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int
meta_db_error(Meta *m, const char *what)
{
	int code = sqlite3_errcode(m->db);
	int ext = sqlite3_extended_errcode(m->db);
	int ec = ERR_IO;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		ec = ERR_BUSY;
	else if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
		ec = ERR_EXISTS;
	else if (code == SQLITE_CONSTRAINT)
		ec = ERR_INVALID;
	else if (code == SQLITE_FULL)
		ec = ERR_NO_SPACE;
	else if (code == SQLITE_READONLY || code == SQLITE_PERM || code == SQLITE_CANTOPEN)
		ec = ERR_PERMISSION;
	return err_set(ec, "metadata %s failed: %s", what, sqlite3_errmsg(m->db));
}

int
meta_exec_sql(Meta *m, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(m->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = err_set(ERR_IO, "metadata statement failed: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

const char *
meta_home(const Meta *m)
{
	return m->home;
}

int
meta_schema_latest(void)
{
	return N_MIGRATIONS;
}

int
meta_schema_version(Meta *m)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(m->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
migrate(Meta *m)
{
	int v = meta_schema_version(m);
	int rc;

	if (v < 0)
		return meta_db_error(m, "read of the schema version");
	if (v > N_MIGRATIONS) {
		rc = err_set(ERR_UNSUPPORTED, "metadata \"%s\" has schema version %d, newer than this tenback (%d)",
		             m->path, v, N_MIGRATIONS);
		err_hint("Upgrade tenback.");
		return rc;
	}
	for (; v < N_MIGRATIONS; v++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if ((rc = meta_exec_sql(m, "BEGIN IMMEDIATE")) < 0)
			return rc;
		if ((rc = meta_exec_sql(m, migrations[v])) < 0 || (rc = meta_exec_sql(m, pragma)) < 0) {
			meta_exec_sql(m, "ROLLBACK");
			err_prefix("migration %d", v + 1);
			return rc;
		}
		if ((rc = meta_exec_sql(m, "COMMIT")) < 0)
			return rc;
	}
	return 0;
}

int
meta_open(Meta **out, const char *home)
{
	Meta *m = xcalloc(1, sizeof(*m));
	struct stat st;
	int rc;

	*out = NULL;
	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		rc = err_errno(errno, "could not create tenback home \"%s\"", home);
		err_hint("Pass --home DIR or set TENBACK_HOME to a directory you can write.");
		goto fail;
	}
	/* The home holds the metadata (who may log on, what is stored where) and
	 * the master key of the stored secrets: nobody else may look in. */
	if (stat(home, &st) < 0) {
		rc = err_errno(errno, "could not stat tenback home \"%s\"", home);
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = err_set(ERR_PERMISSION, "tenback home \"%s\" is accessible by group or others", home);
		err_detail("Its mode is %04o; it holds the metadata and the master key of the stored secrets.",
		           (unsigned)(st.st_mode & 07777));
		err_hint("Run \"chmod 700 %s\".", home);
		goto fail;
	}
	m->path = path_join(home, "metadata.db");
	m->home = xstrdup(home);
	if (sqlite3_open_v2(m->path, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		rc = err_set(ERR_PERMISSION, "could not open metadata \"%s\": %s", m->path,
		             m->db ? sqlite3_errmsg(m->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(m->db, 30000);
	if ((rc = meta_exec_sql(m, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL")) < 0) {
		err_prefix("could not open metadata \"%s\"", m->path);
		goto fail;
	}
	if ((rc = migrate(m)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	meta_free(m);
	return rc;
}

void
meta_free(Meta *m)
{
	if (m == NULL)
		return;
	sqlite3_close(m->db);
	free(m->path);
	free(m->home);
	free(m);
}

/* ---- statements with positional text/int binding ---- */

int
meta_prepare(Meta *m, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(m->db, sql, -1, st, NULL) != SQLITE_OK)
		return meta_db_error(m, "prepare");
	return 0;
}

void
meta_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s)
		sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, idx);
}

char *
meta_col_text(sqlite3_stmt *st, int idx)
{
	const unsigned char *t = sqlite3_column_text(st, idx);

	return t ? xstrdup((const char *)t) : NULL;
}

int
meta_step_done(Meta *m, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : meta_db_error(m, what);

	sqlite3_finalize(st);
	return rc;
}

/* ---- clusters ---- */

#define CLUSTER_COLS "name, conninfo, pgdata, storage, compress, system_id, pg_version, status, created_at, storage_secret"

static void
read_cluster(sqlite3_stmt *st, MetaCluster *c)
{
	c->name = meta_col_text(st, 0);
	c->conninfo = meta_col_text(st, 1);
	c->pgdata = meta_col_text(st, 2);
	c->storage = meta_col_text(st, 3);
	c->compress = meta_col_text(st, 4);
	c->system_id = meta_col_text(st, 5);
	c->pg_version = sqlite3_column_int(st, 6);
	c->status = meta_col_text(st, 7);
	c->created_at = meta_col_text(st, 8);
	if (sqlite3_column_bytes(st, 9) > 0) {
		c->storage_secret_len = (size_t)sqlite3_column_bytes(st, 9);
		c->storage_secret = xmalloc(c->storage_secret_len);
		memcpy(c->storage_secret, sqlite3_column_blob(st, 9), c->storage_secret_len);
	}
}

int
meta_cluster_add(Meta *m, const MetaCluster *c)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "INSERT INTO cluster (" CLUSTER_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	meta_bind_text(st, 1, c->name);
	meta_bind_text(st, 2, c->conninfo);
	meta_bind_text(st, 3, c->pgdata);
	meta_bind_text(st, 4, c->storage);
	meta_bind_text(st, 5, c->compress);
	meta_bind_text(st, 6, c->system_id);
	sqlite3_bind_int(st, 7, c->pg_version);
	meta_bind_text(st, 8, c->status ? c->status : "NORMAL");
	meta_bind_text(st, 9, c->created_at);
	if (c->storage_secret && c->storage_secret_len)
		sqlite3_bind_blob(st, 10, c->storage_secret, (int)c->storage_secret_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 10);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && (sqlite3_extended_errcode(m->db) == SQLITE_CONSTRAINT_PRIMARYKEY ||
	                          sqlite3_extended_errcode(m->db) == SQLITE_CONSTRAINT_UNIQUE))
		return err_set(ERR_EXISTS, "cluster \"%s\" already exists", c->name);
	if (rc != SQLITE_DONE)
		return meta_db_error(m, "insert of a cluster");
	return 0;
}

int
meta_cluster_get(Meta *m, const char *name, MetaCluster *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT " CLUSTER_COLS " FROM cluster WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_cluster(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(ERR_NOT_FOUND, "cluster \"%s\" does not exist", name);
		err_hint("Register it with \"tenback cluster add\"; \"tenback cluster list\" shows the registered ones.");
	} else {
		rc = meta_db_error(m, "read of a cluster");
	}
	sqlite3_finalize(st);
	return rc;
}

int
meta_cluster_list(Meta *m, MetaCluster **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaCluster *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " CLUSTER_COLS " FROM cluster ORDER BY name")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_cluster(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_cluster_array_free(a, n);
		return meta_db_error(m, "list of clusters");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_cluster_remove(Meta *m, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM cluster WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	if ((rc = meta_step_done(m, st, "removal of a cluster")) < 0)
		return rc;
	if (sqlite3_changes(m->db) == 0)
		return err_set(ERR_NOT_FOUND, "cluster \"%s\" does not exist", name);
	return 0;
}

int
meta_cluster_set_status(Meta *m, const char *name, const char *status)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE cluster SET status = ? WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, status);
	meta_bind_text(st, 2, name);
	if ((rc = meta_step_done(m, st, "update of a cluster")) < 0)
		return rc;
	return sqlite3_changes(m->db) ? 0 : err_set(ERR_NOT_FOUND, "cluster \"%s\" does not exist", name);
}

void
meta_cluster_clear(MetaCluster *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->conninfo);
	free(c->pgdata);
	free(c->storage);
	free(c->compress);
	free(c->system_id);
	free(c->status);
	free(c->created_at);
	free(c->storage_secret);
	memset(c, 0, sizeof(*c));
}

void
meta_cluster_array_free(MetaCluster *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		meta_cluster_clear(&a[i]);
	free(a);
}

/* ---- backup sets ---- */

#define SET_COLS "cluster, tenant, id, type, method, status, pid, storage_path, start_time, stop_time, " \
	"start_lsn, stop_lsn, timeline, system_id, size_bytes, stored_bytes, file_count, error, parent, " \
	"verified_at, verify_status, verify_error, storage, encryption_key"

static void
bind_set(sqlite3_stmt *st, const MetaSet *s)
{
	meta_bind_text(st, 1, s->cluster);
	meta_bind_text(st, 2, s->tenant);
	meta_bind_text(st, 3, s->id);
	meta_bind_text(st, 4, s->type);
	meta_bind_text(st, 5, s->method);
	meta_bind_text(st, 6, s->status);
	sqlite3_bind_int64(st, 7, s->pid);
	meta_bind_text(st, 8, s->storage_path);
	meta_bind_text(st, 9, s->start_time);
	meta_bind_text(st, 10, s->stop_time);
	meta_bind_text(st, 11, s->start_lsn);
	meta_bind_text(st, 12, s->stop_lsn);
	sqlite3_bind_int64(st, 13, s->timeline);
	meta_bind_text(st, 14, s->system_id);
	sqlite3_bind_int64(st, 15, s->size_bytes);
	sqlite3_bind_int64(st, 16, s->stored_bytes);
	sqlite3_bind_int64(st, 17, s->file_count);
	meta_bind_text(st, 18, s->error);
	meta_bind_text(st, 19, s->parent);
	meta_bind_text(st, 20, s->verified_at);
	meta_bind_text(st, 21, s->verify_status);
	meta_bind_text(st, 22, s->verify_error);
	meta_bind_text(st, 23, s->storage);
	meta_bind_text(st, 24, s->encryption_key);
}

static void
read_set(sqlite3_stmt *st, MetaSet *s)
{
	s->cluster = meta_col_text(st, 0);
	s->tenant = meta_col_text(st, 1);
	s->id = meta_col_text(st, 2);
	s->type = meta_col_text(st, 3);
	s->method = meta_col_text(st, 4);
	s->status = meta_col_text(st, 5);
	s->pid = sqlite3_column_int64(st, 6);
	s->storage_path = meta_col_text(st, 7);
	s->start_time = meta_col_text(st, 8);
	s->stop_time = meta_col_text(st, 9);
	s->start_lsn = meta_col_text(st, 10);
	s->stop_lsn = meta_col_text(st, 11);
	s->timeline = sqlite3_column_int64(st, 12);
	s->system_id = meta_col_text(st, 13);
	s->size_bytes = sqlite3_column_int64(st, 14);
	s->stored_bytes = sqlite3_column_int64(st, 15);
	s->file_count = sqlite3_column_int64(st, 16);
	s->error = meta_col_text(st, 17);
	s->parent = meta_col_text(st, 18);
	s->verified_at = meta_col_text(st, 19);
	s->verify_status = meta_col_text(st, 20);
	s->verify_error = meta_col_text(st, 21);
	s->storage = meta_col_text(st, 22);
	s->encryption_key = meta_col_text(st, 23);
}

int
meta_set_insert(Meta *m, const MetaSet *s)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "INSERT INTO backup_set (" SET_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	bind_set(st, s);
	return meta_step_done(m, st, "insert of a backup set");
}

int
meta_set_update(Meta *m, const MetaSet *s)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "REPLACE INTO backup_set (" SET_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	bind_set(st, s);
	return meta_step_done(m, st, "update of a backup set");
}

int
meta_set_verified(Meta *m, const char *cluster, const char *tenant, const char *id, const char *status,
                  const char *error)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	time_format_utc(now, sizeof(now), time(NULL));
	if ((rc = meta_prepare(m, &st, "UPDATE backup_set SET verified_at = ?, verify_status = ?, verify_error = ?"
	                               " WHERE cluster = ? AND tenant = ? AND id = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, now);
	meta_bind_text(st, 2, status);
	meta_bind_text(st, 3, error);
	meta_bind_text(st, 4, cluster);
	meta_bind_text(st, 5, tenant);
	meta_bind_text(st, 6, id);
	return meta_step_done(m, st, "update of a backup set");
}

int
meta_set_delete(Meta *m, const char *cluster, const char *tenant, const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM backup_set WHERE cluster = ? AND tenant = ? AND id = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	meta_bind_text(st, 2, tenant);
	meta_bind_text(st, 3, id);
	return meta_step_done(m, st, "removal of a backup set");
}

int
meta_set_list(Meta *m, const char *cluster, const char *tenant, const char *status, MetaSet **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaSet *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " SET_COLS " FROM backup_set WHERE cluster = ?1"
	                          " AND (?2 IS NULL OR tenant = ?2) AND (?3 IS NULL OR status = ?3)"
	                          " ORDER BY id, tenant")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	meta_bind_text(st, 2, tenant);
	meta_bind_text(st, 3, status);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_set(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_set_array_free(a, n);
		return meta_db_error(m, "list of backup sets");
	}
	*out = a;
	*out_count = n;
	return 0;
}

void
meta_set_clear(MetaSet *s)
{
	if (s == NULL)
		return;
	free(s->cluster);
	free(s->tenant);
	free(s->id);
	free(s->type);
	free(s->method);
	free(s->status);
	free(s->storage_path);
	free(s->start_time);
	free(s->stop_time);
	free(s->start_lsn);
	free(s->stop_lsn);
	free(s->system_id);
	free(s->error);
	free(s->parent);
	free(s->verified_at);
	free(s->verify_status);
	free(s->verify_error);
	free(s->storage);
	free(s->encryption_key);
	memset(s, 0, sizeof(*s));
}

void
meta_set_array_free(MetaSet *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		meta_set_clear(&a[i]);
	free(a);
}
