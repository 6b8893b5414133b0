// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: a run summary from a daemon's /api/v1/host and /api/v1/energy answers (joule report --from-api). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/export.h"
#include "unit/testlib.h"

static const char host_json[] =
	"{\"source\":\"powercap\",\"intensity\":{\"g_per_kwh\":250,\"rel_sd\":0.1,\"kind\":\"zone\",\"zone\":\"FR\","
	"\"year\":2023,\"source\":\"ember\",\"pue\":1.2}}";
static const char energy_json[] =
	"{\"window_s\":60,\"step_s\":60,\"totals\":{\"energy_consumed\":1.5,\"cpu_energy\":1.25,\"memory_energy\":0.25,"
	"\"carbon_operational\":0.000125,\"carbon_embodied\":0.000002,\"carbon_emitted\":0.000127},"
	"\"processes\":[{\"pid\":42,\"comm\":\"train\",\"totals\":{\"cpu_energy\":0.5,\"memory_energy\":0.125,"
	"\"carbon_operational\":0.00005,\"carbon_embodied\":0.000001}}]}";

static void test_export_run_from_api_when_answers_are_whole_gives_integer_figures_and_the_table(void **state)
{
	cJSON *h = cJSON_Parse(host_json), *e = cJSON_Parse(energy_json);
	struct export_run r;
	char err[128];

	assert_int_equal(export_run_from_api(h, e, NULL, 100000000000ULL, &r, err, sizeof(err)), 0);
	assert_true(r.wall_ns == 60000000000ULL);
	assert_true(r.start_real_ns == 40000000000ULL);
	assert_int_equal(r.total.tot.cpu_uj, 1250000);
	assert_int_equal(r.total.tot.mem_uj, 250000);
	assert_int_equal(r.total.tot.operational_ug, 125);
	assert_int_equal(r.total.tot.embodied_ug, 2);
	assert_int_equal(r.host_cpu_uj + r.host_mem_uj, 1500000);
	assert_int_equal(r.source, ENERGY_SRC_POWERCAP);
	assert_string_equal(r.zone, "FR");
	assert_true(r.pue == 1.2);
	assert_int_equal(r.nprocs, 1);
	assert_int_equal(r.procs[0].pid, 42);
	assert_string_equal(r.procs[0].comm, "train");
	assert_int_equal(r.procs[0].f.tot.cpu_uj, 500000);
	assert_int_equal(r.procs[0].f.tot.mem_uj, 125000);
	free(r.procs);
	cJSON_Delete(h);
	cJSON_Delete(e);
}

static void test_export_run_from_api_when_energy_has_no_totals_is_einval_saying_so(void **state)
{
	cJSON *h = cJSON_Parse(host_json), *e = cJSON_Parse("{\"window_s\":60}");
	struct export_run r;
	char err[128] = "";

	assert_int_equal(export_run_from_api(h, e, NULL, 1, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "totals"));
	cJSON_Delete(h);
	cJSON_Delete(e);
}

TL_MAIN(
	cmocka_unit_test(test_export_run_from_api_when_answers_are_whole_gives_integer_figures_and_the_table),
	cmocka_unit_test(test_export_run_from_api_when_energy_has_no_totals_is_einval_saying_so)
)
