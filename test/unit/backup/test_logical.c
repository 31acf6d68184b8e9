/*
 * test_logical.c - the pieces of logical backup that need no server: a
 * logical set's manifest (written without the physical fields, read back
 * whole, refused without what a restore needs), the conninfo handed to
 * pg_dump (no password on its command line), finding pg_dump (missing,
 * wrong major version) and running a client program (its stderr kept and
 * shown when it fails).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/logical_int.h"
#include "backup/manifest.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static Manifest *
logical_manifest(void)
{
	Manifest *m = manifest_new();
	ManifestFile *f;

	m->set_id = xstrdup("20261126-000000F");
	m->cluster = xstrdup("main");
	m->tenant = xstrdup("shop");
	m->type = xstrdup("full");
	m->method = xstrdup("logical");
	m->system_id = xstrdup("7");
	m->pg_version = 150014;
	m->start_time = xstrdup("2026-11-26 00:00:00+00");
	m->dump_format = xstrdup("custom");
	m->pg_dump_version = xstrdup("pg_dump (PostgreSQL) 15.14");
	m->db_encoding = xstrdup("UTF8");
	m->db_collate = xstrdup("C.UTF-8");
	m->db_ctype = xstrdup("C.UTF-8");
	m->db_locale_provider = xstrdup("c");
	f = manifest_add_file(m, LOGICAL_DUMP, MF_FILE);
	f->size = 1234;
	memset(f->sum.bytes, 0xbb, IO_SHA256_LEN);
	return m;
}

static void
test_logical_manifest_round_trip(void **state)
{
	Manifest *m = logical_manifest(), *back = NULL;
	Buf text = BUF_INIT;

	(void)state;
	manifest_to_json(m, &text);
	/* nothing physical in it: no LSN, label, WAL segment size */
	assert_null(strstr(text.data, "start_lsn"));
	assert_null(strstr(text.data, "backup_label"));
	assert_null(strstr(text.data, "wal_seg_size"));
	assert_int_equal(manifest_parse(&back, text.data, text.len), 0);
	assert_true(manifest_is_logical(back));
	assert_string_equal(back->dump_format, "custom");
	assert_string_equal(back->pg_dump_version, "pg_dump (PostgreSQL) 15.14");
	assert_string_equal(back->db_encoding, "UTF8");
	assert_string_equal(back->db_collate, "C.UTF-8");
	assert_string_equal(back->db_locale_provider, "c");
	assert_null(back->db_icu_locale);
	assert_int_equal(back->pg_version, 150014);
	assert_int_equal(back->n_files, 1);
	assert_string_equal(back->files[0].path, LOGICAL_DUMP);
	assert_int_equal(back->files[0].size, 1234);
	manifest_free(back);
	manifest_free(m);
	buf_free(&text);
}

static void
test_logical_manifest_needs_its_fields(void **state)
{
	Manifest *m = logical_manifest(), *back = NULL;
	Buf text = BUF_INIT;

	(void)state;
	free(m->db_encoding);
	m->db_encoding = NULL; /* a restore could not create the database */
	manifest_to_json(m, &text);
	assert_int_equal(manifest_parse(&back, text.data, text.len), ERR_CORRUPT);
	assert_string_equal(err_message(), "manifest lacks required fields");
	assert_null(back);
	manifest_free(m);
	buf_free(&text);
}

static void
test_conninfo_keeps_password_off_the_command_line(void **state)
{
	char *ci = NULL, *pw = NULL, *sslpw = NULL;

	(void)state;
	assert_int_equal(pgtool_conninfo(&ci, &pw, &sslpw,
	                                 "host=/run/pg port=5432 user=tb password=s3cret sslpassword=k3y dbname=postgres",
	                                 "shop", false), 0);
	assert_null(strstr(ci, "k3y"));
	assert_string_equal(sslpw, "k3y");
	free(sslpw);
	assert_null(strstr(ci, "s3cret"));
	assert_null(strstr(ci, "postgres'"));
	assert_non_null(strstr(ci, "dbname='shop'"));
	assert_non_null(strstr(ci, "host='/run/pg'"));
	assert_non_null(strstr(ci, "user='tb'"));
	assert_string_equal(pw, "s3cret");
	free(ci);
	free(pw);
	/* tenback's own connection keeps it; a URI works; quotes are escaped */
	assert_int_equal(pgtool_conninfo(&ci, &pw, NULL, "postgresql://tb:s3cret@localhost:5433/postgres", "it's", true), 0);
	assert_non_null(strstr(ci, "password='s3cret'"));
	assert_non_null(strstr(ci, "dbname='it\\'s'"));
	assert_non_null(strstr(ci, "port='5433'"));
	assert_null(pw);
	free(ci);
	assert_int_equal(pgtool_conninfo(&ci, &pw, NULL, "host=a port", "shop", false), ERR_INVALID);
	assert_null(ci);
}

static char *
make_dir(void)
{
	char tmpl[] = "/tmp/tb-test-logical-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void
write_script(const char *dir, const char *name, const char *body)
{
	char *path = path_join(dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	chmod(path, 0755);
	free(path);
}

static void
remove_dir(char *dir, const char *name)
{
	char *path = path_join(dir, name);

	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void
test_pg_dump_missing(void **state)
{
	char *dir = make_dir();
	char *path = NULL;

	(void)state;
	assert_int_equal(pgtool_find(&path, dir, 15, "pg_dump", NULL), ERR_NOT_FOUND);
	assert_null(path);
	assert_non_null(strstr(err_message(), "pg_dump of PostgreSQL 15 not found"));
	assert_non_null(strstr(err_message(), dir));
	assert_non_null(strstr(err_hint_text(), "postgresql-client-15"));
	remove_dir(dir, "pg_dump");
}

static void
test_pg_dump_wrong_major(void **state)
{
	char *dir = make_dir();
	char *path = NULL, *version = NULL;

	(void)state;
	write_script(dir, "pg_dump", "#!/bin/sh\necho 'pg_dump (PostgreSQL) 14.9'\n");
	assert_int_equal(pgtool_find(&path, dir, 15, "pg_dump", &version), ERR_UNSUPPORTED);
	assert_null(path);
	assert_non_null(strstr(err_message(), "is of PostgreSQL 14, the server runs PostgreSQL 15"));
	assert_non_null(strstr(err_hint_text(), "postgresql-client-15"));
	/* the right one is found, with its version line */
	assert_int_equal(pgtool_find(&path, dir, 14, "pg_dump", &version), 0);
	assert_non_null(strstr(path, "/pg_dump"));
	assert_string_equal(version, "pg_dump (PostgreSQL) 14.9");
	free(path);
	free(version);
	remove_dir(dir, "pg_dump");
}

static void
test_failed_program_shows_its_stderr(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "echo 'pg_dump: error: connection failed' >&2; exit 3", NULL};
	PgProc p = {0};

	(void)state;
	pgproc_clear(&p); /* a zeroed one is left alone */
	assert_int_equal(pgproc_start(&p, argv, "pw", NULL, PGPROC_PIPE), 0);
	assert_int_equal(pgproc_wait(&p), ERR_PG);
	assert_string_equal(err_message(), "sh failed (exit status 3)");
	assert_string_equal(err_detail_text(), "pg_dump: error: connection failed");
	pgproc_clear(&p);
}

static void
test_password_goes_to_the_environment(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "test \"$PGPASSWORD\" = 'p w' || { echo \"got [$PGPASSWORD]\" >&2; exit 1; }",
	                      NULL};
	PgProc p = {0};

	(void)state;
	assert_int_equal(pgproc_start(&p, argv, "p w", NULL, PGPROC_STDERR), 0);
	assert_int_equal(pgproc_wait(&p), 0);
	pgproc_clear(&p);
}

static void
test_sslpassword_goes_to_a_private_service_file(void **state)
{
	const char *argv[] = {"/bin/sh", "-c",
	                      "test \"$PGSERVICE\" = tenback && grep -qx 'sslpassword=k 3y' \"$PGSERVICEFILE\" && "
	                      "test \"$(stat -c %a \"$PGSERVICEFILE\")\" = 600 && echo \"$PGSERVICEFILE\"",
	                      NULL};
	PgProc p = {0};
	char path[4096] = "";
	ssize_t n;

	(void)state;
	assert_int_equal(pgproc_start(&p, argv, NULL, "k 3y", PGPROC_PIPE), 0);
	n = read(p.out_fd, path, sizeof(path) - 1);
	assert_true(n > 0);
	path[strcspn(path, "\n")] = '\0';
	assert_int_equal(pgproc_wait(&p), 0);
	pgproc_clear(&p);
	assert_int_equal(access(path, F_OK), -1); /* removed */
}

/* A program started from a thread that blocks SIGTERM (as the daemon's do)
 * still stops on pgproc_clear's SIGTERM, and gets no descriptor of ours. */
static void
test_child_gets_default_signals_and_no_descriptors(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
	const char *fds[] = {"/bin/sh", "-c", "ls /proc/self/fd | wc -l", NULL};
	sigset_t term, old;
	PgProc p = {0};
	int64_t t0;
	char out[64] = "";
	int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */

	(void)state;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	assert_int_equal(pgproc_start(&p, argv, NULL, NULL, PGPROC_STDERR), 0);
	usleep(100 * 1000);
	t0 = time_now_ms();
	pgproc_clear(&p);
	assert_true(time_now_ms() - t0 < 2000); /* SIGTERM, not the SIGKILL 5 s later */
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* 0, 1, 2 and the one ls opens to read the directory */
	assert_int_equal(pgproc_start(&p, fds, NULL, NULL, PGPROC_PIPE), 0);
	assert_true(read(p.out_fd, out, sizeof(out) - 1) > 0);
	assert_int_equal(atoi(out), 4);
	assert_int_equal(pgproc_wait(&p), 0);
	pgproc_clear(&p);
	close(leak);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logical_manifest_round_trip),
		cmocka_unit_test(test_logical_manifest_needs_its_fields),
		cmocka_unit_test(test_conninfo_keeps_password_off_the_command_line),
		cmocka_unit_test(test_pg_dump_missing),
		cmocka_unit_test(test_pg_dump_wrong_major),
		cmocka_unit_test(test_failed_program_shows_its_stderr),
		cmocka_unit_test(test_password_goes_to_the_environment),
		cmocka_unit_test(test_sslpassword_goes_to_a_private_service_file),
		cmocka_unit_test(test_child_gets_default_signals_and_no_descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
