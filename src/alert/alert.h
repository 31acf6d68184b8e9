/*
 * alert.h - alerts evaluated by the daemon and the notifications they send
 * (doc/alerts.md).
 *
 * An alert is a condition of one object (a cluster, a tenant or a task)
 * that the daemon checks every pass: WAL archive lag over a threshold, WAL
 * archiving failing, the newest backup task of a tenant failed, a backup
 * running longer than its threshold, no successful backup within the
 * strategy's period, storage use over a threshold.  It fires once, when its
 * condition starts to hold, and resolves once, when it stops: a firing
 * alert is never fired again however many passes see it.  Each firing and
 * each resolution queues one delivery per notification channel that takes
 * that kind; deliveries are retried with backoff until delivered or given
 * up, each attempt recorded.
 *
 * Thread safety: functions take the caller's Meta (one thread at a time);
 * an AlertService runs its own thread with its own Meta.
 */
#ifndef TENBACK_ALERT_ALERT_H
#define TENBACK_ALERT_ALERT_H

#include "common/json.h"
#include "common/strutil.h"
#include "meta/meta.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ALERT_WAL_ARCHIVE_LAG "wal_archive_lag"
#define ALERT_WAL_ARCHIVE_FAILING "wal_archive_failing"
#define ALERT_BACKUP_FAILED "backup_failed"
#define ALERT_BACKUP_SLOW "backup_slow"
#define ALERT_BACKUP_OVERDUE "backup_overdue"
#define ALERT_STORAGE_USE "storage_use"

/* The kinds above, NULL-terminated. */
extern const char *const alert_kinds[];
bool alert_kind_known(const char *kind);

/* ---- thresholds: a strategy's "alerts" object ---- */

#define ALERT_DEFAULT_WAL_LAG_S 600
#define ALERT_DEFAULT_BACKUP_DURATION_S (4 * 3600)

typedef struct AlertThresholds {
	int64_t wal_lag_s;          /* wal_lag_seconds: the cluster's smallest over its strategies */
	int64_t backup_duration_s;  /* backup_duration_seconds */
	int64_t backup_overdue_s;   /* backup_overdue_seconds; 0: the schedule's longest gap plus the duration */
	int64_t storage_bytes;      /* storage_bytes; 0: not checked */
} AlertThresholds;

void alert_thresholds_default(AlertThresholds *out);
/* json NULL: the defaults.  Keys left out keep their default.  ERR_INVALID
 * naming the key for an unknown key, a value that is not a non-negative
 * integer, or a zero lag or duration. */
int alert_thresholds_parse(const char *json, AlertThresholds *out);
void alert_thresholds_json(JsonWriter *w, const AlertThresholds *t);

/* ---- evaluation ---- */

typedef struct AlertCondition {
	char kind[32];
	char object[320];
	char cluster[128];          /* "" when none */
	char tenant[128];
	int64_t task_id;            /* 0: none */
	char message[1024];
} AlertCondition;

/* What one pass saw: the conditions that hold, and the (kind, object)
 * pairs it could not judge (a cluster that did not answer, a tenant whose
 * newest backup is running): their alerts stay as they are. */
typedef struct AlertObserved {
	AlertCondition *firing;
	size_t n_firing;
	StrList held;               /* "kind object" */
} AlertObserved;

void alert_observed_add(AlertObserved *o, const AlertCondition *c);
void alert_observed_hold(AlertObserved *o, const char *kind, const char *object);
void alert_observed_free(AlertObserved *o);

/* The state changes from the open (firing) alerts to what was observed:
 * indexes into obs->firing of conditions to fire (not open yet), and ids
 * of open alerts to resolve (not observed and not held).  Pure. */
typedef struct AlertChanges {
	size_t *fire;
	size_t n_fire;
	int64_t *resolve;
	size_t n_resolve;
} AlertChanges;

void alert_diff(const MetaAlert *open, size_t n_open, const AlertObserved *obs, AlertChanges *out);
void alert_changes_free(AlertChanges *c);

/* Run the checks at now against the metadata and the clusters. */
int alert_observe(Meta *m, time_t now, AlertObserved *out);
/* Record the changes obs brings (fire, resolve) and queue their
 * notifications; counts into out_fired and out_resolved (may be NULL). */
int alert_apply(Meta *m, const AlertObserved *obs, time_t now, int *out_fired, int *out_resolved);
/* One pass: alert_observe then alert_apply. */
int alert_evaluate(Meta *m, time_t now, int *out_fired, int *out_resolved);

/* ---- notifications (notify.c) ---- */

#define NOTIFY_MAX_ATTEMPTS 8
#define NOTIFY_TIMEOUT_S 10

/* "sha256=" and the lowercase hex HMAC-SHA256 of body under secret (72 bytes with the NUL). */
void notify_sign(const char *secret, const void *body, size_t len, char out[72]);

/* What a new channel is made of (the API's body, the CLI's options). */
typedef struct NotifyChannelSpec {
	const char *name;
	const char *type;           /* webhook, email */
	const char *url;
	const char *secret;         /* webhook: the HMAC key (required); email: the SMTP password (optional) */
	const char *username;       /* email */
	const char *from;           /* email */
	const char *to;             /* email: comma-separated */
	const char *kinds;          /* comma-separated kinds; NULL or "": every kind */
} NotifyChannelSpec;

/* Check spec, seal its secret with the home's master key, store it; the
 * stored channel into out.  ERR_INVALID naming the bad field; ERR_EXISTS. */
int notify_channel_create(Meta *m, const NotifyChannelSpec *spec, MetaChannel *out);

/* Queue one delivery of alert's event ("fired", "resolved") per channel
 * taking its kind, due at now. */
int notify_queue(Meta *m, const MetaAlert *alert, const char *event, time_t now);

/* Try every pending delivery due at now; a failure waits retry_base_s *
 * 2^(attempt-1) (at most an hour) before the next try, and the delivery
 * is given up after NOTIFY_MAX_ATTEMPTS.  out_tried may be NULL. */
int notify_deliver_due(Meta *m, time_t now, int retry_base_s, int *out_tried);

/* Send a test notification through the channel (id or name) now, once,
 * recorded as a delivery of event "test" with its attempt.  0 with
 * *out_delivered and the error (malloc'd, NULL when delivered) in
 * *out_error; <0 only when the channel cannot be read. */
int notify_test(Meta *m, const char *channel, bool *out_delivered, char **out_error, int64_t *out_delivery_id);

/* ---- the daemon's thread (service.c) ---- */

typedef struct AlertService AlertService;

/* Evaluate and deliver every interval_s seconds (0: 30) in a thread of
 * its own, with its own Meta opened in home. */
int alert_service_start(AlertService **out, const char *home, int interval_s);
void alert_service_stop(AlertService *s);

#endif
