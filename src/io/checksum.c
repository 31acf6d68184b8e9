/*
 * checksum.c - the two kinds of content checksum behind one interface (io.h):
 * SHA-256 (sha256.c) and CRC-32C (common/crc32c.c, the crc32 instruction of
 * SSE 4.2 where the CPU has it).
 *
 * Invariant: an IoHasher's bytes past its kind's length stay zero, so two
 * checksums compare with one memcmp.
 */
#include "io/io.h"

#include "common/buf.h"
#include "common/crc32c.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	const char *title;
	size_t len;
} kinds[] = {
	[IO_CHECKSUM_SHA256] = {"sha256", "SHA-256", IO_SHA256_LEN},
	[IO_CHECKSUM_CRC32C] = {"crc32c", "CRC-32C", 4},
};

const char *
io_checksum_name(IoChecksumKind k)
{
	return kinds[k].name;
}

const char *
io_checksum_title(IoChecksumKind k)
{
	return kinds[k].title;
}

size_t
io_checksum_len(IoChecksumKind k)
{
	return kinds[k].len;
}

int
io_checksum_parse(IoChecksumKind *out, const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(name, kinds[i].name) == 0) {
			*out = (IoChecksumKind)i;
			return 0;
		}
	err_set(ERR_INVALID, "unknown checksum \"%s\"", name);
	err_hint("Use crc32c or sha256.");
	return ERR_INVALID;
}

bool
io_checksum_equal(const IoChecksum *a, const IoChecksum *b)
{
	return a->kind == b->kind && memcmp(a->bytes, b->bytes, IO_CHECKSUM_MAX_LEN) == 0;
}

void
io_checksum_hex(char *out, const IoChecksum *c)
{
	io_hex(out, c->bytes, io_checksum_len(c->kind));
}

int
io_checksum_unhex(IoChecksum *out, IoChecksumKind k, const char *hex)
{
	memset(out, 0, sizeof(*out));
	out->kind = k;
	return io_unhex(out->bytes, hex, io_checksum_len(k));
}

struct IoHasher {
	IoChecksumKind kind;
	uint32_t crc;
	IoSha256 *sha;
};

IoHasher *
io_hasher_new(IoChecksumKind k)
{
	IoHasher *h = xcalloc(1, sizeof(*h));

	h->kind = k;
	h->crc = PG_CRC32C_INIT;
	if (k == IO_CHECKSUM_SHA256)
		h->sha = io_sha256_new();
	return h;
}

void
io_hasher_update(IoHasher *h, const void *buf, size_t len)
{
	if (h->sha != NULL)
		io_sha256_update(h->sha, buf, len);
	else if (len > 0)
		h->crc = pg_crc32c_update(h->crc, buf, len);
}

void
io_hasher_final(IoHasher *h, IoChecksum *out)
{
	uint32_t crc = pg_crc32c_final(h->crc);

	memset(out, 0, sizeof(*out));
	out->kind = h->kind;
	if (h->sha != NULL) {
		io_sha256_final(h->sha, out->bytes);
		return;
	}
	out->bytes[0] = (uint8_t)(crc >> 24);
	out->bytes[1] = (uint8_t)(crc >> 16);
	out->bytes[2] = (uint8_t)(crc >> 8);
	out->bytes[3] = (uint8_t)crc;
}

void
io_hasher_free(IoHasher *h)
{
	if (h == NULL)
		return;
	io_sha256_free(h->sha);
	free(h);
}
