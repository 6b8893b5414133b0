// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The store's history: downsampled series (1 s, 1 min) with window queries, and the 10 Hz recent ring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "joule/store.h"
#include "joule/store_internal.h"
#include "joule/util.h"

int store_series_init(struct series *s, uint64_t width_ns, size_t len)
{
	s->width_ns = width_ns;
	s->len = len;
	s->b = calloc(len, sizeof(*s->b));
	return s->b ? 0 : -ENOMEM;
}

void store_series_add(struct series *s, uint64_t real_ns, const struct sample_totals *t)
{
	uint64_t idx = real_ns / s->width_ns;
	struct bucket *b = &s->b[idx % s->len];

	if (b->idx1 != idx + 1) {
		memset(b, 0, sizeof(*b));
		b->idx1 = idx + 1;
	}
	b->cpu_uj += t->cpu_uj;
	b->mem_uj += t->mem_uj;
	b->operational_ug += t->operational_ug;
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
		p->operational_ug += b->operational_ug;
		p->embodied_ug += b->embodied_ug;
		p->carbon_ug += b->operational_ug + b->embodied_ug;
	}
}

void store_recent_push(struct store *s, const struct sample *smp)
{
	struct store_recent *r = &s->recent[s->recent_head];

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
	size_t ngroup = 0;

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
		/* a group is every entry of that name (one per comm) */
		for (size_t i = 0; i < s->ngroups; i++)
			if (strcmp(s->groups[i]->v.name, group) == 0) {
				if (!ser)
					ser = &s->groups[i]->min;
				ngroup++;
			}
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
		uint64_t a = start + i * step_ns, from = a / ser->width_ns, to = (a + step_ns) / ser->width_ns;

		memset(p, 0, sizeof(*p));
		p->start_real_ns = a;
		if (!ngroup) {
			series_sum(ser, from, to, p);
			continue;
		}
		for (size_t g = 0; g < s->ngroups; g++)
			if (strcmp(s->groups[g]->v.name, group) == 0)
				series_sum(&s->groups[g]->min, from, to, p);
	}
	return (int)nsteps;
}
