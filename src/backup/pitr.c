/*
 * pitr.c - point-in-time restore: which set to start from, whether the
 * archived WAL reaches the target, and the restorable window.
 *
 * Invariant: a restore to a time, LSN, transaction or restore point starts
 * only when the WAL reader has found, in continuous archived WAL after the
 * chosen set's consistency point, the record at which PostgreSQL will stop;
 * otherwise the target is refused before anything is written.
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "pg/wal.h"
#include "pg/walread.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- timestamps ---- */

static int
days_in_month(int y, int mo)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return mo == 2 && leap ? 29 : days[mo - 1];
}

/* "2026-11-26 14:03:07[.123456][Z|UTC|+HH[:MM]|-HH[:MM]]" (or with 'T') -> Unix us. */
static int
parse_timestamp(const char *s, int64_t *out_us, bool require_zone)
{
	struct tm tm = {0};
	int n = 0, y, mo, d, h, mi, sec;
	int64_t frac_us = 0, offset_s = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
		goto bad;
	p = s + n;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 6)
				frac_us = frac_us * 10 + (*p - '0');
		if (digits == 0)
			goto bad;
		for (; digits < 6; digits++)
			frac_us *= 10;
	}
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0) {
		p += 3;
	} else if (*p == '+' || *p == '-') {
		int oh = 0, om = 0, k = 0;
		int sign = *p == '-' ? -1 : 1;
		if (p[1] < '0' || p[1] > '9' || sscanf(p + 1, "%2d%n", &oh, &k) != 1 || oh > 15)
			goto bad;
		p += 1 + k;
		if (*p == ':')
			p++;
		if (*p >= '0' && *p <= '9') {
			if (sscanf(p, "%2d%n", &om, &k) != 1 || om > 59)
				goto bad;
			p += k;
		}
		offset_s = sign * (oh * 3600 + om * 60);
	} else if (require_zone) {
		int rc = err_set(ERR_INVALID, "recovery target time \"%s\" has no time zone", s);
		err_hint("Write the zone, e.g. '2026-11-26 14:03:07+00'.");
		return rc;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 ||
	    y < 1 || d > days_in_month(y, mo))
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out_us = ((int64_t)timegm(&tm) - offset_s) * 1000000 + frac_us;
	return 0;
bad:
	return err_set(ERR_INVALID, "invalid time \"%s\"", s);
}

static void
format_us(char *out, size_t cap, int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char base[40];

	if (us < 0 && us % 1000000)
		t--;
	gmtime_r(&t, &tm);
	/* "YYYY-MM-DD HH:MM:SS" fits 20 bytes for years up to 9999 (strftime stops short otherwise) */
	if (strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm) == 0 || strlen(base) > 19)
		base[0] = '\0';
	snprintf(out, cap, "%.19s.%06lld+00", base, (long long)(((us % 1000000) + 1000000) % 1000000));
}

int
recovery_target_parse(RecoveryTarget *out, const RestoreOpts *o)
{
	int given = (o->target != NULL) + (o->target_time != NULL) + (o->target_lsn != NULL) +
	            (o->target_xid != NULL) + (o->target_name != NULL);
	int rc;

	memset(out, 0, sizeof(*out));
	if (given > 1) {
		rc = err_set(ERR_INVALID, "give one recovery target at most");
		err_hint("Use one of --target, --target-time, --target-lsn, --target-xid, --target-name.");
		return rc;
	}
	if (o->target_time) {
		out->kind = TARGET_TIME;
		if ((rc = parse_timestamp(o->target_time, &out->time_us, true)) < 0)
			return rc;
		format_us(out->text, sizeof(out->text), out->time_us);
	} else if (o->target_lsn) {
		out->kind = TARGET_LSN;
		if ((rc = pg_lsn_parse(&out->lsn, o->target_lsn)) < 0) {
			err_prefix("invalid --target-lsn");
			return rc;
		}
		pg_lsn_format(out->text, out->lsn);
	} else if (o->target_xid) {
		uint64_t v;
		out->kind = TARGET_XID;
		if (str_to_u64(&v, o->target_xid, "--target-xid") < 0 || v < 3 || v > UINT32_MAX)
			return err_set(ERR_INVALID, "invalid transaction id \"%s\"", o->target_xid);
		out->xid = (uint32_t)v;
		snprintf(out->text, sizeof(out->text), "%u", out->xid);
	} else if (o->target_name) {
		out->kind = TARGET_NAME;
		if (strlen(o->target_name) == 0 || strlen(o->target_name) >= sizeof(out->name))
			return err_set(ERR_INVALID, "invalid restore point name \"%s\"", o->target_name);
		snprintf(out->name, sizeof(out->name), "%s", o->target_name);
		snprintf(out->text, sizeof(out->text), "%s", o->target_name);
	} else if (o->target == NULL || strcmp(o->target, "latest") == 0) {
		out->kind = TARGET_LATEST;
	} else if (strcmp(o->target, "immediate") == 0) {
		out->kind = TARGET_IMMEDIATE;
	} else {
		rc = err_set(ERR_INVALID, "invalid recovery target \"%s\"", o->target);
		err_hint("Use --target latest (all archived WAL) or --target immediate (the end of the set), or "
		         "--target-time, --target-lsn, --target-xid, --target-name.");
		return rc;
	}
	return 0;
}

/* ---- reading the archive ---- */

typedef struct Archive {
	Storage *storage;
	const char *system_id;
	uint32_t seg_size;
} Archive;

static int
read_segment(uint8_t *buf, uint32_t timeline, uint64_t segno, void *payload)
{
	Archive *a = payload;

	return archive_read_segment(a->storage, a->system_id, a->seg_size, timeline, segno, buf);
}

typedef struct LaterSegs {
	uint32_t timeline;
	uint64_t after;
	uint32_t seg_size;
	bool later;
	bool next_timeline;
} LaterSegs;

static int
later_cb(const char *name, const StorageInfo *info, void *payload)
{
	LaterSegs *l = payload;
	uint32_t tl;
	uint64_t segno;

	(void)info;
	if (pg_wal_file_kind(name, NULL) == PG_WAL_FILE_SEGMENT &&
	    pg_wal_name_parse(&tl, &segno, name, l->seg_size) == 0 && tl == l->timeline && segno > l->after)
		l->later = true;
	return 0;
}

/* Say whether valid WAL ended at a gap, a timeline switch or the archive's end. */
static void
explain_end(Archive *a, uint32_t timeline, uint64_t end_lsn, char *reason, size_t cap)
{
	char *dir = xasprintf("tenback/%s/archive/%08X", a->system_id, timeline);
	char hist[64];
	char *next_hist;
	LaterSegs l = {timeline, pg_wal_segno(end_lsn, a->seg_size), a->seg_size, false, false};
	StorageInfo info = {0};
	char missing[32];

	snprintf(hist, sizeof(hist), "%08X.history", timeline + 1);
	next_hist = manifest_archive_path(a->system_id, hist);
	storage_info(a->storage, next_hist, &info);
	storage_list(a->storage, dir, later_cb, &l);
	pg_wal_name(missing, timeline, pg_wal_segno(end_lsn, a->seg_size), a->seg_size);
	if (strstr(reason, "is not in the archive") == NULL)
		; /* an invalid record: keep the reader's words */
	else if (l.later)
		snprintf(reason, cap, "gap: segment %s is missing from the archive", missing);
	else if (info.exists)
		snprintf(reason, cap, "timeline switch: timeline %u begins", timeline + 1);
	else
		snprintf(reason, cap, "end of the archive (segment %s not archived yet)", missing);
	free(dir);
	free(next_hist);
}

typedef struct Scan {
	bool found;
	uint64_t found_lsn;
	uint64_t end_lsn;
	char end_reason[256];
	bool have_time;
	int64_t last_time_us;
} Scan;

/* Read WAL from `from` until the target's stopping record, `until` (0: none)
 * or the end of continuous archived WAL. */
static int
scan_wal(Archive *a, uint32_t timeline, uint64_t from, uint64_t until, const RecoveryTarget *t, Scan *out)
{
	PgWalReader *rd = NULL;
	PgWalRecord rec;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pg_walreader_new(&rd, a->seg_size, timeline, from, read_segment, a)) < 0)
		return rc;
	while ((rc = pg_walreader_next(rd, &rec)) == 1) {
		int64_t when;
		bool commit;
		uint32_t xid;
		char name[64];

		if (until && rec.lsn >= until)
			break;
		if (pg_wal_record_xact(&rec, &when, &commit, &xid)) {
			out->have_time = true;
			out->last_time_us = when;
			/* PostgreSQL (recovery_target_inclusive on) stops at the first
			 * transaction ending strictly after the target time. */
			if ((t->kind == TARGET_TIME && when > t->time_us) || (t->kind == TARGET_XID && xid == t->xid)) {
				out->found = true;
				out->found_lsn = rec.lsn;
				break;
			}
		}
		if (t->kind == TARGET_LSN && rec.lsn >= t->lsn) {
			out->found = true;
			out->found_lsn = rec.lsn;
			break;
		}
		if (t->kind == TARGET_NAME && pg_wal_record_restore_point(&rec, name, &when) && strcmp(name, t->name) == 0) {
			out->found = true;
			out->found_lsn = rec.lsn;
			break;
		}
	}
	if (rc >= 0) {
		out->end_lsn = pg_walreader_end_lsn(rd);
		snprintf(out->end_reason, sizeof(out->end_reason), "%s",
		         pg_walreader_end_reason(rd) ? pg_walreader_end_reason(rd) : "end of the archive");
		if (!out->found && !(until && out->end_lsn >= until))
			explain_end(a, timeline, out->end_lsn, out->end_reason, sizeof(out->end_reason));
		rc = 0;
	}
	pg_walreader_free(rd);
	return rc;
}

/* ---- choosing the set ---- */

/*
 * The archive of the cluster (its own storage) and the WAL segment size,
 * read from the manifest of the newest set in the storage that set lives in.
 */
static int
archive_open(Meta *meta, const MetaCluster *c, const MetaSet *newest_row, Storage **out_archive, Archive *a)
{
	Storage *set_storage = NULL;
	Manifest *newest = NULL;
	int rc;

	*out_archive = NULL;
	if ((rc = set_storage_open(meta, c, newest_row, &set_storage)) < 0)
		goto out;
	if ((rc = manifest_load(&newest, set_storage, newest_row->storage_path)) < 0)
		goto out;
	if ((rc = cluster_storage_open(meta, c, NULL, out_archive)) < 0)
		goto out;
	a->storage = *out_archive;
	a->system_id = c->system_id;
	a->seg_size = newest->wal_seg_size;
out:
	manifest_free(newest);
	storage_free(set_storage);
	return rc;
}

typedef struct Candidate {
	MetaSet *row;
	uint64_t stop_lsn;
	int64_t stop_us;
} Candidate;

static int
load_candidates(Meta *meta, const char *cluster, const char *tenant, MetaSet **rows, size_t *n_rows,
                Candidate **out)
{
	int rc = meta_set_list(meta, cluster, tenant, "completed", rows, n_rows);
	size_t kept = 0, n_logical = 0;

	*out = NULL;
	if (rc < 0)
		return rc;
	/* Logical sets have no WAL position: they are restored with --as, never
	 * replayed to a point in time.  Only physical sets are candidates. */
	for (size_t i = 0; i < *n_rows; i++) {
		if ((*rows)[i].method && strcmp((*rows)[i].method, "logical") == 0) {
			meta_set_clear(&(*rows)[i]);
			n_logical++;
			continue;
		}
		if (kept != i) {
			(*rows)[kept] = (*rows)[i];
			memset(&(*rows)[i], 0, sizeof((*rows)[i]));
		}
		kept++;
	}
	*n_rows = kept;
	if (*n_rows == 0 && n_logical > 0) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" of cluster \"%s\" has no physical backup set", tenant, cluster);
		err_detail("Its %zu backup set(s) are logical: they restore into a database, not a data directory.", n_logical);
		err_hint("Restore a logical set with \"tenback restore --cluster %s --tenant %s --set latest --as NEWDB\".",
		         cluster, tenant);
		return rc;
	}
	if (*n_rows == 0) {
		rc = err_set(ERR_NOT_FOUND, "tenant \"%s\" of cluster \"%s\" has no backup set", tenant, cluster);
		err_hint("Take one with \"tenback backup --cluster %s --tenant %s\".", cluster, tenant);
		return rc;
	}
	*out = xcalloc(*n_rows, sizeof(**out));
	for (size_t i = 0; i < *n_rows; i++) {
		(*out)[i].row = &(*rows)[i];
		if ((*rows)[i].stop_lsn == NULL || pg_lsn_parse(&(*out)[i].stop_lsn, (*rows)[i].stop_lsn) < 0 ||
		    (*rows)[i].stop_time == NULL || parse_timestamp((*rows)[i].stop_time, &(*out)[i].stop_us, false) < 0)
			return err_set(ERR_CORRUPT, "backup set \"%s\" has no valid stop point in the metadata", (*rows)[i].id);
	}
	return 0;
}

static void
describe_target(const RecoveryTarget *t, char *out, size_t cap)
{
	switch (t->kind) {
	case TARGET_TIME: snprintf(out, cap, "time %s", t->text); break;
	case TARGET_LSN: snprintf(out, cap, "LSN %s", t->text); break;
	case TARGET_XID: snprintf(out, cap, "transaction %s", t->text); break;
	case TARGET_NAME: snprintf(out, cap, "restore point \"%s\"", t->text); break;
	default: snprintf(out, cap, "the target"); break;
	}
}

static int
refuse(const RecoveryTarget *t, const Candidate *c, const Scan *sc, const char *why)
{
	char what[128], end[32], last[48] = "";
	int rc;

	describe_target(t, what, sizeof(what));
	pg_lsn_format(end, sc->end_lsn);
	if (sc->have_time)
		format_us(last, sizeof(last), sc->last_time_us);
	rc = err_set(ERR_INVALID, "recovery target %s is not in a restorable range", what);
	err_detail("%s The nearest range starts at backup set %s (%s, %s) and ends at %s%s%s: %s.", why, c->row->id,
	           c->row->stop_lsn, c->row->stop_time, end, last[0] ? ", last transaction at " : "", last, sc->end_reason);
	err_hint("\"tenback window --cluster %s --tenant %s\" shows the restorable ranges.", c->row->cluster,
	         c->row->tenant);
	return rc;
}

int
pitr_choose_set(Meta *meta, const char *cluster, const char *tenant, const char *set_opt, const RecoveryTarget *t,
                char **out_set_id)
{
	MetaCluster c = {0};
	MetaSet *rows = NULL;
	size_t n = 0;
	Candidate *cand = NULL;
	Storage *s = NULL;
	Archive a;
	Scan sc;
	ssize_t pick = -1;
	int rc;

	*out_set_id = NULL;
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = load_candidates(meta, cluster, tenant, &rows, &n, &cand)) < 0)
		goto out;
	if (set_opt && strcmp(set_opt, "latest") != 0) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].id, set_opt) == 0)
				pick = (ssize_t)i;
		if (pick < 0) {
			rc = err_set(ERR_NOT_FOUND, "backup set \"%s\" of tenant \"%s\" does not exist", set_opt, tenant);
			err_hint("\"tenback set list --cluster %s --tenant %s\" shows the sets.", cluster, tenant);
			goto out;
		}
	}
	if (t->kind == TARGET_LATEST || t->kind == TARGET_IMMEDIATE) {
		*out_set_id = xstrdup(rows[pick >= 0 ? pick : (ssize_t)n - 1].id);
		goto out;
	}
	if ((rc = archive_open(meta, &c, &rows[n - 1], &s, &a)) < 0)
		goto out;

	if (t->kind == TARGET_TIME || t->kind == TARGET_LSN) {
		if (pick < 0)
			for (size_t i = 0; i < n; i++)
				if (t->kind == TARGET_TIME ? cand[i].stop_us <= t->time_us : cand[i].stop_lsn <= t->lsn)
					pick = (ssize_t)i;
		if (pick < 0 || (t->kind == TARGET_TIME ? cand[pick].stop_us > t->time_us : cand[pick].stop_lsn > t->lsn)) {
			char what[128];
			describe_target(t, what, sizeof(what));
			rc = err_set(ERR_INVALID, "recovery target %s is before the consistency point of %s", what,
			             pick < 0 ? "every backup set" : "the chosen set");
			err_detail("The earliest restorable point is backup set %s: %s, %s.", rows[pick < 0 ? 0 : pick].id,
			           rows[pick < 0 ? 0 : pick].stop_lsn, rows[pick < 0 ? 0 : pick].stop_time);
			err_hint("\"tenback window --cluster %s --tenant %s\" shows the restorable ranges.", cluster, tenant);
			goto out;
		}
		if ((rc = scan_wal(&a, (uint32_t)rows[pick].timeline, cand[pick].stop_lsn, 0, t, &sc)) < 0)
			goto out;
		if (!sc.found) {
			rc = refuse(t, &cand[pick], &sc,
			            t->kind == TARGET_TIME ? "No transaction ends at or after it in the archived WAL."
			                                   : "The archived WAL does not reach it.");
			goto out;
		}
	} else {
		/* xid or restore point: where is it?  Each stretch of WAL is read once,
		 * newest set first, up to the next set's consistency point. */
		ssize_t first = pick >= 0 ? pick : (ssize_t)n - 1;
		ssize_t last = pick >= 0 ? pick : 0;
		bool found = false;
		Scan newest_scan = {0};

		for (ssize_t i = first; i >= last && !found; i--) {
			uint64_t until = (pick < 0 && (size_t)i + 1 < n) ? cand[i + 1].stop_lsn : 0;
			if ((rc = scan_wal(&a, (uint32_t)rows[i].timeline, cand[i].stop_lsn, until, t, &sc)) < 0)
				goto out;
			if (i == first)
				newest_scan = sc;
			if (sc.found) {
				found = true;
				pick = i;
			}
		}
		if (!found) {
			rc = refuse(t, &cand[first], &newest_scan,
			            t->kind == TARGET_XID ? "No commit or abort of it follows a backup set in the archived WAL."
			                                  : "No restore point of that name follows a backup set in the archived WAL.");
			goto out;
		}
	}
	log_info("recovery target %s: starting from backup set %s", t->text, rows[pick].id);
	*out_set_id = xstrdup(rows[pick].id);
out:
	storage_free(s);
	free(cand);
	meta_set_array_free(rows, n);
	meta_cluster_clear(&c);
	return rc;
}

/* ---- the window ---- */

void
window_array_free(WindowRange *a, size_t n)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(a[i].set_id);
		free(a[i].start_time);
		free(a[i].end_time);
		free(a[i].end_reason);
	}
	free(a);
}

int
backup_window(Meta *meta, const char *cluster, const char *tenant, WindowRange **out, size_t *out_count)
{
	MetaCluster c = {0};
	MetaSet *rows = NULL;
	size_t n = 0;
	Candidate *cand = NULL;
	Storage *s = NULL;
	WindowRange *w = NULL;
	RecoveryTarget none = {.kind = TARGET_LATEST};
	Archive a;
	Scan sc = {0};
	bool have_scan = false;
	int rc;

	*out = NULL;
	*out_count = 0;
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = load_candidates(meta, cluster, tenant, &rows, &n, &cand)) < 0) {
		if (n == 0 && rc == ERR_NOT_FOUND) {
			rc = 0; /* no set: nothing is restorable, an empty window */
			err_clear();
		}
		goto out;
	}
	if ((rc = archive_open(meta, &c, &rows[n - 1], &s, &a)) < 0)
		goto out;
	w = xcalloc(n, sizeof(*w));
	for (size_t i = 0; i < n; i++) {
		char t[48];

		/* A set inside the previous range shares its end; one past it starts a new scan. */
		if (!have_scan || cand[i].stop_lsn >= sc.end_lsn || rows[i].timeline != rows[i - 1].timeline) {
			if ((rc = scan_wal(&a, (uint32_t)rows[i].timeline, cand[i].stop_lsn, 0, &none, &sc)) < 0)
				goto out;
			have_scan = true;
		}
		w[i].set_id = xstrdup(rows[i].id);
		w[i].start_lsn = cand[i].stop_lsn;
		w[i].start_time = xstrdup(rows[i].stop_time);
		w[i].end_lsn = sc.end_lsn > cand[i].stop_lsn ? sc.end_lsn : cand[i].stop_lsn;
		if (sc.have_time && sc.last_time_us >= cand[i].stop_us) {
			format_us(t, sizeof(t), sc.last_time_us);
			w[i].end_time = xstrdup(t);
		}
		w[i].end_reason = xstrdup(sc.end_reason);
	}
	*out = w;
	*out_count = n;
	w = NULL;
out:
	window_array_free(w, n);
	storage_free(s);
	free(cand);
	meta_set_array_free(rows, n);
	meta_cluster_clear(&c);
	return rc;
}
