/*
 * test_keys.c - unit tests for src/backup/keys.c: a cluster's encryption keys.
 *
 * Invariants under test: an archived WAL file and its copy in a set are
 * sealed under one name, every other object under its path; a key file or
 * passphrase added reaches the metadata sealed (the passphrase's bytes are
 * in no file of the home); the keyring of a cluster writes with the current
 * key and reads with all; a current key file that is gone stops the storage
 * from opening with ERR_PERMISSION (never ERR_NOT_FOUND, which archive-get
 * would report as the end of the archive), an old one only warns; the
 * current key cannot be removed; a passphrase file open to others is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/backup.h"
#include "backup/backup_int.h"
#include "common/buf.h"
#include "common/error.h"
#include "io/cipher.h"
#include "meta/meta.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSPHRASE "a passphrase that must stay secret 8d2f"

static void
test_cipher_names(void **state)
{
	static const char *const cases[][2] = {
		{"tenback/744/archive/00000001/000000010000000000000003", "tenback/744/wal/000000010000000000000003"},
		{"tenback/744/shop/20261127-010000F/wal/000000010000000000000003", "tenback/744/wal/000000010000000000000003"},
		{"tenback/744/archive/00000002/00000002.history", "tenback/744/wal/00000002.history"},
		{"tenback/744/shop/20261127-010000F/manifest", "tenback/744/shop/20261127-010000F/manifest"},
		{"tenback/744/shop/20261127-010000F/data/base/5/1259", "tenback/744/shop/20261127-010000F/data/base/5/1259"},
		{"tenback/744/shop/20261127-010000F/data/wal/x", "tenback/744/shop/20261127-010000F/data/wal/x"},
		{"tenback/probe", "tenback/probe"},
		{"manifest", "manifest"},
	};
	(void)state;

	for (size_t case_idx = 0; case_idx < sizeof(cases) / sizeof(cases[0]); case_idx++) {
		char *name = repo_cipher_name(cases[case_idx][0]);
		assert_string_equal(name, cases[case_idx][1]);
		free(name);
	}
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *
write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Whether the bytes of s are in any file under dir. */
static bool
found_in(const char *dir, const char *s)
{
	char *cmd = xasprintf("grep -rqaF '%s' '%s'", s, dir);
	int rc = system(cmd);

	free(cmd);
	return rc == 0;
}

static void
test_keys_life(void **state)
{
	char tmpl[] = "/tmp/tenback-test-keys-XXXXXX";
	char *home, *k1, *k2, *pass, *open_pass;
	uint8_t key[IO_KEY_BYTES];
	char fp1[IO_FINGERPRINT_CHARS + 1], fp2[IO_FINGERPRINT_CHARS + 1], fpp[IO_FINGERPRINT_CHARS + 1];
	IoKeyring *kr = NULL;
	Meta *meta = NULL;
	MetaCluster c = {
		.name = (char *)"main",
		.conninfo = (char *)"host=/nonexistent",
		.pgdata = (char *)"/nonexistent",
		.storage = (char *)"file:///nonexistent",
		.compress = (char *)"zstd",
		.system_id = (char *)"7441234567890123456",
		.pg_version = 150000,
		.created_at = (char *)"2026-11-27 01:00:00+00",
	};
	KeyAddOpts o = {.cluster = "main", .current = true};
	char *moved;
	(void)state;

	assert_non_null(mkdtemp(tmpl));
	home = xasprintf("%s/home", tmpl);
	assert_int_equal(meta_open(&meta, home), 0);
	assert_int_equal(meta_cluster_add(meta, &c), 0);
	memset(key, 1, sizeof(key));
	k1 = write_file(tmpl, "k1.key", key, sizeof(key), 0600);
	memset(key, 2, sizeof(key));
	k2 = write_file(tmpl, "k2.key", key, sizeof(key), 0600);
	pass = write_file(tmpl, "p.pass", PASSPHRASE "\n", strlen(PASSPHRASE) + 1, 0600);
	open_pass = write_file(tmpl, "open.pass", PASSPHRASE "\n", strlen(PASSPHRASE) + 1, 0644);

	/* no key: the keyring reads, never writes */
	assert_int_equal(cluster_keyring_load(meta, "main", &kr), 0);
	assert_false(io_keyring_encrypts(kr));
	io_keyring_free(kr);

	o.key_file = k1;
	assert_int_equal(cluster_key_add(meta, &o, fp1), 0);
	o.key_file = NULL;
	o.passphrase_file = open_pass;
	assert_int_equal(cluster_key_add(meta, &o, fpp), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "accessible by group or others"));
	o.passphrase_file = pass;
	o.current = false;
	assert_int_equal(cluster_key_add(meta, &o, fpp), 0);
	o.passphrase_file = NULL;
	o.key_file = "relative.key";
	assert_int_equal(cluster_key_add(meta, &o, fp2), ERR_INVALID);
	o.key_file = k2;
	o.current = true;
	assert_int_equal(cluster_key_add(meta, &o, fp2), 0);
	assert_string_not_equal(fp1, fp2);
	assert_false(found_in(home, PASSPHRASE));

	assert_int_equal(cluster_keyring_load(meta, "main", &kr), 0);
	assert_string_equal(io_keyring_current_fingerprint(kr), fp2);
	{
		char *have = io_keyring_describe(kr);
		assert_non_null(strstr(have, fp1));
		assert_non_null(strstr(have, "1 passphrase(s)"));
		free(have);
	}
	io_keyring_free(kr);

	assert_int_equal(cluster_key_remove(meta, "main", fp2), ERR_INVALID);
	assert_non_null(strstr(err_message(), "is the current key"));

	/* an old key file gone: a warning; the current one gone: the storage does not open */
	moved = xasprintf("%s.gone", k1);
	assert_int_equal(rename(k1, moved), 0);
	assert_int_equal(cluster_keyring_load(meta, "main", &kr), 0);
	io_keyring_free(kr);
	assert_int_equal(rename(moved, k1), 0);
	free(moved);
	moved = xasprintf("%s.gone", k2);
	assert_int_equal(rename(k2, moved), 0);
	kr = NULL;
	assert_int_equal(cluster_keyring_load(meta, "main", &kr), ERR_PERMISSION);
	assert_null(kr);
	assert_non_null(strstr(err_message(), fp2));
	assert_int_equal(rename(moved, k2), 0);
	free(moved);

	/* off: nothing current, every key kept */
	assert_int_equal(cluster_encryption_off(meta, "main"), 0);
	assert_int_equal(cluster_keyring_load(meta, "main", &kr), 0);
	assert_false(io_keyring_encrypts(kr));
	io_keyring_free(kr);
	assert_int_equal(cluster_key_remove(meta, "main", fp2), 0);
	assert_int_equal(cluster_encryption_off(meta, "nosuch"), ERR_NOT_FOUND);

	meta_free(meta);
	nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(home);
	free(k1);
	free(k2);
	free(pass);
	free(open_pass);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cipher_names),
		cmocka_unit_test(test_keys_life),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
