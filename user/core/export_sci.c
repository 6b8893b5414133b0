// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Software Carbon Intensity (ISO/IEC 21031, GSF SCI 1.1): (E x I + M) per functional unit, as one JSON object. */
#include <errno.h>
#include <stdlib.h>
#include "joule/export.h"

#define UJ_PER_KWH 3.6e12
#define UG_PER_G 1e6

int export_sci(FILE *f, const struct export_run *r, const struct export_opts *o, char *err, size_t errlen)
{
	cJSON *root, *fu, *ci;
	double n, op_g, emb_g;

	if (!o || !o->functional_units || !o->functional_unit || !o->functional_unit[0]) {
		snprintf(err, errlen, "sci needs the functional unit: --functional-unit N NAME (e.g. 1000 request)");
		return -EINVAL;
	}
	n = (double)o->functional_units;
	op_g = (double)r->total.tot.operational_ug / UG_PER_G;
	emb_g = (double)r->total.tot.embodied_ug / UG_PER_G;
	root = cJSON_CreateObject();
	if (!root)
		return -ENOMEM;
	cJSON_AddStringToObject(root, "standard", "ISO/IEC 21031:2024 (SCI 1.1)");
	/* SCI = (O + M) / R with O = E x I; joule's O includes PUE (1 unless --pue is given) */
	cJSON_AddNumberToObject(root, "sci_g_per_unit", (op_g + emb_g) / n);
	if (r->total.has_ci) {
		ci = cJSON_AddArrayToObject(root, "sci_ci_g_per_unit");
		cJSON_AddItemToArray(ci, cJSON_CreateNumber((double)r->total.ci_lo_ug / UG_PER_G / n));
		cJSON_AddItemToArray(ci, cJSON_CreateNumber((double)r->total.ci_hi_ug / UG_PER_G / n));
	}
	fu = cJSON_AddObjectToObject(root, "functional_unit");
	cJSON_AddNumberToObject(fu, "count", n);
	cJSON_AddStringToObject(fu, "name", o->functional_unit);
	cJSON_AddNumberToObject(root, "energy_kwh", (double)export_energy_uj(&r->total) / UJ_PER_KWH);
	cJSON_AddNumberToObject(root, "intensity_g_per_kwh", r->intensity_g_per_kwh);
	cJSON_AddNumberToObject(root, "pue", r->pue > 0 ? r->pue : 1.0);
	cJSON_AddNumberToObject(root, "operational_g", op_g);
	cJSON_AddNumberToObject(root, "embodied_g", emb_g);
	cJSON_AddNumberToObject(root, "wall_s", (double)r->wall_ns / 1e9);
	if (r->command[0])
		cJSON_AddStringToObject(root, "command", r->command);
	return export_print_json(f, root, false);
}
