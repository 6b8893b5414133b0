/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The per-tick data types: what one interval produced, per process and per bucket. */
#ifndef JOULE_SAMPLE_H
#define JOULE_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/carbon.h"
#include "joule/comm.h"
#include "joule/domain.h"
#include "joule/gpu_attrib.h"

/*
 * The figures everything carries: one task's interval, a bucket (idle,
 * overflow), a process's or group's running total, a report's window. One
 * struct, so a new figure is added once. carbon_ug is always
 * operational_ug + embodied_ug: sample_totals_add keeps it so.
 */
struct sample_totals {
	uint64_t cpu_ns;	/* on-CPU ns, all CPUs */
	uint64_t cpu_uj;	/* CPU-side energy */
	uint64_t mem_uj;	/* DRAM energy */
	uint64_t gpu_uj;	/* GPU energy (NVML); not part of energy_uj, which is the CPU side */
	uint64_t carbon_ug;	/* operational + embodied */
	uint64_t operational_ug; /* exactly energy x PUE x intensity */
	uint64_t embodied_ug;	/* this machine's share of its hardware's embodied carbon */
};

static inline void sample_totals_add(struct sample_totals *a, const struct sample_totals *b)
{
	a->cpu_ns += b->cpu_ns;
	a->cpu_uj += b->cpu_uj;
	a->mem_uj += b->mem_uj;
	a->gpu_uj += b->gpu_uj;
	a->operational_ug += b->operational_ug;
	a->embodied_ug += b->embodied_ug;
	a->carbon_ug = a->operational_ug + a->embodied_ug;
}

static inline uint64_t sample_totals_energy_uj(const struct sample_totals *t)
{
	return t->cpu_uj + t->mem_uj;
}

/* One process's share of one interval. */
struct sample_task {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns;	/* process start (CLOCK_MONOTONIC): (pid, start_ns) is the identity */
	char comm[JOULE_COMM_LEN];
	bool marked;		/* followed (joule run's command and its descendants) */
	bool exited;		/* the process ended in this interval */
	int exit_code;
	struct sample_totals tot;	/* what it ran and was charged in this interval */
};

/* One GPU's interval: its energy, how it was split, and what state the GPU is in. */
struct sample_gpu {
	uint32_t index;
	char uuid[96];
	char name[96];
	bool has_counter;	/* energy counter; else power integrated over the tick (wider uncertainty) */
	enum gpu_status status;
	int nvml_err;
	uint32_t mig_instances;
	enum gpu_split_method method;
	uint64_t energy_uj, idle_uj;	/* idle_uj is part of energy_uj, and of the sample's idle.gpu_uj */
	double rel_sd;
};

/*
 * Everything one interval produced. Σ tasks + idle + overflow equals the
 * host figures exactly, for energy and for carbon.
 */
struct sample {
	uint64_t seq;
	uint64_t mono_start_ns, mono_end_ns;
	uint64_t real_start_ns, real_end_ns;	/* ns since the epoch */
	size_t ntasks;
	struct sample_task *tasks;		/* tasks with cpu_ns > 0 or that exited */
	struct sample_totals idle, overflow;	/* buckets that are not processes (overflow: task map full) */
	/*
	 * The CPUs' own clocks over the interval, summed (ncpus of them ran):
	 * Σ tasks' cpu_ns + overflow + idle + unaccounted_ns == clock_ns
	 * exactly. Unaccounted is what no task and no idle was charged with
	 * (IRQ/steal time, a running slice's lag; negative when a lag is paid
	 * back); its energy went to idle (docs/PERFORMANCE.md).
	 */
	uint64_t clock_ns;
	int64_t unaccounted_ns;
	uint32_t ncpus;
	uint64_t host_cpu_uj, host_mem_uj;	/* split base: energy_cpu_uj/energy_mem_uj summed over packages */
	uint64_t host_domain_uj[ENERGY_NDOMAINS]; /* every domain, all packages (overlapping ones too) */
	uint32_t domains;			/* present domains, bit per enum energy_domain */
	uint64_t host_gpu_uj;			/* Σ gpus[].energy_uj: Σ tasks' gpu_uj + idle + overflow (no process found) */
	int ngpu;
	struct sample_gpu gpus[GPU_MAX];
	uint64_t host_carbon_ug;		/* operational + embodied, of CPU, memory and GPU energy */
	uint64_t host_operational_ug, host_embodied_ug;
	enum energy_kind source;
	double energy_rel_sd;
	struct carbon_intensity intensity;	/* in force at the interval's end */
	double pue;
};

/* Tick health, for logs and joule_self_* metrics. */
#define SAMPLER_JITTER_BUCKETS 8
struct sampler_stats {
	uint64_t ticks;
	uint64_t missed;		/* timer expirations beyond one per wake-up */
	uint64_t jitter_le_ns[SAMPLER_JITTER_BUCKETS]; /* histogram upper bounds */
	uint64_t jitter_count[SAMPLER_JITTER_BUCKETS]; /* cumulative counts, Prometheus style */
	uint64_t jitter_sum_ns;
	uint64_t last_jitter_ns, max_jitter_ns;
	uint64_t last_work_ns, max_work_ns, work_sum_ns;
	uint64_t lost_events, overflow_events;	/* from the tracer */
	uint64_t energy_errors;			/* ticks whose energy read failed (carried to the next) */
	uint64_t gpu_errors;			/* GPU reads that failed (counter: carried; power: that tick lost) */
	uint64_t gpu_unmatched_uj;		/* GPU energy of pids the tracer did not know (in overflow) */
};

#endif /* JOULE_SAMPLE_H */
