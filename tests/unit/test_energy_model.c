// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the power model: CPU identity, curve, integration, /proc/stat and the reader (user/energy/model.c). */
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


static void test_cpuinfo_fixtures_identify_and_match_rows(void **state)
{
	static const struct {
		const char *file;
		enum energy_vendor vendor;
		const char *uarch;
		bool matched;
	} cases[] = {
		{ "cpuinfo-amd-epyc-zen5-vm", ENERGY_VENDOR_AMD, "EPYC 5th Gen", true },
		{ "cpuinfo-intel-cascadelake", ENERGY_VENDOR_INTEL, "Cascade Lake", true },
		{ "cpuinfo-intel-skylake-client", ENERGY_VENDOR_INTEL, "Skylake", true },
		{ "cpuinfo-amd-ryzen", ENERGY_VENDOR_AMD, "unknown (CCF average)", false },
		{ "cpuinfo-arm-neoverse-n1", ENERGY_VENDOR_ARM, "Graviton2", true },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char path[512], text[8192];
		struct energy_cpuid id;
		const struct energy_coeff *c;
		bool matched;

		snprintf(path, sizeof(path), FIX "/%s", cases[i].file);
		assert_true(read_text_file(path, text, sizeof(text)) > 0);
		assert_int_equal(energy_cpuinfo_parse(text, &id), 0);
		assert_int_equal(id.vendor, cases[i].vendor);
		c = energy_model_lookup(&id, &matched);
		assert_string_equal(c->uarch, cases[i].uarch);
		assert_int_equal(matched, cases[i].matched);
	}
}

static void test_model_curve_monotone_and_bounded(void **state)
{
	(void)state;
	for (int lin = 0; lin < 2; lin++) {
		double prev = -1;
		uint64_t pprev = 0;

		for (int i = 0; i <= 1000; i++) {
			double u = i / 1000.0, f = energy_model_curve(u, lin);
			uint64_t p = energy_model_power_uw(20.0, 120.0, u, lin);

			assert_true(f >= prev);
			assert_true(f >= 0.0 && f <= 1.0);
			assert_true(p >= pprev);
			assert_true(p >= 20000000 && p <= 120000000);
			prev = f;
			pprev = p;
		}
	}
	assert_true(energy_model_curve(0.0, false) == 0.0);
	assert_true(energy_model_curve(1.0, false) == 1.0);
	assert_true(fabs(energy_model_curve(0.10, false) - 0.2 / 0.9) < 1e-12);
	assert_true(fabs(energy_model_curve(0.50, false) - 0.63 / 0.9) < 1e-12);
	assert_true(fabs(energy_model_curve(0.50, true) - 0.5) < 1e-12);
	assert_true(energy_model_curve(NAN, false) == 0.0);
	assert_true(energy_model_curve(7.0, false) == 1.0);
}

static void test_model_integrate_carries_remainder_no_drift(void **state)
{
	uint64_t uj = 0, rem = 0;

	(void)state;
	/* 333 333 µW for 10^6 steps of 1 ms = 333 333 000 µJ... via sub-µJ pieces of 333.333 µJ */
	for (int i = 0; i < 1000000; i++)
		energy_model_integrate(&uj, &rem, 333333, 1000000);
	assert_int_equal(uj, 333333000000ULL / 1000);
	assert_int_equal(rem, 0);
	/* 1 µW for 1 ns is 1e-15 J: a billion of them make exactly one µJ */
	uj = rem = 0;
	for (int i = 0; i < 1000; i++)
		energy_model_integrate(&uj, &rem, 1000, 1000);
	assert_int_equal(uj, 1);
	assert_int_equal(rem, 0);
}

static void test_proc_stat_parse_busy_total(void **state)
{
	const char *text = "cpu  10 0 0 0 0 0 0 0 0 0\n"
			   "cpu0 100 5 20 800 10 1 2 3 0 0\n"
			   "cpu1 1 2 3 4\n"
			   "intr 12345\n";
	uint64_t busy[2], total[2];

	(void)state;
	assert_int_equal(energy_parse_proc_stat(text, busy, total, 2), 2);
	assert_int_equal(busy[0], 100 + 5 + 20 + 1 + 2 + 3);
	assert_int_equal(total[0], 131 + 800 + 10);
	assert_int_equal(busy[1], 6);
	assert_int_equal(total[1], 10);
	assert_int_equal(energy_parse_proc_stat("cpu0 1 2\n", busy, total, 2), -EINVAL);
}

static void test_model_with_util_integrates_power_and_labels(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_MODEL, .topo = &t->topo, .model_idle_w = 40, .model_max_w = 240,
				 .model_linear = true };
	struct energy_source *s = NULL, *pc = NULL;
	struct energy_reading r;
	uint64_t busy[2] = { 50, 0 }, total[2] = { 100, 100 };
	struct energy_util u = { .npkg = 2, .busy_ns = busy, .total_ns = total };
	uint64_t t0, t1;
	char why[256] = "";
	double p0, p1;

	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	assert_int_equal(energy_source_kind(s), ENERGY_SRC_MODEL);
	assert_non_null(strstr(energy_model_basis(s), "given"));
	t0 = now_mono_ns();
	usleep(200000);
	assert_int_equal(energy_read(s, &u, &r), 0);
	t1 = now_mono_ns();
	/* two packages of 2 CPUs share the host's 40..240 W: 20..120 W each; linear at 50 % → 70 W */
	p0 = (double)r.uj[0][ENERGY_PACKAGE] / 1e6;
	p1 = (double)r.uj[1][ENERGY_PACKAGE] / 1e6;
	assert_true(p0 >= 70.0 * 0.19 && p0 <= 70.0 * (double)(t1 - t0 + 50000000) / 1e9);
	assert_true(p1 >= 20.0 * 0.19 && p1 <= 20.0 * (double)(t1 - t0 + 50000000) / 1e9);
	assert_int_equal(r.domains, 1u << ENERGY_PACKAGE);
	/* wider than any measured source */
	o.kind = ENERGY_SRC_POWERCAP;
	o.powercap_root = "/nonexistent";
	assert_true(energy_open(&pc, &o, why, sizeof(why)) < 0);
	assert_true(energy_rel_uncertainty(s) > 0.05 * 2);
	energy_close(s);
}

static void test_model_default_coefficients_and_proc_stat(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_MODEL, .topo = &t->topo,
				 .cpuinfo_path = FIX "/cpuinfo-intel-cascadelake" };
	struct energy_source *s = NULL;
	struct energy_reading r;
	char why[256] = "";

	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	assert_non_null(strstr(energy_model_basis(s), "Cascade Lake"));
	assert_non_null(strstr(energy_model_basis(s), "ccf-app-constants"));
	usleep(100000);
	/* no util: the model reads /proc/stat itself */
	assert_int_equal(energy_read(s, NULL, &r), 0);
	/* at least idle: 0.64 W × 2 CPUs × 0.1 s */
	assert_true(r.uj[0][ENERGY_PACKAGE] >= 120000);
	assert_true(energy_rel_uncertainty(s) >= 0.3);
	energy_close(s);
}

TL_MAIN(
	cmocka_unit_test(test_cpuinfo_fixtures_identify_and_match_rows),
	cmocka_unit_test(test_model_curve_monotone_and_bounded),
	cmocka_unit_test(test_model_integrate_carries_remainder_no_drift),
	cmocka_unit_test(test_proc_stat_parse_busy_total),
	TREE_TEST(test_model_with_util_integrates_power_and_labels),
	TREE_TEST(test_model_default_coefficients_and_proc_stat)
)
