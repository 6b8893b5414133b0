// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Split each interval's package energy over tasks, idle and overflow in integer µJ, conserving it exactly. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "joule/attrib.h"
#include "joule/log.h"

typedef unsigned __int128 u128;

#define U64_MASK ((u128)UINT64_MAX)

/* One bucket's rounding remainder; the largest ones get the leftover µJ. */
struct lr_item {
	u128 key;
	size_t idx;
};

int idle_policy_parse(const char *s, enum idle_policy *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "separate"))
		*out = IDLE_SEPARATE;
	else if (!strcmp(s, "proportional"))
		*out = IDLE_PROPORTIONAL;
	else
		return -EINVAL;
	return 0;
}

const char *idle_policy_name(enum idle_policy p)
{
	return p == IDLE_PROPORTIONAL ? "proportional" : "separate";
}

/* a ranks before b: larger remainder first, ties to the lower index (deterministic). */
static inline bool item_before(const struct lr_item *a, const struct lr_item *b)
{
	return a->key > b->key || (a->key == b->key && a->idx < b->idx);
}

static void sift_down(struct lr_item *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, best = i;
		struct lr_item t;

		if (l < n && item_before(&h[l], &h[best]))
			best = l;
		if (l + 1 < n && item_before(&h[l + 1], &h[best]))
			best = l + 1;
		if (best == i)
			return;
		t = h[i];
		h[i] = h[best];
		h[best] = t;
		i = best;
	}
}

/*
 * Move the k first-ranked items to it[n-k .. n-1]. A heap gives O(n + k log n)
 * without allocating; k < n always (the leftover of a floor split).
 */
static void lr_top_k(struct lr_item *it, size_t n, size_t k)
{
	size_t i, r;

	if (!k)
		return;
	for (i = n / 2; i-- > 0;)
		sift_down(it, n, i);
	for (r = 0; r < k; r++) {
		struct lr_item t = it[0];

		it[0] = it[n - 1 - r];
		it[n - 1 - r] = t;
		sift_down(it, n - 1 - r, 0);
	}
}

static __thread void *tls_buf;
static __thread size_t tls_cap;

/* Grow-only per-thread scratch: the sampler's steady state allocates nothing. */
static void *tls_scratch(size_t len)
{
	void *p;

	if (len <= tls_cap)
		return tls_buf;
	len += len / 2;
	p = realloc(tls_buf, len);
	if (!p)
		return NULL;
	tls_buf = p;
	tls_cap = len;
	return p;
}

static inline void *align16(void *p)
{
	return (void *)(((uintptr_t)p + 15) & ~(uintptr_t)15);
}

int lr_split(uint64_t total, const uint64_t *w, size_t n, uint64_t *out)
{
	struct lr_item *it;
	uint64_t given = 0;
	u128 sum = 0;
	size_t i;

	if (n && (!w || !out))
		return -EINVAL;
	for (i = 0; i < n; i++)
		sum += w[i];
	if (!sum)
		return -EDOM;
	it = tls_scratch(n * sizeof(*it) + 16);
	if (!it)
		return -ENOMEM;
	it = align16(it);
	for (i = 0; i < n; i++) {
		/* total·w[i] < 2^128, so the quotient and remainder are exact. */
		u128 prod = (u128)total * w[i];
		u128 q = prod / sum;

		out[i] = (uint64_t)q;
		given += (uint64_t)q;
		it[i].key = prod - q * sum;
		it[i].idx = i;
	}
	/* Σ floor ≤ total and the leftover is Σ rem/sum < n. */
	lr_top_k(it, n, total - given);
	for (i = n - (total - given); i < n; i++)
		out[it[i].idx]++;
	return 0;
}

size_t attrib_scratch_size(size_t ntasks, int npkg)
{
	size_t np = npkg > 0 ? (size_t)npkg : 0;

	return 16 + (ntasks + 2) * sizeof(struct lr_item) + np * 4 * sizeof(u128) +
	       ntasks * np * sizeof(uint64_t);
}

struct split_ctx {
	const struct attrib_in *in;
	size_t n;		/* ntasks + idle + overflow */
	struct lr_item *it;	/* [n] */
	u128 *wsum;		/* [npkg] split base of package p */
	u128 *busy;		/* [npkg] Σ task ns on p */
	u128 *idle_w;		/* [npkg] idle weight on p (0 under IDLE_PROPORTIONAL with busy time) */
	u128 *ovf;		/* [npkg] overflow ns on p */
	uint64_t *wt;		/* [ntasks * npkg] task ns per package */
};

/*
 * floor(E·w/W) goes to the bucket now; the fraction is kept as a 64-bit
 * fixed-point remainder (exact order for one package since W < 2^64).
 */
static inline void share(uint64_t e, uint64_t w, uint64_t wsum, uint64_t *s, u128 *key)
{
	u128 prod = (u128)e * w;
	u128 q = prod / wsum;
	u128 r = prod - q * wsum;

	*s += (uint64_t)q;
	*key += (r << 64) / wsum;
}

/* Split one domain (CPU side or DRAM) with the weights already in ctx. */
static int split_domain(struct split_ctx *x, const uint64_t *e_uj, uint64_t *task_uj,
			uint64_t *idle_uj, uint64_t *ovf_uj)
{
	const struct attrib_in *in = x->in;
	size_t nt = in->ntasks, n = x->n, i, k;
	uint64_t total = 0, given = 0, s_idle = 0, s_ovf = 0;
	int p;

	for (p = 0; p < in->npkg; p++)
		if (__builtin_add_overflow(total, e_uj[p], &total))
			return -EINVAL;
	for (i = 0; i < n; i++) {
		x->it[i].key = 0;
		x->it[i].idx = i;
	}
	for (i = 0; i < nt; i++)
		task_uj[i] = 0;

	for (p = 0; p < in->npkg; p++) {
		uint64_t e = e_uj[p], wsum = (uint64_t)x->wsum[p];

		if (!e)
			continue;
		if (!wsum) {
			/* Energy with no observed time on the package: nobody ran, so idle. */
			s_idle += e;
			continue;
		}
		for (i = 0; i < nt; i++) {
			uint64_t w = x->wt[i * in->npkg + p];

			if (w)
				share(e, w, wsum, &task_uj[i], &x->it[i].key);
		}
		if (x->idle_w[p])
			share(e, (uint64_t)x->idle_w[p], wsum, &s_idle, &x->it[nt].key);
		if (x->ovf[p])
			share(e, (uint64_t)x->ovf[p], wsum, &s_ovf, &x->it[nt + 1].key);
	}

	/* Whole µJ carried in the summed fractions, then the leftover. */
	for (i = 0; i < nt; i++) {
		task_uj[i] += (uint64_t)(x->it[i].key >> 64);
		x->it[i].key &= U64_MASK;
		given += task_uj[i];
	}
	s_idle += (uint64_t)(x->it[nt].key >> 64);
	x->it[nt].key &= U64_MASK;
	s_ovf += (uint64_t)(x->it[nt + 1].key >> 64);
	x->it[nt + 1].key &= U64_MASK;
	given += s_idle + s_ovf;
	if (given > total || total - given > n) {
		log_err("attrib: rounding leftover %llu out of range (n %zu)",
			(unsigned long long)(total - given), n);
		return -EINVAL;
	}
	k = total - given;
	lr_top_k(x->it, n, k);
	for (i = n - k; i < n; i++) {
		size_t j = x->it[i].idx;

		if (j < nt)
			task_uj[j]++;
		else if (j == nt)
			s_idle++;
		else
			s_ovf++;
	}
	*idle_uj = s_idle;
	*ovf_uj = s_ovf;
	return 0;
}

int attrib_split_buf(const struct attrib_in *in, struct attrib_out *out, void *scratch,
		     size_t scratch_len)
{
	struct split_ctx x;
	size_t nt, i, np;
	uint8_t *b;
	int c, p, err;

	if (!in || !out || in->ncpu <= 0 || in->npkg <= 0 || !in->cpu_pkg || !in->cpu_uj)
		return -EINVAL;
	nt = in->ntasks;
	if (nt && (!in->task_ns || !out->task_cpu_uj || (in->mem_uj && !out->task_mem_uj)))
		return -EINVAL;
	if (!scratch || scratch_len < attrib_scratch_size(nt, in->npkg))
		return -EINVAL;
	for (c = 0; c < in->ncpu; c++)
		if (in->cpu_pkg[c] >= in->npkg)
			return -EINVAL;

	np = (size_t)in->npkg;
	b = align16(scratch);
	x.in = in;
	x.n = nt + 2;
	x.it = (struct lr_item *)b;
	b += x.n * sizeof(struct lr_item);
	x.wsum = (u128 *)b;
	x.busy = x.wsum + np;
	x.idle_w = x.busy + np;
	x.ovf = x.idle_w + np;
	b += np * 4 * sizeof(u128);
	x.wt = (uint64_t *)b;
	memset(x.wsum, 0, np * 4 * sizeof(u128));

	/* Per-package idle and overflow time; an offline CPU (-1) carries no energy. */
	for (c = 0; c < in->ncpu; c++) {
		p = in->cpu_pkg[c];
		if (p < 0)
			continue;
		if (in->idle_ns)
			x.idle_w[p] += in->idle_ns[c];
		if (in->overflow_ns)
			x.ovf[p] += in->overflow_ns[c];
	}
	for (i = 0; i < nt; i++) {
		const uint64_t *row = in->task_ns + i * (size_t)in->ncpu;
		uint64_t *wt = x.wt + i * np;

		memset(wt, 0, np * sizeof(*wt));
		for (c = 0; c < in->ncpu; c++) {
			p = in->cpu_pkg[c];
			if (p >= 0 && __builtin_add_overflow(wt[p], row[c], &wt[p]))
				return -EINVAL;
		}
		for (p = 0; p < in->npkg; p++)
			x.busy[p] += wt[p];
	}
	for (p = 0; p < in->npkg; p++) {
		u128 busy = x.busy[p] + x.ovf[p];

		/* Proportional: idle's weight goes to busy time, unless there is none. */
		if (in->idle == IDLE_PROPORTIONAL && busy)
			x.idle_w[p] = 0;
		x.wsum[p] = busy + x.idle_w[p];
		/* The fixed-point remainders need W < 2^64 (584 CPU-years per interval). */
		if (x.wsum[p] > U64_MASK)
			return -EINVAL;
	}

	err = split_domain(&x, in->cpu_uj, out->task_cpu_uj, &out->idle_cpu_uj,
			   &out->overflow_cpu_uj);
	if (err)
		return err;
	if (in->mem_uj)
		return split_domain(&x, in->mem_uj, out->task_mem_uj, &out->idle_mem_uj,
				    &out->overflow_mem_uj);
	if (out->task_mem_uj)
		memset(out->task_mem_uj, 0, nt * sizeof(uint64_t));
	out->idle_mem_uj = 0;
	out->overflow_mem_uj = 0;
	return 0;
}

int attrib_split(const struct attrib_in *in, struct attrib_out *out)
{
	size_t len;
	void *buf;

	if (!in || in->npkg <= 0)
		return -EINVAL;
	len = attrib_scratch_size(in->ntasks, in->npkg);
	buf = tls_scratch(len);
	if (!buf)
		return -ENOMEM;
	return attrib_split_buf(in, out, buf, len);
}
