/*
 * ranges.h - sets of block numbers as sorted, disjoint, inclusive ranges,
 * written "0-4,7,9-12" in manifests.
 *
 * Invariant: ranges are sorted, non-empty, disjoint and not adjacent
 * (adding 5 to "0-4" gives "0-5").
 */
#ifndef TENBACK_BACKUP_RANGES_H
#define TENBACK_BACKUP_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BlockRange {
	uint32_t first;
	uint32_t last;
} BlockRange;

typedef struct BlockRanges {
	BlockRange *r;
	uint32_t n;          /* at most one per block number: fits */
	uint32_t cap;
} BlockRanges;

/* Append block b, which must be greater than every block already in. */
void ranges_append(BlockRanges *rs, uint32_t b);
/* Append the range [first, last] (first greater than every block in). */
void ranges_append_range(BlockRanges *rs, uint32_t first, uint32_t last);
bool ranges_contains(const BlockRanges *rs, uint32_t b);
uint64_t ranges_count(const BlockRanges *rs);
/* out = a minus b, limited to blocks below limit. */
void ranges_subtract(BlockRanges *out, const BlockRanges *a, const BlockRanges *b, uint32_t limit);
/* malloc'd "0-4,7"; "" when empty. */
char *ranges_format(const BlockRanges *rs);
/* ERR_CORRUPT on anything but sorted, disjoint ranges. */
int ranges_parse(BlockRanges *out, const char *text);
void ranges_free(BlockRanges *rs);

#endif
