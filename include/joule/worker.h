/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A background thread that wakes every so often until it is told to stop. */
#ifndef JOULE_WORKER_H
#define JOULE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The owner's lock guards stopping and whatever the owner shares with the
 * thread; the thread holds it except while it sleeps. The condition variable
 * runs on CLOCK_MONOTONIC, so a wall-clock step neither stalls nor hurries a
 * sleep.
 */
struct worker {
	pthread_mutex_t *lock;
	pthread_cond_t cond;		/* signalled at stop */
	pthread_t thread;
	bool running;
	bool stopping;			/* read under *lock */
};

/* Run fn(arg) on a thread of its own that sleeps under lock: 0 or -errno (worker_destroy still due). */
int worker_start(struct worker *w, pthread_mutex_t *lock, void *(*fn)(void *), void *arg);
/* With *w->lock held: sleep up to ns or until stopped; false once stopping. */
bool worker_sleep(struct worker *w, uint64_t ns);
/* Tell the thread to stop and wait for it; again, or when it never started, a no-op. */
void worker_stop(struct worker *w);
/* Release the condition variable (the owner releases its lock). */
void worker_destroy(struct worker *w);

#endif /* JOULE_WORKER_H */
