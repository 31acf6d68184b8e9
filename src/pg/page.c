/*
 * page.c - PostgreSQL data page header fields, checksum and verification.
 *
 * Invariant: the caller's page is only ever read, never written, not even
 * temporarily: the checksum treats pd_checksum as zero by masking it out of
 * the word that holds it.  Fields are decoded little-endian byte by byte
 * (pages come from x86_64 clusters), so any buffer alignment is fine.
 */
#include "pg/page.h"

#include <stddef.h>

/* PageHeaderData byte offsets. */
#define PD_LSN_OFF 0
#define PD_CHECKSUM_OFF 8
#define PD_FLAGS_OFF 10
#define PD_LOWER_OFF 12
#define PD_UPPER_OFF 14
#define PD_SPECIAL_OFF 16

/* PD_HAS_FREE_LINES | PD_PAGE_FULL | PD_ALL_VISIBLE */
#define PD_VALID_FLAG_BITS 0x0007u
#define PG_MAXALIGN 8u

/* checksum_impl.h: 32 interleaved FNV-1a-like sums over the page as uint32s. */
#define N_SUMS 32
#define FNV_PRIME 16777619u
#define PAGE_WORDS (PG_PAGE_SIZE / 4)
/* pd_checksum is the low half (little-endian) of the page's third word. */
#define CHECKSUM_WORD_IDX (PD_CHECKSUM_OFF / 4)
#define CHECKSUM_WORD_MASK 0xFFFF0000u

static const uint32_t checksum_base_offsets[N_SUMS] = {
	0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A,
	0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
	0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA,
	0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
	0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE,
	0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
	0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E,
	0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
};

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

uint64_t
pg_page_lsn(const uint8_t *page)
{
	uint64_t xlogid = get_u32(page + PD_LSN_OFF);
	uint64_t xrecoff = get_u32(page + PD_LSN_OFF + 4);

	return (xlogid << 32) | xrecoff;
}

uint16_t
pg_page_checksum_stored(const uint8_t *page)
{
	return get_u16(page + PD_CHECKSUM_OFF);
}

bool
pg_page_is_new(const uint8_t *page)
{
	for (size_t i = 0; i < PG_PAGE_SIZE; i++) {
		if (page[i] != 0)
			return false;
	}
	return true;
}

static uint32_t
checksum_mix(uint32_t sum, uint32_t value)
{
	uint32_t tmp = sum ^ value;

	return tmp * FNV_PRIME ^ (tmp >> 17);
}

/* Mix one row of N_SUMS words into the sums.  The row is loaded as
 * little-endian words first, so that the mixing loop has no branch and the
 * compiler can run the 32 sums in vector registers (as PostgreSQL's own
 * checksum.c is built to be). */
static void
checksum_row(uint32_t sums[N_SUMS], const uint32_t words[N_SUMS])
{
	for (size_t j = 0; j < N_SUMS; j++)
		sums[j] = checksum_mix(sums[j], words[j]);
}

static void
load_row(uint32_t words[N_SUMS], const uint8_t *row)
{
	for (size_t j = 0; j < N_SUMS; j++)
		words[j] = get_u32(row + j * 4);
}

/* pg_checksum_block(): the block-number-independent part. */
static uint32_t
checksum_block(const uint8_t *page)
{
	uint32_t sums[N_SUMS];
	uint32_t words[N_SUMS];
	uint32_t result = 0;

	for (size_t j = 0; j < N_SUMS; j++)
		sums[j] = checksum_base_offsets[j];
	/* pd_checksum lies in the first row: it is read as zero. */
	load_row(words, page);
	words[CHECKSUM_WORD_IDX] &= CHECKSUM_WORD_MASK;
	checksum_row(sums, words);
	for (size_t row = 1; row < PAGE_WORDS / N_SUMS; row++) {
		load_row(words, page + row * N_SUMS * 4);
		checksum_row(sums, words);
	}
	/* Two rounds of zeros so every input bit reaches every output bit. */
	for (int round = 0; round < 2; round++) {
		for (size_t j = 0; j < N_SUMS; j++)
			sums[j] = checksum_mix(sums[j], 0);
	}
	for (size_t j = 0; j < N_SUMS; j++)
		result ^= sums[j];
	return result;
}

uint16_t
pg_page_checksum(const uint8_t *page, uint32_t blkno)
{
	uint32_t checksum = checksum_block(page) ^ blkno;

	/* Never zero: 0 means "no checksum" to PostgreSQL. */
	return (uint16_t) ((checksum % 65535) + 1);
}

static bool
header_is_sane(const uint8_t *page)
{
	uint16_t flags = get_u16(page + PD_FLAGS_OFF);
	uint16_t lower = get_u16(page + PD_LOWER_OFF);
	uint16_t upper = get_u16(page + PD_UPPER_OFF);
	uint16_t special = get_u16(page + PD_SPECIAL_OFF);

	return (flags & ~PD_VALID_FLAG_BITS) == 0 &&
		lower <= upper && upper <= special && special <= PG_PAGE_SIZE &&
		special % PG_MAXALIGN == 0;
}

/*
 * As PageIsVerifiedExtended(): PostgreSQL calls a page with pd_upper == 0
 * "new", and a new page is valid only when it is all zeros.
 */
bool
pg_page_verify(const uint8_t *page, uint32_t blkno)
{
	if (get_u16(page + PD_UPPER_OFF) == 0)
		return pg_page_is_new(page);
	return header_is_sane(page) &&
		pg_page_checksum_stored(page) == pg_page_checksum(page, blkno);
}
