/*
 * strutil.h - small string and time helpers shared by every module.
 */
#ifndef TENBACK_COMMON_STRUTIL_H
#define TENBACK_COMMON_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A growable list of malloc'd strings. */
typedef struct StrList {
	char **items;
	size_t count;
	size_t cap;
} StrList;

void strlist_add(StrList *l, const char *s);          /* copies s */
void strlist_add_owned(StrList *l, char *s);          /* takes s */
bool strlist_contains(const StrList *l, const char *s);
void strlist_sort(StrList *l);
void strlist_free(StrList *l);

/* malloc'd "a/b", with exactly one slash between non-empty parts. */
char *path_join(const char *a, const char *b);
bool str_starts_with(const char *s, const char *prefix);
bool str_ends_with(const char *s, const char *suffix);
/* Whole-string unsigned parse; ERR_INVALID naming what (e.g. "--port") on bad input. */
int str_to_u64(uint64_t *out, const char *s, const char *what);
/*
 * Encode a database name for use as one path component: [A-Za-z0-9._-]
 * kept, every other byte as %XX ('*' -> %2A); never "." or "..".
 */
char *str_path_encode(const char *s);
/* "2026-11-26 15:08:50+00" (UTC) into out (at least 32 bytes). */
void time_format_utc(char *out, size_t cap, time_t t);
/* The inverse for what time_format_utc writes ("YYYY-MM-DD HH:MM:SS+00"): 0, or
 * ERR_INVALID for anything else (NULL too). */
int time_parse_utc(const char *s, int64_t *out);
/* Monotonic milliseconds. */
int64_t time_now_ms(void);
/* A size in bytes: digits with an optional binary unit, k/K (KiB), M, G or T,
 * optionally followed by "B" or "iB" ("64M", "64MiB", "1g", "1048576"); 0, or
 * ERR_INVALID naming what on bad input or overflow. */
int size_parse(uint64_t *out, const char *s, const char *what);
/* Human size: "1.5 GiB". */
void size_format(char *out, size_t cap, uint64_t bytes);
/* Single-quote s for a postgresql.conf value or a shell word ('' for ' in conf,
 * '\'' in shell). malloc'd. */
char *str_conf_quote(const char *s);
char *str_shell_quote(const char *s);

/* Overwrite a NUL-terminated secret with zeros, then free it (NULL is fine). */
void str_wipe_free(char *s);

#endif
