/*
 * meta_alert.c - the tables of alerts and notifications: alerts (fired
 * once, resolved once), notification channels, deliveries (one per channel
 * and alert event, retried until delivered or given up) and their attempts.
 *
 * Invariants: at most one alert of a kind and object is firing (a partial
 * unique index); a channel's secret reaches this file sealed (secret.h) and
 * never leaves it in a JSON form.
 */
#include "meta/meta.h"
#include "meta/meta_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
now_text(char *out, size_t cap)
{
	time_format_utc(out, cap, time(NULL));
}

static void
bind_id_or_null(sqlite3_stmt *st, int idx, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, idx, v);
	else
		sqlite3_bind_null(st, idx);
}

/* ---- alerts ---- */

#define ALERT_COLS "id, kind, object, cluster, tenant, task_id, message, fired_at, resolved_at, acked_at, acked_by"

static void
read_alert(sqlite3_stmt *st, MetaAlert *a)
{
	a->id = sqlite3_column_int64(st, 0);
	a->kind = meta_col_text(st, 1);
	a->object = meta_col_text(st, 2);
	a->cluster = meta_col_text(st, 3);
	a->tenant = meta_col_text(st, 4);
	a->task_id = sqlite3_column_int64(st, 5);
	a->message = meta_col_text(st, 6);
	a->fired_at = meta_col_text(st, 7);
	a->resolved_at = meta_col_text(st, 8);
	a->acked_at = meta_col_text(st, 9);
	a->acked_by = meta_col_text(st, 10);
}

int
meta_alert_fire(Meta *m, MetaAlert *a)
{
	sqlite3_stmt *st;
	char now[40];
	int rc, ext;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO alert (kind, object, cluster, tenant, task_id, message, fired_at)"
	                               " VALUES (?,?,?,?,?,?,?)")) < 0)
		return rc;
	meta_bind_text(st, 1, a->kind);
	meta_bind_text(st, 2, a->object);
	meta_bind_text(st, 3, a->cluster);
	meta_bind_text(st, 4, a->tenant);
	bind_id_or_null(st, 5, a->task_id);
	meta_bind_text(st, 6, a->message);
	meta_bind_text(st, 7, now);
	rc = sqlite3_step(st);
	ext = sqlite3_extended_errcode(m->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && ext == SQLITE_CONSTRAINT_UNIQUE)
		return err_set(ERR_EXISTS, "an alert %s of \"%s\" is already firing", a->kind, a->object);
	if (rc != SQLITE_DONE)
		return meta_db_error(m, "insert of an alert");
	a->id = sqlite3_last_insert_rowid(m->db);
	free(a->fired_at);
	a->fired_at = xstrdup(now);
	return 0;
}

int
meta_alert_resolve(Meta *m, int64_t id)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "UPDATE alert SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL")) < 0)
		return rc;
	meta_bind_text(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	return meta_step_done(m, st, "update of an alert");
}

int
meta_alert_get(Meta *m, int64_t id, MetaAlert *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT " ALERT_COLS " FROM alert WHERE id = ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_alert(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(ERR_NOT_FOUND, "alert %lld does not exist", (long long)id);
	} else {
		rc = meta_db_error(m, "read of an alert");
	}
	sqlite3_finalize(st);
	return rc;
}

int
meta_alert_ack(Meta *m, int64_t id, const char *user)
{
	sqlite3_stmt *st;
	MetaAlert a;
	char now[40];
	int rc;

	if ((rc = meta_alert_get(m, id, &a)) < 0)
		return rc;
	meta_alert_clear(&a);
	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "UPDATE alert SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL")) < 0)
		return rc;
	meta_bind_text(st, 1, now);
	meta_bind_text(st, 2, user);
	sqlite3_bind_int64(st, 3, id);
	return meta_step_done(m, st, "update of an alert");
}

int
meta_alert_list(Meta *m, bool firing_only, int64_t limit, MetaAlert **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaAlert *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " ALERT_COLS " FROM alert WHERE (?1 = 0 OR resolved_at IS NULL)"
	                               " ORDER BY id DESC LIMIT ?2")) < 0)
		return rc;
	sqlite3_bind_int(st, 1, firing_only ? 1 : 0);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : 100);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_alert(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_alert_array_free(a, n);
		return meta_db_error(m, "list of alerts");
	}
	*out = a;
	*out_count = n;
	return 0;
}

void
meta_alert_clear(MetaAlert *a)
{
	if (a == NULL)
		return;
	free(a->kind);
	free(a->object);
	free(a->cluster);
	free(a->tenant);
	free(a->message);
	free(a->fired_at);
	free(a->resolved_at);
	free(a->acked_at);
	free(a->acked_by);
	memset(a, 0, sizeof(*a));
}

void
meta_alert_array_free(MetaAlert *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_alert_clear(&a[i]);
	free(a);
}

void
meta_alert_json(JsonWriter *w, const MetaAlert *a)
{
	json_object_begin(w);
	json_kv_int(w, "id", a->id);
	json_kv_string(w, "kind", a->kind);
	json_kv_string(w, "object", a->object);
	json_kv_string(w, "cluster", a->cluster);
	json_kv_string(w, "tenant", a->tenant);
	json_key(w, "task_id");
	if (a->task_id)
		json_int(w, a->task_id);
	else
		json_null(w);
	json_kv_string(w, "message", a->message);
	json_kv_string(w, "state", a->resolved_at ? "resolved" : "firing");
	json_kv_string(w, "fired_at", a->fired_at);
	json_kv_string(w, "resolved_at", a->resolved_at);
	json_kv_string(w, "acknowledged_at", a->acked_at);
	json_kv_string(w, "acknowledged_by", a->acked_by);
	json_object_end(w);
}

/* ---- channels ---- */

#define CHANNEL_COLS "id, name, type, url, secret, username, mail_from, mail_to, kinds, created_at"

static void
read_channel(sqlite3_stmt *st, MetaChannel *c)
{
	c->id = sqlite3_column_int64(st, 0);
	c->name = meta_col_text(st, 1);
	c->type = meta_col_text(st, 2);
	c->url = meta_col_text(st, 3);
	if (sqlite3_column_bytes(st, 4) > 0) {
		c->secret_len = (size_t)sqlite3_column_bytes(st, 4);
		c->secret = xmalloc(c->secret_len);
		memcpy(c->secret, sqlite3_column_blob(st, 4), c->secret_len);
	}
	c->username = meta_col_text(st, 5);
	c->mail_from = meta_col_text(st, 6);
	c->mail_to = meta_col_text(st, 7);
	c->kinds = meta_col_text(st, 8);
	c->created_at = meta_col_text(st, 9);
}

int
meta_channel_add(Meta *m, MetaChannel *c)
{
	sqlite3_stmt *st;
	char now[40];
	int rc, ext;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO notify_channel (name, type, url, secret, username, mail_from, mail_to,"
	                               " kinds, created_at) VALUES (?,?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	meta_bind_text(st, 1, c->name);
	meta_bind_text(st, 2, c->type);
	meta_bind_text(st, 3, c->url);
	if (c->secret && c->secret_len)
		sqlite3_bind_blob(st, 4, c->secret, (int)c->secret_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	meta_bind_text(st, 5, c->username);
	meta_bind_text(st, 6, c->mail_from);
	meta_bind_text(st, 7, c->mail_to);
	meta_bind_text(st, 8, c->kinds ? c->kinds : "");
	meta_bind_text(st, 9, now);
	rc = sqlite3_step(st);
	ext = sqlite3_extended_errcode(m->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && ext == SQLITE_CONSTRAINT_UNIQUE)
		return err_set(ERR_EXISTS, "notification channel \"%s\" already exists", c->name);
	if (rc != SQLITE_DONE)
		return meta_db_error(m, "insert of a notification channel");
	c->id = sqlite3_last_insert_rowid(m->db);
	return 0;
}

int
meta_channel_get(Meta *m, const char *id_or_name, MetaChannel *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_prepare(m, &st, "SELECT " CHANNEL_COLS " FROM notify_channel"
	                               " WHERE name = ?1 OR CAST(id AS TEXT) = ?1 ORDER BY name = ?1 DESC LIMIT 1")) < 0)
		return rc;
	meta_bind_text(st, 1, id_or_name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_channel(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(ERR_NOT_FOUND, "notification channel \"%s\" does not exist", id_or_name);
		err_hint("\"tenback notify channel list\" shows the channels.");
	} else {
		rc = meta_db_error(m, "read of a notification channel");
	}
	sqlite3_finalize(st);
	return rc;
}

int
meta_channel_list(Meta *m, MetaChannel **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaChannel *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " CHANNEL_COLS " FROM notify_channel ORDER BY id")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_channel(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_channel_array_free(a, n);
		return meta_db_error(m, "list of notification channels");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_channel_remove(Meta *m, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM notify_channel WHERE id = ?")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = meta_step_done(m, st, "removal of a notification channel")) < 0)
		return rc;
	return sqlite3_changes(m->db) ? 0 : err_set(ERR_NOT_FOUND, "notification channel %lld does not exist", (long long)id);
}

void
meta_channel_clear(MetaChannel *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->type);
	free(c->url);
	free(c->secret);
	free(c->username);
	free(c->mail_from);
	free(c->mail_to);
	free(c->kinds);
	free(c->created_at);
	memset(c, 0, sizeof(*c));
}

void
meta_channel_array_free(MetaChannel *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_channel_clear(&a[i]);
	free(a);
}

void
meta_channel_json(JsonWriter *w, const MetaChannel *c)
{
	json_object_begin(w);
	json_kv_int(w, "id", c->id);
	json_kv_string(w, "name", c->name);
	json_kv_string(w, "type", c->type);
	json_kv_string(w, "url", c->url);
	json_kv_bool(w, "has_secret", c->secret != NULL && c->secret_len > 0);
	if (strcmp(c->type, "email") == 0) {
		json_kv_string(w, "username", c->username);
		json_kv_string(w, "from", c->mail_from);
		json_kv_string(w, "to", c->mail_to);
	}
	json_key(w, "kinds");
	json_array_begin(w);
	if (c->kinds && *c->kinds) {
		char *copy = xstrdup(c->kinds), *save = NULL;
		for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save))
			json_string(w, k);
		free(copy);
	}
	json_array_end(w);
	json_kv_string(w, "created_at", c->created_at);
	json_object_end(w);
}

/* ---- deliveries and attempts ---- */

#define DELIVERY_COLS "id, channel_id, alert_id, event, payload, status, attempts, next_attempt_at, last_error," \
	" created_at, delivered_at"

static void
read_delivery(sqlite3_stmt *st, MetaDelivery *d)
{
	d->id = sqlite3_column_int64(st, 0);
	d->channel_id = sqlite3_column_int64(st, 1);
	d->alert_id = sqlite3_column_int64(st, 2);
	d->event = meta_col_text(st, 3);
	d->payload = meta_col_text(st, 4);
	d->status = meta_col_text(st, 5);
	d->attempts = sqlite3_column_int64(st, 6);
	d->next_attempt_at = sqlite3_column_int64(st, 7);
	d->last_error = meta_col_text(st, 8);
	d->created_at = meta_col_text(st, 9);
	d->delivered_at = meta_col_text(st, 10);
}

int
meta_delivery_add(Meta *m, MetaDelivery *d)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO notify_delivery (channel_id, alert_id, event, payload, status, attempts,"
	                               " next_attempt_at, last_error, created_at, delivered_at)"
	                               " VALUES (?,?,?,?,?,?,?,?,?,?)")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, d->channel_id);
	bind_id_or_null(st, 2, d->alert_id);
	meta_bind_text(st, 3, d->event);
	meta_bind_text(st, 4, d->payload);
	meta_bind_text(st, 5, d->status ? d->status : "pending");
	sqlite3_bind_int64(st, 6, d->attempts);
	sqlite3_bind_int64(st, 7, d->next_attempt_at);
	meta_bind_text(st, 8, d->last_error);
	meta_bind_text(st, 9, now);
	meta_bind_text(st, 10, d->delivered_at);
	if ((rc = meta_step_done(m, st, "insert of a notification delivery")) < 0)
		return rc;
	d->id = sqlite3_last_insert_rowid(m->db);
	return 0;
}

int
meta_delivery_due(Meta *m, int64_t now, MetaDelivery **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaDelivery *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " DELIVERY_COLS " FROM notify_delivery"
	                               " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT 100")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_delivery(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_delivery_array_free(a, n);
		return meta_db_error(m, "list of notification deliveries");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_delivery_update(Meta *m, const MetaDelivery *d)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE notify_delivery SET status = ?, attempts = ?, next_attempt_at = ?,"
	                               " last_error = ?, delivered_at = ? WHERE id = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, d->status);
	sqlite3_bind_int64(st, 2, d->attempts);
	sqlite3_bind_int64(st, 3, d->next_attempt_at);
	meta_bind_text(st, 4, d->last_error);
	meta_bind_text(st, 5, d->delivered_at);
	sqlite3_bind_int64(st, 6, d->id);
	return meta_step_done(m, st, "update of a notification delivery");
}

void
meta_delivery_clear(MetaDelivery *d)
{
	if (d == NULL)
		return;
	free(d->event);
	free(d->payload);
	free(d->status);
	free(d->last_error);
	free(d->created_at);
	free(d->delivered_at);
	memset(d, 0, sizeof(*d));
}

void
meta_delivery_array_free(MetaDelivery *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		meta_delivery_clear(&a[i]);
	free(a);
}

int
meta_attempt_add(Meta *m, const MetaAttempt *a)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	now_text(now, sizeof(now));
	if ((rc = meta_prepare(m, &st, "INSERT INTO notify_attempt (delivery_id, attempt, at, outcome, http_status, error)"
	                               " VALUES (?,?,?,?,?,?)")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, a->delivery_id);
	sqlite3_bind_int64(st, 2, a->attempt);
	meta_bind_text(st, 3, now);
	meta_bind_text(st, 4, a->outcome);
	bind_id_or_null(st, 5, a->http_status);
	meta_bind_text(st, 6, a->error);
	return meta_step_done(m, st, "insert of a notification attempt");
}

int
meta_attempt_list(Meta *m, int64_t channel_id, int64_t limit, MetaAttempt **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaAttempt *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT t.id, t.delivery_id, t.attempt, t.at, t.outcome, t.http_status, t.error,"
	                               " d.channel_id, c.name, d.alert_id, d.event, d.status, d.next_attempt_at"
	                               " FROM notify_attempt t JOIN notify_delivery d ON d.id = t.delivery_id"
	                               " JOIN notify_channel c ON c.id = d.channel_id"
	                               " WHERE ?1 = 0 OR d.channel_id = ?1 ORDER BY t.id DESC LIMIT ?2")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, channel_id);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : 100);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		MetaAttempt *t;
		a = xrealloc(a, (n + 1) * sizeof(*a));
		t = &a[n++];
		memset(t, 0, sizeof(*t));
		t->id = sqlite3_column_int64(st, 0);
		t->delivery_id = sqlite3_column_int64(st, 1);
		t->attempt = sqlite3_column_int64(st, 2);
		t->at = meta_col_text(st, 3);
		t->outcome = meta_col_text(st, 4);
		t->http_status = sqlite3_column_int64(st, 5);
		t->error = meta_col_text(st, 6);
		t->channel_id = sqlite3_column_int64(st, 7);
		t->channel = meta_col_text(st, 8);
		t->alert_id = sqlite3_column_int64(st, 9);
		t->event = meta_col_text(st, 10);
		t->delivery_status = meta_col_text(st, 11);
		t->next_attempt_at = sqlite3_column_int64(st, 12);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_attempt_array_free(a, n);
		return meta_db_error(m, "list of notification attempts");
	}
	*out = a;
	*out_count = n;
	return 0;
}

void
meta_attempt_array_free(MetaAttempt *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].at);
		free(a[i].outcome);
		free(a[i].error);
		free(a[i].channel);
		free(a[i].event);
		free(a[i].delivery_status);
	}
	free(a);
}

void
meta_attempt_json(JsonWriter *w, const MetaAttempt *a)
{
	json_object_begin(w);
	json_kv_int(w, "id", a->id);
	json_kv_int(w, "delivery_id", a->delivery_id);
	json_kv_int(w, "attempt", a->attempt);
	json_kv_string(w, "at", a->at);
	json_kv_string(w, "outcome", a->outcome);
	json_key(w, "http_status");
	if (a->http_status)
		json_int(w, a->http_status);
	else
		json_null(w);
	json_kv_string(w, "error", a->error);
	json_kv_int(w, "channel_id", a->channel_id);
	json_kv_string(w, "channel", a->channel);
	json_key(w, "alert_id");
	if (a->alert_id)
		json_int(w, a->alert_id);
	else
		json_null(w);
	json_kv_string(w, "event", a->event);
	json_kv_string(w, "delivery_status", a->delivery_status);
	json_object_end(w);
}

/* ---- what the alert checks read of tasks ---- */

int
meta_backup_heads(Meta *m, MetaBackupHead **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaBackupHead *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT cluster, tenant, max(id), min(created_at) FROM task WHERE type = 'backup'"
	                               " GROUP BY cluster, tenant ORDER BY cluster, tenant")) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		MetaBackupHead *h;
		a = xrealloc(a, (n + 1) * sizeof(*a));
		h = &a[n++];
		memset(h, 0, sizeof(*h));
		h->cluster = meta_col_text(st, 0);
		h->tenant = meta_col_text(st, 1);
		h->task_id = sqlite3_column_int64(st, 2);
		h->first_created_at = meta_col_text(st, 3);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_backup_heads_free(a, n);
		return meta_db_error(m, "list of backup tasks");
	}
	for (size_t i = 0; i < n; i++) {
		if ((rc = meta_prepare(m, &st, "SELECT status, error FROM task WHERE id = ?")) < 0) {
			meta_backup_heads_free(a, n);
			return rc;
		}
		sqlite3_bind_int64(st, 1, a[i].task_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			a[i].status = meta_col_text(st, 0);
			a[i].error = meta_col_text(st, 1);
		}
		sqlite3_finalize(st);
		if (a[i].status == NULL)
			a[i].status = xstrdup("UNKNOWN");
	}
	*out = a;
	*out_count = n;
	return 0;
}

void
meta_backup_heads_free(MetaBackupHead *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].cluster);
		free(a[i].tenant);
		free(a[i].status);
		free(a[i].error);
		free(a[i].first_created_at);
	}
	free(a);
}
