/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reports of a run or a ledger window (CodeCarbon, BoAmps, CSV, JSON, SCI, Pushgateway text): pure formatters over one plain struct. */
#ifndef JOULE_EXPORT_H
#define JOULE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "joule/domain.h"
#include "joule/labels.h"
#include "joule/proctab.h"
#include "joule/sample.h"

struct carbon_ctx;

#define EXPORT_COMM_LEN 64
#define EXPORT_CMD_LEN 4096

/*
 * The figures of one process or of a sum of processes, in integer base units:
 * the totals every layer carries (tot.carbon_ug kept as operational +
 * embodied), and the 95 % interval of that carbon.
 */
struct export_figures {
	struct sample_totals tot;
	uint64_t ci_lo_ug, ci_hi_ug;	/* 95 % interval of op + emb, when has_ci */
	bool has_ci;
};

struct export_proc {
	uint32_t pid, ppid;
	uint64_t start_ns;		/* identity with pid (CLOCK_MONOTONIC at start); 0 unknown */
	char comm[EXPORT_COMM_LEN];
	bool has_labels;		/* its records named its workload: labels are those of its newest record */
	struct proc_labels labels;
	struct export_figures f;
};

/*
 * What a report's table has one row for: each process, or each workload
 * or value of one label (docs/REPORTS.md "--by"). Processes whose records
 * lack the label are summed in one row whose key is empty.
 */
enum export_by {
	EXPORT_BY_PROCESS,
	EXPORT_BY_WORKLOAD,	/* group_kind, group: what /api/v1/apps and /metrics group by */
	EXPORT_BY_UNIT,
	EXPORT_BY_SLICE,
	EXPORT_BY_CONTAINER,	/* runtime, container_id, container_name */
	EXPORT_BY_POD,		/* namespace, pod, pod_uid */
	EXPORT_BY_NAMESPACE,
	EXPORT_BY_JOB,		/* job_id, job_user */
	EXPORT_BY_COMM,
	EXPORT_BY_N,
};

int export_by_parse(const char *name, enum export_by *out); /* 0 or -EINVAL */
const char *export_by_name(enum export_by by);
/* The columns a row is keyed by, NULL-terminated (none for process); names as in the ledger's records. */
const char *const *export_by_columns(enum export_by by);
/* A column's value: group, group_kind, comm or an identity name (labels_identity's json); "" unknown (l NULL). */
const char *export_label_value(const struct proc_labels *l, const char *comm, const char *col);

/* One row of a grouped table. */
struct export_group {
	bool has_labels;
	struct proc_labels labels;	/* the key columns' values (workload: its identity, from its first process) */
	char comm[EXPORT_COMM_LEN];	/* by comm */
	uint64_t processes;		/* processes with energy in it (a moved process counts in each of its groups) */
	struct export_figures f;
};

/* Rows being summed from parts of processes (export_builder_finish fills one). Zero it, set by. */
struct export_grouping {
	enum export_by by;
	struct export_group *v;
	size_t n, cap;
	struct proctab index;	/* (probe, hash of the key columns) -> row */
	size_t *last_proc;	/* per row: the last process counted in it */
};

/*
 * Add one part of process proc (its figures under labels l; NULL: its
 * records had none) to the row of its key. 0 or -ENOMEM.
 */
int export_grouping_add(struct export_grouping *g, const struct proc_labels *l, const char *comm, size_t proc,
			const struct export_figures *f);
/* Hand the rows over, largest energy first (the caller frees *out); g is empty after. */
void export_grouping_take(struct export_grouping *g, struct export_group **out, size_t *n);
void export_grouping_free(struct export_grouping *g);

/*
 * A run summary: what every report is made from. Strings are "" and
 * numbers 0 when unknown; a formatter then leaves the field out or empty,
 * it never invents one.
 */
struct export_run {
	char command[EXPORT_CMD_LEN];	/* argv joined by spaces; "" for a ledger window without a run */
	bool has_exit_status;
	int exit_status;
	uint64_t wall_ns;		/* the command's wall time (or the window's span) */
	uint64_t start_real_ns, end_real_ns; /* ns since the epoch, UTC */
	enum energy_kind source;
	double energy_rel_sd;		/* relative 1-sigma of the energy source */
	uint64_t host_cpu_uj, host_mem_uj;
	uint64_t host_domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;		/* bit d: domain d present */
	struct export_figures total;	/* the command and its descendants (or every process of the window) */
	struct export_proc *procs;	/* the per-process table, owned by whoever filled it */
	size_t nprocs;
	enum export_by by;		/* process: the table is procs; else groups */
	struct export_group *groups;	/* by energy, largest first; owned by whoever filled it */
	size_t ngroups;
	double intensity_g_per_kwh, intensity_rel_sd;
	char intensity_kind[16], zone[32], intensity_source[64];
	int intensity_year;
	double pue;
	char method[32];		/* interval method name ("analytical_truncated", "monte_carlo") */
	/* GPUs (NVML), when the run read any: gpu_count 0 means none */
	uint64_t host_gpu_uj;
	uint32_t gpu_count;
	char gpu_model[160];		/* CodeCarbon's form: "2 x NVIDIA A100-SXM4-40GB" */
	/* machine facts */
	char hostname[65], cpu_model[128], os[200];
	uint32_t cpu_count;
	double ram_total_gb;
};

/* What the user supplies that joule cannot know. */
struct export_opts {
	const char *project_name, *experiment_id, *run_id; /* codecarbon; NULL: empty */
	const cJSON *boamps_input;	/* BoAmps fields: task (required), header, software, infrastructure, environment */
	const char *report_id;		/* BoAmps header.reportId (a uuid4) */
	uint64_t report_real_ns;	/* BoAmps header.reportDatetime; 0: the run's end */
	const char *joule_version;
	uint64_t functional_units;	/* SCI R: how many; 0: not given */
	const char *functional_unit;	/* SCI R: what ("request", "image") */
};

enum export_format { EXPORT_CODECARBON, EXPORT_BOAMPS, EXPORT_CSV, EXPORT_JSON, EXPORT_SCI, EXPORT_NFORMATS };

int export_format_parse(const char *name, enum export_format *out); /* 0 or -EINVAL */
const char *export_format_name(enum export_format f);

/*
 * Every formatter writes one whole report to f and returns 0, -EINVAL (with
 * err filled, for input that cannot make a valid report), or -EIO.
 */
/* CodeCarbon emissions.csv: the header line, and one row (kg CO2eq, kWh, W, s). */
int export_codecarbon_header(FILE *f);
int export_codecarbon_row(FILE *f, const struct export_run *r, const struct export_opts *o);
/* The header line as one string (to check an existing file against). */
const char *export_codecarbon_header_line(void);
/* A BoAmps report (JSON, pretty-printed); -EINVAL when the input lacks what the schema requires. */
int export_boamps(FILE *f, const struct export_run *r, const struct export_opts *o, char *err, size_t errlen);
/* Check BoAmps input before a run starts: the same checks as export_boamps, no output. */
int export_boamps_check_input(const cJSON *in, char *err, size_t errlen);
/* The per-process table: CSV with a header, or one JSON object. */
int export_csv(FILE *f, const struct export_run *r);
int export_json(FILE *f, const struct export_run *r);
/* SCI (ISO/IEC 21031): (O + M) / R as one JSON object; -EINVAL without functional units. */
int export_sci(FILE *f, const struct export_run *r, const struct export_opts *o, char *err, size_t errlen);
/* Dispatch on format. */
int export_write(FILE *f, enum export_format fmt, const struct export_run *r, const struct export_opts *o,
		 char *err, size_t errlen);

/* ---- Pushgateway: the body (text format 0.0.4) and the grouping-key path */

struct export_label {
	char name[64];
	char value[256];
};

/* "k=v" into a label; the name must be a Prometheus label name, not "job" nor "__*". */
int export_label_parse(const char *kv, struct export_label *out, char *err, size_t errlen);
/* The run's totals as gauges (energy, carbon operational and embodied, CPU time, duration). */
int export_push_body(FILE *f, const struct export_run *r);
/*
 * "/metrics/job/<job>/<name>/<value>..." with the Pushgateway's escaping:
 * path-escaped, or "<name>@base64/<base64url>" for a value holding '/' or
 * empty. -ENAMETOOLONG if it does not fit.
 */
int export_push_path(char *buf, size_t len, const char *job, const struct export_label *labels, size_t nlabels);

/* ---- Windows of a ledger, and the run summary built from ledger records */

struct export_window {
	bool has_start, has_end;
	uint64_t start_ns, end_ns;	/* ns since the epoch, inclusive */
	uint64_t last_ns;		/* > 0: the LAST form, ending at the last record */
};

/*
 * "START..END" (either side may be empty; each epoch seconds, fractions
 * allowed, or RFC 3339 "2026-01-31T12:00:00Z" / "+01:00") or "LAST", a
 * duration ("90s", "10m", "2h", "1d", "500ms") ending at the last record.
 */
int export_window_parse(const char *s, struct export_window *w, char *err, size_t errlen);
/* RFC 3339 / epoch seconds to ns since the epoch. */
int export_time_parse(const char *s, uint64_t *ns);

struct export_builder;

int export_builder_new(struct export_builder **out);
void export_builder_free(struct export_builder *b);
/*
 * Offer one ledger record (genesis, process, host, run; other kinds are
 * ignored). The window is applied by the caller (see export_record_ts_end).
 * -EINVAL with err when a known kind has a member of the wrong type.
 */
int export_builder_add(struct export_builder *b, const cJSON *rec, char *err, size_t errlen);
/* The record's ts_end (ns since the epoch), 0 when absent. */
uint64_t export_record_ts_end(const cJSON *rec);
/*
 * Fill r from what was added. Process and host records, when there are
 * any, give the figures (total = the processes a run marked, or all of
 * them when none is marked); a run record gives command, exit status and
 * wall time, and the figures when there are no process records. Intervals
 * are computed with c (NULL: none). -ENODATA when nothing was added.
 * r->procs points into b: keep b until r is no longer used.
 */
/* Rows per process (the default) or per workload or label: r->by and r->groups. */
void export_builder_set_by(struct export_builder *b, enum export_by by);
int export_builder_finish(struct export_builder *b, const struct carbon_ctx *c, struct export_run *r);
/* The genesis record's host_id, "" when none was seen. */
const char *export_builder_host_id(const struct export_builder *b);

/* ---- A run summary from a daemon's API (joule report --from-api) */

/*
 * Fill r from the answers of /api/v1/host and /api/v1/energy (one step, with
 * or without breakdown): the window's host energy (every process, idle and
 * other) as the total, the processes with series of their own as the table
 * (r->procs is malloc'ed: the caller frees it), the intensity in force at
 * the host answer; the 95 % interval with c (NULL: none). CPU time is not in
 * the energy series: 0, unknown. 0, -EINVAL with err, -ENOMEM.
 */
int export_run_from_api(const cJSON *host, const cJSON *energy, const struct carbon_ctx *c, uint64_t now_real_ns,
			struct export_run *r, char *err, size_t errlen);

/* Helpers the formatters share. */
void export_format_utc(char *buf, size_t len, uint64_t real_ns, char sep); /* "YYYY-MM-DD<sep>HH:MM:SS" */
void export_csv_field(FILE *f, const char *s);	/* RFC 4180 quoting when needed */
uint64_t export_energy_uj(const struct export_figures *x);
/* a += b, the figures that add (not the interval, which is recomputed for a sum) */
void export_figures_add(struct export_figures *a, const struct export_figures *b);
uint64_t export_carbon_ug(const struct export_figures *x);
/* Print root as one line (or indented, pretty) and a newline, and delete it. 0, -ENOMEM (root NULL too), -EIO. */
int export_print_json(FILE *f, cJSON *root, bool pretty);

#endif /* JOULE_EXPORT_H */
