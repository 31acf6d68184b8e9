/*
 * fuzz_manifest.c - a backup set's manifest is read from storage: untrusted
 * bytes.  Parse, and when it parses, serialise it again and parse that: the
 * round trip must give the same text.
 */
#include "backup/manifest.h"
#include "common/buf.h"
#include "common/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Manifest *m = NULL, *again = NULL;
	Buf a = {0}, b = {0};

	if (manifest_parse(&m, (const char *)data, size) != 0)
		return 0;
	manifest_to_json(m, &a);
	if (manifest_parse(&again, (const char *)a.data, a.len) != 0)
		abort(); /* what we write we must read */
	manifest_to_json(again, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	buf_free(&a);
	buf_free(&b);
	manifest_free(m);
	manifest_free(again);
	return 0;
}
