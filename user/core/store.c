// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* In-memory store of samples: process and group totals, a 10 Hz ring, downsampled series; fixed upper bounds. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/store.h"
#include "joule/util.h"

/* A process missing from samples this long without an exit record is gone (exit event lost). */
#define STALE_NS (3600 * NSEC_PER_SEC)
/* Resolutions: 1 s for an hour and 1 min for a week (host); 1 min for 3 h (groups, own-series processes). */
#define SEC_LEN 3600
#define MIN_LEN (7 * 24 * 60)
#define GROUP_MIN_LEN 180
#define MIN_NS (60 * NSEC_PER_SEC)

struct bucket {
	uint64_t idx1; /* bucket index + 1 (0: empty) */
	uint64_t cpu_uj, mem_uj, carbon_ug, embodied_ug;
};

struct series {
	uint64_t width_ns;
	size_t len;
	struct bucket *b;
};

struct proc_entry {
	struct store_proc v;
	bool used;
	int next;		/* hash chain; -1 ends */
	uint32_t group;
	bool group_set;		/* group is valid: group_get succeeded */
	uint64_t last_seen_mono_ns;
	struct series *min;	/* allocated once the process has its own series */
};

struct group_entry {
	struct store_group v;
	int next;
	struct series min;
};

struct store {
	struct store_cfg cfg;
	pthread_rwlock_t lock;
	char **filters;
	size_t nfilters;

	struct proc_entry *procs;
	int *proc_hash;
	size_t proc_hash_mask;
	int free_head;
	size_t nprocs, nown;

	struct group_entry **groups;
	size_t ngroups;
	int *group_hash;
	size_t group_hash_mask;

	struct store_host host;
	struct series sec, min;
	struct store_recent *recent;
	size_t recent_head, recent_n;
	uint64_t last_seq;
	size_t relabel_off;	/* where this sample's round of re-checks starts */
};

static int series_init(struct series *s, uint64_t width_ns, size_t len)
{
	s->width_ns = width_ns;
	s->len = len;
	s->b = calloc(len, sizeof(*s->b));
	return s->b ? 0 : -ENOMEM;
}

static void series_add(struct series *s, uint64_t real_ns, const struct store_totals *t)
{
	uint64_t idx = real_ns / s->width_ns;
	struct bucket *b = &s->b[idx % s->len];

	if (b->idx1 != idx + 1) {
		memset(b, 0, sizeof(*b));
		b->idx1 = idx + 1;
	}
	b->cpu_uj += t->cpu_uj;
	b->mem_uj += t->mem_uj;
	b->carbon_ug += t->carbon_ug;
	b->embodied_ug += t->embodied_ug;
}

/* Sum buckets with index in [from, to). */
static void series_sum(const struct series *s, uint64_t from, uint64_t to, struct store_point *p)
{
	for (uint64_t i = from; i < to; i++) {
		const struct bucket *b = &s->b[i % s->len];

		if (b->idx1 != i + 1)
			continue;
		p->cpu_uj += b->cpu_uj;
		p->mem_uj += b->mem_uj;
		p->carbon_ug += b->carbon_ug;
		p->embodied_ug += b->embodied_ug;
	}
}

static uint64_t hash_u32(uint32_t x)
{
	uint64_t h = x * 0x9E3779B97F4A7C15ULL;

	return h ^ (h >> 29);
}

static uint64_t hash_group(enum group_kind k, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)k;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

int store_set_filters(struct store *s, char *const *filters, size_t n)
{
	char **f = calloc(n ? n : 1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		f[i] = strdup(filters[i]);
		if (!f[i]) {
			while (i--)
				free(f[i]);
			free(f);
			return -ENOMEM;
		}
	}
	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < s->nfilters; i++)
		free(s->filters[i]);
	free(s->filters);
	s->filters = f;
	s->nfilters = n;
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

int store_open(struct store **out, const struct store_cfg *cfg)
{
	struct store *s = calloc(1, sizeof(*s));
	size_t nb;

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.max_procs)
		s->cfg.max_procs = 16384;
	if (!s->cfg.max_groups)
		s->cfg.max_groups = 4096;
	if (!s->cfg.max_series)
		s->cfg.max_series = 1000;
	if (!s->cfg.grace_ns)
		s->cfg.grace_ns = 300 * NSEC_PER_SEC;
	if (!s->cfg.recent_len)
		s->cfg.recent_len = 600;
	pthread_rwlock_init(&s->lock, NULL);

	s->procs = calloc(s->cfg.max_procs, sizeof(*s->procs));
	nb = pow2_at_least(s->cfg.max_procs);
	s->proc_hash = malloc(nb * sizeof(int));
	s->proc_hash_mask = nb - 1;
	/* one slot more than max_groups: the "other" group that absorbs the excess */
	s->groups = calloc(s->cfg.max_groups + 1, sizeof(*s->groups));
	nb = pow2_at_least(s->cfg.max_groups * 2);
	s->group_hash = malloc(nb * sizeof(int));
	s->group_hash_mask = nb - 1;
	s->recent = calloc(s->cfg.recent_len, sizeof(*s->recent));
	if (!s->procs || !s->proc_hash || !s->groups || !s->group_hash || !s->recent ||
	    series_init(&s->sec, NSEC_PER_SEC, SEC_LEN) || series_init(&s->min, MIN_NS, MIN_LEN)) {
		store_close(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= s->proc_hash_mask; i++)
		s->proc_hash[i] = -1;
	for (size_t i = 0; i <= s->group_hash_mask; i++)
		s->group_hash[i] = -1;
	for (size_t i = 0; i < s->cfg.max_procs; i++)
		s->procs[i].next = i + 1 < s->cfg.max_procs ? (int)i + 1 : -1;
	s->free_head = 0;
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->procs)
		for (size_t i = 0; i < s->cfg.max_procs; i++)
			if (s->procs[i].min) {
				free(s->procs[i].min->b);
				free(s->procs[i].min);
			}
	if (s->groups)
		for (size_t i = 0; i < s->ngroups; i++) {
			free(s->groups[i]->min.b);
			free(s->groups[i]);
		}
	for (size_t i = 0; i < s->nfilters; i++)
		free(s->filters[i]);
	free(s->filters);
	free(s->procs);
	free(s->proc_hash);
	free(s->groups);
	free(s->group_hash);
	free(s->recent);
	free(s->sec.b);
	free(s->min.b);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

static int group_get(struct store *s, enum group_kind kind, const char *name, uint32_t *idx)
{
	size_t h = hash_group(kind, name) & s->group_hash_mask;
	struct group_entry *g;

	for (int i = s->group_hash[h]; i >= 0; i = s->groups[i]->next)
		if (s->groups[i]->v.kind == kind && strcmp(s->groups[i]->v.name, name) == 0) {
			*idx = (uint32_t)i;
			return 0;
		}
	if (s->ngroups >= s->cfg.max_groups) {
		/* Full: charge to one "other" group so totals stay exact while memory stays bounded. */
		if (kind != GROUP_COMM || strcmp(name, "other") != 0) {
			s->host.groups_dropped++;
			return group_get(s, GROUP_COMM, "other", idx);
		}
		if (s->ngroups > s->cfg.max_groups)
			return -ENOSPC;
	}
	g = calloc(1, sizeof(*g));
	if (!g || series_init(&g->min, MIN_NS, GROUP_MIN_LEN)) {
		free(g);
		return -ENOMEM;
	}
	g->v.kind = kind;
	snprintf(g->v.name, sizeof(g->v.name), "%s", name);
	g->next = s->group_hash[h];
	s->group_hash[h] = (int)s->ngroups;
	s->groups[s->ngroups] = g;
	*idx = (uint32_t)s->ngroups++;
	s->host.groups = s->ngroups;
	return 0;
}

static bool filter_match(const struct store *s, const char *comm)
{
	for (size_t i = 0; i < s->nfilters; i++)
		if (strcmp(s->filters[i], comm) == 0)
			return true;
	return false;
}

static int give_own_series(struct store *s, struct proc_entry *e)
{
	if (e->v.own_series || s->nown >= s->cfg.max_series)
		return 0;
	if (!e->min) {
		e->min = calloc(1, sizeof(*e->min));
		if (!e->min || series_init(e->min, MIN_NS, GROUP_MIN_LEN)) {
			free(e->min);
			e->min = NULL;
			return -ENOMEM;
		}
	}
	e->v.own_series = true;
	s->nown++;
	return 0;
}

static struct proc_entry *proc_find(struct store *s, uint32_t pid, uint64_t start_ns)
{
	for (int i = s->proc_hash[hash_u32(pid) & s->proc_hash_mask]; i >= 0; i = s->procs[i].next)
		if (s->procs[i].v.pid == pid && s->procs[i].v.start_ns == start_ns)
			return &s->procs[i];
	return NULL;
}

static struct proc_entry *proc_new(struct store *s, const struct sample_task *t)
{
	size_t h = hash_u32(t->pid) & s->proc_hash_mask;
	struct proc_entry *e;
	int i = s->free_head;

	if (i < 0)
		return NULL;
	e = &s->procs[i];
	s->free_head = e->next;
	memset(&e->v, 0, sizeof(e->v));
	e->used = true;
	e->v.pid = t->pid;
	e->v.ppid = t->ppid;
	e->v.start_ns = t->start_ns;
	memcpy(e->v.comm, t->comm, sizeof(e->v.comm));
	e->v.comm[sizeof(e->v.comm) - 1] = '\0';
	e->next = s->proc_hash[h];
	s->proc_hash[h] = i;
	s->nprocs++;
	s->host.procs_tracked = s->nprocs;
	return e;
}

static void totals_add(struct store_totals *a, const struct store_totals *b)
{
	a->cpu_ns += b->cpu_ns;
	a->cpu_uj += b->cpu_uj;
	a->mem_uj += b->mem_uj;
	a->carbon_ug += b->carbon_ug;
	a->embodied_ug += b->embodied_ug;
}

static void proc_free(struct store *s, struct proc_entry *e)
{
	int idx = (int)(e - s->procs);
	int *pp = &s->proc_hash[hash_u32(e->v.pid) & s->proc_hash_mask];

	while (*pp != idx)
		pp = &s->procs[*pp].next;
	*pp = e->next;
	if (e->group_set) {
		struct group_entry *g = s->groups[e->group];

		/*
		 * Its own series vanishes: the group's rest takes it over so the
		 * family's sum stays equal to the group total.
		 */
		if (e->v.own_series)
			totals_add(&g->v.rest, &e->v.series);
		if (g->v.live)
			g->v.live--;
	}
	if (e->v.own_series)
		s->nown--;
	e->group_set = false;
	if (e->min) {
		free(e->min->b);
		free(e->min);
		e->min = NULL;
	}
	e->used = false;
	e->next = s->free_head;
	s->free_head = idx;
	s->nprocs--;
	s->host.procs_tracked = s->nprocs;
}

static int cmp_energy_desc(const void *a, const void *b)
{
	const struct proc_entry *x = *(struct proc_entry *const *)a, *y = *(struct proc_entry *const *)b;
	uint64_t ex = x->v.total.cpu_uj + x->v.total.mem_uj, ey = y->v.total.cpu_uj + y->v.total.mem_uj;

	return ex < ey ? 1 : ex > ey ? -1 : 0;
}

/* Sticky top-N: the N live processes with most energy get their own series. */
static void select_top(struct store *s)
{
	struct proc_entry **v;
	size_t n = 0;

	if (!s->cfg.top_n)
		return;
	v = malloc(s->nprocs * sizeof(*v) + 1);
	if (!v)
		return;
	for (size_t i = 0; i < s->cfg.max_procs; i++)
		if (s->procs[i].used && !s->procs[i].v.exited)
			v[n++] = &s->procs[i];
	qsort(v, n, sizeof(*v), cmp_energy_desc);
	for (size_t i = 0; i < n && i < s->cfg.top_n; i++)
		give_own_series(s, v[i]);
	free(v);
}

/* Exited processes past their grace period, and stale ones, fold into their group (whose totals already hold them). */
static void fold_expired(struct store *s, uint64_t mono_ns)
{
	for (size_t i = 0; i < s->cfg.max_procs; i++) {
		struct proc_entry *e = &s->procs[i];

		if (!e->used)
			continue;
		if ((e->v.exited && mono_ns - e->v.exited_mono_ns >= s->cfg.grace_ns) ||
		    (!e->v.exited && mono_ns - e->last_seen_mono_ns >= STALE_NS))
			proc_free(s, e);
	}
}

/* A new group takes its workload identity from the member that created it ("other" has none). */
static void group_set_identity(struct store *s, uint32_t gi, const struct proc_labels *l)
{
	struct store_group *v = &s->groups[gi]->v;

	if (!v->labels.group[0] && v->kind == l->kind && !strcmp(v->name, l->group)) {
		v->labels = *l;
		v->labels.uid = UINT32_MAX; /* a group's members may differ */
		/* a comm group spans units and containers: it has no workload identity of its own */
		if (l->kind == GROUP_COMM)
			labels_from_comm(l->group, &v->labels);
	}
}

/*
 * The process moved to another cgroup: from this tick on its energy goes to
 * the new group. What it already used stays with the old group; its own
 * series (labelled with the old group) is handed to the old group's rest and
 * starts again at zero, so no series of the group family jumps.
 */
static int proc_regroup(struct store *s, struct proc_entry *e)
{
	struct group_entry *old = s->groups[e->group];
	uint32_t gi;
	int r = group_get(s, e->v.labels.kind, e->v.labels.group, &gi);

	if (r)
		return r;
	if (gi == e->group)
		return 0;
	group_set_identity(s, gi, &e->v.labels);
	if (e->v.own_series) {
		totals_add(&old->v.rest, &e->v.series);
		memset(&e->v.series, 0, sizeof(e->v.series));
	}
	if (old->v.live)
		old->v.live--;
	s->groups[gi]->v.live++;
	e->group = gi;
	return 0;
}

static int add_task(struct store *s, const struct sample *smp, const struct sample_task *t, bool recheck)
{
	struct store_totals d = {
		.cpu_ns = t->cpu_ns, .cpu_uj = t->cpu_uj, .mem_uj = t->mem_uj,
		.carbon_ug = t->carbon_ug, .embodied_ug = t->embodied_ug,
	};
	struct proc_entry *e = proc_find(s, t->pid, t->start_ns);
	struct group_entry *g;
	uint32_t gi;
	int r;

	if (!e) {
		struct proc_labels l;
		char comm[JOULE_COMM_LEN];

		memcpy(comm, t->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = '\0';
		e = proc_new(s, t);
		if (!e) {
			/* Table full: the group gets the energy, the process is not tracked. */
			s->host.procs_untracked++;
			r = group_get(s, GROUP_COMM, comm, &gi);
			if (r)
				return r;
			g = s->groups[gi];
			totals_add(&g->v.total, &d);
			totals_add(&g->v.rest, &d);
			series_add(&g->min, smp->real_end_ns, &d);
			return 0;
		}
		if (!s->cfg.labeler || s->cfg.labeler(s->cfg.labeler_ctx, t->pid, comm, &l) < 0)
			labels_from_comm(comm, &l);
		e->v.labels = l;
		r = group_get(s, l.kind, l.group, &gi);
		if (r) {
			proc_free(s, e);
			return r;
		}
		group_set_identity(s, gi, &l);
		e->group = gi;
		e->group_set = true;
		s->groups[gi]->v.live++;
		e->v.first_real_ns = smp->real_start_ns;
		if (filter_match(s, comm))
			give_own_series(s, e);
	} else if (recheck && s->cfg.relabel && !e->v.exited && !t->exited && e->group_set) {
		char comm[JOULE_COMM_LEN];

		memcpy(comm, t->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = '\0';
		if (s->cfg.relabel(s->cfg.labeler_ctx, t->pid, comm, &e->v.labels) > 0) {
			r = proc_regroup(s, e);
			if (r)
				return r;
		}
	}
	g = s->groups[e->group];
	e->last_seen_mono_ns = smp->mono_end_ns;
	e->v.last_real_ns = smp->real_end_ns;
	if (t->exited && !e->v.exited) {
		e->v.exited = true;
		e->v.exit_code = t->exit_code;
		e->v.exited_mono_ns = smp->mono_end_ns;
	}
	totals_add(&e->v.total, &d);
	totals_add(&g->v.total, &d);
	series_add(&g->min, smp->real_end_ns, &d);
	if (e->v.own_series) {
		totals_add(&e->v.series, &d);
		series_add(e->min, smp->real_end_ns, &d);
	} else
		totals_add(&g->v.rest, &d);
	return 0;
}

int store_add_sample(struct store *s, const struct sample *smp)
{
	struct store_totals host = {
		.cpu_uj = smp->host_cpu_uj, .mem_uj = smp->host_mem_uj, .carbon_ug = smp->host_carbon_ug,
	};
	size_t n = smp->ntasks, budget = s->cfg.relabel_per_sample ? s->cfg.relabel_per_sample : 64;
	struct store_recent *r;
	int err = 0;

	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		/* the budget's worth of tasks from relabel_off on, wrapping: all of them when they fit */
		bool recheck = n <= budget || (i + n - s->relabel_off % n) % n < budget;
		int e = add_task(s, smp, &smp->tasks[i], recheck);

		if (e && !err)
			err = e;
		host.embodied_ug += smp->tasks[i].embodied_ug;
	}
	if (n > budget)
		s->relabel_off = (s->relabel_off % n + budget) % n;
	if (!s->host.samples)
		s->host.first_real_ns = smp->real_start_ns;
	s->host.samples++;
	s->host.last_real_ns = smp->real_end_ns;
	s->host.cpu_uj += smp->host_cpu_uj;
	s->host.mem_uj += smp->host_mem_uj;
	s->host.carbon_ug += smp->host_carbon_ug;
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		s->host.domain_uj[d] += smp->host_domain_uj[d];
	s->host.domains |= smp->domains;
	totals_add(&s->host.idle, &(struct store_totals){ smp->idle.cpu_ns, smp->idle.cpu_uj, smp->idle.mem_uj,
							     smp->idle.carbon_ug, 0 });
	totals_add(&s->host.overflow, &(struct store_totals){ smp->overflow.cpu_ns, smp->overflow.cpu_uj,
								 smp->overflow.mem_uj, smp->overflow.carbon_ug, 0 });
	s->host.embodied_ug += host.embodied_ug;
	s->host.source = smp->source;
	s->host.intensity = smp->intensity;
	s->host.pue = smp->pue;
	series_add(&s->sec, smp->real_end_ns, &host);
	series_add(&s->min, smp->real_end_ns, &host);

	r = &s->recent[s->recent_head];
	s->recent_head = (s->recent_head + 1) % s->cfg.recent_len;
	if (s->recent_n < s->cfg.recent_len)
		s->recent_n++;
	*r = (struct store_recent){
		.seq = smp->seq, .real_end_ns = smp->real_end_ns,
		.interval_ns = smp->mono_end_ns - smp->mono_start_ns,
		.host_cpu_uj = smp->host_cpu_uj, .host_mem_uj = smp->host_mem_uj,
		.host_carbon_ug = smp->host_carbon_ug,
		.idle_uj = smp->idle.cpu_uj + smp->idle.mem_uj,
		.overflow_uj = smp->overflow.cpu_uj + smp->overflow.mem_uj,
		.ntasks = (uint32_t)smp->ntasks, .intensity_g_per_kwh = smp->intensity.g_per_kwh,
		.source = smp->source,
	};
	s->last_seq = smp->seq;

	/* Once a second is enough for ranking and folding: both scan the whole table. */
	if (s->host.samples % 10 == 1) {
		select_top(s);
		fold_expired(s, smp->mono_end_ns);
	}
	pthread_rwlock_unlock(&s->lock);
	return err;
}

void store_rdlock(struct store *s)
{
	pthread_rwlock_rdlock(&s->lock);
}

void store_unlock(struct store *s)
{
	pthread_rwlock_unlock(&s->lock);
}

void store_get_host(const struct store *s, struct store_host *out)
{
	*out = s->host;
}

void store_foreach_proc(const struct store *s, int (*fn)(const struct store_proc *p, void *ctx), void *ctx)
{
	for (size_t i = 0; i < s->cfg.max_procs; i++)
		if (s->procs[i].used && fn(&s->procs[i].v, ctx))
			return;
}

void store_foreach_group(const struct store *s, int (*fn)(const struct store_group *g, void *ctx), void *ctx)
{
	for (size_t i = 0; i < s->ngroups; i++)
		if (fn(&s->groups[i]->v, ctx))
			return;
}

const struct store_proc *store_find_proc(const struct store *s, uint32_t pid)
{
	const struct store_proc *best = NULL;

	for (int i = s->proc_hash[hash_u32(pid) & s->proc_hash_mask]; i >= 0; i = s->procs[i].next) {
		const struct store_proc *p = &s->procs[i].v;

		if (p->pid != pid)
			continue;
		if (!best || (best->exited && !p->exited) ||
		    (best->exited == p->exited && p->start_ns > best->start_ns))
			best = p;
	}
	return best;
}

size_t store_recent(const struct store *s, struct store_recent *out, size_t max)
{
	size_t n = s->recent_n < max ? s->recent_n : max;
	size_t len = s->cfg.recent_len;
	size_t start = (s->recent_head + len - n) % len;

	for (size_t i = 0; i < n; i++)
		out[i] = s->recent[(start + i) % len];
	return n;
}

uint64_t store_last_seq(const struct store *s)
{
	return s->last_seq;
}

uint64_t store_max_window_ns(uint64_t step_ns, bool per_group)
{
	if (per_group)
		return GROUP_MIN_LEN * MIN_NS;
	if (step_ns % MIN_NS == 0)
		return MIN_LEN * MIN_NS;
	return SEC_LEN * NSEC_PER_SEC;
}

int store_query(const struct store *s, const char *group, uint32_t pid, uint64_t now_real_ns,
		uint64_t window_ns, uint64_t step_ns, struct store_point *out, size_t max)
{
	const struct series *ser = NULL;
	uint64_t nsteps, end, start;

	if (!window_ns || !step_ns || window_ns % step_ns)
		return -EINVAL;
	nsteps = window_ns / step_ns;
	if (nsteps > max)
		return -ERANGE;
	if (pid) {
		for (size_t i = 0; i < s->cfg.max_procs && !ser; i++)
			if (s->procs[i].used && s->procs[i].v.pid == pid && s->procs[i].min)
				ser = s->procs[i].min;
		if (!ser)
			return -ENOENT;
	} else if (group) {
		for (size_t i = 0; i < s->ngroups && !ser; i++)
			if (strcmp(s->groups[i]->v.name, group) == 0)
				ser = &s->groups[i]->min;
		if (!ser)
			return -ENOENT;
	} else {
		ser = step_ns % MIN_NS == 0 && window_ns > SEC_LEN * NSEC_PER_SEC ? &s->min : &s->sec;
		if (ser == &s->sec && window_ns > SEC_LEN * NSEC_PER_SEC)
			ser = &s->min;
	}
	if (step_ns % ser->width_ns || window_ns > ser->len * ser->width_ns)
		return -ERANGE;
	/* Steps end at the current bucket's end, so the newest partial bucket is included. */
	end = (now_real_ns / ser->width_ns + 1) * ser->width_ns;
	start = end - window_ns;
	for (uint64_t i = 0; i < nsteps; i++) {
		struct store_point *p = &out[i];
		uint64_t a = start + i * step_ns;

		memset(p, 0, sizeof(*p));
		p->start_real_ns = a;
		series_sum(ser, a / ser->width_ns, (a + step_ns) / ser->width_ns, p);
	}
	return (int)nsteps;
}
