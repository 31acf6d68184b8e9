/*
 * schedule.h - a backup strategy's schedule (doc/strategy.md): days of the
 * week or of the month mapped to FULL or INCREMENTAL, at one time of day, UTC.
 *
 *   {"kind": "week",  "days": {"mon": "FULL", "wed": "INCREMENTAL"}, "time": "02:30"}
 *   {"kind": "month", "days": {"1": "FULL", "15": "INCREMENTAL"},    "time": "03:00"}
 *
 * A slot is one (day, time) of the schedule on a calendar date; a month
 * without the named day (31 in April, 29 in a common February) has no slot
 * that day.  Modes come back lowercase: "full" or "incremental".
 *
 * The functions are pure (no clock, no state): the scheduler passes `now`
 * and the slot it fired last.  Thread safe.
 */
#ifndef TENBACK_TASK_SCHEDULE_H
#define TENBACK_TASK_SCHEDULE_H

#include <time.h>

/* 0, or ERR_INVALID with a message naming the bad part (not JSON, unknown
 * key, unknown kind, empty or unknown day, unknown mode, bad time) and a
 * hint saying what is accepted. */
int schedule_validate(const char *json);

/* The first slot strictly after `after`: its time and mode.  ERR_INVALID as
 * schedule_validate. */
int schedule_next(const char *json, time_t after, time_t *out_when, char out_mode[16]);

/*
 * Is a slot due at `now`?  Takes the latest slot at or before now; when it
 * is newer than last_fired ("YYYY-MM-DD HH:MM", NULL or "" for none), returns
 * 1 with that slot's name ("YYYY-MM-DD HH:MM", UTC) and mode.  Only that
 * latest slot: older ones missed while the daemon was down are not replayed.
 * Returns 0 when none is due, or ERR_INVALID (bad schedule or last_fired).
 */
int schedule_due(const char *json, const char *last_fired, time_t now, char out_slot[32], char out_mode[16]);

#endif
