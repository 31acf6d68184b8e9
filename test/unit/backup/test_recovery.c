/*
 * test_recovery.c - the check of the first recovery's log: reports of
 * invalid pages are accepted only for databases outside the set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/manifest.h"
#include "backup/restore_int.h"
#include "common/buf.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static Manifest *
tenant_manifest(void)
{
	Manifest *m = manifest_new();

	m->tenant = xstrdup("shop");
	manifest_add_db(m, 1, "template1", true);
	manifest_add_db(m, 4, "template0", true);
	manifest_add_db(m, 5, "postgres", true);
	manifest_add_db(m, 16384, "shop", true);
	manifest_add_db(m, 16385, "crm", false);
	return m;
}

static int
check_text(const char *text)
{
	char path[] = "/tmp/tenback-test-recovery-XXXXXX";
	int fd = mkstemp(path);
	Manifest *m = tenant_manifest();
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = recovery_check_log(path, m);
	unlink(path);
	manifest_free(m);
	return rc;
}

static void
test_excluded_pages_accepted(void **state)
{
	(void)state;
	assert_int_equal(check_text(
		"2026-11-26 15:22:28.377 UTC [22035] WARNING:  page 910 of relation base/16385/16432 is uninitialized\n"
		"2026-11-26 15:22:28.377 UTC [22035] CONTEXT:  WAL redo at 0/45000100 for Heap2/VISIBLE\n"
		"2026-11-26 15:22:28.378 UTC [22035] WARNING:  page 12 of relation base/16385/16440_vm does not exist\n"
		"WARNING:  page 3 of relation pg_tblspc/16400/PG_15_202209061/16385/16401 is uninitialized\n"
		"2026-11-26 15:22:28.379 UTC [22035] WARNING:  WAL contains references to invalid pages\n"
		"LOG:  database system is ready to accept connections\n"), 0);
}

static void
test_databases_created_during_backup_accepted(void **state)
{
	(void)state;
	/* oid 16999 is in no list: a database created in the backup window, dropped later */
	assert_int_equal(check_text("WARNING:  page 0 of relation base/16999/1259 is uninitialized\n"), 0);
}

static void
test_tenant_page_refused(void **state)
{
	(void)state;
	assert_int_equal(check_text(
		"WARNING:  page 910 of relation base/16385/16432 is uninitialized\n"
		"WARNING:  page 7 of relation base/16384/16397 is uninitialized\n"), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "base/16384/16397"));
	assert_non_null(strstr(err_hint_text(), "shop"));
}

static void
test_shared_catalog_refused(void **state)
{
	(void)state;
	assert_int_equal(check_text("WARNING:  page 1 of relation global/1262 does not exist\n"), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "global/1262"));
}

static void
test_kept_database_refused(void **state)
{
	(void)state;
	assert_int_equal(check_text("WARNING:  page 2 of relation base/5/2619 is uninitialized\n"), ERR_CORRUPT);
	assert_int_equal(check_text(
		"WARNING:  page 2 of relation pg_tblspc/16400/PG_15_202209061/16384/16401 does not exist\n"), ERR_CORRUPT);
}

static void
test_clean_log_accepted(void **state)
{
	(void)state;
	assert_int_equal(check_text("LOG:  redo done at 0/45000100\nLOG:  database system is ready\n"), 0);
	assert_int_equal(check_text(""), 0);
}

static void
test_missing_log_is_an_error(void **state)
{
	Manifest *m = tenant_manifest();

	(void)state;
	assert_int_equal(recovery_check_log("/nonexistent/tenback/log", m), ERR_NOT_FOUND);
	manifest_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excluded_pages_accepted),
		cmocka_unit_test(test_databases_created_during_backup_accepted),
		cmocka_unit_test(test_tenant_page_refused),
		cmocka_unit_test(test_shared_catalog_refused),
		cmocka_unit_test(test_kept_database_refused),
		cmocka_unit_test(test_clean_log_accepted),
		cmocka_unit_test(test_missing_log_is_an_error),
	};

	return cmocka_run_group_tests_name("recovery log check", tests, NULL, NULL);
}
