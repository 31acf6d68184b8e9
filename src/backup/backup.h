/*
 * backup.h - the backup engine's operations, as the CLI (and later the
 * daemon) call them.  Each takes the metadata store and an options struct
 * and returns 0 or a negative ErrCode with the error record set.
 */
#ifndef TENBACK_BACKUP_BACKUP_H
#define TENBACK_BACKUP_BACKUP_H

#include "common/strutil.h"
#include "io/io.h"
#include "meta/meta.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- encryption keys of a cluster (keys.c; doc/repository.md, "Encryption") ---- */

typedef struct KeyAddOpts {
	const char *cluster;
	const char *key_file;         /* absolute path of 32 random bytes, mode 0600; or */
	const char *passphrase_file;  /* a file holding the passphrase (mode 0600), read once and sealed; or */
	const char *passphrase;       /* the passphrase itself (the API's; never logged) */
	bool current;                 /* encrypt new sets and WAL with it from now on */
} KeyAddOpts;

/* Add (or make current) a key; *out_fingerprint names it (17 bytes). */
int cluster_key_add(Meta *meta, const KeyAddOpts *o, char *out_fingerprint);
/* ERR_INVALID for the current key: rotate or turn encryption off first. */
int cluster_key_remove(Meta *meta, const char *cluster, const char *fingerprint);
/* New sets and WAL are written unencrypted; the keys stay to read old ones. */
int cluster_encryption_off(Meta *meta, const char *cluster);

/* ---- clusters and tenants (cluster.c) ---- */

typedef struct ClusterAddOpts {
	const char *name;
	const char *conninfo;
	const char *pgdata;       /* NULL or "": none, the cluster is backed up logically only */
	const char *storage;
	const char *compress;     /* NULL: zstd */
	const char *storage_credentials; /* S3: a 0600 file with the key pair; else AWS_* from the environment */
	const char *access_key;   /* S3: the key pair itself (a storage configuration's); both or neither */
	const char *secret_key;
} ClusterAddOpts;

/* Connects, checks the version and that pgdata belongs to the server, probes
 * the storage, then registers.  Without pgdata: no version or data
 * directory check (logical backup only). */
int cluster_add(Meta *meta, const ClusterAddOpts *o);

typedef struct TenantInfo {
	uint32_t oid;
	char *name;
	char *owner;
	int64_t size_bytes;
	bool is_template;
	bool allow_conn;
	const char *backup_method;  /* what a backup without --method uses (static) */
	char *backup_method_reason; /* why */
} TenantInfo;

int tenant_list(Meta *meta, const char *cluster, TenantInfo **out, size_t *out_count);

/* Live state of a registered cluster (never fails for an unreachable server:
 * reachable is false and error says why). */
typedef struct ClusterStatus {
	bool reachable;
	char *error;              /* why not reachable */
	int version_num;          /* server_version_num, live */
	char *version;            /* server_version */
	char *status;             /* NORMAL or UPGRADING (registered, or detected: version changed) */
	bool version_changed;     /* live major version differs from the registered one */
	bool archiving_ok;        /* archive_mode on, tenback's archive_command, no failure newer than the last success */
	char *archive_command;
	int64_t archived_count;
	int64_t failed_count;
	char *last_archived_wal;
	char *last_archived_time;
	char *last_failed_wal;
	char *last_failed_time;
} ClusterStatus;

int cluster_status(Meta *meta, const char *cluster, ClusterStatus *out);
void cluster_status_clear(ClusterStatus *s);
/* Mark a cluster UPGRADING (a maintenance window) or NORMAL again. */
int cluster_set_status(Meta *meta, const char *cluster, const char *status);
/* "Perform a major compaction": a CHECKPOINT of the cluster.  Without
 * pg_checkpoint or superuser: ERR_PERMISSION with a hint to grant it. */
int cluster_checkpoint(Meta *meta, const char *cluster);
/* physical where the cluster allows it (PostgreSQL 15+, a data directory
 * registered and readable), logical otherwise; reason says why.  WAL
 * archiving is not part of the choice: a physical backup without it fails
 * saying what to configure, rather than silently becoming logical. */
const char *tenant_backup_method(const MetaCluster *c, int version_num, char *reason, size_t cap);
/*
 * The method of a backup: requested ("physical" or "logical") when not
 * NULL, else identified by tenant_backup_method from the registered
 * version and the data directory, without connecting (reason, may be
 * NULL, says why).  *out is a static string.  ERR_INVALID for another value.
 */
int backup_method_resolve(const MetaCluster *c, const char *requested, const char **out, char *reason, size_t cap);
void tenant_array_free(TenantInfo *a, size_t n);

/* ---- backup (backup.c) ---- */

typedef struct BackupOpts {
	const char *home;
	const char *cluster;
	const char *tenant;        /* database name or "*" */
	const char *mode;          /* "full" */
	const char *method;        /* "physical", "logical"; NULL: identified (backup_method_resolve) */
	const char *pg_bin;        /* logical: directory of pg_dump; NULL: /usr/lib/postgresql/<major>/bin */
	const char *compress;      /* NULL: the cluster's */
	const char *checksum;      /* of every stored file: "crc32c" or "sha256"; NULL: crc32c */
	int archive_timeout_s;     /* 0: 60 */
	bool progress;             /* plain progress lines on stderr */
	const char *storage;       /* storage configuration name; NULL: the cluster's own storage */
	/* incremental: how changed pages are found; "wal": from the WAL since the parent
	 * (the page scan where the WAL cannot tell); NULL: the same, unless that WAL is
	 * larger than the relation files to back up; "scan": read every page and compare
	 * its LSN; "compare": both, the scan's result stored, differences logged (and a
	 * page the WAL missed fails the backup) */
	const char *detect;
	int jobs;                  /* physical: worker threads copying the data; 0: one per online CPU (at most 64) */
	/* physical: at most this many bytes per second read from the data directory
	 * (BACKUP_MAX_RATE_MIN and up); 0: no limit.  A logical backup refuses it. */
	uint64_t max_rate;
	/* Optional: progress of "Back up data", and a cancel check (true: stop); both
	 * called on the thread that runs the backup, never from its workers. */
	void (*progress_cb)(uint64_t bytes_done, uint64_t bytes_total, uint64_t files_done, void *payload);
	bool (*cancel_cb)(void *payload);
	void (*log_cb)(const char *line, void *payload);
	void *payload;
} BackupOpts;

#define BACKUP_MAX_RATE_MIN (1024 * 1024)
/* ERR_INVALID (with a hint naming what) unless rate is 0 or from BACKUP_MAX_RATE_MIN up;
 * ERR_UNSUPPORTED for a rate with a logical backup. */
int backup_max_rate_check(uint64_t rate, bool logical, const char *what);

/* On success *out_set_id is the new set's id (malloc'd). */
int backup_run(Meta *meta, const BackupOpts *o, char **out_set_id);

/*
 * The same backup as five idempotent steps (the "Back up now" task):
 * 0 check, 1 checkpoint, 2 data (backup start, copy, backup stop), 3 logs,
 * 4 finish.  Between steps a set is kept as <set>/manifest.partial, so a job
 * made with resume_set_id (after a daemon restart) carries on from step 3
 * or 4; a failed step 2 starts the data over.  backup_job_new takes the
 * tenant's lock, held until backup_job_free.
 */
#define BACKUP_STEPS 5
typedef struct BackupJob BackupJob;
int backup_job_new(BackupJob **out, Meta *meta, const BackupOpts *o, const char *resume_set_id);
int backup_job_step(BackupJob *j, int step);
/* NULL before step 2 made the set; borrowed. */
const char *backup_job_set_id(const BackupJob *j);
/* Give the attempt up: its set directory is removed, its row marked failed. */
void backup_job_abandon(BackupJob *j);
void backup_job_free(BackupJob *j);

/* Resolve "latest" or an id to a completed set of the tenant. */
int backup_find_set(Meta *meta, const char *cluster, const char *tenant, const char *set, MetaSet *out);

/* Delete a set (and, with with_dependents, the incrementals built on it,
 * newest first); refuses a set others depend on otherwise.  The ids deleted
 * are added to out_deleted when not NULL. */
int backup_set_delete(Meta *meta, const char *cluster, const char *tenant, const char *set, bool with_dependents,
                      StrList *out_deleted);

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
	const char *target_time;   /* point in time: one of these at most */
	const char *target_lsn;
	const char *target_xid;
	const char *target_name;
	const char *run_as;        /* when root: the user owning and running the instance */
	const char *socket_dir;
	const char *pg_bin;
	int timeout_s;             /* for recovery and start; 0: 3600 */
	int jobs;                  /* worker threads laying files down; 0: one per online CPU (at most 64) */
	/* Optional: progress of laying the files down (bytes of whole files written,
	 * of all the files), every ~500 ms and once at the end, on the calling thread. */
	void (*progress_cb)(uint64_t bytes_done, uint64_t bytes_total, uint64_t files_done, void *payload);
	void *payload;
} RestoreOpts;

int restore_run(Meta *meta, const RestoreOpts *o);

/* ---- logical restore (logical_restore.c) ---- */

typedef struct LogicalRestoreOpts {
	const char *cluster;       /* the set's cluster and tenant */
	const char *tenant;
	const char *set;           /* id, or "latest": the tenant's newest logical set */
	const char *as;            /* restore into this new database; or: */
	const char *sql_file;      /* write the set as one SQL script (roles, pg_restore's script, properties) */
	const char *into_cluster;  /* --as: a registered cluster; NULL: the set's cluster */
	int jobs;                  /* pg_restore --jobs; 0: 1 */
	bool force;                /* --as: drop an existing database first; --sql-file: overwrite the file */
	const char *pg_bin;        /* NULL: /usr/lib/postgresql/<major>/bin */
	const char *temp_dir;      /* for the dump read back (pg_restore --jobs seeks); NULL: $TMPDIR, else /var/tmp */
} LogicalRestoreOpts;

/*
 * Restore a logical set: into a new database (the target server's major
 * version at least the dump's; an existing database refused unless
 * force), or out to a SQL file.  The set's objects are read back and
 * checked first: a damaged one is ERR_CORRUPT naming it, before anything
 * is created.  A restore that fails after creating its database drops it.
 * Prints one line saying what was done.
 */
int logical_restore_run(Meta *meta, const LogicalRestoreOpts *o);

/* ---- point in time (pitr.c) ---- */

typedef enum TargetKind {
	TARGET_LATEST,
	TARGET_IMMEDIATE,
	TARGET_TIME,
	TARGET_LSN,
	TARGET_XID,
	TARGET_NAME,
} TargetKind;

typedef struct RecoveryTarget {
	TargetKind kind;
	int64_t time_us;           /* TIME: Unix microseconds */
	uint64_t lsn;              /* LSN */
	uint32_t xid;              /* XID */
	char name[64];             /* NAME */
	char text[96];             /* the value PostgreSQL gets */
} RecoveryTarget;

/* From --target / --target-time / -lsn / -xid / -name; ERR_INVALID when
 * more than one is given or a value does not parse. */
int recovery_target_parse(RecoveryTarget *out, const RestoreOpts *o);

/*
 * The set a restore to target starts from: set_opt when given ("latest" or
 * an id), else the newest set whose consistency point lies at or before the
 * target.  For every target but latest and immediate the archived WAL from
 * that set on is read to prove the target is reachable; a target in a gap
 * or outside every range is refused naming the nearest range.
 */
int pitr_choose_set(Meta *meta, const char *cluster, const char *tenant, const char *set_opt,
                    const RecoveryTarget *t, char **out_set_id);

typedef struct WindowRange {
	char *set_id;              /* the set this range starts from */
	uint64_t start_lsn;        /* its consistency point */
	char *start_time;
	uint64_t end_lsn;          /* where continuous archived WAL ends */
	char *end_time;            /* the last transaction's time in the range, or NULL */
	char *end_reason;          /* "end of the archive", "segment ... is missing", "timeline 2 begins" */
} WindowRange;

/* The restorable ranges of a tenant, oldest first. */
int backup_window(Meta *meta, const char *cluster, const char *tenant, WindowRange **out, size_t *out_count);
void window_array_free(WindowRange *a, size_t n);

#endif
