// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: per-process totals over a window, keyed by pid and start time. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "joule/acct.h"
#include "unit/testlib.h"

static struct sample_task task(uint32_t pid, uint64_t start, const char *comm, uint64_t ns, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .start_ns = start,
				 .tot = { .cpu_ns = ns, .cpu_uj = uj, .carbon_ug = uj / 10, .operational_ug = uj / 10 } };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

/* One interval of a process, added: ns of CPU time and uj of energy. */
static void add_ns(struct acct *a, uint32_t pid, uint64_t start, const char *comm, uint64_t ns, uint64_t uj)
{
	struct sample_task t = task(pid, start, comm, ns, uj);

	assert_int_equal(acct_add(a, &t), 0);
}

static void add(struct acct *a, uint32_t pid, uint64_t start, const char *comm, uint64_t uj)
{
	add_ns(a, pid, start, comm, 1, uj);
}

/* Processes 1..n, started at 1, with pid uj each; the even ones have exited. */
static void add_with_even_exited(struct acct *a, uint32_t n, const char *comm)
{
	for (uint32_t pid = 1; pid <= n; pid++) {
		struct sample_task t = task(pid, 1, comm, 1, pid);

		t.exited = pid % 2 == 0;
		assert_int_equal(acct_add(a, &t), 0);
	}
}

static void test_acct_when_same_process_twice_sums_and_keeps_pid_order(void **state)
{
	struct acct a = { 0 };

	add_ns(&a, 30, 5, "c", 10, 100);
	add_ns(&a, 10, 5, "a", 1, 10);
	add_ns(&a, 30, 5, "c-renamed", 20, 200);
	add_ns(&a, 30, 9, "c2", 5, 50); /* same pid, later start: another process */
	assert_int_equal(a.n, 3);
	assert_int_equal(a.v[0].pid, 10);
	assert_int_equal(a.v[1].start_ns, 5);
	assert_int_equal(a.v[1].tot.cpu_ns, 30);
	assert_int_equal(a.v[1].tot.cpu_uj, 300);
	assert_string_equal(a.v[1].comm, "c-renamed");
	assert_non_null(acct_find(&a, 30, 9));
	assert_null(acct_find(&a, 30, 7));
	acct_clear(&a);
	assert_int_equal(a.n, 0);
	acct_free(&a);
}

static void test_acct_drop_exited_keeps_live_processes_in_order(void **state)
{
	struct acct a = { 0 };

	add_with_even_exited(&a, 5, "p");
	acct_drop_exited(&a);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.v[0].pid, 1);
	assert_int_equal(a.v[1].pid, 3);
	assert_int_equal(a.v[2].pid, 5);
	acct_free(&a);
}

static void test_acct_when_carbon_has_an_embodied_part_sums_both_parts(void **state)
{
	struct acct a = { 0 };
	struct sample_task t = task(7, 1, "e", 10, 1000);

	t.tot.operational_ug = 20;
	t.tot.embodied_ug = 100;
	t.tot.carbon_ug = 120;
	assert_int_equal(acct_add(&a, &t), 0);
	assert_int_equal(acct_add(&a, &t), 0);
	assert_int_equal(a.v[0].tot.operational_ug, 40);
	assert_int_equal(a.v[0].tot.embodied_ug, 200);
	assert_int_equal(a.v[0].tot.carbon_ug, 240); /* always operational + embodied */
	acct_free(&a);
}

static void test_acct_group_by_comm_when_names_repeat_counts_and_sums_them(void **state)
{
	struct acct a = { 0 };

	add_ns(&a, 1, 1, "sh", 10, 100);
	add_ns(&a, 2, 1, "make", 5, 50);
	add_ns(&a, 3, 1, "sh", 20, 200);
	acct_group_by_comm(&a);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.v[0].comm, "sh");
	assert_int_equal(a.v[0].nprocs, 2);
	assert_int_equal(a.v[0].tot.cpu_uj, 300);
	assert_int_equal(a.v[1].nprocs, 1);
	acct_free(&a);
}

static void test_acct_when_added_out_of_order_keeps_pid_order_and_finds_each(void **state)
{
	static const uint32_t pids[] = { 50, 10, 40, 20, 30, 5, 60 };
	struct acct a = { 0 };

	for (size_t i = 0; i < 7; i++)
		add(&a, pids[i], 1, "p", pids[i]);
	assert_int_equal(a.n, 7);
	for (size_t i = 1; i < a.n; i++)
		assert_true(a.v[i - 1].pid < a.v[i].pid);
	for (size_t i = 0; i < 7; i++) {
		const struct acct_entry *e = acct_find(&a, pids[i], 1);

		assert_non_null(e);
		assert_int_equal(e->pid, pids[i]);
		assert_int_equal(e->tot.cpu_uj, pids[i]);
	}
	acct_free(&a);
}

static void test_acct_when_pid_reused_keeps_the_two_processes_apart(void **state)
{
	struct acct a = { 0 };

	add(&a, 77, 200, "new", 5);
	add(&a, 77, 100, "old", 3);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.v[0].start_ns, 100);
	assert_string_equal(acct_find(&a, 77, 100)->comm, "old");
	assert_string_equal(acct_find(&a, 77, 200)->comm, "new");
	assert_int_equal(acct_find(&a, 77, 200)->tot.cpu_uj, 5);
	acct_free(&a);
}

static void test_acct_drop_exited_when_done_still_finds_the_live_ones(void **state)
{
	struct acct a = { 0 };

	add_with_even_exited(&a, 6, "x");
	acct_drop_exited(&a);
	assert_null(acct_find(&a, 2, 1));
	assert_int_equal(acct_find(&a, 5, 1)->tot.cpu_uj, 5);
	add(&a, 4, 1, "again", 9);
	assert_int_equal(a.v[2].pid, 4);
	assert_int_equal(acct_find(&a, 5, 1)->tot.cpu_uj, 5);
	acct_free(&a);
}

TL_MAIN(
	cmocka_unit_test(test_acct_when_same_process_twice_sums_and_keeps_pid_order),
	cmocka_unit_test(test_acct_drop_exited_keeps_live_processes_in_order),
	cmocka_unit_test(test_acct_when_carbon_has_an_embodied_part_sums_both_parts),
	cmocka_unit_test(test_acct_group_by_comm_when_names_repeat_counts_and_sums_them),
	cmocka_unit_test(test_acct_when_added_out_of_order_keeps_pid_order_and_finds_each),
	cmocka_unit_test(test_acct_when_pid_reused_keeps_the_two_processes_apart),
	cmocka_unit_test(test_acct_drop_exited_when_done_still_finds_the_live_ones)
)
