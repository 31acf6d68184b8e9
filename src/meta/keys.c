/*
 * keys.c - a cluster's encryption keys in the metadata (meta.h, MetaKey).
 *
 * Invariant: a cluster has at most one current key; the key material is
 * never stored in the clear (rows hold what secret.h sealed).
 */
#include "meta/meta.h"
#include "meta/meta_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_COLS "cluster, fingerprint, kind, sealed, current, created_at"

int
meta_key_put(Meta *m, const MetaKey *k)
{
	sqlite3_stmt *st;
	char now[40];
	int rc;

	if ((rc = meta_exec_sql(m, "BEGIN IMMEDIATE")) < 0)
		return rc;
	if (k->current) {
		if ((rc = meta_prepare(m, &st, "UPDATE cluster_key SET current = 0 WHERE cluster = ?")) < 0)
			goto out;
		meta_bind_text(st, 1, k->cluster);
		if ((rc = meta_step_done(m, st, "update of encryption keys")) < 0)
			goto out;
	}
	time_format_utc(now, sizeof(now), time(NULL));
	if ((rc = meta_prepare(m, &st, "INSERT INTO cluster_key (" KEY_COLS ") VALUES (?,?,?,?,?,?)"
	                               " ON CONFLICT (cluster, fingerprint) DO UPDATE SET kind = excluded.kind,"
	                               " sealed = excluded.sealed, current = excluded.current")) < 0)
		goto out;
	meta_bind_text(st, 1, k->cluster);
	meta_bind_text(st, 2, k->fingerprint);
	meta_bind_text(st, 3, k->kind);
	sqlite3_bind_blob(st, 4, k->sealed, (int)k->sealed_len, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, k->current ? 1 : 0);
	meta_bind_text(st, 6, k->created_at ? k->created_at : now);
	rc = meta_step_done(m, st, "write of an encryption key");
out:
	if (rc < 0) {
		meta_exec_sql(m, "ROLLBACK");
		return rc;
	}
	return meta_exec_sql(m, "COMMIT");
}

static void
read_key(sqlite3_stmt *st, MetaKey *k)
{
	const void *blob = sqlite3_column_blob(st, 3);

	k->cluster = meta_col_text(st, 0);
	k->fingerprint = meta_col_text(st, 1);
	k->kind = meta_col_text(st, 2);
	k->sealed_len = (size_t)sqlite3_column_bytes(st, 3);
	k->sealed = xmalloc(k->sealed_len + 1);
	if (k->sealed_len)
		memcpy(k->sealed, blob, k->sealed_len);
	k->current = sqlite3_column_int(st, 4) != 0;
	k->created_at = meta_col_text(st, 5);
}

int
meta_key_list(Meta *m, const char *cluster, MetaKey **out, size_t *out_count)
{
	sqlite3_stmt *st;
	MetaKey *a = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_prepare(m, &st, "SELECT " KEY_COLS " FROM cluster_key WHERE cluster = ?"
	                               " ORDER BY current DESC, created_at DESC, fingerprint")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = xrealloc(a, (n + 1) * sizeof(*a));
		memset(&a[n], 0, sizeof(*a));
		read_key(st, &a[n++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_key_array_free(a, n);
		return meta_db_error(m, "list of encryption keys");
	}
	*out = a;
	*out_count = n;
	return 0;
}

int
meta_key_remove(Meta *m, const char *cluster, const char *fingerprint)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "DELETE FROM cluster_key WHERE cluster = ? AND fingerprint = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	meta_bind_text(st, 2, fingerprint);
	if ((rc = meta_step_done(m, st, "removal of an encryption key")) < 0)
		return rc;
	if (sqlite3_changes(m->db) == 0) {
		rc = err_set(ERR_NOT_FOUND, "cluster \"%s\" has no encryption key \"%s\"", cluster, fingerprint);
		err_hint("List its keys with: tenback cluster keys %s", cluster);
		return rc;
	}
	return 0;
}

int
meta_key_clear_current(Meta *m, const char *cluster)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = meta_prepare(m, &st, "UPDATE cluster_key SET current = 0 WHERE cluster = ?")) < 0)
		return rc;
	meta_bind_text(st, 1, cluster);
	return meta_step_done(m, st, "update of encryption keys");
}

void
meta_key_clear(MetaKey *k)
{
	if (k == NULL)
		return;
	free(k->cluster);
	free(k->fingerprint);
	free(k->kind);
	free(k->sealed);
	free(k->created_at);
	memset(k, 0, sizeof(*k));
}

void
meta_key_array_free(MetaKey *a, size_t n)
{
	for (size_t key_idx = 0; key_idx < n; key_idx++)
		meta_key_clear(&a[key_idx]);
	free(a);
}
