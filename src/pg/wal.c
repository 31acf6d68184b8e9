/*
 * wal.c - LSNs, WAL segment names and the long page header of a segment.
 *
 * Invariant: names are produced and accepted exactly as PostgreSQL's
 * XLogFileName writes them (uppercase hex, the low 8 digits below the number
 * of segments per 4 GiB), so a name parsed here formats back to itself.
 */
#include "pg/wal.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define WAL_SEG_SIZE_MIN (1u << 20)
#define WAL_SEG_SIZE_MAX (1u << 30)
#define TLI_HEX_LEN 8
#define LSN_PART_HEX_MAX 8

#define PARTIAL_SUFFIX ".partial"
#define HISTORY_SUFFIX ".history"
#define BACKUP_SUFFIX ".backup"
/* 000000010000000000000001.00000028.backup: segment, '.', offset, suffix. */
#define BACKUP_NAME_LEN (PG_WAL_NAME_LEN + 1 + 8 + sizeof(BACKUP_SUFFIX) - 1)

/* XLogLongPageHeaderData byte offsets (x86_64). */
#define XLP_MAGIC_OFF 0
#define XLP_INFO_OFF 2
#define XLP_TLI_OFF 4
#define XLP_PAGEADDR_OFF 8
#define XLP_SYSID_OFF 24
#define XLP_SEG_SIZE_OFF 32
#define XLP_XLOG_BLCKSZ_OFF 36
#define XLP_LONG_HEADER_SIZE 40
#define XLP_LONG_HEADER 0x0002u
#define XLOG_PAGE_MAGIC_PG15 0xD110u

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t) get_u32(p) | ((uint64_t) get_u32(p + 4) << 32);
}

static int
hex_value(char c, bool upper_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (!upper_only && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly len (1..8) hex digits at s. */
static bool
parse_hex32(uint32_t *out, const char *s, size_t len, bool upper_only)
{
	uint32_t value = 0;

	for (size_t i = 0; i < len; i++) {
		int digit = hex_value(s[i], upper_only);

		if (digit < 0)
			return false;
		value = (value << 4) | (uint32_t) digit;
	}
	*out = value;
	return true;
}

int
pg_lsn_parse(uint64_t *out, const char *text)
{
	const char *slash = strchr(text, '/');
	size_t hi_len = slash ? (size_t) (slash - text) : 0;
	size_t lo_len = slash ? strlen(slash + 1) : 0;
	uint32_t hi;
	uint32_t lo;

	if (hi_len < 1 || hi_len > LSN_PART_HEX_MAX || lo_len < 1 || lo_len > LSN_PART_HEX_MAX ||
		!parse_hex32(&hi, text, hi_len, false) || !parse_hex32(&lo, slash + 1, lo_len, false)) {
		err_set(ERR_INVALID, "invalid LSN \"%s\"", text);
		err_hint("An LSN is two hexadecimal numbers of up to 8 digits separated by a slash, like 16/B374D848.");
		return ERR_INVALID;
	}
	*out = ((uint64_t) hi << 32) | lo;
	return 0;
}

void
pg_lsn_format(char *out, uint64_t lsn)
{
	snprintf(out, 20, "%X/%X", (unsigned) (lsn >> 32), (unsigned) lsn);
}

bool
pg_wal_seg_size_valid(uint32_t seg_size)
{
	return seg_size >= WAL_SEG_SIZE_MIN && seg_size <= WAL_SEG_SIZE_MAX &&
		(seg_size & (seg_size - 1)) == 0;
}

/* XLogSegmentsPerXLogId: segments in one 4 GiB "xlogid". */
static uint32_t
segs_per_xlogid(uint32_t seg_size)
{
	ASSERT(pg_wal_seg_size_valid(seg_size));
	return (uint32_t) (UINT64_C(0x100000000) / seg_size);
}

uint64_t
pg_wal_segno(uint64_t lsn, uint32_t seg_size)
{
	ASSERT(pg_wal_seg_size_valid(seg_size));
	return lsn / seg_size;
}

void
pg_wal_name(char *out, uint32_t timeline, uint64_t segno, uint32_t seg_size)
{
	uint32_t per_id = segs_per_xlogid(seg_size);

	snprintf(out, PG_WAL_NAME_LEN + 1, "%08X%08X%08X", (unsigned) timeline,
		(unsigned) (segno / per_id), (unsigned) (segno % per_id));
}

static bool
is_upper_hex(const char *s, size_t len)
{
	uint32_t ignored;

	return parse_hex32(&ignored, s, len, true);
}

/*
 * name starts with 24 uppercase hex digits: timeline, xlogid, segment in
 * xlogid; what follows is not looked at.  Safe on shorter strings: the
 * terminating NUL is not a hex digit.
 */
static bool
parse_name_fields(uint32_t out_fields[3], const char *name)
{
	for (size_t i = 0; i < 3; i++) {
		if (!parse_hex32(&out_fields[i], name + i * 8, 8, true))
			return false;
	}
	return true;
}

static bool
starts_with_segment_name(const char *name)
{
	uint32_t fields[3];

	return parse_name_fields(fields, name);
}

int
pg_wal_name_parse(uint32_t *out_timeline, uint64_t *out_segno, const char *name, uint32_t seg_size)
{
	uint32_t per_id = segs_per_xlogid(seg_size);
	uint32_t fields[3] = {0, 0, 0};

	if (strlen(name) != PG_WAL_NAME_LEN || !parse_name_fields(fields, name)) {
		err_set(ERR_INVALID, "invalid WAL segment name \"%s\"", name);
		err_detail("A WAL segment name is 24 uppercase hexadecimal digits.");
		return ERR_INVALID;
	}
	if (fields[2] >= per_id) {
		err_set(ERR_INVALID, "invalid WAL segment name \"%s\"", name);
		err_detail("With %u-byte segments the last 8 digits must be below %08X.", seg_size, per_id);
		return ERR_INVALID;
	}
	*out_timeline = fields[0];
	*out_segno = (uint64_t) fields[1] * per_id + fields[2];
	return 0;
}

static bool
is_partial_name(const char *name, size_t len)
{
	return len == PG_WAL_NAME_LEN + strlen(PARTIAL_SUFFIX) && starts_with_segment_name(name) &&
		strcmp(name + PG_WAL_NAME_LEN, PARTIAL_SUFFIX) == 0;
}

static bool
is_backup_name(const char *name, size_t len)
{
	return len == BACKUP_NAME_LEN && starts_with_segment_name(name) &&
		name[PG_WAL_NAME_LEN] == '.' && is_upper_hex(name + PG_WAL_NAME_LEN + 1, 8) &&
		strcmp(name + PG_WAL_NAME_LEN + 1 + 8, BACKUP_SUFFIX) == 0;
}

static bool
is_history_name(const char *name, size_t len)
{
	return len == TLI_HEX_LEN + strlen(HISTORY_SUFFIX) && is_upper_hex(name, TLI_HEX_LEN) &&
		strcmp(name + TLI_HEX_LEN, HISTORY_SUFFIX) == 0;
}

static PgWalFileKind
classify(const char *name)
{
	size_t len = strlen(name);

	if (len == PG_WAL_NAME_LEN && starts_with_segment_name(name))
		return PG_WAL_FILE_SEGMENT;
	if (is_partial_name(name, len))
		return PG_WAL_FILE_PARTIAL;
	if (is_backup_name(name, len))
		return PG_WAL_FILE_BACKUP;
	if (is_history_name(name, len))
		return PG_WAL_FILE_HISTORY;
	return PG_WAL_FILE_UNKNOWN;
}

PgWalFileKind
pg_wal_file_kind(const char *name, uint32_t *out_timeline)
{
	PgWalFileKind kind = classify(name);

	if (kind != PG_WAL_FILE_UNKNOWN && out_timeline != NULL)
		parse_hex32(out_timeline, name, TLI_HEX_LEN, true);
	return kind;
}

int
pg_wal_long_header_parse(PgWalLongHeader *out, const uint8_t *buf, size_t len)
{
	uint16_t magic;
	uint16_t info;
	uint32_t seg_size;

	if (len < XLP_LONG_HEADER_SIZE)
		return err_set(ERR_CORRUPT, "WAL segment header is too short: %zu bytes, expected at least %d",
			len, XLP_LONG_HEADER_SIZE);
	magic = get_u16(buf + XLP_MAGIC_OFF);
	info = get_u16(buf + XLP_INFO_OFF);
	seg_size = get_u32(buf + XLP_SEG_SIZE_OFF);
	if (magic != XLOG_PAGE_MAGIC_PG15) {
		err_set(ERR_CORRUPT, "invalid magic number %04X in WAL segment header", magic);
		err_detail("PostgreSQL 15 writes WAL with magic number %04X.", XLOG_PAGE_MAGIC_PG15);
		return ERR_CORRUPT;
	}
	if ((info & XLP_LONG_HEADER) == 0)
		return err_set(ERR_CORRUPT, "invalid info bits %04X in WAL segment header", info);
	if (!pg_wal_seg_size_valid(seg_size))
		return err_set(ERR_CORRUPT, "invalid WAL segment size %u in WAL segment header", seg_size);

	out->magic = magic;
	out->timeline = get_u32(buf + XLP_TLI_OFF);
	out->pageaddr = get_u64(buf + XLP_PAGEADDR_OFF);
	out->system_identifier = get_u64(buf + XLP_SYSID_OFF);
	out->seg_size = seg_size;
	out->xlog_blcksz = get_u32(buf + XLP_XLOG_BLCKSZ_OFF);
	return 0;
}
