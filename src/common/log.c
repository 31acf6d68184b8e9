/*
 * log.c - leveled logging to stderr, one line per call.
 */
#include "common/log.h"

#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

/* Set once at start-up, read-only afterwards. */
static LogLevel current_level = LOG_INFO;

void
log_set_level(LogLevel level)
{
	current_level = level;
}

LogLevel
log_get_level(void)
{
	return current_level;
}

void
log_msg(LogLevel level, const char *fmt, ...)
{
	static const char *const names[] = {"ERROR", "WARNING", "INFO", "DEBUG"};
	char line[4096];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", names[level], line);
}

void
log_error_record(void)
{
	log_msg(LOG_ERROR, "%s", err_message()[0] ? err_message() : "unknown error");
	if (err_detail_text()[0])
		fprintf(stderr, "DETAIL: %s\n", err_detail_text());
	if (err_hint_text()[0])
		fprintf(stderr, "HINT: %s\n", err_hint_text());
}
