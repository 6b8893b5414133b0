// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for source selection: names, auto's fall-through and probe (user/energy/energy.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "joule/energy.h"
#include "joule/util.h"
#include "energy_test_util.h"
#include "unit/testlib.h"

#define FIX "tests/fixtures/energy"


static void test_kind_and_domain_names_round_trip(void **state)
{
	enum energy_kind k;

	(void)state;
	tl_assert_names_round_trip(enum energy_kind, ENERGY_SRC_NKINDS, energy_kind_name, energy_kind_parse);
	assert_int_equal(energy_kind_parse("rapl", &k), -EINVAL);
	assert_string_equal(energy_domain_name(ENERGY_DRAM), "dram");
	assert_string_equal(energy_domain_name(ENERGY_PSYS), "psys");
}

static void test_auto_falls_through_to_model_and_probe_explains(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_AUTO, .topo = &t->topo, .powercap_root = "/nonexistent/pc",
				 .msr_root = "/nonexistent/msr", .perf_root = "/nonexistent/perf",
				 .cpuinfo_path = FIX "/cpuinfo-intel-cascadelake" };
	struct energy_source *s = NULL;
	struct energy_probe pr[8];
	char why[256] = "";
	int n;

	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	assert_int_equal(energy_source_kind(s), ENERGY_SRC_MODEL);
	energy_close(s);
	n = energy_probe_all(&o, pr, 8);
	assert_int_equal(n, 4);
	assert_int_equal(pr[0].kind, ENERGY_SRC_POWERCAP);
	assert_false(pr[0].usable);
	assert_non_null(strstr(pr[0].detail, "no RAPL zones"));
	assert_false(pr[1].usable);
	assert_non_null(strstr(pr[1].detail, "modprobe msr"));
	assert_false(pr[2].usable);
	assert_non_null(strstr(pr[2].detail, "power PMU"));
	assert_true(pr[3].usable);
	assert_int_equal(pr[3].npkg, 2);
	assert_non_null(strstr(pr[3].detail, "model"));
}

TL_MAIN(
	cmocka_unit_test(test_kind_and_domain_names_round_trip),
	TREE_TEST(test_auto_falls_through_to_model_and_probe_explains)
)
