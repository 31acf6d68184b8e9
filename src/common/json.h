/*
 * json.h - a small JSON writer (into a Buf) and a DOM parser.
 *
 * The writer tracks commas itself: call the begin/end and key/value
 * functions in document order.  The parser builds a tree of JsonValue that
 * the caller frees with json_free (or, for one big array, hands its
 * elements over one at a time: json_parse_streaming); strings are NUL-terminated UTF-8 (a \u0000
 * escape is rejected).  Nesting is limited to 64 levels.
 */
#ifndef TENBACK_COMMON_JSON_H
#define TENBACK_COMMON_JSON_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct JsonWriter {
	Buf *out;
	int depth;
	bool need_comma[64];
	bool after_key;
	bool pretty;
} JsonWriter;

void json_writer_init(JsonWriter *w, Buf *out, bool pretty);
void json_object_begin(JsonWriter *w);
void json_object_end(JsonWriter *w);
void json_array_begin(JsonWriter *w);
void json_array_end(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *s);  /* NULL writes null */
void json_int(JsonWriter *w, int64_t v);
void json_uint(JsonWriter *w, uint64_t v);
void json_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);
/* key + value shorthands */
void json_kv_string(JsonWriter *w, const char *key, const char *s);
void json_kv_int(JsonWriter *w, const char *key, int64_t v);
void json_kv_uint(JsonWriter *w, const char *key, uint64_t v);
void json_kv_bool(JsonWriter *w, const char *key, bool v);
/* Append s as a quoted, escaped JSON string. */
void json_escape(Buf *out, const char *s);

typedef enum JsonType {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
} JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
	JsonType type;
	bool boolean;
	char *string;         /* STRING; also the number's text for NUMBER */
	char *key;            /* member name when inside an object */
	JsonValue **items;    /* ARRAY elements / OBJECT members */
	size_t count;
	bool in_arena;        /* a streamed item's: freed with its arena, not by json_free */
};

/* Parse text (len bytes); ERR_INVALID with the byte offset on bad input. */
int json_parse(JsonValue **out, const char *text, size_t len);
/*
 * The same for a document too big to hold as a tree (a manifest of 100,000
 * files): each element of the array that is the value of the top-level
 * member array_key is given to cb as soon as it is parsed, then freed; that
 * array stays empty in *out.  A cb returning <0 stops the parse with that
 * code (its error record kept).  item is borrowed for the call only.
 */
typedef int (*JsonItemCb)(const JsonValue *item, size_t item_idx, void *payload);
int json_parse_streaming(JsonValue **out, const char *text, size_t len, const char *array_key, JsonItemCb cb,
                         void *payload);
/*
 * The same, the text pulled from read as the parser goes: read fills buf
 * with up to n bytes and returns how many, 0 at the end, or a negative
 * error code with its error record set (returned unchanged).  Memory: the
 * parsed tree and a window of the text about as large as the biggest
 * value parsed at once (the streamed array's items go one at a time), not
 * the text.
 */
typedef ssize_t (*JsonReadFn)(void *buf, size_t n, void *payload);
int json_parse_reader(JsonValue **out, JsonReadFn read, void *read_payload, const char *array_key, JsonItemCb cb,
                      void *payload);
void json_free(JsonValue *v);
/* Lookups return borrowed pointers (valid until json_free of the root), NULL when absent or of another type. */
const JsonValue *json_get(const JsonValue *obj, const char *key);
const char *json_get_string(const JsonValue *obj, const char *key);
/* Numbers: 0 and *ok=false (if ok) when absent or not an integer. */
int64_t json_get_int(const JsonValue *obj, const char *key, bool *ok);
uint64_t json_get_uint(const JsonValue *obj, const char *key, bool *ok);
bool json_get_bool(const JsonValue *obj, const char *key, bool dflt);

#endif
