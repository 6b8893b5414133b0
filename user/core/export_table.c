// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The per-process table as CSV or JSON, the format names, and the helpers every report formatter shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "joule/export.h"

static const char *const format_names[EXPORT_NFORMATS] = {
	[EXPORT_CODECARBON] = "codecarbon", [EXPORT_BOAMPS] = "boamps", [EXPORT_CSV] = "csv",
	[EXPORT_JSON] = "json",		     [EXPORT_SCI] = "sci",
};

int export_format_parse(const char *name, enum export_format *out)
{
	for (int i = 0; i < EXPORT_NFORMATS; i++) {
		if (name && strcmp(name, format_names[i]) == 0) {
			*out = (enum export_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *export_format_name(enum export_format f)
{
	return (unsigned)f < EXPORT_NFORMATS ? format_names[f] : "unknown";
}

uint64_t export_energy_uj(const struct export_figures *x)
{
	return sample_totals_energy_uj(&x->tot);
}

void export_figures_add(struct export_figures *a, const struct export_figures *b)
{
	sample_totals_add(&a->tot, &b->tot);
}

uint64_t export_carbon_ug(const struct export_figures *x)
{
	return x->tot.operational_ug + x->tot.embodied_ug;
}

void export_format_utc(char *buf, size_t len, uint64_t real_ns, char sep)
{
	time_t t = (time_t)(real_ns / 1000000000ull);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, sep,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void export_csv_field(FILE *f, const char *s)
{
	/* RFC 4180: quote a field holding a separator, a quote or a line break; double the quotes */
	if (!s || !strpbrk(s, ",\"\r\n")) {
		fputs(s ? s : "", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static double ratio(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

static uint64_t host_uj(const struct export_run *r)
{
	return r->host_cpu_uj + r->host_mem_uj;
}

static void csv_figures(FILE *f, const struct export_figures *x, const struct export_run *r)
{
	fprintf(f, "%llu,%llu,%llu,%llu,%llu,%llu,%llu,", (unsigned long long)x->tot.cpu_ns,
		(unsigned long long)export_energy_uj(x), (unsigned long long)x->tot.cpu_uj, (unsigned long long)x->tot.mem_uj,
		(unsigned long long)export_carbon_ug(x), (unsigned long long)x->tot.operational_ug,
		(unsigned long long)x->tot.embodied_ug);
	if (x->has_ci)
		fprintf(f, "%llu,%llu,", (unsigned long long)x->ci_lo_ug, (unsigned long long)x->ci_hi_ug);
	else
		fputs(",,", f);
	fprintf(f, "%.6f", ratio(export_energy_uj(x), host_uj(r)));
}

static void csv_row(FILE *f, const char *pid, const char *ppid, const char *comm, const struct export_figures *x,
		    const struct export_run *r)
{
	fprintf(f, "%s,%s,", pid, ppid);
	export_csv_field(f, comm);
	fputc(',', f);
	csv_figures(f, x, r);
}

#define FIGURE_COLUMNS "cpu_ns,energy_uj,cpu_energy_uj,memory_energy_uj,carbon_ug,carbon_operational_ug," \
		       "carbon_embodied_ug,carbon_ci_lo_ug,carbon_ci_hi_ug,allocation_ratio"

/* The workload columns of a process row, in the ledger's names: group, group_kind, then the identity. */
static void csv_labels_header(FILE *f)
{
	struct labels_field id[LABELS_NIDENTITY];
	struct proc_labels none = { 0 };

	fputs(",group,group_kind", f);
	for (int i = 0, n = labels_identity(&none, id); i < n; i++)
		fprintf(f, ",%s", id[i].json);
}

static void csv_labels(FILE *f, const struct proc_labels *l)
{
	struct labels_field id[LABELS_NIDENTITY];

	fputc(',', f);
	export_csv_field(f, l ? l->group : "");
	fputc(',', f);
	export_csv_field(f, l ? group_kind_name(l->kind) : "");
	for (int i = 0, n = labels_identity(l ? l : &(struct proc_labels){ 0 }, id); i < n; i++) {
		fputc(',', f);
		export_csv_field(f, id[i].value);
	}
}

/* One row per group: its key columns (workload: and its identity), the processes, the figures. No total row. */
static int csv_groups(FILE *f, const struct export_run *r)
{
	const char *const *cols = export_by_columns(r->by);

	for (const char *const *c = cols; *c; c++)
		fprintf(f, "%s%s", c == cols ? "" : ",", *c);
	if (r->by == EXPORT_BY_WORKLOAD) {
		struct labels_field id[LABELS_NIDENTITY];
		struct proc_labels none = { 0 };

		for (int i = 0, n = labels_identity(&none, id); i < n; i++)
			fprintf(f, ",%s", id[i].json);
	}
	fputs(",processes," FIGURE_COLUMNS "\n", f);
	for (size_t i = 0; i < r->ngroups; i++) {
		const struct export_group *g = &r->groups[i];
		const struct proc_labels *l = g->has_labels ? &g->labels : NULL;

		for (const char *const *c = cols; *c; c++) {
			if (c != cols)
				fputc(',', f);
			export_csv_field(f, export_label_value(l, g->comm, *c));
		}
		if (r->by == EXPORT_BY_WORKLOAD) {
			struct labels_field id[LABELS_NIDENTITY];

			for (int k = 0, n = labels_identity(l ? l : &(struct proc_labels){ 0 }, id); k < n; k++) {
				fputc(',', f);
				export_csv_field(f, id[k].value);
			}
		}
		fprintf(f, ",%llu,", (unsigned long long)g->processes);
		csv_figures(f, &g->f, r);
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}

int export_csv(FILE *f, const struct export_run *r)
{
	char pid[16], ppid[16];

	if (r->by != EXPORT_BY_PROCESS)
		return csv_groups(f, r);
	fputs("pid,ppid,comm," FIGURE_COLUMNS, f);
	csv_labels_header(f);
	fputc('\n', f);
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct export_proc *p = &r->procs[i];

		snprintf(pid, sizeof(pid), "%u", p->pid);
		snprintf(ppid, sizeof(ppid), "%u", p->ppid);
		csv_row(f, pid, ppid, p->comm, &p->f, r);
		csv_labels(f, p->has_labels ? &p->labels : NULL);
		fputc('\n', f);
	}
	/* the sum has no pid: a reader that sums the rows skips it by its empty pid */
	csv_row(f, "", "", "total", &r->total, r);
	csv_labels(f, NULL);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
	cJSON_AddNumberToObject(o, key, (double)v);
}

static void add_figures(cJSON *o, const struct export_figures *x, const struct export_run *r)
{
	add_u64(o, "cpu_ns", x->tot.cpu_ns);
	add_u64(o, "energy_uj", export_energy_uj(x));
	add_u64(o, "cpu_energy_uj", x->tot.cpu_uj);
	add_u64(o, "memory_energy_uj", x->tot.mem_uj);
	cJSON_AddNumberToObject(o, "allocation_ratio", ratio(export_energy_uj(x), host_uj(r)));
	add_u64(o, "carbon_ug", export_carbon_ug(x));
	add_u64(o, "carbon_operational_ug", x->tot.operational_ug);
	add_u64(o, "carbon_embodied_ug", x->tot.embodied_ug);
	if (x->has_ci) {
		cJSON *ci = cJSON_AddArrayToObject(o, "carbon_ci_ug");

		cJSON_AddItemToArray(ci, cJSON_CreateNumber((double)x->ci_lo_ug));
		cJSON_AddItemToArray(ci, cJSON_CreateNumber((double)x->ci_hi_ug));
	}
}

/* The workload identity of a row, under the ledger's (and /api/v1/processes') names: only what is known. */
static void add_labels(cJSON *o, const struct proc_labels *l)
{
	struct labels_field id[LABELS_NIDENTITY];

	if (l->group[0])
		cJSON_AddStringToObject(o, "group", l->group);
	cJSON_AddStringToObject(o, "group_kind", group_kind_name(l->kind));
	for (int i = 0, n = labels_identity(l, id); i < n; i++)
		if (id[i].value[0])
			cJSON_AddStringToObject(o, id[i].json, id[i].value);
}

static cJSON *group_json(const struct export_run *r, const struct export_group *g)
{
	cJSON *o = cJSON_CreateObject();
	const struct proc_labels *l = g->has_labels ? &g->labels : NULL;

	if (!o)
		return NULL;
	if (r->by == EXPORT_BY_WORKLOAD && l) {
		add_labels(o, l);
	} else {
		/* a row of processes without the label has no key members: never an invented value */
		for (const char *const *c = export_by_columns(r->by); *c; c++) {
			const char *v = export_label_value(l, g->comm, *c);

			if (v[0])
				cJSON_AddStringToObject(o, *c, v);
		}
	}
	add_u64(o, "processes", g->processes);
	add_figures(o, &g->f, r);
	return o;
}

static cJSON *run_json(const struct export_run *r)
{
	cJSON *o = cJSON_CreateObject(), *arr, *t, *h, *d, *c;
	char ts[32];

	if (!o)
		return NULL;
	if (r->command[0])
		cJSON_AddStringToObject(o, "command", r->command);
	if (r->has_exit_status)
		cJSON_AddNumberToObject(o, "exit_status", r->exit_status);
	add_u64(o, "wall_ns", r->wall_ns);
	export_format_utc(ts, sizeof(ts), r->start_real_ns, 'T');
	cJSON_AddStringToObject(o, "start", strcat(ts, "Z"));
	export_format_utc(ts, sizeof(ts), r->end_real_ns, 'T');
	cJSON_AddStringToObject(o, "end", strcat(ts, "Z"));
	cJSON_AddStringToObject(o, "source", energy_kind_name(r->source));
	if (r->by != EXPORT_BY_PROCESS) {
		cJSON_AddStringToObject(o, "by", export_by_name(r->by));
		arr = cJSON_AddArrayToObject(o, "groups");
		for (size_t i = 0; i < r->ngroups; i++)
			cJSON_AddItemToArray(arr, group_json(r, &r->groups[i]));
	} else {
		arr = cJSON_AddArrayToObject(o, "processes");
	}
	for (size_t i = 0; r->by == EXPORT_BY_PROCESS && i < r->nprocs; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddNumberToObject(p, "pid", r->procs[i].pid);
		cJSON_AddNumberToObject(p, "ppid", r->procs[i].ppid);
		cJSON_AddStringToObject(p, "comm", r->procs[i].comm);
		if (r->procs[i].has_labels) {
			add_labels(p, &r->procs[i].labels);
			if (r->procs[i].labels.uid != UINT32_MAX)
				add_u64(p, "uid", r->procs[i].labels.uid);
		}
		add_figures(p, &r->procs[i].f, r);
		cJSON_AddItemToArray(arr, p);
	}
	t = cJSON_AddObjectToObject(o, "total");
	add_figures(t, &r->total, r);
	h = cJSON_AddObjectToObject(o, "host");
	add_u64(h, "energy_uj", host_uj(r));
	add_u64(h, "cpu_energy_uj", r->host_cpu_uj);
	add_u64(h, "memory_energy_uj", r->host_mem_uj);
	d = cJSON_AddObjectToObject(h, "domains");
	for (int i = 0; i < ENERGY_NDOMAINS; i++)
		if (r->domains & (1u << i))
			add_u64(d, energy_domain_name((enum energy_domain)i), r->host_domain_uj[i]);
	c = cJSON_AddObjectToObject(o, "carbon");
	cJSON_AddNumberToObject(c, "intensity_g_per_kwh", r->intensity_g_per_kwh);
	cJSON_AddStringToObject(c, "intensity_kind", r->intensity_kind);
	cJSON_AddStringToObject(c, "zone", r->zone);
	if (r->intensity_year)
		cJSON_AddNumberToObject(c, "year", r->intensity_year);
	cJSON_AddStringToObject(c, "source", r->intensity_source);
	cJSON_AddNumberToObject(c, "pue", r->pue);
	if (r->method[0])
		cJSON_AddStringToObject(c, "method", r->method);
	cJSON_AddNumberToObject(c, "energy_rel_sd", r->energy_rel_sd);
	cJSON_AddNumberToObject(c, "intensity_rel_sd", r->intensity_rel_sd);
	return o;
}

int export_print_json(FILE *f, cJSON *root, bool pretty)
{
	char *txt;
	int err = 0;

	if (!root)
		return -ENOMEM;
	txt = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!txt)
		return -ENOMEM;
	if (fprintf(f, "%s\n", txt) < 0 || ferror(f))
		err = -EIO;
	free(txt);
	return err;
}

int export_json(FILE *f, const struct export_run *r)
{
	return export_print_json(f, run_json(r), false);
}

int export_write(FILE *f, enum export_format fmt, const struct export_run *r, const struct export_opts *o,
		 char *err, size_t errlen)
{
	switch (fmt) {
	case EXPORT_CODECARBON:
		return export_codecarbon_row(f, r, o);
	case EXPORT_BOAMPS:
		return export_boamps(f, r, o, err, errlen);
	case EXPORT_CSV:
		return export_csv(f, r);
	case EXPORT_JSON:
		return export_json(f, r);
	case EXPORT_SCI:
		return export_sci(f, r, o, err, errlen);
	default:
		snprintf(err, errlen, "unknown report format %d", (int)fmt);
		return -EINVAL;
	}
}
