/*
 * test_copy.c - unit tests for the worker pool (pool.c) and the chunked copy
 * of files into a set and back (copy.c).
 *
 * Invariants under test: a file backed up by 1 or 4 workers gives the same
 * stored object, size and SHA-256, readable by the stream reader every
 * version has; restored by 1 or 4 workers it is the same bytes; a damaged
 * frame fails the restore with ERR_CORRUPT naming the object; a container
 * in the old one-stream form still restores; the first error of any worker
 * reaches the caller with its full message and stops the others; page
 * checksum failures are counted the same whatever the number of workers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/backup_int.h"
#include "backup/pool.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/page.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK COPY_CHUNK_BYTES

static const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 3 * 8192};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))
static const int all_jobs[] = {1, 4};

typedef struct Fixture {
	char root[64];
	char *pgdata;
	Storage *s;
} Fixture;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char *uri, *repo;

	snprintf(fx->root, sizeof(fx->root), "/tmp/tenback-test-copy-XXXXXX");
	if (mkdtemp(fx->root) == NULL)
		return -1;
	fx->pgdata = path_join(fx->root, "pgdata");
	repo = path_join(fx->root, "repo");
	mkdir(fx->pgdata, 0700);
	mkdir(repo, 0700);
	{
		char *base = path_join(fx->pgdata, "base"), *db = path_join(fx->pgdata, "base/1");
		mkdir(base, 0700);
		mkdir(db, 0700);
		free(base);
		free(db);
	}
	uri = xasprintf("file://%s", repo);
	if (storage_open(&fx->s, uri) < 0)
		return -1;
	free(uri);
	free(repo);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *fx = *state;

	storage_free(fx->s);
	nftw(fx->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->pgdata);
	free(fx);
	return 0;
}

static void
fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t state = seed | 1;

	for (size_t byte_idx = 0; byte_idx < len; byte_idx++) {
		state ^= state >> 12;
		state ^= state << 25;
		state ^= state >> 27;
		buf[byte_idx] = (uint8_t)((state * 0x2545F4914F6CDD1DULL) >> 56);
	}
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Valid PostgreSQL pages (header, tuples, checksum for their block), the
 * last partial page as it comes; LSN 0/1000 + block. */
static void
fill_pages(uint8_t *buf, size_t len, uint64_t seed)
{
	memset(buf, 0, len);
	for (size_t off = 0; off < len; off += PG_PAGE_SIZE) {
		uint8_t *page = buf + off;
		uint32_t blk = (uint32_t)(off / PG_PAGE_SIZE);

		if (len - off < PG_PAGE_SIZE) {
			fill_random(page, len - off, seed + off);
			break;
		}
		page[4] = 0x00;
		page[5] = 0x10;                     /* xrecoff 0x1000 */
		page[6] = (uint8_t)blk;
		put_u16(page + 12, 24 + 4 * 40);    /* pd_lower */
		put_u16(page + 14, 4096);           /* pd_upper */
		put_u16(page + 16, PG_PAGE_SIZE);   /* pd_special */
		for (size_t tuple_off = 4096; tuple_off + 100 <= PG_PAGE_SIZE; tuple_off += 100)
			snprintf((char *)page + tuple_off, 100, "tuple %zu of block %u seed %llu", tuple_off, blk,
			         (unsigned long long)seed);
		put_u16(page + 8, pg_page_checksum(page, blk));
	}
}

static void
write_source(Fixture *fx, const char *rel, const uint8_t *data, size_t len)
{
	char *full = path_join(fx->pgdata, rel);
	int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(full);
}

static uint8_t *
read_whole(const char *path, size_t *out_len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *data;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	*out_len = (size_t)st.st_size;
	return data;
}

static void
sha_of(IoChecksum *out, IoChecksumKind k, const uint8_t *data, size_t len)
{
	IoHasher *h = io_hasher_new(k);

	io_hasher_update(h, data, len);
	io_hasher_final(h, out);
	io_hasher_free(h);
}

/* Has the copy recorded a checksum (an all-zero one is as likely as a collision)? */
static bool
sha_recorded(const IoChecksum *sum)
{
	static const uint8_t zero[IO_CHECKSUM_MAX_LEN];

	return memcmp(sum->bytes, zero, IO_CHECKSUM_MAX_LEN) != 0;
}

/* The stored object (stored_size bytes, so the entry says): the first one
 * seen is kept in *first, every later one must equal it. */
static void
same_as_first(uint8_t **first, size_t *first_len, const char *full_object, uint64_t stored_size)
{
	size_t stored_len;
	uint8_t *stored = read_whole(full_object, &stored_len);

	assert_int_equal(stored_size, stored_len);
	if (*first == NULL) {
		*first = stored;
		*first_len = stored_len;
		return;
	}
	assert_int_equal(stored_len, *first_len);
	assert_memory_equal(stored, *first, stored_len);
	free(stored);
}

/* ---- running copies through a pool ---- */

typedef struct BackupRun {
	CopyCtx *ctx;
	ManifestFile *files;
	int cancel_after_ticks;    /* >0: the tick cancels then */
	int ticks;
} BackupRun;

static int
backup_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	BackupRun *run = payload;

	return files_copy(run->ctx, p, worker_idx, &run->files[item_idx]);
}

static int
backup_tick(void *payload)
{
	BackupRun *run = payload;

	if (run->cancel_after_ticks > 0 && ++run->ticks >= run->cancel_after_ticks)
		return err_set(ERR_CANCELLED, "the backup was cancelled");
	return 0;
}

static void
ctx_init(CopyCtx *ctx, Fixture *fx, IoCompress c, int jobs)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->storage = fx->s;
	ctx->set_dir = "set";
	ctx->pgdata = fx->pgdata;
	ctx->compress = c;
	ctx->checksum = IO_CHECKSUM_CRC32C;
	ctx->start_lsn = 0x100000000ULL;  /* after every page's LSN: a bad page counts */
	ctx->verify_checksums = true;
	ctx->jobs = jobs;
	assert_int_equal(copy_ctx_prepare(ctx), 0);
}

static int
run_backup(CopyCtx *ctx, ManifestFile *files, size_t n, int cancel_after_ticks)
{
	BackupRun run = {ctx, files, cancel_after_ticks, 0};
	PoolOpts po = {0};

	po.jobs = ctx->jobs;
	po.n_items = n;
	po.item = backup_item;
	po.tick = backup_tick;
	po.tick_ms = 1;
	po.payload = &run;
	po.slot_bytes = copy_slot_bytes();
	po.n_slots = COPY_SLOTS(ctx->jobs);
	return pool_run(&po);
}

typedef struct RestoreRun {
	IoFrameCodec *codecs[POOL_JOBS_MAX];
	Storage *s;
	const char *object;
	const char *dest;
	uint64_t size;
	const IoChecksum *sha;
} RestoreRun;

static int
restore_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	RestoreRun *run = payload;
	int fd = open(run->dest, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc;

	(void)worker_idx;
	(void)item_idx;
	if (fd < 0)
		return err_errno(errno, "could not create \"%s\"", run->dest);
	rc = files_restore_framed(p, run->codecs, run->s, run->object, fd, run->dest, run->size, run->sha);
	close(fd);
	return rc;
}

static int
run_restore(Fixture *fx, int jobs, const char *object, const char *dest, uint64_t size, const IoChecksum *sha)
{
	RestoreRun run = {{0}, fx->s, object, dest, size, sha};
	PoolOpts po = {0};
	int rc;

	for (int worker_idx = 0; worker_idx < jobs; worker_idx++)
		assert_int_equal(io_frame_codec_new(&run.codecs[worker_idx], IO_COMPRESS_NONE, 0), 0);
	po.jobs = jobs;
	po.n_items = 1;
	po.item = restore_item;
	po.payload = &run;
	po.slot_bytes = copy_slot_bytes();
	po.n_slots = COPY_SLOTS(jobs);
	rc = pool_run(&po);
	for (int worker_idx = 0; worker_idx < jobs; worker_idx++)
		io_frame_codec_free(run.codecs[worker_idx]);
	return rc;
}

static char *
object_path(Fixture *fx, const char *rel)
{
	(void)fx;
	return xasprintf("set/data/%s", rel);
}

static char *
object_full_path(Fixture *fx, const char *rel)
{
	return xasprintf("%s/repo/set/data/%s", fx->root, rel);
}

/*
 * Every size, random and page-like data, every compression, 1 and 4 workers:
 * the manifest entry, the stored object (the same bytes whatever the number
 * of workers) and both ways of reading it back.
 */
static void
test_round_trip(void **state)
{
	static const IoCompress all_compress[] = {IO_COMPRESS_NONE, IO_COMPRESS_LZ4, IO_COMPRESS_ZSTD};
	Fixture *fx = *state;

	for (size_t c_idx = 0; c_idx < 3; c_idx++)
	for (size_t size_idx = 0; size_idx < N_SIZES; size_idx++)
	for (int pages = 0; pages <= 1; pages++) {
		size_t len = sizes[size_idx];
		uint8_t *data = xmalloc(len + 1);
		char rel[64];
		IoChecksum want_sha;
		uint8_t *first_object = NULL;
		size_t first_len = 0;

		snprintf(rel, sizeof(rel), "base/1/%zu", 16384 + size_idx * 2 + (size_t)pages);
		if (pages)
			fill_pages(data, len, len);
		else
			fill_random(data, len, len + 1);
		sha_of(&want_sha, IO_CHECKSUM_CRC32C, data, len);
		write_source(fx, rel, data, len);
		for (size_t jobs_idx = 0; jobs_idx < 2; jobs_idx++) {
			int jobs = all_jobs[jobs_idx];
			CopyCtx ctx;
			ManifestFile f = {0};
			char *object = object_path(fx, rel), *full_object = object_full_path(fx, rel);
			char *dest = xasprintf("%s/restored", fx->root);
			IoContainerInfo info;
			uint8_t *back;
			size_t back_len;

			ctx_init(&ctx, fx, all_compress[c_idx], jobs);
			/* random data is no page: each would be re-read and fail */
			ctx.verify_checksums = pages;
			f.path = rel;
			f.kind = MF_FILE;
			if (run_backup(&ctx, &f, 1, 0) != 0)
				fail_msg("backup of %s (%zu bytes, %d jobs): %s", rel, len, jobs, err_message());
			assert_int_equal(f.size, len);
			assert_true(io_checksum_equal(&f.sum, &want_sha));
			assert_int_equal(f.page_errors, 0);
			assert_int_equal(atomic_load(&ctx.bytes_done), len);
			/* the same object whatever the number of workers */
			same_as_first(&first_object, &first_len, full_object, f.stored_size);
			/* the stream reader (every version's) reads it */
			assert_int_equal(files_read_object(fx->s, object, -1, NULL, &info), 0);
			assert_int_equal(info.raw_size, len);
			/* the frame-parallel restore, by 1 and 4 workers */
			for (size_t rjobs_idx = 0; rjobs_idx < 2; rjobs_idx++) {
				if (run_restore(fx, all_jobs[rjobs_idx], object, dest, len, &want_sha) != 0)
					fail_msg("restore of %s: %s", rel, err_message());
				back = read_whole(dest, &back_len);
				assert_int_equal(back_len, len);
				assert_memory_equal(back, data, len);
				free(back);
				unlink(dest);
			}
			copy_ctx_release(&ctx);
			free(object);
			free(full_object);
			free(dest);
		}
		free(first_object);
		free(data);
	}
}


/* files_copy_to with zeros from zero_from on, as the set's stop WAL segment is copied. */
typedef struct ZeroRun {
	BackupRun *run;
	const char *full;
	const char *object;
	uint64_t zero_from;
} ZeroRun;

static int
zero_from_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	ZeroRun *zr = payload;

	(void)item_idx;
	return files_copy_to(zr->run->ctx, p, worker_idx, &zr->run->files[0], zr->full, zr->object, zr->zero_from);
}

/* Zeros from zero_from on (the rest of a switched WAL segment): the bytes
 * after it are not read; the object restores to the bytes before it and
 * zeros, the same object whatever the number of workers, and the frame of
 * a whole zero chunk made once is the one a zero chunk read would get. */
static void
test_zero_from(void **state)
{
	static const IoCompress all_compress[] = {IO_COMPRESS_NONE, IO_COMPRESS_LZ4, IO_COMPRESS_ZSTD};
	static const uint64_t zero_froms[] = {0, 1, CHUNK, CHUNK + 8192 + 24, 3 * CHUNK, 4 * CHUNK};
	Fixture *fx = *state;
	size_t len = 4 * CHUNK;
	uint8_t *data = xmalloc(len), *want = xmalloc(len);
	char *full = path_join(fx->pgdata, "base/1/seg");

	fill_random(data, len, 77);
	write_source(fx, "base/1/seg", data, len);
	for (size_t c_idx = 0; c_idx < 3; c_idx++)
	for (size_t z_idx = 0; z_idx < sizeof(zero_froms) / sizeof(zero_froms[0]); z_idx++) {
		uint64_t zero_from = zero_froms[z_idx];
		uint8_t *first_object = NULL;
		size_t first_len = 0;
		IoChecksum want_sum;

		memcpy(want, data, len);
		memset(want + zero_from, 0, len - zero_from);
		sha_of(&want_sum, IO_CHECKSUM_CRC32C, want, len);
		for (size_t jobs_idx = 0; jobs_idx < 2; jobs_idx++) {
			CopyCtx ctx;
			ManifestFile f = {0};
			char rel[32], *object, *full_object, *dest = xasprintf("%s/restored", fx->root);
			uint8_t *back;
			size_t back_len;
			BackupRun run;
			PoolOpts po = {0};

			snprintf(rel, sizeof(rel), "base/1/z%zu_%zu_%zu", c_idx, z_idx, jobs_idx);
			object = object_path(fx, rel);
			full_object = object_full_path(fx, rel);
			ctx_init(&ctx, fx, all_compress[c_idx], all_jobs[jobs_idx]);
			ctx.verify_checksums = false;
			assert_int_equal(copy_ctx_zero_frame(&ctx), 0);
			assert_true(all_compress[c_idx] == IO_COMPRESS_NONE || ctx.zero_frame != NULL);
			f.path = rel;
			f.kind = MF_FILE;
			run = (BackupRun){&ctx, &f, 0, 0};
			po.jobs = ctx.jobs;
			po.n_items = 1;
			po.item = zero_from_item;
			po.payload = &(ZeroRun){&run, full, object, zero_from};
			po.slot_bytes = copy_slot_bytes();
			po.n_slots = COPY_SLOTS(ctx.jobs);
			if (pool_run(&po) != 0)
				fail_msg("backup with zeros from %llu: %s", (unsigned long long)zero_from, err_message());
			assert_int_equal(f.size, len);
			assert_true(io_checksum_equal(&f.sum, &want_sum));
			same_as_first(&first_object, &first_len, full_object, f.stored_size);
			assert_int_equal(run_restore(fx, 2, object, dest, len, &want_sum), 0);
			back = read_whole(dest, &back_len);
			assert_int_equal(back_len, len);
			assert_memory_equal(back, want, len);
			free(back);
			unlink(dest);
			copy_ctx_release(&ctx);
			assert_null(ctx.zero_frame);
			free(object);
			free(full_object);
			free(dest);
		}
		/* the same object as the file of those bytes copied whole */
		{
			CopyCtx ctx;
			ManifestFile f = {0};
			uint8_t *stored;
			size_t stored_len;
			char *full_object;

			write_source(fx, "base/1/segz", want, len);
			ctx_init(&ctx, fx, all_compress[c_idx], 1);
			ctx.verify_checksums = false;
			f.path = "base/1/segz";
			f.kind = MF_FILE;
			assert_int_equal(run_backup(&ctx, &f, 1, 0), 0);
			full_object = object_full_path(fx, "base/1/segz");
			stored = read_whole(full_object, &stored_len);
			assert_int_equal(stored_len, first_len);
			assert_memory_equal(stored, first_object, stored_len);
			free(stored);
			free(full_object);
			copy_ctx_release(&ctx);
		}
		free(first_object);
	}
	free(full);
	free(data);
	free(want);
}

/* Bad pages are counted the same by 1 and 4 workers (each chunk's pages are
 * checked by whoever compresses it); a bad page newer than the backup's
 * start is not counted (WAL replay rewrites it). */
static void
test_page_errors(void **state)
{
	Fixture *fx = *state;
	size_t len = 3 * CHUNK;
	uint8_t *data = xmalloc(len);
	const char *rel = "base/1/20000";
	size_t bad_blocks[] = {0, 127, 128, 129, 300};

	fill_pages(data, len, 99);
	for (size_t i = 0; i < sizeof(bad_blocks) / sizeof(bad_blocks[0]); i++)
		data[bad_blocks[i] * PG_PAGE_SIZE + 5000] ^= 0xff;
	/* block 300: its LSN is after the start: not counted */
	data[300 * PG_PAGE_SIZE + 3] = 0x7f;
	write_source(fx, rel, data, len);
	for (size_t jobs_idx = 0; jobs_idx < 2; jobs_idx++) {
		CopyCtx ctx;
		ManifestFile f = {0};

		ctx_init(&ctx, fx, IO_COMPRESS_LZ4, all_jobs[jobs_idx]);
		ctx.start_lsn = 0x7f00000000ULL;
		f.path = (char *)rel;
		f.kind = MF_FILE;
		assert_int_equal(run_backup(&ctx, &f, 1, 0), 0);
		assert_int_equal(f.page_errors, 4);
		copy_ctx_release(&ctx);
	}
	free(data);
}

/* Many files at once, more than the slots: every one copied, none mixed up. */
static void
test_many_files(void **state)
{
	Fixture *fx = *state;
	enum { N = 24 };
	ManifestFile files[N];
	char rels[N][32];
	IoChecksum shas[N];
	CopyCtx ctx;

	memset(files, 0, sizeof(files));
	for (size_t i = 0; i < N; i++) {
		size_t len = (i % 5) * CHUNK / 2 + i * 8192;
		uint8_t *data = xmalloc(len + 1);

		snprintf(rels[i], sizeof(rels[i]), "base/1/%zu", 30000 + i);
		fill_pages(data, len, i);
		sha_of(&shas[i], IO_CHECKSUM_SHA256, data, len);
		write_source(fx, rels[i], data, len);
		files[i].path = rels[i];
		files[i].kind = MF_FILE;
		free(data);
	}
	ctx_init(&ctx, fx, IO_COMPRESS_ZSTD, 4);
	ctx.checksum = IO_CHECKSUM_SHA256; /* the other kind, which sets of format 1 all have */
	assert_int_equal(run_backup(&ctx, files, N, 0), 0);
	for (size_t i = 0; i < N; i++) {
		assert_true(io_checksum_equal(&files[i].sum, &shas[i]));
		assert_int_equal(files[i].page_errors, 0);
	}
	copy_ctx_release(&ctx);
}

/* A file gone before its owner opens it is marked vanished, not an error. */
static void
test_vanished(void **state)
{
	Fixture *fx = *state;
	CopyCtx ctx;
	ManifestFile f = {0};

	ctx_init(&ctx, fx, IO_COMPRESS_LZ4, 4);
	f.path = "base/1/99999";
	f.kind = MF_FILE;
	assert_int_equal(run_backup(&ctx, &f, 1, 0), 0);
	assert_true(f.vanished);
	copy_ctx_release(&ctx);
}

/*
 * The first error, met by a worker reading a chunk, reaches pool_run's
 * caller with its message and the file's name; the other owners stop.
 */
static void
test_error_reaches_caller(void **state)
{
	Fixture *fx = *state;
	enum { N = 6 };
	ManifestFile files[N];
	char rels[N][32];
	CopyCtx ctx;
	char *dir;
	int rc;

	memset(files, 0, sizeof(files));
	for (size_t i = 0; i < N; i++) {
		uint8_t *data = xmalloc(4 * CHUNK);

		snprintf(rels[i], sizeof(rels[i]), "base/1/%zu", 40000 + i);
		fill_pages(data, 4 * CHUNK, i);
		if (i != 2)
			write_source(fx, rels[i], data, 4 * CHUNK);
		files[i].path = rels[i];
		files[i].kind = MF_FILE;
		free(data);
	}
	/* a directory in place of a file: it opens, and the chunk's read fails */
	dir = path_join(fx->pgdata, rels[2]);
	assert_int_equal(mkdir(dir, 0700), 0);
	ctx_init(&ctx, fx, IO_COMPRESS_LZ4, 4);
	rc = run_backup(&ctx, files, N, 0);
	assert_int_equal(rc, err_code());
	assert_true(rc < 0);
	assert_non_null(strstr(err_message(), "while backing up \"base/1/40002\""));
	assert_non_null(strstr(err_message(), "could not read file"));
	assert_non_null(strstr(err_message(), "Is a directory"));
	copy_ctx_release(&ctx);
	rmdir(dir);
	free(dir);
}

/* The tick's error (a cancellation) stops the pool and is what it returns. */
static void
test_cancel_from_tick(void **state)
{
	Fixture *fx = *state;
	enum { N = 40 };
	ManifestFile files[N];
	char rels[N][32];
	uint8_t *data = xmalloc(4 * CHUNK);
	CopyCtx ctx;

	memset(files, 0, sizeof(files));
	fill_random(data, 4 * CHUNK, 5);
	for (size_t i = 0; i < N; i++) {
		snprintf(rels[i], sizeof(rels[i]), "base/1/%zu", 50000 + i);
		write_source(fx, rels[i], data, 4 * CHUNK);
		files[i].path = rels[i];
		files[i].kind = MF_FILE;
	}
	ctx_init(&ctx, fx, IO_COMPRESS_ZSTD, 4);
	ctx.verify_checksums = false;
	assert_int_equal(run_backup(&ctx, files, N, 2), ERR_CANCELLED);
	assert_string_equal(err_message(), "the backup was cancelled");
	/* stopped early: not every file was copied */
	{
		size_t copied = 0;

		for (size_t i = 0; i < N; i++)
			copied += sha_recorded(&files[i].sum);
		assert_true(copied < N);
	}
	copy_ctx_release(&ctx);
	free(data);
}

/* A damaged frame fails the restore: ERR_CORRUPT naming the stored object. */
static void
test_corrupt_frame(void **state)
{
	Fixture *fx = *state;
	size_t len = 4 * CHUNK + 100;
	uint8_t *data = xmalloc(len);
	const char *rel = "base/1/60000";
	char *object = object_path(fx, rel), *full_object = object_full_path(fx, rel);
	char *dest = xasprintf("%s/restored", fx->root);
	ManifestFile f = {0};
	CopyCtx ctx;
	uint8_t *stored;
	size_t stored_len;
	int fd;

	fill_pages(data, len, 3);
	write_source(fx, rel, data, len);
	ctx_init(&ctx, fx, IO_COMPRESS_LZ4, 4);
	f.path = (char *)rel;
	f.kind = MF_FILE;
	assert_int_equal(run_backup(&ctx, &f, 1, 0), 0);
	stored = read_whole(full_object, &stored_len);
	/* a byte in the middle of the third frame */
	stored[stored_len / 2 + 1000] ^= 0x01;
	fd = open(full_object, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, stored, stored_len), (ssize_t)stored_len);
	close(fd);
	for (size_t jobs_idx = 0; jobs_idx < 2; jobs_idx++) {
		assert_int_equal(run_restore(fx, all_jobs[jobs_idx], object, dest, len, &f.sum), ERR_CORRUPT);
		assert_non_null(strstr(err_message(), "is damaged"));
		assert_non_null(strstr(err_message(), object));
		unlink(dest);
	}
	/* the manifest's checksum is checked too, not only the container's */
	stored[stored_len / 2 + 1000] ^= 0x01;
	fd = open(full_object, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, stored, stored_len), (ssize_t)stored_len);
	close(fd);
	assert_int_equal(run_restore(fx, 4, object, dest, len, &(IoChecksum){.kind = IO_CHECKSUM_CRC32C}), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "content does not match the manifest"));
	assert_int_equal(run_restore(fx, 4, object, dest, len + 1, &f.sum), ERR_CORRUPT);
	/* the right bytes under the other kind are no match either */
	{
		IoChecksum other = f.sum;

		other.kind = IO_CHECKSUM_SHA256;
		assert_int_equal(run_restore(fx, 4, object, dest, len, &other), ERR_CORRUPT);
	}
	unlink(dest);
	copy_ctx_release(&ctx);
	free(stored);
	free(data);
	free(object);
	free(full_object);
	free(dest);
}

/* A container written by the stream writer (every earlier version, and the
 * incremental copy) restores through the same call. */
static void
test_old_container_restores(void **state)
{
	static const IoCompress all_compress[] = {IO_COMPRESS_NONE, IO_COMPRESS_LZ4, IO_COMPRESS_ZSTD};
	Fixture *fx = *state;
	size_t len = 3 * CHUNK + 4321;
	uint8_t *data = xmalloc(len);
	char *object = object_path(fx, "old"), *dest = xasprintf("%s/restored", fx->root);
	IoChecksum sha;

	fill_pages(data, len, 8);
	sha_of(&sha, IO_CHECKSUM_SHA256, data, len);
	for (size_t c_idx = 0; c_idx < 3; c_idx++) {
		IoWriter *sink = NULL, *w = NULL;
		uint8_t *back;
		size_t back_len;

		assert_int_equal(storage_write_open(fx->s, &sink, object, NULL), 0);
		assert_int_equal(io_container_writer_new(&w, sink, all_compress[c_idx], 0, IO_CHECKSUM_SHA256), 0);
		assert_int_equal(io_writer_write(w, data, len), 0);
		assert_int_equal(io_writer_close(w), 0);
		io_writer_free(w);
		for (size_t jobs_idx = 0; jobs_idx < 2; jobs_idx++) {
			if (run_restore(fx, all_jobs[jobs_idx], object, dest, len, &sha) != 0)
				fail_msg("restore of an old container: %s", err_message());
			back = read_whole(dest, &back_len);
			assert_int_equal(back_len, len);
			assert_memory_equal(back, data, len);
			free(back);
			unlink(dest);
		}
	}
	free(data);
	free(object);
	free(dest);
}

/* ---- the pool alone ---- */

typedef struct CountTask {
	PoolTask task;
	int item;
	int idx;
	int fail_item;            /* this item's task 5 fails (-1: none) */
	_Atomic int *ran;
} CountTask;

static int
count_task_run(PoolTask *t, int worker_idx)
{
	CountTask *ct = (CountTask *)t;

	(void)worker_idx;
	atomic_fetch_add(ct->ran, 1);
	if (ct->item == ct->fail_item && ct->idx == 5) {
		err_set(ERR_IO, "task %d of item %d failed", ct->idx, ct->item);
		err_detail("The detail of the failure.");
		err_hint("The hint of the failure.");
		return ERR_IO;
	}
	usleep(100);
	return 0;
}

typedef struct CountRun {
	int fail_item;
	_Atomic int ran;
	_Atomic int items;
	bool both_ends;
	_Atomic int times[64];     /* how many times each item ran */
	_Atomic int worker_of[64]; /* the worker that owned it, plus one */
} CountRun;

/* An owner with 16 tasks, 3 in flight at most, each taken back in order. */
static int
count_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	CountRun *run = payload;
	CountTask tasks[16];
	PoolSlot *slots[16] = {0};
	size_t next_submit = 0, next_done = 0;
	int rc = 0;

	atomic_fetch_add(&run->items, 1);
	if (item_idx < 64) {
		atomic_fetch_add(&run->times[item_idx], 1);
		atomic_store(&run->worker_of[item_idx], worker_idx + 1);
	}
	for (;;) {
		while (rc == 0 && next_submit < 16 && next_submit - next_done < 3) {
			PoolSlot *slot = pool_slot_take(p, next_submit == next_done);

			if (slot == NULL)
				break;
			slots[next_submit] = slot;
			tasks[next_submit] = (CountTask){{0}, (int)item_idx, (int)next_submit, run->fail_item, &run->ran};
			tasks[next_submit].task.run = count_task_run;
			pool_submit(p, &tasks[next_submit].task);
			next_submit++;
		}
		if (next_done == next_submit)
			break;
		{
			int trc = pool_wait(p, &tasks[next_done].task);

			if (rc == 0 && trc < 0)
				rc = trc;
		}
		pool_slot_give(p, slots[next_done]);
		next_done++;
	}
	if (rc == 0 && next_done < 16)
		rc = err_set(ERR_CANCELLED, "stopped after an error elsewhere");
	return rc;
}

static int
run_count(int jobs, size_t n_items, CountRun *run)
{
	PoolOpts po = {0};

	po.jobs = jobs;
	po.n_items = n_items;
	po.item = count_item;
	po.payload = run;
	po.slot_bytes = 16;
	po.n_slots = (size_t)jobs + 1;   /* fewer than the owners could hold: they wait for slots */
	po.both_ends = run->both_ends;
	return pool_run(&po);
}

/* Every task of every item runs exactly once, whatever the number of workers. */
static void
test_pool_all_tasks_run(void **state)
{
	static const int jobs[] = {1, 2, 4, 8};

	(void)state;
	for (size_t jobs_idx = 0; jobs_idx < sizeof(jobs) / sizeof(jobs[0]); jobs_idx++) {
		CountRun run = {.fail_item = -1};

		assert_int_equal(run_count(jobs[jobs_idx], 40, &run), 0);
		assert_int_equal(atomic_load(&run.ran), 40 * 16);
		assert_int_equal(atomic_load(&run.items), 40);
	}
}

/*
 * Items from both ends (a restore's order): each runs exactly once; worker 0
 * takes them from the front, the others from the back.
 */
static void
test_pool_both_ends(void **state)
{
	static const int jobs[] = {1, 2, 3, 8};

	(void)state;
	for (size_t jobs_idx = 0; jobs_idx < sizeof(jobs) / sizeof(jobs[0]); jobs_idx++) {
		CountRun run = {.fail_item = -1, .both_ends = true};

		assert_int_equal(run_count(jobs[jobs_idx], 40, &run), 0);
		assert_int_equal(atomic_load(&run.ran), 40 * 16);
		assert_int_equal(atomic_load(&run.items), 40);
		for (int item_idx = 0; item_idx < 40; item_idx++)
			assert_int_equal(atomic_load(&run.times[item_idx]), 1);
		/* worker 0's items are a prefix, the others' the rest */
		{
			int k = 0;

			while (k < 40 && atomic_load(&run.worker_of[k]) == 1)
				k++;
			for (int item_idx = k; item_idx < 40; item_idx++)
				assert_true(atomic_load(&run.worker_of[item_idx]) > 1);
			if (jobs[jobs_idx] == 1)
				assert_int_equal(k, 40);
		}
	}
}

/*
 * A task failing on a worker thread: its whole record reaches pool_run's
 * caller through its owner; items not yet started are not started.
 */
static void
test_pool_task_error(void **state)
{
	(void)state;
	for (int jobs = 1; jobs <= 4; jobs *= 2) {
		CountRun run = {.fail_item = 3};

		err_clear();
		assert_int_equal(run_count(jobs, 200, &run), ERR_IO);
		assert_string_equal(err_message(), "task 5 of item 3 failed");
		assert_string_equal(err_detail_text(), "The detail of the failure.");
		assert_string_equal(err_hint_text(), "The hint of the failure.");
		assert_true(atomic_load(&run.items) < 200);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_all_tasks_run),
		cmocka_unit_test(test_pool_task_error),
		cmocka_unit_test(test_pool_both_ends),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reaches_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_from_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_container_restores, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
