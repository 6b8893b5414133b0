// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Counts on-CPU ns per process and per CPU, idle ns per CPU, and reports process lifecycle. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "joule/joule_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Two generations of the task map. Programs charge into tasks[gen]; each
 * snapshot userspace flips gen, waits until every CPU has seen the flip
 * (a flush on each CPU), then reads and empties the other one. A tick's
 * work is then proportional to the processes that ran in it, not to every
 * process that ever ran. Per-CPU values so the switch path never contends
 * with another CPU. Userspace sets max_entries before load.
 */
struct tasks_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, JOULE_DEFAULT_MAX_TASKS);
	__type(key, struct joule_task_key);
	__type(value, struct joule_task_val);
};
struct tasks_map tasks0 SEC(".maps");
struct tasks_map tasks1 SEC(".maps");

/* Which generation programs charge into: written only by userspace. */
__u32 gen = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct joule_cpu_state);
} cpu_state SEC(".maps");

/* Fork, exec and exit only: a few records per process, never per switch. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Events that found the ring buffer full; userspace reports the count. */
__u64 lost_events = 0;

/* Inputs of the test_switch wrapper, written by the BPF unit tests. */
struct joule_test_switch test_in = {};

static __always_inline struct joule_cpu_state *this_cpu_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_state, &zero);
}

/* The value slot of a process in one generation, created on first charge; NULL if the map is full. */
static __always_inline struct joule_task_val *task_slot(void *map, const struct joule_task_key *key)
{
	struct joule_task_val *val, zero = {};

	val = bpf_map_lookup_elem(map, key);
	if (val)
		return val;
	/*
	 * BPF_NOEXIST: if another CPU inserted the key meanwhile, keep its slot
	 * (the update fails) and use it. A new element of a per-CPU hash is
	 * zero on every CPU since v5.10 (d3bec0138bfb).
	 */
	bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* Add delta ns to a process on this CPU; a full map sends it to the overflow bucket. */
static __always_inline void charge(struct joule_cpu_state *st, const struct joule_task_key *key,
				   __u64 delta)
{
	struct joule_task_val *val;

	/*
	 * Two call sites, each with a constant map: the verifier inlines a
	 * hash lookup only where it knows the map (one shared call through a
	 * map chosen at run time cost ~9 ns more per switch, measured).
	 */
	if (gen & 1)
		val = task_slot(&tasks1, key);
	else
		val = task_slot(&tasks0, key);
	if (!val) {
		st->overflow_ns += delta;
		st->overflow_events++;
		return;
	}
	val->cpu_ns += delta;
}

/*
 * Charge the slice that ends now to the task that ran it. The task is named
 * by the caller from the kernel's own pointer (sched_switch's prev, or the
 * current task for a flush), never from a cached "who switched in": on
 * this kernel a switch can be missed (seen: tokio runtime threads), and a
 * cached owner would then give a whole slice to the wrong process.
 */
static __always_inline void close_slice(struct joule_cpu_state *st, const struct joule_task_key *owner,
					__u32 idle, __u64 now)
{
	__u64 delta;

	/* No switch seen yet on this CPU: the slice's start is unknown. */
	if (!st->switched_in_ns || now < st->switched_in_ns)
		return;
	delta = now - st->switched_in_ns;
	if (idle)
		st->idle_ns += delta;
	else
		charge(st, owner, delta);
}

static __always_inline void do_switch(struct joule_cpu_state *st, const struct joule_task_key *prev,
				      __u32 prev_idle, __u64 now)
{
	close_slice(st, prev, prev_idle, now);
	st->switched_in_ns = now;
	st->switches++;
}

/*
 * Credit the running slice up to now and restart it, so a snapshot taken
 * after a flush includes every ns exactly once. Userspace runs this on each
 * CPU with BPF_F_TEST_RUN_ON_CPU; there it cannot race sched_switch.
 */
static __always_inline void do_flush(struct joule_cpu_state *st, const struct joule_task_key *cur,
				     __u32 cur_idle, __u64 now)
{
	close_slice(st, cur, cur_idle, now);
	st->switched_in_ns = now;
}

/* Key of a task's process. tp_btf reads fields directly; raw_tp must probe-read. */
static __always_inline void task_key_btf(struct task_struct *t, struct joule_task_key *key)
{
	key->tgid = t->tgid;
	key->pad = 0;
	key->start_ns = t->group_leader->start_time;
}

static __always_inline void task_key_core(struct task_struct *t, struct joule_task_key *key)
{
	key->tgid = BPF_CORE_READ(t, tgid);
	key->pad = 0;
	key->start_ns = BPF_CORE_READ(t, group_leader, start_time);
}

/* comm: the new name where the task's own is not yet updated (task_rename), else NULL. */
static __always_inline void emit(__u32 kind, struct task_struct *t, struct task_struct *parent,
				 __s32 exit_code, const char *comm)
{
	struct joule_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&lost_events, 1);
		return;
	}
	ev->kind = kind;
	ev->tgid = BPF_CORE_READ(t, tgid);
	ev->start_ns = BPF_CORE_READ(t, group_leader, start_time);
	ev->exit_code = exit_code;
	ev->ts_ns = bpf_ktime_get_ns();
	if (parent) {
		ev->ppid = BPF_CORE_READ(parent, tgid);
		ev->pstart_ns = BPF_CORE_READ(parent, group_leader, start_time);
	} else {
		ev->ppid = 0;
		ev->pstart_ns = 0;
	}
	if (comm)
		bpf_probe_read_kernel_str(ev->comm, sizeof(ev->comm), comm);
	else
		BPF_CORE_READ_STR_INTO(&ev->comm, t, comm);
	bpf_ringbuf_submit(ev, 0);
}

/* A new process, not a new thread: the child leads its own thread group. */
static __always_inline void do_fork(struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return;
	emit(JOULE_EV_FORK, child, parent, 0, NULL);
}

/*
 * Only the last thread's exit ends the process. The map entry is deleted by
 * userspace a tick later: the exiting task still runs until its final
 * context switch, and that tail is charged after this tracepoint.
 */
static __always_inline void do_exit(struct task_struct *t)
{
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return;
	emit(JOULE_EV_EXIT, t, NULL, BPF_CORE_READ(t, exit_code), NULL);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct joule_cpu_state *st = this_cpu_state();
	struct joule_task_key key;

	if (!st)
		return 0;
	task_key_btf(prev, &key);
	do_switch(st, &key, prev->pid == 0, bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(handle_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct joule_cpu_state *st = this_cpu_state();
	struct joule_task_key key;

	if (!st)
		return 0;
	task_key_core(prev, &key);
	do_switch(st, &key, BPF_CORE_READ(prev, pid) == 0, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	do_fork(parent, child);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(handle_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	do_fork(parent, child);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p)
{
	emit(JOULE_EV_EXEC, p, NULL, 0, NULL);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_exec_raw, struct task_struct *p)
{
	emit(JOULE_EV_EXEC, p, NULL, 0, NULL);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	do_exit(p);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(handle_exit_raw, struct task_struct *p)
{
	do_exit(p);
	return 0;
}

/*
 * A process's name is its group leader's comm; workers that rename
 * themselves (prctl PR_SET_NAME, as stress-ng, postgres and nginx do) would
 * otherwise keep the name they had at fork. Threads' names are ignored.
 */
static __always_inline void do_rename(struct task_struct *t, const char *comm)
{
	if (BPF_CORE_READ(t, pid) != BPF_CORE_READ(t, tgid))
		return;
	emit(JOULE_EV_RENAME, t, NULL, 0, comm);
}

SEC("tp_btf/task_rename")
int BPF_PROG(handle_rename, struct task_struct *t, const char *comm)
{
	do_rename(t, comm);
	return 0;
}

SEC("raw_tp/task_rename")
int BPF_PROG(handle_rename_raw, struct task_struct *t, const char *comm)
{
	do_rename(t, comm);
	return 0;
}

/* Run by userspace on each CPU before every snapshot (see do_flush). */
SEC("raw_tp")
int flush(void *ctx)
{
	struct joule_cpu_state *st = this_cpu_state();
	struct task_struct *t = bpf_get_current_task_btf();
	struct joule_task_key key;

	if (!st)
		return 0;
	task_key_core(t, &key);
	do_flush(st, &key, BPF_CORE_READ(t, pid) == 0, bpf_ktime_get_ns());
	return 0;
}

/* Test wrapper: the switch logic on inputs the test controls (test_in). */
SEC("raw_tp")
int test_switch(void *ctx)
{
	struct joule_cpu_state *st = this_cpu_state();

	if (!st)
		return 0;
	do_switch(st, &test_in.prev, test_in.prev_idle, test_in.now_ns);
	return 0;
}
