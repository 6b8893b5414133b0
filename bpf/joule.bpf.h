/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* joule's BPF maps and logic: per-thread charges from the kernel's own sum_exec_runtime, idle from the CPU's clock. */
#ifndef JOULE_BPF_H
#define JOULE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "joule/joule_bpf.h"

/*
 * Per-thread state, found through the task pointer (no hash lookup on the
 * switch path). Freed by the kernel with the task, so a thread's last
 * charge is moved to the process map at its final switch (see do_charge).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct joule_thread);
} threads SEC(".maps");

/*
 * Two generations of the process map. Threads' pending ns are moved into
 * procs[gen] (at a migration, a thread's death, or the snapshot's task
 * iterator); each snapshot userspace flips gen, waits until every CPU has
 * seen the flip, then reads and empties the other one. Per-CPU values so
 * attribution can split a process's time by package; a value is written
 * into the CPU slot its time was spent on, which may be another CPU's
 * (hence atomic adds). Userspace sets max_entries before load.
 */
struct procs_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, JOULE_DEFAULT_MAX_TASKS);
	__type(key, struct joule_task_key);
	__type(value, struct joule_task_val);
};
struct procs_map procs0 SEC(".maps");
struct procs_map procs1 SEC(".maps");

/* Which generation pending time moves into: written only by userspace. */
__u32 gen = 0;

/*
 * Threads that started before this instant (CLOCK_MONOTONIC ns, set by
 * userspace before attaching) ran before joule watched them: their first
 * sight only records a baseline.
 */
__u64 attach_ns = 0;

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
/* Charges that found no thread storage (out of memory): their ns are in the CPU's unaccounted. */
__u64 lost_threads = 0;


static __always_inline struct joule_cpu_state *cpu_state_of(__u32 cpu)
{
	__u32 zero = 0;

	return bpf_map_lookup_percpu_elem(&cpu_state, &zero, cpu);
}

static __always_inline struct joule_cpu_state *this_cpu_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_state, &zero);
}

/*
 * Add ns to a process's slot for one CPU in the current generation,
 * creating the entry on first use; a full map sends them to that CPU's
 * overflow bucket. Rare (migrations, deaths, snapshots), never per switch.
 */
static __always_inline void do_credit(const struct joule_task_key *key, __u32 cpu, __u64 ns)
{
	struct joule_task_val zero = {}, *val;
	struct joule_cpu_state *st;
	void *map = (gen & 1) ? (void *)&procs1 : (void *)&procs0;

	if (!ns)
		return;
	val = bpf_map_lookup_percpu_elem(map, key, cpu);
	if (!val) {
		/*
		 * BPF_NOEXIST: if another CPU inserted the key meanwhile, keep
		 * its entry. A new element of a per-CPU hash is zero on every
		 * CPU since v5.10 (d3bec0138bfb).
		 */
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		val = bpf_map_lookup_percpu_elem(map, key, cpu);
	}
	if (val) {
		__sync_fetch_and_add(&val->cpu_ns, ns);
		return;
	}
	st = cpu_state_of(cpu);
	if (!st)
		return;
	__sync_fetch_and_add(&st->overflow_ns, ns);
	__sync_fetch_and_add(&st->overflow_events, 1);
}

/* Move a thread's pending ns to its process (the snapshot iterator and the paths below). */
static __always_inline void do_move_pending(struct joule_thread *th)
{
	__u64 ns = __sync_lock_test_and_set(&th->pending_ns, 0);

	do_credit(&th->key, th->cpu, ns);
}

/*
 * Charge a thread on this CPU with the growth of the kernel's own count of
 * its run time (se.sum_exec_runtime) since joule last charged it. The
 * kernel brings that count up to date in update_curr before sched_switch
 * fires, so at a switch the charge is exact by construction, and a missed
 * or reordered switch event loses nothing: the time is in the count and is
 * charged at the thread's next switch-out. seen_ns is sum_exec_runtime, or
 * more at a flush (the running slice since the kernel's last update).
 * Pending ns stay in the thread's own storage until it migrates or dies.
 */
static __always_inline void do_charge(struct joule_thread *th, __u64 seen_ns, __u32 cpu, bool dead)
{
	__u64 grow = 0;

	/* a flush may have credited past the kernel's count: wait until the count passes it */
	if (seen_ns > th->charged_se_ns) {
		grow = seen_ns - th->charged_se_ns;
		th->charged_se_ns = seen_ns;
	}
	if (th->cpu != cpu) {
		do_move_pending(th);
		th->cpu = cpu;
	}
	if (grow)
		__sync_fetch_and_add(&th->pending_ns, grow);
	if (dead)
		do_move_pending(th);
}

/*
 * First sight of a thread: name its process, and for a thread that was
 * already running when joule attached, take its count so far as the
 * baseline (that time is not joule's to report).
 */
static __always_inline void do_first_sight(struct joule_thread *th, __u32 tgid, __u64 leader_start_ns,
					   __u64 thread_start_ns, __u64 se_ns, __u32 cpu)
{
	th->key.tgid = tgid;
	th->key.pad = 0;
	th->key.start_ns = leader_start_ns;
	th->cpu = cpu;
	th->charged_se_ns = thread_start_ns < attach_ns ? se_ns : 0;
	th->seen = 1;
}

/* Idle time from the CPU's clock: read only when the idle task switches in or out. */
static __always_inline void do_idle_out(struct joule_cpu_state *st, __u64 now_ns)
{
	if (st->idle_since_ns && now_ns > st->idle_since_ns)
		st->idle_ns += now_ns - st->idle_since_ns;
	st->idle_since_ns = 0;
}

static __always_inline void do_idle_in(struct joule_cpu_state *st, __u64 now_ns)
{
	st->idle_since_ns = now_ns;
}

/*
 * The offset between CLOCK_MONOTONIC and the rq's task clock, learnt at
 * idle transitions where both are at hand (the task switching in or out
 * has exec_start == rq clock_task of this __schedule). A flush uses it to
 * credit the running slice the kernel has not yet counted.
 */
static __always_inline void do_learn_offset(struct joule_cpu_state *st, __u64 now_ns, __u64 exec_start_ns)
{
	st->clock_offset_ns = now_ns - exec_start_ns;
}

/*
 * A running slice the kernel has not counted for longer than this (one
 * default snapshot interval) means the offset is wrong, not the count.
 */
#define JOULE_MAX_LAG_NS 100000000ULL

/*
 * The running thread's time up to now: its count plus the slice since the
 * kernel's last update_curr (normally under a tick, HZ=250: 4 ms; more on
 * a tickless CPU, or a vCPU the host did not run). Without a learnt
 * offset, or with an estimate out of bounds, the count alone is used and
 * the rest is charged at the next switch.
 */
static __always_inline __u64 do_running_ns(const struct joule_cpu_state *st, __u64 now_ns, __u64 se_ns,
					   __u64 exec_start_ns)
{
	__u64 rq_now;

	if (!st->clock_offset_ns)
		return se_ns;
	rq_now = now_ns - st->clock_offset_ns;
	if (rq_now < exec_start_ns || rq_now - exec_start_ns > JOULE_MAX_LAG_NS)
		return se_ns;
	return se_ns + (rq_now - exec_start_ns);
}

/* The thread's storage, created on first sight; NULL when the kernel is out of memory. */
static __always_inline struct joule_thread *thread_of(struct task_struct *t, __u32 cpu)
{
	struct joule_thread *th;

	th = bpf_task_storage_get(&threads, t, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (th && !th->seen)
		do_first_sight(th, BPF_CORE_READ(t, tgid), BPF_CORE_READ(t, group_leader, start_time),
			       BPF_CORE_READ(t, start_time), BPF_CORE_READ(t, se.sum_exec_runtime), cpu);
	return th;
}

/*
 * A thread without storage (the kernel is out of memory) cannot be charged:
 * its time is left out of every task and shows as the CPU's unaccounted ns.
 */
static __always_inline void charge_lost(void)
{
	__sync_fetch_and_add(&lost_threads, 1);
}

/* task_struct::state was renamed __state in v5.14 (2f064a59a11f); the old name is read on older kernels. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

#define JOULE_TASK_DEAD 0x80 /* TASK_DEAD: the exiting task's final switch */

/* prev's state at sched_switch, read directly (tp_btf: prev is a BTF pointer). */
static __always_inline bool task_dead_btf(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state & JOULE_TASK_DEAD;
	return ((struct task_struct___pre514 *)t)->state & JOULE_TASK_DEAD;
}

/* The same through bpf_probe_read_kernel (raw_tp). */
static __always_inline bool task_dead_core(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state) & JOULE_TASK_DEAD;
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state) & JOULE_TASK_DEAD;
}

/*
 * sched_switch: charge prev (unless it is the idle task), and keep the
 * CPU's idle clock. Busy-to-busy switches touch prev's task_struct (hot:
 * the scheduler just wrote it) and its storage, nothing shared, and read
 * no clock. The caller reads the fields (directly for tp_btf):
 * prev_se_ns is prev's sum_exec_runtime, exec_start_ns the exec_start of
 * prev, or of next when prev is idle (either equals this __schedule's rq
 * clock_task), prev_dead whether this is prev's final switch.
 */
static __always_inline void do_switch(struct task_struct *prev, __u32 prev_pid, __u32 next_pid,
				      __u64 prev_se_ns, __u64 exec_start_ns, bool prev_dead)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct joule_thread *th;

	if (prev_pid == 0 || next_pid == 0) {
		struct joule_cpu_state *st = this_cpu_state();
		__u64 now = bpf_ktime_get_ns();

		if (st) {
			if (prev_pid == 0)
				do_idle_out(st, now);
			else
				do_idle_in(st, now);
			do_learn_offset(st, now, exec_start_ns);
		}
		if (prev_pid == 0)
			return;
	}
	th = thread_of(prev, cpu);
	if (!th) {
		charge_lost();
		return;
	}
	/*
	 * A CPU that never idles learns its offset here, rate-limited by the
	 * values at hand: when prev's count crosses a 2^26 ns (67 ms)
	 * boundary, about once per 67 ms of CPU time per CPU.
	 */
	if (next_pid && (prev_se_ns ^ th->charged_se_ns) >> 26) {
		struct joule_cpu_state *st = this_cpu_state();

		if (st)
			do_learn_offset(st, bpf_ktime_get_ns(), exec_start_ns);
	}
	do_charge(th, prev_se_ns, cpu, prev_dead);
}

/*
 * Credit this CPU's running slice up to now, so a snapshot taken after a
 * flush holds every ns once. Userspace runs this on each CPU with
 * BPF_F_TEST_RUN_ON_CPU; there it cannot race sched_switch.
 */
static __always_inline void do_flush(struct task_struct *cur)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct joule_cpu_state *st = this_cpu_state();
	struct joule_thread *th;
	__u64 now = bpf_ktime_get_ns(), seen;

	if (!st)
		return;
	st->flush_ns = now;
	if (BPF_CORE_READ(cur, pid) == 0) {
		if (st->idle_since_ns) {
			do_idle_out(st, now);
			do_idle_in(st, now);
		}
		return;
	}
	th = thread_of(cur, cpu);
	if (!th) {
		charge_lost();
		return;
	}
	seen = do_running_ns(st, now, BPF_CORE_READ(cur, se.sum_exec_runtime), BPF_CORE_READ(cur, se.exec_start));
	do_charge(th, seen, cpu, false);
	do_move_pending(th);
}

/*
 * The snapshot's task iterator: every thread's pending ns to its process.
 * Run once with baseline set before the switch program is attached, it
 * gives every thread alive then its storage and baseline.
 */
static __always_inline void do_collect(struct task_struct *t, bool baseline)
{
	struct joule_thread *th;

	if (baseline) {
		thread_of(t, bpf_get_smp_processor_id());
		return;
	}
	th = bpf_task_storage_get(&threads, t, NULL, 0);
	if (th && th->pending_ns)
		do_move_pending(th);
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

#endif /* JOULE_BPF_H */
