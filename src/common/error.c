/*
 * error.c - the thread-local error record.
 *
 * Invariant: the record's strings are always NUL-terminated, truncated to
 * their buffers; a message is never overwritten by err_prefix, only extended.
 */
#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_TEXT_MAX 2048

typedef struct ErrRecord {
	int code;
	int os_errno;
	char message[ERR_TEXT_MAX];
	char detail[ERR_TEXT_MAX];
	char hint[ERR_TEXT_MAX];
} ErrRecord;

static _Thread_local ErrRecord rec;

static void vformat(char *dst, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Through a copy: an argument may be the record's own text
 * (err_set(..., "...: %s", err_message())), which vsnprintf must not
 * read while it writes over it. */
static void
vformat(char *dst, const char *fmt, va_list ap)
{
	char tmp[ERR_TEXT_MAX];

	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	memcpy(dst, tmp, strlen(tmp) + 1);
}

/* dst = a + ": " + b, truncated to ERR_TEXT_MAX; dst may alias neither input. */
static void
join_colon(char *dst, const char *a, const char *b)
{
	size_t n = 0;

	for (const char *parts[] = {a, ": ", b}, **p = parts; p < parts + 3; p++)
		for (const char *c = *p; *c && n + 1 < ERR_TEXT_MAX; c++)
			dst[n++] = *c;
	dst[n] = '\0';
}

int
err_set(int code, const char *fmt, ...)
{
	va_list ap;

	rec.code = code;
	rec.os_errno = 0;
	rec.detail[0] = '\0';
	rec.hint[0] = '\0';
	va_start(ap, fmt);
	vformat(rec.message, fmt, ap);
	va_end(ap);
	return code;
}

int
err_from_errno(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return ERR_NOT_FOUND;
	case EEXIST:
	case ENOTEMPTY:
		return ERR_EXISTS;
	case EACCES:
	case EPERM:
	case EROFS:
		return ERR_PERMISSION;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return ERR_NO_SPACE;
	case EINVAL:
	case ENAMETOOLONG:
		return ERR_INVALID;
	case ETIMEDOUT:
		return ERR_TIMEOUT;
	case EAGAIN:
	case EBUSY:
	case EINTR:
		return ERR_BUSY;
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ENETUNREACH:
	case EHOSTUNREACH:
		return ERR_NETWORK;
	default:
		return ERR_IO;
	}
}

int
err_errno(int errnum, const char *fmt, ...)
{
	va_list ap;
	char buf[ERR_TEXT_MAX];

	va_start(ap, fmt);
	vformat(buf, fmt, ap);
	va_end(ap);
	rec.code = err_from_errno(errnum);
	rec.os_errno = errnum;
	rec.detail[0] = '\0';
	rec.hint[0] = '\0';
	join_colon(rec.message, buf, strerror(errnum));
	if (errnum == ENOSPC)
		snprintf(rec.hint, sizeof(rec.hint), "Free space on the device, then run the command again.");
	return rec.code;
}

void
err_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(rec.detail, fmt, ap);
	va_end(ap);
}

void
err_hint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(rec.hint, fmt, ap);
	va_end(ap);
}

void
err_prefix(const char *fmt, ...)
{
	va_list ap;
	char ctx[ERR_TEXT_MAX];
	char old[ERR_TEXT_MAX];

	va_start(ap, fmt);
	vformat(ctx, fmt, ap);
	va_end(ap);
	memcpy(old, rec.message, sizeof(old));
	join_colon(rec.message, ctx, old);
}

void
err_clear(void)
{
	memset(&rec, 0, sizeof(rec));
}

struct ErrSaved {
	ErrRecord rec;
};

ErrSaved *
err_save(void)
{
	ErrSaved *saved = malloc(sizeof(*saved));

	ASSERT(saved != NULL);
	saved->rec = rec;
	return saved;
}

int
err_restore(const ErrSaved *saved)
{
	rec = saved->rec;
	return rec.code;
}

void
err_saved_free(ErrSaved *saved)
{
	free(saved);
}

int
err_code(void)
{
	return rec.code;
}

int
err_os_errno(void)
{
	return rec.os_errno;
}

const char *
err_message(void)
{
	return rec.message;
}

const char *
err_detail_text(void)
{
	return rec.detail;
}

const char *
err_hint_text(void)
{
	return rec.hint;
}

ErrClass
err_class(int code)
{
	switch (code) {
	case ERR_NETWORK:
	case ERR_TIMEOUT:
	case ERR_BUSY:
		return ERR_CLASS_TRANSIENT;
	case ERR_INTERNAL:
		return ERR_CLASS_INTERNAL;
	default:
		return ERR_CLASS_PERMANENT;
	}
}

const char *
err_code_name(int code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_NETWORK: return "network";
	case ERR_TIMEOUT: return "timeout";
	case ERR_BUSY: return "busy";
	case ERR_NOT_FOUND: return "not_found";
	case ERR_EXISTS: return "exists";
	case ERR_INVALID: return "invalid";
	case ERR_CORRUPT: return "corrupt";
	case ERR_UNSUPPORTED: return "unsupported";
	case ERR_PERMISSION: return "permission";
	case ERR_NO_SPACE: return "no_space";
	case ERR_IO: return "io";
	case ERR_PG: return "postgresql";
	case ERR_CANCELLED: return "cancelled";
	case ERR_INTERNAL: return "internal";
	default: return "unknown";
	}
}

void
err_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "tenback: assertion failed: %s (%s:%d)\n", expr, file, line);
	abort();
}
