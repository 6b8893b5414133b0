// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracer's table of processes and their lifecycle: fork, exec, rename, exit, the final switch, forgetting. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "joule/joule_bpf.h"
#include "joule/tracer.h"
#include "joule/tracer_internal.h"
#include "joule/util.h"

/*
 * A finished process stays in the table this many snapshots: a charge
 * that still names it (a thread the live count missed, see lives in
 * joule.bpf.h) finds its marks and name instead of a stranger's entry.
 */
#define TOMBSTONE_SNAPS 100
/*
 * An exited process whose final-switch event never came (lost to a full
 * ring buffer, or a live count gone wrong) is closed this many snapshots
 * after its exit, at the first one that finds no time for it. Long, so
 * that a teardown starved for seconds is still read before the close.
 */
#define LATE_CLOSE_SNAPS 50

static uint64_t key_hash(const struct joule_task_key *k)
{
	uint64_t x = ((uint64_t)k->tgid << 32) ^ k->start_ns;

	/* splitmix64 finaliser: PIDs and start times are far from uniform */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool key_eq(const struct joule_task_key *a, const struct joule_task_key *b)
{
	return a->tgid == b->tgid && a->start_ns == b->start_ns;
}

static struct proc *proc_find(struct tracer *t, const struct joule_task_key *k)
{
	size_t mask = t->cap - 1;

	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		if (!t->procs[i].used)
			return NULL;
		if (key_eq(&t->procs[i].key, k))
			return &t->procs[i];
	}
}

static int proc_grow(struct tracer *t)
{
	size_t old_cap = t->cap, cap = old_cap ? old_cap * 2 : 1024;
	struct proc *old = t->procs, *n;

	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		for (j = key_hash(&old[i].key) & (cap - 1); n[j].used; j = (j + 1) & (cap - 1))
			;
		n[j] = old[i];
	}
	free(old);
	t->procs = n;
	t->cap = cap;
	return 0;
}

int tracer_procs_init(struct tracer *t)
{
	return proc_grow(t);
}

struct proc *tracer_proc_add(struct tracer *t, const struct joule_task_key *k)
{
	struct proc *p = proc_find(t, k);
	size_t mask;

	if (p)
		return p;
	/* keep the load factor under 1/2 so probes stay short */
	if ((t->nprocs + 1) * 2 > t->cap && proc_grow(t))
		return NULL;
	mask = t->cap - 1;
	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		if (t->procs[i].used)
			continue;
		p = &t->procs[i];
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->key = *k;
		t->nprocs++;
		return p;
	}
}

/* Backward-shift deletion: no tombstones, so lookups never slow down. */
static void proc_del(struct tracer *t, struct proc *p)
{
	size_t mask = t->cap - 1, i = (size_t)(p - t->procs), j = i;

	p->used = false;
	t->nprocs--;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->procs[j].used)
			return;
		home = key_hash(&t->procs[j].key) & mask;
		/* can entry j move to the hole at i? only if its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			t->procs[i] = t->procs[j];
			t->procs[j].used = false;
			i = j;
		}
	}
}

/* A process that existed before joule attached: its parent and name come from /proc. */
void tracer_proc_fill_from_procfs(struct proc *p)
{
	char path[64], buf[512], *rp;
	int n;

	p->filled = true;
	snprintf(path, sizeof(path), "/proc/%u/stat", p->key.tgid);
	n = read_text_file(path, buf, sizeof(buf));
	if (n <= 0) {
		snprintf(p->comm, sizeof(p->comm), "?");
		return;
	}
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
	rp = strrchr(buf, ')');
	if (!rp || !strchr(buf, '('))
		return;
	*rp = '\0';
	snprintf(p->comm, sizeof(p->comm), "%s", strchr(buf, '(') + 1);
	if (sscanf(rp + 2, "%*c %u", &p->ppid) != 1)
		p->ppid = 0;
}

static void proc_exit(struct tracer *t, struct proc *p, const struct joule_event *ev)
{
	if (!p->filled) {
		memcpy(p->comm, ev->comm, sizeof(p->comm));
		p->filled = true;
	}
	if (p->exited)
		return;
	p->exited = true;
	p->exit_code = ev->exit_code;
	p->exit_snap = t->snap;
}

/* The ring buffer's callback (ctx: the tracer). */
int tracer_handle_event(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;
	const struct joule_event *ev = data;
	struct joule_task_key k = { .tgid = ev->tgid, .start_ns = ev->start_ns };
	struct proc *p;

	if (len < sizeof(*ev))
		return 0;
	p = tracer_proc_add(t, &k);
	if (!p)
		return -ENOMEM;
	switch (ev->kind) {
	case JOULE_EV_FORK: {
		struct joule_task_key pk = { .tgid = ev->ppid, .start_ns = ev->pstart_ns };
		struct proc *parent = proc_find(t, &pk);

		p->ppid = ev->ppid;
		p->filled = true;
		memcpy(p->comm, ev->comm, sizeof(p->comm));
		if (parent && parent->marked)
			p->marked = true;
		break;
	}
	case JOULE_EV_EXEC:
	case JOULE_EV_RENAME:
		memcpy(p->comm, ev->comm, sizeof(p->comm));
		break;
	case JOULE_EV_EXIT:
		proc_exit(t, p, ev);
		break;
	case JOULE_EV_FINAL:
		/* an exit event lost to a full ring buffer: the final switch says it too */
		proc_exit(t, p, ev);
		/*
		 * Its last ns went into generation ev->gen. Drained inside a
		 * snapshot after the flip, that is either the generation read
		 * now or the new one, read by the next snapshot; drained
		 * between snapshots, it is the current one, also read next.
		 */
		p->close_snap = t->draining && (ev->gen & 1) == t->retired ? t->snap : t->snap + 1;
		break;
	}
	return 0;
}

int tracer_mark_pid(struct tracer *t, uint32_t pid)
{
	int found = -ENOENT;

	tracer_poll_events(t);
	for (size_t i = 0; i < t->cap; i++) {
		struct proc *p = &t->procs[i];

		if (p->used && p->key.tgid == pid && !p->exited) {
			p->marked = true;
			found = 0;
		}
	}
	return found;
}

/* Idle entries whose process is gone (its exit event was lost) are treated as exited now. */
void tracer_collect_lost_exits(struct tracer *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct proc *p = &t->procs[i];

		if (!p->used || p->exited || p->active_snap + TRACER_GC_EVERY > t->snap)
			continue;
		if (kill((pid_t)p->key.tgid, 0) == 0 || errno != ESRCH)
			continue;
		p->exited = true;
		p->exit_snap = t->snap;
		p->close_snap = t->snap + 1;
		t->stats.lost_exits++;
	}
}

/* Finished processes are forgotten once their tombstone time is over. */
void tracer_reap(struct tracer *t)
{
	for (size_t i = 0; i < t->cap;) {
		struct proc *p = &t->procs[i];

		if (p->used && p->final_snap && p->final_snap + TOMBSTONE_SNAPS < t->snap)
			proc_del(t, p); /* shifts a later entry into slot i: look again */
		else
			i++;
	}
}

/*
 * A process is finished in the snapshot that reads the generation its
 * last thread's final switch charged (close_snap, from JOULE_EV_FINAL):
 * the row carrying its last ns says exited, or, if those ns were already
 * read, an exited row of 0 ns does. The exit tracepoint is no such
 * signal: the kernel tears the address space down after it, for seconds
 * when a large one is preempted. Without a final event, a late close.
 */
int tracer_finish_exited(struct tracer *t, struct tracer_delta *d)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct proc *p = &t->procs[i];
		bool due, late;
		int err;

		if (!p->used || p->final_snap)
			continue;
		due = p->close_snap && p->close_snap <= t->snap;
		late = !due && p->exited && p->exit_snap + LATE_CLOSE_SNAPS <= t->snap && p->row_snap != t->snap;
		if (!due && !late)
			continue;
		if (late) {
			t->stats.late_closes++;
			/* its count, if any, will never reach 0: do not let it hold an LRU slot */
			bpf_map_delete_elem(t->lives_fd, &p->key);
		}
		p->final_snap = t->snap;
		if (p->row_snap == t->snap) {
			d->tasks[p->row].exited = true;
			d->tasks[p->row].exit_code = p->exit_code;
			continue;
		}
		err = tracer_delta_reserve(d, d->ntasks + 1);
		if (err)
			return err;
		memset(&d->task_ns[d->ntasks * (size_t)t->ncpu], 0, (size_t)t->ncpu * sizeof(uint64_t));
		d->tasks[d->ntasks] = (struct tracer_task){
			.tgid = p->key.tgid, .ppid = p->ppid, .start_ns = p->key.start_ns,
			.marked = p->marked, .exited = true, .exit_code = p->exit_code,
		};
		memcpy(d->tasks[d->ntasks].comm, p->comm, sizeof(p->comm));
		d->ntasks++;
	}
	return 0;
}
