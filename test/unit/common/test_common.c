/*
 * test_common.c - unit tests for src/common: the error record, Buf, the JSON
 * writer and parser, and the string helpers.
 *
 * Invariants under test: an error message is only ever extended, never
 * overwritten; a Buf is always NUL-terminated; the JSON writer's output is
 * byte-exact and parses back to what was written; the parser rejects every
 * malformed document with ERR_INVALID; str_path_encode yields one safe,
 * reversible path component; log lines carry their syslog priority exactly
 * when standard error is the stream $JOURNAL_STREAM names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- error.h ---- */

static void
test_err_set_and_clear(void **state)
{
	(void)state;
	err_hint("stale hint");
	err_detail("stale detail");
	assert_int_equal(err_set(ERR_INVALID, "invalid value for %s: \"%d\"", "--port", 7), ERR_INVALID);
	assert_int_equal(err_code(), ERR_INVALID);
	assert_int_equal(err_os_errno(), 0);
	assert_string_equal(err_message(), "invalid value for --port: \"7\"");
	/* a new error never carries the previous one's detail or hint */
	assert_string_equal(err_detail_text(), "");
	assert_string_equal(err_hint_text(), "");

	err_detail("The detail %d.", 1);
	err_hint("Do %s.", "this");
	assert_string_equal(err_detail_text(), "The detail 1.");
	assert_string_equal(err_hint_text(), "Do this.");

	err_clear();
	assert_int_equal(err_code(), ERR_OK);
	assert_string_equal(err_message(), "");
	assert_string_equal(err_detail_text(), "");
	assert_string_equal(err_hint_text(), "");
}

static void
test_err_set_from_own_message(void **state)
{
	(void)state;
	/* found by valgrind: the new message formatted from the old one */
	err_set(ERR_INVALID, "unexpected character at offset %d", 12);
	err_detail("the detail %d", 1);
	err_set(ERR_CORRUPT, "manifest is not valid JSON: %s", err_message());
	assert_string_equal(err_message(), "manifest is not valid JSON: unexpected character at offset 12");
	err_detail("now: %s", err_message());
	assert_string_equal(err_detail_text(), "now: manifest is not valid JSON: unexpected character at offset 12");
	err_hint("%s", err_detail_text());
	assert_string_equal(err_hint_text(), err_detail_text());
}

static void
test_err_prefix_extends(void **state)
{
	(void)state;
	err_set(ERR_CORRUPT, "checksum mismatch");
	err_hint("Run verify.");
	err_prefix("while reading \"%s\"", "base/1/16384");
	assert_string_equal(err_message(), "while reading \"base/1/16384\": checksum mismatch");
	err_prefix("backup %s", "20261126-000000F");
	assert_string_equal(err_message(),
	                    "backup 20261126-000000F: while reading \"base/1/16384\": checksum mismatch");
	/* code and hint are passed up unchanged */
	assert_int_equal(err_code(), ERR_CORRUPT);
	assert_string_equal(err_hint_text(), "Run verify.");
}

static void
test_err_truncation(void **state)
{
	char *long_text = xmalloc(5001);

	(void)state;
	memset(long_text, 'x', 5000);
	long_text[5000] = '\0';
	err_set(ERR_IO, "%s", long_text);
	assert_int_equal(strlen(err_message()), 2047);
	err_prefix("ctx");
	/* still bounded and NUL-terminated, the context in front */
	assert_int_equal(strlen(err_message()), 2047);
	assert_true(strncmp(err_message(), "ctx: xxx", 8) == 0);
	err_errno(ENOENT, "%s", long_text);
	assert_int_equal(strlen(err_message()), 2047);
	free(long_text);
}

static void
test_err_errno_mapping(void **state)
{
	char want[256];

	(void)state;
	assert_int_equal(err_errno(ENOSPC, "could not write file \"%s\"", "f"), ERR_NO_SPACE);
	assert_int_equal(err_code(), ERR_NO_SPACE);
	assert_int_equal(err_os_errno(), ENOSPC);
	snprintf(want, sizeof(want), "could not write file \"f\": %s", strerror(ENOSPC));
	assert_string_equal(err_message(), want);
	assert_string_not_equal(err_hint_text(), "");
	assert_non_null(strstr(err_hint_text(), "space"));

	assert_int_equal(err_errno(EACCES, "could not open \"%s\"", "g"), ERR_PERMISSION);
	assert_int_equal(err_os_errno(), EACCES);
	snprintf(want, sizeof(want), "could not open \"g\": %s", strerror(EACCES));
	assert_string_equal(err_message(), want);
	/* the ENOSPC hint does not leak into the next error */
	assert_string_equal(err_hint_text(), "");

	assert_int_equal(err_errno(ENOENT, "x"), ERR_NOT_FOUND);
	assert_int_equal(err_from_errno(ENOTDIR), ERR_NOT_FOUND);
	assert_int_equal(err_from_errno(EEXIST), ERR_EXISTS);
	assert_int_equal(err_from_errno(EPERM), ERR_PERMISSION);
	assert_int_equal(err_from_errno(EROFS), ERR_PERMISSION);
	assert_int_equal(err_from_errno(EDQUOT), ERR_NO_SPACE);
	assert_int_equal(err_from_errno(EINVAL), ERR_INVALID);
	assert_int_equal(err_from_errno(ETIMEDOUT), ERR_TIMEOUT);
	assert_int_equal(err_from_errno(EAGAIN), ERR_BUSY);
	assert_int_equal(err_from_errno(ECONNREFUSED), ERR_NETWORK);
	assert_int_equal(err_from_errno(EIO), ERR_IO);
}

static void
test_err_class(void **state)
{
	static const int transient[] = {ERR_NETWORK, ERR_TIMEOUT, ERR_BUSY};
	static const int permanent[] = {ERR_NOT_FOUND, ERR_EXISTS, ERR_INVALID, ERR_CORRUPT, ERR_UNSUPPORTED,
	                                ERR_PERMISSION, ERR_NO_SPACE};

	(void)state;
	for (size_t code_idx = 0; code_idx < sizeof(transient) / sizeof(transient[0]); code_idx++)
		assert_int_equal(err_class(transient[code_idx]), ERR_CLASS_TRANSIENT);
	for (size_t code_idx = 0; code_idx < sizeof(permanent) / sizeof(permanent[0]); code_idx++)
		assert_int_equal(err_class(permanent[code_idx]), ERR_CLASS_PERMANENT);
	assert_int_equal(err_class(ERR_INTERNAL), ERR_CLASS_INTERNAL);

	assert_string_equal(err_code_name(ERR_NO_SPACE), "no_space");
	assert_string_equal(err_code_name(ERR_NOT_FOUND), "not_found");
	assert_string_equal(err_code_name(ERR_PG), "postgresql");
	assert_string_equal(err_code_name(-999), "unknown");
}

static void *
thread_set_error(void *arg)
{
	(void)arg;
	err_set(ERR_TIMEOUT, "other thread");
	return (void *)(intptr_t)(strcmp(err_message(), "other thread") == 0);
}

static void
test_err_thread_local(void **state)
{
	pthread_t th;
	void *ok = NULL;

	(void)state;
	err_set(ERR_EXISTS, "main thread");
	assert_int_equal(pthread_create(&th, NULL, thread_set_error, NULL), 0);
	assert_int_equal(pthread_join(th, &ok), 0);
	assert_true(ok != NULL);
	assert_int_equal(err_code(), ERR_EXISTS);
	assert_string_equal(err_message(), "main thread");
}

/* A worker's error carried to the thread that reports it: the whole record. */
static void *
thread_save_error(void *arg)
{
	(void)arg;
	err_set(ERR_NO_SPACE, "could not write \"%s\"", "x");
	err_detail("detail %d", 1);
	err_hint("hint %d", 2);
	return err_save();
}

static void
test_err_carry_between_threads(void **state)
{
	pthread_t th;
	void *saved = NULL;

	(void)state;
	err_set(ERR_EXISTS, "main thread");
	assert_int_equal(pthread_create(&th, NULL, thread_save_error, NULL), 0);
	assert_int_equal(pthread_join(th, &saved), 0);
	assert_string_equal(err_message(), "main thread");
	assert_int_equal(err_restore(saved), ERR_NO_SPACE);
	assert_int_equal(err_code(), ERR_NO_SPACE);
	assert_string_equal(err_message(), "could not write \"x\"");
	assert_string_equal(err_detail_text(), "detail 1");
	assert_string_equal(err_hint_text(), "hint 2");
	err_saved_free(saved);
	err_saved_free(NULL);
}

/* ---- buf.h ---- */

static void
test_buf_append_growth(void **state)
{
	Buf b = BUF_INIT;

	(void)state;
	for (size_t byte_idx = 0; byte_idx < 10000; byte_idx++) {
		char c = (char)('a' + byte_idx % 26);
		buf_append(&b, &c, 1);
		assert_int_equal(b.len, byte_idx + 1);
		assert_true(b.cap > b.len);
		assert_int_equal(b.data[b.len], '\0');
	}
	for (size_t byte_idx = 0; byte_idx < 10000; byte_idx++)
		assert_int_equal(b.data[byte_idx], 'a' + byte_idx % 26);

	/* binary data with NULs keeps its length */
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	buf_append(&b, NULL, 0);
	assert_int_equal(b.len, 3);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	/* reusable after free */
	buf_puts(&b, "again");
	assert_string_equal(b.data, "again");
	buf_free(&b);
}

static void
test_buf_printf_growth(void **state)
{
	Buf b = BUF_INIT;
	char *big = xmalloc(1001);

	(void)state;
	buf_printf(&b, "%d-%s", 42, "x");
	assert_string_equal(b.data, "42-x");
	memset(big, 'y', 1000);
	big[1000] = '\0';
	/* one printf far beyond the initial capacity */
	buf_printf(&b, "[%s]", big);
	assert_int_equal(b.len, 4 + 1002);
	assert_int_equal(b.data[4], '[');
	assert_int_equal(b.data[5], 'y');
	assert_int_equal(b.data[1004], 'y');
	assert_int_equal(b.data[1005], ']');
	assert_int_equal(b.data[1006], '\0');
	buf_putc(&b, '!');
	assert_int_equal(b.len, 1007);
	assert_int_equal(b.data[1006], '!');
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%04d", i);
	assert_int_equal(b.len, 1007 + 4000);
	assert_memory_equal(b.data + b.len - 4, "0999", 5);
	buf_free(&b);
	free(big);
}

static void
test_buf_steal(void **state)
{
	Buf b = BUF_INIT;
	char *s;

	(void)state;
	/* an empty Buf still gives a string */
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	buf_puts(&b, "hello");
	s = buf_steal(&b);
	assert_string_equal(s, "hello");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(s);

	s = xasprintf("%s=%u", "k", 5u);
	assert_string_equal(s, "k=5");
	free(s);
	assert_null(xstrdup(NULL));
}

/* ---- json.h writer ---- */

static void
write_nested(Buf *out, bool pretty)
{
	JsonWriter w;

	json_writer_init(&w, out, pretty);
	json_object_begin(&w);
	json_kv_string(&w, "a", "x");
	json_key(&w, "b");
	json_array_begin(&w);
	json_int(&w, 1);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_begin(&w);
	json_array_end(&w);
	json_null(&w);
	json_string(&w, NULL);
	json_array_end(&w);
	json_key(&w, "o");
	json_object_begin(&w);
	json_kv_int(&w, "neg", -5);
	json_kv_uint(&w, "big", UINT64_MAX);
	json_kv_bool(&w, "f", false);
	json_object_end(&w);
	json_kv_bool(&w, "c", true);
	json_object_end(&w);
}

static void
test_json_writer_compact(void **state)
{
	Buf b = BUF_INIT;

	(void)state;
	write_nested(&b, false);
	assert_string_equal(b.data,
	                    "{\"a\":\"x\",\"b\":[1,{},[],null,null],"
	                    "\"o\":{\"neg\":-5,\"big\":18446744073709551615,\"f\":false},\"c\":true}");
	buf_free(&b);
}

static void
test_json_writer_pretty(void **state)
{
	Buf b = BUF_INIT;

	(void)state;
	write_nested(&b, true);
	assert_string_equal(b.data,
	                    "{\n"
	                    "  \"a\": \"x\",\n"
	                    "  \"b\": [\n"
	                    "    1,\n"
	                    "    {},\n"
	                    "    [],\n"
	                    "    null,\n"
	                    "    null\n"
	                    "  ],\n"
	                    "  \"o\": {\n"
	                    "    \"neg\": -5,\n"
	                    "    \"big\": 18446744073709551615,\n"
	                    "    \"f\": false\n"
	                    "  },\n"
	                    "  \"c\": true\n"
	                    "}");
	buf_free(&b);
}

static void
test_json_writer_escaping(void **state)
{
	Buf b = BUF_INIT;
	JsonWriter w;

	(void)state;
	json_escape(&b, "q\"b\\s/\n\t\r\x01\x1f\x7f\xc3\xa9");
	assert_string_equal(b.data, "\"q\\\"b\\\\s/\\n\\t\\r\\u0001\\u001f\x7f\xc3\xa9\"");
	buf_reset(&b);
	json_writer_init(&w, &b, false);
	json_array_begin(&w);
	json_string(&w, "");
	json_string(&w, "\b\f");
	json_array_end(&w);
	assert_string_equal(b.data, "[\"\",\"\\u0008\\u000c\"]");
	buf_reset(&b);
	/* keys are escaped too */
	json_writer_init(&w, &b, false);
	json_object_begin(&w);
	json_kv_string(&w, "k\"\n", "v");
	json_object_end(&w);
	assert_string_equal(b.data, "{\"k\\\"\\n\":\"v\"}");
	buf_free(&b);
}

/* ---- json.h parser ---- */

static JsonValue *
parse_ok(const char *text)
{
	JsonValue *v = NULL;
	int rc = json_parse(&v, text, strlen(text));

	if (rc != 0)
		fail_msg("json_parse(%s) failed: %s", text, err_message());
	assert_non_null(v);
	return v;
}

/* json_parse_reader's source: text in reads of at most `step` bytes, then
 * `fail` (if not 0) instead of the end. */
typedef struct PullText {
	const char *text;
	size_t len;
	size_t pos;
	size_t step;
	int fail;
} PullText;

static ssize_t
pull_text(void *buf, size_t n, void *payload)
{
	PullText *t = payload;
	size_t k = t->len - t->pos;

	if (k == 0 && t->fail)
		return err_set(t->fail, "the source broke");
	if (k > n)
		k = n;
	if (k > t->step)
		k = t->step;
	memcpy(buf, t->text + t->pos, k);
	t->pos += k;
	return (ssize_t)k;
}

static void
parse_bad_len(const char *text, size_t len)
{
	JsonValue *v = (JsonValue *)(uintptr_t)1;
	char want[256];

	err_clear();
	if (json_parse(&v, text, len) != ERR_INVALID)
		fail_msg("json_parse accepted \"%.*s\"", (int)len, text);
	assert_null(v);
	assert_int_equal(err_code(), ERR_INVALID);
	assert_true(strncmp(err_message(), "invalid JSON at byte ", 21) == 0);
	snprintf(want, sizeof(want), "%s", err_message());
	/* pulled a byte at a time: the same verdict, the same place */
	for (size_t step = 1; step <= 7; step += 6) {
		PullText t = {text, len, 0, step, 0};
		v = (JsonValue *)(uintptr_t)1;
		if (json_parse_reader(&v, pull_text, &t, NULL, NULL, NULL) != ERR_INVALID)
			fail_msg("json_parse_reader accepted \"%.*s\"", (int)len, text);
		assert_null(v);
		assert_string_equal(err_message(), want);
	}
}

static void
parse_bad(const char *text)
{
	parse_bad_len(text, strlen(text));
}

static void
test_json_parse_structures(void **state)
{
	JsonValue *v;
	const JsonValue *a, *o;

	(void)state;
	v = parse_ok(" {\"a\" : [1, -2.5e3, true, false, null, \"s\"],\n\t\"b\":{\"c\":{}, \"d\":[]}} \r\n");
	assert_int_equal(v->type, JSON_OBJECT);
	assert_int_equal(v->count, 2);
	assert_string_equal(v->items[0]->key, "a");
	a = json_get(v, "a");
	assert_non_null(a);
	assert_int_equal(a->type, JSON_ARRAY);
	assert_int_equal(a->count, 6);
	assert_int_equal(a->items[0]->type, JSON_NUMBER);
	assert_string_equal(a->items[0]->string, "1");
	assert_int_equal(a->items[1]->type, JSON_NUMBER);
	assert_string_equal(a->items[1]->string, "-2.5e3");
	assert_int_equal(a->items[2]->type, JSON_BOOL);
	assert_true(a->items[2]->boolean);
	assert_int_equal(a->items[3]->type, JSON_BOOL);
	assert_false(a->items[3]->boolean);
	assert_int_equal(a->items[4]->type, JSON_NULL);
	assert_int_equal(a->items[5]->type, JSON_STRING);
	assert_string_equal(a->items[5]->string, "s");
	o = json_get(v, "b");
	assert_int_equal(o->type, JSON_OBJECT);
	assert_int_equal(json_get(o, "c")->type, JSON_OBJECT);
	assert_int_equal(json_get(o, "c")->count, 0);
	assert_int_equal(json_get(o, "d")->type, JSON_ARRAY);
	assert_int_equal(json_get(o, "d")->count, 0);
	assert_null(json_get(v, "missing"));
	assert_null(json_get(a, "a")); /* not an object */
	assert_null(json_get(NULL, "a"));
	json_free(v);

	/* scalars at the top */
	v = parse_ok("\"top\"");
	assert_int_equal(v->type, JSON_STRING);
	assert_string_equal(v->string, "top");
	json_free(v);
	v = parse_ok("0");
	assert_int_equal(v->type, JSON_NUMBER);
	json_free(v);
	v = parse_ok("null");
	assert_int_equal(v->type, JSON_NULL);
	json_free(v);

	/* an array large enough to regrow many times */
	Buf b = BUF_INIT;
	buf_putc(&b, '[');
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%s%d", i ? "," : "", i);
	buf_putc(&b, ']');
	v = parse_ok(b.data);
	assert_int_equal(v->count, 1000);
	assert_string_equal(v->items[999]->string, "999");
	json_free(v);
	buf_free(&b);
	json_free(NULL);
}

static void
test_json_parse_string_escapes(void **state)
{
	JsonValue *v;

	(void)state;
	v = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	assert_string_equal(v->string, "a\"b\\c/d\b\f\n\r\t");
	json_free(v);
	v = parse_ok("\"\\u0041\\u00e9\\u20AC\"");
	assert_string_equal(v->string, "A\xc3\xa9\xe2\x82\xac");
	json_free(v);
	/* U+1F600 as a surrogate pair: 4-byte UTF-8 */
	v = parse_ok("\"\\ud83d\\ude00!\"");
	assert_string_equal(v->string, "\xf0\x9f\x98\x80!");
	json_free(v);
	v = parse_ok("\"\\uDBFF\\uDFFF\"");
	assert_string_equal(v->string, "\xf4\x8f\xbf\xbf");
	json_free(v);
	/* raw UTF-8 passes through */
	v = parse_ok("\"\xc3\xa9\"");
	assert_string_equal(v->string, "\xc3\xa9");
	json_free(v);
}

static void
test_json_parse_rejects(void **state)
{
	(void)state;
	/* empty, trailing data */
	parse_bad("");
	parse_bad("   ");
	parse_bad("{} x");
	parse_bad("1 2");
	parse_bad("{}}");
	parse_bad("[]]");
	parse_bad_len("1\0", 2);
	parse_bad_len("{}\0", 3);
	/* unterminated strings and escapes */
	parse_bad("\"abc");
	parse_bad("\"abc\\");
	parse_bad("\"abc\\\"");
	parse_bad("{\"a");
	parse_bad("[\"a\",");
	/* \u0000, bad escapes and surrogates */
	parse_bad("\"\\u0000\"");
	parse_bad("\"a\\u0000b\"");
	parse_bad("\"\\ud800\\udc00\\u0000\"");
	parse_bad("\"\\x41\"");
	parse_bad("\"\\u00g1\"");
	parse_bad("\"\\u12\"");
	parse_bad("\"\\ud83d\"");
	parse_bad("\"\\ud83dx\"");
	parse_bad("\"\\ud83d\\u0041\"");
	/* raw control characters in a string */
	parse_bad("\"a\nb\"");
	parse_bad("\"a\tb\"");
	/* bad literals */
	parse_bad("tru");
	parse_bad("nul");
	parse_bad("True");
	parse_bad("NULL");
	parse_bad("falsey");
	parse_bad("[nulll]");
	parse_bad("[true false]");
	/* bad structure */
	parse_bad("[1,]");
	parse_bad("{\"a\":1,}");
	parse_bad("{\"a\" 1}");
	parse_bad("{a:1}");
	parse_bad("{1:1}");
	parse_bad("[1");
	parse_bad("{");
	parse_bad("]");
	/* bad numbers the parser catches */
	parse_bad("-");
	parse_bad("+1");
	parse_bad(".5");
	parse_bad("--1");
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static void
test_json_parse_rejects_bad_numbers(void **state)
{
	JsonValue *v;

	(void)state;
	v = parse_ok("[0, -0, 12, -3.25, 1e5, 1E+5, 2.5e-3]");
	assert_int_equal(v->count, 7);
	json_free(v);
	parse_bad("1.2.3");
	parse_bad("1-2");
	parse_bad("1e");
	parse_bad("1.");
	parse_bad("1e+");
	parse_bad("01");
	parse_bad("[1.2.3]");
}

static void
test_json_parse_lone_low_surrogate(void **state)
{
	(void)state;
	/* strings are promised to be UTF-8: a low surrogate without its high
	 * half has no UTF-8 encoding */
	parse_bad("\"\\udc00\"");
	parse_bad("\"a\\udfffb\"");
}

typedef struct StreamSeen {
	Buf items;          /* "idx:value;" of each item seen */
	int stop_at;        /* return ERR_EXISTS at this item, -1 never */
} StreamSeen;

static int
stream_cb(const JsonValue *item, size_t item_idx, void *payload)
{
	StreamSeen *seen = payload;

	if ((int)item_idx == seen->stop_at)
		return err_set(ERR_EXISTS, "stopped at %zu", item_idx);
	buf_printf(&seen->items, "%zu:%s;", item_idx,
	           item->type == JSON_OBJECT ? json_get_string(item, "p") : item->type == JSON_ARRAY ? "[]" : item->string);
	return 0;
}

/* Streaming: the top-level member's items go to the callback in order and the
 * tree keeps an empty array; the same name elsewhere is an ordinary value. */
static void
test_json_parse_streaming(void **state)
{
	const char *text = "{\"a\": 1, \"files\": [{\"p\": \"x\", \"q\": [1, 2]}, {\"p\": \"y\"}, [], \"s\"],"
	                   " \"inner\": {\"files\": [7, 8]}, \"z\": \"end\"}";
	StreamSeen seen = {BUF_INIT, -1};
	JsonValue *v = NULL;
	const JsonValue *f;

	(void)state;
	if (json_parse_streaming(&v, text, strlen(text), "files", stream_cb, &seen) < 0)
		fail_msg("json_parse_streaming: %s", err_message());
	assert_string_equal(seen.items.data, "0:x;1:y;2:[];3:s;");
	f = json_get(v, "files");
	assert_non_null(f);
	assert_int_equal(f->type, JSON_ARRAY);
	assert_int_equal(f->count, 0);
	assert_int_equal(json_get(json_get(v, "inner"), "files")->count, 2);
	assert_string_equal(json_get_string(v, "z"), "end");
	json_free(v);

	/* an empty array, and one that is not an array: no call, an ordinary value */
	buf_reset(&seen.items);
	assert_int_equal(json_parse_streaming(&v, "{\"files\": []}", 13, "files", stream_cb, &seen), 0);
	assert_int_equal(seen.items.len, 0);
	json_free(v);
	assert_int_equal(json_parse_streaming(&v, "{\"files\": 5}", 12, "files", stream_cb, &seen), 0);
	assert_int_equal(seen.items.len, 0);
	assert_true(json_get_int(v, "files", NULL) == 5);
	json_free(v);

	/* the callback stops the parse with its code and record */
	seen.stop_at = 1;
	err_clear();
	assert_int_equal(json_parse_streaming(&v, text, strlen(text), "files", stream_cb, &seen), ERR_EXISTS);
	assert_null(v);
	assert_string_equal(err_message(), "stopped at 1");
	seen.stop_at = -1;

	/* bad JSON inside or after the array: ERR_INVALID, nothing kept */
	buf_reset(&seen.items);
	assert_int_equal(json_parse_streaming(&v, "{\"files\": [1, 2,]}", 18, "files", stream_cb, &seen), ERR_INVALID);
	assert_null(v);
	assert_string_equal(seen.items.data, "0:1;1:2;");
	assert_int_equal(json_parse_streaming(&v, "{\"files\": [1] x}", 16, "files", stream_cb, &seen), ERR_INVALID);
	assert_int_equal(json_parse_streaming(&v, "{\"files\": [1 2]}", 16, "files", stream_cb, &seen), ERR_INVALID);
	assert_int_equal(json_parse_streaming(&v, "{\"files\": [1", 12, "files", stream_cb, &seen), ERR_INVALID);
	buf_free(&seen.items);
}

/* Pulled from a source in reads of any size: the same items and tree as
 * from memory; a read error comes back as it is; a long streamed array is
 * parsed with a window of the text, not the text. */
static void
test_json_parse_reader(void **state)
{
	const char *text = "{\"a\": 1, \"files\": [{\"p\": \"x\", \"q\": [1, 2]}, {\"p\": \"y\"}, [], \"s\"],"
	                   " \"inner\": {\"files\": [7, 8]}, \"z\": \"end\", \"n\": -12.5e3, \"t\": true}";
	StreamSeen seen = {BUF_INIT, -1};
	JsonValue *v = NULL;
	Buf big = BUF_INIT;

	(void)state;
	for (size_t step = 1; step < 80; step += 3) {
		PullText t = {text, strlen(text), 0, step, 0};
		buf_reset(&seen.items);
		if (json_parse_reader(&v, pull_text, &t, "files", stream_cb, &seen) < 0)
			fail_msg("json_parse_reader (reads of %zu): %s", step, err_message());
		assert_string_equal(seen.items.data, "0:x;1:y;2:[];3:s;");
		assert_int_equal(json_get(v, "files")->count, 0);
		assert_int_equal(json_get(json_get(v, "inner"), "files")->count, 2);
		assert_string_equal(json_get_string(v, "z"), "end");
		assert_string_equal(json_get(v, "n")->string, "-12.5e3");
		assert_true(json_get_bool(v, "t", false));
		json_free(v);
	}

	/* the source fails: its code and record, no tree */
	{
		PullText t = {text, 30, 0, 7, ERR_NETWORK};
		err_clear();
		assert_int_equal(json_parse_reader(&v, pull_text, &t, "files", stream_cb, &seen), ERR_NETWORK);
		assert_null(v);
		assert_string_equal(err_message(), "the source broke");
	}

	/* 200,000 items (about 5 MB), every one seen, in order */
	buf_puts(&big, "{\"files\": [");
	for (int i = 0; i < 200000; i++)
		buf_printf(&big, "%s\n{\"p\": \"base/16384/%d\"}", i ? "," : "", i);
	buf_puts(&big, "], \"z\": \"end\"}");
	{
		PullText t = {big.data, big.len, 0, 65536, 0};
		buf_reset(&seen.items);
		if (json_parse_reader(&v, pull_text, &t, "files", stream_cb, &seen) < 0)
			fail_msg("json_parse_reader: %s", err_message());
		assert_string_equal(json_get_string(v, "z"), "end");
		assert_non_null(strstr(seen.items.data, ";199999:base/16384/199999;"));
		assert_non_null(strstr(seen.items.data, "0:base/16384/0;1:base/16384/1;"));
		json_free(v);
	}
	buf_free(&big);
	buf_free(&seen.items);
}

static void
test_json_parse_depth(void **state)
{
	Buf b = BUF_INIT;
	JsonValue *v;

	(void)state;
	/* 64 levels are fine */
	for (int i = 0; i < 64; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 64; i++)
		buf_putc(&b, ']');
	v = parse_ok(b.data);
	assert_int_equal(v->type, JSON_ARRAY);
	json_free(v);

	/* 65 are not */
	buf_reset(&b);
	for (int i = 0; i < 65; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 65; i++)
		buf_putc(&b, ']');
	parse_bad(b.data);
	assert_non_null(strstr(err_message(), "too deep"));

	/* nor are objects, nor a deep document that is never closed */
	buf_reset(&b);
	for (int i = 0; i < 65; i++)
		buf_puts(&b, "{\"k\":");
	buf_puts(&b, "1");
	for (int i = 0; i < 65; i++)
		buf_putc(&b, '}');
	parse_bad(b.data);
	buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, '[');
	parse_bad(b.data);
	buf_free(&b);
}

static void
test_json_get_helpers(void **state)
{
	JsonValue *v;
	bool ok;

	(void)state;
	v = parse_ok("{\"s\":\"str\",\"i\":-42,\"u\":18446744073709551615,\"f\":1.5,\"e\":1e3,"
	             "\"big\":99999999999999999999,\"t\":true,\"n\":null,\"num_s\":\"7\"}");
	assert_string_equal(json_get_string(v, "s"), "str");
	assert_null(json_get_string(v, "i"));
	assert_null(json_get_string(v, "n"));
	assert_null(json_get_string(v, "missing"));

	assert_int_equal(json_get_int(v, "i", &ok), -42);
	assert_true(ok);
	assert_int_equal(json_get_int(v, "f", &ok), 0);
	assert_false(ok);
	assert_int_equal(json_get_int(v, "e", &ok), 0);
	assert_false(ok);
	assert_int_equal(json_get_int(v, "u", &ok), 0); /* out of range */
	assert_false(ok);
	assert_int_equal(json_get_int(v, "num_s", &ok), 0); /* a string is not a number */
	assert_false(ok);
	assert_int_equal(json_get_int(v, "missing", &ok), 0);
	assert_false(ok);
	assert_int_equal(json_get_int(v, "i", NULL), -42);

	assert_true(json_get_uint(v, "u", &ok) == UINT64_MAX);
	assert_true(ok);
	assert_true(json_get_uint(v, "i", &ok) == 0); /* negative */
	assert_false(ok);
	assert_true(json_get_uint(v, "big", &ok) == 0);
	assert_false(ok);
	assert_true(json_get_uint(v, "f", &ok) == 0);
	assert_false(ok);

	assert_true(json_get_bool(v, "t", false));
	assert_false(json_get_bool(v, "missing", false));
	assert_true(json_get_bool(v, "missing", true));
	assert_true(json_get_bool(v, "s", true)); /* not a bool: the default */
	json_free(v);
}

static void
test_json_round_trip(void **state)
{
	Buf b = BUF_INIT;
	JsonWriter w;
	JsonValue *v = NULL;
	char all_bytes[256];
	bool ok;

	(void)state;
	/* every byte value but NUL */
	for (int i = 1; i < 256; i++)
		all_bytes[i - 1] = (char)i;
	all_bytes[255] = '\0';
	for (int pretty = 0; pretty <= 1; pretty++) {
		buf_reset(&b);
		json_writer_init(&w, &b, pretty);
		json_object_begin(&w);
		json_kv_string(&w, "bytes", all_bytes);
		json_kv_string(&w, "label", "START WAL LOCATION: 0/2000028 (file \"x\")\nCHECKPOINT\\\n");
		json_kv_int(&w, "min", INT64_MIN);
		json_kv_uint(&w, "max", UINT64_MAX);
		json_kv_bool(&w, "yes", true);
		json_key(&w, "nothing");
		json_null(&w);
		json_key(&w, "list");
		json_array_begin(&w);
		for (int i = 0; i < 3; i++) {
			json_object_begin(&w);
			json_kv_int(&w, "i", i);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_object_end(&w);

		assert_non_null(strstr(b.data, pretty ? "\"min\": -9223372036854775808" : "\"min\":-9223372036854775808"));
		assert_non_null(strstr(b.data, pretty ? "\"max\": 18446744073709551615" : "\"max\":18446744073709551615"));
		assert_non_null(strstr(b.data, pretty ? "\"i\": 0" : "\"i\":0"));
		assert_int_equal(json_parse(&v, b.data, b.len), 0);
		assert_string_equal(json_get_string(v, "bytes"), all_bytes);
		assert_string_equal(json_get_string(v, "label"),
		                    "START WAL LOCATION: 0/2000028 (file \"x\")\nCHECKPOINT\\\n");
		assert_true(json_get_int(v, "min", &ok) == INT64_MIN);
		assert_true(ok);
		assert_true(json_get_uint(v, "max", &ok) == UINT64_MAX);
		assert_true(ok);
		assert_true(json_get_bool(v, "yes", false));
		assert_int_equal(json_get(v, "nothing")->type, JSON_NULL);
		const JsonValue *list = json_get(v, "list");
		assert_int_equal(list->count, 3);
		assert_int_equal(json_get_int(list->items[2], "i", NULL), 2);
		json_free(v);
		v = NULL;
	}
	buf_free(&b);
}

/* ---- strutil.h ---- */

static void
check_join(const char *a, const char *b, const char *want)
{
	char *got = path_join(a, b);

	if (strcmp(got, want) != 0)
		fail_msg("path_join(\"%s\", \"%s\") = \"%s\", want \"%s\"", a, b, got, want);
	free(got);
}

static void
test_path_join(void **state)
{
	(void)state;
	check_join("a", "b", "a/b");
	check_join("a/", "b", "a/b");
	check_join("a//", "//b", "a/b");
	check_join("a", "/b", "a/b");
	check_join("/", "b", "/b");
	check_join("//", "b", "/b");
	check_join("/", "/b", "/b");
	check_join("", "b", "b");
	check_join("", "/b", "b");
	check_join("a", "", "a");
	check_join("a/", "", "a");
	check_join("a", "/", "a");
	check_join("/srv/x", "b/c", "/srv/x/b/c");
	check_join("/", "", "/");
}

/* Decode %XX back to bytes; the encoding must be reversible. */
static char *
path_decode(const char *s)
{
	Buf b = BUF_INIT;

	for (; *s; s++) {
		if (*s == '%') {
			unsigned v;
			assert_true(sscanf(s + 1, "%2X", &v) == 1);
			buf_putc(&b, (char)v);
			s += 2;
		} else {
			buf_putc(&b, *s);
		}
	}
	return buf_steal(&b);
}

static void
check_encode(const char *in, const char *want)
{
	char *got = str_path_encode(in);
	char *back;

	if (want && strcmp(got, want) != 0)
		fail_msg("str_path_encode(\"%s\") = \"%s\", want \"%s\"", in, got, want);
	assert_string_not_equal(got, ".");
	assert_string_not_equal(got, "..");
	assert_null(strchr(got, '/'));
	for (const char *p = got; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-%", *p))
			fail_msg("str_path_encode(\"%s\") = \"%s\" has '%c'", in, got, *p);
	back = path_decode(got);
	assert_string_equal(back, in);
	free(back);
	free(got);
}

static void
test_str_path_encode(void **state)
{
	char in[3];

	(void)state;
	check_encode("shop", "shop");
	check_encode("Shop_2-x.y", "Shop_2-x.y");
	check_encode("*", "%2A");
	check_encode("a/b", "a%2Fb");
	check_encode("/", "%2F");
	check_encode("..", NULL);
	check_encode(".", NULL);
	check_encode("...", NULL);
	check_encode(".hidden", NULL);
	check_encode("%2A", "%252A"); /* '%' itself is encoded: no collisions */
	check_encode("a b", "a%20b");
	check_encode("\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9");
	/* every one- and two-byte name */
	for (int c1 = 1; c1 < 256; c1++) {
		in[0] = (char)c1;
		in[1] = '\0';
		check_encode(in, NULL);
		for (int c2 = 1; c2 < 256; c2 += 7) {
			in[1] = (char)c2;
			in[2] = '\0';
			check_encode(in, NULL);
		}
	}
}

static void
check_u64_bad(const char *s)
{
	uint64_t v = 12345;

	err_clear();
	if (str_to_u64(&v, s, "--port") != ERR_INVALID)
		fail_msg("str_to_u64(\"%s\") accepted: %llu", s ? s : "(null)", (unsigned long long)v);
	assert_true(v == 12345); /* untouched */
	assert_int_equal(err_code(), ERR_INVALID);
	assert_non_null(strstr(err_message(), "--port"));
}

static void
test_str_to_u64(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(str_to_u64(&v, "0", "x"), 0);
	assert_true(v == 0);
	assert_int_equal(str_to_u64(&v, "5432", "x"), 0);
	assert_true(v == 5432);
	assert_int_equal(str_to_u64(&v, "18446744073709551615", "x"), 0);
	assert_true(v == UINT64_MAX);
	check_u64_bad("");
	check_u64_bad("-1");
	check_u64_bad("12x");
	check_u64_bad("x12");
	check_u64_bad("12 ");
	check_u64_bad("18446744073709551616");
	check_u64_bad("99999999999999999999999");
	check_u64_bad(NULL);
	str_to_u64(&v, "12x", "--port");
	assert_string_equal(err_message(), "invalid value for --port: \"12x\"");
}

static void
test_str_to_u64_rejects_leading_space(void **state)
{
	(void)state;
	/* strtoull skips leading white space, then accepts a sign: " -1" must
	 * not become 18446744073709551615 */
	check_u64_bad(" -1");
	check_u64_bad("\t-5");
	check_u64_bad(" 12");
}

static void
check_shell_round_trip(const char *s)
{
	char *q = str_shell_quote(s);
	char *cmd = xasprintf("printf '%%s' %s", q);
	char got[512];
	size_t n;
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	assert_int_equal(pclose(f), 0);
	assert_string_equal(got, s);
	free(cmd);
	free(q);
}

static void
test_quote(void **state)
{
	char *q;

	(void)state;
	q = str_conf_quote("it's");
	assert_string_equal(q, "'it''s'");
	free(q);
	q = str_conf_quote("");
	assert_string_equal(q, "''");
	free(q);
	q = str_conf_quote("''");
	assert_string_equal(q, "''''''");
	free(q);
	q = str_conf_quote("/srv/tenback/restore \"x\"");
	assert_string_equal(q, "'/srv/tenback/restore \"x\"'");
	free(q);

	q = str_shell_quote("it's");
	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = str_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
	q = str_shell_quote("a b");
	assert_string_equal(q, "'a b'");
	free(q);

	/* the shell gives back exactly the original word */
	check_shell_round_trip("it's");
	check_shell_round_trip("''");
	check_shell_round_trip("$HOME `id` $(id) \"x\" \\ ; | & * ? ~ \n end");
	check_shell_round_trip("'");
}

static void
test_strlist_and_affixes(void **state)
{
	StrList l = {0};

	(void)state;
	strlist_add(&l, "c");
	strlist_add(&l, "a");
	strlist_add_owned(&l, xstrdup("b"));
	for (int i = 0; i < 40; i++) {
		char name[16];
		snprintf(name, sizeof(name), "z%02d", 39 - i);
		strlist_add(&l, name);
	}
	assert_int_equal(l.count, 43);
	assert_true(strlist_contains(&l, "b"));
	assert_false(strlist_contains(&l, "d"));
	strlist_sort(&l);
	assert_string_equal(l.items[0], "a");
	assert_string_equal(l.items[1], "b");
	assert_string_equal(l.items[2], "c");
	assert_string_equal(l.items[3], "z00");
	assert_string_equal(l.items[42], "z39");
	strlist_free(&l);
	assert_int_equal(l.count, 0);
	assert_null(l.items);

	assert_true(str_starts_with("pg_tblspc/1", "pg_tblspc/"));
	assert_true(str_starts_with("x", ""));
	assert_false(str_starts_with("pg", "pg_"));
	assert_true(str_ends_with("a.tbtmp", ".tbtmp"));
	assert_true(str_ends_with("x", ""));
	assert_false(str_ends_with("mp", ".tbtmp"));
}

static void
test_formats(void **state)
{
	char out[64];

	(void)state;
	time_format_utc(out, sizeof(out), 0);
	assert_string_equal(out, "1970-01-01 00:00:00+00");
	time_format_utc(out, sizeof(out), 1795705730);
	assert_string_equal(out, "2026-11-26 15:08:50+00");
	{
		int64_t t = -1;
		assert_int_equal(time_parse_utc("2026-11-26 15:08:50+00", &t), 0);
		assert_int_equal(t, 1795705730);
		assert_int_equal(time_parse_utc("1970-01-01 00:00:00+00", &t), 0);
		assert_int_equal(t, 0);
		assert_int_equal(time_parse_utc("2026-11-26 15:08:50", &t), ERR_INVALID);
		assert_int_equal(time_parse_utc("2026-11-26 15:08:50+01", &t), ERR_INVALID);
		assert_int_equal(time_parse_utc("2026-13-26 15:08:50+00", &t), ERR_INVALID);
		assert_int_equal(time_parse_utc("2026-11-26 15:08:50+00 ", &t), ERR_INVALID);
		assert_int_equal(time_parse_utc(NULL, &t), ERR_INVALID);
		err_clear();
	}

	{
		uint64_t v = 0;
		assert_int_equal(size_parse(&v, "1048576", "--max-rate"), 0);
		assert_int_equal(v, 1048576);
		assert_int_equal(size_parse(&v, "64M", "--max-rate"), 0);
		assert_int_equal(v, 64ULL << 20);
		assert_int_equal(size_parse(&v, "64MiB", "--max-rate"), 0);
		assert_int_equal(v, 64ULL << 20);
		assert_int_equal(size_parse(&v, "2g", "--max-rate"), 0);
		assert_int_equal(v, 2ULL << 30);
		assert_int_equal(size_parse(&v, "512kB", "--max-rate"), 0);
		assert_int_equal(v, 512ULL << 10);
		assert_int_equal(size_parse(&v, "3T", "--max-rate"), 0);
		assert_int_equal(v, 3ULL << 40);
		assert_int_equal(size_parse(&v, "100B", "--max-rate"), 0);
		assert_int_equal(v, 100);
		assert_int_equal(size_parse(&v, "64Mi", "--max-rate"), ERR_INVALID);
		assert_int_equal(size_parse(&v, "64X", "--max-rate"), ERR_INVALID);
		assert_int_equal(size_parse(&v, "M", "--max-rate"), ERR_INVALID);
		assert_int_equal(size_parse(&v, "-1M", "--max-rate"), ERR_INVALID);
		assert_int_equal(size_parse(&v, "64 M", "--max-rate"), ERR_INVALID);
		assert_int_equal(size_parse(&v, "99999999999T", "--max-rate"), ERR_INVALID);
		assert_int_equal(size_parse(&v, NULL, "--max-rate"), ERR_INVALID);
		assert_string_equal(err_message(), "invalid size for --max-rate: \"\"");
		err_clear();
	}

	size_format(out, sizeof(out), 0);
	assert_string_equal(out, "0 B");
	size_format(out, sizeof(out), 1023);
	assert_string_equal(out, "1023 B");
	size_format(out, sizeof(out), 1536);
	assert_string_equal(out, "1.5 KiB");
	size_format(out, sizeof(out), 3ULL * 1024 * 1024 * 1024 / 2);
	assert_string_equal(out, "1.5 GiB");
	size_format(out, sizeof(out), 2048ULL * 1024 * 1024 * 1024 * 1024);
	assert_string_equal(out, "2048.0 TiB");

	int64_t t0 = time_now_ms();
	int64_t t1 = time_now_ms();
	assert_true(t0 > 0 && t1 >= t0);
}

/* ---- log.h ---- */

/* Run fn with stderr sent to a temporary file; return what it wrote (malloc'd). */
static char *
capture_stderr(void (*fn)(const char *journal_stream), bool matching)
{
	char path[] = "/tmp/tb-test-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char stream[64], *text = xcalloc(1, 4096);
	struct stat st;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + (matching ? 0 : 1));
	fflush(stderr);
	assert_int_equal(dup2(fd, 2), 2);
	fn(stream);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	n = pread(fd, text, 4095, 0);
	assert_true(n >= 0);
	close(fd);
	unlink(path);
	return text;
}

static void
log_some(const char *journal_stream)
{
	setenv("JOURNAL_STREAM", journal_stream, 1);
	log_set_journal(log_stderr_is_journal());
	log_set_level(LOG_INFO);
	log_info("hello %d", 1);
	log_debug("not shown");
	log_warning("careful");
	err_set(ERR_INVALID, "bad thing");
	err_detail("Some detail.");
	err_hint("Do this.");
	log_error_record();
	err_clear();
	log_set_journal(false);
	unsetenv("JOURNAL_STREAM");
}

static void
test_log_journal_priorities(void **state)
{
	char *text;

	(void)state;
	text = capture_stderr(log_some, true);
	assert_string_equal(text, "<6>INFO: hello 1\n<4>WARNING: careful\n<3>ERROR: bad thing\n"
	                          "<3>DETAIL: Some detail.\n<3>HINT: Do this.\n");
	free(text);
	/* another stream (stderr redirected by a parent): plain lines */
	text = capture_stderr(log_some, false);
	assert_string_equal(text, "INFO: hello 1\nWARNING: careful\nERROR: bad thing\nDETAIL: Some detail.\nHINT: Do this.\n");
	free(text);
	setenv("JOURNAL_STREAM", "garbage", 1);
	assert_false(log_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	assert_false(log_stderr_is_journal());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set_and_clear),
		cmocka_unit_test(test_err_prefix_extends),
		cmocka_unit_test(test_err_set_from_own_message),
		cmocka_unit_test(test_err_truncation),
		cmocka_unit_test(test_err_errno_mapping),
		cmocka_unit_test(test_err_class),
		cmocka_unit_test(test_err_thread_local),
		cmocka_unit_test(test_err_carry_between_threads),
		cmocka_unit_test(test_buf_append_growth),
		cmocka_unit_test(test_buf_printf_growth),
		cmocka_unit_test(test_buf_steal),
		cmocka_unit_test(test_json_writer_compact),
		cmocka_unit_test(test_json_writer_pretty),
		cmocka_unit_test(test_json_writer_escaping),
		cmocka_unit_test(test_json_parse_structures),
		cmocka_unit_test(test_json_parse_string_escapes),
		cmocka_unit_test(test_json_parse_rejects),
		cmocka_unit_test(test_json_parse_rejects_bad_numbers),
		cmocka_unit_test(test_json_parse_lone_low_surrogate),
		cmocka_unit_test(test_json_parse_depth),
		cmocka_unit_test(test_json_parse_streaming),
		cmocka_unit_test(test_json_parse_reader),
		cmocka_unit_test(test_json_get_helpers),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_str_path_encode),
		cmocka_unit_test(test_str_to_u64),
		cmocka_unit_test(test_str_to_u64_rejects_leading_space),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_strlist_and_affixes),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_log_journal_priorities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
