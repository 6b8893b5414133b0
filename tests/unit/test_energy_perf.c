// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the perf power PMU source: sysfs parsers and the reader (user/energy/perf.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include "joule/energy.h"
#include "joule/util.h"
#include "energy_test_util.h"
#include "unit/testlib.h"

#define FIX "tests/fixtures/energy"


static void test_perf_parse_fixture_intel_values(void **state)
{
	static const char *const ev[] = { "energy-pkg", "energy-cores", "energy-ram", "energy-psys" };
	static const uint64_t cfg[] = { 2, 1, 3, 5 };
	char path[512], text[128];

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct energy_unit u;
		uint64_t config = 99;

		snprintf(path, sizeof(path), FIX "/perf-power/events/%s", ev[i]);
		assert_true(read_text_file(path, text, sizeof(text)) > 0);
		assert_int_equal(energy_perf_parse_event(text, &config), 0);
		assert_int_equal(config, cfg[i]);
		snprintf(path, sizeof(path), FIX "/perf-power/events/%s.scale", ev[i]);
		assert_true(read_text_file(path, text, sizeof(text)) > 0);
		assert_int_equal(energy_perf_parse_scale(text, &u), 0);
		/* 2^-32 J: exactly 2^32 counts per joule */
		assert_int_equal(u.num, 1000000);
		assert_int_equal(u.den, 1ULL << 32);
		assert_int_equal(energy_unit_to_uj(u, 1ULL << 32), 1000000);
		snprintf(path, sizeof(path), FIX "/perf-power/events/%s.unit", ev[i]);
		assert_true(read_text_file(path, text, sizeof(text)) > 0);
		assert_int_equal(energy_perf_check_unit(text), 0);
	}
}

static void test_perf_parse_bad_inputs_rejected(void **state)
{
	struct energy_unit u;
	uint64_t c;

	(void)state;
	assert_int_equal(energy_perf_parse_event("event=0x02,umask=0x1", &c), -ENOTSUP);
	assert_int_equal(energy_perf_parse_event("event=", &c), -EINVAL);
	assert_int_equal(energy_perf_parse_event("event=0x100", &c), -EINVAL);
	assert_int_equal(energy_perf_parse_event("event=-1", &c), -EINVAL);
	assert_int_equal(energy_perf_parse_event("", &c), -EINVAL);
	assert_int_equal(energy_perf_parse_event("event=2\n", &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(energy_perf_parse_scale("0", &u), -EINVAL);
	assert_int_equal(energy_perf_parse_scale("-1e-10", &u), -EINVAL);
	assert_int_equal(energy_perf_parse_scale("nan", &u), -EINVAL);
	assert_int_equal(energy_perf_parse_scale("1e-10x", &u), -EINVAL);
	assert_int_equal(energy_perf_parse_scale("1e-10", &u), 0);
	/* a non-power-of-two scale converts within 1e-9 */
	assert_true(fabs((double)energy_unit_to_uj(u, 10000000000ULL) - 1000000.0) <= 1.0);
	assert_int_equal(energy_perf_check_unit("Watts"), -EINVAL);
}

static void test_perf_fixture_root_cannot_open_explains(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_PERF, .topo = &t->topo, .perf_root = FIX "/perf-power" };
	struct energy_source *s = NULL;
	char why[256] = "";

	/* the fixture's PMU type does not exist in this kernel: parsed, then refused */
	assert_true(energy_open(&s, &o, why, sizeof(why)) < 0);
	assert_true(strlen(why) > 0);
}

TL_MAIN(
	cmocka_unit_test(test_perf_parse_fixture_intel_values),
	cmocka_unit_test(test_perf_parse_bad_inputs_rejected),
	TREE_TEST(test_perf_fixture_root_cannot_open_explains)
)
