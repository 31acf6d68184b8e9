/*
 * check.h - "tenback check": is a cluster set up so that backups and WAL
 * archiving work, checked end to end like pgbackrest check.
 *
 * Each check yields one CheckItem, passed or failed with the error record's
 * message, detail and hint; a check whose premise failed (no connection, no
 * data directory registered) is skipped with the reason.  Nothing is left
 * behind: the storage probe removes its object, and the only change to the
 * cluster is a WAL switch.
 */
#ifndef TENBACK_BACKUP_CHECK_H
#define TENBACK_BACKUP_CHECK_H

#include "meta/meta.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CheckStatus {
	CHECK_OK,
	CHECK_FAIL,
	CHECK_SKIP,
} CheckStatus;

typedef struct CheckItem {
	const char *name;     /* static: "connection", "archive_command", ... */
	CheckStatus status;
	char *message;        /* what was found (OK) or what is wrong (FAIL), or why skipped */
	char *detail;         /* NULL or a sentence */
	char *hint;           /* NULL or what to do */
	int64_t elapsed_ms;
} CheckItem;

typedef struct CheckOpts {
	const char *home;          /* this tenback's --home, which archive_command must name */
	const char *cluster;
	int archive_timeout_s;     /* the wait for the switched WAL segment; 0: 60 */
	/* Optional: called as each check ends, before the next starts. */
	void (*item_cb)(const CheckItem *item, void *payload);
	void *payload;
} CheckOpts;

/*
 * Run the checks of cluster o->cluster.  *out (count in *out_count) is the
 * caller's, freed with check_items_free, also when some checks failed:
 * that is a 0 return.  Negative only when no check could start (an
 * unknown cluster: ERR_NOT_FOUND).
 */
int cluster_check(Meta *meta, const CheckOpts *o, CheckItem **out, size_t *out_count);
/* Number of items with status CHECK_FAIL. */
size_t check_items_failed(const CheckItem *items, size_t n);
void check_items_free(CheckItem *items, size_t n);
const char *check_status_name(CheckStatus s);

#endif
