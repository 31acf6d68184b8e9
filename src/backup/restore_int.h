/*
 * restore_int.h - the two halves of a restore: laying files down
 * (restore.c) and running the first recovery (recovery.c).
 */
#ifndef TENBACK_BACKUP_RESTORE_INT_H
#define TENBACK_BACKUP_RESTORE_INT_H

#include "backup/backup.h"
#include "backup/manifest.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct RecoveryCtx {
	const RestoreOpts *o;
	const Manifest *m;
	const char *dir;             /* the restored data directory */
	const char *pg_bin;          /* directory of postgres and pg_ctl */
	const char *restore_command;
	const RecoveryTarget *target;
	bool tenant_only;            /* drop every database outside the set */
	bool as_other_user;          /* run PostgreSQL as uid/gid */
	uid_t uid;
	gid_t gid;
} RecoveryCtx;

/*
 * Start the restored instance privately (own socket directory, no TCP, no
 * autovacuum, no archiving), let recovery reach its target and promote,
 * check its log, drop the databases outside the set, shut it down.
 */
int recovery_run(const RecoveryCtx *ctx);
/*
 * Read the first recovery's log: every "page N of relation R is
 * uninitialized / does not exist" report must name a relation of a database
 * outside the set; any other is ERR_CORRUPT naming the relation.
 */
int recovery_check_log(const char *log_path, const Manifest *m);
/* Start it for the user with pg_ctl, configuration as written. */
int recovery_start_final(const RecoveryCtx *ctx);

#endif
