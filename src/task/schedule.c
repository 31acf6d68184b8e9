/*
 * schedule.c - parse a strategy's schedule JSON and find its slots.
 *
 * Invariant: every function parses and fully validates the JSON first, so
 * a schedule that schedule_validate() refuses never yields a slot.
 *
 * Why day by day: a schedule has at most one slot per calendar date, and
 * the next slot is at most 62 days away (a monthly "31" skips at most one
 * month: no two consecutive months lack day 31), so walking dates with
 * timegm() is simple and exact across month ends, leap years and year ends.
 * All arithmetic is in UTC; timegm() normalises out-of-range days.
 */
#include "task/schedule.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Farther than any slot can be from any moment (see above), with margin. */
#define SEARCH_DAYS 400

typedef enum SlotMode {
	SLOT_NONE = 0,
	SLOT_FULL,
	SLOT_INCREMENTAL,
} SlotMode;

typedef enum ScheduleKind {
	SCHEDULE_WEEK,
	SCHEDULE_MONTH,
} ScheduleKind;

typedef struct Schedule {
	ScheduleKind kind;
	SlotMode day_mode[32];  /* week: tm_wday 0 (Sunday) to 6; month: day 1 to 31 */
	int hour;
	int minute;
} Schedule;

static const char *const week_days[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* Add a hint to the error just set; returns its code. */
static int
hinted(int rc, const char *hint)
{
	err_hint("%s", hint);
	return rc;
}

#define HINT_KEYS "A schedule has the keys \"kind\", \"days\" and \"time\"."
#define HINT_KIND "Use \"week\" or \"month\"."
#define HINT_WEEK_DAYS "Days of a weekly schedule are mon, tue, wed, thu, fri, sat and sun."
#define HINT_MONTH_DAYS "Days of a monthly schedule are 1 to 31."
#define HINT_MODE "Use FULL or INCREMENTAL."
#define HINT_TIME "Use HH:MM, 00:00 to 23:59, in UTC."
#define HINT_DAYS "\"days\" maps days to FULL or INCREMENTAL, for example {\"mon\": \"FULL\"}."
#define HINT_EXAMPLE "For example {\"kind\": \"week\", \"days\": {\"mon\": \"FULL\"}, \"time\": \"02:30\"}."

/* A scalar's text for a message. */
static const char *
value_text(const JsonValue *v)
{
	return v->type == JSON_STRING || v->type == JSON_NUMBER ? v->string : "(not a string)";
}

/* "1" to "31", no sign, no leading zero; -1 otherwise. */
static int
parse_month_day(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 2 || s[0] < '1' || s[0] > '9' || (n == 2 && (s[1] < '0' || s[1] > '9')))
		return -1;
	int d = atoi(s);
	return d <= 31 ? d : -1;
}

static int
parse_week_day(const char *s)
{
	for (int i = 0; i < 7; i++)
		if (strcmp(s, week_days[i]) == 0)
			return i;
	return -1;
}

/* Exactly "HH:MM". */
static bool
parse_time(const char *s, int *out_hour, int *out_minute)
{
	if (strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	*out_hour = (s[0] - '0') * 10 + (s[1] - '0');
	*out_minute = (s[3] - '0') * 10 + (s[4] - '0');
	return *out_hour < 24 && *out_minute < 60;
}

static int
parse_days(Schedule *sch, const JsonValue *days)
{
	if (days == NULL)
		return hinted(err_set(ERR_INVALID, "invalid schedule: \"days\" is missing"), HINT_DAYS);
	if (days->type != JSON_OBJECT)
		return hinted(err_set(ERR_INVALID, "invalid schedule: \"days\" is not an object"), HINT_DAYS);
	if (days->count == 0)
		return hinted(err_set(ERR_INVALID, "invalid schedule: \"days\" is empty"), "Name at least one day.");
	for (size_t i = 0; i < days->count; i++) {
		const JsonValue *v = days->items[i];
		int d = sch->kind == SCHEDULE_WEEK ? parse_week_day(v->key) : parse_month_day(v->key);

		if (d < 0)
			return hinted(err_set(ERR_INVALID, "invalid schedule: unknown day \"%s\"", v->key),
			              sch->kind == SCHEDULE_WEEK ? HINT_WEEK_DAYS : HINT_MONTH_DAYS);
		if (sch->day_mode[d] != SLOT_NONE)
			return hinted(err_set(ERR_INVALID, "invalid schedule: day \"%s\" appears twice", v->key),
			              "Name each day once.");
		if (v->type != JSON_STRING)
			return hinted(err_set(ERR_INVALID, "invalid schedule: the mode of day \"%s\" is not a string", v->key),
			              HINT_MODE);
		if (strcasecmp(v->string, "full") == 0)
			sch->day_mode[d] = SLOT_FULL;
		else if (strcasecmp(v->string, "incremental") == 0)
			sch->day_mode[d] = SLOT_INCREMENTAL;
		else
			return hinted(err_set(ERR_INVALID, "invalid schedule: unknown mode \"%s\" for day \"%s\"", v->string,
			                      v->key),
			              HINT_MODE);
	}
	return 0;
}

static int
schedule_parse(Schedule *sch, const char *json)
{
	JsonValue *root = NULL;
	const JsonValue *kind, *days = NULL, *time = NULL;
	int rc;

	memset(sch, 0, sizeof(*sch));
	if (json == NULL)
		return hinted(err_set(ERR_INVALID, "invalid schedule: none given"), HINT_EXAMPLE);
	if ((rc = json_parse(&root, json, strlen(json))) < 0) {
		err_prefix("invalid schedule");
		return rc;
	}
	if (root->type != JSON_OBJECT) {
		rc = hinted(err_set(ERR_INVALID, "invalid schedule: not a JSON object"), HINT_KEYS);
		goto out;
	}
	for (size_t i = 0; i < root->count; i++) {
		const char *k = root->items[i]->key;
		if (strcmp(k, "kind") != 0 && strcmp(k, "days") != 0 && strcmp(k, "time") != 0) {
			rc = hinted(err_set(ERR_INVALID, "invalid schedule: unknown key \"%s\"", k), HINT_KEYS);
			goto out;
		}
	}
	kind = json_get(root, "kind");
	if (kind == NULL) {
		rc = hinted(err_set(ERR_INVALID, "invalid schedule: \"kind\" is missing"), HINT_KIND);
		goto out;
	}
	if (kind->type == JSON_STRING && strcmp(kind->string, "week") == 0)
		sch->kind = SCHEDULE_WEEK;
	else if (kind->type == JSON_STRING && strcmp(kind->string, "month") == 0)
		sch->kind = SCHEDULE_MONTH;
	else {
		rc = hinted(err_set(ERR_INVALID, "invalid schedule: unknown kind \"%s\"", value_text(kind)), HINT_KIND);
		goto out;
	}
	/* duplicate keys would make json_get's answer arbitrary: refuse them */
	for (size_t i = 0; i < root->count; i++) {
		const JsonValue *v = root->items[i];
		const JsonValue **slot = strcmp(v->key, "days") == 0 ? &days : strcmp(v->key, "time") == 0 ? &time : NULL;
		if (slot == NULL)
			continue;
		if (*slot != NULL) {
			rc = hinted(err_set(ERR_INVALID, "invalid schedule: key \"%s\" appears twice", v->key), HINT_KEYS);
			goto out;
		}
		*slot = v;
	}
	if ((rc = parse_days(sch, days)) < 0)
		goto out;
	if (time == NULL) {
		rc = hinted(err_set(ERR_INVALID, "invalid schedule: \"time\" is missing"), HINT_TIME);
		goto out;
	}
	if (time->type != JSON_STRING || !parse_time(time->string, &sch->hour, &sch->minute)) {
		rc = hinted(err_set(ERR_INVALID, "invalid schedule: invalid time \"%s\"", value_text(time)), HINT_TIME);
		goto out;
	}
	rc = 0;
out:
	json_free(root);
	return rc;
}

int
schedule_validate(const char *json)
{
	Schedule sch;

	return schedule_parse(&sch, json);
}

/* The midnight (UTC) of the date `day_offset` days from t's date. */
static time_t
date_start(time_t t, int day_offset, struct tm *out_tm)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_mday += day_offset;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = 0;
	time_t midnight = timegm(&tm);   /* normalises tm: wday, month, year */
	*out_tm = tm;
	return midnight;
}

/* The mode of the slot on the date of tm (SLOT_NONE: no slot that date). */
static SlotMode
slot_on(const Schedule *sch, const struct tm *tm)
{
	return sch->kind == SCHEDULE_WEEK ? sch->day_mode[tm->tm_wday] : sch->day_mode[tm->tm_mday];
}

static void
mode_name(char out[16], SlotMode m)
{
	snprintf(out, 16, "%s", m == SLOT_FULL ? "full" : "incremental");
}

int
schedule_next(const char *json, time_t after, time_t *out_when, char out_mode[16])
{
	Schedule sch;
	int rc;

	if ((rc = schedule_parse(&sch, json)) < 0)
		return rc;
	for (int off = 0; off <= SEARCH_DAYS; off++) {
		struct tm tm;
		time_t day = date_start(after, off, &tm);
		SlotMode m = slot_on(&sch, &tm);
		time_t when = day + sch.hour * 3600 + sch.minute * 60;

		if (m != SLOT_NONE && when > after) {
			*out_when = when;
			mode_name(out_mode, m);
			return 0;
		}
	}
	return err_set(ERR_INTERNAL, "schedule has no slot within %d days", SEARCH_DAYS);
}

/* "YYYY-MM-DD HH:MM" (UTC) -> time; false when malformed. */
static bool
parse_slot(const char *s, time_t *out)
{
	struct tm tm = {0};
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2d %2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &n) != 5 ||
	    n != 16 || s[n] != '\0')
		return false;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return true;
}

int
schedule_due(const char *json, const char *last_fired, time_t now, char out_slot[32], char out_mode[16])
{
	Schedule sch;
	time_t fired = 0;
	bool have_fired = last_fired != NULL && last_fired[0] != '\0';
	int rc;

	if ((rc = schedule_parse(&sch, json)) < 0)
		return rc;
	if (have_fired && !parse_slot(last_fired, &fired)) {
		rc = err_set(ERR_INVALID, "invalid last fired slot \"%s\"", last_fired);
		err_hint("A slot is written \"YYYY-MM-DD HH:MM\", in UTC.");
		return rc;
	}
	for (int off = 0; off >= -SEARCH_DAYS; off--) {
		struct tm tm;
		time_t day = date_start(now, off, &tm);
		SlotMode m = slot_on(&sch, &tm);
		time_t when = day + sch.hour * 3600 + sch.minute * 60;

		if (m == SLOT_NONE || when > now)
			continue;
		if (have_fired && when <= fired)
			return 0;
		struct tm st;
		gmtime_r(&when, &st);
		strftime(out_slot, 32, "%Y-%m-%d %H:%M", &st);
		mode_name(out_mode, m);
		return 1;
	}
	return 0;
}
