/*
 * compress.c - zstd and lz4 compression filters, and their names.
 *
 * Invariant: each filter uses fixed-size buffers chosen at creation (the
 * libraries' recommended stream sizes, 64 KiB lz4 blocks, at most an 8 MiB
 * zstd window), never memory proportional to the stream; a decompress reader
 * returns 0 only at the end of a complete frame, so truncated or corrupt
 * input is ERR_CORRUPT, never a short stream.
 *
 * Both writers add the library's content checksum to each frame: a stream
 * read without a container around it still detects corruption.
 */
#include "io/io.h"

#include "common/buf.h"
#include "common/error.h"

#include <lz4frame.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* zstd levels above 19 need windows over 8 MiB (and the reader's limit). */
#define ZSTD_LEVEL_MAX 19
#define ZSTD_WINDOW_LOG_MAX 23
#define LZ4_CHUNK_BYTES (64 * 1024)
/* A decompressing reader's input buffer: under glibc's mmap threshold (128
 * KiB, main.c), as a restore opens a stream for each of thousands of files. */
#define DECODE_IN_BYTES (64 * 1024)

int
io_compress_parse(IoCompress *out, const char *name)
{
	static const IoCompress all[] = {IO_COMPRESS_NONE, IO_COMPRESS_LZ4, IO_COMPRESS_ZSTD};

	for (size_t c_idx = 0; c_idx < sizeof(all) / sizeof(all[0]); c_idx++) {
		if (strcmp(name, io_compress_name(all[c_idx])) == 0) {
			*out = all[c_idx];
			return 0;
		}
	}
	err_set(ERR_INVALID, "invalid compression \"%s\"", name);
	err_hint("Use none, lz4 or zstd.");
	return ERR_INVALID;
}

const char *
io_compress_name(IoCompress c)
{
	switch (c) {
	case IO_COMPRESS_NONE:
		return "none";
	case IO_COMPRESS_LZ4:
		return "lz4";
	case IO_COMPRESS_ZSTD:
		return "zstd";
	}
	return "unknown";
}

int
io_compress_default_level(IoCompress c)
{
	return c == IO_COMPRESS_ZSTD ? 3 : 0;
}

static int
level_invalid(IoCompress c, int level, int max)
{
	err_set(ERR_INVALID, "invalid %s compression level %d", io_compress_name(c), level);
	err_hint("Use a level between 1 and %d, or 0 for the default.", max);
	return ERR_INVALID;
}

/* zstd writer */

typedef struct ZstdWriter {
	IoWriter *next;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	size_t out_cap;
} ZstdWriter;

/* One compression call; *out_left is zstd's "still to flush" count. */
static int
zstd_step(ZstdWriter *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode, size_t *out_left)
{
	ZSTD_outBuffer out = {z->out, z->out_cap, 0};
	size_t r = ZSTD_compressStream2(z->cctx, &out, in, mode);

	if (ZSTD_isError(r))
		return err_set(ERR_INTERNAL, "could not compress zstd stream: %s", ZSTD_getErrorName(r));
	*out_left = r;
	return out.pos > 0 ? io_writer_write(z->next, z->out, out.pos) : 0;
}

static int
zstd_write(void *impl, const void *buf, size_t len)
{
	ZSTD_inBuffer in = {buf, len, 0};
	size_t left;

	while (in.pos < in.size) {
		int rc = zstd_step(impl, &in, ZSTD_e_continue, &left);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
zstd_close(void *impl)
{
	ZstdWriter *z = impl;
	ZSTD_inBuffer in = {NULL, 0, 0};
	size_t left;

	do {
		int rc = zstd_step(z, &in, ZSTD_e_end, &left);

		if (rc < 0)
			return rc;
	} while (left > 0);
	return io_writer_close(z->next);
}

static void
zstd_writer_free(void *impl)
{
	ZstdWriter *z = impl;

	io_writer_free(z->next);
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
}

static const IoWriterOps zstd_writer_ops = {
	.write = zstd_write,
	.close = zstd_close,
	.free = zstd_writer_free,
};

static int
zstd_writer_new(IoWriter **out, IoWriter *next, int level)
{
	ZstdWriter *z;
	size_t r1, r2;

	if (level < 1 || level > ZSTD_LEVEL_MAX) {
		io_writer_free(next);
		return level_invalid(IO_COMPRESS_ZSTD, level, ZSTD_LEVEL_MAX);
	}
	z = xmalloc(sizeof(*z));
	z->next = next;
	z->cctx = ZSTD_createCCtx();
	ASSERT(z->cctx != NULL);
	r1 = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	r2 = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	ASSERT(!ZSTD_isError(r1) && !ZSTD_isError(r2));
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = xmalloc(z->out_cap);
	*out = io_writer_new(&zstd_writer_ops, z);
	return 0;
}

/* lz4 writer: the frame header is produced with the first block or at close. */

typedef struct Lz4Writer {
	IoWriter *next;
	LZ4F_cctx *cctx;
	LZ4F_preferences_t prefs;
	int begun;
	uint8_t *out;
	size_t out_cap;
	size_t out_len;
} Lz4Writer;

static int
lz4_compress_error(size_t r)
{
	return err_set(ERR_INTERNAL, "could not compress lz4 stream: %s", LZ4F_getErrorName(r));
}

static int
lz4_begin(Lz4Writer *z)
{
	size_t r;

	if (z->begun)
		return 0;
	r = LZ4F_compressBegin(z->cctx, z->out, z->out_cap, &z->prefs);
	if (LZ4F_isError(r))
		return lz4_compress_error(r);
	z->out_len = r;
	z->begun = 1;
	return 0;
}

static int
lz4_flush(Lz4Writer *z)
{
	size_t len = z->out_len;

	z->out_len = 0;
	return len > 0 ? io_writer_write(z->next, z->out, len) : 0;
}

static int
lz4_write(void *impl, const void *buf, size_t len)
{
	Lz4Writer *z = impl;
	const uint8_t *p = buf;
	int rc = lz4_begin(z);

	while (rc == 0 && len > 0) {
		size_t chunk = len < LZ4_CHUNK_BYTES ? len : LZ4_CHUNK_BYTES;
		size_t r = LZ4F_compressUpdate(z->cctx, z->out + z->out_len, z->out_cap - z->out_len,
			p, chunk, NULL);

		if (LZ4F_isError(r))
			return lz4_compress_error(r);
		z->out_len += r;
		p += chunk;
		len -= chunk;
		rc = lz4_flush(z);
	}
	return rc;
}

static int
lz4_close(void *impl)
{
	Lz4Writer *z = impl;
	int rc = lz4_begin(z);
	size_t r;

	if (rc < 0)
		return rc;
	r = LZ4F_compressEnd(z->cctx, z->out + z->out_len, z->out_cap - z->out_len, NULL);
	if (LZ4F_isError(r))
		return lz4_compress_error(r);
	z->out_len += r;
	rc = lz4_flush(z);
	if (rc < 0)
		return rc;
	return io_writer_close(z->next);
}

static void
lz4_writer_free(void *impl)
{
	Lz4Writer *z = impl;

	io_writer_free(z->next);
	LZ4F_freeCompressionContext(z->cctx);
	free(z->out);
	free(z);
}

static const IoWriterOps lz4_writer_ops = {
	.write = lz4_write,
	.close = lz4_close,
	.free = lz4_writer_free,
};

static int
lz4_writer_new(IoWriter **out, IoWriter *next, int level)
{
	Lz4Writer *z;
	size_t r;

	if (level < 0 || level > LZ4F_compressionLevel_max()) {
		io_writer_free(next);
		return level_invalid(IO_COMPRESS_LZ4, level, LZ4F_compressionLevel_max());
	}
	z = xcalloc(1, sizeof(*z));
	z->next = next;
	r = LZ4F_createCompressionContext(&z->cctx, LZ4F_VERSION);
	ASSERT(!LZ4F_isError(r));
	z->prefs.compressionLevel = level;
	z->prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	z->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	/* Room for the frame header plus one chunk, including what lz4 buffers. */
	z->out_cap = LZ4F_HEADER_SIZE_MAX + LZ4F_compressBound(LZ4_CHUNK_BYTES, &z->prefs);
	z->out = xmalloc(z->out_cap);
	*out = io_writer_new(&lz4_writer_ops, z);
	return 0;
}

int
io_compress_writer_new(IoWriter **out, IoWriter *next, IoCompress c, int level)
{
	if (level == 0)
		level = io_compress_default_level(c);
	switch (c) {
	case IO_COMPRESS_NONE:
		*out = next;
		return 0;
	case IO_COMPRESS_LZ4:
		return lz4_writer_new(out, next, level);
	case IO_COMPRESS_ZSTD:
		return zstd_writer_new(out, next, level);
	}
	io_writer_free(next);
	return err_set(ERR_INVALID, "invalid compression %d", (int)c);
}

/*
 * Decompress reader: one loop for both libraries.  "hint" is what the
 * library last said about input still expected: 0 exactly at a frame end.
 * The source ending anywhere else is truncation.
 */

typedef struct Decompressor {
	IoReader *next;
	IoCompress c;
	ZSTD_DCtx *zstd;
	LZ4F_dctx *lz4;
	uint8_t *in;
	size_t in_cap;
	size_t in_pos;
	size_t in_len;
	int eof;
	size_t hint;
} Decompressor;

static int
decompress_corrupt(const Decompressor *d, const char *reason)
{
	return err_set(ERR_CORRUPT, "could not decompress %s stream: %s", io_compress_name(d->c), reason);
}

/* Decode what fits of the input into out[*out_pos, cap). */
static int
decompress_step(Decompressor *d, uint8_t *out, size_t cap, size_t *out_pos)
{
	size_t r;

	if (d->c == IO_COMPRESS_ZSTD) {
		ZSTD_inBuffer in = {d->in, d->in_len, d->in_pos};
		ZSTD_outBuffer o = {out, cap, *out_pos};

		r = ZSTD_decompressStream(d->zstd, &o, &in);
		if (ZSTD_isError(r))
			return decompress_corrupt(d, ZSTD_getErrorName(r));
		d->in_pos = in.pos;
		*out_pos = o.pos;
	} else {
		size_t dst_len = cap - *out_pos;
		size_t src_len = d->in_len - d->in_pos;

		r = LZ4F_decompress(d->lz4, out + *out_pos, &dst_len, d->in + d->in_pos, &src_len, NULL);
		if (LZ4F_isError(r))
			return decompress_corrupt(d, LZ4F_getErrorName(r));
		d->in_pos += src_len;
		*out_pos += dst_len;
	}
	d->hint = r;
	return 0;
}

static ssize_t
decompress_read(void *impl, void *buf, size_t cap)
{
	Decompressor *d = impl;
	size_t out_pos = 0;

	while (out_pos < cap) {
		size_t before = out_pos;
		int rc;

		if (d->in_pos == d->in_len && !d->eof) {
			ssize_t n = io_reader_read(d->next, d->in, d->in_cap);

			if (n < 0)
				return n;
			d->in_pos = 0;
			d->in_len = (size_t)n;
			d->eof = n == 0;
		}
		if (d->in_pos == d->in_len && d->eof && d->hint == 0)
			break;
		rc = decompress_step(d, buf, cap, &out_pos);
		if (rc < 0)
			return rc;
		/* No input left and nothing flushed: the frame can never finish. */
		if (d->in_pos == d->in_len && d->eof && out_pos == before && d->hint != 0)
			return decompress_corrupt(d, "unexpected end of input");
	}
	return (ssize_t)out_pos;
}

/*
 * One zstd decompression context kept per thread between streams: a restore
 * opens a stream for each of thousands of small files, and a new context
 * each time is an allocation above the mmap threshold, its page faults and
 * its zeroing.  The thread's context is freed when the thread ends.
 */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static bool dctx_key_ok;

static void
dctx_destroy(void *p)
{
	ZSTD_freeDCtx(p);
}

static void
dctx_key_init(void)
{
	dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

static ZSTD_DCtx *
dctx_take(void)
{
	ZSTD_DCtx *z = NULL;

	pthread_once(&dctx_once, dctx_key_init);
	if (dctx_key_ok && (z = pthread_getspecific(dctx_key)) != NULL) {
		(void)pthread_setspecific(dctx_key, NULL);
		(void)ZSTD_DCtx_reset(z, ZSTD_reset_session_and_parameters);
		return z;
	}
	z = ZSTD_createDCtx();
	ASSERT(z != NULL);
	return z;
}

static void
dctx_give(ZSTD_DCtx *z)
{
	if (z == NULL)
		return;
	if (dctx_key_ok && pthread_getspecific(dctx_key) == NULL && pthread_setspecific(dctx_key, z) == 0)
		return;
	ZSTD_freeDCtx(z);
}

static void
decompressor_free(void *impl)
{
	Decompressor *d = impl;

	io_reader_free(d->next);
	dctx_give(d->zstd);
	LZ4F_freeDecompressionContext(d->lz4);
	free(d->in);
	free(d);
}

static const IoReaderOps decompress_reader_ops = {
	.read = decompress_read,
	.free = decompressor_free,
};

int
io_decompress_reader_new(IoReader **out, IoReader *next, IoCompress c)
{
	Decompressor *d;
	size_t r;

	if (c == IO_COMPRESS_NONE) {
		*out = next;
		return 0;
	}
	if (c != IO_COMPRESS_LZ4 && c != IO_COMPRESS_ZSTD) {
		io_reader_free(next);
		return err_set(ERR_INVALID, "invalid compression %d", (int)c);
	}
	d = xcalloc(1, sizeof(*d));
	d->next = next;
	d->c = c;
	/* An empty source is not a valid stream: expect at least one frame. */
	d->hint = 1;
	if (c == IO_COMPRESS_ZSTD) {
		d->zstd = dctx_take();
		/* Refuse frames that would need more than the bounded window. */
		r = ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
		ASSERT(!ZSTD_isError(r));
		/* not ZSTD_DStreamInSize(), a block and 3 bytes: above the mmap
		 * threshold; zstd takes its input in pieces of any size */
		d->in_cap = DECODE_IN_BYTES;
	} else {
		r = LZ4F_createDecompressionContext(&d->lz4, LZ4F_VERSION);
		ASSERT(!LZ4F_isError(r));
		d->in_cap = DECODE_IN_BYTES;
	}
	d->in = xmalloc(d->in_cap);
	*out = io_reader_new(&decompress_reader_ops, d);
	return 0;
}
