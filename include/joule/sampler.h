/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sampling loop: every interval read energy and task deltas, attribute, convert to carbon. */
#ifndef JOULE_SAMPLER_H
#define JOULE_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/attrib.h"
#include "joule/carbon.h"
#include "joule/energy.h"
#include "joule/gpu.h"
#include "joule/sample.h"

struct tracer;

struct sampler_cfg {
	uint64_t interval_ns;	/* 0: 100 ms */
	enum idle_policy idle;
	struct gpu_source *gpu;	/* NULL: no GPU; else read every tick, after the CPU's energy */
};

struct sampler;

int sampler_open(struct sampler **out, struct tracer *tr, struct energy_source *src,
		 struct carbon_ctx *carbon, const struct topo *topo, const struct sampler_cfg *cfg);
void sampler_close(struct sampler *s);

/* The timerfd to poll: readable when a tick is due (absolute CLOCK_MONOTONIC deadlines). */
int sampler_fd(const struct sampler *s);

/*
 * Consume the timer expiration(s) and produce one sample; also callable
 * without waiting (e.g. a final partial interval at exit). The sample is
 * valid until the next call. 0 or -errno.
 */
int sampler_tick(struct sampler *s, const struct sample **out);

void sampler_get_stats(const struct sampler *s, struct sampler_stats *out);

#endif /* JOULE_SAMPLER_H */
