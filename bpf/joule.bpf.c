// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule's BPF programs: thin SEC wrappers around the logic in joule.bpf.h. */
#include "joule.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace for the two iterator passes at attach (enum joule_iter_mode, see do_collect). */
__u32 iter_mode = 0;

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	bool prev_idle = prev->flags & JOULE_PF_IDLE;

	do_switch(prev, prev_idle, next->flags & JOULE_PF_IDLE, task_dead_btf(prev), prev->se.sum_exec_runtime,
		  prev->se.prev_sum_exec_runtime, prev_idle ? next->se.exec_start : prev->se.exec_start);
	return 0;
}

/* raw_tp: prev is not a BTF pointer here, but it is still current, which is. */
SEC("raw_tp/sched_switch")
int BPF_PROG(handle_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	bool prev_idle = BPF_CORE_READ(prev, flags) & JOULE_PF_IDLE;

	do_switch(bpf_get_current_task_btf(), prev_idle, BPF_CORE_READ(next, flags) & JOULE_PF_IDLE,
		  task_dead_core(prev), BPF_CORE_READ(prev, se.sum_exec_runtime),
		  BPF_CORE_READ(prev, se.prev_sum_exec_runtime),
		  prev_idle ? BPF_CORE_READ(next, se.exec_start) : BPF_CORE_READ(prev, se.exec_start));
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(handle_migrate, struct task_struct *p, int dest_cpu)
{
	do_migrate(p);
	return 0;
}

/*
 * No raw_tp twin: task storage needs a BTF pointer, and there p is neither
 * one nor current. With raw_tp a migrated thread's time is charged to the
 * CPU it is on at its next charge: per-process totals stay exact, the
 * split between CPUs (packages) does not.
 */

/*
 * A hook whose logic reads its arguments the same way whether they are BTF
 * pointers or not: one body, as a tp_btf program and as its raw_tp twin
 * (name_raw), which the loader uses where tp_btf is not supported.
 */
#define JOULE_TWIN(tp, name, call, ...)			\
	SEC("tp_btf/" #tp)					\
	int BPF_PROG(name, __VA_ARGS__)				\
	{							\
		call;						\
		return 0;					\
	}							\
	SEC("raw_tp/" #tp)					\
	int BPF_PROG(name##_raw, __VA_ARGS__)			\
	{							\
		call;						\
		return 0;					\
	}

JOULE_TWIN(sched_process_fork, handle_fork, do_fork(parent, child), struct task_struct *parent,
	   struct task_struct *child)
JOULE_TWIN(sched_process_exec, handle_exec, emit(JOULE_EV_EXEC, p, NULL, 0, NULL), struct task_struct *p)
JOULE_TWIN(sched_process_exit, handle_exit, do_exit(p), struct task_struct *p)
JOULE_TWIN(task_rename, handle_rename, do_rename(t, comm), struct task_struct *t, const char *comm)

/* Run by userspace on each CPU before every snapshot (see do_flush). */
SEC("raw_tp")
int flush(void *ctx)
{
	do_flush(bpf_get_current_task_btf());
	return 0;
}

/* Read by userspace at every snapshot (see do_collect). */
SEC("iter/task")
int collect(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (task)
		do_collect(task, iter_mode);
	return 0;
}
