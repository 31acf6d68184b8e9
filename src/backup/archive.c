/*
 * archive.c - archive-push and archive-get, PostgreSQL's archive_command
 * and restore_command.
 *
 * Invariants: a pushed file is visible in the archive only complete (the
 * storage's atomic write); a name already archived is accepted again only
 * with identical content (PostgreSQL retries after a crash), and refused
 * with a non-zero exit otherwise, so a segment of another timeline or
 * system never overwrites a good one.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "pg/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The name is archived already: accepted only with the same content,
 * compared byte for byte with the stored object as it decodes (its own
 * checksum verified at its end), so the archive's containers need no
 * cryptographic sum for this.
 */
static int
compare_archived(Storage *s, int fd, const char *path, const char *name, const char *object)
{
	IoReader *src = NULL, *r = NULL;
	uint8_t *stored = xmalloc(COPY_BUF_SIZE), *local = xmalloc(COPY_BUF_SIZE);
	uint64_t off = 0;
	bool same = true;          /* the bytes both have are equal so far */
	struct stat st;
	ssize_t n;
	int rc;

	if ((rc = storage_read_open(s, &src, object)) == 0) {
		rc = io_container_reader_new(&r, src);
		src = NULL;
	}
	while (rc == 0 && (n = io_reader_read(r, stored, COPY_BUF_SIZE)) != 0) {
		ssize_t got;

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (same) {
			if ((got = files_read_at(fd, local, (size_t)n, (off_t)off)) < 0) {
				rc = err_errno(errno, "could not read WAL file \"%s\"", path);
				goto out;
			}
			/* the bytes both have; a length differs is seen at the end */
			same = memcmp(stored, local, (size_t)got) == 0;
		}
		off += (uint64_t)n;
	}
	if (rc < 0) {
		err_prefix("WAL file \"%s\" is already archived but unreadable", name);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = err_errno(errno, "could not stat WAL file \"%s\"", path);
		goto out;
	}
	if (same && (uint64_t)st.st_size == off) {
		log_info("WAL file \"%s\" is already archived with the same content", name);
		goto out;
	}
	rc = err_set(ERR_EXISTS, "WAL file \"%s\" is already archived with different content", name);
	err_detail("Archived: %" PRIu64 " bytes; this file: %" PRIu64 " bytes, %s.", off, (uint64_t)st.st_size,
	           same ? "the one a prefix of the other" : "other bytes");
	err_hint("Another server may be archiving into the same storage with the same system identifier; "
	         "stop it before archiving continues.");
out:
	io_reader_free(r);
	io_reader_free(src);
	free(stored);
	free(local);
	return rc;
}

int
archive_push(Meta *meta, const char *cluster, const char *path)
{
	MetaCluster c = {0};
	Storage *s = NULL;
	IoWriter *sink = NULL, *w = NULL;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *object = NULL;
	uint8_t *buf = NULL;
	IoCompress comp;
	StorageInfo info;
	PgWalFileKind kind;
	int fd = -1;
	ssize_t n;
	int rc;

	kind = pg_wal_file_kind(name, NULL);
	if (kind == PG_WAL_FILE_UNKNOWN) {
		rc = err_set(ERR_INVALID, "\"%s\" is not a WAL file name", name);
		err_hint("archive_command must pass %%p: archive-push --cluster NAME %%p.");
		return rc;
	}
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = io_compress_parse(&comp, c.compress)) < 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = err_errno(errno, "could not open WAL file \"%s\"", path);
		goto out;
	}
	buf = xmalloc(COPY_BUF_SIZE);
	if (kind == PG_WAL_FILE_SEGMENT || kind == PG_WAL_FILE_PARTIAL) {
		PgWalLongHeader hdr;
		char sysid[32];

		n = pread(fd, buf, 64, 0);
		if (n < 0) {
			rc = err_errno(errno, "could not read WAL file \"%s\"", path);
			goto out;
		}
		if ((rc = pg_wal_long_header_parse(&hdr, buf, (size_t)n)) < 0) {
			err_prefix("WAL file \"%s\"", path);
			goto out;
		}
		snprintf(sysid, sizeof(sysid), "%" PRIu64, hdr.system_identifier);
		if (strcmp(sysid, c.system_id) != 0) {
			rc = err_set(ERR_INVALID, "WAL file \"%s\" belongs to another system", name);
			err_detail("Its system identifier is %s; cluster \"%s\" has %s.", sysid, cluster, c.system_id);
			err_hint("Check --cluster in archive_command.");
			goto out;
		}
	}
	if ((rc = cluster_storage_open(meta, &c, NULL, &s)) < 0)
		goto out;
	object = manifest_archive_path(c.system_id, name);
	if ((rc = storage_info(s, object, &info)) < 0)
		goto out;
	if (info.exists) {
		rc = compare_archived(s, fd, path, name, object);
		goto out;
	}
	if ((rc = storage_write_open(s, &sink, object, &(StorageWriteOpts){.no_replace = true})) < 0)
		goto out;
	/* CRC-32C, as a set's files: a name archived again is compared byte for
	 * byte (compare_archived), and a 16 MiB segment's SHA-256 was about a
	 * tenth of the archiver's CPU */
	rc = io_container_writer_new(&w, sink, comp, io_compress_default_level(comp), IO_CHECKSUM_CRC32C);
	sink = NULL;
	if (rc < 0)
		goto out;
	while ((n = read(fd, buf, COPY_BUF_SIZE)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_errno(errno, "could not read WAL file \"%s\"", path);
			goto out;
		}
		if ((rc = io_writer_write(w, buf, (size_t)n)) < 0)
			goto out;
	}
	rc = io_writer_close(w);
	if (rc == ERR_EXISTS) /* pushed meanwhile by another process: the same content is fine */
		rc = compare_archived(s, fd, path, name, object);
out:
	if (rc < 0)
		err_prefix("could not archive \"%s\"", name);
	io_writer_free(w);
	io_writer_free(sink);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(object);
	storage_free(s);
	meta_cluster_clear(&c);
	return rc;
}

int
archive_get(Meta *meta, const char *cluster, const char *name, const char *dest)
{
	MetaCluster c = {0};
	Storage *s = NULL;
	char *object = NULL;
	char *tmp = NULL;
	IoContainerInfo info2;
	StorageInfo info;
	int fd = -1;
	int rc;

	if (pg_wal_file_kind(name, NULL) == PG_WAL_FILE_UNKNOWN)
		return err_set(ERR_INVALID, "\"%s\" is not a WAL file name", name);
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = cluster_storage_open(meta, &c, NULL, &s)) < 0)
		goto out;
	object = manifest_archive_path(c.system_id, name);
	if ((rc = storage_info(s, object, &info)) < 0)
		goto out;
	if (!info.exists) {
		rc = err_set(ERR_NOT_FOUND, "WAL file \"%s\" is not in the archive", name);
		goto out;
	}
	/* Write beside dest and rename: recovery never sees half a segment. */
	tmp = xasprintf("%s.tenback.tmp", dest);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = err_errno(errno, "could not create file \"%s\"", tmp);
		goto out;
	}
	if ((rc = files_read_object(s, object, fd, tmp, &info2)) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		rc = err_errno(errno, "could not close file \"%s\"", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, dest) < 0)
		rc = err_errno(errno, "could not rename \"%s\" to \"%s\"", tmp, dest);
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(object);
	storage_free(s);
	meta_cluster_clear(&c);
	return rc;
}

int
archive_read_segment(Storage *s, const char *system_id, uint32_t seg_size, uint32_t timeline, uint64_t segno,
                     uint8_t *buf)
{
	char name[32];
	char *object;
	IoReader *src = NULL, *r = NULL;
	StorageInfo info;
	ssize_t n;
	int rc;

	pg_wal_name(name, timeline, segno, seg_size);
	object = manifest_archive_path(system_id, name);
	if ((rc = storage_info(s, object, &info)) < 0)
		goto out;
	if (!info.exists) {
		rc = err_set(ERR_NOT_FOUND, "WAL segment %s is not in the archive", name);
		goto out;
	}
	if ((rc = storage_read_open(s, &src, object)) < 0)
		goto out;
	rc = io_container_reader_new(&r, src);
	src = NULL;
	if (rc < 0)
		goto out;
	n = io_reader_read_full(r, buf, seg_size);
	if (n >= 0 && n != (ssize_t)seg_size)
		rc = err_set(ERR_CORRUPT, "archived WAL segment %s has %zd bytes", name, n);
	else if (n < 0)
		rc = (int)n;
	else {
		uint8_t extra;
		n = io_reader_read(r, &extra, 1); /* to the end: the container checks itself */
		rc = n < 0 ? (int)n : 0;
	}
out:
	io_reader_free(r);
	io_reader_free(src);
	free(object);
	return rc;
}
