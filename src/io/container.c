/*
 * container.c - the self-checking tenback container (format in io.h).
 *
 * Writer stack:  container -> compress filter -> counter -> sink
 * Reader stack:  container -> decompress filter -> lookbehind -> source
 *
 * Invariant: the reader returns 0 only after the trailer's magic, raw size
 * and checksum all matched what it decompressed; the lookbehind never hands
 * the decompressor any of the source's last 44 bytes, whatever sizes the
 * source's reads come in, so the trailer is never decoded as content.
 */
#include "io/io.h"
#include "io/io_int.h"

#include "common/buf.h"
#include "common/error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_BYTES IO_CONTAINER_HEADER_BYTES
#define TRAILER_BYTES IO_CONTAINER_TRAILER_BYTES
#define TRAILER_MAGIC_OFFSET (8 + IO_CHECKSUM_MAX_LEN)
#define CONTAINER_FORMAT 1
#define LOOKBEHIND_CHUNK_BYTES (64 * 1024)

static const uint8_t header_magic[4] = {'T', 'B', 'K', '1'};
static const uint8_t trailer_magic[4] = {'T', 'B', 'K', 'E'};

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int byte_idx = 0; byte_idx < 8; byte_idx++)
		p[byte_idx] = (uint8_t)(v >> (8 * byte_idx));
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int byte_idx = 7; byte_idx >= 0; byte_idx--)
		v = v << 8 | p[byte_idx];
	return v;
}

/*
 * Counter: passes writes to a sink it borrows and counts them.  Its close
 * does nothing: the container still has the trailer to write after the
 * compress filter has finished and closed what is below it.
 */

typedef struct Counter {
	IoWriter *sink;
	uint64_t bytes;
} Counter;

static int
counter_write(void *impl, const void *buf, size_t len)
{
	Counter *counter = impl;
	int rc = io_writer_write(counter->sink, buf, len);

	if (rc == 0)
		counter->bytes += len;
	return rc;
}

static int
counter_close(void *impl)
{
	(void)impl;
	return 0;
}

static const IoWriterOps counter_ops = {
	.write = counter_write,
	.close = counter_close,
	.free = free,
};

typedef struct ContainerWriter {
	IoWriter *sink;     /* owned; closed after the trailer */
	IoWriter *body;     /* compress filter over the counter */
	Counter *counter;   /* borrowed from body's stack */
	IoHasher *hasher;
	IoCompress compress;
	int header_done;
	int closed;
	IoContainerInfo info;
} ContainerWriter;

void
io_container_header_make(uint8_t out[HEADER_BYTES], IoCompress c, IoChecksumKind k)
{
	memset(out, 0, HEADER_BYTES);
	memcpy(out, header_magic, sizeof(header_magic));
	out[4] = CONTAINER_FORMAT;
	out[5] = (uint8_t)c;
	out[6] = (uint8_t)k;
}

void
io_container_trailer_make(uint8_t out[TRAILER_BYTES], uint64_t raw_size, const IoChecksum *sum)
{
	put_le64(out, raw_size);
	memcpy(out + 8, sum->bytes, IO_CHECKSUM_MAX_LEN);
	memcpy(out + TRAILER_MAGIC_OFFSET, trailer_magic, sizeof(trailer_magic));
}

static int
container_header(ContainerWriter *cw)
{
	uint8_t header[HEADER_BYTES];

	if (cw->header_done)
		return 0;
	cw->header_done = 1;
	io_container_header_make(header, cw->compress, cw->info.sum.kind);
	return counter_write(cw->counter, header, sizeof(header));
}

static int
container_write(void *impl, const void *buf, size_t len)
{
	ContainerWriter *cw = impl;
	int rc = container_header(cw);

	if (rc < 0)
		return rc;
	io_hasher_update(cw->hasher, buf, len);
	cw->info.raw_size += len;
	return io_writer_write(cw->body, buf, len);
}

static int
container_close(void *impl)
{
	ContainerWriter *cw = impl;
	uint8_t trailer[TRAILER_BYTES];
	int rc = container_header(cw);

	if (rc < 0)
		return rc;
	rc = io_writer_close(cw->body);
	if (rc < 0)
		return rc;
	io_hasher_final(cw->hasher, &cw->info.sum);
	io_container_trailer_make(trailer, cw->info.raw_size, &cw->info.sum);
	rc = counter_write(cw->counter, trailer, sizeof(trailer));
	if (rc < 0)
		return rc;
	rc = io_writer_close(cw->sink);
	if (rc < 0)
		return rc;
	cw->info.stored_size = cw->counter->bytes;
	cw->info.compress = cw->compress;
	cw->closed = 1;
	return 0;
}

static void
container_writer_free(void *impl)
{
	ContainerWriter *cw = impl;

	io_writer_free(cw->body);
	io_writer_free(cw->sink);
	io_hasher_free(cw->hasher);
	free(cw);
}

static const IoWriterOps container_writer_ops = {
	.write = container_write,
	.close = container_close,
	.free = container_writer_free,
};

int
io_container_writer_new(IoWriter **out, IoWriter *sink, IoCompress c, int level, IoChecksumKind k)
{
	ContainerWriter *cw = xcalloc(1, sizeof(*cw));
	int rc;

	cw->sink = sink;
	cw->compress = c;
	cw->info.sum.kind = k;
	cw->counter = xcalloc(1, sizeof(*cw->counter));
	cw->counter->sink = sink;
	rc = io_compress_writer_new(&cw->body, io_writer_new(&counter_ops, cw->counter), c, level);
	if (rc < 0) {
		container_writer_free(cw);
		return rc;
	}
	cw->hasher = io_hasher_new(k);
	*out = io_writer_new(&container_writer_ops, cw);
	return 0;
}

void
io_container_writer_info(IoWriter *w, IoContainerInfo *out)
{
	ContainerWriter *cw = io_writer_impl(w);

	ASSERT(cw->closed);
	*out = cw->info;
}

/*
 * Lookbehind: returns the source's bytes except the last TRAILER_BYTES,
 * which stay in buf[start, start + len) once the source has ended.  It
 * refills only when it holds no more than the trailer, so compacting moves
 * at most TRAILER_BYTES.
 */

typedef struct Lookbehind {
	IoReader *source;   /* owned */
	size_t start;
	size_t len;
	int eof;
	uint64_t bytes;     /* read from the source */
	uint8_t buf[TRAILER_BYTES + LOOKBEHIND_CHUNK_BYTES];
} Lookbehind;

static ssize_t
lookbehind_read(void *impl, void *buf, size_t cap)
{
	Lookbehind *lb = impl;
	size_t n;

	while (lb->len <= TRAILER_BYTES && !lb->eof) {
		ssize_t got;

		memmove(lb->buf, lb->buf + lb->start, lb->len);
		lb->start = 0;
		got = io_reader_read(lb->source, lb->buf + lb->len, sizeof(lb->buf) - lb->len);
		if (got < 0)
			return got;
		lb->eof = got == 0;
		lb->len += (size_t)got;
		lb->bytes += (uint64_t)got;
	}
	if (lb->len <= TRAILER_BYTES)
		return 0;
	n = lb->len - TRAILER_BYTES;
	if (n > cap)
		n = cap;
	memcpy(buf, lb->buf + lb->start, n);
	lb->start += n;
	lb->len -= n;
	return (ssize_t)n;
}

static void
lookbehind_free(void *impl)
{
	Lookbehind *lb = impl;

	io_reader_free(lb->source);
	free(lb);
}

static const IoReaderOps lookbehind_ops = {
	.read = lookbehind_read,
	.free = lookbehind_free,
};

typedef struct ContainerReader {
	IoReader *body;     /* decompress filter over the lookbehind */
	Lookbehind *tail;   /* borrowed from body's stack */
	IoHasher *hasher;
	int verified;
	IoContainerInfo info;
} ContainerReader;

int
io_container_trailer_check(const uint8_t *trailer, size_t trailer_len, uint64_t raw_size,
                           const IoChecksum *sum)
{
	uint64_t recorded_size;
	IoChecksum recorded = {.kind = sum->kind};
	char recorded_hex[2 * IO_CHECKSUM_MAX_LEN + 1];
	char actual_hex[2 * IO_CHECKSUM_MAX_LEN + 1];

	if (trailer_len < TRAILER_BYTES ||
		memcmp(trailer + TRAILER_MAGIC_OFFSET, trailer_magic, sizeof(trailer_magic)) != 0) {
		err_set(ERR_CORRUPT, "truncated container");
		err_detail("The trailer is missing or incomplete.");
		return ERR_CORRUPT;
	}
	recorded_size = get_le64(trailer);
	if (recorded_size != raw_size) {
		err_set(ERR_CORRUPT, "size mismatch in container");
		err_detail("The trailer records %" PRIu64 " bytes, the content has %" PRIu64 ".",
			recorded_size, raw_size);
		return ERR_CORRUPT;
	}
	memcpy(recorded.bytes, trailer + 8, IO_CHECKSUM_MAX_LEN);
	if (!io_checksum_equal(&recorded, sum)) {
		io_checksum_hex(recorded_hex, &recorded);
		io_checksum_hex(actual_hex, sum);
		err_set(ERR_CORRUPT, "checksum mismatch in container");
		err_detail("The trailer records %s %s, the content has %s.", io_checksum_title(sum->kind), recorded_hex,
		           actual_hex);
		return ERR_CORRUPT;
	}
	return 0;
}

static int
container_verify(ContainerReader *cr)
{
	const Lookbehind *tail = cr->tail;
	int rc;

	ASSERT(tail->eof);
	/* the hash is final only after the size matched: as before, the size is reported first */
	io_hasher_final(cr->hasher, &cr->info.sum);
	rc = io_container_trailer_check(tail->buf + tail->start, tail->len, cr->info.raw_size, &cr->info.sum);
	if (rc < 0)
		return rc;
	cr->info.stored_size = HEADER_BYTES + tail->bytes;
	cr->verified = 1;
	return 0;
}

static ssize_t
container_read(void *impl, void *buf, size_t cap)
{
	ContainerReader *cr = impl;
	ssize_t n = io_reader_read(cr->body, buf, cap);

	if (n <= 0)
		return n < 0 ? n : container_verify(cr);
	io_hasher_update(cr->hasher, buf, (size_t)n);
	cr->info.raw_size += (uint64_t)n;
	return n;
}

static void
container_reader_free(void *impl)
{
	ContainerReader *cr = impl;

	io_reader_free(cr->body);
	io_hasher_free(cr->hasher);
	free(cr);
}

static const IoReaderOps container_reader_ops = {
	.read = container_read,
	.free = container_reader_free,
};

static int
header_corrupt(const char *detail)
{
	err_set(ERR_CORRUPT, "not a tenback container");
	err_detail("%s", detail);
	return ERR_CORRUPT;
}

int
io_container_header_parse(IoCompress *out, IoChecksumKind *out_kind, const uint8_t header[HEADER_BYTES])
{
	if (memcmp(header, "TBX1", 4) == 0) {
		/* Reached here, an encrypted object was read without a key (cipher.h). */
		int rc = err_set(ERR_PERMISSION, "cannot read an encrypted object without its key");
		err_hint("Read it through a storage opened with the cluster's keyring.");
		return rc;
	}
	if (memcmp(header, header_magic, sizeof(header_magic)) != 0)
		return header_corrupt("The header magic is missing.");
	if (header[4] != CONTAINER_FORMAT)
		return header_corrupt("The container format is unknown.");
	if (header[5] != IO_COMPRESS_NONE && header[5] != IO_COMPRESS_LZ4 && header[5] != IO_COMPRESS_ZSTD)
		return header_corrupt("The compression method is unknown.");
	if (header[6] != IO_CHECKSUM_SHA256 && header[6] != IO_CHECKSUM_CRC32C)
		return header_corrupt("The checksum kind is unknown.");
	if (header[7] != 0)
		return header_corrupt("The reserved header byte is not zero.");
	*out = (IoCompress)header[5];
	*out_kind = (IoChecksumKind)header[6];
	return 0;
}

/* Read and check the header; the compression method goes to *out, the checksum kind to *out_kind. */
static int
container_read_header(IoCompress *out, IoChecksumKind *out_kind, IoReader *source)
{
	uint8_t header[HEADER_BYTES];
	ssize_t n = io_reader_read_full(source, header, sizeof(header));

	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(header)) {
		err_set(ERR_CORRUPT, "truncated container");
		err_detail("The object is %zd bytes, shorter than the %d-byte header.", n, HEADER_BYTES);
		return ERR_CORRUPT;
	}
	return io_container_header_parse(out, out_kind, header);
}

int
io_container_reader_new(IoReader **out, IoReader *source)
{
	ContainerReader *cr;
	Lookbehind *tail;
	IoCompress c = IO_COMPRESS_NONE;
	IoChecksumKind k = IO_CHECKSUM_SHA256;
	int rc = container_read_header(&c, &k, source);

	if (rc < 0) {
		io_reader_free(source);
		return rc;
	}
	tail = xcalloc(1, sizeof(*tail));
	tail->source = source;
	cr = xcalloc(1, sizeof(*cr));
	cr->tail = tail;
	cr->info.compress = c;
	rc = io_decompress_reader_new(&cr->body, io_reader_new(&lookbehind_ops, tail), c);
	ASSERT(rc == 0);    /* c was checked with the header */
	cr->hasher = io_hasher_new(k);
	*out = io_reader_new(&container_reader_ops, cr);
	return 0;
}

void
io_container_reader_info(IoReader *r, IoContainerInfo *out)
{
	ContainerReader *cr = io_reader_impl(r);

	ASSERT(cr->verified);
	*out = cr->info;
}
