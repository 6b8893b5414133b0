// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the store's relabel hook: a process that moves is charged to its new group from that sample on. */
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

#define TICK (100 * NSEC_PER_MSEC)
#define NPID 200

/*
 * The world the labeler and relabeler see: which unit each pid is in now.
 * (These are the store's two callbacks, given plain functions over a table:
 * the real ones read /proc and are tested in test_identity.c.)
 */
struct world {
	char unit[NPID][32];
	unsigned checks[NPID];
};

static void label_of(const struct world *w, uint32_t pid, const char *comm, struct proc_labels *l)
{
	labels_from_comm(comm, l);
	snprintf(l->unit, sizeof(l->unit), "%s", w->unit[pid]);
	labels_choose_group(l, comm);
}

static int labeler(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out)
{
	label_of(ctx, pid, comm, out);
	return 0;
}

static int relabel(void *ctx, uint32_t pid, const char *comm, struct proc_labels *l)
{
	struct world *w = ctx;
	struct proc_labels now;

	w->checks[pid]++;
	label_of(w, pid, comm, &now);
	if (!labels_moved(l, &now))
		return 0;
	*l = now;
	return 1;
}

static struct sample mk(uint64_t seq, struct sample_task *t, size_t n)
{
	struct sample s = { .seq = seq, .ntasks = n, .tasks = t, .source = ENERGY_SRC_MODEL };

	s.mono_start_ns = seq * TICK;
	s.mono_end_ns = (seq + 1) * TICK;
	s.real_start_ns = 1700000000ULL * NSEC_PER_SEC + s.mono_start_ns;
	s.real_end_ns = s.real_start_ns + TICK;
	for (size_t i = 0; i < n; i++)
		s.host_cpu_uj += t[i].tot.cpu_uj;
	s.host_domain_uj[ENERGY_PACKAGE] = s.host_cpu_uj;
	s.domains = 1u << ENERGY_PACKAGE;
	return s;
}

static struct sample_task task(uint32_t pid, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .ppid = 1, .start_ns = pid * 10ULL,
				 .tot = { .cpu_ns = 10 * NSEC_PER_MSEC, .cpu_uj = uj } };

	snprintf(t.comm, sizeof(t.comm), "worker");
	return t;
}

struct gfind {
	const char *name;
	struct store_group g;
	bool found;
};

static int find_cb(const struct store_group *g, void *ctx)
{
	struct gfind *f = ctx;

	if (strcmp(g->name, f->name))
		return 0;
	f->g = *g;
	f->found = true;
	return 1;
}

static struct gfind group(struct store *s, const char *name)
{
	struct gfind f = { .name = name };

	store_foreach_group(s, find_cb, &f);
	return f;
}

static void test_store_when_process_moves_new_group_gets_energy_from_that_sample(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct store_cfg cfg = { .labeler = labeler, .relabel = relabel };
	struct sample_task t = task(7, 1000);
	struct sample smp;
	struct store *s;
	struct gfind a, b;

	(void)state;
	cfg.labeler_ctx = w;
	snprintf(w->unit[7], sizeof(w->unit[7]), "before.service");
	assert_int_equal(store_open(&s, &cfg), 0);
	for (uint64_t seq = 0; seq < 3; seq++) {
		smp = mk(seq, &t, 1);
		assert_int_equal(store_add_sample(s, &smp), 0);
	}
	snprintf(w->unit[7], sizeof(w->unit[7]), "after.service");
	for (uint64_t seq = 3; seq < 5; seq++) {
		smp = mk(seq, &t, 1);
		assert_int_equal(store_add_sample(s, &smp), 0);
	}
	a = group(s, "before.service");
	b = group(s, "after.service");
	assert_true(a.found && b.found);
	assert_int_equal(a.g.total.cpu_uj, 3000); /* the three samples before the move, not one more */
	assert_int_equal(b.g.total.cpu_uj, 2000); /* from the sample it moved in */
	assert_int_equal(a.g.live, 0);
	assert_int_equal(b.g.live, 1);
	assert_string_equal(b.g.labels.unit, "after.service");
	store_close(s);
	free(w);
}

static void test_store_when_many_tasks_rechecks_a_bounded_round_robin(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct store_cfg cfg = { .labeler = labeler, .relabel = relabel, .relabel_per_sample = 16 };
	struct sample_task t[100];
	struct sample smp;
	struct store *s;

	(void)state;
	cfg.labeler_ctx = w;
	for (int i = 0; i < 100; i++) {
		t[i] = task((uint32_t)(i + 1), 10);
		snprintf(w->unit[i + 1], sizeof(w->unit[i + 1]), "u%d.service", i % 3);
	}
	assert_int_equal(store_open(&s, &cfg), 0);
	/* the first sample labels everyone; then 25 samples of 16 re-checks cover the 100 tasks four times */
	for (uint64_t seq = 0; seq < 26; seq++) {
		smp = mk(seq, t, 100);
		assert_int_equal(store_add_sample(s, &smp), 0);
	}
	for (int i = 1; i <= 100; i++)
		assert_int_equal(w->checks[i], 4);
	store_close(s);
	free(w);
}

static void test_store_when_few_tasks_rechecks_every_one_every_sample(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct store_cfg cfg = { .labeler = labeler, .relabel = relabel };
	struct sample_task t[10];
	struct sample smp;
	struct store *s;

	(void)state;
	cfg.labeler_ctx = w;
	for (int i = 0; i < 10; i++)
		t[i] = task((uint32_t)(i + 1), 10);
	assert_int_equal(store_open(&s, &cfg), 0);
	for (uint64_t seq = 0; seq < 5; seq++) {
		smp = mk(seq, t, 10);
		assert_int_equal(store_add_sample(s, &smp), 0);
	}
	for (int i = 1; i <= 10; i++)
		assert_int_equal(w->checks[i], 4); /* every sample after the first */
	store_close(s);
	free(w);
}

TL_MAIN(
	cmocka_unit_test(test_store_when_process_moves_new_group_gets_energy_from_that_sample),
	cmocka_unit_test(test_store_when_many_tasks_rechecks_a_bounded_round_robin),
	cmocka_unit_test(test_store_when_few_tasks_rechecks_every_one_every_sample)
)
