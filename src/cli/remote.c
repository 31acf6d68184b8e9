/*
 * remote.c - a small REST client over libcurl for the CLI's --server mode.
 *
 * Invariant: the token goes only into the Authorization header, never into
 * a URL, a log line or an error message.
 */
#include "cli/remote.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t
collect(char *data, size_t size, size_t n, void *payload)
{
	buf_append(payload, data, size * n);
	return size * n;
}

/* One request; *out_json is the parsed answer (caller frees). Error bodies
 * {"error": {...}} become the error record. */
static int
request(const Remote *r, const char *method, const char *path, const char *body, long *out_status,
        JsonValue **out_json)
{
	CURL *c = curl_easy_init();
	struct curl_slist *headers = NULL;
	char *url = xasprintf("%s%s", r->url, path);
	char *auth = NULL;
	Buf resp = BUF_INIT;
	CURLcode cc;
	int rc = 0;

	*out_json = NULL;
	if (c == NULL) {
		rc = err_set(ERR_INTERNAL, "could not start an HTTP client");
		goto out;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	if (r->token) {
		auth = xasprintf("Authorization: Bearer %s", r->token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		rc = err_set(ERR_NETWORK, "could not reach the tenback daemon at %s: %s", r->url, curl_easy_strerror(cc));
		err_hint("Check --server and that \"tenback serve\" runs there.");
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, out_status);
	if (resp.len && json_parse(out_json, resp.data, resp.len) < 0) {
		rc = err_set(ERR_INVALID, "the daemon answered %ld with something that is not JSON", *out_status);
		goto out;
	}
	if (*out_status >= 400) {
		const JsonValue *e = json_get(*out_json, "error");
		const char *msg = json_get_string(e, "message");
		int ec = ERR_INVALID;

		if (*out_status == 401 || *out_status == 403)
			ec = ERR_PERMISSION;
		else if (*out_status == 404)
			ec = ERR_NOT_FOUND;
		else if (*out_status == 409)
			ec = ERR_BUSY;
		else if (*out_status >= 500)
			ec = ERR_INTERNAL;
		rc = err_set(ec, "%s", msg ? msg : "the daemon refused the request");
		if (json_get_string(e, "detail"))
			err_detail("%s", json_get_string(e, "detail"));
		if (json_get_string(e, "hint"))
			err_hint("%s", json_get_string(e, "hint"));
		else if (*out_status == 401)
			err_hint("Pass an API token with --token or TENBACK_TOKEN.");
	}
out:
	if (rc < 0) {
		json_free(*out_json);
		*out_json = NULL;
	}
	curl_slist_free_all(headers);
	if (c)
		curl_easy_cleanup(c);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	buf_free(&resp);
	free(url);
	return rc;
}

static int
find_tenant_id(const Remote *r, const char *cluster, const char *tenant, char **out)
{
	JsonValue *list = NULL;
	long status = 0;
	int rc;

	*out = NULL;
	if ((rc = request(r, "GET", "/api/v1/tenants", NULL, &status, &list)) < 0)
		return rc;
	for (size_t i = 0; list && list->type == JSON_ARRAY && i < list->count; i++) {
		const char *c = json_get_string(list->items[i], "cluster");
		const char *n = json_get_string(list->items[i], "name");
		if (c && n && strcmp(c, cluster) == 0 && strcmp(n, tenant) == 0)
			*out = xstrdup(json_get_string(list->items[i], "id"));
	}
	json_free(list);
	if (*out == NULL) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" does not exist in cluster \"%s\"", tenant, cluster);
		return rc;
	}
	return 0;
}

int
remote_backup(const Remote *r, const char *cluster, const char *tenant, const char *mode, const char *method,
              const char *storage, uint64_t max_rate, bool wait)
{
	char *tid = NULL, *path = NULL;
	Buf body = BUF_INIT;
	JsonWriter w;
	JsonValue *task = NULL;
	long status = 0;
	int64_t id;
	char last[4096] = "";
	int rc;

	if ((rc = find_tenant_id(r, cluster, tenant, &tid)) < 0)
		goto out;
	json_writer_init(&w, &body, false);
	json_object_begin(&w);
	json_kv_string(&w, "mode", mode ? mode : "full");
	if (method)
		json_kv_string(&w, "method", method);
	if (storage)
		json_kv_string(&w, "storage", storage);
	if (max_rate)
		json_kv_int(&w, "max_rate", (int64_t)max_rate);
	json_object_end(&w);
	path = xasprintf("/api/v1/tenants/%s/backups", tid);
	if ((rc = request(r, "POST", path, body.data, &status, &task)) < 0)
		goto out;
	id = json_get_int(task, "id", NULL);
	fprintf(stderr, "task %lld: %s backup of %s/%s\n", (long long)id, mode ? mode : "full", cluster, tenant);
	while (wait) {
		const JsonValue *steps;
		const char *st;
		Buf line = BUF_INIT;

		json_free(task);
		task = NULL;
		free(path);
		path = xasprintf("/api/v1/tasks/%lld", (long long)id);
		if ((rc = request(r, "GET", path, NULL, &status, &task)) < 0)
			goto out;
		steps = json_get(task, "steps");
		for (size_t i = 0; steps && i < steps->count; i++) {
			const JsonValue *s = steps->items[i];
			const char *ss = json_get_string(s, "status");
			buf_printf(&line, "  %-36s %s", json_get_string(s, "name"), ss ? ss : "?");
			if (ss && strcmp(ss, "RUNNING") == 0 && json_get_int(s, "bytes_total", NULL) > 0)
				buf_printf(&line, " %.1f/%.1f MiB", (double)json_get_int(s, "bytes_done", NULL) / 1048576.0,
				           (double)json_get_int(s, "bytes_total", NULL) / 1048576.0);
			buf_putc(&line, '\n');
		}
		if (line.data && strcmp(line.data, last) != 0) {
			fputs(line.data, stderr);
			snprintf(last, sizeof(last), "%s", line.data);
		}
		buf_free(&line);
		st = json_get_string(task, "status");
		if (st && strcmp(st, "RUNNING") != 0) {
			if (strcmp(st, "SUCCEEDED") == 0) {
				const JsonValue *state = json_get(task, "state");
				const char *set = json_get_string(state, "set_id");
				if (set)
					printf("%s\n", set);
				break;
			}
			for (size_t i = 0; steps && i < steps->count; i++) {
				const JsonValue *e = json_get(steps->items[i], "error");
				if (json_get_string(e, "message")) {
					rc = err_set(ERR_INVALID, "step \"%s\" %s: %s", json_get_string(steps->items[i], "name"),
					             json_get_string(steps->items[i], "status"), json_get_string(e, "message"));
					if (json_get_string(e, "detail"))
						err_detail("%s", json_get_string(e, "detail"));
					if (json_get_string(e, "hint"))
						err_hint("%s", json_get_string(e, "hint"));
				}
			}
			if (rc == 0)
				rc = err_set(ERR_INVALID, "task %lld ended %s", (long long)id, st);
			goto out;
		}
		usleep(500 * 1000);
	}
	if (!wait)
		printf("%lld\n", (long long)id);
out:
	json_free(task);
	buf_free(&body);
	free(path);
	free(tid);
	return rc;
}
