/*
 * handlers_keys.c - /api/v1/clusters/{name}/keys and /encryption: a
 * cluster's encryption keys (doc/repository.md, "Encryption").
 *
 * Invariant: a passphrase reaches only cluster_key_add (which seals it);
 * no response, log line or audit entry holds it, nor a key file's bytes.
 */
#include "api/api_int.h"

#include "backup/backup.h"
#include "io/cipher.h"
#include "meta/meta.h"

#include <stdlib.h>
#include <string.h>

static void
key_emit(JsonWriter *w, const MetaKey *k)
{
	json_object_begin(w);
	json_kv_string(w, "fingerprint", k->fingerprint);
	json_kv_string(w, "kind", k->kind);
	json_kv_bool(w, "current", k->current);
	json_kv_string(w, "created_at", k->created_at);
	json_object_end(w);
}

/* The cluster's keys, the current one first: the answer of every route here. */
static int
keys_respond(ApiRequest *req, ApiResponse *resp, int status)
{
	MetaCluster c = {0};
	MetaKey *keys = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = meta_cluster_get(req->meta, req->params[0], &c)) < 0)
		return rc;
	meta_cluster_clear(&c);
	if ((rc = meta_key_list(req->meta, req->params[0], &keys, &n)) < 0)
		return rc;
	api_json_begin(resp, status, &w);
	json_object_begin(&w);
	json_kv_string(&w, "cluster", req->params[0]);
	json_kv_string(&w, "current", n > 0 && keys[0].current ? keys[0].fingerprint : NULL);
	json_key(&w, "keys");
	json_array_begin(&w);
	for (size_t key_idx = 0; key_idx < n; key_idx++)
		key_emit(&w, &keys[key_idx]);
	json_array_end(&w);
	json_object_end(&w);
	meta_key_array_free(keys, n);
	return 0;
}

int
h_cluster_keys_list(ApiRequest *req, ApiResponse *resp)
{
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0)
		return rc;
	return keys_respond(req, resp, 200);
}

int
h_cluster_key_add(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"key_file", FIELD_STRING, false, true},
		{"passphrase", FIELD_STRING, false, true},
		{"current", FIELD_BOOL, false, false},
		{NULL, 0, false, false},
	};
	KeyAddOpts o = {0};
	char fp[IO_FINGERPRINT_CHARS + 1];
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0 || (rc = api_body_check(req->json, fields)) < 0)
		return rc;
	o.cluster = req->params[0];
	o.key_file = json_get_string(req->json, "key_file");
	o.passphrase = json_get_string(req->json, "passphrase");
	o.current = json_get_bool(req->json, "current", true);
	if ((o.key_file != NULL) == (o.passphrase != NULL)) {
		rc = err_set(ERR_INVALID, "give exactly one of \"key_file\" and \"passphrase\"");
		err_hint("A key file is an absolute path, on the daemon's machine, of 32 random bytes with mode 0600.");
		return rc;
	}
	if ((rc = cluster_key_add(req->meta, &o, fp)) < 0)
		return rc;
	return keys_respond(req, resp, 201);
}

int
h_cluster_key_delete(ApiRequest *req, ApiResponse *resp)
{
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0 || (rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if (strlen(req->params[1]) != IO_FINGERPRINT_CHARS || strspn(req->params[1], "0123456789abcdef") != IO_FINGERPRINT_CHARS)
		return err_set(ERR_INVALID, "invalid key fingerprint \"%.40s\" (16 lowercase hex digits)", req->params[1]);
	if ((rc = cluster_key_remove(req->meta, req->params[0], req->params[1])) < 0)
		return rc;
	return keys_respond(req, resp, 200);
}

int
h_cluster_encryption_off(ApiRequest *req, ApiResponse *resp)
{
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0 || (rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = cluster_encryption_off(req->meta, req->params[0])) < 0)
		return rc;
	return keys_respond(req, resp, 200);
}
