/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The tracer's own state, shared by its three files (tracer.c, tracer_procs.c, tracer_read.c) and nobody else. */
#ifndef JOULE_TRACER_INTERNAL_H
#define JOULE_TRACER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/joule_bpf.h"
#include "joule/proctab.h"
#include "joule/tracer.h"

/* Keys read per batch call: bounds the buffers whatever the map size or CPU count. */
#define TRACER_BATCH_KEYS 4096
/*
 * Every this many snapshots (10 s at 10 Hz), processes that have not run
 * since are checked for life: an exit event lost to a full ring buffer must
 * not leave a dead process in the table for ever.
 */
#define TRACER_GC_EVERY 100

/* What userspace knows of one process (BPF map key plus lifecycle facts). */
struct proc {
	struct joule_task_key key;
	uint32_t ppid;
	bool marked, exited, filled;
	int exit_code;
	uint64_t exit_snap;	/* snapshot at which its exit (or final) event was drained */
	uint64_t close_snap;	/* snapshot that reads its last ns (its final switch's generation); 0: not known */
	uint64_t final_snap;	/* snapshot of its last (exited) row; 0: not yet */
	uint64_t active_snap;	/* last snapshot in which it ran */
	uint64_t row_snap;	/* last snapshot that emitted a row for it */
	size_t row;		/* that row's index in the delta (valid while row_snap is this snapshot) */
	char comm[JOULE_COMM_LEN];
};

struct tracer {
	struct joule_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *collect;	/* the task iterator (see collect_threads) */
	int ncpu;
	uint64_t snap;
	uint64_t last_mono_ns;
	struct tracer_stats stats;
	int lives_fd;			/* the BPF map of live threads per process */
	bool draining;			/* events are drained inside a snapshot, after the flip */
	uint32_t retired;		/* ... and this generation is the one being read */

	/* the processes, dense ([0, nprocs) all live), and their index by (tgid, start_ns) */
	struct proc *procs;
	size_t nprocs, procs_cap;
	struct proctab index;

	struct joule_cpu_state *states;	/* [ncpu] scratch for per-CPU reads */
	struct joule_cpu_state *prev;	/* [ncpu] the previous snapshot's states: deltas are against it */

	struct joule_task_key *keys;	/* [TRACER_BATCH_KEYS] */
	uint64_t *vals;			/* [TRACER_BATCH_KEYS * ncpu] */
	bool batch_ok;
};

/* tracer_procs.c: the process table and each process's lifecycle. */
int tracer_procs_init(struct tracer *t);
void tracer_procs_free(struct tracer *t);
struct proc *tracer_proc_add(struct tracer *t, const struct joule_task_key *k);
void tracer_proc_fill_from_procfs(struct proc *p);
int tracer_handle_event(void *ctx, void *data, size_t len);
int tracer_finish_exited(struct tracer *t, struct tracer_delta *d);
void tracer_reap(struct tracer *t);
void tracer_collect_lost_exits(struct tracer *t);

/* tracer_read.c: the retired generation and the per-CPU state into a delta. */
int tracer_delta_reserve(struct tracer_delta *d, size_t rows);
int tracer_delta_alloc(struct tracer *t, struct tracer_delta *d);
int tracer_read_cpus(struct tracer *t, struct tracer_delta *d, int cpu_state_fd);
int tracer_read_tasks(struct tracer *t, struct tracer_delta *d, int fd);
void tracer_sum_busy_clamp_idle(struct tracer *t, struct tracer_delta *d);

#endif /* JOULE_TRACER_INTERNAL_H */
