/*
 * pool.h - the worker pool that backup and restore run their files on.
 *
 * pool_run starts `jobs` threads which take items (files) in order, or from
 * both ends (PoolOpts.both_ends); the worker that takes an item "owns" it
 * and runs the item function, ordinary sequential code.  An owner may hand pieces of its item (chunks) to the
 * pool as tasks and wait for them: while it waits, and whenever a worker
 * has no item, it runs queued tasks, so one large file keeps every thread
 * busy while its owner consumes the results in order.
 *
 * Rules that keep it free of deadlock and bounded in memory:
 *   - a task never waits for anything in the pool (it reads, checks,
 *     compresses, writes at an offset, and returns);
 *   - the buffers of tasks come from a fixed number of slots; an owner asks
 *     to wait for a slot only when none of its tasks is in flight, and gives
 *     each back when it has consumed its task's result;
 *   - an owner waits for every task it submitted before it returns, even on
 *     error (tasks point into its state).
 *
 * Errors: the first failure (an item function's, or the tick's) stops the
 * pool: no item is started after it, queued tasks are dropped (they finish
 * with ERR_CANCELLED without running), owners see pool_stopping() and wind
 * down.  pool_run returns that first error with its full record (message,
 * detail, hint) restored on the calling thread.  A task's error is restored
 * on its owner's thread by pool_wait.
 *
 * Thread safety: pool_submit, pool_wait, pool_slot_* and pool_stopping are
 * called by item functions (any worker thread); the tick runs on the thread
 * that called pool_run, never concurrently with itself.
 */
#ifndef TENBACK_BACKUP_POOL_H
#define TENBACK_BACKUP_POOL_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_JOBS_MAX 64

typedef struct Pool Pool;

typedef struct PoolTask PoolTask;
struct PoolTask {
	/* set by the submitter; runs on any worker (worker_idx: 0..jobs-1) */
	int (*run)(PoolTask *t, int worker_idx);
	/* the pool's */
	PoolTask *next;
	int rc;
	ErrSaved *err;
	bool done;
};

/* Two buffers of slot_bytes each, for one task's input and output, each at a
 * multiple of POOL_SLOT_ALIGN (fit for O_DIRECT). */
#define POOL_SLOT_ALIGN 4096

typedef struct PoolSlot {
	uint8_t *a;
	uint8_t *b;
	struct PoolSlot *next;
} PoolSlot;

typedef struct PoolOpts {
	int jobs;                  /* worker threads: 1..POOL_JOBS_MAX */
	size_t n_items;
	/* Own item item_idx on worker worker_idx; <0 stops the pool. */
	int (*item)(Pool *p, int worker_idx, size_t item_idx, void *payload);
	/* Optional: every tick_ms on the calling thread (progress, cancellation);
	 * <0 stops the pool with that error. */
	int (*tick)(void *payload);
	int tick_ms;               /* 0: 250 */
	void *payload;
	size_t slot_bytes;         /* 0: no slots */
	size_t n_slots;            /* at most this many slots are allocated */
	/* Items are in descending order of size: worker 0 takes them from the
	 * front, the others from the back.  A restore's large files are bound by
	 * the device and its small ones by the CPU: this runs both at once. */
	bool both_ends;
} PoolOpts;

/* The default for --jobs: the online CPUs, 1..POOL_JOBS_MAX. */
int pool_default_jobs(void);

/* Run the items; 0 when every item function returned 0. */
int pool_run(const PoolOpts *o);

/* Queue t (run set; t stays the caller's and must live until pool_wait returned). */
void pool_submit(Pool *p, PoolTask *t);
/* Run queued tasks until t is done; t's result, its error record restored on this thread. */
int pool_wait(Pool *p, PoolTask *t);
/*
 * A free slot, or NULL: without wait when none is free; with wait, after
 * running queued tasks until one is, NULL only when the pool stops.  Wait
 * only while holding no slot.
 */
PoolSlot *pool_slot_take(Pool *p, bool wait);
void pool_slot_give(Pool *p, PoolSlot *s);
/* True once the pool stops (an error, the tick): owners wind down. */
bool pool_stopping(Pool *p);
/* What this pool was made with: slot size, worker threads. */
size_t pool_slot_bytes(const Pool *p);
int pool_jobs(const Pool *p);

#endif
