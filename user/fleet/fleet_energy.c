// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fleet's per-step series without I/O: /api/v1/energy and Carmen's run-engine from Prometheus range answers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "joule/fleet_api.h"
#include "joule/fleet_internal.h"
#include "joule/util.h"

#define J_PER_KWH 3.6e6

enum { S_ENERGY, S_CPU, S_MEM, S_OP, S_EMB, S_CARBON, S_N };
static const char *const series_keys[S_N] = { "energy_consumed", "cpu_energy", "memory_energy",
					       "carbon_operational", "carbon_embodied", "carbon_emitted" };

/* Carmen's run-engine keys joule has no series of: present as empty arrays, as Carmen gives storage and network */
static const char *const carmen_unknown[] = { "requested_cpu", "requested_memory", "cpu_util", "storage_capacity",
					      "network_io" };

struct steps {
	char who[256];		/* instance or group, "" for the whole */
	double *v[S_N];
};

struct stepset {
	struct steps *v;
	size_t n, nsteps;
	uint64_t start_ms, step_s;	/* the first evaluation (ms since the epoch) and the step */
};

static struct steps *steps_get(struct stepset *ss, const char *who)
{
	struct steps *x = fleet_slot((void **)&ss->v, &ss->n, sizeof(*ss->v), sizeof(ss->v->who), who);

	for (int k = 0; x && k < S_N; k++) {
		if (!x->v[k])
			x->v[k] = calloc(ss->nsteps ? ss->nsteps : 1, sizeof(double));
		if (!x->v[k])
			return NULL;	/* stepset_free frees what was had */
	}
	return x;
}

/* Step i's start in seconds: its evaluation sums the step before it. */
static double step_start_s(const struct stepset *ss, size_t i)
{
	return ((double)ss->start_ms + ((double)i - 1.0) * (double)ss->step_s * 1000.0) / 1000.0;
}

static void stepset_free(struct stepset *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		for (int k = 0; k < S_N; k++)
			free(ss->v[i].v[k]);
	free(ss->v);
}

/* Put a matrix's points into the step arrays: energy by domain or carbon by kind, per `who` label. */
static int fill_steps(struct stepset *ss, const cJSON *matrix, const char *who_label, bool carbon)
{
	const cJSON *s, *pv;

	cJSON_ArrayForEach(s, matrix) {
		const char *part = fleet_label(s, carbon ? "kind" : "domain");
		struct steps *x = steps_get(ss, who_label ? fleet_label(s, who_label) : "");
		int k1 = carbon ? (!strcmp(part, "embodied") ? S_EMB : S_OP) : (!strcmp(part, "memory") ? S_MEM : S_CPU);
		int k2 = carbon ? S_CARBON : S_ENERGY;

		if (!x)
			return -ENOMEM;
		cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(s, "values")) {
			double ts, v;
			long long i;

			if (!fleet_pair(pv, &ts, &v))
				continue;
			/* in ms: Prometheus prints the evaluation times it was given, to the ms */
			i = llround((ts * 1000.0 - (double)ss->start_ms) / ((double)ss->step_s * 1000.0));
			if (i < 0 || (size_t)i >= ss->nsteps)
				continue;
			x->v[k1][i] += v;	/* one series per (who, part): this is a placement, not a sum of samples */
			x->v[k2][i] += v;	/* a step's whole is its parts (cpu + memory, operational + embodied) */
		}
	}
	return 0;
}

static void add_steps(cJSON *o, const struct steps *x, size_t n, double scale, const char *total_prefix)
{
	cJSON *tot = total_prefix ? NULL : cJSON_CreateObject();

	for (int k = 0; k < S_N; k++) {
		cJSON *arr = cJSON_AddArrayToObject(o, series_keys[k]);
		double sum = 0;

		for (size_t i = 0; i < n; i++) {
			double v = x ? x->v[k][i] / (k >= S_OP ? 1 : scale) : 0;

			cJSON_AddItemToArray(arr, cJSON_CreateNumber(v));
			sum += v;
		}
		if (tot) {
			fleet_add_num(tot, series_keys[k], sum);
		} else {
			char key[64];

			snprintf(key, sizeof(key), "%s%s", total_prefix, series_keys[k]);
			fleet_add_num(o, key, sum);
		}
	}
	if (tot)
		cJSON_AddItemToObject(o, "totals", tot);
}

unsigned fleet_build_energy(const struct fleet_req *r, const struct fleet_plan *pl, struct fleet_parsed *ps,
			    size_t n, struct fleet_reply *out)
{
	struct stepset all = { 0 }, per = { 0 };
	struct fleet_hosts h = { 0 };
	bool carmen = r->route == FLEET_CARMEN_RUN;
	cJSON *o, *tp;
	int rc;

	all.nsteps = per.nsteps = (size_t)(r->p.window_ns / r->p.step_ns);
	all.start_ms = per.start_ms = pl->q[0].start_ms;
	all.step_s = per.step_s = pl->q[0].step_s;
	rc = fleet_hosts_fill(&h, ps[2].result, ps[3].result);
	if (!rc && !steps_get(&all, ""))
		rc = -ENOMEM;
	if (!rc)
		rc = fill_steps(&all, ps[0].result, NULL, false);
	if (!rc)
		rc = fill_steps(&all, ps[1].result, NULL, true);
	if (!rc && n > 5) {
		const char *who = carmen ? "group" : "instance";

		rc = fill_steps(&per, ps[4].result, who, false);
		if (!rc)
			rc = fill_steps(&per, ps[5].result, who, true);
	}
	if (rc) {
		stepset_free(&all);
		stepset_free(&per);
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	if (!carmen) {
		o = cJSON_CreateObject();
		fleet_add_num(o, "window_s", (double)(r->p.window_ns / NSEC_PER_SEC));
		fleet_add_num(o, "step_s", (double)all.step_s);
		if (r->p.group[0])
			cJSON_AddStringToObject(o, "group", r->p.group);
		cJSON_AddStringToObject(o, "energy_unit", "J");
		cJSON_AddStringToObject(o, "carbon_unit", "gCO2e");
		tp = cJSON_AddArrayToObject(o, "time_points");
		for (size_t i = 0; i < all.nsteps; i++)	/* each step's start, as the daemon gives them */
			cJSON_AddItemToArray(tp, cJSON_CreateNumber(step_start_s(&all, i)));
		add_steps(o, &all.v[0], all.nsteps, 1, NULL);
		if (r->p.breakdown) {
			cJSON *arr = cJSON_AddArrayToObject(o, "hosts_breakdown");

			/* every known host, a down one too: its steps are what it reported before it went */
			for (size_t i = 0; i < h.n; i++)
				steps_get(&per, h.v[i].instance);
			for (size_t i = 0; i < per.n; i++) {
				cJSON *x = cJSON_CreateObject();

				cJSON_AddStringToObject(x, "instance", per.v[i].who);
				cJSON_AddStringToObject(x, "host", fleet_host_name(&h, per.v[i].who));
				add_steps(x, &per.v[i], per.nsteps, 1, NULL);
				cJSON_AddItemToArray(arr, x);
			}
		}
		fleet_add_hosts(o, &h);
	} else {
		/* Carmen: energy in kWh, carbon in g, ISO time points, total_* beside the arrays; one object per app on breakdown */
		o = cJSON_CreateArray();
		size_t nobj = r->p.breakdown ? per.n : 1;

		for (size_t j = 0; j < nobj; j++) {
			const struct steps *x = r->p.breakdown ? &per.v[j] : &all.v[0];
			cJSON *e = cJSON_CreateObject();
			char id[24];

			snprintf(id, sizeof(id), "%zu", j);
			cJSON_AddStringToObject(e, "id", id);
			cJSON_AddStringToObject(e, "name", r->p.breakdown ? x->who : r->p.group[0] ? r->p.group : "fleet");
			add_steps(e, x, all.nsteps, J_PER_KWH, "total_");
			/* Carmen's cpu_power: each step's mean CPU power in kW (its kWh over its hours) */
			tp = cJSON_AddArrayToObject(e, "cpu_power");
			for (size_t i = 0; i < all.nsteps; i++)
				cJSON_AddItemToArray(tp, cJSON_CreateNumber(x->v[S_CPU][i] / J_PER_KWH /
									    ((double)all.step_s / 3600.0)));
			/* what a fleet of joule daemons cannot know (Kubernetes requests, disks, network): empty, not invented */
			for (size_t k = 0; k < sizeof(carmen_unknown) / sizeof(carmen_unknown[0]); k++)
				cJSON_AddArrayToObject(e, carmen_unknown[k]);
			tp = cJSON_AddArrayToObject(e, "time_points");
			for (size_t i = 0; i < all.nsteps; i++) {
				char buf[40];
				time_t t = (time_t)step_start_s(&all, i);
				struct tm tm;

				gmtime_r(&t, &tm);
				strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
				cJSON_AddItemToArray(tp, cJSON_CreateString(buf));
			}
			cJSON_AddStringToObject(e, "energy_unit", "kWh");
			cJSON_AddStringToObject(e, "carbon_unit", "gCO2e");
			cJSON_AddItemToArray(o, e);
		}
	}
	stepset_free(&all);
	stepset_free(&per);
	free(h.v);
	return fleet_reply_json(out, o);
}
