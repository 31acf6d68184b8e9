/*
 * error.h - one error-code enum and a thread-local error record.
 *
 * A function that can fail returns int: 0 on success or a negative ErrCode.
 * Before returning a negative code it calls err_set() (or err_errno()) so the
 * thread-local record holds code, errno, message, detail and hint.  Callers
 * pass the code up unchanged and may add context with err_prefix(), which
 * prepends to the message and never overwrites it.
 *
 * Thread safety: the record is per thread; every function here is safe.
 */
#ifndef TENBACK_COMMON_ERROR_H
#define TENBACK_COMMON_ERROR_H

#include <stdarg.h>

typedef enum ErrCode {
	ERR_OK = 0,
	/* transient: may work next time, the only ones retried automatically */
	ERR_NETWORK = -1,
	ERR_TIMEOUT = -2,
	ERR_BUSY = -3,
	/* permanent: say what to change first */
	ERR_NOT_FOUND = -10,
	ERR_EXISTS = -11,
	ERR_INVALID = -12,
	ERR_CORRUPT = -13,
	ERR_UNSUPPORTED = -14,
	ERR_PERMISSION = -15,
	ERR_NO_SPACE = -16,
	ERR_IO = -17,
	ERR_PG = -18,
	ERR_CANCELLED = -19,
	/* internal: a bug */
	ERR_INTERNAL = -30,
} ErrCode;

typedef enum ErrClass {
	ERR_CLASS_TRANSIENT,
	ERR_CLASS_PERMANENT,
	ERR_CLASS_INTERNAL,
} ErrClass;

/* Set the record; returns code so callers can `return err_set(...)`. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like err_set, the code derived from errno (ENOSPC -> ERR_NO_SPACE, ...);
 * the strerror text is appended as ": <text>". */
int err_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepend context: message becomes "<context>: <message>". */
void err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err_clear(void);

/*
 * Carrying an error to another thread: err_save copies the calling thread's
 * record (malloc'd), err_restore makes a copy the calling thread's record
 * and returns its code.  err_saved_free accepts NULL.
 */
typedef struct ErrSaved ErrSaved;
ErrSaved *err_save(void);
int err_restore(const ErrSaved *saved);
void err_saved_free(ErrSaved *saved);

/* Borrowed until the next err_* call on this thread; never NULL ("" when unset). */
int err_code(void);
int err_os_errno(void);
const char *err_message(void);
const char *err_detail_text(void);
const char *err_hint_text(void);

ErrClass err_class(int code);
const char *err_code_name(int code);
/* Map an errno value to an ErrCode. */
int err_from_errno(int errnum);

/* ASSERT stays on in release builds: an abort beats a corrupt backup. */
void err_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define ASSERT(e) ((e) ? (void)0 : err_assert_fail(#e, __FILE__, __LINE__))

#endif
