/*
 * engine.c - the task engine: a queue of task ids, worker threads that run
 * each task's steps in order, persisting every state change, and the
 * scheduler thread.
 *
 * Invariants: a step is RUNNING in the store only while a worker runs it;
 * a task is SUCCEEDED only when its last step is; a failed task keeps what
 * its steps made (manifest.partial) so that Retry can go on from the failed
 * step; a cancelled one gives its set up.
 */
#include "task/task.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strutil.h"
#include "task/retention.h"
#include "task/schedule.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const step_names[BACKUP_STEPS] = {STEP_CHECK, STEP_COMPACT, STEP_DATA, STEP_LOGS, STEP_FINISH};

struct TaskEngine {
	char *home;
	int n_workers;
	pthread_t *workers;
	pthread_t scheduler;
	bool has_scheduler;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t *queue;
	size_t q_len;
	size_t q_cap;
	bool stopping;
};

static void
now_text(char *out, size_t cap)
{
	time_format_utc(out, cap, time(NULL));
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

static void
enqueue(TaskEngine *e, int64_t id)
{
	pthread_mutex_lock(&e->mu);
	if (e->q_len == e->q_cap) {
		e->q_cap = e->q_cap ? e->q_cap * 2 : 16;
		e->queue = xrealloc(e->queue, e->q_cap * sizeof(*e->queue));
	}
	e->queue[e->q_len++] = id;
	/* broadcast: the scheduler thread waits on the same condition */
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* ---- running one task ---- */

typedef struct Run {
	TaskEngine *e;
	Meta *meta;
	MetaTask *task;
	MetaTaskStep *step;
	int64_t last_cancel_check_ms;
	bool cancelled;
	int64_t started_ms;
} Run;

static void
run_progress(uint64_t done, uint64_t total, uint64_t files, void *payload)
{
	Run *r = payload;

	r->step->bytes_done = (int64_t)done;
	r->step->bytes_total = (int64_t)total;
	r->step->files_done = (int64_t)files;
	if (meta_task_step_update(r->meta, r->task->id, r->step) < 0)
		log_warning("task %lld: could not record progress: %s", (long long)r->task->id, err_message());
}

static bool
run_cancelled(void *payload)
{
	Run *r = payload;
	MetaTask fresh;

	if (r->cancelled)
		return true;
	if (time_now_ms() - r->last_cancel_check_ms < 1000 && !r->e->stopping)
		return false;
	r->last_cancel_check_ms = time_now_ms();
	if (r->e->stopping)
		return r->cancelled = true;
	if (meta_task_get(r->meta, r->task->id, &fresh) == 0) {
		r->cancelled = fresh.cancel_requested != 0;
		meta_task_clear(&fresh);
	}
	return r->cancelled;
}

static void
run_log(const char *line, void *payload)
{
	Run *r = payload;
	char now[40];
	char *text;

	/* Every update of the step (status, progress) writes its row whole: its log
	 * is kept in the step too, or the next update would drop these lines. */
	now_text(now, sizeof(now));
	text = xasprintf("%s%s %s\n", r->step->log ? r->step->log : "", now, line);
	free(r->step->log);
	r->step->log = text;
	if (meta_task_step_update(r->meta, r->task->id, r->step) < 0)
		log_warning("task %lld: could not record a step's log: %s", (long long)r->task->id, err_message());
}

static char *
state_json(const char *set_id)
{
	Buf b = BUF_INIT;
	JsonWriter w;

	json_writer_init(&w, &b, false);
	json_object_begin(&w);
	json_kv_string(&w, "set_id", set_id);
	json_object_end(&w);
	return buf_steal(&b);
}

static void
finish_task(Run *r, const char *status, const char *error)
{
	char now[40];

	now_text(now, sizeof(now));
	set_str(&r->task->status, status);
	set_str(&r->task->finished_at, now);
	set_str(&r->task->error, error);
	if (meta_task_update(r->meta, r->task) < 0)
		log_error("task %lld: could not record its end: %s", (long long)r->task->id, err_message());
	log_info("task %lld (%s of %s/%s) %s%s%s", (long long)r->task->id, r->task->type, r->task->cluster,
	         r->task->tenant, status, error ? ": " : "", error ? error : "");
}

/* A step starts: RUNNING, times and error reset, one more attempt. */
static void
step_begin(Meta *meta, const MetaTask *t, MetaTaskStep *s)
{
	char now[40];

	now_text(now, sizeof(now));
	set_str(&s->status, "RUNNING");
	set_str(&s->started_at, now);
	set_str(&s->finished_at, NULL);
	set_str(&s->error_code, NULL);
	set_str(&s->error_message, NULL);
	set_str(&s->error_detail, NULL);
	set_str(&s->error_hint, NULL);
	s->attempts++;
	meta_task_step_update(meta, t->id, s);
}

/* A step ends: status, end time and, on failure, the error record. */
static void
step_end(Meta *meta, const MetaTask *t, MetaTaskStep *s, const char *status, int rc)
{
	char now[40];

	now_text(now, sizeof(now));
	set_str(&s->finished_at, now);
	set_str(&s->status, status);
	if (rc < 0) {
		set_str(&s->error_code, err_code_name(rc));
		set_str(&s->error_message, err_message());
		set_str(&s->error_detail, err_detail_text()[0] ? err_detail_text() : NULL);
		set_str(&s->error_hint, err_hint_text()[0] ? err_hint_text() : NULL);
	}
	meta_task_step_update(meta, t->id, s);
}

static void
run_backup(TaskEngine *e, Meta *meta, MetaTask *t)
{
	Run r = {e, meta, t, NULL, 0, false, time_now_ms()};
	BackupOpts o = {0};
	BackupJob *job = NULL;
	JsonValue *params = NULL, *state = NULL;
	const char *resume = NULL;
	int first = -1;
	int rc = 0;

	for (size_t i = 0; i < t->n_steps; i++)
		if (strcmp(t->steps[i].status, "SUCCEEDED") != 0) {
			first = (int)i;
			break;
		}
	if (first < 0) {
		finish_task(&r, "SUCCEEDED", NULL);
		return;
	}
	if (json_parse(&params, t->params, strlen(t->params)) < 0 || json_parse(&state, t->state, strlen(t->state)) < 0) {
		finish_task(&r, "FAILED", "the task's parameters are unreadable");
		goto out;
	}
	o.home = e->home;
	o.cluster = t->cluster;
	o.tenant = t->tenant;
	o.mode = json_get_string(params, "mode");
	o.method = json_get_string(params, "method"); /* resolved at submit; NULL in tasks of older versions */
	o.compress = json_get_string(params, "compress");
	o.max_rate = (uint64_t)json_get_int(params, "max_rate", NULL);
	/* by name: the worker opens the configuration with its own keys ("storage_uri" is for display) */
	o.storage = json_get_string(params, "storage");
	o.progress_cb = run_progress;
	o.cancel_cb = run_cancelled;
	o.log_cb = run_log;
	o.payload = &r;
	/* Steps after the data step carry on with the set the data step made. */
	if (first >= 3)
		resume = json_get_string(state, "set_id");
	rc = backup_job_new(&job, meta, &o, resume);
	for (int i = first; rc == 0 && i < BACKUP_STEPS && (size_t)i < t->n_steps; i++) {
		MetaTaskStep *s = &t->steps[i];
		int64_t t0 = time_now_ms();

		r.step = s;
		if (run_cancelled(&r)) {
			rc = err_set(ERR_CANCELLED, "the task was cancelled");
			break;
		}
		step_begin(meta, t, s);
		rc = backup_job_step(job, i);
		if (rc == 0) {
			/* the set id first: a step 2 marked SUCCEEDED always has its set
			 * kept in the task's state, for steps 3 and 4 after a restart (a
			 * crash between the two writes leaves step 2 RUNNING: redone) */
			if (i == 2) {
				char *st = state_json(backup_job_set_id(job));
				set_str(&t->state, st);
				free(st);
				meta_task_update(meta, t);
			}
			step_end(meta, t, s, "SUCCEEDED", 0);
			meta_task_step_log(meta, t->id, i, "done");
			log_info("task %lld: step \"%s\" succeeded in %lld ms", (long long)t->id, s->name,
			         (long long)(time_now_ms() - t0));
		}
	}
	if (rc < 0) {
		MetaTaskStep *s = r.step;
		bool cancel = rc == ERR_CANCELLED;
		char msg[2048];

		snprintf(msg, sizeof(msg), "%s", err_message());
		if (s)
			step_end(meta, t, s, cancel ? "CANCELLED" : "FAILED", rc);
		if (cancel) {
			if (job)
				backup_job_abandon(job);
			for (size_t i = 0; i < t->n_steps; i++)
				if (strcmp(t->steps[i].status, "PENDING") == 0) {
					set_str(&t->steps[i].status, "CANCELLED");
					meta_task_step_update(meta, t->id, &t->steps[i]);
				}
			finish_task(&r, "CANCELLED", msg);
		} else {
			finish_task(&r, "FAILED", msg);
		}
	} else {
		finish_task(&r, "SUCCEEDED", NULL);
	}
out:
	backup_job_free(job);
	json_free(params);
	json_free(state);
}

static void
run_restore(TaskEngine *e, Meta *meta, MetaTask *t)
{
	Run r = {e, meta, t, &t->steps[0], 0, false, time_now_ms()};
	RestoreOpts o = {0};
	LogicalRestoreOpts lo = {0};
	JsonValue *p = NULL;
	MetaTaskStep *s = &t->steps[0];
	int rc;

	if (json_parse(&p, t->params, strlen(t->params)) < 0) {
		finish_task(&r, "FAILED", "the task's parameters are unreadable");
		return;
	}
	o.home = e->home;
	o.cluster = t->cluster;
	o.tenant = t->tenant;
	o.set = json_get_string(p, "set") ? json_get_string(p, "set") : "latest";
	o.target = json_get_string(p, "target");
	o.target_time = json_get_string(p, "target_time");
	o.target_lsn = json_get_string(p, "target_lsn");
	o.target_xid = json_get_string(p, "target_xid");
	o.target_name = json_get_string(p, "target_name");
	o.to = json_get_string(p, "to");
	o.port = (int)json_get_int(p, "port", NULL);
	o.start = json_get_bool(p, "start", false);
	o.socket_dir = json_get_string(p, "socket_dir");
	lo.cluster = t->cluster;
	lo.tenant = t->tenant;
	lo.set = o.set;
	lo.as = json_get_string(p, "as");
	lo.into_cluster = json_get_string(p, "into_cluster");
	lo.jobs = (int)json_get_int(p, "jobs", NULL);
	lo.force = json_get_bool(p, "force", false);
	step_begin(meta, t, s);
	meta_task_step_log(meta, t->id, 0, "restoring");
	rc = lo.as ? logical_restore_run(meta, &lo) : restore_run(meta, &o);
	if (rc == 0) {
		char line[256];
		step_end(meta, t, s, "SUCCEEDED", 0);
		if (lo.as)
			snprintf(line, sizeof(line), "tenant restored as database %s in cluster %s", lo.as,
			         lo.into_cluster ? lo.into_cluster : t->cluster);
		else
			snprintf(line, sizeof(line), "tenant restored to %s%s", o.to, o.start ? " and started" : "");
		meta_task_step_log(meta, t->id, 0, line);
		finish_task(&r, "SUCCEEDED", NULL);
	} else {
		char msg[2048];
		snprintf(msg, sizeof(msg), "%s", err_message());
		step_end(meta, t, s, "FAILED", rc);
		finish_task(&r, "FAILED", msg);
	}
	json_free(p);
}

static void *
worker_main(void *arg)
{
	TaskEngine *e = arg;
	Meta *meta = NULL;

	if (meta_open(&meta, e->home) < 0) {
		log_error("task worker: %s", err_message());
		return NULL;
	}
	for (;;) {
		int64_t id;
		MetaTask t;

		pthread_mutex_lock(&e->mu);
		while (e->q_len == 0 && !e->stopping)
			pthread_cond_wait(&e->cv, &e->mu);
		if (e->stopping) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		id = e->queue[0];
		memmove(e->queue, e->queue + 1, (e->q_len - 1) * sizeof(*e->queue));
		e->q_len--;
		pthread_mutex_unlock(&e->mu);

		if (meta_task_get(meta, id, &t) < 0) {
			log_error("task %lld: %s", (long long)id, err_message());
			continue;
		}
		if (strcmp(t.status, "RUNNING") == 0 && strcmp(t.type, "backup") == 0)
			run_backup(e, meta, &t);
		else if (strcmp(t.status, "RUNNING") == 0 && strcmp(t.type, "restore") == 0 && t.n_steps == 1)
			run_restore(e, meta, &t);
		meta_task_clear(&t);
	}
	meta_free(meta);
	return NULL;
}

static void *
scheduler_main(void *arg)
{
	TaskEngine *e = arg;
	Meta *meta = NULL;

	if (meta_open(&meta, e->home) < 0) {
		log_error("scheduler: %s", err_message());
		return NULL;
	}
	for (;;) {
		struct timespec until;
		int fired = 0;

		if (task_scheduler_tick(e, meta, time(NULL), &fired) < 0)
			log_warning("scheduler: %s", err_message());
		pthread_mutex_lock(&e->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 30;
		while (!e->stopping && pthread_cond_timedwait(&e->cv, &e->mu, &until) == 0)
			;
		bool stop = e->stopping;
		pthread_mutex_unlock(&e->mu);
		if (stop)
			break;
	}
	meta_free(meta);
	return NULL;
}

int
task_engine_start(TaskEngine **out, const TaskEngineOpts *o)
{
	TaskEngine *e = xcalloc(1, sizeof(*e));
	Meta *meta = NULL;
	int n_failed = 0;
	int rc;

	*out = NULL;
	if ((rc = meta_open(&meta, o->home)) < 0)
		goto fail;
	if ((rc = meta_task_fail_running(meta, "interrupted by daemon restart", &n_failed)) < 0)
		goto fail;
	if (n_failed)
		log_warning("%d task(s) were interrupted by the daemon's restart; they can be retried", n_failed);
	meta_free(meta);
	meta = NULL;
	e->home = xstrdup(o->home);
	e->n_workers = o->workers > 0 ? o->workers : 2;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->workers = xcalloc((size_t)e->n_workers, sizeof(pthread_t));
	for (int i = 0; i < e->n_workers; i++)
		if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0) {
			e->n_workers = i;
			task_engine_stop(e);
			return err_set(ERR_INTERNAL, "could not start a task worker");
		}
	if (!o->no_scheduler) {
		if (pthread_create(&e->scheduler, NULL, scheduler_main, e) != 0) {
			task_engine_stop(e);
			return err_set(ERR_INTERNAL, "could not start the scheduler");
		}
		e->has_scheduler = true;
	}
	*out = e;
	return 0;
fail:
	meta_free(meta);
	free(e);
	return rc;
}

void
task_engine_stop(TaskEngine *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	for (int i = 0; i < e->n_workers; i++)
		pthread_join(e->workers[i], NULL);
	if (e->has_scheduler)
		pthread_join(e->scheduler, NULL);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e->workers);
	free(e->queue);
	free(e->home);
	free(e);
}

/* ---- requests ---- */

static int
resolve_storage(Meta *m, const BackupRequest *r, const MetaCluster *c, char **out_uri, char **out_name)
{
	MetaStrategy strategy = {0};
	MetaStorage sc = {0};
	const char *name = r->storage;
	int rc = 0;

	*out_uri = NULL;
	*out_name = NULL;
	if (name == NULL && meta_strategy_get(m, r->cluster, r->tenant, &strategy) == 0)
		name = strategy.storage;
	if (name) {
		if ((rc = meta_storage_get(m, name, &sc)) < 0)
			goto out;
		*out_uri = xstrdup(sc.uri);
		*out_name = xstrdup(name);
	} else if (c->storage && c->storage[0]) {
		*out_uri = xstrdup(c->storage);
	} else {
		rc = err_set(ERR_INVALID, "no storage for the backup of tenant \"%s\"", r->tenant);
		err_hint("Fill in the storage configuration, or give the tenant a backup strategy.");
	}
out:
	meta_strategy_clear(&strategy);
	meta_storage_clear(&sc);
	return rc;
}

int
task_backup_submit(TaskEngine *e, Meta *m, const BackupRequest *r, int64_t *out_task_id)
{
	MetaCluster c = {0};
	MetaTask t = {0};
	MetaTask *running = NULL;
	size_t n_running = 0;
	MetaTaskFilter f = {r->cluster, r->tenant, "RUNNING", "backup", NULL, 1};
	MetaTaskStep steps[BACKUP_STEPS];
	char *uri = NULL, *storage_name = NULL;
	MetaStrategy strategy = {0};
	const char *method = NULL;
	char reason[256] = "";
	Buf params = BUF_INIT;
	JsonWriter w;
	int rc;

	*out_task_id = 0;
	memset(steps, 0, sizeof(steps));
	if (r->mode == NULL || (strcmp(r->mode, "full") != 0 && strcmp(r->mode, "incremental") != 0)) {
		rc = err_set(ERR_INVALID, "invalid data backup mode \"%s\"", r->mode ? r->mode : "");
		err_hint("Choose full or incremental.");
		return rc;
	}
	if ((rc = meta_cluster_get(m, r->cluster, &c)) < 0)
		return rc;
	if ((rc = resolve_storage(m, r, &c, &uri, &storage_name)) < 0)
		goto out;
	/* the method: asked for, the strategy's, or identified on the server */
	method = r->method;
	if (method == NULL && meta_strategy_get(m, r->cluster, r->tenant, &strategy) == 0)
		method = strategy.method;
	err_clear();
	if ((rc = backup_method_resolve(&c, method, &method, reason, sizeof(reason))) < 0)
		goto out;
	if (strcmp(method, "logical") == 0 && strcmp(r->mode, "incremental") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "Logical backup supports only full backup");
		err_hint("Choose a full backup: a logical backup has no incrementals.");
		goto out;
	}
	if ((rc = backup_max_rate_check(r->max_rate, strcmp(method, "logical") == 0, "max_rate")) < 0)
		goto out;
	pthread_mutex_lock(&e->mu);
	rc = meta_task_list(m, &f, &running, &n_running);
	if (rc == 0 && n_running > 0) {
		rc = err_set(ERR_BUSY, "a backup of tenant \"%s\" is already running (task %lld)", r->tenant,
		             (long long)running[0].id);
		err_hint("Wait for it to finish, or cancel it.");
	}
	if (rc == 0) {
		json_writer_init(&w, &params, false);
		json_object_begin(&w);
		json_kv_string(&w, "mode", r->mode);
		json_kv_string(&w, "method", method);
		json_kv_string(&w, "storage", storage_name);
		json_kv_string(&w, "storage_uri", uri);
		if (r->max_rate)
			json_kv_int(&w, "max_rate", (int64_t)r->max_rate);
		json_object_end(&w);
		t.type = "backup";
		t.cluster = (char *)r->cluster;
		t.tenant = (char *)r->tenant;
		t.status = "RUNNING";
		t.params = params.data;
		t.state = "{}";
		t.created_by = (char *)r->created_by;
		for (int i = 0; i < BACKUP_STEPS; i++) {
			steps[i].idx = i;
			steps[i].name = (char *)step_names[i];
			steps[i].status = "PENDING";
		}
		t.steps = steps;
		t.n_steps = BACKUP_STEPS;
		rc = meta_task_insert(m, &t);
	}
	pthread_mutex_unlock(&e->mu);
	if (rc == 0) {
		*out_task_id = t.id;
		enqueue(e, t.id);
		log_info("task %lld: %s %s backup of %s/%s queued", (long long)t.id, r->mode, method, r->cluster, r->tenant);
	}
out:
	meta_strategy_clear(&strategy);
	meta_task_array_free(running, n_running);
	buf_free(&params);
	free(uri);
	free(storage_name);
	meta_cluster_clear(&c);
	return rc;
}

int
task_restore_submit(TaskEngine *e, Meta *m, const RestoreRequest *r, int64_t *out_task_id)
{
	MetaCluster c = {0};
	MetaTask t = {0};
	MetaTaskStep step = {0};
	Buf params = BUF_INIT;
	JsonWriter w;
	int rc;

	*out_task_id = 0;
	if (r->as && r->to) {
		rc = err_set(ERR_INVALID, "\"to\" and \"as\" do not go together");
		err_hint("A physical set restores to a directory (\"to\"), a logical set into a new database (\"as\").");
		return rc;
	}
	if (r->as && (r->as[0] == '\0' || strlen(r->as) > 63 || r->port || r->start || r->socket_dir || r->target ||
	              r->target_time || r->target_lsn || r->target_xid || r->target_name)) {
		rc = err_set(ERR_INVALID, r->as[0] == '\0' || strlen(r->as) > 63
		                              ? "\"as\" must be a database name of 1 to 63 bytes"
		                              : "port, start, socket_dir and targets are for a physical restore (\"to\")");
		return rc;
	}
	if (r->as == NULL && (r->into_cluster || r->jobs || r->force)) {
		rc = err_set(ERR_INVALID, "into_cluster, jobs and force are for a logical restore (\"as\")");
		return rc;
	}
	if (r->jobs < 0 || r->jobs > 128)
		return err_set(ERR_INVALID, "jobs must be between 1 and 128");
	if (r->as == NULL && (r->to == NULL || r->to[0] != '/')) {
		rc = err_set(ERR_INVALID, "the restore target must be an absolute directory path");
		err_hint("Give \"to\", e.g. /srv/restored/shop (or \"as\", a new database, for a logical set).");
		return rc;
	}
	if (r->start && r->port <= 0) {
		rc = err_set(ERR_INVALID, "starting the restored instance needs a port");
		return rc;
	}
	if ((rc = meta_cluster_get(m, r->cluster, &c)) < 0)
		return rc;
	if (r->into_cluster) {
		MetaCluster into = {0};
		if ((rc = meta_cluster_get(m, r->into_cluster, &into)) < 0) {
			meta_cluster_clear(&c);
			return rc;
		}
		meta_cluster_clear(&into);
	}
	json_writer_init(&w, &params, false);
	json_object_begin(&w);
	json_kv_string(&w, "set", r->set);
	if (r->as) {
		json_kv_string(&w, "as", r->as);
		json_kv_string(&w, "into_cluster", r->into_cluster);
		json_kv_int(&w, "jobs", r->jobs);
		json_kv_bool(&w, "force", r->force);
	}
	json_kv_string(&w, "target", r->target);
	json_kv_string(&w, "target_time", r->target_time);
	json_kv_string(&w, "target_lsn", r->target_lsn);
	json_kv_string(&w, "target_xid", r->target_xid);
	json_kv_string(&w, "target_name", r->target_name);
	json_kv_string(&w, "to", r->to);
	json_kv_int(&w, "port", r->port);
	json_kv_bool(&w, "start", r->start);
	json_kv_string(&w, "socket_dir", r->socket_dir);
	json_object_end(&w);
	t.type = "restore";
	t.cluster = (char *)r->cluster;
	t.tenant = (char *)r->tenant;
	t.status = "RUNNING";
	t.params = params.data;
	t.state = "{}";
	t.created_by = (char *)r->created_by;
	step.idx = 0;
	step.name = STEP_RESTORE;
	step.status = "PENDING";
	t.steps = &step;
	t.n_steps = 1;
	if ((rc = meta_task_insert(m, &t)) == 0) {
		*out_task_id = t.id;
		enqueue(e, t.id);
		log_info("task %lld: restore of %s/%s to %s queued", (long long)t.id, r->cluster, r->tenant,
		         r->as ? r->as : r->to);
	}
	buf_free(&params);
	meta_cluster_clear(&c);
	return rc;
}

int
task_retry(TaskEngine *e, Meta *m, int64_t task_id)
{
	MetaTask t;
	int rc;

	if ((rc = meta_task_get(m, task_id, &t)) < 0)
		return rc;
	if (strcmp(t.status, "FAILED") != 0) {
		rc = err_set(ERR_INVALID, "task %lld is %s; only a failed task can be retried", (long long)task_id, t.status);
		goto out;
	}
	for (size_t i = 0; i < t.n_steps; i++)
		if (strcmp(t.steps[i].status, "FAILED") == 0 || strcmp(t.steps[i].status, "RUNNING") == 0) {
			set_str(&t.steps[i].status, "PENDING");
			if ((rc = meta_task_step_update(m, t.id, &t.steps[i])) < 0)
				goto out;
		}
	set_str(&t.status, "RUNNING");
	set_str(&t.finished_at, NULL);
	set_str(&t.error, NULL);
	t.cancel_requested = 0;
	if ((rc = meta_task_update(m, &t)) < 0)
		goto out;
	enqueue(e, t.id);
	log_info("task %lld: retried", (long long)task_id);
out:
	meta_task_clear(&t);
	return rc;
}

int
task_cancel(TaskEngine *e, Meta *m, int64_t task_id)
{
	MetaTask t;
	int rc;

	(void)e;
	if ((rc = meta_task_get(m, task_id, &t)) < 0)
		return rc;
	if (strcmp(t.status, "RUNNING") == 0) {
		rc = meta_task_request_cancel(m, task_id);
	} else if (strcmp(t.status, "FAILED") == 0) {
		char now[40];
		now_text(now, sizeof(now));
		for (size_t i = 0; i < t.n_steps; i++)
			if (strcmp(t.steps[i].status, "SUCCEEDED") != 0) {
				set_str(&t.steps[i].status, "CANCELLED");
				meta_task_step_update(m, t.id, &t.steps[i]);
			}
		set_str(&t.status, "CANCELLED");
		set_str(&t.finished_at, now);
		rc = meta_task_update(m, &t);
	} else {
		rc = err_set(ERR_INVALID, "task %lld is %s; it cannot be cancelled", (long long)task_id, t.status);
	}
	meta_task_clear(&t);
	return rc;
}

int
task_wait(TaskEngine *e, Meta *m, int64_t task_id, int timeout_ms)
{
	int64_t deadline = time_now_ms() + timeout_ms;

	(void)e;
	for (;;) {
		MetaTask t;
		int rc = meta_task_get(m, task_id, &t);
		bool running;

		if (rc < 0)
			return rc;
		running = strcmp(t.status, "RUNNING") == 0;
		meta_task_clear(&t);
		if (!running)
			return 0;
		if (time_now_ms() > deadline)
			return err_set(ERR_TIMEOUT, "task %lld is still running", (long long)task_id);
		usleep(100 * 1000);
	}
}

/* ---- the scheduler ---- */

int
task_scheduler_tick(TaskEngine *e, Meta *m, time_t now, int *out_fired)
{
	MetaStrategy *ss = NULL;
	size_t n = 0;
	int rc;

	*out_fired = 0;
	if ((rc = meta_strategy_list(m, &ss, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char slot[32], mode[16];
		int64_t id;
		StrList deleted = {0};

		if (!ss[i].enabled)
			continue;
		/* Retention first: the backup fired next takes the tenant's lock. */
		if (ss[i].retention_days > 0 &&
		    retention_run(m, ss[i].cluster, ss[i].tenant, ss[i].retention_days, now, &deleted) < 0)
			log_warning("retention of %s/%s: %s", ss[i].cluster, ss[i].tenant, err_message());
		for (size_t k = 0; k < deleted.count; k++)
			log_info("retention: deleted backup set %s of %s/%s", deleted.items[k], ss[i].cluster, ss[i].tenant);
		if (schedule_due(ss[i].schedule, ss[i].last_fired, now, slot, mode) == 1) {
			BackupRequest r = {ss[i].cluster, ss[i].tenant, mode, ss[i].method, ss[i].storage, 0, "scheduler"};
			/* The slot counts as fired even when the backup cannot start: no retry storm. */
			meta_strategy_set_fired(m, ss[i].cluster, ss[i].tenant, slot);
			if (task_backup_submit(e, m, &r, &id) < 0)
				log_warning("scheduler: %s backup of %s/%s at %s not started: %s", mode, ss[i].cluster,
				            ss[i].tenant, slot, err_message());
			else
				(*out_fired)++;
		}
		strlist_free(&deleted);
	}
	meta_strategy_array_free(ss, n);
	return 0;
}
