/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the energy sources share inside user/energy/: the source object, its counters and each source's ops. */
#ifndef JOULE_ENERGY_SOURCE_H
#define JOULE_ENERGY_SOURCE_H

#include <stdarg.h>
#include <stddef.h>
#include "joule/energy.h"

/*
 * Relative standard uncertainty (1 sigma) of a source's energy.
 * Measured (RAPL through powercap, MSR or perf): 5 %. RAPL has been
 * measured, not modelled, since Haswell and tracks the package's own power
 * closely (Hackenberg et al. 2015, "An Energy Efficiency Feature Survey of
 * the Intel Haswell Processor", IPDPSW; Khan et al. 2018, "RAPL in Action:
 * Experiences in Using RAPL for Power Measurements", ACM TOMPECS 3(2), who
 * found RAPL highly correlated with wall power); 5 % covers the
 * model-based RAPL of Sandy/Ivy Bridge and DRAM RAPL's larger error
 * (Desrochers et al. 2016, "A Validation of DRAM RAPL Power
 * Measurements", MEMSYS).
 * Model: 30 % with coefficients matched to the microarchitecture, 50 % with
 * the CCF fallback average, 25 % with P_idle/P_max given by the operator.
 * Reasoning: SPECpower per-thread figures for one microarchitecture differ
 * between CCF's own releases by up to 2× (Ivy Bridge idle 3.04 vs 1.71 W,
 * Haswell 1.00 vs 1.86 W; docs/energy.md), a VM's share of a host is not a
 * share of its threads' SPECpower, and the curve's shape is a fleet average.
 * Operator-given endpoints remove the coefficient error but not the shape.
 */
#define ENERGY_UNC_MEASURED 0.05
#define ENERGY_UNC_MODEL_MATCHED 0.30
#define ENERGY_UNC_MODEL_FALLBACK 0.50
#define ENERGY_UNC_MODEL_GIVEN 0.25

/* One hardware counter of a measured source (powercap zone, MSR register, perf event). */
struct energy_counter {
	enum energy_domain dom;
	int pkg;
	int fd;
	bool own_fd;
	uint64_t reg; /* MSR offset */
	struct energy_unit unit;
	struct energy_acc acc;
	uint64_t stall_ns; /* a gap longer than this may hide a whole wrap */
	char name[48];	   /* for logs: zone or register */
};

struct energy_source;

/* What makes one source: how it opens, and how it reads (a counter's raw value, or the model as a whole). */
struct energy_source_ops {
	enum energy_kind kind;
	/* Fill s (counters, domains) or say in why what is missing; 0 or -errno. */
	int (*open)(struct energy_source *s, const struct energy_opts *o, char *why, size_t wl);
	/* Measured sources: one counter's raw value in its own ticks. */
	int (*read_raw)(const struct energy_counter *c, uint64_t *raw);
	/* The model: integrate over dt_ns and fill out->uj; NULL for measured sources. */
	void (*read_all)(struct energy_source *s, const struct energy_util *util, uint64_t dt_ns,
			 struct energy_reading *out);
	void (*free)(struct energy_source *s); /* source-private state; may be NULL */
	/* For probe: a line describing what was opened; NULL lists the counters. */
	const char *(*describe)(const struct energy_source *s);
};

extern const struct energy_source_ops energy_powercap_ops;
extern const struct energy_source_ops energy_msr_ops;
extern const struct energy_source_ops energy_perf_ops;
extern const struct energy_source_ops energy_model_ops;

struct energy_model_state; /* model.c */

struct energy_source {
	const struct energy_source_ops *ops;
	int npkg;
	uint32_t domains;
	struct energy_counter *c;
	int nc;
	uint64_t last_ns;
	uint64_t last_warn_ns; /* stall and rejection warnings: at most one a minute */
	bool warned;
	uint64_t reads;
	uint64_t read_errors;
	double rel_unc;
	char basis[256];
	struct energy_model_state *m;
};

/*
 * Add one counter whose first raw value (the baseline) has been read: the
 * same setup for every measured source. range as energy_acc_init. The fd is
 * closed with the source when own_fd. Returns the counter or NULL (ENOMEM).
 */
struct energy_counter *energy_add_counter(struct energy_source *s, enum energy_domain dom, int pkg, int fd,
					  bool own_fd, struct energy_unit unit, uint64_t range, uint64_t raw,
					  const char *name);

/* A whole (small) file as a malloc'd string, or NULL with errno set. */
char *energy_slurp(const char *path);
/* The CPU identity from o->cpuinfo_path (default /proc/cpuinfo); 0 or -errno. */
int energy_read_cpuid(const struct energy_opts *o, struct energy_cpuid *id);
/* Dense package index of a physical package id, or -1. */
int energy_pkg_index(const struct topo *t, int pkg_id);

#endif /* JOULE_ENERGY_SOURCE_H */
