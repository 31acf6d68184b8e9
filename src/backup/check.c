/*
 * check.c - "tenback check": the checks of a cluster's setup, in order,
 * each one recorded whatever the others found.
 *
 * Order: the home, the connection, the data directory, archive_mode,
 * archive_command, the storage, and last a WAL switch that must reach the
 * archive in the cluster's storage.  A check that needs an earlier one's
 * result (the connection, the storage) is skipped when that one failed:
 * its verdict would only repeat the first failure.
 */
#include "backup/check.h"
#include "backup/backup.h"
#include "backup/backup_int.h"
#include "backup/manifest.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/conn.h"
#include "pg/control.h"
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Run {
	const CheckOpts *o;
	CheckItem *items;
	size_t n, cap;
	int64_t t0;
} Run;

static void
begin(Run *r)
{
	r->t0 = time_now_ms();
	err_clear();
}

static CheckItem *
add(Run *r, const char *name, CheckStatus status)
{
	CheckItem *it;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->items = xrealloc(r->items, r->cap * sizeof(*r->items));
	}
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->name = name;
	it->status = status;
	it->elapsed_ms = time_now_ms() - r->t0;
	return it;
}

static void
done(Run *r)
{
	if (r->o->item_cb)
		r->o->item_cb(&r->items[r->n - 1], r->o->payload);
}

static void
pass(Run *r, const char *name, char *message)
{
	add(r, name, CHECK_OK)->message = message;
	done(r);
}

static void
skip(Run *r, const char *name, const char *why)
{
	add(r, name, CHECK_SKIP)->message = xstrdup(why);
	done(r);
}

/* A failure from the thread's error record (set by the caller). */
static void
fail(Run *r, const char *name)
{
	CheckItem *it = add(r, name, CHECK_FAIL);

	it->message = xstrdup(err_message()[0] ? err_message() : "unknown error");
	if (err_detail_text()[0])
		it->detail = xstrdup(err_detail_text());
	if (err_hint_text()[0])
		it->hint = xstrdup(err_hint_text());
	done(r);
	err_clear();
}

/* The home: a directory of this user, mode 0700 (meta_open refuses group or
 * other access already), with a writable metadata file. */
static void
check_home(Run *r)
{
	struct stat st;
	char *db = path_join(r->o->home, "metadata.db");

	begin(r);
	if (stat(r->o->home, &st) < 0) {
		err_errno(errno, "could not stat tenback home \"%s\"", r->o->home);
		fail(r, "home");
	} else if (st.st_uid != geteuid()) {
		err_set(ERR_PERMISSION, "tenback home \"%s\" belongs to another user (uid %u)", r->o->home,
		        (unsigned)st.st_uid);
		err_hint("Run tenback as the user that owns the home, the one PostgreSQL runs as (archive_command).");
		fail(r, "home");
	} else if (access(db, R_OK | W_OK) < 0) {
		err_errno(errno, "metadata \"%s\" is not writable", db);
		fail(r, "home");
	} else {
		pass(r, "home", xasprintf("\"%s\" is private to this user (mode %04o)", r->o->home,
		                          (unsigned)(st.st_mode & 07777)));
	}
	free(db);
}

static void
check_connection(Run *r, const MetaCluster *c, PgConn **out)
{
	PgConn *conn = NULL;
	char *sysid = NULL, *recovery = NULL, *version = NULL;

	begin(r);
	*out = NULL;
	if (pg_conn_open(&conn, c->conninfo) < 0) {
		err_prefix("cluster \"%s\"", c->name);
		err_hint("Check that the server runs and the conninfo of \"cluster add\" reaches it (host, port, user).");
		goto fail;
	}
	if (pg_conn_query_value(conn, &version, "SELECT current_setting('server_version')", 0, NULL) < 0 ||
	    pg_conn_query_value(conn, &recovery, "SELECT pg_is_in_recovery()", 0, NULL) < 0 ||
	    pg_conn_query_value(conn, &sysid, "SELECT system_identifier::text FROM pg_control_system()", 0, NULL) < 0)
		goto fail;
	if (strcmp(recovery, "t") == 0) {
		err_set(ERR_UNSUPPORTED, "cluster \"%s\" is a standby; backups are taken from the primary", c->name);
		goto fail;
	}
	if (strcmp(sysid, c->system_id) != 0) {
		err_set(ERR_INVALID, "cluster \"%s\" now answers with another system identifier", c->name);
		err_detail("Registered %s, the server says %s.", c->system_id, sysid);
		err_hint("The conninfo reaches another instance; register that one under its own name.");
		goto fail;
	}
	pass(r, "connection", xasprintf("PostgreSQL %s, system identifier %s", version, sysid));
	*out = conn;
	conn = NULL;
	goto out;
fail:
	fail(r, "connection");
out:
	pg_conn_free(conn);
	free(sysid);
	free(recovery);
	free(version);
}

/* Readable by this user: pg_control (and the system identifier in it) and
 * the list of a database directory. */
static void
check_pgdata(Run *r, const MetaCluster *c)
{
	PgControl ctl;
	char sysid[32];
	char *base = NULL;
	DIR *d = NULL;

	begin(r);
	if (c->pgdata == NULL || c->pgdata[0] == '\0') {
		skip(r, "data directory", "none registered: logical backup only");
		return;
	}
	if (pg_control_read(&ctl, c->pgdata) < 0) {
		err_prefix("data directory \"%s\" is not readable as a PostgreSQL data directory", c->pgdata);
		err_hint("Run tenback as the user that owns the data directory (usually postgres).");
		fail(r, "data directory");
		return;
	}
	snprintf(sysid, sizeof(sysid), "%" PRIu64, ctl.system_identifier);
	if (strcmp(sysid, c->system_id) != 0) {
		err_set(ERR_INVALID, "data directory \"%s\" belongs to another instance", c->pgdata);
		err_detail("Its system identifier is %s; the cluster was registered with %s.", sysid, c->system_id);
		err_hint("Register the cluster again with the --pgdata of the instance its conninfo reaches.");
		fail(r, "data directory");
		return;
	}
	base = path_join(c->pgdata, "base");
	if ((d = opendir(base)) == NULL) {
		err_errno(errno, "could not read directory \"%s\"", base);
		err_hint("Run tenback as the user that owns the data directory (usually postgres).");
		fail(r, "data directory");
	} else {
		pass(r, "data directory", xasprintf("\"%s\" is readable", c->pgdata));
		closedir(d);
	}
	free(base);
}

/* Whether cmd names "--NAME VALUE" or "--NAME=VALUE" with this value. */
static bool
has_option(const char *cmd, const char *name, const char *value)
{
	char *a = xasprintf("--%s %s ", name, value);
	char *b = xasprintf("--%s=%s ", name, value);
	char *padded = xasprintf("%s ", cmd);
	bool found = strstr(padded, a) || strstr(padded, b);

	/* a quoted value: --home '/x y' */
	if (!found) {
		free(a);
		free(b);
		a = xasprintf("--%s '%s'", name, value);
		b = xasprintf("--%s \"%s\"", name, value);
		found = strstr(cmd, a) || strstr(cmd, b);
	}
	free(a);
	free(b);
	free(padded);
	return found;
}

/* The value after "--home" in cmd (unquoted), malloc'd; NULL without one. */
static char *
option_value(const char *cmd, const char *name)
{
	char *key = xasprintf("--%s", name);
	const char *p = strstr(cmd, key);
	const char *end;
	size_t len = strlen(key);

	free(key);
	if (p == NULL || (p[len] != ' ' && p[len] != '='))
		return NULL;
	p += len + 1;
	while (*p == ' ')
		p++;
	if (*p == '\'' || *p == '"') {
		char q = *p++;
		end = strchr(p, q);
	} else {
		end = p + strcspn(p, " ");
	}
	if (end == NULL)
		end = p + strlen(p);
	char *v = xmalloc((size_t)(end - p) + 1);

	memcpy(v, p, (size_t)(end - p));
	v[end - p] = '\0';
	return v;
}

/* archive_mode on; archive_command tenback's archive-push with this home and
 * this cluster.  *out_ok tells the WAL check whether to go on. */
static void
check_archiving(Run *r, const MetaCluster *c, PgConn *conn, bool *out_ok)
{
	char *mode = NULL, *cmd = NULL, *home = NULL, *real_home = NULL, *real_cmd_home = NULL;
	char *want = NULL;

	*out_ok = false;
	want = xasprintf("'tenback --home %s archive-push --cluster %s %%p'", r->o->home, c->name);
	begin(r);
	if (pg_conn_query_value(conn, &mode, "SELECT current_setting('archive_mode')", 0, NULL) < 0) {
		fail(r, "archive_mode");
		goto out;
	}
	if (strcmp(mode, "on") != 0 && strcmp(mode, "always") != 0) {
		err_set(ERR_INVALID, "archive_mode is \"%s\"", mode);
		err_hint("Set archive_mode = on in postgresql.conf and restart the server.");
		fail(r, "archive_mode");
	} else {
		pass(r, "archive_mode", xasprintf("archive_mode is \"%s\"", mode));
	}

	begin(r);
	if (pg_conn_query_value(conn, &cmd, "SELECT current_setting('archive_command')", 0, NULL) < 0) {
		fail(r, "archive_command");
		goto out;
	}
	if (strstr(cmd, "archive-push") == NULL || strstr(cmd, "%p") == NULL) {
		err_set(ERR_INVALID, "archive_command does not go through tenback archive-push");
		err_detail("archive_command is \"%s\".", cmd);
		err_hint("Set archive_command = %s and reload the server.", want);
		fail(r, "archive_command");
		goto out;
	}
	if (!has_option(cmd, "cluster", c->name)) {
		err_set(ERR_INVALID, "archive_command does not name cluster \"%s\"", c->name);
		err_detail("archive_command is \"%s\".", cmd);
		err_hint("Set archive_command = %s and reload the server.", want);
		fail(r, "archive_command");
		goto out;
	}
	home = option_value(cmd, "home");
	real_home = realpath(r->o->home, NULL);
	real_cmd_home = home ? realpath(home, NULL) : NULL;
	if (home == NULL || real_home == NULL || real_cmd_home == NULL || strcmp(real_home, real_cmd_home) != 0) {
		if (home == NULL)
			err_set(ERR_INVALID, "archive_command has no --home");
		else
			err_set(ERR_INVALID, "archive_command uses another home, \"%s\"", home);
		err_detail("archive_command is \"%s\"; this tenback's home is \"%s\".", cmd, r->o->home);
		err_hint("Set archive_command = %s and reload the server.", want);
		fail(r, "archive_command");
		goto out;
	}
	pass(r, "archive_command", xasprintf("\"%s\"", cmd));
	*out_ok = strcmp(mode, "on") == 0 || strcmp(mode, "always") == 0;
out:
	free(mode);
	free(cmd);
	free(home);
	free(real_home);
	free(real_cmd_home);
	free(want);
}

static void
check_storage(Run *r, Meta *meta, const MetaCluster *c, Storage **out)
{
	Storage *s = NULL;
	char *dir = NULL;

	begin(r);
	*out = NULL;
	if (cluster_storage_open(meta, c, NULL, &s) < 0) {
		fail(r, "storage");
		return;
	}
	dir = xasprintf("tenback/%s", c->system_id);
	if (storage_probe(s, dir) < 0) {
		if (!err_hint_text()[0])
			err_hint("Check that the storage exists and that this user may write to it (\"tenback storage test\").");
		fail(r, "storage");
		storage_free(s);
	} else {
		pass(r, "storage", xasprintf("\"%s\": an object written, read back, listed and removed", c->storage));
		*out = s;
	}
	free(dir);
}

/* Switch to a new WAL segment and wait for the one just closed in the archive. */
static void
check_wal(Run *r, const MetaCluster *c, PgConn *conn, Storage *s)
{
	int timeout_s = r->o->archive_timeout_s > 0 ? r->o->archive_timeout_s : 60;
	char *xid = NULL, *name = NULL, *failed = NULL, *path = NULL;
	int64_t deadline;
	StorageInfo info;

	begin(r);
	/* A transaction with an xid writes a commit record: the switch then
	 * always closes a segment with something in it. */
	if (pg_conn_query_value(conn, &xid, "SELECT txid_current()::text", 0, NULL) < 0 ||
	    pg_conn_query_value(conn, &name, "SELECT pg_walfile_name(pg_switch_wal())", 0, NULL) < 0) {
		err_hint("The role of the conninfo needs superuser or EXECUTE on pg_switch_wal().");
		fail(r, "WAL archived");
		goto out;
	}
	path = manifest_archive_path(c->system_id, name);
	deadline = time_now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		if (storage_info(s, path, &info) < 0) {
			fail(r, "WAL archived");
			goto out;
		}
		if (info.exists)
			break;
		if (time_now_ms() > deadline) {
			err_set(ERR_TIMEOUT, "WAL segment \"%s\" was not archived within %d seconds", name, timeout_s);
			if (pg_conn_query_value(conn, &failed,
			                        "SELECT coalesce(last_failed_wal || ' at ' || last_failed_time, '') "
			                        "FROM pg_stat_archiver", 0, NULL) == 0 && failed[0])
				err_detail("pg_stat_archiver: the last failure was for %s.", failed);
			err_hint("Look for archive_command's errors in the server log; raise --archive-timeout when "
			         "archiving is slow.");
			fail(r, "WAL archived");
			goto out;
		}
		usleep(100 * 1000);
	}
	pass(r, "WAL archived", xasprintf("segment %s reached the archive", name));
out:
	free(xid);
	free(name);
	free(failed);
	free(path);
}

int
cluster_check(Meta *meta, const CheckOpts *o, CheckItem **out, size_t *out_count)
{
	Run r = {.o = o};
	MetaCluster c = {0};
	PgConn *conn = NULL;
	Storage *s = NULL;
	bool archiving = false;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_cluster_get(meta, o->cluster, &c)) < 0)
		return rc;
	check_home(&r);
	check_connection(&r, &c, &conn);
	check_pgdata(&r, &c);
	if (c.pgdata == NULL || c.pgdata[0] == '\0') {
		skip(&r, "archive_mode", "logical backup only: no WAL archive");
		skip(&r, "archive_command", "logical backup only: no WAL archive");
	} else if (conn == NULL) {
		skip(&r, "archive_mode", "no connection");
		skip(&r, "archive_command", "no connection");
	} else {
		check_archiving(&r, &c, conn, &archiving);
	}
	check_storage(&r, meta, &c, &s);
	if (c.pgdata == NULL || c.pgdata[0] == '\0')
		skip(&r, "WAL archived", "logical backup only: no WAL archive");
	else if (conn == NULL || s == NULL || !archiving)
		skip(&r, "WAL archived", conn == NULL ? "no connection" : s == NULL ? "the storage failed"
		                                                             : "WAL archiving is not set up");
	else
		check_wal(&r, &c, conn, s);
	pg_conn_free(conn);
	storage_free(s);
	meta_cluster_clear(&c);
	*out = r.items;
	*out_count = r.n;
	return 0;
}

size_t
check_items_failed(const CheckItem *items, size_t n)
{
	size_t failed = 0;

	for (size_t i = 0; i < n; i++)
		if (items[i].status == CHECK_FAIL)
			failed++;
	return failed;
}

void
check_items_free(CheckItem *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].message);
		free(items[i].detail);
		free(items[i].hint);
	}
	free(items);
}

const char *
check_status_name(CheckStatus s)
{
	switch (s) {
	case CHECK_OK:
		return "OK";
	case CHECK_FAIL:
		return "FAIL";
	case CHECK_SKIP:
		return "SKIP";
	}
	return "?";
}
