// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the MSR source: units and quirks, and readers on fake /dev/cpu trees (user/energy/msr.c). */
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


static void test_msr_units_intel_amd_vectors(void **state)
{
	struct energy_cpuid intel = { .vendor = ENERGY_VENDOR_INTEL, .family = 6, .model = 0x4E };
	struct energy_cpuid xeon = { .vendor = ENERGY_VENDOR_INTEL, .family = 6, .model = 0x55 };
	struct energy_cpuid spr = { .vendor = ENERGY_VENDOR_INTEL, .family = 6, .model = 0x8F };
	struct energy_cpuid amd = { .vendor = ENERGY_VENDOR_AMD, .family = 0x19, .model = 0x11 };
	struct energy_unit u;

	(void)state;
	/* 0xA0E03: power 1/8 W, energy 1/2^14 J (61.04 µJ), time 1/1024 s: typical Intel */
	assert_int_equal(energy_msr_esu(0xA0E03), 14);
	u = energy_msr_unit(&intel, ENERGY_PACKAGE, 0xA0E03);
	assert_int_equal(energy_unit_to_uj(u, 1ULL << 14), 1000000);
	assert_int_equal(energy_unit_to_uj(u, 1), 61);		   /* floor(61.035) */
	assert_int_equal(energy_unit_to_uj(u, 0xFFFFFFFFULL), 262143999938ULL); /* range ≈ 262 kJ */
	/* client DRAM uses the ESU; Skylake-SP DRAM is fixed at 15.3 µJ */
	u = energy_msr_unit(&intel, ENERGY_DRAM, 0xA0E03);
	assert_int_equal(energy_unit_to_uj(u, 1ULL << 14), 1000000);
	u = energy_msr_unit(&xeon, ENERGY_DRAM, 0xA0E03);
	assert_int_equal(energy_unit_to_uj(u, 1000), 15300);
	u = energy_msr_unit(&xeon, ENERGY_PACKAGE, 0xA0E03);
	assert_int_equal(energy_unit_to_uj(u, 1ULL << 14), 1000000);
	/* Sapphire Rapids psys counts joules */
	u = energy_msr_unit(&spr, ENERGY_PSYS, 0xA0E03);
	assert_int_equal(energy_unit_to_uj(u, 7), 7000000);
	/* AMD 0xC0010299 = 0x000A1003: ESU 16 → 15.26 µJ */
	assert_int_equal(energy_msr_esu(0x000A1003), 16);
	u = energy_msr_unit(&amd, ENERGY_PACKAGE, 0x000A1003);
	assert_int_equal(energy_unit_to_uj(u, 65536), 1000000);
	assert_int_equal(energy_unit_to_uj(u, 3), 45); /* 45.78 */
	/* ticks for a µJ bound round up */
	assert_int_equal(energy_uj_to_ticks(u, 16), 2);
	assert_false(energy_intel_dram_fixed_unit(6, 0x56)); /* Broadwell-D uses the ESU */
}

static void test_msr_reader_intel_units_mask_and_wrap(void **state)
{
	struct reader rd;
	const char *root = rd.root;
	char m0[600], m2[600];

	reader_init(&rd, state, ENERGY_SRC_MSR, "msr");
	reader_cpuinfo(&rd, "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
			    "model name\t: Intel(R) Xeon(R) Gold 6148\nstepping\t: 4\n");
	/* package 0 is read on CPU 0, package 3 on CPU 2 */
	snprintf(m0, sizeof(m0), "%s/0/msr", root);
	snprintf(m2, sizeof(m2), "%s/2/msr", root);
	{
		char d[600];

		snprintf(d, sizeof(d), "%s/0", root);
		t_mkdirs(d);
		snprintf(d, sizeof(d), "%s/2", root);
		t_mkdirs(d);
	}
	for (int i = 0; i < 2; i++) {
		const char *m = i ? m2 : m0;

		put_msr(m, 0x606, 0xA0E03);
		put_msr(m, 0x611, 0xDEAD0000FFFFF000ULL); /* reserved high bits set; 4096 ticks from a wrap */
		put_msr(m, 0x619, 100);
		put_msr(m, 0x639, 0); /* zero: absent, as the kernel treats it */
	}
	put_msr(m0, 0x64D, 0); /* sparse file: reads as zero → absent */
	reader_open(&rd);
	put_msr(m0, 0x611, 0x0000000000001000ULL); /* wrapped: +8192 ticks = 0.5 J */
	put_msr(m2, 0x611, 0xDEAD0000FFFFF000ULL + (1 << 14)); /* carries into bit 32: also a wrap */
	put_msr(m0, 0x619, 1100); /* +1000 ticks of 15.3 µJ (Skylake-SP) */
	reader_read(&rd);
	assert_int_equal(rd.r.domains, 1u << ENERGY_PACKAGE | 1u << ENERGY_DRAM);
	assert_int_equal(rd.r.uj[0][ENERGY_PACKAGE], 500000);
	assert_int_equal(rd.r.uj[1][ENERGY_PACKAGE], 1000000);
	assert_int_equal(rd.r.uj[0][ENERGY_DRAM], 15300);
	assert_int_equal(rd.r.uj[1][ENERGY_DRAM], 0);
	assert_int_equal(rd.st.wraps, 2);
}

static void test_msr_reader_amd_package(void **state)
{
	struct reader rd;
	const char *root = rd.root;
	char m[600];

	reader_init(&rd, state, ENERGY_SRC_MSR, "msr-amd");
	reader_cpuinfo(&rd, "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9654\n");
	for (int cpu = 0; cpu <= 2; cpu += 2) {
		snprintf(m, sizeof(m), "%s/%d", root, cpu);
		t_mkdirs(m);
		snprintf(m, sizeof(m), "%s/%d/msr", root, cpu);
		put_msr(m, 0xC0010299, 0x000A1003);
		put_msr(m, 0xC001029B, 1000);
	}
	reader_open(&rd);
	snprintf(m, sizeof(m), "%s/2/msr", root);
	put_msr(m, 0xC001029B, 1000 + 65536 * 3);
	reader_read(&rd);
	assert_int_equal(rd.r.domains, 1u << ENERGY_PACKAGE);
	assert_int_equal(rd.r.uj[0][ENERGY_PACKAGE], 0);
	assert_int_equal(rd.r.uj[1][ENERGY_PACKAGE], 3000000);
}

static void test_msr_missing_device_names_modprobe(void **state)
{
	struct reader rd;

	reader_init(&rd, state, ENERGY_SRC_MSR, "no-msr");
	rd.o.cpuinfo_path = FIX "/cpuinfo-intel-cascadelake";
	assert_true(reader_open_err(&rd) < 0);
	assert_non_null(strstr(rd.why, "modprobe msr"));
}

TL_MAIN(
	cmocka_unit_test(test_msr_units_intel_amd_vectors),
	TREE_TEST(test_msr_reader_intel_units_mask_and_wrap),
	TREE_TEST(test_msr_reader_amd_package),
	TREE_TEST(test_msr_missing_device_names_modprobe)
)
