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
 * Per-thread state, found through the task pointer (no hash lookup). The
 * switch path never touches it: a thread is charged where its time is
 * known to be on one CPU — when it migrates, at its final switch, at a
 * snapshot — with the growth of the kernel's own count since joule last
 * charged it. Freed by the kernel with the task.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct joule_thread);
} threads SEC(".maps");

/*
 * Two generations of the process map. Charges go into procs[gen]; each
 * snapshot userspace flips gen, waits until every CPU has seen the flip,
 * then reads and empties the other one. Per-CPU values so attribution can
 * split a process's time by package; a charge is written into the slot of
 * the CPU the time was spent on, which may be another CPU's (a migration
 * is charged on the destination's wakeup path, a snapshot from the
 * iterator's CPU), hence atomic adds. Userspace sets max_entries before load.
 */
struct procs_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, JOULE_DEFAULT_MAX_TASKS);
	__type(key, struct joule_task_key);
	__type(value, struct joule_task_val);
};
struct procs_map procs0 SEC(".maps");
struct procs_map procs1 SEC(".maps");

/* Which generation charges go into: written only by userspace. */
__u32 gen = 0;

/*
 * Live threads per process: +1 at each clone (or, for threads older than
 * joule, at the counting pass after attach), −1 at each counted thread's
 * final switch. The switch that takes it to 0 is the process's last: it
 * sends JOULE_EV_FINAL after charging its last ns, so userspace closes the
 * process in the snapshot that reads them. Touched at clone and exit
 * only, never on the switch path. LRU: an entry lost to a full map (or a
 * count gone wrong) only costs that process its early close; userspace
 * then closes it late (see tracer_lifecycle.c). Sized by userspace.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, JOULE_DEFAULT_MAX_TASKS);
	__type(key, struct joule_task_key);
	__type(value, __u64);
} lives SEC(".maps");

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
/* Charges that found no thread storage (out of memory): their ns show as the CPU's unaccounted. */
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
 * overflow bucket.
 */
static __always_inline void do_credit(const struct joule_task_key *key, __u32 cpu, __u64 ns, __u32 g)
{
	struct joule_task_val zero = {}, *val;
	struct joule_cpu_state *st;
	void *map = (g & 1) ? (void *)&procs1 : (void *)&procs0;

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

/*
 * Charge a thread with the growth of the kernel's own count of its run
 * time (se.sum_exec_runtime, what schedstat, rusage and perf's task-clock
 * report) since joule last charged it, to the CPU it was spent on. Exact
 * by construction, and a missed or reordered switch event loses nothing.
 * seen_ns is sum_exec_runtime, or more at a flush (the running slice the
 * kernel has not counted yet). Two paths may charge one thread at once
 * (the snapshot's iterator and its migration): the compare-and-swap lets
 * one of them take the growth; the other's is taken at the next charge.
 * g is the generation, read once by the caller: userspace may flip it
 * while a program runs on another CPU.
 */
static __always_inline void do_charge(struct joule_thread *th, __u64 seen_ns, __u32 cpu, __u32 g)
{
	__u64 old = th->charged_se_ns;

	/* a flush may have credited past the kernel's count: wait until the count passes it */
	if (seen_ns <= old)
		return;
	if (__sync_val_compare_and_swap(&th->charged_se_ns, old, seen_ns) != old)
		return;
	do_credit(&th->key, cpu, seen_ns - old, g);
}

/*
 * First sight of a thread: name its process, and for a thread that was
 * already running when joule attached, take its count so far as the
 * baseline (that time is not joule's to report).
 */
static __always_inline void do_first_sight(struct joule_thread *th, __u32 tgid, __u64 leader_start_ns,
					   __u64 thread_start_ns, __u64 se_ns)
{
	th->key.tgid = tgid;
	th->key.pad = 0;
	th->key.start_ns = leader_start_ns;
	th->charged_se_ns = thread_start_ns < attach_ns ? se_ns : 0;
	/* a thread born since attach was counted at its clone (do_fork); older ones by the counting pass */
	th->counted = thread_start_ns >= attach_ns;
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
 * The offset between CLOCK_MONOTONIC and the rq's task clock, learnt on
 * the switch path where both are at hand (the task switching out has
 * exec_start == rq clock_task of this __schedule). A flush uses it to
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
 * the rest is charged at the next charge.
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
static __always_inline struct joule_thread *thread_of(struct task_struct *t)
{
	struct joule_thread *th;

	th = bpf_task_storage_get(&threads, t, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!th) {
		/* its time is left out of every task and shows as unaccounted */
		__sync_fetch_and_add(&lost_threads, 1);
		return NULL;
	}
	if (!th->seen)
		do_first_sight(th, BPF_CORE_READ(t, tgid), BPF_CORE_READ(t, group_leader, start_time),
			       BPF_CORE_READ(t, start_time), BPF_CORE_READ(t, se.sum_exec_runtime));
	return th;
}

/* task_struct::state was renamed __state in v5.14 (2f064a59a11f); the old name is read on older kernels. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

/* task_struct::cpu moved into thread_info in v5.16 (bcf9033e5449); the old field is read on older kernels. */
struct task_struct___pre516 {
	unsigned int cpu;
} __attribute__((preserve_access_index));

#define JOULE_TASK_DEAD 0x80 /* TASK_DEAD: the exiting task's final switch */
#define JOULE_PF_IDLE 0x2    /* PF_IDLE: an idle task (on task_struct's first line, hot at a switch) */

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

/* The CPU a task is on, or last ran on. */
static __always_inline __u32 task_cpu_core(struct task_struct *t)
{
	if (bpf_core_field_exists(t->thread_info.cpu))
		return BPF_CORE_READ(t, thread_info.cpu);
	return BPF_CORE_READ((struct task_struct___pre516 *)t, cpu);
}

/*
 * sched_switch. A busy-to-busy switch reads three fields on the hot first
 * lines of prev's and next's task_struct and the count prev's update_curr
 * just wrote, and touches nothing else: no map, no clock. The clock is
 * read at idle edges (idle time), at a thread's final switch, and when
 * prev's count crosses a 2^26 ns (67 ms) boundary in this slice, about
 * every 67 ms of CPU time per CPU, to keep the flush's offset fresh on a
 * CPU that never idles. prev_se_ns and prev_start_ns are prev's
 * sum_exec_runtime and its value at the slice's start (prev_sum_exec_runtime),
 * exec_start_ns the exec_start of the task that is not idle (either equals
 * this __schedule's rq clock_task).
 */
/*
 * A subprogram, not inlined: a thread's final switch is rare, and keeping its
 * code (and the registers and stack it needs) out of handle_switch keeps the
 * every-switch path as small as it was before the process close moved here.
 */
static __noinline void do_final(struct task_struct *t, struct joule_thread *th, __u32 g);

static __always_inline void do_switch(struct task_struct *prev, bool prev_idle, bool next_idle, bool prev_dead,
				      __u64 prev_se_ns, __u64 prev_start_ns, __u64 exec_start_ns)
{
	struct joule_thread *th;
	__u32 g;

	if (prev_idle || next_idle || ((prev_se_ns ^ prev_start_ns) >> 26)) {
		struct joule_cpu_state *st = this_cpu_state();
		__u64 now = bpf_ktime_get_ns();

		if (st) {
			if (prev_idle)
				do_idle_out(st, now);
			else if (next_idle)
				do_idle_in(st, now);
			if (!(prev_idle && next_idle))
				do_learn_offset(st, now, exec_start_ns);
		}
	}
	if (!prev_dead || prev_idle)
		return;
	/* its storage goes with it: charge what it ran since the last charge, on this CPU */
	g = gen;
	th = thread_of(prev);
	if (th)
		do_charge(th, prev_se_ns, bpf_get_smp_processor_id(), g);
	do_final(prev, th, g);
}

/*
 * sched_migrate_task: the task leaves the CPU it last ran on (not running
 * now: woken, or pulled by the balancer), so its count is final for that
 * CPU. Charge it there.
 */
static __always_inline void do_migrate(struct task_struct *t)
{
	struct joule_thread *th = thread_of(t);

	if (th)
		do_charge(th, BPF_CORE_READ(t, se.sum_exec_runtime), task_cpu_core(t), gen);
}

/*
 * Credit this CPU's running slice up to now, so a snapshot taken after a
 * flush holds every ns once. Userspace runs this on each CPU with
 * BPF_F_TEST_RUN_ON_CPU; there it cannot race sched_switch.
 */
static __always_inline void do_flush(struct task_struct *cur)
{
	struct joule_cpu_state *st = this_cpu_state();
	struct joule_thread *th;
	__u64 now = bpf_ktime_get_ns();

	if (!st)
		return;
	st->flush_ns = now;
	if (BPF_CORE_READ(cur, flags) & JOULE_PF_IDLE) {
		if (st->idle_since_ns) {
			do_idle_out(st, now);
			do_idle_in(st, now);
		}
		return;
	}
	th = thread_of(cur);
	if (th)
		do_charge(th, do_running_ns(st, now, BPF_CORE_READ(cur, se.sum_exec_runtime),
					    BPF_CORE_READ(cur, se.exec_start)),
			  bpf_get_smp_processor_id(), gen);
}

/* +1 live thread for a process; a new entry starts at 1. */
static __always_inline void do_count(const struct joule_task_key *key)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(&lives, key);

	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	/* BPF_NOEXIST: another CPU's clone may have created it meanwhile */
	if (bpf_map_update_elem(&lives, key, &one, BPF_NOEXIST) == 0)
		return;
	n = bpf_map_lookup_elem(&lives, key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * The snapshot's task iterator: every thread's growth since its last
 * charge, to the CPU it is on (it has not migrated since: that would have
 * charged it). Run with JOULE_ITER_BASELINE before sched_switch is
 * attached, it gives every thread alive then its storage and baseline;
 * with JOULE_ITER_COUNT once after attach, it counts each thread that
 * predates attach and has not made its final switch (TASK_DEAD: a zombie
 * leader waiting for its parent) among its process's live threads. One
 * that died between attach and this pass was never counted and is not
 * subtracted either (its counted flag is unset).
 */
static __always_inline void do_collect(struct task_struct *t, __u32 mode)
{
	struct joule_thread *th = thread_of(t);

	if (!th)
		return;
	if (mode == JOULE_ITER_CHARGE) {
		do_charge(th, BPF_CORE_READ(t, se.sum_exec_runtime), task_cpu_core(t), gen);
	} else if (mode == JOULE_ITER_COUNT && !th->counted && !task_dead_core(t) &&
		   BPF_CORE_READ(t, start_time) < attach_ns) {
		th->counted = 1;
		do_count(&th->key);
	}
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
	ev->gen = 0;
	ev->pad = 0;
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

/*
 * Every clone adds a live thread to its process (see lives); a new
 * process, not a new thread (the child leads its own thread group), is
 * also announced. The tracepoint fires before the child is woken, so its
 * final switch always comes after this count.
 */
static __always_inline void do_fork(struct task_struct *parent, struct task_struct *child)
{
	struct joule_task_key key = {
		.tgid = BPF_CORE_READ(child, tgid),
		.start_ns = BPF_CORE_READ(child, group_leader, start_time),
	};

	do_count(&key);
	if (BPF_CORE_READ(child, pid) != key.tgid)
		return;
	emit(JOULE_EV_FORK, child, parent, 0, NULL);
}

/*
 * A thread's final switch (TASK_DEAD), after its last ns were charged to
 * generation g: one live thread fewer. The last one tells userspace, with
 * g, so the snapshot that drains g marks the process exited in the same
 * row that carries those ns. A thread that was never counted (it died
 * before the counting pass, or its storage could not be made) ends the
 * process only if it is the leader and no counted thread is left. t names
 * the process in the event (NULL: no name, tests).
 */
static __always_inline void do_thread_end(const struct joule_task_key *key, bool leader, bool counted,
					  __s32 exit_code, __u32 g, struct task_struct *t)
{
	struct joule_event *ev;
	__u64 *n = bpf_map_lookup_elem(&lives, key);

	if (counted && n) {
		if (__sync_fetch_and_add(n, -1) != 1)
			return;
		bpf_map_delete_elem(&lives, key);
	} else if (!leader || n) {
		return;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&lost_events, 1);
		return;
	}
	ev->kind = JOULE_EV_FINAL;
	ev->tgid = key->tgid;
	ev->pad = 0;
	ev->start_ns = key->start_ns;
	ev->ppid = 0;
	ev->pstart_ns = 0;
	ev->exit_code = exit_code;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->gen = g;
	ev->comm[0] = '\0';
	if (t)
		BPF_CORE_READ_STR_INTO(&ev->comm, t, comm);
	bpf_ringbuf_submit(ev, 0);
}

static __noinline void do_final(struct task_struct *t, struct joule_thread *th, __u32 g)
{
	struct joule_task_key key = {
		.tgid = BPF_CORE_READ(t, tgid),
		.start_ns = BPF_CORE_READ(t, group_leader, start_time),
	};

	do_thread_end(&key, BPF_CORE_READ(t, pid) == key.tgid, th && th->counted, BPF_CORE_READ(t, exit_code), g, t);
}

/*
 * The last thread to start exiting reports the exit code. The process is
 * not over: its threads still run (exit_mm of a large address space for
 * tens of ms, longer when preempted) until their final switches, and the
 * last of those (do_thread_end) is what closes it.
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
