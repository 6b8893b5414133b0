// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* NVIDIA NVML, dlopen()ed at run time: GPU energy (counter or integrated power) and per-process use. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/gpu.h"
#include "joule/log.h"
#include "joule/util.h"

/*
 * The few NVML types and calls joule uses, declared here because no NVIDIA
 * header is packaged. Layouts and codes are those of nvml.h as shipped with
 * the CUDA toolkit; the NVML version each call first appeared in is noted.
 */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_DEVICE_UUID_BUFFER_SIZE 80
#define NVML_DEVICE_NAME_BUFFER_SIZE 96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80

typedef struct { /* nvmlUtilization_t (NVML 2.285) */
	unsigned int gpu, memory;
} nvml_utilization;

typedef struct { /* nvmlProcessUtilizationSample_t (NVML 8, r375) */
	unsigned int pid;
	unsigned long long timeStamp; /* µs, CPU clock */
	unsigned int smUtil, memUtil, encUtil, decUtil;
} nvml_proc_sample;

typedef struct { /* nvmlProcessInfo_v2_t, used by _v2 (r470) and _v3 (r510) */
	unsigned int pid;
	unsigned long long usedGpuMemory; /* bytes, or NVML_VALUE_NOT_AVAILABLE (~0ULL) */
	unsigned int gpuInstanceId, computeInstanceId;
} nvml_proc_info;

struct nvml_api {
	nvmlReturn_t (*init)(void);				/* nvmlInit_v2 (NVML 5.319) */
	nvmlReturn_t (*shutdown)(void);				/* nvmlShutdown */
	const char *(*error_string)(nvmlReturn_t);		/* nvmlErrorString */
	nvmlReturn_t (*driver_version)(char *, unsigned int);	/* nvmlSystemGetDriverVersion */
	nvmlReturn_t (*count)(unsigned int *);			/* nvmlDeviceGetCount_v2 */
	nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);	/* nvmlDeviceGetHandleByIndex_v2 */
	nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);	/* nvmlDeviceGetName */
	nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);	/* nvmlDeviceGetUUID */
	nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);	/* nvmlDeviceGetTotalEnergyConsumption (NVML 9, Volta+), mJ */
	nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *);		/* nvmlDeviceGetPowerUsage, mW */
	nvmlReturn_t (*util)(nvmlDevice_t, nvml_utilization *);	/* nvmlDeviceGetUtilizationRates */
	nvmlReturn_t (*proc_util)(nvmlDevice_t, nvml_proc_sample *, unsigned int *, unsigned long long); /* nvmlDeviceGetProcessUtilization */
	nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, nvml_proc_info *); /* nvmlDeviceGetComputeRunningProcesses_v3, else _v2 */
	nvmlReturn_t (*mig_max)(nvmlDevice_t, unsigned int *);	/* nvmlDeviceGetMaxMigDeviceCount (r450, optional) */
	nvmlReturn_t (*mig_handle)(nvmlDevice_t, unsigned int, nvmlDevice_t *); /* nvmlDeviceGetMigDeviceHandleByIndex (optional) */
};

struct gpu_dev {
	nvmlDevice_t h;
	struct gpu_dev_reading info;	/* identity and capabilities; status sticks at LOST */
	uint64_t prev_mj;		/* counter at the last good read */
	uint64_t last_ns;		/* power: CLOCK_MONOTONIC of the last read */
	uint64_t rem;			/* power: sub-µJ remainder, units of 1e-12 J (mW·ns) */
	unsigned long long last_sample_us; /* process samples already seen */
};

struct gpu_source {
	void *dl;
	struct nvml_api api;
	int ngpu;
	struct gpu_dev dev[GPU_MAX];
	char driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
};

static nvml_proc_sample samples[4 * GPU_MAX_PROCS];
static nvml_proc_info infos[GPU_MAX_PROCS];

int gpu_mode_parse(const char *s, enum gpu_mode *out)
{
	static const char *const names[] = { "auto", "nvml", "none" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum gpu_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *gpu_mode_name(enum gpu_mode m)
{
	return m == GPU_MODE_NVML ? "nvml" : m == GPU_MODE_NONE ? "none" : "auto";
}

double gpu_rel_uncertainty(bool has_counter)
{
	/*
	 * NVIDIA states ±5 % for the board power sensor (nvidia-smi docs, "power.draw");
	 * the counter integrates that sensor in firmware, so 5 % is 2 sigma → 2.5 %.
	 * One power sample per tick misses transients between samples: taken as 15 %
	 * (1 sigma), the spread Yang et al. (2023, "Part-time Power Measurements")
	 * report for sampled nvidia-smi power on bursty loads.
	 */
	return has_counter ? 0.025 : 0.15;
}

static const char *nvml_err(const struct gpu_source *g, nvmlReturn_t r)
{
	const char *s = g->api.error_string ? g->api.error_string(r) : NULL;

	return s ? s : "unknown NVML error";
}

static int load(struct gpu_source *g, const char *path, char *why, size_t len)
{
	struct nvml_api *a = &g->api;

	g->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!g->dl) {
		snprintf(why, len, "no NVIDIA driver library: %s", dlerror());
		return -ENOENT;
	}
#define SYM(field, name) (*(void **)&a->field = dlsym(g->dl, name))
	SYM(init, "nvmlInit_v2");
	SYM(shutdown, "nvmlShutdown");
	SYM(error_string, "nvmlErrorString");
	SYM(driver_version, "nvmlSystemGetDriverVersion");
	SYM(count, "nvmlDeviceGetCount_v2");
	SYM(handle, "nvmlDeviceGetHandleByIndex_v2");
	SYM(name, "nvmlDeviceGetName");
	SYM(uuid, "nvmlDeviceGetUUID");
	SYM(energy, "nvmlDeviceGetTotalEnergyConsumption");
	SYM(power, "nvmlDeviceGetPowerUsage");
	SYM(util, "nvmlDeviceGetUtilizationRates");
	SYM(proc_util, "nvmlDeviceGetProcessUtilization");
	if (!SYM(procs, "nvmlDeviceGetComputeRunningProcesses_v3"))
		SYM(procs, "nvmlDeviceGetComputeRunningProcesses_v2");
	SYM(mig_max, "nvmlDeviceGetMaxMigDeviceCount");
	SYM(mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex");
#undef SYM
	if (!a->init || !a->shutdown || !a->count || !a->handle || !a->power) {
		snprintf(why, len, "%s is not a usable NVML library (nvmlInit_v2, nvmlDeviceGetCount_v2, "
			 "nvmlDeviceGetHandleByIndex_v2 or nvmlDeviceGetPowerUsage missing)", path);
		return -ENOTSUP;
	}
	return 0;
}

static void probe_device(struct gpu_source *g, struct gpu_dev *d)
{
	unsigned long long mj;
	unsigned int n = 0;
	nvmlReturn_t r;

	if (!g->api.name || g->api.name(d->h, d->info.name, sizeof(d->info.name)) != NVML_SUCCESS)
		snprintf(d->info.name, sizeof(d->info.name), "unknown");
	if (!g->api.uuid || g->api.uuid(d->h, d->info.uuid, sizeof(d->info.uuid)) != NVML_SUCCESS)
		snprintf(d->info.uuid, sizeof(d->info.uuid), "GPU-index-%u", d->info.index);
	r = g->api.energy ? g->api.energy(d->h, &mj) : NVML_ERROR_NOT_SUPPORTED;
	d->info.has_counter = r == NVML_SUCCESS;
	d->prev_mj = d->info.has_counter ? mj : 0;
	d->last_ns = now_mono_ns();
	d->last_sample_us = (unsigned long long)(now_real_ns() / 1000);
	/* MIG devices share the parent's energy: count them, read energy only from the parent */
	if (g->api.mig_max && g->api.mig_handle && g->api.mig_max(d->h, &n) == NVML_SUCCESS)
		for (unsigned int i = 0; i < n; i++) {
			nvmlDevice_t m;

			if (g->api.mig_handle(d->h, i, &m) == NVML_SUCCESS)
				d->info.mig_instances++;
		}
}

int gpu_open(struct gpu_source **out, const struct gpu_opts *o, char *why, size_t whylen)
{
	const char *path = o->lib_path ? o->lib_path : GPU_DEFAULT_LIB;
	struct gpu_source *g;
	unsigned int n = 0;
	nvmlReturn_t r;
	int err;

	*out = NULL;
	if (o->mode == GPU_MODE_NONE) {
		snprintf(why, whylen, "GPU reading is off (--gpu none)");
		return -ENOENT;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	err = load(g, path, why, whylen);
	if (err)
		goto fail;
	r = g->api.init();
	if (r != NVML_SUCCESS) {
		snprintf(why, whylen, "NVML did not start: %s", nvml_err(g, r));
		err = r == NVML_ERROR_DRIVER_NOT_LOADED ? -ENOENT : -EIO;
		dlclose(g->dl);
		g->dl = NULL;
		goto fail;
	}
	if (g->api.driver_version && g->api.driver_version(g->driver, sizeof(g->driver)) != NVML_SUCCESS)
		g->driver[0] = '\0';
	r = g->api.count(&n);
	if (r != NVML_SUCCESS || n == 0) {
		snprintf(why, whylen, r == NVML_SUCCESS ? "NVML found no GPU" : "NVML could not count GPUs: %s",
			 nvml_err(g, r));
		err = r == NVML_SUCCESS ? -ENOENT : -EIO;
		goto fail;
	}
	if (n > GPU_MAX) {
		log_warn("%u GPUs found, reading the first %d", n, GPU_MAX);
		n = GPU_MAX;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct gpu_dev *d = &g->dev[g->ngpu];

		r = g->api.handle(i, &d->h);
		if (r != NVML_SUCCESS) {
			log_warn("GPU %u: no handle (%s): not read", i, nvml_err(g, r));
			continue;
		}
		d->info.index = i;
		probe_device(g, d);
		log_info("GPU %u: %s %s, %s%s", i, d->info.name, d->info.uuid,
			 d->info.has_counter ? "energy counter" : "power only (integrated per tick)",
			 d->info.mig_instances ? ", MIG" : "");
		g->ngpu++;
	}
	if (!g->ngpu) {
		snprintf(why, whylen, "NVML found %u GPU(s) but none could be opened", n);
		err = -EIO;
		goto fail;
	}
	*out = g;
	return 0;
fail:
	gpu_close(g);
	return err;
}

void gpu_close(struct gpu_source *g)
{
	if (!g)
		return;
	if (g->dl) {
		g->api.shutdown();
		dlclose(g->dl);
	}
	free(g);
}

int gpu_count(const struct gpu_source *g)
{
	return g ? g->ngpu : 0;
}

/* Add pid's sample to the device's process list (mean over its samples). */
static void add_sample(struct gpu_dev_reading *r, uint32_t *nsamp, const nvml_proc_sample *s)
{
	size_t i;

	for (i = 0; i < r->nprocs && r->procs[i].pid != s->pid; i++)
		;
	if (i == r->nprocs) {
		if (r->nprocs == GPU_MAX_PROCS)
			return;
		r->procs[r->nprocs++] = (struct gpu_proc_use){ .pid = s->pid, .mem_bytes = GPU_MEM_UNKNOWN };
		nsamp[i] = 0;
	}
	/* running mean in integers: Σ kept in sm_util_pct × n */
	r->procs[i].sm_util_pct = (uint32_t)(((uint64_t)r->procs[i].sm_util_pct * nsamp[i] +
					      (s->smUtil > 100 ? 100 : s->smUtil)) / (nsamp[i] + 1));
	r->procs[i].has_samples = true;
	nsamp[i]++;
}

static void read_procs(struct gpu_source *g, struct gpu_dev *d, struct gpu_dev_reading *r)
{
	static uint32_t nsamp[GPU_MAX_PROCS];
	unsigned int n = sizeof(samples) / sizeof(samples[0]);
	unsigned long long newest = d->last_sample_us;
	nvml_utilization u;
	nvmlReturn_t rc;

	r->nprocs = 0;
	rc = g->api.proc_util ? g->api.proc_util(d->h, samples, &n, d->last_sample_us) : NVML_ERROR_NOT_SUPPORTED;
	if (rc == NVML_SUCCESS)
		for (unsigned int i = 0; i < n; i++) {
			add_sample(r, nsamp, &samples[i]);
			if (samples[i].timeStamp > newest)
				newest = samples[i].timeStamp;
		}
	d->last_sample_us = newest;
	/* the running list adds memory and the processes without samples (fallback split) */
	n = GPU_MAX_PROCS;
	if (g->api.procs && g->api.procs(d->h, &n, infos) == NVML_SUCCESS)
		for (unsigned int i = 0; i < n && i < GPU_MAX_PROCS; i++) {
			size_t j;

			for (j = 0; j < r->nprocs && r->procs[j].pid != infos[i].pid; j++)
				;
			if (j == r->nprocs) {
				if (r->nprocs == GPU_MAX_PROCS)
					break;
				r->procs[r->nprocs++] = (struct gpu_proc_use){ .pid = infos[i].pid,
									       .mem_bytes = GPU_MEM_UNKNOWN };
			}
			if (infos[i].usedGpuMemory != ~0ULL)
				r->procs[j].mem_bytes = r->procs[j].mem_bytes == GPU_MEM_UNKNOWN
					? infos[i].usedGpuMemory : r->procs[j].mem_bytes + infos[i].usedGpuMemory;
		}
	r->busy_valid = g->api.util && g->api.util(d->h, &u) == NVML_SUCCESS && u.gpu <= 100;
	r->busy_pct = r->busy_valid ? u.gpu : 0;
}

/* The interval's energy: counter delta, or power × elapsed. 0 or the NVML error. */
static nvmlReturn_t read_energy(struct gpu_source *g, struct gpu_dev *d, uint64_t now_ns, uint64_t *uj)
{
	unsigned long long mj;
	unsigned int mw;
	uint64_t pj;
	nvmlReturn_t rc;

	*uj = 0;
	if (d->info.has_counter) {
		rc = g->api.energy(d->h, &mj);
		if (rc != NVML_SUCCESS)
			return rc;
		/* monotonic mJ since the driver loaded; a smaller value is a driver reload: new baseline */
		if (mj >= d->prev_mj)
			*uj = (mj - d->prev_mj) * 1000;
		d->prev_mj = mj;
		return NVML_SUCCESS;
	}
	rc = g->api.power(d->h, &mw);
	if (rc != NVML_SUCCESS)
		return rc;
	/* mW × ns = 1e-12 J; carry what is below 1 µJ (1e6 of them) to the next tick */
	pj = (uint64_t)mw * (now_ns - d->last_ns) + d->rem;
	*uj = pj / 1000000;
	d->rem = pj % 1000000;
	d->last_ns = now_ns;
	return NVML_SUCCESS;
}

int gpu_read(struct gpu_source *g, struct gpu_reading *out)
{
	uint64_t now = now_mono_ns();

	out->ngpu = g->ngpu;
	for (int i = 0; i < g->ngpu; i++) {
		struct gpu_dev *d = &g->dev[i];
		struct gpu_dev_reading *r = &out->dev[i];
		nvmlReturn_t rc;

		memcpy(r, &d->info, offsetof(struct gpu_dev_reading, energy_uj));
		r->energy_uj = 0;
		r->nprocs = 0;
		r->busy_valid = false;
		if (d->info.status == GPU_LOST)
			continue;
		rc = read_energy(g, d, now, &r->energy_uj);
		if (rc == NVML_SUCCESS) {
			r->status = GPU_OK;
			read_procs(g, d, r);
			continue;
		}
		r->nvml_err = rc;
		if (rc == NVML_ERROR_GPU_IS_LOST) {
			log_warn("GPU %u (%s) is lost: %s; its energy so far is kept, no more is read",
				 d->info.index, d->info.uuid, nvml_err(g, rc));
			d->info.status = r->status = GPU_LOST;
			d->info.nvml_err = rc;
		} else {
			r->status = GPU_READ_ERROR;
			log_warn("GPU %u energy read failed: %s (%s)", d->info.index, nvml_err(g, rc),
				 d->info.has_counter ? "carried to the next read" : "this tick's GPU energy is lost");
			if (!d->info.has_counter)
				d->last_ns = now; /* the lost interval is not charged to the next one */
		}
	}
	return 0;
}

int gpu_probe(const struct gpu_opts *o, struct gpu_probe *out)
{
	struct gpu_source *g = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = gpu_open(&g, o, out->why, sizeof(out->why));
	if (err)
		return err;
	out->usable = true;
	snprintf(out->driver, sizeof(out->driver), "%s", g->driver[0] ? g->driver : "unknown");
	out->ngpu = g->ngpu;
	for (int i = 0; i < g->ngpu; i++)
		out->dev[i] = g->dev[i].info;
	gpu_close(g);
	return 0;
}
