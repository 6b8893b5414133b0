// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Experiment behind docs/PERFORMANCE.md: each slice's wall-clock length (joule's old charge) against the kernel's sum_exec_runtime growth. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Per CPU: the last switch's clock and who it switched in, with that task's sum_exec_runtime. */
struct cpu_last {
	__u64 kt_ns;
	__u64 next_se_ns;
	__u32 next_pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_last);
} last SEC(".maps");

/* What the experiment reports for the one task it watches. */
struct residual_out {
	__u64 kt_ns;		/* Σ switch-to-switch clock of its slices */
	__u64 se_ns;		/* Σ its sum_exec_runtime growth over the same slices */
	__u64 slices;
	__u64 foreign;		/* slices whose prev was not the task last switched in (missed switch) */
	__u64 foreign_kt_ns;
	__u64 pos_ns;		/* Σ max(kt − se, 0) per slice */
	__u64 neg_ns;		/* Σ max(se − kt, 0) per slice */
	__u64 short_n, short_kt_ns, short_diff_ns;	/* slices under 500 µs: a per-switch cost shows here */
	__u64 long_n, long_kt_ns, long_diff_ns;		/* the rest: a clock-rate difference shows here */
};

__u32 target_pid = 0;
struct residual_out out = {};

SEC("tp_btf/sched_switch")
int BPF_PROG(res_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 zero = 0;
	struct cpu_last *l = bpf_map_lookup_elem(&last, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!l)
		return 0;
	if (l->kt_ns && prev->pid == target_pid && target_pid) {
		__u64 kt = now - l->kt_ns;

		if (l->next_pid != prev->pid) {
			out.foreign++;
			out.foreign_kt_ns += kt;
		} else {
			__u64 se = prev->se.sum_exec_runtime - l->next_se_ns;

			out.slices++;
			out.kt_ns += kt;
			out.se_ns += se;
			if (kt > se)
				out.pos_ns += kt - se;
			else
				out.neg_ns += se - kt;
			if (kt < 500000) {
				out.short_n++;
				out.short_kt_ns += kt;
				out.short_diff_ns += kt - se;
			} else {
				out.long_n++;
				out.long_kt_ns += kt;
				out.long_diff_ns += kt - se;
			}
		}
	}
	l->kt_ns = now;
	l->next_pid = next->pid;
	l->next_se_ns = next->se.sum_exec_runtime;
	return 0;
}
