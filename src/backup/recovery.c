/*
 * recovery.c - the first start of a restored instance, and the last.
 *
 * A tenant's set holds the other tenants' relation files only as zeroed
 * files of the right size.  Replaying WAL onto them works where every first
 * touch of a page carries a full-page image, but records without one
 * (Heap2/VISIBLE without checksums or wal_log_hints, Hash/DELETE) make
 * recovery PANIC with "WAL contains references to invalid pages".  So the
 * first recovery runs with ignore_invalid_pages = on, and every
 * invalid-page report in its log must name a relation of a database
 * outside the set; one naming the tenant, the shared catalogs or a kept
 * database fails the restore, so damage to the tenant is never hidden.
 *
 * Until the other databases are dropped the instance runs privately: its
 * own socket directory (mode 0700, trust authentication only there), no
 * TCP, no autovacuum, no archiving, no hot standby connections, and
 * tenback never connects to an excluded database.  Then it shuts down,
 * and the instance the user gets never ran with ignore_invalid_pages.
 */
#include "backup/restore_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "pg/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <unistd.h>

#define RECOVERY_LOG "tenback_recovery.log"

typedef struct Instance {
	const RecoveryCtx *ctx;
	char *sock_dir;
	char *log_path;
	int port;
	pid_t pid;
	pid_t sentinel;           /* the process that stops the server should we die; 0: none */
	int lifeline;             /* our end of the pipe it watches; -1: none */
} Instance;

/*
 * The sentinel: should tenback die (kill -9, a crash) while its recovery
 * server runs, the server must not go on in a half-restored directory.
 * PR_SET_PDEATHSIG on the postmaster asks the kernel for that, and under
 * load it was seen to miss (1 kill in about 150, the postmaster going on to
 * promote): so a small process of our own watches too.  It reads the
 * postmaster's pid from a pipe whose write end only tenback holds, then
 * waits on the pipe and on a pidfd of the postmaster.  The pipe at its end
 * before the postmaster exited means tenback is gone: SIGQUIT (immediate
 * shutdown), then SIGKILL 5 s later.  A pidfd never signals another process
 * that reused the pid.  It holds none of tenback's other descriptors (no
 * lock stays held through it), and has its own session (a Ctrl-C of
 * tenback does not stop it).
 */
static void
sentinel_main(int fd)
{
	pid_t pm = 0;
	int pidfd;

	if (read(fd, &pm, sizeof(pm)) != (ssize_t)sizeof(pm) || pm <= 0)
		_exit(0); /* no server was started */
	pidfd = (int)syscall(SYS_pidfd_open, pm, 0);
	if (pidfd < 0)
		_exit(0); /* already gone */
	for (;;) {
		struct pollfd p[2] = {{pidfd, POLLIN, 0}, {fd, POLLIN, 0}};
		char c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[0].revents)
			_exit(0); /* the server ended: nothing to do */
		if (p[1].revents && read(fd, &c, 1) <= 0)
			break; /* tenback is gone, or gave the server up: stop it */
	}
	syscall(SYS_pidfd_send_signal, pidfd, SIGQUIT, NULL, 0);
	{
		struct pollfd p = {pidfd, POLLIN, 0};
		if (poll(&p, 1, 5000) == 0)
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	}
	_exit(0);
}

/* Start the sentinel, before the postmaster; sentinel_arm tells it the
 * postmaster's pid right after that fork (a death in between leaves the
 * parent-death signal alone on guard).  A failure only loses the second
 * line of defence: logged, not fatal. */
static void
sentinel_start(Instance *in)
{
	int fds[2];
	pid_t pid;

	in->sentinel = 0;
	in->lifeline = -1;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_warning("could not start the recovery server's sentinel: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		setsid();
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		/* fds[0] to 3, then nothing else open above it */
		if (dup2(fds[0], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		sentinel_main(3);
	}
	close(fds[0]);
	if (pid < 0) {
		log_warning("could not start the recovery server's sentinel: %s", strerror(errno));
		close(fds[1]);
		return;
	}
	in->sentinel = pid;
	in->lifeline = fds[1];
}

/* Tell the sentinel the postmaster's pid (0: none was started). */
static void
sentinel_arm(Instance *in, pid_t pm)
{
	if (in->lifeline >= 0 && write(in->lifeline, &pm, sizeof(pm)) != (ssize_t)sizeof(pm))
		log_warning("could not arm the recovery server's sentinel: %s", strerror(errno));
}

/* The server is stopped (or never ran): the sentinel exits, and is reaped. */
static void
sentinel_release(Instance *in)
{
	if (in->lifeline >= 0)
		close(in->lifeline);
	in->lifeline = -1;
	if (in->sentinel > 0)
		while (waitpid(in->sentinel, NULL, 0) < 0 && errno == EINTR)
			;
	in->sentinel = 0;
}

static void
become_user(const RecoveryCtx *ctx)
{
	if (!ctx->as_other_user)
		return;
	if (setgroups(0, NULL) < 0 || setgid(ctx->gid) < 0 || setuid(ctx->uid) < 0) {
		perror("tenback: could not switch user");
		_exit(127);
	}
}

static int
make_private_dir(Instance *in)
{
	char tmpl[] = "/tmp/tenback-restore-XXXXXX";
	char *hba;
	FILE *f;
	int rc = 0;

	if (mkdtemp(tmpl) == NULL)
		return err_errno(errno, "could not create a temporary directory");
	in->sock_dir = xstrdup(tmpl);
	hba = path_join(in->sock_dir, "pg_hba.conf");
	f = fopen(hba, "w");
	if (f == NULL || fputs("# tenback restore: reachable only through this 0700 directory\n"
	                       "local all all trust\n", f) < 0) {
		rc = err_errno(errno, "could not write \"%s\"", hba);
	}
	if (f && fclose(f) != 0 && rc == 0)
		rc = err_errno(errno, "could not write \"%s\"", hba);
	if (rc == 0 && in->ctx->as_other_user &&
	    (chown(in->sock_dir, in->ctx->uid, in->ctx->gid) < 0 || chown(hba, in->ctx->uid, in->ctx->gid) < 0))
		rc = err_errno(errno, "could not change owner of \"%s\"", in->sock_dir);
	free(hba);
	return rc;
}

static void
remove_private_dir(Instance *in)
{
	char *hba;

	if (in->sock_dir == NULL)
		return;
	hba = path_join(in->sock_dir, "pg_hba.conf");
	unlink(hba);
	free(hba);
	rmdir(in->sock_dir);
	free(in->sock_dir);
	in->sock_dir = NULL;
}

static int
spawn_postgres(Instance *in)
{
	const RecoveryCtx *ctx = in->ctx;
	char *postgres = path_join(ctx->pg_bin, "postgres");
	StrList args = {0};
	int logfd;
	pid_t pid, parent;

	strlist_add(&args, postgres);
	strlist_add(&args, "-D");
	strlist_add(&args, ctx->dir);
#define SETTING(...) do { strlist_add(&args, "-c"); strlist_add_owned(&args, xasprintf(__VA_ARGS__)); } while (0)
	SETTING("port=%d", in->port);
	SETTING("listen_addresses=");
	SETTING("unix_socket_directories=%s", in->sock_dir);
	SETTING("hba_file=%s/pg_hba.conf", in->sock_dir);
	SETTING("hot_standby=off");
	SETTING("archive_mode=off");
	SETTING("autovacuum=off");
	SETTING("logging_collector=off");
	SETTING("log_destination=stderr");
	SETTING("log_min_messages=warning");
	SETTING("restore_command=%s", ctx->restore_command);
	SETTING("recovery_target_action=promote");
	/* Recovery starts by making the whole data directory durable, an fsync
	 * per file; the restore has just synced its file systems (sync_target):
	 * one syncfs each does it again, for nothing (PostgreSQL 14 on). */
	if (ctx->m->pg_version >= 140000)
		SETTING("recovery_init_sync_method=syncfs");
	switch (ctx->target->kind) {
	case TARGET_IMMEDIATE: SETTING("recovery_target=immediate"); break;
	case TARGET_TIME: SETTING("recovery_target_time=%s", ctx->target->text); break;
	case TARGET_LSN: SETTING("recovery_target_lsn=%s", ctx->target->text); break;
	case TARGET_XID: SETTING("recovery_target_xid=%s", ctx->target->text); break;
	case TARGET_NAME: SETTING("recovery_target_name=%s", ctx->target->text); break;
	case TARGET_LATEST: break;
	}
	/* A point in time is looked for on the set's own timeline (pitr.c reads
	 * only that one): recovery must not follow a later branch. */
	if (ctx->target->kind >= TARGET_TIME)
		SETTING("recovery_target_timeline=current");
	if (ctx->tenant_only)
		SETTING("ignore_invalid_pages=on");
#undef SETTING
	strlist_add_owned(&args, NULL);

	logfd = open(in->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0) {
		int rc = err_errno(errno, "could not create \"%s\"", in->log_path);
		strlist_free(&args);
		free(postgres);
		return rc;
	}
	if (ctx->as_other_user && fchown(logfd, ctx->uid, ctx->gid) < 0)
		log_warning("could not change owner of \"%s\"", in->log_path);
	sentinel_start(in);
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		setsid();
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		become_user(ctx);
		/* tenback killed (kill -9, a crash) must not leave a server running
		 * in a half-restored directory: the postmaster gets SIGQUIT
		 * (immediate shutdown) when we die.  Set after become_user, which
		 * clears it; getppid() tells whether we died before it was set. */
		prctl(PR_SET_PDEATHSIG, SIGQUIT);
		if (getppid() != parent)
			_exit(1);
		execv(postgres, args.items);
		perror("tenback: could not run postgres");
		_exit(127);
	}
	close(logfd);
	strlist_free(&args);
	free(postgres);
	sentinel_arm(in, pid > 0 ? pid : 0);
	if (pid < 0)
		return err_errno(errno, "could not start PostgreSQL");
	in->pid = pid;
	return 0;
}

/* The last lines of the log, for an error's detail. */
static char *
log_tail(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	char **ring = xcalloc((size_t)lines, sizeof(char *));
	char line[1024];
	int n = 0;
	Buf b = BUF_INIT;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			free(ring[n % lines]);
			ring[n % lines] = xstrdup(line);
			n++;
		}
		fclose(f);
	}
	for (int i = n > lines ? n - lines : 0; i < n; i++)
		buf_puts(&b, ring[i % lines]);
	for (int i = 0; i < lines; i++)
		free(ring[i]);
	free(ring);
	return buf_steal(&b);
}

static char *
conninfo(const Instance *in, const char *db)
{
	return xasprintf("host=%s port=%d user=%s dbname=%s connect_timeout=10", in->sock_dir, in->port,
	                 in->ctx->m->superuser, db);
}

static int
wait_ready(Instance *in)
{
	int timeout_s = in->ctx->o->timeout_s > 0 ? in->ctx->o->timeout_s : 3600;
	int64_t deadline = time_now_ms() + (int64_t)timeout_s * 1000;
	char *ci = conninfo(in, "template1");
	int status, rc = 0;

	for (;;) {
		pid_t w = waitpid(in->pid, &status, WNOHANG);
		if (w == in->pid) {
			char *tail = log_tail(in->log_path, 12);
			in->pid = 0;
			rc = err_set(ERR_PG, "recovery of the restored instance failed");
			err_detail("PostgreSQL stopped; the end of its log (%s):\n%s", in->log_path, tail);
			free(tail);
			break;
		}
		if (PQping(ci) == PQPING_OK)
			break;
		if (time_now_ms() > deadline) {
			rc = err_set(ERR_TIMEOUT, "recovery did not finish within %d seconds", timeout_s);
			err_hint("See \"%s\"; raise --timeout for a long WAL replay.", in->log_path);
			break;
		}
		usleep(200 * 1000);
	}
	free(ci);
	return rc;
}

/* Database oid of a relation path as PostgreSQL prints it; 0 for global/. */
static uint32_t
relpath_db(const char *path)
{
	if (str_starts_with(path, "base/"))
		return (uint32_t)strtoul(path + 5, NULL, 10);
	if (str_starts_with(path, "pg_tblspc/")) {
		const char *p = strchr(path + 10, '/');       /* after the tablespace oid */
		p = p ? strchr(p + 1, '/') : NULL;             /* after PG_15_<catversion> */
		return p ? (uint32_t)strtoul(p + 1, NULL, 10) : 0;
	}
	return 0;
}

int
recovery_check_log(const char *log_path, const Manifest *m)
{
	FILE *f = fopen(log_path, "r");
	char line[2048];
	size_t n_excluded = 0;
	int rc = 0;

	if (f == NULL)
		return err_errno(errno, "could not read \"%s\"", log_path);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, " of relation ");
		char path[1024];
		uint32_t db;

		if (strstr(line, "page ") == NULL || p == NULL ||
		    (strstr(p, " is uninitialized") == NULL && strstr(p, " does not exist") == NULL))
			continue;
		if (sscanf(p, " of relation %1023s", path) != 1)
			continue;
		db = relpath_db(path);
		if (db != 0 && !manifest_db_included(m, db)) {
			n_excluded++;
			continue;
		}
		rc = err_set(ERR_CORRUPT, "recovery found pages missing from the backup in relation \"%s\"", path);
		err_detail("PostgreSQL reported: %.*s", (int)strcspn(line, "\n"), line);
		err_hint("The backup set does not hold a consistent copy of tenant \"%s\"; take a new backup.",
		         m->tenant);
		break;
	}
	fclose(f);
	if (rc == 0 && n_excluded)
		log_info("recovery skipped %zu page references of databases outside the set", n_excluded);
	return rc;
}

static int
drop_other_databases(Instance *in)
{
	const Manifest *m = in->ctx->m;
	const char *db = "template1"; /* always in the set; postgres usually is too */
	char *ci;
	PgConn *conn = NULL;
	PGresult *res = NULL;
	bool found_tenant = false;
	int rc;

	for (size_t i = 0; i < m->n_dbs; i++)
		if (m->dbs[i].included && strcmp(m->dbs[i].name, "postgres") == 0)
			db = "postgres";
	ci = conninfo(in, db);
	if ((rc = pg_conn_open(&conn, ci)) < 0)
		goto out;
	if ((rc = pg_conn_query(conn, &res, "SELECT oid, datname, datistemplate FROM pg_database", 0, NULL)) < 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		const char *name = PQgetvalue(res, i, 1);
		char *ident;
		char *sql;

		if (strcmp(name, m->tenant) == 0) {
			if (!manifest_db_included(m, oid)) {
				/* dropped and created again after the set: not the set's tenant */
				rc = err_set(ERR_INVALID, "tenant \"%s\" was dropped and created again after backup set %s",
				             name, m->set_id);
				err_detail("At the recovery target the database has oid %u, not the one the set holds.", oid);
				err_hint("Restore from a backup set taken after the database was created again, or choose a "
				         "target before it was dropped.");
				goto out;
			}
			found_tenant = true;
		}
		if (manifest_db_included(m, oid))
			continue;
		ident = PQescapeIdentifier(pg_conn_raw(conn), name, strlen(name));
		if (PQgetvalue(res, i, 2)[0] == 't') {
			sql = xasprintf("ALTER DATABASE %s IS_TEMPLATE false", ident);
			rc = pg_conn_exec(conn, sql);
			free(sql);
		}
		if (rc == 0) {
			sql = xasprintf("DROP DATABASE %s", ident);
			rc = pg_conn_exec(conn, sql);
			free(sql);
		}
		PQfreemem(ident);
		if (rc < 0) {
			err_prefix("could not drop database \"%s\" outside the set", name);
			goto out;
		}
		log_info("dropped database \"%s\" (not part of tenant \"%s\")", name, m->tenant);
	}
	if (!found_tenant) {
		rc = err_set(ERR_INTERNAL, "the restored instance has no database \"%s\"", m->tenant);
		goto out;
	}
	rc = pg_conn_exec(conn, "CHECKPOINT");
out:
	PQclear(res);
	pg_conn_free(conn);
	free(ci);
	return rc;
}

static int
stop_instance(Instance *in)
{
	int64_t deadline = time_now_ms() + 300 * 1000;
	int status;

	if (in->pid <= 0)
		return 0;
	kill(in->pid, SIGINT); /* fast shutdown */
	for (;;) {
		pid_t w = waitpid(in->pid, &status, WNOHANG);
		if (w == in->pid || (w < 0 && errno == ECHILD))
			break;
		if (time_now_ms() > deadline) {
			kill(in->pid, SIGQUIT);
			waitpid(in->pid, &status, 0);
			in->pid = 0;
			return err_set(ERR_TIMEOUT, "the restored instance did not shut down");
		}
		usleep(100 * 1000);
	}
	in->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(ERR_PG, "the restored instance did not shut down cleanly");
	return 0;
}

int
recovery_run(const RecoveryCtx *ctx)
{
	Instance in = {0};
	int rc;

	in.lifeline = -1;
	in.ctx = ctx;
	in.port = ctx->o->port > 0 ? ctx->o->port : 5432;
	in.log_path = path_join(ctx->dir, RECOVERY_LOG);
	if ((rc = make_private_dir(&in)) < 0)
		goto out;
	log_info("recovering (WAL replay to %s%s)",
	         ctx->target->kind == TARGET_IMMEDIATE ? "the end of the set"
	         : ctx->target->kind == TARGET_LATEST ? "the end of the archive" : "recovery target ",
	         ctx->target->kind > TARGET_IMMEDIATE ? ctx->target->text : "");
	if ((rc = spawn_postgres(&in)) < 0)
		goto out;
	if ((rc = wait_ready(&in)) < 0)
		goto out;
	if (ctx->tenant_only) {
		if ((rc = recovery_check_log(in.log_path, ctx->m)) < 0)
			goto out;
		if ((rc = drop_other_databases(&in)) < 0)
			goto out;
	}
	rc = stop_instance(&in);
out:
	if (in.pid > 0) {
		int save = rc;
		stop_instance(&in);
		rc = save;
	}
	/* the server is reaped by now: the sentinel finds it ended and exits */
	sentinel_release(&in);
	remove_private_dir(&in);
	free(in.log_path);
	return rc;
}

int
recovery_start_final(const RecoveryCtx *ctx)
{
	char *pg_ctl = path_join(ctx->pg_bin, "pg_ctl");
	char *logfile = path_join(ctx->dir, "tenback_start.log");
	char timeout[16];
	int status;
	pid_t pid;
	int rc = 0;

	snprintf(timeout, sizeof(timeout), "%d", ctx->o->timeout_s > 0 ? ctx->o->timeout_s : 600);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		become_user(ctx);
		execl(pg_ctl, pg_ctl, "-D", ctx->dir, "-l", logfile, "-w", "-t", timeout, "start", (char *)NULL);
		perror("tenback: could not run pg_ctl");
		_exit(127);
	}
	if (pid < 0) {
		rc = err_errno(errno, "could not run pg_ctl");
		goto out;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *tail = log_tail(logfile, 8);
		rc = err_set(ERR_PG, "could not start the restored instance");
		err_detail("%s", tail);
		err_hint("The data directory is restored and recovered; see \"%s\" and start it with pg_ctl.", logfile);
		free(tail);
	}
out:
	free(pg_ctl);
	free(logfile);
	return rc;
}
