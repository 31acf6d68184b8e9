/*
 * meta_ctl.c - the control plane's tables: accounts and their sessions and
 * tokens, storage configurations, strategies, tasks and their steps.
 *
 * Invariant: secrets never reach this file in clear: sessions and tokens
 * are stored by their SHA-256, storage secrets sealed (secret.h).
 */
#include "meta/meta.h"
#include "meta/meta_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"
#include "meta/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int step_row_or(Meta *m, sqlite3_stmt *st, const char *what, const char *missing_fmt, const char *key)
	__attribute__((format(printf, 4, 0)));
static int insert_or_exists(Meta *m, sqlite3_stmt *st, const char *what, const char *exists_fmt, const char *key)
	__attribute__((format(printf, 4, 0)));

static int
step_row_or(Meta *m, sqlite3_stmt *st, const char *what, const char *missing_fmt, const char *key)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		char msg[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(msg, sizeof(msg), missing_fmt, key); /* callers' literals, checked by the attribute */
#pragma GCC diagnostic pop
		return err_set(ERR_NOT_FOUND, "%s", msg);
	}
	rc = meta_db_error(m, what);
	sqlite3_finalize(st);
	return rc;
}

static int
insert_or_exists(Meta *m, sqlite3_stmt *st, const char *what, const char *exists_fmt, const char *key)
{
	int rc = sqlite3_step(st);
	int ext = sqlite3_extended_errcode(m->db);

	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
	{
		char msg[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(msg, sizeof(msg), exists_fmt, key);
#pragma GCC diagnostic pop
		return err_set(ERR_EXISTS, "%s", msg);
	}
	return meta_db_error(m, what);
}

static void
now_text(char *out, size_t cap)
{
	time_format_utc(out, cap, time(NULL));
}

/* ---- users ---- */

#define USER_COLS "name, role, password_hash, created_at"

static void
read_user(sqlite3_stmt *st, MetaUser *u)
{
	u->name = meta_col_text(st, 0);
	u->role = meta_col_text(st, 1);
	u->password_hash = meta_col_text(st, 2);
	u->created_at = meta_col_text(st, 3);
}

int
meta_user_add(Meta *m, const MetaUser *u)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO app_user (" USER_COLS ") VALUES (?,?,?,?)")) < 0)
		return rc;
	meta_bind_text(st, 1, u->name);
	meta_bind_text(st, 2, u->role);
	meta_bind_text(st, 3, u->password_hash);
	meta_bind_text(st, 4, u->created_at ? u->created_at : now);
	return insert_or_exists(m, st, "insert of a user", "user \"%s\" already exists", u->name);
}

int
meta_user_get(Meta *m, const char *name, MetaUser *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT " USER_COLS " FROM app_user WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	if ((rc = step_row_or(m, st, "read of a user", "user \"%s\" does not exist", name)) < 0)
		return rc;
	read_user(st, out);
	sqlite3_finalize(st);
	return 0;
}

int
meta_user_list(Meta *m, MetaUser **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaUser *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " USER_COLS " FROM app_user ORDER BY name")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_user(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_user_array_free(a, n);
		return meta_db_error(m, "list of users");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_user_set_password(Meta *m, const char *name, const char *password_hash)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE app_user SET password_hash = ? WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, password_hash);
	meta_bind_text(st, 2, name);
	if ((rc = meta_step_done(m, st, "update of a user")) < 0)
		return rc;
	return sqlite3_changes(m->db) ? 0 : err_set(ERR_NOT_FOUND, "user \"%s\" does not exist", name);
}

int
meta_user_remove(Meta *m, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM app_user WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	if ((rc = meta_step_done(m, st, "removal of a user")) < 0)
		return rc;
	return sqlite3_changes(m->db) ? 0 : err_set(ERR_NOT_FOUND, "user \"%s\" does not exist", name);
}

void
meta_user_clear(MetaUser *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->role);
	free(u->password_hash);
	free(u->created_at);
	memset(u, 0, sizeof(*u));
}

void
meta_user_array_free(MetaUser *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_user_clear(&a[i]);
	free(a);
}

/* ---- sessions and tokens ---- */

int
meta_auth_add(Meta *m, const MetaAuth *a)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO auth_secret (id, kind, user_name, label, csrf, created_at, expires_at)"
	                               " VALUES (?,?,?,?,?,?,?)")) < 0)
		return rc;
	meta_bind_text(st, 1, a->id);
	meta_bind_text(st, 2, a->kind);
	meta_bind_text(st, 3, a->user_name);
	meta_bind_text(st, 4, a->label);
	meta_bind_text(st, 5, a->csrf);
	meta_bind_text(st, 6, a->created_at ? a->created_at : now);
	sqlite3_bind_int64(st, 7, a->expires_at);
	return insert_or_exists(m, st, "insert of a session", "session \"%s\" already exists", "(hidden)");
}

int
meta_auth_get(Meta *m, const char *id, MetaAuth *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT a.id, a.kind, a.user_name, u.role, a.label, a.csrf, a.created_at, a.expires_at"
	                               " FROM auth_secret a JOIN app_user u ON u.name = a.user_name WHERE a.id = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, id);
	if ((rc = step_row_or(m, st, "read of a session", "no such session%s", "")) < 0)
		return rc;
	out->id = meta_col_text(st, 0);
	out->kind = meta_col_text(st, 1);
	out->user_name = meta_col_text(st, 2);
	out->role = meta_col_text(st, 3);
	out->label = meta_col_text(st, 4);
	out->csrf = meta_col_text(st, 5);
	out->created_at = meta_col_text(st, 6);
	out->expires_at = sqlite3_column_int64(st, 7);
	sqlite3_finalize(st);
	return 0;
}

int
meta_auth_touch(Meta *m, const char *id, int64_t expires_at)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE auth_secret SET expires_at = ? WHERE id = ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, expires_at);
	meta_bind_text(st, 2, id);
	return meta_step_done(m, st, "update of a session");
}

int
meta_auth_delete(Meta *m, const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM auth_secret WHERE id = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, id);
	return meta_step_done(m, st, "removal of a session");
}

/* A session's or token's row for listings: no CSRF token. */
#define AUTH_ROW_SELECT "SELECT a.id, a.kind, a.user_name, u.role, a.label, a.created_at, a.expires_at" \
	" FROM auth_secret a JOIN app_user u ON u.name = a.user_name"

static void
read_auth_row(sqlite3_stmt *st, MetaAuth *out)
{
	out->id = meta_col_text(st, 0);
	out->kind = meta_col_text(st, 1);
	out->user_name = meta_col_text(st, 2);
	out->role = meta_col_text(st, 3);
	out->label = meta_col_text(st, 4);
	out->created_at = meta_col_text(st, 5);
	out->expires_at = sqlite3_column_int64(st, 6);
}

int
meta_auth_list(Meta *m, const char *user, int64_t now, MetaAuth **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaAuth *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, AUTH_ROW_SELECT
	                               " WHERE (?1 IS NULL OR a.user_name = ?1) AND (a.expires_at = 0 OR a.expires_at >= ?2)"
	                               " ORDER BY a.created_at, a.id")) < 0)
		return rc;
	if (user)
		meta_bind_text(st, 1, user);
	sqlite3_bind_int64(st, 2, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_auth_row(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_auth_array_free(a, n);
		return meta_db_error(m, "list of sessions");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_auth_revoke(Meta *m, const char *id_prefix, MetaAuth *out)
{
	sqlite3_stmt *st;
	char *pattern;
	int rc, found = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(id_prefix) < 8 || strspn(id_prefix, "0123456789abcdef") != strlen(id_prefix))
		return err_set(ERR_INVALID, "\"%.80s\" is no session id (8 to 64 lowercase hex digits, as listed)", id_prefix);
	if ((rc = meta_prepare(m, &st, AUTH_ROW_SELECT
	                               " WHERE a.id LIKE ? LIMIT 2")) < 0)
		return rc;
	pattern = xasprintf("%s%%", id_prefix);
	meta_bind_text(st, 1, pattern);
	free(pattern);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (found++) {
			meta_auth_clear(out);
			sqlite3_finalize(st);
			return err_set(ERR_INVALID, "session id \"%s\" is ambiguous: give more of it", id_prefix);
		}
		read_auth_row(st, out);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_auth_clear(out);
		return meta_db_error(m, "read of a session");
	}
	if (!found)
		return err_set(ERR_NOT_FOUND, "no session or token has id \"%s\"", id_prefix);
	if ((rc = meta_auth_delete(m, out->id)) < 0)
		meta_auth_clear(out);
	return rc;
}

int
meta_auth_revoke_user(Meta *m, const char *user, size_t *out_count)
{
	sqlite3_stmt *st;
	int rc;

	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "DELETE FROM auth_secret WHERE user_name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, user);
	if ((rc = meta_step_done(m, st, "removal of a user's sessions")) < 0)
		return rc;
	*out_count = (size_t)sqlite3_changes(m->db);
	return 0;
}

void
meta_auth_array_free(MetaAuth *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_auth_clear(&a[i]);
	free(a);
}

int
meta_auth_purge_expired(Meta *m, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM auth_secret WHERE expires_at <> 0 AND expires_at < ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	return meta_step_done(m, st, "removal of expired sessions");
}

void
meta_auth_clear(MetaAuth *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->kind);
	free(a->user_name);
	free(a->role);
	free(a->label);
	free(a->csrf);
	free(a->created_at);
	memset(a, 0, sizeof(*a));
}

/* ---- storage configurations ---- */

static void
read_storage(sqlite3_stmt *st, MetaStorage *s)
{
	const void *blob = sqlite3_column_blob(st, 2);
	int len = sqlite3_column_bytes(st, 2);

	s->name = meta_col_text(st, 0);
	s->uri = meta_col_text(st, 1);
	if (blob && len > 0) {
		s->secret = xmalloc((size_t)len);
		memcpy(s->secret, blob, (size_t)len);
		s->secret_len = (size_t)len;
	}
	s->created_at = meta_col_text(st, 3);
}

/* Backup sets (failed attempts aside) written to storage configuration name; <0 on error. */
static int
storage_set_count(Meta *m, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "SELECT count(*) FROM backup_set WHERE storage = ? AND status <> 'failed'")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : meta_db_error(m, "count of backup sets");
	sqlite3_finalize(st);
	return rc;
}

int
meta_storage_put(Meta *m, const MetaStorage *s)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	/* New keys for the same place are fine; another place would lose the
	 * sets written to this one. */
	if ((rc = meta_prepare(m, &st, "SELECT uri FROM storage_config WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, s->name);
	if (sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), s->uri) != 0) {
		sqlite3_finalize(st);
		if ((rc = storage_set_count(m, s->name)) < 0)
			return rc;
		if (rc > 0) {
			int n = rc;
			rc = err_set(ERR_INVALID, "storage configuration \"%s\" holds backup sets; its URI cannot change",
			             s->name);
			err_detail("%d backup set(s) were written to it.", n);
			err_hint("Create a storage configuration with another name for the new location.");
			return rc;
		}
	} else {
		sqlite3_finalize(st);
	}
	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO storage_config (name, uri, secret, created_at) VALUES (?,?,?,?)"
	                               " ON CONFLICT (name) DO UPDATE SET uri = excluded.uri, secret = excluded.secret")) < 0)
		return rc;
	meta_bind_text(st, 1, s->name);
	meta_bind_text(st, 2, s->uri);
	if (s->secret && s->secret_len)
		sqlite3_bind_blob(st, 3, s->secret, (int)s->secret_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 3);
	meta_bind_text(st, 4, s->created_at ? s->created_at : now);
	return meta_step_done(m, st, "write of a storage configuration");
}

int
meta_storage_get(Meta *m, const char *name, MetaStorage *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT name, uri, secret, created_at FROM storage_config WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	if ((rc = step_row_or(m, st, "read of a storage configuration", "storage configuration \"%s\" does not exist",
	                      name)) < 0)
		return rc;
	read_storage(st, out);
	sqlite3_finalize(st);
	return 0;
}

int
meta_storage_list(Meta *m, MetaStorage **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaStorage *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT name, uri, secret, created_at FROM storage_config ORDER BY name")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_storage(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_storage_array_free(a, n);
		return meta_db_error(m, "list of storage configurations");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_storage_remove(Meta *m, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "SELECT count(*) FROM strategy WHERE storage = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0) {
		sqlite3_finalize(st);
		rc = err_set(ERR_INVALID, "storage configuration \"%s\" is used by a backup strategy", name);
		err_hint("Change or remove the strategies that use it first.");
		return rc;
	}
	sqlite3_finalize(st);
	if ((rc = storage_set_count(m, name)) < 0)
		return rc;
	if (rc > 0) {
		int n = rc;
		rc = err_set(ERR_INVALID, "storage configuration \"%s\" holds backup sets", name);
		err_detail("%d backup set(s) were written to it.", n);
		err_hint("Delete those backup sets first.");
		return rc;
	}
	if ((rc = meta_prepare(m, &st, "DELETE FROM storage_config WHERE name = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, name);
	if ((rc = meta_step_done(m, st, "removal of a storage configuration")) < 0)
		return rc;
	return sqlite3_changes(m->db) ? 0 : err_set(ERR_NOT_FOUND, "storage configuration \"%s\" does not exist", name);
}

static void
wipe_json(JsonValue *v)
{
	if (v == NULL)
		return;
	if (v->string)
		explicit_bzero(v->string, strlen(v->string));
	for (size_t i = 0; i < v->count; i++)
		wipe_json(v->items[i]);
}

static char *
key_dup(const JsonValue *root, const char *key)
{
	const char *v = json_get_string(root, key);

	return v && v[0] ? xstrdup(v) : NULL;
}

int
meta_storage_keys(Meta *m, const MetaStorage *s, char **out_access, char **out_secret)
{
	uint8_t *plain = NULL;
	size_t len = 0;
	JsonValue *root = NULL;
	int rc;

	*out_access = NULL;
	*out_secret = NULL;
	if (s->secret == NULL || s->secret_len == 0)
		return 0;
	if ((rc = secret_open(m->home, s->secret, s->secret_len, &plain, &len)) < 0) {
		err_prefix("could not unseal the secret of storage configuration \"%s\"", s->name);
		if (rc == ERR_CORRUPT)
			err_hint("The home's master key is not the one it was sealed with: enter the storage's keys again.");
		return rc;
	}
	if (json_parse(&root, (const char *)plain, len) < 0 || root->type != JSON_OBJECT) {
		rc = err_set(ERR_CORRUPT, "the secret of storage configuration \"%s\" is malformed", s->name);
		err_hint("Enter the storage's keys again.");
		goto out;
	}
	*out_access = key_dup(root, "access_key");
	*out_secret = key_dup(root, "secret_key");
	rc = 0;
out:
	wipe_json(root);
	json_free(root);
	explicit_bzero(plain, len);
	free(plain);
	return rc;
}

int
meta_storage_seal_keys(Meta *m, MetaStorage *s, const char *access, const char *secret)
{
	Buf plain = BUF_INIT;
	JsonWriter w;
	int rc;

	free(s->secret);
	s->secret = NULL;
	s->secret_len = 0;
	if (access == NULL && secret == NULL)
		return 0;
	json_writer_init(&w, &plain, false);
	json_object_begin(&w);
	json_kv_string(&w, "access_key", access);
	json_kv_string(&w, "secret_key", secret);
	json_object_end(&w);
	rc = secret_seal(m->home, (const uint8_t *)plain.data, plain.len, &s->secret, &s->secret_len);
	explicit_bzero(plain.data, plain.len);
	buf_free(&plain);
	if (rc < 0)
		err_prefix("could not seal the keys of storage configuration \"%s\"", s->name);
	return rc;
}

void
meta_storage_clear(MetaStorage *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->uri);
	free(s->secret);
	free(s->created_at);
	memset(s, 0, sizeof(*s));
}

void
meta_storage_array_free(MetaStorage *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_storage_clear(&a[i]);
	free(a);
}

/* ---- strategies ---- */

#define STRATEGY_COLS "cluster, tenant, method, storage, schedule, retention_days, compress, enabled, last_fired, alerts"

static void
read_strategy(sqlite3_stmt *st, MetaStrategy *s)
{
	s->cluster = meta_col_text(st, 0);
	s->tenant = meta_col_text(st, 1);
	s->method = meta_col_text(st, 2);
	s->storage = meta_col_text(st, 3);
	s->schedule = meta_col_text(st, 4);
	s->retention_days = sqlite3_column_int64(st, 5);
	s->compress = meta_col_text(st, 6);
	s->enabled = sqlite3_column_int(st, 7);
	s->last_fired = meta_col_text(st, 8);
	s->alerts = meta_col_text(st, 9);
}

int
meta_strategy_put(Meta *m, const MetaStrategy *s)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "INSERT INTO strategy (" STRATEGY_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?)"
	                               " ON CONFLICT (cluster, tenant) DO UPDATE SET method = excluded.method,"
	                               " storage = excluded.storage, schedule = excluded.schedule,"
	                               " retention_days = excluded.retention_days, compress = excluded.compress,"
	                               " enabled = excluded.enabled, alerts = excluded.alerts")) < 0)
		return rc;
	meta_bind_text(st, 1, s->cluster);
	meta_bind_text(st, 2, s->tenant);
	meta_bind_text(st, 3, s->method);
	meta_bind_text(st, 4, s->storage);
	meta_bind_text(st, 5, s->schedule);
	sqlite3_bind_int64(st, 6, s->retention_days);
	meta_bind_text(st, 7, s->compress);
	sqlite3_bind_int(st, 8, s->enabled);
	meta_bind_text(st, 9, s->last_fired);
	meta_bind_text(st, 10, s->alerts);
	return meta_step_done(m, st, "write of a strategy");
}

int
meta_strategy_get(Meta *m, const char *cluster, const char *tenant, MetaStrategy *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT " STRATEGY_COLS " FROM strategy WHERE cluster = ? AND tenant = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	meta_bind_text(st, 2, tenant);
	if ((rc = step_row_or(m, st, "read of a strategy", "tenant \"%s\" has no backup strategy", tenant)) < 0)
		return rc;
	read_strategy(st, out);
	sqlite3_finalize(st);
	return 0;
}

int
meta_strategy_list(Meta *m, MetaStrategy **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaStrategy *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " STRATEGY_COLS " FROM strategy ORDER BY cluster, tenant")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_strategy(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_strategy_array_free(a, n);
		return meta_db_error(m, "list of strategies");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_strategy_remove(Meta *m, const char *cluster, const char *tenant)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM strategy WHERE cluster = ? AND tenant = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	meta_bind_text(st, 2, tenant);
	if ((rc = meta_step_done(m, st, "removal of a strategy")) < 0)
		return rc;
	return sqlite3_changes(m->db) ? 0 : err_set(ERR_NOT_FOUND, "tenant \"%s\" has no backup strategy", tenant);
}

int
meta_strategy_set_fired(Meta *m, const char *cluster, const char *tenant, const char *slot)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE strategy SET last_fired = ? WHERE cluster = ? AND tenant = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, slot);
	meta_bind_text(st, 2, cluster);
	meta_bind_text(st, 3, tenant);
	return meta_step_done(m, st, "update of a strategy");
}

void
meta_strategy_clear(MetaStrategy *s)
{
	if (s == NULL)
		return;
	free(s->cluster);
	free(s->tenant);
	free(s->method);
	free(s->storage);
	free(s->schedule);
	free(s->compress);
	free(s->last_fired);
	free(s->alerts);
	memset(s, 0, sizeof(*s));
}

void
meta_strategy_array_free(MetaStrategy *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_strategy_clear(&a[i]);
	free(a);
}

/* ---- tasks ---- */

#define TASK_COLS "id, type, cluster, tenant, status, params, state, created_by, created_at, started_at, " \
	"finished_at, error, cancel_requested"
#define STEP_COLS "idx, name, status, started_at, finished_at, error_code, error_message, error_detail, " \
	"error_hint, log, bytes_done, bytes_total, files_done, attempts"

static void
read_task(sqlite3_stmt *st, MetaTask *t)
{
	t->id = sqlite3_column_int64(st, 0);
	t->type = meta_col_text(st, 1);
	t->cluster = meta_col_text(st, 2);
	t->tenant = meta_col_text(st, 3);
	t->status = meta_col_text(st, 4);
	t->params = meta_col_text(st, 5);
	t->state = meta_col_text(st, 6);
	t->created_by = meta_col_text(st, 7);
	t->created_at = meta_col_text(st, 8);
	t->started_at = meta_col_text(st, 9);
	t->finished_at = meta_col_text(st, 10);
	t->error = meta_col_text(st, 11);
	t->cancel_requested = sqlite3_column_int(st, 12);
}

static int
load_steps(Meta *m, MetaTask *t)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "SELECT " STEP_COLS " FROM task_step WHERE task_id = ? ORDER BY idx")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, t->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		MetaTaskStep *s;
		t->steps = xrealloc(t->steps, (t->n_steps + 1) * sizeof(*t->steps));
		s = &t->steps[t->n_steps++];
		memset(s, 0, sizeof(*s));
		s->idx = sqlite3_column_int(st, 0);
		s->name = meta_col_text(st, 1);
		s->status = meta_col_text(st, 2);
		s->started_at = meta_col_text(st, 3);
		s->finished_at = meta_col_text(st, 4);
		s->error_code = meta_col_text(st, 5);
		s->error_message = meta_col_text(st, 6);
		s->error_detail = meta_col_text(st, 7);
		s->error_hint = meta_col_text(st, 8);
		s->log = meta_col_text(st, 9);
		s->bytes_done = sqlite3_column_int64(st, 10);
		s->bytes_total = sqlite3_column_int64(st, 11);
		s->files_done = sqlite3_column_int64(st, 12);
		s->attempts = sqlite3_column_int64(st, 13);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : meta_db_error(m, "read of task steps");
}

static int
bind_step(sqlite3_stmt *st, int64_t task_id, const MetaTaskStep *s)
{
	sqlite3_bind_int64(st, 1, task_id);
	sqlite3_bind_int(st, 2, s->idx);
	meta_bind_text(st, 3, s->name);
	meta_bind_text(st, 4, s->status);
	meta_bind_text(st, 5, s->started_at);
	meta_bind_text(st, 6, s->finished_at);
	meta_bind_text(st, 7, s->error_code);
	meta_bind_text(st, 8, s->error_message);
	meta_bind_text(st, 9, s->error_detail);
	meta_bind_text(st, 10, s->error_hint);
	meta_bind_text(st, 11, s->log ? s->log : "");
	sqlite3_bind_int64(st, 12, s->bytes_done);
	sqlite3_bind_int64(st, 13, s->bytes_total);
	sqlite3_bind_int64(st, 14, s->files_done);
	sqlite3_bind_int64(st, 15, s->attempts);
	return 0;
}

int
meta_task_insert(Meta *m, MetaTask *t)
{
	sqlite3_stmt *st = NULL;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_exec_sql(m, "BEGIN IMMEDIATE")) < 0)
		return rc;
	if ((rc = meta_prepare(m, &st, "INSERT INTO task (type, cluster, tenant, status, params, state, created_by,"
	                               " created_at, started_at) VALUES (?,?,?,?,?,?,?,?,?)")) < 0)
		goto fail;
	meta_bind_text(st, 1, t->type);
	meta_bind_text(st, 2, t->cluster);
	meta_bind_text(st, 3, t->tenant);
	meta_bind_text(st, 4, t->status);
	meta_bind_text(st, 5, t->params ? t->params : "{}");
	meta_bind_text(st, 6, t->state ? t->state : "{}");
	meta_bind_text(st, 7, t->created_by);
	meta_bind_text(st, 8, t->created_at ? t->created_at : now);
	meta_bind_text(st, 9, t->started_at);
	if ((rc = meta_step_done(m, st, "insert of a task")) < 0)
		goto fail;
	t->id = sqlite3_last_insert_rowid(m->db);
	for (size_t i = 0; i < t->n_steps; i++) {
		if ((rc = meta_prepare(m, &st, "INSERT INTO task_step (task_id, " STEP_COLS ") VALUES"
		                               " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) < 0)
			goto fail;
		bind_step(st, t->id, &t->steps[i]);
		if ((rc = meta_step_done(m, st, "insert of a task step")) < 0)
			goto fail;
	}
	return meta_exec_sql(m, "COMMIT");
fail:
	meta_exec_sql(m, "ROLLBACK");
	return rc;
}

int
meta_task_get(Meta *m, int64_t id, MetaTask *out)
{
	sqlite3_stmt *st;
	char key[32];
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(key, sizeof(key), "%lld", (long long)id);
	if ((rc = meta_prepare(m, &st, "SELECT " TASK_COLS " FROM task WHERE id = ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = step_row_or(m, st, "read of a task", "task %s does not exist", key)) < 0)
		return rc;
	read_task(st, out);
	sqlite3_finalize(st);
	if ((rc = load_steps(m, out)) < 0)
		meta_task_clear(out);
	return rc;
}

int
meta_task_list(Meta *m, const MetaTaskFilter *f, MetaTask **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaTask *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " TASK_COLS " FROM task WHERE (?1 IS NULL OR cluster = ?1)"
	                               " AND (?2 IS NULL OR tenant = ?2) AND (?3 IS NULL OR status = ?3)"
	                               " AND (?4 IS NULL OR type = ?4) AND (?5 IS NULL OR created_at >= ?5)"
	                               " ORDER BY id DESC LIMIT ?6")) < 0)
		return rc;
	meta_bind_text(st, 1, f ? f->cluster : NULL);
	meta_bind_text(st, 2, f ? f->tenant : NULL);
	meta_bind_text(st, 3, f ? f->status : NULL);
	meta_bind_text(st, 4, f ? f->type : NULL);
	meta_bind_text(st, 5, f ? f->since : NULL);
	sqlite3_bind_int64(st, 6, f && f->limit > 0 ? f->limit : 100);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_task(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_task_array_free(a, n);
		return meta_db_error(m, "list of tasks");
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = load_steps(m, &a[i])) < 0) {
			meta_task_array_free(a, n);
			return rc;
		}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_task_update(Meta *m, const MetaTask *t)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE task SET status = ?, state = ?, started_at = ?, finished_at = ?,"
	                               " error = ?, cancel_requested = ? WHERE id = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, t->status);
	meta_bind_text(st, 2, t->state ? t->state : "{}");
	meta_bind_text(st, 3, t->started_at);
	meta_bind_text(st, 4, t->finished_at);
	meta_bind_text(st, 5, t->error);
	sqlite3_bind_int(st, 6, t->cancel_requested);
	sqlite3_bind_int64(st, 7, t->id);
	return meta_step_done(m, st, "update of a task");
}

int
meta_task_step_update(Meta *m, int64_t task_id, const MetaTaskStep *s)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "REPLACE INTO task_step (task_id, " STEP_COLS ") VALUES"
	                               " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	bind_step(st, task_id, s);
	return meta_step_done(m, st, "update of a task step");
}

int
meta_task_step_log(Meta *m, int64_t task_id, int idx, const char *line)
{
	sqlite3_stmt *st;
	char now[40];
	char *text;
	int rc;

	now_text(now, sizeof(now));
	text = xasprintf("%s %s\n", now, line);
	if ((rc = meta_prepare(m, &st, "UPDATE task_step SET log = log || ? WHERE task_id = ? AND idx = ?")) < 0) {
		free(text);
		return rc;
	}
	meta_bind_text(st, 1, text);
	sqlite3_bind_int64(st, 2, task_id);
	sqlite3_bind_int(st, 3, idx);
	rc = meta_step_done(m, st, "log of a task step");
	free(text);
	return rc;
}

int
meta_task_request_cancel(Meta *m, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE task SET cancel_requested = 1 WHERE id = ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return meta_step_done(m, st, "update of a task");
}

int
meta_task_fail_running(Meta *m, const char *reason, int *out_count)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	*out_count = 0;
	if ((rc = meta_exec_sql(m, "BEGIN IMMEDIATE")) < 0)
		return rc;
	if ((rc = meta_prepare(m, &st, "UPDATE task_step SET status = 'FAILED', finished_at = ?1, error_code = 'interrupted',"
	                               " error_message = ?2 WHERE status = 'RUNNING'"
	                               " AND task_id IN (SELECT id FROM task WHERE status = 'RUNNING')")) < 0)
		goto fail;
	meta_bind_text(st, 1, now);
	meta_bind_text(st, 2, reason);
	if ((rc = meta_step_done(m, st, "update of task steps")) < 0)
		goto fail;
	if ((rc = meta_prepare(m, &st, "UPDATE task SET status = 'FAILED', finished_at = ?1, error = ?2"
	                               " WHERE status = 'RUNNING'")) < 0)
		goto fail;
	meta_bind_text(st, 1, now);
	meta_bind_text(st, 2, reason);
	if ((rc = meta_step_done(m, st, "update of tasks")) < 0)
		goto fail;
	*out_count = sqlite3_changes(m->db);
	return meta_exec_sql(m, "COMMIT");
fail:
	meta_exec_sql(m, "ROLLBACK");
	return rc;
}

void
meta_task_clear(MetaTask *t)
{
	if (t == NULL)
		return;
	free(t->type);
	free(t->cluster);
	free(t->tenant);
	free(t->status);
	free(t->params);
	free(t->state);
	free(t->created_by);
	free(t->created_at);
	free(t->started_at);
	free(t->finished_at);
	free(t->error);
	for (size_t i = 0; i < t->n_steps; i++) {
		MetaTaskStep *s = &t->steps[i];
		free(s->name);
		free(s->status);
		free(s->started_at);
		free(s->finished_at);
		free(s->error_code);
		free(s->error_message);
		free(s->error_detail);
		free(s->error_hint);
		free(s->log);
	}
	free(t->steps);
	memset(t, 0, sizeof(*t));
}

void
meta_task_array_free(MetaTask *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_task_clear(&a[i]);
	free(a);
}

/* ---- audit log ---- */

int
meta_audit_add(Meta *m, const MetaAudit *a)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO audit (at, user_name, role, client, action, object, outcome, detail)"
	                               " VALUES (?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	meta_bind_text(st, 1, now);
	meta_bind_text(st, 2, a->user_name);
	meta_bind_text(st, 3, a->role);
	meta_bind_text(st, 4, a->client);
	meta_bind_text(st, 5, a->action);
	meta_bind_text(st, 6, a->object);
	meta_bind_text(st, 7, a->outcome);
	meta_bind_text(st, 8, a->detail);
	return meta_step_done(m, st, "insert of an audit entry");
}

int
meta_audit_list(Meta *m, int64_t limit, int64_t before, MetaAudit **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaAudit *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT id, at, user_name, role, client, action, object, outcome, detail FROM audit"
	                               " WHERE ? = 0 OR id < ? ORDER BY id DESC LIMIT ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, before);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : 100);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		a[n].id = sqlite3_column_int64(st, 0);
		a[n].at = meta_col_text(st, 1);
		a[n].user_name = meta_col_text(st, 2);
		a[n].role = meta_col_text(st, 3);
		a[n].client = meta_col_text(st, 4);
		a[n].action = meta_col_text(st, 5);
		a[n].object = meta_col_text(st, 6);
		a[n].outcome = meta_col_text(st, 7);
		a[n].detail = meta_col_text(st, 8);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_audit_array_free(a, n);
		return meta_db_error(m, "list of the audit log");
	}
	*out = a;
	*out_count = n;
	return 0;
}

void
meta_audit_json(JsonWriter *w, const MetaAudit *a)
{
	json_object_begin(w);
	json_kv_int(w, "id", a->id);
	json_kv_string(w, "at", a->at);
	json_kv_string(w, "user", a->user_name);
	json_kv_string(w, "role", a->role);
	json_kv_string(w, "client", a->client);
	json_kv_string(w, "action", a->action);
	json_kv_string(w, "object", a->object);
	json_kv_string(w, "outcome", a->outcome);
	json_kv_string(w, "detail", a->detail);
	json_object_end(w);
}

void
meta_audit_array_free(MetaAudit *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].at);
		free(a[i].user_name);
		free(a[i].role);
		free(a[i].client);
		free(a[i].action);
		free(a[i].object);
		free(a[i].outcome);
		free(a[i].detail);
	}
	free(a);
}

/* ---- task statistics (/metrics) ---- */

int
meta_task_stats(Meta *m, MetaTaskStat **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaTaskStat *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	/* the duration of each group's newest finished task: times are stored as
	 * "YYYY-MM-DD HH:MM:SS+00", whose first 19 characters SQLite reads */
	if ((rc = meta_prepare(m, &st,
	                       "SELECT g.type, g.cluster, g.tenant, g.status, g.n,"
	                       " coalesce((SELECT (julianday(substr(t.finished_at, 1, 19)) -"
	                       "                   julianday(substr(coalesce(t.started_at, t.created_at), 1, 19))) * 86400.0"
	                       "           FROM task t WHERE t.type = g.type AND t.cluster = g.cluster"
	                       "            AND t.tenant = g.tenant AND t.status = g.status"
	                       "            AND t.finished_at IS NOT NULL"
	                       "          ORDER BY t.id DESC LIMIT 1), -1)"
	                       " FROM (SELECT type, cluster, tenant, status, count(*) AS n FROM task"
	                       "       GROUP BY type, cluster, tenant, status) g"
	                       " ORDER BY g.type, g.cluster, g.tenant, g.status")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		a[n].type = meta_col_text(st, 0);
		a[n].cluster = meta_col_text(st, 1);
		a[n].tenant = meta_col_text(st, 2);
		a[n].status = meta_col_text(st, 3);
		a[n].count = sqlite3_column_int64(st, 4);
		a[n].last_duration_s = sqlite3_column_double(st, 5);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_task_stats_free(a, n);
		return meta_db_error(m, "task statistics");
	}
	*out = a;
	*out_count = n;
	return 0;
}

void
meta_task_stats_free(MetaTaskStat *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].type);
		free(a[i].cluster);
		free(a[i].tenant);
		free(a[i].status);
	}
	free(a);
}
