/*
 * strutil.c - string and time helpers.
 */
#include "common/strutil.h"

#include "common/buf.h"
#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
strlist_add_owned(StrList *l, char *s)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = xrealloc(l->items, l->cap * sizeof(char *));
	}
	l->items[l->count++] = s;
}

void
strlist_add(StrList *l, const char *s)
{
	strlist_add_owned(l, xstrdup(s));
}

bool
strlist_contains(const StrList *l, const char *s)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
strlist_sort(StrList *l)
{
	if (l->count > 1)
		qsort(l->items, l->count, sizeof(char *), cmp_str);
}

void
strlist_free(StrList *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (la == 0)
		return xstrdup(b);
	if (*b == '\0')
		return xasprintf("%.*s", (int)la, a);
	if (la == 1 && a[0] == '/')
		return xasprintf("/%s", b);
	return xasprintf("%.*s/%s", (int)la, a, b);
}

bool
str_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
str_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int
str_to_u64(uint64_t *out, const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s == NULL || *s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return 0;
bad:
	return err_set(ERR_INVALID, "invalid value for %s: \"%s\"", what, s ? s : "");
}

int
size_parse(uint64_t *out, const char *s, const char *what)
{
	const char *u;
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	if (s == NULL || *s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno)
		goto bad;
	u = end;
	switch (*u) {
	case 'k': case 'K': shift = 10; u++; break;
	case 'm': case 'M': shift = 20; u++; break;
	case 'g': case 'G': shift = 30; u++; break;
	case 't': case 'T': shift = 40; u++; break;
	default: break;
	}
	if (shift && *u == 'i' && *++u != 'B')
		goto bad; /* "Mi" without the B */
	if (*u == 'B')
		u++;
	if (*u || (shift && v > (UINT64_MAX >> shift)))
		goto bad;
	*out = (uint64_t)v << shift;
	return 0;
bad:
	return err_set(ERR_INVALID, "invalid size for %s: \"%s\"", what, s ? s : "");
}

char *
str_path_encode(const char *s)
{
	Buf b = BUF_INIT;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == '-' || (*p == '.' && p != (const unsigned char *)s))
			buf_putc(&b, (char)*p);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	return buf_steal(&b);
}

void
time_format_utc(char *out, size_t cap, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S+00", &tm);
}

int
time_parse_utc(const char *s, int64_t *out)
{
	struct tm tm = {0};
	char tail[8] = "";
	int n = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%7s%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	                        &tm.tm_min, &tm.tm_sec, tail, &n) != 7 ||
	    s[n] != '\0' || strcmp(tail, "+00") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return err_set(ERR_INVALID, "invalid time \"%s\"", s ? s : "");
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int64_t
time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
size_format(char *out, size_t cap, uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

char *
str_conf_quote(const char *s)
{
	Buf b = BUF_INIT;

	buf_putc(&b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_putc(&b, '\'');
		buf_putc(&b, *s);
	}
	buf_putc(&b, '\'');
	return buf_steal(&b);
}

char *
str_shell_quote(const char *s)
{
	Buf b = BUF_INIT;

	buf_putc(&b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(&b, "'\\''");
		else
			buf_putc(&b, *s);
	}
	buf_putc(&b, '\'');
	return buf_steal(&b);
}

void
str_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}
