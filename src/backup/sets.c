/*
 * sets.c - deleting backup sets without breaking the chains that remain.
 *
 * Invariant: a completed set some kept incremental builds on is never
 * deleted alone; the storage directory goes first, then the metadata row,
 * so an interruption leaves a row whose set is gone (found by verify), never
 * a listed set without data.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <stdlib.h>
#include <string.h>

/* Add id and every set that builds on it, transitively, children first. */
static void
collect_dependents(const MetaSet *sets, size_t n, const char *id, StrList *out)
{
	for (size_t i = 0; i < n; i++)
		if (sets[i].parent && strcmp(sets[i].parent, id) == 0 && strcmp(sets[i].status, "failed") != 0)
			collect_dependents(sets, n, sets[i].id, out);
	if (!strlist_contains(out, id))
		strlist_add(out, id);
}

static const MetaSet *
find_row(const MetaSet *sets, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(sets[i].id, id) == 0)
			return &sets[i];
	return NULL;
}

int
backup_set_delete(Meta *meta, const char *cluster, const char *tenant, const char *set, bool with_dependents,
                  StrList *out_deleted)
{
	MetaCluster c = {0};
	MetaSet target = {0};
	MetaSet *sets = NULL;
	size_t n = 0;
	Storage *s = NULL;
	StrList doomed = {0};
	char *lock_name = xasprintf("backup-%s-%s", cluster, tenant);
	char *what = xasprintf("a backup of tenant \"%s\" of cluster \"%s\"", tenant, cluster);
	int lock_fd = -1;
	int rc;

	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	/* No backup of the tenant may run meanwhile: it could be building on the set. */
	if ((rc = lock_acquire(&lock_fd, meta_home(meta), lock_name, what)) < 0)
		goto out;
	if ((rc = backup_find_set(meta, cluster, tenant, set, &target)) < 0)
		goto out;
	if ((rc = meta_set_list(meta, cluster, tenant, NULL, &sets, &n)) < 0)
		goto out;
	collect_dependents(sets, n, target.id, &doomed);
	if (doomed.count > 1 && !with_dependents) {
		Buf list = BUF_INIT;
		for (size_t i = 0; i + 1 < doomed.count; i++)
			buf_printf(&list, "%s%s", i ? ", " : "", doomed.items[i]);
		rc = err_set(ERR_INVALID, "backup set \"%s\" is needed by incremental sets", target.id);
		err_detail("Built on it: %s.", list.data);
		err_hint("Delete them too with --with-dependents, or keep the set.");
		buf_free(&list);
		goto out;
	}
	for (size_t i = 0; i < doomed.count; i++) {
		const MetaSet *row = find_row(sets, n, doomed.items[i]);
		char *dir = row && row->storage_path ? xstrdup(row->storage_path)
		                                     : manifest_set_dir(c.system_id, tenant, doomed.items[i]);
		char *man = path_join(dir, "manifest");

		/* each set in the storage it was written to (a chain shares one) */
		storage_free(s);
		s = NULL;
		rc = row ? set_storage_open(meta, &c, row, &s) : cluster_storage_open(meta, &c, NULL, &s);
		/* the manifest first: from then on the set is not a backup */
		if (rc == 0)
			rc = storage_remove(s, man);
		if (rc == 0)
			rc = storage_remove_tree(s, dir);
		if (rc == 0)
			rc = meta_set_delete(meta, cluster, tenant, doomed.items[i]);
		free(dir);
		free(man);
		if (rc < 0) {
			err_prefix("could not delete backup set \"%s\"", doomed.items[i]);
			goto out;
		}
		log_info("deleted backup set %s of tenant \"%s\"", doomed.items[i], tenant);
		if (out_deleted)
			strlist_add(out_deleted, doomed.items[i]);
	}
out:
	lock_release(lock_fd);
	free(lock_name);
	free(what);
	strlist_free(&doomed);
	storage_free(s);
	meta_set_array_free(sets, n);
	meta_set_clear(&target);
	meta_cluster_clear(&c);
	return rc;
}
