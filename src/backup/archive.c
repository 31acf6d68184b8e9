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
#include "pg/walread.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A segment in pg_wal, read by the WAL reader in pieces. */
static int
wal_fd_range(uint8_t *buf, uint32_t timeline, uint64_t segno, uint32_t have, uint32_t want, uint32_t *out_have,
             void *payload)
{
	const int *fd = payload;
	ssize_t n = files_read_at(*fd, buf + have, want - have, (off_t)have);

	(void)timeline;
	(void)segno;
	if (n < 0)
		return err_errno(errno, "could not read WAL");
	if ((size_t)n != want - have)
		return err_set(ERR_CORRUPT, "WAL segment ends early");
	*out_have = want;
	return 0;
}

uint64_t
wal_switch_end(int fd, uint32_t seg_size, uint32_t timeline, uint64_t seg, uint64_t from_lsn)
{
	PgWalReader *rd = NULL;
	PgWalRecord rec;
	uint64_t seg_start = seg * (uint64_t)seg_size, end = seg_size;
	int rc;

	if (from_lsn < seg_start || from_lsn >= seg_start + seg_size)
		return seg_size;
	/* Written to its last page (its page address there is its own): the WAL
	 * runs to the segment's end, as in most segments; not read again. */
	{
		uint8_t last[16];
		uint64_t addr = 0;

		if (files_read_at(fd, last, sizeof(last), (off_t)(seg_size - PG_WAL_PAGE_SIZE)) == (ssize_t)sizeof(last)) {
			for (int i = 7; i >= 0; i--)
				addr = addr << 8 | last[8 + i]; /* xlp_pageaddr, little-endian */
			if (addr == seg_start + seg_size - PG_WAL_PAGE_SIZE)
				return seg_size;
		}
	}
	(void)pg_walreader_new_ranged(&rd, seg_size, timeline, from_lsn, wal_fd_range, &fd);
	while ((rc = pg_walreader_next(rd, &rec)) == 1 && rec.lsn < seg_start + seg_size) {
		if (pg_wal_record_is_switch(&rec)) {
			uint64_t rec_end = rec.lsn + rec.tot_len - seg_start;

			end = (rec_end + PG_WAL_PAGE_SIZE - 1) / PG_WAL_PAGE_SIZE * PG_WAL_PAGE_SIZE;
			break;
		}
	}
	if (rc < 0)
		err_clear();
	pg_walreader_free(rd);
	return end;
}

/*
 * The name is archived already: accepted only with the same content,
 * compared byte for byte with the stored object as it decodes (its own
 * checksum verified at its end), so the archive's containers need no
 * cryptographic sum for this.
 */
static int
compare_archived(Storage *s, int fd, const char *path, const char *name, const char *object, uint64_t zero_from)
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
			/* the file's bytes, zeros from zero_from on (as archive-push stores them) */
			size_t from_file = off >= zero_from ? 0 : zero_from - off < (uint64_t)n ? (size_t)(zero_from - off) : (size_t)n;

			if ((got = from_file ? files_read_at(fd, local, from_file, (off_t)off) : 0) < 0) {
				rc = err_errno(errno, "could not read WAL file \"%s\"", path);
				goto out;
			}
			if ((size_t)got == from_file && from_file < (size_t)n) {
				memset(local + from_file, 0, (size_t)n - from_file);
				got = n;
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

/* The same content, as this version stores it (zeros after a switch record)
 * or whole (as earlier versions stored every segment). */
static int
compare_either(Storage *s, int fd, const char *path, const char *name, const char *object, uint64_t zero_from)
{
	int rc = compare_archived(s, fd, path, name, object, zero_from);

	if (rc == ERR_EXISTS && zero_from != UINT64_MAX) {
		ErrSaved *first = err_save();

		err_clear();
		if ((rc = compare_archived(s, fd, path, name, object, UINT64_MAX)) == ERR_EXISTS)
			rc = err_restore(first);
		err_saved_free(first);
	}
	return rc;
}

int
archive_push(Meta *meta, const char *cluster, const char *path)
{
	MetaCluster c = {0};
	Storage *s = NULL;
	IoWriter *sink = NULL;
	IoFrameWriter *fw = NULL;
	IoFrameCodec *codec = NULL;
	IoContainerInfo written;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *object = NULL;
	uint8_t *buf = NULL, *frame = NULL, *zero_frame = NULL;
	size_t frame_cap, zero_frame_len = 0;
	IoCompress comp;
	StorageInfo info;
	PgWalFileKind kind;
	uint64_t zero_from = UINT64_MAX, off = 0;
	struct stat st;
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
	buf = xmalloc(COPY_CHUNK_BYTES);
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
		/* A segment switched early (pg_backup_start, pg_switch_wal, archive_timeout):
		 * what follows its switch record is stored as zeros, neither read nor
		 * compressed; it is often a recycled segment's old WAL. */
		if (kind == PG_WAL_FILE_SEGMENT && fstat(fd, &st) == 0 && (uint64_t)st.st_size == hdr.seg_size) {
			uint64_t segno = hdr.pageaddr / hdr.seg_size;
			uint64_t end = wal_switch_end(fd, hdr.seg_size, hdr.timeline, segno, segno * hdr.seg_size);

			if (end < hdr.seg_size) {
				zero_from = end;
				log_debug("WAL file \"%s\": its switch record ends at %" PRIu64 "; the rest is stored as zeros",
				          name, end);
			}
		}
	}
	if ((rc = cluster_storage_open(meta, &c, NULL, &s)) < 0)
		goto out;
	object = manifest_archive_path(c.system_id, name);
	if ((rc = storage_info(s, object, &info)) < 0)
		goto out;
	if (info.exists) {
		rc = compare_either(s, fd, path, name, object, zero_from);
		goto out;
	}
	if ((rc = storage_write_open(s, &sink, object, &(StorageWriteOpts){.no_replace = true})) < 0)
		goto out;
	/* Frames of COPY_CHUNK_BYTES (whole pages), as a set's files (any container reader reads
	 * them as one stream): the zeros after a switch record are one frame made
	 * once.  CRC-32C, as a set's files: a name archived again is compared
	 * byte for byte (compare_archived), and a 16 MiB segment's SHA-256 was
	 * about a tenth of the archiver's CPU. */
	rc = io_frame_writer_new(&fw, sink, comp, IO_CHECKSUM_CRC32C);
	sink = NULL;
	if (rc < 0 || (rc = io_frame_codec_new(&codec, comp, 0)) < 0)
		goto out;
	frame_cap = io_frame_bound(comp, COPY_CHUNK_BYTES);
	frame = xmalloc(frame_cap);
	for (;;) {
		const uint8_t *raw = buf, *stored = frame;
		size_t stored_len = 0;

		if (off >= zero_from) {
			/* the rest after the switch record: zeros, to the segment's end */
			n = (ssize_t)(st.st_size - (off_t)off < COPY_CHUNK_BYTES ? st.st_size - (off_t)off : COPY_CHUNK_BYTES);
			if (n <= 0)
				break;
			raw = copy_zero_chunk();
		} else {
			size_t want = zero_from - off < COPY_CHUNK_BYTES ? (size_t)(zero_from - off) : COPY_CHUNK_BYTES;

			if ((n = files_read_at(fd, buf, want, (off_t)off)) < 0) {
				rc = err_errno(errno, "could not read WAL file \"%s\"", path);
				goto out;
			}
			if (n == 0)
				break;
		}
		if (comp == IO_COMPRESS_NONE) {
			stored = raw;
			stored_len = (size_t)n;
		} else if (raw != buf && n == COPY_CHUNK_BYTES) {
			if (zero_frame == NULL && (rc = copy_zero_frame(codec, comp, &zero_frame, &zero_frame_len)) < 0)
				goto out;
			stored = zero_frame;
			stored_len = zero_frame_len;
		} else if ((rc = io_frame_encode(codec, frame, frame_cap, &stored_len, raw, (size_t)n)) < 0) {
			goto out;
		}
		if ((rc = io_frame_writer_put(fw, raw, (size_t)n, stored, stored_len)) < 0)
			goto out;
		off += (uint64_t)n;
	}
	rc = io_frame_writer_close(fw, &written);
	if (rc == ERR_EXISTS) /* pushed meanwhile by another process: the same content is fine */
		rc = compare_either(s, fd, path, name, object, zero_from);
out:
	if (rc < 0)
		err_prefix("could not archive \"%s\"", name);
	io_frame_writer_free(fw);
	io_frame_codec_free(codec);
	io_writer_free(sink);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(frame);
	free(zero_frame);
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
