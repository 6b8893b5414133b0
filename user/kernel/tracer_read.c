// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reads one snapshot's BPF maps (the retired process generation, the per-CPU state) into a tracer_delta. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "joule/joule_bpf.h"
#include "joule/log.h"
#include "joule/tracer.h"
#include "joule/tracer_internal.h"
#include "joule/util.h"

int tracer_delta_reserve(struct tracer_delta *d, size_t rows)
{
	size_t cap = d->cap;
	uint64_t *ns;
	int err;

	err = array_reserve(&d->tasks, &cap, rows, sizeof(*d->tasks), 256);
	if (err || cap == d->cap)
		return err;
	/* task_ns is a row of ncpu per task: it follows the tasks' capacity */
	ns = reallocarray(d->task_ns, cap * (size_t)d->ncpu, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	d->task_ns = ns;
	d->cap = cap;
	return 0;
}

/* The per-CPU arrays, sized once for the tracer's CPU count. */
int tracer_delta_alloc(struct tracer *t, struct tracer_delta *d)
{
	if (d->ncpu == t->ncpu)
		return 0;
	tracer_delta_free(d);
	d->ncpu = t->ncpu;
	d->idle_ns = calloc((size_t)t->ncpu, sizeof(*d->idle_ns));
	d->overflow_ns = calloc((size_t)t->ncpu, sizeof(*d->overflow_ns));
	d->busy_ns = calloc((size_t)t->ncpu, sizeof(*d->busy_ns));
	d->clock_ns = calloc((size_t)t->ncpu, sizeof(*d->clock_ns));
	d->unaccounted_ns = calloc((size_t)t->ncpu, sizeof(*d->unaccounted_ns));
	if (!d->idle_ns || !d->overflow_ns || !d->busy_ns || !d->clock_ns || !d->unaccounted_ns)
		return -ENOMEM;
	return 0;
}

void tracer_delta_free(struct tracer_delta *d)
{
	free(d->tasks);
	free(d->task_ns);
	free(d->idle_ns);
	free(d->overflow_ns);
	free(d->busy_ns);
	free(d->clock_ns);
	free(d->unaccounted_ns);
	memset(d, 0, sizeof(*d));
}

/*
 * Each CPU's idle, overflow and clock since the previous snapshot, and the
 * instant the interval ends: the mean of this round's flushes. Each CPU's
 * clock runs from one of its flushes to the next, so with that end the
 * CPUs' clocks cover ncpus x interval exactly, whenever userspace got to
 * read the time (a clock read after the flushes was late by however long a
 * busy machine kept the snapshot thread off the CPU: 1.2 % of a 100 ms
 * interval once, under load).
 */
int tracer_read_cpus(struct tracer *t, struct tracer_delta *d, int cpu_state_fd)
{
	unsigned __int128 cut_sum = 0;
	unsigned ncut = 0;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(cpu_state_fd, &zero, t->states))
		return -errno;
	t->stats.overflow_events = 0;
	t->stats.overflow_ns = 0;
	for (int c = 0; c < t->ncpu; c++) {
		const struct joule_cpu_state *s = &t->states[c], *p = &t->prev[c];

		d->idle_ns[c] = s->idle_ns - p->idle_ns;
		d->overflow_ns[c] = s->overflow_ns - p->overflow_ns;
		/* the CPU's own clock between its flushes; an offline CPU (no flush) has none */
		d->clock_ns[c] = p->flush_ns && s->flush_ns > p->flush_ns ? s->flush_ns - p->flush_ns : 0;
		if (s->flush_ns > p->flush_ns) {
			cut_sum += s->flush_ns;
			ncut++;
		}
		t->prev[c] = *s;
		t->stats.overflow_events += s->overflow_events;
		t->stats.overflow_ns += s->overflow_ns;
	}
	/* every flush of this round came after the previous round's, so the end only moves forward */
	if (ncut && (uint64_t)(cut_sum / ncut) > d->mono_start_ns)
		d->mono_end_ns = (uint64_t)(cut_sum / ncut);
	return 0;
}

/* One map entry: a process's per-CPU ns in the interval just closed. */
static int account(struct tracer *t, struct tracer_delta *d, const struct joule_task_key *k,
		   const uint64_t *vals)
{
	struct proc *p = tracer_proc_add(t, k);
	uint64_t total = 0, *row;
	int err;

	if (!p)
		return -ENOMEM;
	if (!p->filled)
		tracer_proc_fill_from_procfs(p);
	err = tracer_delta_reserve(d, d->ntasks + 1);
	if (err)
		return err;
	row = &d->task_ns[d->ntasks * (size_t)t->ncpu];
	for (int c = 0; c < t->ncpu; c++) {
		row[c] = vals[c];
		total += vals[c];
	}
	p->active_snap = t->snap;
	p->row_snap = t->snap;
	p->row = d->ntasks;
	/* exited is set afterwards, on the row that holds its last ns (see tracer_finish_exited) */
	d->tasks[d->ntasks] = (struct tracer_task){
		.tgid = k->tgid,
		.ppid = p->ppid,
		.start_ns = k->start_ns,
		.marked = p->marked,
		.exited = false,
		.exit_code = p->exit_code,
		.total_ns = total,
	};
	memcpy(d->tasks[d->ntasks].comm, p->comm, sizeof(p->comm));
	d->ntasks++;
	return 0;
}

/* Read and empty the retired generation: every entry is a process that ran. */
static int drain_tasks_batch(struct tracer *t, struct tracer_delta *d, int fd)
{
	__u32 in_batch = 0, out_batch = 0;
	bool first = true, done = false;
	int err;

	while (!done) {
		__u32 count = TRACER_BATCH_KEYS;

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_batch, &out_batch, t->keys,
						      t->vals, &count, NULL);
		if (err) {
			err = -errno;
			if (err != -ENOENT)
				return err;
			done = true; /* -ENOENT: the last batch, possibly with entries */
		}
		for (__u32 i = 0; i < count; i++) {
			err = account(t, d, &t->keys[i], &t->vals[(size_t)i * t->ncpu]);
			if (err)
				return err;
		}
		t->stats.map_entries += count;
		in_batch = out_batch;
		first = false;
	}
	return 0;
}

/* Kernels without htab batch ops (before 5.6): one key at a time. */
static int drain_tasks_iter(struct tracer *t, struct tracer_delta *d, int fd)
{
	struct joule_task_key key;
	int err;

	/* nothing writes the retired generation: take the first key until none is left */
	while (bpf_map_get_next_key(fd, NULL, &key) == 0) {
		err = bpf_map_lookup_elem(fd, &key, t->vals) ? -errno : 0;
		if (!err)
			err = account(t, d, &key, t->vals);
		if (bpf_map_delete_elem(fd, &key))
			return -errno;
		if (err)
			return err;
		t->stats.map_entries++;
	}
	return 0;
}

/* Every process that ran in the interval, from the retired generation fd; emptied as it is read. */
int tracer_read_tasks(struct tracer *t, struct tracer_delta *d, int fd)
{
	int err;

	t->stats.map_entries = 0;
	err = t->batch_ok ? drain_tasks_batch(t, d, fd) : drain_tasks_iter(t, d, fd);
	if (t->batch_ok && (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP) && t->stats.map_entries == 0) {
		log_info("batch map operations unavailable (%s): iterating keys", strerror(-err));
		t->batch_ok = false;
		err = drain_tasks_iter(t, d, fd);
	}
	return err;
}

/*
 * Sum each CPU's busy ns once for every consumer (the sampler's package
 * utilisation too). Busy + idle can exceed the interval only when a CPU's
 * slice start is stale: it was offline (its flush failed with ENXIO) and the
 * first switch after it came back charged the whole offline time as idle.
 */
void tracer_sum_busy_clamp_idle(struct tracer *t, struct tracer_delta *d)
{
	uint64_t elapsed = d->mono_end_ns - d->mono_start_ns;

	memcpy(d->busy_ns, d->overflow_ns, (size_t)t->ncpu * sizeof(*d->busy_ns));
	for (size_t i = 0; i < d->ntasks; i++) {
		const uint64_t *row = &d->task_ns[i * (size_t)t->ncpu];

		for (int c = 0; c < t->ncpu; c++)
			d->busy_ns[c] += row[c];
	}
	for (int c = 0; c < t->ncpu; c++) {
		uint64_t busy = d->busy_ns[c], keep;

		/* the cut between intervals is not the same instant for tasks and idle: allow slack */
		if (busy + d->idle_ns[c] > elapsed + elapsed / 4 + 2 * NSEC_PER_MSEC) {
			keep = busy < elapsed ? elapsed - busy : 0;
			t->stats.stale_idle_ns += d->idle_ns[c] - (keep < d->idle_ns[c] ? keep : d->idle_ns[c]);
			if (keep < d->idle_ns[c])
				d->idle_ns[c] = keep;
		}
		/*
		 * What the CPU's clock saw that no task and no idle was charged
		 * with: IRQ and steal time where the kernel leaves them out of
		 * tasks' counts, threads without storage, and the running
		 * slice's lag at the flush (negative when an earlier lag is
		 * paid back).
		 */
		d->unaccounted_ns[c] = (int64_t)d->clock_ns[c] - (int64_t)(d->busy_ns[c] + d->idle_ns[c]);
		t->stats.unaccounted_ns += d->unaccounted_ns[c];
	}
}
