// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-process totals over a window: a sorted array (reports come out in pid order for free) indexed by proctab. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "joule/acct.h"
#include "joule/util.h"

static int cmp_key(uint32_t pid, uint64_t start, const struct acct_entry *e)
{
	if (pid != e->pid)
		return pid < e->pid ? -1 : 1;
	if (start != e->start_ns)
		return start < e->start_ns ? -1 : 1;
	return 0;
}

/* Index of the entry, or of where it would be inserted. */
static size_t lower_bound(const struct acct *a, uint32_t pid, uint64_t start)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(pid, start, &a->v[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Point the index at every entry again (after entries moved). */
static void reindex(struct acct *a, size_t from)
{
	/*
	 * Every key is in the index already, or the index held at least as many
	 * before a clear, so no put here allocates and none can fail.
	 */
	for (size_t i = from; i < a->n; i++)
		proctab_put(&a->index, a->v[i].pid, a->v[i].start_ns, i);
}

struct acct_entry *acct_find(const struct acct *a, uint32_t pid, uint64_t start_ns)
{
	size_t i;

	return proctab_find(&a->index, pid, start_ns, &i) ? &a->v[i] : NULL;
}

/* A new entry for t's process at its place in the order. 0 or -ENOMEM (nothing changed). */
static int insert(struct acct *a, const struct sample_task *t, size_t *at)
{
	size_t i;

	if (array_reserve(&a->v, &a->cap, a->n + 1, sizeof(*a->v), 64))
		return -ENOMEM;
	/* pids mostly grow, so a new process is mostly the last one: no search, nothing moves */
	i = a->n && cmp_key(t->pid, t->start_ns, &a->v[a->n - 1]) < 0 ? lower_bound(a, t->pid, t->start_ns) : a->n;
	if (proctab_put(&a->index, t->pid, t->start_ns, i))
		return -ENOMEM;
	memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(*a->v));
	a->n++;
	reindex(a, i + 1);
	memset(&a->v[i], 0, sizeof(a->v[i]));
	*at = i;
	return 0;
}

int acct_add(struct acct *a, const struct sample_task *t)
{
	struct acct_entry *e;
	size_t i;
	int err;

	if (!proctab_find(&a->index, t->pid, t->start_ns, &i)) {
		err = insert(a, t, &i);
		if (err)
			return err;
		a->v[i].pid = t->pid;
		a->v[i].start_ns = t->start_ns;
		a->v[i].nprocs = 1;
	}
	e = &a->v[i];
	/* the latest name wins: exec renames a process */
	e->ppid = t->ppid;
	memcpy(e->comm, t->comm, sizeof(e->comm));
	if (t->exited) {
		e->exited = true;
		e->exit_code = t->exit_code;
	}
	sample_totals_add(&e->tot, &t->tot);
	return 0;
}

void acct_clear(struct acct *a)
{
	a->n = 0;
	proctab_clear(&a->index);
}

void acct_drop_exited(struct acct *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		if (!a->v[i].exited)
			a->v[n++] = a->v[i];
	a->n = n;
	proctab_clear(&a->index);
	reindex(a, 0);
}

void acct_free(struct acct *a)
{
	free(a->v);
	proctab_free(&a->index);
	memset(a, 0, sizeof(*a));
}

void acct_group_by_comm(struct acct *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++) {
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(a->v[j].comm, a->v[i].comm) == 0)
				break;
		if (j == n) {
			a->v[n] = a->v[i];
			a->v[n].pid = 0;
			a->v[n].ppid = 0;
			n++;
			continue;
		}
		a->v[j].nprocs += a->v[i].nprocs;
		sample_totals_add(&a->v[j].tot, &a->v[i].tot);
	}
	a->n = n;
	/* merged entries are no process (pid 0): nothing to find by key until acct_clear */
	proctab_clear(&a->index);
}
