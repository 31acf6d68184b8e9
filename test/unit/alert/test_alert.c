/*
 * test_alert.c - unit tests for alerts and notifications (src/alert).
 *
 * Invariants under test: the webhook signature is HMAC-SHA256 in lowercase
 * hex (RFC 4231's vectors); alert_diff fires a condition not yet open,
 * resolves an open alert whose condition is gone and not held, and never
 * fires an open one again; alert_apply against a real store fires once,
 * resolves once, fires again after a resolution, and queues one delivery
 * per channel that takes the kind, for each event; thresholds parse with
 * defaults and refuse what they do not know; the checks (alert_observe)
 * find a failed tenant, a slow backup, a tenant without a recent backup
 * and one over its storage threshold, and hold what they cannot judge (a
 * cluster that does not answer, a tenant whose newest backup runs); a
 * channel is checked before
 * it is stored and its secret is sealed; a delivery that fails is retried
 * with doubling waits and given up after NOTIFY_MAX_ATTEMPTS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "alert/alert.h"
#include "common/buf.h"
#include "common/error.h"
#include "meta/meta.h"
#include "meta/secret.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct Fixture {
	char *dir;
	Meta *meta;
} Fixture;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	Fixture *fx = xcalloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/tenback-test-alert-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx->dir = xstrdup(tmpl);
	if (meta_open(&fx->meta, fx->dir) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *fx = *state;

	meta_free(fx->meta);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->dir);
	free(fx);
	return 0;
}

static AlertCondition
cond(const char *kind, const char *object, const char *message)
{
	AlertCondition c;

	memset(&c, 0, sizeof(c));
	snprintf(c.kind, sizeof(c.kind), "%s", kind);
	snprintf(c.object, sizeof(c.object), "%s", object);
	snprintf(c.cluster, sizeof(c.cluster), "main");
	snprintf(c.message, sizeof(c.message), "%s", message);
	return c;
}

static void
test_sign(void **state)
{
	char sig[72];
	(void)state;

	/* RFC 4231, test case 2 */
	notify_sign("Jefe", "what do ya want for nothing?", 28, sig);
	assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* an empty body has a signature too */
	notify_sign("key", "", 0, sig);
	assert_string_equal(sig, "sha256=5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

static void
test_diff(void **state)
{
	MetaAlert open[2] = {
		{.id = 1, .kind = (char *)ALERT_WAL_ARCHIVE_LAG, .object = (char *)"clusters/main"},
		{.id = 2, .kind = (char *)ALERT_BACKUP_FAILED, .object = (char *)"tenants/main/shop"},
	};
	AlertObserved obs = {0};
	AlertChanges ch;
	AlertCondition c;
	(void)state;

	/* nothing observed, nothing held: both resolve */
	alert_diff(open, 2, &obs, &ch);
	assert_int_equal(ch.n_fire, 0);
	assert_int_equal(ch.n_resolve, 2);
	alert_changes_free(&ch);

	/* the lag still holds (another message: still the same alert), the failure is held */
	c = cond(ALERT_WAL_ARCHIVE_LAG, "clusters/main", "delayed by 99 seconds");
	alert_observed_add(&obs, &c);
	alert_observed_hold(&obs, ALERT_BACKUP_FAILED, "tenants/main/shop");
	alert_diff(open, 2, &obs, &ch);
	assert_int_equal(ch.n_fire, 0);
	assert_int_equal(ch.n_resolve, 0);
	alert_changes_free(&ch);

	/* a new condition fires, once even when seen twice; a hold of another object holds nothing */
	c = cond(ALERT_STORAGE_USE, "tenants/main/shop", "too big");
	alert_observed_add(&obs, &c);
	alert_observed_add(&obs, &c);
	alert_observed_free(&obs);
	c = cond(ALERT_STORAGE_USE, "tenants/main/shop", "too big");
	alert_observed_add(&obs, &c);
	alert_observed_add(&obs, &c);
	alert_observed_hold(&obs, ALERT_BACKUP_FAILED, "tenants/main/other");
	alert_diff(open, 2, &obs, &ch);
	assert_int_equal(ch.n_fire, 1);
	assert_int_equal(ch.fire[0], 0);
	assert_int_equal(ch.n_resolve, 2);
	assert_int_equal(ch.resolve[0], 1);
	assert_int_equal(ch.resolve[1], 2);
	alert_changes_free(&ch);
	alert_observed_free(&obs);
}

static size_t
deliveries_due(Meta *m, int64_t now)
{
	MetaDelivery *d = NULL;
	size_t n = 0;

	assert_int_equal(meta_delivery_due(m, now, &d, &n), 0);
	meta_delivery_array_free(d, n);
	return n;
}

static void
test_apply(void **state)
{
	Fixture *fx = *state;
	AlertObserved obs = {0};
	NotifyChannelSpec all = {.name = "all", .type = "webhook", .url = "http://127.0.0.1:1/hook",
	                         .secret = "0123456789abcdef"};
	NotifyChannelSpec lag = {.name = "lagonly", .type = "email", .url = "smtp://127.0.0.1:1",
	                         .from = "tb@example.com", .to = "ops@example.com", .kinds = ALERT_WAL_ARCHIVE_LAG};
	MetaChannel c;
	MetaAlert *a = NULL;
	size_t n = 0;
	AlertCondition lagc = cond(ALERT_WAL_ARCHIVE_LAG, "clusters/main", "A log backup is delayed by 700 seconds, "
	                           "exceeding the threshold of 600 seconds");
	AlertCondition failc = cond(ALERT_BACKUP_FAILED, "tenants/main/shop", "Backup task 3 failed");
	int fired = -1, resolved = -1;

	assert_int_equal(notify_channel_create(fx->meta, &all, &c), 0);
	meta_channel_clear(&c);
	assert_int_equal(notify_channel_create(fx->meta, &lag, &c), 0);
	meta_channel_clear(&c);

	alert_observed_add(&obs, &lagc);
	alert_observed_add(&obs, &failc);
	assert_int_equal(alert_apply(fx->meta, &obs, 1000, &fired, &resolved), 0);
	assert_int_equal(fired, 2);
	assert_int_equal(resolved, 0);
	/* lag: both channels; failure: the webhook only */
	assert_int_equal(deliveries_due(fx->meta, 1000), 3);

	/* the same again: nothing changes, nothing is queued */
	assert_int_equal(alert_apply(fx->meta, &obs, 1001, &fired, &resolved), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(resolved, 0);
	assert_int_equal(deliveries_due(fx->meta, 1001), 3);
	assert_int_equal(meta_alert_list(fx->meta, false, 0, &a, &n), 0);
	assert_int_equal(n, 2);
	meta_alert_array_free(a, n);

	/* the failure clears: resolved once, its resolution queued to the webhook */
	alert_observed_free(&obs);
	alert_observed_add(&obs, &lagc);
	assert_int_equal(alert_apply(fx->meta, &obs, 1002, &fired, &resolved), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(resolved, 1);
	assert_int_equal(deliveries_due(fx->meta, 1002), 4);
	assert_int_equal(alert_apply(fx->meta, &obs, 1003, &fired, &resolved), 0);
	assert_int_equal(resolved, 0);
	assert_int_equal(meta_alert_list(fx->meta, true, 0, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].kind, ALERT_WAL_ARCHIVE_LAG);
	assert_string_equal(a[0].message, lagc.message);
	meta_alert_array_free(a, n);

	/* it fails again: a new alert */
	alert_observed_add(&obs, &failc);
	assert_int_equal(alert_apply(fx->meta, &obs, 1004, &fired, &resolved), 0);
	assert_int_equal(fired, 1);
	assert_int_equal(meta_alert_list(fx->meta, false, 0, &a, &n), 0);
	assert_int_equal(n, 3);
	meta_alert_array_free(a, n);
	alert_observed_free(&obs);
}

static void
test_thresholds(void **state)
{
	AlertThresholds t;
	(void)state;

	assert_int_equal(alert_thresholds_parse(NULL, &t), 0);
	assert_int_equal(t.wal_lag_s, 600);
	assert_int_equal(t.backup_duration_s, 14400);
	assert_int_equal(t.backup_overdue_s, 0);
	assert_int_equal(t.storage_bytes, 0);
	assert_int_equal(alert_thresholds_parse("{\"wal_lag_seconds\": 30, \"storage_bytes\": 1000000, "
	                                        "\"backup_duration_seconds\": null}", &t), 0);
	assert_int_equal(t.wal_lag_s, 30);
	assert_int_equal(t.storage_bytes, 1000000);
	assert_int_equal(t.backup_duration_s, 14400);
	assert_int_equal(alert_thresholds_parse("{\"lag\": 3}", &t), ERR_INVALID);
	assert_string_equal(err_message(), "invalid alert thresholds: unknown key \"lag\"");
	assert_int_equal(alert_thresholds_parse("{\"wal_lag_seconds\": 0}", &t), ERR_INVALID);
	assert_string_equal(err_message(), "invalid alert thresholds: \"wal_lag_seconds\" must be a positive integer");
	assert_int_equal(alert_thresholds_parse("{\"storage_bytes\": -1}", &t), ERR_INVALID);
	assert_int_equal(alert_thresholds_parse("{\"storage_bytes\": \"1GB\"}", &t), ERR_INVALID);
	assert_int_equal(alert_thresholds_parse("[1]", &t), ERR_INVALID);
	assert_int_equal(t.wal_lag_s, 600); /* the defaults after an error */
}

static void
test_channel_checks(void **state)
{
	Fixture *fx = *state;
	MetaChannel c;
	NotifyChannelSpec s = {.name = "hooks", .type = "webhook", .url = "http://127.0.0.1:1/x", .secret = "short"};
	uint8_t *plain = NULL;
	size_t len = 0;

	assert_int_equal(notify_channel_create(fx->meta, &s, &c), ERR_INVALID);
	assert_string_equal(err_message(), "a webhook channel needs a secret of at least 16 characters");
	s.secret = "0123456789abcdefXYZ";
	s.url = "ftp://example.com/";
	assert_int_equal(notify_channel_create(fx->meta, &s, &c), ERR_INVALID);
	assert_string_equal(err_message(), "invalid webhook URL \"ftp://example.com/\"");
	s.url = "http://127.0.0.1:1/x";
	s.kinds = "backup_failed,disk_on_fire";
	assert_int_equal(notify_channel_create(fx->meta, &s, &c), ERR_INVALID);
	assert_string_equal(err_message(), "unknown alert kind \"disk_on_fire\"");
	s.kinds = NULL;
	s.type = "pager";
	assert_int_equal(notify_channel_create(fx->meta, &s, &c), ERR_INVALID);
	s.type = "webhook";
	s.name = "123";
	assert_int_equal(notify_channel_create(fx->meta, &s, &c), ERR_INVALID); /* would read as an id */
	s.name = "hooks";
	assert_int_equal(notify_channel_create(fx->meta, &s, &c), 0);
	/* sealed, not in clear; opens with the home's key */
	assert_non_null(c.secret);
	assert_null(memmem(c.secret, c.secret_len, "0123456789abcdef", 16));
	assert_int_equal(secret_open(fx->dir, c.secret, c.secret_len, &plain, &len), 0);
	assert_string_equal((char *)plain, "0123456789abcdefXYZ");
	free(plain);
	meta_channel_clear(&c);
	assert_int_equal(notify_channel_create(fx->meta, &s, &c), ERR_EXISTS);

	NotifyChannelSpec m = {.name = "mail", .type = "email", .url = "smtp://127.0.0.1:1", .from = "a@b",
	                       .to = "x@y\r\nBcc: evil@z"};
	assert_int_equal(notify_channel_create(fx->meta, &m, &c), ERR_INVALID); /* no header injection */
	m.to = "x@y";
	m.from = NULL;
	assert_int_equal(notify_channel_create(fx->meta, &m, &c), ERR_INVALID);
	m.from = "a@b";
	assert_int_equal(notify_channel_create(fx->meta, &m, &c), 0);
	assert_null(c.secret);
	meta_channel_clear(&c);
	/* by id or by name */
	assert_int_equal(meta_channel_get(fx->meta, "2", &c), 0);
	assert_string_equal(c.name, "mail");
	meta_channel_clear(&c);
}

static void
test_retry_backoff(void **state)
{
	Fixture *fx = *state;
	NotifyChannelSpec s = {.name = "down", .type = "webhook", .url = "http://127.0.0.1:1/nothing-listens",
	                       .secret = "0123456789abcdef"};
	MetaChannel c;
	MetaAlert a = {.id = 7, .kind = (char *)ALERT_BACKUP_FAILED, .object = (char *)"tenants/main/shop",
	               .message = (char *)"Backup task 3 failed", .fired_at = (char *)"2026-11-27 00:00:00+00"};
	MetaAttempt *t = NULL;
	MetaDelivery *d = NULL;
	size_t n = 0;
	int tried = 0;
	time_t now = 100000;
	int64_t waits[NOTIFY_MAX_ATTEMPTS];

	assert_int_equal(notify_channel_create(fx->meta, &s, &c), 0);
	meta_channel_clear(&c);
	assert_int_equal(notify_queue(fx->meta, &a, "fired", now), 0);
	for (int i = 0; i < NOTIFY_MAX_ATTEMPTS; i++) {
		assert_int_equal(notify_deliver_due(fx->meta, now, 10, &tried), 0);
		assert_int_equal(tried, 1);
		/* not due again before its wait is over */
		assert_int_equal(notify_deliver_due(fx->meta, now, 10, &tried), 0);
		assert_int_equal(tried, 0);
		assert_int_equal(meta_delivery_due(fx->meta, INT64_MAX, &d, &n), 0);
		if (i < NOTIFY_MAX_ATTEMPTS - 1) {
			assert_int_equal(n, 1);
			assert_int_equal(d[0].attempts, i + 1);
			waits[i] = d[0].next_attempt_at - (int64_t)now;
			now = (time_t)d[0].next_attempt_at;
		} else {
			assert_int_equal(n, 0); /* given up */
		}
		meta_delivery_array_free(d, n);
	}
	assert_int_equal(waits[0], 10);
	assert_int_equal(waits[1], 20);
	assert_int_equal(waits[2], 40);
	assert_int_equal(waits[6], 640);
	assert_int_equal(meta_attempt_list(fx->meta, 0, 0, &t, &n), 0);
	assert_int_equal(n, NOTIFY_MAX_ATTEMPTS);
	assert_string_equal(t[0].outcome, "failed");
	assert_string_equal(t[0].delivery_status, "failed");
	assert_int_equal(t[0].http_status, 0);
	assert_non_null(strstr(t[0].error, "could not send to webhook"));
	meta_attempt_array_free(t, n);
}

static bool
observed(const AlertObserved *o, const char *kind, const char *object, const char *message_part)
{
	for (size_t i = 0; i < o->n_firing; i++)
		if (strcmp(o->firing[i].kind, kind) == 0 && strcmp(o->firing[i].object, object) == 0 &&
		    (message_part == NULL || strstr(o->firing[i].message, message_part)))
			return true;
	return false;
}

static void
add_task(Meta *m, const char *tenant, const char *status, const char *created_at, int64_t *out_id)
{
	MetaTask t = {0};

	t.type = (char *)"backup";
	t.cluster = (char *)"main";
	t.tenant = (char *)tenant;
	t.status = (char *)status;
	t.created_at = (char *)created_at;
	t.started_at = (char *)created_at;
	assert_int_equal(meta_task_insert(m, &t), 0);
	if (strcmp(status, "FAILED") == 0) {
		t.error = (char *)"step \"Back up data\": could not write";
		assert_int_equal(meta_task_update(m, &t), 0);
	}
	*out_id = t.id;
}

static void
test_observe(void **state)
{
	Fixture *fx = *state;
	MetaCluster c = {0};
	MetaStrategy st = {0};
	MetaSet set = {0};
	AlertObserved o;
	int64_t slow_id, failed_id, old_id;
	char object[64];
	/* 2026-01-10 00:00:00 UTC */
	time_t now = 1768003200;

	c.name = (char *)"main";
	c.conninfo = (char *)"host=/nonexistent-tenback-test port=1 connect_timeout=1";
	c.pgdata = (char *)"/nonexistent";
	c.storage = (char *)"file:///nonexistent";
	c.compress = (char *)"zstd";
	c.system_id = (char *)"1";
	c.pg_version = 150000;
	c.created_at = (char *)"2026-01-01 00:00:00+00";
	assert_int_equal(meta_cluster_add(fx->meta, &c), 0);
	/* shop: an old completed set, over its storage threshold; its newest backup runs for 9 days */
	st.cluster = (char *)"main";
	st.tenant = (char *)"shop";
	st.method = (char *)"physical";
	st.schedule = (char *)"{\"kind\": \"week\", \"days\": {\"mon\": \"FULL\"}, \"time\": \"02:00\"}";
	st.retention_days = 7;
	st.compress = (char *)"zstd";
	st.enabled = 1;
	st.alerts = (char *)"{\"storage_bytes\": 100}";
	assert_int_equal(meta_strategy_put(fx->meta, &st), 0);
	set.cluster = (char *)"main";
	set.tenant = (char *)"shop";
	set.id = (char *)"20260101-000000F";
	set.type = (char *)"full";
	set.method = (char *)"physical";
	set.status = (char *)"completed";
	set.storage_path = (char *)"x";
	set.start_time = (char *)"2025-12-31 23:00:00+00";
	set.stop_time = (char *)"2026-01-01 00:00:00+00";
	set.stored_bytes = 1000;
	assert_int_equal(meta_set_insert(fx->meta, &set), 0);
	add_task(fx->meta, "shop", "FAILED", "2025-12-31 00:00:00+00", &old_id);
	add_task(fx->meta, "shop", "RUNNING", "2026-01-01 00:00:00+00", &slow_id);
	/* crm: its newest backup failed */
	add_task(fx->meta, "crm", "FAILED", "2026-01-09 23:00:00+00", &failed_id);

	assert_int_equal(alert_observe(fx->meta, now, &o), 0);
	snprintf(object, sizeof(object), "tasks/%lld", (long long)slow_id);
	assert_true(observed(&o, ALERT_BACKUP_SLOW, object, "has been running for 777600 seconds, exceeding the threshold of 14400 seconds"));
	assert_true(observed(&o, ALERT_BACKUP_FAILED, "tenants/main/crm", "failed: step \"Back up data\": could not write"));
	assert_false(observed(&o, ALERT_BACKUP_FAILED, "tenants/main/shop", NULL)); /* its newest runs: held */
	assert_true(strlist_contains(&o.held, "backup_failed tenants/main/shop"));
	assert_true(observed(&o, ALERT_STORAGE_USE, "tenants/main/shop", "(1000 bytes), exceeding the threshold of"));
	/* weekly: 7 days between slots, plus the 4 h duration threshold */
	assert_true(observed(&o, ALERT_BACKUP_OVERDUE, "tenants/main/shop", "for 777600 seconds, exceeding the threshold of 619200 seconds"));
	/* the cluster does not answer: its WAL alerts neither fire nor resolve */
	assert_false(observed(&o, ALERT_WAL_ARCHIVE_LAG, "clusters/main", NULL));
	assert_true(strlist_contains(&o.held, "wal_archive_lag clusters/main"));
	assert_true(strlist_contains(&o.held, "wal_archive_failing clusters/main"));
	assert_int_equal(o.n_firing, 4);
	alert_observed_free(&o);

	/* two days after the set: not overdue yet */
	assert_int_equal(alert_observe(fx->meta, now - 7 * 86400, &o), 0);
	assert_false(observed(&o, ALERT_BACKUP_OVERDUE, "tenants/main/shop", NULL));
	alert_observed_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_backoff, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
