/*
 * frame.c - containers whose body is a sequence of independent frames.
 *
 * A backup compresses a large file in chunks on several threads: each chunk
 * becomes one complete zstd or LZ4 frame (content size in its header,
 * content checksum on), and the frames are stored one after the other
 * between the usual header and trailer.  Both formats define a stream of
 * concatenated frames as valid, and the stream decoder (compress.c) reads
 * on after a frame's end, so such a container is an ordinary format-1
 * container: every reader, old or new, reads it.
 *
 * The frame reader splits such a body again without decoding it, by walking
 * the frame and block headers, so that frames can be decoded on several
 * threads (without compression, the body is cut in pieces as it comes).  It
 * refuses (ERR_UNSUPPORTED, not ERR_CORRUPT) what it cannot split: a frame
 * without its content size (the stream writer's), a frame larger than the
 * caller's buffer.  Such a container is
 * read with the stream reader instead, which tells damage from the rest.
 *
 * Invariant: a frame reader returns 0 (the end) only with exactly the
 * 44-byte trailer left after the last frame; checking the trailer against
 * the content is the caller's io_frame_reader_verify, since the caller is
 * the one who decodes and hashes.
 */
#include "io/io.h"
#include "io/io_int.h"

#include "common/buf.h"
#include "common/error.h"

#include <lz4frame.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define ZSTD_LEVEL_MAX 19
#define READ_BUF_BYTES (256 * 1024)
#define LZ4_MAGIC 0x184D2204u
#define ZSTD_MAGIC 0xFD2FB528u

static void
lz4_prefs(LZ4F_preferences_t *p, int level, size_t raw_len)
{
	memset(p, 0, sizeof(*p));
	p->compressionLevel = level;
	p->frameInfo.blockSizeID = LZ4F_max64KB;
	p->frameInfo.blockMode = LZ4F_blockLinked;
	p->frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	/* non-zero: LZ4F_compressFrame records the real size in the header */
	p->frameInfo.contentSize = raw_len;
}

size_t
io_frame_bound(IoCompress c, size_t raw_len)
{
	LZ4F_preferences_t prefs;

	switch (c) {
	case IO_COMPRESS_NONE:
		return raw_len;
	case IO_COMPRESS_LZ4:
		lz4_prefs(&prefs, 0, raw_len);
		return LZ4F_compressFrameBound(raw_len, &prefs);
	case IO_COMPRESS_ZSTD:
		return ZSTD_compressBound(raw_len);
	}
	return raw_len;
}

struct IoFrameCodec {
	IoCompress c;
	int level;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	LZ4F_dctx *ld;
	/* the frame of the last all-zero chunk encoded, for zero_len bytes: a WAL
	 * segment's unused tail, a relation's empty pages are encoded once */
	uint8_t *zero_frame;
	size_t zero_frame_len;
	size_t zero_len;
};

int
io_frame_codec_new(IoFrameCodec **out, IoCompress c, int level)
{
	IoFrameCodec *fc;

	if (level == 0)
		level = io_compress_default_level(c);
	if (c == IO_COMPRESS_ZSTD && (level < 1 || level > ZSTD_LEVEL_MAX)) {
		err_set(ERR_INVALID, "invalid zstd compression level %d", level);
		err_hint("Use a level between 1 and %d, or 0 for the default.", ZSTD_LEVEL_MAX);
		return ERR_INVALID;
	}
	if (c == IO_COMPRESS_LZ4 && (level < 0 || level > LZ4F_compressionLevel_max())) {
		err_set(ERR_INVALID, "invalid lz4 compression level %d", level);
		err_hint("Use a level between 1 and %d, or 0 for the default.", LZ4F_compressionLevel_max());
		return ERR_INVALID;
	}
	if (c != IO_COMPRESS_NONE && c != IO_COMPRESS_LZ4 && c != IO_COMPRESS_ZSTD)
		return err_set(ERR_INVALID, "invalid compression %d", (int)c);
	fc = xcalloc(1, sizeof(*fc));
	fc->c = c;
	fc->level = level;
	*out = fc;
	return 0;
}

void
io_frame_codec_free(IoFrameCodec *fc)
{
	if (fc == NULL)
		return;
	ZSTD_freeCCtx(fc->zc);
	ZSTD_freeDCtx(fc->zd);
	LZ4F_freeDecompressionContext(fc->ld);
	free(fc->zero_frame);
	free(fc);
}

/* All bytes zero?  (Data stops it at its first bytes: a page starts with its LSN.) */
static bool
all_zero(const uint8_t *p, size_t len)
{
	return len > 0 && p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

static int frame_encode(IoFrameCodec *fc, uint8_t *dst, size_t cap, size_t *out_len, const uint8_t *src,
                        size_t len);

int
io_frame_encode(IoFrameCodec *fc, uint8_t *dst, size_t cap, size_t *out_len, const uint8_t *src, size_t len)
{
	int rc;

	if (fc->c == IO_COMPRESS_NONE || src == NULL || !all_zero(src, len))
		return frame_encode(fc, dst, cap, out_len, src, len);
	/* the same input, the same parameters: the same frame, byte for byte */
	if (fc->zero_frame != NULL && fc->zero_len == len && fc->zero_frame_len <= cap) {
		memcpy(dst, fc->zero_frame, fc->zero_frame_len);
		*out_len = fc->zero_frame_len;
		return 0;
	}
	if ((rc = frame_encode(fc, dst, cap, out_len, src, len)) < 0)
		return rc;
	free(fc->zero_frame);
	fc->zero_frame = xmalloc(*out_len);
	memcpy(fc->zero_frame, dst, *out_len);
	fc->zero_frame_len = *out_len;
	fc->zero_len = len;
	return 0;
}

static int
frame_encode(IoFrameCodec *fc, uint8_t *dst, size_t cap, size_t *out_len, const uint8_t *src, size_t len)
{
	static const uint8_t empty[1];
	size_t r;

	if (src == NULL)
		src = empty;
	switch (fc->c) {
	case IO_COMPRESS_NONE:
		if (len > cap)
			return err_set(ERR_INTERNAL, "frame buffer too small");
		memcpy(dst, src, len);
		*out_len = len;
		return 0;
	case IO_COMPRESS_LZ4: {
		LZ4F_preferences_t prefs;

		lz4_prefs(&prefs, fc->level, len);
		r = LZ4F_compressFrame(dst, cap, src, len, &prefs);
		if (LZ4F_isError(r))
			return err_set(ERR_INTERNAL, "could not compress lz4 frame: %s", LZ4F_getErrorName(r));
		*out_len = r;
		return 0;
	}
	case IO_COMPRESS_ZSTD:
		if (fc->zc == NULL) {
			size_t r1, r2;

			fc->zc = ZSTD_createCCtx();
			ASSERT(fc->zc != NULL);
			r1 = ZSTD_CCtx_setParameter(fc->zc, ZSTD_c_compressionLevel, fc->level);
			r2 = ZSTD_CCtx_setParameter(fc->zc, ZSTD_c_checksumFlag, 1);
			ASSERT(!ZSTD_isError(r1) && !ZSTD_isError(r2));
		}
		/* one-shot: the frame header records the content size */
		r = ZSTD_compress2(fc->zc, dst, cap, src, len);
		if (ZSTD_isError(r))
			return err_set(ERR_INTERNAL, "could not compress zstd frame: %s", ZSTD_getErrorName(r));
		*out_len = r;
		return 0;
	}
	return err_set(ERR_INTERNAL, "invalid compression %d", (int)fc->c);
}

static int
frame_corrupt(IoCompress c, const char *reason)
{
	return err_set(ERR_CORRUPT, "could not decompress %s stream: %s", io_compress_name(c), reason);
}

int
io_frame_decode(IoFrameCodec *fc, IoCompress c, uint8_t *dst, size_t raw_len, const uint8_t *src, size_t len)
{
	size_t r;

	switch (c) {
	case IO_COMPRESS_NONE:
		if (len != raw_len)
			return frame_corrupt(c, "frame size does not match");
		memcpy(dst, src, len);
		return 0;
	case IO_COMPRESS_LZ4: {
		size_t in_pos = 0, out_pos = 0;

		if (fc->ld == NULL) {
			r = LZ4F_createDecompressionContext(&fc->ld, LZ4F_VERSION);
			ASSERT(!LZ4F_isError(r));
		}
		LZ4F_resetDecompressionContext(fc->ld);
		do {
			size_t dst_len = raw_len - out_pos, src_len = len - in_pos;

			r = LZ4F_decompress(fc->ld, dst + out_pos, &dst_len, src + in_pos, &src_len, NULL);
			if (LZ4F_isError(r))
				return frame_corrupt(c, LZ4F_getErrorName(r));
			in_pos += src_len;
			out_pos += dst_len;
			if (r != 0 && src_len == 0 && dst_len == 0)
				return frame_corrupt(c, "unexpected end of input");
		} while (r != 0);
		if (in_pos != len || out_pos != raw_len)
			return frame_corrupt(c, "frame size does not match its header");
		return 0;
	}
	case IO_COMPRESS_ZSTD:
		if (fc->zd == NULL) {
			fc->zd = ZSTD_createDCtx();
			ASSERT(fc->zd != NULL);
		}
		r = ZSTD_decompressDCtx(fc->zd, dst, raw_len, src, len);
		if (ZSTD_isError(r))
			return frame_corrupt(c, ZSTD_getErrorName(r));
		if (r != raw_len)
			return frame_corrupt(c, "frame size does not match its header");
		return 0;
	}
	return err_set(ERR_INTERNAL, "invalid compression %d", (int)c);
}

/* ---- writing a container frame by frame ---- */

/*
 * Small pieces (the header, the trailer, the frames of a small file) are
 * gathered and handed to the sink together: most files of a data directory
 * are smaller than PENDING_BYTES, and become one write instead of three.
 */
#define PENDING_BYTES (64 * 1024)

struct IoFrameWriter {
	IoWriter *sink;     /* owned */
	IoCompress c;
	IoHasher *hasher;
	size_t frames;
	bool failed;
	bool closed;
	IoContainerInfo info;
	size_t pending_len;
	uint8_t pending[PENDING_BYTES];
};

static int
fw_flush(IoFrameWriter *w)
{
	int rc = 0;

	if (w->pending_len > 0)
		rc = io_writer_write(w->sink, w->pending, w->pending_len);
	w->pending_len = 0;
	if (rc < 0)
		w->failed = true;
	return rc;
}

static int
fw_sink_write(IoFrameWriter *w, const void *buf, size_t len)
{
	int rc;

	w->info.stored_size += len;
	if (len <= PENDING_BYTES - w->pending_len) {
		memcpy(w->pending + w->pending_len, buf, len);
		w->pending_len += len;
		return 0;
	}
	if ((rc = fw_flush(w)) < 0)
		return rc;
	if (len < PENDING_BYTES) {
		memcpy(w->pending, buf, len);
		w->pending_len = len;
		return 0;
	}
	if ((rc = io_writer_write(w->sink, buf, len)) < 0)
		w->failed = true;
	return rc;
}

int
io_frame_writer_new(IoFrameWriter **out, IoWriter *sink, IoCompress c, IoChecksumKind k)
{
	IoFrameWriter *w = xmalloc(sizeof(*w));
	uint8_t header[IO_CONTAINER_HEADER_BYTES];
	int rc;

	memset(w, 0, offsetof(IoFrameWriter, pending)); /* not the buffer: filled before it is read */
	w->sink = sink;
	w->c = c;
	w->hasher = io_hasher_new(k);
	w->info.compress = c;
	io_container_header_make(header, c, k);
	if ((rc = fw_sink_write(w, header, sizeof(header))) < 0) {
		io_frame_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int
io_frame_writer_put(IoFrameWriter *w, const void *raw, size_t raw_len, const void *frame, size_t frame_len)
{
	if (w->failed || w->closed)
		return err_set(ERR_INTERNAL, "cannot use a stream after an error");
	io_hasher_update(w->hasher, raw, raw_len);
	w->info.raw_size += raw_len;
	w->frames++;
	return fw_sink_write(w, frame, frame_len);
}

int
io_frame_writer_close(IoFrameWriter *w, IoContainerInfo *out)
{
	uint8_t trailer[IO_CONTAINER_TRAILER_BYTES];
	int rc;

	if (w->failed || w->closed)
		return err_set(ERR_INTERNAL, "cannot use a stream after an error");
	/* The stream decoders expect at least one frame: an empty file has an empty one. */
	if (w->frames == 0 && w->c != IO_COMPRESS_NONE) {
		IoFrameCodec *fc = NULL;
		uint8_t frame[64];
		size_t len = 0;

		rc = io_frame_codec_new(&fc, w->c, 0);
		if (rc == 0)
			rc = io_frame_encode(fc, frame, sizeof(frame), &len, NULL, 0);
		io_frame_codec_free(fc);
		if (rc == 0)
			rc = io_frame_writer_put(w, NULL, 0, frame, len);
		if (rc < 0) {
			w->failed = true;
			return rc;
		}
	}
	io_hasher_final(w->hasher, &w->info.sum);
	io_container_trailer_make(trailer, w->info.raw_size, &w->info.sum);
	if ((rc = fw_sink_write(w, trailer, sizeof(trailer))) < 0 || (rc = fw_flush(w)) < 0)
		return rc;
	if ((rc = io_writer_close(w->sink)) < 0) {
		w->failed = true;
		return rc;
	}
	w->closed = true;
	if (out)
		*out = w->info;
	return 0;
}

void
io_frame_writer_free(IoFrameWriter *w)
{
	if (w == NULL)
		return;
	io_writer_free(w->sink);
	io_hasher_free(w->hasher);
	free(w);
}

/* ---- splitting a container into its frames ---- */

struct IoFrameReader {
	IoReader *source;   /* owned */
	IoCompress c;
	IoChecksumKind kind;
	uint8_t *rb;        /* READ_BUF_BYTES of what the source gave, [pos, len) unread */
	size_t pos;
	size_t len;
	bool eof;
	bool ended;         /* the trailer is in trailer */
	bool failed;
	uint64_t stored;    /* bytes of the object read so far */
	uint8_t trailer[IO_CONTAINER_TRAILER_BYTES];
};

/* At least want bytes unread in rb (want <= READ_BUF_BYTES), unless the source ends first. */
static int
fr_fill(IoFrameReader *r, size_t want)
{
	while (r->len - r->pos < want && !r->eof) {
		ssize_t n;

		if (r->pos > 0) {
			memmove(r->rb, r->rb + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		n = io_reader_read(r->source, r->rb + r->len, READ_BUF_BYTES - r->len);
		if (n < 0)
			return (int)n;
		r->eof = n == 0;
		r->len += (size_t)n;
		r->stored += (uint64_t)n;
	}
	return 0;
}

static int
fr_truncated(void)
{
	err_set(ERR_CORRUPT, "truncated container");
	err_detail("The object ends inside a frame.");
	return ERR_CORRUPT;
}

static int
fr_unsplittable(const char *why)
{
	return err_set(ERR_UNSUPPORTED, "cannot split container into frames: %s", why);
}

/* Append n bytes of the stream to the frame being collected in buf[*flen, cap). */
static int
fr_take(IoFrameReader *r, uint8_t *buf, size_t cap, size_t *flen, uint64_t n)
{
	if (n > cap - *flen)
		return fr_unsplittable("a frame is larger than the buffer");
	while (n > 0) {
		size_t avail, k;
		int rc;

		if (r->pos == r->len && (rc = fr_fill(r, 1)) < 0)
			return rc;
		avail = r->len - r->pos;
		if (avail == 0)
			return fr_truncated();
		k = avail < n ? avail : (size_t)n;
		memcpy(buf + *flen, r->rb + r->pos, k);
		r->pos += k;
		*flen += k;
		n -= k;
	}
	return 0;
}

static uint64_t
le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int byte_idx = bytes - 1; byte_idx >= 0; byte_idx--)
		v = v << 8 | p[byte_idx];
	return v;
}

/* LZ4 frame format: magic, FLG, BD, [content size 8], [dict id 4], HC; blocks; end mark; [checksum 4]. */
static int
fr_lz4(IoFrameReader *r, uint8_t *buf, size_t cap, size_t *flen, uint64_t *out_raw)
{
	uint8_t flg;
	bool has_size, block_sum, content_sum;
	int rc;

	if ((rc = fr_take(r, buf, cap, flen, 6)) < 0)
		return rc;
	if (le(buf, 4) != LZ4_MAGIC)
		return fr_unsplittable("not an LZ4 frame");
	flg = buf[4];
	if ((flg >> 6) != 1 || (flg & 0x02) || (flg & 0x01))
		return fr_unsplittable("unexpected LZ4 frame flags");
	has_size = flg & 0x08;
	block_sum = flg & 0x10;
	content_sum = flg & 0x04;
	*out_raw = 0;
	if (has_size) {
		if ((rc = fr_take(r, buf, cap, flen, 8)) < 0)
			return rc;
		*out_raw = le(buf + 6, 8);
	}
	if ((rc = fr_take(r, buf, cap, flen, 1)) < 0)   /* header checksum: the decoder checks it */
		return rc;
	for (;;) {
		size_t at = *flen;
		uint32_t word;

		if ((rc = fr_take(r, buf, cap, flen, 4)) < 0)
			return rc;
		word = (uint32_t)le(buf + at, 4);
		if (word == 0)
			break;
		/* without its size only an empty frame can be placed: a stream writer's frame */
		if (!has_size)
			return fr_unsplittable("an LZ4 frame does not record its size");
		if ((rc = fr_take(r, buf, cap, flen, (word & 0x7FFFFFFFu) + (block_sum ? 4 : 0))) < 0)
			return rc;
	}
	if (content_sum && (rc = fr_take(r, buf, cap, flen, 4)) < 0)
		return rc;
	return 0;
}

/* zstd frame format (RFC 8878): magic, header, blocks (3-byte headers), [checksum 4]. */
static int
fr_zstd(IoFrameReader *r, uint8_t *buf, size_t cap, size_t *flen, uint64_t *out_raw)
{
	static const int dict_bytes[] = {0, 1, 2, 4};
	uint8_t fhd;
	int fcs_bytes;
	size_t at;
	bool single, last = false;
	int rc;

	if ((rc = fr_take(r, buf, cap, flen, 5)) < 0)
		return rc;
	if (le(buf, 4) != ZSTD_MAGIC)
		return fr_unsplittable("not a zstd frame");
	fhd = buf[4];
	single = fhd & 0x20;
	if (fhd & 0x08)
		return fr_unsplittable("unexpected zstd frame flags");
	switch (fhd >> 6) {
	case 0: fcs_bytes = single ? 1 : 0; break;
	case 1: fcs_bytes = 2; break;
	case 2: fcs_bytes = 4; break;
	default: fcs_bytes = 8; break;
	}
	if (fcs_bytes == 0)
		return fr_unsplittable("a zstd frame does not record its size");
	if ((rc = fr_take(r, buf, cap, flen, (single ? 0 : 1) + dict_bytes[fhd & 3] + fcs_bytes)) < 0)
		return rc;
	*out_raw = le(buf + *flen - fcs_bytes, fcs_bytes) + (fcs_bytes == 2 ? 256 : 0);
	while (!last) {
		uint32_t hdr;
		uint32_t size;
		int type;

		at = *flen;
		if ((rc = fr_take(r, buf, cap, flen, 3)) < 0)
			return rc;
		hdr = (uint32_t)le(buf + at, 3);
		last = hdr & 1;
		type = (hdr >> 1) & 3;
		size = hdr >> 3;
		if (type == 3)
			return frame_corrupt(r->c, "reserved block type");
		if ((rc = fr_take(r, buf, cap, flen, type == 1 ? 1 : size)) < 0)
			return rc;
	}
	if ((fhd & 0x04) && (rc = fr_take(r, buf, cap, flen, 4)) < 0)
		return rc;
	return 0;
}

/* No compression: the body is the content, cut in pieces of up to want
 * bytes, never into the trailer (the last 44 bytes of the object). */
static int
fr_raw(IoFrameReader *r, uint8_t *buf, size_t want, size_t *flen, uint64_t *out_raw)
{
	while (*flen < want) {
		size_t avail, k;
		int rc;

		if ((rc = fr_fill(r, IO_CONTAINER_TRAILER_BYTES + 1)) < 0)
			return rc;
		avail = r->len - r->pos;
		if (avail <= IO_CONTAINER_TRAILER_BYTES)
			break; /* the trailer (or less: next says so) */
		k = avail - IO_CONTAINER_TRAILER_BYTES;
		if (k > want - *flen)
			k = want - *flen;
		memcpy(buf + *flen, r->rb + r->pos, k);
		r->pos += k;
		*flen += k;
	}
	*out_raw = *flen;
	return 0;
}

int
io_frame_reader_new(IoFrameReader **out, IoReader *source)
{
	IoFrameReader *r = xcalloc(1, sizeof(*r));
	int rc;

	r->source = source;
	r->rb = xmalloc(READ_BUF_BYTES);
	if ((rc = fr_fill(r, IO_CONTAINER_HEADER_BYTES)) < 0)
		goto fail;
	if (r->len < IO_CONTAINER_HEADER_BYTES) {
		err_set(ERR_CORRUPT, "truncated container");
		err_detail("The object is %zu bytes, shorter than the %d-byte header.", r->len,
		           IO_CONTAINER_HEADER_BYTES);
		rc = ERR_CORRUPT;
		goto fail;
	}
	if ((rc = io_container_header_parse(&r->c, &r->kind, r->rb)) < 0)
		goto fail;
	r->pos = IO_CONTAINER_HEADER_BYTES;
	*out = r;
	return 0;
fail:
	io_frame_reader_free(r);
	return rc;
}

IoCompress
io_frame_reader_compress(const IoFrameReader *r)
{
	return r->c;
}

IoChecksumKind
io_frame_reader_checksum(const IoFrameReader *r)
{
	return r->kind;
}

int
io_frame_reader_next(IoFrameReader *r, uint8_t *buf, size_t cap, size_t raw_max, size_t *out_len,
                     uint64_t *out_raw_len)
{
	size_t avail;
	int rc;

	if (r->failed)
		return err_set(ERR_INTERNAL, "cannot use a stream after an error");
	if (r->ended)
		return 0;
	*out_len = 0;
	*out_raw_len = 0;
	if ((rc = fr_fill(r, IO_CONTAINER_TRAILER_BYTES + 1)) < 0)
		goto fail;
	avail = r->len - r->pos;
	if (avail <= IO_CONTAINER_TRAILER_BYTES) {
		/* what is left must be the trailer: its magic is checked by verify */
		if (avail < IO_CONTAINER_TRAILER_BYTES) {
			err_set(ERR_CORRUPT, "truncated container");
			err_detail("The trailer is missing or incomplete.");
			rc = ERR_CORRUPT;
			goto fail;
		}
		memcpy(r->trailer, r->rb + r->pos, IO_CONTAINER_TRAILER_BYTES);
		r->pos += IO_CONTAINER_TRAILER_BYTES;
		r->ended = true;
		return 0;
	}
	if (r->c == IO_COMPRESS_NONE)
		rc = fr_raw(r, buf, cap < raw_max ? cap : raw_max, out_len, out_raw_len);
	else if (r->c == IO_COMPRESS_LZ4)
		rc = fr_lz4(r, buf, cap, out_len, out_raw_len);
	else
		rc = fr_zstd(r, buf, cap, out_len, out_raw_len);
	if (rc == 0 && *out_raw_len > raw_max)
		rc = fr_unsplittable("a frame holds more than the buffer");
	if (rc < 0)
		goto fail;
	return 1;
fail:
	r->failed = true;
	return rc;
}

int
io_frame_reader_verify(IoFrameReader *r, uint64_t raw_size, const IoChecksum *sum, IoContainerInfo *out)
{
	int rc;

	if (!r->ended)
		return err_set(ERR_INTERNAL, "frame reader verified before its end");
	if (sum->kind != r->kind)
		return err_set(ERR_INTERNAL, "frame reader verified with a %s checksum, its container has %s",
		               io_checksum_title(sum->kind), io_checksum_title(r->kind));
	if ((rc = io_container_trailer_check(r->trailer, sizeof(r->trailer), raw_size, sum)) < 0)
		return rc;
	if (out) {
		out->raw_size = raw_size;
		out->stored_size = r->stored;
		out->sum = *sum;
		out->compress = r->c;
	}
	return 0;
}

void
io_frame_reader_free(IoFrameReader *r)
{
	if (r == NULL)
		return;
	io_reader_free(r->source);
	free(r->rb);
	free(r);
}
