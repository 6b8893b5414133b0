// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Test-only object: raw_tp wrappers that run joule.bpf.h's logic on inputs the BPF tests control. */
#include "joule.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct joule_test_in test_in = {};
/* The thread under test: plain memory, so tests read and set it directly. */
struct joule_thread test_th = {};
__u64 test_running_ns = 0;

/* First sight of test_th (do_first_sight). */
SEC("raw_tp")
int test_first_sight(void *ctx)
{
	do_first_sight(&test_th, test_in.tgid, test_in.leader_start_ns, test_in.thread_start_ns, test_in.se_ns);
	return 0;
}

/* A charge of test_th to test_in.cpu with its count at test_in.se_ns (do_charge). */
SEC("raw_tp")
int test_charge(void *ctx)
{
	do_charge(&test_th, test_in.se_ns, test_in.cpu, gen);
	return 0;
}

/* The idle task switches out (dead = 0) or in (dead = 1) at test_in.now_ns; run on the CPU under test. */
SEC("raw_tp")
int test_idle(void *ctx)
{
	struct joule_cpu_state *st = this_cpu_state();

	if (!st)
		return 0;
	if (test_in.dead)
		do_idle_in(st, test_in.now_ns);
	else
		do_idle_out(st, test_in.now_ns);
	do_learn_offset(st, test_in.now_ns, test_in.exec_start_ns);
	return 0;
}

/* The flush's estimate of the running thread's time (do_running_ns) into test_running_ns. */
SEC("raw_tp")
int test_running(void *ctx)
{
	struct joule_cpu_state *st = this_cpu_state();

	if (st)
		test_running_ns = do_running_ns(st, test_in.now_ns, test_in.se_ns, test_in.exec_start_ns);
	return 0;
}

/* A new thread of test_in's process (tgid, leader_start_ns) is counted (do_count). */
SEC("raw_tp")
int test_clone(void *ctx)
{
	struct joule_task_key key = { .tgid = test_in.tgid, .start_ns = test_in.leader_start_ns };

	do_count(&key);
	return 0;
}

/*
 * A thread of that process makes its final switch (do_thread_end):
 * test_in.dead is 1 for the leader, test_in.cpu 1 for a counted thread,
 * test_in.se_ns the generation its last ns went into.
 */
SEC("raw_tp")
int test_thread_end(void *ctx)
{
	struct joule_task_key key = { .tgid = test_in.tgid, .start_ns = test_in.leader_start_ns };

	do_thread_end(&key, test_in.dead, test_in.cpu, 0, (__u32)test_in.se_ns, NULL);
	return 0;
}
