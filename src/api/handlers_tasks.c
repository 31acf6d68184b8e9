/*
 * handlers_tasks.c - /api/v1/tasks: list with filters, show with steps
 * (times, durations, progress, rate, error and log), Retry, Cancel, and
 * one scheduler pass at a given time.
 */
#include "api/api_int.h"

#include "common/strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
api_task_id_parse(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = s && *s ? strtoll(s, &end, 10) : 0;
	if (s == NULL || *s == '\0' || errno || *end || v <= 0) {
		err_set(ERR_INVALID, "invalid task id \"%.40s\"", s ? s : "");
		err_detail("A task id is a positive integer.");
		return ERR_INVALID;
	}
	*out = v;
	return 0;
}

/* Seconds between two stored times (to: NULL means now); -1 when unknown. */
static int64_t
elapsed_ms(const char *from, const char *to)
{
	time_t a, b;

	if (from == NULL || *from == '\0' || api_time_parse(from, &a) < 0) {
		err_clear();
		return -1;
	}
	if (to == NULL || *to == '\0')
		b = time(NULL);
	else if (api_time_parse(to, &b) < 0) {
		err_clear();
		return -1;
	}
	return b >= a ? (int64_t)(b - a) * 1000 : 0;
}

static void
step_emit(JsonWriter *w, const MetaTaskStep *s)
{
	int64_t ms = elapsed_ms(s->started_at, s->finished_at);
	bool running = s->status && strcmp(s->status, "RUNNING") == 0;

	json_object_begin(w);
	json_kv_int(w, "idx", s->idx);
	json_kv_string(w, "name", s->name);
	json_kv_string(w, "status", s->status);
	json_kv_string(w, "started_at", s->started_at);
	json_kv_string(w, "finished_at", s->finished_at);
	json_key(w, "duration_ms");
	if (ms >= 0)
		json_int(w, ms);
	else
		json_null(w);
	json_kv_int(w, "bytes_done", s->bytes_done);
	json_kv_int(w, "bytes_total", s->bytes_total);
	json_kv_int(w, "files_done", s->files_done);
	json_kv_int(w, "attempts", s->attempts);
	/* Progress for the console: the rate over the step so far, and what is left at that rate. */
	json_key(w, "rate_bytes_per_s");
	if (ms > 0 && s->bytes_done > 0)
		json_int(w, s->bytes_done * 1000 / ms);
	else
		json_null(w);
	json_key(w, "eta_s");
	if (running && ms > 0 && s->bytes_done > 0 && s->bytes_total > s->bytes_done)
		json_int(w, (s->bytes_total - s->bytes_done) * ms / s->bytes_done / 1000);
	else
		json_null(w);
	json_key(w, "error");
	if (s->error_message && *s->error_message) {
		json_object_begin(w);
		json_kv_string(w, "code", s->error_code);
		json_kv_string(w, "message", s->error_message);
		json_kv_string(w, "detail", s->error_detail && *s->error_detail ? s->error_detail : NULL);
		json_kv_string(w, "hint", s->error_hint && *s->error_hint ? s->error_hint : NULL);
		json_object_end(w);
	} else {
		json_null(w);
	}
	json_kv_string(w, "log", s->log ? s->log : "");
	json_object_end(w);
}

void
api_task_emit(JsonWriter *w, const MetaTask *t)
{
	int64_t ms = elapsed_ms(t->started_at ? t->started_at : t->created_at, t->finished_at);

	json_object_begin(w);
	json_kv_int(w, "id", t->id);
	json_kv_string(w, "type", t->type);
	json_kv_string(w, "cluster", t->cluster);
	json_kv_string(w, "tenant", t->tenant);
	json_kv_string(w, "status", t->status);
	json_key(w, "params");
	api_json_emit_text(w, t->params);
	json_key(w, "state");
	api_json_emit_text(w, t->state && *t->state ? t->state : "{}");
	json_kv_string(w, "created_by", t->created_by);
	json_kv_string(w, "created_at", t->created_at);
	json_kv_string(w, "started_at", t->started_at);
	json_kv_string(w, "finished_at", t->finished_at);
	json_key(w, "duration_ms");
	if (ms >= 0)
		json_int(w, ms);
	else
		json_null(w);
	json_kv_string(w, "error", t->error && *t->error ? t->error : NULL);
	json_kv_bool(w, "cancel_requested", t->cancel_requested != 0);
	json_key(w, "steps");
	json_array_begin(w);
	for (size_t i = 0; i < t->n_steps; i++)
		step_emit(w, &t->steps[i]);
	json_array_end(w);
	json_object_end(w);
}

static int
task_respond(ApiRequest *req, ApiResponse *resp, int64_t id, int status)
{
	MetaTask t = {0};
	JsonWriter w;
	int rc;

	if ((rc = meta_task_get(req->meta, id, &t)) < 0)
		return rc;
	api_json_begin(resp, status, &w);
	api_task_emit(&w, &t);
	meta_task_clear(&t);
	return 0;
}

static bool
word_ok(const char *s)
{
	return strlen(s) <= 32 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") == strlen(s);
}

int
h_tasks_list(ApiRequest *req, ApiResponse *resp)
{
	MetaTaskFilter f = {0};
	MetaTask *tasks = NULL;
	size_t n = 0;
	char *cluster = NULL, *tenant = NULL, *since = NULL;
	const char *q;
	JsonWriter w;
	int rc = 0;

	if ((q = api_query(req, "tenant")) != NULL) {
		if ((rc = api_tenant_resolve(req, q, &cluster, &tenant)) < 0)
			goto out;
		f.cluster = cluster;
		f.tenant = tenant;
	} else if ((q = api_query(req, "cluster")) != NULL) {
		if ((rc = api_name_check("cluster", q)) < 0)
			goto out;
		f.cluster = q;
	}
	if ((q = api_query(req, "status")) != NULL) {
		if (!word_ok(q)) {
			rc = err_set(ERR_INVALID, "invalid task status \"%.40s\"", q);
			err_hint("Use RUNNING, FAILED, SUCCEEDED or CANCELLED.");
			goto out;
		}
		f.status = q;
	}
	if ((q = api_query(req, "type")) != NULL) {
		if (!word_ok(q)) {
			rc = err_set(ERR_INVALID, "invalid task type \"%.40s\"", q);
			goto out;
		}
		f.type = q;
	}
	if ((q = api_query(req, "since")) != NULL) {
		time_t t;
		char text[32];
		if ((rc = api_time_parse(q, &t)) < 0)
			goto out;
		time_format_utc(text, sizeof(text), t);
		since = xstrdup(text);   /* the stored form, so that text order is time order */
		f.since = since;
	}
	if ((q = api_query(req, "limit")) != NULL) {
		uint64_t lim;
		if (str_to_u64(&lim, q, "limit") < 0 || lim < 1 || lim > 1000) {
			rc = err_set(ERR_INVALID, "limit must be between 1 and 1000");
			goto out;
		}
		f.limit = (int64_t)lim;
	}
	if ((rc = meta_task_list(req->meta, &f, &tasks, &n)) < 0)
		goto out;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		api_task_emit(&w, &tasks[i]);
	json_array_end(&w);
out:
	meta_task_array_free(tasks, n);
	free(cluster);
	free(tenant);
	free(since);
	return rc;
}

int
h_task_get(ApiRequest *req, ApiResponse *resp)
{
	int64_t id;
	int rc;

	if ((rc = api_task_id_parse(req->params[0], &id)) < 0)
		return rc;
	return task_respond(req, resp, id, 200);
}

int
h_task_retry(ApiRequest *req, ApiResponse *resp)
{
	int64_t id;
	int rc;

	if ((rc = api_task_id_parse(req->params[0], &id)) < 0 || (rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = task_retry(req->engine, req->meta, id)) < 0)
		return rc;
	return task_respond(req, resp, id, 202);
}

int
h_task_cancel(ApiRequest *req, ApiResponse *resp)
{
	int64_t id;
	int rc;

	if ((rc = api_task_id_parse(req->params[0], &id)) < 0 || (rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = task_cancel(req->engine, req->meta, id)) < 0)
		return rc;
	return task_respond(req, resp, id, 200);
}

int
h_scheduler_run(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"now", FIELD_STRING, false, true},
		{NULL, 0, false, false},
	};
	const char *now_text;
	time_t now = time(NULL);
	int fired = 0, rc;
	char text[32];
	JsonWriter w;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	if ((now_text = json_get_string(req->json, "now")) != NULL && (rc = api_time_parse(now_text, &now)) < 0)
		return rc;
	if ((rc = task_scheduler_tick(req->engine, req->meta, now, &fired)) < 0)
		return rc;
	time_format_utc(text, sizeof(text), now);
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_kv_string(&w, "now", text);
	json_kv_int(&w, "fired", fired);
	json_object_end(&w);
	return 0;
}
