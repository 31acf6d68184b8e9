/*
 * body.c - what a request body may hold: parsing, the field checks every
 * handler runs before reading a body (unknown fields, wrong types,
 * duplicates, missing required ones), names and times that arrive in
 * requests, and writing parsed JSON back out.
 *
 * Invariant: a handler only reads fields api_body_check has accepted, so
 * every message about a bad body comes from here.
 */
#include "api/api_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ApiField api_no_fields[] = {{NULL, 0, false, false}};

static const char *
type_word(ApiFieldType t)
{
	switch (t) {
	case FIELD_STRING: return "a string";
	case FIELD_INT: return "an integer";
	case FIELD_BOOL: return "true or false";
	case FIELD_OBJECT: return "an object";
	default: return "a JSON value";
	}
}

static bool
is_integer(const JsonValue *v)
{
	char *end;

	if (v->type != JSON_NUMBER)
		return false;
	errno = 0;
	(void)strtoll(v->string, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool
type_ok(const JsonValue *v, const ApiField *f)
{
	if (v->type == JSON_NULL)
		return f->nullable;
	switch (f->type) {
	case FIELD_STRING: return v->type == JSON_STRING;
	case FIELD_INT: return is_integer(v);
	case FIELD_BOOL: return v->type == JSON_BOOL;
	case FIELD_OBJECT: return v->type == JSON_OBJECT;
	default: return true;
	}
}

bool
api_body_fits(size_t have, size_t more)
{
	return have <= API_BODY_MAX_BYTES && more <= API_BODY_MAX_BYTES - have;
}

bool
api_content_length_too_large(const char *header)
{
	char *end;
	unsigned long long n;

	if (header == NULL)
		return false;
	errno = 0;
	n = strtoull(header, &end, 10);
	return errno == ERANGE || (end != header && n > API_BODY_MAX_BYTES);
}

int
api_body_parse(JsonValue **out, const char *text, size_t len)
{
	int rc;

	*out = NULL;
	if (len == 0)
		return 0;
	if ((rc = json_parse(out, text, len)) < 0) {
		char *why = xstrdup(err_message());
		err_set(ERR_INVALID, "malformed JSON in request body");
		err_detail("%s", why);
		err_hint("Send a JSON object with Content-Type: application/json.");
		free(why);
		return ERR_INVALID;
	}
	return 0;
}

int
api_body_check(const JsonValue *body, const ApiField *fields)
{
	Buf known = BUF_INIT;
	int rc = 0;

	if (body && body->type != JSON_OBJECT) {
		rc = err_set(ERR_INVALID, "request body must be a JSON object");
		goto out;
	}
	for (const ApiField *f = fields; f->name; f++)
		buf_printf(&known, "%s%s", known.len ? ", " : "", f->name);
	for (size_t i = 0; body && i < body->count; i++) {
		const JsonValue *m = body->items[i];
		const ApiField *f = fields;
		while (f->name && strcmp(f->name, m->key) != 0)
			f++;
		if (f->name == NULL) {
			rc = err_set(ERR_INVALID, "unknown field \"%s\" in request body", m->key);
			if (known.len)
				err_hint("The fields of this request are: %s.", known.data);
			else
				err_hint("This request takes no body.");
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(body->items[j]->key, m->key) == 0) {
				rc = err_set(ERR_INVALID, "field \"%s\" appears more than once in request body", m->key);
				goto out;
			}
		if (!type_ok(m, f)) {
			rc = err_set(ERR_INVALID, "field \"%s\" must be %s", m->key, type_word(f->type));
			goto out;
		}
	}
	for (const ApiField *f = fields; f->name; f++) {
		const JsonValue *v = body ? json_get(body, f->name) : NULL;
		if (f->required && (v == NULL || v->type == JSON_NULL)) {
			rc = err_set(ERR_INVALID, "missing field \"%s\" in request body", f->name);
			goto out;
		}
	}
out:
	buf_free(&known);
	return rc;
}

/* A raw token as the writer's next value (compact writers only). */
static void
emit_raw(JsonWriter *w, const char *raw)
{
	ASSERT(!w->pretty);
	if (w->after_key) {
		w->after_key = false;
	} else if (w->depth > 0) {
		if (w->need_comma[w->depth])
			buf_putc(w->out, ',');
		w->need_comma[w->depth] = true;
	}
	buf_puts(w->out, raw);
}

void
api_json_emit(JsonWriter *w, const JsonValue *v)
{
	switch (v->type) {
	case JSON_NULL: json_null(w); break;
	case JSON_BOOL: json_bool(w, v->boolean); break;
	case JSON_NUMBER: emit_raw(w, v->string); break;   /* the parser validated its text */
	case JSON_STRING: json_string(w, v->string); break;
	case JSON_ARRAY:
		json_array_begin(w);
		for (size_t i = 0; i < v->count; i++)
			api_json_emit(w, v->items[i]);
		json_array_end(w);
		break;
	case JSON_OBJECT:
		json_object_begin(w);
		for (size_t i = 0; i < v->count; i++) {
			json_key(w, v->items[i]->key);
			api_json_emit(w, v->items[i]);
		}
		json_object_end(w);
		break;
	}
}

char *
api_json_text(const JsonValue *v)
{
	Buf b = BUF_INIT;
	JsonWriter w;

	json_writer_init(&w, &b, false);
	api_json_emit(&w, v);
	return buf_steal(&b);
}

void
api_json_emit_text(JsonWriter *w, const char *text)
{
	JsonValue *v = NULL;

	if (text == NULL || json_parse(&v, text, strlen(text)) < 0) {
		err_clear();
		json_null(w);
		return;
	}
	api_json_emit(w, v);
	json_free(v);
}

int
api_name_check(const char *what, const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len >= 1 && len <= 63 && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len)
		return 0;
	err_set(ERR_INVALID, "invalid %s name \"%.80s\"", what, name ? name : "");
	err_detail("A %s name has 1 to 63 characters among letters, digits, \"_\" and \"-\".", what);
	return ERR_INVALID;
}

int
api_set_id_check(const char *id)
{
	size_t len = id ? strlen(id) : 0;

	if (len >= 1 && len <= 128 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0 &&
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") == len)
		return 0;
	err_set(ERR_INVALID, "invalid backup set id \"%.80s\"", id ? id : "");
	err_detail("A backup set id has letters, digits, \"_\", \".\", \":\" and \"-\" only.");
	return ERR_INVALID;
}

int
api_time_parse(const char *s, time_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, n = 0;
	char sep;
	const char *zone;

	if (s == NULL || sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &sec, &n) != 7 ||
	    (sep != ' ' && sep != 'T'))
		goto bad;
	zone = s + n;
	if (*zone == '.')   /* fractions of a second are dropped */
		for (zone++; isdigit((unsigned char)*zone); zone++)
			;
	if (strcmp(zone, "+00") != 0 && strcmp(zone, "Z") != 0 && strcmp(zone, "+00:00") != 0 && *zone != '\0')
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 0;
bad:
	err_set(ERR_INVALID, "invalid time \"%.40s\"", s ? s : "");
	err_hint("Write times in UTC as \"YYYY-MM-DD HH:MM:SS+00\".");
	return ERR_INVALID;
}
