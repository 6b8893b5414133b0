/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Split each interval's energy over the tasks that ran, in integer µJ, conserving it exactly. */
#ifndef JOULE_ATTRIB_H
#define JOULE_ATTRIB_H

#include <stddef.h>
#include <stdint.h>

enum idle_policy {
	IDLE_SEPARATE,	   /* idle time's energy goes to the idle bucket (default) */
	IDLE_PROPORTIONAL, /* spread over busy tasks in proportion to their time */
};

int idle_policy_parse(const char *s, enum idle_policy *out); /* 0 or -EINVAL */
const char *idle_policy_name(enum idle_policy p);

struct attrib_in {
	int ncpu;
	const int *cpu_pkg;	    /* [ncpu] package index, -1 offline */
	int npkg;
	size_t ntasks;
	const uint64_t *task_ns;    /* [ntasks * ncpu] row-major: task i on CPU c */
	const uint64_t *idle_ns;    /* [ncpu] */
	const uint64_t *overflow_ns; /* [ncpu] time of tasks the full BPF map could not hold */
	const uint64_t *cpu_uj;	    /* [npkg] CPU-side energy of the interval */
	const uint64_t *mem_uj;	    /* [npkg] DRAM energy, or NULL */
	enum idle_policy idle;
};

/* Caller allocates task_cpu_uj and task_mem_uj with ntasks entries. */
struct attrib_out {
	uint64_t *task_cpu_uj;
	uint64_t *task_mem_uj;
	uint64_t idle_cpu_uj, idle_mem_uj;
	uint64_t overflow_cpu_uj, overflow_mem_uj;
};

/*
 * Σ task + idle + overflow == Σ cpu_uj (and likewise for mem_uj), exactly.
 * 0 or -EINVAL.
 */
int attrib_split(const struct attrib_in *in, struct attrib_out *out);

/*
 * Largest-remainder split of total over n weights: out[i] ≈ total·w[i]/Σw,
 * Σ out == total exactly; ties go to the lower index. With Σw == 0 nothing is
 * split and -EDOM is returned (the caller decides where the total goes).
 */
int lr_split(uint64_t total, const uint64_t *w, size_t n, uint64_t *out);

/*
 * attrib_split and lr_split keep one per-thread scratch buffer that grows to
 * the largest input seen (no allocation in steady state; -ENOMEM if growing
 * fails). Callers that want no hidden allocation at all pass their own:
 * attrib_scratch_size() bytes, any alignment handled inside.
 */
size_t attrib_scratch_size(size_t ntasks, int npkg);
int attrib_split_buf(const struct attrib_in *in, struct attrib_out *out, void *scratch,
		     size_t scratch_len);

#endif /* JOULE_ATTRIB_H */
