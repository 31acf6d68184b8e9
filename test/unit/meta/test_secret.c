/*
 * test_secret.c - unit tests for src/meta/secret.c: secrets at rest.
 *
 * Invariants under test: what is sealed opens to the same bytes under the
 * same home's key and under no other; any altered byte is ERR_CORRUPT; the
 * master key file is created 0600 on first use and reused after; a key file
 * open to group or others is refused with ERR_PERMISSION and the message a
 * user sees.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "meta/secret.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Fixture {
	char *dir;
	char *home;    /* dir/home: does not exist before the first seal */
	char *other;   /* dir/other: another home */
} Fixture;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/tenback-test-secret-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	fx->home = xasprintf("%s/home", fx->dir);
	fx->other = xasprintf("%s/other", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *fx = *state;

	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->other);
	free(fx->home);
	free(fx->dir);
	free(fx);
	return 0;
}

static const char SECRET[] = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

static void
seal(const char *home, const void *plain, size_t len, uint8_t **out, size_t *out_len)
{
	if (secret_seal(home, plain, len, out, out_len) < 0)
		fail_msg("secret_seal: %s", err_message());
}

static void
round_trip(void **state)
{
	Fixture *fx = *state;
	uint8_t *sealed = NULL, *sealed2 = NULL, *plain = NULL;
	size_t sealed_len, sealed2_len, plain_len;

	seal(fx->home, SECRET, strlen(SECRET), &sealed, &sealed_len);
	assert_int_equal(sealed_len, strlen(SECRET) + SECRET_OVERHEAD);
	assert_int_equal(sealed[0], 1);
	/* the plaintext does not appear in the sealed bytes */
	assert_null(memmem(sealed, sealed_len, "wJalrXUtnFEMI", 13));
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), 0);
	assert_int_equal(plain_len, strlen(SECRET));
	assert_memory_equal(plain, SECRET, plain_len);
	assert_string_equal((char *)plain, SECRET);   /* NUL-terminated */
	free(plain);
	plain = NULL;

	/* a fresh nonce each time: the same secret seals differently */
	seal(fx->home, SECRET, strlen(SECRET), &sealed2, &sealed2_len);
	assert_int_equal(sealed2_len, sealed_len);
	assert_true(memcmp(sealed, sealed2, sealed_len) != 0);
	assert_int_equal(secret_open(fx->home, sealed2, sealed2_len, &plain, &plain_len), 0);
	assert_memory_equal(plain, SECRET, plain_len);
	free(plain);
	plain = NULL;
	free(sealed2);
	free(sealed);
	sealed = NULL;

	/* an empty secret and binary bytes too */
	seal(fx->home, "", 0, &sealed, &sealed_len);
	assert_int_equal(sealed_len, SECRET_OVERHEAD);
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), 0);
	assert_int_equal(plain_len, 0);
	free(plain);
	free(sealed);
	{
		uint8_t bin[300];
		for (size_t i = 0; i < sizeof(bin); i++)
			bin[i] = (uint8_t)i;
		seal(fx->home, bin, sizeof(bin), &sealed, &sealed_len);
		assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), 0);
		assert_int_equal(plain_len, sizeof(bin));
		assert_memory_equal(plain, bin, sizeof(bin));
		free(plain);
		free(sealed);
	}
}

static void
flipped_byte_is_corrupt(void **state)
{
	Fixture *fx = *state;
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len, plain_len;

	seal(fx->home, SECRET, strlen(SECRET), &sealed, &sealed_len);
	/* every position: version, nonce, ciphertext, tag */
	for (size_t i = 0; i < sealed_len; i++) {
		sealed[i] ^= 0x01;
		assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), ERR_CORRUPT);
		assert_null(plain);
		assert_int_equal(plain_len, 0);
		sealed[i] ^= 0x01;
	}
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), 0);
	free(plain);

	/* the message a user sees for an altered secret */
	sealed[20] ^= 0x80;
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "sealed secret does not match the master key of"));
	assert_string_equal(err_hint_text(), "Enter the secret again.");

	/* truncated */
	assert_int_equal(secret_open(fx->home, sealed, SECRET_OVERHEAD - 1, &plain, &plain_len), ERR_CORRUPT);
	assert_string_equal(err_message(), "sealed secret has an invalid length (28 bytes)");
	assert_int_equal(secret_open(fx->home, sealed, sealed_len - 1, &plain, &plain_len), ERR_CORRUPT);
	/* unknown version */
	sealed[20] ^= 0x80;
	sealed[0] = 2;
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), ERR_CORRUPT);
	assert_string_equal(err_message(), "sealed secret has unknown format version 2");
	free(sealed);
}

static void
other_home_is_corrupt(void **state)
{
	Fixture *fx = *state;
	uint8_t *sealed = NULL, *plain = NULL, *other_sealed = NULL;
	size_t sealed_len, plain_len, other_len;

	seal(fx->home, SECRET, strlen(SECRET), &sealed, &sealed_len);
	/* the other home gets its own key on first use */
	seal(fx->other, "x", 1, &other_sealed, &other_len);
	assert_int_equal(secret_open(fx->other, sealed, sealed_len, &plain, &plain_len), ERR_CORRUPT);
	assert_null(plain);
	assert_int_equal(secret_open(fx->home, other_sealed, other_len, &plain, &plain_len), ERR_CORRUPT);
	free(other_sealed);
	free(sealed);
}

static void
key_file_created_0600(void **state)
{
	Fixture *fx = *state;
	char *path = xasprintf("%s/master.key", fx->home);
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len, plain_len;
	struct stat st, st2;
	mode_t old = umask(0);   /* a permissive umask must not leak into the key's mode */

	seal(fx->home, SECRET, strlen(SECRET), &sealed, &sealed_len);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	/* no temporary file left beside it */
	{
		char *cmd = xasprintf("test $(ls -A '%s' | wc -l) -eq 1", fx->home);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	/* used again, not replaced */
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	free(plain);
	free(sealed);
	free(path);
}

static void
key_file_0644_refused(void **state)
{
	Fixture *fx = *state;
	char *path = xasprintf("%s/master.key", fx->home);
	char *want = xasprintf("master key file \"%s\" is accessible by group or others", path);
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len, plain_len;

	seal(fx->home, SECRET, strlen(SECRET), &sealed, &sealed_len);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(secret_open(fx->home, sealed, sealed_len, &plain, &plain_len), ERR_PERMISSION);
	assert_string_equal(err_message(), want);
	assert_string_equal(err_detail_text(), "Its mode is 0644; it must be 0600.");
	assert_null(plain);
	free(sealed);
	sealed = NULL;
	assert_int_equal(secret_seal(fx->home, (const uint8_t *)"x", 1, &sealed, &sealed_len), ERR_PERMISSION);
	assert_null(sealed);
	/* group bits alone, and write bits, are refused too */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(secret_seal(fx->home, (const uint8_t *)"x", 1, &sealed, &sealed_len), ERR_PERMISSION);
	assert_int_equal(chmod(path, 0602), 0);
	assert_int_equal(secret_seal(fx->home, (const uint8_t *)"x", 1, &sealed, &sealed_len), ERR_PERMISSION);
	/* fixed: works again */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(secret_seal(fx->home, (const uint8_t *)"x", 1, &sealed, &sealed_len), 0);
	free(sealed);
	free(want);
	free(path);
}

static void
key_file_wrong_size_refused(void **state)
{
	Fixture *fx = *state;
	char *path = xasprintf("%s/master.key", fx->home);
	uint8_t *sealed = NULL;
	size_t sealed_len;
	FILE *f;

	assert_int_equal(mkdir(fx->home, 0700), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("short", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(secret_seal(fx->home, (const uint8_t *)"x", 1, &sealed, &sealed_len), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "has 5 bytes, not 32"));
	assert_null(sealed);
	free(path);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(round_trip),
		T(flipped_byte_is_corrupt),
		T(other_home_is_corrupt),
		T(key_file_created_0600),
		T(key_file_0644_refused),
		T(key_file_wrong_size_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
