/*
 * service.c - the daemon's alert thread: every interval, one evaluation
 * pass (alert_evaluate) and the deliveries due (notify_deliver_due).
 *
 * Invariant: the thread has its own Meta; stopping wakes it at once and
 * joins it (a delivery in flight finishes first, at most its timeout).
 */
#include "alert/alert.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct AlertService {
	char *home;
	int interval_s;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
};

static void *
service_main(void *arg)
{
	AlertService *s = arg;
	Meta *meta = NULL;

	if (meta_open(&meta, s->home) < 0) {
		log_error("alerts: %s", err_message());
		return NULL;
	}
	for (;;) {
		struct timespec until;
		bool stop;

		if (alert_evaluate(meta, time(NULL), NULL, NULL) < 0)
			log_warning("alerts: %s", err_message());
		err_clear();
		if (notify_deliver_due(meta, time(NULL), s->interval_s, NULL) < 0)
			log_warning("notifications: %s", err_message());
		err_clear();
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += s->interval_s;
		while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
			;
		stop = s->stopping;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
	}
	meta_free(meta);
	return NULL;
}

int
alert_service_start(AlertService **out, const char *home, int interval_s)
{
	AlertService *s = xcalloc(1, sizeof(*s));

	*out = NULL;
	s->home = xstrdup(home);
	s->interval_s = interval_s > 0 ? interval_s : 30;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s->home);
		free(s);
		return err_set(ERR_INTERNAL, "could not start the alert thread");
	}
	*out = s;
	return 0;
}

void
alert_service_stop(AlertService *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->home);
	free(s);
}
