/*
 * test_walread.c - unit tests for src/pg/walread: the WAL record reader
 * checked record by record against pg_waldump.
 *
 * The fixtures (fixtures/wal/, made by make_fixtures.sh) are the three 1 MiB
 * segments 000000010000000000000009..B that a real PostgreSQL 15.20 cluster
 * (initdb -k --wal-segsize=1) wrote for a known workload: a table created and
 * filled in several transactions, a 6400-byte row (a record spanning pages),
 * a 2.2 MB logical message (a record spanning three segments), a restore
 * point "before_migration", an aborted transaction, a prepared transaction
 * committed, pg_switch_wal().  waldump.txt is pg_waldump's output for them
 * (TZ=UTC), so the expected values are PostgreSQL's, not ours.
 * TB_PG_FIXTURES names the fixture directory (meson sets it).  Regenerating
 * the fixtures changes the system identifier and may move the landmark LSNs
 * below: take them again from the new waldump.txt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/crc32c.h"
#include "pg/wal.h"
#include "pg/walread.h"

#define SEG_SIZE (1u << 20)
#define TLI 1u
#define FIRST_SEGNO 9u
#define LAST_SEGNO 11u
#define WAL_PAGE 8192u

/* Landmarks of the fixture, from waldump.txt. */
#define LSN_MESSAGE UINT64_C(0x93C958)       /* LogicalMessage, 2240061 bytes, 9 -> B */
#define LSN_AFTER_MESSAGE UINT64_C(0xB61168) /* its COMMIT */
#define LSN_RESTORE_POINT UINT64_C(0xB61190)
#define LSN_SWITCH UINT64_C(0xB61458)
#define PREPARED_XID 732u

#define MAX_EXPECTED 1024
#define MAX_BLKREFS 8

typedef struct ExpectedBlock {
	int block_id;
	uint32_t spc, db, rel;
	uint8_t fork;
	uint32_t blkno;
	bool fpw;
	bool fpw_apply;
} ExpectedBlock;

/* One line of pg_waldump. */
typedef struct Expected {
	uint64_t lsn;
	uint8_t rmid;
	uint32_t xid;
	uint32_t tot_len;
	char desc[96];
	ExpectedBlock blocks[MAX_BLKREFS];
	int n_blocks;
} Expected;

typedef struct Fixture {
	Expected recs[MAX_EXPECTED];
	int n_recs;
} Fixture;

/* The archive behind the segment callback, with faults to inject. */
typedef struct Archive {
	uint64_t missing_segno;      /* UINT64_MAX: none */
	uint64_t fail_segno;         /* fail reading it fail_times times */
	int fail_times;
	uint64_t substitute_segno;   /* serve substitute_with's content instead */
	uint64_t substitute_with;
	void (*patch)(uint8_t *seg, uint64_t segno, const struct Archive *a);
	uint64_t patch_lsn;
	const void *patch_ctx;
	int calls;
	uint64_t first_segno;        /* of the first call */
} Archive;

static const char *const rmgr_names[] = {
	"XLOG", "Transaction", "Storage", "CLOG", "Database", "Tablespace", "MultiXact",
	"RelMap", "Standby", "Heap2", "Heap", "Btree", "Hash", "Gin", "Gist", "Sequence",
	"SPGist", "BRIN", "CommitTs", "ReplicationOrigin", "Generic", "LogicalMessage",
};

static const char *
fixture_dir(void)
{
	const char *dir = getenv("TB_PG_FIXTURES");

	if (dir == NULL)
		fail_msg("TB_PG_FIXTURES is not set; run the test through meson test");
	return dir;
}

static void
archive_init(Archive *a)
{
	memset(a, 0, sizeof(*a));
	a->missing_segno = UINT64_MAX;
	a->fail_segno = UINT64_MAX;
	a->substitute_segno = UINT64_MAX;
}

static int
read_segment_file(uint8_t *buf, uint64_t segno)
{
	char name[PG_WAL_NAME_LEN + 1];
	char *path;
	FILE *f;
	size_t len;

	pg_wal_name(name, TLI, segno, SEG_SIZE);
	path = xasprintf("%s/wal/%s", fixture_dir(), name);
	f = fopen(path, "rb");
	if (f == NULL) {
		int rc = err_errno(errno, "could not open file \"%s\"", path);

		free(path);
		return rc;
	}
	len = fread(buf, 1, SEG_SIZE, f);
	fclose(f);
	free(path);
	if (len != SEG_SIZE)
		return err_set(ERR_CORRUPT, "short WAL segment %s: %zu bytes", name, len);
	return 0;
}

static int
archive_cb(uint8_t *buf, uint32_t timeline, uint64_t segno, void *payload)
{
	Archive *a = payload;
	int rc;

	assert_int_equal(timeline, TLI);
	if (a->calls++ == 0)
		a->first_segno = segno;
	if (segno == a->missing_segno)
		return err_set(ERR_NOT_FOUND, "segment not in the test archive");
	if (segno == a->fail_segno && a->fail_times > 0) {
		a->fail_times--;
		memset(buf, 0xAB, SEG_SIZE);	/* a half-done read must not matter */
		return err_set(ERR_IO, "could not read from the test archive");
	}
	rc = read_segment_file(buf, segno == a->substitute_segno ? a->substitute_with : segno);
	if (rc == 0 && a->patch != NULL)
		a->patch(buf, segno, a);
	return rc;
}

/* ---- waldump.txt ---- */

static uint8_t
rmgr_id(const char *name)
{
	for (size_t i = 0; i < sizeof(rmgr_names) / sizeof(rmgr_names[0]); i++) {
		if (strcmp(rmgr_names[i], name) == 0)
			return (uint8_t) i;
	}
	fail_msg("unknown resource manager \"%s\" in waldump.txt", name);
	return 0;
}

static uint8_t
fork_id(const char *name)
{
	static const char *const forks[] = {"main", "fsm", "vm", "init"};

	for (uint8_t i = 0; i < 4; i++) {
		if (strcmp(forks[i], name) == 0)
			return i;
	}
	fail_msg("unknown fork \"%s\" in waldump.txt", name);
	return 0;
}

/* ", blkref #0: rel 1663/5/1247 [fork fsm ]blk 14[ FPW[ for WAL verification]]" */
static void
parse_blkrefs(Expected *e, const char *line)
{
	const char *p = line;

	while ((p = strstr(p, ", blkref #")) != NULL) {
		ExpectedBlock *b = &e->blocks[e->n_blocks];
		unsigned spc, db, rel, blkno;
		int id, n = 0;
		char fork[16] = "main";

		assert_true(e->n_blocks < MAX_BLKREFS);
		if (sscanf(p, ", blkref #%d: rel %u/%u/%u%n", &id, &spc, &db, &rel, &n) != 4)
			fail_msg("cannot parse blkref in \"%s\"", line);
		assert_true(id > (e->n_blocks ? e->blocks[e->n_blocks - 1].block_id : -1));
		p += n;
		if (strncmp(p, " fork ", 6) == 0) {
			if (sscanf(p, " fork %15s%n", fork, &n) != 1)
				fail_msg("cannot parse fork in \"%s\"", line);
			p += n;
		}
		if (sscanf(p, " blk %u%n", &blkno, &n) != 1)
			fail_msg("cannot parse blk in \"%s\"", line);
		p += n;
		b->block_id = id;
		b->spc = spc;
		b->db = db;
		b->rel = rel;
		b->fork = fork_id(fork);
		b->blkno = blkno;
		b->fpw = strncmp(p, " FPW", 4) == 0;
		b->fpw_apply = b->fpw && strncmp(p, " FPW for WAL verification", 25) != 0;
		e->n_blocks++;
	}
}

static int
group_setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char *path = xasprintf("%s/wal/waldump.txt", fixture_dir());
	FILE *f = fopen(path, "r");
	char line[4096];

	if (f == NULL)
		fail_msg("could not open \"%s\": %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		Expected *e = &fx->recs[fx->n_recs];
		char rmgr[32];
		unsigned rec_len, tot_len, xid, hi, lo, prev_hi, prev_lo;
		int desc_off = 0;

		assert_true(fx->n_recs < MAX_EXPECTED);
		/* A desc longer than the buffer only loses its tail (inval msgs). */
		if (sscanf(line, "rmgr: %31s len (rec/tot): %u/ %u, tx: %u, lsn: %x/%x, prev %x/%x, desc: %n",
				rmgr, &rec_len, &tot_len, &xid, &hi, &lo, &prev_hi, &prev_lo, &desc_off) != 8 ||
			desc_off == 0)
			fail_msg("cannot parse waldump line \"%s\"", line);
		e->lsn = ((uint64_t) hi << 32) | lo;
		e->rmid = rmgr_id(rmgr);
		e->xid = xid;
		e->tot_len = tot_len;
		snprintf(e->desc, sizeof(e->desc), "%s", line + desc_off);
		e->desc[strcspn(e->desc, "\n")] = '\0';
		parse_blkrefs(e, line);
		fx->n_recs++;
	}
	fclose(f);
	free(path);
	assert_true(fx->n_recs > 400);
	*state = fx;
	return 0;
}

static int
group_teardown(void **state)
{
	free(*state);
	return 0;
}

/* "2026-11-26 15:40:30.805491 UTC" -> Unix microseconds. */
static int64_t
parse_utc(const char *text)
{
	struct tm tm;
	int usec;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(text, "%d-%d-%d %d:%d:%d.%6d UTC", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec) != 7)
		fail_msg("cannot parse time \"%s\"", text);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t) timegm(&tm) * 1000000 + usec;
}

static int
find_expected(const Fixture *fx, uint64_t lsn)
{
	for (int i = 0; i < fx->n_recs; i++) {
		if (fx->recs[i].lsn == lsn)
			return i;
	}
	fail_msg("no record at %" PRIX64 " in waldump.txt", lsn);
	return -1;
}

static void
assert_record_matches(const PgWalRecord *rec, const Expected *e)
{
	char got[20], want[20];

	pg_lsn_format(got, rec->lsn);
	pg_lsn_format(want, e->lsn);
	if (rec->lsn != e->lsn || rec->rmid != e->rmid || rec->xid != e->xid || rec->tot_len != e->tot_len)
		fail_msg("record at %s (rmid %u xid %u len %u) differs from pg_waldump's at %s (rmid %u xid %u len %u)",
			got, rec->rmid, rec->xid, rec->tot_len, want, e->rmid, e->xid, e->tot_len);
	assert_int_equal(rec->n_blocks, e->n_blocks);
	for (int i = 0; i < e->n_blocks; i++) {
		const PgWalBlockRef *b = &rec->blocks[i];
		const ExpectedBlock *x = &e->blocks[i];

		assert_int_equal(b->block_id, x->block_id);
		assert_int_equal(b->spc_oid, x->spc);
		assert_int_equal(b->db_oid, x->db);
		assert_int_equal(b->rel_node, x->rel);
		assert_int_equal(b->fork, x->fork);
		assert_int_equal(b->blkno, x->blkno);
		assert_int_equal(b->has_image, x->fpw);
		assert_int_equal(b->apply_image, x->fpw_apply);
	}
	/* Heap inserts that start a new page (pg_waldump: "+INIT") are exactly
	 * those whose block is BKPBLOCK_WILL_INIT. */
	if ((rec->rmid == 9 || rec->rmid == 10) && e->n_blocks > 0 &&
		(strncmp(e->desc, "INSERT", 6) == 0 || strncmp(e->desc, "MULTI_INSERT", 12) == 0))
		assert_int_equal(rec->blocks[0].will_init, strstr(e->desc, "+INIT ") != NULL);
	assert_true(rec->end_lsn >= rec->lsn + rec->tot_len);
	assert_int_equal(rec->end_lsn % 8, 0);
}

/* Read everything from start_lsn; *out_first is the index of the first
 * record returned in fx.  Returns the number of records. */
static int
read_all(const Fixture *fx, Archive *a, uint64_t start_lsn, PgWalReader **out_r, int *out_first)
{
	PgWalReader *r = NULL;
	PgWalRecord rec;
	int n = 0;
	int first = -1;
	int rc;

	assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, start_lsn, archive_cb, a), 0);
	while ((rc = pg_walreader_next(r, &rec)) == 1) {
		if (first < 0)
			first = find_expected(fx, rec.lsn);
		assert_true(first + n < fx->n_recs);
		assert_record_matches(&rec, &fx->recs[first + n]);
		n++;
	}
	assert_int_equal(rc, 0);
	*out_r = r;
	*out_first = first;
	return n;
}

/* ---- reading ---- */

static void
test_walread_matches_waldump(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r;
	int first;
	int n;

	archive_init(&a);
	n = read_all(fx, &a, (uint64_t) FIRST_SEGNO * SEG_SIZE, &r, &first);
	assert_int_equal(first, 0);
	assert_int_equal(n, fx->n_recs);
	/* The last record is the switch: the WAL goes on in the next segment,
	 * which the archive does not have. */
	assert_int_equal(fx->recs[n - 1].lsn, LSN_SWITCH);
	assert_int_equal(pg_walreader_end_lsn(r), (uint64_t) (LAST_SEGNO + 1) * SEG_SIZE);
	assert_string_equal(pg_walreader_end_reason(r), "segment 00000001000000000000000C is not in the archive");
	/* And it stays at the end. */
	{
		PgWalRecord rec;
		int calls = a.calls;

		assert_int_equal(pg_walreader_next(r, &rec), 0);
		assert_int_equal(a.calls, calls);
	}
	pg_walreader_free(r);
}

static void
test_walread_spanning_records(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r = NULL;
	PgWalRecord rec;
	bool saw_message = false;
	bool saw_big_row = false;

	archive_init(&a);
	assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, (uint64_t) FIRST_SEGNO * SEG_SIZE, archive_cb, &a), 0);
	while (pg_walreader_next(r, &rec) == 1) {
		if (rec.lsn == LSN_MESSAGE) {
			/* xl_logical_message: dbId, transactional (+pad), prefix_size,
			 * message_size (8 bytes), then "tenback\0" and the payload. */
			static const char pattern[] = "0123456789abcdef";

			saw_message = true;
			assert_int_equal(rec.tot_len, 2240061);
			assert_int_equal(rec.main_data_len, 24 + 8 + 2240000);
			assert_memory_equal(rec.main_data + 24, "tenback", 8);
			for (uint32_t i = 0; i < 2240000; i += 4099)
				assert_int_equal(rec.main_data[32 + i], pattern[i % 16]);
			assert_int_equal(rec.main_data[rec.main_data_len - 1], 'f');
			assert_int_equal(rec.end_lsn, LSN_AFTER_MESSAGE);
		}
		if (rec.rmid == 10 && rec.tot_len > WAL_PAGE / 2 && rec.n_blocks == 1 && !rec.blocks[0].has_image &&
			rec.lsn / WAL_PAGE != (rec.lsn + rec.tot_len) / WAL_PAGE)
			saw_big_row = true;	/* the 6400-byte heap insert, across a page boundary */
	}
	assert_true(saw_message);
	assert_true(saw_big_row);
	assert_int_equal(a.calls, 4);	/* 9, A, B and the missing C: each once */
	pg_walreader_free(r);
	(void) fx;
}

static void
test_walread_start_mid_segment(void **state)
{
	const Fixture *fx = *state;
	int idx = find_expected(fx, UINT64_C(0x92D5E0));	/* a COMMIT well inside segment 9 */
	Archive a;
	PgWalReader *r;
	int first;
	int n;

	/* At a record's start: that record first. */
	archive_init(&a);
	n = read_all(fx, &a, fx->recs[idx].lsn, &r, &first);
	assert_int_equal(first, idx);
	assert_int_equal(n, fx->n_recs - idx);
	assert_int_equal(a.first_segno, FIRST_SEGNO);
	pg_walreader_free(r);

	/* Inside it: the next one. */
	archive_init(&a);
	n = read_all(fx, &a, fx->recs[idx].lsn + 1, &r, &first);
	assert_int_equal(first, idx + 1);
	assert_int_equal(n, fx->n_recs - idx - 1);
	pg_walreader_free(r);
}

static void
test_walread_skips_continuation(void **state)
{
	const Fixture *fx = *state;
	uint64_t starts[] = {(uint64_t) 10 * SEG_SIZE, (uint64_t) 11 * SEG_SIZE, LSN_MESSAGE + 8};
	Archive a;
	PgWalReader *r;
	int first;

	/* Segment A is all continuation of the message, B starts with its tail:
	 * the first record is the one after the message. */
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		archive_init(&a);
		(void) read_all(fx, &a, starts[i], &r, &first);
		assert_int_equal(first, find_expected(fx, LSN_AFTER_MESSAGE));
		assert_int_equal(a.first_segno, starts[i] / SEG_SIZE);
		assert_int_equal(pg_walreader_end_lsn(r), (uint64_t) (LAST_SEGNO + 1) * SEG_SIZE);
		pg_walreader_free(r);
	}
}

static void
test_walread_start_in_missing_segment(void **state)
{
	Archive a;
	PgWalReader *r = NULL;
	PgWalRecord rec;

	(void) state;
	archive_init(&a);
	assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, (uint64_t) 3 * SEG_SIZE + 100, archive_cb, &a), 0);
	assert_int_equal(pg_walreader_next(r, &rec), 0);
	assert_int_equal(pg_walreader_end_lsn(r), (uint64_t) 3 * SEG_SIZE);
	assert_string_equal(pg_walreader_end_reason(r), "segment 000000010000000000000003 is not in the archive");
	pg_walreader_free(r);
}

static void
test_walread_missing_middle_segment(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r;
	int first;
	int n;

	/* The message starts in 9 and needs A: the WAL ends where it starts. */
	archive_init(&a);
	a.missing_segno = 10;
	n = read_all(fx, &a, (uint64_t) FIRST_SEGNO * SEG_SIZE, &r, &first);
	assert_int_equal(n, find_expected(fx, LSN_MESSAGE));
	assert_int_equal(pg_walreader_end_lsn(r), LSN_MESSAGE);
	assert_string_equal(pg_walreader_end_reason(r), "segment 00000001000000000000000A is not in the archive");
	pg_walreader_free(r);
}

static void
test_walread_callback_error_is_retried(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r = NULL;
	PgWalRecord rec;
	int rc;

	archive_init(&a);
	a.fail_segno = 10;
	a.fail_times = 1;
	assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, LSN_MESSAGE, archive_cb, &a), 0);
	rc = pg_walreader_next(r, &rec);
	assert_int_equal(rc, ERR_IO);
	assert_string_equal(err_message(),
		"while reading WAL segment 00000001000000000000000A: could not read from the test archive");
	assert_string_equal(pg_walreader_end_reason(r), "");
	/* The next call reads the record again from its start. */
	assert_int_equal(pg_walreader_next(r, &rec), 1);
	assert_record_matches(&rec, &fx->recs[find_expected(fx, LSN_MESSAGE)]);
	pg_walreader_free(r);
}

/* ---- the end of the WAL: invalid records ---- */

static uint32_t
seg_offset(uint64_t lsn)
{
	return (uint32_t) (lsn % SEG_SIZE);
}

static void
patch_flip_byte(uint8_t *seg, uint64_t segno, const Archive *a)
{
	if (segno == a->patch_lsn / SEG_SIZE)
		seg[seg_offset(a->patch_lsn)] ^= 0x20;
}

static void
patch_zero_from(uint8_t *seg, uint64_t segno, const Archive *a)
{
	if (segno == a->patch_lsn / SEG_SIZE) {
		uint32_t off = seg_offset(a->patch_lsn);
		/* Zero the rest of the page, as a partly written page looks. */
		uint32_t page_end = (off / WAL_PAGE + 1) * WAL_PAGE;

		memset(seg + off, 0, page_end - off);
	}
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

/* Recompute the CRC of the (single-page) record at rec. */
static void
fix_crc(uint8_t *rec, uint32_t tot_len)
{
	uint32_t crc = PG_CRC32C_INIT;

	crc = pg_crc32c_update(crc, rec + 24, tot_len - 24);
	crc = pg_crc32c_update(crc, rec, 20);
	put_u32(rec + 20, pg_crc32c_final(crc));
}

/* A valid CRC over a wrong xl_prev: only the prev-link check can catch it. */
static void
patch_prev_link(uint8_t *seg, uint64_t segno, const Archive *a)
{
	if (segno == a->patch_lsn / SEG_SIZE) {
		uint8_t *rec = seg + seg_offset(a->patch_lsn);

		put_u64(rec + 8, a->patch_lsn - 8);
		fix_crc(rec, 34);
	}
}

static void
expect_end_at(const Fixture *fx, Archive *a, uint64_t end_lsn, const char *reason)
{
	PgWalReader *r;
	int first;
	int n;

	n = read_all(fx, a, (uint64_t) FIRST_SEGNO * SEG_SIZE, &r, &first);
	assert_int_equal(n, find_expected(fx, end_lsn));
	assert_int_equal(pg_walreader_end_lsn(r), end_lsn);
	assert_string_equal(pg_walreader_end_reason(r), reason);
	pg_walreader_free(r);
}

static void
test_walread_corrupt_byte_ends_wal(void **state)
{
	const Fixture *fx = *state;
	int idx = find_expected(fx, UINT64_C(0x92D5E0));
	Archive a;

	/* In a record's data: the CRC fails, the WAL ends where it starts. */
	archive_init(&a);
	a.patch = patch_flip_byte;
	a.patch_lsn = fx->recs[idx].lsn + 30;
	expect_end_at(fx, &a, fx->recs[idx].lsn,
		"invalid record at 0/92D5E0: incorrect checksum: stored 87557C05, computed 89EF0202");

	/* In the middle of the record spanning three segments. */
	archive_init(&a);
	a.patch = patch_flip_byte;
	a.patch_lsn = (uint64_t) 10 * SEG_SIZE + 500000;
	{
		PgWalReader *r;
		int first;
		int n = read_all(fx, &a, (uint64_t) FIRST_SEGNO * SEG_SIZE, &r, &first);

		assert_int_equal(n, find_expected(fx, LSN_MESSAGE));
		assert_int_equal(pg_walreader_end_lsn(r), LSN_MESSAGE);
		assert_non_null(strstr(pg_walreader_end_reason(r), "invalid record at 0/93C958: incorrect checksum"));
		pg_walreader_free(r);
	}

	/* In xl_tot_len of a record: the continuation lengths disagree. */
	archive_init(&a);
	a.patch = patch_flip_byte;
	a.patch_lsn = LSN_MESSAGE + 2;	/* 2240061 (0x222E3D) -> 142909 (0x022E3D) */
	expect_end_at(fx, &a, LSN_MESSAGE,
		"invalid record at 0/93C958: invalid continuation record length 2234261 (expected 137109)");
}

static void
test_walread_zeroed_tail_ends_wal(void **state)
{
	const Fixture *fx = *state;
	Archive a;

	archive_init(&a);
	a.patch = patch_zero_from;
	a.patch_lsn = LSN_RESTORE_POINT;
	expect_end_at(fx, &a, LSN_RESTORE_POINT,
		"invalid record at 0/B61190: invalid record length: expected at least 24, got 0");
}

/*
 * Read while the server writes on: the WAL "ends" where nothing is written
 * yet (a zeroed page tail); once written, pg_walreader_resume() reads on from
 * the last record, the segment read again, and every record comes exactly
 * once, as in one read to the end.  At a record's start, and inside the
 * 2.2 MB message that spans three segments.
 */
static void
test_walread_resume_after_written_on(void **state)
{
	const Fixture *fx = *state;
	const uint64_t cuts[] = {LSN_RESTORE_POINT, LSN_MESSAGE + 1500000};
	const uint64_t ends[] = {LSN_RESTORE_POINT, LSN_MESSAGE};

	for (size_t cut_idx = 0; cut_idx < 2; cut_idx++) {
		PgWalReader *r = NULL;
		PgWalRecord rec;
		Archive a;
		int first = -1, n = 0, rc;

		archive_init(&a);
		a.patch = patch_zero_from;
		a.patch_lsn = cuts[cut_idx];
		assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, (uint64_t) FIRST_SEGNO * SEG_SIZE, archive_cb, &a), 0);
		while ((rc = pg_walreader_next(r, &rec)) == 1) {
			if (first < 0)
				first = find_expected(fx, rec.lsn);
			assert_record_matches(&rec, &fx->recs[first + n++]);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(pg_walreader_end_lsn(r), ends[cut_idx]);
		assert_int_equal(first + n, find_expected(fx, ends[cut_idx]));
		/* ended stays ended until resumed */
		assert_int_equal(pg_walreader_next(r, &rec), 0);
		a.patch = NULL; /* written on */
		pg_walreader_resume(r);
		assert_string_equal(pg_walreader_end_reason(r), "");
		while ((rc = pg_walreader_next(r, &rec)) == 1) {
			assert_true(first + n < fx->n_recs);
			assert_record_matches(&rec, &fx->recs[first + n++]);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(first + n, fx->n_recs);
		pg_walreader_free(r);
	}
}

/* A source of pieces over the test archive: what the reader asked for. */
typedef struct RangeSource {
	Archive a;
	uint8_t *whole;               /* the segment as the archive has it */
	uint32_t max_want[LAST_SEGNO + 2];
	uint32_t first_have;          /* of the first call after resume_at is set */
	bool resumed;
	int calls_after_resume;
} RangeSource;

static int
range_cb(uint8_t *buf, uint32_t timeline, uint64_t segno, uint32_t have, uint32_t want, uint32_t *out_have,
	void *payload)
{
	RangeSource *s = payload;
	int rc;

	assert_true(have < want);
	assert_true(want <= SEG_SIZE);
	assert_int_equal(want % WAL_PAGE, 0);
	if (s->resumed && s->calls_after_resume++ == 0)
		s->first_have = have;
	if ((rc = archive_cb(s->whole, timeline, segno, &s->a)) < 0)
		return rc;
	memcpy(buf + have, s->whole + have, want - have);
	if (segno <= LAST_SEGNO + 1 && want > s->max_want[segno])
		s->max_want[segno] = want;
	*out_have = want;
	return 0;
}

/*
 * A source of pieces gives the records pg_waldump gives, is asked only as
 * far as the reader goes (not for the segment's rest after the switch), and
 * after a resume is asked again from the page the end was on, not from the
 * segment's start.
 */
static void
test_walread_ranged_reads_only_what_is_read(void **state)
{
	const Fixture *fx = *state;
	RangeSource s;
	PgWalReader *r = NULL;
	PgWalRecord rec;
	int first = -1, n = 0, rc;

	memset(&s, 0, sizeof(s));
	archive_init(&s.a);
	s.whole = xmalloc(SEG_SIZE);
	s.a.patch = patch_zero_from; /* written up to the restore point so far */
	s.a.patch_lsn = LSN_RESTORE_POINT;
	assert_int_equal(pg_walreader_new_ranged(&r, SEG_SIZE, TLI, (uint64_t) FIRST_SEGNO * SEG_SIZE, range_cb, &s),
		0);
	while ((rc = pg_walreader_next(r, &rec)) == 1) {
		if (first < 0)
			first = find_expected(fx, rec.lsn);
		assert_record_matches(&rec, &fx->recs[first + n++]);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(first, 0);
	assert_int_equal(pg_walreader_end_lsn(r), LSN_RESTORE_POINT);
	/* the segments before were read whole, the last only to the end so far */
	assert_int_equal(s.max_want[FIRST_SEGNO], SEG_SIZE);
	assert_int_equal(s.max_want[FIRST_SEGNO + 1], SEG_SIZE);
	assert_true(s.max_want[LAST_SEGNO] > seg_offset(LSN_RESTORE_POINT));
	assert_true(s.max_want[LAST_SEGNO] < SEG_SIZE);

	s.a.patch = NULL; /* written on */
	s.resumed = true;
	pg_walreader_resume(r);
	while ((rc = pg_walreader_next(r, &rec)) == 1) {
		assert_true(first + n < fx->n_recs);
		assert_record_matches(&rec, &fx->recs[first + n++]);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, fx->n_recs);
	/* read again from the page the end was on */
	assert_int_equal(s.first_have, seg_offset(LSN_RESTORE_POINT) / WAL_PAGE * WAL_PAGE);
	/* after the switch, the segment's rest was not asked for */
	assert_true(s.max_want[LAST_SEGNO] > seg_offset(LSN_SWITCH));
	assert_true(s.max_want[LAST_SEGNO] <= (seg_offset(LSN_SWITCH) / (SEG_SIZE / 16) + 1) * (SEG_SIZE / 16));
	assert_int_equal(pg_walreader_end_lsn(r), (uint64_t) (LAST_SEGNO + 1) * SEG_SIZE);
	assert_string_equal(pg_walreader_end_reason(r), "segment 00000001000000000000000C is not in the archive");
	pg_walreader_free(r);
	free(s.whole);
}

static void
test_walread_bad_prev_link_ends_wal(void **state)
{
	const Fixture *fx = *state;
	Archive a;

	archive_init(&a);
	a.patch = patch_prev_link;
	a.patch_lsn = LSN_AFTER_MESSAGE;	/* a 34-byte COMMIT */
	expect_end_at(fx, &a, LSN_AFTER_MESSAGE, "invalid record at 0/B61168: incorrect prev-link 0/B61160");
}

static void
test_walread_recycled_segment_ends_wal(void **state)
{
	const Fixture *fx = *state;
	Archive a;

	/* Segment A's name on B's content, as a recycled segment: its page
	 * addresses are not A's. */
	archive_init(&a);
	a.substitute_segno = 10;
	a.substitute_with = 11;
	expect_end_at(fx, &a, LSN_MESSAGE,
		"invalid record at 0/93C958: unexpected page address 0/B00000 in WAL segment "
		"00000001000000000000000A, offset 0");
}

/*
 * After a crash in the middle of writing the message, PostgreSQL 15 marks the
 * page where its rest should be with XLP_FIRST_IS_OVERWRITE_CONTRECORD and
 * writes new records there.  Simulated: the page after the message's first
 * page gets that flag and a copy of the message's COMMIT (xl_prev: the record
 * before the message), followed by zeros.
 */
#define OVERWRITE_PAGE (LSN_MESSAGE - LSN_MESSAGE % WAL_PAGE + WAL_PAGE)
#define LSN_BEFORE_MESSAGE UINT64_C(0x93C930)

static void
patch_overwrite_contrecord(uint8_t *seg, uint64_t segno, const Archive *a)
{
	uint8_t commit[34];
	uint8_t *page = seg + seg_offset(OVERWRITE_PAGE);

	(void) a;
	if (segno != FIRST_SEGNO)
		return;
	{
		/* The COMMIT of segment B, read from the fixture file. */
		uint8_t *b = xmalloc(SEG_SIZE);

		assert_int_equal(read_segment_file(b, 11), 0);
		memcpy(commit, b + seg_offset(LSN_AFTER_MESSAGE), sizeof(commit));
		free(b);
	}
	memset(page + 24, 0, WAL_PAGE - 24);
	page[2] = 0x08;	/* xlp_info: XLP_FIRST_IS_OVERWRITE_CONTRECORD */
	put_u32(page + 16, 0);	/* xlp_rem_len */
	put_u64(commit + 8, LSN_BEFORE_MESSAGE);
	fix_crc(commit, sizeof(commit));
	memcpy(page + 24, commit, sizeof(commit));
}

static void
test_walread_overwritten_contrecord(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r = NULL;
	PgWalRecord rec;
	int n = 0;
	int rc;

	archive_init(&a);
	a.patch = patch_overwrite_contrecord;
	assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, (uint64_t) FIRST_SEGNO * SEG_SIZE, archive_cb, &a), 0);
	while ((rc = pg_walreader_next(r, &rec)) == 1 && rec.lsn < LSN_MESSAGE)
		assert_record_matches(&rec, &fx->recs[n++]);
	assert_int_equal(n, find_expected(fx, LSN_MESSAGE));
	/* The message is skipped; the record on the overwrite page comes next. */
	assert_int_equal(rc, 1);
	assert_int_equal(rec.lsn, OVERWRITE_PAGE + 24);
	assert_int_equal(rec.rmid, 1);
	assert_int_equal(rec.tot_len, 34);
	assert_int_equal(pg_walreader_next(r, &rec), 0);
	assert_int_equal(pg_walreader_end_lsn(r), OVERWRITE_PAGE + 24 + 40);
	pg_walreader_free(r);
}

/*
 * Every way a page or record can be invalid, one byte changed at a time
 * (xor), with the CRC of the record recomputed when the point is to get past
 * it.  Records used: a 34-byte COMMIT at 0/92D5E0 (header, 0xFF, 8, main
 * data), a heap UPDATE at 0/93A9B8 with two block references (the second
 * SAME_REL), a heap INSERT with a full-page image at 0/9000A8.
 */
typedef struct ByteEdit {
	uint64_t lsn;
	uint8_t xor_mask;
	uint64_t crc_lsn;	/* 0: leave the CRC alone */
	uint32_t crc_len;
	const char *reason;
} ByteEdit;

#define COMMIT_LSN UINT64_C(0x92D5E0)
#define UPDATE_LSN UINT64_C(0x93A9B8)
#define FPW_LSN UINT64_C(0x9000A8)
#define PAGE_92E UINT64_C(0x92E000)
#define SEG_B (UINT64_C(11) * SEG_SIZE)

static void
patch_byte_edit(uint8_t *seg, uint64_t segno, const Archive *a)
{
	const ByteEdit *e = a->patch_ctx;

	if (segno != e->lsn / SEG_SIZE)
		return;
	seg[seg_offset(e->lsn)] ^= e->xor_mask;
	if (e->crc_lsn != 0)
		fix_crc(seg + seg_offset(e->crc_lsn), e->crc_len);
}

static void
test_walread_invalid_pages_and_records(void **state)
{
	static const ByteEdit edits[] = {
		/* page headers */
		{PAGE_92E + 0, 0x01, 0, 0, "invalid record at 0/92DD40: invalid magic number D111 "
			"in WAL segment 000000010000000000000009, offset 188416"},
		{PAGE_92E + 2, 0x20, 0, 0, "invalid record at 0/92DD40: invalid info bits 0025 "
			"in WAL segment 000000010000000000000009, offset 188416"},
		{PAGE_92E + 4, 0x01, 0, 0, "invalid record at 0/92DD40: out-of-sequence timeline 0 (after 1) "
			"in WAL segment 000000010000000000000009, offset 188416"},
		{SEG_B + 2, 0x02, 0, 0, "invalid record at 0/93C958: invalid info bits 0005 (no long header) "
			"in WAL segment 00000001000000000000000B, offset 0"},
		{SEG_B + 24, 0x01, 0, 0, "invalid record at 0/93C958: WAL of another database system "
			"(system identifier 7712505542969106031, expected 7712505542969106030) "
			"in WAL segment 00000001000000000000000B, offset 0"},
		{SEG_B + 34, 0x01, 0, 0, "invalid record at 0/93C958: incorrect segment size 1114112 in page header "
			"(expected 1048576) in WAL segment 00000001000000000000000B, offset 0"},
		{SEG_B + 37, 0x40, 0, 0, "invalid record at 0/93C958: incorrect page size 24576 in page header "
			"(expected 8192) in WAL segment 00000001000000000000000B, offset 0"},
		{0x93E002, 0x01, 0, 0, "invalid record at 0/93C958: no continuation record flag on the page at 0/93E000"},
		/* record headers */
		{COMMIT_LSN + 3, 0x40, 0, 0, "invalid record at 0/92D5E0: record length 1073741858 is too long"},
		{COMMIT_LSN + 17, 0x40, 0, 0, "invalid record at 0/92D5E0: invalid resource manager ID 65"},
		/* block headers, behind a valid CRC */
		{COMMIT_LSN + 24, 0x9B, COMMIT_LSN, 34, "invalid record at 0/92D5E0: invalid block_id 100"},
		{COMMIT_LSN + 25, 0x01, COMMIT_LSN, 34, "invalid record at 0/92D5E0: record with invalid length 34"},
		{UPDATE_LSN + 25, 0x80, UPDATE_LSN, 239,
			"invalid record at 0/93A9B8: BKPBLOCK_SAME_REL set but no previous rel"},
		{UPDATE_LSN + 25, 0x20, UPDATE_LSN, 239,
			"invalid record at 0/93A9B8: BKPBLOCK_HAS_DATA not set, but data length is 171"},
		{UPDATE_LSN + 44, 0x01, UPDATE_LSN, 239, "invalid record at 0/93A9B8: out-of-order block_id 0"},
		{FPW_LSN + 25, 0x20, FPW_LSN, 1958,
			"invalid record at 0/9000A8: BKPBLOCK_HAS_DATA set, but no data included"},
		{FPW_LSN + 29, 0x30, FPW_LSN, 1958,
			"invalid record at 0/9000A8: block image length 14192 is larger than a page"},
		{FPW_LSN + 30, 0x40, FPW_LSN, 1958, "invalid record at 0/9000A8: BKPIMAGE_HAS_HOLE set, "
			"but hole offset 0 length 6288 block image length 1904"},
		{FPW_LSN + 32, 0x01, FPW_LSN, 1958,
			"invalid record at 0/9000A8: BKPIMAGE_HAS_HOLE not set, but hole offset 64 length 6288"},
	};
	const Fixture *fx = *state;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		Archive a;
		PgWalReader *r;
		int first;
		int n;

		archive_init(&a);
		a.patch = patch_byte_edit;
		a.patch_ctx = &edits[i];
		n = read_all(fx, &a, (uint64_t) FIRST_SEGNO * SEG_SIZE, &r, &first);
		assert_true(n < fx->n_recs);
		assert_int_equal(pg_walreader_end_lsn(r), fx->recs[n].lsn);
		assert_string_equal(pg_walreader_end_reason(r), edits[i].reason);
		pg_walreader_free(r);
	}
}

/*
 * A segment after the switch whose first page says it continues a record:
 * the switch record ended exactly at the segment boundary, so nothing can.
 */
static void
patch_fake_next_segment(uint8_t *seg, uint64_t segno, const Archive *a)
{
	(void) a;
	if (segno != LAST_SEGNO + 1)
		return;
	put_u64(seg + 8, (uint64_t) segno * SEG_SIZE);	/* xlp_pageaddr */
	seg[2] |= 0x01;	/* XLP_FIRST_IS_CONTRECORD */
}

static void
test_walread_contrecord_where_record_starts(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r;
	int first;
	int n;

	archive_init(&a);
	a.substitute_segno = LAST_SEGNO + 1;
	a.substitute_with = LAST_SEGNO;
	a.patch = patch_fake_next_segment;
	n = read_all(fx, &a, (uint64_t) FIRST_SEGNO * SEG_SIZE, &r, &first);
	assert_int_equal(n, fx->n_recs);
	assert_int_equal(pg_walreader_end_lsn(r), (uint64_t) (LAST_SEGNO + 1) * SEG_SIZE);
	assert_string_equal(pg_walreader_end_reason(r),
		"invalid record at 0/C00028: a continuation record where a record should start");
	pg_walreader_free(r);
}

/* ---- decoders ---- */

static void
test_walread_xact_and_restore_point(void **state)
{
	const Fixture *fx = *state;
	Archive a;
	PgWalReader *r = NULL;
	PgWalRecord rec;
	int commits = 0, aborts = 0, prepared = 0, restore_points = 0, switches = 0;
	int64_t last_commit_time = 0;

	archive_init(&a);
	assert_int_equal(pg_walreader_new(&r, SEG_SIZE, TLI, (uint64_t) FIRST_SEGNO * SEG_SIZE, archive_cb, &a), 0);
	while (pg_walreader_next(r, &rec) == 1) {
		const Expected *e = &fx->recs[find_expected(fx, rec.lsn)];
		int64_t t = 0;
		bool commit = false;
		uint32_t xid = 0;
		char name[64];

		if (pg_wal_record_xact(&rec, &t, &commit, &xid)) {
			if (strncmp(e->desc, "COMMIT_PREPARED ", 16) == 0) {
				char *colon;
				unsigned long want_xid = strtoul(e->desc + 16, &colon, 10);

				assert_true(commit);
				assert_int_equal(xid, want_xid);
				assert_int_equal(xid, PREPARED_XID);
				assert_int_equal(rec.xid, 0);
				assert_int_equal(t, parse_utc(colon + 2));
				prepared++;
			} else if (strncmp(e->desc, "COMMIT ", 7) == 0) {
				assert_true(commit);
				assert_int_equal(xid, rec.xid);
				assert_int_equal(t, parse_utc(e->desc + 7));
				commits++;
			} else if (strncmp(e->desc, "ABORT ", 6) == 0) {
				assert_false(commit);
				assert_int_equal(xid, rec.xid);
				assert_int_equal(t, parse_utc(e->desc + 6));
				aborts++;
			} else {
				fail_msg("pg_wal_record_xact accepted \"%s\"", e->desc);
			}
			if (commit)
				last_commit_time = t;
		} else {
			assert_true(rec.rmid != 1 || strncmp(e->desc, "COMMIT", 6) != 0);
			assert_true(rec.rmid != 1 || strncmp(e->desc, "ABORT", 5) != 0);
		}
		if (pg_wal_record_restore_point(&rec, name, &t)) {
			assert_string_equal(e->desc, "RESTORE_POINT before_migration");
			assert_string_equal(name, "before_migration");
			assert_int_equal(rec.lsn, LSN_RESTORE_POINT);
			/* Made right after the message's commit. */
			assert_true(t >= last_commit_time && t < last_commit_time + 10 * 1000000);
			restore_points++;
		}
		if (pg_wal_record_is_switch(&rec)) {
			assert_int_equal(rec.lsn, LSN_SWITCH);
			assert_int_equal(rec.end_lsn, (uint64_t) (LAST_SEGNO + 1) * SEG_SIZE);
			switches++;
		}
	}
	assert_int_equal(commits, 7);
	assert_int_equal(aborts, 1);
	assert_int_equal(prepared, 1);
	assert_int_equal(restore_points, 1);
	assert_int_equal(switches, 1);
	pg_walreader_free(r);
}

static void
test_walread_decoders_reject(void **state)
{
	uint8_t data[80];
	PgWalRecord rec;
	int64_t t = 0;
	bool commit = false;
	uint32_t xid = 0;
	char name[64];

	(void) state;
	memset(&rec, 0, sizeof(rec));
	memset(data, 0, sizeof(data));
	rec.main_data = data;

	/* Not a transaction end: PREPARE (0x10), ASSIGNMENT (0x50). */
	rec.rmid = 1;
	rec.main_data_len = 8;
	rec.info = 0x10;
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	rec.info = 0x50;
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	/* Too short for xact_time, or for the xinfo it announces. */
	rec.info = 0x00;
	rec.main_data_len = 7;
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	rec.info = 0x80;
	rec.main_data_len = 10;
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	/* A subxact count larger than the data. */
	rec.main_data_len = 20;
	data[8] = 0x02;	/* XACT_XINFO_HAS_SUBXACTS */
	put_u32(data + 12, 1000);
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	put_u32(data + 12, 0xFFFFFFFFu);
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	/* Twophase announced but cut off. */
	rec.info = 0x30 | 0x80;
	data[8] = 0x10;	/* XACT_XINFO_HAS_TWOPHASE */
	rec.main_data_len = 14;
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));
	/* ... and present: the prepared xid; time 0 is 2000-01-01. */
	rec.main_data_len = 16;
	rec.xid = 5;
	put_u32(data + 12, 777);
	assert_true(pg_wal_record_xact(&rec, &t, &commit, &xid));
	assert_int_equal(xid, 777);
	assert_true(commit);
	assert_int_equal(t, INT64_C(946684800) * 1000000);
	/* Another resource manager. */
	rec.rmid = 0;
	assert_false(pg_wal_record_xact(&rec, &t, &commit, &xid));

	/* Restore point: the name is cut at 63 bytes, the record at 72. */
	rec.rmid = 0;
	rec.info = 0x70;
	memset(data + 8, 'n', 64);
	rec.main_data_len = 72;
	assert_true(pg_wal_record_restore_point(&rec, name, &t));
	assert_int_equal(strlen(name), 63);
	rec.main_data_len = 71;
	assert_false(pg_wal_record_restore_point(&rec, name, &t));
	rec.main_data_len = 72;
	rec.rmid = 1;
	assert_false(pg_wal_record_restore_point(&rec, name, &t));
	assert_false(pg_wal_record_is_switch(&rec));
	rec.rmid = 0;
	rec.info = 0x40 | 0x01;	/* XLR_SPECIAL_REL_UPDATE does not matter */
	assert_true(pg_wal_record_is_switch(&rec));
	rec.info = 0x50;
	assert_false(pg_wal_record_is_switch(&rec));
}

static void
test_crc32c_known_value(void **state)
{
	/* The standard check value of CRC-32C. */
	uint32_t crc = PG_CRC32C_INIT;

	(void) state;
	assert_int_equal(pg_crc32c("123456789", 9), 0xE3069283u);
	crc = pg_crc32c_update(crc, "1234", 4);
	crc = pg_crc32c_update(crc, "56789", 5);
	assert_int_equal(pg_crc32c_final(crc), 0xE3069283u);
	assert_int_equal(pg_crc32c("", 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_value),
		cmocka_unit_test(test_walread_matches_waldump),
		cmocka_unit_test(test_walread_spanning_records),
		cmocka_unit_test(test_walread_start_mid_segment),
		cmocka_unit_test(test_walread_skips_continuation),
		cmocka_unit_test(test_walread_start_in_missing_segment),
		cmocka_unit_test(test_walread_missing_middle_segment),
		cmocka_unit_test(test_walread_callback_error_is_retried),
		cmocka_unit_test(test_walread_corrupt_byte_ends_wal),
		cmocka_unit_test(test_walread_zeroed_tail_ends_wal),
		cmocka_unit_test(test_walread_resume_after_written_on),
		cmocka_unit_test(test_walread_ranged_reads_only_what_is_read),
		cmocka_unit_test(test_walread_bad_prev_link_ends_wal),
		cmocka_unit_test(test_walread_recycled_segment_ends_wal),
		cmocka_unit_test(test_walread_overwritten_contrecord),
		cmocka_unit_test(test_walread_invalid_pages_and_records),
		cmocka_unit_test(test_walread_contrecord_where_record_starts),
		cmocka_unit_test(test_walread_xact_and_restore_point),
		cmocka_unit_test(test_walread_decoders_reject),
	};

	return cmocka_run_group_tests_name("walread", tests, group_setup, group_teardown);
}
