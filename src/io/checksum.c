/*
 * checksum.c - CRC-32C, and the two kinds of content checksum behind one
 * interface (io.h).
 *
 * CRC-32C is the reflected polynomial 0x82F63B78, started at ~0 and
 * finished with ~0 (io_crc32c(0, "123456789", 9) == 0xe3069283).  On x86-64
 * with SSE4.2 it runs on the crc32 instruction, 8 bytes at a time; elsewhere
 * on tables, 8 bytes at a time too.  The tables are built once, on first use.
 *
 * Invariant: an IoHasher's bytes past its kind's length stay zero, so two
 * checksums compare with one memcmp.
 */
#include "io/io.h"

#include "common/buf.h"
#include "common/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define HAVE_CRC32C_SSE42 1
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void
crc_table_build(void)
{
	for (uint32_t byte = 0; byte < 256; byte++) {
		uint32_t crc = byte;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 1) ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
		crc_table[0][byte] = crc;
	}
	for (uint32_t byte = 0; byte < 256; byte++)
		for (int slice = 1; slice < 8; slice++)
			crc_table[slice][byte] =
				(crc_table[slice - 1][byte] >> 8) ^ crc_table[0][crc_table[slice - 1][byte] & 0xff];
}

uint32_t
io_crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_table_once, crc_table_build);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
		      crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
		      crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#ifdef HAVE_CRC32C_SSE42
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t crc64;

	crc = ~crc;
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = _mm_crc32_u8(crc, *p++);
		len--;
	}
	crc64 = crc;
	while (len >= 8) {
		uint64_t word;

		memcpy(&word, p, sizeof(word));
		crc64 = _mm_crc32_u64(crc64, word);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)crc64;
	while (len-- > 0)
		crc = _mm_crc32_u8(crc, *p++);
	return ~crc;
}
#endif

uint32_t
io_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_CRC32C_SSE42
	static int have_sse42 = -1;

	if (have_sse42 < 0)
		have_sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0; /* idempotent: a race writes the same */
	if (have_sse42)
		return crc32c_sse42(crc, buf, len);
#endif
	return io_crc32c_portable(crc, buf, len);
}

/* ---- checksums of either kind ---- */

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
		h->crc = io_crc32c(h->crc, buf, len);
}

void
io_hasher_final(IoHasher *h, IoChecksum *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = h->kind;
	if (h->sha != NULL) {
		io_sha256_final(h->sha, out->bytes);
		return;
	}
	out->bytes[0] = (uint8_t)(h->crc >> 24);
	out->bytes[1] = (uint8_t)(h->crc >> 16);
	out->bytes[2] = (uint8_t)(h->crc >> 8);
	out->bytes[3] = (uint8_t)h->crc;
}

void
io_hasher_free(IoHasher *h)
{
	if (h == NULL)
		return;
	io_sha256_free(h->sha);
	free(h);
}
