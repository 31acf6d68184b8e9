/*
 * task.h - tasks with ordered, persisted steps, run by a pool of worker
 * threads: "Back up now" is the first kind (doc/tasks.md).
 *
 * A task and its steps live in the metadata store (meta.h, MetaTask); the
 * engine only runs them.  Every step is idempotent, so Retry re-runs the
 * step that failed and goes on from there.  A daemon that stopped with
 * tasks running marks them FAILED "interrupted by daemon restart" at the
 * next start; they can be retried.
 *
 * Thread safety: a TaskEngine may be called from any thread; each call
 * takes the caller's own Meta (a Meta is not shared between threads).
 */
#ifndef TENBACK_TASK_TASK_H
#define TENBACK_TASK_TASK_H

#include "meta/meta.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The step names of "Back up now", the product's words. */
#define STEP_CHECK "Check if ready to data backup"
#define STEP_COMPACT "Start cluster compact if necessary"
#define STEP_DATA "Back up data"
#define STEP_LOGS "Back up logs"
#define STEP_FINISH "Finish"

typedef struct TaskEngine TaskEngine;

typedef struct TaskEngineOpts {
	const char *home;     /* metadata home: each worker opens its own Meta there */
	int workers;          /* 0: 2 */
	bool no_scheduler;    /* do not run task_scheduler_tick every 30 s */
} TaskEngineOpts;

/* Marks tasks left RUNNING as FAILED, then starts the workers. */
int task_engine_start(TaskEngine **out, const TaskEngineOpts *o);
/* Stops taking tasks, asks running ones to stop at their next check point,
 * joins the workers. */
void task_engine_stop(TaskEngine *e);

typedef struct BackupRequest {
	const char *cluster;
	const char *tenant;
	const char *mode;        /* full, incremental */
	const char *method;      /* physical, logical; NULL: the strategy's, else identified on the server */
	const char *storage;     /* storage configuration name; NULL: the strategy's, else the cluster's */
	uint64_t max_rate;       /* physical: bytes per second read from the data directory; 0: no limit */
	const char *created_by;  /* user name, for the audit trail */
} BackupRequest;

/* Create a "Back up now" task (status RUNNING, steps PENDING) and queue it.
 * The method is resolved now and kept in the task's parameters (a retry
 * never changes it); a logical backup runs the same five steps (no
 * checkpoint, no WAL: those two steps say so and succeed).
 * ERR_BUSY "a backup of tenant ... is already running (task N)" when one is;
 * ERR_NOT_FOUND for an unknown cluster; ERR_INVALID for a bad mode or
 * method; ERR_UNSUPPORTED "Logical backup supports only full backup" for
 * an incremental logical one (no task is made). */
int task_backup_submit(TaskEngine *e, Meta *m, const BackupRequest *r, int64_t *out_task_id);
typedef struct RestoreRequest {
	const char *cluster;
	const char *tenant;
	const char *set;          /* NULL: latest, or the newest before the target */
	const char *target;       /* latest, immediate */
	const char *target_time;
	const char *target_lsn;
	const char *target_xid;
	const char *target_name;
	const char *to;           /* absolute path */
	int port;                 /* 0: the source's */
	bool start;
	const char *socket_dir;
	const char *as;           /* a logical set: restore into this new database (instead of to) */
	const char *into_cluster; /* logical: NULL, the set's cluster */
	int jobs;                 /* logical: pg_restore --jobs, 0: 1 */
	bool force;               /* logical: drop an existing database of that name first */
	const char *created_by;
} RestoreRequest;

/* A "Restore" task: one step, STEP_RESTORE, running restore_run, or
 * logical_restore_run when "as" is given (its log holds what it did; a
 * failure removes what it laid down / the database it created).
 * ERR_INVALID unless exactly one of to and as is given. */
#define STEP_RESTORE "Restore"
int task_restore_submit(TaskEngine *e, Meta *m, const RestoreRequest *r, int64_t *out_task_id);

/* FAILED -> RUNNING again, from the failed step; ERR_INVALID in any other state. */
int task_retry(TaskEngine *e, Meta *m, int64_t task_id);
/* RUNNING: asks it to stop (it becomes CANCELLED at its next check point);
 * FAILED: CANCELLED at once; ERR_INVALID when finished. */
int task_cancel(TaskEngine *e, Meta *m, int64_t task_id);
/* Wait until the task is not RUNNING (tests, CLI --wait through the API). */
int task_wait(TaskEngine *e, Meta *m, int64_t task_id, int timeout_ms);

/*
 * One scheduler pass at `now`: every enabled strategy whose schedule has a
 * slot due fires a backup task (FULL or INCREMENTAL as the slot says), then
 * retention deletes what the strategy's period lets go.  The daemon runs it
 * every 30 s with the real clock; tests call it with their own.
 */
int task_scheduler_tick(TaskEngine *e, Meta *m, time_t now, int *out_fired);

#endif
