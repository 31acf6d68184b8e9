/*
 * restore.c - lay a backup set down as a data directory and hand it to
 * recovery.
 *
 * Invariants: nothing is written into a non-empty directory unless the
 * user asked (--force); every stored file is checked against the manifest
 * as it is written, and a restore that fails removes what it laid down, so
 * no instance is ever started on a damaged set.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"
#include "backup/restore_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Layout {
	const RestoreOpts *o;
	const Manifest *m;
	const Chain *chain;
	Storage *storage;
	const char *set_dir;
	char *dir;                  /* absolute target */
	char **ts_locations;        /* per manifest tablespace: where it goes */
	bool created_dir;
	StrList created_ts;         /* tablespace directories we created or filled */
	bool chown;
	uid_t uid;
	gid_t gid;
	int jobs;                   /* worker threads laying files down */
	IoFrameCodec *codecs[POOL_JOBS_MAX];  /* codecs[i] is worker i's */
	size_t *order;              /* pool item -> index in m->files */
	uint64_t bytes_total;       /* progress: what the files hold */
	_Atomic uint64_t bytes_done;  /* whole files written, by any worker */
	_Atomic uint64_t files_done;
	int64_t last_progress_ms;   /* the calling thread's */
} Layout;

static bool
dir_is_empty(const char *path, bool *out_exists)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	*out_exists = d != NULL || errno != ENOENT;
	if (d == NULL)
		return true;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			rc = err_errno(errno, "could not create directory \"%s\"", p);
			break;
		}
		if (!s)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

/* Remove a directory's contents (not the directory). */
static int
empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : err_errno(errno, "could not open directory \"%s\"", path);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		char *child;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = path_join(path, de->d_name);
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = empty_dir(child);
			if (rc == 0 && rmdir(child) < 0)
				rc = err_errno(errno, "could not remove directory \"%s\"", child);
		} else if (unlink(child) < 0 && errno != ENOENT) {
			rc = err_errno(errno, "could not remove file \"%s\"", child);
		}
		free(child);
	}
	closedir(d);
	return rc;
}

static void
undo(Layout *l)
{
	for (size_t i = 0; i < l->created_ts.count; i++)
		if (empty_dir(l->created_ts.items[i]) < 0)
			log_warning("could not clean tablespace directory \"%s\"", l->created_ts.items[i]);
	if (l->dir && empty_dir(l->dir) < 0)
		log_warning("could not clean \"%s\"", l->dir);
	if (l->dir && l->created_dir)
		rmdir(l->dir);
}

static int
owner(Layout *l, const char *path)
{
	if (l->chown && lchown(path, l->uid, l->gid) < 0)
		return err_errno(errno, "could not change owner of \"%s\"", path);
	return 0;
}

static bool
postmaster_running(const char *dir)
{
	char *pidfile = path_join(dir, "postmaster.pid");
	FILE *f = fopen(pidfile, "r");
	long pid = 0;
	bool running = false;

	if (f) {
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0)
			running = kill((pid_t)pid, 0) == 0 || errno == EPERM;
		fclose(f);
	}
	free(pidfile);
	return running;
}

static int
require_object(Layout *l, const char *dir, const char *kind, const char *name)
{
	char *object = xasprintf("%s/%s/%s", dir, kind, name);
	StorageInfo info;
	int rc = storage_info(l->storage, object, &info);

	if (rc == 0 && !info.exists) {
		rc = err_set(ERR_CORRUPT, "backup set object \"%s\" is missing", object);
		err_hint("Nothing was changed in the target directory.");
	}
	free(object);
	return rc;
}

/* Before --force empties a directory: every object the restore reads exists. */
static int
precheck_objects(Layout *l)
{
	int rc = 0;

	for (size_t i = 0; i < l->m->n_files && rc == 0; i++) {
		const ManifestFile *f = &l->m->files[i];
		if (f->kind == MF_FILE) {
			rc = require_object(l, l->set_dir, "data", f->path);
		} else if (f->kind == MF_INCR) {
			for (size_t k = 0; k < f->n_parts && rc == 0; k++) {
				const char *dir = NULL;
				if (chain_find(l->chain, f->parts[k].set_id, &dir) == NULL)
					rc = err_set(ERR_CORRUPT, "file \"%s\" needs set \"%s\", which is not in its chain", f->path,
					             f->parts[k].set_id);
				else
					rc = require_object(l, dir, "data", f->path);
			}
		}
	}
	for (size_t i = 0; i < l->m->n_wal && rc == 0; i++)
		rc = require_object(l, l->set_dir, "wal", l->m->wal[i].name);
	return rc;
}

static int
prepare_target(Layout *l)
{
	bool exists;
	int rc;

	if (!dir_is_empty(l->dir, &exists)) {
		if (!l->o->force) {
			rc = err_set(ERR_EXISTS, "restore target \"%s\" is not empty", l->dir);
			err_hint("Restore into a new or empty directory, or pass --force to replace its contents.");
			return rc;
		}
		if (postmaster_running(l->dir)) {
			rc = err_set(ERR_EXISTS, "a PostgreSQL server is running in \"%s\"", l->dir);
			err_hint("Stop it before restoring over it.");
			return rc;
		}
		/* What is there goes only when the set can replace it. */
		if ((rc = precheck_objects(l)) < 0)
			return rc;
		log_info("removing the contents of \"%s\" (--force)", l->dir);
		if ((rc = empty_dir(l->dir)) < 0)
			return rc;
	}
	if (!exists) {
		if ((rc = mkdir_p(l->dir, 0700)) < 0)
			return rc;
		l->created_dir = true;
	}
	if (chmod(l->dir, 0700) < 0)
		return err_errno(errno, "could not change mode of \"%s\"", l->dir);
	return owner(l, l->dir);
}

static int
map_tablespaces(Layout *l)
{
	const RestoreOpts *o = l->o;
	int rc;

	l->ts_locations = xcalloc(l->m->n_tablespaces + 1, sizeof(char *));
	for (size_t k = 0; k < o->n_maps; k++) {
		bool used = false;
		for (size_t i = 0; i < l->m->n_tablespaces; i++) {
			const ManifestTablespace *t = &l->m->tablespaces[i];
			char oid[16];
			snprintf(oid, sizeof(oid), "%u", t->oid);
			if (strcmp(o->maps[k].from, t->location) == 0 || strcmp(o->maps[k].from, t->name) == 0 ||
			    strcmp(o->maps[k].from, oid) == 0) {
				if (o->maps[k].to[0] != '/')
					return err_set(ERR_INVALID, "tablespace map target \"%s\" is not an absolute path", o->maps[k].to);
				free(l->ts_locations[i]);
				l->ts_locations[i] = xstrdup(o->maps[k].to);
				used = true;
			}
		}
		if (!used) {
			rc = err_set(ERR_INVALID, "--tablespace-map \"%s\" names no tablespace of the backup set", o->maps[k].from);
			err_hint("Name a tablespace by its location, name or oid.");
			return rc;
		}
	}
	for (size_t i = 0; i < l->m->n_tablespaces; i++) {
		const char *loc;
		bool exists;

		if (l->ts_locations[i] == NULL)
			l->ts_locations[i] = xstrdup(l->m->tablespaces[i].location);
		loc = l->ts_locations[i];
		if (!dir_is_empty(loc, &exists)) {
			rc = err_set(ERR_EXISTS, "tablespace directory \"%s\" is not empty", loc);
			err_detail("Tablespace \"%s\" was at \"%s\".", l->m->tablespaces[i].name, l->m->tablespaces[i].location);
			err_hint("Map it elsewhere with --tablespace-map \"%s=NEW_DIRECTORY\".", l->m->tablespaces[i].location);
			return rc;
		}
	}
	return 0;
}

static const char *
ts_location_for_link(Layout *l, const char *path)
{
	const char *oid = path + strlen("pg_tblspc/");

	for (size_t i = 0; i < l->m->n_tablespaces; i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%u", l->m->tablespaces[i].oid);
		if (strcmp(buf, oid) == 0)
			return l->ts_locations[i];
	}
	return NULL;
}

static int
write_file(Layout *l, Pool *p, const ManifestFile *f)
{
	char *dest = path_join(l->dir, f->path);
	char *object = NULL;
	int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0) {
		rc = err_errno(errno, "could not create file \"%s\"", dest);
		goto out;
	}
	if (f->kind == MF_SPARSE) {
		if (ftruncate(fd, (off_t)f->size) < 0)
			rc = err_errno(errno, "could not extend file \"%s\"", dest);
	} else if (f->kind == MF_INCR) {
		rc = files_restore_incr(l->storage, l->chain, f, fd, dest, p, l->codecs);
	} else {
		object = xasprintf("%s/data/%s", l->set_dir, f->path);
		/* a file of several chunks is decoded by every worker; a small one by its owner */
		if (f->size > COPY_CHUNK_BYTES)
			rc = files_restore_framed(p, l->codecs, l->storage, object, fd, dest, f->size, &f->sum);
		else if ((rc = files_restore_to_fd(l->storage, object, fd, dest, f->size, &f->sum)) == 0)
			/* its writeback begins now, while the workers go on: the sync at the end finds less to do */
			(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	if (rc == 0 && fchmod(fd, f->mode ? f->mode & 0777 : 0600) < 0)
		rc = err_errno(errno, "could not change mode of \"%s\"", dest);
	if (rc == 0 && l->chown && fchown(fd, l->uid, l->gid) < 0)
		rc = err_errno(errno, "could not change owner of \"%s\"", dest);
	if (close(fd) < 0 && rc == 0)
		rc = err_errno(errno, "could not close file \"%s\"", dest);
out:
	free(dest);
	free(object);
	return rc;
}

static int
lay_down_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	Layout *l = payload;
	const ManifestFile *f = &l->m->files[l->order[item_idx]];
	int rc;

	(void)worker_idx;
	if ((rc = write_file(l, p, f)) == 0 && f->kind != MF_SPARSE) {
		atomic_fetch_add(&l->bytes_done, f->size);
		atomic_fetch_add(&l->files_done, 1);
	}
	return rc;
}

/* On the calling thread: the caller's progress callback, every ~500 ms. */
static int
lay_down_tick(void *payload)
{
	Layout *l = payload;

	if (time_now_ms() - l->last_progress_ms >= 500) {
		l->last_progress_ms = time_now_ms();
		l->o->progress_cb(atomic_load(&l->bytes_done), l->bytes_total, atomic_load(&l->files_done), l->o->payload);
	}
	return 0;
}

/* Largest first, so that the last file to finish is a small one; with
 * both_ends, all workers but one start from the smallest: the large files'
 * direct writes keep the device busy while the small ones, bound by the CPU
 * (decoding, buffered writes, a file's system calls), are laid down. */
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

/* The files, by the pool's workers; directories and links exist by then. */
static int
lay_down_files(Layout *l)
{
	PoolOpts po = {0};
	SizedItem *items = xcalloc(l->m->n_files + 1, sizeof(*items));
	size_t n_items = 0;
	int rc;

	for (size_t i = 0; i < l->m->n_files; i++) {
		ManifestKind kind = l->m->files[i].kind;

		if (kind == MF_FILE || kind == MF_SPARSE || kind == MF_INCR)
			items[n_items++] = (SizedItem){kind == MF_SPARSE ? 0 : l->m->files[i].size, i};
		if (kind == MF_FILE || kind == MF_INCR)
			l->bytes_total += l->m->files[i].size;
	}
	qsort(items, n_items, sizeof(*items), cmp_item_size);
	l->order = xcalloc(n_items + 1, sizeof(*l->order));
	for (size_t item_idx = 0; item_idx < n_items; item_idx++)
		l->order[item_idx] = items[item_idx].file_idx;
	free(items);
	/* the workers look files up in the chain's manifests: their indexes are built before they start */
	for (size_t set_idx = 0; set_idx < l->chain->n; set_idx++)
		manifest_find_file(l->chain->sets[set_idx], "");
	for (int worker_idx = 0; worker_idx < l->jobs; worker_idx++)
		if ((rc = io_frame_codec_new(&l->codecs[worker_idx], IO_COMPRESS_NONE, 0)) < 0)
			return rc;
	po.jobs = l->jobs;
	po.n_items = n_items;
	po.item = lay_down_item;
	po.payload = l;
	po.slot_bytes = copy_slot_bytes();
	po.n_slots = COPY_SLOTS(l->jobs);
	po.both_ends = true;
	if (l->o->progress_cb) {
		po.tick = lay_down_tick;
		l->last_progress_ms = time_now_ms();
	}
	if ((rc = pool_run(&po)) == 0 && l->o->progress_cb)
		l->o->progress_cb(atomic_load(&l->bytes_done), l->bytes_total, atomic_load(&l->files_done), l->o->payload);
	return rc;
}

/* Directories and links first, in manifest order (a directory before what it holds); then the files. */
static int
lay_down(Layout *l)
{
	int rc = 0;

	for (size_t i = 0; i < l->m->n_files && rc == 0; i++) {
		const ManifestFile *f = &l->m->files[i];
		char *dest = path_join(l->dir, f->path);

		switch (f->kind) {
		case MF_DIR:
			if (mkdir(dest, 0700) < 0 && errno != EEXIST)
				rc = err_errno(errno, "could not create directory \"%s\"", dest);
			else if (chmod(dest, f->mode & 0777) < 0)
				rc = err_errno(errno, "could not change mode of \"%s\"", dest);
			else
				rc = owner(l, dest);
			break;
		case MF_LINK: {
			const char *loc = ts_location_for_link(l, f->path);
			if (loc == NULL) {
				rc = err_set(ERR_CORRUPT, "manifest link \"%s\" names no tablespace", f->path);
				break;
			}
			if ((rc = mkdir_p(loc, 0700)) < 0)
				break;
			strlist_add(&l->created_ts, loc);
			if (chmod(loc, 0700) < 0)
				rc = err_errno(errno, "could not change mode of \"%s\"", loc);
			else if ((rc = owner(l, loc)) < 0)
				break;
			else if (symlink(loc, dest) < 0)
				rc = err_errno(errno, "could not create symbolic link \"%s\"", dest);
			else
				rc = owner(l, dest);
			break;
		}
		case MF_FILE:
		case MF_SPARSE:
		case MF_INCR:
			break;
		}
		free(dest);
	}
	return rc < 0 ? rc : lay_down_files(l);
}

static int
write_text(Layout *l, const char *name, const char *text, bool append)
{
	char *path = path_join(l->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
	size_t len = strlen(text);
	int rc = 0;

	if (fd < 0) {
		rc = err_errno(errno, "could not open file \"%s\"", path);
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len)
		rc = err_errno(errno ? errno : EIO, "could not write file \"%s\"", path);
	if (close(fd) < 0 && rc == 0)
		rc = err_errno(errno, "could not close file \"%s\"", path);
	if (rc == 0)
		rc = owner(l, path);
out:
	free(path);
	return rc;
}

static bool
exists_in(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	bool ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

/* backup_label, WAL of the set, recovery.signal, and the configuration
 * the restored instance keeps. */
static int
write_recovery_files(Layout *l)
{
	Buf conf = BUF_INIT;
	char *q;
	int rc;

	for (size_t i = 0; i < l->m->n_wal; i++) {
		char *rel = xasprintf("pg_wal/%s", l->m->wal[i].name);
		char *object = xasprintf("%s/wal/%s", l->set_dir, l->m->wal[i].name);
		char *dest = path_join(l->dir, rel);
		int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (fd < 0)
			rc = err_errno(errno, "could not create file \"%s\"", dest);
		else {
			rc = files_restore_to_fd(l->storage, object, fd, dest, l->m->wal[i].size, &l->m->wal[i].sum);
			if (rc == 0 && l->chown && fchown(fd, l->uid, l->gid) < 0)
				rc = err_errno(errno, "could not change owner of \"%s\"", dest);
			close(fd);
		}
		free(rel);
		free(object);
		free(dest);
		if (rc < 0)
			return rc;
	}
	if ((rc = write_text(l, "backup_label", l->m->backup_label, false)) < 0 ||
	    (rc = write_text(l, "recovery.signal", "", false)) < 0)
		return rc;
	if (!exists_in(l->dir, "postgresql.conf") &&
	    (rc = write_text(l, "postgresql.conf",
	                     "# Written by tenback restore: the source kept its configuration outside\n"
	                     "# its data directory.  Settings of this instance go here.\n", false)) < 0)
		return rc;
	if (!exists_in(l->dir, "pg_hba.conf") &&
	    (rc = write_text(l, "pg_hba.conf",
	                     "# Written by tenback restore (the source's was outside its data directory).\n"
	                     "local all all peer\n"
	                     "host all all 127.0.0.1/32 scram-sha-256\n"
	                     "host all all ::1/128 scram-sha-256\n", false)) < 0)
		return rc;
	if (!exists_in(l->dir, "pg_ident.conf") && (rc = write_text(l, "pg_ident.conf", "", false)) < 0)
		return rc;
	buf_printf(&conf, "\n# Added by tenback restore of backup set %s (tenant \"%s\").\n", l->m->set_id, l->m->tenant);
	buf_puts(&conf, "# A restored instance must not archive into its source's WAL archive.\n");
	buf_puts(&conf, "archive_mode = 'off'\n");
	if (l->o->port > 0)
		buf_printf(&conf, "port = %d\n", l->o->port);
	if (l->o->socket_dir) {
		q = str_conf_quote(l->o->socket_dir);
		buf_printf(&conf, "unix_socket_directories = %s\n", q);
		free(q);
	}
	rc = write_text(l, "postgresql.auto.conf", conf.data, true);
	buf_free(&conf);
	return rc;
}

/* Everything laid down made durable at once: the file system of the data
 * directory and of each tablespace, rather than an fsync per file. */
static int
sync_one(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return err_errno(errno, "could not open directory \"%s\"", dir);
	if (syncfs(fd) < 0)
		rc = err_errno(errno, "could not sync file system of \"%s\"", dir);
	close(fd);
	return rc;
}

static int
sync_target(Layout *l)
{
	char *parent = path_join(l->dir, "..");
	int rc = sync_one(l->dir);

	/* the data directory's own entry, should it be a mount point */
	if (rc == 0)
		rc = sync_one(parent);
	free(parent);
	for (size_t i = 0; rc == 0 && i < l->created_ts.count; i++)
		rc = sync_one(l->created_ts.items[i]);
	return rc;
}

static int
find_pg_bin(char **out, const RestoreOpts *o, uint32_t pg_version)
{
	char *dir = o->pg_bin ? xstrdup(o->pg_bin) : xasprintf("/usr/lib/postgresql/%u/bin", pg_version / 10000);
	char *postgres = path_join(dir, "postgres");
	int rc = 0;

	if (access(postgres, X_OK) < 0) {
		rc = err_set(ERR_NOT_FOUND, "PostgreSQL %u server binaries not found in \"%s\"", pg_version / 10000, dir);
		err_hint("Install postgresql-%u or pass --pg-bin DIR.", pg_version / 10000);
		free(dir);
		dir = NULL;
	}
	free(postgres);
	*out = dir;
	return rc;
}

static int
resolve_user(Layout *l)
{
	const char *name;
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	name = l->o->run_as ? l->o->run_as : "postgres";
	pw = getpwnam(name);
	if (pw == NULL) {
		int rc = err_set(ERR_NOT_FOUND, "user \"%s\" does not exist", name);
		err_hint("PostgreSQL does not run as root: pass --run-as USER, the owner of the restored instance.");
		return rc;
	}
	if (pw->pw_uid == 0)
		return err_set(ERR_INVALID, "the restored instance cannot run as root");
	l->chown = true;
	l->uid = pw->pw_uid;
	l->gid = pw->pw_gid;
	return 0;
}

static char *
make_restore_command(const RestoreOpts *o)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *qself, *qhome, *qcluster, *cmd;

	self[n > 0 ? n : 0] = '\0';
	/* Replaced on disk while running (an upgrade): the kernel marks the old
	 * image; the path itself names the new binary. */
	if (str_ends_with(self, " (deleted)"))
		self[strlen(self) - strlen(" (deleted)")] = '\0';
	qself = str_shell_quote(n > 0 ? self : "tenback");
	qhome = str_shell_quote(o->home);
	qcluster = str_shell_quote(o->cluster);
	cmd = xasprintf("%s --home %s archive-get --cluster %s %%f \"%%p\"", qself, qhome, qcluster);
	free(qself);
	free(qhome);
	free(qcluster);
	return cmd;
}

int
restore_run(Meta *meta, const RestoreOpts *o)
{
	Layout l = {0};
	MetaCluster c = {0};
	MetaSet row = {0};
	Manifest *m = NULL;
	RecoveryCtx rctx = {0};
	RecoveryTarget target;
	char *set_id = NULL;
	Chain chain = {0};
	char *pg_bin = NULL, *restore_cmd = NULL;
	int64_t t0, t1;
	int rc;

	if ((rc = recovery_target_parse(&target, o)) < 0)
		return rc;
	if (o->start && o->port <= 0) {
		rc = err_set(ERR_INVALID, "--start needs --port");
		err_hint("Choose a free port for the restored instance, e.g. --port 5440.");
		return rc;
	}
	if ((rc = meta_cluster_get(meta, o->cluster, &c)) < 0)
		goto out;
	/* a logical set restores into a database (logical_restore.c), not a data directory */
	if (o->set && strcmp(o->set, "latest") != 0) {
		if ((rc = backup_find_set(meta, o->cluster, o->tenant, o->set, &row)) < 0)
			goto out;
		if (row.method && strcmp(row.method, "logical") == 0) {
			rc = err_set(ERR_INVALID, "backup set \"%s\" is a logical backup: it restores into a database, not "
			             "a data directory", row.id);
			err_hint("Restore it with --as NEWDB [--into-cluster NAME], or write its SQL with --sql-file FILE.");
			goto out;
		}
		meta_set_clear(&row);
		memset(&row, 0, sizeof(row));
	}
	if ((rc = pitr_choose_set(meta, o->cluster, o->tenant, o->set, &target, &set_id)) < 0)
		goto out;
	if ((rc = backup_find_set(meta, o->cluster, o->tenant, set_id, &row)) < 0)
		goto out;
	/* the set's own storage (its chain is in the same one); archive-get reads
	 * the cluster's WAL archive, always in the cluster's own storage */
	if ((rc = set_storage_open(meta, &c, &row, &l.storage)) < 0)
		goto out;
	if ((rc = manifest_load(&m, l.storage, row.storage_path)) < 0)
		goto out;
	if ((rc = chain_load(&chain, l.storage, m, row.storage_path)) < 0)
		goto out;
	l.chain = &chain;
	if ((rc = find_pg_bin(&pg_bin, o, m->pg_version)) < 0)
		goto out;
	l.o = o;
	l.m = m;
	l.set_dir = row.storage_path;
	l.jobs = o->jobs > 0 ? (o->jobs > POOL_JOBS_MAX ? POOL_JOBS_MAX : o->jobs) : pool_default_jobs();
	if (o->to[0] == '/') {
		l.dir = xstrdup(o->to);
	} else {
		char cwd[4096];
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			rc = err_errno(errno, "could not get the current directory");
			goto out;
		}
		l.dir = path_join(cwd, o->to);
	}
	if ((rc = resolve_user(&l)) < 0 || (rc = map_tablespaces(&l)) < 0)
		goto out_plain;
	if ((rc = prepare_target(&l)) < 0)
		goto out_plain;
	log_info("restoring backup set %s of tenant \"%s\" to \"%s\" (%d jobs)", m->set_id, m->tenant, l.dir, l.jobs);
	t0 = time_now_ms();
	if ((rc = lay_down(&l)) < 0 || (rc = write_recovery_files(&l)) < 0) {
		err_prefix("could not restore backup set \"%s\"", m->set_id);
		goto out_undo;
	}
	t1 = time_now_ms();
	if ((rc = sync_target(&l)) < 0) {
		err_prefix("could not restore backup set \"%s\"", m->set_id);
		goto out_undo;
	}
	log_info("files laid down in %.1f s, synced in %.1f s", (double)(t1 - t0) / 1000.0,
	         (double)(time_now_ms() - t1) / 1000.0);
	restore_cmd = make_restore_command(o);
	rctx.o = o;
	rctx.m = m;
	rctx.dir = l.dir;
	rctx.pg_bin = pg_bin;
	rctx.restore_command = restore_cmd;
	rctx.target = &target;
	rctx.tenant_only = strcmp(m->tenant, "*") != 0;
	rctx.as_other_user = l.chown;
	rctx.uid = l.uid;
	rctx.gid = l.gid;
	if ((rc = recovery_run(&rctx)) < 0)
		goto out_undo;
	if (o->start) {
		if ((rc = recovery_start_final(&rctx)) < 0)
			goto out;
		printf("tenant \"%s\" is ready on port %d\n", m->tenant, o->port);
	} else {
		printf("tenant \"%s\" restored to \"%s\"; start it with: pg_ctl -D %s start\n", m->tenant, l.dir, l.dir);
	}
	goto out;
out_undo:
	undo(&l);
out_plain:
out:
	for (size_t i = 0; l.ts_locations && i < m->n_tablespaces; i++)
		free(l.ts_locations[i]);
	free(l.ts_locations);
	strlist_free(&l.created_ts);
	for (int worker_idx = 0; worker_idx < POOL_JOBS_MAX; worker_idx++)
		io_frame_codec_free(l.codecs[worker_idx]);
	free(l.order);
	free(l.dir);
	chain_free(&chain);
	storage_free(l.storage);
	manifest_free(m);
	meta_set_clear(&row);
	meta_cluster_clear(&c);
	free(pg_bin);
	free(restore_cmd);
	free(set_id);
	return rc;
}
