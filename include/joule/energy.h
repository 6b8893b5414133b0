/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Energy sources behind one interface: powercap sysfs, MSR, perf power PMU, power model. */
#ifndef JOULE_ENERGY_H
#define JOULE_ENERGY_H

#include <stdbool.h>
#include <stdint.h>
#include "joule/domain.h"
#include "joule/topo.h"

#define ENERGY_MAX_PKG 64


struct energy_opts {
	enum energy_kind kind;	   /* AUTO: powercap, msr, perf, model, first that opens */
	const char *powercap_root; /* NULL: /sys/class/powercap */
	const char *msr_root;	   /* NULL: /dev/cpu */
	const char *perf_root;	   /* NULL: /sys/bus/event_source/devices/power */
	const char *cpuinfo_path;  /* NULL: /proc/cpuinfo (MSR vendor and unit quirks; model: CPU model lookup) */
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
/* The host's energy (DESIGN: host.energy_uj): sum over packages of cpu + mem as above. */
uint64_t energy_host_uj(const struct energy_reading *r);

/*
 * Pure cores, exposed for unit tests and fuzzing. Nothing below does I/O.
 */

/* µJ = ticks × num / den, exactly (floor). RAPL units are 1/2^ESU J, or fixed ones. */
struct energy_unit {
	uint64_t num;
	uint64_t den;
};
uint64_t energy_unit_to_uj(struct energy_unit u, uint64_t ticks);
uint64_t energy_uj_to_ticks(struct energy_unit u, uint64_t uj); /* ceiling, saturating */

/*
 * One hardware counter that counts 0 .. range-1 and wraps, accumulated in
 * 64 bits. range = max_energy_range_uj + 1 for powercap, 2^32 for MSRs,
 * 0 for a 64-bit counter (perf). total is in the counter's own ticks.
 */
struct energy_acc {
	uint64_t range;
	uint64_t prev;
	uint64_t total;
	uint64_t wraps;
	uint64_t rejected;
	bool primed;
};
enum energy_acc_event {
	ENERGY_ACC_FIRST,    /* first value: the baseline, nothing added */
	ENERGY_ACC_OK,
	ENERGY_ACC_WRAP,     /* added across one wrap (counted) */
	ENERGY_ACC_REJECTED, /* delta above max_delta: dropped, counted, baseline moved */
	ENERGY_ACC_INVALID,  /* raw >= range: not a value this counter can hold; ignored */
};
void energy_acc_init(struct energy_acc *a, uint64_t range);
/* Feed one raw reading. max_delta (ticks) is the plausible ceiling for the elapsed time; 0 = none. */
enum energy_acc_event energy_acc_step(struct energy_acc *a, uint64_t raw, uint64_t max_delta);

/* CPU identity from /proc/cpuinfo text (first processor block). */
enum energy_vendor {
	ENERGY_VENDOR_OTHER,
	ENERGY_VENDOR_INTEL,
	ENERGY_VENDOR_AMD,
	ENERGY_VENDOR_HYGON,
	ENERGY_VENDOR_ARM,
};
struct energy_cpuid {
	enum energy_vendor vendor;
	unsigned family, model, stepping; /* x86 */
	unsigned arm_part;		  /* arm64 "CPU part" */
	char model_name[128];
};
int energy_cpuinfo_parse(const char *text, struct energy_cpuid *out); /* 0 or -EINVAL */

/* MSR units. ESU is bits 12:8 of MSR 0x606 (Intel) / 0xC0010299 (AMD): 1/2^ESU J. */
unsigned energy_msr_esu(uint64_t unit_msr);
/* The unit of one domain's counter, with the kernel's fixed-unit quirks (DRAM on servers, SPR psys). */
struct energy_unit energy_msr_unit(const struct energy_cpuid *id, enum energy_domain d, uint64_t unit_msr);
bool energy_intel_dram_fixed_unit(unsigned family, unsigned model);

/* perf power PMU sysfs files: "event=0x02", "2.3283064365386962890625e-10", "Joules". */
int energy_perf_parse_event(const char *text, uint64_t *config); /* 0, -EINVAL, -ENOTSUP */
int energy_perf_parse_scale(const char *text, struct energy_unit *out); /* µJ per count as a ratio */
int energy_perf_check_unit(const char *text);			 /* 0 if Joules, else -EINVAL */

/* Per-CPU busy and total jiffies from /proc/stat text; returns CPUs seen or -EINVAL. */
int energy_parse_proc_stat(const char *text, uint64_t *busy, uint64_t *total, int ncpu);

/* Power model. */
struct energy_coeff {
	const char *vendor;
	const char *uarch;
	double idle_w_per_cpu; /* SPECpower active idle, whole-server W per hardware thread */
	double max_w_per_cpu;  /* SPECpower 100 % load */
	const char *source;    /* token explained in docs/energy.md and user/energy/energy_data.c */
};
/* The coefficient row for this CPU; never NULL (falls back to the CCF average). */
const struct energy_coeff *energy_model_lookup(const struct energy_cpuid *id, bool *matched);
/* Normalised curve f(u) for u in [0,1]: f(0) = 0, f(1) = 1, monotone. */
double energy_model_curve(double u, bool linear);
/* P = idle + (max - idle)·f(u), in µW. */
uint64_t energy_model_power_uw(double idle_w, double max_w, double u, bool linear);
/* *uj += P·dt exactly: P in µW, dt in ns, the sub-µJ remainder carried in *rem (units 1e-15 J). */
void energy_model_integrate(uint64_t *uj, uint64_t *rem, uint64_t p_uw, uint64_t dt_ns);

/* Physically plausible power ceiling per counter, used to reject impossible deltas. */
#define ENERGY_PLAUSIBLE_MAX_W 1000

#endif /* JOULE_ENERGY_H */
