// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the run command's report hook: a run summary from the object joule run --json prints. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/carbon.h"
#include "joule/export.h"
#include "joule/report_set.h"
#include "unit/testlib.h"

/* The shape of joule run --json (DESIGN.md): no "kind", no "ts_end", no operational/embodied split yet. */
static const char run_json[] =
	"{\"command\":[\"stress-ng\",\"--cpu\",\"1\"],\"exit_status\":0,\"wall_ns\":2090704959,\"source\":\"model\","
	"\"processes\":[{\"pid\":21118,\"ppid\":21117,\"comm\":\"stress-ng-cpu\",\"cpu_ns\":1353490778,"
	"\"energy_uj\":1973144,\"cpu_energy_uj\":1973144,\"memory_energy_uj\":0,\"carbon_ug\":5623,"
	"\"carbon_ci_ug\":[783,11715]}],"
	"\"total\":{\"cpu_ns\":1388070149,\"energy_uj\":2024478,\"cpu_energy_uj\":2024478,\"memory_energy_uj\":0,"
	"\"carbon_ug\":5767,\"carbon_ci_ug\":[803,12015]},"
	"\"host\":{\"energy_uj\":6140058,\"cpu_energy_uj\":6140058,\"memory_energy_uj\":0,"
	"\"domains\":{\"package\":6140058}},"
	"\"carbon\":{\"intensity_g_per_kwh\":471.08,\"intensity_kind\":\"zone\",\"zone\":\"WORLD\",\"year\":2024,"
	"\"source\":\"ember-owid-2026\",\"pue\":1,\"method\":\"analytical_truncated\",\"energy_rel_sd\":0.3,"
	"\"intensity_rel_sd\":0.44}}";

static void test_run_from_json_when_run_object_given_keeps_its_figures_and_intervals(void **state)
{
	cJSON *root = cJSON_Parse(run_json);
	struct export_builder *b = NULL;
	struct export_run r;

	assert_non_null(root);
	assert_int_equal(report_run_from_json(root, NULL, &b, &r), 0);
	assert_string_equal(r.command, "stress-ng --cpu 1");
	assert_true(r.has_exit_status);
	assert_int_equal(r.wall_ns, 2090704959ull);
	assert_int_equal(r.source, ENERGY_SRC_MODEL);
	assert_int_equal(r.nprocs, 1);
	assert_int_equal(r.procs[0].pid, 21118);
	assert_int_equal(r.procs[0].f.ci_hi_ug, 11715);
	assert_int_equal(export_energy_uj(&r.total), 2024478);
	assert_int_equal(export_carbon_ug(&r.total), 5767);
	/* the operational part is energy x PUE x intensity; the rest of carbon_ug is embodied */
	assert_int_equal(r.total.tot.operational_ug, carbon_operational_ug(2024478, 471.08, 1.0));
	assert_int_equal(r.total.ci_lo_ug, 803);
	assert_int_equal(r.host_domain_uj[ENERGY_PACKAGE], 6140058);
	assert_true(r.end_real_ns > 0);
	assert_int_equal(r.end_real_ns - r.start_real_ns, r.wall_ns);
	assert_true(r.cpu_count > 0); /* this host's facts are added */
	export_builder_free(b);
	cJSON_Delete(root);
}

static void test_run_from_json_when_split_present_uses_it(void **state)
{
	cJSON *root = cJSON_Parse(run_json), *total;
	struct export_builder *b = NULL;
	struct export_run r;

	total = cJSON_GetObjectItem(root, "total");
	cJSON_AddNumberToObject(total, "carbon_operational_ug", 300);
	cJSON_AddNumberToObject(total, "carbon_embodied_ug", 5467);
	assert_int_equal(report_run_from_json(root, NULL, &b, &r), 0);
	assert_int_equal(r.total.tot.operational_ug, 300);
	assert_int_equal(r.total.tot.embodied_ug, 5467);
	export_builder_free(b);
	cJSON_Delete(root);
}

TL_MAIN(
	cmocka_unit_test(test_run_from_json_when_run_object_given_keeps_its_figures_and_intervals),
	cmocka_unit_test(test_run_from_json_when_split_present_uses_it)
)
