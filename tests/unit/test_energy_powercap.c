// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the powercap source on sysfs-like trees built here (user/energy/powercap.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <sys/wait.h>
#include "joule/energy.h"
#include "joule/util.h"
#include "energy_test_util.h"
#include "unit/testlib.h"


static void test_powercap_reader_maps_domains_packages_and_wraps(void **state)
{
	struct reader rd;
	const char *root = rd.root;

	reader_init(&rd, state, ENERGY_SRC_POWERCAP, "powercap");
	/* nested layout for package 0, flat for package 3, psys top-level, mmio duplicate ignored */
	zone(root, "intel-rapl:0", "package-0", 999999, 1000);
	zone(root, "intel-rapl:0/intel-rapl:0:0", "core", 999999, 500);
	zone(root, "intel-rapl:0/intel-rapl:0:1", "dram", 999999, 10);
	zone(root, "intel-rapl:1", "package-3", 999999, 999000);
	zone(root, "intel-rapl:1:0", "dram", 999999, 0);
	zone(root, "intel-rapl:2", "psys", 999999, 5);
	zone(root, "intel-rapl-mmio:0", "package-0", 999999, 42);
	zone(root, "intel-rapl:3", "package-7", 999999, 42); /* no online CPU: skipped */

	reader_open(&rd);
	assert_int_equal(energy_source_kind(rd.s), ENERGY_SRC_POWERCAP);
	set_uj(root, "intel-rapl:0", 3000);
	set_uj(root, "intel-rapl:0/intel-rapl:0:0", 1500);
	set_uj(root, "intel-rapl:0/intel-rapl:0:1", 30);
	set_uj(root, "intel-rapl:1", 1000); /* wrapped: 999000 → 1000 over a range of 10^6 */
	set_uj(root, "intel-rapl:1:0", 77);
	set_uj(root, "intel-rapl:2", 9005);
	reader_read(&rd);
	assert_int_equal(rd.r.npkg, 2);
	assert_int_equal(rd.r.domains, 1u << ENERGY_PACKAGE | 1u << ENERGY_CORE | 1u << ENERGY_DRAM | 1u << ENERGY_PSYS);
	assert_int_equal(rd.r.uj[0][ENERGY_PACKAGE], 2000);
	assert_int_equal(rd.r.uj[0][ENERGY_CORE], 1000);
	assert_int_equal(rd.r.uj[0][ENERGY_DRAM], 20);
	assert_int_equal(rd.r.uj[1][ENERGY_PACKAGE], 2000);
	assert_int_equal(rd.r.uj[1][ENERGY_DRAM], 77);
	assert_int_equal(rd.r.uj[0][ENERGY_PSYS], 9000);
	assert_int_equal(energy_cpu_uj(&rd.r, 1), 2000);
	assert_int_equal(rd.st.wraps, 1);
	assert_int_equal(rd.st.rejected, 0);
	assert_true(energy_rel_uncertainty(rd.s) < 0.1);
	assert_string_equal(energy_model_basis(rd.s), "");
}

static void test_powercap_reader_rejects_jump_above_plausible(void **state)
{
	struct reader rd;
	const char *root = rd.root;

	reader_init(&rd, state, ENERGY_SRC_POWERCAP, "pc-jump");
	zone(root, "intel-rapl:0", "package-0", 262143328850ULL, 1000);
	reader_open(&rd);
	/* 200 kJ within milliseconds: far above 1 kW × dt */
	set_uj(root, "intel-rapl:0", 200001000ULL * 1000);
	reader_read(&rd);
	assert_int_equal(rd.st.rejected, 1);
	assert_int_equal(rd.r.uj[0][ENERGY_PACKAGE], 0);
	set_uj(root, "intel-rapl:0", 200001000ULL * 1000 + 5);
	reader_read(&rd);
	assert_int_equal(rd.r.uj[0][ENERGY_PACKAGE], 5);
}

static void test_powercap_permission_denied_names_capability(void **state)
{
	struct reader rd;
	const char *root = rd.root;
	char p[600];
	int status;
	pid_t pid;

	reader_init(&rd, state, ENERGY_SRC_POWERCAP, "pc-perm");
	zone(root, "intel-rapl:0", "package-0", 999999, 1000);
	snprintf(p, sizeof(p), "%s/intel-rapl:0/energy_uj", root);
	chmod(p, 0400); /* as the kernel since CVE-2020-8694 */
	chmod(rd.t->dir, 0755);
	/* An unprivileged child (root reads any file): nobody without capabilities. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct energy_source *s;
		int err;

		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(3);
		err = energy_open(&s, &rd.o, rd.why, sizeof(rd.why));
		_exit(err == -EACCES && strstr(rd.why, "CAP_DAC_READ_SEARCH") && strstr(rd.why, "root") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_powercap_empty_root_explains(void **state)
{
	struct reader rd;

	reader_init(&rd, state, ENERGY_SRC_POWERCAP, "no-such-powercap");
	assert_int_equal(reader_open_err(&rd), -ENODEV);
	assert_non_null(strstr(rd.why, "no RAPL zones"));
}

TL_MAIN(
	TREE_TEST(test_powercap_reader_maps_domains_packages_and_wraps),
	TREE_TEST(test_powercap_reader_rejects_jump_above_plausible),
	TREE_TEST(test_powercap_permission_denied_names_capability),
	TREE_TEST(test_powercap_empty_root_explains)
)
