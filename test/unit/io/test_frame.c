/*
 * test_frame.c - unit tests for src/io/frame.c: framed containers.
 *
 * Invariants under test: a container written frame by frame is an ordinary
 * container (the stream reader, which older versions share, reads it to
 * the same content and checks it); the frame reader splits it into exactly
 * the frames that were written, whatever sizes the source reads come in;
 * what it cannot split (a stream-written container, no compression) is
 * ERR_UNSUPPORTED, never silently wrong; damage is ERR_CORRUPT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1024 * 1024)
#define TRAILER_BYTES 44

static const IoCompress all_compress[] = {IO_COMPRESS_NONE, IO_COMPRESS_LZ4, IO_COMPRESS_ZSTD};
#define N_COMPRESS (sizeof(all_compress) / sizeof(all_compress[0]))

static const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 12345};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

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

/* Page-like: 8 KiB pages, a header, zeros, then tuples of a few repeated shapes. */
static void
fill_pages(uint8_t *buf, size_t len, uint64_t seed)
{
	memset(buf, 0, len);
	for (size_t off = 0; off < len; off += 8192) {
		size_t page_len = len - off < 8192 ? len - off : 8192;

		for (size_t tuple_off = 4096; tuple_off + 64 <= page_len; tuple_off += 64)
			snprintf((char *)buf + off + tuple_off, 64, "row %zu of page %zu, seed %llu", tuple_off, off / 8192,
			         (unsigned long long)seed);
		if (page_len >= 24)
			fill_random(buf + off, 24, seed + off);
	}
}

static uint8_t *
make_data(size_t len, bool random, uint64_t seed)
{
	uint8_t *data = xmalloc(len + 1);

	if (random)
		fill_random(data, len, seed);
	else
		fill_pages(data, len, seed);
	return data;
}

/* A container of data in frames of CHUNK raw bytes; *out_frames counts them. */
static uint8_t *
write_framed(IoCompress c, const uint8_t *data, size_t len, size_t *out_len, size_t *out_frames)
{
	IoWriter *sink = io_mem_writer_new();
	IoFrameWriter *fw = NULL;
	IoFrameCodec *fc = NULL;
	size_t cap = io_frame_bound(c, CHUNK);
	uint8_t *frame = xmalloc(cap);
	IoContainerInfo info;
	const uint8_t *stored;
	uint8_t *copy;
	size_t frames = 0;

	assert_int_equal(io_frame_codec_new(&fc, c, 0), 0);
	/* the writer owns sink; keep a borrowed pointer to read it back */
	assert_int_equal(io_frame_writer_new(&fw, sink, c, IO_CHECKSUM_CRC32C), 0);
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		size_t frame_len = 0;

		assert_int_equal(io_frame_encode(fc, frame, cap, &frame_len, data + off, n), 0);
		assert_int_equal(io_frame_writer_put(fw, data + off, n, frame, frame_len), 0);
		frames++;
	}
	assert_int_equal(io_frame_writer_close(fw, &info), 0);
	assert_int_equal(info.raw_size, len);
	stored = io_mem_writer_data(sink, out_len);
	assert_int_equal(info.stored_size, *out_len);
	copy = xmalloc(*out_len);
	memcpy(copy, stored, *out_len);
	io_frame_writer_free(fw);
	io_frame_codec_free(fc);
	free(frame);
	if (out_frames)
		*out_frames = frames;
	return copy;
}

/* A container written by the stream writer (what every earlier version wrote). */
static uint8_t *
write_stream(IoCompress c, const uint8_t *data, size_t len, size_t *out_len)
{
	IoWriter *sink = io_mem_writer_new();
	IoWriter *w = NULL;
	const uint8_t *stored;
	uint8_t *copy;

	assert_int_equal(io_container_writer_new(&w, sink, c, 0, IO_CHECKSUM_SHA256), 0);
	for (size_t off = 0; off < len; off += 100003)
		assert_int_equal(io_writer_write(w, data + off, len - off < 100003 ? len - off : 100003), 0);
	assert_int_equal(io_writer_close(w), 0);
	stored = io_mem_writer_data(sink, out_len);
	copy = xmalloc(*out_len);
	memcpy(copy, stored, *out_len);
	io_writer_free(w);
	return copy;
}

/* Read a container with the stream reader: 0 and the content, or the error. */
static int
read_stream(const uint8_t *stored, size_t stored_len, Buf *out)
{
	IoReader *r = NULL;
	uint8_t tmp[65536];
	ssize_t n;
	int rc = io_container_reader_new(&r, io_mem_reader_new(stored, stored_len));

	if (rc < 0)
		return rc;
	while ((n = io_reader_read(r, tmp, sizeof(tmp))) > 0)
		buf_append(out, tmp, (size_t)n);
	io_reader_free(r);
	return n < 0 ? (int)n : 0;
}

/* A reader that returns at most chunk bytes per read. */
typedef struct SlowReader {
	IoReader *next;
	size_t chunk;
} SlowReader;

static ssize_t
slow_read(void *impl, void *buf, size_t cap)
{
	SlowReader *s = impl;

	return io_reader_read(s->next, buf, cap < s->chunk ? cap : s->chunk);
}

static void
slow_free(void *impl)
{
	SlowReader *s = impl;

	io_reader_free(s->next);
	free(s);
}

static const IoReaderOps slow_ops = {.read = slow_read, .free = slow_free};

static IoReader *
slow_reader_new(const void *buf, size_t len, size_t chunk)
{
	SlowReader *s = xmalloc(sizeof(*s));

	s->next = io_mem_reader_new(buf, len);
	s->chunk = chunk;
	return io_reader_new(&slow_ops, s);
}

/* Split with the frame reader, decode, verify: 0 and the content, or the error. */
static int
read_frames(const uint8_t *stored, size_t stored_len, size_t read_chunk, Buf *out, size_t *out_frames)
{
	IoFrameReader *fr = NULL;
	IoFrameCodec *fc = NULL;
	IoHasher *sha = NULL;
	size_t cap = io_frame_bound(IO_COMPRESS_ZSTD, CHUNK) + io_frame_bound(IO_COMPRESS_LZ4, CHUNK);
	uint8_t *frame = xmalloc(cap), *raw = xmalloc(CHUNK);
	IoChecksum digest;
	IoContainerInfo info;
	uint64_t total = 0;
	size_t frames = 0;
	int rc;

	assert_int_equal(io_frame_codec_new(&fc, IO_COMPRESS_NONE, 0), 0);
	if ((rc = io_frame_reader_new(&fr, slow_reader_new(stored, stored_len, read_chunk))) < 0)
		goto out;
	sha = io_hasher_new(io_frame_reader_checksum(fr));
	for (;;) {
		size_t frame_len = 0;
		uint64_t raw_len = 0;

		rc = io_frame_reader_next(fr, frame, cap, CHUNK, &frame_len, &raw_len);
		if (rc <= 0)
			break;
		frames++;
		if ((rc = io_frame_decode(fc, io_frame_reader_compress(fr), raw, raw_len, frame, frame_len)) < 0)
			goto out;
		io_hasher_update(sha, raw, raw_len);
		buf_append(out, raw, raw_len);
		total += raw_len;
	}
	if (rc < 0)
		goto out;
	io_hasher_final(sha, &digest);
	if ((rc = io_frame_reader_verify(fr, total, &digest, &info)) < 0)
		goto out;
	assert_int_equal(info.stored_size, stored_len);
	assert_int_equal(info.raw_size, total);
	if (out_frames)
		*out_frames = frames;
out:
	io_frame_reader_free(fr);
	io_frame_codec_free(fc);
	io_hasher_free(sha);
	free(frame);
	free(raw);
	return rc;
}

static void
test_codec_round_trip(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];
		IoFrameCodec *fc = NULL;
		size_t cap = io_frame_bound(c, CHUNK);
		uint8_t *frame = xmalloc(cap), *back = xmalloc(CHUNK + 1);

		assert_int_equal(io_frame_codec_new(&fc, c, 0), 0);
		for (size_t size_idx = 0; size_idx < N_SIZES && sizes[size_idx] <= CHUNK; size_idx++) {
			size_t len = sizes[size_idx];
			uint8_t *data = make_data(len, size_idx % 2 == 0, len);
			size_t frame_len = 0;

			assert_int_equal(io_frame_encode(fc, frame, cap, &frame_len, data, len), 0);
			assert_true(frame_len <= cap);
			assert_int_equal(io_frame_decode(fc, c, back, len, frame, frame_len), 0);
			assert_memory_equal(back, data, len);
			if (c != IO_COMPRESS_NONE && len > 0) {
				/* a frame that claims another size, or is cut, is corrupt */
				assert_int_equal(io_frame_decode(fc, c, back, len - 1, frame, frame_len), ERR_CORRUPT);
				assert_int_equal(io_frame_decode(fc, c, back, len, frame, frame_len - 1), ERR_CORRUPT);
			}
			free(data);
		}
		io_frame_codec_free(fc);
		free(frame);
		free(back);
	}
}

/* An all-zero chunk is encoded once and its frame reused: the bytes a fresh
 * codec gives for it, whatever came between; other lengths and data are
 * encoded as ever. */
static void
test_codec_zero_chunks(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];
		IoFrameCodec *fc = NULL, *fresh = NULL;
		size_t cap = io_frame_bound(c, CHUNK);
		uint8_t *zeros = xcalloc(1, CHUNK), *data = make_data(CHUNK, true, 3);
		uint8_t *first = xmalloc(cap), *frame = xmalloc(cap), *back = xmalloc(CHUNK);
		size_t first_len = 0, frame_len = 0;

		assert_int_equal(io_frame_codec_new(&fc, c, 0), 0);
		assert_int_equal(io_frame_codec_new(&fresh, c, 0), 0);
		assert_int_equal(io_frame_encode(fc, first, cap, &first_len, zeros, CHUNK), 0);
		for (int round = 0; round < 3; round++) {
			/* data, a short zero chunk, then the whole zero chunk again */
			assert_int_equal(io_frame_encode(fc, frame, cap, &frame_len, data, CHUNK), 0);
			assert_int_equal(io_frame_decode(fc, c, back, CHUNK, frame, frame_len), 0);
			assert_memory_equal(back, data, CHUNK);
			if (round == 1) {
				assert_int_equal(io_frame_encode(fc, frame, cap, &frame_len, zeros, 1000), 0);
				assert_int_equal(io_frame_decode(fc, c, back, 1000, frame, frame_len), 0);
				assert_memory_equal(back, zeros, 1000);
			}
			assert_int_equal(io_frame_encode(fc, frame, cap, &frame_len, zeros, CHUNK), 0);
			assert_int_equal(frame_len, first_len);
			assert_memory_equal(frame, first, first_len);
		}
		assert_int_equal(io_frame_encode(fresh, frame, cap, &frame_len, zeros, CHUNK), 0);
		assert_int_equal(frame_len, first_len);
		assert_memory_equal(frame, first, first_len);
		memset(back, 0xff, CHUNK);
		assert_int_equal(io_frame_decode(fc, c, back, CHUNK, first, first_len), 0);
		assert_memory_equal(back, zeros, CHUNK);
		io_frame_codec_free(fc);
		io_frame_codec_free(fresh);
		free(zeros);
		free(data);
		free(first);
		free(frame);
		free(back);
	}
}

static void
test_codec_bad_level(void **state)
{
	IoFrameCodec *fc = NULL;

	(void)state;
	assert_int_equal(io_frame_codec_new(&fc, IO_COMPRESS_ZSTD, 20), ERR_INVALID);
	assert_non_null(strstr(err_message(), "invalid zstd compression level 20"));
	assert_int_equal(io_frame_codec_new(&fc, IO_COMPRESS_LZ4, -1), ERR_INVALID);
	assert_null(fc);
}

/*
 * Sizes 0, 1, chunk-1, chunk, chunk+1 and many chunks, random and page-like,
 * every compression: the stream reader reads the framed container, and the
 * frame reader splits it into the frames written, source reads of any size.
 */
static void
test_framed_round_trip(void **state)
{
	static const size_t read_chunks[] = {1 << 20, 4096, 7};

	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++)
	for (size_t size_idx = 0; size_idx < N_SIZES; size_idx++)
	for (int random = 0; random <= 1; random++) {
		IoCompress c = all_compress[c_idx];
		size_t len = sizes[size_idx];
		uint8_t *data = make_data(len, random, 7 * len + (size_t)random);
		size_t stored_len = 0, frames = 0;
		uint8_t *stored = write_framed(c, data, len, &stored_len, &frames);
		Buf back = BUF_INIT;

		assert_int_equal(frames, (len + CHUNK - 1) / CHUNK);
		assert_int_equal(read_stream(stored, stored_len, &back), 0);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.data ? back.data : "", data, len);
		buf_free(&back);
		for (size_t rc_idx = 0; rc_idx < sizeof(read_chunks) / sizeof(read_chunks[0]); rc_idx++) {
			size_t split = 0;
			int rc;

			/* 7-byte reads of a many-chunk container take long under sanitizers */
			if (read_chunks[rc_idx] < 4096 && len > 2 * CHUNK)
				continue;
			rc = read_frames(stored, stored_len, read_chunks[rc_idx], &back, &split);
			assert_int_equal(rc, 0);
			assert_int_equal(back.len, len);
			assert_memory_equal(back.data ? back.data : "", data, len);
			/* an empty container holds one empty frame (none for no compression) */
			assert_int_equal(split, len == 0 ? (c == IO_COMPRESS_NONE ? 0 : 1) : frames);
			buf_free(&back);
		}
		free(stored);
		free(data);
	}
}

/* A container the stream writer made: the stream reader reads it; the frame
 * reader refuses it (it cannot know where the stream's pieces start),
 * unless it is not compressed (the content is its own pieces). */
static void
test_stream_container_not_split(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];
		size_t len = 3 * CHUNK + 5, stored_len = 0;
		uint8_t *data = make_data(len, false, 3);
		uint8_t *stored = write_stream(c, data, len, &stored_len);
		Buf back = BUF_INIT;

		assert_int_equal(read_stream(stored, stored_len, &back), 0);
		assert_memory_equal(back.data, data, len);
		buf_free(&back);
		if (c == IO_COMPRESS_NONE) {
			assert_int_equal(read_frames(stored, stored_len, 4096, &back, NULL), 0);
			assert_int_equal(back.len, len);
			assert_memory_equal(back.data, data, len);
		} else {
			assert_int_equal(read_frames(stored, stored_len, 1 << 20, &back, NULL), ERR_UNSUPPORTED);
			assert_non_null(strstr(err_message(), "cannot split container into frames"));
		}
		buf_free(&back);
		free(stored);
		free(data);
	}
}

/* A frame larger than the reader's buffer: ERR_UNSUPPORTED, not a crash. */
static void
test_frame_larger_than_buffer(void **state)
{
	size_t len = 2 * CHUNK, stored_len = 0;
	uint8_t *data = make_data(len, true, 9);
	uint8_t *stored = write_framed(IO_COMPRESS_LZ4, data, len, &stored_len, NULL);
	IoFrameReader *fr = NULL;
	uint8_t small[4096];
	size_t frame_len;
	uint64_t raw_len;

	(void)state;
	assert_int_equal(io_frame_reader_new(&fr, io_mem_reader_new(stored, stored_len)), 0);
	assert_int_equal(io_frame_reader_next(fr, small, sizeof(small), CHUNK, &frame_len, &raw_len), ERR_UNSUPPORTED);
	io_frame_reader_free(fr);
	/* and a frame holding more than raw_max */
	assert_int_equal(io_frame_reader_new(&fr, io_mem_reader_new(stored, stored_len)), 0);
	{
		size_t cap = io_frame_bound(IO_COMPRESS_LZ4, CHUNK);
		uint8_t *big = xmalloc(cap);

		assert_int_equal(io_frame_reader_next(fr, big, cap, CHUNK - 1, &frame_len, &raw_len), ERR_UNSUPPORTED);
		free(big);
	}
	io_frame_reader_free(fr);
	free(stored);
	free(data);
}

/* Flipped bytes anywhere, a cut, a byte added: ERR_CORRUPT (or a container
 * the frame reader refuses, which the stream reader then finds corrupt). */
static void
test_framed_damage(void **state)
{
	(void)state;
	for (size_t c_idx = 0; c_idx < N_COMPRESS; c_idx++) {
		IoCompress c = all_compress[c_idx];
		size_t len = 3 * CHUNK + 100, stored_len = 0;
		uint8_t *data = make_data(len, false, 11);
		uint8_t *stored = write_framed(c, data, len, &stored_len, NULL);
		size_t positions[] = {8, 9, 20, stored_len / 3, stored_len / 2, stored_len - TRAILER_BYTES - 1,
		                      stored_len - TRAILER_BYTES, stored_len - 20, stored_len - 1};

		for (size_t pos_idx = 0; pos_idx < sizeof(positions) / sizeof(positions[0]); pos_idx++) {
			Buf back = BUF_INIT;
			int rc;

			stored[positions[pos_idx]] ^= 0x10;
			rc = read_frames(stored, stored_len, 1 << 20, &back, NULL);
			assert_true(rc == ERR_CORRUPT || rc == ERR_UNSUPPORTED);
			buf_free(&back);
			assert_int_equal(read_stream(stored, stored_len, &back), ERR_CORRUPT);
			buf_free(&back);
			stored[positions[pos_idx]] ^= 0x10;
		}
		for (size_t cut = 1; cut < stored_len; cut += stored_len / 7) {
			Buf back = BUF_INIT;
			int rc = read_frames(stored, stored_len - cut, 1 << 20, &back, NULL);

			assert_true(rc == ERR_CORRUPT || rc == ERR_UNSUPPORTED);
			buf_free(&back);
		}
		{
			uint8_t *longer = xmalloc(stored_len + 1);
			Buf back = BUF_INIT;

			memcpy(longer, stored, stored_len - TRAILER_BYTES);
			longer[stored_len - TRAILER_BYTES] = 0;
			memcpy(longer + stored_len - TRAILER_BYTES + 1, stored + stored_len - TRAILER_BYTES, TRAILER_BYTES);
			assert_true(read_frames(longer, stored_len + 1, 1 << 20, &back, NULL) < 0);
			buf_free(&back);
			free(longer);
		}
		free(stored);
		free(data);
	}
}

/* Frames hashed in another order than written: the trailer catches it. */
static void
test_verify_mismatch(void **state)
{
	size_t len = 2 * CHUNK, stored_len = 0;
	uint8_t *data = make_data(len, true, 5);
	uint8_t *stored = write_framed(IO_COMPRESS_ZSTD, data, len, &stored_len, NULL);
	IoFrameReader *fr = NULL;
	size_t cap = io_frame_bound(IO_COMPRESS_ZSTD, CHUNK);
	uint8_t *frame = xmalloc(cap);
	IoChecksum digest = {.kind = IO_CHECKSUM_CRC32C};
	size_t frame_len;
	uint64_t raw_len, total = 0;

	(void)state;
	assert_int_equal(io_frame_reader_new(&fr, io_mem_reader_new(stored, stored_len)), 0);
	assert_int_equal(io_frame_reader_checksum(fr), IO_CHECKSUM_CRC32C);
	assert_int_equal(io_frame_reader_verify(fr, 0, &digest, NULL), ERR_INTERNAL);
	while (io_frame_reader_next(fr, frame, cap, CHUNK, &frame_len, &raw_len) == 1)
		total += raw_len;
	assert_int_equal(total, len);
	assert_int_equal(io_frame_reader_verify(fr, total - 1, &digest, NULL), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "size mismatch in container"));
	assert_int_equal(io_frame_reader_verify(fr, total, &digest, NULL), ERR_CORRUPT);
	assert_non_null(strstr(err_message(), "checksum mismatch in container"));
	assert_non_null(strstr(err_detail_text(), "The trailer records CRC-32C "));
	/* a sum of the other kind is the caller's mistake, not the container's */
	digest.kind = IO_CHECKSUM_SHA256;
	assert_int_equal(io_frame_reader_verify(fr, total, &digest, NULL), ERR_INTERNAL);
	io_frame_reader_free(fr);
	free(frame);
	free(stored);
	free(data);
}

/* A sink that fails its writes: the writer says so (at a put or at close,
 * whenever its buffer reaches the sink) and never closes the sink. */
typedef struct FailSink {
	int closes;
	int frees;
} FailSink;

static int
fail_write(void *impl, const void *buf, size_t len)
{
	(void)impl;
	(void)buf;
	(void)len;
	return err_set(ERR_NO_SPACE, "no space left on the probe");
}

static int
fail_close(void *impl)
{
	((FailSink *)impl)->closes++;
	return 0;
}

static void
fail_free(void *impl)
{
	((FailSink *)impl)->frees++;
}

static const IoWriterOps fail_ops = {.write = fail_write, .close = fail_close, .free = fail_free};

static void
test_writer_sink_fails(void **state)
{
	static const size_t lens[] = {10, 3 * CHUNK};

	(void)state;
	for (size_t len_idx = 0; len_idx < 2; len_idx++) {
		FailSink fs = {0, 0};
		IoFrameWriter *fw = NULL;
		size_t len = lens[len_idx];
		uint8_t *data = make_data(len, true, 1);
		int rc = 0;

		assert_int_equal(io_frame_writer_new(&fw, io_writer_new(&fail_ops, &fs), IO_COMPRESS_NONE, IO_CHECKSUM_CRC32C), 0);
		for (size_t off = 0; off < len && rc == 0; off += CHUNK) {
			size_t n = len - off < CHUNK ? len - off : CHUNK;
			rc = io_frame_writer_put(fw, data + off, n, data + off, n);
		}
		if (rc == 0)
			rc = io_frame_writer_close(fw, NULL);
		assert_int_equal(rc, ERR_NO_SPACE);
		/* once failed, it refuses further use */
		assert_int_equal(io_frame_writer_close(fw, NULL), ERR_INTERNAL);
		io_frame_writer_free(fw);
		assert_int_equal(fs.closes, 0);
		assert_int_equal(fs.frees, 1);
		free(data);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_round_trip),
		cmocka_unit_test(test_codec_zero_chunks),
		cmocka_unit_test(test_codec_bad_level),
		cmocka_unit_test(test_framed_round_trip),
		cmocka_unit_test(test_stream_container_not_split),
		cmocka_unit_test(test_frame_larger_than_buffer),
		cmocka_unit_test(test_framed_damage),
		cmocka_unit_test(test_verify_mismatch),
		cmocka_unit_test(test_writer_sink_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
