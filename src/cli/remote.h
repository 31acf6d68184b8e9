/*
 * remote.h - the CLI speaking to a tenback daemon (--server URL) instead of
 * working locally: the same commands through the REST API.
 */
#ifndef TENBACK_CLI_REMOTE_H
#define TENBACK_CLI_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Remote {
	const char *url;      /* http://127.0.0.1:8432 */
	const char *token;    /* API token: --token, else $TENBACK_TOKEN */
} Remote;

/* POST a backup of cluster/tenant through the daemon; with wait, follow the
 * task's steps on stderr until it ends and fail with the failed step's
 * message.  Prints the task id (and the set id when waited). */
int remote_backup(const Remote *r, const char *cluster, const char *tenant, const char *mode, const char *method,
                  const char *storage, uint64_t max_rate, bool wait);

#endif
