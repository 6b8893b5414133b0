// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the background worker: it wakes on its period, and a stop ends even a long sleep at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/util.h"
#include "joule/worker.h"
#include "unit/testlib.h"

struct ticker {
	pthread_mutex_t lock;
	struct worker w;
	uint64_t period_ns;
	unsigned rounds;	/* wake-ups that were not the stop */
};

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;

	pthread_mutex_lock(&t->lock);
	while (worker_sleep(&t->w, t->period_ns))
		t->rounds++;
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void ticker_start(struct ticker *t, uint64_t period_ns)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->period_ns = period_ns;
	assert_int_equal(worker_start(&t->w, &t->lock, ticker_main, t), 0); /* the thread starts */
}

static void ticker_free(struct ticker *t)
{
	worker_destroy(&t->w);
	pthread_mutex_destroy(&t->lock);
}

static void test_worker_when_running_wakes_every_period(void **state)
{
	struct ticker t;
	unsigned rounds;

	ticker_start(&t, 10 * NSEC_PER_MSEC);
	usleep(200000);
	worker_stop(&t.w);
	rounds = t.rounds;
	ticker_free(&t);
	assert_true(rounds >= 2); /* about 20 periods went by; a loaded machine may sleep through many */
}

static void test_worker_when_stopped_ends_a_long_sleep_at_once(void **state)
{
	struct ticker t;
	uint64_t t0, took_ns;
	unsigned rounds;

	ticker_start(&t, 3600 * NSEC_PER_SEC);
	usleep(20000); /* let the thread reach its sleep */
	t0 = now_mono_ns();
	worker_stop(&t.w);
	took_ns = now_mono_ns() - t0;
	rounds = t.rounds;
	ticker_free(&t);
	assert_true(took_ns < 5 * NSEC_PER_SEC); /* the signal, not the hour, ended the sleep */
	assert_int_equal(rounds, 0);		  /* and it was not counted as a round */
}

static void test_worker_stop_when_repeated_or_never_started_is_a_no_op(void **state)
{
	struct ticker t;
	struct worker idle;

	ticker_start(&t, NSEC_PER_SEC);
	worker_stop(&t.w);
	worker_stop(&t.w); /* a second stop must not join again */
	assert_false(t.w.running);
	ticker_free(&t);
	memset(&idle, 0, sizeof(idle));
	worker_stop(&idle); /* never started: returns */
	assert_false(idle.running);
}

TL_MAIN(
	cmocka_unit_test(test_worker_when_running_wakes_every_period),
	cmocka_unit_test(test_worker_when_stopped_ends_a_long_sleep_at_once),
	cmocka_unit_test(test_worker_stop_when_repeated_or_never_started_is_a_no_op)
)
