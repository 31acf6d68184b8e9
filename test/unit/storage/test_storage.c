/*
 * test_storage.c - the storage conformance suite (conformance.h), run
 * against the posix driver; test_storage_s3.c runs it against S3.
 *
 * The conformance tests (conf_*) use storage.h only, through a fixture that
 * a driver provides (a fresh, empty Storage per test), so every driver runs
 * the same suite.
 *
 * The posix_* tests below check what only the posix driver promises
 * (storage_open's URI handling, nothing written outside the root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "io/io.h"
#include "storage/storage.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

/* ---- fixture ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
posix_setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/tenback-test-storage-XXXXXX";
	char *uri;

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	/* a root that does not exist yet: storage_open creates it */
	uri = xasprintf("file://%s/root", fx->dir);
	if (storage_open(&fx->storage, uri) < 0) {
		fprintf(stderr, "storage_open: %s\n", err_message());
		free(uri);
		return -1;
	}
	free(uri);
	*state = fx;
	return 0;
}

static int
posix_teardown(void **state)
{
	Fixture *fx = *state;

	storage_free(fx->storage);
	rm_rf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- posix only ---- */

/* posix's: an object store has no directories to block */
static void
conf_probe_fails_below_object(void **state)
{
	Storage *s = ((Fixture *)*state)->storage;
	int rc;

	/* root-proof: a directory cannot be created under a regular file */
	put_str(s, "blocker", "x");
	err_clear();
	rc = storage_probe(s, "blocker/dir");
	assert_true(rc < 0);
	assert_int_equal(err_code(), rc);
	assert_non_null(strstr(err_message(), "is not writable"));
	assert_content(s, "blocker", "x", 1);
}


static void
check_open_fails(const char *uri, int want_code, const char *want_message)
{
	Storage *s = (Storage *)(uintptr_t)1;

	err_clear();
	assert_int_equal(storage_open(&s, uri), want_code);
	assert_null(s);
	assert_int_equal(err_code(), want_code);
	assert_string_equal(err_message(), want_message);
	assert_string_not_equal(err_hint_text(), "");
}

static void
posix_open_rejects(void **state)
{
	(void)state;
	check_open_fails("file://relative", ERR_INVALID, "invalid storage URI \"file://relative\"");
	assert_non_null(strstr(err_hint_text(), "absolute"));
	check_open_fails("file://", ERR_INVALID, "invalid storage URI \"file://\"");
	check_open_fails("gs://x", ERR_UNSUPPORTED, "storage type \"gs\" is not supported");
	check_open_fails("gs://bucket/prefix", ERR_UNSUPPORTED, "storage type \"gs\" is not supported");
	check_open_fails("garbage", ERR_INVALID, "invalid storage URI \"garbage\"");
	check_open_fails("", ERR_INVALID, "invalid storage URI \"\"");
	check_open_fails("/var/lib/tenback", ERR_INVALID, "invalid storage URI \"/var/lib/tenback\"");
}

static void
posix_open_creates_root(void **state)
{
	Fixture *fx = *state;
	char *uri = xasprintf("file://%s/new/nested/root", fx->dir);
	char *root = xasprintf("%s/new/nested/root", fx->dir);
	Storage *s = NULL;
	struct stat st;

	assert_int_equal(storage_open(&s, uri), 0);
	assert_string_equal(storage_uri(s), uri);
	assert_int_equal(stat(root, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	put_str(s, "x", "y");
	storage_free(s);
	storage_free(NULL);
	free(uri);
	free(root);
}

static void
posix_open_below_file_fails(void **state)
{
	Fixture *fx = *state;
	char *file = xasprintf("%s/plain", fx->dir);
	char *uri = xasprintf("file://%s/plain/root", fx->dir);
	Storage *s = NULL;
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fclose(f);
	err_clear();
	assert_true(storage_open(&s, uri) < 0);
	assert_null(s);
	assert_non_null(strstr(err_message(), "plain"));
	free(file);
	free(uri);
}

static void
posix_nothing_outside_root(void **state)
{
	Fixture *fx = *state;
	Storage *s = fx->storage;
	char *outside = xasprintf("%s/escape", fx->dir);
	IoWriter *w = NULL;
	struct stat st;

	assert_true(storage_write_open(s, &w, "../escape", NULL) < 0);
	assert_true(storage_write_open(s, &w, "a/../../escape", NULL) < 0);
	assert_int_equal(stat(outside, &st), -1);
	assert_int_equal(errno, ENOENT);
	free(outside);
}

/* "" names the root itself (list, info, remove_tree), never an object: a
 * writer for it must not be opened, and above all must not create its
 * temporary file next to the root, outside the storage. */
static void
posix_empty_path_not_an_object(void **state)
{
	Fixture *fx = *state;
	IoWriter *w = NULL;
	int entries = -1;
	char *cmd = xasprintf("ls -A '%s' | wc -l", fx->dir);
	FILE *p;
	int rc;

	rc = storage_write_open(fx->storage, &w, "", NULL);
	/* only the root may be in the temp directory, whatever happened */
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &entries), 1);
	pclose(p);
	io_writer_free(w);
	free(cmd);
	if (entries != 1)
		fail_msg("storage_write_open(\"\") returned %d and left %d entries beside the root in %s", rc,
		         entries - 1, fx->dir);
	if (rc >= 0)
		fail_msg("storage_write_open(\"\") accepted the root as an object name");
}

static void
posix_probe_read_only(void **state)
{
	Fixture *fx = *state;
	char *dir = xasprintf("%s/root/ro", fx->dir);

	if (geteuid() == 0) {
		/* root bypasses permission bits: conf_probe_fails_below_object covers the failure */
		free(dir);
		skip();
	}
	put_str(fx->storage, "ro/existing", "x");
	assert_int_equal(chmod(dir, 0500), 0);
	assert_true(storage_probe(fx->storage, "ro") < 0);
	assert_int_equal(err_code(), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "is not writable"));
	assert_int_equal(chmod(dir, 0700), 0);
	free(dir);
}

static void
posix_abandoned_leaves_no_file(void **state)
{
	Fixture *fx = *state;
	char *dir = xasprintf("%s/root/w", fx->dir);
	IoWriter *w = NULL;
	int entries = 0;

	assert_int_equal(storage_write_open(fx->storage, &w, "w/obj", NULL), 0);
	assert_int_equal(io_writer_write(w, "abc", 3), 0);
	io_writer_free(w);
	/* read the directory itself, not through the driver */
	FILE *p;
	char *cmd = xasprintf("ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &entries), 1);
	pclose(p);
	assert_int_equal(entries, 0);
	free(cmd);
	free(dir);
}

/* A bundle that cannot be written fails the close that needed it, every close
 * after it and storage_bundle_end, with the first error; large objects are not
 * affected, and nothing half-written shows. */
static void
posix_bundle_write_fails(void **state)
{
	Fixture *fx = *state;
	Storage *s = fx->storage;
	StorageWriteOpts ns = {.no_sync = true};
	IoWriter *w = NULL;
	uint8_t big[3000];
	char first[512];

	memset(big, 'b', sizeof(big));
	put_str(s, "set/bundles", "a file where the bundles' directory would be");
	assert_int_equal(storage_bundle_begin(s, "set", 1000, 5000), 0);

	assert_int_equal(storage_write_open(s, &w, "set/data/a", &ns), 0);
	assert_int_equal(io_writer_write(w, "small", 5), 0);
	err_clear();
	assert_true(io_writer_close(w) < 0);
	assert_non_null(strstr(err_message(), "set/bundles/000001"));
	snprintf(first, sizeof(first), "%s", err_message());
	io_writer_free(w);

	/* an object past the limit is its own, and fine */
	w = NULL;
	assert_int_equal(storage_write_open(s, &w, "set/data/big", &ns), 0);
	assert_int_equal(io_writer_write(w, big, sizeof(big)), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_content(s, "set/data/big", big, sizeof(big));

	/* the next small one fails with the first error */
	w = NULL;
	assert_int_equal(storage_write_open(s, &w, "set/data/b", &ns), 0);
	assert_int_equal(io_writer_write(w, "small", 5), 0);
	err_clear();
	assert_true(io_writer_close(w) < 0);
	assert_string_equal(err_message(), first);
	io_writer_free(w);

	err_clear();
	assert_true(storage_bundle_end(s) < 0);
	assert_string_equal(err_message(), first);
	assert_list(s, "set/data", "big");
	/* bundling is off again */
	put_str(s, "set/data/c", "c");
	assert_content(s, "set/data/c", "c", 1);
}

/*
 * Encryption before bundling: each bundled object is a whole encrypted
 * object in its bundle, read back through an alias given the content's
 * length; nothing of the content is stored in the clear; without the key a
 * read fails naming the key, and a plain storage sees only ciphertext.
 */
static void
posix_encrypted_bundles(void **state)
{
	Fixture *fx = *state;
	Storage *s = fx->storage, *rd = NULL, *plain = NULL;
	StorageWriteOpts ns = {.no_sync = true};
	IoKeyring *kr = io_keyring_new(), *rkr = io_keyring_new();
	IoKek k = {.kind = IO_KEK_KEY_FILE};
	const char *names[] = {"set/data/a", "set/data/b", "set/data/big", "set/data/c"};
	const size_t lens[] = {5, 700, 200000, 0};
	uint32_t bundle[4];
	uint64_t offset[4];
	bool bundled[4];
	uint8_t *content = xmalloc(200000);
	IoReader *r = NULL;
	uint8_t head[4];
	char *uri;

	for (size_t byte_idx = 0; byte_idx < 200000; byte_idx++)
		content[byte_idx] = (uint8_t)("SECRET-MARKER-"[byte_idx % 14]);
	memset(k.key, 0x42, sizeof(k.key));
	io_kek_fingerprint(k.fingerprint, k.key);
	io_keyring_set_current(kr, &k);
	storage_cipher_set(s, kr, NULL);
	assert_int_equal(storage_bundle_begin(s, "set", 1000, 5000), 0);
	for (size_t obj_idx = 0; obj_idx < 4; obj_idx++) {
		IoWriter *w = NULL;

		assert_int_equal(storage_write_open(s, &w, names[obj_idx], &ns), 0);
		assert_int_equal(io_writer_write(w, content, lens[obj_idx]), 0);
		assert_int_equal(io_writer_close(w), 0);
		io_writer_free(w);
		bundled[obj_idx] = storage_bundle_take(s, names[obj_idx], &bundle[obj_idx], &offset[obj_idx]);
	}
	assert_int_equal(storage_bundle_end(s), 0);
	assert_true(bundled[0] && bundled[1] && !bundled[2] && bundled[3]);
	assert_int_equal(offset[1], io_cipher_sealed_size(lens[0]));

	/* another storage on the same root: without a keyring it sees ciphertext */
	uri = xasprintf("file://%s/root", fx->dir);
	assert_int_equal(storage_open(&plain, uri), 0);
	assert_int_equal(storage_read_open(plain, &r, "set/bundles/000001"), 0);
	{
		uint8_t buf[8192];
		ssize_t n = io_reader_read_full(r, buf, sizeof(buf));
		assert_true(n > 0);
		assert_true(io_cipher_header_is(buf, (size_t)n, NULL));
		assert_null(memmem(buf, (size_t)n, "SECRET-MARKER", 13));
	}
	io_reader_free(r);
	r = NULL;

	/* with the key, through aliases of the content's length */
	assert_int_equal(storage_open(&rd, uri), 0);
	io_keyring_add_kek(rkr, &k);
	storage_cipher_set(rd, rkr, NULL);
	for (size_t obj_idx = 0; obj_idx < 4; obj_idx++) {
		if (bundled[obj_idx]) {
			char *bp = storage_bundle_path("set", bundle[obj_idx]);
			assert_int_equal(storage_alias_add(rd, names[obj_idx], bp, offset[obj_idx], lens[obj_idx]), 0);
			free(bp);
		}
	}
	for (size_t obj_idx = 0; obj_idx < 4; obj_idx++)
		assert_content(rd, names[obj_idx], content, lens[obj_idx]);

	/* a reader without the key is told which key is needed */
	storage_cipher_set(plain, io_keyring_new(), NULL);
	assert_int_equal(storage_read_open(plain, &r, "set/data/big"), 0);
	assert_int_equal(io_reader_read(r, head, sizeof(head)), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), k.fingerprint));
	io_reader_free(r);

	storage_free(rd);
	storage_free(plain);
	free(uri);
	free(content);
}

/* A bundle abandoned leaves no temporary file behind. */
static void
posix_bundle_abandon_no_file(void **state)
{
	Fixture *fx = *state;
	Storage *s = fx->storage;
	char *cmd = xasprintf("ls -A '%s/root/set/bundles' | wc -l", fx->dir);
	uint32_t b;
	uint64_t o;
	int entries = -1;
	FILE *p;

	assert_int_equal(storage_bundle_begin(s, "set", 0, 0), 0);
	assert_true(put_bundled(s, "set/data/x", 100, 1, 100, &b, &o));
	storage_bundle_abandon(s);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &entries), 1);
	pclose(p);
	assert_int_equal(entries, 0);
	free(cmd);
	/* and a storage freed with bundling on abandons it the same way */
	assert_int_equal(storage_bundle_begin(s, "set2", 0, 0), 0);
	assert_true(put_bundled(s, "set2/data/x", 100, 1, 100, &b, &o));
}

/* A file that shrinks under a range reader: ERR_CORRUPT, never a short success. */
static void
posix_range_shrinks(void **state)
{
	Fixture *fx = *state;
	Storage *s = fx->storage;
	uint8_t *data = make_data(100000, 3);
	char *full = xasprintf("%s/root/r/obj", fx->dir);
	IoReader *r = NULL;
	char buf[1000];

	put(s, "r/obj", data, 100000);
	assert_int_equal(storage_read_open_range(s, &r, "r/obj", 1000, 90000), 0);
	assert_int_equal(io_reader_read(r, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_memory_equal(buf, data + 1000, sizeof(buf));
	assert_int_equal(truncate(full, 50000), 0);
	ssize_t n;
	while ((n = io_reader_read(r, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(n, ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "r/obj"));
	io_reader_free(r);
	free(full);
	free(data);
}

#define CONF(fn) cmocka_unit_test_setup_teardown(fn, posix_setup, posix_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORAGE_CONFORMANCE_TESTS(posix_setup, posix_teardown),
		CONF(conf_probe_fails_below_object),
		cmocka_unit_test(posix_open_rejects),
		CONF(posix_open_creates_root),
		CONF(posix_open_below_file_fails),
		CONF(posix_nothing_outside_root),
		CONF(posix_empty_path_not_an_object),
		CONF(posix_probe_read_only),
		CONF(posix_abandoned_leaves_no_file),
		CONF(posix_bundle_write_fails),
		CONF(posix_bundle_abandon_no_file),
		CONF(posix_range_shrinks),
		CONF(posix_encrypted_bundles),
	};

	return cmocka_run_group_tests_name("storage (posix)", tests, NULL, NULL);
}
