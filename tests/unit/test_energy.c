// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the energy module: accumulators, units, parsers, model, and readers on built trees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <math.h>
#include "joule/energy.h"
#include "joule/topo.h"
#include "joule/util.h"
#include <sys/wait.h>
#include "energy_test_util.h"

#define FIX "tests/fixtures/energy"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, so every run checks the same million steps */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Drive one counter of the given range through 10^6 random steps; the sum must be exact. */
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

static void test_kind_and_domain_names_round_trip(void **state)
{
	enum energy_kind k;

	(void)state;
	for (int i = 0; i < ENERGY_SRC_NKINDS; i++) {
		assert_int_equal(energy_kind_parse(energy_kind_name((enum energy_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_int_equal(energy_kind_parse("rapl", &k), -EINVAL);
	assert_string_equal(energy_domain_name(ENERGY_DRAM), "dram");
	assert_string_equal(energy_domain_name(ENERGY_PSYS), "psys");
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

/* ---- readers against trees built here ---- */

struct tree {
	char dir[256];
	struct topo topo;
};

/* Two packages with physical ids 0 and 3 (dense 0 and 1), CPUs 0-1 and 2-3. */
static int tree_setup(void **state)
{
	static const int pkg_of[] = { 0, 0, 3, 3 };
	struct tree *t = calloc(1, sizeof(*t));
	char p[512];

	snprintf(t->dir, sizeof(t->dir), "/tmp/joule-energy-test-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(p, sizeof(p), "%s/cpu", t->dir);
	t_topo_tree(p, 4, pkg_of);
	if (topo_load(&t->topo, p))
		return -1;
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	topo_free(&t->topo);
	t_rmrf(t->dir);
	free(t);
	return 0;
}

static void zone(const char *root, const char *rel, const char *name, uint64_t max, uint64_t val)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s/name", root, rel);
	t_write(p, "%s\n", name);
	snprintf(p, sizeof(p), "%s/%s/max_energy_range_uj", root, rel);
	t_write(p, "%" PRIu64 "\n", max);
	snprintf(p, sizeof(p), "%s/%s/energy_uj", root, rel);
	t_write(p, "%" PRIu64 "\n", val);
}

static void set_uj(const char *root, const char *rel, uint64_t val)
{
	char p[1024], v[32];
	int fd, n;

	/* in place, as the kernel's file behaves: the reader keeps its fd */
	snprintf(p, sizeof(p), "%s/%s/energy_uj", root, rel);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	n = snprintf(v, sizeof(v), "%" PRIu64 "\n", val);
	assert_int_equal(pwrite(fd, v, (size_t)n, 0), n);
	assert_int_equal(ftruncate(fd, n), 0);
	close(fd);
}

static void test_powercap_reader_maps_domains_packages_and_wraps(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_POWERCAP, .topo = &t->topo };
	struct energy_source *s = NULL;
	struct energy_reading r;
	struct energy_stats st;
	char root[512], why[256] = "";

	snprintf(root, sizeof(root), "%s/powercap", t->dir);
	o.powercap_root = root;
	/* nested layout for package 0, flat for package 3, psys top-level, mmio duplicate ignored */
	zone(root, "intel-rapl:0", "package-0", 999999, 1000);
	zone(root, "intel-rapl:0/intel-rapl:0:0", "core", 999999, 500);
	zone(root, "intel-rapl:0/intel-rapl:0:1", "dram", 999999, 10);
	zone(root, "intel-rapl:1", "package-3", 999999, 999000);
	zone(root, "intel-rapl:1:0", "dram", 999999, 0);
	zone(root, "intel-rapl:2", "psys", 999999, 5);
	zone(root, "intel-rapl-mmio:0", "package-0", 999999, 42);
	zone(root, "intel-rapl:3", "package-7", 999999, 42); /* no online CPU: skipped */

	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	assert_int_equal(energy_source_kind(s), ENERGY_SRC_POWERCAP);
	set_uj(root, "intel-rapl:0", 3000);
	set_uj(root, "intel-rapl:0/intel-rapl:0:0", 1500);
	set_uj(root, "intel-rapl:0/intel-rapl:0:1", 30);
	set_uj(root, "intel-rapl:1", 1000); /* wrapped: 999000 → 1000 over a range of 10^6 */
	set_uj(root, "intel-rapl:1:0", 77);
	set_uj(root, "intel-rapl:2", 9005);
	assert_int_equal(energy_read(s, NULL, &r), 0);
	assert_int_equal(r.npkg, 2);
	assert_int_equal(r.domains, 1u << ENERGY_PACKAGE | 1u << ENERGY_CORE | 1u << ENERGY_DRAM | 1u << ENERGY_PSYS);
	assert_int_equal(r.uj[0][ENERGY_PACKAGE], 2000);
	assert_int_equal(r.uj[0][ENERGY_CORE], 1000);
	assert_int_equal(r.uj[0][ENERGY_DRAM], 20);
	assert_int_equal(r.uj[1][ENERGY_PACKAGE], 2000);
	assert_int_equal(r.uj[1][ENERGY_DRAM], 77);
	assert_int_equal(r.uj[0][ENERGY_PSYS], 9000);
	assert_int_equal(energy_cpu_uj(&r, 1), 2000);
	energy_get_stats(s, &st);
	assert_int_equal(st.wraps, 1);
	assert_int_equal(st.rejected, 0);
	assert_true(energy_rel_uncertainty(s) < 0.1);
	assert_string_equal(energy_model_basis(s), "");
	energy_close(s);
}

static void test_powercap_reader_rejects_jump_above_plausible(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_POWERCAP, .topo = &t->topo };
	struct energy_source *s = NULL;
	struct energy_reading r;
	struct energy_stats st;
	char root[512], why[256] = "";

	snprintf(root, sizeof(root), "%s/pc-jump", t->dir);
	o.powercap_root = root;
	zone(root, "intel-rapl:0", "package-0", 262143328850ULL, 1000);
	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	/* 200 kJ within milliseconds: far above 1 kW × dt */
	set_uj(root, "intel-rapl:0", 200001000ULL * 1000);
	assert_int_equal(energy_read(s, NULL, &r), 0);
	energy_get_stats(s, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(r.uj[0][ENERGY_PACKAGE], 0);
	set_uj(root, "intel-rapl:0", 200001000ULL * 1000 + 5);
	assert_int_equal(energy_read(s, NULL, &r), 0);
	assert_int_equal(r.uj[0][ENERGY_PACKAGE], 5);
	energy_close(s);
}

static void test_powercap_permission_denied_names_capability(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_POWERCAP, .topo = &t->topo };
	char root[512], p[600];
	int status;
	pid_t pid;

	snprintf(root, sizeof(root), "%s/pc-perm", t->dir);
	o.powercap_root = root;
	zone(root, "intel-rapl:0", "package-0", 999999, 1000);
	snprintf(p, sizeof(p), "%s/intel-rapl:0/energy_uj", root);
	chmod(p, 0400); /* as the kernel since CVE-2020-8694 */
	chmod(t->dir, 0755);
	/* An unprivileged child (root reads any file): nobody without capabilities. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct energy_source *s = NULL;
		char why[256] = "";
		int err;

		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(3);
		err = energy_open(&s, &o, why, sizeof(why));
		_exit(err == -EACCES && strstr(why, "CAP_DAC_READ_SEARCH") && strstr(why, "root") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_powercap_empty_root_explains(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_POWERCAP, .topo = &t->topo };
	struct energy_source *s = NULL;
	char root[512], why[256] = "";

	snprintf(root, sizeof(root), "%s/no-such-powercap", t->dir);
	o.powercap_root = root;
	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "no RAPL zones"));
}

static void put_msr(const char *path, uint64_t reg, uint64_t val)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &val, 8, (off_t)reg), 8);
	close(fd);
}

static void test_msr_reader_intel_units_mask_and_wrap(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_MSR, .topo = &t->topo };
	struct energy_source *s = NULL;
	struct energy_reading r;
	struct energy_stats st;
	char root[512], cpuinfo[600], m0[600], m2[600], why[256] = "";

	snprintf(root, sizeof(root), "%s/msr", t->dir);
	snprintf(cpuinfo, sizeof(cpuinfo), "%s/cpuinfo", t->dir);
	t_write(cpuinfo, "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
			 "model name\t: Intel(R) Xeon(R) Gold 6148\nstepping\t: 4\n");
	o.msr_root = root;
	o.cpuinfo_path = cpuinfo;
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
	why[0] = '\0';
	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	put_msr(m0, 0x611, 0x0000000000001000ULL); /* wrapped: +8192 ticks = 0.5 J */
	put_msr(m2, 0x611, 0xDEAD0000FFFFF000ULL + (1 << 14)); /* carries into bit 32: also a wrap */
	put_msr(m0, 0x619, 1100); /* +1000 ticks of 15.3 µJ (Skylake-SP) */
	assert_int_equal(energy_read(s, NULL, &r), 0);
	assert_int_equal(r.domains, 1u << ENERGY_PACKAGE | 1u << ENERGY_DRAM);
	assert_int_equal(r.uj[0][ENERGY_PACKAGE], 500000);
	assert_int_equal(r.uj[1][ENERGY_PACKAGE], 1000000);
	assert_int_equal(r.uj[0][ENERGY_DRAM], 15300);
	assert_int_equal(r.uj[1][ENERGY_DRAM], 0);
	energy_get_stats(s, &st);
	assert_int_equal(st.wraps, 2);
	energy_close(s);
}

static void test_msr_reader_amd_package(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_MSR, .topo = &t->topo };
	struct energy_source *s = NULL;
	struct energy_reading r;
	char root[512], cpuinfo[600], m[600], why[256] = "";

	snprintf(root, sizeof(root), "%s/msr-amd", t->dir);
	snprintf(cpuinfo, sizeof(cpuinfo), "%s/cpuinfo-amd", t->dir);
	t_write(cpuinfo, "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9654\n");
	o.msr_root = root;
	o.cpuinfo_path = cpuinfo;
	for (int cpu = 0; cpu <= 2; cpu += 2) {
		snprintf(m, sizeof(m), "%s/%d", root, cpu);
		t_mkdirs(m);
		snprintf(m, sizeof(m), "%s/%d/msr", root, cpu);
		put_msr(m, 0xC0010299, 0x000A1003);
		put_msr(m, 0xC001029B, 1000);
	}
	assert_int_equal(energy_open(&s, &o, why, sizeof(why)), 0);
	snprintf(m, sizeof(m), "%s/2/msr", root);
	put_msr(m, 0xC001029B, 1000 + 65536 * 3);
	assert_int_equal(energy_read(s, NULL, &r), 0);
	assert_int_equal(r.domains, 1u << ENERGY_PACKAGE);
	assert_int_equal(r.uj[0][ENERGY_PACKAGE], 0);
	assert_int_equal(r.uj[1][ENERGY_PACKAGE], 3000000);
	energy_close(s);
}

static void test_msr_missing_device_names_modprobe(void **state)
{
	struct tree *t = *state;
	struct energy_opts o = { .kind = ENERGY_SRC_MSR, .topo = &t->topo };
	struct energy_source *s = NULL;
	char root[512], why[256] = "";

	snprintf(root, sizeof(root), "%s/no-msr", t->dir);
	o.msr_root = root;
	o.cpuinfo_path = FIX "/cpuinfo-intel-cascadelake";
	assert_true(energy_open(&s, &o, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "modprobe msr"));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acc_msr32_random_steps_exact),
		cmocka_unit_test(test_acc_powercap_range_random_steps_exact),
		cmocka_unit_test(test_acc_64bit_random_steps_exact),
		cmocka_unit_test(test_acc_implausible_jump_rejected_and_counted),
		cmocka_unit_test(test_acc_value_out_of_range_ignored),
		cmocka_unit_test(test_msr_units_intel_amd_vectors),
		cmocka_unit_test(test_perf_parse_fixture_intel_values),
		cmocka_unit_test(test_perf_parse_bad_inputs_rejected),
		cmocka_unit_test(test_cpuinfo_fixtures_identify_and_match_rows),
		cmocka_unit_test(test_model_curve_monotone_and_bounded),
		cmocka_unit_test(test_model_integrate_carries_remainder_no_drift),
		cmocka_unit_test(test_proc_stat_parse_busy_total),
		cmocka_unit_test(test_kind_and_domain_names_round_trip),
		cmocka_unit_test(test_cpu_uj_prefers_package_never_sums_psys),
		cmocka_unit_test_setup_teardown(test_powercap_reader_maps_domains_packages_and_wraps, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_powercap_reader_rejects_jump_above_plausible, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_powercap_permission_denied_names_capability, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_powercap_empty_root_explains, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_msr_reader_intel_units_mask_and_wrap, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_msr_reader_amd_package, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_msr_missing_device_names_modprobe, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_perf_fixture_root_cannot_open_explains, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_model_with_util_integrates_power_and_labels, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_model_default_coefficients_and_proc_stat, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_auto_falls_through_to_model_and_probe_explains, tree_setup,
						tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
