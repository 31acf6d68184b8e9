/*
 * logical_restore.c - restore a logical backup set into a new database of
 * the same or another registered cluster, or write it out as one SQL
 * script.
 *
 * Order: the set is read back through its containers and checked against
 * the manifest into a private temporary directory first (pg_restore
 * --jobs needs a seekable file), so a damaged set is refused, naming the
 * object, before anything is created.  Then: the database is created
 * (an existing one only replaced with --force), the roles script runs (it
 * creates missing roles only), pg_restore --jobs N, then the database's
 * own properties.  A restore that fails after creating the database drops
 * it again.  The temporary directory is removed whatever happens.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"
#include "backup/logical_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

typedef struct LRestore {
	const LogicalRestoreOpts *o;
	Meta *meta;
	MetaCluster src;           /* the set's cluster */
	MetaCluster dst;           /* where it goes (--as) */
	MetaSet row;
	Manifest *m;
	Storage *storage;
	char *tmp_dir;             /* private, removed at the end */
	char *dump_path;
	char *roles_path;
	char *dbprops_path;
	char *pg_restore;
	char *psql;
	PgConn *conn;              /* to the target cluster's maintenance database */
	int major;                 /* of the tools: the target server's (--as) or the dump's (--sql-file) */
	bool db_exists;            /* --force: restored under db_name, then put in its place */
	bool db_created;           /* db_name was created by this restore (dropped on failure) */
	char *db_name;             /* the database restored into: --as, or a temporary name */
} LRestore;

/* The newest completed logical set of the tenant, or the one named. */
static int
find_logical_set(LRestore *r)
{
	const LogicalRestoreOpts *o = r->o;
	MetaSet *sets = NULL;
	size_t n = 0;
	int rc;

	if (o->set && strcmp(o->set, "latest") != 0) {
		if ((rc = backup_find_set(r->meta, o->cluster, o->tenant, o->set, &r->row)) < 0)
			return rc;
		if (r->row.method == NULL || strcmp(r->row.method, "logical") != 0) {
			rc = err_set(ERR_INVALID, "backup set \"%s\" is a physical backup: it restores into a data directory",
			             r->row.id);
			err_hint("Restore it with --to DIR (options --as, --into-cluster, --jobs and --sql-file are for "
			         "logical sets).");
			return rc;
		}
		return 0;
	}
	if ((rc = meta_set_list(r->meta, o->cluster, o->tenant, "completed", &sets, &n)) < 0)
		return rc;
	for (size_t i = n; i-- > 0;)
		if (sets[i].method && strcmp(sets[i].method, "logical") == 0) {
			r->row = sets[i];
			memset(&sets[i], 0, sizeof(sets[i]));
			break;
		}
	meta_set_array_free(sets, n);
	if (r->row.id == NULL) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" of cluster \"%s\" has no logical backup set", o->tenant, o->cluster);
		err_hint("Take one with \"tenback backup --cluster %s --tenant %s --method logical\".", o->cluster, o->tenant);
		return rc;
	}
	return 0;
}

static const ManifestFile *
object_entry(LRestore *r, const char *name)
{
	return manifest_find_file(r->m, name);
}

/* The set's objects into the private directory, each checked to its end against the manifest. */
static int
fetch_objects(LRestore *r)
{
	static const char *const names[] = {LOGICAL_ROLES, LOGICAL_DBPROPS, LOGICAL_DUMP};
	const char *base = r->o->temp_dir;
	struct statvfs vfs;
	uint64_t need = 0;
	char *tmpl;
	int rc = 0;

	if (base == NULL)
		base = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/var/tmp";
	for (size_t i = 0; i < 3; i++) {
		const ManifestFile *f = object_entry(r, names[i]);
		if (f == NULL || f->kind != MF_FILE) {
			rc = err_set(ERR_CORRUPT, "backup set \"%s\" has no object \"%s\" in its manifest", r->row.id, names[i]);
			err_hint("The set is not a complete logical backup; restore another set.");
			return rc;
		}
		need += f->size;
	}
	if (statvfs(base, &vfs) < 0)
		return err_errno(errno, "could not use the temporary directory \"%s\"", base);
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < need) {
		char want[32], have[32];
		size_format(want, sizeof(want), need);
		size_format(have, sizeof(have), (uint64_t)vfs.f_bavail * vfs.f_frsize);
		rc = err_set(ERR_NO_SPACE, "not enough space in \"%s\" for the dump of backup set \"%s\"", base, r->row.id);
		err_detail("The restore needs %s there (pg_restore --jobs reads a file), %s are free.", want, have);
		err_hint("Pass --temp-dir a directory with room; it is removed after the restore.");
		return rc;
	}
	tmpl = xasprintf("%s/tenback-restore-XXXXXX", base);
	if (mkdtemp(tmpl) == NULL) {
		rc = err_errno(errno, "could not create a temporary directory in \"%s\"", base);
		free(tmpl);
		return rc;
	}
	r->tmp_dir = tmpl;
	r->roles_path = path_join(r->tmp_dir, LOGICAL_ROLES);
	r->dbprops_path = path_join(r->tmp_dir, LOGICAL_DBPROPS);
	r->dump_path = path_join(r->tmp_dir, LOGICAL_DUMP);
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		const ManifestFile *f = object_entry(r, names[i]);
		char *object = xasprintf("%s/data/%s", r->row.storage_path, names[i]);
		char *dest = path_join(r->tmp_dir, names[i]);
		int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (fd < 0) {
			rc = err_errno(errno, "could not create file \"%s\"", dest);
		} else {
			rc = files_restore_to_fd(r->storage, object, fd, dest, f->size, &f->sum);
			if (close(fd) < 0 && rc == 0)
				rc = err_errno(errno, "could not close file \"%s\"", dest);
		}
		if (rc < 0 && err_code() == ERR_CORRUPT)
			err_hint("Nothing was created or changed. Run \"tenback verify --cluster %s --tenant %s --set %s\"; "
			         "restore another set.", r->o->cluster, r->o->tenant, r->row.id);
		free(object);
		free(dest);
	}
	return rc;
}

static void
remove_tmp(LRestore *r)
{
	const char *names[] = {r->roles_path, r->dbprops_path, r->dump_path};

	if (r->tmp_dir == NULL)
		return;
	for (size_t i = 0; i < 3; i++)
		if (names[i] && unlink(names[i]) < 0 && errno != ENOENT)
			log_warning("could not remove \"%s\": %s", names[i], strerror(errno));
	if (rmdir(r->tmp_dir) < 0)
		log_warning("could not remove the temporary directory \"%s\": %s", r->tmp_dir, strerror(errno));
}

/* Write all of fd's file (a temporary object) to out_fd. */
static int
append_file(int out_fd, const char *out_path, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return err_errno(errno, "could not open \"%s\"", path);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_errno(errno, "could not read \"%s\"", path);
			break;
		}
		if (write(out_fd, buf, (size_t)n) != n) {
			rc = err_errno(errno ? errno : ENOSPC, "could not write \"%s\"", out_path);
			break;
		}
	}
	close(fd);
	return rc;
}

static int
write_text(int fd, const char *path, const char *text)
{
	size_t len = strlen(text);

	if (write(fd, text, len) != (ssize_t)len)
		return err_errno(errno ? errno : ENOSPC, "could not write \"%s\"", path);
	return 0;
}

/* --sql-file: roles, pg_restore's script of the dump, the database's properties. */
static int
write_sql_file(LRestore *r)
{
	const char *path = r->o->sql_file;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (r->o->force ? O_TRUNC : O_EXCL), 0600);
	char *header = NULL;
	char *file_arg = NULL;
	PgProc p = {0};
	int rc;

	if (fd < 0 && errno == EEXIST) {
		rc = err_set(ERR_EXISTS, "file \"%s\" already exists", path);
		err_hint("Choose another file, or pass --force to overwrite it.");
		return rc;
	}
	if (fd < 0)
		return err_errno(errno, "could not create file \"%s\"", path);
	/* it may hold password hashes: private, also when --force reuses a file */
	if (fchmod(fd, 0600) < 0) {
		rc = err_errno(errno, "could not make \"%s\" private", path);
		goto out;
	}
	header = xasprintf("--\n-- tenback: tenant \"%s\" of cluster \"%s\", logical backup set %s\n"
	                   "-- (PostgreSQL %u.%u, dump snapshot %s).  Load it into an empty database:\n"
	                   "--   psql -X -v ON_ERROR_STOP=1 -d NEWDB -f FILE\n"
	                   "-- It holds password hashes of roles when the backup could read them: keep it private.\n--\n\n",
	                   r->m->tenant, r->m->cluster, r->m->set_id, r->m->pg_version / 10000, r->m->pg_version % 10000,
	                   r->m->start_time);
	if ((rc = write_text(fd, path, header)) < 0 || (rc = append_file(fd, path, r->roles_path)) < 0 ||
	    (rc = write_text(fd, path, "\n-- tenback: pg_restore of " LOGICAL_DUMP " follows\n")) < 0)
		goto out;
	file_arg = xasprintf("--file=-");
	{
		const char *argv[] = {r->pg_restore, file_arg, r->dump_path, NULL};
		if ((rc = pgproc_start(&p, argv, NULL, NULL, fd)) < 0 || (rc = pgproc_wait(&p)) < 0)
			goto out;
	}
	/* pg_restore wrote at the shared offset: go on after it */
	if (lseek(fd, 0, SEEK_END) < 0) {
		rc = err_errno(errno, "could not seek in \"%s\"", path);
		goto out;
	}
	if ((rc = write_text(fd, path, "-- tenback: end of pg_restore output\n\n")) < 0 ||
	    (rc = append_file(fd, path, r->dbprops_path)) < 0)
		goto out;
	if (fsync(fd) < 0)
		rc = err_errno(errno, "could not fsync \"%s\"", path);
out:
	pgproc_clear(&p);
	if (close(fd) < 0 && rc == 0)
		rc = err_errno(errno, "could not close \"%s\"", path);
	if (rc < 0)
		unlink(path);
	free(header);
	free(file_arg);
	return rc;
}

static char *
quote_ident(PgConn *c, const char *s)
{
	char *q = PQescapeIdentifier(pg_conn_raw(c), s, strlen(s));
	char *out = xstrdup(q ? q : "\"\"");

	PQfreemem(q);
	return out;
}

static char *
quote_literal(PgConn *c, const char *s)
{
	char *q = PQescapeLiteral(pg_conn_raw(c), s, strlen(s));
	char *out = xstrdup(q ? q : "''");

	PQfreemem(q);
	return out;
}

/* The target cluster, the database name and whether it exists: all before anything is created. */
static int
check_target(LRestore *r)
{
	const LogicalRestoreOpts *o = r->o;
	const char *params[1] = {o->as};
	char *cur = NULL, *exists = NULL;
	int version, rc;

	if (strlen(o->as) > 63) {
		rc = err_set(ERR_INVALID, "database name \"%s\" is longer than 63 bytes", o->as);
		return rc;
	}
	if (strcmp(o->as, "template0") == 0 || strcmp(o->as, "template1") == 0) {
		rc = err_set(ERR_INVALID, "cannot restore into \"%s\"", o->as);
		err_hint("Choose a new database name with --as.");
		return rc;
	}
	if ((rc = meta_cluster_get(r->meta, o->into_cluster ? o->into_cluster : o->cluster, &r->dst)) < 0)
		return rc;
	if ((rc = pg_conn_open(&r->conn, r->dst.conninfo)) < 0) {
		err_prefix("cluster \"%s\"", r->dst.name);
		return rc;
	}
	version = pg_conn_server_version(r->conn);
	if (version / 10000 < (int)r->m->pg_version / 10000) {
		rc = err_set(ERR_UNSUPPORTED, "cannot restore a dump of PostgreSQL %u into PostgreSQL %d",
		             r->m->pg_version / 10000, version / 10000);
		err_detail("Backup set %s was dumped from PostgreSQL %u; cluster \"%s\" runs %d.", r->row.id, r->m->pg_version,
		           r->dst.name, version);
		err_hint("Restore into a cluster of PostgreSQL %u or later.", r->m->pg_version / 10000);
		return rc;
	}
	r->major = version / 10000;
	if ((rc = pg_conn_query_value(r->conn, &cur, "SELECT current_database()", 0, NULL)) < 0)
		goto out;
	if (strcmp(cur, o->as) == 0) {
		rc = err_set(ERR_INVALID, "cannot restore into database \"%s\": tenback connects to it", o->as);
		err_detail("The conninfo of cluster \"%s\" names database \"%s\".", r->dst.name, cur);
		err_hint("Choose another name with --as.");
		goto out;
	}
	rc = pg_conn_query_value(r->conn, &exists, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params);
	if (rc == ERR_NOT_FOUND) {
		err_clear();
		rc = 0;
	} else if (rc == 0) {
		r->db_exists = true;
		if (!o->force) {
			rc = err_set(ERR_EXISTS, "database \"%s\" already exists in cluster \"%s\"", o->as, r->dst.name);
			err_hint("Choose another name with --as, or pass --force to restore in its place.");
			goto out;
		}
		/* --force replaces it only once the restore is complete, and never
		 * ends its sessions: refused now rather than after the restore */
		free(exists);
		exists = NULL;
		if ((rc = pg_conn_query_value(r->conn, &exists, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
		                              1, params)) < 0)
			goto out;
		if (strcmp(exists, "0") != 0) {
			rc = err_set(ERR_BUSY, "database \"%s\" of cluster \"%s\" has %s session(s): it cannot be replaced",
			             o->as, r->dst.name, exists);
			err_hint("End its sessions (or wait for them to end) and run the restore again.");
		}
	}
out:
	free(cur);
	free(exists);
	return rc;
}

static int
create_database(LRestore *r)
{
	char *name = quote_ident(r->conn, r->db_name);
	char *enc = quote_literal(r->conn, r->m->db_encoding);
	char *coll = r->m->db_collate ? quote_literal(r->conn, r->m->db_collate) : NULL;
	char *ctype = r->m->db_ctype ? quote_literal(r->conn, r->m->db_ctype) : NULL;
	char *icu = r->m->db_icu_locale ? quote_literal(r->conn, r->m->db_icu_locale) : NULL;
	Buf sql = BUF_INIT;
	int rc = 0;

	/* template0: the encoding and locale of the source, whatever template1 has */
	buf_printf(&sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING %s", name, enc);
	if (coll)
		buf_printf(&sql, " LC_COLLATE %s", coll);
	if (ctype)
		buf_printf(&sql, " LC_CTYPE %s", ctype);
	if (r->m->db_locale_provider && strcmp(r->m->db_locale_provider, "i") == 0) {
		buf_puts(&sql, " LOCALE_PROVIDER icu");
		if (icu)
			buf_printf(&sql, " ICU_LOCALE %s", icu);
	}
	if ((rc = pg_conn_exec(r->conn, sql.data)) < 0) {
		err_prefix("could not create database \"%s\" in cluster \"%s\"", r->db_name, r->dst.name);
		goto out;
	}
	r->db_created = true;
out:
	buf_free(&sql);
	free(name);
	free(enc);
	free(coll);
	free(ctype);
	free(icu);
	return rc;
}

static int
run_tool(const char *const *argv, const char *password, const char *sslpassword, const char *what)
{
	PgProc p = {0};
	int rc;

	if ((rc = pgproc_start(&p, argv, password, sslpassword, PGPROC_STDERR)) == 0)
		rc = pgproc_wait(&p);
	if (rc < 0)
		err_prefix("%s", what);
	pgproc_clear(&p);
	return rc;
}

static int
restore_into_database(LRestore *r)
{
	char *ci = NULL, *password = NULL, *sslpassword = NULL;
	char *dbname_arg = NULL, *jobs_arg = NULL;
	int jobs = r->o->jobs > 0 ? r->o->jobs : 1;
	int rc;

	if ((rc = pgtool_conninfo(&ci, &password, &sslpassword, r->dst.conninfo, r->db_name, false)) < 0)
		return rc;
	dbname_arg = xasprintf("--dbname=%s", ci);
	jobs_arg = xasprintf("--jobs=%d", jobs);
	if ((rc = create_database(r)) < 0)
		goto out;
	log_info("database \"%s\" created in cluster \"%s\"; roles, then pg_restore --jobs=%d", r->db_name, r->dst.name,
	         jobs);
	{
		/* terse, no context: a failing CREATE ROLE ... PASSWORD is not
		 * echoed (with its hash) into the error that is stored and shown */
		const char *roles[] = {r->psql, "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-v",
		                       "VERBOSITY=terse", "-v", "SHOW_CONTEXT=never", dbname_arg, "-f", r->roles_path, NULL};
		const char *restore[] = {r->pg_restore, "--no-password", jobs_arg, dbname_arg, r->dump_path, NULL};
		const char *props[] = {r->psql, "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-v",
		                       "VERBOSITY=terse", "-v", "SHOW_CONTEXT=never", dbname_arg, "-f", r->dbprops_path, NULL};
		if ((rc = run_tool(roles, password, sslpassword, "could not create the roles of the backup set")) < 0 ||
		    (rc = run_tool(restore, password, sslpassword, "pg_restore into the new database failed")) < 0 ||
		    (rc = run_tool(props, password, sslpassword, "could not apply the properties of the database")) < 0)
			goto out;
	}
out:
	str_wipe_free(password);
	str_wipe_free(sslpassword);
	free(ci);
	free(dbname_arg);
	free(jobs_arg);
	return rc;
}

/*
 * --force, once the restore under the temporary name succeeded: the old
 * database is dropped (refused while it has sessions: nothing is lost,
 * the restored copy is dropped again) and the new one takes its name.
 */
static int
replace_database(LRestore *r)
{
	char *old = quote_ident(r->conn, r->o->as);
	char *tmp = quote_ident(r->conn, r->db_name);
	char *sql = xasprintf("DROP DATABASE %s", old);
	int rc;

	log_info("replacing database \"%s\" of cluster \"%s\" by the restored \"%s\" (--force)", r->o->as, r->dst.name,
	         r->db_name);
	if ((rc = pg_conn_exec(r->conn, sql)) < 0) {
		err_prefix("could not drop database \"%s\" to put the restored one in its place", r->o->as);
		err_hint("End the sessions of database \"%s\" (or wait for them to end) and run the restore again; "
		         "it was left as it was.", r->o->as);
		goto out;
	}
	/* from here the restored database is all there is: it is kept whatever happens */
	r->db_created = false;
	free(sql);
	sql = xasprintf("ALTER DATABASE %s RENAME TO %s", tmp, old);
	if ((rc = pg_conn_exec(r->conn, sql)) < 0) {
		err_prefix("could not rename the restored database \"%s\" to \"%s\"", r->db_name, r->o->as);
		err_hint("The restore is complete in database \"%s\": rename it with ALTER DATABASE ... RENAME TO.",
		         r->db_name);
		goto out;
	}
out:
	free(old);
	free(tmp);
	free(sql);
	return rc;
}

/* After a failure: the database this restore created goes again. */
static void
drop_created(LRestore *r)
{
	char *name, *sql;

	if (!r->db_created || r->conn == NULL)
		return;
	name = quote_ident(r->conn, r->db_name);
	sql = xasprintf("DROP DATABASE IF EXISTS %s%s", name, r->major >= 13 ? " WITH (FORCE)" : "");
	{
		/* keep the restore's error: the drop's own would overwrite it */
		char msg[2048], detail[4096], hint[1024];
		int code = err_code();
		snprintf(msg, sizeof(msg), "%s", err_message());
		snprintf(detail, sizeof(detail), "%s", err_detail_text());
		snprintf(hint, sizeof(hint), "%s", err_hint_text());
		if (pg_conn_exec(r->conn, sql) < 0)
			log_warning("could not drop the incomplete database \"%s\": %s", r->db_name, err_message());
		else
			log_info("dropped the incomplete database \"%s\"", r->db_name);
		err_set(code, "%s", msg);
		if (detail[0])
			err_detail("%s", detail);
		if (hint[0])
			err_hint("%s", hint);
	}
	free(name);
	free(sql);
}

int
logical_restore_run(Meta *meta, const LogicalRestoreOpts *o)
{
	LRestore r = {0};
	int rc;

	r.o = o;
	r.meta = meta;
	if ((o->as == NULL) == (o->sql_file == NULL)) {
		rc = err_set(ERR_INVALID, "a logical restore needs either --as NEWDB or --sql-file FILE");
		return rc;
	}
	if (o->jobs < 0 || o->jobs > 128)
		return err_set(ERR_INVALID, "invalid --jobs %d: from 1 to 128", o->jobs);
	if (o->as && o->as[0] == '\0')
		return err_set(ERR_INVALID, "--as needs a database name");
	if ((rc = meta_cluster_get(meta, o->cluster, &r.src)) < 0)
		goto out;
	if ((rc = find_logical_set(&r)) < 0)
		goto out;
	if ((rc = set_storage_open(meta, &r.src, &r.row, &r.storage)) < 0)
		goto out;
	if ((rc = manifest_load(&r.m, r.storage, r.row.storage_path)) < 0)
		goto out;
	if (!manifest_is_logical(r.m)) {
		rc = err_set(ERR_CORRUPT, "the manifest of backup set \"%s\" is not a logical set's", r.row.id);
		goto out;
	}
	if (o->as) {
		if ((rc = check_target(&r)) < 0)
			goto out;
	} else {
		r.major = (int)r.m->pg_version / 10000;
		if (!o->force && access(o->sql_file, F_OK) == 0) {
			rc = err_set(ERR_EXISTS, "file \"%s\" already exists", o->sql_file);
			err_hint("Choose another file, or pass --force to overwrite it.");
			goto out;
		}
	}
	if ((rc = pgtool_find(&r.pg_restore, o->pg_bin, r.major, "pg_restore", NULL)) < 0)
		goto out;
	if (o->as && (rc = pgtool_find(&r.psql, o->pg_bin, r.major, "psql", NULL)) < 0)
		goto out;
	/* everything is read and checked before anything is created */
	if ((rc = fetch_objects(&r)) < 0)
		goto out;
	if (o->sql_file) {
		if ((rc = write_sql_file(&r)) < 0)
			goto out;
		printf("backup set %s of tenant \"%s\" written as SQL to \"%s\"\n", r.row.id, o->tenant, o->sql_file);
		goto out;
	}
	/* --force: restored under a temporary name first, so that a failure leaves
	 * the existing database as it was */
	r.db_name = r.db_exists ? xasprintf("tenback_restore_%ld_%lld", (long)getpid(), (long long)time(NULL))
	                        : xstrdup(o->as);
	if ((rc = restore_into_database(&r)) < 0 || (r.db_exists && (rc = replace_database(&r)) < 0)) {
		err_prefix("could not restore backup set \"%s\" as database \"%s\"", r.row.id, o->as);
		drop_created(&r);
		goto out;
	}
	printf("tenant \"%s\" (backup set %s) restored as database \"%s\" in cluster \"%s\"\n", o->tenant, r.row.id, o->as,
	       r.dst.name);
out:
	remove_tmp(&r);
	free(r.tmp_dir);
	free(r.dump_path);
	free(r.roles_path);
	free(r.dbprops_path);
	free(r.pg_restore);
	free(r.psql);
	free(r.db_name);
	pg_conn_free(r.conn);
	storage_free(r.storage);
	manifest_free(r.m);
	meta_set_clear(&r.row);
	meta_cluster_clear(&r.src);
	meta_cluster_clear(&r.dst);
	return rc;
}
