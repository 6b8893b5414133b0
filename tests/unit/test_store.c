// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the store: totals, carbon parts, groups per comm, idle exposure, bounds, window queries. */
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
#include "unit/testlib.h"

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
		s.host_cpu_uj += t[i].tot.cpu_uj;
		s.host_mem_uj += t[i].tot.mem_uj;
		s.host_operational_ug += t[i].tot.operational_ug;
		s.host_embodied_ug += t[i].tot.embodied_ug;
	}
	s.idle = (struct sample_totals){ .cpu_ns = TICK, .cpu_uj = 1000, .operational_ug = 40, .embodied_ug = 3,
					 .carbon_ug = 43 };
	s.host_cpu_uj += 1000;
	s.host_operational_ug += 40;
	s.host_embodied_ug += 3;
	s.host_carbon_ug = s.host_operational_ug + s.host_embodied_ug;
	s.host_domain_uj[ENERGY_PACKAGE] = s.host_cpu_uj;
	s.domains = 1u << ENERGY_PACKAGE;
	s.intensity.g_per_kwh = 400;
	return s;
}

static struct sample_task task(uint32_t pid, const char *comm, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .ppid = 1, .start_ns = pid * 10ULL,
				 .tot = { .cpu_ns = 50 * NSEC_PER_MSEC, .cpu_uj = uj, .mem_uj = uj / 10,
					  .operational_ug = uj / 2, .embodied_ug = uj / 20 } };

	t.tot.carbon_ug = t.tot.operational_ug + t.tot.embodied_ug;
	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

struct gfind {
	const char *name, *comm;
	const struct store_group *g;
	uint64_t cpu_uj;	/* summed over every entry seen */
	size_t n;
};

static int find_group_cb(const struct store_group *g, void *ctx)
{
	struct gfind *f = ctx;

	f->cpu_uj += g->total.cpu_uj;
	f->n++;
	if ((!f->name || strcmp(g->name, f->name) == 0) && (!f->comm || strcmp(g->comm, f->comm) == 0)) {
		f->g = g;
		return 1;
	}
	return 0;
}

static const struct store_group *group(struct store *s, const char *name)
{
	struct gfind f = { name, NULL, NULL, 0, 0 };

	store_foreach_group(s, find_group_cb, &f);
	return f.g;
}

static const struct store_group *group_comm(struct store *s, const char *name, const char *comm)
{
	struct gfind f = { name, comm, NULL, 0, 0 };

	store_foreach_group(s, find_group_cb, &f);
	return f.g;
}

/* Σ over every group entry of cpu_uj. */
static uint64_t groups_cpu_uj(struct store *s)
{
	struct gfind f = { "\x01", NULL, NULL, 0, 0 };

	store_foreach_group(s, find_group_cb, &f);
	return f.cpu_uj;
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
	assert_string_equal(group(s, "pg")->comm, "pg");
	assert_int_equal(store_last_seq(s), 1);
	store_close(s);
}

static void test_store_carbon_when_summed_keeps_operational_and_embodied_apart(void **state)
{
	struct store_cfg cfg = { 0 };
	struct store *s;
	struct sample_task t[1] = { task(100, "nginx", 5000) };
	struct sample a = mk(0, t, 1), b = mk(1, t, 1);
	struct store_host h;
	const struct store_proc *p;

	assert_int_equal(store_open(&s, &cfg), 0);
	store_add_sample(s, &a);
	store_add_sample(s, &b);
	store_get_host(s, &h);
	p = store_find_proc(s, 100);
	assert_int_equal(p->total.operational_ug, 2 * 2500);
	assert_int_equal(p->total.embodied_ug, 2 * 250);
	assert_int_equal(p->total.carbon_ug, p->total.operational_ug + p->total.embodied_ug);
	/* idle's embodied share is idle's, never folded into anyone's operational figure */
	assert_int_equal(h.idle.embodied_ug, 2 * 3);
	assert_int_equal(h.idle.operational_ug, 2 * 40);
	assert_int_equal(h.operational_ug, 2 * (2500 + 40));
	assert_int_equal(h.embodied_ug, 2 * (250 + 3));
	assert_int_equal(h.carbon_ug, h.operational_ug + h.embodied_ug);
	store_close(s);
}

static void test_store_filter_when_comm_matches_gets_own_series(void **state)
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
	/* the group holds every µJ whatever the drill-down does */
	assert_int_equal(group(s, "nginx")->total.cpu_uj, 5000);
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

static void test_store_live_when_process_exits_drops_at_exit_not_at_forget(void **state)
{
	struct store_cfg cfg = { 0 };
	struct sample_task t[3] = { task(1, "bash", 10), task(2, "bash", 10), task(3, "bash", 10) };
	struct sample smp;
	struct store *s;

	assert_int_equal(store_open(&s, &cfg), 0);
	smp = mk(0, t, 3);
	store_add_sample(s, &smp);
	assert_int_equal(group(s, "bash")->live, 3);
	t[1].exited = true;
	smp = mk(1, t, 3);
	store_add_sample(s, &smp);
	/* pid 2 is still held (grace) but no longer alive */
	assert_non_null(store_find_proc(s, 2));
	assert_int_equal(group(s, "bash")->live, 2);
	assert_int_equal(group(s, "bash")->procs, 3);
	store_close(s);
}

static void test_store_exited_when_grace_passes_is_forgotten_and_group_keeps_it(void **state)
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

/* A labeler that puts everything in one unit. */
static int unit_labeler(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = GROUP_UNIT;
	snprintf(out->group, sizeof(out->group), "%s", (const char *)ctx);
	out->uid = UINT32_MAX;
	return 0;
}

static void test_store_group_when_unit_runs_two_comms_keeps_one_entry_per_comm(void **state)
{
	struct store_cfg cfg = { .labeler = unit_labeler, .labeler_ctx = "build.service" };
	struct sample_task t[3] = { task(1, "make", 100), task(2, "cc1", 900), task(3, "cc1", 50) };
	struct sample smp = mk(0, t, 3);
	struct store_point p[1];
	struct store *s;

	assert_int_equal(store_open(&s, &cfg), 0);
	store_add_sample(s, &smp);
	assert_int_equal(group_comm(s, "build.service", "make")->total.cpu_uj, 100);
	assert_int_equal(group_comm(s, "build.service", "cc1")->total.cpu_uj, 950);
	assert_int_equal(group_comm(s, "build.service", "cc1")->kind, GROUP_UNIT);
	/* a window query of the group covers all its comms */
	assert_int_equal(store_query(s, "build.service", 0, smp.real_end_ns, 60 * NSEC_PER_SEC, 60 * NSEC_PER_SEC, p, 1),
			 1);
	assert_int_equal(p[0].cpu_uj, 1050);
	store_close(s);
}

static void test_store_group_when_idle_past_limit_is_not_exposed_and_resumes_without_reset(void **state)
{
	struct store_cfg cfg = { .group_idle_ns = NSEC_PER_SEC };
	struct sample_task t = task(1, "cron", 100), u = task(2, "keep", 1);
	struct sample smp;
	struct store *s;
	uint64_t seq = 0;

	assert_int_equal(store_open(&s, &cfg), 0);
	smp = mk(seq++, &t, 1);
	store_add_sample(s, &smp);
	assert_true(store_group_exposed(s, group(s, "cron")));
	for (; seq < 20; seq++) {
		smp = mk(seq, &u, 1);
		store_add_sample(s, &smp);
	}
	assert_false(store_group_exposed(s, group(s, "cron")));
	assert_true(store_group_exposed(s, group(s, "keep")));
	/* a new process of the same name: the entry comes back with its total grown, never lower */
	t = task(3, "cron", 50);
	smp = mk(seq, &t, 1);
	store_add_sample(s, &smp);
	assert_true(store_group_exposed(s, group(s, "cron")));
	assert_int_equal(group(s, "cron")->total.cpu_uj, 150);
	store_close(s);
}

static void test_store_bounds_when_tables_full_keeps_totals_exact_via_other(void **state)
{
	struct store_cfg cfg = { .max_procs = 4, .max_groups = 2 };
	struct sample_task t[8];
	struct store *s;
	struct store_host h;
	struct sample smp;
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
	assert_int_equal(h.groups, 2);
	assert_int_equal(groups_cpu_uj(s), 100 + 101);
	assert_int_equal(h.other.cpu_uj, 102 + 103 + 104 + 105 + 106 + 107);
	/* groups + other + idle + overflow is the host, exactly */
	assert_int_equal(groups_cpu_uj(s) + h.other.cpu_uj + h.idle.cpu_uj + h.overflow.cpu_uj, h.cpu_uj);
	store_close(s);
}

static void test_store_bounds_when_full_and_an_entry_idle_forgets_it_for_a_new_one(void **state)
{
	struct store_cfg cfg = { .max_groups = 2, .group_idle_ns = NSEC_PER_SEC, .grace_ns = NSEC_PER_SEC };
	struct sample_task a = task(1, "old", 100), b = task(2, "busy", 10), c = task(3, "new", 7);
	struct store_host h;
	struct sample smp;
	struct store *s;
	uint64_t seq = 0;

	assert_int_equal(store_open(&s, &cfg), 0);
	a.exited = true;
	smp = mk(seq++, &a, 1);
	store_add_sample(s, &smp);
	for (; seq < 40; seq++) { /* "old" is forgotten (grace), then idle past the limit */
		smp = mk(seq, &b, 1);
		store_add_sample(s, &smp);
	}
	smp = mk(seq, &c, 1);
	store_add_sample(s, &smp);
	store_get_host(s, &h);
	assert_null(group(s, "old"));
	assert_int_equal(group(s, "new")->total.cpu_uj, 7);
	assert_int_equal(h.groups_evicted, 1);
	assert_int_equal(h.other.cpu_uj, 0);
	store_close(s);
}

static void test_store_rename_when_exec_changes_comm_charges_new_name_from_then_on(void **state)
{
	struct store_cfg cfg = { 0 };
	struct sample_task t = task(5, "python3", 100);
	struct sample smp = mk(0, &t, 1);
	struct store *s;

	assert_int_equal(store_open(&s, &cfg), 0);
	store_add_sample(s, &smp);
	snprintf(t.comm, sizeof(t.comm), "dd");
	smp = mk(1, &t, 1);
	store_add_sample(s, &smp);
	/* what ran as python3 stays there (no series jumps); dd gets the rest and the process */
	assert_int_equal(group(s, "python3")->total.cpu_uj, 100);
	assert_int_equal(group(s, "python3")->live, 0);
	assert_int_equal(group(s, "dd")->total.cpu_uj, 100);
	assert_int_equal(group(s, "dd")->live, 1);
	assert_string_equal(store_find_proc(s, 5)->comm, "dd");
	assert_int_equal(store_find_proc(s, 5)->total.cpu_uj, 200);
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
	assert_int_equal(p[0].operational_ug + p[1].operational_ug, 50 * (500 + 40));
	assert_int_equal(p[0].carbon_ug + p[1].carbon_ug, 50 * (500 + 40 + 50 + 3));
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

TL_MAIN(
	cmocka_unit_test(test_store_add_when_two_samples_sums_process_group_host),
	cmocka_unit_test(test_store_carbon_when_summed_keeps_operational_and_embodied_apart),
	cmocka_unit_test(test_store_filter_when_comm_matches_gets_own_series),
	cmocka_unit_test(test_store_top_n_when_ranked_selects_highest_energy),
	cmocka_unit_test(test_store_live_when_process_exits_drops_at_exit_not_at_forget),
	cmocka_unit_test(test_store_exited_when_grace_passes_is_forgotten_and_group_keeps_it),
	cmocka_unit_test(test_store_group_when_unit_runs_two_comms_keeps_one_entry_per_comm),
	cmocka_unit_test(test_store_group_when_idle_past_limit_is_not_exposed_and_resumes_without_reset),
	cmocka_unit_test(test_store_bounds_when_tables_full_keeps_totals_exact_via_other),
	cmocka_unit_test(test_store_bounds_when_full_and_an_entry_idle_forgets_it_for_a_new_one),
	cmocka_unit_test(test_store_rename_when_exec_changes_comm_charges_new_name_from_then_on),
	cmocka_unit_test(test_store_add_when_group_alloc_fails_returns_enomem_and_frees_process),
	cmocka_unit_test(test_store_recent_when_ring_wraps_returns_newest_oldest_first),
	cmocka_unit_test(test_store_query_when_window_steps_sums_host_energy)
)
