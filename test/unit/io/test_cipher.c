/*
 * test_cipher.c - unit tests for src/io/cipher.c: encryption at rest.
 *
 * Invariants under test: what is encrypted reads back the same, whatever the
 * sizes written and read; a changed byte (header, content, tag), a cut
 * (inside a chunk or at a chunk boundary), or another name fails with
 * ERR_CORRUPT before any byte of the damaged chunk is returned; a key that
 * is not at hand is ERR_PERMISSION naming its fingerprint; a wrong
 * passphrase says so; unencrypted objects pass through unchanged; key files
 * open to group or others, or of another size, are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "io/cipher.h"
#include "io/io.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK IO_CIPHER_CHUNK_BYTES
#define SEALED (CHUNK + IO_CIPHER_TAG_BYTES)

static const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static void
fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t byte_idx = 0; byte_idx < len; byte_idx++) {
		seed = seed * 1103515245u + 12345u;
		buf[byte_idx] = (uint8_t)(seed >> 16);
	}
}

static IoKek
test_kek(uint8_t seed)
{
	IoKek k = {0};

	k.kind = IO_KEK_KEY_FILE;
	memset(k.key, seed, IO_KEY_BYTES);
	io_kek_fingerprint(k.fingerprint, k.key);
	return k;
}

/* Encrypt len bytes of src as name, written in pieces of piece bytes. */
static uint8_t *
encrypt(IoKeyring *kr, const char *name, const uint8_t *src, size_t len, size_t piece, size_t *out_len)
{
	IoWriter *mem = io_mem_writer_new();
	IoWriter *w = NULL;
	const uint8_t *data;
	uint8_t *copy;

	assert_int_equal(io_encrypt_writer_new(&w, mem, kr, name), 0);
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(io_writer_write(w, src + off, len - off < piece ? len - off : piece), 0);
	assert_int_equal(io_writer_close(w), 0);
	data = io_mem_writer_data(mem, out_len);
	copy = xmalloc(*out_len + 1);
	memcpy(copy, data, *out_len);
	io_writer_free(w);
	return copy;
}

/* Decrypt enc as name into a Buf, reading cap bytes at a time; the last read's code. */
static int
decrypt(IoKeyring *kr, const char *name, const uint8_t *enc, size_t len, size_t cap, Buf *out)
{
	IoReader *r = NULL;
	uint8_t *buf = xmalloc(cap);
	ssize_t n;

	assert_int_equal(io_decrypt_reader_new(&r, io_mem_reader_new(enc, len), kr, name), 0);
	while ((n = io_reader_read(r, buf, cap)) > 0)
		buf_append(out, buf, (size_t)n);
	io_reader_free(r);
	free(buf);
	return (int)n;
}

static void
test_round_trip(void **state)
{
	IoKek k = test_kek(7);
	IoKeyring *kr = io_keyring_new();
	(void)state;

	io_keyring_set_current(kr, &k);
	for (size_t size_idx = 0; size_idx < N_SIZES; size_idx++) {
		size_t len = sizes[size_idx], enc_len;
		uint8_t *src = xmalloc(len + 1);
		uint8_t *enc;
		Buf out = BUF_INIT;

		fill(src, len, (uint32_t)size_idx + 1);
		enc = encrypt(kr, "data/base/1/1259", src, len, 1000, &enc_len);
		/* header, then full chunks, then the last one (possibly empty) */
		assert_int_equal(enc_len, IO_CIPHER_HEADER_BYTES + len + IO_CIPHER_TAG_BYTES * (len / CHUNK + 1) -
		                          (len && len % CHUNK == 0 ? IO_CIPHER_TAG_BYTES : 0));
		assert_true(io_cipher_header_is(enc, enc_len, NULL));
		if (len >= 64)
			assert_null(memmem(enc, enc_len, src, 64));
		assert_int_equal(decrypt(kr, "data/base/1/1259", enc, enc_len, 777, &out), 0);
		assert_int_equal(out.len, len);
		assert_true(len == 0 || memcmp(out.data, src, len) == 0);
		buf_free(&out);
		free(enc);
		free(src);
	}
	io_keyring_free(kr);
}

/* Two objects of a keyring share its data key, never their object key. */
static void
test_same_content_differs(void **state)
{
	IoKek k = test_kek(9);
	IoKeyring *kr = io_keyring_new();
	uint8_t src[4096];
	uint8_t *a, *b;
	size_t a_len, b_len;
	(void)state;

	fill(src, sizeof(src), 3);
	io_keyring_set_current(kr, &k);
	a = encrypt(kr, "x", src, sizeof(src), sizeof(src), &a_len);
	b = encrypt(kr, "x", src, sizeof(src), sizeof(src), &b_len);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, 96);   /* same wrapped data key */
	assert_memory_not_equal(a + IO_CIPHER_HEADER_BYTES, b + IO_CIPHER_HEADER_BYTES, 64);
	free(a);
	free(b);
	io_keyring_free(kr);
}

static void
test_tamper_and_truncation(void **state)
{
	IoKek k = test_kek(1);
	IoKeyring *kr = io_keyring_new();
	size_t len = 2 * CHUNK + 100, enc_len;
	uint8_t *src = xmalloc(len);
	uint8_t *enc;
	/* bytes to flip: magic excluded (that reads as plain), header fields, content, tags */
	const size_t flips[] = {5, 30, 40, 60, 100, 113, IO_CIPHER_HEADER_BYTES, IO_CIPHER_HEADER_BYTES + SEALED - 1,
	                        IO_CIPHER_HEADER_BYTES + SEALED + 5, 0 /* last byte, below */};
	(void)state;

	fill(src, len, 5);
	io_keyring_set_current(kr, &k);
	enc = encrypt(kr, "data/x", src, len, 4096, &enc_len);
	for (size_t flip_idx = 0; flip_idx < sizeof(flips) / sizeof(flips[0]); flip_idx++) {
		size_t at = flips[flip_idx] ? flips[flip_idx] : enc_len - 1;
		Buf out = BUF_INIT;
		int rc;

		enc[at] ^= 0x10;
		rc = decrypt(kr, "data/x", enc, enc_len, 65536, &out);
		assert_true(rc == ERR_CORRUPT || rc == ERR_PERMISSION);
		/* nothing of a chunk that failed is returned: at most the chunks before it */
		assert_true(out.len % CHUNK == 0 && out.len <= (at > IO_CIPHER_HEADER_BYTES ?
		                                                (at - IO_CIPHER_HEADER_BYTES) / SEALED * CHUNK : 0));
		enc[at] ^= 0x10;
		buf_free(&out);
	}
	/* cut at a chunk boundary: the chunk before was not sealed as the last */
	{
		Buf out = BUF_INIT;
		assert_int_equal(decrypt(kr, "data/x", enc, IO_CIPHER_HEADER_BYTES + 2 * SEALED, 4096, &out), ERR_CORRUPT);
		assert_non_null(strstr(err_message(), "does not authenticate"));
		buf_free(&out);
	}
	/* cut inside a chunk, inside a tag, inside the header, to nothing after the header */
	{
		const size_t cuts[] = {enc_len - 1, enc_len - 20, IO_CIPHER_HEADER_BYTES + 10, 50, IO_CIPHER_HEADER_BYTES};
		for (size_t cut_idx = 0; cut_idx < sizeof(cuts) / sizeof(cuts[0]); cut_idx++) {
			Buf out = BUF_INIT;
			assert_int_equal(decrypt(kr, "data/x", enc, cuts[cut_idx], 4096, &out), ERR_CORRUPT);
			assert_non_null(strstr(err_message(), "\"data/x\""));
			buf_free(&out);
		}
	}
	/* another name: the object was moved or swapped */
	{
		Buf out = BUF_INIT;
		assert_int_equal(decrypt(kr, "data/y", enc, enc_len, 4096, &out), ERR_CORRUPT);
		assert_int_equal(out.len, 0);
		buf_free(&out);
	}
	/* two chunks swapped */
	{
		uint8_t *swapped = xmalloc(enc_len);
		Buf out = BUF_INIT;

		memcpy(swapped, enc, enc_len);
		memcpy(swapped + IO_CIPHER_HEADER_BYTES, enc + IO_CIPHER_HEADER_BYTES + SEALED, SEALED);
		memcpy(swapped + IO_CIPHER_HEADER_BYTES + SEALED, enc + IO_CIPHER_HEADER_BYTES, SEALED);
		assert_int_equal(decrypt(kr, "data/x", swapped, enc_len, 4096, &out), ERR_CORRUPT);
		assert_int_equal(out.len, 0);
		buf_free(&out);
		free(swapped);
	}
	free(enc);
	free(src);
	io_keyring_free(kr);
}

static void
test_wrong_key(void **state)
{
	IoKek a = test_kek(1), b = test_kek(2);
	IoKeyring *wr = io_keyring_new(), *rd = io_keyring_new(), *none = io_keyring_new();
	uint8_t src[100];
	uint8_t *enc;
	size_t enc_len;
	Buf out = BUF_INIT;
	char fp[IO_FINGERPRINT_CHARS + 1];
	(void)state;

	fill(src, sizeof(src), 1);
	io_keyring_set_current(wr, &a);
	io_keyring_add_kek(rd, &b);
	enc = encrypt(wr, "manifest", src, sizeof(src), 10, &enc_len);
	assert_true(io_cipher_header_is(enc, enc_len, fp));
	assert_string_equal(fp, a.fingerprint);
	assert_int_equal(decrypt(rd, "manifest", enc, enc_len, 4096, &out), ERR_PERMISSION);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(err_message(), a.fingerprint));
	assert_non_null(strstr(err_detail_text(), b.fingerprint));
	assert_int_equal(decrypt(none, "manifest", enc, enc_len, 4096, &out), ERR_PERMISSION);
	assert_non_null(strstr(err_detail_text(), "none"));
	/* with the old key added, it reads: rotation keeps old objects readable */
	io_keyring_add_kek(rd, &a);
	assert_int_equal(decrypt(rd, "manifest", enc, enc_len, 4096, &out), 0);
	assert_int_equal(out.len, sizeof(src));
	/* a container reader without the keyring says the object is encrypted */
	{
		IoReader *r = NULL;
		assert_int_equal(io_container_reader_new(&r, io_mem_reader_new(enc, enc_len)), ERR_PERMISSION);
		assert_non_null(strstr(err_message(), "encrypted"));
	}
	buf_free(&out);
	free(enc);
	io_keyring_free(wr);
	io_keyring_free(rd);
	io_keyring_free(none);
}

static void
test_passphrase(void **state)
{
	IoKdfParams p = {.log2_n = 10, .r = 8, .p = 1};
	IoKek k, again;
	IoKeyring *wr = io_keyring_new(), *rd = io_keyring_new(), *bad = io_keyring_new();
	uint8_t src[70000];
	uint8_t *enc;
	size_t enc_len;
	Buf out = BUF_INIT;
	(void)state;

	memset(p.salt, 0xab, sizeof(p.salt));
	fill(src, sizeof(src), 11);
	assert_int_equal(io_kek_from_passphrase(&k, "correct horse", 13, &p), 0);
	assert_int_equal(io_kek_from_passphrase(&again, "correct horse", 13, &p), 0);
	assert_string_equal(k.fingerprint, again.fingerprint);
	assert_int_equal(io_kek_from_passphrase(&again, "", 0, &p), ERR_INVALID);
	/* a forged header cannot make a reader allocate gigabytes */
	{
		IoKdfParams big = p;
		big.log2_n = 20;
		big.r = 32;
		assert_int_equal(io_kek_from_passphrase(&again, "x", 1, &big), ERR_CORRUPT);
		assert_non_null(strstr(err_message(), "invalid scrypt parameters"));
	}
	io_keyring_set_current(wr, &k);
	enc = encrypt(wr, "wal/000000010000000000000003", src, sizeof(src), 5000, &enc_len);
	/* a passphrase alone reads it: the salt and parameters travel in the header */
	io_keyring_add_passphrase(rd, "correct horse", 13);
	assert_int_equal(decrypt(rd, "wal/000000010000000000000003", enc, enc_len, 4096, &out), 0);
	assert_int_equal(out.len, sizeof(src));
	assert_memory_equal(out.data, src, sizeof(src));
	io_keyring_add_passphrase(bad, "wrong horse", 11);
	assert_int_equal(decrypt(bad, "wal/000000010000000000000003", enc, enc_len, 4096, &out), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "wrong passphrase"));
	buf_free(&out);
	free(enc);
	io_kek_wipe(&k);
	io_kek_wipe(&again);
	io_keyring_free(wr);
	io_keyring_free(rd);
	io_keyring_free(bad);
}

static void
test_plain_passes_through(void **state)
{
	IoKeyring *kr = io_keyring_new();
	const char *texts[] = {"", "TB", "TBK1 a container", "{\"format\": 1}"};
	(void)state;

	for (size_t text_idx = 0; text_idx < 4; text_idx++) {
		Buf out = BUF_INIT;
		assert_int_equal(decrypt(kr, "x", (const uint8_t *)texts[text_idx], strlen(texts[text_idx]), 1, &out), 0);
		assert_int_equal(out.len, strlen(texts[text_idx]));
		assert_true(out.len == 0 || memcmp(out.data, texts[text_idx], out.len) == 0);
		buf_free(&out);
	}
	io_keyring_free(kr);
}

static void
test_key_file(void **state)
{
	char path[] = "/tmp/tenback-test-key-XXXXXX";
	uint8_t bytes[33];
	IoKek k;
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	fill(bytes, sizeof(bytes), 2);
	assert_int_equal(write(fd, bytes, 32), 32);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(io_kek_from_key_file(&k, path), 0);
	assert_memory_equal(k.key, bytes, 32);
	assert_int_equal(strlen(k.fingerprint), IO_FINGERPRINT_CHARS);
	assert_int_equal(fchmod(fd, 0640), 0);
	assert_int_equal(io_kek_from_key_file(&k, path), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "accessible by group or others"));
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(write(fd, bytes + 32, 1), 1);
	assert_int_equal(io_kek_from_key_file(&k, path), ERR_INVALID);
	assert_non_null(strstr(err_message(), "has 33 bytes, not 32"));
	assert_int_equal(io_kek_from_key_file(&k, "/nonexistent/key"), ERR_NOT_FOUND);
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_same_content_differs),
		cmocka_unit_test(test_tamper_and_truncation),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_passphrase),
		cmocka_unit_test(test_plain_passes_through),
		cmocka_unit_test(test_key_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
