// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: the CPU list parser and the sysfs topology reader (CPU to package). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "joule/topo.h"
#include "unit/testlib.h"

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

static void write_file(const char *rel, const char *text)
{
	FILE *f = fopen(tl_path(rel), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_topo_load_when_two_packages_and_offline_cpu_maps_them(void **state)
{
	static const int pkg_of[4] = { 0, 1, 0, 1 };
	struct topo t;

	write_file("possible", "0-3\n");
	write_file("online", "0-2\n"); /* cpu3 is offline */
	for (int c = 0; c < 4; c++) {
		char rel[64], id[8];

		snprintf(rel, sizeof(rel), "cpu%d", c);
		assert_int_equal(mkdir(tl_path(rel), 0755), 0);
		snprintf(rel, sizeof(rel), "cpu%d/topology", c);
		assert_int_equal(mkdir(tl_path(rel), 0755), 0);
		snprintf(rel, sizeof(rel), "cpu%d/topology/physical_package_id", c);
		snprintf(id, sizeof(id), "%d\n", pkg_of[c] * 7); /* physical ids need not be dense */
		write_file(rel, id);
	}
	assert_int_equal(topo_load(&t, tl_dir()), 0);
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
}

static void test_topo_load_when_root_missing_returns_errno(void **state)
{
	struct topo t;

	assert_int_equal(topo_load(&t, "/nonexistent/joule"), -ENOENT);
}

TL_MAIN(
	TL_TEST(test_cpulist_when_ranges_and_singles_sets_mask),
	TL_TEST(test_cpulist_when_malformed_or_out_of_range_fails),
	TL_TEST(test_topo_load_when_two_packages_and_offline_cpu_maps_them),
	TL_TEST(test_topo_load_when_root_missing_returns_errno)
)
