/*
 * files.c - what goes into a physical backup set, the page checks and the
 * incremental copy of a file (the whole-file copy, in chunks, is copy.c).
 *
 * The exclusions follow PostgreSQL 15's own base backup (basebackup.c):
 * runtime directories keep only their entry, postmaster and temporary files
 * are skipped, unlogged relations keep only their init fork.  Pages are
 * verified against their checksums as they are read; a page that fails is
 * read again (it may be torn by a concurrent write) and, if it still fails,
 * accepted only when its LSN is at or after the backup's start, since WAL
 * replay will then overwrite it from a full-page image.
 */
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "pg/page.h"
#include "pg/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directories whose contents are not backed up (their entry is). */
static const char *const excluded_dir_contents[] = {
	"pg_notify", "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans",
	"pg_replslot", "pg_dynshmem", "pg_wal", NULL,
};

/* Files never backed up, at any level. */
static const char *const excluded_files[] = {
	"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map",
	"backup_manifest", "postgresql.auto.conf.tmp", "current_logfiles.tmp",
	"backup_label.old", NULL,
};

static bool
in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

bool
files_relation_name(const char *name, uint32_t *out_relfilenode, int *out_fork, uint32_t *out_segno)
{
	const char *p = name;
	uint64_t rel = 0, seg = 0;
	int fork = FORK_MAIN;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		rel = rel * 10 + (uint64_t)(*p++ - '0');
		if (rel > UINT32_MAX)
			return false;
	}
	if (*p == '_') {
		if (strncmp(p, "_fsm", 4) == 0) {
			fork = FORK_FSM;
			p += 4;
		} else if (strncmp(p, "_vm", 3) == 0) {
			fork = FORK_VM;
			p += 3;
		} else if (strncmp(p, "_init", 5) == 0) {
			fork = FORK_INIT;
			p += 5;
		} else {
			return false;
		}
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9') {
			seg = seg * 10 + (uint64_t)(*p++ - '0');
			if (seg > 1000000)
				return false;
		}
	}
	if (*p != '\0')
		return false;
	if (out_relfilenode)
		*out_relfilenode = (uint32_t)rel;
	if (out_fork)
		*out_fork = fork;
	if (out_segno)
		*out_segno = (uint32_t)seg;
	return true;
}

/* Sorted names of a directory (without . and ..). */
static int
list_dir(StrList *out, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return err_errno(errno, "could not open directory \"%s\"", dir);
	while ((errno = 0, de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strlist_add(out, de->d_name);
	if (errno) {
		int rc = err_errno(errno, "could not read directory \"%s\"", dir);
		closedir(d);
		return rc;
	}
	closedir(d);
	strlist_sort(out);
	return 0;
}

static bool
is_temp_name(const char *name)
{
	/* pgsql_tmp files and directories; temporary relations t<backend>_<relfilenode> */
	if (str_starts_with(name, "pgsql_tmp"))
		return true;
	if (name[0] == 't' && name[1] >= '0' && name[1] <= '9') {
		const char *u = strchr(name, '_');
		return u != NULL && files_relation_name(u + 1, NULL, NULL, NULL);
	}
	return false;
}

static void
add_entry(Manifest *m, const char *rel, ManifestKind kind, const struct stat *st)
{
	ManifestFile *f = manifest_add_file(m, rel, kind);

	f->mode = st->st_mode & 07777;
	f->mtime = st->st_mtime;
	if (kind == MF_FILE || kind == MF_SPARSE)
		f->size = (uint64_t)st->st_size;
}

/* The stat of names [from, to) of a directory, relative to its descriptor,
 * into st[i - base]: st_errs[i - base] is 0, the errno, or -1 for a name not
 * backed up. */
typedef struct StatRun {
	int dfd;
	const StrList *names;
	size_t base, from, to;
	struct stat *st;
	int *st_errs;
} StatRun;

static void
stat_run(const StatRun *r)
{
	for (size_t i = r->from; i < r->to; i++) {
		const char *name = r->names->items[i];
		int *err = &r->st_errs[i - r->base];

		*err = 0;
		if (in_list(excluded_files, name) || is_temp_name(name) || str_starts_with(name, "pg_internal.init"))
			*err = -1;
		else if (fstatat(r->dfd, name, &r->st[i - r->base], AT_SYMLINK_NOFOLLOW) < 0)
			*err = errno;
	}
}

static void *
stat_run_main(void *arg)
{
	stat_run(arg);
	return NULL;
}

/* Names statted by two threads when there are this many: the walk is system
 * calls, and the second core is idle while it runs. */
#define SCAN_SPLIT_NAMES 256
/* Names statted at a time: the stat results of a directory of 100,000 files
 * would take 15 MiB. */
#define SCAN_BLOCK_NAMES 1024

/* Stat names [from, to) (at most SCAN_BLOCK_NAMES) into st, st_errs. */
static void
stat_block(int dfd, const StrList *names, size_t from, size_t to, struct stat *st, int *st_errs)
{
	StatRun halves[2] = {{dfd, names, from, from, to, st, st_errs}};
	pthread_t helper;
	bool helped = false;

	if (to - from >= SCAN_SPLIT_NAMES) {
		halves[1] = halves[0];
		halves[0].to = halves[1].from = from + (to - from) / 2;
		helped = pthread_create(&helper, NULL, stat_run_main, &halves[1]) == 0;
		if (!helped)
			halves[0].to = to;
	}
	stat_run(&halves[0]);
	if (helped)
		pthread_join(helper, NULL);
}

/* A database directory: base/<oid> or pg_tblspc/<spc>/<version>/<oid>. */
static int
scan_db_dir(Manifest *m, const char *full, const char *rel, bool included)
{
	StrList names = {0};
	uint32_t *unlogged = NULL; /* relfilenodes with an init fork */
	size_t n_unlogged = 0;
	Buf crel = BUF_INIT;
	size_t rel_len;
	size_t block = 0;         /* the first name of the block in sts */
	struct stat *sts;
	int *st_errs;
	int dfd, rc;

	if ((rc = list_dir(&names, full)) < 0)
		return rc;
	/* each file's stat from the directory's descriptor: a lookup of one name,
	 * not of the whole path (a walk of 8,000 files, half its time) */
	if ((dfd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = err_errno(errno, "could not open directory \"%s\"", full);
		strlist_free(&names);
		return rc;
	}
	for (size_t i = 0; i < names.count; i++) {
		uint32_t relnode;
		int fork;
		if (files_relation_name(names.items[i], &relnode, &fork, NULL) && fork == FORK_INIT) {
			unlogged = xrealloc(unlogged, (n_unlogged + 1) * sizeof(*unlogged));
			unlogged[n_unlogged++] = relnode;
		}
	}
	sts = xmalloc(SCAN_BLOCK_NAMES * sizeof(*sts));
	st_errs = xmalloc(SCAN_BLOCK_NAMES * sizeof(*st_errs));
	buf_puts(&crel, rel);
	buf_putc(&crel, '/');
	rel_len = crel.len;
	for (size_t i = 0; i < names.count; i++) {
		const char *name = names.items[i];
		const struct stat *st_p;
		int st_err;
		uint32_t relnode;
		int fork;

		if (i % SCAN_BLOCK_NAMES == 0) {
			block = i;
			stat_block(dfd, &names, i, names.count - i < SCAN_BLOCK_NAMES ? names.count : i + SCAN_BLOCK_NAMES, sts,
			           st_errs);
		}
		st_p = &sts[i - block];
		st_err = st_errs[i - block];
		if (st_err != 0) {
			if (st_err > 0 && st_err != ENOENT) {
				char *cfull = path_join(full, name);
				rc = err_errno(st_err, "could not stat file \"%s\"", cfull);
				free(cfull);
				break;
			}
			continue;
		}
		crel.len = rel_len;
		buf_puts(&crel, name);
		if (S_ISDIR(st_p->st_mode)) {
			add_entry(m, crel.data, MF_DIR, st_p);
			continue;
		}
		if (!S_ISREG(st_p->st_mode))
			continue;
		if (files_relation_name(name, &relnode, &fork, NULL)) {
			bool skip = false;
			/* an unlogged relation's other forks are not backed up */
			for (size_t k = 0; fork != FORK_INIT && k < n_unlogged && !skip; k++)
				skip = unlogged[k] == relnode;
			if (!skip)
				add_entry(m, crel.data, included ? MF_FILE : MF_SPARSE, st_p);
		} else {
			add_entry(m, crel.data, MF_FILE, st_p);
		}
	}
	close(dfd);
	buf_free(&crel);
	strlist_free(&names);
	free(sts);
	free(st_errs);
	free(unlogged);
	return rc;
}

static bool
parse_oid(const char *s, uint32_t *out)
{
	uint32_t node;
	int fork;
	uint32_t seg;

	if (!files_relation_name(s, &node, &fork, &seg) || fork != FORK_MAIN || strchr(s, '.'))
		return false;
	*out = node;
	return true;
}

/*
 * Generic directory walk.  depth_to_db: how many levels below this directory
 * the database directories are (1 under base/, 2 under a tablespace), or -1
 * when none are.
 */
static int
scan_dir(Manifest *m, const ScanOpts *o, const char *full, const char *rel, int depth_to_db, bool top)
{
	StrList names = {0};
	int rc;

	if ((rc = list_dir(&names, full)) < 0)
		return rc;
	for (size_t i = 0; i < names.count && rc == 0; i++) {
		const char *name = names.items[i];
		char *cfull = path_join(full, name);
		char *crel = rel[0] ? path_join(rel, name) : xstrdup(name);
		struct stat st;
		uint32_t oid;

		if (in_list(excluded_files, name) || is_temp_name(name) || str_starts_with(name, "pg_internal.init") ||
		    strcmp(crel, "global/pg_control") == 0)
			goto next;
		if (lstat(cfull, &st) < 0) {
			if (errno != ENOENT)
				rc = err_errno(errno, "could not stat file \"%s\"", cfull);
			goto next;
		}
		if (S_ISLNK(st.st_mode) && strcmp(rel, "pg_tblspc") == 0) {
			char target[4096];
			ssize_t n = readlink(cfull, target, sizeof(target) - 1);
			if (n < 0) {
				rc = err_errno(errno, "could not read symbolic link \"%s\"", cfull);
				goto next;
			}
			target[n] = '\0';
			if (stat(cfull, &st) < 0) {
				rc = err_errno(errno, "could not stat tablespace \"%s\"", target);
				goto next;
			}
			ManifestFile *f = manifest_add_file(m, crel, MF_LINK);
			f->link_target = xstrdup(target);
			f->mode = st.st_mode & 07777; /* the location's own mode, applied on restore */
			rc = scan_dir(m, o, cfull, crel, 2, false);
			goto next;
		}
		if (S_ISLNK(st.st_mode) && stat(cfull, &st) < 0) {
			log_warning("skipping dangling symbolic link \"%s\"", cfull);
			goto next;
		}
		if (S_ISDIR(st.st_mode)) {
			add_entry(m, crel, MF_DIR, &st);
			if (top && in_list(excluded_dir_contents, name)) {
				if (strcmp(name, "pg_wal") == 0) {
					char *as = path_join(cfull, "archive_status");
					struct stat ast;
					if (stat(as, &ast) == 0)
						add_entry(m, "pg_wal/archive_status", MF_DIR, &ast);
					free(as);
				}
				goto next;
			}
			if (depth_to_db == 1 && parse_oid(name, &oid))
				rc = scan_db_dir(m, cfull, crel, o->whole_instance || manifest_db_included(m, oid));
			else
				rc = scan_dir(m, o, cfull, crel,
				              top && strcmp(name, "base") == 0 ? 1 : (depth_to_db > 1 ? depth_to_db - 1 : -1),
				              false);
			goto next;
		}
		if (S_ISREG(st.st_mode))
			add_entry(m, crel, MF_FILE, &st);
next:
		free(cfull);
		free(crel);
	}
	strlist_free(&names);
	return rc;
}

int
files_scan(Manifest *m, const ScanOpts *o)
{
	char *ctl = path_join(o->pgdata, "global/pg_control");
	struct stat st;
	int rc;

	if ((rc = scan_dir(m, o, o->pgdata, "", -1, true)) < 0)
		goto out;
	if (stat(ctl, &st) < 0) {
		rc = err_errno(errno, "could not stat file \"%s\"", ctl);
		goto out;
	}
	add_entry(m, "global/pg_control", MF_FILE, &st);
out:
	free(ctl);
	return rc;
}

ssize_t
files_read_at(int fd, uint8_t *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

uint32_t
files_check_pages(const CopyCtx *ctx, int fd, const char *path, uint8_t *chunk, size_t len, off_t off,
                  uint32_t first_blk)
{
	uint32_t bad = 0;

	for (size_t p = 0; p + PG_PAGE_SIZE <= len; p += PG_PAGE_SIZE) {
		uint8_t *page = chunk + p;
		uint32_t blk = first_blk + (uint32_t)(p / PG_PAGE_SIZE);

		if (pg_page_verify(page, blk))
			continue;
		/* Torn by a concurrent write? Read it again a few times. */
		for (int attempt = 0; attempt < 5 && !pg_page_verify(page, blk); attempt++) {
			usleep(1000 * (useconds_t)attempt);
			if (files_read_at(fd, page, PG_PAGE_SIZE, off + (off_t)p) != PG_PAGE_SIZE)
				break;
		}
		if (pg_page_verify(page, blk) || pg_page_lsn(page) >= ctx->start_lsn)
			continue;
		log_warning("invalid page checksum in file \"%s\", block %u", path, blk);
		bad++;
	}
	return bad;
}

void
files_progress(CopyCtx *ctx, bool force)
{
	uint64_t done;

	if (ctx->progress_cb == NULL || (!force && time_now_ms() - ctx->last_progress_ms < 500))
		return;
	done = atomic_load(&ctx->bytes_done);
	ctx->last_progress_ms = time_now_ms();
	ctx->progress_cb(done, ctx->bytes_total > done ? ctx->bytes_total : done, atomic_load(&ctx->files_done),
	                 ctx->payload);
}

/* The fork of path when it is a relation file of a database, the shared catalogs or a tablespace; else -1. */
static int
relation_fork(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint32_t relnode, segno;
	int fork;

	if (!(str_starts_with(path, "base/") || str_starts_with(path, "global/") || str_starts_with(path, "pg_tblspc/")))
		return -1;
	return files_relation_name(base, &relnode, &fork, &segno) ? fork : -1;
}

bool
files_incremental_candidate(const char *path)
{
	int fork = relation_fork(path);

	/* The free space map is not WAL-logged and visibility-map bits are cleared
	 * without a new page LSN: both forks are copied whole (or reused unchanged). */
	return fork == FORK_MAIN || fork == FORK_INIT;
}

bool
files_map_fork(const char *path)
{
	int fork = relation_fork(path);

	return fork == FORK_FSM || fork == FORK_VM;
}

static void parent_parts(const ManifestFile *pf, const char *parent_id, ManifestPart **out, size_t *n);

int
files_reuse_unchanged(CopyCtx *ctx, ManifestFile *f, const ManifestFile *pf, const char *parent_id,
                      int64_t changed_before, bool *out_reused)
{
	ManifestPart *parts = NULL;
	size_t n_parts = 0;

	/* the size and mtime the walk found (after the backup started), as the
	 * parent recorded them, and older than the parent's start */
	*out_reused = false;
	if (changed_before <= 0 || (pf->kind != MF_FILE && pf->kind != MF_INCR) || pf->size % PG_PAGE_SIZE != 0 ||
	    pf->mtime > changed_before - 2 || f->kind != MF_FILE || f->size != pf->size || f->mtime != pf->mtime)
		return 0; /* copied whole; a file gone meanwhile is the copy's to report */
	f->kind = MF_INCR;
	parent_parts(pf, parent_id, &parts, &n_parts);
	for (size_t i = 0; i < n_parts; i++) {
		if (parts[i].blocks.n)
			manifest_file_add_part(f, parts[i].set_id, &parts[i].blocks);
		free(parts[i].set_id);
		ranges_free(&parts[i].blocks);
	}
	free(parts);
	atomic_fetch_add(&ctx->bytes_done, f->size);
	*out_reused = true;
	return 0;
}

/* The parts of the parent's version: which set holds each of its blocks. */
static void
parent_parts(const ManifestFile *pf, const char *parent_id, ManifestPart **out, size_t *n)
{
	if (pf->kind == MF_INCR) {
		*out = xcalloc(pf->n_parts + 1, sizeof(**out));
		for (size_t i = 0; i < pf->n_parts; i++) {
			(*out)[i].set_id = xstrdup(pf->parts[i].set_id);
			for (size_t k = 0; k < pf->parts[i].blocks.n; k++)
				ranges_append_range(&(*out)[i].blocks, pf->parts[i].blocks.r[k].first, pf->parts[i].blocks.r[k].last);
		}
		*n = pf->n_parts;
		return;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)[0].set_id = xstrdup(parent_id);
	if (pf->size >= PG_PAGE_SIZE)
		ranges_append_range(&(*out)[0].blocks, 0, (uint32_t)(pf->size / PG_PAGE_SIZE - 1));
	*n = 1;
}

/*
 * The pages an incremental stores of one file, as a framed container: up to
 * COPY_CHUNK_BYTES of pages gathered in a pool slot (a) make one batch, which
 * a task compresses into one frame (b) on any worker, as a full backup's
 * chunks are.  The owner keeps reading while up to COPY_WINDOW batches are in
 * flight and writes their frames in order, so the changed pages of one large
 * file (an index whose pages compress slowly) are compressed by every worker,
 * not by its owner alone.  No compression context is made per file, and the
 * memory is the pool's slots.
 */
typedef struct IncrBatch {
	PoolTask task;            /* first: the task is the batch */
	const CopyCtx *ctx;
	PoolSlot *slot;           /* a: the pages, b: their frame */
	size_t len;
	size_t frame_len;
} IncrBatch;

typedef struct IncrOut {
	CopyCtx *ctx;
	Pool *pool;
	int worker_idx;
	ManifestFile *f;
	const char *object;
	const char *full;
	int fd;
	uint32_t segno;
	uint8_t *buf;             /* the worker's COPY_BUF_SIZE bytes */
	IoFrameWriter *fw;        /* once a page is stored */
	PoolSlot *cur;            /* the batch being gathered */
	size_t batch;             /* bytes of pages in cur->a */
	size_t window;            /* batches in flight at most */
	size_t next_submit, next_write;
	IncrBatch *ring;          /* window batches, made with the frame writer */
} IncrOut;

static int
incr_batch_run(PoolTask *t, int worker_idx)
{
	IncrBatch *c = (IncrBatch *)t;

	c->frame_len = c->len;
	return io_frame_encode(c->ctx->codecs[worker_idx], c->slot->b, copy_slot_bytes(), &c->frame_len, c->slot->a,
	                       c->len);
}

/* The oldest batch in flight: waited for, its frame written (unless write is
 * false: winding down after an error), its slot given back. */
static int
incr_retire(IncrOut *o, bool write)
{
	IncrBatch *c = &o->ring[o->next_write % o->window];
	int rc = pool_wait(o->pool, &c->task);

	if (rc == 0 && write)
		rc = io_frame_writer_put(o->fw, c->slot->a, c->len, c->slot->b, c->frame_len);
	pool_slot_give(o->pool, c->slot);
	o->next_write++;
	return rc;
}

/* The gathered batch handed to the pool (without compression: written now,
 * nothing is ever in flight then). */
static int
incr_submit(IncrOut *o)
{
	IncrBatch *c;
	int rc;

	if (o->batch == 0)
		return 0;
	if (o->ctx->compress == IO_COMPRESS_NONE) {
		rc = io_frame_writer_put(o->fw, o->cur->a, o->batch, o->cur->a, o->batch);
		o->batch = 0;
		return rc;
	}
	if (o->next_submit - o->next_write >= o->window && (rc = incr_retire(o, true)) < 0)
		return rc;
	c = &o->ring[o->next_submit % o->window];
	memset(c, 0, sizeof(*c));
	c->task.run = incr_batch_run;
	c->ctx = o->ctx;
	c->slot = o->cur;
	c->len = o->batch;
	o->cur = NULL;
	o->batch = 0;
	pool_submit(o->pool, &c->task);
	o->next_submit++;
	return 0;
}

/* A slot for the next batch: waiting only with nothing in flight (pool.h),
 * else by retiring the oldest batch. */
static int
incr_take_slot(IncrOut *o)
{
	while (o->cur == NULL) {
		bool idle = o->next_submit == o->next_write;
		int rc;

		if ((o->cur = pool_slot_take(o->pool, idle)) != NULL)
			break;
		if (idle)
			return err_set(ERR_CANCELLED, "stopped after an error elsewhere");
		if ((rc = incr_retire(o, true)) < 0)
			return rc;
	}
	return 0;
}

/* Every batch written, in order. */
static int
incr_flush(IncrOut *o)
{
	int rc = incr_submit(o);

	while (rc == 0 && o->next_write < o->next_submit)
		rc = incr_retire(o, true);
	return rc;
}

/* After an error: every task waited for, every slot given back. */
static void
incr_wind_down(IncrOut *o)
{
	while (o->next_write < o->next_submit)
		(void)incr_retire(o, false);
	if (o->cur) {
		pool_slot_give(o->pool, o->cur);
		o->cur = NULL;
	}
}

static int
incr_store(IncrOut *o, const uint8_t *page, uint32_t blk)
{
	int rc;

	if (o->fw == NULL) {
		StorageWriteOpts wopts = {.no_sync = true};
		IoWriter *sink = NULL;

		if ((rc = storage_write_open(o->ctx->storage, &sink, o->object, &wopts)) < 0)
			return rc;
		if ((rc = io_frame_writer_new(&o->fw, sink, o->ctx->compress, o->ctx->checksum)) < 0)
			return rc; /* the frame writer owns the sink even on failure */
		o->ring = xcalloc(o->window, sizeof(*o->ring));
	}
	if (o->batch + PG_PAGE_SIZE > COPY_CHUNK_BYTES && (rc = incr_submit(o)) < 0)
		return rc;
	if (o->cur == NULL && (rc = incr_take_slot(o)) < 0)
		return rc;
	memcpy(o->cur->a + o->batch, page, PG_PAGE_SIZE);
	o->batch += PG_PAGE_SIZE;
	ranges_append(&o->f->blocks, blk);
	return 0;
}

/* --detect compare: one page below the parent's length, judged by the scan
 * (one worker: the counts are not shared with another thread). */
static void
compare_page(CopyCtx *ctx, const char *path, const BlockRanges *named_blocks, const uint8_t *page, uint32_t blk,
             bool stored)
{
	IncrCompare *c = ctx->compare;
	bool named = ranges_contains(named_blocks, blk);

	c->scan_blocks += stored;
	c->wal_blocks += named;
	if (named && !stored)
		c->only_wal++;
	if (!stored || named)
		return;
	if (pg_page_is_new(page)) {
		c->missing_zero++;
	} else if (pg_page_lsn(page) >= c->until_lsn) {
		c->missing_after_start++;
	} else {
		char lsn[32];
		pg_lsn_format(lsn, pg_page_lsn(page));
		if (c->missing++ == 0)
			snprintf(c->first_missing, sizeof(c->first_missing), "%s block %u (page LSN %s)", path, blk, lsn);
	}
}

/* The page-LSN scan: every page read, the changed ones stored; with
 * compare_with, compared with those blocks. */
static int
incr_scan(IncrOut *o, uint64_t limit, uint32_t parent_blocks, uint64_t since_lsn, const BlockRanges *compare_with,
          uint64_t *out_done)
{
	CopyCtx *ctx = o->ctx;
	uint64_t done = 0;
	int rc;

	posix_fadvise(o->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (done < limit) {
		size_t want = limit - done < COPY_BUF_SIZE ? (size_t)(limit - done) : COPY_BUF_SIZE;
		uint32_t first = (uint32_t)(done / PG_PAGE_SIZE);
		ssize_t n;

		/* the next megabyte read ahead while this one is checked and compressed */
		if (done + want < limit)
			posix_fadvise(o->fd, (off_t)(done + want), COPY_BUF_SIZE, POSIX_FADV_WILLNEED);
		n = files_read_at(o->fd, o->buf, want, (off_t)done);
		if (n < 0)
			return err_errno(errno, "could not read file \"%s\"", o->full);
		n -= n % PG_PAGE_SIZE; /* a page being added right now: WAL replay brings it */
		if (n == 0)
			break;
		copy_read_done(ctx, (uint64_t)n);
		if (ctx->verify_checksums)
			o->f->page_errors += files_check_pages(ctx, o->fd, o->full, o->buf, (size_t)n, (off_t)done,
			                                       o->segno * PG_RELSEG_BLOCKS + first);
		for (size_t page_off = 0; page_off < (size_t)n; page_off += PG_PAGE_SIZE) {
			const uint8_t *page = o->buf + page_off;
			uint32_t blk = first + (uint32_t)(page_off / PG_PAGE_SIZE);
			/* Without data checksums or wal_log_hints, VACUUM sets PD_ALL_VISIBLE
			 * (pd_flags 0x0004) without a new page LSN, while the visibility map
			 * (copied whole) gets its bit: such pages go in too, or the restored
			 * map would claim pages whose flag says otherwise. */
			bool store = !(blk < parent_blocks && !pg_page_is_new(page) && pg_page_lsn(page) <= since_lsn &&
			               !(ctx->hints_unlogged && (page[10] & 0x04)));

			if (compare_with && blk < parent_blocks)
				compare_page(ctx, o->f->path, compare_with, page, blk, store);
			if (store && (rc = incr_store(o, page, blk)) < 0)
				return rc;
		}
		done += (uint64_t)n;
		atomic_fetch_add(&ctx->bytes_done, (uint64_t)n);
		if (pool_stopping(o->pool))
			return err_set(ERR_CANCELLED, "stopped after an error elsewhere");
	}
	*out_done = done;
	return 0;
}

/* Read and store the pages [first, first + count) of the file. */
static int
incr_read_run(IncrOut *o, uint32_t first, uint32_t count, bool *out_short)
{
	CopyCtx *ctx = o->ctx;
	const uint32_t per_read = COPY_BUF_SIZE / PG_PAGE_SIZE;
	int rc;

	while (count > 0) {
		uint32_t k = count < per_read ? count : per_read;
		off_t off = (off_t)first * PG_PAGE_SIZE;
		ssize_t n = files_read_at(o->fd, o->buf, (size_t)k * PG_PAGE_SIZE, off);

		if (n < 0)
			return err_errno(errno, "could not read file \"%s\"", o->full);
		n -= n % PG_PAGE_SIZE;
		copy_read_done(ctx, (uint64_t)n);
		if (ctx->verify_checksums && n > 0)
			o->f->page_errors += files_check_pages(ctx, o->fd, o->full, o->buf, (size_t)n, off,
			                                       o->segno * PG_RELSEG_BLOCKS + first);
		for (size_t p = 0; p < (size_t)n; p += PG_PAGE_SIZE)
			if ((rc = incr_store(o, o->buf + p, first + (uint32_t)(p / PG_PAGE_SIZE))) < 0)
				return rc;
		if ((size_t)n < (size_t)k * PG_PAGE_SIZE) {
			*out_short = true; /* truncated meanwhile: WAL replay restores what is needed */
			return 0;
		}
		if (pool_stopping(o->pool))
			return err_set(ERR_CANCELLED, "stopped after an error elsewhere");
		first += k;
		count -= k;
	}
	return 0;
}

/* Only the pages the WAL named, and those beyond the parent's length. */
static int
incr_from_wal(IncrOut *o, uint64_t limit, uint32_t parent_blocks, const BlockRanges *changed, uint64_t *out_done)
{
	uint32_t blocks = (uint32_t)(limit / PG_PAGE_SIZE);
	uint32_t below = parent_blocks < blocks ? parent_blocks : blocks;
	bool short_read = false;
	int rc;

	for (size_t i = 0; i < changed->n && !short_read; i++) {
		uint32_t first = changed->r[i].first, last = changed->r[i].last;
		if (first >= below)
			break;
		if (last >= below)
			last = below - 1;
		if ((rc = incr_read_run(o, first, last - first + 1, &short_read)) < 0)
			return rc;
	}
	if (!short_read && blocks > parent_blocks &&
	    (rc = incr_read_run(o, parent_blocks, blocks - parent_blocks, &short_read)) < 0)
		return rc;
	*out_done = (uint64_t)blocks * PG_PAGE_SIZE;
	atomic_fetch_add(&o->ctx->bytes_done, limit);
	return 0;
}

int
files_copy_incremental(CopyCtx *ctx, Pool *p, int worker_idx, ManifestFile *f, const ManifestFile *pf,
                       const char *parent_id, uint64_t since_lsn, const char *set_id, const BlockRanges *changed)
{
	char *full = NULL, *object = NULL;
	const char *base = strrchr(f->path, '/') + 1;
	IncrOut out = {.ctx = ctx, .pool = p, .worker_idx = worker_idx, .f = f, .fd = -1};
	IoContainerInfo info;
	ManifestPart *pparts = NULL;
	size_t n_pparts = 0;
	struct stat st;
	uint32_t relnode, parent_blocks;
	int fork;
	uint64_t done = 0;
	int rc = 0;

	out.window = COPY_WINDOW(ctx->jobs) < COPY_WINDOW_MAX ? COPY_WINDOW(ctx->jobs) : COPY_WINDOW_MAX;
	files_relation_name(base, &relnode, &fork, &out.segno);
	if (changed && ctx->compare == NULL && changed->n == 0 && f->size == pf->size && f->size % PG_PAGE_SIZE == 0) {
		/* The WAL names no page of it and its length (the scan's, after the backup
		 * started) is the parent's: every page is the parent's.  Not even opened:
		 * most files of an incremental are such.  A change after the scan is in
		 * the WAL the set replays. */
		f->kind = MF_INCR;
		done = f->size;
		atomic_fetch_add(&ctx->bytes_done, done);
		goto parts;
	}
	out.full = full = path_join(ctx->pgdata, f->path);
	out.object = object = xasprintf("%s/data/%s", ctx->set_dir, f->path);
	out.fd = open(full, O_RDONLY | O_CLOEXEC);
	if (out.fd < 0) {
		if (errno == ENOENT) {
			f->vanished = true;
			goto out;
		}
		rc = err_errno(errno, "could not open file \"%s\"", full);
		goto out;
	}
	if (fstat(out.fd, &st) < 0) {
		rc = err_errno(errno, "could not stat file \"%s\"", full);
		goto out;
	}
	if (st.st_size % PG_PAGE_SIZE != 0 || pf->size % PG_PAGE_SIZE != 0) {
		close(out.fd);
		out.fd = -1;
		rc = files_copy(ctx, p, worker_idx, f);
		goto out_copied; /* files_copy said which file */
	}
	if (ctx->bufs[worker_idx] == NULL)
		ctx->bufs[worker_idx] = xmalloc(COPY_BUF_SIZE);
	out.buf = ctx->bufs[worker_idx];
	parent_blocks = (uint32_t)(pf->size / PG_PAGE_SIZE);
	f->kind = MF_INCR;
	f->mtime = st.st_mtime;
	f->mode = st.st_mode & 07777;
	if (changed && ctx->compare == NULL)
		rc = incr_from_wal(&out, (uint64_t)st.st_size, parent_blocks, changed, &done);
	else
		rc = incr_scan(&out, (uint64_t)st.st_size, parent_blocks, since_lsn, ctx->compare ? changed : NULL, &done);
	if (rc < 0)
		goto out;
	f->size = done;
	if (out.fw != NULL) {
		if ((rc = incr_flush(&out)) < 0 || (rc = io_frame_writer_close(out.fw, &info)) < 0)
			goto out;
		storage_bundle_take(ctx->storage, object, &f->bundle, &f->bundle_offset);
		f->stored_size = info.stored_size;
		f->sum = info.sum;
	}
parts:
	/* Parts: the parent's, minus what this set stores, cut to the new length. */
	parent_parts(pf, parent_id, &pparts, &n_pparts);
	for (size_t i = 0; i < n_pparts; i++) {
		BlockRanges left;
		ranges_subtract(&left, &pparts[i].blocks, &f->blocks, (uint32_t)(done / PG_PAGE_SIZE));
		if (left.n)
			manifest_file_add_part(f, pparts[i].set_id, &left);
		ranges_free(&left);
	}
	if (f->blocks.n) {
		BlockRanges mine = {0};
		for (size_t k = 0; k < f->blocks.n; k++)
			ranges_append_range(&mine, f->blocks.r[k].first, f->blocks.r[k].last);
		manifest_file_add_part(f, set_id, &mine);
	}
out:
	if (rc < 0)
		err_prefix("while backing up \"%s\"", f->path);
out_copied:
	for (size_t i = 0; i < n_pparts; i++) {
		free(pparts[i].set_id);
		ranges_free(&pparts[i].blocks);
	}
	free(pparts);
	incr_wind_down(&out);
	free(out.ring);
	io_frame_writer_free(out.fw);
	if (out.fd >= 0)
		close(out.fd);
	free(full);
	free(object);
	return rc;
}

int
files_read_object(Storage *s, const char *object, int fd, const char *dest_path, IoContainerInfo *out)
{
	IoReader *src = NULL, *r = NULL;
	/* under glibc's mmap threshold (128 KiB, main.c): a restore calls this for
	 * thousands of small files, and a mapping each time costs page faults */
	enum { READ_BUF = 64 * 1024 };
	uint8_t *buf = xmalloc(READ_BUF);
	ssize_t n;
	int rc;

	if ((rc = storage_read_open(s, &src, object)) < 0)
		goto out;
	rc = io_container_reader_new(&r, src);
	src = NULL;
	if (rc < 0)
		goto out;
	while ((n = io_reader_read(r, buf, READ_BUF)) > 0) {
		const uint8_t *p = buf;
		size_t left = (size_t)n;
		while (fd >= 0 && left > 0) {
			ssize_t w = write(fd, p, left);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = err_errno(errno, "could not write file \"%s\"", dest_path);
				goto out;
			}
			p += w;
			left -= (size_t)w;
		}
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	io_container_reader_info(r, out);
out:
	io_reader_free(r);
	io_reader_free(src);
	free(buf);
	return rc;
}

int
files_restore_to_fd(Storage *s, const char *object, int fd, const char *dest_path,
                    uint64_t want_size, const IoChecksum *want_sum)
{
	IoContainerInfo info;
	int rc;

	if ((rc = files_read_object(s, object, fd, dest_path, &info)) == 0) {
		if (info.raw_size != want_size || !io_checksum_equal(&info.sum, want_sum))
			rc = err_set(ERR_CORRUPT, "content does not match the manifest");
	}
	if (rc < 0 && err_code() == ERR_CORRUPT)
		err_prefix("stored file \"%s\" is damaged", object);
	return rc;
}
