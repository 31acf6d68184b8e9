/*
 * io_int.h - what container.c shares with frame.c (not for callers).
 */
#ifndef TENBACK_IO_IO_INT_H
#define TENBACK_IO_IO_INT_H

#include "io/io.h"

#define IO_CONTAINER_HEADER_BYTES 8
#define IO_CONTAINER_TRAILER_BYTES 44

/* The header of a container of compression c and checksum kind k. */
void io_container_header_make(uint8_t out[IO_CONTAINER_HEADER_BYTES], IoCompress c, IoChecksumKind k);
/* Check a header read from an object; the compression method goes to *out,
 * the checksum kind to *out_kind.  ERR_CORRUPT ("not a tenback container")
 * when it is bad. */
int io_container_header_parse(IoCompress *out, IoChecksumKind *out_kind,
                              const uint8_t header[IO_CONTAINER_HEADER_BYTES]);
/* The trailer for content of raw_size bytes with that checksum. */
void io_container_trailer_make(uint8_t out[IO_CONTAINER_TRAILER_BYTES], uint64_t raw_size, const IoChecksum *sum);
/* Check the trailer (trailer_len bytes were found) against what was read:
 * ERR_CORRUPT "truncated container", "size mismatch in container" or
 * "checksum mismatch in container". */
int io_container_trailer_check(const uint8_t *trailer, size_t trailer_len, uint64_t raw_size,
                               const IoChecksum *sum);

#endif
