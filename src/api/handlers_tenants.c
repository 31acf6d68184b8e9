/*
 * handlers_tenants.c - /api/v1/tenants: tenants discovered from each
 * cluster's pg_database, with the backup method identified, the last and
 * the next backup; a tenant's sets, window, strategy and tasks; and "Back
 * up now".
 *
 * A tenant's id is "<cluster>:<database oid>": stable across renames, safe
 * in a URL path.  "<cluster>:*" is the whole instance.
 */
#include "api/api_int.h"

#include "alert/alert.h"

#include "backup/backup.h"
#include "common/log.h"
#include "common/strutil.h"
#include "task/schedule.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Tenant {
	MetaCluster cluster;
	TenantInfo *all;          /* the cluster's databases */
	size_t n_all;
	const TenantInfo *info;   /* NULL for "*" */
	char *name;
	char *id;
} Tenant;

static void
tenant_clear(Tenant *t)
{
	meta_cluster_clear(&t->cluster);
	tenant_array_free(t->all, t->n_all);
	free(t->name);
	free(t->id);
	memset(t, 0, sizeof(*t));
}

static int
tenant_load(ApiRequest *req, const char *id, Tenant *out)
{
	const char *colon = id ? strchr(id, ':') : NULL;
	char cluster[64];
	const char *oid_text;
	uint64_t oid = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (colon == NULL || colon - id > 63) {
		err_set(ERR_INVALID, "invalid tenant id \"%.80s\"", id ? id : "");
		err_detail("A tenant id is \"<cluster>:<database oid>\", as GET /api/v1/tenants lists them.");
		return ERR_INVALID;
	}
	memcpy(cluster, id, (size_t)(colon - id));
	cluster[colon - id] = '\0';
	oid_text = colon + 1;
	if ((rc = api_name_check("cluster", cluster)) < 0)
		return rc;
	if (strcmp(oid_text, "*") != 0 &&
	    (strlen(oid_text) > 10 || str_to_u64(&oid, oid_text, "tenant oid") < 0 || oid == 0 || oid > UINT32_MAX)) {
		err_set(ERR_INVALID, "invalid tenant id \"%.80s\"", id);
		err_detail("A tenant id is \"<cluster>:<database oid>\", as GET /api/v1/tenants lists them.");
		return ERR_INVALID;
	}
	if ((rc = meta_cluster_get(req->meta, cluster, &out->cluster)) < 0)
		return rc;
	out->id = xstrdup(id);
	if (oid == 0) {
		out->name = xstrdup("*");
		return 0;
	}
	if ((rc = tenant_list(req->meta, cluster, &out->all, &out->n_all)) < 0)
		goto fail;
	for (size_t i = 0; i < out->n_all; i++)
		if (out->all[i].oid == (uint32_t)oid)
			out->info = &out->all[i];
	if (out->info == NULL) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" does not exist", id);
		err_detail("Cluster \"%s\" has no database with oid %s.", cluster, oid_text);
		err_hint("GET /api/v1/tenants lists the tenants.");
		goto fail;
	}
	out->name = xstrdup(out->info->name);
	return 0;
fail:
	tenant_clear(out);
	return rc;
}

int
api_tenant_resolve(ApiRequest *req, const char *id, char **out_cluster, char **out_tenant)
{
	Tenant t;
	int rc;

	if ((rc = tenant_load(req, id, &t)) < 0)
		return rc;
	*out_cluster = xstrdup(t.cluster.name);
	*out_tenant = xstrdup(t.name);
	tenant_clear(&t);
	return 0;
}

static void
set_emit(JsonWriter *w, const MetaSet *s)
{
	json_object_begin(w);
	json_kv_string(w, "id", s->id);
	json_kv_string(w, "cluster", s->cluster);
	json_kv_string(w, "tenant", s->tenant);
	json_kv_string(w, "type", s->type);
	json_kv_string(w, "method", s->method);
	json_kv_string(w, "status", s->status);
	json_kv_string(w, "start_time", s->start_time);
	json_kv_string(w, "stop_time", s->stop_time);
	json_kv_string(w, "start_lsn", s->start_lsn);
	json_kv_string(w, "stop_lsn", s->stop_lsn);
	json_kv_int(w, "timeline", s->timeline);
	json_kv_string(w, "system_id", s->system_id);
	json_kv_int(w, "size_bytes", s->size_bytes);
	json_kv_int(w, "stored_bytes", s->stored_bytes);
	json_kv_string(w, "verify_status", s->verify_status);
	json_kv_string(w, "verified_at", s->verified_at);
	json_kv_string(w, "verify_error", s->verify_error);
	json_kv_int(w, "file_count", s->file_count);
	json_kv_string(w, "parent", s->parent);
	json_kv_string(w, "storage", s->storage); /* null: the cluster's own storage */
	json_kv_string(w, "encryption_key", s->encryption_key); /* null: not encrypted */
	json_kv_string(w, "error", s->error);
	json_object_end(w);
}

/* The newest set of the tenant of type (NULL: any) and status (NULL: any), or NULL. */
static const MetaSet *
newest_set(const MetaSet *sets, size_t n, const char *type, const char *status)
{
	for (size_t i = n; i-- > 0;)
		if ((type == NULL || (sets[i].type && strcmp(sets[i].type, type) == 0)) &&
		    (status == NULL || (sets[i].status && strcmp(sets[i].status, status) == 0)))
			return &sets[i];
	return NULL;
}

/* Does the tenant have a completed physical full set (what an incremental builds on)? */
static bool
has_physical_full(const MetaSet *sets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sets[i].type && strcmp(sets[i].type, "full") == 0 && sets[i].status &&
		    strcmp(sets[i].status, "completed") == 0 && !(sets[i].method && strcmp(sets[i].method, "logical") == 0))
			return true;
	return false;
}

static void
next_backup_emit(JsonWriter *w, const MetaStrategy *st)
{
	time_t when;
	char mode[16], text[32];

	if (st == NULL || !st->enabled || st->schedule == NULL ||
	    schedule_next(st->schedule, time(NULL), &when, mode) < 0) {
		err_clear();
		json_null(w);
		return;
	}
	time_format_utc(text, sizeof(text), when);
	json_object_begin(w);
	json_kv_string(w, "time", text);
	json_kv_string(w, "mode", mode);
	json_object_end(w);
}

static void
strategy_emit(JsonWriter *w, const MetaStrategy *st)
{
	json_object_begin(w);
	json_kv_string(w, "method", st->method);
	json_kv_string(w, "storage", st->storage);
	json_key(w, "schedule");
	api_json_emit_text(w, st->schedule);
	json_kv_int(w, "retention_days", st->retention_days);
	json_kv_string(w, "compress", st->compress);
	json_kv_bool(w, "enabled", st->enabled != 0);
	json_kv_string(w, "last_fired", st->last_fired);
	json_key(w, "next_backup");
	next_backup_emit(w, st);
	AlertThresholds t;
	if (alert_thresholds_parse(st->alerts, &t) < 0)
		err_clear();
	json_key(w, "alerts");
	alert_thresholds_json(w, &t);
	json_object_end(w);
}

/* The fields shared by the list and the detail; the caller opened the object. */
static void
tenant_fields_emit(ApiRequest *req, JsonWriter *w, const MetaCluster *c, const ClusterStatus *cs,
                   const char *name, const TenantInfo *ti, const MetaSet *sets, size_t n_sets,
                   const MetaStrategy *st)
{
	char reason[256] = "";
	const char *method = cs->reachable ? tenant_backup_method(c, cs->version_num, reason, sizeof(reason)) : NULL;
	const MetaSet *last = newest_set(sets, n_sets, NULL, NULL);
	char *id = ti ? xasprintf("%s:%" PRIu32, c->name, ti->oid) : xasprintf("%s:*", c->name);
	(void)req;

	json_kv_string(w, "id", id);
	json_kv_string(w, "cluster", c->name);
	json_kv_string(w, "name", name);
	if (ti) {
		json_kv_int(w, "oid", ti->oid);
		json_kv_string(w, "owner", ti->owner);
		json_kv_int(w, "size_bytes", ti->size_bytes);
	} else {
		json_kv_string(w, "oid", NULL);
		json_kv_string(w, "owner", NULL);
		json_kv_string(w, "size_bytes", NULL);
	}
	json_kv_string(w, "version", cs->reachable ? cs->version : NULL);
	json_kv_int(w, "version_num", cs->reachable ? cs->version_num : c->pg_version);
	json_kv_string(w, "cluster_status", cs->status ? cs->status : c->status);
	json_kv_string(w, "backup_method", method);
	json_kv_string(w, "backup_method_reason", method ? reason : cs->error);
	json_key(w, "last_backup");
	if (last) {
		json_object_begin(w);
		json_kv_string(w, "set", last->id);
		json_kv_string(w, "type", last->type);
		json_kv_string(w, "status", last->status);
		json_kv_string(w, "stop_time", last->stop_time);
		json_object_end(w);
	} else {
		json_null(w);
	}
	json_key(w, "next_backup");
	next_backup_emit(w, st);
	free(id);
}

int
h_tenants_list(ApiRequest *req, ApiResponse *resp)
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
		ClusterStatus st = {0};
		TenantInfo *ts = NULL;
		size_t nt = 0;
		if (cluster_status(req->meta, cs[i].name, &st) < 0 || tenant_list(req->meta, cs[i].name, &ts, &nt) < 0) {
			/* An unreachable cluster hides its tenants, not the others'. */
			log_warning("tenant list: cluster \"%s\": %s", cs[i].name, err_message());
			err_clear();
			cluster_status_clear(&st);
			continue;
		}
		for (size_t j = 0; j < nt; j++) {
			MetaSet *sets = NULL;
			size_t ns = 0;
			MetaStrategy strat = {0};
			bool has_strat;
			if (ts[j].is_template || !ts[j].allow_conn)
				continue;
			if (meta_set_list(req->meta, cs[i].name, ts[j].name, NULL, &sets, &ns) < 0)
				err_clear();
			has_strat = meta_strategy_get(req->meta, cs[i].name, ts[j].name, &strat) == 0;
			err_clear();
			json_object_begin(&w);
			tenant_fields_emit(req, &w, &cs[i], &st, ts[j].name, &ts[j], sets, ns, has_strat ? &strat : NULL);
			json_object_end(&w);
			meta_strategy_clear(&strat);
			meta_set_array_free(sets, ns);
		}
		tenant_array_free(ts, nt);
		cluster_status_clear(&st);
	}
	json_array_end(&w);
	meta_cluster_array_free(cs, n);
	return 0;
}

static void
window_emit(JsonWriter *w, const WindowRange *r, size_t n)
{
	json_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		char lsn[32];
		json_object_begin(w);
		json_kv_string(w, "set", r[i].set_id);
		snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(r[i].start_lsn >> 32), (unsigned)r[i].start_lsn);
		json_kv_string(w, "start_lsn", lsn);
		json_kv_string(w, "start_time", r[i].start_time);
		snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(r[i].end_lsn >> 32), (unsigned)r[i].end_lsn);
		json_kv_string(w, "end_lsn", lsn);
		json_kv_string(w, "end_time", r[i].end_time);
		json_kv_string(w, "end_reason", r[i].end_reason);
		json_object_end(w);
	}
	json_array_end(w);
}

int
h_tenant_get(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	ClusterStatus cs = {0};
	MetaSet *sets = NULL;
	size_t ns = 0, nwin = 0;
	WindowRange *win = NULL;
	MetaStrategy strat = {0};
	bool has_strat;
	const MetaSet *full, *incr;
	char reason[256] = "";
	const char *method;
	JsonWriter w;
	int rc;

	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if ((rc = cluster_status(req->meta, t.cluster.name, &cs)) < 0 ||
	    (rc = meta_set_list(req->meta, t.cluster.name, t.name, NULL, &sets, &ns)) < 0)
		goto out;
	has_strat = meta_strategy_get(req->meta, t.cluster.name, t.name, &strat) == 0;
	if (backup_window(req->meta, t.cluster.name, t.name, &win, &nwin) < 0) {
		log_warning("window of tenant \"%s\": %s", t.id, err_message());
		nwin = 0;
	}
	err_clear();
	full = newest_set(sets, ns, "full", "completed");
	incr = newest_set(sets, ns, "incremental", "completed");
	method = cs.reachable ? tenant_backup_method(&t.cluster, cs.version_num, reason, sizeof(reason)) : NULL;

	api_json_begin(resp, 200, &w);
	json_object_begin(&w);
	tenant_fields_emit(req, &w, &t.cluster, &cs, t.name, t.info, sets, ns, has_strat ? &strat : NULL);
	json_key(&w, "cluster_live");
	json_object_begin(&w);
	json_kv_bool(&w, "reachable", cs.reachable);
	json_kv_string(&w, "error", cs.error);
	json_kv_bool(&w, "archiving_ok", cs.archiving_ok);
	json_kv_bool(&w, "version_changed", cs.version_changed);
	json_kv_string(&w, "storage", t.cluster.storage);
	json_object_end(&w);
	/* What the Back up Now dialog may offer. */
	json_key(&w, "modes");
	json_object_begin(&w);
	json_kv_bool(&w, "full", true);
	if (method && strcmp(method, "logical") == 0) {
		json_kv_bool(&w, "incremental", false);
		json_kv_string(&w, "incremental_reason", "Logical backup supports only full backup");
	} else if (!has_physical_full(sets, ns)) {
		/* a logical set is no parent: an incremental needs a physical full */
		json_kv_bool(&w, "incremental", false);
		json_kv_string(&w, "incremental_reason", "Full data backup needed before incremental data backup");
	} else {
		json_kv_bool(&w, "incremental", true);
		json_kv_string(&w, "incremental_reason", NULL);
	}
	json_object_end(&w);
	json_key(&w, "strategy");
	if (has_strat)
		strategy_emit(&w, &strat);
	else
		json_null(&w);
	json_key(&w, "last_full");
	if (full)
		set_emit(&w, full);
	else
		json_null(&w);
	json_key(&w, "last_incremental");
	if (incr)
		set_emit(&w, incr);
	else
		json_null(&w);
	json_key(&w, "window");
	window_emit(&w, win, nwin);
	json_object_end(&w);
out:
	window_array_free(win, nwin);
	meta_strategy_clear(&strat);
	meta_set_array_free(sets, ns);
	cluster_status_clear(&cs);
	tenant_clear(&t);
	return rc;
}

int
h_tenant_sets(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	MetaSet *sets = NULL;
	size_t ns = 0;
	JsonWriter w;
	int rc;

	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if ((rc = meta_set_list(req->meta, t.cluster.name, t.name, api_query(req, "status"), &sets, &ns)) == 0) {
		api_json_begin(resp, 200, &w);
		json_array_begin(&w);
		for (size_t i = ns; i-- > 0;)   /* newest first */
			set_emit(&w, &sets[i]);
		json_array_end(&w);
	}
	meta_set_array_free(sets, ns);
	tenant_clear(&t);
	return rc;
}

int
h_tenant_set_delete(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	StrList deleted = {0};
	const char *wd = api_query(req, "with_dependents");
	bool with_dependents = false;
	JsonWriter w;
	int rc;

	if ((rc = api_set_id_check(req->params[1])) < 0)
		return rc;
	if (wd && strcmp(wd, "true") == 0)
		with_dependents = true;
	else if (wd && strcmp(wd, "false") != 0)
		return err_set(ERR_INVALID, "with_dependents must be true or false");
	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if ((rc = backup_set_delete(req->meta, t.cluster.name, t.name, req->params[1], with_dependents, &deleted)) == 0) {
		api_json_begin(resp, 200, &w);
		json_object_begin(&w);
		json_key(&w, "deleted");
		json_array_begin(&w);
		for (size_t i = 0; i < deleted.count; i++)
			json_string(&w, deleted.items[i]);
		json_array_end(&w);
		json_object_end(&w);
	}
	strlist_free(&deleted);
	tenant_clear(&t);
	return rc;
}

int
h_tenant_set_verify(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	VerifyReport rep;
	MetaSet *sets = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = api_set_id_check(req->params[1])) < 0)
		return rc;
	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	rc = backup_verify(req->meta, t.cluster.name, t.name, req->params[1], &rep);
	if (rc == 0 || rc == ERR_CORRUPT) {
		/* damage is the answer, not a failure of the request */
		if ((rc = meta_set_list(req->meta, t.cluster.name, t.name, NULL, &sets, &n)) < 0)
			goto out;
		for (size_t i = 0; i < n; i++)
			if (strcmp(sets[i].id, req->params[1]) == 0) {
				api_json_begin(resp, 200, &w);
				json_object_begin(&w);
				json_kv_string(&w, "set", sets[i].id);
				json_kv_string(&w, "verify_status", sets[i].verify_status);
				json_kv_string(&w, "verified_at", sets[i].verified_at);
				json_kv_string(&w, "verify_error", sets[i].verify_error);
				json_kv_uint(&w, "files_checked", rep.files_checked + rep.wal_checked);
				json_kv_uint(&w, "bytes_checked", rep.bytes_checked);
				json_object_end(&w);
			}
	}
out:
	meta_set_array_free(sets, n);
	tenant_clear(&t);
	return rc;
}

int
h_tenant_window(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	WindowRange *win = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if ((rc = backup_window(req->meta, t.cluster.name, t.name, &win, &n)) == 0) {
		api_json_begin(resp, 200, &w);
		window_emit(&w, win, n);
	}
	window_array_free(win, n);
	tenant_clear(&t);
	return rc;
}

int
h_strategy_get(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	MetaStrategy st = {0};
	JsonWriter w;
	int rc;

	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if ((rc = meta_strategy_get(req->meta, t.cluster.name, t.name, &st)) == 0) {
		api_json_begin(resp, 200, &w);
		strategy_emit(&w, &st);
	} else if (rc == ERR_NOT_FOUND) {
		err_set(ERR_NOT_FOUND, "tenant \"%s\" has no backup strategy", t.id);
		err_hint("Create one with PUT /api/v1/tenants/%s/strategy.", t.id);
	}
	meta_strategy_clear(&st);
	tenant_clear(&t);
	return rc;
}

int
h_strategy_put(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"method", FIELD_STRING, false, true},
		{"storage", FIELD_STRING, false, true},
		{"schedule", FIELD_OBJECT, true, false},
		{"retention_days", FIELD_INT, false, true},
		{"compress", FIELD_STRING, false, true},
		{"enabled", FIELD_BOOL, false, true},
		{"alerts", FIELD_OBJECT, false, true},
		{NULL, 0, false, false},
	};
	AlertThresholds thresholds;
	char *alerts = NULL;
	Tenant t = {0};
	MetaStrategy old = {0}, st = {0};
	MetaStorage storage = {0};
	ClusterStatus cs = {0};
	char *schedule = NULL;
	const char *method, *storage_name, *compress;
	char reason[256];
	bool ok;
	int64_t days;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	method = json_get_string(req->json, "method");
	storage_name = json_get_string(req->json, "storage");
	compress = json_get_string(req->json, "compress");
	days = json_get_int(req->json, "retention_days", &ok);
	if (!ok)
		days = 7;
	if (days < 1 || days > 36500)
		return err_set(ERR_INVALID, "retention_days must be between 1 and 36500");
	if (method && strcmp(method, "physical") != 0 && strcmp(method, "logical") != 0) {
		err_set(ERR_INVALID, "invalid backup method \"%.40s\"", method);
		err_hint("Use physical or logical, or leave it out to identify it automatically.");
		return ERR_INVALID;
	}
	if (compress) {
		IoCompress comp;
		if ((rc = io_compress_parse(&comp, compress)) < 0)
			return rc;
	}
	schedule = api_json_text(json_get(req->json, "schedule"));
	if ((rc = schedule_validate(schedule)) < 0)
		goto out;
	if (json_get(req->json, "alerts") && (alerts = api_json_text(json_get(req->json, "alerts"))) != NULL &&
	    (rc = alert_thresholds_parse(alerts, &thresholds)) < 0)
		goto out;
	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		goto out;
	if (storage_name &&
	    ((rc = api_name_check("storage", storage_name)) < 0 || (rc = meta_storage_get(req->meta, storage_name, &storage)) < 0))
		goto out;
	if (method == NULL) {
		if ((rc = cluster_status(req->meta, t.cluster.name, &cs)) < 0)
			goto out;
		if (!cs.reachable) {
			rc = err_set(ERR_NETWORK, "cannot identify the backup method: cluster \"%s\" is not reachable", t.cluster.name);
			err_detail("%s", cs.error ? cs.error : "");
			err_hint("Give the method (physical or logical) in the strategy, or retry when the cluster is up.");
			goto out;
		}
		method = tenant_backup_method(&t.cluster, cs.version_num, reason, sizeof(reason));
	}
	char first_slot[32], first_mode[16];

	if (meta_strategy_get(req->meta, t.cluster.name, t.name, &old) < 0)
		err_clear();
	st.cluster = t.cluster.name;
	st.tenant = t.name;
	st.method = (char *)method;
	st.storage = (char *)storage_name;
	st.schedule = schedule;
	st.retention_days = days;
	/* absent: the cluster's compression, as a backup without a strategy has */
	st.compress = (char *)(compress ? compress : t.cluster.compress && *t.cluster.compress ? t.cluster.compress : "zstd");
	st.enabled = json_get_bool(req->json, "enabled", true);
	st.last_fired = old.last_fired;
	st.alerts = alerts;
	/* A new strategy starts with its next slot: the latest one already past
	 * counts as fired, so saving it does not start a backup at once. */
	if (st.last_fired == NULL && schedule_due(schedule, NULL, time(NULL), first_slot, first_mode) == 1)
		st.last_fired = first_slot;
	if ((rc = meta_strategy_put(req->meta, &st)) < 0)
		goto out;
	api_json_begin(resp, 200, &w);
	strategy_emit(&w, &st);
out:
	free(schedule);
	free(alerts);
	cluster_status_clear(&cs);
	meta_storage_clear(&storage);
	meta_strategy_clear(&old);
	tenant_clear(&t);
	return rc;
}

int
h_strategy_delete(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	int rc;

	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if ((rc = meta_strategy_remove(req->meta, t.cluster.name, t.name)) == 0)
		resp->status = 204;
	tenant_clear(&t);
	return rc;
}

int
h_tenant_tasks(ApiRequest *req, ApiResponse *resp)
{
	Tenant t;
	MetaTaskFilter f = {0};
	MetaTask *tasks = NULL;
	size_t n = 0;
	JsonWriter w;
	int rc;

	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	f.cluster = t.cluster.name;
	f.tenant = t.name;
	if ((rc = meta_task_list(req->meta, &f, &tasks, &n)) == 0) {
		api_json_begin(resp, 200, &w);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++)
			api_task_emit(&w, &tasks[i]);
		json_array_end(&w);
	}
	meta_task_array_free(tasks, n);
	tenant_clear(&t);
	return rc;
}

/* "max_rate": bytes per second as a number, or a size with a unit ("64M"); absent or null: 0. */
static int
max_rate_get(const JsonValue *body, uint64_t *out)
{
	const JsonValue *v = json_get(body, "max_rate");
	bool ok = false;
	int64_t n;

	*out = 0;
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	if (v->type == JSON_STRING)
		return size_parse(out, json_get_string(body, "max_rate"), "max_rate");
	n = json_get_int(body, "max_rate", &ok);
	if (!ok || n < 0) {
		err_set(ERR_INVALID, "max_rate must be a number of bytes per second or a size such as \"64M\"");
		return ERR_INVALID;
	}
	*out = (uint64_t)n;
	return 0;
}

int
h_backup_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"mode", FIELD_STRING, true, false},
		{"method", FIELD_STRING, false, true},
		{"storage", FIELD_STRING, false, true},
		{"max_rate", FIELD_ANY, false, true},
		{NULL, 0, false, false},
	};
	Tenant t = {0};
	MetaStorage storage = {0};
	MetaStrategy strat = {0};
	MetaTask task = {0};
	BackupRequest br = {0};
	int64_t task_id = 0;
	const char *mode, *storage_name, *method;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	mode = json_get_string(req->json, "mode");
	method = json_get_string(req->json, "method");
	if (method && strcmp(method, "physical") != 0 && strcmp(method, "logical") != 0) {
		err_set(ERR_INVALID, "invalid backup method \"%.40s\"", method);
		err_hint("Use \"physical\" or \"logical\", or leave it out: the strategy's, else identified.");
		return ERR_INVALID;
	}
	storage_name = json_get_string(req->json, "storage");
	if ((rc = max_rate_get(req->json, &br.max_rate)) < 0)
		return rc;
	if (strcmp(mode, "full") != 0 && strcmp(mode, "incremental") != 0) {
		err_set(ERR_INVALID, "invalid data backup mode \"%.40s\"", mode);
		err_hint("Use \"full\" or \"incremental\".");
		return ERR_INVALID;
	}
	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	if (storage_name) {
		if ((rc = api_name_check("storage", storage_name)) < 0 ||
		    (rc = meta_storage_get(req->meta, storage_name, &storage)) < 0)
			goto out;
	} else {
		bool has_strat = meta_strategy_get(req->meta, t.cluster.name, t.name, &strat) == 0;
		err_clear();
		if (!(has_strat && strat.storage && *strat.storage) && !(t.cluster.storage && *t.cluster.storage)) {
			rc = err_set(ERR_INVALID, "no storage for the backup of tenant \"%s\"", t.id);
			err_detail("The request names no storage, the tenant has no backup strategy with one, and the cluster has none.");
			err_hint("Give \"storage\" (a storage configuration name) in the request, or set one in the tenant's backup strategy.");
			goto out;
		}
	}
	br.cluster = t.cluster.name;
	br.tenant = t.name;
	br.mode = mode;
	br.method = method;
	br.storage = storage_name;
	br.created_by = req->user;
	if ((rc = task_backup_submit(req->engine, req->meta, &br, &task_id)) < 0)
		goto out;
	if ((rc = meta_task_get(req->meta, task_id, &task)) < 0)
		goto out;
	api_json_begin(resp, 202, &w);
	api_task_emit(&w, &task);
out:
	meta_task_clear(&task);
	meta_strategy_clear(&strat);
	meta_storage_clear(&storage);
	tenant_clear(&t);
	return rc;
}

int
h_restore_create(ApiRequest *req, ApiResponse *resp)
{
	static const ApiField fields[] = {
		{"set", FIELD_STRING, false, true},
		{"target", FIELD_STRING, false, true},
		{"target_time", FIELD_STRING, false, true},
		{"target_lsn", FIELD_STRING, false, true},
		{"target_xid", FIELD_STRING, false, true},
		{"target_name", FIELD_STRING, false, true},
		{"to", FIELD_STRING, false, true},
		{"port", FIELD_INT, false, true},
		{"start", FIELD_BOOL, false, true},
		{"socket_dir", FIELD_STRING, false, true},
		{"as", FIELD_STRING, false, true},
		{"into_cluster", FIELD_STRING, false, true},
		{"jobs", FIELD_INT, false, true},
		{"force", FIELD_BOOL, false, true},
		{NULL, 0, false, false},
	};
	Tenant t = {0};
	MetaTask task = {0};
	RestoreRequest rr = {0};
	int64_t task_id = 0;
	int64_t port;
	JsonWriter w;
	int rc;

	if ((rc = api_body_check(req->json, fields)) < 0)
		return rc;
	port = json_get_int(req->json, "port", NULL);
	if (port < 0 || port > 65535) {
		err_set(ERR_INVALID, "invalid port %lld", (long long)port);
		return ERR_INVALID;
	}
	if ((rc = tenant_load(req, req->params[0], &t)) < 0)
		return rc;
	rr.cluster = t.cluster.name;
	rr.tenant = t.name;
	rr.set = json_get_string(req->json, "set");
	rr.target = json_get_string(req->json, "target");
	rr.target_time = json_get_string(req->json, "target_time");
	rr.target_lsn = json_get_string(req->json, "target_lsn");
	rr.target_xid = json_get_string(req->json, "target_xid");
	rr.target_name = json_get_string(req->json, "target_name");
	rr.to = json_get_string(req->json, "to");
	rr.port = (int)port;
	rr.start = json_get_bool(req->json, "start", false);
	rr.socket_dir = json_get_string(req->json, "socket_dir");
	rr.as = json_get_string(req->json, "as");
	rr.into_cluster = json_get_string(req->json, "into_cluster");
	rr.jobs = (int)json_get_int(req->json, "jobs", NULL);
	rr.force = json_get_bool(req->json, "force", false);
	rr.created_by = req->user;
	if ((rc = task_restore_submit(req->engine, req->meta, &rr, &task_id)) < 0)
		goto out;
	if ((rc = meta_task_get(req->meta, task_id, &task)) < 0)
		goto out;
	api_json_begin(resp, 202, &w);
	api_task_emit(&w, &task);
out:
	meta_task_clear(&task);
	tenant_clear(&t);
	return rc;
}
