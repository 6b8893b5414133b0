/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The GPU energy source: NVIDIA NVML loaded at run time, per-GPU interval energy and per-process use. */
#ifndef JOULE_GPU_H
#define JOULE_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/gpu_attrib.h"

enum gpu_mode {
	GPU_MODE_AUTO,	/* NVML if the library loads and finds a GPU; otherwise no GPU, said once */
	GPU_MODE_NVML,	/* NVML or fail */
	GPU_MODE_NONE,
};
/* "auto", "nvml", "none" → mode; 0 or -EINVAL. */
int gpu_mode_parse(const char *s, enum gpu_mode *out);
const char *gpu_mode_name(enum gpu_mode m);

#define GPU_DEFAULT_LIB "libnvidia-ml.so.1"

struct gpu_opts {
	enum gpu_mode mode;
	const char *lib_path;	/* NULL: GPU_DEFAULT_LIB through the loader's search path */
};


/* One GPU over one interval. */
struct gpu_dev_reading {
	uint32_t index;
	char uuid[96];
	char name[96];
	bool has_counter;	/* energy from the mJ counter (Volta+); else power integrated over the tick */
	enum gpu_status status;
	int nvml_err;		/* the NVML return code behind a READ_ERROR or LOST */
	uint32_t mig_instances;	/* MIG devices under it: reported, never read for energy (that would count twice) */
	uint64_t energy_uj;	/* this interval */
	bool busy_valid;
	uint32_t busy_pct;
	size_t nprocs;
	struct gpu_proc_use procs[GPU_MAX_PROCS];
};

struct gpu_reading {
	int ngpu;
	struct gpu_dev_reading dev[GPU_MAX];
};

struct gpu_source;

/*
 * Load NVML and enumerate the GPUs. -ENOENT: no library, or no GPU (in auto
 * mode the caller carries on without one); other -errno: NVML failed. *why
 * says which, in one line.
 */
int gpu_open(struct gpu_source **out, const struct gpu_opts *o, char *why, size_t whylen);
void gpu_close(struct gpu_source *g);
int gpu_count(const struct gpu_source *g);

/* Read every GPU: energy since the last read and who used it. Per-GPU trouble is in each status. */
int gpu_read(struct gpu_source *g, struct gpu_reading *out);

/*
 * Relative standard uncertainty (1 sigma) of a GPU's energy: the counter is
 * NVIDIA's board sensor; power sampled once per tick misses what happens
 * between samples, so it is wider. Reasoning at the definition.
 */
double gpu_rel_uncertainty(bool has_counter);

/* For `joule probe`: what NVML finds, or exactly why there is nothing. */
struct gpu_probe {
	bool usable;
	char why[512];		/* when not usable: which library, which call, what it said */
	char driver[80];
	int ngpu;
	struct gpu_dev_reading dev[GPU_MAX]; /* identity and capabilities only */
};
/* Fills *out; returns 0 when NVML and a GPU were found, else the -errno of gpu_open. */
int gpu_probe(const struct gpu_opts *o, struct gpu_probe *out);

#endif /* JOULE_GPU_H */
