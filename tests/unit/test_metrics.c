// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for metrics: exposition text of a synthetic store, exact units, bounded series, promtool-clean. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/metrics.h"
#include "joule/util.h"

static struct sample_task task(uint32_t pid, const char *comm, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .start_ns = pid, .cpu_ns = 1500000000ULL, .cpu_uj = uj,
				 .mem_uj = 7, .carbon_ug = 2500000 };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

static struct store *filled(uint32_t top_n, size_t ntasks)
{
	struct store_cfg cfg = { .top_n = top_n };
	struct sample_task t[64];
	struct sample s = { .seq = 1, .mono_end_ns = 100000000, .real_end_ns = 1700000000000000000ULL,
			    .source = ENERGY_SRC_POWERCAP, .domains = (1u << ENERGY_PACKAGE) | (1u << ENERGY_DRAM) };
	struct store *st;
	char comm[16];

	for (size_t i = 0; i < ntasks; i++) {
		snprintf(comm, sizeof(comm), i == 0 ? "we\"ird\\" : "c%zu", i);
		t[i] = task(100 + (uint32_t)i, comm, 1000000 * (i + 1) + 234567);
	}
	s.ntasks = ntasks;
	s.tasks = t;
	s.host_domain_uj[ENERGY_PACKAGE] = 42000001;
	s.host_domain_uj[ENERGY_DRAM] = 5;
	s.idle.cpu_uj = 3;
	s.intensity.g_per_kwh = 412.5;
	s.intensity.kind = "zone";
	s.intensity.zone = "DE";
	assert_int_equal(store_open(&st, &cfg), 0);
	/* Twice: ranking follows the first sample, so the top process's own series holds the second. */
	assert_int_equal(store_add_sample(st, &s), 0);
	s.seq = 2;
	s.mono_end_ns += 100000000;
	s.real_end_ns += 100000000;
	assert_int_equal(store_add_sample(st, &s), 0);
	return st;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_metrics_render_when_top_process_has_exact_decimal_values(void **state)
{
	struct store *st = filled(1, 3);
	struct metrics_buf b = { 0 };
	struct metrics_self self = { .version = "1.2.3" };

	assert_int_equal(metrics_render(st, &self, &b), 0);
	assert_non_null(strstr(b.p, "joule_build_info{version=\"1.2.3\"} 1\n"));
	/* top 1 by energy is pid 102 with 3.234567 J */
	assert_non_null(strstr(b.p, "joule_process_energy_joules_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\",domain=\"cpu\"} 3.234567\n"));
	assert_non_null(strstr(b.p, "joule_process_cpu_seconds_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\"} 1.500000000\n"));
	assert_non_null(strstr(b.p, "joule_process_carbon_grams_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\"} 2.500000\n"));
	assert_non_null(strstr(b.p, "joule_host_energy_joules_total{package=\"all\",domain=\"package\","
				    "source=\"powercap\"} 84.000002\n"));
	assert_non_null(strstr(b.p, "joule_grid_intensity_grams_per_kwh{kind=\"zone\",zone=\"DE\"} 412.5\n"));
	assert_non_null(strstr(b.p, "joule_idle_energy_joules_total{domain=\"cpu\"} 0.000006\n"));
	metrics_buf_free(&b);
	store_close(st);
}

static void test_metrics_render_when_not_selected_aggregates_per_group_without_pid(void **state)
{
	struct store *st = filled(1, 3);
	struct metrics_buf b = { 0 };

	assert_int_equal(metrics_render(st, NULL, &b), 0);
	assert_null(strstr(b.p, "pid=\"101\""));
	assert_non_null(strstr(b.p, "joule_process_energy_joules_total{comm=\"c1\",group=\"c1\",group_kind=\"comm\","
				    "domain=\"cpu\"} 4.469134\n"));
	/*
	 * Top N is ranked after a sample is added, so the interval before
	 * selection stays in the group's rest series: each µJ is one increase.
	 */
	assert_non_null(strstr(b.p, "joule_process_energy_joules_total{comm=\"c2\",group=\"c2\",group_kind=\"comm\","
				    "domain=\"cpu\"} 3.234567\n"));
	metrics_buf_free(&b);
	store_close(st);
}

static void test_metrics_render_when_many_processes_bounds_pid_series_to_top_n(void **state)
{
	struct store *st = filled(5, 64);
	struct metrics_buf b = { 0 };

	assert_int_equal(metrics_render(st, NULL, &b), 0);
	assert_int_equal(count(b.p, "joule_process_cpu_seconds_total{pid="), 5);
	metrics_buf_free(&b);
	store_close(st);
}

static void test_metrics_escape_when_quotes_backslash_newline_escapes(void **state)
{
	char out[32];

	metrics_escape_label("a\"b\\c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	metrics_escape_label("abcdef", out, 4);
	assert_string_equal(out, "ab");
}

/* Sum, as integer micro- (or nano-) units, every line of a family whose labels contain `match`. */
static uint64_t family_sum(const char *text, const char *family, const char *match, int decimals)
{
	size_t flen = strlen(family);
	uint64_t sum = 0;

	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		const char *end = strchr(l, '\n'), *v;
		char line[1024], *dot;
		uint64_t ip, fp;

		assert_non_null(end);
		if (strncmp(l, family, flen) != 0 || l[flen] != '{') {
			continue;
		}
		snprintf(line, sizeof(line), "%.*s", (int)(end - l), l);
		if (!strstr(line, match))
			continue;
		v = strrchr(line, ' ') + 1;
		ip = strtoull(v, &dot, 10);
		assert_int_equal(*dot, '.');
		assert_int_equal(strlen(dot + 1), decimals);
		fp = strtoull(dot + 1, NULL, 10);
		sum += ip * (decimals == 9 ? 1000000000ULL : 1000000ULL) + fp;
	}
	return sum;
}

static void test_metrics_render_when_process_promoted_midway_family_sums_to_group_total(void **state)
{
	/* Two processes of one comm group; each enters the top 1 only after running a while. */
	struct store_cfg cfg = { .top_n = 1 };
	struct store *st;
	struct metrics_buf b = { 0 };
	uint64_t cpu_ns = 0, uj = 0, ug = 0;

	assert_int_equal(store_open(&st, &cfg), 0);
	for (uint64_t i = 0; i < 25; i++) {
		struct sample_task t[2] = { task(1, "w", 1000 + i), task(2, "w", i < 5 ? 10 : 5000 + i) };
		struct sample s = { .seq = i + 1, .mono_start_ns = i * 100000000, .mono_end_ns = (i + 1) * 100000000,
				    .ntasks = 2, .tasks = t, .source = ENERGY_SRC_POWERCAP };

		t[1].cpu_ns = 3000000 + i;
		t[1].carbon_ug = 11 + i;
		s.real_start_ns = 1700000000000000000ULL + s.mono_start_ns;
		s.real_end_ns = 1700000000000000000ULL + s.mono_end_ns;
		for (int k = 0; k < 2; k++) {
			cpu_ns += t[k].cpu_ns;
			uj += t[k].cpu_uj + t[k].mem_uj;
			ug += t[k].carbon_ug;
		}
		assert_int_equal(store_add_sample(st, &s), 0);
	}
	assert_true(store_find_proc(st, 1)->own_series);
	assert_true(store_find_proc(st, 2)->own_series);
	assert_int_equal(metrics_render(st, NULL, &b), 0);
	/* both were ranked after running, so part of each is in the rest series, part in its own */
	assert_int_equal(count(b.p, "joule_process_cpu_seconds_total{pid="), 2);
	assert_int_equal(family_sum(b.p, "joule_process_energy_joules_total", "group=\"w\"", 6), uj);
	assert_int_equal(family_sum(b.p, "joule_group_energy_joules_total", "group=\"w\"", 6), uj);
	assert_int_equal(family_sum(b.p, "joule_process_carbon_grams_total", "group=\"w\"", 6), ug);
	assert_int_equal(family_sum(b.p, "joule_group_carbon_grams_total", "group=\"w\"", 6), ug);
	assert_int_equal(family_sum(b.p, "joule_process_cpu_seconds_total", "group=\"w\"", 9), cpu_ns);
	metrics_buf_free(&b);
	store_close(st);
}

static void test_metrics_render_when_checked_by_promtool_is_clean(void **state)
{
	struct store *st = filled(3, 10);
	struct metrics_buf b = { 0 };
	struct metrics_self self = { .version = "t", .have_sampler = true, .have_ledger = true };
	char cmd[128], out[4096] = "";
	FILE *p;
	size_t n;
	int rc;

	if (access("/usr/bin/promtool", X_OK) != 0)
		skip();
	self.sampler.ticks = 10;
	self.sampler.jitter_le_ns[0] = 1000000;
	self.sampler.jitter_count[0] = 9;
	self.sampler.jitter_le_ns[1] = 10000000;
	self.sampler.jitter_count[1] = 10;
	assert_int_equal(metrics_render(st, &self, &b), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics > /tmp/joule-promtool.%d 2>&1", getpid());
	p = popen(cmd, "w");
	assert_non_null(p);
	fwrite(b.p, 1, b.len, p);
	rc = pclose(p);
	snprintf(cmd, sizeof(cmd), "/tmp/joule-promtool.%d", getpid());
	p = fopen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	fclose(p);
	unlink(cmd);
	if (rc != 0 || n)
		print_error("promtool: %s\n", out);
	assert_int_equal(rc, 0);
	assert_int_equal(n, 0);
	metrics_buf_free(&b);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_render_when_top_process_has_exact_decimal_values),
		cmocka_unit_test(test_metrics_render_when_not_selected_aggregates_per_group_without_pid),
		cmocka_unit_test(test_metrics_render_when_many_processes_bounds_pid_series_to_top_n),
		cmocka_unit_test(test_metrics_escape_when_quotes_backslash_newline_escapes),
		cmocka_unit_test(test_metrics_render_when_process_promoted_midway_family_sums_to_group_total),
		cmocka_unit_test(test_metrics_render_when_checked_by_promtool_is_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
