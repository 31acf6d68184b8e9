/*
 * pgtool.c - finding and running PostgreSQL's client programs (pg_dump,
 * pg_restore, psql) for logical backup and restore.
 *
 * Invariants: a program is used only when its own --version reports the
 * major version asked for; a password never appears on a command line (it
 * goes in PGPASSWORD, in the child's environment only; an sslpassword in a
 * private service file removed with the PgProc); a program starts with
 * default signal handling and only descriptors 0-2; what a program
 * writes to stderr is kept in an unlinked temporary file, so a chatty
 * program can never block on a full pipe, and is shown when it fails.
 */
#include "backup/logical_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" -> 15; 9.6 -> 9; 0 when unreadable. */
static int
parse_major(const char *text)
{
	const char *p = strstr(text, "(PostgreSQL) ");

	if (p == NULL)
		return 0;
	p += strlen("(PostgreSQL) ");
	return atoi(p);
}

/* Run prog --version; its first line, malloc'd. */
static int
tool_version(const char *path, char **out)
{
	const char *argv[] = {path, "--version", NULL};
	PgProc p = {0};
	Buf text = BUF_INIT;
	char chunk[512];
	ssize_t n;
	int rc;

	*out = NULL;
	if ((rc = pgproc_start(&p, argv, NULL, NULL, PGPROC_PIPE)) < 0)
		goto out;
	while ((n = read(p.out_fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_errno(errno, "could not read the output of \"%s --version\"", path);
			goto out;
		}
		if (text.len < 4096)
			buf_append(&text, chunk, (size_t)n);
	}
	if ((rc = pgproc_wait(&p)) < 0)
		goto out;
	buf_putc(&text, '\0');
	text.data[strcspn(text.data, "\n")] = '\0';
	*out = buf_steal(&text);
out:
	pgproc_clear(&p);
	buf_free(&text);
	return rc;
}

int
pgtool_find(char **out, const char *pg_bin, int major, const char *prog, char **out_version_text)
{
	char *dir = pg_bin ? xstrdup(pg_bin) : xasprintf("/usr/lib/postgresql/%d/bin", major);
	char *path = path_join(dir, prog);
	char *version = NULL;
	int got, rc;

	*out = NULL;
	if (out_version_text)
		*out_version_text = NULL;
	if (access(path, X_OK) < 0) {
		rc = err_set(ERR_NOT_FOUND, "%s of PostgreSQL %d not found: \"%s\" %s", prog, major, path,
		             errno == ENOENT ? "does not exist" : "cannot be run");
		if (pg_bin)
			err_hint("Pass --pg-bin the bin directory of PostgreSQL %d, or install the package "
			         "postgresql-client-%d and leave --pg-bin out.", major, major);
		else
			err_hint("Install the package postgresql-client-%d (it provides pg_dump, pg_restore and psql), "
			         "or pass --pg-bin DIR.", major);
		goto out;
	}
	if ((rc = tool_version(path, &version)) < 0) {
		err_prefix("could not run \"%s\"", path);
		goto out;
	}
	got = parse_major(version);
	if (got != major) {
		rc = err_set(ERR_UNSUPPORTED, "%s at \"%s\" is of PostgreSQL %d, the server runs PostgreSQL %d", prog, path,
		             got, major);
		err_detail("\"%s --version\" says: %s", path, version);
		err_hint("The %s of the server's major version is needed: install postgresql-client-%d, or pass "
		         "--pg-bin its bin directory.", prog, major);
		goto out;
	}
	*out = path;
	path = NULL;
	if (out_version_text) {
		*out_version_text = version;
		version = NULL;
	}
	rc = 0;
out:
	free(dir);
	free(path);
	free(version);
	return rc;
}

static void
put_param(Buf *b, const char *key, const char *value)
{
	if (b->len)
		buf_putc(b, ' ');
	buf_printf(b, "%s='", key);
	for (const char *p = value; *p; p++) {
		if (*p == '\'' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_putc(b, '\'');
}

int
pgtool_conninfo(char **out, char **out_password, char **out_sslpassword, const char *conninfo, const char *dbname,
                bool keep_password)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
	Buf b = BUF_INIT;

	*out = NULL;
	if (out_password)
		*out_password = NULL;
	if (out_sslpassword)
		*out_sslpassword = NULL;
	if (opts == NULL) {
		int rc = err_set(ERR_INVALID, "invalid conninfo \"%s\"", conninfo);
		if (errmsg)
			err_detail("%.*s", (int)strcspn(errmsg, "\n"), errmsg);
		PQfreemem(errmsg);
		return rc;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || strcmp(o->keyword, "dbname") == 0)
			continue;
		if (strcmp(o->keyword, "password") == 0 && !keep_password) {
			if (out_password)
				*out_password = xstrdup(o->val);
			continue;
		}
		if (strcmp(o->keyword, "sslpassword") == 0 && !keep_password) {
			if (out_sslpassword)
				*out_sslpassword = xstrdup(o->val);
			continue;
		}
		put_param(&b, o->keyword, o->val);
	}
	put_param(&b, "dbname", dbname);
	PQconninfoFree(opts);
	*out = buf_steal(&b);
	return 0;
}

/* Whether env entry e sets variable name ("NAME="). */
static bool
env_is(const char *e, const char *name_eq)
{
	return strncmp(e, name_eq, strlen(name_eq)) == 0;
}

/*
 * A copy of the environment with PGPASSWORD set (password) or as it was,
 * and with PGSERVICEFILE/PGSERVICE naming service_file when given (the
 * private file that holds sslpassword: libpq has no variable for it).
 * The entries it adds are malloc'd (free_env).
 */
static char **
child_env(const char *password, const char *service_file)
{
	size_t n = 0;
	char **env;
	size_t k = 0;

	while (environ[n])
		n++;
	env = xcalloc(n + 4, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		if (password && env_is(environ[i], "PGPASSWORD="))
			continue;
		if (service_file && (env_is(environ[i], "PGSERVICEFILE=") || env_is(environ[i], "PGSERVICE=")))
			continue;
		env[k++] = environ[i];
	}
	if (password)
		env[k++] = xasprintf("PGPASSWORD=%s", password);
	if (service_file) {
		env[k++] = xasprintf("PGSERVICEFILE=%s", service_file);
		env[k++] = xstrdup("PGSERVICE=tenback");
	}
	env[k] = NULL;
	return env;
}

static void
free_env(char **env, const char *password, const char *service_file)
{
	if (env == NULL)
		return;
	for (size_t i = 0; env[i]; i++) {
		if ((password && env_is(env[i], "PGPASSWORD=")) ||
		    (service_file && (env_is(env[i], "PGSERVICEFILE=") || env_is(env[i], "PGSERVICE=")))) {
			explicit_bzero(env[i], strlen(env[i]));
			free(env[i]);
		}
	}
	free(env);
}

static char *
tmp_path(const char *what)
{
	const char *tmpdir = getenv("TMPDIR");

	return xasprintf("%s/tenback-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", what);
}

/* A private (0600) service file holding sslpassword, removed by pgproc_clear. */
static int
write_service_file(PgProc *p, const char *sslpassword)
{
	char *path = tmp_path("service");
	Buf text = BUF_INIT;
	int fd = -1;
	int rc = 0;

	if (strpbrk(sslpassword, "\r\n")) {
		rc = err_set(ERR_INVALID, "sslpassword of the connection cannot hold a line break");
		goto out;
	}
	fd = mkostemp(path, O_CLOEXEC); /* mode 0600 */
	if (fd < 0) {
		rc = err_errno(errno, "could not create a temporary file for the connection of %s", p->name);
		goto out;
	}
	p->service_path = path;
	path = NULL;
	buf_printf(&text, "[tenback]\nsslpassword=%s\n", sslpassword);
	if (write(fd, text.data, text.len) != (ssize_t)text.len) {
		rc = err_errno(errno, "could not write \"%s\"", p->service_path);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = err_errno(errno, "could not write \"%s\"", p->service_path);
		goto out;
	}
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_free(&text);
	free(path);
	return rc;
}

/* Close every descriptor from 3 on, in a forked child (async-signal-safe). */
static void
close_from_3(long max_fd)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	if (close_range(3, ~0U, 0) == 0)
		return;
#endif
	if (max_fd < 0 || max_fd > 65536)
		max_fd = 65536;
	for (int fd = 3; fd < max_fd; fd++)
		close(fd);
}

int
pgproc_start(PgProc *p, const char *const *argv, const char *password, const char *sslpassword, int stdout_fd)
{
	const char *base = strrchr(argv[0], '/');
	int pipefd[2] = {-1, -1};
	char **env = NULL;
	int devnull = -1;
	long max_fd;
	pid_t pid;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
	p->err_fd = -1;
	p->name = xstrdup(base ? base + 1 : argv[0]);
	/* stderr: a private file, unlinked at once (TMPDIR is honoured) */
	{
		char *path = tmp_path("stderr");
		p->err_fd = mkostemp(path, O_CLOEXEC);
		if (p->err_fd < 0) {
			rc = err_errno(errno, "could not create a temporary file for the errors of %s", p->name);
			free(path);
			goto out;
		}
		unlink(path);
		free(path);
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		rc = err_errno(errno, "could not open /dev/null");
		goto out;
	}
	if (stdout_fd == PGPROC_PIPE && pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = err_errno(errno, "could not create a pipe for %s", p->name);
		goto out;
	}
	if (sslpassword && (rc = write_service_file(p, sslpassword)) < 0)
		goto out;
	env = child_env(password, p->service_path);
	max_fd = sysconf(_SC_OPEN_MAX);
	pid = fork();
	if (pid < 0) {
		rc = err_errno(errno, "could not start %s", p->name);
		goto out;
	}
	if (pid == 0) {
		/* the child: only async-signal-safe calls from here on */
		int out_fd = stdout_fd == PGPROC_PIPE ? pipefd[1] : stdout_fd >= 0 ? stdout_fd : p->err_fd;
		sigset_t none;
		/* the daemon's threads block SIGINT/SIGTERM and ignore SIGPIPE: a
		 * program inheriting that would ignore pgproc_clear's SIGTERM */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(p->err_fd, 2) < 0)
			_exit(126);
		/* nothing of tenback's (sockets, the metadata database, other
		 * children's pipes) goes to the program, close-on-exec or not */
		close_from_3(max_fd);
		execve(argv[0], (char *const *)argv, env);
		{
			static const char msg[] = "tenback: could not run the program\n";
			ssize_t ignored = write(2, msg, sizeof(msg) - 1);
			(void)ignored;
		}
		_exit(127);
	}
	p->pid = pid;
	if (stdout_fd == PGPROC_PIPE) {
		close(pipefd[1]);
		pipefd[1] = -1;
		p->out_fd = pipefd[0];
		pipefd[0] = -1;
	}
out:
	free_env(env, password, p->service_path);
	if (devnull >= 0)
		close(devnull);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return rc;
}

char *
pgproc_stderr(PgProc *p, size_t max_bytes)
{
	struct stat st;
	off_t from = 0;
	char *text;
	ssize_t n;

	if (p->err_fd < 0 || fstat(p->err_fd, &st) < 0)
		return xstrdup("");
	if ((uint64_t)st.st_size > max_bytes)
		from = st.st_size - (off_t)max_bytes;
	text = xmalloc((size_t)(st.st_size - from) + 1);
	n = pread(p->err_fd, text, (size_t)(st.st_size - from), from);
	if (n < 0)
		n = 0;
	text[n] = '\0';
	if (from > 0) {
		/* whole lines only */
		char *nl = strchr(text, '\n');
		if (nl)
			memmove(text, nl + 1, strlen(nl + 1) + 1);
	}
	/* no trailing newline */
	for (size_t len = strlen(text); len > 0 && text[len - 1] == '\n'; len--)
		text[len - 1] = '\0';
	return text;
}

int
pgproc_wait(PgProc *p)
{
	int status = 0;
	char *tail;
	int rc;

	if (p->out_fd >= 0) {
		close(p->out_fd);
		p->out_fd = -1;
	}
	if (p->pid <= 0)
		return err_set(ERR_INTERNAL, "%s is not running", p->name ? p->name : "program");
	while (waitpid(p->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = err_errno(errno, "could not wait for %s", p->name);
			p->pid = 0;
			return rc;
		}
	}
	p->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	tail = pgproc_stderr(p, 4000);
	if (WIFEXITED(status))
		rc = err_set(ERR_PG, "%s failed (exit status %d)", p->name, WEXITSTATUS(status));
	else
		rc = err_set(ERR_PG, "%s was terminated by signal %d", p->name, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (tail[0])
		err_detail("%s", tail);
	free(tail);
	return rc;
}

void
pgproc_clear(PgProc *p)
{
	if (p == NULL || p->name == NULL)
		return; /* never started: a zeroed PgProc */
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->pid > 0) {
		int status;
		pid_t got = 0;
		kill(p->pid, SIGTERM);
		/* a program that does not stop within 5 s is killed */
		for (int i = 0; i < 100; i++) {
			got = waitpid(p->pid, &status, WNOHANG);
			if (got != 0 && !(got < 0 && errno == EINTR))
				break;
			usleep(50 * 1000);
		}
		if (got == 0) {
			log_warning("%s did not stop within 5 s of SIGTERM: killing it", p->name);
			kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
				;
		}
	}
	if (p->err_fd >= 0)
		close(p->err_fd);
	if (p->service_path) {
		unlink(p->service_path);
		free(p->service_path);
	}
	free(p->name);
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
	p->err_fd = -1;
}
