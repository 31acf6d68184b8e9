/*
 * logical_int.h - what the parts of logical backup share: running the
 * PostgreSQL client programs (pgtool.c), the dump into a set (logical.c),
 * the roles and database properties it needs (logical_globals.c).
 * Not for callers outside src/backup.
 */
#ifndef TENBACK_BACKUP_LOGICAL_INT_H
#define TENBACK_BACKUP_LOGICAL_INT_H

#include "backup/manifest.h"
#include "common/buf.h"
#include "io/io.h"
#include "meta/meta.h"
#include "pg/conn.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The objects of a logical set, stored at <set>/data/<name>. */
#define LOGICAL_DUMP "tenant.dump"       /* pg_dump -Fc -Z0 of the tenant database */
#define LOGICAL_ROLES "roles.sql"        /* the roles it uses, each created only if absent */
#define LOGICAL_DBPROPS "database.sql"   /* owner, grants, settings of the database (psql :"DBNAME") */

/* ---- PostgreSQL client programs (pgtool.c) ---- */

/*
 * The path of a PostgreSQL client program (pg_dump, pg_restore, psql) of
 * major version `major`: in pg_bin when given, else in
 * /usr/lib/postgresql/<major>/bin.  It must exist and `prog --version`
 * must report that major: ERR_NOT_FOUND naming the path and the package
 * to install, or ERR_UNSUPPORTED naming both versions.  With
 * out_version_text, the program's version line (malloc'd).
 */
int pgtool_find(char **out, const char *pg_bin, int major, const char *prog, char **out_version_text);

/*
 * A conninfo for a client program: conninfo's parameters with dbname
 * replaced, the password and sslpassword left out (they go in the child's
 * environment and a private service file, not on a command line that ps
 * shows) and returned in *out_password and *out_sslpassword (NULL when
 * none; either out may be NULL, the secret is then dropped).
 * keep_password leaves both in (for tenback's own libpq connections).
 * ERR_INVALID when conninfo does not parse.
 */
int pgtool_conninfo(char **out, char **out_password, char **out_sslpassword, const char *conninfo,
                    const char *dbname, bool keep_password);

/* A running client program.  stderr always goes to a private temporary file. */
typedef struct PgProc {
	pid_t pid;
	int out_fd;          /* read end of its stdout when piped, else -1 */
	int err_fd;          /* its stderr (an unlinked temporary file), -1 when closed */
	char *name;          /* program name, for messages */
	char *service_path;  /* private service file holding sslpassword, or NULL */
} PgProc;

/*
 * Start argv[0] (argv NULL-terminated) with stdin from /dev/null; stdout
 * piped to p->out_fd when stdout_fd is PGPROC_PIPE, written to stdout_fd
 * when >= 0, else into the stderr file; password (may be NULL) in
 * PGPASSWORD; sslpassword (may be NULL) in a private service file
 * (PGSERVICEFILE, PGSERVICE=tenback) that lives until pgproc_clear.  The
 * child starts with no signal blocked, SIGPIPE/SIGTERM/SIGINT at their
 * defaults and no descriptor but 0, 1 and 2.  *p is filled even on
 * failure (pgproc_clear it).
 */
#define PGPROC_PIPE (-2)
#define PGPROC_STDERR (-1)
int pgproc_start(PgProc *p, const char *const *argv, const char *password, const char *sslpassword, int stdout_fd);
/* Wait for it: 0 when it exited 0; else ERR_PG "<name> failed (exit status N)"
 * with the end of its stderr as the detail. */
int pgproc_wait(PgProc *p);
/* The end of what it wrote to stderr (at most max_bytes, whole lines), malloc'd. */
char *pgproc_stderr(PgProc *p, size_t max_bytes);
/* Stop it if still running (SIGTERM, SIGKILL when it has not exited 5
 * seconds later, then wait) and close and remove everything; a zeroed
 * PgProc (never started) is left alone. */
void pgproc_clear(PgProc *p);

/* ---- the roles and the database's own properties (logical_globals.c) ---- */

/*
 * From a connection to the tenant database, in the dump's snapshot:
 * roles_sql gets one DO block that creates every role the database uses
 * (owners, grantees and grantors of its privileges, default privileges,
 * policies, user mappings, per-database settings, and the members of
 * those roles; only objects created after initdb, and not through the
 * predefined pg_* roles) when a role of that name does not exist, with its
 * attributes, password (when readable: superuser), comment, settings and
 * memberships; an existing role is never changed.  A superuser, or a role
 * with REPLICATION or BYPASSRLS, is created NOLOGIN without those
 * attributes and without its password (logged as a warning).  Setting
 * values are written as literals only (list settings one per element).
 * Both scripts start with SET client_encoding.  dbprops_sql gets the
 * database's owner, privileges, comment and settings (ALTER DATABASE /
 * ALTER ROLE ... IN DATABASE) for the database a psql script runs in
 * (:"DBNAME").  *out_n_roles counts the roles; *out_passwords tells
 * whether their passwords were readable.
 */
int logical_globals(PgConn *conn, Buf *roles_sql, Buf *dbprops_sql, size_t *out_n_roles, bool *out_passwords);

/* ---- the dump (logical.c) ---- */

typedef struct LogicalDumpOpts {
	const MetaCluster *cluster;
	const char *tenant;
	const char *pg_dump;         /* path, from pgtool_find */
	Storage *storage;
	const char *set_dir;
	IoCompress compress;
	int level;
	IoChecksumKind checksum;
	void (*progress_cb)(uint64_t bytes_done, uint64_t bytes_total, uint64_t files_done, void *payload);
	bool (*cancel_cb)(void *payload);
	void (*log_cb)(const char *line, void *payload);
	void *payload;
} LogicalDumpOpts;

/*
 * Dump the tenant into the set: the roles and database properties, then
 * pg_dump's output streamed through a container (compressed, checksummed)
 * into <set_dir>/data/tenant.dump, all from one exported snapshot.  Adds
 * the three objects to m and sets m->start_time (the snapshot's time, the
 * server's clock) and the database's encoding and locale.  A failed
 * pg_dump is ERR_PG with its stderr in the detail.
 */
int logical_dump(Manifest *m, const LogicalDumpOpts *o);

/* Check what a logical backup of tenant needs on conn's server, before
 * anything is written: the tenant exists and is not "*". */
int logical_check_tenant(PgConn *conn, const char *cluster, const char *tenant);

#endif
