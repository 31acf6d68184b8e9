/*
 * handlers_clusters.c - /api/v1/clusters: list, register, show with the
 * live state (version, status, WAL archiving), mark UPGRADING or NORMAL,
 * and the checkpoint ("Perform a major compaction").
 *
 * Invariant: a conninfo leaves the API without its password.
 */
#include "api/api_int.h"

#include "backup/backup.h"
#include "common/strutil.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* conninfo with any password removed, as key='value' pairs (malloc'd);
 * one that does not parse is shown as "(hidden)". */
static char *
conninfo_redacted(const char *conninfo)
{
	PQconninfoOption *opts;
	char *errmsg = NULL;
	Buf b = BUF_INIT;

	if (conninfo == NULL)
		return NULL;
	if ((opts = PQconninfoParse(conninfo, &errmsg)) == NULL) {
		PQfreemem(errmsg);
		return xstrdup("(hidden)");
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0)
			continue;
		if (b.len)
			buf_putc(&b, ' ');
		buf_printf(&b, "%s=", o->keyword);
		if (*o->val && strcspn(o->val, " '\\") == strlen(o->val)) {
			buf_puts(&b, o->val);
		} else {
			buf_putc(&b, '\'');
			for (const char *p = o->val; *p; p++) {
				if (*p == '\'' || *p == '\\')
					buf_putc(&b, '\\');
				buf_putc(&b, *p);
			}
			buf_putc(&b, '\'');
		}
	}
	PQconninfoFree(opts);
	return buf_steal(&b);
}

static void
cluster_emit(JsonWriter *w, const MetaCluster *c)
{
	char *ci = conninfo_redacted(c->conninfo);

	json_kv_string(w, "name", c->name);
	json_kv_string(w, "conninfo", ci);
	json_kv_string(w, "pgdata", c->pgdata);
	json_kv_string(w, "storage", c->storage);
	json_kv_string(w, "compress", c->compress);
	json_kv_string(w, "system_id", c->system_id);
	json_kv_int(w, "pg_version", c->pg_version);
	json_kv_string(w, "status", c->status);
	json_kv_string(w, "created_at", c->created_at);
	free(ci);
}

int
h_clusters_list(ApiRequest *req, ApiResponse *resp)
{
	MetaCluster *cs = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = meta_cluster_list(req->meta, &cs, &n)) < 0)
		return rc;
	api_json_begin(resp, 200, &w);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		json_object_begin(&w);
		cluster_emit(&w, &cs[i]);
		json_object_end(&w);
	}
	json_array_end(&w);
	meta_cluster_array_free(cs, n);
	return 0;
}

/* The cluster, and with live its state read from the server now. */
static int
cluster_respond(ApiRequest *req, ApiResponse *resp, const char *name, int status, bool live)
{
	MetaCluster c = {0};
	ClusterStatus st = {0};
	JsonWriter w;
	int rc;

	if ((rc = meta_cluster_get(req->meta, name, &c)) < 0)
		return rc;
	if (live && (rc = cluster_status(req->meta, name, &st)) < 0)
		goto out;
	api_json_begin(resp, status, &w);
	json_object_begin(&w);
	cluster_emit(&w, &c);
	if (live) {
		char reason[256] = "";
		const char *method = st.reachable ? tenant_backup_method(&c, st.version_num, reason, sizeof(reason)) : NULL;
		json_key(&w, "live");
		json_object_begin(&w);
		json_kv_bool(&w, "reachable", st.reachable);
		json_kv_string(&w, "error", st.error);
		json_kv_int(&w, "version_num", st.version_num);
		json_kv_string(&w, "version", st.version);
		json_kv_string(&w, "status", st.status);
		json_kv_bool(&w, "version_changed", st.version_changed);
		json_kv_string(&w, "backup_method", method);
		json_kv_string(&w, "backup_method_reason", method ? reason : NULL);
		json_key(&w, "archiving");
		json_object_begin(&w);
		json_kv_bool(&w, "ok", st.archiving_ok);
		json_kv_string(&w, "archive_command", st.archive_command);
		json_kv_int(&w, "archived_count", st.archived_count);
		json_kv_int(&w, "failed_count", st.failed_count);
		json_kv_string(&w, "last_archived_wal", st.last_archived_wal);
		json_kv_string(&w, "last_archived_time", st.last_archived_time);
		json_kv_string(&w, "last_failed_wal", st.last_failed_wal);
		json_kv_string(&w, "last_failed_time", st.last_failed_time);
		json_object_end(&w);
		json_object_end(&w);
	}
	json_object_end(&w);
out:
	cluster_status_clear(&st);
	meta_cluster_clear(&c);
	return rc;
}

int
h_cluster_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"name", FIELD_STRING, true, false},
		{"conninfo", FIELD_STRING, true, false},
		{"pgdata", FIELD_STRING, false, true},   /* absent or null: logical backup only */
		{"storage", FIELD_STRING, true, false},
		{"compress", FIELD_STRING, false, true},
		{NULL, 0, false, false},
	};
	ClusterAddOpts o = {0};
	MetaStorage st = {0};
	char *access_key = NULL, *secret_key = NULL;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	o.name = json_get_string(req->json, "name");
	o.conninfo = json_get_string(req->json, "conninfo");
	o.pgdata = json_get_string(req->json, "pgdata");
	o.storage = json_get_string(req->json, "storage");
	o.compress = json_get_string(req->json, "compress");
	if ((rc = api_name_check("cluster", o.name)) < 0)
		return rc;
	if (o.pgdata && o.pgdata[0] != '/')
		return err_set(ERR_INVALID, "pgdata must be an absolute path");
	if (o.compress) {
		IoCompress comp;
		if ((rc = io_compress_parse(&comp, o.compress)) < 0)
			return rc;
	}
	/* A storage is a URI, or the name of a storage configuration (with its keys). */
	if (strstr(o.storage, "://") == NULL) {
		if ((rc = api_name_check("storage", o.storage)) < 0 || (rc = meta_storage_get(req->meta, o.storage, &st)) < 0)
			return rc;
		o.storage = st.uri;
		if ((rc = meta_storage_keys(req->meta, &st, &access_key, &secret_key)) < 0)
			goto out;
		o.access_key = access_key;
		o.secret_key = secret_key;
	}
	if ((rc = cluster_add(req->meta, &o)) == 0)
		rc = cluster_respond(req, resp, o.name, 201, false);
out:
	str_wipe_free(access_key);
	str_wipe_free(secret_key);
	meta_storage_clear(&st);
	return rc;
}

int
h_cluster_get(ApiRequest *req, ApiResponse *resp)
{
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0)
		return rc;
	return cluster_respond(req, resp, req->params[0], 200, true);
}

int
h_cluster_status(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"status", FIELD_STRING, true, false},
		{NULL, 0, false, false},
	};
	const char *status;
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0 || (rc = api_body_check(req->json, fields)) < 0)
		return rc;
	status = json_get_string(req->json, "status");
	if (strcmp(status, "UPGRADING") != 0 && strcmp(status, "NORMAL") != 0) {
		err_set(ERR_INVALID, "invalid cluster status \"%.40s\"", status);
		err_hint("Use UPGRADING (a maintenance window) or NORMAL.");
		return ERR_INVALID;
	}
	if ((rc = cluster_set_status(req->meta, req->params[0], status)) < 0)
		return rc;
	return cluster_respond(req, resp, req->params[0], 200, false);
}

int
h_cluster_checkpoint(ApiRequest *req, ApiResponse *resp)
{
	char now[32];
	JsonWriter w;
	int rc;

	if ((rc = api_name_check("cluster", req->params[0])) < 0 || (rc = api_body_check(req->json, api_no_fields)) < 0)
		return rc;
	if ((rc = cluster_checkpoint(req->meta, req->params[0])) < 0)
		return rc;
	time_format_utc(now, sizeof(now), time(NULL));
	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	json_kv_string(&w, "cluster", req->params[0]);
	json_kv_bool(&w, "ok", true);
	json_kv_string(&w, "message", "checkpoint done");
	json_kv_string(&w, "finished_at", now);
	json_object_end(&w);
	return 0;
}
