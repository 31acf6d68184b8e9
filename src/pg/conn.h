/*
 * conn.h - a thin libpq wrapper: connect, run SQL, map failures to the
 * error record (message from the server, SQLSTATE in the detail).
 *
 * A PgConn owns its PGconn; results come back as PGresult the caller clears.
 * Not thread-safe: one connection per thread.
 */
#ifndef TENBACK_PG_CONN_H
#define TENBACK_PG_CONN_H

#include <libpq-fe.h>

typedef struct PgConn PgConn;

/* ERR_NETWORK "could not connect to PostgreSQL" with libpq's reason in the detail. */
int pg_conn_open(PgConn **out, const char *conninfo);
/* The same, giving up after timeout_s seconds (0: libpq's default, or the conninfo's). */
int pg_conn_open_timeout(PgConn **out, const char *conninfo, int timeout_s);
void pg_conn_free(PgConn *c);
/* Run a statement, discard rows. */
int pg_conn_exec(PgConn *c, const char *sql);
/* Run a query with text parameters; *out is the caller's (PQclear). */
int pg_conn_query(PgConn *c, PGresult **out, const char *sql, int nparams, const char *const *params);
/* The same in two halves, for work of the caller's while the server runs it:
 * pg_conn_send sends (an error: the connection's), pg_conn_receive waits
 * for the result, as pg_conn_query returns it.  Nothing else is sent on the
 * connection between them. */
int pg_conn_send(PgConn *c, const char *sql);
int pg_conn_send_params(PgConn *c, const char *sql, int nparams, const char *const *params);
int pg_conn_receive(PgConn *c, PGresult **out, const char *sql);
/* n queries without parameters in one round trip (libpq's pipeline mode);
 * out[i] is query i's result (the caller's to PQclear).  The first failure
 * is returned as pg_conn_query returns it, with every out[i] NULL; the
 * queries after a failed one do not run. */
int pg_conn_query_many(PgConn *c, PGresult **out, const char *const *sqls, size_t n);
/* First column of the only row as a malloc'd string (NULL for SQL NULL);
 * ERR_NOT_FOUND when no row. */
int pg_conn_query_value(PgConn *c, char **out, const char *sql, int nparams, const char *const *params);
int pg_conn_server_version(PgConn *c);
/* Borrowed, for the connection's life. */
PGconn *pg_conn_raw(PgConn *c);

#endif
