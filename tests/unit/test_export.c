// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the report formatters: CodeCarbon columns and units, BoAmps input checks and quality, SCI, CSV, Pushgateway text and path, windows, the ledger builder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/carbon.h"
#include "joule/export.h"
#include "unit/testlib.h"

struct out {
	char *p;
	size_t n;
	FILE *f;
};

static void out_open(struct out *o)
{
	o->p = NULL;
	o->n = 0;
	o->f = open_memstream(&o->p, &o->n);
	assert_non_null(o->f);
}

static char *out_close(struct out *o)
{
	assert_int_equal(fclose(o->f), 0);
	return o->p;
}

/* 2 s, 0.001 kWh of CPU energy at 500 g/kWh: 0.5 g operational + 0.02 g embodied carbon; 4 CPUs, no DRAM domain. */
static struct export_run sample_run(void)
{
	struct export_run r;

	memset(&r, 0, sizeof(r));
	snprintf(r.command, sizeof(r.command), "%s", "make -j4");
	r.wall_ns = 2000000000ull;
	r.start_real_ns = 1767225600000000000ull; /* 2026-01-01T00:00:00Z */
	r.end_real_ns = r.start_real_ns + r.wall_ns;
	r.source = ENERGY_SRC_POWERCAP;
	r.energy_rel_sd = 0.02;
	r.host_cpu_uj = 7200000000ull;
	r.domains = 1u << ENERGY_PACKAGE;
	r.host_domain_uj[ENERGY_PACKAGE] = r.host_cpu_uj;
	r.total.tot.cpu_ns = 3000000000ull;
	r.total.tot.cpu_uj = 3600000000ull;
	r.total.tot.operational_ug = 500000ull;
	r.total.tot.embodied_ug = 20000ull;
	r.total.has_ci = true;
	r.total.ci_lo_ug = 400000ull;
	r.total.ci_hi_ug = 640000ull;
	r.intensity_g_per_kwh = 500;
	snprintf(r.intensity_kind, sizeof(r.intensity_kind), "zone");
	snprintf(r.zone, sizeof(r.zone), "FR");
	r.pue = 1.0;
	r.cpu_count = 4;
	snprintf(r.cpu_model, sizeof(r.cpu_model), "Intel(R) Xeon(R), 2 GHz");
	return r;
}

/* Split one CSV line into fields (RFC 4180 quoting); returns the count. */
static int csv_split(const char *line, char fields[][256], int max)
{
	int n = 0;
	size_t k = 0;
	bool q = false;

	fields[0][0] = '\0';
	for (const char *p = line; *p && *p != '\n'; p++) {
		if (q && *p == '"' && p[1] == '"') {
			fields[n][k++] = '"';
			p++;
		} else if (*p == '"') {
			q = !q;
		} else if (*p == ',' && !q) {
			fields[n][k] = '\0';
			if (++n == max)
				return n;
			k = 0;
		} else if (k < 255) {
			fields[n][k++] = *p;
		}
	}
	fields[n][k] = '\0';
	return n + 1;
}

static int column(const char *name)
{
	char hdr[64][256];
	int n = csv_split(export_codecarbon_header_line(), hdr, 64);

	for (int i = 0; i < n; i++)
		if (strcmp(hdr[i], name) == 0)
			return i;
	fail_msg("no column %s", name);
	return -1;
}

static void test_codecarbon_header_when_compared_with_reference_has_same_columns_in_order(void **state)
{
	FILE *f = fopen("data/codecarbon/emissions_columns.txt", "r");
	char line[256], hdr[64][256];
	int n = csv_split(export_codecarbon_header_line(), hdr, 64), i = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (i >= n)
			fail_msg("reference column %s missing from joule's header", line);
		if (strcmp(hdr[i], line) != 0)
			fail_msg("column %d: joule writes '%s', CodeCarbon '%s'", i, hdr[i], line);
		i++;
	}
	fclose(f);
	if (i != n)
		fail_msg("joule writes %d columns, the reference has %d", n, i);
}

/* The CodeCarbon row of r (options o) split into its fields; their count. */
static int codecarbon_fields(const struct export_run *r, const struct export_opts *o, char f[64][256])
{
	struct out out;
	int n;

	out_open(&out);
	assert_int_equal(export_codecarbon_row(out.f, r, o), 0);
	n = csv_split(out_close(&out), f, 64);
	free(out.p);
	return n;
}

/* A column of a row and the text it must hold. */
struct field_want {
	const char *column, *want;
};

static void assert_fields(char f[64][256], const struct field_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[column(w[i].column)], w[i].want) != 0)
			fail_msg("column %s: '%s', want '%s'", w[i].column, f[column(w[i].column)], w[i].want);
}

static void test_codecarbon_row_when_cpu_only_has_kwh_kg_w_s_and_empty_ram(void **state)
{
	struct export_run r = sample_run();
	struct export_opts o = { .project_name = "proj", .run_id = "r-1", .experiment_id = "e,1" };
	static const struct field_want want[] = {
		{ "timestamp", "2026-01-01T00:00:02" },
		{ "experiment_id", "e,1" },
		{ "duration", "2" },
		{ "cpu_energy", "0.001" }, /* 3.6e9 µJ = 0.001 kWh */
		{ "energy_consumed", "0.001" },
		{ "emissions", "0.0005" }, /* 0.5 g operational, in kg; the embodied part is not in it */
		{ "emissions_rate", "0.00025" },
		{ "cpu_power", "1800" }, /* 3600 J / 2 s */
		{ "ram_energy", "" }, /* no DRAM domain: unknown, not 0 */
		{ "gpu_power", "" },
		{ "country_name", "France" },
		{ "country_iso_code", "" },
		{ "cpu_count", "4" },
		{ "cpu_model", "Intel(R) Xeon(R), 2 GHz" },
		{ "tracking_mode", "process" },
		{ "pue", "1" },
	};
	char f[64][256];
	int n = codecarbon_fields(&r, &o, f);

	if (n != 32)
		fail_msg("row has %d fields, want 32", n);
	assert_fields(f, want, sizeof(want) / sizeof(want[0]));
}

static void test_codecarbon_row_when_dram_measured_sums_cpu_and_ram_energy(void **state)
{
	struct export_run r = sample_run();
	static const struct field_want want[] = {
		{ "ram_energy", "0.0005" },
		{ "ram_power", "900" },
		{ "energy_consumed", "0.0015" },
		{ "project_name", "" },
	};
	char f[64][256];

	r.domains |= 1u << ENERGY_DRAM;
	r.total.tot.mem_uj = 1800000000ull;
	codecarbon_fields(&r, NULL, f);
	assert_fields(f, want, sizeof(want) / sizeof(want[0]));
}

static void test_csv_field_when_special_characters_quotes_per_rfc4180(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "plain" }, { "a,b", "\"a,b\"" }, { "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" }, { "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct out out;

		out_open(&out);
		export_csv_field(out.f, cases[i].in);
		if (strcmp(out_close(&out), cases[i].want) != 0)
			fail_msg("field '%s': got '%s', want '%s'", cases[i].in, out.p, cases[i].want);
		free(out.p);
	}
}

static void test_csv_table_when_two_processes_rows_sum_to_total_row(void **state)
{
	struct export_run r = sample_run();
	struct export_proc p[2] = { { .pid = 10, .ppid = 1, .comm = "a" }, { .pid = 11, .ppid = 10, .comm = "b" } };
	struct out out;
	char *txt, *line2, *line3, *line4;

	p[0].f.tot.cpu_uj = 1000;
	p[1].f.tot.cpu_uj = 2000;
	r.total.tot.cpu_uj = 3000;
	r.procs = p;
	r.nprocs = 2;
	out_open(&out);
	assert_int_equal(export_csv(out.f, &r), 0);
	txt = out_close(&out);
	line2 = strchr(txt, '\n') + 1;
	line3 = strchr(line2, '\n') + 1;
	line4 = strchr(line3, '\n') + 1;
	/* the twelve workload columns at the end are empty: these processes have no labels */
	if (strncmp(line2, "10,1,a,0,1000,1000,0,0,0,0,,,0.000000,,,,,,,,,,,,\n", 50) != 0)
		fail_msg("first process row: %s", line2);
	if (strncmp(line3, "11,10,b,0,2000,2000,0,", 22) != 0)
		fail_msg("second process row: %s", line3);
	if (strncmp(line4, ",,total,3000000000,3000,3000,0,520000,500000,20000,400000,640000,", 65) != 0)
		fail_msg("total row: %s", line4);
	free(txt);
}

static void test_label_parse_when_names_vary_accepts_only_prometheus_names(void **state)
{
	static const struct {
		const char *kv;
		int rc;
	} cases[] = {
		{ "instance=vm1", 0 }, { "_x=", 0 },	     { "a_1=x/y", 0 },   { "job=x", -EINVAL },
		{ "__name=x", -EINVAL }, { "1a=x", -EINVAL }, { "noeq", -EINVAL }, { "a-b=x", -EINVAL },
		{ "=x", -EINVAL },
	};
	struct export_label l;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = export_label_parse(cases[i].kv, &l, err, sizeof(err));

		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d", cases[i].kv, rc, cases[i].rc);
	}
}

static void test_push_path_when_values_need_escaping_uses_pushgateway_rules(void **state)
{
	static const struct {
		const char *job, *name, *value, *want;
	} cases[] = {
		{ "train", "instance", "vm1", "/metrics/job/train/instance/vm1" },
		{ "a/b", "k", "v", "/metrics/job@base64/YS9i/k/v" },
		{ "j", "path", "/var/tmp", "/metrics/job/j/path@base64/L3Zhci90bXA=" },
		{ "j", "empty", "", "/metrics/job/j/empty@base64/=" },
		{ "j", "k", "a b?", "/metrics/job/j/k/a%20b%3F" },
		{ "j", "k", "\xc3\xa9t\xc3\xa9", "/metrics/job/j/k/%C3%A9t%C3%A9" },
		/* base64url: '>' '?' '?' would be "Pj8/" in the standard alphabet */
		{ "j", "k", ">?/", "/metrics/job/j/k@base64/Pj8v" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct export_label l;

		snprintf(l.name, sizeof(l.name), "%s", cases[i].name);
		snprintf(l.value, sizeof(l.value), "%s", cases[i].value);
		assert_int_equal(export_push_path(buf, sizeof(buf), cases[i].job, &l, 1), 0);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("job '%s' %s='%s': got %s, want %s", cases[i].job, cases[i].name, cases[i].value, buf,
				 cases[i].want);
	}
}

static void test_push_path_when_buffer_small_fails_with_enametoolong(void **state)
{
	char buf[16];

	assert_int_equal(export_push_path(buf, sizeof(buf), "a-long-job-name", NULL, 0), -ENAMETOOLONG);
}

static void test_push_body_when_run_has_totals_prints_exact_gauges_in_base_units(void **state)
{
	struct export_run r = sample_run();
	struct out out;
	char *txt;

	out_open(&out);
	assert_int_equal(export_push_body(out.f, &r), 0);
	txt = out_close(&out);
	assert_non_null(strstr(txt, "\njoule_job_energy_joules 3600\n"));
	assert_non_null(strstr(txt, "\njoule_job_carbon_operational_grams 0.5\n"));
	assert_non_null(strstr(txt, "\njoule_job_carbon_embodied_grams 0.02\n"));
	assert_non_null(strstr(txt, "\njoule_job_cpu_seconds 3\n"));
	assert_non_null(strstr(txt, "\njoule_job_duration_seconds 2\n"));
	assert_non_null(strstr(txt, "joule_job_carbon_interval_grams{bound=\"upper\"} 0.64\n"));
	assert_non_null(strstr(txt, "joule_job_info{source=\"powercap\",zone=\"FR\"} 1\n"));
	free(txt);
}

static void test_window_parse_when_forms_vary_gives_bounds_or_error(void **state)
{
	static const struct {
		const char *s;
		int rc;
		bool has_start, has_end;
		uint64_t start_ns, end_ns, last_ns;
	} cases[] = {
		{ "1700000000..1700000060", 0, true, true, 1700000000000000000ull, 1700000060000000000ull, 0 },
		{ "2026-01-01T00:00:00Z..", 0, true, false, 1767225600000000000ull, 0, 0 },
		{ "..2026-01-01T01:00:00+01:00", 0, false, true, 0, 1767225600000000000ull, 0 },
		{ "2026-01-01T00:00:00.25Z..", 0, true, false, 1767225600250000000ull, 0, 0 },
		{ "..", 0, false, false, 0, 0, 0 },
		{ "10m", 0, false, false, 0, 0, 600000000000ull },
		{ "1d", 0, false, false, 0, 0, 86400000000000ull },
		{ "500ms", 0, false, false, 0, 0, 500000000ull },
		{ "", -EINVAL, false, false, 0, 0, 0 },
		{ "soon", -EINVAL, false, false, 0, 0, 0 },
		{ "0s", -EINVAL, false, false, 0, 0, 0 },
		{ "5..3", -EINVAL, false, false, 0, 0, 0 },
		{ "2026-13-01T00:00:00Z..", -EINVAL, false, false, 0, 0, 0 },
		{ "2026-01-01T00:00:00..", -EINVAL, false, false, 0, 0, 0 }, /* no zone: ambiguous */
	};
	struct export_window w;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = export_window_parse(cases[i].s, &w, err, sizeof(err));

		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d (%s)", cases[i].s, rc, cases[i].rc, err);
		if (rc)
			continue;
		if (w.has_start != cases[i].has_start || w.has_end != cases[i].has_end ||
		    (w.has_start && w.start_ns != cases[i].start_ns) || (w.has_end && w.end_ns != cases[i].end_ns) ||
		    w.last_ns != cases[i].last_ns)
			fail_msg("'%s': got start %d/%llu end %d/%llu last %llu", cases[i].s, w.has_start,
				 (unsigned long long)w.start_ns, w.has_end, (unsigned long long)w.end_ns,
				 (unsigned long long)w.last_ns);
	}
}

static void add_line(struct export_builder *b, const char *json)
{
	cJSON *rec = cJSON_Parse(json);
	char err[256];

	assert_non_null(rec);
	if (export_builder_add(b, rec, err, sizeof(err)) != 0)
		fail_msg("record rejected: %s: %s", err, json);
	cJSON_Delete(rec);
}

static void test_builder_when_marked_processes_totals_them_and_keeps_host(void **state)
{
	struct export_builder *b;
	struct export_run r;

	assert_int_equal(export_builder_new(&b), 0);
	add_line(b, "{\"kind\":\"genesis\",\"host_id\":\"abc\",\"ts_end\":\"100\"}");
	add_line(b, "{\"kind\":\"process\",\"pid\":10,\"ppid\":1,\"start_ns\":\"5\",\"comm\":\"make\",\"marked\":true,"
		    "\"cpu_ns\":100,\"cpu_energy_uj\":1000,\"memory_energy_uj\":10,\"energy_uj\":1010,"
		    "\"carbon_ug\":50,\"embodied_ug\":20,\"ts_start\":\"1000\",\"ts_end\":\"2000\"}");
	/* the same process in the next period, with a quantity written as a string (> 2^53 rule) */
	add_line(b, "{\"kind\":\"process\",\"pid\":10,\"ppid\":1,\"start_ns\":\"5\",\"comm\":\"make\",\"marked\":true,"
		    "\"cpu_ns\":\"200\",\"cpu_energy_uj\":2000,\"memory_energy_uj\":20,\"energy_uj\":2020,"
		    "\"carbon_ug\":100,\"embodied_ug\":40,\"ts_start\":\"2000\",\"ts_end\":\"3000\"}");
	/* the same pid reused by another process: a separate row */
	add_line(b, "{\"kind\":\"process\",\"pid\":10,\"ppid\":1,\"start_ns\":\"9\",\"comm\":\"cc\",\"marked\":true,"
		    "\"cpu_ns\":1,\"cpu_energy_uj\":1,\"memory_energy_uj\":0,\"carbon_ug\":0,\"embodied_ug\":0,"
		    "\"ts_start\":\"2000\",\"ts_end\":\"3000\"}");
	add_line(b, "{\"kind\":\"process\",\"pid\":77,\"ppid\":1,\"start_ns\":\"1\",\"comm\":\"sshd\",\"marked\":false,"
		    "\"cpu_ns\":5,\"cpu_energy_uj\":500,\"memory_energy_uj\":0,\"carbon_ug\":9,\"embodied_ug\":1,"
		    "\"ts_start\":\"1000\",\"ts_end\":\"3000\"}");
	add_line(b, "{\"kind\":\"host\",\"cpu_energy_uj\":9000,\"memory_energy_uj\":90,\"carbon_ug\":400,"
		    "\"domains\":{\"package\":9000,\"dram\":90},\"source\":\"powercap\",\"energy_rel_sd\":0.02,\"pue\":1.2,"
		    "\"intensity\":{\"g_per_kwh\":56,\"rel_sd\":0.1,\"kind\":\"zone\",\"zone\":\"FR\",\"year\":2024,"
		    "\"source\":\"em\"},\"ts_start\":\"1000\",\"ts_end\":\"3000\"}");
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_string_equal(export_builder_host_id(b), "abc");
	assert_int_equal(r.nprocs, 2);
	assert_int_equal(r.procs[0].f.tot.cpu_ns, 300);
	assert_int_equal(r.procs[0].f.tot.cpu_uj, 3000);
	assert_int_equal(r.procs[0].f.tot.embodied_ug, 60);
	assert_int_equal(r.procs[0].f.tot.operational_ug, 90);
	assert_int_equal(r.total.tot.cpu_uj, 3001); /* the unmarked sshd is not the command's */
	assert_int_equal(r.total.tot.mem_uj, 30);
	assert_int_equal(r.host_cpu_uj, 9000);
	assert_int_equal(r.host_domain_uj[ENERGY_DRAM], 90);
	assert_int_equal(r.source, ENERGY_SRC_POWERCAP);
	assert_string_equal(r.zone, "FR");
	assert_int_equal(r.wall_ns, 2000); /* no run record: the span of the records */
	assert_false(r.total.has_ci);
	export_builder_free(b);
}

static void test_builder_when_no_marked_process_totals_every_process(void **state)
{
	struct export_builder *b;
	struct export_run r;

	assert_int_equal(export_builder_new(&b), 0);
	add_line(b, "{\"kind\":\"process\",\"pid\":1,\"ppid\":0,\"start_ns\":\"1\",\"comm\":\"a\",\"cpu_ns\":1,"
		    "\"cpu_energy_uj\":7,\"memory_energy_uj\":0,\"carbon_ug\":0,\"embodied_ug\":0,\"ts_end\":\"10\"}");
	add_line(b, "{\"kind\":\"process\",\"pid\":2,\"ppid\":0,\"start_ns\":\"1\",\"comm\":\"b\",\"cpu_ns\":1,"
		    "\"cpu_energy_uj\":5,\"memory_energy_uj\":0,\"carbon_ug\":0,\"embodied_ug\":0,\"ts_end\":\"10\"}");
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_int_equal(r.nprocs, 2);
	assert_int_equal(r.total.tot.cpu_uj, 12);
	export_builder_free(b);
}

static void test_builder_when_member_has_wrong_type_rejects_record(void **state)
{
	struct export_builder *b;
	cJSON *rec = cJSON_Parse("{\"kind\":\"process\",\"pid\":1,\"cpu_ns\":-5}");
	char err[256] = "";

	assert_int_equal(export_builder_new(&b), 0);
	assert_int_equal(export_builder_add(b, rec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "process record"));
	cJSON_Delete(rec);
	export_builder_free(b);
}

static void test_builder_when_only_run_record_without_split_derives_operational(void **state)
{
	struct export_builder *b;
	struct export_run r;
	uint64_t op = carbon_operational_ug(3600000000ull, 500, 1.0);

	assert_int_equal(export_builder_new(&b), 0);
	add_line(b, "{\"kind\":\"run\",\"command\":[\"sleep\",\"1\"],\"exit_status\":3,\"wall_ns\":1000000000,"
		    "\"ts_end\":\"5000000000\",\"source\":\"msr\",\"processes\":[],"
		    "\"total\":{\"cpu_ns\":1,\"cpu_energy_uj\":3600000000,\"memory_energy_uj\":0,\"carbon_ug\":600000000,"
		    "\"carbon_ci_ug\":[1,2]},\"host\":{\"cpu_energy_uj\":3600000000,\"memory_energy_uj\":0},"
		    "\"carbon\":{\"intensity_g_per_kwh\":500,\"pue\":1,\"zone\":\"DE\",\"method\":\"monte_carlo\"}}");
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_string_equal(r.command, "sleep 1");
	assert_int_equal(r.exit_status, 3);
	assert_int_equal(r.total.tot.operational_ug, op);
	assert_int_equal(r.total.tot.operational_ug + r.total.tot.embodied_ug, 600000000ull);
	assert_true(r.total.has_ci);
	assert_int_equal(r.total.ci_hi_ug, 2);
	assert_int_equal(r.start_real_ns, 4000000000ull);
	assert_string_equal(r.method, "monte_carlo");
	export_builder_free(b);
}

static const char boamps_task[] =
	"{\"task\":{\"taskStage\":\"training\",\"taskFamily\":\"x\",\"algorithms\":[{}],"
	"\"dataset\":[{\"dataUsage\":\"input\",\"dataType\":\"text\"}]},\"infrastructure\":{\"infraType\":\"other\"}}";

static void test_boamps_check_input_when_fields_missing_names_them(void **state)
{
	static const struct {
		const char *in, *needle;
	} cases[] = {
		{ "{}", "\"task\"" },
		{ "{\"task\":{\"taskFamily\":\"x\"}}", "task.taskStage" },
		{ "{\"task\":{\"taskStage\":\"t\",\"taskFamily\":\"x\",\"algorithms\":[],\"dataset\":[{}]}}",
		  "task.algorithms" },
		{ "{\"task\":{\"taskStage\":\"t\",\"taskFamily\":\"x\",\"algorithms\":[{}],"
		  "\"dataset\":[{\"dataUsage\":\"in\",\"dataType\":\"text\"}]}}",
		  "not one of input output" },
		{ "{\"task\":{\"taskStage\":\"t\",\"taskFamily\":\"x\",\"algorithms\":[{}],"
		  "\"dataset\":[{\"dataUsage\":\"input\",\"dataType\":\"text\"}]}}",
		  "infraType" },
		{ "{\"measures\":[]}", "joule's own" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *in = cJSON_Parse(cases[i].in);

		err[0] = '\0';
		assert_int_equal(export_boamps_check_input(in, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].needle))
			fail_msg("input %s: error '%s' does not name '%s'", cases[i].in, err, cases[i].needle);
		cJSON_Delete(in);
	}
}

static void test_boamps_quality_when_source_uncertainty_varies_maps_to_class(void **state)
{
	static const struct {
		double rel_sd;
		const char *want;
	} cases[] = { { 0.02, "high" }, { 0.05, "high" }, { 0.1, "medium" }, { 0.3, "low" } };
	cJSON *in = cJSON_Parse(boamps_task);
	struct export_opts o = { .boamps_input = in };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct export_run r = sample_run();
		struct out out;
		char err[256];
		cJSON *rep;

		r.energy_rel_sd = cases[i].rel_sd;
		out_open(&out);
		assert_int_equal(export_boamps(out.f, &r, &o, err, sizeof(err)), 0);
		rep = cJSON_Parse(out_close(&out));
		assert_non_null(rep);
		assert_string_equal(cJSON_GetObjectItem(rep, "quality")->valuestring, cases[i].want);
		assert_float_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "measures"), 0),
						       "powerConsumption")->valuedouble,
				   0.001, 1e-12);
		cJSON_Delete(rep);
		free(out.p);
	}
	cJSON_Delete(in);
}

static void test_sci_when_functional_units_given_divides_operational_plus_embodied(void **state)
{
	struct export_run r = sample_run();
	struct export_opts o = { .functional_units = 4, .functional_unit = "request" };
	struct out out;
	char err[256];
	cJSON *j;

	out_open(&out);
	assert_int_equal(export_sci(out.f, &r, &o, err, sizeof(err)), 0);
	j = cJSON_Parse(out_close(&out));
	assert_float_equal(cJSON_GetObjectItem(j, "sci_g_per_unit")->valuedouble, 0.52 / 4, 1e-12);
	assert_float_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "sci_ci_g_per_unit"), 1)->valuedouble, 0.16, 1e-12);
	cJSON_Delete(j);
	free(out.p);
	o.functional_units = 0;
	out_open(&out);
	assert_int_equal(export_sci(out.f, &r, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--functional-unit"));
	free(out_close(&out));
}

TL_MAIN(
	cmocka_unit_test(test_codecarbon_header_when_compared_with_reference_has_same_columns_in_order),
	cmocka_unit_test(test_codecarbon_row_when_cpu_only_has_kwh_kg_w_s_and_empty_ram),
	cmocka_unit_test(test_codecarbon_row_when_dram_measured_sums_cpu_and_ram_energy),
	cmocka_unit_test(test_csv_field_when_special_characters_quotes_per_rfc4180),
	cmocka_unit_test(test_csv_table_when_two_processes_rows_sum_to_total_row),
	cmocka_unit_test(test_label_parse_when_names_vary_accepts_only_prometheus_names),
	cmocka_unit_test(test_push_path_when_values_need_escaping_uses_pushgateway_rules),
	cmocka_unit_test(test_push_path_when_buffer_small_fails_with_enametoolong),
	cmocka_unit_test(test_push_body_when_run_has_totals_prints_exact_gauges_in_base_units),
	cmocka_unit_test(test_window_parse_when_forms_vary_gives_bounds_or_error),
	cmocka_unit_test(test_builder_when_marked_processes_totals_them_and_keeps_host),
	cmocka_unit_test(test_builder_when_no_marked_process_totals_every_process),
	cmocka_unit_test(test_builder_when_member_has_wrong_type_rejects_record),
	cmocka_unit_test(test_builder_when_only_run_record_without_split_derives_operational),
	cmocka_unit_test(test_boamps_check_input_when_fields_missing_names_them),
	cmocka_unit_test(test_boamps_quality_when_source_uncertainty_varies_maps_to_class),
	cmocka_unit_test(test_sci_when_functional_units_given_divides_operational_plus_embodied)
)
