/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Energy sources behind one interface: powercap sysfs, MSR, perf power PMU, power model. */
#ifndef JOULE_ENERGY_H
#define JOULE_ENERGY_H

#include <stdbool.h>
#include <stdint.h>
#include "joule/topo.h"

#define ENERGY_MAX_PKG 64

enum energy_domain {
	ENERGY_PACKAGE,
	ENERGY_CORE,	/* pp0 */
	ENERGY_UNCORE,	/* pp1 */
	ENERGY_DRAM,
	ENERGY_PSYS,	/* platform; overlaps package: never summed with it */
	ENERGY_NDOMAINS,
};

enum energy_kind {
	ENERGY_SRC_AUTO,
	ENERGY_SRC_POWERCAP,
	ENERGY_SRC_MSR,
	ENERGY_SRC_PERF,
	ENERGY_SRC_MODEL,
	ENERGY_SRC_NKINDS,
};

struct energy_opts {
	enum energy_kind kind;	   /* AUTO: powercap, msr, perf, model, first that opens */
	const char *powercap_root; /* NULL: /sys/class/powercap */
	const char *msr_root;	   /* NULL: /dev/cpu */
	const char *perf_root;	   /* NULL: /sys/bus/event_source/devices/power */
	const char *cpuinfo_path;  /* NULL: /proc/cpuinfo (model: CPU model lookup) */
	const struct topo *topo;   /* required: CPU → package */
	double model_idle_w;	   /* model: whole-host idle W; 0 = from the coefficient table */
	double model_max_w;	   /* model: whole-host W at 100 %; 0 = from the table */
	bool model_linear;	   /* model: linear curve instead of SPECpower/Teads */
};

/* Cumulative energy since energy_open(), wrap-corrected, per package and domain. */
struct energy_reading {
	uint64_t mono_ns; /* CLOCK_MONOTONIC when read */
	int npkg;
	uint32_t domains; /* bit (1 << enum energy_domain) for each domain present */
	uint64_t uj[ENERGY_MAX_PKG][ENERGY_NDOMAINS];
};

/* Utilisation over the last interval, per package: only the model uses it. */
struct energy_util {
	int npkg;
	const uint64_t *busy_ns;  /* [npkg] non-idle ns summed over the package's CPUs */
	const uint64_t *total_ns; /* [npkg] elapsed ns × online CPUs of the package */
};

struct energy_stats {
	uint64_t reads;
	uint64_t wraps;		/* counter wraps accounted for */
	uint64_t rejected;	/* deltas above the plausible maximum, dropped and counted */
	uint64_t read_errors;
};

struct energy_source;

/*
 * Open a source. With ENERGY_SRC_AUTO, each source is tried in order and
 * why each unusable one was skipped is logged (log_info). Returns 0 or
 * -errno; on failure *why (if not NULL) says what is needed, in one line.
 */
int energy_open(struct energy_source **out, const struct energy_opts *o, char *why, size_t whylen);
void energy_close(struct energy_source *s);

/* Read all counters and advance the accumulators. util may be NULL except for the model. */
int energy_read(struct energy_source *s, const struct energy_util *util, struct energy_reading *out);

enum energy_kind energy_source_kind(const struct energy_source *s);
const char *energy_kind_name(enum energy_kind k);	/* "powercap", "msr", "perf", "model" */
int energy_kind_parse(const char *name, enum energy_kind *out);	/* 0 or -EINVAL */
const char *energy_domain_name(enum energy_domain d);	/* "package", "core", "uncore", "dram", "psys" */
void energy_get_stats(const struct energy_source *s, struct energy_stats *out);

/*
 * Relative standard uncertainty (1 sigma) of this source's energy, with the
 * reasoning and its sources documented at the definition: measured RAPL is
 * narrow, the model wide.
 */
double energy_rel_uncertainty(const struct energy_source *s);

/* One line naming the model's coefficients and their source (model only, else ""). */
const char *energy_model_basis(const struct energy_source *s);

/* For `joule probe`: what each source finds, and why an unusable one is unusable. */
struct energy_probe {
	enum energy_kind kind;
	bool usable;
	uint32_t domains;
	int npkg;
	char detail[256]; /* what was found, or why not (permission: what is needed) */
};
/* Fills one entry per concrete kind (powercap, msr, perf, model); returns the count. */
int energy_probe_all(const struct energy_opts *o, struct energy_probe *res, int max);

/*
 * Which energy the host is charged for, per package: package (else psys when
 * it is the only CPU-side domain) as CPU energy, dram as memory energy. Never
 * package + psys, which overlap.
 */
uint64_t energy_cpu_uj(const struct energy_reading *r, int pkg);
uint64_t energy_mem_uj(const struct energy_reading *r, int pkg);

#endif /* JOULE_ENERGY_H */
