/*
 * cluster.c - registering clusters, checking them, listing their tenants.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/control.h"
#include "meta/secret.h"
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

/* pg_is_in_recovery() ("t" or "f") and the system identifier, in one round trip. */
static int
server_identity(PgConn *conn, char **out_recovery, char **out_sysid)
{
	static const char *const sqls[] = {"SELECT pg_is_in_recovery()",
	                                   "SELECT system_identifier::text FROM pg_control_system()"};
	PGresult *res[2];
	int rc;

	if ((rc = pg_conn_query_many(conn, res, sqls, 2)) < 0)
		return rc;
	if (PQntuples(res[0]) < 1 || PQntuples(res[1]) < 1) {
		rc = err_set(ERR_NOT_FOUND, "query returned no rows");
	} else {
		*out_recovery = xstrdup(PQgetvalue(res[0], 0, 0));
		*out_sysid = xstrdup(PQgetvalue(res[1], 0, 0));
	}
	PQclear(res[0]);
	PQclear(res[1]);
	return rc;
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
	if (c->pgdata == NULL || c->pgdata[0] == '\0') {
		rc = err_set(ERR_UNSUPPORTED, "cluster \"%s\" has no data directory registered: physical backup needs one",
		             c->name);
		err_hint("Back up with --method logical, or register the cluster again with --pgdata.");
		return rc;
	}
	if ((rc = pg_conn_open(&conn, c->conninfo)) < 0) {
		err_prefix("cluster \"%s\"", c->name);
		return rc;
	}
	if ((rc = check_version(conn)) < 0)
		goto out;
	if ((rc = server_identity(conn, &recovery, &sysid)) < 0)
		goto out;
	if (strcmp(recovery, "t") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "cluster \"%s\" is a standby; backups are taken from the primary", c->name);
		goto out;
	}
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
cluster_connect_logical(const MetaCluster *c, PgConn **out)
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
	if ((rc = server_identity(conn, &recovery, &sysid)) < 0)
		goto out;
	if (strcmp(recovery, "t") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "cluster \"%s\" is a standby; backups are taken from the primary", c->name);
		goto out;
	}
	if (strcmp(sysid, c->system_id) != 0) {
		rc = err_set(ERR_INVALID, "cluster \"%s\" now answers with another system identifier", c->name);
		err_detail("Registered %s, the server says %s.", c->system_id, sysid);
		err_hint("The conninfo reaches another instance; register that one under its own name.");
		goto out;
	}
	*out = conn;
	conn = NULL;
out:
	pg_conn_free(conn);
	free(sysid);
	free(recovery);
	return rc;
}

int
backup_method_resolve(const MetaCluster *c, const char *requested, const char **out, char *reason, size_t cap)
{
	int rc;

	*out = NULL;
	if (requested) {
		if (strcmp(requested, "physical") != 0 && strcmp(requested, "logical") != 0) {
			rc = err_set(ERR_INVALID, "invalid backup method \"%s\"", requested);
			err_hint("Use --method physical or --method logical, or leave it out to identify it automatically.");
			return rc;
		}
		*out = strcmp(requested, "logical") == 0 ? "logical" : "physical";
		if (reason && cap)
			snprintf(reason, cap, "asked for");
		return 0;
	}
	/* Identified from the registration (its version) and the data directory:
	 * no connection, so a task is made even while the server is down and its
	 * check step says why.  A version changed since is an upgrade, which the
	 * check step refuses either way. */
	{
		char scratch[256];
		*out = tenant_backup_method(c, c->pg_version, reason && cap ? reason : scratch,
		                            reason && cap ? cap : sizeof(scratch));
	}
	return 0;
}

/* "access\nsecret" sealed with the home's key, the form kept in the metadata. */
static int
seal_keys(Meta *meta, const char *access, const char *secret, uint8_t **out, size_t *out_len)
{
	char *plain = xasprintf("%s\n%s", access, secret);
	int rc = secret_seal(meta_home(meta), (const uint8_t *)plain, strlen(plain), out, out_len);

	memset(plain, 0, strlen(plain));
	free(plain);
	return rc;
}

/* A storage configuration, opened with its own sealed key pair. */
static int
named_storage_open(Meta *meta, const char *name, Storage **out)
{
	MetaStorage sc = {0};
	char *access = NULL, *secret = NULL;
	int rc;

	if ((rc = meta_storage_get(meta, name, &sc)) < 0)
		return rc;
	if ((rc = meta_storage_keys(meta, &sc, &access, &secret)) == 0) {
		StorageOpenOpts so = {access, secret, NULL};
		rc = storage_open_opts(out, sc.uri, &so);
		if (rc < 0)
			err_prefix("storage configuration \"%s\"", name);
	}
	str_wipe_free(access);
	str_wipe_free(secret);
	meta_storage_clear(&sc);
	return rc;
}

/* The storage without its keyring. */
static int
storage_open_plain(Meta *meta, const MetaCluster *c, const char *storage_name, Storage **out)
{
	StorageOpenOpts so = {0};
	uint8_t *plain = NULL;
	size_t len = 0;
	char *nl;
	int rc;

	*out = NULL;
	if (storage_name)
		return named_storage_open(meta, storage_name, out);
	if (c->storage_secret == NULL)
		return storage_open(out, c->storage);
	if ((rc = secret_open(meta_home(meta), c->storage_secret, c->storage_secret_len, &plain, &len)) < 0) {
		err_prefix("could not unseal the storage keys of cluster \"%s\"", c->name);
		return rc;
	}
	nl = memchr(plain, '\n', len);
	if (nl == NULL) {
		rc = err_set(ERR_CORRUPT, "the storage keys of cluster \"%s\" are malformed", c->name);
	} else {
		*nl = '\0';
		so.access_key = (const char *)plain;
		so.secret_key = nl + 1;
		rc = storage_open_opts(out, c->storage, &so);
	}
	explicit_bzero(plain, len);
	free(plain);
	return rc;
}

/* Every storage of a cluster is opened with the cluster's keyring: reads
 * decrypt, writes encrypt while it has a current key (keys.c). */
int
cluster_storage_open(Meta *meta, const MetaCluster *c, const char *storage_name, Storage **out)
{
	IoKeyring *kr = NULL;
	int rc;

	*out = NULL;
	if ((rc = cluster_keyring_load(meta, c->name, &kr)) < 0)
		return rc;
	if ((rc = storage_open_plain(meta, c, storage_name, out)) < 0) {
		io_keyring_free(kr);
		return rc;
	}
	storage_cipher_set(*out, kr, repo_cipher_name);
	return 0;
}

/*
 * The sets of the tenant that the metadata knows as encrypted: every object
 * under their directories must be (the manifest first), so an unencrypted
 * manifest or object put in place of one is refused.  A chain spans the
 * sets of one tenant, hence all of them.
 */
static int
require_encrypted_sets(Meta *meta, const MetaSet *set, Storage *s)
{
	MetaSet *sets = NULL;
	size_t n = 0;
	int rc;

	if (storage_keyring(s) == NULL)
		return 0;
	if ((rc = meta_set_list(meta, set->cluster, set->tenant, NULL, &sets, &n)) < 0)
		return rc;
	for (size_t set_idx = 0; set_idx < n; set_idx++)
		if (sets[set_idx].encryption_key && sets[set_idx].storage_path)
			io_keyring_require(storage_keyring(s), sets[set_idx].storage_path);
	if (set->encryption_key && set->storage_path)
		io_keyring_require(storage_keyring(s), set->storage_path);
	meta_set_array_free(sets, n);
	return 0;
}

int
set_storage_open(Meta *meta, const MetaCluster *c, const MetaSet *set, Storage **out)
{
	int rc = cluster_storage_open(meta, c, set->storage, out);

	if (rc == 0 && (rc = require_encrypted_sets(meta, set, *out)) < 0) {
		storage_free(*out);
		*out = NULL;
	}
	if (rc < 0 && set->storage)
		err_prefix("could not open storage \"%s\" of backup set \"%s\"", set->storage, set->id);
	else if (rc < 0)
		err_prefix("could not open the storage of backup set \"%s\"", set->id);
	return rc;
}

int
cluster_add(Meta *meta, const ClusterAddOpts *o)
{
	PgConn *conn = NULL;
	Storage *st = NULL;
	char *sysid = NULL;
	char *access = NULL, *secret = NULL;
	MetaCluster c = {0};
	IoCompress comp;
	bool has_pgdata = o->pgdata && o->pgdata[0];
	char now[40];
	int rc;

	if ((rc = io_compress_parse(&comp, o->compress ? o->compress : "zstd")) < 0)
		return rc;
	if (has_pgdata && o->pgdata[0] != '/') {
		rc = err_set(ERR_INVALID, "--pgdata must be an absolute path: \"%s\"", o->pgdata);
		return rc;
	}
	if ((rc = pg_conn_open(&conn, o->conninfo)) < 0)
		goto out;
	/* Without a data directory the cluster is backed up logically only: any version pg_dump reads. */
	if ((has_pgdata && (rc = check_version(conn)) < 0) || (rc = server_system_id(conn, &sysid)) < 0)
		goto out;
	if (has_pgdata && (rc = check_pgdata(o->pgdata, sysid)) < 0)
		goto out;
	if (o->access_key && o->secret_key) {
		access = xstrdup(o->access_key);
		secret = xstrdup(o->secret_key);
	} else if ((rc = storage_credentials_resolve(o->storage, o->storage_credentials, &access, &secret)) < 0) {
		goto out;
	}
	if (access && secret) {
		StorageOpenOpts so = {access, secret, NULL};
		if ((rc = seal_keys(meta, access, secret, &c.storage_secret, &c.storage_secret_len)) < 0)
			goto out;
		rc = storage_open_opts(&st, o->storage, &so);
	} else {
		rc = storage_open(&st, o->storage);
	}
	if (rc < 0 || (rc = storage_probe(st, "tenback")) < 0)
		goto out;
	time_format_utc(now, sizeof(now), time(NULL));
	c.name = (char *)o->name;
	c.conninfo = (char *)o->conninfo;
	c.pgdata = (char *)(has_pgdata ? o->pgdata : "");
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
	free(c.storage_secret);
	if (access) {
		memset(access, 0, strlen(access));
		free(access);
	}
	if (secret) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
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
		{
			char reason[256];
			a[i].backup_method = tenant_backup_method(&c, pg_conn_server_version(conn), reason, sizeof(reason));
			a[i].backup_method_reason = xstrdup(reason);
		}
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
		free(a[i].backup_method_reason);
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

void
cluster_status_clear(ClusterStatus *s)
{
	if (s == NULL)
		return;
	free(s->error);
	free(s->version);
	free(s->status);
	free(s->archive_command);
	free(s->last_archived_wal);
	free(s->last_archived_time);
	free(s->last_failed_wal);
	free(s->last_failed_time);
	memset(s, 0, sizeof(*s));
}

static char *
value_or_null(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : xstrdup(PQgetvalue(res, 0, col));
}

int
cluster_status(Meta *meta, const char *cluster, ClusterStatus *out)
{
	MetaCluster c = {0};
	PgConn *conn = NULL;
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		return rc;
	out->status = xstrdup(c.status);
	if (pg_conn_open(&conn, c.conninfo) < 0) {
		out->error = xasprintf("%s: %s", err_message(), err_detail_text());
		goto out;
	}
	if (pg_conn_query(conn, &res,
	                  "SELECT current_setting('server_version_num')::int, current_setting('server_version'),"
	                  " current_setting('archive_mode'), current_setting('archive_command'),"
	                  " archived_count, failed_count, last_archived_wal,"
	                  " to_char(last_archived_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'),"
	                  " last_failed_wal, to_char(last_failed_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'),"
	                  " coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false)"
	                  " FROM pg_stat_archiver", 0, NULL) < 0) {
		out->error = xstrdup(err_message());
		goto out;
	}
	out->reachable = true;
	out->version_num = atoi(PQgetvalue(res, 0, 0));
	out->version = xstrdup(PQgetvalue(res, 0, 1));
	out->archive_command = xstrdup(PQgetvalue(res, 0, 3));
	out->archived_count = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	out->failed_count = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	out->last_archived_wal = value_or_null(res, 6);
	out->last_archived_time = value_or_null(res, 7);
	out->last_failed_wal = value_or_null(res, 8);
	out->last_failed_time = value_or_null(res, 9);
	out->archiving_ok = strcmp(PQgetvalue(res, 0, 2), "off") != 0 && strstr(out->archive_command, "archive-push") &&
	                    PQgetvalue(res, 0, 10)[0] != 't';
	/* A changed major version is an upgrade, whatever the registered status says. */
	out->version_changed = out->version_num / 10000 != c.pg_version / 10000;
	if (out->version_changed) {
		free(out->status);
		out->status = xstrdup("UPGRADING");
	}
out:
	PQclear(res);
	pg_conn_free(conn);
	meta_cluster_clear(&c);
	return 0;
}

int
cluster_set_status(Meta *meta, const char *cluster, const char *status)
{
	MetaCluster c = {0};
	int rc;

	if (strcmp(status, "NORMAL") != 0 && strcmp(status, "UPGRADING") != 0) {
		rc = err_set(ERR_INVALID, "invalid cluster status \"%s\"", status);
		err_hint("Use NORMAL or UPGRADING.");
		return rc;
	}
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		return rc;
	meta_cluster_clear(&c);
	return meta_cluster_set_status(meta, cluster, status);
}

int
cluster_checkpoint(Meta *meta, const char *cluster)
{
	MetaCluster c = {0};
	PgConn *conn = NULL;
	int rc;

	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		return rc;
	if ((rc = pg_conn_open(&conn, c.conninfo)) < 0)
		goto out;
	if ((rc = pg_conn_exec(conn, "CHECKPOINT")) < 0) {
		err_prefix("could not checkpoint cluster \"%s\"", cluster);
		if (rc == ERR_PERMISSION)
			err_hint("Grant the role of the cluster's conninfo pg_checkpoint: GRANT pg_checkpoint TO role;");
	}
out:
	pg_conn_free(conn);
	meta_cluster_clear(&c);
	return rc;
}

const char *
tenant_backup_method(const MetaCluster *c, int version_num, char *reason, size_t cap)
{
	char *ctl = c->pgdata && c->pgdata[0] ? path_join(c->pgdata, "global/pg_control") : NULL;
	bool readable = ctl && access(ctl, R_OK) == 0;

	free(ctl);
	if (c->pgdata == NULL || c->pgdata[0] == '\0') {
		snprintf(reason, cap, "no data directory registered for cluster \"%s\"", c->name);
		return "logical";
	}
	if (version_num < 150000) {
		snprintf(reason, cap, "PostgreSQL %d.%d: physical backup needs PostgreSQL 15 or later", version_num / 10000,
		         version_num % 10000);
		return "logical";
	}
	if (!readable) {
		snprintf(reason, cap, "the data directory \"%s\" is not readable by tenback", c->pgdata);
		return "logical";
	}
	snprintf(reason, cap, "PostgreSQL %d, data directory readable", version_num / 10000);
	return "physical";
}
