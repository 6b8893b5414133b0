/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Builds the measuring pipeline (topology, energy source, carbon, tracer, sampler) from a config. */
#ifndef JOULE_PIPELINE_H
#define JOULE_PIPELINE_H

#include "joule/config.h"
#include "joule/sampler.h"
#include "joule/topo.h"
#include "joule/tracer.h"

struct pipeline {
	struct topo topo;
	struct energy_source *energy;
	struct gpu_source *gpu;		/* NULL: no GPU read (none found, or --gpu none) */
	struct carbon_ctx *carbon;
	struct tracer *tracer;
	struct sampler *sampler;
};

/*
 * Open everything in order; on failure close what was opened, print one
 * clear message and return the exit code to use: 2 for bad input (unknown
 * zone, malformed intensity file, --gpu nvml without a usable NVML), 1 for
 * a runtime failure (no BPF, no permission).
 */
int pipeline_open(struct pipeline *p, const struct joule_config *cfg);
void pipeline_close(struct pipeline *p);

/* The energy options a config implies (for probe, which opens no pipeline). */
void pipeline_energy_opts(const struct joule_config *cfg, const struct topo *topo, struct energy_opts *o);

#endif /* JOULE_PIPELINE_H */
