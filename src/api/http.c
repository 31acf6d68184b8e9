/*
 * http.c - the HTTP server: libmicrohttpd with one thread per connection,
 * the request body (at most 64 KiB), routing, authentication, roles, JSON
 * error bodies, the console's static files and one log line per request.
 *
 * Invariant: every request gets its own Meta and error record (a thread
 * per connection), and its response is either the handler's or the JSON
 * error of the code it returned; nothing of a request's body, cookies or
 * headers is ever logged.
 */
#include "api/api_int.h"
#include "api/routes.h"

#include "common/log.h"
#include "common/strutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TENBACK_DATA_WEB_DIR
#define TENBACK_DATA_WEB_DIR "/usr/local/share/tenback/web"
#endif

#define ROUTE_ENTRY(m, p, r, h) {m, p, r, h},
static const ApiRoute routes[] = {API_ROUTES(ROUTE_ENTRY)};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

typedef struct ReqCtx {
	Buf body;
	bool too_large;
	bool answered;       /* a response was queued before the body was read */
	int64_t start_ms;
} ReqCtx;

const char *
api_default_web_dir(void)
{
#ifdef TENBACK_SOURCE_WEB_DIR
	struct stat st;

	if (stat(TENBACK_SOURCE_WEB_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return TENBACK_SOURCE_WEB_DIR;
#endif
	return TENBACK_DATA_WEB_DIR;
}

int
api_server_port(const ApiServer *s)
{
	return s->port;
}

const char *
api_query(ApiRequest *req, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void
client_address(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, cap, "unknown");
	if (ci && ci->client_addr) {
		socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                     : sizeof(struct sockaddr_in);
		if (getnameinfo(ci->client_addr, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(out, cap, "unknown");
	}
}

static void
add_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result
send_json(struct MHD_Connection *c, int status, Buf *body, const char *set_cookie, const char *content_type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = body->len;
	char *data = buf_steal(body);

	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(data);
		return MHD_NO;
	}
	add_common_headers(r);
	if (len)
		MHD_add_response_header(r, "Content-Type", content_type ? content_type : "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (set_cookie)
		MHD_add_response_header(r, "Set-Cookie", set_cookie);
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The error record (code rc) as the response. */
static void
error_response(ApiResponse *resp, int rc)
{
	resp->status = api_http_status(rc);
	buf_reset(&resp->body);
	api_error_body(&resp->body, rc, err_message(), err_detail_text(), err_hint_text());
	free(resp->set_cookie);
	resp->set_cookie = NULL;
}

static void
request_clear(ApiRequest *req)
{
	api_params_free(req->params, req->n_params);
	json_free(req->json);
	meta_free(req->meta);
	free(req->user);
	free(req->role);
	free(req->auth_id);
}

/* The audit log's word for a route that changes something; NULL for reads. */
static const char *
audit_action(const ApiRoute *r)
{
	static const struct {
		const char *method, *path, *action;
	} map[] = {
		{"POST", "/api/v1/sessions", "logon"},
		{"DELETE", "/api/v1/sessions", "logoff"},
		{"DELETE", "/api/v1/sessions/{id}", "session.revoke"},
		{"DELETE", "/api/v1/users/{name}/sessions", "user.sessions.revoke"},
		{"POST", "/api/v1/tokens", "token.create"},
		{"POST", "/api/v1/clusters", "cluster.create"},
		{"POST", "/api/v1/clusters/{name}/status", "cluster.status"},
		{"POST", "/api/v1/clusters/{name}/checkpoint", "cluster.checkpoint"},
		{"DELETE", "/api/v1/tenants/{id}/sets/{set}", "set.delete"},
		{"POST", "/api/v1/tenants/{id}/sets/{set}/verify", "set.verify"},
		{"PUT", "/api/v1/tenants/{id}/strategy", "strategy.put"},
		{"DELETE", "/api/v1/tenants/{id}/strategy", "strategy.delete"},
		{"POST", "/api/v1/tenants/{id}/backups", "backup.start"},
		{"POST", "/api/v1/tenants/{id}/restores", "restore.start"},
		{"POST", "/api/v1/storages", "storage.create"},
		{"POST", "/api/v1/storages/test", "storage.test"},
		{"DELETE", "/api/v1/storages/{name}", "storage.delete"},
		{"POST", "/api/v1/storages/{name}/test", "storage.test"},
		{"POST", "/api/v1/tasks/{id}/retry", "task.retry"},
		{"POST", "/api/v1/tasks/{id}/cancel", "task.cancel"},
		{"POST", "/api/v1/scheduler/run", "scheduler.run"},
		{"POST", "/api/v1/alerts/{id}/ack", "alert.ack"},
		{"POST", "/api/v1/notification-channels", "channel.create"},
		{"DELETE", "/api/v1/notification-channels/{id}", "channel.delete"},
		{"POST", "/api/v1/notification-channels/{id}/test", "channel.test"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].method, r->method) == 0 && strcmp(map[i].path, r->path) == 0)
			return map[i].action;
	return strcmp(r->method, "GET") == 0 ? NULL : r->path; /* a new route: audited under its path */
}

/*
 * One audit entry per request that changes something, allowed or not:
 * who (the authenticated user, or the name a log-on tried), from where,
 * what to (the URL below /api/v1/), and how it ended (ok, or the error's
 * word and message); a created task's id as detail.  Never the body: it
 * may hold a password.  A failure to write it is logged, not the
 * request's failure.
 */
static void
audit_request(const ApiRequest *req, const ApiRoute *route, const char *outcome, const ApiResponse *resp)
{
	const char *action = route ? audit_action(route) : NULL;
	char detail[64] = "";
	MetaAudit a = {0};
	const char *tried = NULL;

	if (action == NULL || req->meta == NULL)
		return;
	/* an alert's or a channel's own id is not a task's */
	if (strcmp(outcome, "ok") == 0 && resp->body.len && !str_starts_with(action, "alert.") &&
	    !str_starts_with(action, "channel.")) {
		JsonValue *v = NULL;
		if (json_parse(&v, (const char *)resp->body.data, resp->body.len) == 0) {
			bool ok = false;
			uint64_t id = json_get_uint(v, "id", &ok);
			const JsonValue *task = json_get(v, "task");
			if (!ok && task)
				id = json_get_uint(task, "id", &ok);
			if (ok)
				snprintf(detail, sizeof(detail), "task %llu", (unsigned long long)id);
		}
		json_free(v);
	}
	if (req->user == NULL && req->json)
		tried = json_get_string(req->json, "username");
	a.user_name = req->user ? req->user : tried ? (char *)tried : "(anonymous)";
	a.role = req->role;
	a.client = (char *)req->client_addr;
	a.action = (char *)action;
	a.object = (char *)(str_starts_with(req->path, "/api/v1/") ? req->path + 8 : req->path);
	a.outcome = (char *)outcome;
	a.detail = detail[0] ? detail : NULL;
	if (meta_audit_add(req->meta, &a) < 0)
		log_warning("could not write the audit log: %s", err_message());
}

/* Route, authenticate, check the role, parse the body, run the handler. */
static void
api_dispatch(ApiServer *s, struct MHD_Connection *c, const char *method, const char *url, ReqCtx *ctx,
             ApiResponse *resp)
{
	ApiRequest req = {0};
	const ApiRoute *route = NULL;
	const char *route_method = strcmp(method, "HEAD") == 0 ? "GET" : method;
	ApiMatch m;
	char outcome[512];
	int rc = 0;

	req.method = method;
	req.path = url;
	req.conn = c;
	req.server = s;
	req.home = s->home;
	req.engine = s->engine;
	client_address(c, req.client_addr, sizeof(req.client_addr));

	m = api_route_match(routes, N_ROUTES, route_method, url, &route, req.params, &req.n_params);
	if (m == API_MATCH_NONE) {
		rc = err_set(ERR_NOT_FOUND, "no such API route \"%.200s\"", url);
		err_hint("The API is described at /api/v1/openapi.json.");
		goto out;
	}
	if (m == API_MATCH_METHOD) {
		rc = err_set(API_ERR_METHOD, "method %s is not allowed on \"%.200s\"", method, url);
		err_hint("The API is described at /api/v1/openapi.json.");
		goto out;
	}
	if (ctx->too_large) {
		rc = err_set(API_ERR_TOO_LARGE, "request body too large");
		err_detail("A request body may have at most %d bytes.", API_BODY_MAX_BYTES);
		goto out;
	}
	if (route->handler != h_openapi && (rc = meta_open(&req.meta, s->home)) < 0)
		goto out;
	if (route->role != ROLE_PUBLIC) {
		const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		const char *cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
		const char *csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
		if ((rc = api_authenticate(&req, authz, cookie, csrf)) < 0)
			goto out;
		if ((rc = api_role_require(req.role, route->role)) < 0)
			goto out;
	}
	req.body = ctx->body.data;
	req.body_len = ctx->body.len;
	if ((rc = api_body_parse(&req.json, req.body, req.body_len)) < 0)
		goto out;
	rc = route->handler(&req, resp);
out:
	if (rc < 0) {
		snprintf(outcome, sizeof(outcome), "%s: %s", api_error_name(rc), err_message());
		error_response(resp, rc);
	}
	audit_request(&req, route, rc < 0 ? outcome : "ok", resp);
	request_clear(&req);
}

static enum MHD_Result
serve_static(ApiServer *s, struct MHD_Connection *c, const char *url, int *out_status)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *path = NULL;
	struct stat st;
	int fd = -1;

	if (api_static_resolve(s->web_dir, url, &path) < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		ApiResponse resp = {0};
		if (fd >= 0)
			close(fd);
		/* One answer for every refusal: nothing learnt about the file system. */
		err_set(ERR_NOT_FOUND, "no such page \"%.200s\"", url);
		error_response(&resp, ERR_NOT_FOUND);
		*out_status = resp.status;
		free(path);
		return send_json(c, resp.status, &resp.body, NULL, NULL);
	}
	free(path);
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (r == NULL) {
		close(fd);
		return MHD_NO;
	}
	add_common_headers(r);
	MHD_add_response_header(r, "Content-Type", api_static_content_type(url[1] ? url : "/index.html"));
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	*out_status = 200;
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void
log_request(const char *method, const char *url, int status, int64_t start_ms)
{
	log_info("%s %s %d %lld ms", method, url, status, (long long)(time_now_ms() - start_ms));
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
           const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	ApiServer *s = cls;
	ReqCtx *ctx = *con_cls;
	ApiResponse resp = {0};
	enum MHD_Result ret;
	(void)version;

	if (ctx == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		ctx = xcalloc(1, sizeof(*ctx));
		ctx->start_ms = time_now_ms();
		*con_cls = ctx;
		if (api_content_length_too_large(cl)) {
			/* Answer before reading the body; MHD closes the connection after. */
			err_clear();
			err_set(API_ERR_TOO_LARGE, "request body too large");
			err_detail("A request body may have at most %d bytes.", API_BODY_MAX_BYTES);
			error_response(&resp, API_ERR_TOO_LARGE);
			ctx->answered = true;
			log_request(method, url, resp.status, ctx->start_ms);
			return send_json(c, resp.status, &resp.body, NULL, NULL);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!ctx->too_large && !ctx->answered) {
			if (!api_body_fits(ctx->body.len, *upload_data_size)) {
				ctx->too_large = true;
				buf_free(&ctx->body);
			} else {
				buf_append(&ctx->body, upload_data, *upload_data_size);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->answered)
		return MHD_YES;
	err_clear();
	/* Prometheus scrapes /metrics: the API's route under its conventional path */
	if (strcmp(url, "/metrics") == 0)
		url = "/api/v1/metrics";
	if (str_starts_with(url, "/api/")) {
		api_dispatch(s, c, method, url, ctx, &resp);
		if (resp.status >= 500)
			log_warning("%s %s: %s", method, url, err_message());
		log_request(method, url, resp.status, ctx->start_ms);
		ret = send_json(c, resp.status ? resp.status : 500, &resp.body, resp.set_cookie, resp.content_type);
		free(resp.set_cookie);
		return ret;
	}
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		int status = 0;
		ret = serve_static(s, c, url, &status);
		log_request(method, url, status, ctx->start_ms);
		return ret;
	}
	err_set(ERR_NOT_FOUND, "no such page \"%.200s\"", url);
	error_response(&resp, ERR_NOT_FOUND);
	log_request(method, url, resp.status, ctx->start_ms);
	return send_json(c, resp.status, &resp.body, NULL, NULL);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	ReqCtx *ctx = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;

	if (ctx) {
		if (ctx->body.data)
			explicit_bzero(ctx->body.data, ctx->body.len);   /* it may hold a password */
		buf_free(&ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

/* "HOST:PORT" or "[V6]:PORT": a bound, listening socket. */
static int
listen_socket(const char *listen_addr, int *out_fd, int *out_port, bool *out_v6)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char host[256];
	const char *port, *colon;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd = -1, one = 1, rc = 0, gai;

	*out_fd = -1;
	if (listen_addr[0] == '[') {
		const char *end = strchr(listen_addr, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - listen_addr - 1) >= sizeof(host))
			goto bad;
		memcpy(host, listen_addr + 1, (size_t)(end - listen_addr - 1));
		host[end - listen_addr - 1] = '\0';
		port = end + 2;
	} else {
		if ((colon = strrchr(listen_addr, ':')) == NULL || (size_t)(colon - listen_addr) >= sizeof(host))
			goto bad;
		memcpy(host, listen_addr, (size_t)(colon - listen_addr));
		host[colon - listen_addr] = '\0';
		port = colon + 1;
	}
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
		goto bad;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0) {
		err_set(ERR_INVALID, "could not resolve listen address \"%s\": %s", listen_addr, gai_strerror(gai));
		return ERR_INVALID;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = err_errno(errno, "could not create socket");
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		rc = err_errno(errno, "could not listen on %s", listen_addr);
		err_hint("Is another tenback serve running? Choose another address with --listen.");
		goto out;
	}
	if (listen(fd, 64) != 0) {
		rc = err_errno(errno, "could not listen on %s", listen_addr);
		goto out;
	}
	getsockname(fd, (struct sockaddr *)&ss, &sslen);
	*out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                           : ((struct sockaddr_in *)&ss)->sin_port);
	*out_v6 = ai->ai_family == AF_INET6;
	*out_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
bad:
	err_set(ERR_INVALID, "invalid listen address \"%s\"", listen_addr);
	err_hint("Write it as HOST:PORT, for example 127.0.0.1:8432, or [::1]:8432.");
	return ERR_INVALID;
}

int
api_server_start(ApiServer **out, const ApiServerOpts *o)
{
	ApiServer *s = xcalloc(1, sizeof(*s));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	bool v6 = false;
	int fd = -1, rc;

	*out = NULL;
	s->home = xstrdup(o->home);
	s->web_dir = xstrdup(o->web_dir ? o->web_dir : api_default_web_dir());
	s->engine = o->engine;
	api_rate_init(&s->rate);
	{
		char *pw = api_password_generate();
		rc = api_password_hash(pw, &s->dummy_hash);
		free(pw);
		if (rc < 0)
			goto fail;
	}
	if ((rc = listen_socket(o->listen ? o->listen : "127.0.0.1:8432", &fd, &s->port, &v6)) < 0)
		goto fail;
	if (v6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	                          MHD_OPTION_LISTEN_SOCKET, fd,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned int)128,
	                          MHD_OPTION_END);
	if (s->mhd == NULL) {
		close(fd);
		rc = err_set(ERR_IO, "could not start the HTTP server on %s", o->listen ? o->listen : "127.0.0.1:8432");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	api_server_stop(s);
	return rc;
}

void
api_server_stop(ApiServer *s)
{
	if (s == NULL)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	api_rate_destroy(&s->rate);
	free(s->home);
	free(s->web_dir);
	free(s->dummy_hash);
	free(s);
}
