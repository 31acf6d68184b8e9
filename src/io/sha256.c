/*
 * sha256.c - SHA-256 through OpenSSL's EVP interface, and hex helpers.
 *
 * Invariant: an IoSha256 always holds an initialised digest context; an
 * OpenSSL failure here can only be out-of-memory or a broken library, so it
 * aborts rather than let a wrong checksum through.
 */
#include "io/io.h"

#include "common/buf.h"
#include "common/error.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct IoSha256 {
	EVP_MD_CTX *ctx;
};

IoSha256 *
io_sha256_new(void)
{
	IoSha256 *h = xmalloc(sizeof(*h));
	int ok;

	h->ctx = EVP_MD_CTX_new();
	ASSERT(h->ctx != NULL);
	ok = EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
	ASSERT(ok == 1);
	return h;
}

void
io_sha256_update(IoSha256 *h, const void *buf, size_t len)
{
	int ok = EVP_DigestUpdate(h->ctx, buf, len);

	ASSERT(ok == 1);
}

void
io_sha256_final(IoSha256 *h, uint8_t out[IO_SHA256_LEN])
{
	unsigned int len = 0;
	int ok = EVP_DigestFinal_ex(h->ctx, out, &len);

	ASSERT(ok == 1 && len == IO_SHA256_LEN);
}

void
io_sha256_copy(IoSha256 *dst, const IoSha256 *src)
{
	int ok = EVP_MD_CTX_copy_ex(dst->ctx, src->ctx);

	ASSERT(ok == 1);
}

void
io_sha256_free(IoSha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void
io_hex(char *out, const uint8_t *bytes, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t byte_idx = 0; byte_idx < len; byte_idx++) {
		out[2 * byte_idx] = digits[bytes[byte_idx] >> 4];
		out[2 * byte_idx + 1] = digits[bytes[byte_idx] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
hex_invalid(const char *hex, size_t len)
{
	err_set(ERR_INVALID, "invalid hex string \"%s\"", hex);
	err_detail("Expected exactly %zu hexadecimal digits.", 2 * len);
	return ERR_INVALID;
}

int
io_unhex(uint8_t *out, const char *hex, size_t len)
{
	if (strlen(hex) != 2 * len)
		return hex_invalid(hex, len);
	for (size_t byte_idx = 0; byte_idx < len; byte_idx++) {
		int hi = hex_digit(hex[2 * byte_idx]);
		int lo = hex_digit(hex[2 * byte_idx + 1]);

		if (hi < 0 || lo < 0)
			return hex_invalid(hex, len);
		out[byte_idx] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
