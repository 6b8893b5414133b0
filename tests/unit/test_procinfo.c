// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for procinfo: cgroup paths of systemd, Docker, containerd, CRI-O, Podman, Kubernetes and Slurm become labels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/procinfo.h"
#include "unit/testlib.h"

#define CID "4e1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef"
#define UID "1b2c3d4e-1111-2222-3333-444455556666"
#define UID_ "1b2c3d4e_1111_2222_3333_444455556666"

/* One cgroup shape as a runtime writes it, and the labels it must give (NULL: the field stays ""). */
struct cgroup_case {
	const char *what;
	const char *text;
	enum group_kind kind;
	const char *group;
	const char *container, *runtime, *unit, *slice, *pod_uid, *job_id, *job_user;
};

static const struct cgroup_case cases[] = {
	{ "system service gives unit and slice", "0::/system.slice/nginx.service\n", GROUP_UNIT, "nginx.service",
	  .unit = "nginx.service", .slice = "system.slice" },
	{ "user service gives the innermost unit and slice",
	  "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", GROUP_UNIT, "foo.service",
	  .unit = "foo.service", .slice = "app.slice" },
	{ "session scope gives comm", "0::/user.slice/user-1000.slice/session-3.scope\n", GROUP_COMM, "worker",
	  .slice = "user-1000.slice" },
	{ "docker, systemd driver, gives container and runtime", "0::/system.slice/docker-" CID ".scope\n",
	  GROUP_CONTAINER, CID, .container = CID, .runtime = "docker", .slice = "system.slice" },
	{ "docker, cgroupfs v1, gives container and runtime",
	  "12:cpu,cpuacct:/docker/" CID "\n1:name=systemd:/docker/" CID "\n", GROUP_CONTAINER, CID, .container = CID,
	  .runtime = "docker" },
	{ "cri-o scope gives container", "0::/machine.slice/crio-" CID ".scope\n", GROUP_CONTAINER, CID,
	  .container = CID, .runtime = "crio", .slice = "machine.slice" },
	{ "podman (libpod) scope gives container",
	  "0::/machine.slice/libpod-" CID ".scope/container\n", GROUP_CONTAINER, CID, .container = CID,
	  .runtime = "podman", .slice = "machine.slice" },
	{ "hybrid host, runc on cgroupfs v1, gives the v1 path over the unified root",
	  "9:name=systemd:/libpod_parent/libpod-" CID "\n4:memory:/libpod_parent/libpod-" CID "\n0::/\n",
	  GROUP_CONTAINER, CID, .container = CID, .runtime = "podman" },
	{ "kubepods, systemd driver, gives pod uid with dashes",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID
	  ".scope\n",
	  GROUP_POD, UID, .container = CID, .runtime = "containerd", .slice = "kubepods-burstable-pod" UID_ ".slice",
	  .pod_uid = UID },
	{ "kubepods, cgroupfs driver, gives pod uid", "0::/kubepods/besteffort/pod" UID "/" CID "\n", GROUP_POD, UID,
	  .container = CID, .pod_uid = UID },
	{ "guaranteed pod slice gives pod uid", "0::/kubepods.slice/kubepods-pod" UID_ ".slice\n", GROUP_POD, UID,
	  .slice = "kubepods-pod" UID_ ".slice", .pod_uid = UID },
	{ "pod outside kubepods is not a pod", "0::/system.slice/pod" UID "/x.service\n", GROUP_UNIT, "x.service",
	  .unit = "x.service", .slice = "system.slice" },
	{ "short hex is not a container", "0::/system.slice/docker-abc123.scope\n", GROUP_COMM, "worker",
	  .slice = "system.slice" },
	{ "slurm cgroup v1 gives job and uid", "4:cpuset:/slurm/uid_1000/job_4242/step_0\n", GROUP_JOB, "4242",
	  .job_id = "4242", .job_user = "1000" },
	{ "slurm cgroup v2 gives job inside slurmstepd's unit",
	  "0::/system.slice/slurmstepd.scope/job_77/step_batch/user/task_0\n", GROUP_JOB, "77", .job_id = "77",
	  .slice = "system.slice" },
	{ "job_ outside slurm is not a job", "0::/system.slice/job_12.service\n", GROUP_UNIT, "job_12.service",
	  .unit = "job_12.service", .slice = "system.slice" },
	{ "slurm job with a non-numeric id is not a job", "0::/slurm/uid_1000/job_x1/step_0\n", GROUP_COMM, "worker",
	  .job_user = "1000" },
	{ "empty text gives comm", "", GROUP_COMM, "worker", .container = NULL },
	{ "garbage gives comm", "no colons here\n::\n", GROUP_COMM, "worker", .container = NULL },
	{ "a bare .service is no unit", "0::/.service\n", GROUP_COMM, "worker", .container = NULL },
};

static void expect_field(const struct cgroup_case *c, const char *field, const char *got, const char *want)
{
	if (strcmp(got, want ? want : ""))
		fail_msg("%s: %s is '%s', want '%s'", c->what, field, got, want ? want : "");
}

static void test_cgroup_when_runtime_shapes_gives_labels(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cgroup_case *c = &cases[i];
		struct proc_labels l;

		procinfo_parse_cgroup(c->text, strlen(c->text), "worker", &l, NULL, 0);
		if (l.kind != c->kind)
			fail_msg("%s: kind %s, want %s", c->what, group_kind_name(l.kind), group_kind_name(c->kind));
		expect_field(c, "group", l.group, c->group);
		expect_field(c, "container", l.container, c->container);
		expect_field(c, "runtime", l.runtime, c->runtime);
		expect_field(c, "unit", l.unit, c->unit);
		expect_field(c, "slice", l.slice, c->slice);
		expect_field(c, "pod_uid", l.pod_uid, c->pod_uid);
		expect_field(c, "job_id", l.job_id, c->job_id);
		expect_field(c, "job_user", l.job_user, c->job_user);
	}
}

static void test_cgroup_when_path_buffer_given_copies_v2_path(void **state)
{
	const char *t = "1:name=systemd:/old\n0::/system.slice/sshd.service\n";
	struct proc_labels l;
	char path[64];

	(void)state;
	procinfo_parse_cgroup(t, strlen(t), "sshd", &l, path, sizeof(path));
	assert_string_equal(path, "/system.slice/sshd.service");
}

static void test_labels_when_pod_named_groups_by_namespace_pod_and_container(void **state)
{
	struct proc_labels l;

	(void)state;
	labels_from_comm("worker", &l);
	strcpy(l.pod_uid, UID);
	strcpy(l.container, CID);
	labels_choose_group(&l, "worker");
	assert_string_equal(l.group, UID); /* unnamed: the uid */
	strcpy(l.k8s_namespace, "shop");
	strcpy(l.pod, "cart-7d9f");
	labels_choose_group(&l, "worker");
	assert_int_equal(l.kind, GROUP_POD);
	assert_string_equal(l.group, "shop/cart-7d9f");
	strcpy(l.container_name, "app");
	labels_choose_group(&l, "worker");
	assert_string_equal(l.group, "shop/cart-7d9f/app"); /* one group per container of the pod */
}

static void test_labels_when_container_named_groups_by_name(void **state)
{
	struct proc_labels l;

	(void)state;
	labels_from_comm("worker", &l);
	strcpy(l.container, CID);
	strcpy(l.container_name, "web");
	labels_choose_group(&l, "worker");
	assert_int_equal(l.kind, GROUP_CONTAINER);
	assert_string_equal(l.group, "web");
}

static void test_labels_moved_when_comm_to_comm_is_no_move(void **state)
{
	struct proc_labels a, b;

	(void)state;
	labels_from_comm("bash", &a);
	labels_from_comm("make", &b);
	assert_false(labels_moved(&a, &b)); /* an exec is not a move: the first comm group keeps it */
	strcpy(b.unit, "build.service");
	labels_choose_group(&b, "make");
	assert_true(labels_moved(&a, &b));
}

static void test_procinfo_read_when_self_reads_comm_and_uid(void **state)
{
	struct procinfo pi;

	(void)state;
	assert_int_equal(procinfo_read(NULL, (uint32_t)getpid(), &pi), 0);
	assert_string_equal(pi.comm, "test_procinfo");
	assert_int_equal(pi.labels.uid, getuid());
	assert_non_null(strstr(pi.cmdline, "test_procinfo"));
	assert_true(pi.cgroup[0] == '/');
	assert_int_equal(procinfo_read(NULL, 0x7ffffff0u, &pi), -ENOENT);
}

TL_MAIN(
	cmocka_unit_test(test_cgroup_when_runtime_shapes_gives_labels),
	cmocka_unit_test(test_cgroup_when_path_buffer_given_copies_v2_path),
	cmocka_unit_test(test_labels_when_pod_named_groups_by_namespace_pod_and_container),
	cmocka_unit_test(test_labels_when_container_named_groups_by_name),
	cmocka_unit_test(test_labels_moved_when_comm_to_comm_is_no_move),
	cmocka_unit_test(test_procinfo_read_when_self_reads_comm_and_uid)
)
