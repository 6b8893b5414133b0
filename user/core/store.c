// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* In-memory store of samples: process and group tables, their totals and the readers' accessors; fixed upper bounds. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/store.h"
#include "joule/store_internal.h"
#include "joule/util.h"

/*
 * Expositions that must have shown a group before its energy counts as seen:
 * two, so one failed scrape, or the other scraper of an HA pair, still gets
 * the group's first value as zero.
 */
#define SEEN_AFTER 2
/* A process missing from samples this long without an exit record is gone (exit event lost). */
#define STALE_NS (3600 * NSEC_PER_SEC)

static uint64_t hash_group(enum group_kind k, const char *name, const char *comm)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)k;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL; /* separator: ("ab","c") and ("a","bc") differ */
	for (const unsigned char *p = (const unsigned char *)comm; *p; p++)
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
	if (!s->cfg.group_idle_ns)
		s->cfg.group_idle_ns = 900 * NSEC_PER_SEC;
	if (!s->cfg.recent_len)
		s->cfg.recent_len = 600;
	pthread_rwlock_init(&s->lock, NULL);

	s->procs = calloc(s->cfg.max_procs, sizeof(*s->procs));
	s->groups = calloc(s->cfg.max_groups, sizeof(*s->groups));
	nb = pow2_at_least(s->cfg.max_groups * 2);
	s->group_hash = malloc(nb * sizeof(int));
	s->group_hash_mask = nb - 1;
	s->recent = calloc(s->cfg.recent_len, sizeof(*s->recent));
	if (!s->procs || proctab_init(&s->proc_index, s->cfg.max_procs) || !s->groups || !s->group_hash || !s->recent ||
	    store_series_init(&s->sec, NSEC_PER_SEC, SEC_LEN) || store_series_init(&s->min, MIN_NS, MIN_LEN)) {
		store_close(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= s->group_hash_mask; i++)
		s->group_hash[i] = -1;
	for (size_t i = 0; i < s->cfg.max_procs; i++)
		s->procs[i].next_free = i + 1 < s->cfg.max_procs ? (int)i + 1 : -1;
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
	proctab_free(&s->proc_index);
	free(s->groups);
	free(s->group_hash);
	free(s->recent);
	free(s->sec.b);
	free(s->min.b);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

static void group_unhash(struct store *s, uint32_t idx)
{
	struct group_entry *g = s->groups[idx];
	int *pp = &s->group_hash[hash_group(g->v.kind, g->v.name, g->v.comm) & s->group_hash_mask];

	while (*pp != (int)idx)
		pp = &s->groups[*pp]->next;
	*pp = g->next;
}

/*
 * The table is full: forget the entry idle longest, if one has been idle
 * past group_idle_ns and no tracked process points at it. Its series left
 * /metrics when it went idle, so forgetting it moves nothing a sum counts.
 */
static int group_evict(struct store *s, uint64_t now_real_ns)
{
	int best = -1;

	for (size_t i = 0; i < s->ngroups; i++) {
		const struct group_entry *g = s->groups[i];

		if (g->refs || g->v.last_active_real_ns + s->cfg.group_idle_ns > now_real_ns)
			continue;
		if (best < 0 || g->v.last_active_real_ns < s->groups[best]->v.last_active_real_ns)
			best = (int)i;
	}
	if (best >= 0) {
		group_unhash(s, (uint32_t)best);
		s->host.groups_evicted++;
	}
	return best;
}

/* The entry of (kind, name, comm), created if needed; -ENOSPC when the table is full of active entries. */
static int group_get(struct store *s, enum group_kind kind, const char *name, const char *comm,
		     uint64_t now_real_ns, uint32_t *idx)
{
	size_t h = hash_group(kind, name, comm) & s->group_hash_mask;
	struct group_entry *g;
	int slot;

	for (int i = s->group_hash[h]; i >= 0; i = s->groups[i]->next)
		if (s->groups[i]->v.kind == kind && strcmp(s->groups[i]->v.name, name) == 0 &&
		    strcmp(s->groups[i]->v.comm, comm) == 0) {
			*idx = (uint32_t)i;
			return 0;
		}
	if (s->ngroups < s->cfg.max_groups) {
		g = calloc(1, sizeof(*g));
		if (!g || store_series_init(&g->min, MIN_NS, GROUP_MIN_LEN)) {
			free(g);
			return -ENOMEM;
		}
		slot = (int)s->ngroups++;
		s->groups[slot] = g;
		s->host.groups = s->ngroups;
	} else {
		slot = group_evict(s, now_real_ns);
		if (slot < 0)
			return -ENOSPC;
		g = s->groups[slot];
		memset(&g->v, 0, sizeof(g->v));
		memset(g->min.b, 0, g->min.len * sizeof(*g->min.b));
	}
	g->v.kind = kind;
	snprintf(g->v.name, sizeof(g->v.name), "%s", name);
	snprintf(g->v.comm, sizeof(g->v.comm), "%s", comm);
	g->v.last_active_real_ns = now_real_ns;
	g->refs = 0;
	g->born_gen = atomic_load(&s->expositions);
	/* a new comm in a known group: its unseen start goes to an entry of that group already shown */
	g->heir = -1;
	for (size_t i = 0; i < s->ngroups; i++)
		if ((int)i != slot && s->groups[i]->v.kind == kind && strcmp(s->groups[i]->v.name, name) == 0 &&
		    s->groups[i]->born_gen + SEEN_AFTER <= g->born_gen) {
			g->heir = (int)i;
			break;
		}
	g->next = s->group_hash[h];
	s->group_hash[h] = slot;
	*idx = (uint32_t)slot;
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
		if (!e->min || store_series_init(e->min, MIN_NS, GROUP_MIN_LEN)) {
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
	size_t i;

	return proctab_find(&s->proc_index, pid, start_ns, &i) ? &s->procs[i] : NULL;
}

static struct proc_entry *proc_new(struct store *s, const struct sample_task *t)
{
	struct proc_entry *e;
	int i = s->free_head;

	/* no free entry, or no memory for the index: the caller counts the process as untracked */
	if (i < 0 || proctab_put(&s->proc_index, t->pid, t->start_ns, (size_t)i))
		return NULL;
	e = &s->procs[i];
	s->free_head = e->next_free;
	memset(&e->v, 0, sizeof(e->v));
	e->used = true;
	e->v.pid = t->pid;
	e->v.ppid = t->ppid;
	e->v.start_ns = t->start_ns;
	memcpy(e->v.comm, t->comm, sizeof(e->v.comm));
	e->v.comm[sizeof(e->v.comm) - 1] = '\0';
	s->nprocs++;
	s->host.procs_tracked = s->nprocs;
	return e;
}

static void unlink_group(struct store *s, struct proc_entry *e)
{
	struct group_entry *g;

	if (!e->group_set)
		return;
	g = s->groups[e->group];
	if (!e->v.exited && g->v.live)
		g->v.live--;
	g->refs--;
	e->group_set = false;
}

static void proc_free(struct store *s, struct proc_entry *e)
{
	int idx = (int)(e - s->procs);

	proctab_remove(&s->proc_index, e->v.pid, e->v.start_ns);
	/* its energy stays in the group's total; only the link goes */
	unlink_group(s, e);
	if (e->v.own_series)
		s->nown--;
	if (e->min) {
		free(e->min->b);
		free(e->min);
		e->min = NULL;
	}
	e->used = false;
	e->next_free = s->free_head;
	s->free_head = idx;
	s->nprocs--;
	s->host.procs_tracked = s->nprocs;
}

static int cmp_energy_desc(const void *a, const void *b)
{
	const struct proc_entry *x = *(struct proc_entry *const *)a, *y = *(struct proc_entry *const *)b;
	uint64_t ex = sample_totals_energy_uj(&x->v.total), ey = sample_totals_energy_uj(&y->v.total);

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

/* Forget exited processes past their grace period, and stale ones; their groups' totals already hold them. */
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

/* A group takes its workload identity from the member that created it. */
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


/* No group slot free: the energy still counts, in other (and in the host), never lost. */
static void charge_other(struct store *s, const struct sample_totals *d)
{
	sample_totals_add(&s->host.other, d);
	s->host.groups_full++;
}

/*
 * A series' first scraped value is not an increase to Prometheus: what a
 * group used before any exposition showed it would be lost to increase().
 * So until an exposition has shown it (new, or back from idle) its energy is
 * also counted as unseen, which the exposition leaves out of its series and
 * puts in other instead: the group's series starts at zero, other grows.
 */
static void charge_group(struct store *s, struct group_entry *g, const struct sample *smp,
			 const struct sample_totals *d)
{
	uint64_t shown = atomic_load(&s->expositions);

	if (!store_group_exposed(s, &g->v))
		g->born_gen = shown; /* back from idle: its series is new to a scraper that dropped it */
	if (g->born_gen + SEEN_AFTER > shown) {
		struct group_entry *h = g->heir >= 0 && (size_t)g->heir < s->ngroups ? s->groups[g->heir] : NULL;

		sample_totals_add(&g->v.unseen, d);
		/* the heir must still be that group (its slot may have been reused) and still shown */
		if (h && h->v.kind == g->v.kind && strcmp(h->v.name, g->v.name) == 0 && store_group_exposed(s, &h->v))
			sample_totals_add(&h->v.adopted, d);
		else
			sample_totals_add(&s->host.unseen, d);
	}
	sample_totals_add(&g->v.total, d);
	store_series_add(&g->min, smp->real_end_ns, d);
	if (d->cpu_uj || d->mem_uj || d->cpu_ns)
		g->v.last_active_real_ns = smp->real_end_ns;
}

/* Link a process with these labels to its group entry; without a free slot it stays unlinked (charged to other). */
static int link_labels(struct store *s, struct proc_entry *e, const char *comm, const struct proc_labels *l,
		       uint64_t now_real_ns)
{
	uint32_t gi;
	int r;

	e->v.labels = *l;
	r = group_get(s, l->kind, l->group, comm, now_real_ns, &gi);
	if (r)
		return r;
	group_set_identity(s, gi, l);
	e->group = gi;
	e->group_set = true;
	if (!e->v.exited)
		s->groups[gi]->v.live++;
	s->groups[gi]->v.procs++;
	s->groups[gi]->refs++;
	return 0;
}

/* Label a process (the labeler, else its comm) and link it to its group entry. */
static int link_group(struct store *s, struct proc_entry *e, const char *comm, uint64_t now_real_ns)
{
	struct proc_labels l;

	if (!s->cfg.labeler || s->cfg.labeler(s->cfg.labeler_ctx, e->v.pid, comm, &l) < 0)
		labels_from_comm(comm, &l);
	return link_labels(s, e, comm, &l, now_real_ns);
}

/*
 * exec renamed it: what it used so far stays with the old name (that is
 * what ran), what it uses from now on goes to the new name's entry, so no
 * series jumps. The labels are read again: a fork that moved itself into a
 * unit's cgroup before exec lands in the unit.
 */
static int rename_proc(struct store *s, struct proc_entry *e, const char *comm, uint64_t now_real_ns)
{
	int r;

	unlink_group(s, e);
	memcpy(e->v.comm, comm, sizeof(e->v.comm));
	r = link_group(s, e, comm, now_real_ns);
	if (r && r != -ENOSPC)
		return r;
	if (filter_match(s, comm))
		give_own_series(s, e);
	return 0;
}

static int add_task(struct store *s, const struct sample *smp, const struct sample_task *t, bool recheck)
{
	const struct sample_totals *d = &t->tot;
	struct proc_entry *e = proc_find(s, t->pid, t->start_ns);
	char comm[JOULE_COMM_LEN];
	uint32_t gi;
	int r;

	memcpy(comm, t->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	if (!e) {
		e = proc_new(s, t);
		if (!e) {
			/* Table full: the group gets the energy, the process is not tracked. */
			s->host.procs_untracked++;
			r = group_get(s, GROUP_COMM, comm, comm, smp->real_end_ns, &gi);
			if (r == -ENOSPC) {
				charge_other(s, d);
				return 0;
			}
			if (r)
				return r;
			charge_group(s, s->groups[gi], smp, d);
			return 0;
		}
		e->v.first_real_ns = smp->real_start_ns;
		r = link_group(s, e, comm, smp->real_end_ns);
		if (r && r != -ENOSPC) {
			proc_free(s, e);
			return r;
		}
		if (filter_match(s, comm))
			give_own_series(s, e);
	} else if (strcmp(e->v.comm, comm) != 0) {
		r = rename_proc(s, e, comm, smp->real_end_ns);
		if (r)
			return r;
	} else if (recheck && s->cfg.relabel && !e->v.exited && !t->exited && e->group_set) {
		struct proc_labels l = e->v.labels;

		/* moved to another cgroup: from this tick on its energy goes to the new group's entry */
		if (s->cfg.relabel(s->cfg.labeler_ctx, t->pid, comm, &l) > 0) {
			unlink_group(s, e);
			r = link_labels(s, e, comm, &l, smp->real_end_ns);
			if (r && r != -ENOSPC)
				return r;
		}
	}
	e->last_seen_mono_ns = smp->mono_end_ns;
	e->v.last_real_ns = smp->real_end_ns;
	if (t->exited && !e->v.exited) {
		e->v.exited = true;
		e->v.exit_code = t->exit_code;
		e->v.exited_mono_ns = smp->mono_end_ns;
		/* live means alive: it leaves the count when it ends, not when it is forgotten */
		if (e->group_set && s->groups[e->group]->v.live)
			s->groups[e->group]->v.live--;
	}
	sample_totals_add(&e->v.total, d);
	if (e->v.own_series)
		store_series_add(e->min, smp->real_end_ns, d);
	if (e->group_set)
		charge_group(s, s->groups[e->group], smp, d);
	else
		charge_other(s, d);
	return 0;
}

int store_add_sample(struct store *s, const struct sample *smp)
{
	struct sample_totals host = {
		.cpu_uj = smp->host_cpu_uj, .mem_uj = smp->host_mem_uj, .carbon_ug = smp->host_carbon_ug,
		.operational_ug = smp->host_operational_ug, .embodied_ug = smp->host_embodied_ug,
	};
	size_t n = smp->ntasks, budget = s->cfg.relabel_per_sample ? s->cfg.relabel_per_sample : 64;
	int err = 0;

	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		/* the budget's worth of tasks from relabel_off on, wrapping: all of them when they fit */
		bool recheck = n <= budget || (i + n - s->relabel_off % n) % n < budget;
		int e = add_task(s, smp, &smp->tasks[i], recheck);

		if (e && !err)
			err = e;
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
	s->host.operational_ug += smp->host_operational_ug;
	s->host.embodied_ug += smp->host_embodied_ug;
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		s->host.domain_uj[d] += smp->host_domain_uj[d];
	s->host.domains |= smp->domains;
	s->host.gpu_uj += smp->host_gpu_uj;
	if (smp->ngpu > s->host.ngpu)
		s->host.ngpu = smp->ngpu;
	for (int g = 0; g < smp->ngpu; g++) {
		struct store_gpu *sg = &s->host.gpus[g];

		sg->index = smp->gpus[g].index;
		memcpy(sg->uuid, smp->gpus[g].uuid, sizeof(sg->uuid));
		memcpy(sg->name, smp->gpus[g].name, sizeof(sg->name));
		sg->has_counter = smp->gpus[g].has_counter;
		sg->lost = smp->gpus[g].status == GPU_LOST;
		sg->energy_uj += smp->gpus[g].energy_uj;
		sg->idle_uj += smp->gpus[g].idle_uj;
	}
	sample_totals_add(&s->host.idle, &smp->idle);
	sample_totals_add(&s->host.overflow, &smp->overflow);
	s->host.cpu_clock_ns += smp->clock_ns;
	s->host.cpu_unaccounted_ns += smp->unaccounted_ns;
	if (s->host.cpu_unaccounted_ns > s->host.cpu_unaccounted_hwm_ns)
		s->host.cpu_unaccounted_hwm_ns = s->host.cpu_unaccounted_ns;
	s->host.source = smp->source;
	s->host.intensity = smp->intensity;
	s->host.pue = smp->pue;
	store_series_add(&s->sec, smp->real_end_ns, &host);
	store_series_add(&s->min, smp->real_end_ns, &host);

	store_recent_push(s, smp);

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

void store_begin_exposition(struct store *s)
{
	atomic_fetch_add(&s->expositions, 1);
}

bool store_group_exposed(const struct store *s, const struct store_group *g)
{
	return g->last_active_real_ns + s->cfg.group_idle_ns > s->host.last_real_ns;
}

uint64_t store_group_idle_ns(const struct store *s)
{
	return s->cfg.group_idle_ns;
}

const struct store_proc *store_proc_at(const struct store *s, uint32_t pid, uint64_t start_ns)
{
	size_t i;

	return proctab_find(&s->proc_index, pid, start_ns, &i) ? &s->procs[i].v : NULL;
}

const struct store_proc *store_find_proc(const struct store *s, uint32_t pid)
{
	const struct store_proc *best = NULL;
	struct proctab_ent pe;
	size_t cur = 0;

	while (proctab_next_pid(&s->proc_index, pid, &cur, &pe)) {
		const struct store_proc *p = &s->procs[pe.val].v;

		if (!best || (best->exited && !p->exited) ||
		    (best->exited == p->exited && p->start_ns > best->start_ns))
			best = p;
	}
	return best;
}
