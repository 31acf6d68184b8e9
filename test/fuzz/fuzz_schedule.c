/*
 * fuzz_schedule.c - a strategy's schedule (JSON, from the API or the
 * metadata): validate, and for a valid one compute the next firing and
 * what is due.
 */
#include "task/schedule.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char mode[16], slot[32];
	time_t when;

	memcpy(text, data, size);
	text[size] = '\0';
	if (schedule_validate(text) == 0) {
		(void)schedule_next(text, 1764115200, &when, mode);        /* 2025-11-26 00:00 UTC */
		(void)schedule_due(text, NULL, 1764158400, slot, mode);
		(void)schedule_due(text, "2025-11-25T12:00", 1764158400, slot, mode);
	}
	free(text);
	return 0;
}
