/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loads and attaches the BPF programs and turns their maps into per-interval task deltas. */
#ifndef JOULE_TRACER_H
#define JOULE_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/joule_bpf.h"

struct tracer_opts {
	uint32_t max_tasks;	/* BPF task map size; 0: JOULE_DEFAULT_MAX_TASKS */
	bool force_raw_tp;	/* use raw_tp even where tp_btf works (tests) */
	bool no_attach;		/* load only: BPF unit tests drive the programs themselves */
};

/* One process's on-CPU time in one interval. */
struct tracer_task {
	uint32_t tgid;
	uint32_t ppid;
	uint64_t start_ns;
	char comm[JOULE_COMM_LEN];
	bool marked;	/* tracer_mark()ed, or forked from a marked process */
	bool exited;	/* it ended: this row holds its last ns (its last thread's final switch) */
	int exit_code;
	uint64_t total_ns;
};

/*
 * The product of one snapshot: everything that ran between the previous
 * snapshot and this one. task_ns is ntasks × ncpu, row-major.
 */
struct tracer_delta {
	int ncpu;
	uint64_t mono_start_ns, mono_end_ns;
	size_t ntasks;
	struct tracer_task *tasks;
	uint64_t *task_ns;
	uint64_t *idle_ns;	/* [ncpu] */
	uint64_t *overflow_ns;	/* [ncpu] */
	uint64_t *busy_ns;	/* [ncpu] Σ task_ns + overflow_ns: every non-idle ns of the CPU */
	uint64_t *clock_ns;	/* [ncpu] the CPU's clock between its flushes (0: offline) */
	int64_t *unaccounted_ns; /* [ncpu] clock − busy − idle (see sum_busy_clamp_idle) */
	size_t cap;		/* allocated task rows */
};

struct tracer_stats {
	uint64_t snapshots;
	uint64_t lost_events;	  /* ring buffer was full */
	uint64_t lost_exits;	  /* dead processes found without their exit event */
	uint64_t late_closes;	  /* exited processes closed without their final-switch event */
	uint64_t stale_idle_ns;	  /* idle of CPUs back from offline, beyond their interval: dropped */
	uint64_t overflow_events; /* slices that found the task map full */
	uint64_t overflow_ns;
	int64_t unaccounted_ns;	  /* Σ of every delta's unaccounted_ns */
	uint64_t lost_threads;	  /* charges that found no thread storage (kernel out of memory) */
	uint32_t map_entries;	  /* live entries at the last snapshot */
	uint32_t max_tasks;
	uint32_t procs;		  /* processes known to userspace */
	bool raw_tp;		  /* raw_tp programs are in use (no tp_btf on this kernel) */
	bool batch_ops;		  /* batch map lookups work */
};

struct tracer;

/* Load, attach, and take a baseline snapshot. 0 or -errno (-EPERM: not root / no CAP_BPF). */
int tracer_open(struct tracer **out, const struct tracer_opts *o);
void tracer_close(struct tracer *t);

int tracer_ncpu(const struct tracer *t);

/* Flush every CPU's running slice, drain events, read the maps: the delta since the last call. */
int tracer_snapshot(struct tracer *t, struct tracer_delta *d);
void tracer_delta_free(struct tracer_delta *d);

/* Drain lifecycle events now (fork/exec/exit) without reading the maps. */
int tracer_poll_events(struct tracer *t);

/* Follow a process and every process it forks from now on. -ENOENT if pid is unknown. */
int tracer_mark_pid(struct tracer *t, uint32_t pid);

/*
 * The live process with this pid as a row with no time (for energy found by
 * pid alone: GPU processes); drains pending fork events before giving up.
 * 0, or -ENOENT if the tracer does not know it.
 */
int tracer_find_pid(struct tracer *t, uint32_t pid, struct tracer_task *out);
void tracer_get_stats(const struct tracer *t, struct tracer_stats *out);

/* Snapshots between checks for processes whose exit event was lost. */
int tracer_gc_period(void);

/* The loaded skeleton, for BPF tests (struct joule_bpf *). */
void *tracer_skel(struct tracer *t);

/*
 * Can this process load BPF? 0, or -EPERM with a one-line reason in why
 * (root or CAP_BPF + CAP_PERFMON needed).
 */
int tracer_check_caps(char *why, size_t len);

#endif /* JOULE_TRACER_H */
