// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the store: totals, groups, own series, folding after grace, bounds, window queries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/store.h"
#include "joule/util.h"

#define T0_REAL (1700000000ULL * NSEC_PER_SEC)
#define TICK (100 * NSEC_PER_MSEC)

/* calloc that fails on demand, to reach the store's ENOMEM paths; glibc's own does the work otherwise. */
void *__libc_calloc(size_t n, size_t size);
static int fail_calloc;

void *calloc(size_t n, size_t size)
{
	if (fail_calloc)
		return NULL;
	return __libc_calloc(n, size);
}

static struct sample mk(uint64_t seq, struct sample_task *t, size_t n)
{
	struct sample s = { .seq = seq, .ntasks = n, .tasks = t, .source = ENERGY_SRC_POWERCAP };

	s.mono_start_ns = seq * TICK;
	s.mono_end_ns = (seq + 1) * TICK;
	s.real_start_ns = T0_REAL + s.mono_start_ns;
	s.real_end_ns = T0_REAL + s.mono_end_ns;
	for (size_t i = 0; i < n; i++) {
		s.host_cpu_uj += t[i].cpu_uj;
		s.host_mem_uj += t[i].mem_uj;
		s.host_carbon_ug += t[i].carbon_ug;
	}
	s.idle.cpu_uj = 1000;
	s.host_cpu_uj += 1000;
	s.host_domain_uj[ENERGY_PACKAGE] = s.host_cpu_uj;
	s.domains = 1u << ENERGY_PACKAGE;
	s.intensity.g_per_kwh = 400;
	return s;
}

static struct sample_task task(uint32_t pid, const char *comm, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .ppid = 1, .start_ns = pid * 10ULL, .cpu_ns = 50 * NSEC_PER_MSEC,
				 .cpu_uj = uj, .mem_uj = uj / 10, .carbon_ug = uj / 2, .embodied_ug = uj / 20 };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

struct gfind {
	const char *name;
	const struct store_group *g;
};

static int find_group_cb(const struct store_group *g, void *ctx)
{
	struct gfind *f = ctx;

	if (strcmp(g->name, f->name) == 0) {
		f->g = g;
		return 1;
	}
	return 0;
}

static const struct store_group *group(struct store *s, const char *name)
{
	struct gfind f = { name, NULL };

	store_foreach_group(s, find_group_cb, &f);
	return f.g;
}

static void test_store_add_when_two_samples_sums_process_group_host(void **state)
{
	struct store_cfg cfg = { 0 };
	struct store *s;
	struct sample_task t[2] = { task(100, "nginx", 5000), task(200, "pg", 3000) };
	struct sample a = mk(0, t, 2), b = mk(1, t, 2);
	struct store_host h;

	assert_int_equal(store_open(&s, &cfg), 0);
	assert_int_equal(store_add_sample(s, &a), 0);
	assert_int_equal(store_add_sample(s, &b), 0);
	store_get_host(s, &h);
	assert_int_equal(h.samples, 2);
	assert_int_equal(h.cpu_uj, 2 * 9000);
	assert_int_equal(h.idle.cpu_uj, 2000);
	assert_int_equal(store_find_proc(s, 100)->total.cpu_uj, 10000);
	assert_int_equal(store_find_proc(s, 100)->total.mem_uj, 1000);
	assert_int_equal(group(s, "pg")->total.cpu_uj, 6000);
	assert_int_equal(group(s, "pg")->kind, GROUP_COMM);
	assert_int_equal(store_last_seq(s), 1);
	store_close(s);
}

static void test_store_filter_when_comm_matches_gets_own_series_not_rest(void **state)
{
	char *f[] = { "nginx" };
	struct store_cfg cfg = { 0 };
	struct sample_task t[2] = { task(100, "nginx", 5000), task(200, "pg", 3000) };
	struct sample a = mk(0, t, 2);
	struct store *s;

	assert_int_equal(store_open(&s, &cfg), 0);
	store_set_filters(s, f, 1);
	store_add_sample(s, &a);
	assert_true(store_find_proc(s, 100)->own_series);
	assert_false(store_find_proc(s, 200)->own_series);
	assert_int_equal(group(s, "nginx")->rest.cpu_uj, 0);
	assert_int_equal(group(s, "pg")->rest.cpu_uj, 3000);
	store_close(s);
}

static void test_store_top_n_when_ranked_selects_highest_energy(void **state)
{
	struct store_cfg cfg = { .top_n = 1 };
	struct sample_task t[3] = { task(1, "a", 10), task(2, "b", 900), task(3, "c", 50) };
	struct sample a = mk(0, t, 3);
	struct store *s;

	assert_int_equal(store_open(&s, &cfg), 0);
	store_add_sample(s, &a);
	assert_true(store_find_proc(s, 2)->own_series);
	assert_false(store_find_proc(s, 1)->own_series);
	assert_false(store_find_proc(s, 3)->own_series);
	store_close(s);
}

static void test_store_exited_when_grace_passes_folds_into_group(void **state)
{
	struct store_cfg cfg = { .grace_ns = 2 * NSEC_PER_SEC };
	struct sample_task t = task(7, "job", 100);
	struct store *s;
	struct sample smp;

	assert_int_equal(store_open(&s, &cfg), 0);
	t.exited = true;
	t.exit_code = 3;
	smp = mk(0, &t, 1);
	store_add_sample(s, &smp);
	assert_true(store_find_proc(s, 7)->exited);
	assert_int_equal(store_find_proc(s, 7)->exit_code, 3);
	for (uint64_t seq = 1; seq <= 31; seq++) {
		smp = mk(seq, NULL, 0);
		store_add_sample(s, &smp);
	}
	assert_null(store_find_proc(s, 7));
	assert_int_equal(group(s, "job")->total.cpu_uj, 100);
	assert_int_equal(group(s, "job")->live, 0);
	store_close(s);
}

static int sum_series_cb(const struct store_proc *p, void *ctx)
{
	uint64_t *sum = ctx;

	if (p->own_series)
		*sum += p->series.cpu_uj;
	return 0;
}

static void test_store_series_when_promoted_midway_starts_at_zero_and_rest_keeps_before(void **state)
{
	struct store_cfg cfg = { .top_n = 1, .grace_ns = NSEC_PER_SEC };
	struct store *s;
	struct sample smp;
	uint64_t own = 0, total = 0;

	assert_int_equal(store_open(&s, &cfg), 0);
	/* pid 2 is small at the first ranking (sample 1) and the biggest at the second (sample 11) */
	for (uint64_t seq = 0; seq < 15; seq++) {
		struct sample_task t[2] = { task(1, "w", seq == 0 ? 500 : 1), task(2, "w", seq == 0 ? 10 : 100) };

		t[1].exited = seq == 14;
		smp = mk(seq, t, 2);
		store_add_sample(s, &smp);
		total += t[0].cpu_uj + t[1].cpu_uj;
	}
	assert_true(store_find_proc(s, 2)->own_series);
	/* promoted after sample 10 (seq 10): seq 11..14 are its own */
	assert_int_equal(store_find_proc(s, 2)->series.cpu_uj, 4 * 100);
	assert_int_equal(store_find_proc(s, 2)->total.cpu_uj, 10 + 14 * 100);
	store_foreach_proc(s, sum_series_cb, &own);
	assert_int_equal(group(s, "w")->total.cpu_uj, total);
	assert_int_equal(own + group(s, "w")->rest.cpu_uj, total);
	/* pid 2 folds after its grace: its series moves into rest, the family sum is unchanged */
	for (uint64_t seq = 15; seq <= 40; seq++) {
		struct sample_task t = task(1, "w", 1);

		smp = mk(seq, &t, 1);
		store_add_sample(s, &smp);
		total += 1;
	}
	assert_null(store_find_proc(s, 2));
	own = 0;
	store_foreach_proc(s, sum_series_cb, &own);
	assert_int_equal(own + group(s, "w")->rest.cpu_uj, total);
	store_close(s);
}

static void test_store_add_when_group_alloc_fails_returns_enomem_and_frees_process(void **state)
{
	struct store_cfg cfg = { 0 };
	struct sample_task t = task(9, "lonely", 100);
	struct sample smp = mk(0, &t, 1);
	struct store_host h;
	struct store *s;
	int r;

	assert_int_equal(store_open(&s, &cfg), 0);
	/* no group exists yet, so a stale group index would point at nothing */
	fail_calloc = 1;
	r = store_add_sample(s, &smp);
	fail_calloc = 0;
	assert_int_equal(r, -ENOMEM);
	store_get_host(s, &h);
	assert_int_equal(h.procs_tracked, 0);
	assert_null(store_find_proc(s, 9));
	smp = mk(1, &t, 1);
	assert_int_equal(store_add_sample(s, &smp), 0);
	assert_int_equal(group(s, "lonely")->live, 1);
	store_close(s);
}

static void test_store_bounds_when_tables_full_keeps_totals_exact(void **state)
{
	struct store_cfg cfg = { .max_procs = 4, .max_groups = 2 };
	struct sample_task t[8];
	struct store *s;
	struct store_host h;
	struct sample smp;
	uint64_t sum = 0;
	char name[8];

	assert_int_equal(store_open(&s, &cfg), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		t[i] = task(10 + i, name, 100 + i);
	}
	smp = mk(0, t, 8);
	assert_int_equal(store_add_sample(s, &smp), 0);
	store_get_host(s, &h);
	assert_int_equal(h.procs_tracked, 4);
	assert_int_equal(h.procs_untracked, 4);
	assert_true(h.groups <= 3);
	assert_non_null(group(s, "other"));
	sum = group(s, "c0")->total.cpu_uj + group(s, "c1")->total.cpu_uj + group(s, "other")->total.cpu_uj;
	assert_int_equal(sum, 100 + 101 + 102 + 103 + 104 + 105 + 106 + 107);
	store_close(s);
}

static void test_store_recent_when_ring_wraps_returns_newest_oldest_first(void **state)
{
	struct store_cfg cfg = { .recent_len = 4 };
	struct store_recent r[10];
	struct store *s;
	struct sample smp;

	assert_int_equal(store_open(&s, &cfg), 0);
	for (uint64_t seq = 1; seq <= 6; seq++) {
		smp = mk(seq, NULL, 0);
		store_add_sample(s, &smp);
	}
	assert_int_equal(store_recent(s, r, 10), 4);
	assert_int_equal(r[0].seq, 3);
	assert_int_equal(r[3].seq, 6);
	assert_int_equal(store_recent(s, r, 2), 2);
	assert_int_equal(r[0].seq, 5);
	store_close(s);
}

static void test_store_query_when_window_steps_sums_host_energy(void **state)
{
	struct store_cfg cfg = { 0 };
	struct sample_task t = task(5, "w", 1000);
	struct store_point p[8];
	struct store *s;
	struct sample smp;
	uint64_t sum = 0;
	int n;

	assert_int_equal(store_open(&s, &cfg), 0);
	for (uint64_t seq = 0; seq < 50; seq++) { /* 5 s of samples */
		smp = mk(seq, &t, 1);
		store_add_sample(s, &smp);
	}
	n = store_query(s, NULL, 0, smp.real_end_ns, 10 * NSEC_PER_SEC, 5 * NSEC_PER_SEC, p, 8);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++)
		sum += p[i].cpu_uj;
	assert_int_equal(sum, 50 * 2000);
	n = store_query(s, "w", 0, smp.real_end_ns, 3600 * NSEC_PER_SEC, 3600 * NSEC_PER_SEC, p, 8);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].cpu_uj, 50 * 1000);
	assert_int_equal(store_query(s, "nope", 0, smp.real_end_ns, 60 * NSEC_PER_SEC, 60 * NSEC_PER_SEC, p, 8),
			 -ENOENT);
	assert_int_equal(store_query(s, "w", 0, smp.real_end_ns, 60 * NSEC_PER_SEC, NSEC_PER_SEC, p, 80), -ERANGE);
	assert_int_equal(store_query(s, NULL, 0, smp.real_end_ns, 10 * NSEC_PER_SEC, 3 * NSEC_PER_SEC, p, 8),
			 -EINVAL);
	assert_int_equal(store_query(s, NULL, 0, smp.real_end_ns, 30 * 86400 * NSEC_PER_SEC, 86400 * NSEC_PER_SEC,
				     p, 80), -ERANGE);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_add_when_two_samples_sums_process_group_host),
		cmocka_unit_test(test_store_filter_when_comm_matches_gets_own_series_not_rest),
		cmocka_unit_test(test_store_top_n_when_ranked_selects_highest_energy),
		cmocka_unit_test(test_store_exited_when_grace_passes_folds_into_group),
		cmocka_unit_test(test_store_series_when_promoted_midway_starts_at_zero_and_rest_keeps_before),
		cmocka_unit_test(test_store_add_when_group_alloc_fails_returns_enomem_and_frees_process),
		cmocka_unit_test(test_store_bounds_when_tables_full_keeps_totals_exact),
		cmocka_unit_test(test_store_recent_when_ring_wraps_returns_newest_oldest_first),
		cmocka_unit_test(test_store_query_when_window_steps_sums_host_energy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
