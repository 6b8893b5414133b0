// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A run summary from a daemon's API answers (/api/v1/host and /api/v1/energy with its breakdown), for joule report --from-api. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/carbon.h"
#include "joule/export.h"

/* The API gives joules and grams as numbers: back to integer µJ and µg (exact below 2^53 µ-units). */
static uint64_t micro(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)llround(v->valuedouble * 1e6) : 0;
}

static void figures(const cJSON *totals, struct export_figures *f)
{
	memset(f, 0, sizeof(*f));
	f->tot.cpu_uj = micro(totals, "cpu_energy");
	f->tot.mem_uj = micro(totals, "memory_energy");
	f->tot.operational_ug = micro(totals, "carbon_operational");
	f->tot.embodied_ug = micro(totals, "carbon_embodied");
	f->tot.carbon_ug = f->tot.operational_ug + f->tot.embodied_ug;
}

static void copy_str(const cJSON *o, const char *k, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		snprintf(out, len, "%s", v->valuestring);
}

int export_run_from_api(const cJSON *host, const cJSON *energy, const struct carbon_ctx *c, uint64_t now_real_ns,
			struct export_run *r, char *err, size_t errlen)
{
	const cJSON *tot = cJSON_GetObjectItemCaseSensitive(energy, "totals");
	const cJSON *procs = cJSON_GetObjectItemCaseSensitive(energy, "processes");
	const cJSON *win = cJSON_GetObjectItemCaseSensitive(energy, "window_s");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(host, "intensity"), *p, *v;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(tot) || !cJSON_IsNumber(win)) {
		snprintf(err, errlen, "the daemon's /api/v1/energy answer has no totals or window_s");
		return -EINVAL;
	}
	r->wall_ns = (uint64_t)win->valuedouble * 1000000000ULL;
	r->end_real_ns = now_real_ns;
	r->start_real_ns = now_real_ns > r->wall_ns ? now_real_ns - r->wall_ns : 0;
	/* the window's host energy: every process, idle and other (the API's host series) */
	figures(tot, &r->total);
	r->host_cpu_uj = r->total.tot.cpu_uj;
	r->host_mem_uj = r->total.tot.mem_uj;
	v = cJSON_GetObjectItemCaseSensitive(host, "source");
	if (cJSON_IsString(v))
		energy_kind_parse(v->valuestring, &r->source);
	r->intensity_g_per_kwh = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "g_per_kwh"));
	r->intensity_rel_sd = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "rel_sd"));
	r->intensity_year = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "year"));
	r->pue = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "pue"));
	if (isnan(r->intensity_g_per_kwh))
		r->intensity_g_per_kwh = 0;
	if (isnan(r->intensity_rel_sd))
		r->intensity_rel_sd = 0;
	if (isnan(r->pue))
		r->pue = 0;
	copy_str(in, "kind", r->intensity_kind, sizeof(r->intensity_kind));
	copy_str(in, "zone", r->zone, sizeof(r->zone));
	copy_str(in, "source", r->intensity_source, sizeof(r->intensity_source));
	if (cJSON_IsArray(procs) && cJSON_GetArraySize(procs) > 0) {
		r->procs = calloc((size_t)cJSON_GetArraySize(procs), sizeof(*r->procs));
		if (!r->procs)
			return -ENOMEM;
		cJSON_ArrayForEach(p, procs) {
			struct export_proc *e = &r->procs[n++];

			e->pid = (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "pid"));
			copy_str(p, "comm", e->comm, sizeof(e->comm));
			figures(cJSON_GetObjectItemCaseSensitive(p, "totals"), &e->f);
		}
		r->nprocs = n;
	}
	if (c) {
		struct carbon_estimate e;

		carbon_interval(c, export_carbon_ug(&r->total), r->energy_rel_sd, r->intensity_rel_sd, &e);
		r->total.ci_lo_ug = e.lo_ug;
		r->total.ci_hi_ug = e.hi_ug;
		r->total.has_ci = true;
		snprintf(r->method, sizeof(r->method), "%s", carbon_method_name(e.method));
	}
	return 0;
}
