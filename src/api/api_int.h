/*
 * api_int.h - the API's inside, for its files and its tests: requests and
 * responses, the route table, the error table, body validation, static
 * file resolution and the log-on rate limiter.
 *
 * A handler takes the request and fills the response; it returns 0, or a
 * negative ErrCode with the thread's error record set, which the server
 * turns into {"error": {...}} with the status of api_http_status().
 */
#ifndef TENBACK_API_API_INT_H
#define TENBACK_API_API_INT_H

#include "api/api.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/error.h"
#include "meta/meta.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Conditions that exist only in HTTP; they share the ErrCode space (and
 * the one status table) so handlers report them like any other error. */
enum {
	API_ERR_UNAUTHENTICATED = -100,   /* 401 */
	API_ERR_FORBIDDEN = -101,         /* 403: the role, or the CSRF token */
	API_ERR_TOO_LARGE = -102,         /* 413 */
	API_ERR_RATE_LIMITED = -103,      /* 429 */
	API_ERR_METHOD = -104,            /* 405 */
};

#define API_BODY_MAX_BYTES (64 * 1024)
#define API_SESSION_IDLE_S (8 * 3600)
#define API_SESSION_COOKIE "tb_session"
#define API_LOGON_MAX_FAILURES 5
#define API_LOGON_WINDOW_S 300

/* ---- errors.c ---- */

int api_http_status(int code);
/* The "code" word of the error body: not_found, invalid, unauthenticated, ... */
const char *api_error_name(int code);
/* {"error":{"code","message","detail","hint"}} from the arguments (detail and hint: "" or NULL means null). */
void api_error_body(Buf *out, int code, const char *message, const char *detail, const char *hint);

/* ---- roles (router.c) ---- */

typedef enum ApiRole {
	ROLE_PUBLIC = 0,      /* no authentication */
	ROLE_VIEWER = 1,      /* any user */
	ROLE_OPERATOR = 2,
	ROLE_ADMIN = 3,
} ApiRole;

/* The level of a role name; ROLE_PUBLIC (0) for an unknown one. */
ApiRole api_role_level(const char *role);
/* 0 when role has need or more; API_ERR_FORBIDDEN with a message otherwise. */
int api_role_require(const char *role, ApiRole need);

/* ---- requests and responses ---- */

typedef struct ApiServer ApiServer;

#define API_MAX_PARAMS 4

typedef struct ApiRequest {
	const char *method;
	const char *path;
	char *params[API_MAX_PARAMS];   /* path parameters, in template order */
	int n_params;
	void *conn;                      /* struct MHD_Connection *, for api_query() */
	const char *body;
	size_t body_len;
	JsonValue *json;                 /* parsed body; NULL when empty */
	ApiServer *server;
	const char *home;
	TaskEngine *engine;
	Meta *meta;                      /* opened for this request */
	char client_addr[64];
	/* authentication */
	char *user;
	char *role;
	char *auth_id;                   /* the session's or token's id (SHA-256 hex) */
	bool by_session;
} ApiRequest;

typedef struct ApiResponse {
	int status;
	Buf body;
	char *set_cookie;                /* Set-Cookie header value */
	const char *content_type;        /* static; NULL: application/json */
} ApiResponse;

typedef int (*ApiHandler)(ApiRequest *req, ApiResponse *resp);

/* A query string argument, borrowed for the request; NULL when absent. */
const char *api_query(ApiRequest *req, const char *name);

/* Start a JSON response with status into resp (non-pretty writer). */
void api_json_begin(ApiResponse *resp, int status, JsonWriter *w);

/* ---- routes (router.c, routes.h) ---- */

typedef struct ApiRoute {
	const char *method;
	const char *path;         /* template: /api/v1/tenants/{id}/sets/{set} */
	ApiRole role;
	ApiHandler handler;
} ApiRoute;

typedef enum ApiMatch {
	API_MATCH_NONE,           /* no route has this path */
	API_MATCH_METHOD,         /* a route has the path, not with this method */
	API_MATCH_OK,
} ApiMatch;

/* Find the route of method and path in routes (n entries); on a match the
 * path parameters are malloc'd into params (free them with api_params_free). */
ApiMatch api_route_match(const ApiRoute *routes, size_t n, const char *method, const char *path,
                         const ApiRoute **out, char **params, int *n_params);
void api_params_free(char **params, int n_params);

/* ---- body.c: JSON body validation ---- */

typedef enum ApiFieldType {
	FIELD_STRING,
	FIELD_INT,
	FIELD_BOOL,
	FIELD_OBJECT,
	FIELD_ANY,
} ApiFieldType;

typedef struct ApiField {
	const char *name;
	ApiFieldType type;
	bool required;
	bool nullable;           /* null accepted (as absent) */
} ApiField;

/* The body must be an object whose members are all in fields (NULL-name
 * terminated), of their type, each at most once, the required ones
 * present.  body NULL (no body) is an empty object.  ERR_INVALID naming the
 * field otherwise. */
int api_body_check(const JsonValue *body, const ApiField *fields);
/* The fields of a request that takes no body (an empty body or {}). */
extern const ApiField api_no_fields[];
/* Parse a request body; ERR_INVALID "malformed JSON in request body" with
 * the parser's message as detail. */
int api_body_parse(JsonValue **out, const char *text, size_t len);
/* May a body of have bytes take more bytes? (at most API_BODY_MAX_BYTES in all) */
bool api_body_fits(size_t have, size_t more);
/* Does a Content-Length header announce more than API_BODY_MAX_BYTES?
 * (NULL or unparsable: no; the body is still counted as it arrives.) */
bool api_content_length_too_large(const char *header);
/* Write v through w (the writer must not be pretty). */
void api_json_emit(JsonWriter *w, const JsonValue *v);
/* Serialise v as compact JSON text (malloc'd). */
char *api_json_text(const JsonValue *v);
/* Write the JSON text (from the metadata) as a value; null when NULL or unparsable. */
void api_json_emit_text(JsonWriter *w, const char *text);

/* Names a user gives (clusters, storages, users): [A-Za-z0-9_-]{1,63}.
 * ERR_INVALID "invalid <what> name" otherwise. */
int api_name_check(const char *what, const char *name);
/* Backup set ids: [A-Za-z0-9_.:-]{1,128}, never "." or "..". */
int api_set_id_check(const char *id);
/* "YYYY-MM-DD HH:MM:SS+00" (or with 'T', or 'Z') into Unix seconds. */
int api_time_parse(const char *s, time_t *out);

/* ---- static.c ---- */

/* Map a URL path ("/" or "/web/...") to a file under web_dir: malloc'd real
 * path into out.  ERR_NOT_FOUND for anything with a "..", "." or empty
 * segment, a backslash, a file outside web_dir (symbolic links included)
 * or that is not a regular file. */
int api_static_resolve(const char *web_dir, const char *url_path, char **out);
/* Content-Type by extension. Borrowed, static. */
const char *api_static_content_type(const char *path);

/* ---- ratelimit.c ---- */

typedef struct ApiRateEntry {
	char key[192];            /* user "\n" address */
	int64_t failures[API_LOGON_MAX_FAILURES];   /* ring of failure times */
	int n;
	int next;
	int64_t last;
} ApiRateEntry;

#define API_RATE_ENTRIES 512

typedef struct ApiRateLimit {
	pthread_mutex_t lock;
	ApiRateEntry entries[API_RATE_ENTRIES];
} ApiRateLimit;

void api_rate_init(ApiRateLimit *r);
void api_rate_destroy(ApiRateLimit *r);
/* true while user+addr has API_LOGON_MAX_FAILURES failures within
 * API_LOGON_WINDOW_S before now. */
bool api_rate_blocked(ApiRateLimit *r, const char *user, const char *addr, int64_t now);
void api_rate_fail(ApiRateLimit *r, const char *user, const char *addr, int64_t now);
void api_rate_reset(ApiRateLimit *r, const char *user, const char *addr);

/* ---- password.c: secrets ---- */

/* n random bytes as 2n hex characters (malloc'd); aborts when the kernel has no randomness. */
char *api_random_hex(size_t n);
/* Lowercase hex SHA-256 of s into out (65 bytes). */
void api_sha256_hex(const char *s, char out[65]);
/* Constant-time string comparison. */
bool api_secret_equal(const char *a, const char *b);

/* ---- the embedded OpenAPI document (generated from openapi.json) ---- */

extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

/* ---- the server (http.c) ---- */

struct ApiServer {
	void *mhd;                /* struct MHD_Daemon * */
	char *home;
	char *web_dir;
	TaskEngine *engine;
	ApiRateLimit rate;
	char *dummy_hash;         /* verified against when the user does not exist: same time either way */
	int port;
};

/* ---- auth.c ---- */

/* Fill req->user/role from the Bearer token or the session cookie;
 * API_ERR_UNAUTHENTICATED when neither is valid.  Cookie sessions on an
 * unsafe method need the X-CSRF-Token header: API_ERR_FORBIDDEN otherwise. */
int api_authenticate(ApiRequest *req, const char *authorization, const char *cookie, const char *csrf);
/* The value of cookie name in a Cookie header into out (malloc'd); NULL when absent. */
char *api_cookie_value(const char *header, const char *name);

/* ---- shared by the handlers ---- */

/* Tenant id "<cluster>:<database oid>" (or "<cluster>:*", the whole
 * instance) to the cluster's name and the database's name (malloc'd).
 * ERR_INVALID for a malformed id, ERR_NOT_FOUND for an unknown one. */
int api_tenant_resolve(ApiRequest *req, const char *id, char **out_cluster, char **out_tenant);
/* A task with its steps, as the API shows it. */
void api_task_emit(JsonWriter *w, const MetaTask *t);
/* A task id from a path parameter; ERR_INVALID when it is not a positive integer. */
int api_task_id_parse(const char *s, int64_t *out);

/* ---- handlers ---- */

int h_session_create(ApiRequest *req, ApiResponse *resp);
int h_session_delete(ApiRequest *req, ApiResponse *resp);
int h_me(ApiRequest *req, ApiResponse *resp);
int h_audit_list(ApiRequest *req, ApiResponse *resp);
int h_sessions_list(ApiRequest *req, ApiResponse *resp);
int h_session_revoke(ApiRequest *req, ApiResponse *resp);
int h_user_sessions_revoke(ApiRequest *req, ApiResponse *resp);
/* hex digits of a session's or token's id shown and accepted by the admin API */
#define AUTH_ID_SHOWN 16
int h_metrics(ApiRequest *req, ApiResponse *resp);
int h_token_create(ApiRequest *req, ApiResponse *resp);
int h_openapi(ApiRequest *req, ApiResponse *resp);

int h_clusters_list(ApiRequest *req, ApiResponse *resp);
int h_cluster_create(ApiRequest *req, ApiResponse *resp);
int h_cluster_get(ApiRequest *req, ApiResponse *resp);
int h_cluster_status(ApiRequest *req, ApiResponse *resp);
int h_cluster_checkpoint(ApiRequest *req, ApiResponse *resp);
int h_cluster_keys_list(ApiRequest *req, ApiResponse *resp);
int h_cluster_key_add(ApiRequest *req, ApiResponse *resp);
int h_cluster_key_delete(ApiRequest *req, ApiResponse *resp);
int h_cluster_encryption_off(ApiRequest *req, ApiResponse *resp);

int h_tenants_list(ApiRequest *req, ApiResponse *resp);
int h_tenant_get(ApiRequest *req, ApiResponse *resp);
int h_tenant_sets(ApiRequest *req, ApiResponse *resp);
int h_tenant_set_delete(ApiRequest *req, ApiResponse *resp);
int h_tenant_window(ApiRequest *req, ApiResponse *resp);
int h_strategy_get(ApiRequest *req, ApiResponse *resp);
int h_strategy_put(ApiRequest *req, ApiResponse *resp);
int h_strategy_delete(ApiRequest *req, ApiResponse *resp);
int h_tenant_tasks(ApiRequest *req, ApiResponse *resp);
int h_backup_create(ApiRequest *req, ApiResponse *resp);
int h_restore_create(ApiRequest *req, ApiResponse *resp);
int h_tenant_set_verify(ApiRequest *req, ApiResponse *resp);

int h_storages_list(ApiRequest *req, ApiResponse *resp);
int h_storage_create(ApiRequest *req, ApiResponse *resp);
int h_storage_delete(ApiRequest *req, ApiResponse *resp);
int h_storage_test_uri(ApiRequest *req, ApiResponse *resp);
int h_storage_test(ApiRequest *req, ApiResponse *resp);

int h_tasks_list(ApiRequest *req, ApiResponse *resp);
int h_task_get(ApiRequest *req, ApiResponse *resp);
int h_task_retry(ApiRequest *req, ApiResponse *resp);
int h_task_cancel(ApiRequest *req, ApiResponse *resp);
int h_scheduler_run(ApiRequest *req, ApiResponse *resp);

int h_alerts_list(ApiRequest *req, ApiResponse *resp);
int h_alert_ack(ApiRequest *req, ApiResponse *resp);
int h_channels_list(ApiRequest *req, ApiResponse *resp);
int h_channel_create(ApiRequest *req, ApiResponse *resp);
int h_channel_delete(ApiRequest *req, ApiResponse *resp);
int h_channel_test(ApiRequest *req, ApiResponse *resp);
int h_attempts_list(ApiRequest *req, ApiResponse *resp);

#endif
