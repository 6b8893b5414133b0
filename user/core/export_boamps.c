// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A BoAmps (Boavizta) energy report: joule's measure, hardware and quality merged with the task the user describes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "joule/carbon.h"
#include "joule/export.h"

#define UJ_PER_KWH 3.6e12

/* The enums of the fields the schema requires (data/boamps/report_schema.json and dataset_schema.json). */
static const char *const infra_types[] = { "publicCloud", "privateCloud", "onPremise", "other", NULL };
static const char *const data_usages[] = { "input", "output", NULL };
static const char *const data_types[] = { "tabular", "audio", "boolean", "image", "video", "object",
					  "text",    "token", "word",    "other", NULL };
static const char *const confidentiality[] = { "public", "internal", "confidential", "secret", NULL };

static bool in_set(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static int need_string(const cJSON *o, const char *key, const char *where, const char *const *set, char *err,
		       size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		snprintf(err, errlen, "boamps input: %s.%s is required (a string)", where, key);
		return -EINVAL;
	}
	if (set && !in_set(v->valuestring, set)) {
		size_t n;

		n = (size_t)snprintf(err, errlen, "boamps input: %s.%s is '%s', not one of", where, key, v->valuestring);
		for (; *set && n < errlen; set++)
			n += (size_t)snprintf(err + n, errlen - n, " %s", *set);
		return -EINVAL;
	}
	return 0;
}

static int need_objects(const cJSON *o, const char *key, const char *where, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *it;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1) {
		snprintf(err, errlen, "boamps input: %s.%s is required (an array of at least one object)", where, key);
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsObject(it)) {
			snprintf(err, errlen, "boamps input: %s.%s holds a non-object", where, key);
			return -EINVAL;
		}
	}
	return 0;
}

int export_boamps_check_input(const cJSON *in, char *err, size_t errlen)
{
	const cJSON *task, *infra, *hdr, *pub, *it, *env;
	int rc;

	if (!cJSON_IsObject(in)) {
		snprintf(err, errlen, "boamps input: needs a JSON object with at least \"task\" and "
				      "\"infrastructure\":{\"infraType\":...}");
		return -EINVAL;
	}
	/* measures and quality are what joule measured: a user value would replace a measurement */
	if (cJSON_GetObjectItemCaseSensitive(in, "measures") || cJSON_GetObjectItemCaseSensitive(in, "quality")) {
		snprintf(err, errlen, "boamps input: \"measures\" and \"quality\" are joule's own figures; remove them");
		return -EINVAL;
	}
	task = cJSON_GetObjectItemCaseSensitive(in, "task");
	if (!cJSON_IsObject(task)) {
		snprintf(err, errlen, "boamps input: \"task\" is required (taskStage, taskFamily, algorithms, dataset)");
		return -EINVAL;
	}
	if ((rc = need_string(task, "taskStage", "task", NULL, err, errlen)) ||
	    (rc = need_string(task, "taskFamily", "task", NULL, err, errlen)) ||
	    (rc = need_objects(task, "algorithms", "task", err, errlen)) ||
	    (rc = need_objects(task, "dataset", "task", err, errlen)))
		return rc;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(task, "dataset"))
	{
		if ((rc = need_string(it, "dataUsage", "task.dataset[]", data_usages, err, errlen)) ||
		    (rc = need_string(it, "dataType", "task.dataset[]", data_types, err, errlen)))
			return rc;
	}
	infra = cJSON_GetObjectItemCaseSensitive(in, "infrastructure");
	if (!cJSON_IsObject(infra)) {
		snprintf(err, errlen, "boamps input: \"infrastructure\":{\"infraType\":...} is required "
				      "(publicCloud, privateCloud, onPremise, other)");
		return -EINVAL;
	}
	if ((rc = need_string(infra, "infraType", "infrastructure", infra_types, err, errlen)))
		return rc;
	if (cJSON_GetObjectItemCaseSensitive(infra, "components") &&
	    (rc = need_objects(infra, "components", "infrastructure", err, errlen)))
		return rc;
	hdr = cJSON_GetObjectItemCaseSensitive(in, "header");
	if (hdr && !cJSON_IsObject(hdr)) {
		snprintf(err, errlen, "boamps input: \"header\" must be an object");
		return -EINVAL;
	}
	pub = cJSON_GetObjectItemCaseSensitive(hdr, "publisher");
	if (pub && (rc = need_string(pub, "confidentialityLevel", "header.publisher", confidentiality, err, errlen)))
		return rc;
	env = cJSON_GetObjectItemCaseSensitive(in, "environment");
	if (env && !cJSON_IsObject(env)) {
		snprintf(err, errlen, "boamps input: \"environment\" must be an object");
		return -EINVAL;
	}
	return 0;
}

/* The user's members over joule's: objects merge member by member, anything else replaces. */
static int merge(cJSON *dst, const cJSON *src)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, src)
	{
		cJSON *mine = cJSON_GetObjectItemCaseSensitive(dst, it->string), *copy;

		if (cJSON_IsObject(mine) && cJSON_IsObject(it)) {
			if (merge(mine, it))
				return -ENOMEM;
			continue;
		}
		copy = cJSON_Duplicate(it, true);
		if (!copy)
			return -ENOMEM;
		if (mine)
			cJSON_ReplaceItemInObjectCaseSensitive(dst, it->string, copy);
		else
			cJSON_AddItemToObject(dst, it->string, copy);
	}
	return 0;
}

/*
 * BoAmps quality classes are percentage errors: high ±10 %, medium ±25 %,
 * low ±50 %. joule's energy is measured (RAPL) or modelled; its 95 %
 * half-width 1.96 σ picks the class.
 */
static const char *quality(double energy_rel_sd)
{
	double half = 1.96 * energy_rel_sd;

	if (half <= 0.10)
		return "high";
	if (half <= 0.25)
		return "medium";
	return "low";
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* A cpu or gpu component: model (when known), count, and the task's share when the host's energy is known. */
static void add_processor(cJSON *comps, const char *type, const char *model, uint32_t count, uint64_t task_uj,
			  uint64_t host_uj)
{
	cJSON *c = cJSON_CreateObject();

	if (model[0])
		cJSON_AddStringToObject(c, "componentName", model);
	cJSON_AddStringToObject(c, "componentType", type);
	cJSON_AddNumberToObject(c, "nbComponent", count);
	if (host_uj)
		cJSON_AddNumberToObject(c, "share", clamp01((double)task_uj / (double)host_uj));
	cJSON_AddItemToArray(comps, c);
}

static cJSON *build(const struct export_run *r, const struct export_opts *o)
{
	cJSON *root = cJSON_CreateObject(), *hdr, *ms, *m, *sys, *infra, *comps, *c, *env;
	uint64_t e_uj = export_energy_uj(&r->total), host = r->host_cpu_uj + r->host_mem_uj;
	const struct carbon_zone *z = r->zone[0] ? carbon_zone_find(r->zone) : NULL;
	char ts[32];

	if (!root)
		return NULL;
	hdr = cJSON_AddObjectToObject(root, "header");
	if (o->report_id)
		cJSON_AddStringToObject(hdr, "reportId", o->report_id);
	export_format_utc(ts, sizeof(ts), o->report_real_ns ? o->report_real_ns : r->end_real_ns, ' ');
	cJSON_AddStringToObject(hdr, "reportDatetime", ts);

	ms = cJSON_AddArrayToObject(root, "measures");
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(ms, m);
	cJSON_AddStringToObject(m, "measurementMethod", "joule");
	if (o->joule_version)
		cJSON_AddStringToObject(m, "version", o->joule_version);
	/* RAPL through powercap, MSR or perf is a measurement; the model is a utilisation curve */
	cJSON_AddStringToObject(m, "cpuTrackingMode", r->source == ENERGY_SRC_MODEL ? "model" : "rapl");
	if (r->cpu_count && r->wall_ns)
		cJSON_AddNumberToObject(m, "averageUtilizationCpu",
					clamp01((double)r->total.tot.cpu_ns / ((double)r->wall_ns * r->cpu_count)));
	if (r->gpu_count)
		cJSON_AddStringToObject(m, "gpuTrackingMode", "nvml");
	/* kWh of everything measured for the task: CPU side and, where read, GPU */
	cJSON_AddNumberToObject(m, "powerConsumption", (double)(e_uj + r->total.tot.gpu_uj) / UJ_PER_KWH);
	cJSON_AddNumberToObject(m, "measurementDuration", (double)r->wall_ns / 1e9);
	export_format_utc(ts, sizeof(ts), r->start_real_ns, ' ');
	cJSON_AddStringToObject(m, "measurementDateTime", ts);

	sys = cJSON_AddObjectToObject(root, "system");
	cJSON_AddStringToObject(sys, "os", "linux");
	if (r->os[0])
		cJSON_AddStringToObject(sys, "distributionVersion", r->os);

	infra = cJSON_AddObjectToObject(root, "infrastructure");
	comps = cJSON_AddArrayToObject(infra, "components");
	/* the share: the task's part of the host's energy, joule's allocation ratio */
	if (r->cpu_count)
		add_processor(comps, "cpu", r->cpu_model, r->cpu_count, e_uj, host);
	if (r->gpu_count)
		add_processor(comps, "gpu", r->gpu_model, r->gpu_count, r->total.tot.gpu_uj, r->host_gpu_uj);
	if (r->ram_total_gb > 0) {
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "componentType", "ram");
		cJSON_AddNumberToObject(c, "nbComponent", 1);
		cJSON_AddNumberToObject(c, "memorySize", r->ram_total_gb);
		cJSON_AddItemToArray(comps, c);
	}

	env = cJSON_AddObjectToObject(root, "environment");
	if (z && strcmp(r->intensity_kind, "zone") == 0)
		cJSON_AddStringToObject(env, "country", z->name);
	else if (r->zone[0])
		cJSON_AddStringToObject(env, "country", r->zone);
	if (r->intensity_g_per_kwh > 0)
		cJSON_AddNumberToObject(env, "powerSourceCarbonIntensity", r->intensity_g_per_kwh);

	cJSON_AddStringToObject(root, "quality", quality(r->energy_rel_sd));
	return root;
}

int export_boamps(FILE *f, const struct export_run *r, const struct export_opts *o, char *err, size_t errlen)
{
	struct export_opts none = { 0 };
	cJSON *root, *comps, *env;
	int rc;

	o = o ? o : &none;
	rc = export_boamps_check_input(o->boamps_input, err, errlen);
	if (rc)
		return rc;
	root = build(r, o);
	if (!root)
		return -ENOMEM;
	if (merge(root, o->boamps_input)) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	/* what only the machine or the user can say, checked after the merge */
	comps = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "infrastructure"), "components");
	env = cJSON_GetObjectItemCaseSensitive(root, "environment");
	if (cJSON_GetArraySize(comps) < 1) {
		snprintf(err, errlen, "boamps: the hardware is unknown (a ledger from another host): give "
				      "infrastructure.components in the input file");
		rc = -EINVAL;
	} else if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(env, "country"))) {
		snprintf(err, errlen, "boamps: the country is unknown: give environment.country in the input file");
		rc = -EINVAL;
	}
	if (rc) {
		cJSON_Delete(root);
		return rc;
	}
	return export_print_json(f, root, true);
}
