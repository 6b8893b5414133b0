// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The GPU side of attribution: one GPU's interval energy over its processes and its idle bucket. */
#include <errno.h>
#include <string.h>
#include "joule/attrib.h"
#include "joule/gpu_attrib.h"

static const char *const split_names[GPU_NSPLIT] = {
	[GPU_SPLIT_IDLE] = "idle",
	[GPU_SPLIT_SM_UTIL] = "sm_util",
	[GPU_SPLIT_MEMORY] = "memory",
	[GPU_SPLIT_EVEN] = "even",
};

const char *gpu_split_name(enum gpu_split_method m)
{
	return (unsigned)m < GPU_NSPLIT ? split_names[m] : "unknown";
}

static bool seen_before(const struct gpu_proc_use *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (p[j].pid == p[i].pid)
			return true;
	return false;
}

int gpu_attrib_split(const struct gpu_attrib_in *in, struct gpu_attrib_out *out)
{
	/* weights: [0, n) the processes, [n] idle; units differ by method but never mix */
	uint64_t w[GPU_MAX_PROCS + 1], share[GPU_MAX_PROCS + 1];
	uint64_t sum = 0, busy_w;
	size_t n = in->nprocs, live = 0;
	bool samples = false, memory = true;
	int err;

	if (n > GPU_MAX_PROCS || (n && (!in->procs || !out->proc_uj)))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (seen_before(in->procs, i))
			continue;
		live++;
		samples |= in->procs[i].has_samples;
		memory &= in->procs[i].mem_bytes != GPU_MEM_UNKNOWN;
	}
	memset(w, 0, sizeof(w));
	if (!live) {
		out->method = GPU_SPLIT_IDLE;
	} else if (samples) {
		out->method = GPU_SPLIT_SM_UTIL;
		for (size_t i = 0; i < n; i++)
			if (!seen_before(in->procs, i)) {
				w[i] = in->procs[i].sm_util_pct;
				sum += w[i];
			}
		w[n] = sum < 100 ? 100 - sum : 0;
	} else {
		/*
		 * Memory figures are bytes, the idle weight a percentage: scale the
		 * processes to busy_pct parts per 100 by giving idle the matching
		 * share of their sum (exact in integers, no float).
		 */
		out->method = memory ? GPU_SPLIT_MEMORY : GPU_SPLIT_EVEN;
		for (size_t i = 0; i < n; i++)
			if (!seen_before(in->procs, i)) {
				w[i] = memory ? in->procs[i].mem_bytes : 1;
				sum += w[i];
			}
		if (memory && sum == 0) { /* every process reports 0 bytes: even is all we can say */
			out->method = GPU_SPLIT_EVEN;
			for (size_t i = 0; i < n; i++)
				if (!seen_before(in->procs, i))
					w[i] = 1;
			sum = live;
		}
		busy_w = in->busy_valid && in->busy_pct <= 100 ? in->busy_pct : 100;
		if (busy_w == 0) {
			memset(w, 0, sizeof(w));
			w[n] = 1;
		} else {
			/* idle / Σprocs = (100 - busy) / busy; sums are far below 2^57 bytes */
			w[n] = sum * (100 - busy_w) / busy_w;
		}
	}
	if (out->method == GPU_SPLIT_IDLE)
		w[n] = 1;
	err = lr_split(in->energy_uj, w, n + 1, share);
	if (err == -EDOM) { /* every weight 0 (all samples at 0 %): the GPU idled */
		memset(share, 0, sizeof(share));
		share[n] = in->energy_uj;
	} else if (err) {
		return err;
	}
	for (size_t i = 0; i < n; i++)
		out->proc_uj[i] = share[i];
	out->idle_uj = share[n];
	return 0;
}
