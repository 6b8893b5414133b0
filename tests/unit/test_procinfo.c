// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for procinfo: cgroup paths of systemd, Docker, containerd, CRI-O and Kubernetes become group labels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/procinfo.h"

#define CID "4e1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef"

static struct proc_labels parse(const char *text)
{
	struct proc_labels l;

	procinfo_parse_cgroup(text, strlen(text), "worker", &l, NULL, 0);
	return l;
}

static void test_cgroup_when_system_service_gives_unit(void **state)
{
	struct proc_labels l = parse("0::/system.slice/nginx.service\n");

	assert_int_equal(l.kind, GROUP_UNIT);
	assert_string_equal(l.group, "nginx.service");
}

static void test_cgroup_when_user_service_gives_innermost_unit(void **state)
{
	struct proc_labels l = parse("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n");

	assert_int_equal(l.kind, GROUP_UNIT);
	assert_string_equal(l.group, "foo.service");
}

static void test_cgroup_when_session_scope_gives_comm(void **state)
{
	struct proc_labels l = parse("0::/user.slice/user-1000.slice/session-3.scope\n");

	assert_int_equal(l.kind, GROUP_COMM);
	assert_string_equal(l.group, "worker");
}

static void test_cgroup_when_docker_systemd_driver_gives_container(void **state)
{
	struct proc_labels l = parse("0::/system.slice/docker-" CID ".scope\n");

	assert_int_equal(l.kind, GROUP_CONTAINER);
	assert_string_equal(l.group, CID);
}

static void test_cgroup_when_docker_cgroupfs_v1_gives_container(void **state)
{
	struct proc_labels l = parse("12:cpu,cpuacct:/docker/" CID "\n1:name=systemd:/docker/" CID "\n");

	assert_int_equal(l.kind, GROUP_CONTAINER);
	assert_string_equal(l.group, CID);
}

static void test_cgroup_when_crio_scope_gives_container(void **state)
{
	struct proc_labels l = parse("0::/machine.slice/crio-" CID ".scope\n");

	assert_int_equal(l.kind, GROUP_CONTAINER);
	assert_string_equal(l.container, CID);
}

static void test_cgroup_when_kubepods_systemd_driver_gives_pod_uid_with_dashes(void **state)
{
	struct proc_labels l = parse("0::/kubepods.slice/kubepods-burstable.slice/"
				     "kubepods-burstable-pod1b2c3d4e_1111_2222_3333_444455556666.slice/"
				     "cri-containerd-" CID ".scope\n");

	assert_int_equal(l.kind, GROUP_POD);
	assert_string_equal(l.group, "1b2c3d4e-1111-2222-3333-444455556666");
	assert_string_equal(l.container, CID);
}

static void test_cgroup_when_kubepods_cgroupfs_driver_gives_pod_uid(void **state)
{
	struct proc_labels l = parse("0::/kubepods/besteffort/pod1b2c3d4e-1111-2222-3333-444455556666/" CID "\n");

	assert_int_equal(l.kind, GROUP_POD);
	assert_string_equal(l.group, "1b2c3d4e-1111-2222-3333-444455556666");
	assert_string_equal(l.container, CID);
}

static void test_cgroup_when_guaranteed_pod_slice_gives_pod_uid(void **state)
{
	struct proc_labels l = parse("0::/kubepods.slice/kubepods-pod1b2c3d4e_1111_2222_3333_444455556666.slice\n");

	assert_int_equal(l.kind, GROUP_POD);
	assert_string_equal(l.group, "1b2c3d4e-1111-2222-3333-444455556666");
}

static void test_cgroup_when_pod_outside_kubepods_is_not_a_pod(void **state)
{
	struct proc_labels l = parse("0::/system.slice/pod1b2c3d4e-1111-2222-3333-444455556666/x.service\n");

	assert_int_equal(l.kind, GROUP_UNIT);
}

static void test_cgroup_when_short_hex_is_not_a_container(void **state)
{
	struct proc_labels l = parse("0::/system.slice/docker-abc123.scope\n");

	assert_int_equal(l.kind, GROUP_COMM);
}

static void test_cgroup_when_empty_or_garbage_gives_comm(void **state)
{
	struct proc_labels l = parse("");

	assert_int_equal(l.kind, GROUP_COMM);
	assert_string_equal(l.group, "worker");
	l = parse("no colons here\n::\n");
	assert_int_equal(l.kind, GROUP_COMM);
	l = parse("0::/.service\n");
	assert_int_equal(l.kind, GROUP_COMM);
}

static void test_cgroup_when_path_buffer_given_copies_v2_path(void **state)
{
	const char *t = "1:name=systemd:/old\n0::/system.slice/sshd.service\n";
	struct proc_labels l;
	char path[64];

	procinfo_parse_cgroup(t, strlen(t), "sshd", &l, path, sizeof(path));
	assert_string_equal(path, "/system.slice/sshd.service");
}

static void test_procinfo_read_when_self_reads_comm_and_uid(void **state)
{
	struct procinfo pi;

	assert_int_equal(procinfo_read(NULL, (uint32_t)getpid(), &pi), 0);
	assert_string_equal(pi.comm, "test_procinfo");
	assert_int_equal(pi.labels.uid, getuid());
	assert_non_null(strstr(pi.cmdline, "test_procinfo"));
	assert_true(pi.cgroup[0] == '/');
	assert_int_equal(procinfo_read(NULL, 0x7ffffff0u, &pi), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_when_system_service_gives_unit),
		cmocka_unit_test(test_cgroup_when_user_service_gives_innermost_unit),
		cmocka_unit_test(test_cgroup_when_session_scope_gives_comm),
		cmocka_unit_test(test_cgroup_when_docker_systemd_driver_gives_container),
		cmocka_unit_test(test_cgroup_when_docker_cgroupfs_v1_gives_container),
		cmocka_unit_test(test_cgroup_when_crio_scope_gives_container),
		cmocka_unit_test(test_cgroup_when_kubepods_systemd_driver_gives_pod_uid_with_dashes),
		cmocka_unit_test(test_cgroup_when_kubepods_cgroupfs_driver_gives_pod_uid),
		cmocka_unit_test(test_cgroup_when_guaranteed_pod_slice_gives_pod_uid),
		cmocka_unit_test(test_cgroup_when_pod_outside_kubepods_is_not_a_pod),
		cmocka_unit_test(test_cgroup_when_short_hex_is_not_a_container),
		cmocka_unit_test(test_cgroup_when_empty_or_garbage_gives_comm),
		cmocka_unit_test(test_cgroup_when_path_buffer_given_copies_v2_path),
		cmocka_unit_test(test_procinfo_read_when_self_reads_comm_and_uid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
