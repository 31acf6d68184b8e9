/*
 * io.h - read and write streams, and filters stacked on them.
 *
 * A stream is a small object with an ops table.  Filters (compression,
 * checksum, the tenback container) wrap another stream and own it: freeing
 * the outer stream frees the whole stack.  Data are pushed through in
 * caller-sized chunks; every filter uses bounded memory (a few hundred KiB
 * of buffers, plus zstd's window: at most 8 MiB) whatever the stream's length.
 *
 * Errors: functions return 0 / a byte count, or a negative ErrCode with the
 * thread's error record set (common/error.h).
 *
 * Writers: io_writer_close() flushes and finishes the whole stack (trailers,
 * compression end marks, the sink's atomic commit) and must succeed for the
 * data to count; io_writer_free() without a successful close abandons the
 * stream (a storage sink then leaves nothing visible).
 *
 * Readers: io_reader_read() returns >0 bytes, 0 at the end, <0 on error;
 * cap must be > 0, and reading again after the end returns 0.
 * A filter that verifies (container) reports a mismatch as ERR_CORRUPT from
 * the read that reaches the end, never later.
 *
 * Once a write, close or read has failed, the stream refuses further use
 * (ERR_INTERNAL): a half-written stack is never closed into something that
 * looks complete.  io_writer_close() a second time is ERR_INTERNAL too.
 *
 * Constructors that take a stream to wrap own it from the call on, even when
 * they fail: on error they free it, so callers never free it themselves.
 *
 * Thread safety: a stream belongs to one thread at a time.
 */
#ifndef TENBACK_IO_IO_H
#define TENBACK_IO_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct IoWriter IoWriter;
typedef struct IoReader IoReader;

typedef struct IoWriterOps {
	int (*write)(void *impl, const void *buf, size_t len);
	int (*close)(void *impl);   /* finish; called at most once */
	void (*free)(void *impl);   /* release impl (and any stream it wraps) */
} IoWriterOps;

typedef struct IoReaderOps {
	ssize_t (*read)(void *impl, void *buf, size_t cap);
	void (*free)(void *impl);
} IoReaderOps;

/* Wrap an implementation; the IoWriter owns impl from then on. */
IoWriter *io_writer_new(const IoWriterOps *ops, void *impl);
int io_writer_write(IoWriter *w, const void *buf, size_t len);
int io_writer_close(IoWriter *w);
/* Frees the stack; NULL is accepted.  Abandons the stream if not closed. */
void io_writer_free(IoWriter *w);

IoReader *io_reader_new(const IoReaderOps *ops, void *impl);
ssize_t io_reader_read(IoReader *r, void *buf, size_t cap);
/* Read exactly len bytes unless the end comes first; returns bytes read or <0. */
ssize_t io_reader_read_full(IoReader *r, void *buf, size_t len);
void io_reader_free(IoReader *r);

/* Plain streams over memory and file descriptors (tests and local use). */
/* A writer that appends to a growable memory buffer; get it with io_mem_writer_data
 * (borrowed until the writer is freed). */
IoWriter *io_mem_writer_new(void);
const uint8_t *io_mem_writer_data(IoWriter *w, size_t *out_len);
/* A reader over a copy of buf. */
IoReader *io_mem_reader_new(const void *buf, size_t len);
/* fd streams: the stream does not close fd unless own_fd. */
IoWriter *io_fd_writer_new(int fd, int own_fd);
IoReader *io_fd_reader_new(int fd, int own_fd);

/* Compression. */
typedef enum IoCompress {
	IO_COMPRESS_NONE = 0,
	IO_COMPRESS_LZ4 = 1,
	IO_COMPRESS_ZSTD = 2,
} IoCompress;

/* "none", "lz4", "zstd" -> 0 and *out; anything else ERR_INVALID with a hint. */
int io_compress_parse(IoCompress *out, const char *name);
const char *io_compress_name(IoCompress c);
int io_compress_default_level(IoCompress c);  /* zstd 3, lz4 0 (fast), none 0 */

/*
 * Compress what is written into next (owned).  level 0 = default; zstd takes
 * 1..19 (higher levels need windows over the readers' 8 MiB limit), lz4 0..12;
 * anything else is ERR_INVALID.  IO_COMPRESS_NONE gives next back as *out.
 */
int io_compress_writer_new(IoWriter **out, IoWriter *next, IoCompress c, int level);
/* Decompress what is read from next (owned).  Corrupt or truncated input, or
 * an empty source, -> ERR_CORRUPT.  IO_COMPRESS_NONE gives next back as *out. */
int io_decompress_reader_new(IoReader **out, IoReader *next, IoCompress c);

/* SHA-256 (OpenSSL EVP). */
#define IO_SHA256_LEN 32
typedef struct IoSha256 IoSha256;
IoSha256 *io_sha256_new(void);
void io_sha256_update(IoSha256 *h, const void *buf, size_t len);
void io_sha256_final(IoSha256 *h, uint8_t out[IO_SHA256_LEN]);
/* dst takes src's state: both go on from the bytes src has seen. */
void io_sha256_copy(IoSha256 *dst, const IoSha256 *src);
void io_sha256_free(IoSha256 *h);
/* 64 lowercase hex chars + NUL. */
void io_hex(char *out, const uint8_t *bytes, size_t len);
/* Parse hex (either case) of exactly 2*len chars; ERR_INVALID otherwise. */
int io_unhex(uint8_t *out, const char *hex, size_t len);

/*
 * The checksum of a stored object's content, of one of two kinds: SHA-256,
 * or CRC-32C (as pg_basebackup's manifests use by default; about eight times
 * cheaper here, and it finds every burst of up to 32 flipped bits).  A
 * checksum's bytes past its kind's length are zero; a CRC-32C is kept
 * big-endian, so that its hex is the usual way to write it.
 */
typedef enum IoChecksumKind {
	IO_CHECKSUM_SHA256 = 0,
	IO_CHECKSUM_CRC32C = 1,
} IoChecksumKind;
#define IO_CHECKSUM_MAX_LEN 32

typedef struct IoChecksum {
	IoChecksumKind kind;
	uint8_t bytes[IO_CHECKSUM_MAX_LEN];
} IoChecksum;

/* "sha256", "crc32c": as manifests and options write them. */
const char *io_checksum_name(IoChecksumKind k);
/* "SHA-256", "CRC-32C": for messages. */
const char *io_checksum_title(IoChecksumKind k);
size_t io_checksum_len(IoChecksumKind k);
/* A name of io_checksum_name -> 0 and *out; anything else ERR_INVALID with a hint. */
int io_checksum_parse(IoChecksumKind *out, const char *name);
bool io_checksum_equal(const IoChecksum *a, const IoChecksum *b);
/* 2 * io_checksum_len + 1 bytes: out needs 2 * IO_CHECKSUM_MAX_LEN + 1. */
void io_checksum_hex(char *out, const IoChecksum *c);
/* hex of exactly a kind-k checksum's length -> 0; ERR_INVALID otherwise. */
int io_checksum_unhex(IoChecksum *out, IoChecksumKind k, const char *hex);

/* Computing one: _new never fails; _final may be called once. */
typedef struct IoHasher IoHasher;
IoHasher *io_hasher_new(IoChecksumKind k);
void io_hasher_update(IoHasher *h, const void *buf, size_t len);
void io_hasher_final(IoHasher *h, IoChecksum *out);
void io_hasher_free(IoHasher *h);

/*
 * The tenback container: every data object tenback stores (a relation file
 * in a backup set, an archived WAL segment) is one container, self-checking:
 *
 *   header  (8 bytes):  "TBK1" | format u8 = 1 | compression u8 | checksum kind u8
 *                       (IoChecksumKind; 0 in containers older than CRC-32C)
 *                       | 1 reserved zero byte
 *   body:               the content, compressed by the header's method: one
 *                       stream, or a sequence of frames (below)
 *   trailer (44 bytes): raw size u64 little-endian | checksum of the raw
 *                       content, of the header's kind (32: a CRC-32C is 4
 *                       bytes and 28 zero bytes) | "TBKE"
 *
 * The writer wraps a sink (owned), compresses and sums what is written, and
 * writes the trailer on close.  The reader wraps a source (owned), returns
 * the raw content, and at the end checks the trailer against what it
 * decompressed: a bad magic, truncation, a size or checksum mismatch is
 * ERR_CORRUPT ("not a tenback container", "truncated container", "size
 * mismatch in container", "checksum mismatch in container", or the
 * decompressor's "could not decompress ... stream").
 */
typedef struct IoContainerInfo {
	uint64_t raw_size;
	uint64_t stored_size;        /* header + body + trailer */
	IoChecksum sum;
	IoCompress compress;
} IoContainerInfo;

int io_container_writer_new(IoWriter **out, IoWriter *sink, IoCompress c, int level, IoChecksumKind k);
/* After a successful close: what was written. */
void io_container_writer_info(IoWriter *w, IoContainerInfo *out);
/* Reads and checks the header before returning: ERR_CORRUPT if it is bad. */
int io_container_reader_new(IoReader **out, IoReader *source);
/* After the reader returned 0 (end, verified): what was read. */
void io_container_reader_info(IoReader *r, IoContainerInfo *out);

/*
 * Framed containers (frame.c): the same container format, its body a
 * sequence of independent compressed frames (zstd or LZ4 frames, each
 * recording its content size; for no compression, the content itself).
 * Any container reader reads them as one stream; the frame reader splits
 * them again so that frames can be decoded on several threads.
 *
 * A codec holds one thread's compression and decompression contexts.
 */
typedef struct IoFrameCodec IoFrameCodec;
/* level 0 = default; the levels io_compress_writer_new takes, else ERR_INVALID. */
int io_frame_codec_new(IoFrameCodec **out, IoCompress c, int level);
void io_frame_codec_free(IoFrameCodec *fc);
/* The largest frame raw_len bytes can become. */
size_t io_frame_bound(IoCompress c, size_t raw_len);
/* Compress src (len bytes, NULL when 0) into one complete frame in dst (cap >= io_frame_bound). */
int io_frame_encode(IoFrameCodec *fc, uint8_t *dst, size_t cap, size_t *out_len, const uint8_t *src, size_t len);
/* Decode one complete frame of compression c (exactly len bytes) holding exactly
 * raw_len bytes into dst; anything else is ERR_CORRUPT ("could not decompress
 * ... stream: ...").  Any codec decodes any compression. */
int io_frame_decode(IoFrameCodec *fc, IoCompress c, uint8_t *dst, size_t raw_len, const uint8_t *src, size_t len);

/*
 * Writing a container frame by frame: the header goes to sink (owned, even
 * on failure) at once; each put hashes raw and stores frame (what encoding
 * raw gave; for IO_COMPRESS_NONE the raw bytes themselves); close writes
 * the trailer, closes sink and says what was written.  A container without
 * frames gets an empty frame, which every stream reader needs.
 */
typedef struct IoFrameWriter IoFrameWriter;
int io_frame_writer_new(IoFrameWriter **out, IoWriter *sink, IoCompress c, IoChecksumKind k);
int io_frame_writer_put(IoFrameWriter *w, const void *raw, size_t raw_len, const void *frame, size_t frame_len);
int io_frame_writer_close(IoFrameWriter *w, IoContainerInfo *out);
/* Abandons the container unless it was closed (a storage sink leaves nothing). */
void io_frame_writer_free(IoFrameWriter *w);

/*
 * Splitting a container into frames without decoding them: source (owned,
 * even on failure) is read sequentially; the header is checked by _new
 * (ERR_CORRUPT when bad).  next copies the next frame into buf: 1 with its
 * length and content size, 0 at the end (only the trailer left), or
 * ERR_CORRUPT when the body is damaged, ERR_UNSUPPORTED when it cannot be
 * split (a frame that does not record its size - the stream writer's - or
 * one larger than cap or holding more than raw_max bytes): read that
 * container with the stream reader instead.  Without compression, any
 * container splits: its pieces of up to min(cap, raw_max) bytes are the
 * content itself.  After the
 * end, verify compares the trailer with the size and checksum of what the
 * caller decoded, with the stream reader's ERR_CORRUPT messages, and fills
 * out (may be NULL).
 */
typedef struct IoFrameReader IoFrameReader;
int io_frame_reader_new(IoFrameReader **out, IoReader *source);
IoCompress io_frame_reader_compress(const IoFrameReader *r);
/* The kind of checksum the caller must compute of what it decodes. */
IoChecksumKind io_frame_reader_checksum(const IoFrameReader *r);
int io_frame_reader_next(IoFrameReader *r, uint8_t *buf, size_t cap, size_t raw_max, size_t *out_len,
                         uint64_t *out_raw_len);
int io_frame_reader_verify(IoFrameReader *r, uint64_t raw_size, const IoChecksum *sum, IoContainerInfo *out);
void io_frame_reader_free(IoFrameReader *r);

/* Access to the impl behind a stream, for filters' info functions. */
void *io_writer_impl(IoWriter *w);
void *io_reader_impl(IoReader *r);
/* The ops a reader was made with: a filter's way to know a stream is its own. */
const IoReaderOps *io_reader_ops(const IoReader *r);

#endif
