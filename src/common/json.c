/*
 * json.c - JSON writer and recursive-descent parser.
 *
 * Invariant: the parser never reads past len and frees everything it built
 * when it fails; the writer always produces valid JSON when calls are made
 * in document order.
 */
#include "common/json.h"

#include "common/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

void
json_writer_init(JsonWriter *w, Buf *out, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->pretty = pretty;
}

static void
newline(JsonWriter *w)
{
	if (!w->pretty)
		return;
	buf_putc(w->out, '\n');
	for (int i = 0; i < w->depth; i++)
		buf_puts(w->out, "  ");
}

static void
before_value(JsonWriter *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth])
			buf_putc(w->out, ',');
		w->need_comma[w->depth] = true;
		newline(w);
	}
}

static void
open_container(JsonWriter *w, char c)
{
	before_value(w);
	buf_putc(w->out, c);
	ASSERT(w->depth + 1 < JSON_MAX_DEPTH);
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void
close_container(JsonWriter *w, char c)
{
	bool had = w->need_comma[w->depth];

	ASSERT(w->depth > 0);
	w->depth--;
	if (had)
		newline(w);
	buf_putc(w->out, c);
}

void json_object_begin(JsonWriter *w) { open_container(w, '{'); }
void json_object_end(JsonWriter *w) { close_container(w, '}'); }
void json_array_begin(JsonWriter *w) { open_container(w, '['); }
void json_array_end(JsonWriter *w) { close_container(w, ']'); }

void
json_escape(Buf *out, const char *s)
{
	size_t n = 0;

	/* most strings need no escape (a manifest's paths): quoted in one copy */
	while ((unsigned char)s[n] >= 0x20 && s[n] != '"' && s[n] != '\\')
		n++;
	if (s[n] == '\0') {
		char *d;

		buf_reserve(out, n + 2);
		d = out->data + out->len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		out->len += n + 2;
		out->data[out->len] = '\0';
		return;
	}
	buf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		const unsigned char *run = p;

		/* a run of characters that need no escape goes in at once */
		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			buf_append(out, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		switch (*p) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\r': buf_puts(out, "\\r"); break;
		case '\t': buf_puts(out, "\\t"); break;
		default:
			if (*p < 0x20)
				buf_printf(out, "\\u%04x", *p);
			else
				buf_putc(out, (char)*p);
		}
	}
	buf_putc(out, '"');
}

void
json_key(JsonWriter *w, const char *key)
{
	before_value(w);
	json_escape(w->out, key);
	buf_puts(w->out, w->pretty ? ": " : ":");
	w->after_key = true;
}

void
json_string(JsonWriter *w, const char *s)
{
	before_value(w);
	if (s == NULL)
		buf_puts(w->out, "null");
	else
		json_escape(w->out, s);
}

static void
put_u64(Buf *out, uint64_t v, bool negative)
{
	if (negative)
		buf_putc(out, '-');
	buf_put_u64(out, v);
}

void
json_int(JsonWriter *w, int64_t v)
{
	before_value(w);
	/* the magnitude in uint64_t: -INT64_MIN does not fit int64_t */
	put_u64(w->out, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void
json_uint(JsonWriter *w, uint64_t v)
{
	before_value(w);
	put_u64(w->out, v, false);
}

void
json_bool(JsonWriter *w, bool v)
{
	before_value(w);
	buf_puts(w->out, v ? "true" : "false");
}

void
json_null(JsonWriter *w)
{
	before_value(w);
	buf_puts(w->out, "null");
}

void json_kv_string(JsonWriter *w, const char *k, const char *s) { json_key(w, k); json_string(w, s); }
void json_kv_int(JsonWriter *w, const char *k, int64_t v) { json_key(w, k); json_int(w, v); }
void json_kv_uint(JsonWriter *w, const char *k, uint64_t v) { json_key(w, k); json_uint(w, v); }
void json_kv_bool(JsonWriter *w, const char *k, bool v) { json_key(w, k); json_bool(w, v); }

/* ---- parser ---- */

typedef struct Parser {
	const char *s;
	size_t len;               /* bytes in s (json_parse_reader: read so far, from base) */
	size_t pos;
	/* json_parse_reader: s is buf, a window on the text that grows as the
	 * parser needs more and drops what it has parsed (compact) */
	JsonReadFn read;
	void *read_payload;
	char *buf;
	size_t cap;
	size_t base;              /* offset in the text of s[0] */
	bool eof;
	int read_rc;              /* the reader's error, its record kept */
	const char *stream_key;   /* json_parse_streaming: the top-level member whose items go to cb */
	JsonItemCb cb;
	void *payload;
	struct Arena *arena;      /* set while a streamed item is parsed: its values come from it */
} Parser;

/*
 * A streamed item's values (a manifest's file entry: a dozen values) live
 * only until its callback returns: they are allocated from an arena, reset
 * after each item, instead of a malloc and a free each.
 */
typedef struct ArenaChunk {
	struct ArenaChunk *next;
	size_t used;
	size_t cap;
	max_align_t data[];
} ArenaChunk;

typedef struct Arena {
	ArenaChunk *head;         /* the chunk allocated from; older (full) ones follow */
} Arena;

#define ARENA_CHUNK_BYTES (16u * 1024)

static void *
arena_alloc(Arena *a, size_t n)
{
	ArenaChunk *c = a->head;
	size_t align = sizeof(max_align_t);

	n = (n + align - 1) / align * align;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK_BYTES ? n : ARENA_CHUNK_BYTES;

		c = xmalloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

/* Everything allocated is gone; the newest chunk stays for the next item. */
static void
arena_reset(Arena *a)
{
	ArenaChunk *c = a->head;

	if (c == NULL)
		return;
	while (c->next) {
		ArenaChunk *older = c->next;
		c->next = older->next;
		free(older);
	}
	c->used = 0;
}

static void
arena_free(Arena *a)
{
	arena_reset(a);
	free(a->head);
	a->head = NULL;
}

static void *
p_alloc(Parser *p, size_t n)
{
	return p->arena ? arena_alloc(p->arena, n) : xmalloc(n);
}

static void
p_free(Parser *p, void *m)
{
	if (p->arena == NULL)
		free(m);
}

static int parse_value(Parser *p, JsonValue **out, int depth);

static int
fail(Parser *p, const char *what)
{
	if (p->read_rc < 0)
		return p->read_rc; /* the text could not be read: that error speaks */
	return err_set(ERR_INVALID, "invalid JSON at byte %zu: %s", p->base + p->pos, what);
}

#define READ_MIN 4096u             /* the window starts small: most texts are */
#define COMPACT_BYTES (256u * 1024)

/* Read on (json_parse_reader) until n bytes are at pos or the text ends. */
static bool
more(Parser *p, size_t n)
{
	while (p->len - p->pos < n) {
		ssize_t got;

		if (p->read == NULL || p->eof)
			return false;
		if (p->cap - p->len < READ_MIN) {
			p->cap = p->len + READ_MIN > p->cap * 2 ? p->len + READ_MIN : p->cap * 2;
			p->buf = xrealloc(p->buf, p->cap);
			p->s = p->buf;
		}
		got = p->read(p->buf + p->len, p->cap - p->len, p->read_payload);
		if (got < 0) {
			p->read_rc = (int)got;
			p->eof = true;
			return false;
		}
		if (got == 0)
			p->eof = true;
		p->len += (size_t)got;
	}
	return true;
}

/* Are n more bytes at pos?  (The test inline, the reading not: called for every byte.) */
static inline bool
have(Parser *p, size_t n)
{
	return p->len - p->pos >= n || more(p, n);
}

/* Drop the parsed bytes from the window; only between values, where no
 * index into s is held. */
static void
compact(Parser *p)
{
	if (p->read == NULL || p->pos < COMPACT_BYTES)
		return;
	memmove(p->buf, p->buf + p->pos, p->len - p->pos);
	p->base += p->pos;
	p->len -= p->pos;
	p->pos = 0;
}

static void
skip_ws(Parser *p)
{
	while (have(p, 1)) {
		char c = p->s[p->pos];

		if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
			return;
		p->pos++;
	}
}

static JsonValue *
value_new(Parser *p, JsonType t)
{
	JsonValue *v = p_alloc(p, sizeof(*v));

	memset(v, 0, sizeof(*v));
	v->type = t;
	v->in_arena = p->arena != NULL;
	return v;
}

void
json_free(JsonValue *v)
{
	if (v == NULL || v->in_arena)
		return; /* an arena's value goes with it, children included */
	for (size_t i = 0; i < v->count; i++)
		json_free(v->items[i]);
	free(v->items);
	free(v->string);
	free(v->key);
	free(v);
}

static void
put_utf8(Buf *b, uint32_t cp)
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

static int
parse_hex4(Parser *p, uint32_t *out)
{
	uint32_t v = 0;

	if (!have(p, 4))
		return fail(p, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
		else return fail(p, "bad \\u escape");
	}
	*out = v;
	return 0;
}

/* Characters at pos, within the window, before a quote, a backslash or a control character. */
static size_t
plain_run(const Parser *p)
{
	size_t run = 0;

	while (p->pos + run < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos + run];

		if (c == '"' || c == '\\' || c < 0x20)
			break;
		run++;
	}
	return run;
}

static int
parse_string(Parser *p, char **out)
{
	Buf b = BUF_INIT;
	int rc = 0;

	p->pos++; /* opening quote */
	for (;;) {
		/* a run of plain characters, as far as the window holds: one copy */
		size_t run = plain_run(p);

		if (b.len == 0 && p->pos + run < p->len && p->s[p->pos + run] == '"') {
			/* the whole string, without escapes (most are): allocated once */
			*out = p_alloc(p, run + 1);
			memcpy(*out, p->s + p->pos, run);
			(*out)[run] = '\0';
			p->pos += run + 1;
			return 0;
		}
		if (run > 0) {
			buf_append(&b, p->s + p->pos, run);
			p->pos += run;
		}
		if (!have(p, 1)) {
			rc = fail(p, "unterminated string");
			goto out;
		}
		unsigned char c = (unsigned char)p->s[p->pos++];
		if (c == '"')
			break;
		if (c < 0x20) {
			rc = fail(p, "control character in string");
			goto out;
		}
		if (c != '\\') {
			buf_putc(&b, (char)c);
			continue;
		}
		if (!have(p, 1)) {
			rc = fail(p, "unterminated escape");
			goto out;
		}
		c = (unsigned char)p->s[p->pos++];
		switch (c) {
		case '"': buf_putc(&b, '"'); break;
		case '\\': buf_putc(&b, '\\'); break;
		case '/': buf_putc(&b, '/'); break;
		case 'b': buf_putc(&b, '\b'); break;
		case 'f': buf_putc(&b, '\f'); break;
		case 'n': buf_putc(&b, '\n'); break;
		case 'r': buf_putc(&b, '\r'); break;
		case 't': buf_putc(&b, '\t'); break;
		case 'u': {
			uint32_t cp, lo;
			if ((rc = parse_hex4(p, &cp)) < 0)
				goto out;
			if (cp >= 0xDC00 && cp <= 0xDFFF) {
				rc = fail(p, "lone surrogate");
				goto out;
			}
			if (cp >= 0xD800 && cp < 0xDC00) {
				if (!have(p, 2) || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
					rc = fail(p, "lone surrogate");
					goto out;
				}
				p->pos += 2;
				if ((rc = parse_hex4(p, &lo)) < 0)
					goto out;
				if (lo < 0xDC00 || lo > 0xDFFF) {
					rc = fail(p, "bad surrogate pair");
					goto out;
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			if (cp == 0) {
				rc = fail(p, "\\u0000 in string");
				goto out;
			}
			put_utf8(&b, cp);
			break;
		}
		default:
			rc = fail(p, "bad escape");
			goto out;
		}
	}
	if (p->arena) {
		*out = arena_alloc(p->arena, b.len + 1);
		memcpy(*out, b.len ? b.data : "", b.len);
		(*out)[b.len] = '\0';
		buf_free(&b);
	} else {
		*out = buf_steal(&b);
	}
out:
	if (rc < 0)
		buf_free(&b);
	return rc;
}

static void
push_item(Parser *p, JsonValue *v, JsonValue *item)
{
	/* 8 first (an object's members are about that many), then at powers of two */
	if (v->count >= 8 && (v->count & (v->count - 1)) == 0) {
		if (v->in_arena) {
			JsonValue **items = arena_alloc(p->arena, v->count * 2 * sizeof(*v->items));
			memcpy(items, v->items, v->count * sizeof(*v->items));
			v->items = items;
		} else {
			v->items = xrealloc(v->items, v->count * 2 * sizeof(*v->items));
		}
	} else if (v->count == 0) {
		v->items = p_alloc(p, 8 * sizeof(*v->items));
	}
	v->items[v->count++] = item;
}

/* The streamed array: each element to the callback, then freed; the value
 * left in the tree is an empty array. */
static int
parse_streamed_array(Parser *p, JsonValue **out, int depth)
{
	size_t item_idx = 0;
	Arena arena = {0};
	int rc;

	p->pos++; /* '[' */
	skip_ws(p);
	if (have(p, 1) && p->s[p->pos] == ']') {
		p->pos++;
		*out = value_new(p, JSON_ARRAY);
		return 0;
	}
	for (;;) {
		JsonValue *item = NULL;

		p->arena = &arena;
		rc = parse_value(p, &item, depth + 1);
		p->arena = NULL;
		if (rc == 0)
			rc = p->cb(item, item_idx++, p->payload);
		arena_reset(&arena);
		if (rc < 0)
			break;
		skip_ws(p);
		if (have(p, 1) && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (have(p, 1) && p->s[p->pos] == ']') {
			p->pos++;
			*out = value_new(p, JSON_ARRAY);
			break;
		}
		rc = fail(p, "expected ',' or ']'");
		break;
	}
	arena_free(&arena);
	return rc;
}

static int
parse_container(Parser *p, JsonValue **out, int depth, bool object)
{
	JsonValue *v = value_new(p, object ? JSON_OBJECT : JSON_ARRAY);
	char close = object ? '}' : ']';
	int rc = 0;

	p->pos++;
	skip_ws(p);
	if (have(p, 1) && p->s[p->pos] == close) {
		p->pos++;
		*out = v;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		JsonValue *item = NULL;

		skip_ws(p);
		if (object) {
			if (!have(p, 1) || p->s[p->pos] != '"') {
				rc = fail(p, "expected member name");
				goto out;
			}
			if ((rc = parse_string(p, &key)) < 0)
				goto out;
			skip_ws(p);
			if (!have(p, 1) || p->s[p->pos] != ':') {
				p_free(p, key);
				rc = fail(p, "expected ':'");
				goto out;
			}
			p->pos++;
		}
		if (key && depth == 0 && p->stream_key && strcmp(key, p->stream_key) == 0 &&
		    (skip_ws(p), have(p, 1) && p->s[p->pos] == '[')) {
			rc = parse_streamed_array(p, &item, depth + 1);
		} else {
			rc = parse_value(p, &item, depth + 1);
		}
		if (rc < 0) {
			p_free(p, key);
			goto out;
		}
		item->key = key;
		push_item(p, v, item);
		skip_ws(p);
		if (have(p, 1) && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (have(p, 1) && p->s[p->pos] == close) {
			p->pos++;
			break;
		}
		rc = fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto out;
	}
	*out = v;
	v = NULL;
out:
	json_free(v);
	return rc;
}

static bool
digit_at(Parser *p)
{
	return have(p, 1) && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/* RFC 8259: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
static int
parse_number(Parser *p, JsonValue **out)
{
	size_t start = p->pos;

	if (have(p, 1) && p->s[p->pos] == '-')
		p->pos++;
	if (!digit_at(p))
		return fail(p, "bad number");
	if (p->s[p->pos] == '0')
		p->pos++;
	else
		while (digit_at(p))
			p->pos++;
	if (have(p, 1) && p->s[p->pos] == '.') {
		p->pos++;
		if (!digit_at(p))
			return fail(p, "bad number");
		while (digit_at(p))
			p->pos++;
	}
	if (have(p, 1) && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (have(p, 1) && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!digit_at(p))
			return fail(p, "bad number");
		while (digit_at(p))
			p->pos++;
	}
	JsonValue *v = value_new(p, JSON_NUMBER);
	v->string = p_alloc(p, p->pos - start + 1);
	memcpy(v->string, p->s + start, p->pos - start);
	v->string[p->pos - start] = '\0';
	*out = v;
	return 0;
}

static bool
match(Parser *p, const char *word)
{
	size_t n = strlen(word);

	if (have(p, n) && memcmp(p->s + p->pos, word, n) == 0) {
		p->pos += n;
		return true;
	}
	return false;
}

static int
parse_value(Parser *p, JsonValue **out, int depth)
{
	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nesting too deep");
	compact(p);
	skip_ws(p);
	if (!have(p, 1))
		return fail(p, "unexpected end");
	switch (p->s[p->pos]) {
	case '{':
		return parse_container(p, out, depth, true);
	case '[':
		return parse_container(p, out, depth, false);
	case '"': {
		char *s;
		int rc = parse_string(p, &s);
		if (rc < 0)
			return rc;
		*out = value_new(p, JSON_STRING);
		(*out)->string = s;
		return 0;
	}
	default:
		if (match(p, "true") || match(p, "false")) {
			*out = value_new(p, JSON_BOOL);
			(*out)->boolean = p->s[p->pos - 1] == 'e' && p->s[p->pos - 2] == 'u';
			return 0;
		}
		if (match(p, "null")) {
			*out = value_new(p, JSON_NULL);
			return 0;
		}
		return parse_number(p, out);
	}
}

static int
parse_document(Parser *p, JsonValue **out)
{
	JsonValue *v = NULL;
	int rc;

	*out = NULL;
	if ((rc = parse_value(p, &v, 0)) < 0)
		return rc;
	skip_ws(p);
	if (have(p, 1) || p->read_rc < 0) {
		json_free(v);
		return fail(p, "trailing data");
	}
	*out = v;
	return 0;
}

int
json_parse(JsonValue **out, const char *text, size_t len)
{
	return json_parse_streaming(out, text, len, NULL, NULL, NULL);
}

int
json_parse_streaming(JsonValue **out, const char *text, size_t len, const char *array_key, JsonItemCb cb,
                     void *payload)
{
	Parser p = {.s = text, .len = len, .stream_key = cb ? array_key : NULL, .cb = cb, .payload = payload};

	return parse_document(&p, out);
}

int
json_parse_reader(JsonValue **out, JsonReadFn read, void *read_payload, const char *array_key, JsonItemCb cb,
                  void *payload)
{
	Parser p = {.s = "", .read = read, .read_payload = read_payload, .stream_key = cb ? array_key : NULL,
	            .cb = cb, .payload = payload};
	int rc = parse_document(&p, out);

	free(p.buf);
	return rc;
}

const JsonValue *
json_get(const JsonValue *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->count; i++) {
		const char *k = obj->items[i]->key;

		/* two characters before strcmp: a manifest entry's keys share first letters */
		if (k[0] == key[0] && (key[0] == '\0' || (k[1] == key[1] && strcmp(k, key) == 0)))
			return obj->items[i];
	}
	return NULL;
}

const char *
json_get_string(const JsonValue *obj, const char *key)
{
	const JsonValue *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->string : NULL;
}

int64_t
json_get_int(const JsonValue *obj, const char *key, bool *ok)
{
	const JsonValue *v = json_get(obj, key);
	char *end;
	long long n;

	if (ok)
		*ok = false;
	if (v == NULL || v->type != JSON_NUMBER)
		return 0;
	errno = 0;
	n = strtoll(v->string, &end, 10);
	if (errno || *end)
		return 0;
	if (ok)
		*ok = true;
	return n;
}

uint64_t
json_get_uint(const JsonValue *obj, const char *key, bool *ok)
{
	const JsonValue *v = json_get(obj, key);
	char *end;
	unsigned long long n;

	if (ok)
		*ok = false;
	if (v == NULL || v->type != JSON_NUMBER || v->string[0] == '-')
		return 0;
	errno = 0;
	n = strtoull(v->string, &end, 10);
	if (errno || *end)
		return 0;
	if (ok)
		*ok = true;
	return n;
}

bool
json_get_bool(const JsonValue *obj, const char *key, bool dflt)
{
	const JsonValue *v = json_get(obj, key);

	return v && v->type == JSON_BOOL ? v->boolean : dflt;
}
