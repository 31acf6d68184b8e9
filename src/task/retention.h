/*
 * retention.h - a strategy's retention pass: delete a tenant's backup sets
 * older than the retention period, never the last restorable backup and
 * never a set that a kept set needs (doc/strategy.md).
 *
 * A Meta is used by one thread at a time (meta.h); so is this.
 */
#ifndef TENBACK_TASK_RETENTION_H
#define TENBACK_TASK_RETENTION_H

#include "common/strutil.h"
#include "meta/meta.h"

#include <stdint.h>
#include <time.h>

/*
 * Delete the tenant's completed sets that ended (MetaSet.stop_time, UTC) more
 * than `days` days before `now`, except:
 *   - the newest restorable chain (the newest completed full set and every
 *     incremental built on it, directly or through other incrementals) is
 *     always kept;
 *   - a set that a kept set (any set not deleted here, running ones too)
 *     builds on is kept, and so on up its chain.
 * A completed set whose stop_time is missing or unreadable is kept.
 * Children are deleted before their parents, each through
 * backup_set_delete(..., with_dependents=false), so a failure part-way never
 * leaves an incremental without its parent.  Deleted ids are added to
 * out_deleted (may be NULL) as they go, also when a later deletion fails.
 *
 * ERR_INVALID when days < 1; the errors of backup_set_delete otherwise.
 */
int retention_run(Meta *meta, const char *cluster, const char *tenant, int64_t days, time_t now,
                  StrList *out_deleted);

#endif
