/*
 * buf.h - growable byte/string buffer.
 *
 * Invariant: data is always NUL-terminated (data[len] == '\0') so a Buf
 * holding text can be used as a C string.  Allocation failure aborts: the
 * buffers here are small (paths, SQL, JSON documents), never file data.
 */
#ifndef TENBACK_COMMON_BUF_H
#define TENBACK_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Buf {
	char *data;
	size_t len;
	size_t cap;
} Buf;

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(Buf *b, size_t extra);
void buf_append(Buf *b, const void *data, size_t len);
void buf_puts(Buf *b, const char *s);
void buf_putc(Buf *b, char c);
/* The decimal digits of v, without printf's machinery: a manifest has several
 * numbers per file, and formatting them was a tenth of its serialisation. */
void buf_put_u64(Buf *b, uint64_t v);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(Buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(Buf *b);
/* Release the storage; the Buf is reusable afterwards (BUF_INIT state). */
void buf_free(Buf *b);
/* Give the storage to the caller (free() it); the Buf is reset. Never NULL. */
char *buf_steal(Buf *b);
/* A malloc'd copy that aborts on OOM; NULL in gives NULL out. */
char *xstrdup(const char *s);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* N bytes at a multiple of ALIGN (a power of two, at least sizeof(void *)); free() it. */
void *xmalloc_aligned(size_t align, size_t n);
void *xrealloc(void *p, size_t n);
/* malloc'd printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
