/*
 * backup.c - a full physical backup of one tenant (or the whole instance).
 *
 * The steps follow doc/tasks.md: check, checkpoint (inside pg_backup_start,
 * fast), copy data, stop and collect the WAL from start to stop into the
 * set, write the manifest last.  Invariant: the set becomes visible as a
 * backup only when its manifest is durable; every failure before that
 * removes the set's directory and records the attempt as failed.  A
 * process killed mid-way leaves a "running" row and a directory without
 * manifest; the next backup of the tenant (holding the tenant's lock)
 * removes both.
 *
 * A logical backup (logical.c) goes through the same five steps, lock,
 * set row and manifest: its "data" step is the dump; it needs no
 * checkpoint and has no WAL of its own.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"
#include "backup/logical_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "pg/control.h"
#include "pg/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef TENBACK_VERSION
#define TENBACK_VERSION "dev"
#endif

/*
 * The WAL since the parent read on a thread of its own, from the moment the
 * parent is known: while the rest is checked, pg_backup_start runs and the
 * data directory is walked.  It reads as far as the server had written when
 * it began (ahead_lsn), waits for this backup's start (set_start), and reads
 * on to it.  Begun only where the walk will not decide for the page scan: a
 * given --detect, or WAL of at most half the parent's size (the decision is
 * made again with the walk's figures, and a result it rejects is dropped).
 */
typedef struct WalEarly {
	pthread_t thread;
	bool started;
	_Atomic bool stop;        /* the job failed, or the task was cancelled */
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* the start is known, or stop */
	bool start_known;
	uint64_t start_lsn;       /* this backup's, once known */
	uint32_t timeline;
	WalBlocksOpts wo;
	WalBlocks *out;
	char *reason;
	int rc;
	ErrSaved *err;
} WalEarly;

/*
 * An incremental's parent manifest, loaded on a thread of its own: started
 * by find_parent, whose verdicts come from the parent's metadata row, and
 * joined after pg_backup_start (parent_join), which checks the manifest
 * against the row and the server.  Loading 8,000 entries and waiting for
 * pg_backup_start's checkpoint then take the time of the longer one.
 */
typedef struct ParentLoad {
	pthread_t thread;
	bool started;
	Storage *storage;
	char *dir;
	Manifest *m;
	ManifestLookup *files;
	int rc;
	ErrSaved *err;
} ParentLoad;

typedef struct Job {
	const BackupOpts *o;
	Meta *meta;
	MetaCluster cluster;
	Storage *storage;         /* where the set goes */
	char *storage_name;       /* its storage configuration; NULL: the cluster's own storage */
	Storage *archive;         /* the cluster's own storage (the WAL archive) when the set goes elsewhere */
	PgConn *conn;
	Manifest *m;
	MetaSet row;
	char *set_dir;
	bool row_inserted;
	bool started;             /* pg_backup_start done */
	Manifest *parent;         /* incremental: the set it builds on (its files are in parent_files) */
	ManifestLookup *parent_files; /* incremental: the parent's files, compact (manifest_lookup_take) */
	char *stop_time;          /* server clock after pg_backup_stop, rounded up */
	bool wal_log_hints;
	IoCompress compress;
	int level;
	IoChecksumKind checksum;
	bool logical;             /* a logical backup: a pg_dump of the tenant */
	char *pg_dump;            /* logical: the pg_dump of the server's major version */
	char *pg_dump_version;
	WalEarly early;           /* incremental: the WAL since the parent, read ahead */
	char *parent_id;          /* incremental: the parent set's id (its metadata row) */
	ParentLoad parent_load;   /* its manifest, until parent_join */
	CopyCtx wal_ctx;          /* the copy of the set's WAL from pg_wal: made while pg_backup_stop runs */
} Job;

static void wal_early_begin(Job *j, const MetaSet *latest, uint64_t now_lsn);
static void wal_early_clear(WalEarly *e);

static char *
make_set_id(time_t t, bool incremental)
{
	struct tm tm;
	char id[32];

	gmtime_r(&t, &tm);
	strftime(id, sizeof(id), incremental ? "%Y%m%d-%H%M%SI" : "%Y%m%d-%H%M%SF", &tm);
	return xstrdup(id);
}

/* A set id unique for the tenant: the second must not have been used. */
static int
new_set_id(Job *j, char **out)
{
	for (;;) {
		MetaSet *sets = NULL;
		size_t n = 0;
		bool taken = false;
		char *id = make_set_id(time(NULL), j->parent_id != NULL);
		int rc = meta_set_list(j->meta, j->cluster.name, j->o->tenant, NULL, &sets, &n);

		if (rc < 0) {
			free(id);
			return rc;
		}
		/* one second, one set: F and I ids of the same second would sort ambiguously */
		for (size_t i = 0; i < n; i++)
			if (strncmp(sets[i].id, id, 15) == 0)
				taken = true;
		meta_set_array_free(sets, n);
		if (!taken) {
			*out = id;
			return 0;
		}
		free(id);
		sleep(1);
	}
}

typedef struct Leftovers {
	Job *j;
	StrList dirs;
} Leftovers;

static int
collect_set_dirs(const char *name, const StorageInfo *info, void *payload)
{
	Leftovers *l = payload;

	if (info->is_dir)
		strlist_add(&l->dirs, name);
	return 0;
}

/*
 * With the tenant's lock held nobody else writes its sets: every set
 * directory without a manifest is what a killed or failed backup left.
 * Remove it and mark its row failed.
 */
static int
clean_leftovers(Job *j, bool again)
{
	char *enc = str_path_encode(j->o->tenant);
	char *tenant_dir = xasprintf("tenback/%s/%s", j->cluster.system_id, enc);
	Leftovers l = {j, {0}};
	MetaSet *sets = NULL;
	size_t n = 0;
	int rc;

	if ((rc = storage_list(j->storage, tenant_dir, collect_set_dirs, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.dirs.count; i++) {
		char *dir = path_join(tenant_dir, l.dirs.items[i]);
		char *man = path_join(dir, "manifest");
		StorageInfo info;

		if ((rc = storage_info(j->storage, man, &info)) == 0 && !info.exists) {
			if (again) /* on S3 most often a prefix whose objects are gone already */
				log_debug("removing what is left of incomplete backup set \"%s\"", l.dirs.items[i]);
			else
				log_info("removing incomplete backup set \"%s\" left by an interrupted backup", l.dirs.items[i]);
			rc = storage_remove_tree(j->storage, dir);
		}
		free(dir);
		free(man);
		if (rc < 0)
			goto out;
	}
	if ((rc = meta_set_list(j->meta, j->cluster.name, j->o->tenant, "running", &sets, &n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		free(sets[i].status);
		sets[i].status = xstrdup("failed");
		free(sets[i].error);
		sets[i].error = xstrdup("the backup process was interrupted");
		if ((rc = meta_set_update(j->meta, &sets[i])) < 0)
			goto out;
	}
out:
	meta_set_array_free(sets, n);
	strlist_free(&l.dirs);
	free(tenant_dir);
	free(enc);
	return rc;
}

/* The settings and a failure newer than the last success (check_archiving's). */
#define ARCHIVING_SQL                                                                                    \
	"SELECT current_setting('archive_mode'), current_setting('archive_command'), "                     \
	"(SELECT coalesce(last_failed_wal, '') FROM pg_stat_archiver WHERE last_failed_time >"             \
	" coalesce(last_archived_time, '-infinity'))"

static int
check_archiving(Job *j, PGresult *res)
{
	const char *mode, *cmd, *failed;
	int rc;

	mode = PQgetvalue(res, 0, 0);
	cmd = PQgetvalue(res, 0, 1);
	if (strcmp(mode, "off") == 0 || strstr(cmd, "archive-push") == NULL) {
		rc = err_set(ERR_INVALID, "WAL archiving of cluster \"%s\" does not go through tenback", j->cluster.name);
		err_detail("archive_mode is \"%s\", archive_command is \"%s\".", mode, cmd);
		err_hint("Set in postgresql.conf: archive_mode = on and archive_command = "
		         "'tenback --home HOME archive-push --cluster %s %%p', then restart the server.",
		         j->cluster.name);
		return rc;
	}
	/* Failing now? Only a warning here: PostgreSQL may not have retried since
	 * the cause was fixed; the wait for the backup's WAL fails with the reason
	 * if it stays broken. */
	if (!PQgetisnull(res, 0, 2)) {
		failed = PQgetvalue(res, 0, 2);
		log_warning("WAL archiving of cluster \"%s\" failed for %s (pg_stat_archiver); see the server log",
		            j->cluster.name, failed);
	}
	return 0;
}

/* Which databases the set holds whole: the tenant, templates and postgres. */
#define DATABASES_SQL "SELECT oid, datname FROM pg_database ORDER BY oid"
#define TABLESPACES_SQL                                                                                  \
	"SELECT oid, spcname, pg_tablespace_location(oid) FROM pg_tablespace "                             \
	"WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid"
#define SUPERUSER_SQL "SELECT rolname FROM pg_roles WHERE oid = 10"

/* From the results of DATABASES_SQL, TABLESPACES_SQL and SUPERUSER_SQL. */
static int
load_databases(Job *j, PGresult *res, PGresult *spc, PGresult *role)
{
	bool whole = strcmp(j->o->tenant, "*") == 0;
	bool found = whole;
	int rc;

	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 1);
		bool is_tenant = !whole && strcmp(name, j->o->tenant) == 0;
		bool inc = whole || is_tenant || strcmp(name, "template0") == 0 || strcmp(name, "template1") == 0 ||
		           strcmp(name, "postgres") == 0;

		found = found || is_tenant;
		manifest_add_db(j->m, (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10), name, inc);
	}
	if (!found) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" does not exist in cluster \"%s\"", j->o->tenant, j->cluster.name);
		err_hint("\"tenback tenant list --cluster %s\" shows the tenants.", j->cluster.name);
		return rc;
	}
	for (int i = 0; i < PQntuples(spc); i++)
		manifest_add_tablespace(j->m, (uint32_t)strtoul(PQgetvalue(spc, i, 0), NULL, 10), PQgetvalue(spc, i, 1),
		                        PQgetvalue(spc, i, 2));
	if (PQntuples(role) < 1)
		return err_set(ERR_NOT_FOUND, "query returned no rows");
	free(j->m->superuser);
	j->m->superuser = PQgetisnull(role, 0, 0) ? NULL : xstrdup(PQgetvalue(role, 0, 0));
	return 0;
}

static int
no_full(Job *j, const char *why)
{
	int rc = err_set(ERR_NOT_FOUND, "Full data backup needed before incremental data backup");

	err_detail("%s", why);
	err_hint("Take a full backup first: tenback backup --cluster %s --tenant %s --mode full.", j->cluster.name,
	         j->o->tenant);
	return rc;
}

static bool
same_storage(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void
parent_load_run(ParentLoad *pl)
{
	if ((pl->rc = manifest_load(&pl->m, pl->storage, pl->dir)) < 0) {
		pl->err = err_save();
		return;
	}
	/* Of the parent's files only what copy_item asks is kept, compact: the
	 * parent and the new set are in memory together. */
	pl->files = manifest_lookup_take(pl->m);
}

static void *
parent_load_main(void *arg)
{
	pthread_setname_np(pthread_self(), "tb-parent");
	parent_load_run(arg);
	return NULL;
}

/* The load's end; its result stays in pl. */
static void
parent_load_wait(ParentLoad *pl)
{
	if (pl->started)
		pthread_join(pl->thread, NULL);
	pl->started = false;
}

static void
parent_load_clear(ParentLoad *pl)
{
	parent_load_wait(pl);
	manifest_free(pl->m);
	manifest_lookup_free(pl->files);
	err_saved_free(pl->err);
	free(pl->dir);
	memset(pl, 0, sizeof(*pl));
}

/* Load the manifest of the set in dir on a thread (here, if none starts); takes dir. */
static void
parent_load_start(Job *j, char *dir)
{
	ParentLoad *pl = &j->parent_load;

	parent_load_clear(pl);
	pl->storage = j->storage;
	pl->dir = dir;
	pl->started = pthread_create(&pl->thread, NULL, parent_load_main, pl) == 0;
	if (!pl->started)
		parent_load_run(pl);
}

/* The verdicts on a parent, worded once for the row's check and the manifest's. */
static int
other_timeline(Job *j, const char *set_id, long long set_timeline, const char *now_timeline)
{
	char why[256];

	snprintf(why, sizeof(why), "The latest set, %s, is of timeline %lld; the cluster is on timeline %s.", set_id,
	         set_timeline, now_timeline);
	return no_full(j, why);
}

static int
back_in_time(Job *j, const char *set_id, const char *now_lsn)
{
	char why[256];

	snprintf(why, sizeof(why), "The cluster's WAL position %s is behind the end of the latest set, %s: it "
	         "was brought back in time.", now_lsn, set_id);
	return no_full(j, why);
}

/*
 * An incremental builds on the tenant's latest completed physical set in
 * this storage, of the same system and timeline; checked before anything is
 * written, from the set's metadata row (the same system, the cluster's
 * timeline, its WAL position not behind the set's end).  Its manifest loads
 * meanwhile; parent_join checks it after pg_backup_start.  A chain never
 * spans two storages: each restores from its own.
 */
#define NOW_SQL "SELECT timeline_id, pg_current_wal_lsn()::text FROM pg_control_checkpoint()"

/* res: NOW_SQL's result. */
static int
find_parent(Job *j, PGresult *res)
{
	MetaSet *sets = NULL;
	size_t n = 0;
	uint64_t now_lsn = 0, stop_lsn = 0;
	const MetaSet *latest = NULL;
	int rc;

	if ((rc = meta_set_list(j->meta, j->cluster.name, j->o->tenant, "completed", &sets, &n)) < 0)
		return rc;
	/* a logical set is no parent: an incremental builds on physical sets only */
	for (size_t i = 0; i < n; i++)
		if (same_storage(sets[i].storage, j->storage_name) &&
		    !(sets[i].method && strcmp(sets[i].method, "logical") == 0))
			latest = &sets[i];
	if (latest == NULL) {
		char why[512];
		if (n == 0)
			snprintf(why, sizeof(why), "The tenant has no completed backup set.");
		else if (j->storage_name)
			snprintf(why, sizeof(why), "The tenant has no completed backup set in storage \"%s\".", j->storage_name);
		else
			snprintf(why, sizeof(why), "The tenant has no completed backup set in the storage of cluster \"%s\".",
			         j->cluster.name);
		rc = no_full(j, why);
		goto out;
	}
	if (pg_lsn_parse(&now_lsn, PQgetvalue(res, 0, 1)) < 0) {
		err_clear();
		now_lsn = 0;
	}
	if (latest->stop_lsn == NULL || pg_lsn_parse(&stop_lsn, latest->stop_lsn) < 0) {
		err_clear();
		stop_lsn = 0; /* parent_join checks the manifest's */
	}
	if ((latest->system_id && strcmp(latest->system_id, j->cluster.system_id) != 0) ||
	    (latest->timeline > 0 && (unsigned long)latest->timeline != strtoul(PQgetvalue(res, 0, 0), NULL, 10))) {
		rc = other_timeline(j, latest->id, (long long)latest->timeline, PQgetvalue(res, 0, 0));
		goto out;
	}
	/* A cluster brought back in time on the same timeline (a snapshot) would
	 * hand out LSNs the parent has already seen. */
	if (now_lsn != 0 && now_lsn < stop_lsn) {
		rc = back_in_time(j, latest->id, PQgetvalue(res, 0, 1));
		goto out;
	}
	free(j->parent_id);
	j->parent_id = xstrdup(latest->id);
	/* the WAL since the parent is read, and its manifest loaded, while the rest runs */
	wal_early_begin(j, latest, now_lsn);
	parent_load_start(j, latest->storage_path ? xstrdup(latest->storage_path)
	                                          : manifest_set_dir(j->cluster.system_id, j->o->tenant, latest->id));
out:
	if (rc < 0) {
		wal_early_clear(&j->early);
		free(j->parent_id);
		j->parent_id = NULL;
	}
	meta_set_array_free(sets, n);
	return rc;
}

/*
 * After pg_backup_start: the parent's manifest, as find_parent began to
 * load it, checked against its row and against the server now.  Its
 * failures are the ones find_parent would have had.
 */
static int
parent_join(Job *j)
{
	ParentLoad *pl = &j->parent_load;
	Manifest *p;
	char why[1024];
	int rc;

	if (j->parent_id == NULL || j->parent != NULL)
		return 0;
	parent_load_wait(pl);
	if (pl->rc < 0) {
		rc = pl->rc;
		err_restore(pl->err);
		if (err_class(rc) == ERR_CLASS_TRANSIENT) {
			err_prefix("could not read the parent set %s", j->parent_id);
			return rc; /* may work next time: not a missing full */
		}
		snprintf(why, sizeof(why), "The latest set, %s, cannot be read from the storage: %s", j->parent_id,
		         err_message());
		return no_full(j, why);
	}
	p = pl->m;
	if (strcmp(p->set_id, j->parent_id) != 0 || strcmp(p->system_id, j->cluster.system_id) != 0) {
		snprintf(why, sizeof(why), "The manifest of the latest set, %s, names set %s of system %s.", j->parent_id,
		         p->set_id, p->system_id);
		return no_full(j, why);
	}
	if (p->timeline != j->m->timeline) {
		char now[16];
		snprintf(now, sizeof(now), "%u", j->m->timeline);
		return other_timeline(j, p->set_id, p->timeline, now);
	}
	/* Unchanged pages come from the parent: they must carry checksums when the
	 * cluster now verifies them (pg_checksums --enable rewrites every page
	 * without a new LSN). */
	if ((p->data_checksums != 0) != (j->m->data_checksums != 0)) {
		snprintf(why, sizeof(why), "Data checksums were turned %s since the latest set, %s.",
		         j->m->data_checksums ? "on" : "off", p->set_id);
		return no_full(j, why);
	}
	if (j->m->start_lsn < p->stop_lsn) {
		char lsn[32];
		pg_lsn_format(lsn, j->m->start_lsn);
		return back_in_time(j, p->set_id, lsn);
	}
	j->parent = p;
	j->parent_files = pl->files;
	pl->m = NULL;
	pl->files = NULL;
	/* begun from the metadata's row: what the manifest says must agree */
	if (j->early.started &&
	    (j->early.wo.from_lsn != j->parent->start_lsn || j->early.wo.from_timeline != j->parent->timeline ||
	     j->early.wo.seg_size != j->parent->wal_seg_size))
		wal_early_clear(&j->early);
	return 0;
}

/* The settings with it: one round trip. */
#define START_SQL                                                                                        \
	"SELECT lsn::text, substr(pg_walfile_name(lsn), 1, 8), "                                           \
	"current_setting('data_checksums'), current_setting('wal_log_hints') "                             \
	"FROM pg_backup_start($1, true) AS lsn"

/* pg_backup_start sent; start_backup_receive waits for it (the server
 * checkpoints meanwhile).  Until then nothing else goes on the connection. */
static int
start_backup_send(Job *j)
{
	char *label = xasprintf("tenback %s", j->row.id);
	const char *params[1] = {label};
	int rc = pg_conn_send_params(j->conn, START_SQL, 1, params);

	free(label);
	if (rc < 0)
		err_prefix("could not start the backup");
	return rc;
}

static int
start_backup_receive(Job *j)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_conn_receive(j->conn, &res, START_SQL)) < 0) {
		err_prefix("could not start the backup");
		goto out;
	}
	j->started = true;
	if ((rc = pg_lsn_parse(&j->m->start_lsn, PQgetvalue(res, 0, 0))) < 0)
		goto out;
	j->m->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 16);
	free(j->row.start_lsn);
	j->row.start_lsn = xstrdup(PQgetvalue(res, 0, 0));
	j->row.timeline = j->m->timeline;
	j->m->data_checksums = strcmp(PQgetvalue(res, 0, 2), "on") == 0;
	j->wal_log_hints = strcmp(PQgetvalue(res, 0, 3), "on") == 0;
out:
	PQclear(res);
	return rc;
}

static void
job_log(Job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));


static WalBlocksOpts
wal_opts(const Job *j)
{
	WalBlocksOpts wo = {
		.archive = j->archive ? j->archive : j->storage,
		.system_id = j->cluster.system_id,
		.pgdata = j->cluster.pgdata,
		.seg_size = j->m->wal_seg_size,
		.from_timeline = j->parent->timeline,
		.to_timeline = j->m->timeline,
		.from_lsn = j->parent->start_lsn,
		.to_lsn = j->m->start_lsn,
		.cancel_cb = j->o->cancel_cb,
		.payload = j->o->payload,
	};
	return wo;
}

/* Is reading the WAL from from_lsn to to_lsn ahead of the walk worth it?  Not
 * with --detect scan, and without --detect only for WAL of at most half the
 * parent's size (the walk's figures decide again in changed_blocks). */
static bool
wal_early_worth(const Job *j, uint64_t from_lsn, uint64_t to_lsn, uint64_t parent_size)
{
	if (j->o->detect && strcmp(j->o->detect, "scan") == 0)
		return false;
	return from_lsn <= to_lsn && (j->o->detect != NULL || (to_lsn - from_lsn) * 2 <= parent_size);
}

static bool
wal_early_stopped(void *payload)
{
	return atomic_load(&((WalEarly *)payload)->stop);
}

/* The reader's wait for this backup's start (to_lsn_cb): 0 once stopped. */
static uint64_t
wal_early_wait_start(void *payload, uint32_t *out_timeline)
{
	WalEarly *e = payload;
	uint64_t lsn;

	pthread_mutex_lock(&e->mu);
	while (!e->start_known && !atomic_load(&e->stop))
		pthread_cond_wait(&e->cv, &e->mu);
	lsn = e->start_known && !atomic_load(&e->stop) ? e->start_lsn : 0;
	*out_timeline = e->timeline;
	pthread_mutex_unlock(&e->mu);
	return lsn;
}

static void *
wal_early_main(void *arg)
{
	WalEarly *e = arg;

	pthread_setname_np(pthread_self(), "tb-wal");
	e->rc = walblocks_collect(&e->out, &e->reason, &e->wo);
	if (e->rc < 0)
		e->err = err_save();
	return NULL;
}

static void
wal_early_run(WalEarly *e, const WalBlocksOpts *wo)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->wo = *wo;
	/* the task's cancel check belongs to this thread: the reader sees a flag */
	e->wo.cancel_cb = wal_early_stopped;
	e->wo.payload = e;
	e->started = pthread_create(&e->thread, NULL, wal_early_main, e) == 0;
	if (!e->started) {
		pthread_cond_destroy(&e->cv);
		pthread_mutex_destroy(&e->mu);
	}
}

/*
 * With the parent known from the metadata (latest), before this backup
 * starts: read ahead to what the server has written (now_lsn).  The segment
 * size is pg_control's; find_parent drops the reader should the parent's
 * manifest disagree with the row.
 */
static void
wal_early_begin(Job *j, const MetaSet *latest, uint64_t now_lsn)
{
	PgControl ctl;
	uint64_t from_lsn = 0;
	WalBlocksOpts wo = {
		.archive = j->archive ? j->archive : j->storage,
		.system_id = j->cluster.system_id,
		.pgdata = j->cluster.pgdata,
		.from_timeline = (uint32_t)latest->timeline,
		.ahead_lsn = now_lsn,
		.to_lsn_cb = wal_early_wait_start,
	};

	if (latest->start_lsn == NULL || pg_lsn_parse(&from_lsn, latest->start_lsn) < 0 ||
	    !wal_early_worth(j, from_lsn, now_lsn, (uint64_t)latest->size_bytes) ||
	    pg_control_read(&ctl, j->cluster.pgdata) < 0 || !pg_wal_seg_size_valid(ctl.xlog_seg_size)) {
		err_clear();
		return;
	}
	wo.from_lsn = from_lsn;
	wo.seg_size = ctl.xlog_seg_size;
	wal_early_run(&j->early, &wo);
}

/* This backup has started (at j->m->start_lsn): the reader begun ahead reads on to
 * it; one not begun starts now, knowing both ends. */
static void
wal_early_start(Job *j, WalEarly *e)
{
	WalBlocksOpts wo;

	if (e->started) {
		pthread_mutex_lock(&e->mu);
		e->start_lsn = j->m->start_lsn;
		e->timeline = j->m->timeline;
		e->start_known = true;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		return;
	}
	if (!wal_early_worth(j, j->parent->start_lsn, j->m->start_lsn, j->parent->size_bytes))
		return;
	wo = wal_opts(j);
	wal_early_run(e, &wo);
}

/* Wait for the reader; with stop, tell it to give up first. */
static void
wal_early_join(WalEarly *e, bool stop)
{
	if (!e->started)
		return;
	if (stop) {
		pthread_mutex_lock(&e->mu);
		atomic_store(&e->stop, true);
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
	}
	pthread_join(e->thread, NULL);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	e->started = false;
}

static void
wal_early_clear(WalEarly *e)
{
	wal_early_join(e, true);
	if (e->out)
		walblocks_free(e->out);
	free(e->reason);
	err_saved_free(e->err);
	memset(e, 0, sizeof(*e));
}

/* Where an incremental's changed pages come from; NULL *out: the page scan (said
 * in the log).  With early started, its result is taken (or dropped). */
static int
changed_blocks(Job *j, WalBlocks **out, WalEarly *early)
{
	const char *detect = j->o->detect ? j->o->detect : "wal";
	WalBlocksOpts wo = wal_opts(j);
	char *reason = NULL;
	bool was_early = early->started;
	int rc;

	*out = NULL;
	wal_early_join(early, false);
	if (was_early && j->o->cancel_cb && j->o->cancel_cb(j->o->payload))
		return err_set(ERR_CANCELLED, "the backup was cancelled");
	if (strcmp(detect, "scan") == 0) {
		job_log(j, "changed pages: reading every page of the tenant's relations (--detect scan)");
		return 0;
	}
	if (j->o->detect == NULL) {
		/* The WAL is the whole instance's: for a small tenant of a busy instance
		 * reading it costs more than reading the tenant's pages. */
		uint64_t wal_bytes = wo.to_lsn > wo.from_lsn ? wo.to_lsn - wo.from_lsn : 0, rel_bytes = 0;

		for (size_t i = 0; i < j->m->n_files; i++)
			if (j->m->files[i].kind == MF_FILE && files_incremental_candidate(j->m->files[i].path))
				rel_bytes += j->m->files[i].size;
		if (wal_bytes > rel_bytes) {
			job_log(j, "changed pages: reading every page: the WAL since the parent backup (%.1f MiB) is more than "
			        "the relation files to back up (%.1f MiB)", (double)wal_bytes / 1048576.0,
			        (double)rel_bytes / 1048576.0);
			return 0;
		}
	}
	if (was_early) {
		if (early->rc < 0)
			return err_restore(early->err);
		*out = early->out;
		reason = early->reason;
		early->out = NULL;
		early->reason = NULL;
	} else if ((rc = walblocks_collect(out, &reason, &wo)) < 0) {
		return rc;
	}
	if (*out == NULL) {
		if (strcmp(detect, "compare") == 0) {
			rc = err_set(ERR_INVALID, "--detect compare needs the WAL since the parent backup: %s", reason);
			free(reason);
			return rc;
		}
		job_log(j, "changed pages: the WAL since the parent backup cannot be used (%s); reading every page instead",
		        reason);
		free(reason);
		return 0;
	}
	job_log(j, "changed pages: from the WAL since the parent backup");
	return 0;
}

/* What every copy of the job shares: where to, how, with how many workers. */
static void
copy_ctx_of_job(CopyCtx *ctx, const Job *j)
{
	ctx->storage = j->storage;
	ctx->set_dir = j->set_dir;
	ctx->pgdata = j->cluster.pgdata;
	ctx->compress = j->compress;
	ctx->level = j->level;
	ctx->checksum = j->checksum;
	ctx->jobs = j->o->jobs > 0 ? (j->o->jobs > POOL_JOBS_MAX ? POOL_JOBS_MAX : j->o->jobs) : pool_default_jobs();
}

/* One copy of the data: the pool's payload. */
typedef struct CopyRun {
	Job *j;
	CopyCtx *ctx;
	size_t *order;            /* item -> index in j->m->files */
	int64_t last_log_ms;
	const WalBlocks *wal;     /* incremental: the blocks the WAL named; NULL: the page scan */
	_Atomic uint64_t whole_files; /* files the WAL did not describe by blocks */
	int64_t parent_start;     /* incremental: the parent's start (epoch s); 0: unknown */
	_Atomic uint64_t maps_reused; /* map forks unchanged since before the parent: not read */
} CopyRun;

static int
copy_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	CopyRun *run = payload;
	Job *j = run->j;
	ManifestFile *f = &j->m->files[run->order[item_idx]];
	ManifestFile parent_view;
	const ManifestFile *pf = &parent_view;
	int64_t t0 = time_now_ms();
	int rc;

	copy_throttle_pool(run->ctx, p);
	if (j->parent && files_incremental_candidate(f->path) &&
	    manifest_lookup_find(j->parent_files, f->path, &parent_view) && (pf->kind == MF_FILE || pf->kind == MF_INCR)) {
		BlockRanges changed = {0};
		bool by_blocks = run->wal && walblocks_lookup(run->wal, f->path, &changed) == WB_BLOCKS;

		if (run->wal && !by_blocks)
			atomic_fetch_add(&run->whole_files, 1);
		rc = files_copy_incremental(run->ctx, p, worker_idx, f, pf, j->parent->set_id, j->parent->start_lsn,
		                            j->row.id, by_blocks ? &changed : NULL);
		ranges_free(&changed);
	} else if (j->parent && run->parent_start > 0 && files_map_fork(f->path) &&
	           manifest_lookup_find(j->parent_files, f->path, &parent_view)) {
		bool reused = false;

		rc = files_reuse_unchanged(run->ctx, f, pf, j->parent->set_id, run->parent_start, &reused);
		if (rc == 0 && reused)
			atomic_fetch_add(&run->maps_reused, 1);
		else if (rc == 0)
			rc = files_copy(run->ctx, p, worker_idx, f);
	} else
		rc = files_copy(run->ctx, p, worker_idx, f);
	if (rc == 0 && !f->vanished)
		atomic_fetch_add(&run->ctx->files_done, 1);
	if (rc == 0 && f->size >= 64 * 1024 * 1024)
		log_debug("copied \"%s\", %.1f MiB, in %.2f s", f->path, (double)f->size / 1048576.0,
		          (double)(time_now_ms() - t0) / 1000.0);
	return rc;
}

/* On the calling thread, every ~250 ms: cancellation, progress, a log line. */
static int
copy_tick(void *payload)
{
	CopyRun *run = payload;
	Job *j = run->j;

	if (j->o->cancel_cb && j->o->cancel_cb(j->o->payload))
		return err_set(ERR_CANCELLED, "the backup was cancelled");
	files_progress(run->ctx, false);
	if (j->o->progress && time_now_ms() - run->last_log_ms >= 2000) {
		run->last_log_ms = time_now_ms();
		log_info("backup %s: %" PRIu64 " files, %.1f MiB copied", j->row.id, atomic_load(&run->ctx->files_done),
		         (double)atomic_load(&run->ctx->bytes_done) / (1024.0 * 1024.0));
	}
	return 0;
}

/* Largest first: a big file's chunks keep every worker busy, and a file
 * copied whole (an incremental one) does not start last. */
typedef struct SizedItem {
	uint64_t size;
	size_t file_idx;
} SizedItem;

static int
cmp_item_size(const void *a, const void *b)
{
	const SizedItem *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->file_idx < y->file_idx ? -1 : x->file_idx > y->file_idx;
}

static int
copy_data(Job *j)
{
	CopyCtx ctx = {0};
	CopyRun run = {j, &ctx, NULL, 0, NULL, 0, 0, 0};
	WalBlocks *wal = NULL;
	IncrCompare cmp = {0};
	bool compare = j->o->detect && strcmp(j->o->detect, "compare") == 0;
	ScanOpts so = {j->cluster.pgdata, strcmp(j->o->tenant, "*") == 0};
	PoolOpts po = {0};
	SizedItem *items = NULL;
	size_t n_items = 0, n_copied = 0;
	ssize_t control_idx = -1;
	uint64_t pages_bad = 0;
	int64_t t0 = time_now_ms();
	int rc;

	if (j->parent)
		wal_early_start(j, &j->early);
	if ((rc = files_scan(j->m, &so)) < 0) {
		wal_early_clear(&j->early);
		return rc;
	}
	copy_ctx_of_job(&ctx, j);
	ctx.start_lsn = j->m->start_lsn;
	ctx.verify_checksums = j->m->data_checksums != 0;
	ctx.hints_unlogged = j->m->data_checksums == 0 && !j->wal_log_hints;
	ctx.max_rate = j->o->max_rate;
	ctx.progress_cb = j->o->progress_cb;
	ctx.payload = j->o->payload;
	if (j->parent && (rc = changed_blocks(j, &wal, &j->early)) < 0)
		goto out;
	run.wal = wal;
	/* map forks unchanged since before the parent started are not read (--detect
	 * compare reads everything, to compare) */
	if (j->parent && !compare && time_parse_utc(j->parent->start_time, &run.parent_start) < 0) {
		err_clear();
		run.parent_start = 0;
	}
	if (compare) {
		/* the comparison counts are not shared between threads */
		cmp.until_lsn = j->m->start_lsn;
		ctx.compare = &cmp;
		ctx.jobs = 1;
	}
	if ((rc = copy_ctx_prepare(&ctx)) < 0)
		goto out;
	run.order = xcalloc(j->m->n_files + 1, sizeof(*run.order));
	items = xcalloc(j->m->n_files + 1, sizeof(*items));
	for (size_t i = 0; i < j->m->n_files; i++) {
		if (j->m->files[i].kind != MF_FILE)
			continue;
		ctx.bytes_total += j->m->files[i].size;
		/* pg_control is copied last, after every other file (as PostgreSQL's base backup does) */
		if (strcmp(j->m->files[i].path, "global/pg_control") == 0)
			control_idx = (ssize_t)i;
		else
			items[n_items++] = (SizedItem){j->m->files[i].size, i};
	}
	qsort(items, n_items, sizeof(*items), cmp_item_size);
	for (size_t item_idx = 0; item_idx < n_items; item_idx++)
		run.order[item_idx] = items[item_idx].file_idx;
	po.jobs = ctx.jobs;
	po.n_items = n_items;
	po.item = copy_item;
	po.tick = copy_tick;
	po.payload = &run;
	po.slot_bytes = copy_slot_bytes();
	po.n_slots = COPY_SLOTS(ctx.jobs);
	/* small files go into <set>/bundles/NNNNNN (doc/repository.md) */
	if ((rc = storage_bundle_begin(j->storage, j->set_dir, 0, 0)) < 0)
		goto out;
	rc = pool_run(&po);
	if (rc == 0 && control_idx >= 0) {
		run.order[0] = (size_t)control_idx;
		po.n_items = 1;
		rc = pool_run(&po);
	}
	if (rc == 0)
		rc = storage_bundle_end(j->storage); /* the last bundle stored: every file is */
	else
		storage_bundle_abandon(j->storage);
	if (rc < 0)
		goto out;
	files_progress(&ctx, true);
	/* Totals in manifest order: the same whatever the workers' timing. */
	for (size_t i = 0; i < j->m->n_files; i++) {
		const ManifestFile *f = &j->m->files[i];

		if ((f->kind != MF_FILE && f->kind != MF_INCR) || f->vanished)
			continue;
		j->m->size_bytes += f->size;  /* the file's size; stored_bytes tells what this set holds */
		j->m->stored_bytes += f->stored_size;
		pages_bad += f->page_errors;
		n_copied++;
	}
	if (j->parent) {
		/* What the parent had and this set has not: gone since. */
		for (size_t i = 0; i < manifest_lookup_count(j->parent_files); i++) {
			const char *path = manifest_lookup_path(j->parent_files, i);
			const ManifestFile *now = manifest_find_file(j->m, path);
			if (now == NULL || now->vanished)
				strlist_add(&j->m->removed, path);
		}
	}
	if (compare) {
		cmp.whole_files = atomic_load(&run.whole_files);
		job_log(j, "detect compare: the scan stored %" PRIu64 " pages below the parent's length, the WAL named %" PRIu64
		        "; not named by the WAL: %" PRIu64 " (%" PRIu64 " changed after the start, %" PRIu64
		        " all-zero); only in the WAL: %" PRIu64 "; files the WAL did not describe by blocks: %" PRIu64,
		        cmp.scan_blocks, cmp.wal_blocks, cmp.missing + cmp.missing_after_start + cmp.missing_zero,
		        cmp.missing_after_start, cmp.missing_zero, cmp.only_wal, cmp.whole_files);
		if (cmp.missing) {
			rc = err_set(ERR_CORRUPT, "the WAL did not name %" PRIu64 " changed pages, the first %s", cmp.missing,
			             cmp.first_missing);
			goto out;
		}
	}
	if (pages_bad)
		log_warning("%" PRIu64 " pages failed their checksum; they are listed in the manifest", pages_bad);
	if (atomic_load(&run.maps_reused))
		log_info("%" PRIu64 " free space and visibility map files unchanged since before the parent backup: "
		         "not read, taken from it", atomic_load(&run.maps_reused));
	job_log(j, "data: %zu files, %.1f MiB in files, %.1f MiB read, %.1f MiB stored in %.1f s (%d jobs)", n_copied,
	        (double)j->m->size_bytes / 1048576.0, (double)atomic_load(&ctx.bytes_read) / 1048576.0,
	        (double)j->m->stored_bytes / 1048576.0, (double)(time_now_ms() - t0) / 1000.0, ctx.jobs);
out:
	wal_early_clear(&j->early);
	walblocks_free(wal);
	copy_ctx_release(&ctx);
	free(run.order);
	free(items);
	return rc;
}

/* The WAL copy's context unmade: jobs 0 again (wal_from_pg_wal makes it then). */
static void
wal_ctx_clear(Job *j)
{
	copy_ctx_release(&j->wal_ctx);
	memset(&j->wal_ctx, 0, sizeof(j->wal_ctx));
}

/* About 3 MiB of manifest text kept in memory until the set is finished. */
#define RENDER_AHEAD_MAX_FILES 20000

static int
stop_backup(Job *j)
{
	PGresult *res = NULL;
	int rc;

	/* With the server's clock, rounded up to the second: a recovery target time
	 * at or after it is past the set's consistency point.  clock_timestamp() is
	 * evaluated for the row pg_backup_stop returned, so after it. */
	static const char sql[] = "SELECT lsn::text, labelfile, "
	                          "to_char(date_trunc('second', clock_timestamp() AT TIME ZONE 'UTC') "
	                          "+ interval '1 second', 'YYYY-MM-DD HH24:MI:SS') || '+00' "
	                          "FROM pg_backup_stop(false)";

	if ((rc = pg_conn_send(j->conn, sql)) < 0) {
		err_prefix("could not stop the backup");
		return rc;
	}
	/* The files are final: their part of the manifest is written while the
	 * server ends the backup (its WAL switch takes tens of milliseconds).
	 * Not for very many files, whose text is streamed at the end instead. */
	if (j->m->n_files <= RENDER_AHEAD_MAX_FILES)
		manifest_files_render(j->m);
	/* and the WAL copy's codecs and frame of zeros (an error is left to collect_wal);
	 * made again for each attempt, whose set directory is its own */
	wal_ctx_clear(j);
	copy_ctx_of_job(&j->wal_ctx, j);
	if (copy_ctx_prepare(&j->wal_ctx) < 0 || copy_ctx_zero_frame(&j->wal_ctx) < 0) {
		err_clear();
		wal_ctx_clear(j);
	}
	if ((rc = pg_conn_receive(j->conn, &res, sql)) < 0) {
		err_prefix("could not stop the backup");
		return rc;
	}
	j->started = false;
	free(j->stop_time);
	j->stop_time = xstrdup(PQgetvalue(res, 0, 2));
	rc = pg_lsn_parse(&j->m->stop_lsn, PQgetvalue(res, 0, 0));
	j->m->backup_label = xstrdup(PQgetvalue(res, 0, 1));
	free(j->row.stop_lsn);
	j->row.stop_lsn = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* The stop segment's copy: one item, whose 1 MiB chunks every worker compresses. */
typedef struct WalCopy {
	CopyCtx *ctx;
	ManifestFile *f;
	const char *full;
	const char *object;
	uint64_t zero_from;
} WalCopy;

static int
wal_copy_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	WalCopy *wc = payload;

	(void)item_idx;
	return files_copy_to(wc->ctx, p, worker_idx, wc->f, wc->full, wc->object, wc->zero_from);
}

/*
 * Store segment NAME (number SEG) into the set straight from pg_wal, once
 * PostgreSQL has finished it (archive_status holds .ready or .done): the
 * same bytes the archiver pushes, without waiting for it.  1: stored;
 * 0: not there (removed, recycled, not finished): the caller waits for the
 * archive instead; < 0: an error.  A segment recycled while it was read is
 * renamed to a later name, so the name still naming the file read, after
 * the read, proves the content is the finished segment's.  Its 16 chunks
 * are compressed by the backup's workers, as a data file's.
 */
static int
wal_from_pg_wal(Job *j, CopyCtx *ctx, const char *name, uint64_t seg, const char *dst, IoContainerInfo *out)
{
	char *path = xasprintf("%s/pg_wal/%s", j->cluster.pgdata, name);
	char *ready = xasprintf("%s/pg_wal/archive_status/%s.ready", j->cluster.pgdata, name);
	char *done = xasprintf("%s/pg_wal/archive_status/%s.done", j->cluster.pgdata, name);
	char *rel = xasprintf("pg_wal/%s", name);
	uint8_t header[64];
	struct stat before, after;
	PgWalLongHeader hdr;
	ManifestFile f = {0};
	WalCopy wc = {ctx, &f, path, dst, UINT64_MAX};
	PoolOpts po = {0};
	int fd = -1, rc = 0;
	ssize_t n;

	if (access(ready, F_OK) != 0 && access(done, F_OK) != 0)
		goto out;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &before) < 0 ||
	    (uint64_t)before.st_size != j->m->wal_seg_size)
		goto out;
	n = pread(fd, header, sizeof(header), 0);
	if (n < 0 || pg_wal_long_header_parse(&hdr, header, (size_t)n) < 0 ||
	    hdr.pageaddr != seg * (uint64_t)j->m->wal_seg_size || hdr.timeline != j->m->timeline ||
	    strtoull(j->cluster.system_id, NULL, 10) != hdr.system_identifier) {
		err_clear();
		goto out;
	}
	/* the workers' codecs are made for the first segment, kept for the next */
	if (ctx->jobs == 0) {
		copy_ctx_of_job(ctx, j);
		if ((rc = copy_ctx_prepare(ctx)) < 0)
			goto out;
	}
	/* the segment pg_backup_stop switched: what follows its switch record is not read */
	if (seg == pg_wal_segno(j->m->stop_lsn - 1, j->m->wal_seg_size))
		wc.zero_from = wal_switch_end(fd, j->m->wal_seg_size, j->m->timeline, seg, j->m->stop_lsn);
	if (wc.zero_from < j->m->wal_seg_size && (rc = copy_ctx_zero_frame(ctx)) < 0)
		goto out;
	f.path = rel;
	f.kind = MF_FILE;
	po.jobs = ctx->jobs;
	po.n_items = 1;
	po.item = wal_copy_item;
	po.payload = &wc;
	po.slot_bytes = copy_slot_bytes();
	po.n_slots = COPY_SLOTS(ctx->jobs);
	if ((rc = pool_run(&po)) < 0)
		goto out;
	if (f.vanished || f.size != j->m->wal_seg_size || stat(path, &after) < 0 || after.st_ino != before.st_ino ||
	    after.st_dev != before.st_dev) {
		/* recycled while read: what was stored is not the segment */
		rc = f.vanished ? 0 : storage_remove(j->storage, dst);
		goto out;
	}
	out->raw_size = f.size;
	out->stored_size = f.stored_size;
	out->sum = f.sum;
	out->compress = j->compress;
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(ready);
	free(done);
	free(rel);
	return rc;
}

/* Each segment from start to stop goes into the set so that the set
 * restores on its own: from pg_wal when PostgreSQL has finished it, else
 * waited for in the archive (always in the cluster's own storage) and
 * copied from there. */
static int
collect_wal(Job *j, size_t *from_pg_wal)
{
	Storage *archive = j->archive ? j->archive : j->storage;
	uint32_t seg_size = j->m->wal_seg_size;
	uint64_t first = pg_wal_segno(j->m->start_lsn, seg_size);
	uint64_t last = pg_wal_segno(j->m->stop_lsn - 1, seg_size);
	int timeout_s = j->o->archive_timeout_s > 0 ? j->o->archive_timeout_s : 60;
	CopyCtx *ctx = &j->wal_ctx; /* for the segments in pg_wal: prepared during the stop, else at the first */
	int rc = 0;

	for (uint64_t seg = first; seg <= last; seg++) {
		char name[32];
		char *src, *dst;
		IoContainerInfo ci;
		int64_t deadline = time_now_ms() + (int64_t)timeout_s * 1000;
		StorageInfo info;

		pg_wal_name(name, j->m->timeline, seg, seg_size);
		src = manifest_archive_path(j->cluster.system_id, name);
		dst = xasprintf("%s/wal/%s", j->set_dir, name);
		/* whichever comes first: PostgreSQL marks the segment finished in
		 * pg_wal (its .ready may follow the switch by a moment under load),
		 * or the archive has it (pg_wal may have recycled it long ago) */
		for (int attempt = 0;; attempt++) {
			if ((rc = wal_from_pg_wal(j, ctx, name, seg, dst, &ci)) != 0)
				break;
			if ((rc = storage_info(archive, src, &info)) < 0 || info.exists)
				break;
			if (time_now_ms() > deadline) {
				rc = err_set(ERR_TIMEOUT, "WAL segment \"%s\" was not archived within %d seconds", name, timeout_s);
				err_hint("Check archive_command and pg_stat_archiver of cluster \"%s\"; raise --archive-timeout "
				         "when archiving is slow.", j->cluster.name);
				break;
			}
			/* 5, 10, 20, 40, 80 ms, then every 100 ms: a .ready is usually a moment late */
			usleep((useconds_t)(attempt < 5 ? 5000 << attempt : 100000));
		}
		if (rc > 0) {
			(*from_pg_wal)++;
			manifest_add_wal(j->m, name, ci.raw_size, ci.stored_size, &ci.sum);
			rc = 0;
		} else if (rc == 0) {
			rc = storage_copy_between(archive, src, j->storage, dst, &(StorageWriteOpts){.no_sync = true});
			/* Read it back through the container to record what the set holds. */
			if (rc == 0 && (rc = files_read_object(j->storage, dst, -1, NULL, &ci)) == 0)
				manifest_add_wal(j->m, name, ci.raw_size, ci.stored_size, &ci.sum);
		}
		free(src);
		free(dst);
		if (rc < 0)
			break;
	}
	wal_ctx_clear(j);
	return rc;
}

static void
job_log(Job *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
	if (j->o->log_cb)
		j->o->log_cb(line, j->o->payload);
}

struct BackupJob {
	Job job;
	int lock_fd;
	char *resume_id;
	bool prepared;            /* connected, databases and parent loaded */
	bool probed;
	int last_ok;              /* the step that ran last, when it succeeded; else -1 */
	/* false: all steps run here, in one go (backup_run), and nothing resumes
	 * the set after a crash, so step 2 keeps no manifest.partial */
	bool resumable;
};

void
backup_job_abandon(BackupJob *bj)
{
	Job *j = &bj->job;
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", err_message()[0] ? err_message() : "abandoned");
	if (j->set_dir && j->storage && storage_remove_tree(j->storage, j->set_dir) < 0)
		log_warning("could not remove incomplete set \"%s\"", j->set_dir);
	if (j->row_inserted) {
		free(j->row.status);
		j->row.status = xstrdup("failed");
		free(j->row.error);
		j->row.error = xstrdup(msg);
		if (meta_set_update(j->meta, &j->row) < 0)
			log_warning("could not record the failed backup in the metadata");
	}
}

int
backup_max_rate_check(uint64_t rate, bool logical, const char *what)
{
	if (rate && logical) {
		err_set(ERR_UNSUPPORTED, "a rate limit is for physical backups");
		err_detail("A logical backup is pg_dump's reading, which tenback does not pace.");
		err_hint("Leave %s out, or use the physical method where the cluster allows it.", what);
		return ERR_UNSUPPORTED;
	}
	if (rate == 0 || rate >= BACKUP_MAX_RATE_MIN)
		return 0;
	err_set(ERR_INVALID, "%s is too low: %llu bytes per second", what, (unsigned long long)rate);
	err_hint("Give at least 1M (1 MiB per second), with a unit: k, M, G (\"64M\" is 64 MiB per second).");
	return ERR_INVALID;
}

int
backup_job_new(BackupJob **out, Meta *meta, const BackupOpts *o, const char *resume_set_id)
{
	BackupJob *bj = xcalloc(1, sizeof(*bj));
	Job *j = &bj->job;
	char *lock_name = NULL, *what = NULL;
	int rc;

	*out = NULL;
	bj->lock_fd = -1;
	bj->last_ok = -1;
	bj->resumable = true;
	j->o = o;
	j->meta = meta;
	if (o->mode && strcmp(o->mode, "full") != 0 && strcmp(o->mode, "incremental") != 0) {
		rc = err_set(ERR_INVALID, "invalid backup mode \"%s\"", o->mode);
		err_hint("Use --mode full or --mode incremental.");
		goto fail;
	}
	if ((rc = meta_cluster_get(meta, o->cluster, &j->cluster)) < 0)
		goto fail;
	{
		const char *method = NULL;
		char reason[256] = "";
		if ((rc = backup_method_resolve(&j->cluster, o->method, &method, reason, sizeof(reason))) < 0)
			goto fail;
		j->logical = strcmp(method, "logical") == 0;
		if (o->method == NULL && resume_set_id == NULL)
			log_info("backup method of tenant \"%s\": %s (%s)", o->tenant, method, reason);
	}
	/* before any work: a logical backup has no incrementals */
	if (j->logical && o->mode && strcmp(o->mode, "incremental") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "Logical backup supports only full backup");
		err_hint("Take a full backup (--mode full), or use --method physical where the cluster allows it.");
		goto fail;
	}
	if ((rc = backup_max_rate_check(o->max_rate, j->logical, "the rate limit")) < 0)
		goto fail;
	if ((rc = io_compress_parse(&j->compress, o->compress ? o->compress : j->cluster.compress)) < 0)
		goto fail;
	j->level = io_compress_default_level(j->compress);
	if ((rc = io_checksum_parse(&j->checksum, o->checksum ? o->checksum : "crc32c")) < 0)
		goto fail;
	lock_name = xasprintf("backup-%s-%s", o->cluster, o->tenant);
	what = xasprintf("a backup of tenant \"%s\" of cluster \"%s\"", o->tenant, o->cluster);
	if ((rc = lock_acquire(&bj->lock_fd, o->home, lock_name, what)) < 0)
		goto fail;
	j->storage_name = o->storage ? xstrdup(o->storage) : NULL;
	if (resume_set_id) {
		MetaSet *sets = NULL;
		size_t n = 0;
		if ((rc = meta_set_list(meta, o->cluster, o->tenant, NULL, &sets, &n)) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++)
			if (strcmp(sets[i].id, resume_set_id) == 0) {
				j->row = sets[i];
				memset(&sets[i], 0, sizeof(sets[i]));
				j->row_inserted = true;
				j->set_dir = xstrdup(j->row.storage_path);
			}
		meta_set_array_free(sets, n);
		bj->resume_id = xstrdup(resume_set_id);
		/* the set carries on in the storage it was begun in, by its method */
		if (j->row_inserted) {
			free(j->storage_name);
			j->storage_name = j->row.storage ? xstrdup(j->row.storage) : NULL;
			j->logical = j->row.method && strcmp(j->row.method, "logical") == 0;
		}
	}
	if ((rc = cluster_storage_open(meta, &j->cluster, j->storage_name, &j->storage)) < 0)
		goto fail;
	/* a physical set copies its WAL from the cluster's archive, in the cluster's own storage */
	if (j->storage_name && !j->logical && (rc = cluster_storage_open(meta, &j->cluster, NULL, &j->archive)) < 0) {
		err_prefix("could not open the WAL archive of cluster \"%s\"", j->cluster.name);
		goto fail;
	}
	*out = bj;
	free(lock_name);
	free(what);
	return 0;
fail:
	free(lock_name);
	free(what);
	backup_job_free(bj);
	return rc;
}

const char *
backup_job_set_id(const BackupJob *bj)
{
	return bj->job.row.id;
}

void
backup_job_free(BackupJob *bj)
{
	Job *j;

	if (bj == NULL)
		return;
	j = &bj->job;
	wal_early_clear(&j->early); /* before what its thread reads */
	parent_load_clear(&j->parent_load);
	copy_ctx_release(&j->wal_ctx);
	free(j->parent_id);
	pg_conn_free(j->conn); /* closing the session aborts a started backup on the server */
	storage_free(j->storage);
	storage_free(j->archive);
	free(j->storage_name);
	manifest_free(j->m);
	manifest_free(j->parent);
	manifest_lookup_free(j->parent_files);
	free(j->stop_time);
	free(j->pg_dump);
	free(j->pg_dump_version);
	meta_set_clear(&j->row);
	meta_cluster_clear(&j->cluster);
	free(j->set_dir);
	lock_release(bj->lock_fd);
	free(bj->resume_id);
	free(bj);
}

/* Connect and learn what a set of this tenant holds; once per job. */
static int
prepare(BackupJob *bj)
{
	Job *j = &bj->job;
	int rc;

	if (bj->prepared)
		return 0;
	wal_early_clear(&j->early);
	parent_load_clear(&j->parent_load);
	free(j->parent_id);
	j->parent_id = NULL;
	pg_conn_free(j->conn);
	j->conn = NULL;
	manifest_free(j->m);
	j->m = NULL;
	manifest_free(j->parent);
	j->parent = NULL;
	manifest_lookup_free(j->parent_files);
	j->parent_files = NULL;
	if (j->logical) {
		/* no data directory nor archiving needed: the server and the tenant */
		if ((rc = cluster_connect_logical(&j->cluster, &j->conn)) < 0 ||
		    (rc = logical_check_tenant(j->conn, j->cluster.name, j->o->tenant)) < 0)
			return rc;
		j->m = manifest_new();
		bj->prepared = true;
		return 0;
	}
	if ((rc = cluster_connect(&j->cluster, &j->conn)) < 0)
		return rc;
	{
		/* what the set needs from the server, in one round trip */
		static const char *const sqls[] = {ARCHIVING_SQL, DATABASES_SQL, TABLESPACES_SQL, SUPERUSER_SQL, NOW_SQL};
		bool incremental = j->o->mode && strcmp(j->o->mode, "incremental") == 0;
		size_t n = sizeof(sqls) / sizeof(sqls[0]) - (incremental ? 0 : 1);
		PGresult *res[sizeof(sqls) / sizeof(sqls[0])] = {0};

		if ((rc = pg_conn_query_many(j->conn, res, sqls, n)) == 0 && (rc = check_archiving(j, res[0])) == 0) {
			j->m = manifest_new();
			if ((rc = load_databases(j, res[1], res[2], res[3])) == 0 && incremental)
				rc = find_parent(j, res[4]);
		}
		for (size_t i = 0; i < n; i++)
			PQclear(res[i]);
		if (rc < 0)
			return rc;
	}
	bj->prepared = true;
	return 0;
}

/* The storage probes of a physical backup, on a thread while the server is asked. */
typedef struct Probe {
	pthread_t thread;
	Storage *storage;
	Storage *archive;         /* NULL: the archive is in storage */
	int rc;
	bool archive_failed;
	ErrSaved *err;
} Probe;

static void *
probe_main(void *arg)
{
	Probe *pr = arg;

	pthread_setname_np(pthread_self(), "tb-probe");
	pr->rc = storage_probe(pr->storage, "tenback");
	if (pr->rc == 0 && pr->archive && (pr->rc = storage_probe(pr->archive, "tenback")) < 0)
		pr->archive_failed = true;
	if (pr->rc < 0)
		pr->err = err_save();
	return NULL;
}

/* Check if ready to data backup */
static int
step_check(BackupJob *bj)
{
	Job *j = &bj->job;
	Probe probe = {0};
	bool probing = false;
	int rc;

	bj->prepared = false;
	if (strcmp(j->cluster.status, "UPGRADING") == 0) {
		rc = err_set(ERR_UNSUPPORTED, "cluster \"%s\" is in upgrading state", j->cluster.name);
		err_detail("Tenant backup needs a cluster that is not in upgrading state.");
		err_hint("When the upgrade is over, mark the cluster NORMAL again, then retry.");
		return rc;
	}
	if (!j->logical) {
		probe.storage = j->storage;
		probe.archive = j->archive;
		probing = pthread_create(&probe.thread, NULL, probe_main, &probe) == 0;
		if (!probing)
			(void)probe_main(&probe); /* no thread: here, first */
	}
	rc = prepare(bj);
	if (probing)
		pthread_join(probe.thread, NULL);
	if (rc < 0)
		goto out;
	if (pg_conn_server_version(j->conn) / 10000 != j->cluster.pg_version / 10000) {
		rc = err_set(ERR_UNSUPPORTED, "cluster \"%s\" is in upgrading state", j->cluster.name);
		err_detail("It was registered with PostgreSQL %d and now runs %d.", j->cluster.pg_version / 10000,
		           pg_conn_server_version(j->conn) / 10000);
		err_hint("Register the upgraded instance again, then take a full backup.");
		goto out;
	}
	if (j->logical) {
		int major = pg_conn_server_version(j->conn) / 10000;
		/* the pg_dump of the server's major version, found before anything is written */
		free(j->pg_dump);
		free(j->pg_dump_version);
		j->pg_dump = j->pg_dump_version = NULL;
		if ((rc = pgtool_find(&j->pg_dump, j->o->pg_bin, major, "pg_dump", &j->pg_dump_version)) < 0 ||
		    (rc = storage_probe(j->storage, "tenback")) < 0)
			goto out;
		job_log(j, "PostgreSQL %d, tenant \"%s\", logical full backup with %s, storage %s%s%s",
		        pg_conn_server_version(j->conn), j->o->tenant, j->pg_dump, j->storage_name ? j->storage_name : "",
		        j->storage_name ? " " : "", storage_uri(j->storage));
		return 0;
	}
	if (probe.rc < 0) {
		/* the server's answers first */
		rc = err_restore(probe.err);
		if (probe.archive_failed)
			err_prefix("the WAL archive of cluster \"%s\"", j->cluster.name);
		goto out;
	}
	if (j->storage_name)
		job_log(j, "PostgreSQL %d, tenant \"%s\", %s backup, storage \"%s\" (%s)", pg_conn_server_version(j->conn),
		        j->o->tenant, j->parent_id ? "incremental" : "full", j->storage_name, storage_uri(j->storage));
	else
		job_log(j, "PostgreSQL %d, tenant \"%s\", %s backup, storage %s", pg_conn_server_version(j->conn),
		        j->o->tenant, j->parent_id ? "incremental" : "full", storage_uri(j->storage));
	if (j->o->max_rate) {
		char rate[32];
		size_format(rate, sizeof(rate), j->o->max_rate);
		job_log(j, "rate limit: at most %s per second read from the data directory", rate);
	}
	if (j->parent_id)
		job_log(j, "parent set %s", j->parent_id);
	rc = 0;
out:
	err_saved_free(probe.err);
	return rc;
}

/* Start cluster compact if necessary: the checkpoint, taken up front and visible. */
static int
step_compact(BackupJob *bj)
{
	Job *j = &bj->job;
	int rc;

	if (j->o->mode && strcmp(j->o->mode, "incremental") == 0) {
		job_log(j, "not needed for an incremental backup: pg_backup_start takes its own checkpoint");
		return 0;
	}
	if (j->logical) {
		job_log(j, "not needed for a logical backup: pg_dump reads a snapshot");
		return 0;
	}
	if ((rc = prepare(bj)) < 0)
		return rc;
	if ((rc = pg_conn_exec(j->conn, "CHECKPOINT")) < 0) {
		char cause[512];
		snprintf(cause, sizeof(cause), "%s", err_message());
		rc = err_set(rc == ERR_PERMISSION ? ERR_PERMISSION : rc, "Cluster compaction needed before full data backup");
		err_detail("CHECKPOINT failed: %s", cause);
		err_hint("Grant the backup role pg_checkpoint (GRANT pg_checkpoint TO role) or run the checkpoint from "
		         "the cluster page, then click Retry.");
		return rc;
	}
	job_log(j, "checkpoint done");
	return 0;
}

/* Back up data: start, copy, stop; the set is then kept as manifest.partial. */
static int
step_data(BackupJob *bj)
{
	Job *j = &bj->job;
	PgControl ctl;
	char now[40];
	bool start_sent = false;
	int rc;

	/* A previous attempt's set is dropped: its backup session is gone. */
	if (j->row_inserted) {
		if (j->set_dir && (rc = storage_remove_tree(j->storage, j->set_dir)) < 0)
			return rc;
		if ((rc = meta_set_delete(j->meta, j->row.cluster, j->row.tenant, j->row.id)) < 0)
			return rc;
		meta_set_clear(&j->row);
		free(j->set_dir);
		j->set_dir = NULL;
		j->row_inserted = false;
	}
	/* A fresh manifest and connection for this attempt, unless the check (and
	 * the checkpoint) just made them: connecting and loading the parent's
	 * manifest again would cost an incremental a tenth of its time. */
	if (bj->last_ok != 0 && bj->last_ok != 1)
		bj->prepared = false;
	if ((rc = prepare(bj)) < 0)
		return rc;
	if (!j->logical && (rc = pg_control_read(&ctl, j->cluster.pgdata)) < 0)
		return rc;
	j->row.cluster = xstrdup(j->o->cluster);
	j->row.tenant = xstrdup(j->o->tenant);
	if ((rc = new_set_id(j, &j->row.id)) < 0)
		return rc;
	j->set_dir = manifest_set_dir(j->cluster.system_id, j->o->tenant, j->row.id);
	time_format_utc(now, sizeof(now), time(NULL));
	j->row.type = xstrdup(j->parent_id ? "incremental" : "full");
	j->row.parent = j->parent_id ? xstrdup(j->parent_id) : NULL;
	j->row.method = xstrdup(j->logical ? "logical" : "physical");
	j->row.status = xstrdup("running");
	j->row.pid = getpid();
	j->row.storage_path = xstrdup(j->set_dir);
	j->row.storage = j->storage_name ? xstrdup(j->storage_name) : NULL;
	if (io_keyring_current_fingerprint(storage_keyring(j->storage))) {
		/* Readers then refuse this set's objects unencrypted (set_storage_open). */
		j->row.encryption_key = xstrdup(io_keyring_current_fingerprint(storage_keyring(j->storage)));
		log_info("backup set %s is encrypted with key %s", j->row.id, j->row.encryption_key);
	}
	j->row.start_time = xstrdup(now);
	j->row.system_id = xstrdup(j->cluster.system_id);
	if (!j->logical) {
		/* the server checkpoints while the leftovers go and the row is written */
		job_log(j, "backup set %s: pg_backup_start", j->row.id);
		if ((rc = start_backup_send(j)) < 0)
			return rc;
		start_sent = true;
	}
	if ((rc = clean_leftovers(j, false)) < 0 || (rc = meta_set_insert(j->meta, &j->row)) < 0) {
		if (start_sent) {
			/* its answer read (the connection stays usable); a started backup ends with the session */
			ErrSaved *e = err_save();
			(void)start_backup_receive(j);
			rc = err_restore(e);
			err_saved_free(e);
		}
		return rc;
	}
	j->row_inserted = true;

	j->m->set_id = xstrdup(j->row.id);
	j->m->cluster = xstrdup(j->o->cluster);
	j->m->tenant = xstrdup(j->o->tenant);
	j->m->type = xstrdup(j->parent_id ? "incremental" : "full");
	j->m->parent = j->parent_id ? xstrdup(j->parent_id) : NULL;
	j->m->method = xstrdup(j->logical ? "logical" : "physical");
	j->m->tenback_version = xstrdup(TENBACK_VERSION);
	j->m->pg_version = (uint32_t)pg_conn_server_version(j->conn);
	j->m->system_id = xstrdup(j->cluster.system_id);
	j->m->start_time = xstrdup(now);
	j->m->compress = xstrdup(io_compress_name(j->compress));

	if (j->logical) {
		LogicalDumpOpts lo = {0};
		char stop[40];

		j->m->dump_format = xstrdup("custom");
		j->m->pg_dump_version = xstrdup(j->pg_dump_version);
		lo.cluster = &j->cluster;
		lo.tenant = j->o->tenant;
		lo.pg_dump = j->pg_dump;
		lo.storage = j->storage;
		lo.set_dir = j->set_dir;
		lo.compress = j->compress;
		lo.level = j->level;
		lo.checksum = j->checksum;
		lo.progress_cb = j->o->progress_cb;
		lo.cancel_cb = j->o->cancel_cb;
		lo.log_cb = j->o->log_cb;
		lo.payload = j->o->payload;
		job_log(j, "backup set %s: logical dump of tenant \"%s\"", j->row.id, j->o->tenant);
		if ((rc = logical_dump(j->m, &lo)) < 0)
			return rc;
		time_format_utc(stop, sizeof(stop), time(NULL) + 1); /* rounded up, as a physical set's */
		free(j->stop_time);
		j->stop_time = xstrdup(stop);
		j->m->stop_time = xstrdup(stop);
		if ((rc = meta_set_update(j->meta, &j->row)) < 0)
			return rc;
		return manifest_store_named(j->m, j->storage, j->set_dir, "manifest.partial", false);
	}
	j->m->wal_seg_size = ctl.xlog_seg_size;

	if ((rc = start_backup_receive(j)) < 0)
		return rc;
	/* the parent's manifest, loaded while the server checkpointed */
	if ((rc = parent_join(j)) < 0)
		return rc;
	if ((rc = copy_data(j)) < 0)
		return rc;
	if ((rc = stop_backup(j)) < 0)
		return rc;
	/* The session is done with: it ends (and its backend exits) while the WAL
	 * is copied, not at the end.  A step run again connects again. */
	pg_conn_free(j->conn);
	j->conn = NULL;
	bj->prepared = false;
	free(j->m->stop_time);
	j->m->stop_time = xstrdup(j->stop_time);
	if (!bj->resumable)
		return 0;
	/* kept in manifest.partial: a task resumed after a restart finishes with it */
	if ((rc = meta_set_update(j->meta, &j->row)) < 0)
		return rc;
	return manifest_store_named(j->m, j->storage, j->set_dir, "manifest.partial", false);
}

/* After a restart: the set as step 2 left it. */
static int
ensure_set(BackupJob *bj)
{
	Job *j = &bj->job;

	if (j->m && j->row_inserted && (j->m->backup_label || manifest_is_logical(j->m)))
		return 0;
	if (!j->row_inserted || j->set_dir == NULL) {
		int rc = err_set(ERR_NOT_FOUND, "the backup set of this task no longer exists");
		err_hint("It was removed (a later backup of the tenant cleans up interrupted ones): start a new backup.");
		return rc;
	}
	manifest_free(j->m);
	j->m = NULL;
	if (manifest_load_named(&j->m, j->storage, j->set_dir, "manifest.partial") < 0) {
		int rc = err_set(ERR_NOT_FOUND, "the backup set %s of this task is gone from the storage", j->row.id);
		err_hint("Start a new backup.");
		return rc;
	}
	if (j->stop_time == NULL)
		j->stop_time = xstrdup(j->m->stop_time ? j->m->stop_time : j->row.stop_time);
	return 0;
}

/* The set's WAL list made again (idempotent), its segments copied, said in the log. */
static int
wal_into_set(Job *j)
{
	size_t from_pg_wal = 0;
	int rc;

	for (size_t i = 0; i < j->m->n_wal; i++)
		free(j->m->wal[i].name);
	j->m->n_wal = 0;
	if ((rc = collect_wal(j, &from_pg_wal)) < 0)
		return rc;
	job_log(j, "%zu WAL segment(s) copied into the set, %zu of them from pg_wal", j->m->n_wal, from_pg_wal);
	return 0;
}

/* Back up logs: the WAL from start to stop goes into the set. */
static int
step_logs(BackupJob *bj)
{
	Job *j = &bj->job;
	int rc;

	if ((rc = ensure_set(bj)) < 0)
		return rc;
	if (manifest_is_logical(j->m)) {
		job_log(j, "no WAL for a logical backup: the dump is consistent by itself");
		return 0;
	}
	/* manifest.partial is not stored again: a finish resumed after a restart
	 * finds it without WAL and collects the segments once more */
	return wal_into_set(j);
}

/* Finish: everything durable, then the manifest, then the row. */
static int
step_finish(BackupJob *bj)
{
	Job *j = &bj->job;
	char *partial;
	int rc;

	if ((rc = ensure_set(bj)) < 0)
		return rc;
	/* resumed from manifest.partial, which step 3 leaves without its WAL */
	if (!manifest_is_logical(j->m) && j->m->n_wal == 0 && (rc = wal_into_set(j)) < 0)
		return rc;
	free(j->m->stop_time);
	j->m->stop_time = xstrdup(j->stop_time);
	if ((rc = storage_sync(j->storage, j->set_dir)) < 0)
		return rc;
	if ((rc = manifest_store(j->m, j->storage, j->set_dir)) < 0)
		return rc;
	partial = path_join(j->set_dir, "manifest.partial");
	rc = storage_remove(j->storage, partial);
	free(partial);
	if (rc < 0)
		return rc;
	free(j->row.status);
	j->row.status = xstrdup("completed");
	free(j->row.stop_time);
	j->row.stop_time = xstrdup(j->stop_time);
	j->row.pid = 0;
	j->row.size_bytes = (int64_t)j->m->size_bytes;
	j->row.stored_bytes = (int64_t)j->m->stored_bytes;
	j->row.file_count = 0;
	for (size_t i = 0; i < j->m->n_files; i++)
		j->row.file_count += (j->m->files[i].kind == MF_FILE || j->m->files[i].kind == MF_INCR) &&
		                     !j->m->files[i].vanished;
	if ((rc = meta_set_update(j->meta, &j->row)) < 0)
		return rc;
	job_log(j, "backup set %s completed: %.1f MiB stored", j->row.id, (double)j->m->stored_bytes / 1048576.0);
	/* Once more, with the lock still held: an object that an interrupted
	 * backup's write left pending on a crashed S3 server may enter the
	 * listing only after the check at the start.  The set is complete; a
	 * failure here only delays the clean-up to the next backup. */
	if (clean_leftovers(j, true) < 0) {
		log_warning("could not remove what an interrupted backup left: %s", err_message());
		err_clear();
	}
	return 0;
}

int
backup_job_step(BackupJob *bj, int step)
{
	int rc;

	switch (step) {
	case 0: rc = step_check(bj); break;
	case 1: rc = step_compact(bj); break;
	case 2: rc = step_data(bj); break;
	case 3: rc = step_logs(bj); break;
	case 4: rc = step_finish(bj); break;
	default: return err_set(ERR_INTERNAL, "no backup step %d", step);
	}
	bj->last_ok = rc == 0 ? step : -1;
	return rc;
}

int
backup_run(Meta *meta, const BackupOpts *o, char **out_set_id)
{
	BackupJob *bj = NULL;
	int rc;

	*out_set_id = NULL;
	if ((rc = backup_job_new(&bj, meta, o, NULL)) < 0)
		return rc;
	/* A crash of this process ends the backup: its set is left without a
	 * manifest, for the tenant's next backup to remove. */
	bj->resumable = false;
	for (int step = 0; step < BACKUP_STEPS; step++) {
		/* The CLI's backup checkpoints inside pg_backup_start; it needs no
		 * pg_checkpoint grant for that (step 1 is the console's). */
		if (step == 1)
			continue;
		if ((rc = backup_job_step(bj, step)) < 0)
			break;
	}
	if (rc < 0)
		backup_job_abandon(bj);
	else
		*out_set_id = xstrdup(bj->job.row.id);
	backup_job_free(bj);
	return rc;
}

int
backup_find_set(Meta *meta, const char *cluster, const char *tenant, const char *set, MetaSet *out)
{
	MetaSet *sets = NULL;
	size_t n = 0;
	MetaCluster c = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		return rc;
	meta_cluster_clear(&c);
	if ((rc = meta_set_list(meta, cluster, tenant, "completed", &sets, &n)) < 0)
		return rc;
	for (size_t i = n; i-- > 0;) {
		if (strcmp(set, "latest") == 0 || strcmp(set, sets[i].id) == 0) {
			*out = sets[i];
			memset(&sets[i], 0, sizeof(sets[i]));
			goto out;
		}
	}
	if (strcmp(set, "latest") == 0) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" of cluster \"%s\" has no backup set", tenant, cluster);
		err_hint("Take one with \"tenback backup --cluster %s --tenant %s\".", cluster, tenant);
	} else {
		rc = err_set(ERR_NOT_FOUND, "backup set \"%s\" of tenant \"%s\" does not exist", set, tenant);
		err_hint("\"tenback set list --cluster %s --tenant %s\" shows the sets.", cluster, tenant);
	}
out:
	meta_set_array_free(sets, n);
	return rc;
}
