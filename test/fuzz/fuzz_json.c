/*
 * fuzz_json.c - request bodies of the REST API and stored JSON go through
 * json_parse: parse, walk every member with the accessors the handlers use.
 */
#include "common/json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	JsonValue *v = NULL;
	static const char *const keys[] = {"cluster", "tenant", "mode", "storage", "schedule", "id", "name", ""};

	if (json_parse(&v, (const char *)data, size) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		bool ok;
		(void)json_get(v, keys[i]);
		(void)json_get_string(v, keys[i]);
		(void)json_get_uint(v, keys[i], &ok);
	}
	json_free(v);
	return 0;
}
