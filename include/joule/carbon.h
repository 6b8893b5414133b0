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
	double embodied_g;	    /* the server's embodied gCO2e; < 0: none, 0: default (carbon_embodied_default) */
	double lifetime_s;	    /* the server's expected lifespan; 0: default */
	double embodied_share;	    /* this machine's share of that server, (0, 1]; 0: 1 */
	const char *embodied_basis; /* how the server and the share were chosen, for reports; NULL: "configured" */
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
	uint64_t dist_mean_ug;	/* mean of the method's distribution (truncation shifts it up a little) */
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

/*
 * Embodied carbon (SCI M term) of an interval for a share of this machine, in
 * µg: server total x interval / lifetime x machine share x share.
 */
uint64_t carbon_embodied_ug(const struct carbon_ctx *c, uint64_t interval_ns, double share);

/* The embodied model in force, for reports and the API. */
struct carbon_embodied {
	bool enabled;
	double server_g;	/* the whole server's embodied gCO2e */
	double lifetime_s;
	double share;		/* this machine's share of the server */
	const char *basis;	/* e.g. "ccf-aws-median-host, 2 of 96 threads (virtual machine)" */
};

void carbon_get_embodied(const struct carbon_ctx *c, struct carbon_embodied *out);

/*
 * Defaults when not configured (data/embodied_defaults.csv): on bare metal
 * the machine is the server, CCF's base rack server; in a virtual machine
 * the server is CCF's median cloud host and the share is this machine's
 * CPUs out of the host's threads. host_threads 0: the reference host's.
 * Writes the server's gCO2e, the share and a basis line.
 */
void carbon_embodied_default(bool virtual_machine, unsigned ncpu, unsigned host_threads, double *server_g,
			     double *share, char *basis, size_t basis_len);

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

/* One row of the built-in zone table (user/carbon_zones.c, generated from data/grid_intensity.csv). */
struct carbon_zone {
	const char *code;	/* "WORLD", ISO 3166-1 alpha-2, or an Electricity Maps zone id */
	const char *name;
	double g_per_kwh;	/* lifecycle gCO2e/kWh, yearly average */
	int year;
	const char *source;	/* token explained in data/SOURCES.md */
};

extern const struct carbon_zone carbon_zones[];
extern const size_t carbon_nzones;

/* Case-insensitive lookup; NULL if unknown. */
const struct carbon_zone *carbon_zone_find(const char *code);

/* An intensity time series: value g_per_kwh[i] is in force from ts_ns[i] (ns since the epoch) on. */
struct carbon_series {
	size_t n;
	uint64_t *ts_ns;	/* strictly ascending */
	double *g_per_kwh;
};

/*
 * Parse an intensity CSV held in memory (not NUL-terminated): lines
 * `timestamp,gco2_per_kwh`, an optional header line, blank lines and lines
 * starting with '#' ignored, CRLF accepted. Timestamps are ISO-8601 with 'Z'
 * or a UTC offset (2026-01-01T00:00:00Z, 2026-01-01T01:00+01:00) or epoch
 * seconds (1767225600, fractions allowed), strictly ascending. 0, or -EINVAL
 * with "NAME:LINE: problem" in err (name labels the input, e.g. the path), or
 * -ENOMEM. On success free with carbon_series_free().
 */
int carbon_parse_intensity_csv(const char *buf, size_t len, const char *name,
			       struct carbon_series *out, char *err, size_t errlen);
void carbon_series_free(struct carbon_series *s);

/* Defaults (sources in docs/CARBON.md). */
#define CARBON_DEFAULT_ZONE "WORLD"
/* Embodied defaults, with their sources in data/embodied_defaults.csv and docs/CARBON.md. */
#define CARBON_DEFAULT_EMBODIED_G 1000000.0	 /* CCF/Teads base: 1000 kgCO2e, mono-socket rack server */
#define CARBON_VM_HOST_EMBODIED_G 1616500.0	 /* CCF: median AWS host server, 1616.5 kgCO2e */
#define CARBON_VM_HOST_THREADS 96		 /* a 2-socket x 24-core x 2-thread host (m5/c5 .metal: 96 vCPUs) */
#define CARBON_DEFAULT_LIFETIME_S (35040.0 * 3600) /* CCF: 4 years = 35040 h */
#define CARBON_DEFAULT_MC_DRAWS 10000

#endif /* JOULE_CARBON_H */
