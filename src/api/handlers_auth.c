/*
 * handlers_auth.c - log on and off, who am I, API tokens, and the OpenAPI
 * document.
 *
 * Invariant: passwords and secrets are only compared and hashed here,
 * never echoed; a failed log-on looks the same whether the user exists or
 * not (same message, an argon2 verification either way).
 */
#include "api/api_int.h"
#include "common/log.h"
#include "common/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
api_json_begin(ApiResponse *resp, int status, JsonWriter *w)
{
	resp->status = status;
	buf_reset(&resp->body);
	json_writer_init(w, &resp->body, false);
}

static int
logon_failed(void)
{
	err_set(API_ERR_UNAUTHENTICATED, "invalid user name or password");
	err_hint("After %d failed attempts in %d minutes, log-ons are refused for a while.", API_LOGON_MAX_FAILURES,
	         API_LOGON_WINDOW_S / 60);
	return API_ERR_UNAUTHENTICATED;
}

int
h_session_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"username", FIELD_STRING, true, false},
		{"password", FIELD_STRING, true, false},
		{NULL, 0, false, false},
	};
	MetaUser u = {0};
	MetaAuth a = {0};
	char *secret = NULL, *csrf = NULL;
	char id[65];
	const char *user, *password;
	int64_t now = (int64_t)time(NULL);
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	user = json_get_string(req->json, "username");
	password = json_get_string(req->json, "password");
	if (api_rate_blocked(&req->server->rate, user, req->client_addr, now)) {
		err_set(API_ERR_RATE_LIMITED, "too many failed log-ons for user \"%.63s\"", user);
		err_hint("Wait %d minutes before trying again.", API_LOGON_WINDOW_S / 60);
		return API_ERR_RATE_LIMITED;
	}
	if ((rc = meta_user_get(req->meta, user, &u)) < 0) {
		if (rc != ERR_NOT_FOUND)
			return rc;
		(void)api_password_verify(req->server->dummy_hash, password);
		api_rate_fail(&req->server->rate, user, req->client_addr, now);
		return logon_failed();
	}
	if (api_password_verify(u.password_hash, password) < 0) {
		api_rate_fail(&req->server->rate, user, req->client_addr, now);
		rc = logon_failed();
		goto out;
	}
	api_rate_reset(&req->server->rate, user, req->client_addr);
	if (meta_auth_purge_expired(req->meta, now) < 0)
		err_clear();
	secret = api_random_hex(32);
	csrf = api_random_hex(16);
	api_sha256_hex(secret, id);
	a.id = id;
	a.kind = "session";
	a.user_name = u.name;
	a.label = "console";
	a.csrf = csrf;
	a.expires_at = now + API_SESSION_IDLE_S;
	if ((rc = meta_auth_add(req->meta, &a)) < 0)
		goto out;
	resp->set_cookie = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", API_SESSION_COOKIE, secret,
	                             API_SESSION_IDLE_S);
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_kv_string(&w, "user", u.name);
	json_kv_string(&w, "role", u.role);
	json_kv_string(&w, "csrf_token", csrf);
	json_kv_int(&w, "expires_in_s", API_SESSION_IDLE_S);
	json_object_end(&w);
out:
	str_wipe_free(secret);
	free(csrf);
	meta_user_clear(&u);
	return rc;
}

int
h_session_delete(ApiRequest *req, ApiResponse *resp)
{
	int rc;

	if (req->by_session && (rc = meta_auth_delete(req->meta, req->auth_id)) < 0)
		return rc;
	resp->set_cookie = xasprintf("%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", API_SESSION_COOKIE);
	resp->status = 204;
	return 0;
}

/* What a session or token is, for the admin listing: never its secret, nor
 * its full id (the secret's SHA-256), nor its CSRF token. */
static void
auth_json(JsonWriter *w, const MetaAuth *a, const char *current_id)
{
	char id[AUTH_ID_SHOWN + 1];

	snprintf(id, sizeof(id), "%s", a->id);
	json_object_begin(w);
	json_kv_string(w, "id", id);
	json_kv_string(w, "kind", a->kind);
	json_kv_string(w, "user", a->user_name);
	json_kv_string(w, "role", a->role);
	json_kv_string(w, "label", a->label);
	json_kv_string(w, "created_at", a->created_at);
	if (a->expires_at)
		json_kv_int(w, "expires_at", a->expires_at);
	else
		json_kv_string(w, "expires_at", NULL);
	json_kv_bool(w, "current", current_id && strcmp(a->id, current_id) == 0);
	json_object_end(w);
}

/* GET /api/v1/sessions?user=NAME: every live session and API token (admins). */
int
h_sessions_list(ApiRequest *req, ApiResponse *resp)
{
	const char *user = api_query(req, "user");
	MetaAuth *a = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if (user && (rc = api_name_check("user", user)) < 0)
		return rc;
	if ((rc = meta_auth_list(req->meta, user, (int64_t)time(NULL), &a, &n)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		auth_json(&w, &a[i], req->auth_id);
	json_array_end(&w);
	meta_auth_array_free(a, n);
	return 0;
}

/* DELETE /api/v1/sessions/{id}: revoke one session or token (admins); its
 * next request is refused as unauthenticated. */
int
h_session_revoke(ApiRequest *req, ApiResponse *resp)
{
	MetaAuth a = {0};
	JsonWriter w;
	int rc;

	if ((rc = meta_auth_revoke(req->meta, req->params[0], &a)) < 0)
		return rc;
	log_info("%s %s of user \"%s\" revoked by \"%s\"", a.kind, req->params[0], a.user_name, req->user);
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_key(&w, "revoked");
	auth_json(&w, &a, req->auth_id);
	json_object_end(&w);
	meta_auth_clear(&a);
	return 0;
}

/* DELETE /api/v1/users/{name}/sessions: revoke every session and token of a
 * user (admins): after a leaked password or token, or when someone leaves. */
int
h_user_sessions_revoke(ApiRequest *req, ApiResponse *resp)
{
	MetaUser u = {0};
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = api_name_check("user", req->params[0])) < 0)
		return rc;
	if ((rc = meta_user_get(req->meta, req->params[0], &u)) < 0)
		return rc;
	meta_user_clear(&u);
	if ((rc = meta_auth_revoke_user(req->meta, req->params[0], &n)) < 0)
		return rc;
	log_info("%zu session(s) and token(s) of user \"%s\" revoked by \"%s\"", n, req->params[0], req->user);
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_kv_string(&w, "user", req->params[0]);
	json_kv_int(&w, "revoked", (int64_t)n);
	json_object_end(&w);
	return 0;
}

int
h_me(ApiRequest *req, ApiResponse *resp)
{
	MetaAuth a = {0};
	JsonWriter w;
	int rc;

	if ((rc = meta_auth_get(req->meta, req->auth_id, &a)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_kv_string(&w, "user", req->user);
	json_kv_string(&w, "role", req->role);
	json_kv_string(&w, "auth", req->by_session ? "session" : "token");
	/* The console keeps the CSRF token in memory only: a reload asks for it again. */
	json_kv_string(&w, "csrf_token", req->by_session ? a.csrf : NULL);
	if (a.expires_at)
		json_kv_int(&w, "expires_at", a.expires_at);
	else
		json_kv_string(&w, "expires_at", NULL);
	json_object_end(&w);
	meta_auth_clear(&a);
	return 0;
}

int
h_token_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"label", FIELD_STRING, true, false},
		{NULL, 0, false, false},
	};
	MetaAuth a = {0};
	char *hex = NULL, *token = NULL;
	char id[65];
	const char *label;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	label = json_get_string(req->json, "label");
	if (strlen(label) == 0 || strlen(label) > 200)
		return err_set(ERR_INVALID, "token label must have 1 to 200 characters");
	hex = api_random_hex(32);
	token = xasprintf("tb_%s", hex);
	api_sha256_hex(token, id);
	a.id = id;
	a.kind = "token";
	a.user_name = req->user;
	a.label = (char *)label;
	a.expires_at = 0;
	if ((rc = meta_auth_add(req->meta, &a)) < 0)
		goto out;
	api_json_begin(resp, 201, &w);
	json_object_begin(&w);
	json_kv_string(&w, "token", token);
	json_kv_string(&w, "label", label);
	json_kv_string(&w, "user", req->user);
	json_kv_string(&w, "role", req->role);
	json_object_end(&w);
out:
	explicit_bzero(hex, strlen(hex));
	explicit_bzero(token, strlen(token));
	free(hex);
	free(token);
	return rc;
}

int
h_openapi(ApiRequest *req, ApiResponse *resp)
{
	(void)req;
	resp->status = 200;
	buf_reset(&resp->body);
	buf_append(&resp->body, api_openapi_json, api_openapi_json_len);
	return 0;
}

/* GET /api/v1/audit?limit=N&before=ID: the audit log, newest first (admins). */
int
h_audit_list(ApiRequest *req, ApiResponse *resp)
{
	MetaAudit *a = NULL;
	size_t n = 0;
	uint64_t limit = 100, before = 0;
	const char *q;
	JsonWriter w;
	int rc;

	if ((q = api_query(req, "limit")) != NULL && (str_to_u64(&limit, q, "limit") < 0 || limit < 1 || limit > 1000))
		return err_set(ERR_INVALID, "limit must be between 1 and 1000");
	if ((q = api_query(req, "before")) != NULL && str_to_u64(&before, q, "before") < 0)
		return err_set(ERR_INVALID, "before must be an audit entry id");
	if ((rc = meta_audit_list(req->meta, (int64_t)limit, (int64_t)before, &a, &n)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		meta_audit_json(&w, &a[i]);
	}
	json_array_end(&w);
	meta_audit_array_free(a, n);
	return 0;
}
