// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: the energy-span table (names, limits, ownership) and its valuation from the process clock and ticks. */
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
#include "joule/span.h"
#include "unit/testlib.h"

#define MS 1000000ULL

/* The process clocks a tick reads: pid -> cumulative CPU ns (0: gone). */
struct clocks {
	uint32_t pid[4];
	uint64_t ns[4];
};

static bool clock_of(void *ctx, uint32_t pid, uint64_t *cum)
{
	struct clocks *c = ctx;

	for (int i = 0; i < 4; i++)
		if (c->pid[i] == pid && c->ns[i]) {
			*cum = c->ns[i];
			return true;
		}
	return false;
}

/* A tick [start, end] ms with up to two tasks; host energy = their energy x 2 (the rest idle). */
static struct sample tick(struct sample_task *tasks, size_t n, uint64_t start_ms, uint64_t end_ms)
{
	struct sample s = { .mono_start_ns = start_ms * MS, .mono_end_ns = end_ms * MS, .real_end_ns = end_ms * MS,
			    .ntasks = n, .tasks = tasks, .energy_rel_sd = 0.05 };

	for (size_t i = 0; i < n; i++)
		s.host_cpu_uj += 2 * tasks[i].tot.cpu_uj;
	return s;
}

static struct sample_task task(uint32_t pid, uint32_t ppid, uint64_t cpu_ns, uint64_t cpu_uj)
{
	return (struct sample_task){ .pid = pid, .ppid = ppid,
				     .tot = { .cpu_ns = cpu_ns, .cpu_uj = cpu_uj, .operational_ug = cpu_uj / 10,
					      .carbon_ug = cpu_uj / 10 } };
}

static uint64_t open_at(struct span_table *t, const char *name, enum span_scope scope, uint32_t pid, uint32_t uid,
			uint64_t cum_ns, uint64_t mono_ms)
{
	struct span_open_req r = { .name = name, .scope = scope, .pid = pid, .uid = uid, .cum_ns = cum_ns,
				   .mono_ns = mono_ms * MS, .real_ns = mono_ms * MS };
	uint64_t id = 0;

	assert_int_equal(span_open(t, &r, &id), 0);
	return id;
}

/* Close span id as uid with the process clock at cum_ns, at mono_ms (real time the same); span_close's result. */
static int close_at(struct span_table *t, uint64_t id, uint32_t uid, uint64_t cum_ns, uint64_t mono_ms, struct span *out)
{
	return span_close(t, id, uid, cum_ns, true, mono_ms * MS, mono_ms * MS, out);
}

static struct span_table *new_table(void)
{
	struct span_table *t = NULL;

	assert_int_equal(span_table_new(&t), 0);
	return t;
}

static void test_span_name_check_when_names_vary_accepts_only_the_charset(void **state)
{
	static const struct {
		const char *name;
		int want;
	} cases[] = {
		{ "training_step", 0 },
		{ "epoch-3.batch:17", 0 },
		{ "A", 0 },
		{ "", -EINVAL },
		{ "has space", -EINVAL },
		{ "quote\"", -EINVAL },
		{ "new\nline", -EINVAL },
		{ "caf\xc3\xa9", -EINVAL },
		{ "0123456789012345678901234567890123456789012345678901234567890123", 0 },	/* 64 */
		{ "01234567890123456789012345678901234567890123456789012345678901234", -EINVAL }, /* 65 */
	};
	char err[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = span_name_check(cases[i].name, err, sizeof(err));

		if (rc != cases[i].want)
			fail_msg("name %zu '%s': got %d, want %d", i, cases[i].name, rc, cases[i].want);
	}
}

static void test_span_value_when_figures_are_large_is_exact_and_rounds_down(void **state)
{
	struct sample_totals ref = { .cpu_ns = 3, .cpu_uj = UINT64_MAX / 2, .mem_uj = 10, .operational_ug = 7 };
	struct sample_totals out = { 0 };

	span_value(&out, &ref, 2, 3);
	assert_true(out.cpu_ns == 2);
	assert_true(out.cpu_uj == (uint64_t)((unsigned __int128)(UINT64_MAX / 2) * 2 / 3));
	assert_int_equal(out.mem_uj, 6);
	assert_int_equal(out.operational_ug, 4);
	assert_int_equal(out.carbon_ug, 4);
}

/* A process span of uid 1000 around one tick [0, 100] ms: when it opens and closes, and pid 10's clock at the tick. */
struct tick_span {
	uint32_t pid;
	uint64_t clock_ns;	/* pid 10's CPU clock when the tick reads it (0: gone) */
	uint64_t open_cum_ns, open_ms;
	uint64_t close_cum_ns, close_ms;
};

/* The span as closed, the tick taken where it falls in time: after the open, or before it. */
static struct span span_around_tick(struct sample_task *tasks, size_t n, const struct tick_span *sp)
{
	struct span_table *t = new_table();
	struct clocks c = { .pid = { 10 }, .ns = { sp->clock_ns } };
	struct sample s = tick(tasks, n, 0, 100);
	struct span out = { 0 };
	uint64_t id;

	if (sp->open_ms >= 100)
		span_tick(t, &s, &(struct span_io){ .cum = clock_of, .ctx = &c });
	id = open_at(t, "step", SPAN_SCOPE_PROCESS, sp->pid, 1000, sp->open_cum_ns, sp->open_ms);
	if (sp->open_ms < 100)
		span_tick(t, &s, &(struct span_io){ .cum = clock_of, .ctx = &c });
	assert_int_equal(close_at(t, id, 1000, sp->close_cum_ns, sp->close_ms, &out), 0);
	span_table_free(t);
	return out;
}

static void test_span_process_when_ticks_and_close_read_its_clock_values_cpu_at_its_rate(void **state)
{
	struct sample_task tasks[1] = { task(10, 1, 100 * MS, 1000) }; /* 10 uJ per ms of CPU */
	/* closed at 120 ms with the clock at 57 ms: 37 ms of CPU in all, exactly */
	struct span out = span_around_tick(tasks, 1, &(struct tick_span){ .pid = 10, .clock_ns = 50 * MS,
						.open_cum_ns = 20 * MS, .open_ms = 40, .close_cum_ns = 57 * MS, .close_ms = 120 });

	assert_int_equal(out.state, SPAN_CLOSED);
	assert_true(out.tot.cpu_ns == 37 * MS);
	assert_int_equal(out.tot.cpu_uj, 370);
	assert_int_equal(out.tot.operational_ug, 37);
}

static void test_span_process_when_no_tick_falls_inside_uses_the_hosts_rate(void **state)
{
	struct sample_task tasks[2] = { task(1, 0, 10 * MS, 100), task(2, 0, 30 * MS, 300) }; /* 10 uJ/ms */
	/* a 20 ms span of another process, opened and closed between two ticks */
	struct span out = span_around_tick(tasks, 2, &(struct tick_span){ .pid = 77, .open_cum_ns = 5 * MS,
						.open_ms = 110, .close_cum_ns = 25 * MS, .close_ms = 130 });

	assert_true(out.tot.cpu_ns == 20 * MS);
	assert_int_equal(out.tot.cpu_uj, 200);
	assert_true(out.close_mono_ns - out.open_mono_ns == 20 * MS);
}

static void test_span_host_share_when_span_covers_part_of_a_tick_prorates_host_energy(void **state)
{
	struct sample_task tasks[1] = { task(10, 1, 100 * MS, 1000) };	/* host: 2000 uJ over 100 ms */
	/* 25 ms past the tick at the tick's host power: 500 uJ more */
	struct span out = span_around_tick(tasks, 1, &(struct tick_span){ .pid = 10, .clock_ns = 60 * MS,
						.open_cum_ns = 10 * MS, .open_ms = 50, .close_cum_ns = 60 * MS, .close_ms = 125 });

	assert_int_equal(out.host_uj, 1000 + 500);
}

/* Every span a drain hands over, in order. */
struct drained {
	struct span v[4];
	size_t n;
};

static void keep_all(void *ctx, const struct span *sp)
{
	struct drained *d = ctx;

	if (d->n < 4)
		d->v[d->n++] = *sp;
}

static void test_span_drain_when_process_exited_hands_it_over_as_exited(void **state)
{
	struct span_table *t = new_table();
	struct sample_task t1[1] = { task(10, 1, 40 * MS, 400) };
	struct clocks c = { .pid = { 10 }, .ns = { 100 * MS } };
	struct sample s1 = tick(t1, 1, 0, 100);
	struct drained got = { 0 };

	t1[0].exited = true;
	open_at(t, "doomed", SPAN_SCOPE_PROCESS, 10, 1000, 0, 0);
	span_tick(t, &s1, &(struct span_io){ .cum = clock_of, .ctx = &c });
	span_drain(t, keep_all, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].state, SPAN_EXITED);
	assert_true(got.v[0].tot.cpu_ns == 40 * MS);
	assert_int_equal(got.v[0].tot.cpu_uj, 400);
	assert_true(got.v[0].close_mono_ns == 100 * MS);
	span_table_free(t);
}

static void test_span_open_when_a_uid_has_too_many_refuses_it_but_not_others(void **state)
{
	struct span_table *t = new_table();
	struct span_open_req r = { .name = "n", .pid = 5, .uid = 1000 };
	uint64_t id;

	for (int i = 0; i < SPAN_MAX_PER_UID; i++)
		assert_int_equal(span_open(t, &r, &id), 0);
	assert_int_equal(span_open(t, &r, &id), -EDQUOT);
	r.uid = 1001;
	assert_int_equal(span_open(t, &r, &id), 0);
	r.name = "bad name";
	assert_int_equal(span_open(t, &r, &id), -EINVAL);
	span_table_free(t);
}

static void test_span_close_when_another_uid_asks_is_not_found_but_root_may(void **state)
{
	struct span_table *t = new_table();
	struct span out;
	uint64_t id;

	id = open_at(t, "mine", SPAN_SCOPE_PROCESS, 10, 1000, 0, 0);
	assert_int_equal(close_at(t, id, 1001, 0, 1, &out), -ENOENT);
	assert_int_equal(close_at(t, id + 1, 1000, 0, 1, &out), -ENOENT);
	assert_int_equal(close_at(t, id, 0, 0, 1, &out), 0);
	assert_int_equal(close_at(t, id, 0, 0, 1, &out), -ENOENT);
	span_table_free(t);
}

static void test_span_metrics_when_names_overflow_sum_the_rest_into_other(void **state)
{
	struct span_table *t = new_table();
	struct span_metrics m;
	struct span out;
	char name[16];

	for (int i = 0; i < SPAN_METRIC_NAMES + 3; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(close_at(t, open_at(t, name, SPAN_SCOPE_PROCESS, 10, 1000, 0, 0), 1000, MS, 1, &out), 0);
	}
	/* a name seen before keeps its own series */
	assert_int_equal(close_at(t, open_at(t, "n0", SPAN_SCOPE_PROCESS, 10, 1000, 0, 0), 1000, MS, 1, &out), 0);
	span_get_metrics(t, &m);
	assert_int_equal(m.n, SPAN_METRIC_NAMES);
	assert_int_equal(m.names[0].count, 2);
	assert_string_equal(m.other.name, "_other");
	assert_int_equal(m.other.count, 3);
	assert_int_equal(m.closed, SPAN_METRIC_NAMES + 4);
	assert_int_equal(m.open, 0);
	span_table_free(t);
}

static void test_span_tree_when_children_appear_counts_them_from_the_open_on(void **state)
{
	struct span_table *t = new_table();
	/* grandchild listed before its parent; 300 is not in the tree */
	struct sample_task t1[4] = { task(21, 20, 10 * MS, 100), task(20, 10, 20 * MS, 200), task(10, 1, 10 * MS, 100),
				     task(300, 1, 50 * MS, 500) };
	struct sample s1 = tick(t1, 4, 0, 100);
	struct clocks c = { 0 };
	struct span out;
	uint64_t id;

	/* opened half-way through the tick: half of the tree's charge in it */
	id = open_at(t, "build", SPAN_SCOPE_TREE, 10, 1000, 0, 50);
	span_tick(t, &s1, &(struct span_io){ .cum = clock_of, .ctx = &c });
	assert_int_equal(close_at(t, id, 1000, 0, 100, &out), 0);
	assert_true(out.tot.cpu_ns == 20 * MS);
	assert_int_equal(out.tot.cpu_uj, 200);
	span_table_free(t);
}

/* The cgroup a tick reads: what cgroup.procs lists now (gone: the cgroup was removed). */
struct cgroup_now {
	uint32_t pids[4];
	size_t n;
	bool gone;
	char seen[64];	/* the path the span asked for */
};

static int members_of(void *ctx, const char *cgroup, uint32_t **pids, size_t *n)
{
	struct cgroup_now *c = ctx;

	snprintf(c->seen, sizeof(c->seen), "%s", cgroup);
	*n = 0;
	*pids = NULL;
	if (c->gone)
		return -ENOENT;
	*pids = malloc(sizeof(c->pids));
	if (!*pids)
		return -ENOMEM;
	memcpy(*pids, c->pids, sizeof(c->pids));
	*n = c->n;
	return 0;
}

static uint64_t open_cgroup(struct span_table *t, uint32_t pid, const uint32_t *procs, size_t n, uint64_t mono_ms)
{
	struct span_open_req r = { .name = "svc", .scope = SPAN_SCOPE_CGROUP, .pid = pid, .uid = 1000,
				   .mono_ns = mono_ms * MS, .real_ns = mono_ms * MS, .children = procs, .nchildren = n,
				   .cgroup = "/system.slice/app.service" };
	uint64_t id = 0;

	assert_int_equal(span_open(t, &r, &id), 0);
	return id;
}

static void test_span_cgroup_when_processes_join_and_leave_counts_each_while_a_member(void **state)
{
	struct span_table *t = new_table();
	/* tick 1: 10 (the opener) and 30 are in the cgroup, 30 moves out during it, 40 joins; 99 never a member */
	struct sample_task t1[4] = { task(10, 1, 10 * MS, 100), task(30, 1, 20 * MS, 200), task(40, 1, 30 * MS, 300),
				     task(99, 1, 50 * MS, 500) };
	/* tick 2: 30 runs outside now, 40 inside */
	struct sample_task t2[3] = { task(10, 1, 10 * MS, 100), task(30, 1, 20 * MS, 200), task(40, 1, 30 * MS, 300) };
	struct sample s1 = tick(t1, 4, 0, 100), s2 = tick(t2, 3, 100, 200);
	const uint32_t at_open[] = { 10, 30 };
	struct cgroup_now cg = { .pids = { 40, 10 }, .n = 2 };
	struct span_io io = { .cum = clock_of, .members = members_of, .ctx = &cg };
	struct span out;
	uint64_t id = open_cgroup(t, 10, at_open, 2, 0);

	span_tick(t, &s1, &io);
	assert_string_equal(cg.seen, "/system.slice/app.service");
	span_tick(t, &s2, &io);
	assert_int_equal(close_at(t, id, 1000, 0, 200, &out), 0);
	assert_string_equal(out.cgroup, "/system.slice/app.service");
	/* tick 1: 10 + 30 (a member when the tick began) + 40 (a member at its end); tick 2: 10 + 40 */
	if (out.tot.cpu_uj != (100 + 200 + 300) + (100 + 300))
		fail_msg("cgroup span: %llu uJ, want 1000", (unsigned long long)out.tot.cpu_uj);
	assert_true(out.tot.cpu_ns == 100 * MS);
	assert_int_equal(out.state, SPAN_CLOSED);
	span_table_free(t);
}

static void test_span_cgroup_when_the_cgroup_is_removed_closes_it_as_exited(void **state)
{
	struct span_table *t = new_table();
	struct sample_task t1[1] = { task(10, 1, 10 * MS, 100) };
	struct sample s1 = tick(t1, 1, 0, 100);
	const uint32_t at_open[] = { 10 };
	struct cgroup_now cg = { .gone = true };
	struct span_io io = { .cum = clock_of, .members = members_of, .ctx = &cg };
	struct drained got = { 0 };

	open_cgroup(t, 10, at_open, 1, 0);
	span_tick(t, &s1, &io);
	span_drain(t, keep_all, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].state, SPAN_EXITED);
	assert_int_equal(got.v[0].tot.cpu_uj, 100);	/* what its members ran before it went is counted */
	span_table_free(t);
}

static void test_span_close_all_when_the_daemon_stops_records_open_spans_as_stopped(void **state)
{
	struct span_table *t = new_table();
	struct sample_task t1[1] = { task(10, 1, 10 * MS, 100) };
	struct sample s1 = tick(t1, 1, 0, 100);
	struct clocks c = { .pid = { 10 }, .ns = { 10 * MS } };
	struct span_io io = { .cum = clock_of, .ctx = &c };
	struct drained got = { 0 };

	open_at(t, "step", SPAN_SCOPE_PROCESS, 10, 1000, 0, 0);
	open_at(t, "build", SPAN_SCOPE_TREE, 10, 1000, 0, 0);
	span_tick(t, &s1, &io);
	c.ns[0] = 15 * MS;	/* 5 ms more on its clock by the time the daemon stops */
	span_close_all(t, &io, 150 * MS, 150 * MS);
	span_drain(t, keep_all, &got);
	assert_int_equal(got.n, 2);
	for (size_t i = 0; i < got.n; i++) {
		assert_int_equal(got.v[i].state, SPAN_STOPPED);
		assert_true(got.v[i].close_mono_ns == 150 * MS);
	}
	assert_true(got.v[0].tot.cpu_ns == 15 * MS);	/* process scope: its clock to the stop */
	assert_true(got.v[1].tot.cpu_ns == 15 * MS);	/* tree: the tick, and half a tick more at its rate */
	assert_string_equal(span_state_name(SPAN_STOPPED), "stopped");
	assert_string_equal(span_scope_name(SPAN_SCOPE_CGROUP), "cgroup");
	span_table_free(t);
}

TL_MAIN(
	cmocka_unit_test(test_span_name_check_when_names_vary_accepts_only_the_charset),
	cmocka_unit_test(test_span_value_when_figures_are_large_is_exact_and_rounds_down),
	cmocka_unit_test(test_span_process_when_ticks_and_close_read_its_clock_values_cpu_at_its_rate),
	cmocka_unit_test(test_span_process_when_no_tick_falls_inside_uses_the_hosts_rate),
	cmocka_unit_test(test_span_host_share_when_span_covers_part_of_a_tick_prorates_host_energy),
	cmocka_unit_test(test_span_drain_when_process_exited_hands_it_over_as_exited),
	cmocka_unit_test(test_span_open_when_a_uid_has_too_many_refuses_it_but_not_others),
	cmocka_unit_test(test_span_close_when_another_uid_asks_is_not_found_but_root_may),
	cmocka_unit_test(test_span_metrics_when_names_overflow_sum_the_rest_into_other),
	cmocka_unit_test(test_span_tree_when_children_appear_counts_them_from_the_open_on),
	cmocka_unit_test(test_span_cgroup_when_processes_join_and_leave_counts_each_while_a_member),
	cmocka_unit_test(test_span_cgroup_when_the_cgroup_is_removed_closes_it_as_exited),
	cmocka_unit_test(test_span_close_all_when_the_daemon_stops_records_open_spans_as_stopped)
)
