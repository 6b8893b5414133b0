// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for carbon: formulas, intensity precedence, CSV errors, interval methods and their coverage. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/carbon.h"
#include "unit/testlib.h"

#define CHECK(cond, ...)                       \
	do {                                   \
		if (!(cond))                   \
			fail_msg(__VA_ARGS__); \
	} while (0)

#define NS 1000000000ULL
#define T2026 1767225600ULL /* 2026-01-01T00:00:00Z */

static const char *write_tmp(const char *name, const char *text)
{
	const char *path = tl_path(name); /* overwritten by the next call, as before */
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_operational_when_kwh_at_100g_expect_100g(void **state)
{
	/* 3.6e12 µJ = 1 kWh; at 100 g/kWh and PUE 1 that is 100 g = 1e8 µg exactly. */
	CHECK(carbon_operational_ug(3600000000000ULL, 100, 1.0) == 100000000ULL, "1 kWh at 100 g");
	CHECK(carbon_operational_ug(3600000000000ULL, 100, 1.5) == 150000000ULL, "PUE 1.5");
	CHECK(carbon_operational_ug(0, 400, 1.2) == 0, "zero energy");
	/* 1 J at 471.08 g/kWh: 1e6·471.08/3.6e6 = 130.855... µg -> 131 */
	CHECK(carbon_operational_ug(1000000, 471.08, 1.0) == 131, "rounding to nearest µg");
}

static void test_embodied_when_default_one_hour_expect_sci_example(void **state)
{
	struct carbon_cfg cfg = { 0 };
	struct carbon_ctx *c;
	char err[256];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	/* SCI's example: 1000 kg over 4 years, 1 h of the whole host, ~28.5 g. */
	CHECK(carbon_embodied_ug(c, 3600 * NS, 1.0) == 28538813ULL, "1 h embodied: %lu",
	      carbon_embodied_ug(c, 3600 * NS, 1.0));
	CHECK(carbon_embodied_ug(c, 3600 * NS, 0.5) == 14269406ULL, "half share");
	CHECK(carbon_embodied_ug(c, 3600 * NS, 0) == 0, "zero share");
	carbon_close(c);

	cfg.embodied_g = -1;
	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	CHECK(carbon_embodied_ug(c, 3600 * NS, 1.0) == 0, "embodied_g < 0 disables it");
	carbon_close(c);
}

static void test_embodied_when_share_configured_scales_machine_part(void **state)
{
	struct carbon_cfg cfg = { .embodied_share = 0.25, .embodied_basis = "test basis" };
	struct carbon_embodied e;
	struct carbon_ctx *c;
	char err[256];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	CHECK(carbon_embodied_ug(c, 3600 * NS, 1.0) == 7134703ULL, "a quarter of the SCI example: %lu",
	      carbon_embodied_ug(c, 3600 * NS, 1.0));
	carbon_get_embodied(c, &e);
	CHECK(e.enabled && e.share == 0.25 && strcmp(e.basis, "test basis") == 0, "model reported back");
	carbon_close(c);
	cfg.embodied_share = 1.5;
	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == -EINVAL, "share above 1 rejected");
	CHECK(strstr(err, "embodied share") != NULL, "error names the share: %s", err);
}

static void test_embodied_default_when_vm_scales_by_cpus_of_reference_host(void **state)
{
	double g, share;
	char basis[160];

	carbon_embodied_default(true, 2, 0, &g, &share, basis, sizeof(basis));
	CHECK(g == CARBON_VM_HOST_EMBODIED_G, "VM: the cloud host's total, %g", g);
	CHECK(fabs(share - 2.0 / 96) < 1e-12, "2 of 96 threads: %g", share);
	CHECK(strstr(basis, "2 of 96") != NULL, "basis says the share: %s", basis);
	carbon_embodied_default(false, 8, 0, &g, &share, basis, sizeof(basis));
	CHECK(g == CARBON_DEFAULT_EMBODIED_G && share == 1.0, "bare metal: the whole base server");
	carbon_embodied_default(true, 200, 0, &g, &share, basis, sizeof(basis));
	CHECK(share == 1.0, "never more than the whole host");
}

static void test_embodied_defaults_when_compared_with_shipped_data_agree(void **state)
{
	char path[512], line[256], kase[32], src[64];
	double kg, years;
	unsigned threads;
	int year, rows = 0;
	FILE *f;

	/* the data file sits at the repository root, two folders above this source */
	snprintf(path, sizeof(path), "%.*sdata/embodied_defaults.csv",
		 (int)(strstr(__FILE__, "tests/unit/") - __FILE__), __FILE__);
	f = fopen(path, "r");
	CHECK(f != NULL, "open %s", path);
	CHECK(fgets(line, sizeof(line), f) != NULL, "header");
	while (fgets(line, sizeof(line), f)) {
		threads = 0;
		if (sscanf(line, "%31[^,],%lf,%lf,%u,%d,%63s", kase, &kg, &years, &threads, &year, src) != 6)
			CHECK(sscanf(line, "%31[^,],%lf,%lf,,%d,%63s", kase, &kg, &years, &year, src) == 5, "row %s", line);
		CHECK(fabs(years * 8760 * 3600 - CARBON_DEFAULT_LIFETIME_S) < 1, "%s: lifetime", kase);
		if (strcmp(kase, "bare_metal") == 0)
			CHECK(kg * 1000 == CARBON_DEFAULT_EMBODIED_G, "bare metal kg %g", kg);
		else
			CHECK(kg * 1000 == CARBON_VM_HOST_EMBODIED_G && threads == CARBON_VM_HOST_THREADS,
			      "vm kg %g threads %u", kg, threads);
		rows++;
	}
	fclose(f);
	CHECK(rows == 2, "two cases, got %d", rows);
}

static void test_intensity_when_defaults_expect_world_zone(void **state)
{
	struct carbon_cfg cfg = { 0 };
	struct carbon_intensity ci;
	struct carbon_ctx *c;
	char err[256];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	carbon_intensity_at(c, T2026 * NS, &ci);
	CHECK(ci.g_per_kwh == 471.08, "WORLD value: %g", ci.g_per_kwh);
	CHECK(!strcmp(ci.kind, "zone") && !strcmp(ci.zone, "WORLD"), "kind/zone: %s %s", ci.kind, ci.zone);
	CHECK(ci.year == 2024 && !strcmp(ci.source, "ember-owid-2026"), "year/source: %d %s", ci.year,
	      ci.source);
	CHECK(ci.rel_sd > 0.3, "WORLD should be wide: %g", ci.rel_sd);
	CHECK(carbon_pue(c) == 1.0, "default PUE 1.0");
	carbon_close(c);
}

static void test_intensity_when_zone_lowercase_expect_found(void **state)
{
	struct carbon_cfg cfg = { .zone = "fr", .pue = 1.56 };
	struct carbon_intensity ci;
	struct carbon_ctx *c;
	char err[256];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	carbon_intensity_at(c, 0, &ci);
	CHECK(!strcmp(ci.zone, "FR") && ci.g_per_kwh > 0 && ci.g_per_kwh < 100, "FR: %s %g", ci.zone,
	      ci.g_per_kwh);
	CHECK(carbon_pue(c) == 1.56, "PUE kept");
	carbon_close(c);
	CHECK(carbon_nzones == 353, "353 zones embedded: %zu", carbon_nzones);
	CHECK(carbon_zone_find("US-CAL-CISO") != NULL, "sub-national zone found");
}

static void test_open_when_unknown_zone_expect_einval_and_hint(void **state)
{
	struct carbon_cfg cfg = { .zone = "XX" };
	struct carbon_ctx *c;
	char err[256] = "";

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == -EINVAL, "unknown zone accepted");
	CHECK(strstr(err, "'XX'") && strstr(err, "--zone list"), "message lacks hint: %s", err);
}

static void test_open_when_zone_and_fixed_expect_einval(void **state)
{
	struct carbon_cfg cfg = { .zone = "DE", .intensity_g_per_kwh = 300 };
	struct carbon_intensity ci;
	struct carbon_ctx *c;
	char err[256] = "";

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == -EINVAL, "zone + fixed accepted");
	CHECK(strstr(err, "--zone") && strstr(err, "--intensity"), "message: %s", err);

	cfg.zone = NULL;
	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "fixed alone: %s", err);
	carbon_intensity_at(c, 0, &ci);
	CHECK(!strcmp(ci.kind, "fixed") && ci.g_per_kwh == 300, "fixed: %s %g", ci.kind, ci.g_per_kwh);
	carbon_close(c);
}

static void test_open_when_bad_pue_expect_einval(void **state)
{
	struct carbon_cfg cfg = { .pue = 0.8 };
	struct carbon_ctx *c;
	char err[256] = "";

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == -EINVAL, "PUE < 1 accepted");
	CHECK(strstr(err, "PUE"), "message: %s", err);
}

/* A run across an intensity change: each interval uses the value in force at its time. */
static void test_intensity_when_file_changes_expect_each_interval_its_value(void **state)
{
	const char *path = write_tmp("series.csv", "timestamp,gco2_per_kwh\n"
						   "2026-01-01T00:00:00Z,100\n"
						   "2026-01-01T02:00:00+01:00,300\n");
	struct carbon_cfg cfg = { .intensity_file = path };
	struct carbon_intensity ci;
	struct carbon_ctx *c;
	uint64_t total = 0;
	char err[256];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	/* two 1 kWh intervals, one in each hour */
	carbon_intensity_at(c, (T2026 + 1800) * NS, &ci);
	CHECK(ci.g_per_kwh == 100 && !strcmp(ci.kind, "file"), "first hour: %g %s", ci.g_per_kwh, ci.kind);
	CHECK(!strcmp(ci.source, path) && ci.year == 2026, "file source/year: %s %d", ci.source, ci.year);
	total += carbon_operational_ug(3600000000000ULL, ci.g_per_kwh, carbon_pue(c));
	carbon_intensity_at(c, (T2026 + 5400) * NS, &ci);
	CHECK(ci.g_per_kwh == 300, "second hour (offset +01:00 row): %g", ci.g_per_kwh);
	total += carbon_operational_ug(3600000000000ULL, ci.g_per_kwh, carbon_pue(c));
	CHECK(total == 400000000ULL, "run total should use both values: %lu", total);
	/* after the last row its value holds; before the first row the file does not apply */
	carbon_intensity_at(c, (T2026 + 86400 * 30) * NS, &ci);
	CHECK(ci.g_per_kwh == 300, "last row holds: %g", ci.g_per_kwh);
	carbon_intensity_at(c, (T2026 - 1) * NS, &ci);
	CHECK(!strcmp(ci.kind, "zone") && !strcmp(ci.zone, "WORLD"), "before file: %s", ci.kind);
	carbon_close(c);
}

static void test_intensity_when_pushed_expect_it_wins_from_its_time(void **state)
{
	const char *path = write_tmp("one.csv", "1767225600,100\n");
	struct carbon_cfg cfg = { .intensity_file = path };
	struct carbon_intensity ci;
	struct carbon_ctx *c;
	char err[256];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == 0, "open: %s", err);
	carbon_push(c, 55.5, (T2026 + 60) * NS);
	carbon_push(c, 77, (T2026 + 120) * NS);
	carbon_intensity_at(c, (T2026 + 30) * NS, &ci);
	CHECK(!strcmp(ci.kind, "file"), "before the push the file applies: %s", ci.kind);
	carbon_intensity_at(c, (T2026 + 90) * NS, &ci);
	CHECK(!strcmp(ci.kind, "pushed") && ci.g_per_kwh == 55.5, "first push: %s %g", ci.kind,
	      ci.g_per_kwh);
	carbon_intensity_at(c, (T2026 + 121) * NS, &ci);
	CHECK(ci.g_per_kwh == 77, "second push: %g", ci.g_per_kwh);
	carbon_close(c);
}

static int parse(const char *text, struct carbon_series *s, char *err, size_t errlen)
{
	return carbon_parse_intensity_csv(text, strlen(text), "f.csv", s, err, errlen);
}

static void test_csv_when_formats_mixed_expect_same_instants(void **state)
{
	struct carbon_series s;
	char err[256] = "";

	CHECK(parse("# comment\r\n\r\n 1767225599.5 , 1\r\n2026-01-01T00:00:00Z,2\n"
		    "2026-01-01T01:00+00:30,3\n2026-01-01 00:45:00.25-0000,4\n1767225600000e-3x,5\n",
		    &s, err, sizeof(err)) == -EINVAL,
	      "junk epoch accepted");
	CHECK(parse("# comment\r\n\r\n 1767225599.5 , 1\r\n2026-01-01T00:00:00Z,2\n"
		    "2026-01-01T01:00+00:30,3\n2026-01-01 00:45:00.25-0000,4e0\n",
		    &s, err, sizeof(err)) == 0,
	      "valid mixed file rejected: %s", err);
	CHECK(s.n == 4, "4 rows: %zu", s.n);
	CHECK(s.ts_ns[0] == T2026 * NS - NS / 2 && s.ts_ns[1] == T2026 * NS, "epoch/ISO Z");
	CHECK(s.ts_ns[2] == (T2026 + 1800) * NS, "offset +00:30 applied");
	CHECK(s.ts_ns[3] == (T2026 + 2700) * NS + NS / 4, "fraction and -0000 offset");
	CHECK(s.g_per_kwh[3] == 4, "value 4e0");
	carbon_series_free(&s);
}

static void expect_csv_error(const char *text, const char *line_tag, const char *problem)
{
	struct carbon_series s = { 0 };
	char err[256] = "";

	CHECK(parse(text, &s, err, sizeof(err)) == -EINVAL, "accepted: %s", text);
	CHECK(strstr(err, line_tag) != NULL, "no file:line '%s' in: %s", line_tag, err);
	CHECK(strstr(err, problem) != NULL, "no problem '%s' in: %s", problem, err);
	CHECK(s.n == 0 && s.ts_ns == NULL, "series left allocated");
}

static void test_csv_when_malformed_expect_file_line_and_problem(void **state)
{
	expect_csv_error("timestamp,g\n1767225600,abc\n", "f.csv:2:", "bad number");
	expect_csv_error("1767225600,nan\n", "f.csv:1:", "bad number");
	expect_csv_error("1767225600,12,3\n", "f.csv:1:", "expected 2 fields");
	expect_csv_error("2026-13-01T00:00:00Z,1\n", "f.csv:1:", "bad timestamp");
	expect_csv_error("2026-01-01T00:00:00,1\n", "f.csv:1:", "bad timestamp"); /* no offset */
	expect_csv_error("2025-02-29T00:00:00Z,1\n", "f.csv:1:", "bad timestamp"); /* not leap */
	expect_csv_error("1767225600,1\n1767225600,2\n", "f.csv:2:", "not sorted");
	expect_csv_error("1767225600,1\n1767225000,2\n", "f.csv:2:", "line 1");
	expect_csv_error("1767225600,-5\n", "f.csv:1:", "negative value");
	expect_csv_error("", "f.csv", "empty file");
	expect_csv_error("timestamp,gco2_per_kwh\n\n", "f.csv", "empty file");
	expect_csv_error("1767225600,1\ntimestamp,x\n", "f.csv:2:", "bad timestamp");
}

static void test_open_when_file_malformed_expect_einval_naming_path(void **state)
{
	const char *path = write_tmp("bad.csv", "1767225600,100\n1767229200,lots\n");
	struct carbon_cfg cfg = { .intensity_file = path };
	struct carbon_ctx *c;
	char err[512] = "", want[300];

	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == -EINVAL, "malformed file accepted");
	snprintf(want, sizeof(want), "%s:2: bad number 'lots'", path);
	CHECK(strstr(err, want) != NULL, "message '%s' lacks '%s'", err, want);
	cfg.intensity_file = "/nonexistent/x.csv";
	CHECK(carbon_open(&c, &cfg, err, sizeof(err)) == -ENOENT, "missing file");
	CHECK(strstr(err, "/nonexistent/x.csv"), "missing file message: %s", err);
}

static void test_method_parse_when_names_expect_roundtrip(void **state)
{
	enum carbon_method m;

	CHECK(carbon_method_parse("monte-carlo", &m) == 0 && m == CARBON_MONTE_CARLO, "monte-carlo");
	CHECK(!strcmp(carbon_method_name(m), "monte_carlo"), "name monte_carlo");
	CHECK(carbon_method_parse("analytical", &m) == 0 && m == CARBON_ANALYTICAL, "analytical");
	CHECK(!strcmp(carbon_method_name(m), "analytical_truncated"), "name analytical_truncated");
	CHECK(carbon_method_parse("guess", &m) == -EINVAL, "bad method accepted");
}

static struct carbon_ctx *open_method(enum carbon_method m, uint64_t seed)
{
	struct carbon_cfg cfg = { .method = m, .mc_seed = seed };
	struct carbon_ctx *c;
	char err[256];

	assert_int_equal(carbon_open(&c, &cfg, err, sizeof(err)), 0);
	return c;
}

static void test_interval_when_small_sd_expect_normal_interval(void **state)
{
	struct carbon_ctx *c = open_method(CARBON_ANALYTICAL, 0);
	struct carbon_estimate e;
	double s = sqrt(0.05 * 0.05 * 2 + 0.05 * 0.05 * 0.05 * 0.05);

	carbon_interval(c, 1000000000ULL, 0.05, 0.05, &e);
	CHECK(e.mean_ug == 1000000000ULL, "mean is the point estimate");
	/* far from zero the truncation is invisible: m(1 ± 1.959964 s) */
	CHECK(fabs((double)e.lo_ug - 1e9 * (1 - 1.959964 * s)) < 1e3, "lo %lu", e.lo_ug);
	CHECK(fabs((double)e.hi_ug - 1e9 * (1 + 1.959964 * s)) < 1e3, "hi %lu", e.hi_ug);
	carbon_interval(c, 1000, 0, 0, &e);
	CHECK(e.lo_ug == 1000 && e.hi_ug == 1000, "no uncertainty, no width");
	carbon_close(c);
}

static void test_interval_when_wide_expect_truncated_above_zero(void **state)
{
	struct carbon_ctx *c = open_method(CARBON_ANALYTICAL, 0);
	struct carbon_estimate e;
	double s = sqrt(0.6 * 0.6 * 2 + 0.6 * 0.6 * 0.6 * 0.6), a, zlo;

	carbon_interval(c, 1000000ULL, 0.6, 0.6, &e);
	/* truncated normal quantile by bisection on its CDF, as an independent check */
	a = 0.5 * erfc(1 / s / M_SQRT2);
	{
		double lo = -1 / s, hi = 0;
		int i;

		for (i = 0; i < 200; i++) {
			double mid = (lo + hi) / 2;
			double f = (0.5 * erfc(-mid / M_SQRT2) - a) / (1 - a);

			if (f < 0.025)
				lo = mid;
			else
				hi = mid;
		}
		zlo = lo;
	}
	CHECK(e.lo_ug > 0, "lower end must stay above zero: %lu", e.lo_ug);
	CHECK(fabs((double)e.lo_ug - 1e6 * (1 + s * zlo)) <= 1, "lo %lu vs %.1f", e.lo_ug,
	      1e6 * (1 + s * zlo));
	CHECK(e.dist_mean_ug > 1000000ULL, "truncation lifts the distribution's mean");
	carbon_close(c);
}

static void test_interval_when_monte_carlo_expect_close_to_analytical(void **state)
{
	struct carbon_ctx *a = open_method(CARBON_ANALYTICAL, 0), *m = open_method(CARBON_MONTE_CARLO, 1);
	struct carbon_estimate ea, em;

	/* symmetric case: equal, modest uncertainties */
	carbon_interval(a, 5000000000ULL, 0.1, 0.1, &ea);
	carbon_interval(m, 5000000000ULL, 0.1, 0.1, &em);
	print_message("analytical [%lu, %lu] mean %lu; monte carlo [%lu, %lu] mean %lu\n", ea.lo_ug,
		      ea.hi_ug, ea.dist_mean_ug, em.lo_ug, em.hi_ug, em.dist_mean_ug);
	CHECK(em.method == CARBON_MONTE_CARLO && ea.method == CARBON_ANALYTICAL, "methods");
	CHECK(fabs((double)em.dist_mean_ug / ea.dist_mean_ug - 1) < 0.01, "MC mean not within 1%%");
	CHECK(fabs((double)em.lo_ug / ea.lo_ug - 1) < 0.05, "MC lo not within 5%%");
	CHECK(fabs((double)em.hi_ug / ea.hi_ug - 1) < 0.05, "MC hi not within 5%%");
	carbon_close(a);
	carbon_close(m);
}

static void test_interval_when_same_seed_expect_same_result(void **state)
{
	struct carbon_ctx *m1 = open_method(CARBON_MONTE_CARLO, 99), *m2 = open_method(CARBON_MONTE_CARLO, 99);
	struct carbon_ctx *m3 = open_method(CARBON_MONTE_CARLO, 100);
	struct carbon_estimate e1, e2, e3;

	carbon_interval(m1, 123456789ULL, 0.2, 0.3, &e1);
	carbon_interval(m2, 123456789ULL, 0.2, 0.3, &e2);
	carbon_interval(m3, 123456789ULL, 0.2, 0.3, &e3);
	CHECK(e1.lo_ug == e2.lo_ug && e1.hi_ug == e2.hi_ug, "same seed differs");
	CHECK(e1.lo_ug != e3.lo_ug || e1.hi_ug != e3.hi_ug, "different seed gives identical draws");
	carbon_interval(m1, 123456789ULL, 0.2, 0.3, &e3);
	CHECK(e1.lo_ug == e3.lo_ug, "repeated call differs");
	carbon_close(m1);
	carbon_close(m2);
	carbon_close(m3);
}

/*
 * Coverage. The error model the interval claims: the truth is the estimate
 * times independent factors X ~ N(1, sE) and Y ~ N(1, sI), each truncated at
 * 0. So draw a true energy and intensity, draw X and Y, observe E/X and I/Y,
 * estimate carbon from the observations, build the interval from sE and sI,
 * and count how often it holds the carbon of the true values.
 */
static uint64_t cov_state;

static double cov_uniform(void)
{
	uint64_t z = (cov_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return ((z >> 11) + 1) * 0x1.0p-53;
}

static double cov_factor(double sd)
{
	double x;

	do
		x = 1 + sd * sqrt(-2 * log(cov_uniform())) * cos(2 * M_PI * cov_uniform());
	while (x <= 0);
	return x;
}

static double coverage(struct carbon_ctx *c, double se, double si, double claimed_se, double claimed_si)
{
	int trials = 2000, hit = 0, t;

	cov_state = 2024;
	for (t = 0; t < trials; t++) {
		uint64_t e_true = 1000000000ULL + (uint64_t)(cov_uniform() * 1e12);
		double i_true = 20 + cov_uniform() * 800;
		uint64_t e_obs = (uint64_t)llround(e_true / cov_factor(se));
		double i_obs = i_true / cov_factor(si);
		uint64_t truth = carbon_operational_ug(e_true, i_true, 1.2);
		struct carbon_estimate est;

		carbon_interval(c, carbon_operational_ug(e_obs, i_obs, 1.2), claimed_se, claimed_si, &est);
		hit += est.lo_ug <= truth && truth <= est.hi_ug;
	}
	return 100.0 * hit / trials;
}

static void test_interval_when_coverage_simulated_expect_93_to_97_percent(void **state)
{
	static const double sds[][2] = { { 0.05, 0.15 }, { 0.10, 0.25 }, { 0.20, 0.15 } };
	struct carbon_ctx *a = open_method(CARBON_ANALYTICAL, 0), *m = open_method(CARBON_MONTE_CARLO, 5);
	size_t i;

	for (i = 0; i < sizeof(sds) / sizeof(sds[0]); i++) {
		double se = sds[i][0], si = sds[i][1];
		double ca = coverage(a, se, si, se, si), cm = coverage(m, se, si, se, si);

		print_message("coverage sE %.2f sI %.2f: analytical %.1f%%, monte carlo %.1f%%\n", se, si,
			      ca, cm);
		CHECK(ca >= 93 && ca <= 97, "analytical coverage %.1f%% (sE %.2f sI %.2f)", ca, se, si);
		CHECK(cm >= 93 && cm <= 97, "monte carlo coverage %.1f%% (sE %.2f sI %.2f)", cm, se, si);
	}
	/* the simulation can fail: an interval that forgets the intensity's uncertainty undercovers */
	{
		double bad = coverage(a, 0.10, 0.25, 0.10, 0);

		print_message("coverage ignoring intensity sd: %.1f%%\n", bad);
		CHECK(bad < 90, "coverage test has no power: %.1f%%", bad);
	}
	carbon_close(a);
	carbon_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operational_when_kwh_at_100g_expect_100g),
		cmocka_unit_test(test_embodied_when_default_one_hour_expect_sci_example),
		cmocka_unit_test(test_embodied_when_share_configured_scales_machine_part),
		cmocka_unit_test(test_embodied_default_when_vm_scales_by_cpus_of_reference_host),
		cmocka_unit_test(test_embodied_defaults_when_compared_with_shipped_data_agree),
		cmocka_unit_test(test_intensity_when_defaults_expect_world_zone),
		cmocka_unit_test(test_intensity_when_zone_lowercase_expect_found),
		cmocka_unit_test(test_open_when_unknown_zone_expect_einval_and_hint),
		cmocka_unit_test(test_open_when_zone_and_fixed_expect_einval),
		cmocka_unit_test(test_open_when_bad_pue_expect_einval),
		cmocka_unit_test(test_intensity_when_file_changes_expect_each_interval_its_value),
		cmocka_unit_test(test_intensity_when_pushed_expect_it_wins_from_its_time),
		cmocka_unit_test(test_csv_when_formats_mixed_expect_same_instants),
		cmocka_unit_test(test_csv_when_malformed_expect_file_line_and_problem),
		cmocka_unit_test(test_open_when_file_malformed_expect_einval_naming_path),
		cmocka_unit_test(test_method_parse_when_names_expect_roundtrip),
		cmocka_unit_test(test_interval_when_small_sd_expect_normal_interval),
		cmocka_unit_test(test_interval_when_wide_expect_truncated_above_zero),
		cmocka_unit_test(test_interval_when_monte_carlo_expect_close_to_analytical),
		cmocka_unit_test(test_interval_when_same_seed_expect_same_result),
		cmocka_unit_test(test_interval_when_coverage_simulated_expect_93_to_97_percent),
	};

	return cmocka_run_group_tests(tests, tl_setup, tl_teardown); /* one directory for the files of all tests */
}
