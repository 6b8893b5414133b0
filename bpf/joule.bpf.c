// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule's BPF programs: thin SEC wrappers around the logic in joule.bpf.h. */
#include "joule.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace for the one iterator pass at attach (see do_collect). */
__u32 iter_baseline = 0;

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_pid = prev->pid, next_pid = next->pid;

	do_switch(prev, prev_pid, next_pid, prev->se.sum_exec_runtime,
		  prev_pid ? prev->se.exec_start : next->se.exec_start, task_dead_btf(prev));
	return 0;
}

/* raw_tp: prev is not a BTF pointer here, but it is still current, which is. */
SEC("raw_tp/sched_switch")
int BPF_PROG(handle_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_pid = BPF_CORE_READ(prev, pid), next_pid = BPF_CORE_READ(next, pid);

	do_switch(bpf_get_current_task_btf(), prev_pid, next_pid, BPF_CORE_READ(prev, se.sum_exec_runtime),
		  prev_pid ? BPF_CORE_READ(prev, se.exec_start) : BPF_CORE_READ(next, se.exec_start),
		  task_dead_core(prev));
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
	do_flush(bpf_get_current_task_btf());
	return 0;
}

/* Read by userspace at every snapshot (see do_collect). */
SEC("iter/task")
int collect(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (task)
		do_collect(task, iter_baseline);
	return 0;
}
