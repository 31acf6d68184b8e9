/*
 * io.c - the IoWriter/IoReader wrappers every stream and filter goes through.
 *
 * Invariant: ops->close is called at most once, and never after a failed
 * write; once a write, close or read has failed the stream refuses further
 * use, so a half-written stack can never be closed into something that looks
 * complete, and a reader never reports a clean end after an error.
 */
#include "io/io.h"

#include "common/buf.h"
#include "common/error.h"

#include <stdlib.h>

typedef enum StreamState {
	STREAM_OPEN,
	STREAM_CLOSED,    /* writer closed successfully, reader reached its end */
	STREAM_FAILED,
} StreamState;

struct IoWriter {
	const IoWriterOps *ops;
	void *impl;
	StreamState state;
};

struct IoReader {
	const IoReaderOps *ops;
	void *impl;
	StreamState state;
};

IoWriter *
io_writer_new(const IoWriterOps *ops, void *impl)
{
	IoWriter *w = xmalloc(sizeof(*w));

	ASSERT(ops->write != NULL && ops->close != NULL && ops->free != NULL);
	w->ops = ops;
	w->impl = impl;
	w->state = STREAM_OPEN;
	return w;
}

static int
writer_check_open(const IoWriter *w)
{
	if (w->state == STREAM_CLOSED)
		return err_set(ERR_INTERNAL, "cannot use a stream after it was closed");
	if (w->state == STREAM_FAILED)
		return err_set(ERR_INTERNAL, "cannot use a stream after an error");
	return 0;
}

int
io_writer_write(IoWriter *w, const void *buf, size_t len)
{
	int rc = writer_check_open(w);

	if (rc < 0 || len == 0)
		return rc;
	rc = w->ops->write(w->impl, buf, len);
	if (rc < 0)
		w->state = STREAM_FAILED;
	return rc;
}

int
io_writer_close(IoWriter *w)
{
	int rc = writer_check_open(w);

	if (rc < 0)
		return rc;
	rc = w->ops->close(w->impl);
	w->state = rc < 0 ? STREAM_FAILED : STREAM_CLOSED;
	return rc;
}

void
io_writer_free(IoWriter *w)
{
	if (w == NULL)
		return;
	w->ops->free(w->impl);
	free(w);
}

void *
io_writer_impl(IoWriter *w)
{
	return w->impl;
}

IoReader *
io_reader_new(const IoReaderOps *ops, void *impl)
{
	IoReader *r = xmalloc(sizeof(*r));

	ASSERT(ops->read != NULL && ops->free != NULL);
	r->ops = ops;
	r->impl = impl;
	r->state = STREAM_OPEN;
	return r;
}

ssize_t
io_reader_read(IoReader *r, void *buf, size_t cap)
{
	ssize_t n;

	ASSERT(cap > 0);
	if (r->state == STREAM_CLOSED)
		return 0;
	if (r->state == STREAM_FAILED)
		return err_set(ERR_INTERNAL, "cannot use a stream after an error");
	n = r->ops->read(r->impl, buf, cap);
	ASSERT(n <= (ssize_t)cap);
	if (n < 0)
		r->state = STREAM_FAILED;
	else if (n == 0)
		r->state = STREAM_CLOSED;
	return n;
}

ssize_t
io_reader_read_full(IoReader *r, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = io_reader_read(r, (uint8_t *)buf + done, len - done);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

void
io_reader_free(IoReader *r)
{
	if (r == NULL)
		return;
	r->ops->free(r->impl);
	free(r);
}

const IoReaderOps *
io_reader_ops(const IoReader *r)
{
	return r->ops;
}

void *
io_reader_impl(IoReader *r)
{
	return r->impl;
}
