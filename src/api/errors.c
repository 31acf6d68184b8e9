/*
 * errors.c - the one table from error codes to HTTP statuses, and the JSON
 * error body {"error": {"code", "message", "detail", "hint"}}.
 *
 * Invariant: every ErrCode and every API_ERR_* has a row; a code without
 * one (a bug) answers 500 "internal".
 */
#include "api/api_int.h"

#include <stddef.h>

typedef struct ErrStatus {
	int code;
	int status;
	const char *name;
} ErrStatus;

/* Why these statuses: the caller's mistakes are 4xx (400 invalid input, 404
 * a name that does not exist, 409 a conflict with the current state: a name
 * taken, a backup already running); what tenback cannot do with the cluster
 * or storage as they are is 422 (a PostgreSQL role lacking a privilege is
 * not the HTTP caller's authorization: that is 403 forbidden); the store or
 * PostgreSQL failing underneath is 502/503/504/507. */
static const ErrStatus table[] = {
	{ERR_NETWORK, 502, "network"},
	{ERR_TIMEOUT, 504, "timeout"},
	{ERR_BUSY, 409, "busy"},
	{ERR_NOT_FOUND, 404, "not_found"},
	{ERR_EXISTS, 409, "exists"},
	{ERR_INVALID, 400, "invalid"},
	{ERR_CORRUPT, 422, "corrupt"},
	{ERR_UNSUPPORTED, 422, "unsupported"},
	{ERR_PERMISSION, 422, "permission"},
	{ERR_NO_SPACE, 507, "no_space"},
	{ERR_IO, 500, "io"},
	{ERR_PG, 502, "postgresql"},
	{ERR_INTERNAL, 500, "internal"},
	{API_ERR_UNAUTHENTICATED, 401, "unauthenticated"},
	{API_ERR_FORBIDDEN, 403, "forbidden"},
	{API_ERR_TOO_LARGE, 413, "too_large"},
	{API_ERR_RATE_LIMITED, 429, "rate_limited"},
	{API_ERR_METHOD, 405, "method_not_allowed"},
};

static const ErrStatus *
lookup(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return &table[i];
	return NULL;
}

int
api_http_status(int code)
{
	const ErrStatus *e = lookup(code);

	return e ? e->status : 500;
}

const char *
api_error_name(int code)
{
	const ErrStatus *e = lookup(code);

	return e ? e->name : "internal";
}

void
api_error_body(Buf *out, int code, const char *message, const char *detail, const char *hint)
{
	JsonWriter w;

	json_writer_init(&w, out, false);
	json_object_begin(&w);
	json_key(&w, "error");
	json_object_begin(&w);
	json_kv_string(&w, "code", api_error_name(code));
	json_kv_string(&w, "message", message && *message ? message : "internal error");
	json_kv_string(&w, "detail", detail && *detail ? detail : NULL);
	json_kv_string(&w, "hint", hint && *hint ? hint : NULL);
	json_object_end(&w);
	json_object_end(&w);
}
