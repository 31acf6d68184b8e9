/*
 * page.h - PostgreSQL data page format: header fields and page checksums.
 *
 * Pure functions over 8 KiB pages (BLCKSZ of Debian's PostgreSQL 15), no I/O.
 * The checksum is PostgreSQL's own algorithm (checksum_impl.h: FNV-1a based,
 * 32 parallel sums, mixed with the block number), reimplemented here.
 */
#ifndef TENBACK_PG_PAGE_H
#define TENBACK_PG_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#define PG_PAGE_SIZE 8192
/* RELSEG_SIZE: blocks per relation segment file (1 GiB). */
#define PG_RELSEG_BLOCKS 131072u

/* pd_lsn of the page (xlogid << 32 | xrecoff). */
uint64_t pg_page_lsn(const uint8_t *page);
uint16_t pg_page_checksum_stored(const uint8_t *page);
/* True when the page is all zeros (a new, never-written page). */
bool pg_page_is_new(const uint8_t *page);
/* PostgreSQL's pg_checksum_page(): blkno is the block number in the whole
 * relation fork (segment number * PG_RELSEG_BLOCKS + block in segment). */
uint16_t pg_page_checksum(const uint8_t *page, uint32_t blkno);
/*
 * The check PostgreSQL's base backup makes: a new page passes; otherwise the
 * header must look sane (pd_lower/pd_upper/pd_special) and the stored
 * checksum must equal the computed one.
 */
bool pg_page_verify(const uint8_t *page, uint32_t blkno);

#endif
