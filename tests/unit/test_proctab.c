// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: the per-process table (pid, start_ns) -> value: growth, tombstones, pid reuse, iteration. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/proctab.h"
#include "unit/testlib.h"

/* Keys that look like a busy host's: pids near each other, start times that differ per pid. */
static uint32_t key_pid(size_t i)
{
	return (uint32_t)(1000 + i);
}

static uint64_t key_start(size_t i)
{
	return 1000000000ULL + i * 7919;
}

static void test_proctab_when_entries_added_grows_and_finds_each(void **state)
{
	static const struct {
		size_t expect;	/* proctab_init's hint; SIZE_MAX: a zeroed struct, no init */
		size_t n;
	} cases[] = {
		{ SIZE_MAX, 1 }, { SIZE_MAX, 13 }, { SIZE_MAX, 5000 }, { 0, 100 }, { 16, 16 }, { 100, 10000 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct proctab t = { 0 };
		size_t v;

		if (cases[c].expect != SIZE_MAX)
			assert_int_equal(proctab_init(&t, cases[c].expect), 0);
		for (size_t i = 0; i < cases[c].n; i++)
			assert_int_equal(proctab_put(&t, key_pid(i), key_start(i), i * 3), 0);
		assert_int_equal(t.n, cases[c].n);
		assert_true(t.n * 4 <= t.cap * 3); /* load bound kept: probes end at an empty slot */
		for (size_t i = 0; i < cases[c].n; i++) {
			assert_true(proctab_find(&t, key_pid(i), key_start(i), &v));
			assert_int_equal(v, i * 3);
		}
		assert_false(proctab_find(&t, key_pid(cases[c].n), key_start(cases[c].n), NULL));
		assert_false(proctab_find(&t, key_pid(0), key_start(0) + 1, NULL));
		proctab_free(&t);
	}
}

static void test_proctab_when_expected_size_given_does_not_grow(void **state)
{
	struct proctab t;
	size_t cap;

	assert_int_equal(proctab_init(&t, 1000), 0);
	cap = t.cap;
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(proctab_put(&t, key_pid(i), key_start(i), i), 0);
	assert_int_equal(t.cap, cap);
	proctab_free(&t);
}

static void test_proctab_when_key_present_put_replaces_its_value(void **state)
{
	struct proctab t = { 0 };
	size_t v;

	assert_int_equal(proctab_put(&t, 7, 70, 1), 0);
	assert_int_equal(proctab_put(&t, 7, 70, 2), 0);
	assert_int_equal(t.n, 1);
	assert_true(proctab_find(&t, 7, 70, &v));
	assert_int_equal(v, 2);
	proctab_free(&t);
}

static void test_proctab_when_pid_reused_keeps_each_process_apart(void **state)
{
	static const uint64_t starts[] = { 5, 9, 1, 100000, 42 };
	struct proctab t = { 0 };
	struct proctab_ent e;
	size_t cur = 0, seen = 0, v;

	/* neighbours of the pid, so the probe run holds other pids too */
	for (uint32_t p = 40; p < 60; p++)
		assert_int_equal(proctab_put(&t, p, 1, p), 0);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(proctab_put(&t, 4242, starts[i], 100 + i), 0);
	for (size_t i = 0; i < 5; i++) {
		assert_true(proctab_find(&t, 4242, starts[i], &v));
		assert_int_equal(v, 100 + i);
	}
	while (proctab_next_pid(&t, 4242, &cur, &e)) {
		size_t j = 0;

		while (j < 5 && starts[j] != e.start_ns)
			j++;
		assert_int_equal(e.pid, 4242);
		assert_int_equal(e.val, 100 + j); /* j == 5: a start time never added */
		seen++;
	}
	assert_int_equal(seen, 5);
	/* the old process goes; the new one with the same pid stays */
	assert_int_equal(proctab_remove(&t, 4242, 5), 0);
	assert_false(proctab_find(&t, 4242, 5, NULL));
	assert_true(proctab_find(&t, 4242, 9, NULL));
	cur = 0;
	seen = 0;
	while (proctab_next_pid(&t, 4242, &cur, &e))
		seen++;
	assert_int_equal(seen, 4);
	cur = 0;
	assert_false(proctab_next_pid(&t, 4243, &cur, &e));
	proctab_free(&t);
}

static void test_proctab_when_churning_reuses_tombstones_without_growing(void **state)
{
	struct proctab t;
	size_t cap, v;

	assert_int_equal(proctab_init(&t, 64), 0);
	cap = t.cap;
	/* a host that starts and ends processes forever: 64 alive at a time, 20000 in all */
	for (size_t i = 0; i < 20000; i++) {
		if (i >= 64)
			assert_int_equal(proctab_remove(&t, key_pid(i - 64), key_start(i - 64)), 0);
		assert_int_equal(proctab_put(&t, key_pid(i), key_start(i), i), 0);
	}
	assert_int_equal(t.cap, cap);
	assert_int_equal(t.n, 64);
	assert_true(t.n + t.dead < t.cap);
	for (size_t i = 20000 - 64; i < 20000; i++) {
		assert_true(proctab_find(&t, key_pid(i), key_start(i), &v));
		assert_int_equal(v, i);
	}
	assert_false(proctab_find(&t, key_pid(20000 - 65), key_start(20000 - 65), NULL));
	proctab_free(&t);
}

static void test_proctab_remove_when_absent_returns_enoent(void **state)
{
	struct proctab t = { 0 };

	assert_int_equal(proctab_remove(&t, 1, 1), -ENOENT);
	assert_int_equal(proctab_put(&t, 1, 1, 0), 0);
	assert_int_equal(proctab_remove(&t, 1, 2), -ENOENT);
	assert_int_equal(proctab_remove(&t, 1, 1), 0);
	assert_int_equal(proctab_remove(&t, 1, 1), -ENOENT);
	assert_int_equal(t.n, 0);
	proctab_free(&t);
}

static void test_proctab_when_removing_while_iterating_visits_each_entry_once(void **state)
{
	enum { N = 3000 };
	struct proctab t = { 0 };
	struct proctab_ent e;
	unsigned char *seen = calloc(N, 1);
	size_t cur = 0, left = 0;

	assert_non_null(seen);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(proctab_put(&t, key_pid(i % 500), key_start(i), i), 0);
	while (proctab_next(&t, &cur, &e)) {
		assert_true(e.val < N);
		assert_int_equal(seen[e.val], 0);
		seen[e.val] = 1;
		if (e.val % 2)
			assert_int_equal(proctab_remove(&t, e.pid, e.start_ns), 0);
	}
	for (size_t i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	cur = 0;
	while (proctab_next(&t, &cur, &e)) {
		assert_int_equal(e.val % 2, 0);
		left++;
	}
	assert_int_equal(left, N / 2);
	assert_int_equal(t.n, N / 2);
	free(seen);
	proctab_free(&t);
}

static void test_proctab_clear_when_full_forgets_entries_and_keeps_capacity(void **state)
{
	struct proctab t = { 0 };
	struct proctab_ent e;
	size_t cap, cur = 0;

	for (size_t i = 0; i < 100; i++)
		assert_int_equal(proctab_put(&t, key_pid(i), key_start(i), i), 0);
	cap = t.cap;
	proctab_clear(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.cap, cap);
	assert_false(proctab_find(&t, key_pid(3), key_start(3), NULL));
	assert_false(proctab_next(&t, &cur, &e));
	proctab_free(&t);
}

TL_MAIN(
	cmocka_unit_test(test_proctab_when_entries_added_grows_and_finds_each),
	cmocka_unit_test(test_proctab_when_expected_size_given_does_not_grow),
	cmocka_unit_test(test_proctab_when_key_present_put_replaces_its_value),
	cmocka_unit_test(test_proctab_when_pid_reused_keeps_each_process_apart),
	cmocka_unit_test(test_proctab_when_churning_reuses_tombstones_without_growing),
	cmocka_unit_test(test_proctab_remove_when_absent_returns_enoent),
	cmocka_unit_test(test_proctab_when_removing_while_iterating_visits_each_entry_once),
	cmocka_unit_test(test_proctab_clear_when_full_forgets_entries_and_keeps_capacity)
)
