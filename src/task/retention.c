/*
 * retention.c - delete a tenant's expired backup sets (retention.h).
 *
 * Invariant: a set is deleted only when it is completed, expired, outside
 * the newest restorable chain, and no set that stays (in any status but
 * failed) builds on it; deletion runs leaves first, so at every moment
 * each remaining incremental still has its parent.
 *
 * Why failed sets do not hold their parent: a failed incremental is not a
 * backup (backup_set_delete ignores it the same way), and keeping a full
 * forever for a failed attempt would defeat retention.
 */
#include "task/retention.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECONDS_PER_DAY 86400

/* "YYYY-MM-DD HH:MM:SS+00" (meta's format, UTC) -> time; false when unreadable. */
static bool
parse_stop_time(const char *s, time_t *out)
{
	struct tm tm = {0};
	int n = 0;

	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &n) != 6 ||
	    (strcmp(s + n, "+00") != 0 && s[n] != '\0'))
		return false;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return true;
}

static bool
is_completed(const MetaSet *s)
{
	return s->status && strcmp(s->status, "completed") == 0;
}

static bool
is_failed(const MetaSet *s)
{
	return s->status && strcmp(s->status, "failed") == 0;
}

/* Index of the set named id, or -1. */
static long
find_set(const MetaSet *sets, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (id && strcmp(sets[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* The newest completed full set (latest stop time, then greatest id), or -1. */
static long
newest_full(const MetaSet *sets, size_t n, const time_t *stop, const bool *have_stop)
{
	long best = -1;

	for (size_t i = 0; i < n; i++) {
		if (!is_completed(&sets[i]) || !sets[i].type || strcmp(sets[i].type, "full") != 0)
			continue;
		if (best < 0) {
			best = (long)i;
			continue;
		}
		/* a set with a readable stop time beats one without */
		if (have_stop[i] != have_stop[best]) {
			if (have_stop[i])
				best = (long)i;
			continue;
		}
		if ((have_stop[i] && stop[i] > stop[best]) ||
		    ((!have_stop[i] || stop[i] == stop[best]) && strcmp(sets[i].id, sets[best].id) > 0))
			best = (long)i;
	}
	return best;
}

int
retention_run(Meta *meta, const char *cluster, const char *tenant, int64_t days, time_t now, StrList *out_deleted)
{
	MetaCluster c = {0};
	MetaSet *sets = NULL;
	size_t n = 0;
	time_t *stop = NULL;
	bool *have_stop = NULL, *chain = NULL, *doomed = NULL, *gone = NULL;
	int64_t cutoff;
	bool changed;
	long newest;
	int rc;

	if (days < 1) {
		rc = err_set(ERR_INVALID, "invalid retention period: %lld days", (long long)days);
		err_hint("Keep backup sets at least 1 day.");
		return rc;
	}
	/* an unknown cluster is an error, not a tenant without sets */
	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		goto out;
	if ((rc = meta_set_list(meta, cluster, tenant, NULL, &sets, &n)) < 0)
		goto out;
	/* days is the user's number: keep now - days * 86400 from overflowing */
	cutoff = days > INT64_MAX / SECONDS_PER_DAY / 2 ? INT64_MIN : (int64_t)now - days * SECONDS_PER_DAY;
	stop = xcalloc(n + 1, sizeof(*stop));
	have_stop = xcalloc(n + 1, sizeof(*have_stop));
	chain = xcalloc(n + 1, sizeof(*chain));
	doomed = xcalloc(n + 1, sizeof(*doomed));
	gone = xcalloc(n + 1, sizeof(*gone));
	for (size_t i = 0; i < n; i++) {
		have_stop[i] = parse_stop_time(sets[i].stop_time, &stop[i]);
		if (is_completed(&sets[i]) && !have_stop[i])
			log_warning("backup set %s of tenant \"%s\" has no readable stop time (\"%s\"): retention keeps it",
			            sets[i].id, tenant, sets[i].stop_time ? sets[i].stop_time : "");
	}

	/* the newest restorable chain: the newest full and what is built on it */
	newest = newest_full(sets, n, stop, have_stop);
	if (newest >= 0)
		chain[newest] = true;
	do {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			long p = find_set(sets, n, sets[i].parent);
			if (!chain[i] && p >= 0 && chain[p] && !is_failed(&sets[i])) {
				chain[i] = true;
				changed = true;
			}
		}
	} while (changed);

	for (size_t i = 0; i < n; i++)
		doomed[i] = is_completed(&sets[i]) && have_stop[i] && (int64_t)stop[i] < cutoff && !chain[i];

	/* a set that stays keeps its parent, and so up the chain */
	do {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			long p = find_set(sets, n, sets[i].parent);
			if (!doomed[i] && !is_failed(&sets[i]) && p >= 0 && doomed[p]) {
				doomed[p] = false;
				changed = true;
			}
		}
	} while (changed);

	/* leaves first: a set goes once nothing doomed builds on it any more */
	do {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			bool has_child = false;

			if (!doomed[i] || gone[i])
				continue;
			for (size_t j = 0; j < n && !has_child; j++)
				has_child = doomed[j] && !gone[j] && !is_failed(&sets[j]) && sets[j].parent &&
				            strcmp(sets[j].parent, sets[i].id) == 0;
			if (has_child)
				continue;
			if ((rc = backup_set_delete(meta, cluster, tenant, sets[i].id, false, out_deleted)) < 0) {
				err_prefix("retention of tenant \"%s\" stopped", tenant);
				goto out;
			}
			gone[i] = true;
			changed = true;
		}
	} while (changed);
	rc = 0;
out:
	free(stop);
	free(have_stop);
	free(chain);
	free(doomed);
	free(gone);
	meta_set_array_free(sets, n);
	meta_cluster_clear(&c);
	return rc;
}
