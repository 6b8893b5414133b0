/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Splits one GPU's interval energy over the processes using it, with an idle bucket; exact in µJ. */
#ifndef JOULE_GPU_ATTRIB_H
#define JOULE_GPU_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPU_MAX 16		/* GPUs read per host */
#define GPU_MAX_PROCS 256	/* processes per GPU per interval */
#define GPU_MEM_UNKNOWN UINT64_MAX /* NVML_VALUE_NOT_AVAILABLE for a process's memory */

/* How a GPU's interval energy was split; stated in every output. */
enum gpu_split_method {
	GPU_SPLIT_IDLE,		/* no process on the GPU: all of it is idle */
	GPU_SPLIT_SM_UTIL,	/* by each process's SM utilisation samples */
	GPU_SPLIT_MEMORY,	/* no samples: by each running process's GPU memory */
	GPU_SPLIT_EVEN,		/* no samples, no memory figures: evenly over running processes */
	GPU_NSPLIT,
};
const char *gpu_split_name(enum gpu_split_method m);

/* What happened to a GPU in an interval. */
enum gpu_status {
	GPU_OK,
	GPU_READ_ERROR,	/* this interval's read failed: counter energy comes with the next good read */
	GPU_LOST,	/* the GPU fell off the bus (or the driver lost it): no more reads */
};

/* One process seen on one GPU over the interval. */
struct gpu_proc_use {
	uint32_t pid;		/* host pid, as NVML reports it */
	uint32_t sm_util_pct;	/* mean SM utilisation of its samples, 0-100; 0 if none */
	bool has_samples;	/* sm_util_pct comes from utilisation samples */
	uint64_t mem_bytes;	/* GPU memory in use, GPU_MEM_UNKNOWN if not reported */
};

struct gpu_attrib_in {
	uint64_t energy_uj;	/* the GPU's energy over the interval */
	size_t nprocs;
	const struct gpu_proc_use *procs; /* a pid may appear twice (MIG instances): counted once */
	bool busy_valid;	/* busy_pct is the device's own utilisation over the interval */
	uint32_t busy_pct;	/* 0-100, for the idle share when only the process list is known */
};

struct gpu_attrib_out {
	uint64_t *proc_uj;	/* [nprocs]: a duplicate pid's later rows get 0 */
	uint64_t idle_uj;
	enum gpu_split_method method;
};

/*
 * With samples, process i weighs its SM % and idle weighs what is left of
 * 100 % (none when the sum passes 100: kernels overlap). Without, the running
 * processes share busy_pct (all, if unknown) by memory or evenly. Always
 * Σ proc_uj + idle_uj == energy_uj. 0 or -EINVAL / -ENOMEM.
 */
int gpu_attrib_split(const struct gpu_attrib_in *in, struct gpu_attrib_out *out);

#endif /* JOULE_GPU_ATTRIB_H */
