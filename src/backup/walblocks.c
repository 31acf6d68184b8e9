/*
 * walblocks.c - the blocks an incremental backup must copy, read from the
 * WAL written since its parent started.
 *
 * Every change to a page of a relation is WAL-logged with a block reference
 * naming tablespace, database, relation, fork and block (wal_level replica
 * and above; unlogged relations are not backed up past their init fork).  So
 * the blocks referenced by the records from the parent's start LSN (its redo
 * point) up to the new backup's start LSN are exactly the pages whose LSN
 * moved past the parent's start: what the page-LSN scan finds, without
 * reading the unchanged pages.  Changes after the new start are replayed
 * from the set's own WAL, as for a full backup.
 *
 * Records that change relation files without naming blocks make their files
 * "whole" (read them page by page as the scan does): smgr create and
 * truncate (the relation), database create and drop (the database),
 * tablespace create and drop (the tablespace).
 *
 * Invariant: a WalBlocks is returned only when the reader went through
 * continuous, valid WAL from the parent's start to the new start on one
 * timeline; anything less (a segment in neither the archive nor pg_wal, one
 * that does not read back, another timeline, an invalid record before the
 * end) is a reason to fall back, never a partial answer.
 *
 * Memory: one entry per (relation, fork, 1 GB segment) touched, holding its
 * distinct block numbers (sorted and deduplicated whenever the array fills).
 */
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "pg/page.h"
#include "pg/wal.h"
#include "pg/walread.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PostgreSQL 15: resource managers and records that touch files without block references. */
#define RM_SMGR 2
#define RM_DBASE 4
#define RM_TBLSPC 5
#define XLR_RMGR_INFO_MASK 0xF0
#define SMGR_CREATE 0x10
#define SMGR_TRUNCATE 0x20
#define DBASE_CREATE_FILE_COPY 0x00
#define DBASE_CREATE_WAL_LOG 0x10
#define DBASE_DROP 0x20
#define DEFAULTTABLESPACE_OID 1663
#define GLOBALTABLESPACE_OID 1664

#define WHOLE_SEG UINT32_MAX  /* entry key segno meaning: every segment of the fork */

typedef struct Key {
	uint32_t spc, db, rel;
	uint32_t fork;
	uint32_t segno;
} Key;

typedef struct Entry {
	Key key;
	bool used;
	bool whole;
	uint32_t *blocks;  /* relative to the segment */
	size_t n, cap, sorted_n;
} Entry;

struct WalBlocks {
	Entry *tab;
	size_t cap, used;
	/* whole databases (spc, db) and tablespaces (spc) */
	uint32_t (*whole_db)[2];
	size_t n_whole_db;
	uint32_t *whole_spc;
	size_t n_whole_spc;
	uint64_t n_records, n_refs;
};

static uint64_t
key_hash(const Key *k)
{
	uint64_t h = 1469598103934665603ULL;
	const uint32_t v[5] = {k->spc, k->db, k->rel, k->fork, k->segno};

	for (int i = 0; i < 5; i++) {
		h ^= v[i];
		h *= 1099511628211ULL;
		h ^= h >> 29;
	}
	return h;
}

static bool
key_eq(const Key *a, const Key *b)
{
	return a->spc == b->spc && a->db == b->db && a->rel == b->rel && a->fork == b->fork && a->segno == b->segno;
}

static Entry *
lookup(WalBlocks *wb, const Key *k, bool create)
{
	size_t i;

	if (create && (wb->used + 1) * 4 >= wb->cap * 3) {
		Entry *old = wb->tab;
		size_t old_cap = wb->cap;

		wb->cap = old_cap ? old_cap * 2 : 256;
		wb->tab = xcalloc(wb->cap, sizeof(Entry));
		for (size_t j = 0; j < old_cap; j++) {
			if (!old[j].used)
				continue;
			for (i = key_hash(&old[j].key) & (wb->cap - 1); wb->tab[i].used; i = (i + 1) & (wb->cap - 1))
				;
			wb->tab[i] = old[j];
		}
		free(old);
	}
	if (wb->cap == 0)
		return NULL;
	for (i = key_hash(k) & (wb->cap - 1); wb->tab[i].used; i = (i + 1) & (wb->cap - 1))
		if (key_eq(&wb->tab[i].key, k))
			return &wb->tab[i];
	if (!create)
		return NULL;
	wb->tab[i].used = true;
	wb->tab[i].key = *k;
	wb->used++;
	return &wb->tab[i];
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
entry_compact(Entry *e)
{
	size_t out = 0;

	if (e->sorted_n == e->n)
		return;
	qsort(e->blocks, e->n, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < e->n; i++)
		if (out == 0 || e->blocks[out - 1] != e->blocks[i])
			e->blocks[out++] = e->blocks[i];
	e->n = e->sorted_n = out;
}

static void
add_block(WalBlocks *wb, uint32_t spc, uint32_t db, uint32_t rel, uint32_t fork, uint32_t blkno)
{
	Key k = {spc, db, rel, fork, blkno / PG_RELSEG_BLOCKS};
	Entry *e = lookup(wb, &k, true);
	uint32_t b = blkno % PG_RELSEG_BLOCKS;

	wb->n_refs++;
	if (e->whole)
		return;
	/* the same block over and over (a hot page): skip the obvious repeat */
	if (e->n && e->blocks[e->n - 1] == b)
		return;
	if (e->n == e->cap) {
		entry_compact(e);
		if (e->n * 2 >= e->cap) {
			e->cap = e->cap ? e->cap * 2 : 16;
			e->blocks = xrealloc(e->blocks, e->cap * sizeof(uint32_t));
		}
	}
	e->blocks[e->n++] = b;
}

static void
mark_whole_rel(WalBlocks *wb, uint32_t spc, uint32_t db, uint32_t rel, uint32_t fork)
{
	Key k = {spc, db, rel, fork, WHOLE_SEG};
	Entry *e = lookup(wb, &k, true);

	e->whole = true;
}

static void
mark_whole_db(WalBlocks *wb, uint32_t spc, uint32_t db)
{
	wb->whole_db = xrealloc(wb->whole_db, (wb->n_whole_db + 1) * sizeof(*wb->whole_db));
	wb->whole_db[wb->n_whole_db][0] = spc;
	wb->whole_db[wb->n_whole_db][1] = db;
	wb->n_whole_db++;
}

static void
mark_whole_spc(WalBlocks *wb, uint32_t spc)
{
	wb->whole_spc = xrealloc(wb->whole_spc, (wb->n_whole_spc + 1) * sizeof(uint32_t));
	wb->whole_spc[wb->n_whole_spc++] = spc;
}

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Records that change files without naming blocks. */
static void
note_file_record(WalBlocks *wb, const PgWalRecord *rec)
{
	uint8_t info = rec->info & XLR_RMGR_INFO_MASK;
	const uint8_t *d = rec->main_data;
	uint32_t len = rec->main_data_len;

	switch (rec->rmid) {
	case RM_SMGR:
		/* xl_smgr_create {RelFileNode; ForkNumber}; xl_smgr_truncate {BlockNumber; RelFileNode; int flags} */
		if (info == SMGR_CREATE && len >= 16)
			mark_whole_rel(wb, get_u32(d), get_u32(d + 4), get_u32(d + 8), get_u32(d + 12));
		else if (info == SMGR_TRUNCATE && len >= 16)
			for (uint32_t fork = 0; fork <= FORK_INIT; fork++)
				mark_whole_rel(wb, get_u32(d + 4), get_u32(d + 8), get_u32(d + 12), fork);
		break;
	case RM_DBASE:
		/* create: {Oid db_id; Oid tablespace_id; ...}; drop: {Oid db_id; int n; Oid tablespace_ids[n]} */
		if ((info == DBASE_CREATE_FILE_COPY || info == DBASE_CREATE_WAL_LOG) && len >= 8) {
			mark_whole_db(wb, get_u32(d + 4), get_u32(d));
		} else if (info == DBASE_DROP && len >= 8) {
			uint32_t n = get_u32(d + 4);
			for (uint32_t i = 0; i < n && 8 + 4 * (size_t)(i + 1) <= len; i++)
				mark_whole_db(wb, get_u32(d + 8 + 4 * i), get_u32(d));
		}
		break;
	case RM_TBLSPC:
		/* create {Oid ts_id; path}, drop {Oid ts_id} */
		if (len >= 4)
			mark_whole_spc(wb, get_u32(d));
		break;
	default:
		break;
	}
}

typedef struct Source {
	Storage *archive;
	const char *system_id;
	const char *pgdata;
	uint32_t seg_size;
	uint64_t from_archive, from_pg_wal;
	/* the segment being read from pg_wal, piece by piece */
	int fd;                   /* -1: none */
	uint64_t segno;
	dev_t dev;
	ino_t ino;
	uint64_t counted;         /* the last segment counted in from_* */
} Source;

static void
source_close(Source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * Bytes [from, to) of the segment open in pg_wal: true when read whole and the
 * file is still under its name after the read.  A segment the server recycles
 * is renamed first and rewritten later, so what was read before the name
 * moved is the segment's; after, it may be a mix, and does not count.
 */
static bool
read_local_range(Source *s, const char *path, uint8_t *buf, uint32_t from, uint32_t to)
{
	struct stat after;

	return files_read_at(s->fd, buf + from, to - from, (off_t)from) == (ssize_t)(to - from) &&
	       stat(path, &after) == 0 && after.st_ino == s->ino && after.st_dev == s->dev;
}

/*
 * A segment from the data directory's pg_wal while the server keeps it (no
 * decompression, and only as far as the reader goes: not the unused rest
 * after a WAL switch), else whole from the archive; the reader checks every
 * record's CRC either way.
 */
static int
read_segment(uint8_t *buf, uint32_t timeline, uint64_t segno, uint32_t have, uint32_t want, uint32_t *out_have,
             void *payload)
{
	Source *s = payload;
	char name[32];
	char *local;
	struct stat st;
	bool from_pg_wal = true;
	int rc;

	pg_wal_name(name, timeline, segno, s->seg_size);
	local = xasprintf("%s/pg_wal/%s", s->pgdata, name);
	if (have == 0 || s->fd < 0 || s->segno != segno) {
		/* a segment begun (again): from pg_wal if it is there */
		source_close(s);
		have = 0;
		if ((s->fd = open(local, O_RDONLY | O_CLOEXEC)) >= 0) {
			if (fstat(s->fd, &st) == 0) {
				s->segno = segno;
				s->dev = st.st_dev;
				s->ino = st.st_ino;
			} else {
				source_close(s);
			}
		}
	}
	if (s->fd >= 0 && read_local_range(s, local, buf, have, want)) {
		*out_have = want;
		rc = 0;
		goto out;
	}
	source_close(s);
	*out_have = s->seg_size;
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd;

		rc = archive_read_segment(s->archive, s->system_id, s->seg_size, timeline, segno, buf);
		from_pg_wal = false;
		if (rc == 0 || err_code() != ERR_NOT_FOUND)
			goto out;
		/* Not archived (yet): the server still has it, unless the archiver
		 * took it meanwhile and the segment was recycled: then look again. */
		if ((fd = open(local, O_RDONLY | O_CLOEXEC)) >= 0) {
			ssize_t done = files_read_at(fd, buf, s->seg_size, 0);

			close(fd);
			if (done == (ssize_t)s->seg_size) {
				from_pg_wal = true;
				rc = 0;
				goto out;
			}
		}
	}
	rc = err_set(ERR_NOT_FOUND, "WAL segment %s is neither in the archive nor in pg_wal", name);
out:
	if (rc == 0 && segno != s->counted) {
		s->counted = segno;
		if (from_pg_wal)
			s->from_pg_wal++;
		else
			s->from_archive++;
	}
	free(local);
	return rc;
}

void
walblocks_free(WalBlocks *wb)
{
	if (wb == NULL)
		return;
	for (size_t i = 0; i < wb->cap; i++)
		free(wb->tab[i].blocks);
	free(wb->tab);
	free(wb->whole_db);
	free(wb->whole_spc);
	free(wb);
}

/* 1: the range can be read; 0 with *out_reason: it cannot (the page scan instead). */
static int
walblocks_range_check(uint32_t from_timeline, uint32_t to_timeline, uint64_t from_lsn, uint64_t to_lsn,
                      char **out_reason)
{
	if (from_timeline != to_timeline) {
		*out_reason = xasprintf("the timeline changed since the parent backup (%u, now %u)", from_timeline,
		                        to_timeline);
		return 0;
	}
	if (from_lsn > to_lsn) {
		*out_reason = xstrdup("the parent backup starts after this one");
		return 0;
	}
	return 1;
}

/* Read ahead as far as the server had written: wait for this backup's start,
 * then read on (the last segment read again, since it has grown).  1: go on;
 * 0 with *out_reason; <0 (ERR_CANCELLED). */
static int
walblocks_await_start(const WalBlocksOpts *o, PgWalReader *rd, uint64_t *to_lsn, int64_t *waited_ms,
                      char **out_reason)
{
	uint32_t timeline = 0;
	int rc;

	int64_t t0 = time_now_ms();

	*to_lsn = o->to_lsn_cb(o->payload, &timeline);
	*waited_ms += time_now_ms() - t0;
	if (*to_lsn == 0)
		return err_set(ERR_CANCELLED, "the backup was cancelled");
	if ((rc = walblocks_range_check(o->from_timeline, timeline, o->from_lsn, *to_lsn, out_reason)) <= 0)
		return rc;
	pg_walreader_resume(rd);
	return 1;
}

int
walblocks_collect(WalBlocks **out, char **out_reason, const WalBlocksOpts *o)
{
	WalBlocks *wb = xcalloc(1, sizeof(*wb));
	Source src = {o->archive, o->system_id, o->pgdata, o->seg_size, 0, 0, -1, 0, 0, 0, UINT64_MAX};
	PgWalReader *rd = NULL;
	PgWalRecord rec;
	int64_t t0 = time_now_ms();
	uint64_t to_lsn = o->to_lsn_cb ? 0 : o->to_lsn;
	int64_t waited_ms = 0;     /* for this backup's start: not reading */
	bool reached = false;
	int rc;

	*out = NULL;
	*out_reason = NULL;
	if (o->to_lsn_cb == NULL && (rc = walblocks_range_check(o->from_timeline, o->to_timeline, o->from_lsn, o->to_lsn,
	                                                        out_reason)) <= 0)
		goto out;
	if ((rc = pg_walreader_new_ranged(&rd, o->seg_size, o->from_timeline, o->from_lsn, read_segment, &src)) < 0)
		goto out;
	for (;;) {
		if (to_lsn == 0 && pg_walreader_end_lsn(rd) >= o->ahead_lsn &&
		    (rc = walblocks_await_start(o, rd, &to_lsn, &waited_ms, out_reason)) <= 0)
			goto out;
		rc = pg_walreader_next(rd, &rec);
		if (rc == 0 && to_lsn == 0) {
			/* the end of what is written so far, before ahead_lsn: on from there */
			if ((rc = walblocks_await_start(o, rd, &to_lsn, &waited_ms, out_reason)) <= 0)
				goto out;
			continue;
		}
		if (rc != 1)
			break;
		if (to_lsn != 0 && rec.lsn >= to_lsn) {
			reached = true;
			break;
		}
		wb->n_records++;
		for (int i = 0; i < rec.n_blocks; i++) {
			const PgWalBlockRef *b = &rec.blocks[i];
			add_block(wb, b->spc_oid, b->db_oid, b->rel_node, b->fork, b->blkno);
		}
		if (rec.rmid == RM_SMGR || rec.rmid == RM_DBASE || rec.rmid == RM_TBLSPC)
			note_file_record(wb, &rec);
		if (o->cancel_cb && (wb->n_records & 0xFFFF) == 0 && o->cancel_cb(o->payload)) {
			rc = err_set(ERR_CANCELLED, "the backup was cancelled");
			goto out;
		}
	}
	if (rc < 0) {
		/* A segment in neither place (a gap), or one that does not read back
		 * (damaged, the storage failing): the page scan needs no WAL, so this
		 * is a reason to fall back, not a failure of the backup. */
		if (err_code() != ERR_CANCELLED) {
			*out_reason = xstrdup(err_message());
			rc = 0;
		}
		goto out;
	}
	if (!reached && pg_walreader_end_lsn(rd) < to_lsn) {
		char at[32];
		pg_lsn_format(at, pg_walreader_end_lsn(rd));
		*out_reason = xasprintf("the WAL ends at %s: %s", at,
		                        pg_walreader_end_reason(rd)[0] ? pg_walreader_end_reason(rd) : "no more WAL");
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < wb->cap; i++)
		if (wb->tab[i].used)
			entry_compact(&wb->tab[i]);
	log_info("changed blocks from WAL: %" PRIu64 " records, %" PRIu64 " block references, %" PRIu64
	         " segments (%" PRIu64 " from pg_wal) in %.1f s",
	         wb->n_records, wb->n_refs, src.from_archive + src.from_pg_wal, src.from_pg_wal,
	         (double)(time_now_ms() - t0 - waited_ms) / 1000.0);
	*out = wb;
	wb = NULL;
	rc = 0;
out:
	source_close(&src);
	pg_walreader_free(rd);
	walblocks_free(wb);
	return rc;
}

static bool
parse_oid_component(const char **p, uint32_t *out)
{
	uint64_t v = 0;
	const char *q = *p;

	if (*q < '0' || *q > '9')
		return false;
	while (*q >= '0' && *q <= '9') {
		v = v * 10 + (uint64_t)(*q++ - '0');
		if (v > UINT32_MAX)
			return false;
	}
	if (*q != '/')
		return false;
	*out = (uint32_t)v;
	*p = q + 1;
	return true;
}

/* "base/<db>/<rel>", "global/<rel>", "pg_tblspc/<spc>/<version dir>/<db>/<rel>" -> key. */
static bool
parse_path(const char *path, Key *k)
{
	const char *p = path, *base = strrchr(path, '/');
	uint32_t rel, seg;
	int fork;

	if (base == NULL || !files_relation_name(base + 1, &rel, &fork, &seg))
		return false;
	if (str_starts_with(p, "global/")) {
		p += 7;
		k->spc = GLOBALTABLESPACE_OID;
		k->db = 0;
	} else if (str_starts_with(p, "base/")) {
		p += 5;
		k->spc = DEFAULTTABLESPACE_OID;
		if (!parse_oid_component(&p, &k->db))
			return false;
	} else if (str_starts_with(p, "pg_tblspc/")) {
		p += 10;
		if (!parse_oid_component(&p, &k->spc) || (p = strchr(p, '/')) == NULL)
			return false;
		p++;
		if (!parse_oid_component(&p, &k->db))
			return false;
	} else {
		return false;
	}
	if (p != base + 1)
		return false;
	k->rel = rel;
	k->fork = (uint32_t)fork;
	k->segno = seg;
	return true;
}

WalBlocksAnswer
walblocks_lookup(const WalBlocks *wb_const, const char *path, BlockRanges *out)
{
	WalBlocks *wb = (WalBlocks *)wb_const; /* lookup without create does not change it */
	Key k, whole;
	Entry *e;

	memset(out, 0, sizeof(*out));
	if (!parse_path(path, &k))
		return WB_WHOLE;
	for (size_t i = 0; i < wb->n_whole_spc; i++)
		if (wb->whole_spc[i] == k.spc)
			return WB_WHOLE;
	for (size_t i = 0; i < wb->n_whole_db; i++)
		if (wb->whole_db[i][0] == k.spc && wb->whole_db[i][1] == k.db)
			return WB_WHOLE;
	whole = k;
	whole.segno = WHOLE_SEG;
	if ((e = lookup(wb, &whole, false)) != NULL && e->whole)
		return WB_WHOLE;
	if ((e = lookup(wb, &k, false)) != NULL)
		for (size_t i = 0; i < e->n; i++)
			ranges_append(out, e->blocks[i]);
	return WB_BLOCKS;
}
