/*
 * handlers_storages.c - /api/v1/storages: named storage configurations,
 * their secrets sealed (secret.h) before they reach the metadata, and the
 * Test probe.
 *
 * Invariant: a secret from a request is only ever passed to secret_seal
 * and wiped; no response, log line or error message contains it.
 */
#include "api/api_int.h"

#include "common/strutil.h"
#include "meta/secret.h"
#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

static int
uri_check(const char *uri)
{
	if (strlen(uri) > 1024 || (!str_starts_with(uri, "file:///") && !str_starts_with(uri, "s3://"))) {
		err_set(ERR_INVALID, "invalid storage URI \"%.100s\"", uri);
		err_hint("Use file:///absolute/path (local disk, NFS) or s3://bucket/prefix.");
		return ERR_INVALID;
	}
	return 0;
}

static void
storage_emit(JsonWriter *w, const MetaStorage *s)
{
	json_object_begin(w);
	json_kv_string(w, "name", s->name);
	json_kv_string(w, "uri", s->uri);
	json_kv_bool(w, "has_secret", s->secret != NULL && s->secret_len > 0);
	json_kv_string(w, "created_at", s->created_at);
	json_object_end(w);
}

int
h_storages_list(ApiRequest *req, ApiResponse *resp)
{
	MetaStorage *ss = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = meta_storage_list(req->meta, &ss, &n)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		storage_emit(&w, &ss[i]);
	json_array_end(&w);
	meta_storage_array_free(ss, n);
	return 0;
}

int
h_storage_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"name", FIELD_STRING, true, false},
		{"uri", FIELD_STRING, true, false},
		{"access_key", FIELD_STRING, false, true},
		{"secret_key", FIELD_STRING, false, true},
		{NULL, 0, false, false},
	};
	MetaStorage s = {0}, saved = {0};
	const char *access_key, *secret_key;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	s.name = (char *)json_get_string(req->json, "name");
	s.uri = (char *)json_get_string(req->json, "uri");
	access_key = json_get_string(req->json, "access_key");
	secret_key = json_get_string(req->json, "secret_key");
	if ((rc = api_name_check("storage", s.name)) < 0 || (rc = uri_check(s.uri)) < 0)
		return rc;
	if ((rc = meta_storage_seal_keys(req->meta, &s, access_key, secret_key)) < 0)
		return rc;
	if ((rc = meta_storage_put(req->meta, &s)) < 0 || (rc = meta_storage_get(req->meta, s.name, &saved)) < 0)
		goto out;
	api_json_begin(resp, 201, &w);
	storage_emit(&w, &saved);
out:
	free(s.secret);
	meta_storage_clear(&saved);
	return rc;
}

int
h_storage_delete(ApiRequest *req, ApiResponse *resp)
{
	MetaStorage s = {0};
	int rc;

	if ((rc = api_name_check("storage", req->params[0])) < 0)
		return rc;
	if ((rc = meta_storage_get(req->meta, req->params[0], &s)) < 0)
		return rc;
	meta_storage_clear(&s);
	if ((rc = meta_storage_remove(req->meta, req->params[0])) < 0)
		return rc;
	resp->status = 204;
	return 0;
}

static int
test_respond(ApiResponse *resp, const char *uri, const StorageOpenOpts *so)
{
	StorageTestReport r;
	JsonWriter w;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = storage_test_opts(uri, so, &r)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	storage_test_report_json(&w, uri, &r);
	return 0;
}

int
h_storage_test_uri(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"uri", FIELD_STRING, true, false},
		{NULL, 0, false, false},
	};
	const char *uri;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	uri = json_get_string(req->json, "uri");
	if ((rc = uri_check(uri)) < 0)
		return rc;
	return test_respond(resp, uri, NULL);
}

int
h_storage_test(ApiRequest *req, ApiResponse *resp)
{
	MetaStorage s = {0};
	char *access_key = NULL, *secret_key = NULL;
	int rc;

	if ((rc = api_name_check("storage", req->params[0])) < 0 || (rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = meta_storage_get(req->meta, req->params[0], &s)) < 0)
		return rc;
	/* with its own keys, as a backup to it opens it */
	if ((rc = meta_storage_keys(req->meta, &s, &access_key, &secret_key)) == 0) {
		StorageOpenOpts so = {access_key, secret_key, NULL};
		rc = test_respond(resp, s.uri, &so);
	}
	str_wipe_free(access_key);
	str_wipe_free(secret_key);
	meta_storage_clear(&s);
	return rc;
}
