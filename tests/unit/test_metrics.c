// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for metrics: exposition text of a synthetic store, exact units, bounded series, promtool-clean. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "unit/testlib.h"

static struct sample_task task(uint32_t pid, const char *comm, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .start_ns = pid,
				 .tot = { .cpu_ns = 1500000000ULL, .cpu_uj = uj, .mem_uj = 7, .carbon_ug = 2500000,
					  .operational_ug = 2400000, .embodied_ug = 100000 } };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

/* The sample of the next 100 ms tick. */
static void next_tick(struct sample *s)
{
	s->seq++;
	s->mono_end_ns += 100000000;
	s->real_end_ns += 100000000;
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
	for (size_t i = 0; i < ntasks; i++) {
		s.host_cpu_uj += t[i].tot.cpu_uj;
		s.host_mem_uj += t[i].tot.mem_uj;
	}
	s.host_cpu_uj += s.idle.cpu_uj;
	s.intensity.g_per_kwh = 412.5;
	s.intensity.kind = "zone";
	s.intensity.zone = "DE";
	assert_int_equal(store_open(&st, &cfg), 0);
	/* Twice: ranking follows the first sample, so the top process's own series holds the second. */
	assert_int_equal(store_add_sample(st, &s), 0);
	next_tick(&s);
	assert_int_equal(store_add_sample(st, &s), 0);
	return st;
}

/* The store and the exposition buffer of one test (and a tl_dir() for files), freed by the teardown even
 * when an assertion fails. */
struct metrics_fx {
	struct store *st;
	struct textbuf b;
};

static int fx_setup(void **state)
{
	struct metrics_fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f && tl_setup(NULL) == 0 ? 0 : -1;
}

static int fx_teardown(void **state)
{
	struct metrics_fx *f = *state;

	textbuf_free(&f->b);
	if (f->st)
		store_close(f->st);
	free(f);
	return tl_teardown(NULL);
}

/* One scrape of the text exposition into f->b. */
static void scrape(struct metrics_fx *f)
{
	assert_int_equal(metrics_render(f->st, NULL, METRICS_TEXT, &f->b), 0);
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
	struct metrics_fx *f = *state;
	struct metrics_self self = { .version = "1.2.3" };

	f->st = filled(1, 3);
	assert_int_equal(metrics_render(f->st, &self, METRICS_TEXT, &f->b), 0);
	assert_non_null(strstr(f->b.p, "joule_build_info{version=\"1.2.3\"} 1\n"));
	/* top 1 by energy is pid 102 with 3.234567 J per sample; its series holds its whole life */
	assert_non_null(strstr(f->b.p, "joule_process_energy_joules_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\",domain=\"cpu\"} 6.469134\n"));
	assert_non_null(strstr(f->b.p, "joule_process_cpu_seconds_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\"} 3.000000000\n"));
	assert_non_null(strstr(f->b.p, "joule_process_carbon_grams_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\",kind=\"operational\"} 4.800000\n"));
	assert_non_null(strstr(f->b.p, "joule_process_carbon_grams_total{pid=\"102\",comm=\"c2\",group=\"c2\","
				    "group_kind=\"comm\",kind=\"embodied\"} 0.200000\n"));
	assert_non_null(strstr(f->b.p, "joule_host_energy_joules_total{package=\"all\",domain=\"package\","
				    "source=\"powercap\"} 84.000002\n"));
	assert_non_null(strstr(f->b.p, "joule_grid_intensity_grams_per_kwh{kind=\"zone\",zone=\"DE\"} 412.5\n"));
	assert_non_null(strstr(f->b.p, "joule_idle_energy_joules_total{domain=\"cpu\"} 0.000006\n"));
}

/* One more interval like filled()'s, after two expositions have shown the groups (SEEN_AFTER). */
static void add_after_exposition(struct store *st, size_t ntasks)
{
	struct textbuf b = { 0 };
	struct sample_task t[64];
	struct sample s = { .seq = 3, .mono_end_ns = 300000000, .real_end_ns = 1700000000200000000ULL,
			    .source = ENERGY_SRC_POWERCAP, .ntasks = ntasks, .tasks = t };
	char comm[16];

	assert_int_equal(metrics_render(st, NULL, METRICS_TEXT, &b), 0);
	assert_int_equal(metrics_render(st, NULL, METRICS_TEXT, &b), 0);
	textbuf_free(&b);
	for (size_t i = 0; i < ntasks; i++) {
		snprintf(comm, sizeof(comm), i == 0 ? "we\"ird\\" : "c%zu", i);
		t[i] = task(100 + (uint32_t)i, comm, 1000000 * (i + 1) + 234567);
	}
	assert_int_equal(store_add_sample(st, &s), 0);
}

static void test_metrics_render_when_group_of_comm_labels_group_and_comm(void **state)
{
	struct metrics_fx *f = *state;

	f->st = filled(1, 3);
	add_after_exposition(f->st, 3);
	scrape(f);
	assert_null(strstr(f->b.p, "pid=\"101\""));
	/* the series shows what came after the first exposition: one interval */
	assert_non_null(strstr(f->b.p, "joule_group_energy_joules_total{group=\"c1\",group_kind=\"comm\",comm=\"c1\","
				    "domain=\"cpu\"} 2.234567\n"));
	assert_non_null(strstr(f->b.p, "joule_group_carbon_grams_total{group=\"c1\",group_kind=\"comm\",comm=\"c1\","
				    "kind=\"embodied\"} 0.100000\n"));
	/* the old per-group rest series are gone: joule_process_* always has a pid */
	assert_null(strstr(f->b.p, "joule_process_energy_joules_total{comm="));
}

static void test_metrics_render_when_many_processes_bounds_pid_series_to_top_n(void **state)
{
	struct metrics_fx *f = *state;

	f->st = filled(5, 64);
	scrape(f);
	assert_int_equal(count(f->b.p, "joule_process_cpu_seconds_total{pid="), 5);
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

/* A labeler that puts everything in one unit. */
static int unit_labeler(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = GROUP_UNIT;
	snprintf(out->group, sizeof(out->group), "u.service");
	out->uid = UINT32_MAX;
	return 0;
}

/* A store fed with churn: processes of a few names start, run, exit; some selected for drill-down. */
static struct store *churned(uint64_t *host_uj)
{
	struct store_cfg cfg = { .top_n = 2, .grace_ns = NSEC_PER_SEC, .max_groups = 4 };
	struct store *st;

	assert_int_equal(store_open(&st, &cfg), 0);
	*host_uj = 0;
	for (uint64_t i = 0; i < 60; i++) {
		struct sample_task t[3];
		struct sample s = { .seq = i + 1, .mono_start_ns = i * 100000000, .mono_end_ns = (i + 1) * 100000000,
				    .ntasks = 3, .tasks = t, .source = ENERGY_SRC_POWERCAP };
		char comm[16];

		for (int k = 0; k < 3; k++) {
			uint32_t pid = (uint32_t)(1000 + i / 4 * 3 + k); /* a new process every 4 ticks per slot */

			snprintf(comm, sizeof(comm), "n%u", pid % 6);
			t[k] = task(pid, comm, 1000 + i * 7 + k);
			t[k].tot.mem_uj = 3 + k;
			t[k].exited = i % 4 == 3;
			s.host_cpu_uj += t[k].tot.cpu_uj;
			s.host_mem_uj += t[k].tot.mem_uj;
		}
		s.idle = (struct sample_totals){ .cpu_ns = 1000, .cpu_uj = 55, .mem_uj = 1 };
		s.overflow = (struct sample_totals){ .cpu_ns = 10, .cpu_uj = 2 };
		s.host_cpu_uj += 55 + 2;
		s.host_mem_uj += 1;
		s.real_start_ns = 1700000000000000000ULL + s.mono_start_ns;
		s.real_end_ns = 1700000000000000000ULL + s.mono_end_ns;
		*host_uj += s.host_cpu_uj + s.host_mem_uj;
		assert_int_equal(store_add_sample(st, &s), 0);
	}
	return st;
}

static void test_metrics_render_when_churn_group_idle_other_sum_to_host_exactly(void **state)
{
	uint64_t host_uj, sum;
	struct metrics_fx *f = *state;

	f->st = churned(&host_uj);
	scrape(f);
	sum = family_sum(f->b.p, "joule_group_energy_joules_total", "", 6) +
	      family_sum(f->b.p, "joule_idle_energy_joules_total", "", 6) +
	      family_sum(f->b.p, "joule_other_energy_joules_total", "", 6);
	assert_int_equal(sum, host_uj);
	assert_int_equal(family_sum(f->b.p, "joule_host_attributed_energy_joules_total", "", 6), host_uj);
	/* 6 names, 4 slots, none idle long enough to forget: the rest went to other */
	assert_true(family_sum(f->b.p, "joule_other_energy_joules_total", "reason=\"group_table_full\"", 6) > 0);
}

/* The series the group tests read: comm w's group, other before the first exposition, u.service's comms. */
#define W_CPU "joule_group_energy_joules_total{group=\"w\",group_kind=\"comm\",comm=\"w\",domain=\"cpu\"} "
#define OTHER_BEFORE_FIRST_CPU "joule_other_energy_joules_total{reason=\"before_first_exposition\",domain=\"cpu\"} "
#define UNIT_CPU(comm) \
	"joule_group_energy_joules_total{group=\"u.service\",group_kind=\"unit\",comm=\"" comm "\",domain=\"cpu\"} "

/* A store of cfg with sample s in it, scraped once. */
static void first_scrape(struct metrics_fx *f, const struct store_cfg *cfg, const struct sample *s)
{
	assert_int_equal(store_open(&f->st, cfg), 0);
	store_add_sample(f->st, s);
	scrape(f);
}

static void test_metrics_render_when_process_exited_its_series_stops(void **state)
{
	struct store_cfg cfg = { .top_n = 1 };
	struct sample_task t = task(1, "w", 500);
	struct sample s = { .seq = 1, .mono_end_ns = 100000000, .real_end_ns = 1700000000000000000ULL,
			    .ntasks = 1, .tasks = &t };
	struct metrics_fx *f = *state;

	first_scrape(f, &cfg, &s);
	assert_non_null(strstr(f->b.p, "joule_process_energy_joules_total{pid=\"1\""));
	/* its group was new at that exposition: it starts at zero there, the first 500 µJ are other's */
	assert_non_null(strstr(f->b.p, W_CPU "0.000000\n"));
	assert_non_null(strstr(f->b.p, OTHER_BEFORE_FIRST_CPU "0.000500\n"));
	scrape(f); /* a second scraper: still zero for it */
	assert_non_null(strstr(f->b.p, W_CPU "0.000000\n"));
	t.exited = true;
	next_tick(&s);
	store_add_sample(f->st, &s);
	scrape(f);
	assert_null(strstr(f->b.p, "joule_process_energy_joules_total{pid=\"1\""));
	assert_non_null(strstr(f->b.p, W_CPU "0.000500\n"));
	assert_non_null(strstr(f->b.p, OTHER_BEFORE_FIRST_CPU "0.000500\n"));
}

static void test_metrics_render_when_known_unit_gets_new_comm_its_start_stays_in_the_unit(void **state)
{
	struct store_cfg cfg = { .labeler = unit_labeler };
	struct sample_task t[2] = { task(1, "make", 100), task(2, "cc1", 40) };
	struct sample s = { .seq = 1, .mono_end_ns = 100000000, .real_end_ns = 1700000000000000000ULL,
			    .ntasks = 1, .tasks = t };
	struct metrics_fx *f = *state;

	first_scrape(f, &cfg, &s);
	scrape(f);
	next_tick(&s);
	s.ntasks = 2;
	store_add_sample(f->st, &s);
	scrape(f);
	/* cc1's first 40 µJ are shown in the unit's make entry, so the unit's sum misses nothing */
	assert_non_null(strstr(f->b.p, UNIT_CPU("make") "0.000140\n"));
	assert_non_null(strstr(f->b.p, UNIT_CPU("cc1") "0.000000\n"));
}

static void test_metrics_render_when_openmetrics_names_families_units_and_ends_with_eof(void **state)
{
	struct metrics_fx *f = *state;

	f->st = filled(1, 3);
	assert_int_equal(metrics_render(f->st, NULL, METRICS_OPENMETRICS, &f->b), 0);
	assert_non_null(strstr(f->b.p, "# TYPE joule_group_energy_joules counter\n# UNIT joule_group_energy_joules joules\n"));
	assert_non_null(strstr(f->b.p, "\njoule_group_energy_joules_total{"));
	assert_null(strstr(f->b.p, "# TYPE joule_group_energy_joules_total"));
	assert_true(f->b.len >= 6 && strcmp(f->b.p + f->b.len - 6, "# EOF\n") == 0);
}

static void test_metrics_negotiate_when_accept_names_openmetrics_picks_it(void **state)
{
	assert_int_equal(metrics_negotiate("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.3"),
			 METRICS_OPENMETRICS);
	assert_int_equal(metrics_negotiate("text/plain"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate(NULL), METRICS_TEXT);
}

static void test_metrics_render_when_jitter_has_catch_all_bound_prints_inf_only(void **state)
{
	struct metrics_fx *f = *state;
	struct metrics_self self = { .have_sampler = true };

	f->st = filled(1, 1);
	self.sampler.ticks = 4;
	self.sampler.jitter_le_ns[0] = 50000;
	self.sampler.jitter_count[0] = 3;
	self.sampler.jitter_le_ns[1] = UINT64_MAX;
	self.sampler.jitter_count[1] = 4;
	assert_int_equal(metrics_render(f->st, &self, METRICS_TEXT, &f->b), 0);
	assert_null(strstr(f->b.p, "18446744073"));
	assert_non_null(strstr(f->b.p, "joule_self_tick_jitter_seconds_bucket{le=\"+Inf\"} 4\n"));
}

static void test_metrics_render_when_process_stats_given_exports_standard_process_metrics(void **state)
{
	struct metrics_fx *f = *state;
	struct metrics_self self = { .have_process = true,
				     .process = { .cpu_ns = 1500000000, .rss_bytes = 4096, .open_fds = 9,
						  .max_fds = 1024, .start_real_ns = 1700000000000000000ULL } };

	f->st = filled(1, 1);
	assert_int_equal(metrics_render(f->st, &self, METRICS_TEXT, &f->b), 0);
	assert_non_null(strstr(f->b.p, "\nprocess_cpu_seconds_total 1.500000000\n"));
	assert_non_null(strstr(f->b.p, "\nprocess_resident_memory_bytes 4096\n"));
	assert_non_null(strstr(f->b.p, "\nprocess_open_fds 9\n"));
	assert_non_null(strstr(f->b.p, "\nprocess_start_time_seconds 1700000000.000000000\n"));
}

/* promtool check metrics on one rendering; "" when clean, else its complaint. */
static void promtool_check(const struct textbuf *b, char *out, size_t outlen, int *rc)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64];
	int fd;
	FILE *p;
	ssize_t n;

	snprintf(path, sizeof(path), "%s", tl_path("promtool.out"));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics > '%s' 2>&1", path);
	p = popen(cmd, "w");
	assert_non_null(p);
	fwrite(b->p, 1, b->len, p);
	*rc = pclose(p);
	n = read(fd, out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void test_metrics_render_when_checked_by_promtool_is_clean(void **state)
{
	struct metrics_fx *f = *state;
	struct metrics_self self = { .version = "t", .have_sampler = true, .have_ledger = true, .have_process = true };
	char out[4096];
	int rc;

	f->st = filled(3, 10);
	if (access("/usr/bin/promtool", X_OK) != 0)
		skip();
	self.sampler.ticks = 10;
	self.sampler.jitter_le_ns[0] = 1000000;
	self.sampler.jitter_count[0] = 9;
	self.sampler.jitter_le_ns[1] = 10000000;
	self.sampler.jitter_count[1] = 10;
	assert_int_equal(metrics_render(f->st, &self, METRICS_TEXT, &f->b), 0);
	promtool_check(&f->b, out, sizeof(out), &rc);
	if (rc != 0 || out[0])
		print_error("promtool: %s\n", out);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
}

static void test_metrics_render_when_the_ledger_lost_records_shows_them(void **state)
{
	struct metrics_fx *f = *state;
	struct metrics_self self = { .version = "t", .have_ledger = true, .ledger_records_lost = 7 };
	char *text;

	f->st = filled(1, 1);
	assert_int_equal(metrics_render(f->st, &self, METRICS_TEXT, &f->b), 0);
	text = strndup(f->b.p, f->b.len);
	assert_non_null(strstr(text, "\njoule_self_ledger_records_lost_total 7\n"));
	free(text);
}

#define M(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

TL_MAIN(
	M(test_metrics_render_when_the_ledger_lost_records_shows_them),
	M(test_metrics_render_when_top_process_has_exact_decimal_values),
	M(test_metrics_render_when_group_of_comm_labels_group_and_comm),
	M(test_metrics_render_when_many_processes_bounds_pid_series_to_top_n),
	cmocka_unit_test(test_metrics_escape_when_quotes_backslash_newline_escapes),
	M(test_metrics_render_when_churn_group_idle_other_sum_to_host_exactly),
	M(test_metrics_render_when_process_exited_its_series_stops),
	M(test_metrics_render_when_known_unit_gets_new_comm_its_start_stays_in_the_unit),
	M(test_metrics_render_when_openmetrics_names_families_units_and_ends_with_eof),
	cmocka_unit_test(test_metrics_negotiate_when_accept_names_openmetrics_picks_it),
	M(test_metrics_render_when_jitter_has_catch_all_bound_prints_inf_only),
	M(test_metrics_render_when_process_stats_given_exports_standard_process_metrics),
	M(test_metrics_render_when_checked_by_promtool_is_clean)
)
