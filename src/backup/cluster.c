/*
 * cluster.c - registering clusters, checking them, listing their tenants.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/control.h"
#include "storage/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
check_version(PgConn *conn)
{
	int v = pg_conn_server_version(conn);
	int rc;

	if (v < 150000) {
		rc = err_set(ERR_UNSUPPORTED, "Tenant backup is supported only in PostgreSQL 15 and later");
		err_detail("The server runs version %d.%d.", v / 10000, v % 10000);
		return rc;
	}
	return 0;
}

static int
server_system_id(PgConn *conn, char **out)
{
	return pg_conn_query_value(conn, out, "SELECT system_identifier::text FROM pg_control_system()", 0, NULL);
}

static int
check_pgdata(const char *pgdata, const char *server_sysid)
{
	PgControl ctl;
	char sysid[32];
	int rc;

	if ((rc = pg_control_read(&ctl, pgdata)) < 0) {
		err_prefix("\"%s\" is not the data directory of a PostgreSQL cluster", pgdata);
		return rc;
	}
	snprintf(sysid, sizeof(sysid), "%" PRIu64, ctl.system_identifier);
	if (strcmp(sysid, server_sysid) != 0) {
		rc = err_set(ERR_INVALID, "data directory \"%s\" does not belong to the server tenback connects to", pgdata);
		err_detail("The data directory has system identifier %s, the server %s.", sysid, server_sysid);
		err_hint("Check --pgdata and --conninfo: they must name the same instance.");
		return rc;
	}
	return 0;
}

int
cluster_connect(const MetaCluster *c, PgConn **out)
{
	PgConn *conn = NULL;
	char *sysid = NULL;
	char *recovery = NULL;
	int rc;

	*out = NULL;
	if ((rc = pg_conn_open(&conn, c->conninfo)) < 0) {
		err_prefix("cluster \"%s\"", c->name);
		return rc;
	}
	if ((rc = check_version(conn)) < 0)
		goto out;
	if ((rc = pg_conn_query_value(conn, &recovery, "SELECT pg_is_in_recovery()", 0, NULL)) < 0)
		goto out;
	if (strcmp(recovery, "t") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "cluster \"%s\" is a standby; backups are taken from the primary", c->name);
		goto out;
	}
	if ((rc = server_system_id(conn, &sysid)) < 0)
		goto out;
	if (strcmp(sysid, c->system_id) != 0) {
		rc = err_set(ERR_INVALID, "cluster \"%s\" now answers with another system identifier", c->name);
		err_detail("Registered %s, the server says %s.", c->system_id, sysid);
		err_hint("The conninfo reaches another instance; register that one under its own name.");
		goto out;
	}
	if ((rc = check_pgdata(c->pgdata, sysid)) < 0)
		goto out;
	*out = conn;
	conn = NULL;
out:
	pg_conn_free(conn);
	free(sysid);
	free(recovery);
	return rc;
}

int
cluster_add(Meta *meta, const ClusterAddOpts *o)
{
	PgConn *conn = NULL;
	Storage *st = NULL;
	char *sysid = NULL;
	MetaCluster c = {0};
	IoCompress comp;
	char now[40];
	int rc;

	if ((rc = io_compress_parse(&comp, o->compress ? o->compress : "zstd")) < 0)
		return rc;
	if (o->pgdata[0] != '/') {
		rc = err_set(ERR_INVALID, "--pgdata must be an absolute path: \"%s\"", o->pgdata);
		return rc;
	}
	if ((rc = pg_conn_open(&conn, o->conninfo)) < 0)
		goto out;
	if ((rc = check_version(conn)) < 0 || (rc = server_system_id(conn, &sysid)) < 0)
		goto out;
	if ((rc = check_pgdata(o->pgdata, sysid)) < 0)
		goto out;
	if ((rc = storage_open(&st, o->storage)) < 0 || (rc = storage_probe(st, "tenback")) < 0)
		goto out;
	time_format_utc(now, sizeof(now), time(NULL));
	c.name = (char *)o->name;
	c.conninfo = (char *)o->conninfo;
	c.pgdata = (char *)o->pgdata;
	c.storage = (char *)o->storage;
	c.compress = (char *)io_compress_name(comp);
	c.system_id = sysid;
	c.pg_version = pg_conn_server_version(conn);
	c.status = "NORMAL";
	c.created_at = now;
	rc = meta_cluster_add(meta, &c);
out:
	pg_conn_free(conn);
	storage_free(st);
	free(sysid);
	return rc;
}

int
tenant_list(Meta *meta, const char *cluster, TenantInfo **out, size_t *out_count)
{
	MetaCluster c = {0};
	PgConn *conn = NULL;
	PGresult *res = NULL;
	TenantInfo *a = NULL;
	int n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = pg_conn_open(&conn, c.conninfo)) < 0)
		goto out;
	if ((rc = pg_conn_query(conn, &res,
	                        "SELECT d.oid, d.datname, pg_get_userbyid(d.datdba), "
	                        "  CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) ELSE -1 END, "
	                        "  d.datistemplate, d.datallowconn "
	                        "FROM pg_database d ORDER BY d.datname", 0, NULL)) < 0)
		goto out;
	n = PQntuples(res);
	a = xcalloc((size_t)n, sizeof(*a));
	for (int i = 0; i < n; i++) {
		a[i].oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		a[i].name = xstrdup(PQgetvalue(res, i, 1));
		a[i].owner = xstrdup(PQgetvalue(res, i, 2));
		a[i].size_bytes = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		a[i].is_template = PQgetvalue(res, i, 4)[0] == 't';
		a[i].allow_conn = PQgetvalue(res, i, 5)[0] == 't';
	}
	*out = a;
	*out_count = (size_t)n;
out:
	PQclear(res);
	pg_conn_free(conn);
	meta_cluster_clear(&c);
	return rc;
}

void
tenant_array_free(TenantInfo *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].owner);
	}
	free(a);
}

int
lock_acquire(int *out_fd, const char *home, const char *name, const char *what)
{
	char *dir = path_join(home, "locks");
	char *enc = str_path_encode(name);
	char *file = xasprintf("%s/%s.lock", dir, enc);
	int fd = -1;
	int rc = 0;

	*out_fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = err_errno(errno, "could not create directory \"%s\"", dir);
		goto out;
	}
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = err_errno(errno, "could not open lock file \"%s\"", file);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			rc = err_set(ERR_BUSY, "%s is already running", what);
			err_hint("Wait for it to finish; only one may run at a time.");
		} else {
			rc = err_errno(errno, "could not lock \"%s\"", file);
		}
		close(fd);
		goto out;
	}
	*out_fd = fd;
out:
	free(dir);
	free(enc);
	free(file);
	return rc;
}

void
lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
