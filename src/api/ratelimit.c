/*
 * ratelimit.c - failed log-ons per user and address: after
 * API_LOGON_MAX_FAILURES failures within API_LOGON_WINDOW_S, further
 * attempts are refused (429) until the oldest failure leaves the window.
 *
 * Invariant: bounded memory (API_RATE_ENTRIES); when full, the entry used
 * least recently is reused.  Thread-safe (one mutex).
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>

void
api_rate_init(ApiRateLimit *r)
{
	memset(r->entries, 0, sizeof(r->entries));
	pthread_mutex_init(&r->lock, NULL);
}

void
api_rate_destroy(ApiRateLimit *r)
{
	pthread_mutex_destroy(&r->lock);
}

static void
make_key(char *key, size_t cap, const char *user, const char *addr)
{
	snprintf(key, cap, "%.120s\n%.64s", user ? user : "", addr ? addr : "");
}

/* The entry of key, or NULL (create: a fresh or least recently used one). */
static ApiRateEntry *
find(ApiRateLimit *r, const char *key, bool create)
{
	ApiRateEntry *victim = &r->entries[0];

	for (size_t i = 0; i < API_RATE_ENTRIES; i++) {
		ApiRateEntry *e = &r->entries[i];
		if (e->key[0] && strcmp(e->key, key) == 0)
			return e;
		if (e->last < victim->last || (victim->key[0] && !e->key[0]))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

bool
api_rate_blocked(ApiRateLimit *r, const char *user, const char *addr, int64_t now)
{
	char key[sizeof(((ApiRateEntry *)0)->key)];
	ApiRateEntry *e;
	int recent = 0;

	make_key(key, sizeof(key), user, addr);
	pthread_mutex_lock(&r->lock);
	if ((e = find(r, key, false)) != NULL)
		for (int i = 0; i < e->n; i++)
			if (now - e->failures[i] < API_LOGON_WINDOW_S)
				recent++;
	pthread_mutex_unlock(&r->lock);
	return recent >= API_LOGON_MAX_FAILURES;
}

void
api_rate_fail(ApiRateLimit *r, const char *user, const char *addr, int64_t now)
{
	char key[sizeof(((ApiRateEntry *)0)->key)];
	ApiRateEntry *e;

	make_key(key, sizeof(key), user, addr);
	pthread_mutex_lock(&r->lock);
	e = find(r, key, true);
	e->failures[e->next] = now;
	e->next = (e->next + 1) % API_LOGON_MAX_FAILURES;
	if (e->n < API_LOGON_MAX_FAILURES)
		e->n++;
	e->last = now;
	pthread_mutex_unlock(&r->lock);
}

void
api_rate_reset(ApiRateLimit *r, const char *user, const char *addr)
{
	char key[sizeof(((ApiRateEntry *)0)->key)];
	ApiRateEntry *e;

	make_key(key, sizeof(key), user, addr);
	pthread_mutex_lock(&r->lock);
	if ((e = find(r, key, false)) != NULL)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&r->lock);
}
