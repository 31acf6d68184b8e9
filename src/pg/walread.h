/*
 * walread.h - iterate the records of archived PostgreSQL 15 WAL (x86_64,
 * 8 KiB WAL pages, any valid segment size) across pages and segments, and
 * decode the few records point-in-time restore needs.
 *
 * The reader checks what PostgreSQL's xlogreader checks: page headers (magic,
 * info bits, page address, segment size, system identifier, timeline order),
 * record headers (length, resource manager, xl_prev chain), continuation
 * pages, the record CRC-32C and the block headers.  A record that fails any
 * check is the end of the WAL, as it is for recovery: not an error.
 *
 * Memory: one segment buffer and one record buffer that grows to the largest
 * record that spans pages; nothing else per record.
 * Thread safety: a PgWalReader is used by one thread at a time.
 */
#ifndef TENBACK_PG_WALREAD_H
#define TENBACK_PG_WALREAD_H

#include <stdbool.h>
#include <stdint.h>

#define PG_WAL_MAX_BLOCK_REFS 33	/* block ids 0..32 (XLR_MAX_BLOCK_ID) */
#define PG_WAL_RESTORE_POINT_NAME_LEN 64	/* MAXFNAMELEN, with the NUL */

/* Resource managers (RmgrId) of PostgreSQL 15 that tenback looks at. */
#define PG_WAL_RM_XLOG 0
#define PG_WAL_RM_XACT 1

typedef struct PgWalReader PgWalReader;

typedef struct PgWalBlockRef {
	uint8_t block_id;
	uint32_t spc_oid, db_oid, rel_node;   /* RelFileNode */
	uint8_t fork;                          /* ForkNumber: 0 main, 1 fsm, 2 vm, 3 init */
	uint32_t blkno;
	bool has_image;                        /* BKPBLOCK_HAS_IMAGE */
	bool apply_image;                      /* BKPIMAGE_APPLY */
	bool will_init;                        /* BKPBLOCK_WILL_INIT */
} PgWalBlockRef;

typedef struct PgWalRecord {
	uint64_t lsn;            /* where the record starts */
	uint64_t end_lsn;        /* where the next record may start (after MAXALIGN) */
	uint32_t xid;
	uint8_t rmid;            /* resource manager id (0 XLOG, 1 Transaction, ...) */
	uint8_t info;            /* xl_info */
	uint32_t tot_len;
	const uint8_t *main_data;/* borrowed until the next call; NULL when main_data_len is 0 */
	uint32_t main_data_len;
	PgWalBlockRef blocks[PG_WAL_MAX_BLOCK_REFS];
	int n_blocks;            /* blocks[0..n_blocks), in block_id order */
} PgWalRecord;

/* Supplies whole segments: fill buf (seg_size bytes) with segment segno of timeline;
 * return 0, ERR_NOT_FOUND when the archive does not have it, or another error
 * (with the thread's error record set, see common/error.h). */
typedef int (*PgWalSegmentCb)(uint8_t *buf, uint32_t timeline, uint64_t segno, void *payload);

/* Supplies segments in pieces, as the reader reaches them: bytes [0, have) of
 * segment segno are in buf already (have 0: none); make at least [0, want) valid
 * (have < want <= seg_size, want a multiple of the WAL page size) and set
 * *out_have to how much of buf now is (want <= *out_have <= seg_size: a source
 * that has only whole segments fills all of buf).  Returns as PgWalSegmentCb.
 * After an XLOG_SWITCH record the rest of its segment is never asked for. */
typedef int (*PgWalRangeCb)(uint8_t *buf, uint32_t timeline, uint64_t segno, uint32_t have, uint32_t want,
                            uint32_t *out_have, void *payload);

/* Start at the first record that begins at or after start_lsn (the reader begins at
 * the start of start_lsn's segment, skips a continuation from the previous segment,
 * and skips records before start_lsn).  seg_size must be valid
 * (pg_wal_seg_size_valid, checked by ASSERT).  No segment is read before the
 * first pg_walreader_next().  Returns 0; *out is the caller's, to free with
 * pg_walreader_free(). */
int pg_walreader_new(PgWalReader **out, uint32_t seg_size, uint32_t timeline, uint64_t start_lsn,
                     PgWalSegmentCb cb, void *payload);
/* The same with a source of pieces (PgWalRangeCb): what a segment holds after
 * its last record, or after a switch, is not read. */
int pg_walreader_new_ranged(PgWalReader **out, uint32_t seg_size, uint32_t timeline, uint64_t start_lsn,
                            PgWalRangeCb cb, void *payload);
/* 1: *out holds the next record; 0: end of the WAL available (the next segment is
 * not in the archive, or the next record is invalid: zeroed tail, bad xl_prev, bad
 * CRC, page address mismatch — the normal end of WAL); <0: an error reading
 * (the callback's error).  pg_walreader_end_lsn() then tells where valid WAL ends,
 * and pg_walreader_end_reason() a short text ("segment 0000000100000000000000A3 is
 * not in the archive", "invalid record at 0/A3000F28: ...") for messages.
 *
 * After 0, every later call returns 0 again.  After an error the reader is
 * unchanged (the record being read is read again from its start), so the
 * call may be repeated, for example after a transient error; the error
 * message is prefixed with the segment's name. */
int pg_walreader_next(PgWalReader *r, PgWalRecord *out);
/* The end of the last valid record read (its end_lsn), or, before any, where
 * reading began (a segment start, or after the skipped continuation).  Once
 * pg_walreader_next() has returned 0, the end of the valid WAL: the record
 * that would start there (after a page header when it is a page boundary) is
 * missing or invalid. */
uint64_t pg_walreader_end_lsn(const PgWalReader *r);
/* After pg_walreader_next() returned 0 at the end of the WAL written so far
 * (read while the server writes on): forget that end and read on from
 * pg_walreader_end_lsn(), the segment it is in read again (with a source of
 * pieces, from the page that end is on). */
void pg_walreader_resume(PgWalReader *r);
/* Borrowed until pg_walreader_free(); "" until pg_walreader_next() returned 0. */
const char *pg_walreader_end_reason(const PgWalReader *r);
/* Accepts NULL. */
void pg_walreader_free(PgWalReader *r);

/* Decoders for the records point-in-time restore needs: */
/* Transaction commit/abort (RM_XACT_ID = 1; info & 0x70: COMMIT 0x00, COMMIT_PREPARED 0x30,
 * ABORT 0x20, ABORT_PREPARED 0x40): *out_time is xact_time as Unix microseconds (PostgreSQL
 * TimestampTz is microseconds since 2000-01-01 UTC), *out_commit true for commits.
 * For COMMIT_PREPARED/ABORT_PREPARED, *out_xid is the prepared transaction's xid from the
 * record's xl_xact_twophase part when present, else the record's xid.
 * False (outputs untouched) for any other record or a main data too short
 * for what its flags announce. */
bool pg_wal_record_xact(const PgWalRecord *r, int64_t *out_time, bool *out_commit, uint32_t *out_xid);
/* XLOG_RESTORE_POINT (rmid 0, info 0x70): name (NUL-terminated, at most 63 bytes + NUL) and time. */
bool pg_wal_record_restore_point(const PgWalRecord *r, char name[64], int64_t *out_time);
/* XLOG_SWITCH (rmid 0, info 0x40): the rest of the segment is unused. */
bool pg_wal_record_is_switch(const PgWalRecord *r);

#endif
