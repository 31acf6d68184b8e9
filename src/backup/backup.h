/*
 * backup.h - the backup engine's operations, as the CLI (and later the
 * daemon) call them.  Each takes the metadata store and an options struct
 * and returns 0 or a negative ErrCode with the error record set.
 */
#ifndef TENBACK_BACKUP_BACKUP_H
#define TENBACK_BACKUP_BACKUP_H

#include "io/io.h"
#include "meta/meta.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- clusters and tenants (cluster.c) ---- */

typedef struct ClusterAddOpts {
	const char *name;
	const char *conninfo;
	const char *pgdata;
	const char *storage;
	const char *compress;     /* NULL: zstd */
} ClusterAddOpts;

/* Connects, checks the version and that pgdata belongs to the server, probes
 * the storage, then registers. */
int cluster_add(Meta *meta, const ClusterAddOpts *o);

typedef struct TenantInfo {
	uint32_t oid;
	char *name;
	char *owner;
	int64_t size_bytes;
	bool is_template;
	bool allow_conn;
} TenantInfo;

int tenant_list(Meta *meta, const char *cluster, TenantInfo **out, size_t *out_count);
void tenant_array_free(TenantInfo *a, size_t n);

/* ---- backup (backup.c) ---- */

typedef struct BackupOpts {
	const char *home;
	const char *cluster;
	const char *tenant;        /* database name or "*" */
	const char *mode;          /* "full" */
	const char *compress;      /* NULL: the cluster's */
	int archive_timeout_s;     /* 0: 60 */
	bool progress;             /* plain progress lines on stderr */
} BackupOpts;

/* On success *out_set_id is the new set's id (malloc'd). */
int backup_run(Meta *meta, const BackupOpts *o, char **out_set_id);

/* Resolve "latest" or an id to a completed set of the tenant. */
int backup_find_set(Meta *meta, const char *cluster, const char *tenant, const char *set, MetaSet *out);

/* ---- WAL archive (archive.c) ---- */

int archive_push(Meta *meta, const char *cluster, const char *path);
/* ERR_NOT_FOUND when the archive has no such file (normal at the end of recovery). */
int archive_get(Meta *meta, const char *cluster, const char *name, const char *dest);

/* ---- verify (verify.c) ---- */

typedef struct VerifyReport {
	size_t files_checked;
	size_t wal_checked;
	uint64_t bytes_checked;
} VerifyReport;

/* Re-read every stored file of the set; the first damaged one is named in
 * the error (ERR_CORRUPT), all of them are logged. */
int backup_verify(Meta *meta, const char *cluster, const char *tenant, const char *set, VerifyReport *out);

/* ---- restore (restore.c, recovery.c) ---- */

typedef struct TablespaceMap {
	const char *from;          /* old location, tablespace name or oid */
	const char *to;
} TablespaceMap;

typedef struct RestoreOpts {
	const char *home;
	const char *cluster;
	const char *tenant;
	const char *set;           /* id or "latest" */
	const char *to;
	int port;                  /* 0: keep the source's */
	bool start;
	bool force;
	const TablespaceMap *maps;
	size_t n_maps;
	const char *target;        /* "latest" (all archived WAL) or "immediate" */
	const char *run_as;        /* when root: the user owning and running the instance */
	const char *socket_dir;
	const char *pg_bin;
	int timeout_s;             /* for recovery and start; 0: 3600 */
} RestoreOpts;

int restore_run(Meta *meta, const RestoreOpts *o);

#endif
