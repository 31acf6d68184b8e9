/*
 * handlers_alerts.c - /api/v1/alerts (what the daemon's checks fired) and
 * /api/v1/notification-channels (where alerts are sent), with a channel's
 * Test and the list of delivery attempts.
 *
 * Invariant: a channel's secret from a request goes only to
 * notify_channel_create (which seals it); no response carries it.
 */
#include "api/api_int.h"

#include "alert/alert.h"
#include "common/strutil.h"

#include <stdlib.h>
#include <string.h>

int
h_alerts_list(ApiRequest *req, ApiResponse *resp)
{
	const char *state = api_query(req, "state"), *q;
	uint64_t limit = 200;
	MetaAlert *a = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if (state && strcmp(state, "firing") != 0 && strcmp(state, "all") != 0) {
		err_set(ERR_INVALID, "invalid alert state \"%.40s\"", state);
		err_hint("Use state=firing or state=all.");
		return ERR_INVALID;
	}
	if ((q = api_query(req, "limit")) != NULL && (str_to_u64(&limit, q, "limit") < 0 || limit < 1 || limit > 1000))
		return err_set(ERR_INVALID, "limit must be between 1 and 1000");
	if ((rc = meta_alert_list(req->meta, state && strcmp(state, "firing") == 0, (int64_t)limit, &a, &n)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		meta_alert_json(&w, &a[i]);
	json_array_end(&w);
	meta_alert_array_free(a, n);
	return 0;
}

int
h_alert_ack(ApiRequest *req, ApiResponse *resp)
{
	MetaAlert a;
	JsonWriter w;
	int64_t id;
	int rc;

	if (api_task_id_parse(req->params[0], &id) < 0) {
		err_set(ERR_INVALID, "invalid alert id \"%.40s\"", req->params[0]);
		err_detail("An alert id is a positive integer.");
		return ERR_INVALID;
	}
	if ((rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = meta_alert_ack(req->meta, id, req->user)) < 0 || (rc = meta_alert_get(req->meta, id, &a)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	meta_alert_json(&w, &a);
	meta_alert_clear(&a);
	return 0;
}

int
h_channels_list(ApiRequest *req, ApiResponse *resp)
{
	MetaChannel *cs = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = meta_channel_list(req->meta, &cs, &n)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		meta_channel_json(&w, &cs[i]);
	json_array_end(&w);
	meta_channel_array_free(cs, n);
	return 0;
}

/* "kinds": ["backup_failed", ...] as "backup_failed,..." (malloc'd); NULL when absent or empty. */
static int
kinds_text(const JsonValue *kinds, char **out)
{
	Buf b = BUF_INIT;

	*out = NULL;
	if (kinds == NULL || kinds->type == JSON_NULL)
		return 0;
	if (kinds->type != JSON_ARRAY)
		return err_set(ERR_INVALID, "\"kinds\" must be an array of alert kinds");
	for (size_t i = 0; i < kinds->count; i++) {
		if (kinds->items[i]->type != JSON_STRING || strchr(kinds->items[i]->string, ',')) {
			buf_free(&b);
			return err_set(ERR_INVALID, "\"kinds\" must be an array of alert kinds");
		}
		if (i)
			buf_putc(&b, ',');
		buf_puts(&b, kinds->items[i]->string);
	}
	*out = b.data;
	return 0;
}

int
h_channel_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"name", FIELD_STRING, true, false},
		{"type", FIELD_STRING, true, false},
		{"url", FIELD_STRING, true, false},
		{"secret", FIELD_STRING, false, true},
		{"username", FIELD_STRING, false, true},
		{"from", FIELD_STRING, false, true},
		{"to", FIELD_STRING, false, true},
		{"kinds", FIELD_ANY, false, true},
		{NULL, 0, false, false},
	};
	NotifyChannelSpec spec = {0};
	MetaChannel c = {0};
	char *kinds = NULL;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0 || (rc = kinds_text(json_get(req->json, "kinds"), &kinds)) < 0)
		return rc;
	spec.name = json_get_string(req->json, "name");
	spec.type = json_get_string(req->json, "type");
	spec.url = json_get_string(req->json, "url");
	spec.secret = json_get_string(req->json, "secret");
	spec.username = json_get_string(req->json, "username");
	spec.from = json_get_string(req->json, "from");
	spec.to = json_get_string(req->json, "to");
	spec.kinds = kinds;
	if ((rc = notify_channel_create(req->meta, &spec, &c)) == 0) {
		api_json_begin(resp, 201, &w);
		meta_channel_json(&w, &c);
	}
	meta_channel_clear(&c);
	free(kinds);
	return rc;
}

int
h_channel_delete(ApiRequest *req, ApiResponse *resp)
{
	MetaChannel c;
	int rc;

	if ((rc = meta_channel_get(req->meta, req->params[0], &c)) < 0)
		return rc;
	rc = meta_channel_remove(req->meta, c.id);
	meta_channel_clear(&c);
	if (rc == 0)
		resp->status = 204;
	return rc;
}

int
h_channel_test(ApiRequest *req, ApiResponse *resp)
{
	bool delivered = false;
	char *error = NULL;
	int64_t delivery = 0;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = notify_test(req->meta, req->params[0], &delivered, &error, &delivery)) < 0)
		return rc;
	/* 200 either way: the test ran; its outcome is the answer (as a storage's Test) */
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_kv_bool(&w, "delivered", delivered);
	json_kv_int(&w, "delivery_id", delivery);
	json_kv_string(&w, "error", error);
	json_object_end(&w);
	free(error);
	return 0;
}

int
h_attempts_list(ApiRequest *req, ApiResponse *resp)
{
	const char *channel = api_query(req, "channel"), *q;
	uint64_t limit = 100;
	MetaAttempt *a = NULL;
	MetaChannel c = {0};
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((q = api_query(req, "limit")) != NULL && (str_to_u64(&limit, q, "limit") < 0 || limit < 1 || limit > 1000))
		return err_set(ERR_INVALID, "limit must be between 1 and 1000");
	if (channel && (rc = meta_channel_get(req->meta, channel, &c)) < 0)
		return rc;
	rc = meta_attempt_list(req->meta, c.id, (int64_t)limit, &a, &n);
	meta_channel_clear(&c);
	if (rc < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		meta_attempt_json(&w, &a[i]);
	json_array_end(&w);
	meta_attempt_array_free(a, n);
	return 0;
}
