/*
 * control.c - parse and read global/pg_control (ControlFileData).
 *
 * Invariant: a PgControl is filled only from an image whose
 * pg_control_version is one whose layout is known here and whose CRC-32C
 * matches; on any error *out is left untouched.  Offsets are those of
 * PostgreSQL 15's ControlFileData on x86_64, checked against a real cluster
 * (pg_controldata) by the unit tests.
 */
#include "pg/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/crc32c.h"

/* ControlFileData byte offsets (pg_control_version 1300, x86_64). */
#define CTL_SYSTEM_IDENTIFIER_OFF 0
#define CTL_VERSION_OFF 8
#define CTL_CATALOG_VERSION_OFF 12
#define CTL_STATE_OFF 16
#define CTL_CHECKPOINT_OFF 32
#define CTL_CHECKPOINT_TLI_OFF 48	/* checkPointCopy (at 40) .ThisTimeLineID */
#define CTL_BLCKSZ_OFF 216
#define CTL_XLOG_SEG_SIZE_OFF 228
#define CTL_DATA_CHECKSUM_VERSION_OFF 252
#define CTL_CRC_OFF 288	/* offsetof(ControlFileData, crc) */

#define CTL_SUPPORTED_VERSION 1300u
/* PG_CONTROL_MAX_SAFE_SIZE: the part of the file PostgreSQL writes atomically. */
#define CTL_READ_SIZE 512

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t) get_u32(p) | ((uint64_t) get_u32(p + 4) << 32);
}

static uint32_t
bswap32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

/* Checked before the CRC, as PostgreSQL does: another version means another
 * layout, and a CRC mismatch would hide the real cause. */
static int
check_version(uint32_t version)
{
	if (version == CTL_SUPPORTED_VERSION)
		return 0;
	err_set(ERR_UNSUPPORTED, "pg_control version %u is not supported", version);
	if (bswap32(version) == CTL_SUPPORTED_VERSION)
		err_detail("The file looks byte-swapped: it was written by a server of the other byte order.");
	err_hint("tenback supports PostgreSQL 15 and later.");
	return ERR_UNSUPPORTED;
}

static int
check_crc(const uint8_t *buf)
{
	uint32_t computed = pg_crc32c(buf, CTL_CRC_OFF);
	uint32_t stored = get_u32(buf + CTL_CRC_OFF);

	if (computed == stored)
		return 0;
	err_set(ERR_CORRUPT, "incorrect checksum in control file");
	err_detail("The stored CRC-32C is %08X, the computed one is %08X.", stored, computed);
	return ERR_CORRUPT;
}

int
pg_control_parse(PgControl *out, const uint8_t *buf, size_t len)
{
	int rc;

	if (len < CTL_CRC_OFF + 4)
		return err_set(ERR_CORRUPT, "control file is too short: %zu bytes, expected at least %d",
			len, CTL_CRC_OFF + 4);
	if ((rc = check_version(get_u32(buf + CTL_VERSION_OFF))) < 0)
		return rc;
	if ((rc = check_crc(buf)) < 0)
		return rc;

	out->system_identifier = get_u64(buf + CTL_SYSTEM_IDENTIFIER_OFF);
	out->pg_control_version = get_u32(buf + CTL_VERSION_OFF);
	out->catalog_version_no = get_u32(buf + CTL_CATALOG_VERSION_OFF);
	out->state = get_u32(buf + CTL_STATE_OFF);
	out->checkpoint_lsn = get_u64(buf + CTL_CHECKPOINT_OFF);
	out->checkpoint_timeline = get_u32(buf + CTL_CHECKPOINT_TLI_OFF);
	out->data_checksum_version = get_u32(buf + CTL_DATA_CHECKSUM_VERSION_OFF);
	out->blcksz = get_u32(buf + CTL_BLCKSZ_OFF);
	out->xlog_seg_size = get_u32(buf + CTL_XLOG_SEG_SIZE_OFF);
	return 0;
}

static int
open_error(int errnum, const char *path)
{
	int rc = err_errno(errnum, "could not open file \"%s\"", path);

	if (rc == ERR_NOT_FOUND)
		err_hint("Check that --pgdata names a PostgreSQL data directory.");
	else if (rc == ERR_PERMISSION)
		err_hint("Run tenback as the operating system user that owns the data directory.");
	return rc;
}

/* Read up to len bytes; *out_len is less than len only at end of file. */
static int
read_full(int fd, const char *path, uint8_t *buf, size_t len, size_t *out_len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(errno, "could not read file \"%s\"", path);
		if (n == 0)
			break;
		done += (size_t) n;
	}
	*out_len = done;
	return 0;
}

int
pg_control_read(PgControl *out, const char *datadir)
{
	char *path = xasprintf("%s/global/pg_control", datadir);
	uint8_t buf[CTL_READ_SIZE];
	size_t len = 0;
	int fd = -1;
	int rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = open_error(errno, path);
		goto out;
	}
	if ((rc = read_full(fd, path, buf, sizeof(buf), &len)) < 0)
		goto out;
	if ((rc = pg_control_parse(out, buf, len)) < 0)
		err_prefix("while reading \"%s\"", path);

out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}
