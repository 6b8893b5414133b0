/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* In-memory view of recent sampling: per-process and per-group totals, a 10 Hz ring, downsampled series; bounded. */
#ifndef JOULE_STORE_H
#define JOULE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/labels.h"
#include "joule/sample.h"

/* Read-only view of one tracked process. */
struct store_proc {
	uint32_t pid, ppid;
	uint64_t start_ns;
	char comm[JOULE_COMM_LEN];
	struct proc_labels labels;
	/* has its own metric series (drill-down): matched a filter or was once in the top N */
	bool own_series;
	bool exited;
	int exit_code;
	uint64_t first_real_ns, last_real_ns;	/* first and last interval it ran in */
	uint64_t exited_mono_ns;
	struct sample_totals total;	/* its whole lifetime */
};

/*
 * Read-only view of one group member set: the processes of one group
 * (unit, container, pod, or comm) that share a comm. Keyed by
 * (kind, name, comm) so that the group family sums both by group and by
 * comm; for a comm group, comm == name.
 */
struct store_group {
	enum group_kind kind;
	char name[PROC_GROUP_LEN];
	char comm[JOULE_COMM_LEN];
	uint32_t live;			/* processes of it alive now */
	struct proc_labels labels;	/* workload identity, from the member that created the group */
	uint64_t procs;			/* processes of it ever seen (tracked) */
	/* every µJ of every member ever, live and exited: only grows */
	struct sample_totals total;
	/*
	 * The part used before expositions showed it: /metrics shows
	 * total - unseen + adopted; the unseen part of a new comm in a known
	 * group is adopted by an entry of that group already shown, else it is
	 * in other.
	 */
	struct sample_totals unseen, adopted;
	uint64_t last_active_real_ns;	/* end of the last interval it was charged energy */
};

/* One 100 ms sample, summarised (tasks are not kept). */
struct store_recent {
	uint64_t seq;
	uint64_t real_end_ns, interval_ns;
	uint64_t host_cpu_uj, host_mem_uj, host_carbon_ug;
	uint64_t idle_uj, overflow_uj;
	uint32_t ntasks;
	double intensity_g_per_kwh;
	enum energy_kind source;
};

/* One GPU's lifetime figures (issue 16), in the order the sampler reports GPUs. */
struct store_gpu {
	uint32_t index;
	char uuid[96];
	char name[96];
	bool has_counter, lost;
	uint64_t energy_uj, idle_uj;
};

struct store_host {
	uint64_t samples;
	uint64_t first_real_ns, last_real_ns;
	uint64_t cpu_uj, mem_uj, carbon_ug, operational_ug, embodied_ug;
	uint64_t domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;
	uint64_t gpu_uj;			/* Σ gpus[].energy_uj: split like the CPU side (idle.gpu_uj, ...) */
	int ngpu;
	struct store_gpu gpus[GPU_MAX];
	struct sample_totals idle, overflow;
	/* the CPUs' clocks (Σ), and the part no task and no idle was charged with (net; see struct sample) */
	uint64_t cpu_clock_ns;
	int64_t cpu_unaccounted_ns;
	int64_t cpu_unaccounted_hwm_ns;	/* its highest value so far: the metric, which must never go down */
	/* charged while no group slot was free (max_groups): with idle, overflow and the groups, the host */
	struct sample_totals other;
	/* Σ of the unseen parts no entry adopted, forgotten groups included: only grows */
	struct sample_totals unseen;
	enum energy_kind source;
	struct carbon_intensity intensity;	/* of the last sample */
	double pue;
	uint64_t procs_tracked, procs_untracked;	/* untracked: table full, charged to the group only */
	uint64_t groups;			/* group entries held */
	uint64_t groups_evicted;		/* idle entries forgotten to make room */
	uint64_t groups_full;			/* task intervals charged to other: no slot */
};

/* One step of a window query. */
struct store_point {
	uint64_t start_real_ns;
	uint64_t cpu_uj, mem_uj, carbon_ug, operational_ug, embodied_ug;
};

typedef int (*store_labeler)(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out);

struct store_cfg {
	size_t max_procs;	/* 0: 16384 */
	size_t max_groups;	/* 0: 4096 entries; when full, an idle one is forgotten, else energy goes to other */
	size_t max_series;	/* processes with own series at once; 0: 1000 */
	uint32_t top_n;		/* processes given own series by energy; 0: none */
	uint64_t grace_ns;	/* exited processes are kept this long; 0: 5 min */
	/*
	 * A group entry with no energy for this long has no series in
	 * /metrics (and may be forgotten when the table is full); 0: 15 min.
	 */
	uint64_t group_idle_ns;
	size_t recent_len;	/* 10 Hz ring; 0: 600 */
	store_labeler labeler;	/* NULL: group by comm */
	void *labeler_ctx;
	/*
	 * NULL: a process keeps the labels of its first tick. Else called with
	 * labeler_ctx for each process each tick it ran, with its labels: 1 when
	 * it updated them (the process changed cgroup), and the process's energy
	 * goes to its new group from this tick on.
	 */
	int (*relabel)(void *ctx, uint32_t pid, const char *comm, struct proc_labels *l);
	/*
	 * At most this many processes are re-checked per sample (0: 64), taken
	 * round robin over the sample's tasks: every process each tick on a
	 * quiet host, each one every few ticks on a busy one, so the cost of a
	 * tick stays bounded (each check reads /proc/PID/cgroup).
	 */
	uint32_t relabel_per_sample;
};

struct store;

int store_open(struct store **out, const struct store_cfg *cfg);
void store_close(struct store *s);

/* Replace the comm filters (SIGHUP); processes already given own series keep them. */
int store_set_filters(struct store *s, char *const *filters, size_t n);

/* Account one sample; 0 or -ENOMEM. Takes the write lock. */
int store_add_sample(struct store *s, const struct sample *smp);

/* Readers hold the read lock around the accessors below. */
void store_rdlock(struct store *s);
void store_unlock(struct store *s);

void store_get_host(const struct store *s, struct store_host *out);
/* Iterate; stop early when fn returns non-zero. */
void store_foreach_proc(const struct store *s, int (*fn)(const struct store_proc *p, void *ctx), void *ctx);
void store_foreach_group(const struct store *s, int (*fn)(const struct store_group *g, void *ctx), void *ctx);
/*
 * Called by an exposition (before it reads the groups, under the read lock):
 * energy charged from now on to groups it shows is seen.
 */
void store_begin_exposition(struct store *s);
/* Whether a group entry is recent enough to be exported (active within group_idle_ns of the newest sample). */
bool store_group_exposed(const struct store *s, const struct store_group *g);
uint64_t store_group_idle_ns(const struct store *s);
/* The newest live (else newest) process with this pid, or NULL. */
const struct store_proc *store_find_proc(const struct store *s, uint32_t pid);
/* The process (pid, start_ns), or NULL: one lookup in the store's index. */
const struct store_proc *store_proc_at(const struct store *s, uint32_t pid, uint64_t start_ns);
/* Copy up to max most recent samples, oldest first; returns the count. */
size_t store_recent(const struct store *s, struct store_recent *out, size_t max);
/* Sequence number of the newest sample (0: none yet); for SSE followers. */
uint64_t store_last_seq(const struct store *s);

/*
 * Window query ending at now_real_ns: window/step steps of step_ns (step
 * must divide window; the series' resolution is 1 s for the last hour and
 * 1 min for the last 7 days, per group and per own-series process 1 min for
 * 3 h). group NULL: the host; pid != 0: that process. Returns the number of
 * points, -ENOENT (no such group/process), -ERANGE (window beyond what is
 * kept, or step finer than the resolution), or -EINVAL.
 */
int store_query(const struct store *s, const char *group, uint32_t pid, uint64_t now_real_ns,
		uint64_t window_ns, uint64_t step_ns, struct store_point *out, size_t max);

/* Longest window store_query serves at a step. */
uint64_t store_max_window_ns(uint64_t step_ns, bool per_group);

#endif /* JOULE_STORE_H */
