/*
 * copy.c - one file into a set and back again, in chunks, through the
 * worker pool.
 *
 * Backup: the owner of a file opens it and the set's object, then keeps up
 * to COPY_WINDOW chunks in flight.  A chunk task (any worker) reads its
 * COPY_CHUNK_BYTES with pread, verifies the pages' checksums (re-reading
 * torn ones) and compresses the chunk into one complete frame.  The owner
 * takes the chunks back in file order, hashes the raw bytes and writes the
 * frames, then the container's trailer (io.h, "Framed containers").
 *
 * Restore: the owner splits the stored container into frames (without
 * compression: pieces of the content) as it reads it; a frame task decodes
 * one and writes it with pwrite at its offset; the
 * owner hashes the decoded chunks in order and checks the trailer and the
 * manifest's size and SHA-256 at the end.
 *
 * Invariants: memory is the pool's slots (a fixed number per job), never
 * proportional to a file; an owner returns only after every task it
 * submitted finished, whatever failed; frames are written, and hashed, in
 * file order, so a file's object and its SHA-256 do not depend on how many
 * workers made them.
 */
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/page.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

size_t
copy_slot_bytes(void)
{
	size_t bound = COPY_CHUNK_BYTES;

	for (IoCompress c = IO_COMPRESS_NONE; c <= IO_COMPRESS_ZSTD; c++)
		if (io_frame_bound(c, COPY_CHUNK_BYTES) > bound)
			bound = io_frame_bound(c, COPY_CHUNK_BYTES);
	return bound;
}

/* --max-rate: the bytes read since the first read, against the time since. */
typedef struct Throttle {
	pthread_mutex_t mu;
	int64_t start_ms;
	uint64_t bytes;
	Pool *_Atomic pool;      /* the copy's pool, once a worker named it: a sleep ends when it stops */
} Throttle;

void
copy_throttle_pool(const CopyCtx *ctx, Pool *p)
{
	if (ctx->throttle)
		atomic_store(&ctx->throttle->pool, p);
}

void
copy_read_done(const CopyCtx *ctx, uint64_t n)
{
	Throttle *t = ctx->throttle;
	int64_t due_ms, now_ms;

	atomic_fetch_add(&((CopyCtx *)ctx)->bytes_read, n);
	if (t == NULL || n == 0)
		return;
	now_ms = time_now_ms();
	pthread_mutex_lock(&t->mu);
	if (t->start_ms == 0)
		t->start_ms = now_ms;
	t->bytes += n;
	due_ms = t->start_ms + (int64_t)((double)t->bytes * 1000.0 / (double)ctx->max_rate);
	pthread_mutex_unlock(&t->mu);
	/* in slices of at most 100 ms: a cancel (or an error elsewhere) stops
	 * the pool, and the worker winds down without waiting out its pace */
	while (due_ms > now_ms) {
		int64_t slice = due_ms - now_ms < 100 ? due_ms - now_ms : 100;
		struct timespec ts = {0, (long)slice * 1000000L};
		Pool *pool;

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		pool = atomic_load(&t->pool);
		if (pool && pool_stopping(pool))
			break;
		now_ms = time_now_ms();
	}
}

int
copy_ctx_prepare(CopyCtx *ctx)
{
	int rc;

	ASSERT(ctx->jobs >= 1 && ctx->jobs <= POOL_JOBS_MAX);
	if (ctx->max_rate) {
		ctx->throttle = xcalloc(1, sizeof(*ctx->throttle));
		pthread_mutex_init(&ctx->throttle->mu, NULL);
	}
	for (int worker_idx = 0; worker_idx < ctx->jobs; worker_idx++)
		if ((rc = io_frame_codec_new(&ctx->codecs[worker_idx], ctx->compress, ctx->level)) < 0)
			return rc;
	return 0;
}

/* A chunk of zeros: read by every copy that stores zeros it did not read, never written. */
static uint8_t zero_chunk[COPY_CHUNK_BYTES];

const uint8_t *
copy_zero_chunk(void)
{
	return zero_chunk;
}

int
copy_zero_frame(IoFrameCodec *fc, IoCompress c, uint8_t **out, size_t *out_len)
{
	size_t cap = io_frame_bound(c, COPY_CHUNK_BYTES);
	int rc;

	*out = xmalloc(cap);
	if ((rc = io_frame_encode(fc, *out, cap, out_len, zero_chunk, COPY_CHUNK_BYTES)) < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int
copy_ctx_zero_frame(CopyCtx *ctx)
{
	if (ctx->zero_frame || ctx->compress == IO_COMPRESS_NONE)
		return 0;
	return copy_zero_frame(ctx->codecs[0], ctx->compress, &ctx->zero_frame, &ctx->zero_frame_len);
}

void
copy_ctx_release(CopyCtx *ctx)
{
	if (ctx->throttle) {
		pthread_mutex_destroy(&ctx->throttle->mu);
		free(ctx->throttle);
		ctx->throttle = NULL;
	}
	free(ctx->zero_frame);
	ctx->zero_frame = NULL;
	for (int worker_idx = 0; worker_idx < POOL_JOBS_MAX; worker_idx++) {
		io_frame_codec_free(ctx->codecs[worker_idx]);
		ctx->codecs[worker_idx] = NULL;
		free(ctx->bufs[worker_idx]);
		ctx->bufs[worker_idx] = NULL;
	}
}

/* ---- backup ---- */

/* What the chunks of one file share; the owner's, read-only while chunks run. */
typedef struct SourceFile {
	const CopyCtx *ctx;
	const char *full;
	int fd;
	bool check;
	uint32_t first_blk;      /* block number of the file's first page in its relation fork */
	uint64_t zero_from;      /* zeros from here on, not read */
} SourceFile;

typedef struct CopyChunk {
	PoolTask task;           /* first: the task is the chunk */
	const SourceFile *src;
	PoolSlot *slot;          /* a: the raw chunk, b: its frame */
	const uint8_t *raw;      /* the raw chunk and its frame: in slot, or the shared zeros */
	const uint8_t *frame;
	uint64_t off;
	size_t want;
	size_t got;
	size_t frame_len;
	uint32_t bad_pages;
} CopyChunk;

static int
backup_chunk_run(PoolTask *t, int worker_idx)
{
	CopyChunk *c = (CopyChunk *)t;
	const SourceFile *src = c->src;
	size_t read_len = c->off >= src->zero_from ? 0
	                  : src->zero_from - c->off < c->want ? (size_t)(src->zero_from - c->off) : c->want;
	ssize_t n;

	c->raw = c->slot->a;
	c->frame = src->ctx->compress == IO_COMPRESS_NONE ? c->slot->a : c->slot->b;
	if (read_len == 0 && c->want == COPY_CHUNK_BYTES && !src->check &&
	    (src->ctx->compress == IO_COMPRESS_NONE || src->ctx->zero_frame)) {
		/* all zeros, not read: the frame made once */
		c->raw = zero_chunk;
		c->frame = src->ctx->compress == IO_COMPRESS_NONE ? zero_chunk : src->ctx->zero_frame;
		c->got = c->want;
		c->frame_len = src->ctx->compress == IO_COMPRESS_NONE ? c->want : src->ctx->zero_frame_len;
		c->bad_pages = 0;
		return 0;
	}
	n = read_len ? files_read_at(src->fd, c->slot->a, read_len, (off_t)c->off) : 0;
	if (n < 0)
		return err_errno(errno, "could not read file \"%s\"", src->full);
	copy_read_done(src->ctx, (uint64_t)n);
	c->got = (size_t)n;
	if ((size_t)n == read_len && read_len < c->want) {
		memset(c->slot->a + read_len, 0, c->want - read_len);
		c->got = c->want;
	}
	c->bad_pages = 0;
	c->frame_len = c->got;
	if (src->check)
		c->bad_pages = files_check_pages(src->ctx, src->fd, src->full, c->slot->a, c->got, (off_t)c->off,
		                                 src->first_blk + (uint32_t)(c->off / PG_PAGE_SIZE));
	if (src->ctx->compress == IO_COMPRESS_NONE || c->got == 0)
		return 0;
	return io_frame_encode(src->ctx->codecs[worker_idx], c->slot->b, copy_slot_bytes(), &c->frame_len, c->slot->a,
	                       c->got);
}

int
files_copy(CopyCtx *ctx, Pool *p, int worker_idx, ManifestFile *f)
{
	char *full = path_join(ctx->pgdata, f->path);
	char *object = xasprintf("%s/data/%s", ctx->set_dir, f->path);
	int rc = files_copy_to(ctx, p, worker_idx, f, full, object, UINT64_MAX);

	free(full);
	free(object);
	return rc;
}

int
files_copy_to(CopyCtx *ctx, Pool *p, int worker_idx, ManifestFile *f, const char *full, const char *object,
              uint64_t zero_from)
{
	const char *base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
	IoWriter *sink = NULL;
	IoFrameWriter *fw = NULL;
	IoContainerInfo info;
	StorageWriteOpts wopts = {.no_sync = true};
	SourceFile src = {ctx, full, -1, false, 0, zero_from};
	CopyChunk ring[COPY_WINDOW_MAX];
	size_t window = COPY_WINDOW(ctx->jobs) < COPY_WINDOW_MAX ? COPY_WINDOW(ctx->jobs) : COPY_WINDOW_MAX;
	size_t n_chunks, next_submit = 0, next_write = 0;
	bool ended = false;       /* a short chunk: the file was truncated meanwhile */
	struct stat st;
	uint32_t relnode, segno = 0;
	int fork;
	uint64_t limit;
	int rc = 0;

	src.fd = open(full, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0) {
		if (errno == ENOENT) {
			f->vanished = true;
			goto out;
		}
		rc = err_errno(errno, "could not open file \"%s\"", full);
		goto out;
	}
	if (fstat(src.fd, &st) < 0) {
		rc = err_errno(errno, "could not stat file \"%s\"", full);
		goto out;
	}
	posix_fadvise(src.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	limit = (uint64_t)st.st_size;
	f->mtime = st.st_mtime;
	f->mode = st.st_mode & 07777;
	src.check = ctx->verify_checksums && strncmp(f->path, "global/pg_control", 17) != 0 &&
	            (str_starts_with(f->path, "base/") || str_starts_with(f->path, "global/") ||
	             str_starts_with(f->path, "pg_tblspc/")) &&
	            files_relation_name(base, &relnode, &fork, &segno);
	src.first_blk = segno * PG_RELSEG_BLOCKS;

	if ((rc = storage_write_open(ctx->storage, &sink, object, &wopts)) < 0)
		goto out;
	rc = io_frame_writer_new(&fw, sink, ctx->compress, ctx->checksum);
	sink = NULL; /* owned by the frame writer even on failure */
	if (rc < 0)
		goto out;
	n_chunks = (size_t)((limit + COPY_CHUNK_BYTES - 1) / COPY_CHUNK_BYTES);
	if (n_chunks == 1) {
		/* one chunk: the owner does it, without handing it to another thread and back */
		CopyChunk *c = &ring[0];

		memset(c, 0, sizeof(*c));
		c->src = &src;
		c->want = (size_t)limit;
		if ((c->slot = pool_slot_take(p, true)) == NULL) {
			rc = err_set(ERR_CANCELLED, "stopped after an error elsewhere");
			goto out;
		}
		rc = backup_chunk_run(&c->task, worker_idx);
		if (rc == 0 && c->got > 0) {
			f->page_errors += c->bad_pages;
			rc = io_frame_writer_put(fw, c->raw, c->got, c->frame, c->frame_len);
			if (rc == 0)
				atomic_fetch_add(&ctx->bytes_done, (uint64_t)c->got);
		}
		pool_slot_give(p, c->slot);
		next_write = next_submit = 1;
		ended = true;
	}
	for (;;) {
		CopyChunk *c;
		int trc;

		/* keep the window full; wait for a slot only with nothing in flight */
		while (rc == 0 && !ended && next_submit < n_chunks && next_submit - next_write < window) {
			PoolSlot *slot = pool_slot_take(p, next_submit == next_write);

			if (slot == NULL)
				break;
			c = &ring[next_submit % window];
			memset(c, 0, sizeof(*c));
			c->task.run = backup_chunk_run;
			c->src = &src;
			c->slot = slot;
			c->off = (uint64_t)next_submit * COPY_CHUNK_BYTES;
			c->want = limit - c->off < COPY_CHUNK_BYTES ? (size_t)(limit - c->off) : COPY_CHUNK_BYTES;
			if (c->off < zero_from)
				posix_fadvise(src.fd, (off_t)c->off, (off_t)c->want, POSIX_FADV_WILLNEED);
			pool_submit(p, &c->task);
			next_submit++;
		}
		if (next_write == next_submit)
			break;
		c = &ring[next_write % window];
		trc = pool_wait(p, &c->task);
		if (rc == 0 && trc < 0)
			rc = trc;
		if (rc == 0 && !ended && c->got > 0) {
			f->page_errors += c->bad_pages;
			rc = io_frame_writer_put(fw, c->raw, c->got, c->frame, c->frame_len);
			if (rc == 0)
				atomic_fetch_add(&ctx->bytes_done, (uint64_t)c->got);
		}
		if (c->got < c->want)
			ended = true; /* truncated meanwhile: WAL replay restores what is needed */
		pool_slot_give(p, c->slot);
		next_write++;
	}
	if (rc == 0 && !ended && next_write < n_chunks)
		rc = err_set(ERR_CANCELLED, "stopped after an error elsewhere");
	if (rc < 0)
		goto out;
	if ((rc = io_frame_writer_close(fw, &info)) < 0)
		goto out;
	storage_bundle_take(ctx->storage, object, &f->bundle, &f->bundle_offset);
	f->size = info.raw_size;
	f->stored_size = info.stored_size;
	f->sum = info.sum;
out:
	if (rc < 0 && rc != ERR_CANCELLED)
		err_prefix("while backing up \"%s\"", f->path);
	io_frame_writer_free(fw);
	io_writer_free(sink);
	if (src.fd >= 0)
		close(src.fd);
	return rc;
}

/* ---- restore ---- */

typedef struct RestoreChunk RestoreChunk;

/*
 * The thread that writes a file's decoded chunks with O_DIRECT: a direct
 * write waits for the device (a millisecond a megabyte), and meanwhile the
 * worker that decoded the chunk decodes the next one.  The chunk's slot
 * stays taken until its write is done (restore_frames waits for it).
 */
typedef struct DirectWriter {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a chunk queued, or stop */
	pthread_cond_t done_cv;   /* a chunk written */
	RestoreChunk *head, *tail;
	bool stop;
	bool started;
} DirectWriter;

typedef struct TargetFile {
	IoFrameCodec *const *codecs;
	IoCompress compress;
	int fd;
	int direct_fd;           /* the same file opened O_DIRECT; -1: none */
	_Atomic bool direct_off; /* the file system refused a direct write: buffered from then on */
	const char *dest_path;
	DirectWriter writer;     /* started with the direct descriptor */
} TargetFile;

/* Direct writes need the buffer, the offset and the length at multiples of
 * the device's block; 4096 is one for every block size up to it. */
#define DIRECT_ALIGN 4096

static bool
direct_fits(const uint8_t *buf, uint64_t off, size_t len)
{
	return ((uintptr_t)buf % DIRECT_ALIGN) == 0 && off % DIRECT_ALIGN == 0 && len % DIRECT_ALIGN == 0 && len > 0;
}

/*
 * Chunk LEN at OFF through the direct descriptor, as far as it goes: the
 * bytes written (0 when the chunk cannot go that way: not aligned, or the
 * file system refuses O_DIRECT writes with EINVAL, and then the buffered
 * descriptor takes it and the rest of the file), or -errno.  A direct
 * write skips the copy into the page cache and its later writeback: for a
 * restore of a gigabyte, a second of CPU on two cores.
 */
static ssize_t
write_direct(TargetFile *dst, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len && dst->direct_fd >= 0 && !atomic_load(&dst->direct_off) &&
	       direct_fits(buf + done, off + done, len - done)) {
		ssize_t n = pwrite(dst->direct_fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL) {
			atomic_store(&dst->direct_off, true);
			break;
		}
		if (n < 0)
			return -(ssize_t)errno;
		if (n == 0)
			break; /* the buffered write says why */
		done += (size_t)n;
	}
	return (ssize_t)done;
}

struct RestoreChunk {
	PoolTask task;           /* first: the task is the chunk */
	TargetFile *dst;
	PoolSlot *slot;          /* a: the frame, b: what it decodes to */
	size_t frame_len;
	size_t raw_len;
	uint64_t off;
	const uint8_t *raw;      /* the decoded chunk: b, or a itself without compression */
	RestoreChunk *next;      /* in the writer's queue */
	bool writing;            /* queued for the writer, not written yet (its mutex) */
	int write_errno;         /* the writer's failure: 0, or errno */
};

/* The rest of a chunk from done on, through the buffered descriptor: 0 or errno. */
static int
write_buffered(const TargetFile *dst, const uint8_t *raw, size_t len, uint64_t off, size_t done)
{
	while (done < len) {
		ssize_t n = pwrite(dst->fd, raw + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return ENOSPC;
		done += (size_t)n;
	}
	/* Start its writeback now (not wait for it): the one sync at the end of
	 * the restore then finds little left to write, the disk having worked
	 * while the workers decoded. */
	(void)sync_file_range(dst->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* A decoded chunk to the file: directly as far as it goes, the rest buffered; 0 or errno. */
static int
write_chunk(TargetFile *dst, const RestoreChunk *c)
{
	ssize_t direct = write_direct(dst, c->raw, c->raw_len, c->off);

	if (direct < 0)
		return (int)-direct;
	if ((size_t)direct == c->raw_len)
		return 0; /* written to the device; the final sync makes it durable */
	return write_buffered(dst, c->raw, c->raw_len, c->off, (size_t)direct);
}

static void *
writer_main(void *arg)
{
	TargetFile *dst = arg;
	DirectWriter *w = &dst->writer;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		RestoreChunk *c;
		int e;

		while (w->head == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->head == NULL)
			break;
		c = w->head;
		w->head = c->next;
		if (w->head == NULL)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		e = write_chunk(dst, c);
		pthread_mutex_lock(&w->mu);
		c->write_errno = e;
		c->writing = false;
		pthread_cond_broadcast(&w->done_cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
writer_start(TargetFile *dst)
{
	DirectWriter *w = &dst->writer;

	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	w->started = pthread_create(&w->thread, NULL, writer_main, dst) == 0;
	if (!w->started) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		pthread_cond_destroy(&w->done_cv);
	}
}

/* Every queued chunk is written (restore_frames waited for each) by now. */
static void
writer_stop(TargetFile *dst)
{
	DirectWriter *w = &dst->writer;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->done_cv);
	w->started = false;
}

/* Wait for c's write, if it was queued: 0, or the error. */
static int
writer_wait(TargetFile *dst, RestoreChunk *c)
{
	DirectWriter *w = &dst->writer;
	int e;

	if (!w->started)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (c->writing)
		pthread_cond_wait(&w->done_cv, &w->mu);
	e = c->write_errno;
	pthread_mutex_unlock(&w->mu);
	return e ? err_errno(e, "could not write file \"%s\"", dst->dest_path) : 0;
}

static int
restore_chunk_run(PoolTask *t, int worker_idx)
{
	RestoreChunk *c = (RestoreChunk *)t;
	TargetFile *dst = c->dst;
	int rc;

	if (dst->compress == IO_COMPRESS_NONE) {
		c->raw = c->slot->a;
	} else {
		if ((rc = io_frame_decode(dst->codecs[worker_idx], dst->compress, c->slot->b, c->raw_len, c->slot->a,
		                          c->frame_len)) < 0)
			return rc;
		c->raw = c->slot->b;
	}
	if (dst->writer.started && !atomic_load(&dst->direct_off) && direct_fits(c->raw, c->off, c->raw_len)) {
		/* to the device by the writer thread, while this worker goes on */
		DirectWriter *w = &dst->writer;

		pthread_mutex_lock(&w->mu);
		c->writing = true;
		c->next = NULL;
		if (w->tail)
			w->tail->next = c;
		else
			w->head = c;
		w->tail = c;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	if ((rc = write_chunk(dst, c)) != 0)
		return err_errno(rc, "could not write file \"%s\"", dst->dest_path);
	return 0;
}

/*
 * Split, decode and write; *out_unsplittable when the container turned out
 * not to be framed (nothing counts then: the caller starts over).
 */
static int
restore_frames(Pool *p, IoFrameReader *fr, TargetFile *dst, IoHasher *hasher, uint64_t *out_raw,
               bool *out_unsplittable)
{
	RestoreChunk ring[COPY_WINDOW_MAX];
	size_t window = COPY_WINDOW(pool_jobs(p)) < COPY_WINDOW_MAX ? COPY_WINDOW(pool_jobs(p)) : COPY_WINDOW_MAX;
	size_t next_submit = 0, next_done = 0;
	uint64_t next_off = 0;
	bool ended = false;
	int rc = 0;

	*out_unsplittable = false;
	for (;;) {
		RestoreChunk *c;
		int trc;

		while (rc == 0 && !ended && next_submit - next_done < window) {
			PoolSlot *slot = pool_slot_take(p, next_submit == next_done);
			uint64_t raw_len = 0;
			size_t frame_len = 0;
			int r;

			if (slot == NULL)
				break;
			r = io_frame_reader_next(fr, slot->a, pool_slot_bytes(p), COPY_CHUNK_BYTES, &frame_len, &raw_len);
			if (r <= 0) {
				pool_slot_give(p, slot);
				ended = true;
				if (r == ERR_UNSUPPORTED)
					*out_unsplittable = true;
				rc = r;
				break;
			}
			c = &ring[next_submit % window];
			memset(c, 0, sizeof(*c));
			c->task.run = restore_chunk_run;
			c->dst = dst;
			c->slot = slot;
			c->frame_len = frame_len;
			c->raw_len = (size_t)raw_len;
			c->off = next_off;
			next_off += raw_len;
			pool_submit(p, &c->task);
			next_submit++;
		}
		if (next_done == next_submit)
			break;
		c = &ring[next_done % window];
		trc = pool_wait(p, &c->task);
		if (rc == 0 && trc < 0)
			rc = trc;
		if (rc == 0)
			io_hasher_update(hasher, c->raw, c->raw_len);
		/* the slot is free once the writer has written it too */
		trc = writer_wait(dst, c);
		if (rc == 0 && trc < 0)
			rc = trc;
		pool_slot_give(p, c->slot);
		next_done++;
	}
	if (rc == 0 && !ended)
		rc = err_set(ERR_CANCELLED, "stopped after an error elsewhere");
	*out_raw = next_off;
	return rc;
}

int
files_restore_framed(Pool *p, IoFrameCodec *const *codecs, Storage *s, const char *object, int fd,
                     const char *dest_path, uint64_t want_size, const IoChecksum *want_sum)
{
	IoReader *src = NULL;
	IoFrameReader *fr = NULL;
	IoHasher *hasher = NULL;
	IoContainerInfo info;
	TargetFile dst = {.codecs = codecs, .compress = IO_COMPRESS_NONE, .fd = fd, .direct_fd = -1, .dest_path = dest_path};
	IoChecksum sum;
	uint64_t raw = 0;
	bool unsplittable = false;
	int rc;

	if ((rc = storage_read_open(s, &src, object)) < 0)
		goto out;
	rc = io_frame_reader_new(&fr, src);
	src = NULL;
	if (rc < 0)
		goto out;
	dst.compress = io_frame_reader_compress(fr);
	hasher = io_hasher_new(io_frame_reader_checksum(fr));
	/* whole chunks go to the file directly, not through the page cache;
	 * where O_DIRECT is not supported (tmpfs) every write is buffered */
	dst.direct_fd = open(dest_path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (dst.direct_fd >= 0)
		writer_start(&dst);
	rc = restore_frames(p, fr, &dst, hasher, &raw, &unsplittable);
	writer_stop(&dst);
	if (unsplittable) {
		/* one stream (an older set, an incremental part): read it whole */
		io_frame_reader_free(fr);
		fr = NULL;
		if (ftruncate(fd, 0) < 0) {
			rc = err_errno(errno, "could not truncate file \"%s\"", dest_path);
			goto out;
		}
		rc = files_restore_to_fd(s, object, fd, dest_path, want_size, want_sum);
		goto out_named;
	}
	if (rc < 0)
		goto out;
	io_hasher_final(hasher, &sum);
	if ((rc = io_frame_reader_verify(fr, raw, &sum, &info)) < 0)
		goto out;
	if (info.raw_size != want_size || !io_checksum_equal(&info.sum, want_sum))
		rc = err_set(ERR_CORRUPT, "content does not match the manifest");
out:
	if (rc < 0 && err_code() == ERR_CORRUPT)
		err_prefix("stored file \"%s\" is damaged", object);
out_named:
	if (dst.direct_fd >= 0)
		close(dst.direct_fd);
	io_frame_reader_free(fr);
	io_reader_free(src);
	io_hasher_free(hasher);
	return rc;
}
