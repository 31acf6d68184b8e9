/*
 * test_schedule.c - unit tests for src/task/schedule.c.
 *
 * Invariants under test: the next slot is strictly after the given moment,
 * on the right date across week, month and year ends and in leap and common
 * years, and months without a named day have no slot that day; a due slot
 * is the latest at or before now and fires once (missed older slots are not
 * replayed); every invalid schedule is refused with a message naming the
 * bad part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/error.h"
#include "task/schedule.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char WEEK[] = "{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\",\"wed\":\"INCREMENTAL\"},\"time\":\"02:30\"}";
static const char MONTH[] =
	"{\"kind\":\"month\",\"days\":{\"1\":\"FULL\",\"15\":\"INCREMENTAL\",\"31\":\"INCREMENTAL\"},\"time\":\"03:00\"}";
static const char ONLY_31[] = "{\"kind\":\"month\",\"days\":{\"31\":\"FULL\"},\"time\":\"03:00\"}";
static const char ONLY_29[] = "{\"kind\":\"month\",\"days\":{\"29\":\"FULL\"},\"time\":\"03:00\"}";

static time_t
utc(int year, int month, int day, int hour, int minute, int second)
{
	struct tm tm = {
		.tm_year = year - 1900,
		.tm_mon = month - 1,
		.tm_mday = day,
		.tm_hour = hour,
		.tm_min = minute,
		.tm_sec = second,
	};
	return timegm(&tm);
}

static void
fmt(char out[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S %a", &tm);
}

/* next(json, after) is want, in mode. */
static void
assert_next(const char *json, time_t after, time_t want, const char *mode)
{
	time_t when = 0;
	char got_mode[16] = "";
	char a[32], b[32];

	if (schedule_next(json, after, &when, got_mode) < 0)
		fail_msg("schedule_next: %s", err_message());
	fmt(a, when);
	fmt(b, want);
	assert_string_equal(a, b);
	assert_string_equal(got_mode, mode);
}

static void
next_week(void **state)
{
	(void)state;
	/* Thursday 2026-11-26 -> Monday */
	assert_next(WEEK, utc(2026, 11, 26, 10, 0, 0), utc(2026, 11, 30, 2, 30, 0), "full");
	/* strictly after: at the slot itself, the next one */
	assert_next(WEEK, utc(2026, 11, 30, 2, 29, 59), utc(2026, 11, 30, 2, 30, 0), "full");
	assert_next(WEEK, utc(2026, 11, 30, 2, 30, 0), utc(2026, 12, 2, 2, 30, 0), "incremental");
	/* the same day, earlier */
	assert_next(WEEK, utc(2026, 12, 2, 0, 0, 0), utc(2026, 12, 2, 2, 30, 0), "incremental");
	/* Wednesday after the slot -> next Monday, across a month end */
	assert_next(WEEK, utc(2026, 12, 2, 2, 31, 0), utc(2026, 12, 7, 2, 30, 0), "full");
	/* across a year end: Thursday 2026-12-31 -> Friday 2027-01-01 */
	assert_next("{\"kind\":\"week\",\"days\":{\"fri\":\"FULL\"},\"time\":\"23:59\"}", utc(2026, 12, 31, 23, 59, 0),
	            utc(2027, 1, 1, 23, 59, 0), "full");
	/* one day a week: from the slot itself, a week later */
	assert_next("{\"kind\":\"week\",\"days\":{\"sun\":\"incremental\"},\"time\":\"00:00\"}", utc(2026, 11, 29, 0, 0, 0),
	            utc(2026, 12, 6, 0, 0, 0), "incremental");
}

static void
next_month(void **state)
{
	(void)state;
	assert_next(MONTH, utc(2026, 1, 31, 3, 0, 0), utc(2026, 2, 1, 3, 0, 0), "full");
	assert_next(MONTH, utc(2026, 2, 1, 3, 0, 0), utc(2026, 2, 15, 3, 0, 0), "incremental");
	/* February and April have no 31st */
	assert_next(MONTH, utc(2026, 2, 15, 3, 0, 0), utc(2026, 3, 1, 3, 0, 0), "full");
	assert_next(MONTH, utc(2026, 4, 15, 3, 0, 0), utc(2026, 5, 1, 3, 0, 0), "full");
	assert_next(MONTH, utc(2026, 5, 15, 3, 0, 0), utc(2026, 5, 31, 3, 0, 0), "incremental");
	assert_next(ONLY_31, utc(2026, 1, 31, 3, 0, 0), utc(2026, 3, 31, 3, 0, 0), "full");
	assert_next(ONLY_31, utc(2026, 4, 1, 0, 0, 0), utc(2026, 5, 31, 3, 0, 0), "full");
	assert_next(ONLY_31, utc(2026, 7, 31, 3, 0, 0), utc(2026, 8, 31, 3, 0, 0), "full");
	/* year end */
	assert_next(ONLY_31, utc(2026, 12, 31, 3, 0, 1), utc(2027, 1, 31, 3, 0, 0), "full");
	assert_next("{\"kind\":\"month\",\"days\":{\"1\":\"FULL\"},\"time\":\"00:00\"}", utc(2026, 12, 1, 0, 0, 0),
	            utc(2027, 1, 1, 0, 0, 0), "full");
}

static void
next_leap_years(void **state)
{
	(void)state;
	/* 2028 is a leap year: February 29 has a slot */
	assert_next(ONLY_29, utc(2028, 1, 29, 3, 0, 0), utc(2028, 2, 29, 3, 0, 0), "full");
	assert_next(ONLY_29, utc(2028, 2, 29, 3, 0, 0), utc(2028, 3, 29, 3, 0, 0), "full");
	/* 2027 is not; nor is 2100 (divisible by 100); 2000 was (by 400) */
	assert_next(ONLY_29, utc(2027, 1, 29, 3, 0, 0), utc(2027, 3, 29, 3, 0, 0), "full");
	assert_next(ONLY_29, utc(2100, 1, 29, 3, 0, 0), utc(2100, 3, 29, 3, 0, 0), "full");
	assert_next(ONLY_29, utc(2000, 1, 29, 3, 0, 0), utc(2000, 2, 29, 3, 0, 0), "full");
	/* a weekly schedule walks through February 29 like any day: 2028-02-29 is a Tuesday */
	assert_next("{\"kind\":\"week\",\"days\":{\"tue\":\"FULL\"},\"time\":\"12:00\"}", utc(2028, 2, 23, 12, 0, 0),
	            utc(2028, 2, 29, 12, 0, 0), "full");
}

/* due(json, last, now): want_slot and mode, or NULL for none due. */
static void
assert_due(const char *json, const char *last, time_t now, const char *want_slot, const char *want_mode)
{
	char slot[32] = "", mode[16] = "";
	int rc = schedule_due(json, last, now, slot, mode);

	if (rc < 0)
		fail_msg("schedule_due: %s", err_message());
	if (want_slot == NULL) {
		assert_int_equal(rc, 0);
		return;
	}
	assert_int_equal(rc, 1);
	assert_string_equal(slot, want_slot);
	assert_string_equal(mode, want_mode);
}

static void
due_week(void **state)
{
	(void)state;
	/* never fired: the latest slot is due */
	assert_due(WEEK, NULL, utc(2026, 12, 2, 10, 0, 0), "2026-12-02 02:30", "incremental");
	assert_due(WEEK, "", utc(2026, 12, 2, 10, 0, 0), "2026-12-02 02:30", "incremental");
	/* fired: not again */
	assert_due(WEEK, "2026-12-02 02:30", utc(2026, 12, 2, 10, 0, 0), NULL, NULL);
	assert_due(WEEK, "2026-12-02 02:30", utc(2026, 12, 6, 23, 59, 59), NULL, NULL);
	/* at the slot's minute exactly it is due; a second before, the previous one is the latest */
	assert_due(WEEK, "2026-11-30 02:30", utc(2026, 12, 2, 2, 30, 0), "2026-12-02 02:30", "incremental");
	assert_due(WEEK, "2026-11-30 02:30", utc(2026, 12, 2, 2, 29, 59), NULL, NULL);
	/* across a year end: Monday 2027-01-04 */
	assert_due(WEEK, "2026-12-30 02:30", utc(2027, 1, 4, 3, 0, 0), "2027-01-04 02:30", "full");
}

static void
due_missed_not_replayed(void **state)
{
	char slot[32], mode[16];

	(void)state;
	/* the daemon was down for two weeks: only the latest slot fires, once */
	assert_due(WEEK, "2026-11-16 02:30", utc(2026, 12, 3, 9, 0, 0), "2026-12-02 02:30", "incremental");
	assert_due(WEEK, "2026-12-02 02:30", utc(2026, 12, 3, 9, 0, 0), NULL, NULL);
	/* a last_fired newer than every slot (clock went back, schedule changed): nothing */
	assert_due(WEEK, "2027-06-01 00:00", utc(2026, 12, 3, 9, 0, 0), NULL, NULL);
	/* a malformed last_fired is refused, not taken for "never" */
	assert_int_equal(schedule_due(WEEK, "yesterday", utc(2026, 12, 3, 9, 0, 0), slot, mode), ERR_INVALID);
	assert_non_null(strstr(err_message(), "invalid last fired slot \"yesterday\""));
	assert_int_equal(schedule_due(WEEK, "2026-12-02 02:30:00", utc(2026, 12, 3, 9, 0, 0), slot, mode), ERR_INVALID);
}

static void
due_month(void **state)
{
	(void)state;
	/* April 20: April has no 31st, the 15th is the latest */
	assert_due(MONTH, "2026-04-01 03:00", utc(2026, 4, 20, 0, 0, 0), "2026-04-15 03:00", "incremental");
	/* only the 31st: on April 20 the latest is March 31 */
	assert_due(ONLY_31, "2026-01-31 03:00", utc(2026, 4, 20, 0, 0, 0), "2026-03-31 03:00", "full");
	assert_due(ONLY_31, "2026-03-31 03:00", utc(2026, 5, 30, 0, 0, 0), NULL, NULL);
	/* month and year end */
	assert_due(MONTH, "2026-12-15 03:00", utc(2027, 1, 1, 3, 0, 0), "2027-01-01 03:00", "full");
	assert_due(MONTH, "2026-12-15 03:00", utc(2027, 1, 1, 2, 59, 0), "2026-12-31 03:00", "incremental");
}

static void
due_leap_years(void **state)
{
	(void)state;
	assert_due(ONLY_29, NULL, utc(2028, 3, 1, 0, 0, 0), "2028-02-29 03:00", "full");
	assert_due(ONLY_29, NULL, utc(2027, 3, 1, 0, 0, 0), "2027-01-29 03:00", "full");
	assert_due(ONLY_29, "2027-01-29 03:00", utc(2027, 3, 28, 0, 0, 0), NULL, NULL);
	assert_due(ONLY_29, "2100-01-29 03:00", utc(2100, 3, 1, 0, 0, 0), NULL, NULL);
}

/* json is refused with ERR_INVALID and a message containing want. */
static void
assert_invalid(const char *json, const char *want)
{
	time_t when;
	char slot[32], mode[16];
	int rc = schedule_validate(json);

	if (rc != ERR_INVALID)
		fail_msg("schedule %s: got %d, want ERR_INVALID", json ? json : "NULL", rc);
	if (strstr(err_message(), want) == NULL)
		fail_msg("schedule %s: message \"%s\" lacks \"%s\"", json ? json : "NULL", err_message(), want);
	assert_int_equal(strncmp(err_message(), "invalid schedule", 16), 0);
	/* next and due refuse it the same way */
	assert_int_equal(schedule_next(json, 0, &when, mode), ERR_INVALID);
	assert_int_equal(schedule_due(json, NULL, time(NULL), slot, mode), ERR_INVALID);
}

static void
validate_errors(void **state)
{
	(void)state;
	assert_invalid(NULL, "none given");
	assert_invalid("{\"kind\":\"week\"", "invalid schedule");
	assert_invalid("[]", "not a JSON object");
	assert_invalid("{\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\"}", "\"kind\" is missing");
	assert_invalid("{\"kind\":\"day\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\"}", "unknown kind \"day\"");
	assert_invalid("{\"kind\":\"Week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\"}", "unknown kind \"Week\"");
	assert_invalid("{\"kind\":7,\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\"}", "unknown kind \"7\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{},\"time\":\"02:30\"}", "\"days\" is empty");
	assert_invalid("{\"kind\":\"week\",\"time\":\"02:30\"}", "\"days\" is missing");
	assert_invalid("{\"kind\":\"week\",\"days\":[\"mon\"],\"time\":\"02:30\"}", "\"days\" is not an object");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"monday\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"monday\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"1\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"1\"");
	assert_invalid("{\"kind\":\"month\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"mon\"");
	assert_invalid("{\"kind\":\"month\",\"days\":{\"0\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"0\"");
	assert_invalid("{\"kind\":\"month\",\"days\":{\"32\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"32\"");
	assert_invalid("{\"kind\":\"month\",\"days\":{\"01\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"01\"");
	assert_invalid("{\"kind\":\"month\",\"days\":{\"-1\":\"FULL\"},\"time\":\"02:30\"}", "unknown day \"-1\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\",\"mon\":\"INCREMENTAL\"},\"time\":\"02:30\"}",
	               "day \"mon\" appears twice");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"DIFF\"},\"time\":\"02:30\"}",
	               "unknown mode \"DIFF\" for day \"mon\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":1},\"time\":\"02:30\"}", "mode of day \"mon\" is not a string");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"}}", "\"time\" is missing");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"24:00\"}", "invalid time \"24:00\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:60\"}", "invalid time \"02:60\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"2:30\"}", "invalid time \"2:30\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30:00\"}", "invalid time \"02:30:00\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":230}", "invalid time \"230\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\",\"zone\":\"CET\"}",
	               "unknown key \"zone\"");
	assert_invalid("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"02:30\",\"time\":\"03:30\"}",
	               "key \"time\" appears twice");
}

static void
validate_hints(void **state)
{
	(void)state;
	assert_int_equal(schedule_validate("{\"kind\":\"week\",\"days\":{\"Mon\":\"FULL\"},\"time\":\"02:30\"}"),
	                 ERR_INVALID);
	assert_string_equal(err_hint_text(), "Days of a weekly schedule are mon, tue, wed, thu, fri, sat and sun.");
	assert_int_equal(schedule_validate("{\"kind\":\"month\",\"days\":{\"40\":\"FULL\"},\"time\":\"02:30\"}"),
	                 ERR_INVALID);
	assert_string_equal(err_hint_text(), "Days of a monthly schedule are 1 to 31.");
	assert_int_equal(schedule_validate("{\"kind\":\"week\",\"days\":{\"mon\":\"FULL\"},\"time\":\"25:00\"}"),
	                 ERR_INVALID);
	assert_string_equal(err_hint_text(), "Use HH:MM, 00:00 to 23:59, in UTC.");
}

static void
validate_ok(void **state)
{
	(void)state;
	assert_int_equal(schedule_validate(WEEK), 0);
	assert_int_equal(schedule_validate(MONTH), 0);
	/* modes in any case; every week day; days 1 to 31; the extremes of the day */
	assert_int_equal(schedule_validate("{\"time\":\"00:00\",\"kind\":\"week\",\"days\":{\"sun\":\"full\",\"mon\":"
	                                   "\"Incremental\",\"tue\":\"FULL\",\"wed\":\"FULL\",\"thu\":\"FULL\",\"fri\":"
	                                   "\"FULL\",\"sat\":\"FULL\"}}"),
	             0);
	assert_int_equal(schedule_validate("{\"kind\":\"month\",\"days\":{\"9\":\"FULL\",\"10\":\"FULL\",\"29\":\"FULL\","
	                                   "\"30\":\"FULL\"},\"time\":\"23:59\"}"),
	                 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(next_week),
		cmocka_unit_test(next_month),
		cmocka_unit_test(next_leap_years),
		cmocka_unit_test(due_week),
		cmocka_unit_test(due_missed_not_replayed),
		cmocka_unit_test(due_month),
		cmocka_unit_test(due_leap_years),
		cmocka_unit_test(validate_errors),
		cmocka_unit_test(validate_hints),
		cmocka_unit_test(validate_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
