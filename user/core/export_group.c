// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A report's rows per workload or per label (--by): the key columns of each grouping, and the rows summed from parts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "joule/export.h"

static const struct {
	const char *name;
	const char *cols[4];
} by_tab[EXPORT_BY_N] = {
	[EXPORT_BY_PROCESS] = { "process", { NULL } },
	[EXPORT_BY_WORKLOAD] = { "workload", { "group_kind", "group", NULL } },
	[EXPORT_BY_UNIT] = { "unit", { "unit", NULL } },
	[EXPORT_BY_SLICE] = { "slice", { "slice", NULL } },
	[EXPORT_BY_CONTAINER] = { "container", { "runtime", "container_id", "container_name", NULL } },
	[EXPORT_BY_POD] = { "pod", { "namespace", "pod", "pod_uid", NULL } },
	[EXPORT_BY_NAMESPACE] = { "namespace", { "namespace", NULL } },
	[EXPORT_BY_JOB] = { "job", { "job_id", "job_user", NULL } },
	[EXPORT_BY_COMM] = { "comm", { "comm", NULL } },
};

int export_by_parse(const char *name, enum export_by *out)
{
	for (int i = 0; name && i < EXPORT_BY_N; i++)
		if (strcmp(by_tab[i].name, name) == 0) {
			*out = (enum export_by)i;
			return 0;
		}
	return -EINVAL;
}

const char *export_by_name(enum export_by by)
{
	return by >= 0 && by < EXPORT_BY_N ? by_tab[by].name : "unknown";
}

const char *const *export_by_columns(enum export_by by)
{
	return by_tab[by >= 0 && by < EXPORT_BY_N ? by : EXPORT_BY_PROCESS].cols;
}

const char *export_label_value(const struct proc_labels *l, const char *comm, const char *col)
{
	struct labels_field f[LABELS_NIDENTITY];
	int n;

	if (strcmp(col, "comm") == 0)
		return comm ? comm : "";
	if (!l)
		return "";
	if (strcmp(col, "group") == 0)
		return l->group;
	if (strcmp(col, "group_kind") == 0)
		return group_kind_name(l->kind);
	n = labels_identity(l, f);
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].json, col) == 0)
			return f[i].value;
	return "";
}

/* FNV-1a over the key columns, each ended by a NUL so "ab","c" and "a","bc" differ. */
static uint64_t key_hash(enum export_by by, const struct proc_labels *l, const char *comm)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *const *c = export_by_columns(by); *c; c++)
		for (const char *v = export_label_value(l, comm, *c);; v++) {
			h = (h ^ (unsigned char)*v) * 1099511628211ull;
			if (!*v)
				break;
		}
	return h;
}

static bool same_key(enum export_by by, const struct export_group *row, const struct proc_labels *l, const char *comm)
{
	for (const char *const *c = export_by_columns(by); *c; c++)
		if (strcmp(export_label_value(row->has_labels ? &row->labels : NULL, row->comm, *c),
			   export_label_value(l, comm, *c)) != 0)
			return false;
	return true;
}

static int row_new(struct export_grouping *g, const struct proc_labels *l, const char *comm, size_t *out)
{
	struct export_group *row;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct export_group *v = realloc(g->v, cap * sizeof(*v));
		size_t *last = v ? realloc(g->last_proc, cap * sizeof(*last)) : NULL;

		if (v)
			g->v = v;
		if (!last)
			return -ENOMEM;
		g->last_proc = last;
		g->cap = cap;
	}
	row = &g->v[g->n];
	memset(row, 0, sizeof(*row));
	if (l) {
		row->has_labels = true;
		row->labels = *l;
		/* a comm group spans units and containers: it has no workload labels of its own */
		if (g->by == EXPORT_BY_WORKLOAD && l->kind == GROUP_COMM)
			labels_from_comm(l->group, &row->labels);
	}
	snprintf(row->comm, sizeof(row->comm), "%s", comm ? comm : "");
	g->last_proc[g->n] = SIZE_MAX;
	*out = g->n++;
	return 0;
}

int export_grouping_add(struct export_grouping *g, const struct proc_labels *l, const char *comm, size_t proc,
			const struct export_figures *f)
{
	uint64_t h = key_hash(g->by, l, comm);
	struct export_group *row;
	size_t i;
	uint32_t probe = 0;
	int err;

	/* (probe, hash) -> row: a hash shared by two keys takes the next probe */
	while (proctab_find(&g->index, probe, h, &i) && !same_key(g->by, &g->v[i], l, comm))
		probe++;
	if (!proctab_find(&g->index, probe, h, &i)) {
		err = row_new(g, l, comm, &i);
		if (err)
			return err;
		err = proctab_put(&g->index, probe, h, i);
		if (err) {
			g->n--;
			return err;
		}
	}
	row = &g->v[i];
	if (g->last_proc[i] != proc) {
		g->last_proc[i] = proc;
		row->processes++;
	}
	export_figures_add(&row->f, f);
	return 0;
}

static uint64_t row_energy_uj(const struct export_group *r)
{
	return r->f.tot.cpu_uj + r->f.tot.mem_uj;
}

static int by_energy_desc(const void *a, const void *b)
{
	const struct export_group *ra = a, *rb = b;
	uint64_t x = row_energy_uj(ra), y = row_energy_uj(rb);
	int c;

	if (x != y)
		return x < y ? 1 : -1;
	/* ties in a fixed order, so the same ledger always gives the same table */
	c = strcmp(ra->labels.group, rb->labels.group);
	return c ? c : strcmp(ra->comm, rb->comm);
}

void export_grouping_take(struct export_grouping *g, struct export_group **out, size_t *n)
{
	if (g->n)
		qsort(g->v, g->n, sizeof(*g->v), by_energy_desc);
	*out = g->v;
	*n = g->n;
	g->v = NULL;
	g->n = g->cap = 0;
	free(g->last_proc);
	g->last_proc = NULL;
	proctab_clear(&g->index);
}

void export_grouping_free(struct export_grouping *g)
{
	free(g->v);
	free(g->last_proc);
	proctab_free(&g->index);
	memset(g, 0, sizeof(*g));
}
