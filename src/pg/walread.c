/*
 * walread.c - a forward-only reader of PostgreSQL 15 WAL records.
 *
 * Invariant: a record is handed out only after every check PostgreSQL's
 * xlogreader makes has passed (page headers of every page it touches, the
 * xl_prev chain, continuation lengths, CRC-32C, block headers); r->pos is
 * always the end of the last such record (or where reading began), so it is
 * where the valid WAL ends when the next record fails.  Offsets and flags are
 * PostgreSQL 15's (access/xlog_internal.h, access/xlogrecord.h, x86_64),
 * checked against pg_waldump by test_walread.
 *
 * Why-notes:
 * - A record's LSN is after the page header when it starts on a page
 *   boundary; the header of a record (24 bytes) may itself be split across
 *   pages, but its first 8 bytes never are (MAXALIGN 8).
 * - A record that fits in its page is handed out in place in the segment
 *   buffer; only records that span pages are copied into r->rec, which grows
 *   page by page as continuation pages check out, so a garbage xl_tot_len
 *   cannot make us allocate much.
 * - Only the record buffer holds the first part of a record spanning
 *   segments: the segment buffer is reused for the next segment.
 */
#include "pg/walread.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/crc32c.h"
#include "pg/wal.h"

#define WAL_BLCKSZ PG_WAL_PAGE_SIZE
#define MAXALIGN8(x) (((x) + UINT64_C(7)) & ~UINT64_C(7))

/* XLogPageHeaderData / XLogLongPageHeaderData. */
#define XLOG_PAGE_MAGIC 0xD110u
#define XLP_MAGIC_OFF 0
#define XLP_INFO_OFF 2
#define XLP_TLI_OFF 4
#define XLP_PAGEADDR_OFF 8
#define XLP_REM_LEN_OFF 16
#define XLP_SYSID_OFF 24
#define XLP_SEG_SIZE_OFF 32
#define XLP_XLOG_BLCKSZ_OFF 36
#define XLP_SHORT_HEADER_SIZE 24u
#define XLP_LONG_HEADER_SIZE 40u
#define XLP_FIRST_IS_CONTRECORD 0x0001u
#define XLP_LONG_HEADER 0x0002u
#define XLP_FIRST_IS_OVERWRITE_CONTRECORD 0x0008u
#define XLP_ALL_FLAGS 0x000Fu

/* XLogRecord. */
#define XL_TOT_LEN_OFF 0
#define XL_XID_OFF 4
#define XL_PREV_OFF 8
#define XL_INFO_OFF 16
#define XL_RMID_OFF 17
#define XL_CRC_OFF 20
#define XL_HEADER_SIZE 24u
/* The largest record PostgreSQL's reader accepts: its buffer, the length
 * rounded up to a page, must stay within MaxAllocSize (1 GiB - 1). */
#define XL_MAX_TOT_LEN 0x3FFFE000u
#define RM_MAX_BUILTIN_ID 21	/* RM_LOGICALMSG_ID in 15 */
#define RM_MIN_CUSTOM_ID 128

/* Block and data headers after the record header. */
#define XLR_MAX_BLOCK_ID 32
#define XLR_BLOCK_ID_DATA_SHORT 255
#define XLR_BLOCK_ID_DATA_LONG 254
#define XLR_BLOCK_ID_ORIGIN 253
#define XLR_BLOCK_ID_TOPLEVEL_XID 252
#define BKPBLOCK_FORK_MASK 0x0Fu
#define BKPBLOCK_HAS_IMAGE 0x10u
#define BKPBLOCK_HAS_DATA 0x20u
#define BKPBLOCK_WILL_INIT 0x40u
#define BKPBLOCK_SAME_REL 0x80u
#define BKPIMAGE_HAS_HOLE 0x01u
#define BKPIMAGE_APPLY 0x02u
#define BKPIMAGE_COMPRESSED_MASK 0x1Cu	/* PGLZ 0x04, LZ4 0x08, ZSTD 0x10 */

/* Records decoded here. */
#define XLR_INFO_MASK 0x0Fu
#define XLOG_SWITCH 0x40u
#define XLOG_RESTORE_POINT 0x70u
#define XLOG_XACT_OPMASK 0x70u
#define XLOG_XACT_COMMIT 0x00u
#define XLOG_XACT_ABORT 0x20u
#define XLOG_XACT_COMMIT_PREPARED 0x30u
#define XLOG_XACT_ABORT_PREPARED 0x40u
#define XLOG_XACT_HAS_INFO 0x80u
#define XACT_XINFO_HAS_DBINFO (1u << 0)
#define XACT_XINFO_HAS_SUBXACTS (1u << 1)
#define XACT_XINFO_HAS_RELFILENODES (1u << 2)
#define XACT_XINFO_HAS_INVALS (1u << 3)
#define XACT_XINFO_HAS_TWOPHASE (1u << 4)
#define XACT_XINFO_HAS_DROPPED_STATS (1u << 8)
#define XACT_DBINFO_SIZE 8u	/* xl_xact_dbinfo */
#define XACT_SUBXACT_SIZE 4u	/* TransactionId */
#define XACT_RELFILENODE_SIZE 12u	/* RelFileNode */
#define XACT_STATS_ITEM_SIZE 12u	/* xl_xact_stats_item: kind, dboid, objoid */
#define XACT_INVAL_MSG_SIZE 16u	/* SharedInvalidationMessage */
#define RESTORE_POINT_SIZE (8u + PG_WAL_RESTORE_POINT_NAME_LEN)	/* xl_restore_point */

/* Seconds from 1970-01-01 to 2000-01-01 (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE days). */
#define PG_EPOCH_UNIX_USEC (INT64_C(946684800) * 1000000)

#define REASON_LEN 256

struct PgWalReader {
	uint32_t seg_size;
	uint32_t timeline;
	PgWalSegmentCb cb;        /* whole segments, or */
	PgWalRangeCb range_cb;    /* pieces, as far as read */
	void *payload;
	uint64_t start_lsn;

	uint8_t *seg;          /* seg_size bytes: [0, seg_have) of segment seg_no */
	uint64_t seg_no;
	uint32_t seg_have;     /* 0: nothing loaded */
	uint8_t *rec;          /* a record that spans pages, assembled */
	size_t rec_cap;

	bool started;          /* the continuation at the first segment's start is skipped */
	uint64_t pos;          /* end of the last valid record: where the next may start */
	uint64_t prev_lsn;     /* start of the last valid record; 0 before the first */
	uint32_t max_page_tli; /* xlp_tli never goes down */
	uint64_t sysid;        /* of the first segment read; 0 before */
	bool ended;
	char reason[REASON_LEN];
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

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t) get_u32(p) | ((uint64_t) get_u32(p + 4) << 32);
}

/* Mark the end of the WAL; returns 0 for `return end_wal(...)`. */
static int end_wal(PgWalReader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
end_wal(PgWalReader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	r->ended = true;
	return 0;
}

/* "invalid record at <lsn>: <what>". */
static int invalid_record(PgWalReader *r, uint64_t lsn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
invalid_record(PgWalReader *r, uint64_t lsn, const char *fmt, ...)
{
	char at[20];
	char what[REASON_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pg_lsn_format(at, lsn);
	return end_wal(r, "invalid record at %s: %s", at, what);
}

/* A ranged source is asked for pieces of a sixteenth of a segment, at most 1 MiB. */
#define RANGE_READ_MAX (1024u * 1024)

/* 1: bytes [0, need) of segment segno are in r->seg; 0: it is not in the
 * archive (end); <0: error. */
static int
load_segment(PgWalReader *r, uint64_t segno, uint32_t need)
{
	char name[PG_WAL_NAME_LEN + 1];
	uint32_t have = 0;
	int rc;

	if (r->seg_have > 0 && r->seg_no == segno && r->seg_have >= need)
		return 1;
	if (r->seg_have == 0 || r->seg_no != segno) {
		r->seg_have = 0;
		r->seg_no = segno;
	}
	pg_wal_name(name, r->timeline, segno, r->seg_size);
	if (r->range_cb) {
		uint32_t piece = r->seg_size / 16 < RANGE_READ_MAX ? r->seg_size / 16 : RANGE_READ_MAX;
		uint32_t want = (need + piece - 1) / piece * piece;

		if (want > r->seg_size)
			want = r->seg_size;
		rc = r->range_cb(r->seg, r->timeline, segno, r->seg_have, want, &have, r->payload);
		if (rc == 0 && (have < want || have > r->seg_size))
			return err_set(ERR_INTERNAL, "WAL source gave %u bytes of segment %s, %u wanted", have, name, want);
	} else {
		rc = r->cb(r->seg, r->timeline, segno, r->payload);
		have = r->seg_size;
	}
	if (rc == ERR_NOT_FOUND) {
		r->seg_have = 0;
		return end_wal(r, "segment %s is not in the archive", name);
	}
	if (rc < 0) {
		r->seg_have = 0; /* what the buffer holds is not known */
		err_prefix("while reading WAL segment %s", name);
		return rc;
	}
	if (rc > 0)
		return err_set(ERR_INTERNAL, "WAL segment callback returned %d for segment %s", rc, name);
	r->seg_have = have;
	return 1;
}

static uint32_t
page_header_size(const uint8_t *page)
{
	return (get_u16(page + XLP_INFO_OFF) & XLP_LONG_HEADER) ? XLP_LONG_HEADER_SIZE : XLP_SHORT_HEADER_SIZE;
}

/* "invalid record at <lsn>: <what> in WAL segment <name>, offset <n>". */
static bool page_invalid(PgWalReader *r, uint64_t rec_lsn, uint64_t page_lsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool
page_invalid(PgWalReader *r, uint64_t rec_lsn, uint64_t page_lsn, const char *fmt, ...)
{
	char name[PG_WAL_NAME_LEN + 1];
	char what[REASON_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pg_wal_name(name, r->timeline, page_lsn / r->seg_size, r->seg_size);
	invalid_record(r, rec_lsn, "%s in WAL segment %s, offset %u", what, name,
		(unsigned) (page_lsn % r->seg_size));
	return false;
}

/* The checks of PostgreSQL's XLogReaderValidatePageHeader; false ends the WAL. */
static bool
page_valid(PgWalReader *r, uint64_t page_lsn, const uint8_t *page, uint64_t rec_lsn)
{
	uint16_t magic = get_u16(page + XLP_MAGIC_OFF);
	uint16_t info = get_u16(page + XLP_INFO_OFF);
	uint32_t tli = get_u32(page + XLP_TLI_OFF);
	uint64_t pageaddr = get_u64(page + XLP_PAGEADDR_OFF);
	char addr[20];

	if (magic != XLOG_PAGE_MAGIC)
		return page_invalid(r, rec_lsn, page_lsn, "invalid magic number %04X", magic);
	if ((info & ~XLP_ALL_FLAGS) != 0)
		return page_invalid(r, rec_lsn, page_lsn, "invalid info bits %04X", info);
	if (info & XLP_LONG_HEADER) {
		uint64_t sysid = get_u64(page + XLP_SYSID_OFF);
		uint32_t seg_size = get_u32(page + XLP_SEG_SIZE_OFF);
		uint32_t blcksz = get_u32(page + XLP_XLOG_BLCKSZ_OFF);

		if (r->sysid != 0 && sysid != r->sysid)
			return page_invalid(r, rec_lsn, page_lsn,
				"WAL of another database system (system identifier %llu, expected %llu)",
				(unsigned long long) sysid, (unsigned long long) r->sysid);
		if (seg_size != r->seg_size)
			return page_invalid(r, rec_lsn, page_lsn, "incorrect segment size %u in page header (expected %u)",
				seg_size, r->seg_size);
		if (blcksz != WAL_BLCKSZ)
			return page_invalid(r, rec_lsn, page_lsn, "incorrect page size %u in page header (expected %u)",
				blcksz, WAL_BLCKSZ);
		r->sysid = sysid;
	} else if (page_lsn % r->seg_size == 0) {
		return page_invalid(r, rec_lsn, page_lsn, "invalid info bits %04X (no long header)", info);
	}
	if (pageaddr != page_lsn) {
		pg_lsn_format(addr, pageaddr);
		return page_invalid(r, rec_lsn, page_lsn, "unexpected page address %s", addr);
	}
	if (tli < r->max_page_tli)
		return page_invalid(r, rec_lsn, page_lsn, "out-of-sequence timeline %u (after %u)",
			tli, r->max_page_tli);
	r->max_page_tli = tli;
	return true;
}

/* Load and check the page at page_lsn (a multiple of the page size) for the
 * record at rec_lsn: 1 and *out_page, 0 at the end of the WAL, <0 error. */
static int
get_page(PgWalReader *r, uint64_t page_lsn, uint64_t rec_lsn, const uint8_t **out_page)
{
	const uint8_t *page;
	int rc;

	if ((rc = load_segment(r, page_lsn / r->seg_size, (uint32_t)(page_lsn % r->seg_size) + WAL_BLCKSZ)) <= 0)
		return rc;
	page = r->seg + page_lsn % r->seg_size;
	if (!page_valid(r, page_lsn, page, rec_lsn))
		return 0;
	*out_page = page;
	return 1;
}

/*
 * Find where the first record of start_lsn's segment begins, as PostgreSQL's
 * XLogFindNextRecord: skip the tail of a record begun in an earlier segment,
 * which may cover whole pages and segments.
 */
static int
start_reading(PgWalReader *r)
{
	uint64_t page_lsn = r->start_lsn - r->start_lsn % r->seg_size;

	r->pos = page_lsn;
	for (;;) {
		const uint8_t *page;
		uint32_t hdr;
		uint32_t rem_len;
		int rc;

		if ((rc = get_page(r, page_lsn, page_lsn, &page)) <= 0)
			return rc;
		if ((get_u16(page + XLP_INFO_OFF) & XLP_FIRST_IS_CONTRECORD) == 0) {
			r->pos = page_lsn;
			return 1;
		}
		hdr = page_header_size(page);
		rem_len = get_u32(page + XLP_REM_LEN_OFF);
		if (MAXALIGN8((uint64_t) rem_len) < WAL_BLCKSZ - hdr) {
			r->pos = page_lsn + hdr + MAXALIGN8((uint64_t) rem_len);
			return 1;
		}
		page_lsn += WAL_BLCKSZ;
		r->pos = page_lsn;
	}
}

/* PostgreSQL's ValidXLogRecordHeader: resource manager and the xl_prev chain. */
static bool
record_header_valid(PgWalReader *r, uint64_t lsn, const uint8_t *hdr)
{
	uint8_t rmid = hdr[XL_RMID_OFF];
	uint64_t prev = get_u64(hdr + XL_PREV_OFF);
	char prev_text[20];

	if (rmid > RM_MAX_BUILTIN_ID && rmid < RM_MIN_CUSTOM_ID) {
		invalid_record(r, lsn, "invalid resource manager ID %u", rmid);
		return false;
	}
	/* The first record read has no known predecessor: it must only point back. */
	if (r->prev_lsn == 0 ? prev >= lsn : prev != r->prev_lsn) {
		pg_lsn_format(prev_text, prev);
		invalid_record(r, lsn, "incorrect prev-link %s", prev_text);
		return false;
	}
	return true;
}

static bool
record_crc_valid(PgWalReader *r, uint64_t lsn, const uint8_t *rec, uint32_t tot_len)
{
	uint32_t crc = PG_CRC32C_INIT;
	uint32_t stored = get_u32(rec + XL_CRC_OFF);

	crc = pg_crc32c_update(crc, rec + XL_HEADER_SIZE, tot_len - XL_HEADER_SIZE);
	crc = pg_crc32c_update(crc, rec, XL_CRC_OFF);
	crc = pg_crc32c_final(crc);
	if (crc == stored)
		return true;
	invalid_record(r, lsn, "incorrect checksum: stored %08X, computed %08X", stored, crc);
	return false;
}

/* Cursor over the block headers, as PostgreSQL's COPY_HEADER_FIELD. */
typedef struct HeaderCursor {
	const uint8_t *p;
	uint32_t remaining;
} HeaderCursor;

static bool
take(HeaderCursor *c, const uint8_t **out, uint32_t len)
{
	if (c->remaining < len)
		return false;
	*out = c->p;
	c->p += len;
	c->remaining -= len;
	return true;
}

/* PostgreSQL's DecodeXLogRecord, keeping only the block references and where
 * the main data is.  False (with the reason set) on an inconsistent record. */
static bool
decode_record(PgWalReader *r, uint64_t lsn, const uint8_t *rec, uint32_t tot_len, PgWalRecord *out)
{
	HeaderCursor c = {rec + XL_HEADER_SIZE, tot_len - XL_HEADER_SIZE};
	uint64_t datatotal = 0;
	uint32_t main_len = 0;
	int max_block_id = -1;
	bool have_rel = false;
	uint32_t spc = 0, db = 0, rel = 0;
	const uint8_t *f;

	out->n_blocks = 0;
	while (c.remaining > datatotal) {
		uint8_t block_id;

		if (!take(&c, &f, 1))
			goto short_data;
		block_id = f[0];
		if (block_id == XLR_BLOCK_ID_DATA_SHORT) {
			if (!take(&c, &f, 1))
				goto short_data;
			main_len = f[0];
			datatotal += main_len;
			break;	/* the main data header is always last */
		}
		if (block_id == XLR_BLOCK_ID_DATA_LONG) {
			if (!take(&c, &f, 4))
				goto short_data;
			main_len = get_u32(f);
			datatotal += main_len;
			break;
		}
		if (block_id == XLR_BLOCK_ID_ORIGIN) {
			if (!take(&c, &f, 2))	/* RepOriginId */
				goto short_data;
			continue;
		}
		if (block_id == XLR_BLOCK_ID_TOPLEVEL_XID) {
			if (!take(&c, &f, 4))
				goto short_data;
			continue;
		}
		if (block_id <= XLR_MAX_BLOCK_ID) {
			PgWalBlockRef *b = &out->blocks[out->n_blocks];
			uint8_t fork_flags;
			uint16_t data_len;

			if ((int) block_id <= max_block_id) {
				invalid_record(r, lsn, "out-of-order block_id %u", block_id);
				return false;
			}
			max_block_id = block_id;
			if (!take(&c, &f, 3))
				goto short_data;
			fork_flags = f[0];
			data_len = get_u16(f + 1);
			if ((fork_flags & BKPBLOCK_HAS_DATA) && data_len == 0) {
				invalid_record(r, lsn, "BKPBLOCK_HAS_DATA set, but no data included");
				return false;
			}
			if (!(fork_flags & BKPBLOCK_HAS_DATA) && data_len != 0) {
				invalid_record(r, lsn, "BKPBLOCK_HAS_DATA not set, but data length is %u", data_len);
				return false;
			}
			datatotal += data_len;
			memset(b, 0, sizeof(*b));
			b->block_id = block_id;
			b->fork = fork_flags & BKPBLOCK_FORK_MASK;
			b->has_image = (fork_flags & BKPBLOCK_HAS_IMAGE) != 0;
			b->will_init = (fork_flags & BKPBLOCK_WILL_INIT) != 0;
			if (b->has_image) {
				uint16_t bimg_len, hole_offset, hole_length;
				uint8_t bimg_info;
				bool compressed;

				if (!take(&c, &f, 5))
					goto short_data;
				bimg_len = get_u16(f);
				hole_offset = get_u16(f + 2);
				bimg_info = f[4];
				compressed = (bimg_info & BKPIMAGE_COMPRESSED_MASK) != 0;
				b->apply_image = (bimg_info & BKPIMAGE_APPLY) != 0;
				if (bimg_len > WAL_BLCKSZ) {
					invalid_record(r, lsn, "block image length %u is larger than a page", bimg_len);
					return false;
				}
				if (compressed && (bimg_info & BKPIMAGE_HAS_HOLE)) {
					if (!take(&c, &f, 2))
						goto short_data;
					hole_length = get_u16(f);
				} else if (compressed) {
					hole_length = 0;
				} else {
					hole_length = (uint16_t) (WAL_BLCKSZ - bimg_len);
				}
				if ((bimg_info & BKPIMAGE_HAS_HOLE) &&
					(hole_offset == 0 || hole_length == 0 || bimg_len == WAL_BLCKSZ)) {
					invalid_record(r, lsn, "BKPIMAGE_HAS_HOLE set, but hole offset %u length %u "
						"block image length %u", hole_offset, hole_length, bimg_len);
					return false;
				}
				if (!(bimg_info & BKPIMAGE_HAS_HOLE) && (hole_offset != 0 || hole_length != 0)) {
					invalid_record(r, lsn, "BKPIMAGE_HAS_HOLE not set, but hole offset %u length %u",
						hole_offset, hole_length);
					return false;
				}
				if (compressed && bimg_len == WAL_BLCKSZ) {
					invalid_record(r, lsn, "BKPIMAGE_COMPRESSED set, but block image length %u",
						bimg_len);
					return false;
				}
				datatotal += bimg_len;
			}
			if (!(fork_flags & BKPBLOCK_SAME_REL)) {
				if (!take(&c, &f, 12))
					goto short_data;
				spc = get_u32(f);
				db = get_u32(f + 4);
				rel = get_u32(f + 8);
				have_rel = true;
			} else if (!have_rel) {
				invalid_record(r, lsn, "BKPBLOCK_SAME_REL set but no previous rel");
				return false;
			}
			b->spc_oid = spc;
			b->db_oid = db;
			b->rel_node = rel;
			if (!take(&c, &f, 4))
				goto short_data;
			b->blkno = get_u32(f);
			out->n_blocks++;
			continue;
		}
		invalid_record(r, lsn, "invalid block_id %u", block_id);
		return false;
	}
	if (c.remaining != datatotal)
		goto short_data;

	/* The data follows the headers: block images and data, then the main data. */
	out->main_data_len = main_len;
	out->main_data = main_len > 0 ? rec + tot_len - main_len : NULL;
	return true;

short_data:
	invalid_record(r, lsn, "record with invalid length %u", tot_len);
	return false;
}

/* Make room for len bytes in r->rec, keeping its content; grows by doubling,
 * never beyond cap_limit (the record's length). */
static void
reserve_record(PgWalReader *r, size_t len, size_t cap_limit)
{
	size_t cap = r->rec_cap ? r->rec_cap : WAL_BLCKSZ;

	if (len <= r->rec_cap)
		return;
	while (cap < len)
		cap *= 2;
	if (cap > cap_limit)
		cap = cap_limit;
	r->rec = xrealloc(r->rec, cap);
	r->rec_cap = cap;
}

/* read_record_at(): the record was overwritten, read again at *pos. */
#define READ_RESTART 2

/*
 * Read the record at *pos: 1 and *out, 0 at the end of the WAL, <0 on a
 * callback error (r->pos and r->prev_lsn unchanged, so a retry starts over),
 * READ_RESTART with *pos moved past a record that was never completed.
 */
static int
read_record_at(PgWalReader *r, uint64_t *pos, PgWalRecord *out)
{
	uint32_t page_off = (uint32_t) (*pos % WAL_BLCKSZ);
	uint64_t page_lsn = *pos - page_off;
	uint64_t lsn = *pos;
	uint64_t end;
	const uint8_t *page;
	const uint8_t *rec;
	uint32_t hdr;
	uint32_t tot_len;
	bool header_checked = false;
	int rc;

	if ((rc = get_page(r, page_lsn, lsn, &page)) <= 0)
		return rc;
	hdr = page_header_size(page);
	if (page_off == 0) {
		lsn += hdr;
		page_off = hdr;
		if (get_u16(page + XLP_INFO_OFF) & XLP_FIRST_IS_CONTRECORD)
			return invalid_record(r, lsn, "a continuation record where a record should start");
	} else if (page_off < hdr) {
		return invalid_record(r, lsn, "record offset %u is inside the page header", page_off);
	}

	/* xl_tot_len and xl_xid are always on this page (MAXALIGN 8). */
	tot_len = get_u32(page + page_off + XL_TOT_LEN_OFF);
	if (tot_len < XL_HEADER_SIZE)
		return invalid_record(r, lsn, "invalid record length: expected at least %u, got %u",
			XL_HEADER_SIZE, tot_len);
	if (tot_len > XL_MAX_TOT_LEN)
		return invalid_record(r, lsn, "record length %u is too long", tot_len);
	if (WAL_BLCKSZ - page_off >= XL_HEADER_SIZE) {
		if (!record_header_valid(r, lsn, page + page_off))
			return 0;
		header_checked = true;
	}

	if (tot_len <= WAL_BLCKSZ - page_off) {
		rec = page + page_off;
		end = lsn + tot_len;
	} else {
		uint32_t got = WAL_BLCKSZ - page_off;

		reserve_record(r, got, tot_len);
		memcpy(r->rec, page + page_off, got);
		do {
			uint16_t info;
			uint32_t rem_len;
			uint32_t chunk;

			page_lsn += WAL_BLCKSZ;
			if ((rc = get_page(r, page_lsn, lsn, &page)) <= 0)
				return rc;
			info = get_u16(page + XLP_INFO_OFF);
			if (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) {
				/*
				 * This record was never completed: after a crash, PostgreSQL
				 * wrote an XLOG_OVERWRITE_CONTRECORD record here instead of
				 * the rest.  Drop it and go on there, as xlogreader does; the
				 * next record's xl_prev points to the last complete record.
				 */
				*pos = page_lsn;
				return READ_RESTART;
			}
			if (!(info & XLP_FIRST_IS_CONTRECORD)) {
				char at[20];

				pg_lsn_format(at, page_lsn);
				return invalid_record(r, lsn, "no continuation record flag on the page at %s", at);
			}
			rem_len = get_u32(page + XLP_REM_LEN_OFF);
			if (rem_len == 0 || rem_len != tot_len - got)
				return invalid_record(r, lsn, "invalid continuation record length %u (expected %u)",
					rem_len, tot_len - got);
			hdr = page_header_size(page);
			chunk = rem_len < WAL_BLCKSZ - hdr ? rem_len : WAL_BLCKSZ - hdr;
			reserve_record(r, (size_t) got + chunk, tot_len);
			memcpy(r->rec + got, page + hdr, chunk);
			got += chunk;
			end = page_lsn + hdr + chunk;
			if (!header_checked && got >= XL_HEADER_SIZE) {
				if (!record_header_valid(r, lsn, r->rec))
					return 0;
				header_checked = true;
			}
		} while (got < tot_len);
		rec = r->rec;
	}

	if (!record_crc_valid(r, lsn, rec, tot_len))
		return 0;
	if (!decode_record(r, lsn, rec, tot_len, out))
		return 0;
	out->lsn = lsn;
	out->xid = get_u32(rec + XL_XID_OFF);
	out->info = rec[XL_INFO_OFF];
	out->rmid = rec[XL_RMID_OFF];
	out->tot_len = tot_len;
	end = MAXALIGN8(end);
	if (pg_wal_record_is_switch(out))
		end = (end + r->seg_size - 1) / r->seg_size * r->seg_size;
	out->end_lsn = end;
	r->prev_lsn = lsn;
	r->pos = end;
	return 1;
}

static int
read_record(PgWalReader *r, PgWalRecord *out)
{
	uint64_t pos = r->pos;
	int rc;

	while ((rc = read_record_at(r, &pos, out)) == READ_RESTART)
		;
	return rc;
}

/*
 * The segment buffer, in transparent huge pages where the kernel gives them
 * on request: the first segment read into 16 MiB of 4 KiB pages takes 4,096
 * page faults (about 6 ms), in 2 MiB pages eight.
 */
#define HUGE_PAGE_BYTES (2u * 1024 * 1024)

static uint8_t *
seg_buffer_new(uint32_t seg_size)
{
	void *p = NULL;

	if (seg_size % HUGE_PAGE_BYTES != 0 || posix_memalign(&p, HUGE_PAGE_BYTES, seg_size) != 0)
		return xmalloc(seg_size);
	(void)madvise(p, seg_size, MADV_HUGEPAGE); /* a hint: without it, small pages */
	return p;
}

static PgWalReader *
reader_new(uint32_t seg_size, uint32_t timeline, uint64_t start_lsn, void *payload)
{
	PgWalReader *r;

	ASSERT(pg_wal_seg_size_valid(seg_size));
	r = xcalloc(1, sizeof(*r));
	r->seg_size = seg_size;
	r->timeline = timeline;
	r->payload = payload;
	r->start_lsn = start_lsn;
	/* in huge pages where the kernel gives them: a ranged reader's pieces
	 * (up to 1 MiB) fill at least half of each 2 MiB page they start, which
	 * costs less to clear whole than to fault in 4 KiB at a time */
	r->seg = seg_buffer_new(seg_size);
	r->pos = start_lsn - start_lsn % seg_size;
	return r;
}

int
pg_walreader_new_ranged(PgWalReader **out, uint32_t seg_size, uint32_t timeline, uint64_t start_lsn,
	PgWalRangeCb cb, void *payload)
{
	ASSERT(cb != NULL);
	*out = reader_new(seg_size, timeline, start_lsn, payload);
	(*out)->range_cb = cb;
	return 0;
}

int
pg_walreader_new(PgWalReader **out, uint32_t seg_size, uint32_t timeline, uint64_t start_lsn,
	PgWalSegmentCb cb, void *payload)
{
	PgWalReader *r;

	ASSERT(cb != NULL);
	r = reader_new(seg_size, timeline, start_lsn, payload);
	r->cb = cb;
	*out = r;
	return 0;
}

int
pg_walreader_next(PgWalReader *r, PgWalRecord *out)
{
	int rc;

	if (r->ended)
		return 0;
	if (!r->started) {
		if ((rc = start_reading(r)) <= 0)
			return rc;
		r->started = true;
	}
	for (;;) {
		if ((rc = read_record(r, out)) <= 0)
			return rc;
		if (out->lsn >= r->start_lsn)
			return 1;
	}
}

uint64_t
pg_walreader_end_lsn(const PgWalReader *r)
{
	return r->pos;
}

void
pg_walreader_resume(PgWalReader *r)
{
	uint64_t page = r->pos - r->pos % WAL_BLCKSZ;

	r->ended = false;
	r->reason[0] = '\0';
	/* What lies before the page the end is on was read whole and stays; the
	 * rest was read before the server wrote it (a whole-segment source: all
	 * of it again). */
	if (r->range_cb && r->seg_have > 0 && r->seg_no == page / r->seg_size) {
		if (r->seg_have > page % r->seg_size)
			r->seg_have = (uint32_t)(page % r->seg_size);
	} else {
		r->seg_have = 0;
	}
}

const char *
pg_walreader_end_reason(const PgWalReader *r)
{
	return r->ended ? r->reason : "";
}

void
pg_walreader_free(PgWalReader *r)
{
	if (r == NULL)
		return;
	free(r->seg);
	free(r->rec);
	free(r);
}

static int64_t
pg_time_to_unix_usec(uint64_t raw)
{
	return (int64_t) raw + PG_EPOCH_UNIX_USEC;
}

/* Skip an array "int count; item[count]" at *off; false when it does not fit. */
static bool
skip_counted(const uint8_t *d, uint32_t len, uint32_t *off, uint32_t item_size)
{
	uint32_t count;

	if (len - *off < 4)
		return false;
	count = get_u32(d + *off);
	*off += 4;
	if (count > (len - *off) / item_size)
		return false;
	*off += count * item_size;
	return true;
}

bool
pg_wal_record_xact(const PgWalRecord *r, int64_t *out_time, bool *out_commit, uint32_t *out_xid)
{
	const uint8_t *d = r->main_data;
	uint32_t len = r->main_data_len;
	uint8_t op = r->info & XLOG_XACT_OPMASK;
	bool commit = op == XLOG_XACT_COMMIT || op == XLOG_XACT_COMMIT_PREPARED;
	uint32_t xinfo = 0;
	uint32_t xid = r->xid;
	uint32_t off = 8;	/* xact_time */

	if (r->rmid != PG_WAL_RM_XACT || (!commit && op != XLOG_XACT_ABORT && op != XLOG_XACT_ABORT_PREPARED))
		return false;
	if (d == NULL || len < 8)
		return false;
	/* The parts, in the order of PostgreSQL 15's ParseCommitRecord/ParseAbortRecord. */
	if (r->info & XLOG_XACT_HAS_INFO) {
		if (len - off < 4)
			return false;
		xinfo = get_u32(d + off);
		off += 4;
	}
	if (xinfo & XACT_XINFO_HAS_DBINFO) {
		if (len - off < XACT_DBINFO_SIZE)
			return false;
		off += XACT_DBINFO_SIZE;
	}
	if ((xinfo & XACT_XINFO_HAS_SUBXACTS) && !skip_counted(d, len, &off, XACT_SUBXACT_SIZE))
		return false;
	if ((xinfo & XACT_XINFO_HAS_RELFILENODES) && !skip_counted(d, len, &off, XACT_RELFILENODE_SIZE))
		return false;
	if ((xinfo & XACT_XINFO_HAS_DROPPED_STATS) && !skip_counted(d, len, &off, XACT_STATS_ITEM_SIZE))
		return false;
	/* Only commit records carry invalidations. */
	if (commit && (xinfo & XACT_XINFO_HAS_INVALS) && !skip_counted(d, len, &off, XACT_INVAL_MSG_SIZE))
		return false;
	if ((op == XLOG_XACT_COMMIT_PREPARED || op == XLOG_XACT_ABORT_PREPARED) &&
		(xinfo & XACT_XINFO_HAS_TWOPHASE)) {
		if (len - off < 4)
			return false;
		xid = get_u32(d + off);
	}
	*out_time = pg_time_to_unix_usec(get_u64(d));
	*out_commit = commit;
	*out_xid = xid;
	return true;
}

bool
pg_wal_record_restore_point(const PgWalRecord *r, char name[64], int64_t *out_time)
{
	const uint8_t *d = r->main_data;
	size_t name_len;

	if (r->rmid != PG_WAL_RM_XLOG || (r->info & ~XLR_INFO_MASK) != XLOG_RESTORE_POINT)
		return false;
	if (d == NULL || r->main_data_len < RESTORE_POINT_SIZE)
		return false;
	name_len = strnlen((const char *) d + 8, PG_WAL_RESTORE_POINT_NAME_LEN - 1);
	memcpy(name, d + 8, name_len);
	name[name_len] = '\0';
	*out_time = pg_time_to_unix_usec(get_u64(d));
	return true;
}

bool
pg_wal_record_is_switch(const PgWalRecord *r)
{
	return r->rmid == PG_WAL_RM_XLOG && (r->info & ~XLR_INFO_MASK) == XLOG_SWITCH;
}
