/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Energy to carbon: grid intensity (pushed, time series, zone table, fixed), PUE, embodied share, uncertainty. */
#ifndef JOULE_CARBON_H
#define JOULE_CARBON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum carbon_method { CARBON_ANALYTICAL, CARBON_MONTE_CARLO };

struct carbon_cfg {
	const char *zone;	    /* NULL: "WORLD" */
	double intensity_g_per_kwh; /* > 0: a fixed value (--intensity) */
	const char *intensity_file; /* CSV timestamp,gco2_per_kwh (--intensity-file) */
	double pue;		    /* 0: 1.0 */
	double embodied_g;	    /* host's embodied gCO2e; < 0: none, 0: default */
	double lifetime_s;	    /* host's expected lifespan; 0: default */
	enum carbon_method method;
	uint32_t mc_draws;	    /* 0: 10000 */
	uint64_t mc_seed;	    /* Monte Carlo seed: results are reproducible */
};

/* The intensity in force at one moment, and where it came from. */
struct carbon_intensity {
	double g_per_kwh;
	double rel_sd;	      /* relative 1-sigma uncertainty of this value */
	const char *kind;     /* "pushed", "file", "zone", "fixed" */
	const char *zone;     /* zone code, or "" */
	int year;	      /* data year, 0 if not applicable */
	const char *source;   /* source token or file path */
};

/* A carbon figure with its 95 % interval. */
struct carbon_estimate {
	uint64_t mean_ug;
	uint64_t lo_ug, hi_ug;
	enum carbon_method method;
};

struct carbon_ctx;

/*
 * Build a context. Bad input (unknown zone, malformed intensity file) gives
 * -EINVAL with a message in err naming the file, line and problem, or how to
 * list the known zones.
 */
int carbon_open(struct carbon_ctx **out, const struct carbon_cfg *cfg, char *err, size_t errlen);
void carbon_close(struct carbon_ctx *c);

/* Set a pushed value (HTTP API); it wins over file, zone and fixed values from real_ns on. */
void carbon_push(struct carbon_ctx *c, double g_per_kwh, uint64_t real_ns);

/* The intensity in force at real_ns (ns since the epoch). */
void carbon_intensity_at(const struct carbon_ctx *c, uint64_t real_ns, struct carbon_intensity *out);

double carbon_pue(const struct carbon_ctx *c);

/* Operational carbon of energy_uj at an intensity, times PUE, in µg (rounded). */
uint64_t carbon_operational_ug(uint64_t energy_uj, double g_per_kwh, double pue);

/* Embodied carbon (SCI M term) of an interval for a share of the host, in µg. */
uint64_t carbon_embodied_ug(const struct carbon_ctx *c, uint64_t interval_ns, double share);

/*
 * The 95 % interval of a carbon total whose mean is mean_ug, given the
 * relative 1-sigma uncertainty of the energy and of the intensity (treated as
 * systematic over the window), with the context's method.
 */
void carbon_interval(const struct carbon_ctx *c, uint64_t mean_ug, double energy_rel_sd,
		     double intensity_rel_sd, struct carbon_estimate *out);

const char *carbon_method_name(enum carbon_method m); /* "analytical_truncated", "monte_carlo" */
int carbon_method_parse(const char *s, enum carbon_method *out); /* "analytical", "monte-carlo" */

/* Print the built-in zone table (code, name, g/kWh, year, source) for --zone list. */
void carbon_list_zones(FILE *out);

#endif /* JOULE_CARBON_H */
