/*
 * test_pg.c - unit tests for src/pg: page checksums, pg_control, WAL names.
 *
 * The fixtures come from a real PostgreSQL 15.20 cluster (initdb -k, a table
 * "fx" of 2000 rows, checkpoint, clean shutdown), so the expected values below
 * are PostgreSQL's, not ours:
 *   pg_control                         global/pg_control, values as printed
 *                                      by pg_controldata
 *   heap_16384_blk{0,7,32}.page        blocks 0, 7, 32 of base/5/16384
 *                                      (segment 0, so blkno = block)
 *   wal_000000010000000000000001.head  first 64 bytes of that WAL segment
 * TB_PG_FIXTURES names the fixture directory (meson sets it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "pg/control.h"
#include "pg/page.h"
#include "pg/wal.h"

/* pg_controldata of the fixture cluster. */
#define FX_SYSTEM_IDENTIFIER UINT64_C(7712498448174862255)
#define FX_CATALOG_VERSION 202209061u
#define FX_STATE_SHUT_DOWN 1u
#define FX_CHECKPOINT_LSN UINT64_C(0x17C7BA0)
#define FX_CONTROL_CRC_OFF 288

static const uint32_t fx_blocks[] = {0, 7, 32};
/* pd_lsn of those blocks, read with od from the fixture files. */
static const uint64_t fx_block_lsns[] = {0x1779B08, 0x178C710, 0x17C7AC8};

static size_t
load_fixture(uint8_t *buf, size_t cap, const char *name)
{
	const char *dir = getenv("TB_PG_FIXTURES");
	char *path;
	FILE *f;
	size_t len;

	if (dir == NULL)
		fail_msg("TB_PG_FIXTURES is not set; run the test through meson test");
	path = xasprintf("%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("could not open fixture \"%s\": %s", path, strerror(errno));
	len = fread(buf, 1, cap, f);
	fclose(f);
	free(path);
	return len;
}

static void
load_block(uint8_t *page, uint32_t blkno)
{
	char name[64];

	snprintf(name, sizeof(name), "heap_16384_blk%u.page", (unsigned) blkno);
	assert_int_equal(load_fixture(page, PG_PAGE_SIZE, name), PG_PAGE_SIZE);
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}

/* ---- page ---- */

static void
test_page_checksum_matches_postgres(void **state)
{
	uint8_t page[PG_PAGE_SIZE];

	(void) state;
	for (size_t i = 0; i < sizeof(fx_blocks) / sizeof(fx_blocks[0]); i++) {
		load_block(page, fx_blocks[i]);
		assert_int_not_equal(pg_page_checksum_stored(page), 0);
		assert_int_equal(pg_page_checksum(page, fx_blocks[i]), pg_page_checksum_stored(page));
		assert_true(pg_page_verify(page, fx_blocks[i]));
		assert_false(pg_page_is_new(page));
		assert_int_equal(pg_page_lsn(page), fx_block_lsns[i]);
	}
}

static void
test_page_checksum_leaves_page_alone(void **state)
{
	uint8_t page[PG_PAGE_SIZE];
	uint8_t copy[PG_PAGE_SIZE];

	(void) state;
	load_block(page, 7);
	memcpy(copy, page, sizeof(page));
	(void) pg_page_checksum(page, 7);
	assert_true(pg_page_verify(page, 7));
	assert_memory_equal(page, copy, sizeof(page));
}

static void
test_page_flipped_byte_fails(void **state)
{
	static const size_t offsets[] = {0, 9, 12, 4000, PG_PAGE_SIZE - 1};
	uint8_t page[PG_PAGE_SIZE];

	(void) state;
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		load_block(page, 0);
		page[offsets[i]] ^= 0x01;
		assert_false(pg_page_verify(page, 0));
	}
}

static void
test_page_wrong_blkno_fails(void **state)
{
	uint8_t page[PG_PAGE_SIZE];

	(void) state;
	load_block(page, 7);
	assert_false(pg_page_verify(page, 8));
	assert_false(pg_page_verify(page, 0));
	/* Same block number in the next 1 GiB segment file. */
	assert_false(pg_page_verify(page, 7 + PG_RELSEG_BLOCKS));
}

static void
test_page_zero_is_new_and_valid(void **state)
{
	static const uint8_t zero[PG_PAGE_SIZE];

	(void) state;
	assert_true(pg_page_is_new(zero));
	assert_true(pg_page_verify(zero, 0));
	assert_true(pg_page_verify(zero, 12345));
	assert_int_equal(pg_page_lsn(zero), 0);
}

/* A page with pd_upper == 0 is "new" to PostgreSQL: valid only if all zeros. */
static void
test_page_new_but_not_zero_fails(void **state)
{
	uint8_t page[PG_PAGE_SIZE] = {0};

	(void) state;
	page[PG_PAGE_SIZE - 1] = 1;
	put_u16(page + 8, pg_page_checksum(page, 0));
	assert_false(pg_page_is_new(page));
	assert_false(pg_page_verify(page, 0));
}

/* Insane headers fail even when the checksum was made to match. */
static void
test_page_insane_header_fails(void **state)
{
	struct { size_t off; uint16_t value; } cases[] = {
		{10, 0x0008},       /* pd_flags: a bit outside PD_VALID_FLAG_BITS */
		{12, 400},          /* pd_lower > pd_upper (384) */
		{14, 8200},         /* pd_upper > pd_special (8192) */
		{16, 8200},         /* pd_special > BLCKSZ */
		{16, 8188},         /* pd_special not MAXALIGNed */
	};
	uint8_t page[PG_PAGE_SIZE];

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_block(page, 0);
		put_u16(page + cases[i].off, cases[i].value);
		put_u16(page + 8, pg_page_checksum(page, 0));
		assert_int_equal(pg_page_checksum(page, 0), pg_page_checksum_stored(page));
		assert_false(pg_page_verify(page, 0));
	}
	/* And a sane edit with a fixed-up checksum passes. */
	load_block(page, 0);
	put_u16(page + 10, 0x0004);
	put_u16(page + 8, pg_page_checksum(page, 0));
	assert_true(pg_page_verify(page, 0));
}

/* ---- pg_control ---- */

static size_t
load_control(uint8_t *buf)
{
	size_t len = load_fixture(buf, PG_PAGE_SIZE, "pg_control");

	assert_int_equal(len, 8192);
	return len;
}

static void
assert_fixture_control(const PgControl *c)
{
	assert_int_equal(c->system_identifier, FX_SYSTEM_IDENTIFIER);
	assert_int_equal(c->pg_control_version, 1300);
	assert_int_equal(c->catalog_version_no, FX_CATALOG_VERSION);
	assert_int_equal(c->state, FX_STATE_SHUT_DOWN);
	assert_int_equal(c->checkpoint_lsn, FX_CHECKPOINT_LSN);
	assert_int_equal(c->checkpoint_timeline, 1);
	assert_int_equal(c->data_checksum_version, 1);
	assert_int_equal(c->blcksz, 8192);
	assert_int_equal(c->xlog_seg_size, 16777216);
}

static void
test_control_parse(void **state)
{
	uint8_t buf[PG_PAGE_SIZE];
	size_t len = load_control(buf);
	PgControl c;

	(void) state;
	assert_int_equal(pg_control_parse(&c, buf, len), 0);
	assert_fixture_control(&c);
	/* Only the part up to the CRC matters. */
	assert_int_equal(pg_control_parse(&c, buf, 512), 0);
	assert_int_equal(pg_control_parse(&c, buf, FX_CONTROL_CRC_OFF + 4), 0);
}

static void
test_control_flipped_byte_is_corrupt(void **state)
{
	static const size_t offsets[] = {0, 16, 48, 252, FX_CONTROL_CRC_OFF - 1, FX_CONTROL_CRC_OFF};
	uint8_t buf[PG_PAGE_SIZE];
	PgControl c;

	(void) state;
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		size_t len = load_control(buf);

		buf[offsets[i]] ^= 0x40;
		memset(&c, 0xAB, sizeof(c));
		err_clear();
		assert_int_equal(pg_control_parse(&c, buf, len), ERR_CORRUPT);
		assert_int_equal(err_code(), ERR_CORRUPT);
		assert_string_equal(err_message(), "incorrect checksum in control file");
		assert_non_null(strstr(err_detail_text(), "CRC-32C"));
		assert_int_equal(c.pg_control_version, 0xABABABABu);
	}
}

static void
test_control_too_short(void **state)
{
	uint8_t buf[PG_PAGE_SIZE];
	PgControl c;

	(void) state;
	load_control(buf);
	assert_int_equal(pg_control_parse(&c, buf, FX_CONTROL_CRC_OFF + 3), ERR_CORRUPT);
	assert_string_equal(err_message(), "control file is too short: 291 bytes, expected at least 292");
}

static void
test_control_unsupported_version(void **state)
{
	uint8_t buf[PG_PAGE_SIZE];
	size_t len = load_control(buf);
	PgControl c;

	(void) state;
	buf[8] = 0xA4;	/* 1700, PostgreSQL 17 */
	buf[9] = 0x06;
	assert_int_equal(pg_control_parse(&c, buf, len), ERR_UNSUPPORTED);
	assert_string_equal(err_message(), "pg_control version 1700 is not supported");
	assert_string_equal(err_hint_text(), "tenback supports PostgreSQL 15 and later.");
	assert_string_equal(err_detail_text(), "");

	/* 1300 written big-endian. */
	buf[8] = 0x00;
	buf[9] = 0x00;
	buf[10] = 0x05;
	buf[11] = 0x14;
	assert_int_equal(pg_control_parse(&c, buf, len), ERR_UNSUPPORTED);
	assert_string_equal(err_message(), "pg_control version 335872000 is not supported");
	assert_non_null(strstr(err_detail_text(), "byte-swapped"));
}

/* A data directory holding a copy of the fixture, or of its first len bytes. */
static char *
make_datadir(size_t len)
{
	char tmpl[] = "/tmp/tb_test_pg.XXXXXX";
	uint8_t buf[PG_PAGE_SIZE];
	char *dir;
	char *global;
	char *path;
	FILE *f;

	load_control(buf);
	assert_non_null(mkdtemp(tmpl));
	dir = xstrdup(tmpl);
	global = xasprintf("%s/global", dir);
	assert_int_equal(mkdir(global, 0700), 0);
	path = xasprintf("%s/pg_control", global);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(path);
	free(global);
	return dir;
}

static void
remove_datadir(char *dir)
{
	char *path = xasprintf("%s/global/pg_control", dir);
	char *global = xasprintf("%s/global", dir);

	unlink(path);
	rmdir(global);
	assert_int_equal(rmdir(dir), 0);
	free(global);
	free(path);
	free(dir);
}

static void
test_control_read(void **state)
{
	char *dir = make_datadir(PG_PAGE_SIZE);
	PgControl c;

	(void) state;
	assert_int_equal(pg_control_read(&c, dir), 0);
	assert_fixture_control(&c);
	remove_datadir(dir);
}

static void
test_control_read_short_file(void **state)
{
	char *dir = make_datadir(100);
	char *expected = xasprintf("while reading \"%s/global/pg_control\": "
		"control file is too short: 100 bytes, expected at least 292", dir);
	PgControl c;

	(void) state;
	assert_int_equal(pg_control_read(&c, dir), ERR_CORRUPT);
	assert_string_equal(err_message(), expected);
	free(expected);
	remove_datadir(dir);
}

static void
test_control_read_missing(void **state)
{
	PgControl c;

	(void) state;
	assert_int_equal(pg_control_read(&c, "/nonexistent/tb"), ERR_NOT_FOUND);
	assert_string_equal(err_message(),
		"could not open file \"/nonexistent/tb/global/pg_control\": No such file or directory");
	assert_string_equal(err_hint_text(), "Check that --pgdata names a PostgreSQL data directory.");
}

static void
test_control_read_unreadable(void **state)
{
	char *dir = make_datadir(PG_PAGE_SIZE);
	char *path = xasprintf("%s/global/pg_control", dir);
	PgControl c;
	int rc;

	(void) state;
	assert_int_equal(chmod(path, 0), 0);
	rc = pg_control_read(&c, dir);
	free(path);
	remove_datadir(dir);
	if (geteuid() == 0)
		skip();	/* root reads it anyway */
	assert_int_equal(rc, ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "Permission denied"));
	assert_non_null(strstr(err_hint_text(), "owns the data directory"));
}

/* ---- WAL ---- */

static void
test_lsn_parse_format(void **state)
{
	static const struct { const char *text; uint64_t lsn; } cases[] = {
		{"0/0", 0},
		{"0/1000028", UINT64_C(0x1000028)},
		{"16/B374D848", UINT64_C(0x16B374D848)},
		{"FFFFFFFF/FFFFFFFF", UINT64_MAX},
	};
	char text[20];
	uint64_t lsn;

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pg_lsn_parse(&lsn, cases[i].text), 0);
		assert_int_equal(lsn, cases[i].lsn);
		pg_lsn_format(text, lsn);
		assert_string_equal(text, cases[i].text);
	}
	assert_int_equal(pg_lsn_parse(&lsn, "16/b374d848"), 0);
	assert_int_equal(lsn, UINT64_C(0x16B374D848));
	assert_int_equal(pg_lsn_parse(&lsn, "00000016/0000000A"), 0);
	assert_int_equal(lsn, UINT64_C(0x160000000A));
}

static void
test_lsn_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "16", "/1", "1/", "G/1", "1/G", "123456789/0", "0/123456789",
		"1/2/3", " 1/2", "1/2 ", "-1/2", "0x1/2",
	};
	uint64_t lsn = 42;

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pg_lsn_parse(&lsn, bad[i]), ERR_INVALID);
		assert_int_equal(lsn, 42);
	}
	assert_string_equal(err_message(), "invalid LSN \"0x1/2\"");
	assert_non_null(strstr(err_hint_text(), "16/B374D848"));
}

static void
test_wal_seg_size_valid(void **state)
{
	(void) state;
	assert_true(pg_wal_seg_size_valid(1u << 20));
	assert_true(pg_wal_seg_size_valid(PG_WAL_SEG_SIZE_DEFAULT));
	assert_true(pg_wal_seg_size_valid(1u << 30));
	assert_false(pg_wal_seg_size_valid(0));
	assert_false(pg_wal_seg_size_valid(1u << 19));
	assert_false(pg_wal_seg_size_valid(1u << 31));
	assert_false(pg_wal_seg_size_valid(3u << 20));
}

static void
test_wal_segno_and_name(void **state)
{
	static const struct {
		uint64_t lsn;
		uint32_t timeline;
		uint32_t seg_size;
		uint64_t segno;
		const char *name;
	} cases[] = {
		{UINT64_C(0x1000028), 1, 16u << 20, 1, "000000010000000000000001"},
		{UINT64_C(0x16B374D848), 1, 16u << 20, 0x16B3, "0000000100000016000000B3"},
		{UINT64_C(0x16B374D848), 0x1A, 64u << 20, 0x5AC, "0000001A000000160000002C"},
		{UINT64_C(0x16B374D848), 2, 1u << 30, 0x5A, "000000020000001600000002"},
		{UINT64_C(0xFFFFFFFFFFFFFFFF), 0xFFFFFFFF, 1u << 20, UINT64_C(0xFFFFFFFFFFF),
			"FFFFFFFFFFFFFFFF00000FFF"},
	};
	char name[PG_WAL_NAME_LEN + 1];
	uint32_t timeline;
	uint64_t segno;

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pg_wal_segno(cases[i].lsn, cases[i].seg_size), cases[i].segno);
		pg_wal_name(name, cases[i].timeline, cases[i].segno, cases[i].seg_size);
		assert_string_equal(name, cases[i].name);
		assert_int_equal(pg_wal_name_parse(&timeline, &segno, name, cases[i].seg_size), 0);
		assert_int_equal(timeline, cases[i].timeline);
		assert_int_equal(segno, cases[i].segno);
	}
}

static void
test_wal_name_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "00000001000000000000001", "0000000100000000000000011",
		"00000001000000000000000g", "0000000100000000000000aB",
		"000000010000000000000001.partial", "00000001 000000000000001",
	};
	uint32_t timeline = 7;
	uint64_t segno = 7;

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pg_wal_name_parse(&timeline, &segno, bad[i], PG_WAL_SEG_SIZE_DEFAULT),
			ERR_INVALID);
		assert_string_equal(err_detail_text(), "A WAL segment name is 24 uppercase hexadecimal digits.");
	}
	/* 16 MiB segments: 256 per xlogid, so the low part stops at 000000FF. */
	assert_int_equal(pg_wal_name_parse(&timeline, &segno, "0000000100000000000000FF",
		PG_WAL_SEG_SIZE_DEFAULT), 0);
	assert_int_equal(segno, 0xFF);
	assert_int_equal(pg_wal_name_parse(&timeline, &segno, "000000010000000000000100",
		PG_WAL_SEG_SIZE_DEFAULT), ERR_INVALID);
	assert_string_equal(err_message(), "invalid WAL segment name \"000000010000000000000100\"");
	assert_string_equal(err_detail_text(),
		"With 16777216-byte segments the last 8 digits must be below 00000100.");
	assert_int_equal(segno, 0xFF);
}

static void
test_wal_file_kind(void **state)
{
	static const struct {
		const char *name;
		PgWalFileKind kind;
		uint32_t timeline;
	} cases[] = {
		{"000000010000000000000001", PG_WAL_FILE_SEGMENT, 1},
		{"0000000A00000016000000B3", PG_WAL_FILE_SEGMENT, 10},
		{"000000020000000000000001.partial", PG_WAL_FILE_PARTIAL, 2},
		{"000000010000000000000001.00000028.backup", PG_WAL_FILE_BACKUP, 1},
		{"00000002.history", PG_WAL_FILE_HISTORY, 2},
		{"FFFFFFFF.history", PG_WAL_FILE_HISTORY, 0xFFFFFFFF},
		{"", PG_WAL_FILE_UNKNOWN, 0},
		{"0000000100000000000000011", PG_WAL_FILE_UNKNOWN, 0},
		{"00000001000000000000000a", PG_WAL_FILE_UNKNOWN, 0},
		{"000000010000000000000001.gz", PG_WAL_FILE_UNKNOWN, 0},
		{"000000010000000000000001.partial.gz", PG_WAL_FILE_UNKNOWN, 0},
		{"000000010000000000000001.partia", PG_WAL_FILE_UNKNOWN, 0},
		{"000000010000000000000001.0000002.backup", PG_WAL_FILE_UNKNOWN, 0},
		{"000000010000000000000001.0000002G.backup", PG_WAL_FILE_UNKNOWN, 0},
		{"000000010000000000000001-00000028.backup", PG_WAL_FILE_UNKNOWN, 0},
		{"0000002.history", PG_WAL_FILE_UNKNOWN, 0},
		{"0000000g.history", PG_WAL_FILE_UNKNOWN, 0},
		{"00000002.history.tmp", PG_WAL_FILE_UNKNOWN, 0},
		{"archive_status", PG_WAL_FILE_UNKNOWN, 0},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t timeline = 0;

		assert_int_equal(pg_wal_file_kind(cases[i].name, &timeline), cases[i].kind);
		assert_int_equal(timeline, cases[i].timeline);
	}
	assert_int_equal(pg_wal_file_kind("00000003.history", NULL), PG_WAL_FILE_HISTORY);
}

static size_t
load_wal_head(uint8_t *buf)
{
	size_t len = load_fixture(buf, 64, "wal_000000010000000000000001.head");

	assert_int_equal(len, 64);
	return len;
}

static void
test_wal_long_header(void **state)
{
	uint8_t buf[64];
	size_t len = load_wal_head(buf);
	PgWalLongHeader h;

	(void) state;
	assert_int_equal(pg_wal_long_header_parse(&h, buf, len), 0);
	assert_int_equal(h.magic, 0xD110);
	assert_int_equal(h.timeline, 1);
	assert_int_equal(h.pageaddr, UINT64_C(0x1000000));
	assert_int_equal(h.system_identifier, FX_SYSTEM_IDENTIFIER);
	assert_int_equal(h.seg_size, PG_WAL_SEG_SIZE_DEFAULT);
	assert_int_equal(h.xlog_blcksz, 8192);
	/* The page address names the segment the file is. */
	assert_int_equal(pg_wal_segno(h.pageaddr, h.seg_size), 1);
	assert_int_equal(pg_wal_long_header_parse(&h, buf, 40), 0);
}

static void
test_wal_long_header_corrupt(void **state)
{
	uint8_t buf[64];
	size_t len = load_wal_head(buf);
	PgWalLongHeader h;

	(void) state;
	assert_int_equal(pg_wal_long_header_parse(&h, buf, 39), ERR_CORRUPT);
	assert_string_equal(err_message(), "WAL segment header is too short: 39 bytes, expected at least 40");

	buf[0] = 0x13;	/* D113: PostgreSQL 16 */
	assert_int_equal(pg_wal_long_header_parse(&h, buf, len), ERR_CORRUPT);
	assert_string_equal(err_message(), "invalid magic number D113 in WAL segment header");
	assert_string_equal(err_detail_text(), "PostgreSQL 15 writes WAL with magic number D110.");

	load_wal_head(buf);
	buf[2] = 0x00;	/* xlp_info without XLP_LONG_HEADER */
	assert_int_equal(pg_wal_long_header_parse(&h, buf, len), ERR_CORRUPT);
	assert_string_equal(err_message(), "invalid info bits 0000 in WAL segment header");

	load_wal_head(buf);
	buf[34] = 0x00;	/* xlp_seg_size 0x01000000 -> 0 */
	buf[35] = 0x00;
	assert_int_equal(pg_wal_long_header_parse(&h, buf, len), ERR_CORRUPT);
	assert_string_equal(err_message(), "invalid WAL segment size 0 in WAL segment header");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_checksum_matches_postgres),
		cmocka_unit_test(test_page_checksum_leaves_page_alone),
		cmocka_unit_test(test_page_flipped_byte_fails),
		cmocka_unit_test(test_page_wrong_blkno_fails),
		cmocka_unit_test(test_page_zero_is_new_and_valid),
		cmocka_unit_test(test_page_new_but_not_zero_fails),
		cmocka_unit_test(test_page_insane_header_fails),
		cmocka_unit_test(test_control_parse),
		cmocka_unit_test(test_control_flipped_byte_is_corrupt),
		cmocka_unit_test(test_control_too_short),
		cmocka_unit_test(test_control_unsupported_version),
		cmocka_unit_test(test_control_read),
		cmocka_unit_test(test_control_read_short_file),
		cmocka_unit_test(test_control_read_missing),
		cmocka_unit_test(test_control_read_unreadable),
		cmocka_unit_test(test_lsn_parse_format),
		cmocka_unit_test(test_lsn_parse_invalid),
		cmocka_unit_test(test_wal_seg_size_valid),
		cmocka_unit_test(test_wal_segno_and_name),
		cmocka_unit_test(test_wal_name_parse_invalid),
		cmocka_unit_test(test_wal_file_kind),
		cmocka_unit_test(test_wal_long_header),
		cmocka_unit_test(test_wal_long_header_corrupt),
	};

	return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
