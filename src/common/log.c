/*
 * log.c - leveled logging to stderr, one line per call.
 */
#include "common/log.h"

#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Set once at start-up, read-only afterwards. */
static LogLevel current_level = LOG_INFO;
static bool journal_prefix = false;
static bool terminal = false;

/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const char *const priorities[] = {"<3>", "<4>", "<6>", "<7>"};

void
log_set_level(LogLevel level)
{
	current_level = level;
}

void
log_set_journal(bool on)
{
	journal_prefix = on;
}

void
log_set_terminal(bool on)
{
	terminal = on;
}

bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(2, &st) < 0)
		return false;
	/* A child of ours with stderr redirected keeps the variable: compare. */
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
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
	/* "\r\033[K": back to the line's start and erase it; nothing on an empty line */
	fprintf(stderr, "%s%s%s: %s\n", terminal ? "\r\033[K" : "", journal_prefix ? priorities[level] : "",
	        names[level], line);
}

void
log_error_record(void)
{
	log_msg(LOG_ERROR, "%s", err_message()[0] ? err_message() : "unknown error");
	if (err_detail_text()[0])
		fprintf(stderr, "%sDETAIL: %s\n", journal_prefix ? priorities[LOG_ERROR] : "", err_detail_text());
	if (err_hint_text()[0])
		fprintf(stderr, "%sHINT: %s\n", journal_prefix ? priorities[LOG_ERROR] : "", err_hint_text());
}
