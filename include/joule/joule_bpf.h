/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by bpf/joule.bpf.c and user/tracer.c: map keys, values, events. */
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

/* Value of the per-CPU task map: cumulative on-CPU ns of one process on one CPU. */
struct joule_task_val {
	__u64 cpu_ns;
};

/*
 * Per-CPU state. Everything in it is written only by BPF programs running on
 * that CPU (sched_switch, or the flush program run there by
 * BPF_F_TEST_RUN_ON_CPU), so no field needs atomics.
 */
struct joule_cpu_state {
	__u64 switched_in_ns;	   /* start of the running slice; 0: no switch seen yet */
	__u64 idle_ns;		   /* cumulative idle time */
	__u64 overflow_ns;	   /* cumulative time that found the task map full */
	__u64 overflow_events;	   /* how many slices went to overflow */
	__u64 switches;		   /* sched_switch events seen on this CPU */
};

enum joule_event_kind {
	JOULE_EV_FORK = 1, /* a new process (not a thread) */
	JOULE_EV_EXEC = 2, /* comm changed */
	JOULE_EV_EXIT = 3, /* the last thread of a process exited */
	JOULE_EV_RENAME = 4, /* the group leader set its name (prctl PR_SET_NAME, exec) */
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
	char comm[JOULE_COMM_LEN];
};

/* Inputs for the raw_tp test wrapper of the switch logic (tests only). */
struct joule_test_switch {
	struct joule_task_key prev; /* the task whose slice ends */
	__u32 prev_idle;
	__u32 pad;
	__u64 now_ns;
};

#endif /* JOULE_JOULE_BPF_H */
