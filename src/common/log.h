/*
 * log.h - leveled logging to stderr.
 *
 * The level is set once at start-up (log_set_level) before threads exist;
 * log lines are written with one fprintf each, so lines from threads do
 * not interleave within a line.
 *
 * When standard error is the systemd journal (systemd sets $JOURNAL_STREAM to
 * the device and inode of the stream it gave us), every line starts with its
 * syslog priority, "<3>" for an error through "<7>" for debug, which journald
 * strips and keeps as the entry's priority.
 */
#ifndef TENBACK_COMMON_LOG_H
#define TENBACK_COMMON_LOG_H

#include <stdbool.h>

typedef enum LogLevel {
	LOG_ERROR = 0,
	LOG_WARNING = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
} LogLevel;

void log_set_level(LogLevel level);
/* Prefix lines with their syslog priority; set once at start-up like the level. */
void log_set_journal(bool on);
/* Standard error is a terminal: each line first erases what is on the
 * current one (a progress line being redrawn there); set once at start-up. */
void log_set_terminal(bool on);
/* Whether standard error is the stream $JOURNAL_STREAM names. */
bool log_stderr_is_journal(void);
LogLevel log_get_level(void);
void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Print the thread's error record (message, detail, hint) at LOG_ERROR. */
void log_error_record(void);

#endif
