/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The report of a window (a whole run, a trace interval): figures summed from samples, as JSON and as text. */
#ifndef JOULE_REPORT_H
#define JOULE_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "joule/acct.h"
#include "joule/config.h"
#include "joule/sampler.h"

/* One GPU over a window: its energy, idle part, how it was read and split, and what happened to it. */
struct window_gpu {
	struct sample_gpu last;		/* identity, read method, split method and status of the last tick */
	uint64_t energy_uj, idle_uj;
	uint64_t read_errors;		/* ticks whose read failed */
	enum gpu_split_method method;	/* the last split that found processes (idle only if none ever did) */
	bool lost;			/* the GPU disappeared during the window */
};

/* Everything a report needs about a window: the command, the rest of the host, carbon context. */
struct window {
	struct acct procs;		/* the command's processes (run) or matches (trace) */
	struct sample_totals mine, others, idle, overflow;
	uint64_t host_domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;
	uint64_t host_cpu_uj, host_mem_uj, host_carbon_ug, host_embodied_ug;
	uint64_t host_gpu_uj;		/* Σ gpus[].energy_uj; not in window_host_uj (the CPU side) */
	int ngpu;
	struct window_gpu gpus[GPU_MAX];
	double intensity_sd_weighted;	/* Σ carbon × rel_sd, for the window's intensity uncertainty */
	double energy_rel_sd;
	enum energy_kind source;
	struct carbon_intensity intensity;
	double pue;
	uint64_t ticks;
	uint64_t span_ns;		/* Σ sample spans: the time the host figures cover */
	uint64_t cpu_clock_ns;		/* Σ samples' clock_ns: busy + idle + unaccounted, exactly */
	int64_t unaccounted_ns;		/* Σ samples' unaccounted_ns */
	uint32_t ncpus;			/* CPUs whose clock ran (the most in any sample) */
	/* how embodied carbon was configured, for the footer; set by window_init, kept by window_reset */
	double embodied_g;		/* < 0 none, 0 the default */
	double lifetime_s;		/* 0 the default */
};

typedef bool (*window_match_fn)(const struct sample_task *t, void *ctx);

void window_init(struct window *w, const struct joule_config *cfg);
/* Add one sample: tasks for which mine() holds go to procs and mine, the rest to others. */
void window_add(struct window *w, const struct sample *s, window_match_fn mine, void *ctx);
/* Start the next interval: forget the figures, keep procs' memory and the embodied settings. */
void window_reset(struct window *w);
void window_free(struct window *w);
uint64_t window_host_uj(const struct window *w);

/*
 * The window's figures as keys of root: processes, total, others, idle,
 * overflow, host, carbon (DESIGN.md "Interfaces"); every carbon figure also
 * as carbon_operational_ug and carbon_embodied_ug.
 */
void report_add_window_json(cJSON *root, struct carbon_ctx *c, const struct window *w);
/* The sampler's tick health: ticks, missed, jitter. */
cJSON *report_sampler_json(const struct sampler *smp);

/*
 * A process name fit for a terminal: any process may name itself with escape
 * sequences, so control bytes become '?'. out holds at least JOULE_COMM_LEN.
 */
void report_printable_comm(const char *comm, char *out, size_t len);

/* The text table: one row per process, then (with_rest) the command total, others, idle, host. */
void report_print_table(FILE *f, struct carbon_ctx *c, const struct window *w, uint64_t wall_ns, bool with_rest);
/* Host energy, power and source; carbon intensity, PUE and how embodied carbon was counted. */
void report_print_footer(FILE *f, struct carbon_ctx *c, const struct window *w, uint64_t wall_ns,
			 struct energy_source *src);

#endif /* JOULE_REPORT_H */
