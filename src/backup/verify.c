/*
 * verify.c - re-read every stored object of a backup set and check it
 * against its container trailer and the manifest.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read one object through the container and compare with the manifest. */
static int
verify_object(Storage *s, const char *object, uint64_t want_size, const IoChecksum *want_sum, uint64_t *bytes)
{
	IoContainerInfo info;
	int rc;

	if ((rc = files_read_object(s, object, -1, NULL, &info)) < 0)
		return rc;
	*bytes += info.raw_size;
	if (info.raw_size != want_size || !io_checksum_equal(&info.sum, want_sum))
		return err_set(ERR_CORRUPT, "content does not match the manifest");
	return 0;
}

static int
cmp_bundled(const void *a, const void *b, void *payload)
{
	const Manifest *m = payload;
	const ManifestFile *x = &m->files[*(const size_t *)a], *y = &m->files[*(const size_t *)b];

	if (x->bundle != y->bundle)
		return x->bundle < y->bundle ? -1 : 1;
	if (x->bundle != 0 && x->bundle_offset != y->bundle_offset)
		return x->bundle_offset < y->bundle_offset ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* The files of m in the order their objects are stored: objects of their
 * own first, in manifest order, then each bundle's members in its order
 * (a bundle read through one window serves many of them). */
static size_t *
bundle_order(const Manifest *m)
{
	size_t *order = xcalloc(m->n_files + 1, sizeof(*order));

	for (size_t i = 0; i < m->n_files; i++)
		order[i] = i;
	qsort_r(order, m->n_files, sizeof(*order), cmp_bundled, (void *)m);
	return order;
}

/* Verify every stored object of set cm (at dir), its WAL only if with_wal. */
static int
verify_set(Storage *s, const Manifest *cm, const char *dir, bool with_wal, VerifyReport *out, size_t *n_bad,
           char *first_bad, size_t first_bad_size)
{
	size_t *order = bundle_order(cm);

	for (size_t k = 0; k < cm->n_files + cm->n_wal; k++) {
		size_t i = k < cm->n_files ? order[k] : k;
		bool is_wal = i >= cm->n_files;
		const ManifestFile *f = is_wal ? NULL : &cm->files[i];
		char *object;
		int vrc;

		if (!is_wal && f->kind != MF_FILE && !(f->kind == MF_INCR && f->blocks.n > 0))
			continue;
		if (is_wal && !with_wal)
			continue; /* only the restored set's own WAL is replayed */
		object = is_wal ? xasprintf("%s/wal/%s", dir, cm->wal[i - cm->n_files].name)
		                : xasprintf("%s/data/%s", dir, f->path);
		vrc = is_wal ? verify_object(s, object, cm->wal[i - cm->n_files].size, &cm->wal[i - cm->n_files].sum,
		                             &out->bytes_checked)
		             : verify_object(s, object, f->kind == MF_INCR ? ranges_count(&f->blocks) * 8192 : f->size,
		                             &f->sum, &out->bytes_checked);
		if (vrc < 0 && err_class(vrc) == ERR_CLASS_TRANSIENT) {
			err_prefix("could not read \"%s\"", object);
			free(object);
			free(order);
			return vrc; /* may work next time: not damage */
		}
		if (vrc < 0) {
			log_error("stored file \"%s\" is damaged: %s", object, err_message());
			if ((*n_bad)++ == 0)
				snprintf(first_bad, first_bad_size, "%s: %s", object, err_message());
		}
		if (is_wal)
			out->wal_checked++;
		else
			out->files_checked++;
		free(object);
	}
	free(order);
	return 0;
}

int
backup_verify(Meta *meta, const char *cluster, const char *tenant, const char *set, VerifyReport *out)
{
	MetaCluster c = {0};
	MetaSet row = {0};
	Storage *s = NULL;
	Manifest *cur = NULL;
	char *cur_dir = NULL;
	char first_bad[1024] = "";
	size_t n_bad = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = backup_find_set(meta, cluster, tenant, set, &row)) < 0)
		goto out;
	/* the set's own storage; its chain is in the same one */
	if ((rc = set_storage_open(meta, &c, &row, &s)) < 0)
		goto out;
	if ((rc = manifest_load(&cur, s, row.storage_path)) < 0)
		goto out;
	/*
	 * An incremental set is only as good as its chain: every set of it is
	 * read, one set in memory at a time (with 100,000 files, a manifest is
	 * some 15 MiB); a set that cannot be read fails the verify as it fails
	 * a restore.
	 */
	cur_dir = xstrdup(row.storage_path);
	for (size_t ci = 0;; ci++) {
		Chain one;
		Manifest *next = NULL;
		char *next_dir = NULL;

		rc = chain_load_one(&one, s, cur, cur_dir);
		if (rc == 0)
			rc = verify_set(s, cur, cur_dir, ci == 0, out, &n_bad, first_bad, sizeof(first_bad));
		chain_free(&one);
		if (rc < 0 || cur->parent == NULL)
			break;
		if (ci + 1 > CHAIN_MAX_SETS) {
			rc = err_set(ERR_CORRUPT, "backup set chain of \"%s\" does not end", row.id);
			break;
		}
		if ((rc = chain_parent_load(s, cur, &next, &next_dir)) < 0)
			break;
		manifest_free(cur);
		free(cur_dir);
		cur = next;
		cur_dir = next_dir;
	}
	if (rc == 0 && n_bad > 0) {
		rc = err_set(ERR_CORRUPT, "backup set \"%s\" is damaged: stored file %s", row.id, first_bad);
		err_detail("%zu of %zu stored files failed verification.", n_bad, out->files_checked + out->wal_checked);
		err_hint("Do not restore this set; take a new backup.");
	}
out:
	/* What verify found is kept with the set; a failure to read (transient,
	 * a missing cluster) says nothing about the set. */
	if (row.id && (rc == 0 || rc == ERR_CORRUPT)) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", rc ? err_message() : "");
		if (meta_set_verified(meta, cluster, tenant, row.id, rc ? "damaged" : "ok", rc ? msg : NULL) < 0)
			log_warning("could not record the verification of set %s", row.id);
		if (rc == ERR_CORRUPT)
			err_set(ERR_CORRUPT, "%s", msg);
	}
	manifest_free(cur);
	free(cur_dir);
	storage_free(s);
	meta_set_clear(&row);
	meta_cluster_clear(&c);
	return rc;
}
