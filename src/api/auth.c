/*
 * auth.c - who is calling: an API token (Authorization: Bearer) or a
 * session cookie (tb_session), both stored in the metadata only as the
 * SHA-256 of their secret; sessions expire after 8 hours idle and need
 * the X-CSRF-Token header on unsafe methods.
 *
 * Invariant: a secret from a request is hashed before any lookup and is
 * never logged or written anywhere.
 */
#include "api/api_int.h"

#include "common/strutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

char *
api_cookie_value(const char *header, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t len = strcspn(v, ";");
			while (len > 0 && v[len - 1] == ' ')
				len--;
			char *out = xmalloc(len + 1);
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

static bool
unsafe_method(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "OPTIONS") != 0;
}

static int
unauthenticated(const char *why)
{
	err_set(API_ERR_UNAUTHENTICATED, "authentication required");
	err_detail("%s", why);
	err_hint("Log on with POST /api/v1/sessions, or send \"Authorization: Bearer <token>\".");
	return API_ERR_UNAUTHENTICATED;
}

int
api_authenticate(ApiRequest *req, const char *authorization, const char *cookie, const char *csrf)
{
	MetaAuth a = {0};
	char *secret = NULL;
	char id[65];
	int64_t now = (int64_t)time(NULL);
	int rc = 0;

	if (authorization && *authorization) {
		if (strncasecmp(authorization, "Bearer ", 7) != 0) {
			rc = unauthenticated("The Authorization header is not a Bearer token.");
			goto out;
		}
		secret = xstrdup(authorization + 7);
		req->by_session = false;
	} else if (cookie && (secret = api_cookie_value(cookie, API_SESSION_COOKIE)) != NULL) {
		req->by_session = true;
	} else {
		rc = unauthenticated("The request has no session cookie and no token.");
		goto out;
	}
	api_sha256_hex(secret, id);
	if ((rc = meta_auth_get(req->meta, id, &a)) < 0) {
		if (rc == ERR_NOT_FOUND)
			rc = unauthenticated(req->by_session ? "The session does not exist or has ended."
			                                     : "The token is not known.");
		goto out;
	}
	if (strcmp(a.kind, req->by_session ? "session" : "token") != 0) {
		rc = unauthenticated("The credential is not of the kind it was sent as.");
		goto out;
	}
	if (a.expires_at != 0 && a.expires_at <= now) {
		meta_auth_delete(req->meta, id);
		err_clear();
		rc = unauthenticated("The session has expired.");
		goto out;
	}
	if (req->by_session && unsafe_method(req->method) &&
	    (csrf == NULL || a.csrf == NULL || !api_secret_equal(csrf, a.csrf))) {
		err_set(API_ERR_FORBIDDEN, "missing or wrong X-CSRF-Token header");
		err_detail("Requests that change something need the CSRF token of the session.");
		err_hint("Send the csrf_token returned by POST /api/v1/sessions or GET /api/v1/me in the X-CSRF-Token header.");
		rc = API_ERR_FORBIDDEN;
		goto out;
	}
	/* Idle expiry: push it forward, at most once a minute per session. */
	if (req->by_session && a.expires_at - now < API_SESSION_IDLE_S - 60) {
		if (meta_auth_touch(req->meta, id, now + API_SESSION_IDLE_S) < 0)
			err_clear();
	}
	req->user = xstrdup(a.user_name);
	req->role = xstrdup(a.role);
	req->auth_id = xstrdup(id);
out:
	str_wipe_free(secret);
	meta_auth_clear(&a);
	return rc;
}
