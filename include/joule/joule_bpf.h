/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by bpf/joule.bpf.h and user/kernel/tracer.c: map keys, values, events. */
#ifndef JOULE_JOULE_BPF_H
#define JOULE_JOULE_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "joule/comm.h"

#define JOULE_DEFAULT_MAX_TASKS 65536

/*
 * A process is its tgid plus the group leader's start time: a reused PID is
 * a new key, so two processes are never merged.
 */
struct joule_task_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};

/* Value of the per-CPU process map: cumulative on-CPU ns of one process on one CPU. */
struct joule_task_val {
	__u64 cpu_ns;
};

/* Per-thread state in task-local storage. */
struct joule_thread {
	__u64 charged_se_ns;	/* sum_exec_runtime joule has charged up to (compare-and-swap) */
	struct joule_task_key key; /* its process */
	__u32 seen;		/* storage initialised */
	__u32 counted;		/* counted among its process's live threads (see the lives map) */
};

/*
 * Per-CPU state. Written by BPF programs running on that CPU (sched_switch
 * at idle edges, the flush run there by BPF_F_TEST_RUN_ON_CPU), and the
 * overflow counters also from other CPUs (atomic adds).
 */
struct joule_cpu_state {
	__u64 idle_since_ns;	/* CLOCK_MONOTONIC at the idle task's switch-in; 0: not idle, or unknown */
	__u64 idle_ns;		/* cumulative idle time */
	__u64 clock_offset_ns;	/* CLOCK_MONOTONIC − rq clock_task, learnt on the switch path; 0: unknown */
	__u64 flush_ns;		/* CLOCK_MONOTONIC of the last flush on this CPU */
	__u64 overflow_ns;	/* cumulative time that found the process map full */
	__u64 overflow_events;	/* how many credits went to overflow */
};

enum joule_event_kind {
	JOULE_EV_FORK = 1, /* a new process (not a thread) */
	JOULE_EV_EXEC = 2, /* comm changed */
	JOULE_EV_EXIT = 3, /* the last thread of a process exited */
	JOULE_EV_RENAME = 4, /* the group leader set its name (prctl PR_SET_NAME, exec) */
	JOULE_EV_FINAL = 5, /* the process's last thread made its final switch: it never runs again */
};

/* What the task iterator does with each thread (iter_mode). */
enum joule_iter_mode {
	JOULE_ITER_CHARGE = 0,	 /* a snapshot: charge its growth */
	JOULE_ITER_BASELINE = 1, /* before attach: give it storage and its baseline */
	JOULE_ITER_COUNT = 2,	 /* once after attach: count the threads older than joule */
};

/* Ring-buffer record for process lifecycle events (never on the switch path). */
struct joule_event {
	__u32 kind;
	__u32 tgid;
	__u64 start_ns;
	__u32 ppid;	   /* FORK: parent's tgid */
	__s32 exit_code;   /* EXIT: task->exit_code (wait status form) */
	__u64 pstart_ns;   /* FORK: parent's start time */
	__u64 ts_ns;	   /* bpf_ktime_get_ns() at the event */
	__u32 gen;	   /* FINAL: the generation of the process map its last ns went into */
	__u32 pad;
	char comm[JOULE_COMM_LEN];
};

/* Inputs of the raw_tp test wrappers in bpf/joule_test.bpf.c (tests only; not in the production object). */
struct joule_test_in {
	__u64 se_ns;		/* the thread's sum_exec_runtime (or the flush's estimate) */
	__u64 now_ns;		/* the clock at an idle transition */
	__u64 exec_start_ns;	/* exec_start at an idle transition */
	__u32 cpu;		/* the CPU the charge happens on */
	__u32 dead;		/* test_idle: the idle task switches in (1) or out (0) */
	__u32 tgid;		/* first sight: its process */
	__u32 pad;
	__u64 leader_start_ns;
	__u64 thread_start_ns;
};

#endif /* JOULE_JOULE_BPF_H */
