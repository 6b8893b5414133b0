// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The floor: an empty tp_btf/sched_switch program, the least any switch hook can cost. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int floor_switch(unsigned long long *ctx)
{
	return 0;
}
