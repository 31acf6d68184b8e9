/*
 * logical.c - the data of a logical backup: one tenant database dumped by
 * the pg_dump of the server's major version, in the custom format (it
 * restores in parallel), uncompressed by pg_dump and streamed through a
 * tenback container (compression, SHA-256) into the set: no copy of the
 * dump ever lands on local disk.
 *
 * Invariants: the dump, the roles and the database properties come from
 * one snapshot (pg_export_snapshot in a REPEATABLE READ transaction that
 * stays open until pg_dump has finished); an object is stored only when
 * pg_dump exited 0 (a failed dump's object is never committed).  The
 * caller (backup.c) writes the manifest last, as for every set.
 */
#include "backup/backup_int.h"
#include "backup/logical_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
dump_log(const LogicalDumpOpts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
dump_log(const LogicalDumpOpts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
	if (o->log_cb)
		o->log_cb(line, o->payload);
}

int
logical_check_tenant(PgConn *conn, const char *cluster, const char *tenant)
{
	const char *params[1] = {tenant};
	char *allow = NULL;
	int rc;

	if (strcmp(tenant, "*") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "logical backup is of one tenant, not of the whole instance");
		err_hint("Name a tenant database with --tenant, or back up \"*\" with --method physical.");
		return rc;
	}
	rc = pg_conn_query_value(conn, &allow, "SELECT datallowconn::text FROM pg_database WHERE datname = $1", 1, params);
	if (rc == ERR_NOT_FOUND) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" does not exist in cluster \"%s\"", tenant, cluster);
		err_hint("\"tenback tenant list --cluster %s\" shows the tenants.", cluster);
	} else if (rc == 0 && strcmp(allow, "true") != 0) {
		rc = err_set(ERR_UNSUPPORTED, "tenant \"%s\" of cluster \"%s\" does not allow connections", tenant, cluster);
		err_hint("pg_dump connects to the database: ALTER DATABASE ... ALLOW_CONNECTIONS true, or use physical backup.");
	}
	free(allow);
	return rc;
}

/* Store a small text as one object of the set; its manifest entry in m. */
static int
store_text(Manifest *m, const LogicalDumpOpts *o, const char *name, const Buf *text)
{
	char *object = xasprintf("%s/data/%s", o->set_dir, name);
	IoWriter *sink = NULL, *w = NULL;
	IoContainerInfo info;
	ManifestFile *f;
	int rc;

	if ((rc = storage_write_open(o->storage, &sink, object, &(StorageWriteOpts){.no_sync = true})) < 0)
		goto out;
	rc = io_container_writer_new(&w, sink, o->compress, o->level, o->checksum);
	sink = NULL;
	if (rc < 0 || (rc = io_writer_write(w, text->data ? text->data : "", text->len)) < 0 ||
	    (rc = io_writer_close(w)) < 0)
		goto out;
	io_container_writer_info(w, &info);
	f = manifest_add_file(m, name, MF_FILE);
	f->size = info.raw_size;
	f->stored_size = info.stored_size;
	f->mode = 0600;
	f->mtime = (int64_t)time(NULL);
	f->sum = info.sum;
	m->size_bytes += f->size;
	m->stored_bytes += f->stored_size;
out:
	if (rc < 0)
		err_prefix("could not store \"%s\"", object);
	io_writer_free(w);
	io_writer_free(sink);
	free(object);
	return rc;
}

/* pg_dump's stdout into <set>/data/tenant.dump through a container. */
static int
stream_dump(Manifest *m, const LogicalDumpOpts *o, PgProc *p, uint64_t estimate)
{
	char *object = xasprintf("%s/data/%s", o->set_dir, LOGICAL_DUMP);
	IoWriter *sink = NULL, *w = NULL;
	uint8_t *buf = xmalloc(COPY_BUF_SIZE);
	IoContainerInfo info;
	uint64_t done = 0;
	int64_t last = time_now_ms();
	ManifestFile *f;
	int rc;

	if ((rc = storage_write_open(o->storage, &sink, object, &(StorageWriteOpts){.no_sync = true})) < 0)
		goto out;
	rc = io_container_writer_new(&w, sink, o->compress, o->level, o->checksum);
	sink = NULL;
	if (rc < 0)
		goto out;
	for (;;) {
		ssize_t n = read(p->out_fd, buf, COPY_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_errno(errno, "could not read the output of pg_dump");
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = io_writer_write(w, buf, (size_t)n)) < 0)
			goto out;
		done += (uint64_t)n;
		if (time_now_ms() - last >= 500) {
			last = time_now_ms();
			if (o->progress_cb)
				o->progress_cb(done, estimate > done ? estimate : done, 0, o->payload);
			if (o->cancel_cb && o->cancel_cb(o->payload)) {
				rc = err_set(ERR_CANCELLED, "the backup was cancelled");
				goto out;
			}
		}
	}
	/* Only a dump that pg_dump finished counts: its exit status before the commit. */
	if ((rc = pgproc_wait(p)) < 0) {
		err_prefix("pg_dump of tenant \"%s\" failed", o->tenant);
		goto out;
	}
	if ((rc = io_writer_close(w)) < 0)
		goto out;
	io_container_writer_info(w, &info);
	f = manifest_add_file(m, LOGICAL_DUMP, MF_FILE);
	f->size = info.raw_size;
	f->stored_size = info.stored_size;
	f->mode = 0600;
	f->mtime = (int64_t)time(NULL);
	f->sum = info.sum;
	m->size_bytes += f->size;
	m->stored_bytes += f->stored_size;
	if (o->progress_cb)
		o->progress_cb(done, done, 1, o->payload);
out:
	if (rc < 0 && rc != ERR_PG && rc != ERR_CANCELLED)
		err_prefix("while storing the dump at \"%s\"", object);
	io_writer_free(w);   /* without a successful close: nothing is visible */
	io_writer_free(sink);
	free(buf);
	free(object);
	return rc;
}

int
logical_dump(Manifest *m, const LogicalDumpOpts *o)
{
	PgConn *conn = NULL;
	PGresult *res = NULL;
	char *ci = NULL, *tool_ci = NULL, *password = NULL, *sslpassword = NULL;
	char *snapshot_arg = NULL, *dbname_arg = NULL;
	Buf roles = BUF_INIT, dbprops = BUF_INIT;
	PgProc p = {0};
	size_t n_roles = 0;
	bool passwords = false;
	uint64_t estimate;
	char *warnings;
	int64_t t0 = time_now_ms();
	int rc;

	if ((rc = pgtool_conninfo(&ci, NULL, NULL, o->cluster->conninfo, o->tenant, true)) < 0 ||
	    (rc = pgtool_conninfo(&tool_ci, &password, &sslpassword, o->cluster->conninfo, o->tenant, false)) < 0)
		goto out;
	if ((rc = pg_conn_open(&conn, ci)) < 0) {
		err_prefix("tenant \"%s\" of cluster \"%s\"", o->tenant, o->cluster->name);
		goto out;
	}
	/* One snapshot for everything the set holds; it lives as long as this transaction. */
	if ((rc = pg_conn_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")) < 0 ||
	    /* the transaction stays idle while pg_dump works: a managed server's
	     * timeouts must not end it (and the snapshot with it) */
	    (rc = pg_conn_exec(conn, "SET LOCAL idle_in_transaction_session_timeout = 0")) < 0 ||
	    (rc = pg_conn_exec(conn, "SET LOCAL statement_timeout = 0")) < 0 ||
	    (rc = pg_conn_query(conn, &res,
	                        "SELECT pg_export_snapshot(),"
	                        " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00',"
	                        " current_setting('server_version_num')::int, pg_database_size(current_database()),"
	                        " pg_encoding_to_char(d.encoding), d.datcollate, d.datctype"
	                        " FROM pg_database d WHERE d.datname = current_database()", 0, NULL)) < 0) {
		err_prefix("could not take a snapshot of tenant \"%s\"", o->tenant);
		goto out;
	}
	snapshot_arg = xasprintf("--snapshot=%s", PQgetvalue(res, 0, 0));
	free(m->start_time);
	m->start_time = xstrdup(PQgetvalue(res, 0, 1));
	m->pg_version = (uint32_t)atoi(PQgetvalue(res, 0, 2));
	estimate = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
	m->db_encoding = xstrdup(PQgetvalue(res, 0, 4));
	m->db_collate = xstrdup(PQgetvalue(res, 0, 5));
	m->db_ctype = xstrdup(PQgetvalue(res, 0, 6));
	PQclear(res);
	res = NULL;
	/* PostgreSQL 15: the locale provider (ICU) of the database */
	if (m->pg_version >= 150000) {
		if ((rc = pg_conn_query(conn, &res,
		                        "SELECT d.datlocprovider::text, d.daticulocale FROM pg_database d"
		                        " WHERE d.datname = current_database()", 0, NULL)) < 0)
			goto out;
		m->db_locale_provider = xstrdup(PQgetvalue(res, 0, 0));
		m->db_icu_locale = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		res = NULL;
	}
	if ((rc = logical_globals(conn, &roles, &dbprops, &n_roles, &passwords)) < 0)
		goto out;
	if (!passwords)
		dump_log(o, "warning: the backup role cannot read role passwords (pg_authid): roles are backed up "
		            "without them");
	dump_log(o, "snapshot of %s taken; %zu role(s) and the database's properties read; pg_dump starts",
	         m->start_time, n_roles);

	dbname_arg = xasprintf("--dbname=%s", tool_ci);
	{
		/* -Z0: tenback compresses; no --jobs: the custom format is written by one process */
		const char *argv[] = {o->pg_dump, "--format=custom", "--compress=0", "--no-password", snapshot_arg,
		                      dbname_arg, NULL};
		if ((rc = pgproc_start(&p, argv, password, sslpassword, PGPROC_PIPE)) < 0)
			goto out;
	}
	if ((rc = stream_dump(m, o, &p, estimate)) < 0)
		goto out;
	/* the roles (with their password hashes) are stored only once the dump succeeded:
	 * a failed dump leaves no copy of them behind */
	if ((rc = store_text(m, o, LOGICAL_ROLES, &roles)) < 0 || (rc = store_text(m, o, LOGICAL_DBPROPS, &dbprops)) < 0)
		goto out;
	warnings = pgproc_stderr(&p, 2000);
	if (warnings[0])
		dump_log(o, "pg_dump said: %s", warnings);
	free(warnings);
	dump_log(o, "pg_dump of tenant \"%s\": %.1f MiB dumped, %.1f MiB stored in %.1f s", o->tenant,
	         (double)m->size_bytes / 1048576.0, (double)m->stored_bytes / 1048576.0,
	         (double)(time_now_ms() - t0) / 1000.0);
	rc = pg_conn_exec(conn, "COMMIT");
out:
	pgproc_clear(&p);     /* a pg_dump still running (an error above) is stopped */
	PQclear(res);
	pg_conn_free(conn);
	str_wipe_free(password);
	str_wipe_free(sslpassword);
	str_wipe_free(ci);
	free(tool_ci);
	free(snapshot_arg);
	free(dbname_arg);
	buf_free(&roles);
	buf_free(&dbprops);
	return rc;
}
