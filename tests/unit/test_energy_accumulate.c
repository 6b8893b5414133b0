// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the wrap-safe accumulators and the host totals (user/energy/accumulate.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include "joule/energy.h"
#include "joule/util.h"
#include "energy_test_util.h"
#include "unit/testlib.h"
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, so every run checks the same million steps */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}



static void run_wrap_steps(uint64_t range, uint64_t max_step)
{
	struct energy_acc a;
	uint64_t raw = range ? rng() % range : rng(), truth = 0, wraps = 0;

	energy_acc_init(&a, range);
	assert_int_equal(energy_acc_step(&a, raw, 0), ENERGY_ACC_FIRST);
	for (int i = 0; i < 1000000; i++) {
		uint64_t step = rng() % (max_step + 1), next;

		/* a few big steps so that wraps are frequent */
		if (i % 1000 == 0)
			step = max_step;
		if (range) {
			next = (uint64_t)(((unsigned __int128)raw + step) % range);
			if ((unsigned __int128)raw + step >= range)
				wraps++;
		} else {
			next = raw + step;
			if (next < raw)
				wraps++;
		}
		truth += step;
		raw = next;
		energy_acc_step(&a, raw, 0);
	}
	assert_true(wraps > 100);
	assert_int_equal(a.total, truth);
	assert_int_equal(a.wraps, wraps);
	assert_int_equal(a.rejected, 0);
}

static void test_acc_msr32_random_steps_exact(void **state)
{
	(void)state;
	run_wrap_steps(1ULL << 32, (1ULL << 32) - 1);
}

static void test_acc_powercap_range_random_steps_exact(void **state)
{
	(void)state;
	/* a real max_energy_range_uj (262143328850) + 1, steps up to 100 ms at 1 kW */
	run_wrap_steps(262143328851ULL, 100000000ULL);
	/* a tiny fake range: many wraps */
	run_wrap_steps(1000001ULL, 1000000ULL);
}

static void test_acc_64bit_random_steps_exact(void **state)
{
	(void)state;
	run_wrap_steps(0, UINT64_MAX / 4);
}

static void test_acc_implausible_jump_rejected_and_counted(void **state)
{
	struct energy_acc a;

	(void)state;
	energy_acc_init(&a, 1ULL << 32);
	energy_acc_step(&a, 1000, 0);
	assert_int_equal(energy_acc_step(&a, 1500, 1000), ENERGY_ACC_OK);
	assert_int_equal(energy_acc_step(&a, 900000, 1000), ENERGY_ACC_REJECTED);
	assert_int_equal(a.rejected, 1);
	assert_int_equal(a.total, 500);
	/* the baseline moved: the next ordinary delta counts from the rejected value */
	assert_int_equal(energy_acc_step(&a, 900100, 1000), ENERGY_ACC_OK);
	assert_int_equal(a.total, 600);
	/* a counter that goes backwards a little looks like a near-full wrap: rejected too */
	assert_int_equal(energy_acc_step(&a, 900000, 1000), ENERGY_ACC_REJECTED);
	assert_int_equal(a.rejected, 2);
	assert_int_equal(a.wraps, 0);
}

static void test_acc_value_out_of_range_ignored(void **state)
{
	struct energy_acc a;

	(void)state;
	energy_acc_init(&a, 100);
	energy_acc_step(&a, 10, 0);
	assert_int_equal(energy_acc_step(&a, 100, 0), ENERGY_ACC_INVALID);
	assert_int_equal(energy_acc_step(&a, 5, 0), ENERGY_ACC_WRAP);
	assert_int_equal(a.total, 95);
}

static void test_cpu_uj_prefers_package_never_sums_psys(void **state)
{
	struct energy_reading r = { .npkg = 2 };

	(void)state;
	r.domains = 1u << ENERGY_PACKAGE | 1u << ENERGY_PSYS | 1u << ENERGY_DRAM;
	r.uj[0][ENERGY_PACKAGE] = 100;
	r.uj[0][ENERGY_PSYS] = 170;
	r.uj[0][ENERGY_DRAM] = 7;
	r.uj[1][ENERGY_PACKAGE] = 50;
	assert_int_equal(energy_cpu_uj(&r, 0), 100);
	assert_int_equal(energy_cpu_uj(&r, 1), 50);
	assert_int_equal(energy_mem_uj(&r, 0), 7);
	r.domains = 1u << ENERGY_PSYS;
	assert_int_equal(energy_cpu_uj(&r, 0), 170);
	assert_int_equal(energy_mem_uj(&r, 0), 0);
	assert_int_equal(energy_cpu_uj(&r, 5), 0);
	/* host = Σ package-or-psys + dram */
	r.domains = 1u << ENERGY_PACKAGE | 1u << ENERGY_PSYS | 1u << ENERGY_DRAM;
	assert_int_equal(energy_host_uj(&r), 100 + 7 + 50);
}

TL_MAIN(
	cmocka_unit_test(test_acc_msr32_random_steps_exact),
	cmocka_unit_test(test_acc_powercap_range_random_steps_exact),
	cmocka_unit_test(test_acc_64bit_random_steps_exact),
	cmocka_unit_test(test_acc_implausible_jump_rejected_and_counted),
	cmocka_unit_test(test_acc_value_out_of_range_ignored),
	cmocka_unit_test(test_cpu_uj_prefers_package_never_sums_psys)
)
