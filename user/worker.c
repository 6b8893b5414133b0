// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A background thread that wakes every so often until it is told to stop. */
#include <pthread.h>
#include <time.h>
#include "joule/util.h"
#include "joule/worker.h"

int worker_start(struct worker *w, pthread_mutex_t *lock, void *(*fn)(void *), void *arg)
{
	pthread_condattr_t ca;
	int err;

	w->lock = lock;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = -pthread_create(&w->thread, NULL, fn, arg);
	if (!err)
		w->running = true;
	return err;
}

bool worker_sleep(struct worker *w, uint64_t ns)
{
	struct timespec ts;

	if (w->stopping)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / NSEC_PER_SEC);
	ts.tv_nsec = (long)(ns % NSEC_PER_SEC);
	pthread_cond_timedwait(&w->cond, w->lock, &ts);
	return !w->stopping;
}

void worker_stop(struct worker *w)
{
	if (!w->lock)
		return; /* worker_start never ran: no thread, nothing to wake */
	pthread_mutex_lock(w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(w->lock);
	if (w->running)
		pthread_join(w->thread, NULL);
	w->running = false;
}

void worker_destroy(struct worker *w)
{
	pthread_cond_destroy(&w->cond);
}
