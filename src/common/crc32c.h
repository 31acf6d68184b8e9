/*
 * crc32c.h - CRC-32C (Castagnoli), as PostgreSQL computes it for pg_control
 * and WAL records (pg_crc32c: reflected, initial value and final xor
 * 0xFFFFFFFF), and tenback for the content of stored files (io.h).
 *
 * One-shot: pg_crc32c(data, len).  Incremental, for data in pieces (a WAL
 * record's CRC covers its body and then the start of its header):
 *     uint32_t crc = PG_CRC32C_INIT;
 *     crc = pg_crc32c_update(crc, a, a_len);
 *     crc = pg_crc32c_update(crc, b, b_len);
 *     crc = pg_crc32c_final(crc);
 * Pure functions, thread-safe.
 */
#ifndef TENBACK_COMMON_CRC32C_H
#define TENBACK_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#define PG_CRC32C_INIT 0xFFFFFFFFu

uint32_t pg_crc32c_update(uint32_t crc, const void *data, size_t len);
/* The same a byte at a time from the table: what pg_crc32c_update runs
 * without SSE 4.2 (for tests, which compare the two). */
uint32_t pg_crc32c_update_table(uint32_t crc, const void *data, size_t len);

static inline uint32_t
pg_crc32c_final(uint32_t crc)
{
	return crc ^ 0xFFFFFFFFu;
}

uint32_t pg_crc32c(const void *data, size_t len);

#endif
