// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Opens topology, energy source, carbon context, tracer and sampler in order, and closes them in reverse. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "joule/log.h"
#include "joule/pipeline.h"

void pipeline_energy_opts(const struct joule_config *cfg, const struct topo *topo, struct energy_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = cfg->source;
	o->powercap_root = cfg->powercap_root;
	o->msr_root = cfg->msr_root;
	o->perf_root = cfg->perf_root;
	o->topo = topo;
	o->model_idle_w = cfg->model_idle_w;
	o->model_max_w = cfg->model_max_w;
	o->model_linear = cfg->model_linear;
}

/* A hypervisor shows itself in the CPU flags (CPUID bit 31 of ECX, "hypervisor"); other architectures: no. */
static bool in_virtual_machine(void)
{
	char line[4096];
	bool vm = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!vm && fgets(line, sizeof(line), f))
		if (strncmp(line, "flags", 5) == 0 && strstr(line, " hypervisor"))
			vm = true;
	fclose(f);
	return vm;
}

/* The embodied model: configured values win; otherwise the machine's share of its server is found here. */
static void embodied_cfg(const struct joule_config *cfg, struct carbon_cfg *cc, char *basis, size_t len)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	double server_g, share;
	char def[120];

	carbon_embodied_default(in_virtual_machine(), n > 0 ? (unsigned)n : 1, 0, &server_g, &share, def, sizeof(def));
	if (cfg->embodied_g == 0)
		cc->embodied_g = server_g;
	if (cfg->embodied_share > 0)
		share = cfg->embodied_share;
	if (cfg->embodied_g == 0 && cfg->embodied_share == 0)
		snprintf(basis, len, "%s", def);
	else
		snprintf(basis, len, "%s server, share %.4g %s", cfg->embodied_g == 0 ? "default" : "configured", share,
			 cfg->embodied_share > 0 ? "configured" : "detected");
	cc->embodied_share = share;
	cc->embodied_basis = basis;
}

int pipeline_open(struct pipeline *p, const struct joule_config *cfg)
{
	char basis[160];
	struct carbon_cfg cc = {
		.zone = cfg->zone,
		.intensity_g_per_kwh = cfg->intensity,
		.intensity_file = cfg->intensity_file,
		.pue = cfg->pue,
		.embodied_g = cfg->embodied_g,
		.lifetime_s = cfg->lifetime_s,
		.method = cfg->uncertainty,
		.mc_seed = 1,
	};
	struct tracer_opts to = { .max_tasks = cfg->max_tasks };
	struct sampler_cfg sc = { .interval_ns = cfg->interval_ns, .idle = cfg->idle };
	struct energy_opts eo;
	char why[512] = "";
	int err;

	memset(p, 0, sizeof(*p));
	embodied_cfg(cfg, &cc, basis, sizeof(basis));
	/* Bad input first: it is exit 2 whatever the machine can do. */
	err = carbon_open(&p->carbon, &cc, why, sizeof(why));
	if (err) {
		log_err("%s", why[0] ? why : strerror(-err));
		return err == -EINVAL ? 2 : 1;
	}
	err = tracer_check_caps(why, sizeof(why));
	if (err) {
		log_err("%s", why);
		goto fail;
	}
	err = topo_load(&p->topo, cfg->cpu_root ? cfg->cpu_root : TOPO_DEFAULT_ROOT);
	if (err) {
		log_err("failed to read CPU topology under %s: %s",
			cfg->cpu_root ? cfg->cpu_root : TOPO_DEFAULT_ROOT, strerror(-err));
		goto fail;
	}
	pipeline_energy_opts(cfg, &p->topo, &eo);
	why[0] = '\0';
	err = energy_open(&p->energy, &eo, why, sizeof(why));
	if (err) {
		log_err("no usable energy source: %s", why[0] ? why : strerror(-err));
		goto fail;
	}
	log_info("energy source: %s", energy_kind_name(energy_source_kind(p->energy)));
	if (cfg->gpu != GPU_MODE_NONE) {
		struct gpu_opts go = { .mode = cfg->gpu, .lib_path = cfg->nvml_lib };

		why[0] = '\0';
		err = gpu_open(&p->gpu, &go, why, sizeof(why));
		if (err && cfg->gpu == GPU_MODE_NVML) {
			/* asked for by name: a missing GPU is the user's premise failing, exit 2 */
			log_err("--gpu nvml: %s", why[0] ? why : strerror(-err));
			pipeline_close(p);
			return 2;
		}
		if (err)
			log_info("no GPU energy: %s", why[0] ? why : strerror(-err));
	}
	sc.gpu = p->gpu;
	err = tracer_open(&p->tracer, &to);
	if (err) {
		log_err("failed to start BPF tracing: %s", strerror(-err));
		goto fail;
	}
	err = sampler_open(&p->sampler, p->tracer, p->energy, p->carbon, &p->topo, &sc);
	if (err) {
		log_err("failed to start sampling: %s", strerror(-err));
		goto fail;
	}
	return 0;
fail:
	pipeline_close(p);
	return 1;
}

void pipeline_close(struct pipeline *p)
{
	sampler_close(p->sampler);
	tracer_close(p->tracer);
	gpu_close(p->gpu);
	if (p->energy)
		energy_close(p->energy);
	if (p->carbon)
		carbon_close(p->carbon);
	if (p->topo.cpu_pkg)
		topo_free(&p->topo);
	memset(p, 0, sizeof(*p));
}
