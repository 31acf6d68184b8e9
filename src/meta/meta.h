/*
 * meta.h - tenback's metadata store: registered clusters and known backup
 * sets, in one SQLite file (HOME/metadata.db, WAL mode) shared by the CLI,
 * archive-push and, later, the daemon.
 *
 * The storage stays the truth about backup sets (a set exists when its
 * manifest does); the store is the index that lists them quickly, and the
 * record of running and failed attempts.
 *
 * Strings in the structs are malloc'd and owned by the struct; *_clear
 * frees them.  A Meta is used by one thread at a time.
 */
#ifndef TENBACK_META_META_H
#define TENBACK_META_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Meta Meta;

/* Creates home (mode 0700) and the database when missing and migrates the
 * schema forward.  Refuses a database newer than this binary. */
int meta_open(Meta **out, const char *home);
void meta_free(Meta *m);
/* The home directory it was opened in; borrowed for the Meta's life. */
const char *meta_home(const Meta *m);
int meta_schema_version(Meta *m);
/* The schema version this binary migrates to. */
int meta_schema_latest(void);

typedef struct MetaCluster {
	char *name;
	char *conninfo;
	char *pgdata;
	char *storage;
	char *compress;
	char *system_id;      /* decimal */
	int pg_version;       /* server_version_num at registration */
	char *status;         /* NORMAL, UPGRADING */
	char *created_at;
	uint8_t *storage_secret; /* S3 key pair, sealed (secret.h); NULL for none */
	size_t storage_secret_len;
} MetaCluster;

/* ERR_EXISTS when the name is taken. */
int meta_cluster_add(Meta *m, const MetaCluster *c);
/* ERR_NOT_FOUND: cluster "x" does not exist (hint: tenback cluster list). */
int meta_cluster_get(Meta *m, const char *name, MetaCluster *out);
int meta_cluster_list(Meta *m, MetaCluster **out, size_t *out_count);
int meta_cluster_remove(Meta *m, const char *name);
int meta_cluster_set_status(Meta *m, const char *name, const char *status);
void meta_cluster_clear(MetaCluster *c);
void meta_cluster_array_free(MetaCluster *a, size_t n);

typedef struct MetaSet {
	char *cluster;
	char *tenant;
	char *id;
	char *type;           /* full, incremental */
	char *method;         /* physical */
	char *status;         /* running, completed, failed */
	int64_t pid;          /* of the process taking it, while running */
	char *storage_path;   /* set directory under the storage root */
	char *start_time;
	char *stop_time;
	char *start_lsn;
	char *stop_lsn;
	int64_t timeline;
	char *system_id;
	int64_t size_bytes;
	int64_t stored_bytes;
	int64_t file_count;
	char *error;
	char *parent;         /* incremental: the set it builds on */
	char *verified_at;    /* last verify: when, "ok" or "damaged", and why */
	char *verify_status;
	char *verify_error;
	char *storage;        /* the storage configuration it was written to; NULL: the cluster's own storage */
	char *encryption_key; /* fingerprint of the key its objects are encrypted with; NULL: not encrypted (migration 9) */
} MetaSet;

int meta_set_insert(Meta *m, const MetaSet *s);
/* Replace every column of the row (cluster, tenant, id). */
int meta_set_update(Meta *m, const MetaSet *s);
int meta_set_delete(Meta *m, const char *cluster, const char *tenant, const char *id);
/* Record a verification's result (status "ok" or "damaged"). */
int meta_set_verified(Meta *m, const char *cluster, const char *tenant, const char *id, const char *status,
                      const char *error);
/* Ordered by id; tenant and status NULL mean any. */
int meta_set_list(Meta *m, const char *cluster, const char *tenant, const char *status,
                  MetaSet **out, size_t *out_count);
void meta_set_clear(MetaSet *s);
void meta_set_array_free(MetaSet *a, size_t n);

/* ---- the control plane (meta_ctl.c) ---- */

typedef struct MetaUser {
	char *name;
	char *role;           /* admin, operator, viewer */
	char *password_hash;  /* argon2id encoded string */
	char *created_at;
} MetaUser;

int meta_user_add(Meta *m, const MetaUser *u);              /* ERR_EXISTS */
int meta_user_get(Meta *m, const char *name, MetaUser *out); /* ERR_NOT_FOUND */
int meta_user_list(Meta *m, MetaUser **out, size_t *out_count);
int meta_user_set_password(Meta *m, const char *name, const char *password_hash);
int meta_user_remove(Meta *m, const char *name);
void meta_user_clear(MetaUser *u);
void meta_user_array_free(MetaUser *a, size_t n);

/* Sessions and API tokens: stored by the SHA-256 of their secret, never the secret. */
typedef struct MetaAuth {
	char *id;             /* hex SHA-256 of the secret */
	char *kind;           /* session, token */
	char *user_name;
	char *role;           /* the user's role (read only: joined from app_user) */
	char *label;
	char *csrf;           /* sessions: the CSRF token */
	char *created_at;
	int64_t expires_at;   /* Unix seconds, 0: never */
} MetaAuth;

int meta_auth_add(Meta *m, const MetaAuth *a);
int meta_auth_get(Meta *m, const char *id, MetaAuth *out);  /* ERR_NOT_FOUND */
int meta_auth_touch(Meta *m, const char *id, int64_t expires_at);
int meta_auth_delete(Meta *m, const char *id);
int meta_auth_purge_expired(Meta *m, int64_t now);
/* The live sessions and tokens (of user, or everyone's when NULL), oldest
 * first, without their CSRF tokens. */
int meta_auth_list(Meta *m, const char *user, int64_t now, MetaAuth **out, size_t *out_count);
/* Revoke the one session or token whose id starts with id_prefix (at least 8
 * hex digits): *out is what it was.  ERR_NOT_FOUND; ERR_INVALID when the
 * prefix is malformed or names more than one. */
int meta_auth_revoke(Meta *m, const char *id_prefix, MetaAuth *out);
/* Revoke every session and token of user; *out_count of them. */
int meta_auth_revoke_user(Meta *m, const char *user, size_t *out_count);
void meta_auth_clear(MetaAuth *a);
void meta_auth_array_free(MetaAuth *a, size_t n);

typedef struct MetaStorage {
	char *name;
	char *uri;
	uint8_t *secret;      /* encrypted (crypto box of the home's master key), NULL when none */
	size_t secret_len;
	char *created_at;
} MetaStorage;

int meta_storage_put(Meta *m, const MetaStorage *s);        /* insert or replace */
int meta_storage_get(Meta *m, const char *name, MetaStorage *out);
int meta_storage_list(Meta *m, MetaStorage **out, size_t *out_count);
/* ERR_INVALID while a strategy uses it or backup sets (not failed ones) live in it. */
int meta_storage_remove(Meta *m, const char *name);
/*
 * The S3 key pair sealed in a storage configuration, unsealed with the
 * home's master key: *out_access and *out_secret are the caller's (wipe
 * them, then free); both NULL when it has no secret, either NULL when the
 * configuration was stored with one key only.  ERR_CORRUPT, naming the
 * configuration, when the secret does not unseal (another master key) or
 * is not what h_storage_create seals; the key file's errors as secret.h.
 */
int meta_storage_keys(Meta *m, const MetaStorage *s, char **out_access, char **out_secret);
/* Seal a key pair into s->secret (replacing it; both NULL: no secret), the form meta_storage_keys opens. */
int meta_storage_seal_keys(Meta *m, MetaStorage *s, const char *access, const char *secret);
void meta_storage_clear(MetaStorage *s);
void meta_storage_array_free(MetaStorage *a, size_t n);

typedef struct MetaStrategy {
	char *cluster;
	char *tenant;
	char *method;         /* physical, logical */
	char *storage;        /* storage configuration name, NULL: the cluster's storage */
	char *schedule;       /* JSON (doc/strategy.md) */
	int64_t retention_days;
	char *compress;
	int enabled;
	char *last_fired;     /* "YYYY-MM-DD HH:MM" of the last slot the scheduler fired */
	char *alerts;         /* alert thresholds, JSON (doc/alerts.md); NULL: the defaults */
} MetaStrategy;

int meta_strategy_put(Meta *m, const MetaStrategy *s);
int meta_strategy_get(Meta *m, const char *cluster, const char *tenant, MetaStrategy *out);
int meta_strategy_list(Meta *m, MetaStrategy **out, size_t *out_count);
int meta_strategy_remove(Meta *m, const char *cluster, const char *tenant);
int meta_strategy_set_fired(Meta *m, const char *cluster, const char *tenant, const char *slot);
void meta_strategy_clear(MetaStrategy *s);
void meta_strategy_array_free(MetaStrategy *a, size_t n);

/*
 * A cluster's encryption keys (keys.c): at most one current (new sets and
 * archived WAL are encrypted with it), the others kept to read what they
 * encrypted.  sealed is secret.h's box of the key file's path or of the
 * passphrase with its scrypt salt and parameters (backup/keys.c).
 */
typedef struct MetaKey {
	char *cluster;
	char *fingerprint;    /* 16 hex digits (io/cipher.h) */
	char *kind;           /* key-file, passphrase */
	uint8_t *sealed;
	size_t sealed_len;
	bool current;
	char *created_at;
} MetaKey;

/* Insert, or replace the row of the same fingerprint; current makes it the only current key. */
int meta_key_put(Meta *m, const MetaKey *k);
/* The cluster's keys, the current one first, then newest first. */
int meta_key_list(Meta *m, const char *cluster, MetaKey **out, size_t *out_count);
/* ERR_NOT_FOUND when the cluster has no such key. */
int meta_key_remove(Meta *m, const char *cluster, const char *fingerprint);
/* No current key: new sets and WAL are not encrypted. */
int meta_key_clear_current(Meta *m, const char *cluster);
void meta_key_clear(MetaKey *k);
void meta_key_array_free(MetaKey *a, size_t n);

typedef struct MetaTaskStep {
	int idx;
	char *name;
	char *status;         /* PENDING, RUNNING, FAILED, SUCCEEDED, CANCELLED */
	char *started_at;
	char *finished_at;
	char *error_code;
	char *error_message;
	char *error_detail;
	char *error_hint;
	char *log;
	int64_t bytes_done;
	int64_t bytes_total;
	int64_t files_done;
	int64_t attempts;
} MetaTaskStep;

typedef struct MetaTask {
	int64_t id;
	char *type;           /* backup */
	char *cluster;
	char *tenant;
	char *status;         /* RUNNING, FAILED, SUCCEEDED, CANCELLED */
	char *params;         /* JSON */
	char *state;          /* JSON */
	char *created_by;
	char *created_at;
	char *started_at;
	char *finished_at;
	char *error;
	int cancel_requested;
	MetaTaskStep *steps;
	size_t n_steps;
} MetaTask;

typedef struct MetaTaskFilter {
	const char *cluster;  /* NULL: any */
	const char *tenant;
	const char *status;
	const char *type;
	const char *since;    /* created_at >= since */
	int64_t limit;        /* 0: 100 */
} MetaTaskFilter;

/* Insert the task and its steps atomically; sets t->id. */
int meta_task_insert(Meta *m, MetaTask *t);
int meta_task_get(Meta *m, int64_t id, MetaTask *out);     /* with steps; ERR_NOT_FOUND */
/* Newest first, with steps. */
int meta_task_list(Meta *m, const MetaTaskFilter *f, MetaTask **out, size_t *out_count);
/* Write the task row's mutable columns (status, state, times, error, cancel_requested). */
int meta_task_update(Meta *m, const MetaTask *t);
int meta_task_step_update(Meta *m, int64_t task_id, const MetaTaskStep *s);
int meta_task_step_log(Meta *m, int64_t task_id, int idx, const char *line);
int meta_task_request_cancel(Meta *m, int64_t id);
/* Tasks left RUNNING by a daemon that stopped: FAILED with reason, their running step too. */
int meta_task_fail_running(Meta *m, const char *reason, int *out_count);
void meta_task_clear(MetaTask *t);
void meta_task_array_free(MetaTask *a, size_t n);

/* Tasks counted by (type, cluster, tenant, status), with the duration in
 * seconds of the last finished one of each group, from its start (or its
 * creation) to its end (-1: none finished). */
typedef struct MetaTaskStat {
	char *type, *cluster, *tenant, *status;
	int64_t count;
	double last_duration_s;
} MetaTaskStat;
int meta_task_stats(Meta *m, MetaTaskStat **out, size_t *out_count);
void meta_task_stats_free(MetaTaskStat *a, size_t n);

/* ---- the audit log: append-only; nothing in tenback updates or deletes an entry ---- */

typedef struct MetaAudit {
	int64_t id;
	char *at;             /* "YYYY-MM-DD HH:MM:SS+00" */
	char *user_name;      /* an API user, "os:NAME" for the CLI, "scheduler" */
	char *role;           /* NULL for the CLI and the scheduler */
	char *client;         /* the client's address; NULL for the CLI */
	char *action;         /* "backup.start", "set.delete", "logon", ... */
	char *object;         /* what it was done to: "tenants/main/shop/sets/2026...F", ... */
	char *outcome;        /* "ok" or the error's code word and message */
	char *detail;         /* e.g. the task id a start created; NULL */
} MetaAudit;

/* Append an entry (id and at are set by the store). */
int meta_audit_add(Meta *m, const MetaAudit *a);
/* Newest first: at most limit entries (0: 100) with an id below before (0: any). */
int meta_audit_list(Meta *m, int64_t limit, int64_t before, MetaAudit **out, size_t *out_count);
void meta_audit_array_free(MetaAudit *a, size_t n);
/* One entry as the JSON object the API and the CLI show (id, at, user, role,
 * client, action, object, outcome, detail). */
struct JsonWriter;
void meta_audit_json(struct JsonWriter *w, const MetaAudit *a);

/* ---- alerts and notifications (meta_alert.c, doc/alerts.md) ---- */

typedef struct MetaAlert {
	int64_t id;
	char *kind;           /* wal_archive_lag, wal_archive_failing, backup_failed, ... */
	char *object;         /* clusters/NAME, tenants/CLUSTER/DB, tasks/ID */
	char *cluster;        /* NULL when none */
	char *tenant;
	int64_t task_id;      /* 0: none */
	char *message;
	char *fired_at;       /* "YYYY-MM-DD HH:MM:SS+00" */
	char *resolved_at;    /* NULL while firing */
	char *acked_at;       /* NULL until acknowledged */
	char *acked_by;
} MetaAlert;

/* Record a firing alert (id and fired_at set here, into a).  ERR_EXISTS
 * when one of that kind and object is already firing. */
int meta_alert_fire(Meta *m, MetaAlert *a);
/* Resolve a firing alert now (sets resolved_at); no-op when resolved. */
int meta_alert_resolve(Meta *m, int64_t id);
/* ERR_NOT_FOUND "alert N does not exist". */
int meta_alert_get(Meta *m, int64_t id, MetaAlert *out);
int meta_alert_ack(Meta *m, int64_t id, const char *user);
/* Newest first; firing_only: resolved_at IS NULL; limit 0: 100. */
int meta_alert_list(Meta *m, bool firing_only, int64_t limit, MetaAlert **out, size_t *out_count);
void meta_alert_clear(MetaAlert *a);
void meta_alert_array_free(MetaAlert *a, size_t n);
/* One alert as the API and the CLI show it. */
void meta_alert_json(struct JsonWriter *w, const MetaAlert *a);

typedef struct MetaChannel {
	int64_t id;
	char *name;
	char *type;           /* webhook, email */
	char *url;            /* http(s)://... or smtp(s)://host:port */
	uint8_t *secret;      /* sealed (secret.h): the webhook's HMAC key or the SMTP password; NULL: none */
	size_t secret_len;
	char *username;       /* SMTP user; NULL: none */
	char *mail_from;
	char *mail_to;        /* comma-separated */
	char *kinds;          /* comma-separated alert kinds; "" or NULL: every kind */
	char *created_at;
} MetaChannel;

/* Sets c->id.  ERR_EXISTS when the name is taken. */
int meta_channel_add(Meta *m, MetaChannel *c);
/* By id (a decimal string) or by name: ERR_NOT_FOUND "notification channel \"x\" does not exist". */
int meta_channel_get(Meta *m, const char *id_or_name, MetaChannel *out);
int meta_channel_list(Meta *m, MetaChannel **out, size_t *out_count);
int meta_channel_remove(Meta *m, int64_t id);
void meta_channel_clear(MetaChannel *c);
void meta_channel_array_free(MetaChannel *a, size_t n);
/* Without the secret: "has_secret". */
void meta_channel_json(struct JsonWriter *w, const MetaChannel *c);

typedef struct MetaDelivery {
	int64_t id;
	int64_t channel_id;
	int64_t alert_id;     /* 0: a test */
	char *event;          /* fired, resolved, test */
	char *payload;        /* JSON */
	char *status;         /* pending, delivered, failed */
	int64_t attempts;
	int64_t next_attempt_at; /* Unix seconds */
	char *last_error;
	char *created_at;
	char *delivered_at;
} MetaDelivery;

/* Sets d->id (status, attempts, next_attempt_at as given). */
int meta_delivery_add(Meta *m, MetaDelivery *d);
/* Pending deliveries due at now, oldest first. */
int meta_delivery_due(Meta *m, int64_t now, MetaDelivery **out, size_t *out_count);
/* Writes status, attempts, next_attempt_at, last_error, delivered_at. */
int meta_delivery_update(Meta *m, const MetaDelivery *d);
void meta_delivery_clear(MetaDelivery *d);
void meta_delivery_array_free(MetaDelivery *a, size_t n);

/* One try of a delivery, with what its delivery says (read only, joined). */
typedef struct MetaAttempt {
	int64_t id;
	int64_t delivery_id;
	int64_t attempt;      /* 1, 2, ... */
	char *at;
	char *outcome;        /* delivered, failed */
	int64_t http_status;  /* 0: none (SMTP, or no answer) */
	char *error;
	/* from the delivery and its channel */
	int64_t channel_id;
	char *channel;
	int64_t alert_id;
	char *event;
	char *delivery_status;
	int64_t next_attempt_at;
} MetaAttempt;

int meta_attempt_add(Meta *m, const MetaAttempt *a);
/* Newest first; channel_id 0: every channel; limit 0: 100. */
int meta_attempt_list(Meta *m, int64_t channel_id, int64_t limit, MetaAttempt **out, size_t *out_count);
void meta_attempt_array_free(MetaAttempt *a, size_t n);
void meta_attempt_json(struct JsonWriter *w, const MetaAttempt *a);

/* Per (cluster, tenant) with backup tasks: the newest one, and when the first was created. */
typedef struct MetaBackupHead {
	char *cluster;
	char *tenant;
	int64_t task_id;      /* the newest backup task */
	char *status;
	char *error;
	char *first_created_at;
} MetaBackupHead;
int meta_backup_heads(Meta *m, MetaBackupHead **out, size_t *out_count);
void meta_backup_heads_free(MetaBackupHead *a, size_t n);

#endif
