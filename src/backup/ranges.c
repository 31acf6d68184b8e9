/*
 * ranges.c - block ranges.
 */
#include "backup/ranges.h"

#include "common/buf.h"
#include "common/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
ranges_append_range(BlockRanges *rs, uint32_t first, uint32_t last)
{
	ASSERT(first <= last);
	if (rs->n > 0) {
		BlockRange *tail = &rs->r[rs->n - 1];
		ASSERT(first > tail->last);
		if (first == tail->last + 1) {
			tail->last = last;
			return;
		}
	}
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 1; /* most files of a manifest have one range */
		rs->r = xrealloc(rs->r, rs->cap * sizeof(*rs->r));
	}
	rs->r[rs->n].first = first;
	rs->r[rs->n].last = last;
	rs->n++;
}

void
ranges_append(BlockRanges *rs, uint32_t b)
{
	ranges_append_range(rs, b, b);
}

bool
ranges_contains(const BlockRanges *rs, uint32_t b)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b < rs->r[mid].first)
			hi = mid;
		else if (b > rs->r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
ranges_count(const BlockRanges *rs)
{
	uint64_t n = 0;

	for (size_t i = 0; i < rs->n; i++)
		n += (uint64_t)rs->r[i].last - rs->r[i].first + 1;
	return n;
}

void
ranges_subtract(BlockRanges *out, const BlockRanges *a, const BlockRanges *b, uint32_t limit)
{
	size_t j = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < a->n; i++) {
		uint64_t first = a->r[i].first;
		uint64_t last = a->r[i].last;

		if (first >= limit)
			break;
		if (last >= limit)
			last = (uint64_t)limit - 1;
		while (j < b->n && b->r[j].last < first)
			j++;
		for (size_t k = j; k < b->n && b->r[k].first <= last && first <= last; k++) {
			if (b->r[k].first > first)
				ranges_append_range(out, (uint32_t)first, b->r[k].first - 1);
			if ((uint64_t)b->r[k].last + 1 > first)
				first = (uint64_t)b->r[k].last + 1;
		}
		if (first <= last)
			ranges_append_range(out, (uint32_t)first, (uint32_t)last);
	}
}

char *
ranges_format(const BlockRanges *rs)
{
	Buf b = BUF_INIT;

	for (size_t i = 0; i < rs->n; i++) {
		if (i)
			buf_putc(&b, ',');
		buf_put_u64(&b, rs->r[i].first);
		if (rs->r[i].first != rs->r[i].last) {
			buf_putc(&b, '-');
			buf_put_u64(&b, rs->r[i].last);
		}
	}
	return buf_steal(&b);
}

static int
parse_u32(const char **p, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	*p = end;
	return 0;
}

int
ranges_parse(BlockRanges *out, const char *text)
{
	const char *p = text;
	size_t n_ranges = *p ? 1 : 0;

	memset(out, 0, sizeof(*out));
	/* exactly as many as the text names: a manifest holds one or two per file */
	for (const char *c = text; *c; c++)
		n_ranges += *c == ',';
	if (n_ranges > UINT32_MAX)
		goto bad;
	if (n_ranges > 0) {
		out->cap = (uint32_t)n_ranges;
		out->r = xmalloc(n_ranges * sizeof(*out->r));
	}
	while (*p) {
		uint32_t first, last;

		if (parse_u32(&p, &first) < 0)
			goto bad;
		last = first;
		if (*p == '-') {
			p++;
			if (parse_u32(&p, &last) < 0 || last < first)
				goto bad;
		}
		if (out->n > 0 && (uint64_t)first <= (uint64_t)out->r[out->n - 1].last + 1)
			goto bad;
		ranges_append_range(out, first, last);
		if (*p == ',') {
			p++;
			if (*p == '\0')
				goto bad; /* a trailing comma */
		} else if (*p) {
			goto bad;
		}
	}
	return 0;
bad:
	ranges_free(out);
	return err_set(ERR_CORRUPT, "invalid block ranges \"%.60s\"", text);
}

void
ranges_free(BlockRanges *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}
