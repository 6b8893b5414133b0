// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A fake libnvidia-ml.so for tests: GPUs, counters, samples and processes from a control file. */
/*
 * No GPU can run here, so this stands in for NVIDIA's library (a mock, by
 * necessity). $FAKE_NVML_CONTROL names a file re-read at every call, so a
 * test can change it mid-run. One directive a line:
 *
 *   driver VERSION
 *   init_fail CODE                  nvmlInit_v2 returns CODE
 *   gpu IDX key=value...            name= uuid= power_mw= counter=0|1 util=PCT|- mig=N fail=CODE lost=0|1
 *   proc IDX PID sm=PCT|- mem=BYTES|-
 *
 * Energy is exact: each GPU's counter advances by power_mw × elapsed time
 * (CLOCK_MONOTONIC) in mJ, so a test knows what was drawn. Processes with
 * sm=PCT give one utilisation sample per call; sm=- gives none (old GPUs).
 * A read answered with fail= or lost= creates $FAKE_NVML_CONTROL.failed, so
 * a test can wait until the reader has met the fault instead of sleeping.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXG 8
#define MAXP 64

struct fgpu {
	int present, counter, lost, fail, util, mig;
	unsigned power_mw;
	char name[96], uuid[96];
	/* the counter: mJ plus the remainder in mW·ns (1e-12 J) */
	unsigned long long mj, rem_pj, last_ns;
};
struct fproc {
	int gpu, has_sm;
	unsigned pid, sm;
	unsigned long long mem;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fgpu gpus[MAXG];
static struct fproc procs[MAXP];
static int ngpu, nproc, init_fail;
static char driver[80] = "0.0.fake";

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Advance every counter to now at the power in force so far, then take the file's new values. */
static void reload(void)
{
	const char *path = getenv("FAKE_NVML_CONTROL");
	unsigned long long t = now_ns();
	char line[512];
	FILE *f;

	for (int i = 0; i < ngpu; i++) {
		struct fgpu *g = &gpus[i];
		unsigned long long pj = (unsigned long long)g->power_mw * (t - g->last_ns) + g->rem_pj;

		if (!g->lost) {
			g->mj += pj / 1000000000ULL;
			g->rem_pj = pj % 1000000000ULL;
		}
		g->last_ns = t;
	}
	if (!path || !(f = fopen(path, "r")))
		return;
	nproc = 0;
	init_fail = 0;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\n", &save);

		if (!tok)
			continue;
		if (strcmp(tok, "driver") == 0 && (tok = strtok_r(NULL, " \t\n", &save))) {
			snprintf(driver, sizeof(driver), "%s", tok);
		} else if (strcmp(tok, "init_fail") == 0 && (tok = strtok_r(NULL, " \t\n", &save))) {
			init_fail = atoi(tok);
		} else if (strcmp(tok, "gpu") == 0 && (tok = strtok_r(NULL, " \t\n", &save))) {
			int i = atoi(tok);
			struct fgpu *g;

			if (i < 0 || i >= MAXG)
				continue;
			g = &gpus[i];
			if (!g->present) {
				*g = (struct fgpu){ .present = 1, .counter = 1, .util = -1, .last_ns = t };
				snprintf(g->name, sizeof(g->name), "Fake GPU %d", i);
				snprintf(g->uuid, sizeof(g->uuid), "GPU-fake-%d", i);
			}
			g->fail = 0;
			while ((tok = strtok_r(NULL, " \t\n", &save))) {
				char *v = strchr(tok, '=');

				if (!v)
					continue;
				*v++ = '\0';
				if (!strcmp(tok, "name"))
					snprintf(g->name, sizeof(g->name), "%s", v);
				else if (!strcmp(tok, "uuid"))
					snprintf(g->uuid, sizeof(g->uuid), "%s", v);
				else if (!strcmp(tok, "power_mw"))
					g->power_mw = (unsigned)strtoul(v, NULL, 10);
				else if (!strcmp(tok, "counter"))
					g->counter = atoi(v);
				else if (!strcmp(tok, "util"))
					g->util = *v == '-' ? -1 : atoi(v);
				else if (!strcmp(tok, "mig"))
					g->mig = atoi(v);
				else if (!strcmp(tok, "fail"))
					g->fail = atoi(v);
				else if (!strcmp(tok, "lost"))
					g->lost = atoi(v);
			}
			if (i >= ngpu)
				ngpu = i + 1;
		} else if (strcmp(tok, "proc") == 0 && nproc < MAXP) {
			char *gi = strtok_r(NULL, " \t\n", &save), *pid = strtok_r(NULL, " \t\n", &save);
			struct fproc *p = &procs[nproc];

			if (!gi || !pid)
				continue;
			*p = (struct fproc){ .gpu = atoi(gi), .pid = (unsigned)strtoul(pid, NULL, 10), .mem = ~0ULL };
			while ((tok = strtok_r(NULL, " \t\n", &save))) {
				if (!strncmp(tok, "sm=", 3) && tok[3] != '-') {
					p->has_sm = 1;
					p->sm = (unsigned)atoi(tok + 3);
				} else if (!strncmp(tok, "mem=", 4) && tok[4] != '-') {
					p->mem = strtoull(tok + 4, NULL, 10);
				}
			}
			nproc++;
		}
	}
	fclose(f);
}

typedef struct { unsigned gpu, memory; } util_t;
typedef struct { unsigned pid; unsigned long long ts; unsigned sm, mem, enc, dec; } psample_t;
typedef struct { unsigned pid; unsigned long long mem; unsigned gi, ci; } pinfo_t;

static void note_failure(void)
{
	const char *path = getenv("FAKE_NVML_CONTROL");
	char flag[4096];
	FILE *f;

	if (!path)
		return;
	snprintf(flag, sizeof(flag), "%s.failed", path);
	f = fopen(flag, "a");
	if (f)
		fclose(f);
}

/* Handles are 1-based indices (MIG handles 0x100 + parent): never dereferenced. */
static struct fgpu *dev(void *h, int *code)
{
	unsigned long i = (unsigned long)h;

	reload();
	if (i < 1 || i > (unsigned long)ngpu || !gpus[i - 1].present) {
		*code = 2;
		return NULL;
	}
	if (gpus[i - 1].lost) {
		note_failure();
		*code = 15; /* NVML_ERROR_GPU_IS_LOST */
		return NULL;
	}
	*code = 0;
	return &gpus[i - 1];
}

#define LOCKED(expr) ({ int _r; pthread_mutex_lock(&lock); _r = (expr); pthread_mutex_unlock(&lock); _r; })

static int do_init(void)
{
	reload();
	return init_fail;
}
int nvmlInit_v2(void) { return LOCKED(do_init()); }
int nvmlShutdown(void) { return 0; }

const char *nvmlErrorString(int r)
{
	switch (r) {
	case 0: return "Success";
	case 2: return "Invalid Argument";
	case 3: return "Not Supported";
	case 9: return "Driver Not Loaded";
	case 15: return "GPU is lost";
	default: return "Unknown Error";
	}
}

static int do_driver(char *buf, unsigned len) { reload(); snprintf(buf, len, "%s", driver); return 0; }
int nvmlSystemGetDriverVersion(char *buf, unsigned len) { return LOCKED(do_driver(buf, len)); }

static int do_count(unsigned *n) { reload(); *n = (unsigned)ngpu; return 0; }
int nvmlDeviceGetCount_v2(unsigned *n) { return LOCKED(do_count(n)); }

int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h)
{
	*h = (void *)(unsigned long)(i + 1);
	return i < (unsigned)ngpu ? 0 : 2;
}

/*
 * expr run under the lock on g, the device behind handle h: the handle's own
 * error (see dev) when there is none, so the readers below start at a device.
 */
#define ON_DEV(h, expr) LOCKED(({ int _c; struct fgpu *g = dev(h, &_c); g ? (expr) : _c; }))

/* A read of a GPU told fail=CODE answers CODE, and says so in the .failed file. */
static int injected_failure(const struct fgpu *g)
{
	note_failure();
	return g->fail;
}

static int do_str(struct fgpu *g, char *buf, unsigned len, int uuid)
{
	snprintf(buf, len, "%s", uuid ? g->uuid : g->name);
	return 0;
}
int nvmlDeviceGetName(void *h, char *b, unsigned l) { return ON_DEV(h, do_str(g, b, l, 0)); }
int nvmlDeviceGetUUID(void *h, char *b, unsigned l) { return ON_DEV(h, do_str(g, b, l, 1)); }

static int do_energy(struct fgpu *g, unsigned long long *mj)
{
	if (!g->counter)
		return 3;
	if (g->fail)
		return injected_failure(g);
	*mj = g->mj;
	return 0;
}
int nvmlDeviceGetTotalEnergyConsumption(void *h, unsigned long long *mj) { return ON_DEV(h, do_energy(g, mj)); }

static int do_power(struct fgpu *g, unsigned *mw)
{
	if (g->fail)
		return injected_failure(g);
	*mw = g->power_mw;
	return 0;
}
int nvmlDeviceGetPowerUsage(void *h, unsigned *mw) { return ON_DEV(h, do_power(g, mw)); }

static int do_util(struct fgpu *g, util_t *u)
{
	if (g->util < 0)
		return 3;
	u->gpu = (unsigned)g->util;
	u->memory = 0;
	return 0;
}
int nvmlDeviceGetUtilizationRates(void *h, util_t *u) { return ON_DEV(h, do_util(g, u)); }

static int do_putil(struct fgpu *g, psample_t *s, unsigned *n, unsigned long long last)
{
	struct timespec ts;
	unsigned long long us;
	unsigned k = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
	for (int i = 0; i < nproc; i++) {
		if (procs[i].gpu != g - gpus || !procs[i].has_sm || us <= last)
			continue;
		if (k == *n)
			return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
		s[k++] = (psample_t){ .pid = procs[i].pid, .ts = us, .sm = procs[i].sm };
	}
	*n = k;
	return k ? 0 : 6; /* NVML_ERROR_NOT_FOUND: no sample since last */
}
int nvmlDeviceGetProcessUtilization(void *h, psample_t *s, unsigned *n, unsigned long long last)
{
	return ON_DEV(h, do_putil(g, s, n, last));
}

static int do_procs(struct fgpu *g, unsigned *n, pinfo_t *p)
{
	unsigned k = 0;

	for (int i = 0; i < nproc; i++) {
		if (procs[i].gpu != g - gpus)
			continue;
		if (k == *n)
			return 7;
		p[k++] = (pinfo_t){ .pid = procs[i].pid, .mem = procs[i].mem };
	}
	*n = k;
	return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void *h, unsigned *n, pinfo_t *p) { return ON_DEV(h, do_procs(g, n, p)); }

static int do_migmax(struct fgpu *g, unsigned *n)
{
	if (!g->mig)
		return 3;
	*n = (unsigned)g->mig;
	return 0;
}
int nvmlDeviceGetMaxMigDeviceCount(void *h, unsigned *n) { return ON_DEV(h, do_migmax(g, n)); }

int nvmlDeviceGetMigDeviceHandleByIndex(void *h, unsigned i, void **m)
{
	*m = (void *)(0x100UL + (unsigned long)h);
	return 0;
}
