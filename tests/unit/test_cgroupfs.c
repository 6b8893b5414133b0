// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for cgroupfs: the unified hierarchy's line of /proc/PID/cgroup, and the processes of a real cgroup. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/cgroupfs.h"
#include "unit/testlib.h"

static void test_cgroupfs_parse_v2_when_text_varies_takes_only_the_unified_line(void **state)
{
	static const struct {
		const char *what, *text;
		int want;
		const char *path;
	} cases[] = {
		{ "pure v2", "0::/system.slice/app.service\n", 0, "/system.slice/app.service" },
		{ "hybrid: v1 lines first", "12:cpu,cpuacct:/docker/ab\n1:name=systemd:/user.slice\n0::/user.slice/x.scope\n",
		  0, "/user.slice/x.scope" },
		{ "no trailing newline", "0::/a", 0, "/a" },
		{ "the root", "0::/\n", 0, "/" },
		{ "v1 only", "12:cpu:/docker/ab\n1:name=systemd:/system.slice\n", -EOPNOTSUPP, NULL },
		{ "empty", "", -EOPNOTSUPP, NULL },
		{ "a v1 hierarchy 10 is not 0", "10::/x\n", -EOPNOTSUPP, NULL },
		{ "longer than the buffer", "0::/0123456789abcdef0123456789abcdef\n", -ENAMETOOLONG, NULL },
	};
	char path[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cgroupfs_parse_v2(cases[i].text, strlen(cases[i].text), path, sizeof(path));

		if (rc != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].what, rc, cases[i].want);
		if (!rc && strcmp(path, cases[i].path) != 0)
			fail_msg("%s: path '%s', want '%s'", cases[i].what, path, cases[i].path);
	}
}

static void test_cgroupfs_own_path_and_pids_when_read_now_contain_this_process(void **state)
{
	char path[512];
	uint32_t *pids = NULL;
	size_t n = 0;
	int rc;
	bool mine = false;

	(void)state;
	rc = cgroupfs_process_path((uint32_t)getpid(), path, sizeof(path));
	if (rc == -EOPNOTSUPP) {
		print_message("no unified line in /proc/self/cgroup (a v1-only host): skipped\n");
		skip();
	}
	assert_int_equal(rc, 0);
	rc = cgroupfs_pids(path, 1 << 16, &pids, &n);
	if (rc == -EOPNOTSUPP || rc == -EACCES) {
		print_message("no cgroup2 mount of this cgroup namespace: skipped\n");
		skip();
	}
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < n; i++)
		mine |= pids[i] == (uint32_t)getpid();
	free(pids);
	assert_true(mine);
	assert_int_equal(cgroupfs_pids("/joule-no-such-cgroup-here", 16, &pids, &n), -ENOENT);
	assert_int_equal(cgroupfs_pids("/../etc", 16, &pids, &n), -EACCES);
}

TL_MAIN(
	cmocka_unit_test(test_cgroupfs_parse_v2_when_text_varies_takes_only_the_unified_line),
	cmocka_unit_test(test_cgroupfs_own_path_and_pids_when_read_now_contain_this_process)
)
