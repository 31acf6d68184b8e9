/*
 * posix.c - the storage driver for a local (or NFS) directory tree.
 *
 * Atomic writes: data go to "<name>.tbtmp.<pid>.<n>" in the target directory;
 * close fsyncs it (unless no_sync), renames it over the name and fsyncs the
 * directory.  A writer freed before a successful close unlinks the temp
 * file, so nothing half-written is ever visible under a real name.
 *
 * A no_sync writer's data are made durable later, all at once (posix_sync's
 * syncfs): their writeback is started as they are written, every
 * WRITEBACK_KICK bytes and at close, so that the syncfs finds them on their
 * way to the device rather than all still to write.
 */
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "storage/driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Posix {
	char *root;
} Posix;

static atomic_uint tmp_counter;

static char *
full_path(Posix *p, const char *path)
{
	return path_join(p->root, path);
}

/* mkdir -p of the directory part of path (absolute). */
static int
make_parents(const char *path)
{
	char *dir = xstrdup(path);
	int rc = 0;

	for (char *s = strchr(dir + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			rc = err_errno(errno, "could not create directory \"%s\"", dir);
			break;
		}
		*s = '/';
	}
	free(dir);
	return rc;
}

static int
fsync_dir_of(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd, rc = 0;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = err_errno(errno, "could not fsync directory \"%s\"", dir);
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

typedef struct PosixWriter {
	int fd;
	char *tmp;
	char *final;
	bool no_sync;
	bool no_replace;
	bool committed;
	off_t written;            /* bytes written */
	off_t kicked;             /* of those, handed to writeback (no_sync) */
} PosixWriter;

#define WRITEBACK_KICK (8 * 1024 * 1024)

/* Start the writeback of what was written since the last kick (advisory:
 * a file system without it, NFS, is synced by syncfs alone). */
static void
pw_kick(PosixWriter *w)
{
	if (w->no_sync && w->written > w->kicked) {
		(void)sync_file_range(w->fd, w->kicked, w->written - w->kicked, SYNC_FILE_RANGE_WRITE);
		w->kicked = w->written;
	}
}

static int
pw_write(void *impl, const void *buf, size_t len)
{
	PosixWriter *w = impl;
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(errno, "could not write file \"%s\"", w->final);
		}
		p += n;
		len -= (size_t)n;
		w->written += n;
	}
	if (w->written - w->kicked >= WRITEBACK_KICK)
		pw_kick(w);
	return 0;
}

static int
pw_close(void *impl)
{
	PosixWriter *w = impl;
	int fd;

	pw_kick(w);
	fd = w->fd;
	w->fd = -1;
	if (!w->no_sync && fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return err_errno(e, "could not fsync file \"%s\"", w->final);
	}
	if (close(fd) < 0)
		return err_errno(errno, "could not close file \"%s\"", w->final);
	if (w->no_replace) {
		/* link(2) publishes only if the name is free, atomically */
		if (link(w->tmp, w->final) < 0) {
			if (errno == EEXIST)
				return err_set(ERR_EXISTS, "\"%s\" already exists", w->final);
			return err_errno(errno, "could not link \"%s\" to \"%s\"", w->tmp, w->final);
		}
		unlink(w->tmp);
	} else if (rename(w->tmp, w->final) < 0) {
		return err_errno(errno, "could not rename \"%s\" to \"%s\"", w->tmp, w->final);
	}
	w->committed = true;
	if (!w->no_sync)
		return fsync_dir_of(w->final);
	return 0;
}

static void
pw_free(void *impl)
{
	PosixWriter *w = impl;

	if (w->fd >= 0)
		close(w->fd);
	if (!w->committed)
		unlink(w->tmp);
	free(w->tmp);
	free(w->final);
	free(w);
}

static const IoWriterOps posix_writer_ops = {pw_write, pw_close, pw_free};

static int
posix_write_open(void *drv, IoWriter **out, const char *path, const StorageWriteOpts *opts)
{
	Posix *p = drv;
	PosixWriter *w = xcalloc(1, sizeof(*w));
	int rc;

	w->fd = -1;
	w->final = full_path(p, path);
	w->tmp = xasprintf("%s.tbtmp.%ld.%u", w->final, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
	w->no_sync = opts->no_sync;
	w->no_replace = opts->no_replace;
	/* the directories usually exist (a set's files share them): make them only when missing */
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (w->fd < 0 && errno == ENOENT) {
		if ((rc = make_parents(w->final)) < 0)
			goto fail;
		w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	}
	if (w->fd < 0) {
		rc = err_errno(errno, "could not create file \"%s\"", w->tmp);
		goto fail;
	}
	*out = io_writer_new(&posix_writer_ops, w);
	return 0;
fail:
	w->committed = true; /* nothing to unlink */
	pw_free(w);
	return rc;
}

static int
posix_read_open(void *drv, IoReader **out, const char *path)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		rc = err_errno(errno, "could not open file \"%s\"", full);
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	*out = io_fd_reader_new(fd, 1);
out:
	free(full);
	return rc;
}

/* A range of a file: pread from offset, the end after length bytes. */
typedef struct PosixRange {
	int fd;
	char *full;
	uint64_t pos;
	uint64_t end;
} PosixRange;

static ssize_t
pr_read(void *impl, void *buf, size_t cap)
{
	PosixRange *r = impl;
	size_t want = r->end - r->pos < cap ? (size_t)(r->end - r->pos) : cap;

	if (want == 0)
		return 0;
	for (;;) {
		ssize_t n = pread(r->fd, buf, want, (off_t)r->pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(errno, "could not read file \"%s\"", r->full);
		if (n == 0)
			return err_set(ERR_CORRUPT, "file \"%s\" ends at byte %llu, before the end of the range read (%llu)",
			               r->full, (unsigned long long)r->pos, (unsigned long long)r->end);
		r->pos += (uint64_t)n;
		return n;
	}
}

static void
pr_free(void *impl)
{
	PosixRange *r = impl;

	close(r->fd);
	free(r->full);
	free(r);
}

static const IoReaderOps posix_range_ops = {pr_read, pr_free};

static int
posix_read_open_range(void *drv, IoReader **out, const char *path, uint64_t offset, uint64_t length)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	struct stat st;
	PosixRange *r;
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		rc = err_errno(errno, "could not open file \"%s\"", full);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = err_errno(errno, "could not stat file \"%s\"", full);
		goto fail;
	}
	if ((uint64_t)st.st_size < offset + length) {
		rc = err_set(ERR_CORRUPT, "file \"%s\" holds %llu bytes, too few for %llu bytes at offset %llu", full,
		             (unsigned long long)st.st_size, (unsigned long long)length, (unsigned long long)offset);
		goto fail;
	}
	posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_SEQUENTIAL);
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->full = full;
	r->pos = offset;
	r->end = offset + length;
	*out = io_reader_new(&posix_range_ops, r);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(full);
	return rc;
}

static int
posix_info(void *drv, const char *path, StorageInfo *out)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	struct stat st;
	int rc = 0;

	if (stat(full, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = err_errno(errno, "could not stat \"%s\"", full);
		goto out;
	}
	out->exists = true;
	out->is_dir = S_ISDIR(st.st_mode);
	out->size = (uint64_t)st.st_size;
	out->mtime = st.st_mtime;
out:
	free(full);
	return rc;
}

static int
posix_list(void *drv, const char *path, StorageListCb cb, void *payload)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	DIR *d = opendir(full);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = err_errno(errno, "could not open directory \"%s\"", full);
		goto out;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		StorageInfo info = {0};
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue; /* removed meanwhile */
		info.exists = true;
		info.is_dir = S_ISDIR(st.st_mode);
		info.size = (uint64_t)st.st_size;
		info.mtime = st.st_mtime;
		if ((rc = cb(de->d_name, &info, payload)) < 0)
			goto out;
	}
	if (errno)
		rc = err_errno(errno, "could not read directory \"%s\"", full);
out:
	if (d)
		closedir(d);
	free(full);
	return rc;
}

static int
posix_remove(void *drv, const char *path)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	int rc = 0;

	if (unlink(full) < 0 && errno != ENOENT)
		rc = err_errno(errno, "could not remove file \"%s\"", full);
	free(full);
	return rc;
}

static int
remove_tree_at(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_errno(errno, "could not stat \"%s\"", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return err_errno(errno, "could not remove file \"%s\"", path);
		return 0;
	}
	if ((d = opendir(path)) == NULL)
		return err_errno(errno, "could not open directory \"%s\"", path);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *child = path_join(path, de->d_name);
		rc = remove_tree_at(child);
		free(child);
		if (rc < 0)
			break;
	}
	closedir(d);
	if (rc == 0 && rmdir(path) < 0 && errno != ENOENT)
		rc = err_errno(errno, "could not remove directory \"%s\"", path);
	return rc;
}

static int
posix_remove_tree(void *drv, const char *path)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	int rc = remove_tree_at(full);

	free(full);
	return rc;
}

/* syncfs() flushes the whole file system at once: one call instead of an
 * fsync per file; then the directories' entries along the path. */
static int
posix_sync(void *drv, const char *path)
{
	Posix *p = drv;
	char *full = full_path(p, path);
	int fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		rc = err_errno(errno, "could not open directory \"%s\"", full);
		goto out;
	}
	if (syncfs(fd) < 0)
		rc = err_errno(errno, "could not sync file system of \"%s\"", full);
	close(fd);
	if (rc == 0)
		rc = fsync_dir_of(full);
out:
	free(full);
	return rc;
}

static void
posix_free(void *drv)
{
	Posix *p = drv;

	if (p == NULL)
		return;
	free(p->root);
	free(p);
}

int
storage_posix_new(void **out, const char *root)
{
	Posix *p;
	char *probe;
	int rc;

	probe = path_join(root, "x");
	rc = make_parents(probe);
	free(probe);
	if (rc < 0)
		return rc;
	p = xcalloc(1, sizeof(*p));
	p->root = xstrdup(root);
	*out = p;
	return 0;
}

const StorageDriver storage_posix_driver = {
	.name = "posix",
	.write_open = posix_write_open,
	.read_open = posix_read_open,
	.read_open_range = posix_read_open_range,
	.info = posix_info,
	.list = posix_list,
	.remove = posix_remove,
	.remove_tree = posix_remove_tree,
	.sync = posix_sync,
	.free = posix_free,
};
