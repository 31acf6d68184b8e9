/*
 * progress.h - the progress line of backup and restore on a terminal:
 * bytes done and total, percent, rate and time left, redrawn in place on
 * standard error.  Only when stderr is a terminal and the log level shows
 * info (not --quiet); otherwise the engine's plain periodic log lines, or
 * nothing.  Single-threaded: the engines call back on the command's thread.
 */
#ifndef TENBACK_CLI_PROGRESS_H
#define TENBACK_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Progress {
	const char *what;     /* "backup", "restore" */
	int64_t start_ms;
	bool drawn;           /* a line is on the screen: end it with a newline */
	bool finished;        /* 100 % drawn and ended: later calls draw nothing */
} Progress;

/* Whether to draw: stderr is a terminal and info is logged. */
bool progress_wanted(void);
void progress_begin(Progress *p, const char *what);
/* A BackupOpts/RestoreOpts progress_cb; payload is the Progress. */
void progress_update(uint64_t bytes_done, uint64_t bytes_total, uint64_t files_done, void *payload);
/* End the line (if one was drawn). */
void progress_end(Progress *p);

#endif
