/*
 * test_io.c - unit tests for src/io: stream wrappers, memory and fd streams,
 * zstd/lz4 filters, SHA-256 and the tenback container.
 *
 * Invariant under test: whatever chunk sizes data are written and read in,
 * what comes out equals what went in, and every damaged container (flipped,
 * cut, extended, bad header) is ERR_CORRUPT from the read that reaches the
 * end, never a clean 0.  Memory stays bounded whatever the stream length.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/crc32c.h"
#include "common/error.h"
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#define MIB (1024 * 1024)
#define HEADER_BYTES 8
#define TRAILER_BYTES 44

static const size_t chunk_sizes[] = {1, 7, 4096, 100003};
#define N_CHUNK_SIZES (sizeof(chunk_sizes) / sizeof(chunk_sizes[0]))

static const IoCompress all_compress[] = {IO_COMPRESS_NONE, IO_COMPRESS_LZ4, IO_COMPRESS_ZSTD};
#define N_COMPRESS (sizeof(all_compress) / sizeof(all_compress[0]))

/* Data sets built once by the group setup. */
typedef struct DataSet {
	const char *name;
	uint8_t *data;
	size_t len;
} DataSet;

static DataSet data_sets[4];
#define N_DATA_SETS (sizeof(data_sets) / sizeof(data_sets[0]))

/* xorshift64*: deterministic, fast pseudo-random bytes. */
static void
fill_random(uint8_t *buf, size_t len, uint64_t *state)
{
	for (size_t byte_idx = 0; byte_idx < len; byte_idx++) {
		*state ^= *state >> 12;
		*state ^= *state << 25;
		*state ^= *state >> 27;
		buf[byte_idx] = (uint8_t)((*state * 0x2545F4914F6CDD1DULL) >> 56);
	}
}

static uint8_t *
make_random(size_t len, uint64_t seed)
{
	uint8_t *buf = xmalloc(len);

	fill_random(buf, len, &seed);
	return buf;
}

/* Text that compresses well but is not one repeated block. */
static uint8_t *
make_compressible(size_t len)
{
	Buf b = BUF_INIT;
	size_t row_idx = 0;

	while (b.len < len) {
		buf_printf(&b, "%zu|relation %zu|block %zu|lsn 0/%08zX|all visible\n",
			row_idx, row_idx % 97, row_idx / 13, row_idx * 8192);
		row_idx++;
	}
	b.len = len;
	return (uint8_t *)buf_steal(&b);
}

/* TB_TEST_SMALL=1 (the valgrind run of scripts/test.sh): the same cases on a
 * sixteenth of the data, and no resident-memory bounds (valgrind's own
 * memory would be measured). */
static bool
small_run(void)
{
	const char *v = getenv("TB_TEST_SMALL");

	return v && strcmp(v, "1") == 0;
}

static int
group_setup(void **state)
{
	(void)state;
	data_sets[0] = (DataSet){"empty", xmalloc(1), 0};
	data_sets[1] = (DataSet){"one byte", xmalloc(1), 1};
	data_sets[1].data[0] = 0x5a;
	data_sets[2] = (DataSet){"1 MiB random", make_random(MIB, 42), MIB};
	if (small_run())
		data_sets[3] = (DataSet){"1.25 MiB compressible", make_compressible(20 * MIB / 16), 20 * MIB / 16};
	else
		data_sets[3] = (DataSet){"20 MiB compressible", make_compressible(20 * MIB), 20 * MIB};
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	for (size_t set_idx = 0; set_idx < N_DATA_SETS; set_idx++)
		free(data_sets[set_idx].data);
	return 0;
}

/* A reader that returns at most chunk bytes per read: sources are not polite. */
typedef struct ChunkReader {
	IoReader *next;
	size_t chunk;
} ChunkReader;

static ssize_t
chunk_read(void *impl, void *buf, size_t cap)
{
	ChunkReader *cr = impl;

	return io_reader_read(cr->next, buf, cap < cr->chunk ? cap : cr->chunk);
}

static void
chunk_free(void *impl)
{
	ChunkReader *cr = impl;

	io_reader_free(cr->next);
	free(cr);
}

static const IoReaderOps chunk_reader_ops = {.read = chunk_read, .free = chunk_free};

static IoReader *
chunk_reader_new(const void *buf, size_t len, size_t chunk)
{
	ChunkReader *cr = xmalloc(sizeof(*cr));

	cr->next = io_mem_reader_new(buf, len);
	cr->chunk = chunk;
	return io_reader_new(&chunk_reader_ops, cr);
}

/* A writer that records what is done to it, and can fail on demand. */
typedef struct Probe {
	int writes;
	int closes;
	int frees;
	int fail_write;
	uint64_t bytes;
	IoSha256 *sha;     /* when set, hashes what is written */
} Probe;

static int
probe_write(void *impl, const void *buf, size_t len)
{
	Probe *p = impl;

	p->writes++;
	if (p->fail_write)
		return err_set(ERR_IO, "probe write failed");
	p->bytes += len;
	if (p->sha)
		io_sha256_update(p->sha, buf, len);
	return 0;
}

static int
probe_close(void *impl)
{
	((Probe *)impl)->closes++;
	return 0;
}

static void
probe_free(void *impl)
{
	((Probe *)impl)->frees++;
}

static const IoWriterOps probe_ops = {.write = probe_write, .close = probe_close, .free = probe_free};

static int
write_chunked(IoWriter *w, const uint8_t *data, size_t len, size_t chunk)
{
	for (size_t pos = 0; pos < len; pos += chunk) {
		int rc = io_writer_write(w, data + pos, len - pos < chunk ? len - pos : chunk);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Read r to its end in chunk-sized reads, appending to out; 0 or the error. */
static int
read_all(IoReader *r, size_t chunk, Buf *out)
{
	uint8_t *tmp = xmalloc(chunk);
	int rc = 0;

	for (;;) {
		ssize_t n = io_reader_read(r, tmp, chunk);

		if (n <= 0) {
			rc = (int)n;
			break;
		}
		buf_append(out, tmp, (size_t)n);
	}
	free(tmp);
	return rc;
}

static void
assert_same(const Buf *got, const uint8_t *want, size_t want_len)
{
	assert_int_equal(got->len, want_len);
	if (want_len > 0)
		assert_memory_equal(got->data, want, want_len);
}

static void
sha256_of(uint8_t out[IO_SHA256_LEN], const void *buf, size_t len)
{
	IoSha256 *h = io_sha256_new();

	io_sha256_update(h, buf, len);
	io_sha256_final(h, out);
	io_sha256_free(h);
}

/* Memory: run first, while the process's peak RSS is still low. */

static long
max_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static void
test_memory_bounded(void **state)
{
	const size_t total = small_run() ? 3 * MIB : 48 * MIB;
	const size_t chunk = 100003;
	uint8_t *buf = xmalloc(chunk);
	IoChecksum want_sha;
	long before = max_rss_kib();

	(void)state;
	for (size_t c_idx = 1; c_idx < N_COMPRESS; c_idx++) {
		char path[] = "/tmp/tenback_test_io_XXXXXX";
		int fd = mkstemp(path);
		IoWriter *w = NULL;
		IoReader *r = NULL;
		IoContainerInfo info;
		IoChecksumKind kind = c_idx % 2 ? IO_CHECKSUM_CRC32C : IO_CHECKSUM_SHA256;
		IoHasher *sha = io_hasher_new(kind);
		uint64_t seed = 7;
		uint64_t raw = 0;
		ssize_t n;

		assert_true(fd >= 0);
		unlink(path);
		assert_int_equal(io_container_writer_new(&w, io_fd_writer_new(fd, 0), all_compress[c_idx], 0, kind), 0);
		for (size_t pos = 0; pos < total; pos += chunk) {
			size_t len = total - pos < chunk ? total - pos : chunk;

			fill_random(buf, len, &seed);
			io_hasher_update(sha, buf, len);
			assert_int_equal(io_writer_write(w, buf, len), 0);
		}
		assert_int_equal(io_writer_close(w), 0);
		io_writer_free(w);
		io_hasher_final(sha, &want_sha);
		io_hasher_free(sha);

		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		assert_int_equal(io_container_reader_new(&r, io_fd_reader_new(fd, 1)), 0);
		while ((n = io_reader_read(r, buf, chunk)) > 0)
			raw += (uint64_t)n;
		assert_int_equal(n, 0);
		io_container_reader_info(r, &info);
		assert_int_equal(raw, total);
		assert_int_equal(info.raw_size, total);
		assert_true(io_checksum_equal(&info.sum, &want_sha));
		io_reader_free(r);
	}
	free(buf);
	/* 48 MiB went through each way; a copy of it would show, zstd's window not. */
	if (!small_run())
		assert_true(max_rss_kib() - before < 24 * 1024);
}

/* Stream wrappers. */

static void
test_writer_close_once(void **state)
{
	Probe p = {0};
	IoWriter *w = io_writer_new(&probe_ops, &p);

	(void)state;
	assert_int_equal(io_writer_write(w, "abc", 3), 0);
	assert_int_equal(io_writer_close(w), 0);
	assert_int_equal(io_writer_close(w), ERR_INTERNAL);
	assert_int_equal(io_writer_write(w, "d", 1), ERR_INTERNAL);
	assert_int_equal(p.closes, 1);
	assert_int_equal(p.writes, 1);
	io_writer_free(w);
	assert_int_equal(p.frees, 1);
	io_writer_free(NULL);
}

static void
test_writer_failed_write_refuses_close(void **state)
{
	Probe p = {.fail_write = 1};
	IoWriter *w = io_writer_new(&probe_ops, &p);

	(void)state;
	assert_int_equal(io_writer_write(w, "abc", 3), ERR_IO);
	assert_string_equal(err_message(), "probe write failed");
	assert_int_equal(io_writer_close(w), ERR_INTERNAL);
	assert_string_equal(err_message(), "cannot use a stream after an error");
	assert_int_equal(p.closes, 0);
	io_writer_free(w);
	assert_int_equal(p.frees, 1);
}

static void
test_writer_free_abandons(void **state)
{
	Probe p = {0};
	IoWriter *w = NULL;

	(void)state;
	assert_int_equal(io_compress_writer_new(&w, io_writer_new(&probe_ops, &p), IO_COMPRESS_ZSTD, 0), 0);
	assert_int_equal(io_writer_write(w, "abc", 3), 0);
	io_writer_free(w);
	assert_int_equal(p.closes, 0);
	assert_int_equal(p.frees, 1);
}

static void
test_filter_close_reaches_sink(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		Probe p = {0};
		IoWriter *w = NULL;

		assert_int_equal(io_compress_writer_new(&w, io_writer_new(&probe_ops, &p), all_compress[c_idx], 0), 0);
		assert_int_equal(io_writer_close(w), 0);
		assert_int_equal(p.closes, 1);
		io_writer_free(w);
		assert_int_equal(p.frees, 1);
	}
}

static void
test_reader_read_full_and_end(void **state)
{
	IoReader *r = chunk_reader_new("0123456789", 10, 3);
	char buf[16];

	(void)state;
	assert_int_equal(io_reader_read_full(r, buf, 4), 4);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(io_reader_read_full(r, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "456789", 6);
	assert_int_equal(io_reader_read_full(r, buf, sizeof(buf)), 0);
	assert_int_equal(io_reader_read(r, buf, sizeof(buf)), 0);
	io_reader_free(r);
	io_reader_free(NULL);
}

static void
test_reader_refuses_after_error(void **state)
{
	static const char junk[] = "this is not zstd at all";
	IoReader *r = NULL;
	char buf[64];

	(void)state;
	assert_int_equal(io_decompress_reader_new(&r, io_mem_reader_new(junk, sizeof(junk)), IO_COMPRESS_ZSTD), 0);
	assert_int_equal(io_reader_read(r, buf, sizeof(buf)), ERR_CORRUPT);
	assert_int_equal(io_reader_read(r, buf, sizeof(buf)), ERR_INTERNAL);
	io_reader_free(r);
}

/* A thread keeps its zstd context between streams: a stream that failed
 * leaves nothing behind for the next one, whose bytes come out whole. */
static void
test_decompress_context_reused(void **state)
{
	static const char junk[] = "this is not zstd at all";
	static const char text[] = "the same thread decompresses another stream after a damaged one";
	IoWriter *mem = io_mem_writer_new(), *w = NULL;
	IoReader *r = NULL;
	const uint8_t *stored;
	size_t stored_len;
	char buf[128];

	(void)state;
	assert_int_equal(io_compress_writer_new(&w, mem, IO_COMPRESS_ZSTD, 0), 0);
	assert_int_equal(io_writer_write(w, text, sizeof(text)), 0);
	assert_int_equal(io_writer_close(w), 0);
	stored = io_mem_writer_data(mem, &stored_len);
	for (int round = 0; round < 3; round++) {
		/* damaged: the context returns to the thread after an error */
		assert_int_equal(io_decompress_reader_new(&r, io_mem_reader_new(junk, sizeof(junk)), IO_COMPRESS_ZSTD), 0);
		assert_int_equal(io_reader_read(r, buf, sizeof(buf)), ERR_CORRUPT);
		io_reader_free(r);
		err_clear();
		/* cut short after the damaged one: still an error, not the previous state */
		assert_int_equal(io_decompress_reader_new(&r, io_mem_reader_new(stored, stored_len / 2), IO_COMPRESS_ZSTD),
		                 0);
		assert_true(io_reader_read_full(r, buf, sizeof(buf)) < 0);
		io_reader_free(r);
		err_clear();
		/* whole */
		assert_int_equal(io_decompress_reader_new(&r, io_mem_reader_new(stored, stored_len), IO_COMPRESS_ZSTD), 0);
		assert_int_equal(io_reader_read_full(r, buf, sizeof(buf)), (ssize_t)sizeof(text));
		assert_memory_equal(buf, text, sizeof(text));
		io_reader_free(r);
	}
	io_writer_free(w);
}

static void
test_mem_writer(void **state)
{
	IoWriter *w = io_mem_writer_new();
	size_t len = 99;

	(void)state;
	io_mem_writer_data(w, &len);
	assert_int_equal(len, 0);
	assert_int_equal(write_chunked(w, (const uint8_t *)"hello, world", 12, 5), 0);
	assert_int_equal(io_writer_close(w), 0);
	assert_memory_equal(io_mem_writer_data(w, &len), "hello, world", 12);
	assert_int_equal(len, 12);
	io_writer_free(w);
}

/* fd streams. */

static void
test_fd_round_trip(void **state)
{
	const DataSet *ds = &data_sets[2];
	char path[] = "/tmp/tenback_test_io_XXXXXX";
	int fd = mkstemp(path);
	IoWriter *w;
	IoReader *r;
	Buf got = BUF_INIT;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	w = io_fd_writer_new(fd, 0);
	assert_int_equal(write_chunked(w, ds->data, ds->len, 4096), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	/* Not owned: still open. */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	r = io_fd_reader_new(fd, 1);
	assert_int_equal(read_all(r, 7777, &got), 0);
	assert_same(&got, ds->data, ds->len);
	io_reader_free(r);
	/* Owned: closed by the free. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	buf_free(&got);
}

static void
test_fd_writer_no_space(void **state)
{
	int fd = open("/dev/full", O_WRONLY);
	IoWriter *w;

	(void)state;
	assert_true(fd >= 0);
	w = io_fd_writer_new(fd, 1);
	assert_int_equal(io_writer_write(w, "x", 1), ERR_NO_SPACE);
	assert_int_equal(err_os_errno(), ENOSPC);
	assert_non_null(strstr(err_message(), "could not write to file descriptor"));
	assert_string_equal(err_hint_text(), "Free space on the device, then run the command again.");
	io_writer_free(w);
}

static void
test_container_no_space(void **state)
{
	const DataSet *ds = &data_sets[2];

	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		int fd = open("/dev/full", O_WRONLY);
		IoWriter *w = NULL;
		int rc;

		assert_true(fd >= 0);
		assert_int_equal(io_container_writer_new(&w, io_fd_writer_new(fd, 1), all_compress[c_idx], 0, IO_CHECKSUM_CRC32C), 0);
		rc = write_chunked(w, ds->data, ds->len, 4096);
		if (rc == 0)
			rc = io_writer_close(w);
		assert_int_equal(rc, ERR_NO_SPACE);
		io_writer_free(w);
	}
}

/* Compression names and levels. */

static void
test_compress_names(void **state)
{
	IoCompress c = IO_COMPRESS_NONE;

	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		assert_int_equal(io_compress_parse(&c, io_compress_name(all_compress[c_idx])), 0);
		assert_int_equal(c, all_compress[c_idx]);
	}
	assert_string_equal(io_compress_name(IO_COMPRESS_NONE), "none");
	assert_string_equal(io_compress_name(IO_COMPRESS_LZ4), "lz4");
	assert_string_equal(io_compress_name(IO_COMPRESS_ZSTD), "zstd");
	assert_int_equal(io_compress_default_level(IO_COMPRESS_NONE), 0);
	assert_int_equal(io_compress_default_level(IO_COMPRESS_LZ4), 0);
	assert_int_equal(io_compress_default_level(IO_COMPRESS_ZSTD), 3);

	assert_int_equal(io_compress_parse(&c, "gzip"), ERR_INVALID);
	assert_string_equal(err_message(), "invalid compression \"gzip\"");
	assert_string_equal(err_hint_text(), "Use none, lz4 or zstd.");
	assert_int_equal(io_compress_parse(&c, "ZSTD"), ERR_INVALID);
	assert_int_equal(io_compress_parse(&c, ""), ERR_INVALID);
	assert_int_equal(c, IO_COMPRESS_ZSTD);
}

static void
test_compress_bad_level(void **state)
{
	Probe p = {0};
	IoWriter *w = NULL;

	(void)state;
	assert_int_equal(io_compress_writer_new(&w, io_writer_new(&probe_ops, &p), IO_COMPRESS_ZSTD, 20), ERR_INVALID);
	assert_string_equal(err_message(), "invalid zstd compression level 20");
	assert_string_equal(err_hint_text(), "Use a level between 1 and 19, or 0 for the default.");
	assert_int_equal(io_compress_writer_new(&w, io_writer_new(&probe_ops, &p), IO_COMPRESS_LZ4, 13), ERR_INVALID);
	assert_string_equal(err_message(), "invalid lz4 compression level 13");
	assert_int_equal(io_compress_writer_new(&w, io_writer_new(&probe_ops, &p), IO_COMPRESS_LZ4, -1), ERR_INVALID);
	assert_int_equal(io_container_writer_new(&w, io_writer_new(&probe_ops, &p), IO_COMPRESS_ZSTD, -5, IO_CHECKSUM_CRC32C), ERR_INVALID);
	assert_int_equal(io_compress_writer_new(&w, io_writer_new(&probe_ops, &p), (IoCompress)9, 0), ERR_INVALID);
	/* The stream handed over is freed on error, never closed. */
	assert_int_equal(p.frees, 5);
	assert_int_equal(p.closes, 0);
	assert_null(w);
}

/* Round trips. */

static void
check_compress_round_trip(IoCompress c, const DataSet *ds, size_t write_chunk, size_t read_chunk,
	size_t source_chunk)
{
	IoWriter *mem = io_mem_writer_new();
	IoWriter *w = NULL;
	IoReader *r = NULL;
	const uint8_t *stored;
	size_t stored_len;
	Buf got = BUF_INIT;

	assert_int_equal(io_compress_writer_new(&w, mem, c, 0), 0);
	assert_int_equal(write_chunked(w, ds->data, ds->len, write_chunk), 0);
	assert_int_equal(io_writer_close(w), 0);
	stored = io_mem_writer_data(mem, &stored_len);
	if (c == IO_COMPRESS_NONE)
		assert_int_equal(stored_len, ds->len);
	else if (ds->len > MIB)
		assert_true(stored_len < ds->len / 4);
	assert_int_equal(io_decompress_reader_new(&r, chunk_reader_new(stored, stored_len, source_chunk), c), 0);
	assert_int_equal(read_all(r, read_chunk, &got), 0);
	assert_same(&got, ds->data, ds->len);
	io_reader_free(r);
	io_writer_free(w);
	buf_free(&got);
}

static void
check_container_round_trip_kind(IoCompress c, IoChecksumKind k, const DataSet *ds, size_t write_chunk,
	size_t read_chunk, size_t source_chunk)
{
	IoWriter *mem = io_mem_writer_new();
	IoWriter *w = NULL;
	IoReader *r = NULL;
	IoContainerInfo wrote;
	IoContainerInfo read;
	IoChecksum sha;
	IoHasher *h = io_hasher_new(k);
	const uint8_t *stored;
	size_t stored_len;
	Buf got = BUF_INIT;

	assert_int_equal(io_container_writer_new(&w, mem, c, 0, k), 0);
	assert_int_equal(write_chunked(w, ds->data, ds->len, write_chunk), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_container_writer_info(w, &wrote);
	stored = io_mem_writer_data(mem, &stored_len);
	io_hasher_update(h, ds->data, ds->len);
	io_hasher_final(h, &sha);
	io_hasher_free(h);
	assert_int_equal(wrote.raw_size, ds->len);
	assert_int_equal(wrote.stored_size, stored_len);
	assert_true(io_checksum_equal(&wrote.sum, &sha));
	assert_int_equal(wrote.compress, c);
	assert_memory_equal(stored, "TBK1\x01", 5);
	assert_int_equal(stored[5], c);
	assert_int_equal(stored[6], k);
	assert_int_equal(stored[7], 0);
	/* the trailer holds the checksum, zero-padded to 32 bytes */
	assert_memory_equal(stored + stored_len - 4 - IO_CHECKSUM_MAX_LEN, sha.bytes, IO_CHECKSUM_MAX_LEN);
	assert_memory_equal(stored + stored_len - 4, "TBKE", 4);
	if (c == IO_COMPRESS_NONE)
		assert_int_equal(stored_len, HEADER_BYTES + ds->len + TRAILER_BYTES);

	assert_int_equal(io_container_reader_new(&r, chunk_reader_new(stored, stored_len, source_chunk)), 0);
	assert_int_equal(read_all(r, read_chunk, &got), 0);
	assert_same(&got, ds->data, ds->len);
	io_container_reader_info(r, &read);
	assert_int_equal(read.raw_size, wrote.raw_size);
	assert_int_equal(read.stored_size, wrote.stored_size);
	assert_true(io_checksum_equal(&read.sum, &wrote.sum));
	assert_int_equal(read.compress, wrote.compress);
	io_reader_free(r);
	io_writer_free(w);
	buf_free(&got);
}

/* Both kinds of checksum: SHA-256 (every container before CRC-32C) and CRC-32C. */
static void
check_container_round_trip(IoCompress c, const DataSet *ds, size_t write_chunk, size_t read_chunk,
	size_t source_chunk)
{
	check_container_round_trip_kind(c, IO_CHECKSUM_SHA256, ds, write_chunk, read_chunk, source_chunk);
	check_container_round_trip_kind(c, IO_CHECKSUM_CRC32C, ds, write_chunk, read_chunk, source_chunk);
}

/*
 * Tiny chunks over many MiB only cost time: keep at most ~16k calls per
 * stream by raising a chunk to len / 16384 (odd sizes stay odd enough).
 */
static size_t
scaled_chunk(size_t chunk, size_t len)
{
	size_t floor_len = len / 16384;

	return chunk < floor_len ? floor_len | 1 : chunk;
}

/*
 * Every data set with every write chunk size; reads and source reads take
 * the other sizes in turn, so each size is used on each side.
 */
static void
run_matrix(IoCompress c, void (*check)(IoCompress, const DataSet *, size_t, size_t, size_t))
{
	for (size_t set_idx = 0; set_idx < N_DATA_SETS; set_idx++) {
		for (size_t size_idx = 0; size_idx < N_CHUNK_SIZES; size_idx++)
			check(c, &data_sets[set_idx], scaled_chunk(chunk_sizes[size_idx], data_sets[set_idx].len),
				scaled_chunk(chunk_sizes[(size_idx + 1) % N_CHUNK_SIZES], data_sets[set_idx].len),
				scaled_chunk(chunk_sizes[(size_idx + 2) % N_CHUNK_SIZES], data_sets[set_idx].len));
	}
}

static void
test_round_trip_none(void **state)
{
	(void)state;
	run_matrix(IO_COMPRESS_NONE, check_compress_round_trip);
}

static void
test_round_trip_lz4(void **state)
{
	(void)state;
	run_matrix(IO_COMPRESS_LZ4, check_compress_round_trip);
}

static void
test_round_trip_zstd(void **state)
{
	(void)state;
	run_matrix(IO_COMPRESS_ZSTD, check_compress_round_trip);
}

static void
test_container_round_trip_none(void **state)
{
	(void)state;
	run_matrix(IO_COMPRESS_NONE, check_container_round_trip);
}

static void
test_container_round_trip_lz4(void **state)
{
	(void)state;
	run_matrix(IO_COMPRESS_LZ4, check_container_round_trip);
}

static void
test_container_round_trip_zstd(void **state)
{
	(void)state;
	run_matrix(IO_COMPRESS_ZSTD, check_container_round_trip);
}

static void
test_compress_levels(void **state)
{
	const DataSet *ds = &data_sets[3];
	size_t fast_len;
	size_t best_len;
	IoWriter *fast = io_mem_writer_new();
	IoWriter *best = io_mem_writer_new();
	IoWriter *w = NULL;

	(void)state;
	assert_int_equal(io_compress_writer_new(&w, fast, IO_COMPRESS_ZSTD, 1), 0);
	assert_int_equal(write_chunked(w, ds->data, ds->len, 100003), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_mem_writer_data(fast, &fast_len);
	io_writer_free(w);
	assert_int_equal(io_compress_writer_new(&w, best, IO_COMPRESS_ZSTD, 9), 0);
	assert_int_equal(write_chunked(w, ds->data, ds->len, 100003), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_mem_writer_data(best, &best_len);
	io_writer_free(w);
	/* The level reaches the library. */
	assert_true(best_len < fast_len);
}

/* Damaged compressed streams. */

static int
decompress_all(IoCompress c, const uint8_t *buf, size_t len)
{
	IoReader *r = NULL;
	Buf got = BUF_INIT;
	int rc;

	assert_int_equal(io_decompress_reader_new(&r, io_mem_reader_new(buf, len), c), 0);
	rc = read_all(r, 4096, &got);
	io_reader_free(r);
	buf_free(&got);
	return rc;
}

static void
test_decompress_corrupt(void **state)
{
	const DataSet *ds = &data_sets[2];

	(void)state;
	for (size_t c_idx = 1; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];
		IoWriter *w = NULL;
		IoWriter *mem = io_mem_writer_new();
		const uint8_t *stored;
		uint8_t *copy;
		size_t len;
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "could not decompress %s stream: ", io_compress_name(c));
		assert_int_equal(io_compress_writer_new(&w, mem, c, 0), 0);
		assert_int_equal(write_chunked(w, ds->data, ds->len, 4096), 0);
		assert_int_equal(io_writer_close(w), 0);
		stored = io_mem_writer_data(mem, &len);
		copy = xmalloc(2 * len + 8);
		memcpy(copy, stored, len);
		io_writer_free(w);

		/* Not a stream at all, and an empty one. */
		assert_int_equal(decompress_all(c, (const uint8_t *)"hello, world", 12), ERR_CORRUPT);
		assert_memory_equal(err_message(), prefix, strlen(prefix));
		assert_int_equal(decompress_all(c, copy, 0), ERR_CORRUPT);
		assert_string_equal(strstr(err_message(), ": ") + 2, "unexpected end of input");
		/* Cut short: at the end, mid-stream, after the frame header. */
		assert_int_equal(decompress_all(c, copy, len - 1), ERR_CORRUPT);
		assert_memory_equal(err_message(), prefix, strlen(prefix));
		assert_int_equal(decompress_all(c, copy, len / 2), ERR_CORRUPT);
		assert_int_equal(decompress_all(c, copy, 20), ERR_CORRUPT);
		/* A flipped byte is caught by the frame checksum if nothing else. */
		copy[len / 2] ^= 0x01;
		assert_int_equal(decompress_all(c, copy, len), ERR_CORRUPT);
		assert_memory_equal(err_message(), prefix, strlen(prefix));
		copy[len / 2] ^= 0x01;
		/* Two frames back to back decode as their concatenation. */
		assert_int_equal(decompress_all(c, copy, len), 0);
		memcpy(copy + len, copy, len);
		assert_int_equal(decompress_all(c, copy, 2 * len), 0);
		/* Trailing garbage after a frame. */
		memcpy(copy + len, "garbage!", 8);
		assert_int_equal(decompress_all(c, copy, len + 8), ERR_CORRUPT);
		free(copy);
	}
}

static void
test_zstd_window_bounded(void **state)
{
	/* A frame asking for a 128 MiB window is refused, not allocated. */
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	uint8_t out[4096];
	ZSTD_outBuffer o = {out, sizeof(out), 0};
	ZSTD_inBuffer in = {"abc", 3, 0};

	(void)state;
	/* Streamed in two calls, so the frame cannot shrink the window to fit. */
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 27)));
	assert_false(ZSTD_isError(ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_continue)));
	assert_int_equal(ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(cctx);
	assert_int_equal(decompress_all(IO_COMPRESS_ZSTD, out, o.pos), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "could not decompress zstd stream: "));
}

/* Damaged containers. */

typedef struct Stored {
	uint8_t *data;
	size_t len;
} Stored;

static Stored
container_make(IoCompress c, const DataSet *ds)
{
	IoWriter *mem = io_mem_writer_new();
	IoWriter *w = NULL;
	const uint8_t *data;
	Stored s;

	assert_int_equal(io_container_writer_new(&w, mem, c, 0, IO_CHECKSUM_CRC32C), 0);
	assert_int_equal(write_chunked(w, ds->data, ds->len, 65536), 0);
	assert_int_equal(io_writer_close(w), 0);
	data = io_mem_writer_data(mem, &s.len);
	s.data = xmalloc(s.len + 64);
	memcpy(s.data, data, s.len);
	io_writer_free(w);
	return s;
}

/* Read a container to its end; the first error (from new or read), or 0. */
static int
container_read_all(const uint8_t *buf, size_t len, size_t source_chunk)
{
	IoReader *r = NULL;
	Buf got = BUF_INIT;
	int rc = io_container_reader_new(&r, chunk_reader_new(buf, len, source_chunk));

	if (rc == 0)
		rc = read_all(r, 5000, &got);
	io_reader_free(r);
	buf_free(&got);
	return rc;
}

static void
expect_corrupt(const uint8_t *buf, size_t len, const char *message)
{
	assert_int_equal(container_read_all(buf, len, 4096), ERR_CORRUPT);
	if (message)
		assert_string_equal(err_message(), message);
}

static void
test_container_flipped_bytes(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];

		for (size_t set_idx = 1; set_idx < N_DATA_SETS; set_idx++) {
			Stored s = container_make(c, &data_sets[set_idx]);
			size_t body_len = s.len - HEADER_BYTES - TRAILER_BYTES;
			size_t trailer = s.len - TRAILER_BYTES;

			assert_int_equal(container_read_all(s.data, s.len, 4096), 0);
			/* Body: the decompressor or the checksum notices. */
			s.data[HEADER_BYTES + body_len / 2] ^= 0x40;
			expect_corrupt(s.data, s.len, c == IO_COMPRESS_NONE ? "checksum mismatch in container" : NULL);
			s.data[HEADER_BYTES + body_len / 2] ^= 0x40;
			/* Trailer: size, checksum, magic. */
			s.data[trailer] ^= 0x01;
			expect_corrupt(s.data, s.len, "size mismatch in container");
			s.data[trailer] ^= 0x01;
			s.data[trailer + 8 + 1] ^= 0x80;
			expect_corrupt(s.data, s.len, "checksum mismatch in container");
			assert_non_null(strstr(err_detail_text(), "The trailer records CRC-32C "));
			s.data[trailer + 8 + 1] ^= 0x80;
			/* past the CRC-32C's 4 bytes: the zero padding is checked too */
			s.data[trailer + 8 + 17] ^= 0x80;
			expect_corrupt(s.data, s.len, "checksum mismatch in container");
			s.data[trailer + 8 + 17] ^= 0x80;
			s.data[s.len - 1] = 'X';
			expect_corrupt(s.data, s.len, "truncated container");
			s.data[s.len - 1] = 'E';
			assert_int_equal(container_read_all(s.data, s.len, 1), 0);
			free(s.data);
		}
	}
}

static void
test_container_truncated(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];

		/* Small containers: every cut point. */
		for (size_t set_idx = 0; set_idx < 2; set_idx++) {
			Stored s = container_make(c, &data_sets[set_idx]);

			for (size_t cut = 0; cut < s.len; cut++)
				expect_corrupt(s.data, cut, NULL);
			free(s.data);
		}
		/* A large one: cuts in the header, body and trailer. */
		{
			Stored s = container_make(c, &data_sets[2]);
			const size_t cuts[] = {0, 3, HEADER_BYTES, HEADER_BYTES + 1, s.len / 2,
				s.len - TRAILER_BYTES - 1, s.len - TRAILER_BYTES, s.len - 20, s.len - 1};

			for (size_t cut_idx = 0; cut_idx < sizeof(cuts) / sizeof(cuts[0]); cut_idx++)
				expect_corrupt(s.data, cuts[cut_idx], NULL);
			expect_corrupt(s.data, 3, "truncated container");
			if (c == IO_COMPRESS_NONE)
				expect_corrupt(s.data, s.len - 1, "truncated container");
			/* Extra bytes after the trailer are damage too. */
			memcpy(s.data + s.len, "more", 4);
			expect_corrupt(s.data, s.len + 4, NULL);
			free(s.data);
		}
	}
}

static void
test_container_bad_header(void **state)
{
	Stored s = container_make(IO_COMPRESS_LZ4, &data_sets[1]);
	const size_t header_bytes[] = {0, 3, 4, 5, 6, 7};
	const uint8_t bad_values[] = {'X', '2', 2, 3, 2, 1}; /* byte 6: a checksum kind that does not exist */

	(void)state;
	for (size_t byte_idx = 0; byte_idx < sizeof(header_bytes) / sizeof(header_bytes[0]); byte_idx++) {
		size_t pos = header_bytes[byte_idx];
		uint8_t saved = s.data[pos];

		s.data[pos] = bad_values[byte_idx];
		expect_corrupt(s.data, s.len, "not a tenback container");
		assert_true(strlen(err_detail_text()) > 0);
		s.data[pos] = saved;
	}
	assert_int_equal(container_read_all(s.data, s.len, 7), 0);
	free(s.data);
}

/* SHA-256 and hex. */

static void
check_sha_hex(const void *buf, size_t len, const char *want)
{
	uint8_t digest[IO_SHA256_LEN];
	char hex[2 * IO_SHA256_LEN + 1];

	sha256_of(digest, buf, len);
	io_hex(hex, digest, sizeof(digest));
	assert_string_equal(hex, want);
}

static void
test_sha256_vectors(void **state)
{
	IoSha256 *h = io_sha256_new();
	uint8_t digest[IO_SHA256_LEN];
	uint8_t want[IO_SHA256_LEN];
	char a1000[1000];

	(void)state;
	check_sha_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a', in pieces. */
	memset(a1000, 'a', sizeof(a1000));
	for (int piece_idx = 0; piece_idx < 1000; piece_idx++)
		io_sha256_update(h, a1000, sizeof(a1000));
	io_sha256_final(h, digest);
	io_sha256_free(h);
	io_sha256_free(NULL);
	assert_int_equal(io_unhex(want, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		sizeof(want)), 0);
	assert_memory_equal(digest, want, sizeof(want));
}

/* CRC-32C: the published check value and RFC 3720's vectors; the SSE4.2 and
 * table versions agree at every alignment and length, in one stream and in
 * three; a sum goes on in pieces. */
static uint32_t
crc_of(const void *buf, size_t len)
{
	return pg_crc32c_final(pg_crc32c_update(PG_CRC32C_INIT, buf, len));
}

static void
test_crc32c(void **state)
{
	uint8_t buf[32 + 1031];
	uint64_t seed = 11;
	IoHasher *h;
	IoChecksum sum;
	IoChecksumKind k;
	char hex[2 * IO_CHECKSUM_MAX_LEN + 1];

	(void)state;
	assert_int_equal(crc_of("123456789", 9), 0xe3069283u);
	memset(buf, 0, 32);
	assert_int_equal(crc_of(buf, 32), 0x8a9136aau);
	memset(buf, 0xff, 32);
	assert_int_equal(crc_of(buf, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc_of(buf, 32), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc_of(buf, 32), 0x113fdb5cu);
	assert_int_equal(crc_of(buf, 0), 0);

	fill_random(buf, sizeof(buf), &seed);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 1 + len / 8) {
			uint32_t whole = pg_crc32c_update(PG_CRC32C_INIT, buf + off, len);
			size_t cut = len / 3;

			assert_int_equal(whole, pg_crc32c_update_table(PG_CRC32C_INIT, buf + off, len));
			assert_int_equal(whole, pg_crc32c_update(pg_crc32c_update(PG_CRC32C_INIT, buf + off, cut),
			                                         buf + off + cut, len - cut));
		}
	{
		/* lengths about the three-stream blocks (3 x 256, 3 x 8192 bytes) and beyond */
		static const size_t lens[] = {767, 768, 769, 3 * 256 + 7, 2 * 768 + 1, 24575, 24576, 24577,
		                              24576 + 768, 24576 + 769 + 5, 2 * 24576 + 3 * 768 + 77};
		size_t big_len = 2 * 24576 + 3 * 768 + 77 + 8;
		uint8_t *big = malloc(big_len);

		assert_non_null(big);
		fill_random(big, big_len, &seed);
		for (size_t off = 0; off < 8; off++)
			for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
				size_t len = lens[i];
				uint32_t whole = pg_crc32c_update(PG_CRC32C_INIT, big + off, len);

				assert_int_equal(whole, pg_crc32c_update_table(PG_CRC32C_INIT, big + off, len));
				for (size_t cut = 1; cut < len; cut += len / 5 + 1)
					assert_int_equal(whole, pg_crc32c_update(pg_crc32c_update(PG_CRC32C_INIT, big + off, cut),
					                                         big + off + cut, len - cut));
			}
		free(big);
	}

	/* as a checksum: 4 bytes big-endian, the rest zero; its hex is the usual one */
	h = io_hasher_new(IO_CHECKSUM_CRC32C);
	io_hasher_update(h, "1234", 4);
	io_hasher_update(h, "56789", 5);
	io_hasher_final(h, &sum);
	io_hasher_free(h);
	assert_int_equal(sum.kind, IO_CHECKSUM_CRC32C);
	io_checksum_hex(hex, &sum);
	assert_string_equal(hex, "e3069283");
	for (size_t i = 4; i < IO_CHECKSUM_MAX_LEN; i++)
		assert_int_equal(sum.bytes[i], 0);
	{
		IoChecksum back;

		assert_int_equal(io_checksum_unhex(&back, IO_CHECKSUM_CRC32C, "E3069283"), 0);
		assert_true(io_checksum_equal(&back, &sum));
		back.kind = IO_CHECKSUM_SHA256;
		assert_false(io_checksum_equal(&back, &sum));
		assert_int_equal(io_checksum_unhex(&back, IO_CHECKSUM_SHA256, "e3069283"), ERR_INVALID);
	}

	assert_string_equal(io_checksum_name(IO_CHECKSUM_CRC32C), "crc32c");
	assert_string_equal(io_checksum_title(IO_CHECKSUM_SHA256), "SHA-256");
	assert_int_equal(io_checksum_parse(&k, "sha256"), 0);
	assert_int_equal(k, IO_CHECKSUM_SHA256);
	assert_int_equal(io_checksum_parse(&k, "crc32c"), 0);
	assert_int_equal(k, IO_CHECKSUM_CRC32C);
	assert_int_equal(io_checksum_parse(&k, "md5"), ERR_INVALID);
	assert_string_equal(err_message(), "unknown checksum \"md5\"");
	assert_string_equal(err_hint_text(), "Use crc32c or sha256.");
}

static void
test_hex(void **state)
{
	const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	uint8_t back[sizeof(bytes)];
	char hex[2 * sizeof(bytes) + 1];

	(void)state;
	io_hex(hex, bytes, sizeof(bytes));
	assert_string_equal(hex, "00017f80abff");
	assert_int_equal(io_unhex(back, hex, sizeof(back)), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));
	assert_int_equal(io_unhex(back, "00017F80ABFF", sizeof(back)), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));

	assert_int_equal(io_unhex(back, "00017f80abf", sizeof(back)), ERR_INVALID);
	assert_string_equal(err_message(), "invalid hex string \"00017f80abf\"");
	assert_string_equal(err_detail_text(), "Expected exactly 12 hexadecimal digits.");
	assert_int_equal(io_unhex(back, "00017f80abff00", sizeof(back)), ERR_INVALID);
	assert_int_equal(io_unhex(back, "00017g80abff", sizeof(back)), ERR_INVALID);
	assert_int_equal(io_unhex(back, "", 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_writer_close_once),
		cmocka_unit_test(test_writer_failed_write_refuses_close),
		cmocka_unit_test(test_writer_free_abandons),
		cmocka_unit_test(test_filter_close_reaches_sink),
		cmocka_unit_test(test_reader_read_full_and_end),
		cmocka_unit_test(test_reader_refuses_after_error),
		cmocka_unit_test(test_decompress_context_reused),
		cmocka_unit_test(test_mem_writer),
		cmocka_unit_test(test_fd_round_trip),
		cmocka_unit_test(test_fd_writer_no_space),
		cmocka_unit_test(test_container_no_space),
		cmocka_unit_test(test_compress_names),
		cmocka_unit_test(test_compress_bad_level),
		cmocka_unit_test(test_round_trip_none),
		cmocka_unit_test(test_round_trip_lz4),
		cmocka_unit_test(test_round_trip_zstd),
		cmocka_unit_test(test_container_round_trip_none),
		cmocka_unit_test(test_container_round_trip_lz4),
		cmocka_unit_test(test_container_round_trip_zstd),
		cmocka_unit_test(test_compress_levels),
		cmocka_unit_test(test_decompress_corrupt),
		cmocka_unit_test(test_zstd_window_bounded),
		cmocka_unit_test(test_container_flipped_bytes),
		cmocka_unit_test(test_container_truncated),
		cmocka_unit_test(test_container_bad_header),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
