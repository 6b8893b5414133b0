// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the GPU split: SM shares, memory/even fallback, the idle bucket, MIG duplicates, exact µJ. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "joule/gpu_attrib.h"
#include "unit/testlib.h"

#define CHECK(cond, ...)                          \
	do {                                      \
		if (!(cond))                      \
			fail_msg(__VA_ARGS__);    \
	} while (0)

#define U GPU_MEM_UNKNOWN

struct split_case {
	const char *name;
	uint64_t energy_uj;
	bool busy_valid;
	uint32_t busy_pct;
	size_t n;
	struct gpu_proc_use procs[4];
	enum gpu_split_method method;
	uint64_t want[4];
	uint64_t want_idle;
};

static const struct split_case cases[] = {
	{ "3:1 SM, 20 % idle", 1000000, false, 0, 2,
	  { { 1, 60, true, U }, { 2, 20, true, U } }, GPU_SPLIT_SM_UTIL, { 600000, 200000 }, 200000 },
	{ "SM over 100 %: no idle, shares kept", 1000, false, 0, 2,
	  { { 1, 90, true, U }, { 2, 30, true, U } }, GPU_SPLIT_SM_UTIL, { 750, 250 }, 0 },
	{ "samples all 0 %: the GPU idled", 500, false, 0, 1,
	  { { 1, 0, true, U } }, GPU_SPLIT_SM_UTIL, { 0 }, 500 },
	{ "no samples: by memory within the busy share", 1000, true, 80, 2,
	  { { 1, 0, false, 3000 }, { 2, 0, false, 1000 } }, GPU_SPLIT_MEMORY, { 600, 200 }, 200 },
	{ "no samples, no memory: even", 900, true, 60, 3,
	  { { 1, 0, false, U }, { 2, 0, false, 1 }, { 3, 0, false, U } }, GPU_SPLIT_EVEN, { 180, 180, 180 }, 360 },
	{ "no samples, device busy unknown: all to the processes", 10, false, 0, 2,
	  { { 1, 0, false, U }, { 2, 0, false, U } }, GPU_SPLIT_EVEN, { 5, 5 }, 0 },
	{ "device 0 % busy: all idle", 10, true, 0, 1,
	  { { 1, 0, false, U } }, GPU_SPLIT_EVEN, { 0 }, 10 },
	{ "no process: all idle", 12345, true, 0, 0, { { 0 } }, GPU_SPLIT_IDLE, { 0 }, 12345 },
	{ "a pid on two MIG instances is counted once", 1000, false, 0, 3,
	  { { 7, 50, true, U }, { 7, 50, true, U }, { 8, 25, true, U } }, GPU_SPLIT_SM_UTIL, { 500, 0, 250 }, 250 },
	{ "odd µJ: largest remainder, lower index first", 7, false, 0, 2,
	  { { 1, 50, true, U }, { 2, 50, true, U } }, GPU_SPLIT_SM_UTIL, { 4, 3 }, 0 },
};

static void test_gpu_split_when_table_cases_expect_shares_idle_and_method(void **state)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct split_case *k = &cases[c];
		uint64_t got[4] = { 0 }, sum;
		struct gpu_attrib_in in = { .energy_uj = k->energy_uj, .nprocs = k->n, .procs = k->procs,
					    .busy_valid = k->busy_valid, .busy_pct = k->busy_pct };
		struct gpu_attrib_out out = { .proc_uj = got };

		CHECK(gpu_attrib_split(&in, &out) == 0, "%s: split failed", k->name);
		CHECK(out.method == k->method, "%s: method %s, want %s", k->name, gpu_split_name(out.method),
		      gpu_split_name(k->method));
		sum = out.idle_uj;
		for (size_t i = 0; i < k->n; i++) {
			CHECK(got[i] == k->want[i], "%s: process %zu got %lu µJ, want %lu", k->name, i,
			      (unsigned long)got[i], (unsigned long)k->want[i]);
			sum += got[i];
		}
		CHECK(out.idle_uj == k->want_idle, "%s: idle %lu µJ, want %lu", k->name, (unsigned long)out.idle_uj,
		      (unsigned long)k->want_idle);
		CHECK(sum == k->energy_uj, "%s: Σ processes + idle = %lu, GPU measured %lu", k->name,
		      (unsigned long)sum, (unsigned long)k->energy_uj);
	}
}

static void test_gpu_split_when_many_random_intervals_expect_exact_conservation(void **state)
{
	struct gpu_proc_use p[GPU_MAX_PROCS];
	uint64_t got[GPU_MAX_PROCS], x = 42;

	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(x % 9);
		struct gpu_attrib_in in = { .nprocs = n, .procs = p };
		struct gpu_attrib_out out = { .proc_uj = got };
		uint64_t sum;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		in.energy_uj = x >> 20;
		in.busy_valid = x & 1;
		in.busy_pct = (uint32_t)((x >> 8) % 101);
		for (size_t i = 0; i < n; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			p[i] = (struct gpu_proc_use){ .pid = (uint32_t)(x % 5), .sm_util_pct = (uint32_t)((x >> 9) % 101),
						      .has_samples = (x >> 3) & 1,
						      .mem_bytes = (x >> 4) & 1 ? U : (x >> 12) % (1ULL << 36) };
		}
		CHECK(gpu_attrib_split(&in, &out) == 0, "round %d: split failed", round);
		sum = out.idle_uj;
		for (size_t i = 0; i < n; i++)
			sum += got[i];
		CHECK(sum == in.energy_uj, "round %d: Σ %lu != measured %lu", round, (unsigned long)sum,
		      (unsigned long)in.energy_uj);
	}
}

static void test_gpu_split_when_too_many_processes_expect_einval(void **state)
{
	static struct gpu_proc_use p[GPU_MAX_PROCS + 1];
	uint64_t got[GPU_MAX_PROCS + 1];
	struct gpu_attrib_in in = { .energy_uj = 1, .nprocs = GPU_MAX_PROCS + 1, .procs = p };
	struct gpu_attrib_out out = { .proc_uj = got };

	CHECK(gpu_attrib_split(&in, &out) == -EINVAL, "more than GPU_MAX_PROCS rows must be refused");
}

static void test_gpu_split_name_when_out_of_range_expect_unknown(void **state)
{
	CHECK(strcmp(gpu_split_name(GPU_SPLIT_SM_UTIL), "sm_util") == 0, "sm_util named");
	CHECK(strcmp(gpu_split_name(GPU_NSPLIT), "unknown") == 0, "out of range named unknown");
}

TL_MAIN(
	cmocka_unit_test(test_gpu_split_when_table_cases_expect_shares_idle_and_method),
	cmocka_unit_test(test_gpu_split_when_many_random_intervals_expect_exact_conservation),
	cmocka_unit_test(test_gpu_split_when_too_many_processes_expect_einval),
	cmocka_unit_test(test_gpu_split_name_when_out_of_range_expect_unknown)
)
