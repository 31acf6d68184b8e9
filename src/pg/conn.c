/*
 * conn.c - libpq wrapper.
 *
 * Server notices are collected at DEBUG level, never printed raw: a
 * pg_backup_stop warning must not surprise scripts that read stderr.
 */
#include "pg/conn.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct PgConn {
	PGconn *conn;
};

static void
notice_cb(void *arg, const char *message)
{
	(void)arg;
	log_debug("server: %.*s", (int)strcspn(message, "\n"), message);
}

/* conninfo without its secrets (password, sslpassword), for messages; the
 * text as given only when it does not parse (then libpq has nothing to
 * hide in it either: it cannot use it). */
static char *
conninfo_redacted(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	Buf b = BUF_INIT;

	if (opts == NULL)
		return xstrdup("(unparsable)");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0)
			continue;
		if (b.len)
			buf_putc(&b, ' ');
		buf_printf(&b, "%s='", o->keyword);
		for (const char *p = o->val; *p; p++) {
			if (*p == '\'' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '\'');
	}
	PQconninfoFree(opts);
	return buf_steal(&b);
}

int
pg_conn_open(PgConn **out, const char *conninfo)
{
	return pg_conn_open_timeout(out, conninfo, 0);
}

int
pg_conn_open_timeout(PgConn **out, const char *conninfo, int timeout_s)
{
	PgConn *c;
	PGconn *conn;
	char timeout[16];
	/* the conninfo expanded first, the timeout after it: it wins */
	const char *const keys[] = {"dbname", timeout_s > 0 ? "connect_timeout" : NULL, NULL};
	const char *const values[] = {conninfo, timeout, NULL};

	*out = NULL;
	snprintf(timeout, sizeof(timeout), "%d", timeout_s);
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL)
		return err_set(ERR_INTERNAL, "out of memory connecting to PostgreSQL");
	if (PQstatus(conn) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(conn);
		int rc = err_set(ERR_NETWORK, "could not connect to PostgreSQL");
		err_detail("%.*s", (int)strcspn(msg, "\n"), msg);
		char *shown = conninfo_redacted(conninfo);
		err_hint("Check that the server is running and that --conninfo \"%s\" reaches it.", shown);
		free(shown);
		PQfinish(conn);
		return rc;
	}
	PQsetNoticeProcessor(conn, notice_cb, NULL);
	c = xcalloc(1, sizeof(*c));
	c->conn = conn;
	*out = c;
	return 0;
}

void
pg_conn_free(PgConn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->conn);
	free(c);
}

static int
result_error(PgConn *c, PGresult *res, const char *sql)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	int code = ERR_PG;
	int rc;

	if (PQstatus(c->conn) != CONNECTION_OK)
		code = ERR_NETWORK;
	else if (state && strcmp(state, "42501") == 0)
		code = ERR_PERMISSION;
	if (msg == NULL) {
		msg = PQerrorMessage(c->conn);
		rc = err_set(code, "%.*s", (int)strcspn(msg, "\n"), msg);
	} else {
		rc = err_set(code, "%s", msg);
	}
	err_detail("SQLSTATE %s in: %.200s", state ? state : "?", sql);
	if (hint)
		err_hint("%s", hint);
	return rc;
}

int
pg_conn_query(PgConn *c, PGresult **out, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc;

	*out = NULL;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		rc = result_error(c, res, sql);
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

int
pg_conn_send(PgConn *c, const char *sql)
{
	return pg_conn_send_params(c, sql, 0, NULL);
}

int
pg_conn_send_params(PgConn *c, const char *sql, int nparams, const char *const *params)
{
	if (PQsendQueryParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0) == 1)
		return 0;
	return result_error(c, NULL, sql);
}

int
pg_conn_receive(PgConn *c, PGresult **out, const char *sql)
{
	PGresult *res = NULL, *next;
	ExecStatusType st;
	int rc;

	/* the last result is the statement's (or its error); then NULL */
	while ((next = PQgetResult(c->conn)) != NULL) {
		PQclear(res);
		res = next;
	}
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	*out = NULL;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		rc = result_error(c, res, sql);
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

int
pg_conn_query_many(PgConn *c, PGresult **out, const char *const *sqls, size_t n)
{
	size_t sent = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0)
		return 0;
	if (PQenterPipelineMode(c->conn) != 1)
		return result_error(c, NULL, sqls[0]);
	for (; sent < n; sent++)
		if (PQsendQueryParams(c->conn, sqls[sent], 0, NULL, NULL, NULL, NULL, 0) != 1) {
			rc = result_error(c, NULL, sqls[sent]);
			break;
		}
	if (rc == 0 && PQpipelineSync(c->conn) != 1)
		rc = result_error(c, NULL, sqls[n - 1]);
	if (rc < 0) {
		/* nothing is read back: the connection is not used again */
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		PGresult *res = PQgetResult(c->conn), *end;
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

		if (res == NULL) {
			/* the connection failed: no more results come */
			if (rc == 0)
				rc = result_error(c, NULL, sqls[i]);
			break;
		}
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			out[i] = res;
		} else {
			if (rc == 0)
				rc = result_error(c, res, sqls[i]);
			PQclear(res);
		}
		/* each query's results end with a NULL */
		while ((end = PQgetResult(c->conn)) != NULL)
			PQclear(end);
	}
	if (PQstatus(c->conn) == CONNECTION_OK) {
		PGresult *sync = PQgetResult(c->conn);

		if (sync && PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == 0)
			rc = result_error(c, sync, sqls[n - 1]);
		PQclear(sync);
		if (PQexitPipelineMode(c->conn) != 1 && rc == 0)
			rc = result_error(c, NULL, sqls[n - 1]);
	}
	if (rc < 0)
		for (size_t i = 0; i < n; i++) {
			PQclear(out[i]);
			out[i] = NULL;
		}
	return rc;
}

int
pg_conn_exec(PgConn *c, const char *sql)
{
	PGresult *res;
	int rc = pg_conn_query(c, &res, sql, 0, NULL);

	PQclear(res);
	return rc;
}

int
pg_conn_query_value(PgConn *c, char **out, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	int rc;

	*out = NULL;
	if ((rc = pg_conn_query(c, &res, sql, nparams, params)) < 0)
		return rc;
	if (PQntuples(res) < 1 || PQnfields(res) < 1) {
		PQclear(res);
		return err_set(ERR_NOT_FOUND, "query returned no rows");
	}
	if (!PQgetisnull(res, 0, 0))
		*out = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
pg_conn_server_version(PgConn *c)
{
	return PQserverVersion(c->conn);
}

PGconn *
pg_conn_raw(PgConn *c)
{
	return c->conn;
}
