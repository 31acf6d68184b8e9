/*
 * alert.c - alert thresholds, the checks of one pass, and the state
 * changes they bring (fire once, resolve once).
 *
 * Invariant: an alert's row changes only from firing to resolved, and only
 * when a pass did not see its condition and did not hold it; a pass that
 * cannot judge a condition (the cluster does not answer, the tenant's
 * newest backup is still running) leaves its alert as it is.
 */
#include "alert/alert.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "pg/conn.h"
#include "task/schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const alert_kinds[] = {
	ALERT_WAL_ARCHIVE_LAG, ALERT_WAL_ARCHIVE_FAILING, ALERT_BACKUP_FAILED,
	ALERT_BACKUP_SLOW, ALERT_BACKUP_OVERDUE, ALERT_STORAGE_USE, NULL,
};

bool
alert_kind_known(const char *kind)
{
	for (int i = 0; kind && alert_kinds[i]; i++)
		if (strcmp(kind, alert_kinds[i]) == 0)
			return true;
	return false;
}

/* ---- thresholds ---- */

void
alert_thresholds_default(AlertThresholds *out)
{
	out->wal_lag_s = ALERT_DEFAULT_WAL_LAG_S;
	out->backup_duration_s = ALERT_DEFAULT_BACKUP_DURATION_S;
	out->backup_overdue_s = 0;
	out->storage_bytes = 0;
}

int
alert_thresholds_parse(const char *json, AlertThresholds *out)
{
	static const char *const keys[] = {"wal_lag_seconds", "backup_duration_seconds", "backup_overdue_seconds",
	                                   "storage_bytes", NULL};
	JsonValue *v = NULL;
	int rc = 0;

	alert_thresholds_default(out);
	if (json == NULL || *json == '\0')
		return 0;
	if (json_parse(&v, json, strlen(json)) < 0 || v->type != JSON_OBJECT) {
		rc = err_set(ERR_INVALID, "invalid alert thresholds: not a JSON object");
		goto out;
	}
	for (size_t i = 0; i < v->count; i++) {
		const JsonValue *item = v->items[i];
		int64_t *dst = NULL;
		bool ok = false;
		int64_t n;

		for (int k = 0; keys[k]; k++)
			if (strcmp(item->key, keys[k]) == 0)
				dst = k == 0 ? &out->wal_lag_s : k == 1 ? &out->backup_duration_s
				    : k == 2 ? &out->backup_overdue_s : &out->storage_bytes;
		if (dst == NULL) {
			rc = err_set(ERR_INVALID, "invalid alert thresholds: unknown key \"%.60s\"", item->key);
			err_hint("Use wal_lag_seconds, backup_duration_seconds, backup_overdue_seconds and storage_bytes.");
			goto out;
		}
		if (item->type == JSON_NULL)
			continue;  /* null: the default */
		n = json_get_int(v, item->key, &ok);
		if (!ok || n < 0 || ((dst == &out->wal_lag_s || dst == &out->backup_duration_s) && n == 0)) {
			rc = err_set(ERR_INVALID, "invalid alert thresholds: \"%s\" must be a %s integer", item->key,
			             dst == &out->wal_lag_s || dst == &out->backup_duration_s ? "positive" : "non-negative");
			goto out;
		}
		*dst = n;
	}
out:
	json_free(v);
	if (rc < 0)
		alert_thresholds_default(out);
	return rc;
}

void
alert_thresholds_json(JsonWriter *w, const AlertThresholds *t)
{
	json_object_begin(w);
	json_kv_int(w, "wal_lag_seconds", t->wal_lag_s);
	json_kv_int(w, "backup_duration_seconds", t->backup_duration_s);
	json_kv_int(w, "backup_overdue_seconds", t->backup_overdue_s);
	json_kv_int(w, "storage_bytes", t->storage_bytes);
	json_object_end(w);
}

/* ---- what a pass observed ---- */

void
alert_observed_add(AlertObserved *o, const AlertCondition *c)
{
	o->firing = xrealloc(o->firing, (o->n_firing + 1) * sizeof(*o->firing));
	o->firing[o->n_firing++] = *c;
}

void
alert_observed_hold(AlertObserved *o, const char *kind, const char *object)
{
	strlist_add_owned(&o->held, xasprintf("%s %s", kind, object));
}

void
alert_observed_free(AlertObserved *o)
{
	free(o->firing);
	strlist_free(&o->held);
	memset(o, 0, sizeof(*o));
}

static bool
held(const AlertObserved *obs, const char *kind, const char *object)
{
	char *key = xasprintf("%s %s", kind, object);
	bool r = strlist_contains(&obs->held, key);

	free(key);
	return r;
}

void
alert_diff(const MetaAlert *open, size_t n_open, const AlertObserved *obs, AlertChanges *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < obs->n_firing; i++) {
		bool is_open = false, dup = false;
		for (size_t k = 0; k < n_open && !is_open; k++)
			is_open = strcmp(open[k].kind, obs->firing[i].kind) == 0 &&
			          strcmp(open[k].object, obs->firing[i].object) == 0;
		/* the same condition twice in one pass fires once */
		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(obs->firing[k].kind, obs->firing[i].kind) == 0 &&
			      strcmp(obs->firing[k].object, obs->firing[i].object) == 0;
		if (!is_open && !dup) {
			out->fire = xrealloc(out->fire, (out->n_fire + 1) * sizeof(*out->fire));
			out->fire[out->n_fire++] = i;
		}
	}
	for (size_t k = 0; k < n_open; k++) {
		bool seen = false;
		if (open[k].resolved_at)
			continue;
		for (size_t i = 0; i < obs->n_firing && !seen; i++)
			seen = strcmp(open[k].kind, obs->firing[i].kind) == 0 &&
			       strcmp(open[k].object, obs->firing[i].object) == 0;
		if (!seen && !held(obs, open[k].kind, open[k].object)) {
			out->resolve = xrealloc(out->resolve, (out->n_resolve + 1) * sizeof(*out->resolve));
			out->resolve[out->n_resolve++] = open[k].id;
		}
	}
}

void
alert_changes_free(AlertChanges *c)
{
	free(c->fire);
	free(c->resolve);
	memset(c, 0, sizeof(*c));
}

/* ---- the checks ---- */

/* "YYYY-MM-DD HH:MM:SS+00" (the metadata's times) into Unix seconds; -1 when unreadable. */
static time_t
parse_time(const char *s)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec;

	if (s == NULL || sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return timegm(&tm);
}

static void
cond_init(AlertCondition *c, const char *kind, const char *cluster, const char *tenant)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->kind, sizeof(c->kind), "%s", kind);
	snprintf(c->cluster, sizeof(c->cluster), "%s", cluster ? cluster : "");
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant ? tenant : "");
	if (tenant)
		snprintf(c->object, sizeof(c->object), "tenants/%s/%s", cluster, tenant);
	else
		snprintf(c->object, sizeof(c->object), "clusters/%s", cluster);
}

static const MetaStrategy *
strategy_of(const MetaStrategy *ss, size_t n, const char *cluster, const char *tenant)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ss[i].cluster, cluster) == 0 && strcmp(ss[i].tenant, tenant) == 0)
			return &ss[i];
	return NULL;
}

static void
thresholds_of(const MetaStrategy *s, AlertThresholds *out)
{
	if (s == NULL || alert_thresholds_parse(s->alerts, out) < 0) {
		err_clear();
		alert_thresholds_default(out);
	}
}

/* WAL archiving of each cluster: lag (while files wait) and failures. */
static void
check_archiving(AlertObserved *o, const MetaCluster *cs, size_t n_clusters, const MetaStrategy *ss, size_t n_ss)
{
	for (size_t c = 0; c < n_clusters; c++) {
		int64_t threshold = 0;
		PgConn *conn = NULL;
		PGresult *res = NULL;
		AlertCondition cond;

		for (size_t i = 0; i < n_ss; i++) {
			AlertThresholds t;
			if (strcmp(ss[i].cluster, cs[c].name) != 0)
				continue;
			thresholds_of(&ss[i], &t);
			if (threshold == 0 || t.wal_lag_s < threshold)
				threshold = t.wal_lag_s;
		}
		if (threshold == 0)
			threshold = ALERT_DEFAULT_WAL_LAG_S;
		cond_init(&cond, ALERT_WAL_ARCHIVE_LAG, cs[c].name, NULL);
		if (pg_conn_open_timeout(&conn, cs[c].conninfo, 3) < 0 ||
		    pg_conn_query(conn, &res,
		                  "SELECT (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'),"
		                  " floor(extract(epoch FROM now() - coalesce(last_archived_time, stats_reset,"
		                  "   pg_postmaster_start_time())))::bigint,"
		                  " (last_failed_time IS NOT NULL AND"
		                  "   last_failed_time > coalesce(last_archived_time, '-infinity'))::int,"
		                  " coalesce(last_failed_wal, ''), coalesce(last_failed_time::text, ''),"
		                  " coalesce(last_archived_time::text, 'never')"
		                  " FROM pg_stat_archiver", 0, NULL) < 0) {
			/* cannot judge: leave its alerts as they are */
			log_debug("alerts: cluster %s: %s", cs[c].name, err_message());
			err_clear();
			alert_observed_hold(o, ALERT_WAL_ARCHIVE_LAG, cond.object);
			alert_observed_hold(o, ALERT_WAL_ARCHIVE_FAILING, cond.object);
			pg_conn_free(conn);
			continue;
		}
		long long ready = atoll(PQgetvalue(res, 0, 0)), lag = atoll(PQgetvalue(res, 0, 1));
		if (ready > 0 && lag > threshold) {
			/* OCP's words */
			snprintf(cond.message, sizeof(cond.message),
			         "A log backup is delayed by %lld seconds, exceeding the threshold of %lld seconds", lag,
			         (long long)threshold);
			alert_observed_add(o, &cond);
		}
		if (atoi(PQgetvalue(res, 0, 2)) == 1) {
			cond_init(&cond, ALERT_WAL_ARCHIVE_FAILING, cs[c].name, NULL);
			snprintf(cond.message, sizeof(cond.message),
			         "WAL archiving of cluster \"%s\" is failing: archive_command failed for \"%s\" at %s"
			         " (last success: %s)", cs[c].name, PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4),
			         PQgetvalue(res, 0, 5));
			alert_observed_add(o, &cond);
		}
		PQclear(res);
		pg_conn_free(conn);
	}
}

/* The newest backup task of each tenant: failed fires, running holds. */
static void
check_failed(AlertObserved *o, const MetaBackupHead *hs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		AlertCondition cond;

		cond_init(&cond, ALERT_BACKUP_FAILED, hs[i].cluster, hs[i].tenant);
		if (strcmp(hs[i].status, "RUNNING") == 0) {
			alert_observed_hold(o, ALERT_BACKUP_FAILED, cond.object);
		} else if (strcmp(hs[i].status, "FAILED") == 0) {
			cond.task_id = hs[i].task_id;
			snprintf(cond.message, sizeof(cond.message), "Backup task %lld of tenant \"%s\" of cluster \"%s\" failed: %s",
			         (long long)hs[i].task_id, hs[i].tenant, hs[i].cluster, hs[i].error ? hs[i].error : "unknown error");
			alert_observed_add(o, &cond);
		}
	}
}

static void
check_slow(AlertObserved *o, Meta *m, time_t now, const MetaStrategy *ss, size_t n_ss)
{
	MetaTaskFilter f = {.status = "RUNNING", .type = "backup", .limit = 1000};
	MetaTask *ts = NULL;
	size_t n = 0;

	if (meta_task_list(m, &f, &ts, &n) < 0) {
		log_warning("alerts: %s", err_message());
		err_clear();
		return;
	}
	for (size_t i = 0; i < n; i++) {
		AlertThresholds t;
		time_t started = parse_time(ts[i].started_at ? ts[i].started_at : ts[i].created_at);
		AlertCondition cond;

		thresholds_of(strategy_of(ss, n_ss, ts[i].cluster, ts[i].tenant), &t);
		if (started < 0 || now - started <= t.backup_duration_s)
			continue;
		cond_init(&cond, ALERT_BACKUP_SLOW, ts[i].cluster, ts[i].tenant);
		snprintf(cond.object, sizeof(cond.object), "tasks/%lld", (long long)ts[i].id);
		cond.task_id = ts[i].id;
		snprintf(cond.message, sizeof(cond.message),
		         "Backup task %lld of tenant \"%s\" of cluster \"%s\" has been running for %lld seconds,"
		         " exceeding the threshold of %lld seconds", (long long)ts[i].id, ts[i].tenant, ts[i].cluster,
		         (long long)(now - started), (long long)t.backup_duration_s);
		alert_observed_add(o, &cond);
	}
	meta_task_array_free(ts, n);
}

/* The schedule's longest gap between two slots (over the next 62 days). */
static int64_t
schedule_gap_s(const char *schedule, time_t now)
{
	time_t at = now, next;
	int64_t gap = 0;
	char mode[16];
	time_t prev = 0;

	for (int i = 0; i < 80; i++) {
		if (schedule_next(schedule, at, &next, mode) < 0) {
			err_clear();
			return 0;
		}
		if (prev && next - prev > gap)
			gap = next - prev;
		if (next - now > 62 * 86400)
			break;
		prev = next;
		at = next;
	}
	return gap;
}

static void
check_strategies(AlertObserved *o, Meta *m, time_t now, const MetaStrategy *ss, size_t n_ss, const MetaBackupHead *hs,
                 size_t n_heads)
{
	for (size_t i = 0; i < n_ss; i++) {
		AlertThresholds t;
		MetaSet *sets = NULL;
		size_t n = 0;
		time_t newest = -1;
		int64_t stored = 0;
		AlertCondition cond;

		thresholds_of(&ss[i], &t);
		if (meta_set_list(m, ss[i].cluster, ss[i].tenant, "completed", &sets, &n) < 0) {
			log_warning("alerts: %s", err_message());
			err_clear();
			cond_init(&cond, ALERT_BACKUP_OVERDUE, ss[i].cluster, ss[i].tenant);
			alert_observed_hold(o, ALERT_BACKUP_OVERDUE, cond.object);
			alert_observed_hold(o, ALERT_STORAGE_USE, cond.object);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			time_t stop = parse_time(sets[k].stop_time);
			if (stop > newest)
				newest = stop;
			stored += sets[k].stored_bytes;
		}
		meta_set_array_free(sets, n);

		if (t.storage_bytes > 0 && stored > t.storage_bytes) {
			char have[32], limit[32];
			size_format(have, sizeof(have), (uint64_t)stored);
			size_format(limit, sizeof(limit), (uint64_t)t.storage_bytes);
			cond_init(&cond, ALERT_STORAGE_USE, ss[i].cluster, ss[i].tenant);
			snprintf(cond.message, sizeof(cond.message),
			         "Backup sets of tenant \"%s\" of cluster \"%s\" hold %s (%lld bytes), exceeding the threshold of %s"
			         " (%lld bytes)", ss[i].tenant, ss[i].cluster, have, (long long)stored, limit,
			         (long long)t.storage_bytes);
			alert_observed_add(o, &cond);
		}

		if (ss[i].enabled) {
			int64_t period = t.backup_overdue_s;
			time_t since = newest;
			if (period == 0) {
				int64_t gap = schedule_gap_s(ss[i].schedule, now);
				period = gap > 0 ? gap + t.backup_duration_s : 0;
			}
			/* never a completed set: from the tenant's first backup task */
			for (size_t k = 0; since < 0 && k < n_heads; k++)
				if (strcmp(hs[k].cluster, ss[i].cluster) == 0 && strcmp(hs[k].tenant, ss[i].tenant) == 0)
					since = parse_time(hs[k].first_created_at);
			if (period > 0 && since >= 0 && now - since > period) {
				cond_init(&cond, ALERT_BACKUP_OVERDUE, ss[i].cluster, ss[i].tenant);
				snprintf(cond.message, sizeof(cond.message),
				         "No successful backup of tenant \"%s\" of cluster \"%s\" for %lld seconds, exceeding the"
				         " threshold of %lld seconds", ss[i].tenant, ss[i].cluster, (long long)(now - since),
				         (long long)period);
				alert_observed_add(o, &cond);
			}
		}
	}
}

int
alert_observe(Meta *m, time_t now, AlertObserved *out)
{
	MetaCluster *cs = NULL;
	MetaStrategy *ss = NULL;
	MetaBackupHead *hs = NULL;
	size_t n_clusters = 0, n_ss = 0, n_heads = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_cluster_list(m, &cs, &n_clusters)) < 0 || (rc = meta_strategy_list(m, &ss, &n_ss)) < 0 ||
	    (rc = meta_backup_heads(m, &hs, &n_heads)) < 0)
		goto out;
	check_archiving(out, cs, n_clusters, ss, n_ss);
	check_failed(out, hs, n_heads);
	check_slow(out, m, now, ss, n_ss);
	check_strategies(out, m, now, ss, n_ss, hs, n_heads);
out:
	meta_cluster_array_free(cs, n_clusters);
	meta_strategy_array_free(ss, n_ss);
	meta_backup_heads_free(hs, n_heads);
	return rc;
}

int
alert_apply(Meta *m, const AlertObserved *obs, time_t now, int *out_fired, int *out_resolved)
{
	MetaAlert *open = NULL;
	size_t n_open = 0;
	AlertChanges ch;
	int rc, fired = 0, resolved = 0;

	if ((rc = meta_alert_list(m, true, 100000, &open, &n_open)) < 0)
		return rc;
	alert_diff(open, n_open, obs, &ch);
	for (size_t i = 0; i < ch.n_fire; i++) {
		const AlertCondition *c = &obs->firing[ch.fire[i]];
		MetaAlert a = {0};

		a.kind = xstrdup(c->kind);
		a.object = xstrdup(c->object);
		a.cluster = c->cluster[0] ? xstrdup(c->cluster) : NULL;
		a.tenant = c->tenant[0] ? xstrdup(c->tenant) : NULL;
		a.task_id = c->task_id;
		a.message = xstrdup(c->message);
		if ((rc = meta_alert_fire(m, &a)) == 0) {
			fired++;
			log_warning("alert %lld fired: %s %s: %s", (long long)a.id, a.kind, a.object, a.message);
			if (notify_queue(m, &a, "fired", now) < 0)
				log_warning("alert %lld: could not queue its notifications: %s", (long long)a.id, err_message());
		} else {
			log_warning("alert %s %s: %s", a.kind, a.object, err_message());
		}
		err_clear();
		meta_alert_clear(&a);
	}
	for (size_t i = 0; i < ch.n_resolve; i++) {
		MetaAlert a;
		if (meta_alert_resolve(m, ch.resolve[i]) < 0 || meta_alert_get(m, ch.resolve[i], &a) < 0) {
			log_warning("alert %lld: %s", (long long)ch.resolve[i], err_message());
			err_clear();
			continue;
		}
		resolved++;
		log_info("alert %lld resolved: %s %s", (long long)a.id, a.kind, a.object);
		if (notify_queue(m, &a, "resolved", now) < 0) {
			log_warning("alert %lld: could not queue its notifications: %s", (long long)a.id, err_message());
			err_clear();
		}
		meta_alert_clear(&a);
	}
	alert_changes_free(&ch);
	meta_alert_array_free(open, n_open);
	if (out_fired)
		*out_fired = fired;
	if (out_resolved)
		*out_resolved = resolved;
	return 0;
}

int
alert_evaluate(Meta *m, time_t now, int *out_fired, int *out_resolved)
{
	AlertObserved obs;
	int rc;

	if ((rc = alert_observe(m, now, &obs)) == 0)
		rc = alert_apply(m, &obs, now, out_fired, out_resolved);
	alert_observed_free(&obs);
	return rc;
}
