/*
 * s3_xml.c - a tiny XML reader for S3's answers (ListBucketResult,
 * InitiateMultipartUploadResult, CompleteMultipartUploadResult,
 * DeleteResult, Error).
 *
 * Not a general XML parser: elements, attributes (skipped), text, the five
 * predefined entities and numeric character references, comments, CDATA and
 * the <?xml?> declaration.  A DOCTYPE is refused (no entity definitions, no
 * expansion).  Every read is bounded by len; the depth and the path length
 * are bounded; anything malformed is ERR_CORRUPT, never a crash.
 */
#include "storage/s3/s3.h"

#include "common/buf.h"
#include "common/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XML_MAX_DEPTH 32
#define XML_MAX_PATH 512

typedef struct XmlParser {
	const char *p;
	const char *end;
	char path[XML_MAX_PATH];
	size_t path_len;
	size_t name_start[XML_MAX_DEPTH];  /* offset of each element's name in path */
	bool has_child[XML_MAX_DEPTH];
	int depth;
	Buf text;
	S3XmlCb cb;
	void *payload;
} XmlParser;

static int
corrupt(const char *what)
{
	return err_set(ERR_CORRUPT, "malformed XML in the S3 answer: %s", what);
}

static bool
starts(const XmlParser *x, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(x->end - x->p) >= n && memcmp(x->p, lit, n) == 0;
}

/* Skip to just after lit; false if it never comes. */
static bool
skip_past(XmlParser *x, const char *lit)
{
	size_t n = strlen(lit);

	while ((size_t)(x->end - x->p) >= n) {
		if (memcmp(x->p, lit, n) == 0) {
			x->p += n;
			return true;
		}
		x->p++;
	}
	return false;
}

static void
put_utf8(Buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xC0 | (cp >> 6)));
		buf_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char)(0xE0 | (cp >> 12)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		buf_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		buf_putc(b, (char)(0xF0 | (cp >> 18)));
		buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		buf_putc(b, (char)(0x80 | (cp & 0x3F)));
	}
}

/* At '&': decode one entity into text. */
static int
entity(XmlParser *x)
{
	static const struct {
		const char *name;
		char ch;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	const char *s = x->p + 1;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);
		if ((size_t)(x->end - s) >= n && memcmp(s, named[i].name, n) == 0) {
			buf_putc(&x->text, named[i].ch);
			x->p = s + n;
			return 0;
		}
	}
	if (s < x->end && *s == '#') {
		unsigned long cp = 0;
		bool hex = false;
		int digits = 0;

		s++;
		if (s < x->end && (*s == 'x' || *s == 'X')) {
			hex = true;
			s++;
		}
		for (; s < x->end && *s != ';'; s++, digits++) {
			int v;
			if (isdigit((unsigned char)*s))
				v = *s - '0';
			else if (hex && isxdigit((unsigned char)*s))
				v = tolower((unsigned char)*s) - 'a' + 10;
			else
				return corrupt("bad character reference");
			if (digits >= 8)
				return corrupt("character reference too long");
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
		}
		if (s >= x->end || digits == 0)
			return corrupt("unterminated character reference");
		if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return corrupt("invalid character reference");
		put_utf8(&x->text, cp);
		x->p = s + 1;
		return 0;
	}
	return corrupt("unknown entity");
}

static bool
name_char(unsigned char ch)
{
	return isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == ':' || ch >= 0x80;
}

/* Read a name at x->p into the path (after a '/'); returns its length or <0. */
static int
read_name(XmlParser *x, const char **out, size_t *out_len)
{
	const char *s = x->p;

	while (x->p < x->end && name_char((unsigned char)*x->p))
		x->p++;
	if (x->p == s)
		return corrupt("missing element name");
	*out = s;
	*out_len = (size_t)(x->p - s);
	return 0;
}

/* Skip attributes up to '>' or "/>"; sets *self_closing. */
static int
skip_attrs(XmlParser *x, bool *self_closing)
{
	*self_closing = false;
	while (x->p < x->end) {
		char ch = *x->p;
		if (ch == '"' || ch == '\'') {
			const char *q = memchr(x->p + 1, ch, (size_t)(x->end - x->p - 1));
			if (q == NULL)
				return corrupt("unterminated attribute value");
			x->p = q + 1;
		} else if (ch == '/' && x->p + 1 < x->end && x->p[1] == '>') {
			*self_closing = true;
			x->p += 2;
			return 0;
		} else if (ch == '>') {
			x->p++;
			return 0;
		} else if (ch == '<') {
			return corrupt("'<' inside a tag");
		} else {
			x->p++;
		}
	}
	return corrupt("unterminated tag");
}

static int
open_element(XmlParser *x, const char *name, size_t n)
{
	int rc;

	if (x->depth >= XML_MAX_DEPTH)
		return corrupt("nested too deep");
	if (x->path_len + n + 2 > sizeof(x->path))
		return corrupt("names too long");
	if (x->depth > 0)
		x->has_child[x->depth - 1] = true;
	x->name_start[x->depth] = x->path_len + (x->depth > 0 ? 1 : 0);
	if (x->depth > 0)
		x->path[x->path_len++] = '/';
	memcpy(x->path + x->path_len, name, n);
	x->path_len += n;
	x->path[x->path_len] = '\0';
	x->has_child[x->depth] = false;
	x->depth++;
	buf_reset(&x->text);
	if ((rc = x->cb(x->payload, S3_XML_OPEN, x->path, "", 0)) < 0)
		return rc;
	return 0;
}

static int
close_element(XmlParser *x)
{
	int rc;

	x->depth--;
	if (!x->has_child[x->depth]) {
		buf_puts(&x->text, "");
		if ((rc = x->cb(x->payload, S3_XML_TEXT, x->path, x->text.data, x->text.len)) < 0)
			return rc;
	}
	if ((rc = x->cb(x->payload, S3_XML_CLOSE, x->path, "", 0)) < 0)
		return rc;
	x->path_len = x->depth > 0 ? x->name_start[x->depth] - 1 : 0;
	x->path[x->path_len] = '\0';
	buf_reset(&x->text);
	return 0;
}

static int
parse(XmlParser *x)
{
	bool seen_root = false;
	int rc;

	while (x->p < x->end) {
		if (*x->p != '<') {
			if (*x->p == '&') {
				if (x->depth == 0)
					return corrupt("text outside the root element");
				if ((rc = entity(x)) < 0)
					return rc;
				continue;
			}
			if (x->depth == 0) {
				if (!isspace((unsigned char)*x->p) && *x->p != '\0')
					return corrupt("text outside the root element");
				if (*x->p == '\0')
					return corrupt("NUL byte");
			} else {
				if (*x->p == '\0')
					return corrupt("NUL byte");
				buf_putc(&x->text, *x->p);
			}
			x->p++;
			continue;
		}
		if (starts(x, "<?")) {
			if (!skip_past(x, "?>"))
				return corrupt("unterminated declaration");
		} else if (starts(x, "<!--")) {
			x->p += 4;
			if (!skip_past(x, "-->"))
				return corrupt("unterminated comment");
		} else if (starts(x, "<![CDATA[")) {
			const char *s = x->p + 9;
			x->p = s;
			if (x->depth == 0)
				return corrupt("CDATA outside the root element");
			if (!skip_past(x, "]]>"))
				return corrupt("unterminated CDATA");
			buf_append(&x->text, s, (size_t)(x->p - 3 - s));
		} else if (starts(x, "<!")) {
			return corrupt("DOCTYPE and other declarations are not accepted");
		} else if (starts(x, "</")) {
			const char *name;
			size_t n;
			x->p += 2;
			if ((rc = read_name(x, &name, &n)) < 0)
				return rc;
			while (x->p < x->end && isspace((unsigned char)*x->p))
				x->p++;
			if (x->p >= x->end || *x->p != '>')
				return corrupt("bad closing tag");
			x->p++;
			if (x->depth == 0)
				return corrupt("closing tag without an opening one");
			size_t start = x->name_start[x->depth - 1];
			if (x->path_len - start != n || memcmp(x->path + start, name, n) != 0)
				return corrupt("mismatched closing tag");
			if ((rc = close_element(x)) < 0)
				return rc;
		} else {
			const char *name;
			size_t n;
			bool self_closing;
			x->p++;
			if (x->depth == 0 && seen_root)
				return corrupt("more than one root element");
			if ((rc = read_name(x, &name, &n)) < 0)
				return rc;
			if ((rc = skip_attrs(x, &self_closing)) < 0)
				return rc;
			if ((rc = open_element(x, name, n)) < 0)
				return rc;
			seen_root = true;
			if (self_closing && (rc = close_element(x)) < 0)
				return rc;
		}
	}
	if (x->depth != 0)
		return corrupt("unterminated element");
	if (!seen_root)
		return corrupt("no element");
	return 0;
}

int
s3_xml_parse(const char *doc, size_t len, S3XmlCb cb, void *payload)
{
	XmlParser x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.p = doc;
	x.end = doc + len;
	x.cb = cb;
	x.payload = payload;
	rc = parse(&x);
	buf_free(&x.text);
	return rc;
}

typedef struct GetOne {
	const char *path;
	char *out;
	size_t cap;
	bool found;
} GetOne;

static int
get_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	GetOne *g = payload;

	if (ev == S3_XML_TEXT && !g->found && strcmp(path, g->path) == 0) {
		size_t n = len < g->cap - 1 ? len : g->cap - 1;
		memcpy(g->out, text, n);
		g->out[n] = '\0';
		g->found = true;
	}
	return 0;
}

bool
s3_xml_get(const char *doc, size_t len, const char *path, char *out, size_t cap)
{
	GetOne g = {path, out, cap, false};

	if (cap == 0)
		return false;
	out[0] = '\0';
	if (doc == NULL || len == 0)
		return false;
	if (s3_xml_parse(doc, len, get_cb, &g) < 0) {
		out[0] = '\0';
		return false;
	}
	return g.found;
}

void
s3_xml_escape(Buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&apos;"); break;
		default: buf_putc(out, *s); break;
		}
	}
}
