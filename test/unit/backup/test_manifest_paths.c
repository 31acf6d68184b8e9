/*
 * test_manifest_paths.c - a manifest never leads a restore outside its data
 * directory: paths with "..", ".", empty parts or a leading "/" are refused,
 * even when the manifest's own checksum is right (anyone who can write to
 * the storage can compute it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/manifest.h"
#include "common/buf.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

static int
parse_with_path(const char *path, ManifestKind kind)
{
	Manifest *m = manifest_new(), *back = NULL;
	Buf text = BUF_INIT;
	int rc;

	m->set_id = xstrdup("20261126-000000F");
	m->tenant = xstrdup("shop");
	m->system_id = xstrdup("7");
	m->backup_label = xstrdup("START WAL LOCATION: 0/2000028\n");
	m->superuser = xstrdup("postgres");
	m->wal_seg_size = 16 * 1024 * 1024;
	ManifestFile *f = manifest_add_file(m, path, kind);
	f->mode = 0700;
	if (kind == MF_FILE)
		memset(f->sum.bytes, 0xaa, IO_SHA256_LEN);
	manifest_to_json(m, &text);
	rc = manifest_parse(&back, text.data, text.len);
	manifest_free(back);
	manifest_free(m);
	buf_free(&text);
	return rc;
}

static void
test_paths_outside_refused(void **state)
{
	static const char *const bad[] = {"../etc", "base/../../etc", "/etc/passwd", "base/./1", "base//1", "", "..",
	                                  "global/pg_control/..", NULL};
	(void)state;
	for (const char *const *p = bad; *p; p++) {
		assert_int_equal(parse_with_path(*p, MF_DIR), ERR_CORRUPT);
		assert_int_equal(parse_with_path(*p, MF_SPARSE), ERR_CORRUPT);
	}
	assert_non_null(strstr(err_message(), "leaves the data directory"));
}

static void
test_ordinary_paths_accepted(void **state)
{
	(void)state;
	assert_int_equal(parse_with_path("base/16384/2619", MF_FILE), 0);
	assert_int_equal(parse_with_path("pg_tblspc/16400/PG_15_202209061/16384/16401", MF_SPARSE), 0);
	assert_int_equal(parse_with_path("..hidden.conf", MF_FILE), 0); /* a name starting with dots is fine */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_outside_refused),
		cmocka_unit_test(test_ordinary_paths_accepted),
	};

	return cmocka_run_group_tests_name("manifest paths", tests, NULL, NULL);
}
