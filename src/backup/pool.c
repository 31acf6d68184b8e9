/*
 * pool.c - the worker pool (contract in pool.h).
 *
 * One mutex and one condition variable guard everything: the task queue,
 * the next item, the slots, the stop flag and the first error.  Events are
 * per chunk (a few per MiB), so broadcasting on each is cheap next to the
 * work, and it keeps the waiting rules in one place: whoever waits (an idle
 * worker, an owner waiting for a task or a slot, the ticking caller)
 * re-checks its own condition, and anyone who waits runs queued tasks first.
 *
 * Invariants: a worker exits only when no item is left to start (or the
 * pool stops), no owner is running and the queue is empty, so a task is
 * never left without someone to run it; running a task leaves the error
 * record of the thread that ran it as it was (an owner draining its chunks
 * after a failure helps with others' tasks, and keeps its own error).
 */
#include "backup/pool.h"

#include "common/buf.h"
#include "common/error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct Pool {
	const PoolOpts *o;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* tasks queued and done, slots given back, owners gone */
	pthread_cond_t exit_cv;    /* a worker ended: pool_run's thread waits on it alone */
	PoolTask *head;            /* queued tasks, FIFO */
	PoolTask *tail;
	size_t next_item;          /* items [next_item, end_item) are not started yet */
	size_t end_item;
	int owners;                /* item functions running */
	int jobs;
	int workers;               /* worker threads not yet ended */
	bool stopping;
	int first_rc;
	ErrSaved *first_err;
	PoolSlot *free_slots;
	size_t n_slots;            /* allocated */
	PoolSlot **all_slots;
};

typedef struct Worker {
	Pool *p;
	int idx;
} Worker;

static _Thread_local int tl_worker_idx;

int
pool_default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > POOL_JOBS_MAX ? POOL_JOBS_MAX : (int)n;
}

/* With mu held: the first error stops the pool; later ones are dropped. */
static void
record_failure(Pool *p, int rc)
{
	if (p->first_err == NULL) {
		p->first_rc = rc;
		p->first_err = err_save();
	}
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
}

/* With mu held, a task queued: run it without the lock. */
static void
run_one(Pool *p)
{
	PoolTask *t = p->head;
	int rc;

	p->head = t->next;
	if (p->head == NULL)
		p->tail = NULL;
	if (p->stopping) {
		rc = ERR_CANCELLED;
		t->err = NULL;
	} else {
		/* the helper may be an owner holding an error of its own: keep it */
		ErrSaved *mine;

		pthread_mutex_unlock(&p->mu);
		mine = err_save();
		err_clear();
		rc = t->run(t, tl_worker_idx);
		t->err = rc < 0 ? err_save() : NULL;
		err_restore(mine);
		err_saved_free(mine);
		pthread_mutex_lock(&p->mu);
	}
	t->rc = rc;
	t->done = true;
	pthread_cond_broadcast(&p->cv);
}

void
pool_submit(Pool *p, PoolTask *t)
{
	ASSERT(t->run != NULL);
	t->next = NULL;
	t->rc = 0;
	t->err = NULL;
	t->done = false;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
pool_wait(Pool *p, PoolTask *t)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	while (!t->done) {
		if (p->head)
			run_one(p);
		else
			pthread_cond_wait(&p->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	rc = t->rc;
	if (rc < 0) {
		if (t->err)
			err_restore(t->err);
		else
			err_set(rc, "stopped after an error elsewhere");
	}
	err_saved_free(t->err);
	t->err = NULL;
	return rc;
}

PoolSlot *
pool_slot_take(Pool *p, bool wait)
{
	PoolSlot *s = NULL;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->stopping)
			break;
		if (p->free_slots) {
			s = p->free_slots;
			p->free_slots = s->next;
			break;
		}
		if (p->n_slots < p->o->n_slots) {
			s = xcalloc(1, sizeof(*s));
			/* page-aligned: a restore writes them with O_DIRECT */
			s->a = xmalloc_aligned(POOL_SLOT_ALIGN, p->o->slot_bytes);
			s->b = xmalloc_aligned(POOL_SLOT_ALIGN, p->o->slot_bytes);
			p->all_slots[p->n_slots++] = s;
			break;
		}
		if (!wait)
			break;
		if (p->head)
			run_one(p);
		else
			pthread_cond_wait(&p->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return s;
}

void
pool_slot_give(Pool *p, PoolSlot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	s->next = p->free_slots;
	p->free_slots = s;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

bool
pool_stopping(Pool *p)
{
	bool stopping;

	pthread_mutex_lock(&p->mu);
	stopping = p->stopping;
	pthread_mutex_unlock(&p->mu);
	return stopping;
}

size_t
pool_slot_bytes(const Pool *p)
{
	return p->o->slot_bytes;
}

int
pool_jobs(const Pool *p)
{
	return p->jobs;
}

static void *
worker_main(void *arg)
{
	Worker *w = arg;
	Pool *p = w->p;

	tl_worker_idx = w->idx;
	pthread_setname_np(pthread_self(), "tb-worker"); /* top -H, perf: which thread is whose */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->head) {
			run_one(p);
			continue;
		}
		if (!p->stopping && p->next_item < p->end_item) {
			/* both_ends: all but worker 0 take the small items from the back */
			size_t item_idx = p->o->both_ends && w->idx > 0 ? --p->end_item : p->next_item++;
			int rc;

			p->owners++;
			pthread_mutex_unlock(&p->mu);
			err_clear();
			rc = p->o->item(p, w->idx, item_idx, p->o->payload);
			pthread_mutex_lock(&p->mu);
			p->owners--;
			if (rc < 0)
				record_failure(p, rc);
			/* only the last owner wakes the idle workers: they are waiting to exit */
			if (p->owners == 0 && (p->stopping || p->next_item >= p->end_item))
				pthread_cond_broadcast(&p->cv);
			continue;
		}
		if (p->owners == 0)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	p->workers--;
	pthread_cond_broadcast(&p->cv);
	pthread_cond_signal(&p->exit_cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
pool_run(const PoolOpts *o)
{
	Pool p = {0};
	Worker workers[POOL_JOBS_MAX];
	pthread_t threads[POOL_JOBS_MAX];
	sigset_t all, old;
	int jobs = o->jobs < 1 ? 1 : (o->jobs > POOL_JOBS_MAX ? POOL_JOBS_MAX : o->jobs);
	int tick_ms = o->tick_ms > 0 ? o->tick_ms : 250;
	int started = 0;
	int rc = 0;

	ASSERT(o->item != NULL);
	p.o = o;
	p.jobs = jobs;
	p.end_item = o->n_items;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	pthread_cond_init(&p.exit_cv, NULL);
	p.all_slots = xcalloc(o->n_slots + 1, sizeof(*p.all_slots));
	/* Signals stay with the calling thread: workers start with all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&p.mu);
	for (int worker_idx = 0; worker_idx < jobs; worker_idx++) {
		workers[worker_idx].p = &p;
		workers[worker_idx].idx = worker_idx;
		if (pthread_create(&threads[worker_idx], NULL, worker_main, &workers[worker_idx]) != 0)
			break;
		started++;
		p.workers++;
	}
	pthread_mutex_unlock(&p.mu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == 0) {
		rc = err_errno(EAGAIN, "could not start worker threads");
		goto out;
	}
	pthread_mutex_lock(&p.mu);
	while (p.workers > 0) {
		struct timespec until;

		if (o->tick && !p.stopping) {
			int trc;

			pthread_mutex_unlock(&p.mu);
			err_clear();
			trc = o->tick(o->payload);
			pthread_mutex_lock(&p.mu);
			if (trc < 0)
				record_failure(&p, trc);
		}
		if (p.workers == 0)
			break;
		deadline_after(&until, tick_ms);
		while (p.workers > 0 && pthread_cond_timedwait(&p.exit_cv, &p.mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&p.mu);
	for (int worker_idx = 0; worker_idx < started; worker_idx++)
		pthread_join(threads[worker_idx], NULL);
	ASSERT(p.head == NULL && p.owners == 0);
	if (p.first_err) {
		err_restore(p.first_err);
		rc = p.first_rc;
	}
out:
	err_saved_free(p.first_err);
	for (size_t slot_idx = 0; slot_idx < p.n_slots; slot_idx++) {
		free(p.all_slots[slot_idx]->a);
		free(p.all_slots[slot_idx]->b);
		free(p.all_slots[slot_idx]);
	}
	free(p.all_slots);
	pthread_cond_destroy(&p.cv);
	pthread_cond_destroy(&p.exit_cv);
	pthread_mutex_destroy(&p.mu);
	return rc;
}
