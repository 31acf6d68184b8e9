/*
 * router.c - route matching with path parameters, and roles.
 *
 * Invariant: a parameter matches exactly one non-empty path segment (no
 * '/'), so a parameter can never reach another route's prefix; literal
 * segments match exactly.  Routes are tried in table order.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

ApiRole
api_role_level(const char *role)
{
	if (role == NULL)
		return ROLE_PUBLIC;
	if (strcmp(role, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(role, "operator") == 0)
		return ROLE_OPERATOR;
	if (strcmp(role, "viewer") == 0)
		return ROLE_VIEWER;
	return ROLE_PUBLIC;
}

static const char *
role_name(ApiRole r)
{
	switch (r) {
	case ROLE_ADMIN: return "admin";
	case ROLE_OPERATOR: return "operator";
	case ROLE_VIEWER: return "viewer";
	default: return "public";
	}
}

int
api_role_require(const char *role, ApiRole need)
{
	if (need == ROLE_PUBLIC || api_role_level(role) >= need)
		return 0;
	err_set(API_ERR_FORBIDDEN, "permission denied: this action needs the %s role", role_name(need));
	err_detail("You are logged on with the role \"%s\".", role ? role : "none");
	err_hint("Ask an administrator to do it, or to give you the %s role.", role_name(need));
	return API_ERR_FORBIDDEN;
}

int
api_role_check(const char *role)
{
	if (role && api_role_level(role) != ROLE_PUBLIC)
		return 0;
	err_set(ERR_INVALID, "invalid role \"%s\"", role ? role : "");
	err_hint("Use admin, operator or viewer.");
	return ERR_INVALID;
}

void
api_params_free(char **params, int n_params)
{
	for (int i = 0; i < n_params; i++) {
		free(params[i]);
		params[i] = NULL;
	}
}

/* Match path against template; parameters into params. */
static bool
match_template(const char *tmpl, const char *path, char **params, int *n_params)
{
	const char *t = tmpl, *p = path;
	int n = 0;

	while (*t && *p) {
		if (*t == '{') {
			const char *tend = strchr(t, '}');
			size_t len = strcspn(p, "/");
			if (tend == NULL || len == 0 || n >= API_MAX_PARAMS)
				goto fail;
			params[n] = xmalloc(len + 1);
			memcpy(params[n], p, len);
			params[n][len] = '\0';
			n++;
			t = tend + 1;
			p += len;
		} else {
			if (*t != *p)
				goto fail;
			t++;
			p++;
		}
	}
	if (*t || *p)
		goto fail;
	*n_params = n;
	return true;
fail:
	api_params_free(params, n);
	return false;
}

ApiMatch
api_route_match(const ApiRoute *routes, size_t n, const char *method, const char *path,
                const ApiRoute **out, char **params, int *n_params)
{
	ApiMatch result = API_MATCH_NONE;

	*out = NULL;
	*n_params = 0;
	for (size_t i = 0; i < n; i++) {
		int np = 0;
		if (!match_template(routes[i].path, path, params, &np))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			*out = &routes[i];
			*n_params = np;
			return API_MATCH_OK;
		}
		api_params_free(params, np);
		result = API_MATCH_METHOD;
	}
	return result;
}
