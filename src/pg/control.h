/*
 * control.h - read global/pg_control of a PostgreSQL 15 data directory.
 *
 * Only the fields tenback needs, read at their PostgreSQL 15 offsets
 * (ControlFileData, x86_64 alignment); the CRC at the end is checked.
 */
#ifndef TENBACK_PG_CONTROL_H
#define TENBACK_PG_CONTROL_H

#include <stdint.h>
#include <stddef.h>

typedef struct PgControl {
	uint64_t system_identifier;
	uint32_t pg_control_version;   /* 1300 for PostgreSQL 13..15 */
	uint32_t catalog_version_no;   /* 202209061 for 15 */
	uint32_t state;                /* DBState */
	uint64_t checkpoint_lsn;
	uint32_t checkpoint_timeline;  /* checkPointCopy.ThisTimeLineID */
	uint32_t data_checksum_version;/* 0 = off, 1 = on */
	uint32_t blcksz;
	uint32_t xlog_seg_size;
} PgControl;

/* Parse a pg_control image (at least 512 bytes): ERR_UNSUPPORTED on a
 * pg_control_version other than 1300 (with a message naming it), checked
 * first; ERR_CORRUPT on a bad CRC or a buffer too short to hold the CRC.
 * On error *out is untouched. */
int pg_control_parse(PgControl *out, const uint8_t *buf, size_t len);
/* Read DATADIR/global/pg_control: ERR_NOT_FOUND when missing (hint: check
 * --pgdata), ERR_PERMISSION when unreadable, else as pg_control_parse. */
int pg_control_read(PgControl *out, const char *datadir);

#endif
