// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: strict value parsing, the CPU list and topology reader, per-process window totals. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "joule/acct.h"
#include "joule/topo.h"
#include "joule/util.h"

static void test_parse_duration_when_units_given_converts_to_ns(void **state)
{
	static const struct {
		const char *in;
		uint64_t ns;
	} ok[] = {
		{ "100ms", 100000000ULL }, { "1.5s", 1500000000ULL }, { "2m", 120000000000ULL },
		{ "1h", 3600000000000ULL }, { "250us", 250000ULL }, { "10ns", 10ULL }, { "3", 3000000000ULL },
		{ "0", 0 },
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		assert_int_equal(parse_duration_ns(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].ns);
	}
}

static void test_parse_duration_when_malformed_is_rejected(void **state)
{
	static const char *const bad[] = { "", "ms", "-1s", "1 s", "1sec", "fast", "1e400s", "1s2", " 1s" };
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_true(parse_duration_ns(bad[i], &v) < 0);
	assert_int_equal(parse_duration_ns("300y", &v), -EINVAL);
	assert_int_equal(parse_duration_ns("999999999999h", &v), -ERANGE);
}

static void test_parse_u64_when_not_all_digits_is_rejected(void **state)
{
	uint64_t v;

	assert_int_equal(parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("12a", &v), -EINVAL);
	assert_int_equal(parse_u64("", &v), -EINVAL);
}

static void test_cpulist_when_ranges_and_singles_sets_mask(void **state)
{
	bool m[16];

	assert_int_equal(topo_parse_cpulist("0-3,8,10-11\n", m, 16), 7);
	assert_true(m[0] && m[3] && m[8] && m[10] && m[11]);
	assert_false(m[4] || m[9] || m[12]);
	assert_int_equal(topo_parse_cpulist("", m, 16), 0);
	assert_int_equal(topo_parse_cpulist("1,1,1", m, 16), 1);
}

static void test_cpulist_when_malformed_or_out_of_range_fails(void **state)
{
	bool m[4];

	assert_int_equal(topo_parse_cpulist("3-1", m, 4), -EINVAL);
	assert_int_equal(topo_parse_cpulist("0,,1", m, 4), -EINVAL);
	assert_int_equal(topo_parse_cpulist("a", m, 4), -EINVAL);
	assert_int_equal(topo_parse_cpulist("0-4", m, 4), -ERANGE);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_topo_load_when_two_packages_and_offline_cpu_maps_them(void **state)
{
	char dir[] = "/tmp/joule-topo-XXXXXX", path[512];
	static const int pkg_of[4] = { 0, 1, 0, 1 };
	struct topo t;

	assert_non_null(mkdtemp(dir));
	write_file(dir, "possible", "0-3\n");
	write_file(dir, "online", "0-2\n"); /* cpu3 is offline */
	for (int c = 0; c < 4; c++) {
		char rel[64], id[8];

		snprintf(path, sizeof(path), "%s/cpu%d", dir, c);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/cpu%d/topology", dir, c);
		mkdir(path, 0755);
		snprintf(rel, sizeof(rel), "cpu%d/topology/physical_package_id", c);
		snprintf(id, sizeof(id), "%d\n", pkg_of[c] * 7); /* physical ids need not be dense */
		write_file(dir, rel, id);
	}
	assert_int_equal(topo_load(&t, dir), 0);
	assert_int_equal(t.ncpu, 4);
	assert_int_equal(t.npkg, 2);
	assert_int_equal(t.cpu_pkg[0], 0);
	assert_int_equal(t.cpu_pkg[1], 1);
	assert_int_equal(t.cpu_pkg[2], 0);
	assert_int_equal(t.cpu_pkg[3], -1);
	assert_int_equal(t.pkg_id[1], 7);
	assert_int_equal(t.pkg_first_cpu[1], 1);
	assert_int_equal(t.pkg_ncpu[0], 2);
	topo_free(&t);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void test_topo_load_when_root_missing_returns_errno(void **state)
{
	struct topo t;

	assert_int_equal(topo_load(&t, "/nonexistent/joule"), -ENOENT);
}

static struct sample_task task(uint32_t pid, uint64_t start, const char *comm, uint64_t ns, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .start_ns = start,
				 .tot = { .cpu_ns = ns, .cpu_uj = uj, .carbon_ug = uj / 10, .operational_ug = uj / 10 } };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

static void test_acct_when_same_process_twice_sums_and_keeps_pid_order(void **state)
{
	struct acct a = { 0 };
	struct sample_task t;

	t = task(30, 5, "c", 10, 100);
	assert_int_equal(acct_add(&a, &t), 0);
	t = task(10, 5, "a", 1, 10);
	assert_int_equal(acct_add(&a, &t), 0);
	t = task(30, 5, "c-renamed", 20, 200);
	assert_int_equal(acct_add(&a, &t), 0);
	t = task(30, 9, "c2", 5, 50); /* same pid, later start: another process */
	assert_int_equal(acct_add(&a, &t), 0);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.v[0].pid, 10);
	assert_int_equal(a.v[1].start_ns, 5);
	assert_int_equal(a.v[1].tot.cpu_ns, 30);
	assert_int_equal(a.v[1].tot.cpu_uj, 300);
	assert_string_equal(a.v[1].comm, "c-renamed");
	assert_non_null(acct_find(&a, 30, 9));
	assert_null(acct_find(&a, 30, 7));
	acct_clear(&a);
	assert_int_equal(a.n, 0);
	acct_free(&a);
}

static void test_acct_drop_exited_keeps_live_processes_in_order(void **state)
{
	struct acct a = { 0 };
	struct sample_task t;

	for (uint32_t pid = 1; pid <= 5; pid++) {
		t = task(pid, 1, "p", 1, 1);
		t.exited = pid % 2 == 0;
		assert_int_equal(acct_add(&a, &t), 0);
	}
	acct_drop_exited(&a);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.v[0].pid, 1);
	assert_int_equal(a.v[1].pid, 3);
	assert_int_equal(a.v[2].pid, 5);
	acct_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration_when_units_given_converts_to_ns),
		cmocka_unit_test(test_parse_duration_when_malformed_is_rejected),
		cmocka_unit_test(test_parse_u64_when_not_all_digits_is_rejected),
		cmocka_unit_test(test_cpulist_when_ranges_and_singles_sets_mask),
		cmocka_unit_test(test_cpulist_when_malformed_or_out_of_range_fails),
		cmocka_unit_test(test_topo_load_when_two_packages_and_offline_cpu_maps_them),
		cmocka_unit_test(test_topo_load_when_root_missing_returns_errno),
		cmocka_unit_test(test_acct_when_same_process_twice_sums_and_keeps_pid_order),
		cmocka_unit_test(test_acct_drop_exited_keeps_live_processes_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
