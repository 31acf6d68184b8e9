/*
 * handlers_metrics.c - GET /metrics: the Prometheus text format (0.0.4).
 *
 * Figures from the metadata (completed sets, tasks) and, per cluster, from
 * PostgreSQL's pg_stat_archiver (a connection with a 3-second timeout: a
 * cluster that does not answer gets tenback_cluster_up 0, not a slow
 * scrape).  Every family has its HELP and TYPE lines once, before its
 * samples; label values are escaped as the format says.
 */
#include "api/api_int.h"

#include "alert/alert.h"

#include "backup/backup_int.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/conn.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
label_value(Buf *b, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			buf_puts(b, "\\\\");
		else if (*p == '"')
			buf_puts(b, "\\\"");
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *p);
	}
}

static void
family(Buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"} value; labels: NULL-terminated key, value pairs */
static void
sample(Buf *b, const char *name, const char *const *labels, double value)
{
	buf_puts(b, name);
	if (labels && labels[0]) {
		buf_putc(b, '{');
		for (int i = 0; labels[i]; i += 2) {
			if (i)
				buf_putc(b, ',');
			buf_printf(b, "%s=\"", labels[i]);
			label_value(b, labels[i + 1]);
			buf_putc(b, '"');
		}
		buf_putc(b, '}');
	}
	if (value == (double)(int64_t)value)
		buf_printf(b, " %lld\n", (long long)value);
	else
		buf_printf(b, " %.6f\n", value);
}

static double
time_of(const char *text)
{
	time_t t;

	return text && api_time_parse(text, &t) == 0 ? (double)t : -1;
}

/* The newest completed set of each (tenant, type) of a cluster: sets are ordered by id. */
static void
set_metrics(Buf *b, Meta *meta, const MetaCluster *cs, size_t n_clusters)
{
	static const char *const families[][3] = {
		{"tenback_backup_last_success_timestamp_seconds", "gauge",
		 "When the newest completed backup set of a tenant and type finished (Unix time)."},
		{"tenback_backup_last_size_bytes", "gauge", "Size of the data directory files the newest set covers."},
		{"tenback_backup_last_stored_bytes", "gauge", "Bytes the newest set holds in storage (compressed)."},
		{"tenback_backup_last_duration_seconds", "gauge", "How long the newest completed set took."},
		{"tenback_backup_sets", "gauge", "Completed backup sets kept, by tenant and type."},
		{"tenback_backup_stored_bytes", "gauge", "Bytes all completed sets of a tenant hold in storage."},
	};
	Buf fam[6] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};

	for (size_t c = 0; c < n_clusters; c++) {
		MetaSet *sets = NULL;
		size_t n = 0;

		if (meta_set_list(meta, cs[c].name, NULL, "completed", &sets, &n) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			bool newest = true, first = true;
			int64_t count = 0, stored = 0;

			/* the newest of its (tenant, type), and the first of its tenant */
			for (size_t k = i + 1; k < n; k++)
				if (strcmp(sets[k].tenant, sets[i].tenant) == 0 && strcmp(sets[k].type, sets[i].type) == 0)
					newest = false;
			for (size_t k = 0; k < i; k++)
				if (strcmp(sets[k].tenant, sets[i].tenant) == 0)
					first = false;
			if (newest) {
				const char *const l[] = {"cluster", cs[c].name, "tenant", sets[i].tenant, "type", sets[i].type, NULL};
				double start = time_of(sets[i].start_time), stop = time_of(sets[i].stop_time);

				for (size_t k = 0; k < n; k++)
					if (strcmp(sets[k].tenant, sets[i].tenant) == 0 && strcmp(sets[k].type, sets[i].type) == 0)
						count++;
				if (stop >= 0)
					sample(&fam[0], families[0][0], l, stop);
				sample(&fam[1], families[1][0], l, (double)sets[i].size_bytes);
				sample(&fam[2], families[2][0], l, (double)sets[i].stored_bytes);
				if (start >= 0 && stop >= start)
					sample(&fam[3], families[3][0], l, stop - start);
				sample(&fam[4], families[4][0], l, (double)count);
			}
			if (first) {
				const char *const l[] = {"cluster", cs[c].name, "tenant", sets[i].tenant, NULL};
				for (size_t k = 0; k < n; k++)
					if (strcmp(sets[k].tenant, sets[i].tenant) == 0)
						stored += sets[k].stored_bytes;
				sample(&fam[5], families[5][0], l, (double)stored);
			}
		}
		meta_set_array_free(sets, n);
	}
	for (int f = 0; f < 6; f++) {
		family(b, families[f][0], families[f][1], families[f][2]);
		buf_append(b, fam[f].data ? fam[f].data : "", fam[f].len);
		buf_free(&fam[f]);
	}
}

static void
task_metrics(Buf *b, Meta *meta)
{
	MetaTaskStat *st = NULL;
	size_t n = 0;
	Buf dur = BUF_INIT;

	family(b, "tenback_tasks", "gauge", "Tasks by type, tenant and state (RUNNING, FAILED, SUCCEEDED, CANCELLED).");
	if (meta_task_stats(meta, &st, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *const l[] = {"type", st[i].type, "cluster", st[i].cluster, "tenant", st[i].tenant,
			                         "state", st[i].status, NULL};
			sample(b, "tenback_tasks", l, (double)st[i].count);
			if (strcmp(st[i].status, "SUCCEEDED") == 0 && st[i].last_duration_s >= 0) {
				const char *const dl[] = {"type", st[i].type, "cluster", st[i].cluster, "tenant", st[i].tenant, NULL};
				sample(&dur, "tenback_task_last_duration_seconds", dl, st[i].last_duration_s);
			}
		}
	}
	family(b, "tenback_task_last_duration_seconds", "gauge",
	       "How long the newest succeeded task of a type (backup, restore) and tenant ran.");
	buf_append(b, dur.data ? dur.data : "", dur.len);
	buf_free(&dur);
	meta_task_stats_free(st, n);
}

/* pg_stat_archiver of each cluster: lag is the time since the last segment was
 * archived while segments wait (.ready files), else 0. */
static void
archiver_metrics(Buf *b, const MetaCluster *cs, size_t n_clusters)
{
	static const char *const names[][3] = {
		{"tenback_cluster_up", "gauge", "1 when tenback could query the cluster for this scrape."},
		{"tenback_wal_archived_total", "counter", "WAL files archived since the statistics were reset (pg_stat_archiver)."},
		{"tenback_wal_archive_failed_total", "counter", "Failed archive_command runs (pg_stat_archiver)."},
		{"tenback_wal_archive_ready_files", "gauge", "WAL files waiting to be archived (.ready)."},
		{"tenback_wal_archive_lag_seconds", "gauge",
		 "Seconds since the last WAL file was archived, while files wait; 0 when none waits."},
		{"tenback_wal_archive_failing", "gauge", "1 when the last archive_command run failed."},
	};
	Buf fam[6] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};

	for (size_t c = 0; c < n_clusters; c++) {
		const char *const l[] = {"cluster", cs[c].name, NULL};
		PgConn *conn = NULL;
		PGresult *res = NULL;
		bool up = false;

		if (pg_conn_open_timeout(&conn, cs[c].conninfo, 3) == 0 &&
		    pg_conn_query(conn, &res,
		                  "SELECT archived_count, failed_count,"
		                  " (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'),"
		                  " coalesce(extract(epoch FROM now() - last_archived_time), 0),"
		                  " (last_failed_time IS NOT NULL AND last_failed_time > coalesce(last_archived_time, '-infinity'))::int"
		                  " FROM pg_stat_archiver", 0, NULL) == 0) {
			double ready = atof(PQgetvalue(res, 0, 2));

			up = true;
			sample(&fam[1], names[1][0], l, atof(PQgetvalue(res, 0, 0)));
			sample(&fam[2], names[2][0], l, atof(PQgetvalue(res, 0, 1)));
			sample(&fam[3], names[3][0], l, ready);
			sample(&fam[4], names[4][0], l, ready > 0 ? atof(PQgetvalue(res, 0, 3)) : 0);
			sample(&fam[5], names[5][0], l, atof(PQgetvalue(res, 0, 4)));
		}
		sample(&fam[0], names[0][0], l, up ? 1 : 0);
		PQclear(res);
		pg_conn_free(conn);
		err_clear();
	}
	for (int f = 0; f < 6; f++) {
		family(b, names[f][0], names[f][1], names[f][2]);
		buf_append(b, fam[f].data ? fam[f].data : "", fam[f].len);
		buf_free(&fam[f]);
	}
}

/* Alerts firing by kind (every kind, 0 included), and deliveries waiting or given up. */
static void
alert_metrics(Buf *b, Meta *meta)
{
	MetaAlert *a = NULL;
	size_t n = 0;

	family(b, "tenback_alerts_firing", "gauge", "Alerts firing, by kind (doc/alerts.md).");
	if (meta_alert_list(meta, true, 100000, &a, &n) < 0) {
		err_clear();
		return;
	}
	for (int k = 0; alert_kinds[k]; k++) {
		const char *const l[] = {"kind", alert_kinds[k], NULL};
		int64_t count = 0;
		for (size_t i = 0; i < n; i++)
			count += strcmp(a[i].kind, alert_kinds[k]) == 0;
		sample(b, "tenback_alerts_firing", l, (double)count);
	}
	meta_alert_array_free(a, n);
}

int
h_metrics(ApiRequest *req, ApiResponse *resp)
{
	MetaCluster *cs = NULL;
	size_t n = 0;
	int rc;

	if ((rc = meta_cluster_list(req->meta, &cs, &n)) < 0)
		return rc;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	family(&resp->body, "tenback_up", "gauge", "1: the daemon answers.");
	sample(&resp->body, "tenback_up", NULL, 1);
	family(&resp->body, "tenback_clusters", "gauge", "Registered clusters.");
	sample(&resp->body, "tenback_clusters", NULL, (double)n);
	set_metrics(&resp->body, req->meta, cs, n);
	task_metrics(&resp->body, req->meta);
	archiver_metrics(&resp->body, cs, n);
	alert_metrics(&resp->body, req->meta);
	meta_cluster_array_free(cs, n);
	return 0;
}
