/*
 * wal.h - WAL names and positions: LSNs, segment file names, the long page
 * header at the start of every segment.  Pure functions, no I/O.
 */
#ifndef TENBACK_PG_WAL_H
#define TENBACK_PG_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_WAL_SEG_SIZE_DEFAULT (16u * 1024 * 1024)
#define PG_WAL_NAME_LEN 24
#define PG_WAL_PAGE_SIZE 8192u /* XLOG_BLCKSZ */

/* "16/B374D848" -> LSN; ERR_INVALID on anything else. */
int pg_lsn_parse(uint64_t *out, const char *text);
/* out must hold 20 bytes. */
void pg_lsn_format(char *out, uint64_t lsn);

/* PostgreSQL's IsValidWalSegSize: a power of two from 1 MiB to 1 GiB.  The
 * seg_size arguments below must be valid (checked by ASSERT). */
bool pg_wal_seg_size_valid(uint32_t seg_size);

/* Segment number holding lsn. */
uint64_t pg_wal_segno(uint64_t lsn, uint32_t seg_size);
/* out must hold 25 bytes: "TTTTTTTTXXXXXXXXYYYYYYYY". */
void pg_wal_name(char *out, uint32_t timeline, uint64_t segno, uint32_t seg_size);
/* Parse a segment name (exactly 24 uppercase hex digits, the last 8 below
 * 0x100000000 / seg_size) -> timeline, segno; ERR_INVALID otherwise. */
int pg_wal_name_parse(uint32_t *out_timeline, uint64_t *out_segno, const char *name, uint32_t seg_size);

typedef enum PgWalFileKind {
	PG_WAL_FILE_SEGMENT,   /* 000000010000000000000001 */
	PG_WAL_FILE_PARTIAL,   /* 000000010000000000000001.partial */
	PG_WAL_FILE_BACKUP,    /* 000000010000000000000001.00000028.backup */
	PG_WAL_FILE_HISTORY,   /* 00000002.history */
	PG_WAL_FILE_UNKNOWN,
} PgWalFileKind;
/* What kind of file archive_command / restore_command names; for every kind
 * but UNKNOWN, *out_timeline (when out_timeline is not NULL) is set to the
 * first 8 hex digits.  Hex digits are uppercase, as PostgreSQL writes them. */
PgWalFileKind pg_wal_file_kind(const char *name, uint32_t *out_timeline);

/*
 * The long page header at offset 0 of a segment file (XLogLongPageHeaderData):
 * checks xlp_magic (0xD110 for PostgreSQL 15), XLP_LONG_HEADER and that
 * xlp_seg_size is a valid segment size; returns the system identifier,
 * segment size and the page address.  ERR_CORRUPT when the buffer (at least
 * 40 bytes) does not start with one.
 */
typedef struct PgWalLongHeader {
	uint16_t magic;
	uint32_t timeline;
	uint64_t pageaddr;
	uint64_t system_identifier;
	uint32_t seg_size;
	uint32_t xlog_blcksz;
} PgWalLongHeader;
int pg_wal_long_header_parse(PgWalLongHeader *out, const uint8_t *buf, size_t len);

#endif
