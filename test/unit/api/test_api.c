/*
 * test_api.c - unit tests for src/api's core: the route table against the
 * embedded openapi.json (both ways), route matching, the error -> HTTP
 * status table and the error body, JSON body validation (unknown field,
 * wrong type, missing, duplicate, malformed, oversized), argon2id hashing,
 * roles, the log-on rate limiter, static file path resolution (traversal
 * refused), names and times from requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api_int.h"
#include "api/routes.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the route table, as the server sees it (handlers not needed) ---- */

typedef struct RouteDef {
	const char *method;
	const char *path;
	ApiRole role;
} RouteDef;

#define ROUTE_DEF(m, p, r, h) {m, p, r},
static const RouteDef route_defs[] = {API_ROUTES(ROUTE_DEF)};
#define N_ROUTE_DEFS (sizeof(route_defs) / sizeof(route_defs[0]))

static int
dummy_handler(ApiRequest *req, ApiResponse *resp)
{
	(void)req;
	(void)resp;
	return 0;
}

static void
lower(char *out, const char *in, size_t cap)
{
	size_t i = 0;

	for (; in[i] && i + 1 < cap; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

static bool
is_http_method(const char *k)
{
	static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head", "options", "trace"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(k, methods[i]) == 0)
			return true;
	return false;
}

static void
test_routes_match_openapi(void **state)
{
	JsonValue *doc = NULL;
	const JsonValue *paths;
	size_t n_doc_ops = 0;
	(void)state;

	assert_int_equal(json_parse(&doc, api_openapi_json, api_openapi_json_len), 0);
	assert_string_equal(json_get_string(doc, "openapi"), "3.0.3");
	paths = json_get(doc, "paths");
	assert_non_null(paths);
	assert_int_equal(paths->type, JSON_OBJECT);

	/* every route is in the document */
	for (size_t i = 0; i < N_ROUTE_DEFS; i++) {
		char m[16];
		const JsonValue *item = json_get(paths, route_defs[i].path);
		lower(m, route_defs[i].method, sizeof(m));
		if (item == NULL || json_get(item, m) == NULL)
			fail_msg("route %s %s is not in openapi.json", route_defs[i].method, route_defs[i].path);
		/* public routes say so; the others need authentication */
		const JsonValue *sec = json_get(json_get(item, m), "security");
		if (route_defs[i].role == ROLE_PUBLIC && (sec == NULL || sec->type != JSON_ARRAY || sec->count != 0))
			fail_msg("public route %s %s has no \"security\": [] in openapi.json", route_defs[i].method,
			         route_defs[i].path);
		if (route_defs[i].role != ROLE_PUBLIC && sec != NULL)
			fail_msg("route %s %s needs authentication but openapi.json says otherwise", route_defs[i].method,
			         route_defs[i].path);
	}
	/* every operation of the document is a route */
	for (size_t i = 0; i < paths->count; i++) {
		const JsonValue *item = paths->items[i];
		for (size_t j = 0; j < item->count; j++) {
			const char *k = item->items[j]->key;
			bool found = false;
			if (!is_http_method(k))
				continue;
			n_doc_ops++;
			for (size_t r = 0; r < N_ROUTE_DEFS; r++) {
				char m[16];
				lower(m, route_defs[r].method, sizeof(m));
				if (strcmp(route_defs[r].path, item->key) == 0 && strcmp(m, k) == 0)
					found = true;
			}
			if (!found)
				fail_msg("openapi.json has %s %s, the route table does not", k, item->key);
		}
	}
	assert_int_equal(n_doc_ops, N_ROUTE_DEFS);
	/* every path parameter of a template is declared in the document */
	for (size_t i = 0; i < N_ROUTE_DEFS; i++) {
		char m[16];
		const JsonValue *params;
		lower(m, route_defs[i].method, sizeof(m));
		params = json_get(json_get(json_get(paths, route_defs[i].path), m), "parameters");
		for (const char *p = strchr(route_defs[i].path, '{'); p; p = strchr(p + 1, '{')) {
			char name[32];
			size_t len = strcspn(p + 1, "}");
			bool declared = false;
			snprintf(name, sizeof(name), "%.*s", (int)len, p + 1);
			for (size_t k = 0; params && k < params->count; k++)
				if (strcmp(json_get_string(params->items[k], "name"), name) == 0 &&
				    strcmp(json_get_string(params->items[k], "in"), "path") == 0)
					declared = true;
			if (!declared)
				fail_msg("%s %s: path parameter {%s} not declared in openapi.json", route_defs[i].method,
				         route_defs[i].path, name);
		}
	}
	json_free(doc);
}

static void
test_route_matching(void **state)
{
	static const ApiRoute routes[] = {
		{"POST", "/api/v1/storages/test", ROLE_OPERATOR, dummy_handler},
		{"DELETE", "/api/v1/storages/{name}", ROLE_ADMIN, dummy_handler},
		{"GET", "/api/v1/tenants/{id}", ROLE_VIEWER, dummy_handler},
		{"DELETE", "/api/v1/tenants/{id}/sets/{set}", ROLE_ADMIN, dummy_handler},
	};
	const ApiRoute *r = NULL;
	char *params[API_MAX_PARAMS] = {0};
	int n = 0;
	(void)state;

	assert_int_equal(api_route_match(routes, 4, "POST", "/api/v1/storages/test", &r, params, &n), API_MATCH_OK);
	assert_ptr_equal(r, &routes[0]);
	assert_int_equal(n, 0);
	assert_int_equal(api_route_match(routes, 4, "DELETE", "/api/v1/storages/test", &r, params, &n), API_MATCH_OK);
	assert_ptr_equal(r, &routes[1]);
	assert_string_equal(params[0], "test");
	api_params_free(params, n);
	assert_int_equal(api_route_match(routes, 4, "DELETE", "/api/v1/tenants/pg1:16384/sets/20260101T000000F", &r,
	                                 params, &n), API_MATCH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(params[0], "pg1:16384");
	assert_string_equal(params[1], "20260101T000000F");
	api_params_free(params, n);
	/* a parameter is one non-empty segment */
	assert_int_equal(api_route_match(routes, 4, "GET", "/api/v1/tenants/a/b", &r, params, &n), API_MATCH_NONE);
	assert_int_equal(api_route_match(routes, 4, "GET", "/api/v1/tenants/", &r, params, &n), API_MATCH_NONE);
	assert_int_equal(api_route_match(routes, 4, "GET", "/api/v1/tenants", &r, params, &n), API_MATCH_NONE);
	assert_int_equal(api_route_match(routes, 4, "PUT", "/api/v1/tenants/x:1", &r, params, &n), API_MATCH_METHOD);
	assert_int_equal(n, 0);
	assert_null(r);
}

/* ---- errors ---- */

static void
test_error_status_table(void **state)
{
	static const struct {
		int code;
		int status;
		const char *name;
	} cases[] = {
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
		{-999, 500, "internal"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(api_http_status(cases[i].code), cases[i].status);
		assert_string_equal(api_error_name(cases[i].code), cases[i].name);
	}
}

static void
test_error_body(void **state)
{
	Buf b = BUF_INIT;
	JsonValue *v = NULL;
	const JsonValue *e;
	(void)state;

	api_error_body(&b, ERR_BUSY, "a backup of tenant \"shop\" is already running (task 7)", "", "Wait for task 7.");
	assert_int_equal(json_parse(&v, b.data, b.len), 0);
	e = json_get(v, "error");
	assert_non_null(e);
	assert_int_equal(e->count, 4);
	assert_string_equal(json_get_string(e, "code"), "busy");
	assert_string_equal(json_get_string(e, "message"), "a backup of tenant \"shop\" is already running (task 7)");
	assert_int_equal(json_get(e, "detail")->type, JSON_NULL);
	assert_string_equal(json_get_string(e, "hint"), "Wait for task 7.");
	json_free(v);
	buf_free(&b);
}

/* ---- bodies ---- */

static const ApiField backup_fields[] = {
	{"mode", FIELD_STRING, true, false},
	{"storage", FIELD_STRING, false, true},
	{"retention_days", FIELD_INT, false, false},
	{"enabled", FIELD_BOOL, false, false},
	{"schedule", FIELD_OBJECT, false, false},
	{NULL, 0, false, false},
};

/* Parse and check text; the code, and the message in *msg (static). */
static int
check_body(const char *text, const char **msg)
{
	static char last[512];
	JsonValue *v = NULL;
	int rc;

	err_clear();
	if ((rc = api_body_parse(&v, text, strlen(text))) == 0)
		rc = api_body_check(v, backup_fields);
	snprintf(last, sizeof(last), "%s", err_message());
	*msg = last;
	json_free(v);
	return rc;
}

static void
test_body_validation(void **state)
{
	const char *msg;
	(void)state;

	assert_int_equal(check_body("{\"mode\":\"full\"}", &msg), 0);
	assert_int_equal(check_body("{\"mode\":\"full\",\"storage\":null,\"retention_days\":7,\"enabled\":true,"
	                            "\"schedule\":{\"kind\":\"week\"}}", &msg), 0);
	assert_int_equal(check_body("{\"mode\":\"full\",\"colour\":\"red\"}", &msg), ERR_INVALID);
	assert_string_equal(msg, "unknown field \"colour\" in request body");
	assert_string_equal(err_hint_text(), "The fields of this request are: mode, storage, retention_days, enabled, schedule.");
	assert_int_equal(check_body("{\"mode\":1}", &msg), ERR_INVALID);
	assert_string_equal(msg, "field \"mode\" must be a string");
	assert_int_equal(check_body("{\"mode\":\"full\",\"retention_days\":1.5}", &msg), ERR_INVALID);
	assert_string_equal(msg, "field \"retention_days\" must be an integer");
	assert_int_equal(check_body("{\"mode\":\"full\",\"retention_days\":\"7\"}", &msg), ERR_INVALID);
	assert_int_equal(check_body("{\"mode\":\"full\",\"enabled\":\"yes\"}", &msg), ERR_INVALID);
	assert_string_equal(msg, "field \"enabled\" must be true or false");
	assert_int_equal(check_body("{\"mode\":\"full\",\"schedule\":[]}", &msg), ERR_INVALID);
	assert_string_equal(msg, "field \"schedule\" must be an object");
	assert_int_equal(check_body("{\"mode\":\"full\",\"retention_days\":null}", &msg), ERR_INVALID);
	assert_int_equal(check_body("{}", &msg), ERR_INVALID);
	assert_string_equal(msg, "missing field \"mode\" in request body");
	assert_int_equal(check_body("{\"mode\":null}", &msg), ERR_INVALID);
	assert_string_equal(msg, "field \"mode\" must be a string");
	assert_int_equal(check_body("{\"mode\":\"full\",\"mode\":\"incremental\"}", &msg), ERR_INVALID);
	assert_string_equal(msg, "field \"mode\" appears more than once in request body");
	assert_int_equal(check_body("[\"mode\"]", &msg), ERR_INVALID);
	assert_string_equal(msg, "request body must be a JSON object");
	assert_int_equal(check_body("{\"mode\":\"full\"", &msg), ERR_INVALID);
	assert_string_equal(msg, "malformed JSON in request body");
	assert_true(strlen(err_detail_text()) > 0);
	assert_int_equal(check_body("{\"mode\":\"full\"} x", &msg), ERR_INVALID);
	assert_string_equal(msg, "malformed JSON in request body");
	/* no body at all is an empty object: fine when nothing is required */
	assert_int_equal(api_body_check(NULL, api_no_fields), 0);
	assert_int_equal(api_body_check(NULL, backup_fields), ERR_INVALID);
	{
		JsonValue *v = NULL;
		assert_int_equal(json_parse(&v, "{\"x\":1}", 7), 0);
		assert_int_equal(api_body_check(v, api_no_fields), ERR_INVALID);
		assert_string_equal(err_hint_text(), "This request takes no body.");
		json_free(v);
	}
}

static void
test_body_size(void **state)
{
	(void)state;
	assert_true(api_body_fits(0, API_BODY_MAX_BYTES));
	assert_false(api_body_fits(0, API_BODY_MAX_BYTES + 1));
	assert_true(api_body_fits(API_BODY_MAX_BYTES - 10, 10));
	assert_false(api_body_fits(API_BODY_MAX_BYTES - 10, 11));
	assert_false(api_body_fits(1, SIZE_MAX));
	assert_false(api_content_length_too_large(NULL));
	assert_false(api_content_length_too_large("65536"));
	assert_true(api_content_length_too_large("65537"));
	assert_true(api_content_length_too_large("99999999999999999999999"));
	assert_false(api_content_length_too_large("12"));
}

static void
test_json_emit_roundtrip(void **state)
{
	const char *text = "{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\",\"wed\":\"INCREMENTAL\"},\"n\":[1,-2.5e3,true,null],"
	                   "\"s\":\"a\\\"b\\n\"}";
	JsonValue *v = NULL;
	char *out;
	(void)state;

	assert_int_equal(json_parse(&v, text, strlen(text)), 0);
	out = api_json_text(v);
	assert_string_equal(out, text);
	free(out);
	json_free(v);
}

/* ---- passwords and secrets ---- */

static void
test_argon2_hash_verify(void **state)
{
	char *h1 = NULL, *h2 = NULL;
	char hex[65];
	(void)state;

	assert_int_equal(api_password_hash("correct horse battery staple", &h1), 0);
	assert_int_equal(api_password_hash("correct horse battery staple", &h2), 0);
	assert_true(strncmp(h1, "$argon2id$v=19$", 15) == 0);
	assert_string_not_equal(h1, h2);   /* a fresh salt each time */
	assert_int_equal(api_password_verify(h1, "correct horse battery staple"), 0);
	assert_int_equal(api_password_verify(h2, "correct horse battery staple"), 0);
	assert_int_equal(api_password_verify(h1, "correct horse battery stapler"), ERR_PERMISSION);
	assert_int_equal(api_password_verify(h1, ""), ERR_PERMISSION);
	assert_int_equal(api_password_verify("$2b$10$bcryptbcryptbcrypt", "x"), ERR_INVALID);
	assert_int_equal(api_password_verify("$argon2id$garbage", "x"), ERR_INVALID);
	assert_int_equal(api_password_verify(NULL, "x"), ERR_INVALID);
	free(h1);
	free(h2);

	char *p1 = api_password_generate(), *p2 = api_password_generate();
	assert_int_equal(strlen(p1), 20);
	assert_string_not_equal(p1, p2);
	free(p1);
	free(p2);

	char *r = api_random_hex(32);
	assert_int_equal(strlen(r), 64);
	assert_int_equal(strspn(r, "0123456789abcdef"), 64);
	free(r);
	api_sha256_hex("abc", hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(api_secret_equal("abc", "abc"));
	assert_false(api_secret_equal("abc", "abd"));
	assert_false(api_secret_equal("abc", "abcd"));
	assert_false(api_secret_equal("", "a"));
}

/* ---- roles ---- */

static void
test_roles(void **state)
{
	static const char *const roles[] = {"viewer", "operator", "admin"};
	static const ApiRole needs[] = {ROLE_PUBLIC, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN};
	/* allowed[role][need] */
	static const bool allowed[3][4] = {
		{true, true, false, false},
		{true, true, true, false},
		{true, true, true, true},
	};
	(void)state;

	for (int r = 0; r < 3; r++)
		for (int n = 0; n < 4; n++)
			assert_int_equal(api_role_require(roles[r], needs[n]), allowed[r][n] ? 0 : API_ERR_FORBIDDEN);
	assert_int_equal(api_role_require("viewer", ROLE_OPERATOR), API_ERR_FORBIDDEN);
	assert_string_equal(err_message(), "permission denied: this action needs the operator role");
	assert_int_equal(api_role_require(NULL, ROLE_VIEWER), API_ERR_FORBIDDEN);
	assert_int_equal(api_role_require("root", ROLE_VIEWER), API_ERR_FORBIDDEN);
	assert_int_equal(api_role_require("Admin", ROLE_VIEWER), API_ERR_FORBIDDEN);
	assert_int_equal(api_role_check("operator"), 0);
	assert_int_equal(api_role_check("boss"), ERR_INVALID);
	assert_string_equal(err_message(), "invalid role \"boss\"");
	assert_int_equal(api_role_check(NULL), ERR_INVALID);
	/* every route needs a role, except log-on and the document */
	for (size_t i = 0; i < N_ROUTE_DEFS; i++)
		if (route_defs[i].role == ROLE_PUBLIC)
			assert_true((strcmp(route_defs[i].path, "/api/v1/sessions") == 0 && strcmp(route_defs[i].method, "POST") == 0) ||
			            strcmp(route_defs[i].path, "/api/v1/openapi.json") == 0);
	/* what changes something is for operators or admins; the rest reads */
	for (size_t i = 0; i < N_ROUTE_DEFS; i++) {
		const char *p = route_defs[i].path;
		if (strcmp(route_defs[i].method, "GET") == 0 &&
		    (strcmp(p, "/api/v1/audit") == 0 || strcmp(p, "/api/v1/sessions") == 0))
			assert_int_equal(route_defs[i].role, ROLE_ADMIN); /* who did what, who is on: for admins only */
		else if (strcmp(p, "/api/v1/sessions/{id}") == 0 || strcmp(p, "/api/v1/users/{name}/sessions") == 0)
			assert_int_equal(route_defs[i].role, ROLE_ADMIN); /* revoking others' sessions */
		else if (strcmp(route_defs[i].method, "GET") == 0 && (strcmp(p, "/api/v1/notification-channels") == 0 ||
		                                                     strcmp(p, "/api/v1/notification-attempts") == 0))
			assert_int_equal(route_defs[i].role, ROLE_OPERATOR); /* a webhook URL may be a credential */
		else if (strcmp(route_defs[i].method, "GET") == 0)
			assert_int_equal(route_defs[i].role == ROLE_VIEWER || route_defs[i].role == ROLE_PUBLIC, true);
		else if (!str_starts_with(p, "/api/v1/sessions") && strcmp(p, "/api/v1/tokens") != 0)
			assert_true(route_defs[i].role >= ROLE_OPERATOR);
	}
}

/* ---- rate limit ---- */

static void
test_rate_limit(void **state)
{
	ApiRateLimit *r = xmalloc(sizeof(*r));
	(void)state;

	api_rate_init(r);
	for (int i = 0; i < API_LOGON_MAX_FAILURES; i++) {
		assert_false(api_rate_blocked(r, "alice", "10.0.0.1", 1000 + i));
		api_rate_fail(r, "alice", "10.0.0.1", 1000 + i);
	}
	assert_true(api_rate_blocked(r, "alice", "10.0.0.1", 1010));
	assert_false(api_rate_blocked(r, "alice", "10.0.0.2", 1010));   /* per user and address */
	assert_false(api_rate_blocked(r, "bob", "10.0.0.1", 1010));
	/* the oldest failure leaves the window */
	assert_true(api_rate_blocked(r, "alice", "10.0.0.1", 1000 + API_LOGON_WINDOW_S - 1));
	assert_false(api_rate_blocked(r, "alice", "10.0.0.1", 1000 + API_LOGON_WINDOW_S));
	api_rate_fail(r, "alice", "10.0.0.1", 1000 + API_LOGON_WINDOW_S);
	assert_true(api_rate_blocked(r, "alice", "10.0.0.1", 1000 + API_LOGON_WINDOW_S));
	api_rate_reset(r, "alice", "10.0.0.1");
	assert_false(api_rate_blocked(r, "alice", "10.0.0.1", 1000 + API_LOGON_WINDOW_S));
	/* bounded memory: many keys reuse entries without breaking lookups */
	for (int i = 0; i < API_RATE_ENTRIES * 2; i++) {
		char user[32];
		snprintf(user, sizeof(user), "u%d", i);
		api_rate_fail(r, user, "10.0.0.9", 5000 + i);
	}
	for (int i = 0; i < API_LOGON_MAX_FAILURES; i++)
		api_rate_fail(r, "mallory", "10.0.0.3", 9000);
	assert_true(api_rate_blocked(r, "mallory", "10.0.0.3", 9001));
	api_rate_destroy(r);
	free(r);
}

/* ---- static files ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
test_static_traversal(void **state)
{
	char tmpl[] = "/tmp/tenback-test-api-XXXXXX";
	char *dir, *web, *p, *out = NULL;
	static const char *const refused[] = {
		"/web/../secret.txt", "/web/..", "/web/./index.html", "/web//index.html", "/web/sub/../index.html",
		"/web/sub/../../secret.txt", "/web/..\\secret.txt", "/web/link-out", "/web/link-out/secret.txt",
		"/web/sub", "/web/sub/", "/web/missing.js", "/secret.txt", "/index.html", "/web/index.html/",
		"/webindex.html", "/web/.hidden/../index.html",
	};
	(void)state;

	assert_non_null(mkdtemp(tmpl));
	dir = tmpl;
	web = xasprintf("%s/web", dir);
	assert_int_equal(mkdir(web, 0700), 0);
	p = xasprintf("%s/sub", web);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/index.html", web);
	write_file(p, "<html></html>");
	free(p);
	p = xasprintf("%s/sub/app.js", web);
	write_file(p, "export {};");
	free(p);
	p = xasprintf("%s/secret.txt", dir);
	write_file(p, "secret");
	free(p);
	p = xasprintf("%s/link-out", web);
	assert_int_equal(symlink(dir, p), 0);
	free(p);
	p = xasprintf("%s/link-secret.txt", web);
	assert_int_equal(symlink("../secret.txt", p), 0);
	free(p);

	assert_int_equal(api_static_resolve(web, "/", &out), 0);
	assert_true(str_ends_with(out, "/web/index.html"));
	free(out);
	assert_int_equal(api_static_resolve(web, "/web/sub/app.js", &out), 0);
	assert_true(str_ends_with(out, "/web/sub/app.js"));
	assert_string_equal(api_static_content_type(out), "text/javascript; charset=utf-8");
	free(out);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		out = NULL;
		if (api_static_resolve(web, refused[i], &out) != ERR_NOT_FOUND)
			fail_msg("\"%s\" was not refused", refused[i]);
		assert_null(out);
	}
	/* a symbolic link inside that points outside is refused as well */
	assert_int_equal(api_static_resolve(web, "/web/link-secret.txt", &out), ERR_NOT_FOUND);
	/* a web directory that does not exist serves nothing */
	p = xasprintf("%s/nope", dir);
	assert_int_equal(api_static_resolve(p, "/", &out), ERR_NOT_FOUND);
	free(p);
	assert_string_equal(api_static_content_type("/a/index.html"), "text/html; charset=utf-8");
	assert_string_equal(api_static_content_type("/a/x.bin"), "application/octet-stream");

	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(web);
}

/* ---- names and times ---- */

static void
test_names_and_times(void **state)
{
	time_t t;
	(void)state;

	assert_int_equal(api_name_check("cluster", "pg-15_main"), 0);
	assert_int_equal(api_name_check("cluster", ".."), ERR_INVALID);
	assert_string_equal(err_message(), "invalid cluster name \"..\"");
	assert_int_equal(api_name_check("cluster", "a/b"), ERR_INVALID);
	assert_int_equal(api_name_check("cluster", ""), ERR_INVALID);
	assert_int_equal(api_name_check("cluster", NULL), ERR_INVALID);
	assert_int_equal(api_name_check("storage", "s3 bucket"), ERR_INVALID);
	assert_int_equal(api_name_check("cluster", "a234567890123456789012345678901234567890123456789012345678901234"),
	                 ERR_INVALID);   /* 64 characters */
	assert_int_equal(api_set_id_check("20260101T000000F"), 0);
	assert_int_equal(api_set_id_check(".."), ERR_INVALID);
	assert_int_equal(api_set_id_check("../x"), ERR_INVALID);
	assert_int_equal(api_set_id_check("a/b"), ERR_INVALID);

	assert_int_equal(api_time_parse("2026-11-26 15:08:50+00", &t), 0);
	assert_int_equal((long long)t, 1795705730LL);
	assert_int_equal(api_time_parse("2026-11-26T15:08:50Z", &t), 0);
	assert_int_equal((long long)t, 1795705730LL);
	assert_int_equal(api_time_parse("2026-11-26 15:08:50.123+00", &t), 0);
	assert_int_equal((long long)t, 1795705730LL);
	assert_int_equal(api_time_parse("2026-11-26 15:08:50+02", &t), ERR_INVALID);
	assert_int_equal(api_time_parse("yesterday", &t), ERR_INVALID);
	assert_string_equal(err_message(), "invalid time \"yesterday\"");
	assert_int_equal(api_time_parse("2026-13-01 00:00:00+00", &t), ERR_INVALID);
	assert_int_equal(api_time_parse(NULL, &t), ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_openapi),
		cmocka_unit_test(test_route_matching),
		cmocka_unit_test(test_error_status_table),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_body_validation),
		cmocka_unit_test(test_body_size),
		cmocka_unit_test(test_json_emit_roundtrip),
		cmocka_unit_test(test_argon2_hash_verify),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_static_traversal),
		cmocka_unit_test(test_names_and_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
