/*
 * fuzz_container.c - every stored object (data files, archived WAL) is a
 * tenback container read back from storage: header, compressed stream
 * (zstd, lz4 or none), trailer with size and SHA-256.  Read to the end; a
 * damaged one must be an error, never a crash or a hang.
 */
#include "io/io.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	IoReader *src = io_mem_reader_new(data, size), *r = NULL;
	static uint8_t buf[65536];
	uint64_t total = 0;
	ssize_t n;

	if (io_container_reader_new(&r, src) != 0)
		return 0; /* src is the container's even on failure */
	while ((n = io_reader_read(r, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > (uint64_t)64 << 20)
			break; /* a bomb: 64 MiB is enough to show it decodes */
	}
	io_reader_free(r);
	return 0;
}
