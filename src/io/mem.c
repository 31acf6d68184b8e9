/*
 * mem.c - plain streams over memory buffers and file descriptors.
 *
 * Invariant: an fd writer either writes every byte it is given (retrying
 * EINTR and short writes) or fails with the errno mapped through
 * err_errno(), so ENOSPC surfaces as ERR_NO_SPACE; an fd is closed at most
 * once, and only when the stream owns it.
 */
#include "io/io.h"

#include "common/buf.h"
#include "common/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Memory writer: appends to a Buf. */

static int
mem_write(void *impl, const void *buf, size_t len)
{
	buf_append(impl, buf, len);
	return 0;
}

static int
mem_close(void *impl)
{
	(void)impl;
	return 0;
}

static void
mem_writer_free(void *impl)
{
	buf_free(impl);
	free(impl);
}

static const IoWriterOps mem_writer_ops = {
	.write = mem_write,
	.close = mem_close,
	.free = mem_writer_free,
};

IoWriter *
io_mem_writer_new(void)
{
	Buf *b = xmalloc(sizeof(*b));

	*b = (Buf)BUF_INIT;
	return io_writer_new(&mem_writer_ops, b);
}

const uint8_t *
io_mem_writer_data(IoWriter *w, size_t *out_len)
{
	Buf *b = io_writer_impl(w);

	*out_len = b->len;
	return (const uint8_t *)b->data;
}

/* Memory reader: over a private copy. */

typedef struct MemReader {
	uint8_t *data;
	size_t len;
	size_t pos;
} MemReader;

static ssize_t
mem_read(void *impl, void *buf, size_t cap)
{
	MemReader *m = impl;
	size_t n = m->len - m->pos;

	if (n > cap)
		n = cap;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static void
mem_reader_free(void *impl)
{
	MemReader *m = impl;

	free(m->data);
	free(m);
}

static const IoReaderOps mem_reader_ops = {
	.read = mem_read,
	.free = mem_reader_free,
};

IoReader *
io_mem_reader_new(const void *buf, size_t len)
{
	MemReader *m = xmalloc(sizeof(*m));

	m->data = xmalloc(len);
	if (len > 0)
		memcpy(m->data, buf, len);
	m->len = len;
	m->pos = 0;
	return io_reader_new(&mem_reader_ops, m);
}

/* File descriptor streams. */

typedef struct FdStream {
	int fd;
	int own_fd;
} FdStream;

static FdStream *
fd_stream_new(int fd, int own_fd)
{
	FdStream *s = xmalloc(sizeof(*s));

	s->fd = fd;
	s->own_fd = own_fd;
	return s;
}

static int
fd_write(void *impl, const void *buf, size_t len)
{
	FdStream *s = impl;
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(s->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(errno, "could not write to file descriptor %d", s->fd);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fd_close(void *impl)
{
	FdStream *s = impl;
	int fd = s->fd;

	if (!s->own_fd)
		return 0;
	/* After close() the fd is gone whatever it returned: never retry it. */
	s->fd = -1;
	if (close(fd) < 0)
		return err_errno(errno, "could not close file descriptor %d", fd);
	return 0;
}

static void
fd_free(void *impl)
{
	FdStream *s = impl;

	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	free(s);
}

static const IoWriterOps fd_writer_ops = {
	.write = fd_write,
	.close = fd_close,
	.free = fd_free,
};

IoWriter *
io_fd_writer_new(int fd, int own_fd)
{
	return io_writer_new(&fd_writer_ops, fd_stream_new(fd, own_fd));
}

static ssize_t
fd_read(void *impl, void *buf, size_t cap)
{
	FdStream *s = impl;

	for (;;) {
		ssize_t n = read(s->fd, buf, cap);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return err_errno(errno, "could not read from file descriptor %d", s->fd);
	}
}

static const IoReaderOps fd_reader_ops = {
	.read = fd_read,
	.free = fd_free,
};

IoReader *
io_fd_reader_new(int fd, int own_fd)
{
	return io_reader_new(&fd_reader_ops, fd_stream_new(fd, own_fd));
}
