// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracer's table of processes and their lifecycle: fork, exec, rename, exit, the final switch, forgetting. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "joule/joule_bpf.h"
#include "joule/proctab.h"
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

/* Room for this many processes before the first growth: a host runs hundreds. */
#define PROCS_INIT 1024

static struct proc *proc_find(struct tracer *t, const struct joule_task_key *k)
{
	size_t i;

	return proctab_find(&t->index, k->tgid, k->start_ns, &i) ? &t->procs[i] : NULL;
}

int tracer_procs_init(struct tracer *t)
{
	int err = array_reserve(&t->procs, &t->procs_cap, PROCS_INIT, sizeof(*t->procs), PROCS_INIT);

	return err ? err : proctab_init(&t->index, PROCS_INIT);
}

void tracer_procs_free(struct tracer *t)
{
	free(t->procs);
	proctab_free(&t->index);
}

struct proc *tracer_proc_add(struct tracer *t, const struct joule_task_key *k)
{
	struct proc *p = proc_find(t, k);

	if (p)
		return p;
	if (array_reserve(&t->procs, &t->procs_cap, t->nprocs + 1, sizeof(*t->procs), PROCS_INIT))
		return NULL;
	if (proctab_put(&t->index, k->tgid, k->start_ns, t->nprocs))
		return NULL;
	p = &t->procs[t->nprocs++];
	memset(p, 0, sizeof(*p));
	p->key = *k;
	return p;
}

/* The last entry moves into the hole, so the array stays dense and a scan touches only live entries. */
static void proc_del(struct tracer *t, size_t i)
{
	size_t last = --t->nprocs;

	proctab_remove(&t->index, t->procs[i].key.tgid, t->procs[i].key.start_ns);
	if (i == last)
		return;
	t->procs[i] = t->procs[last];
	/* the key is in the table already: a value update, which cannot fail */
	proctab_put(&t->index, t->procs[i].key.tgid, t->procs[i].key.start_ns, i);
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
	struct proctab_ent e;
	size_t cur = 0;
	int found = -ENOENT;

	tracer_poll_events(t);
	while (proctab_next_pid(&t->index, pid, &cur, &e)) {
		struct proc *p = &t->procs[e.val];

		if (!p->exited) {
			p->marked = true;
			found = 0;
		}
	}
	return found;
}

/* Idle entries whose process is gone (its exit event was lost) are treated as exited now. */
void tracer_collect_lost_exits(struct tracer *t)
{
	for (size_t i = 0; i < t->nprocs; i++) {
		struct proc *p = &t->procs[i];

		if (p->exited || p->active_snap + TRACER_GC_EVERY > t->snap)
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
	for (size_t i = 0; i < t->nprocs;) {
		struct proc *p = &t->procs[i];

		if (p->final_snap && p->final_snap + TOMBSTONE_SNAPS < t->snap)
			proc_del(t, i); /* moves the last entry into slot i: look again */
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
	for (size_t i = 0; i < t->nprocs; i++) {
		struct proc *p = &t->procs[i];
		bool due, late;
		int err;

		if (p->final_snap)
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

/* The live process of a pid, from the pid's probe run in the index (NVML gives pids only). */
static int find_pid(struct tracer *t, uint32_t pid, struct tracer_task *out)
{
	struct proctab_ent e;
	size_t cur = 0;

	while (proctab_next_pid(&t->index, pid, &cur, &e)) {
		const struct proc *p = &t->procs[e.val];

		if (p->exited)
			continue;
		*out = (struct tracer_task){ .tgid = pid, .ppid = p->ppid, .start_ns = p->key.start_ns,
					     .marked = p->marked, .exit_code = p->exit_code };
		memcpy(out->comm, p->comm, sizeof(p->comm));
		return 0;
	}
	return -ENOENT;
}

int tracer_find_pid(struct tracer *t, uint32_t pid, struct tracer_task *out)
{
	if (!find_pid(t, pid, out))
		return 0;
	/* forked since the snapshot drained the ring buffer: its fork event is still there */
	tracer_poll_events(t);
	return find_pid(t, pid, out);
}
