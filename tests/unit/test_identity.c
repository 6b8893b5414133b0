// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for workload identity: runtime state parsers, and resolution against fixture state trees and a fake /proc. */
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
#include "joule/identity.h"
#include "joule/labels.h"
#include "energy_test_util.h"
#include "unit/testlib.h"

#define CID "4e1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef"
#define CID2 "9a8b7c6d5e4f30211203a4b5c6d7e8f90123456789abcdef0123456789abcdef"
#define UID "1b2c3d4e-1111-2222-3333-444455556666"
#define UID_ "1b2c3d4e_1111_2222_3333_444455556666"

static struct proc_labels empty(void)
{
	struct proc_labels l;

	labels_from_comm("worker", &l);
	return l;
}

/* ---- parsers ---- */

/* Docker's config.v2.json: what each shape of it gives (a name taken only when it is a safe label value). */
static void test_docker_config_when_parsed_gives_the_name_and_pod_it_holds(void **state)
{
	static const struct {
		const char *what, *json;
		int rc;
		const char *container_name, *pod, *k8s_namespace;
	} cases[] = {
		{ "a plain name loses its slash", "{\"ID\":\"" CID "\",\"Name\":\"/web-1\",\"Config\":{\"Labels\":{}}}", 0,
		  "web-1", "", "" },
		{ "dockershim labels give the pod identity",
		  "{\"Name\":\"/k8s_app_cart-7d9f_shop_" UID "_0\",\"Config\":{\"Labels\":{"
		  "\"io.kubernetes.pod.namespace\":\"shop\",\"io.kubernetes.pod.name\":\"cart-7d9f\","
		  "\"io.kubernetes.container.name\":\"app\"}}}",
		  0, "app", "cart-7d9f", "shop" },
		{ "truncated JSON is invalid", "{\"ID\":\"" CID "\",\"Name\":\"/we", -EINVAL, "", "", "" },
		/* quotes and newlines are no container name */
		{ "a hostile name is not taken", "{\"Name\":\"/x\\\"} 1\\njoule_fake{a=\\\"b\"}", 0, "", "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_labels l = empty();
		int rc = identity_parse_docker_config(cases[i].json, strlen(cases[i].json), &l);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].what, rc, cases[i].rc);
		if (strcmp(l.container_name, cases[i].container_name) || strcmp(l.pod, cases[i].pod) ||
		    strcmp(l.k8s_namespace, cases[i].k8s_namespace))
			fail_msg("%s: container '%s' pod '%s' namespace '%s', want '%s' '%s' '%s'", cases[i].what,
				 l.container_name, l.pod, l.k8s_namespace, cases[i].container_name, cases[i].pod,
				 cases[i].k8s_namespace);
	}
}

static void test_storage_containers_when_podman_and_crio_gives_names(void **state)
{
	const char *j = "[{\"id\":\"" CID "\",\"names\":[\"db\"],\"image\":\"x\"},"
			"{\"id\":\"" CID2 "\",\"names\":[\"k8s_app_cart-7d9f_shop_" UID "_1\"]}]";
	struct proc_labels a = empty(), b = empty();

	(void)state;
	assert_int_equal(identity_parse_storage_containers(j, strlen(j), CID, &a), 0);
	assert_string_equal(a.container_name, "db");
	assert_int_equal(identity_parse_storage_containers(j, strlen(j), CID2, &b), 0);
	assert_string_equal(b.container_name, "app");
	assert_string_equal(b.pod, "cart-7d9f");
	assert_string_equal(b.k8s_namespace, "shop");
}

static void test_storage_containers_when_absent_or_not_a_list_says_so(void **state)
{
	const char *j = "[{\"id\":\"" CID2 "\",\"names\":[\"db\"]}]";
	struct proc_labels l = empty();

	(void)state;
	assert_int_equal(identity_parse_storage_containers(j, strlen(j), CID, &l), -ENOENT);
	assert_int_equal(identity_parse_storage_containers("{}", 2, CID, &l), -EINVAL);
	assert_int_equal(identity_parse_storage_containers("[{\"id\":", 7, CID, &l), -EINVAL);
}

static void test_pod_dir_when_kubelet_name_gives_namespace_and_pod(void **state)
{
	struct proc_labels l = empty();

	(void)state;
	assert_int_equal(identity_parse_pod_dir("shop_cart-7d9f_" UID, UID, &l), 0);
	assert_string_equal(l.k8s_namespace, "shop");
	assert_string_equal(l.pod, "cart-7d9f");
	assert_int_equal(identity_parse_pod_dir("shop_cart_" UID "x", UID, &l), -ENOENT);
	assert_int_equal(identity_parse_pod_dir("_" UID, UID, &l), -ENOENT);
}

static void test_container_log_when_kubelet_link_gives_container_name(void **state)
{
	struct proc_labels l = empty();

	(void)state;
	assert_int_equal(identity_parse_container_log("cart-7d9f_shop_app-" CID ".log", CID, &l), 0);
	assert_string_equal(l.container_name, "app");
	assert_string_equal(l.pod, "cart-7d9f");
	assert_string_equal(l.k8s_namespace, "shop");
	assert_int_equal(identity_parse_container_log("cart-7d9f_shop_app-" CID2 ".log", CID, &l), -ENOENT);
}

/* ---- resolution against trees built here ---- */

struct world {
	char dir[256];
	char proc[300], docker[300], storage[300], pods[300], logs[300];
	struct identity *id;
	int saved_stderr;
	char errfile[320];
};

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct identity_opts o;

	if (!w || tl_setup_into(w->dir, sizeof(w->dir)))
		return -1;
	snprintf(w->proc, sizeof(w->proc), "%s/proc", w->dir);
	snprintf(w->docker, sizeof(w->docker), "%s/docker", w->dir);
	snprintf(w->storage, sizeof(w->storage), "%s/storage", w->dir);
	snprintf(w->pods, sizeof(w->pods), "%s/pods", w->dir);
	snprintf(w->logs, sizeof(w->logs), "%s/containers", w->dir);
	t_mkdirs(w->pods);
	t_mkdirs(w->logs);
	o = (struct identity_opts){ .proc_root = w->proc, .docker_root = w->docker, .storage_root = w->storage,
				    .pod_logs_root = w->pods, .container_logs_root = w->logs };
	if (identity_open(&w->id, &o))
		return -1;
	/* the warnings go to a file, so a test can count them */
	snprintf(w->errfile, sizeof(w->errfile), "%s/stderr", w->dir);
	fflush(stderr);
	w->saved_stderr = dup(2);
	if (!freopen(w->errfile, "w", stderr))
		return -1;
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char line[2048];
	FILE *f;

	fflush(stderr);
	dup2(w->saved_stderr, 2);
	close(w->saved_stderr);
	/* cmocka reports a failure on stderr too: hand on all but joule's own (expected) warnings */
	f = fopen(w->errfile, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "joule: ", 7))
			fputs(line, stderr);
	if (f)
		fclose(f);
	identity_close(w->id);
	free(w);
	return tl_teardown(NULL);
}

/* A process of the fake /proc in this cgroup. */
static void proc_in(struct world *w, unsigned pid, const char *cgroup)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%u/comm", w->proc, pid);
	t_write(p, "worker\n");
	snprintf(p, sizeof(p), "%s/%u/cgroup", w->proc, pid);
	t_write(p, "0::%s\n", cgroup);
	snprintf(p, sizeof(p), "%s/%u/status", w->proc, pid);
	t_write(p, "Name:\tworker\nUid:\t0\t0\t0\t0\n");
}

static int warnings(struct world *w, const char *needle)
{
	char line[2048];
	int n = 0;
	FILE *f;

	fflush(stderr);
	f = fopen(w->errfile, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* A process of the fake /proc in this cgroup, labelled into l (the labelling must succeed). */
static void label_in(struct world *w, unsigned pid, const char *cgroup, struct proc_labels *l)
{
	proc_in(w, pid, cgroup);
	assert_int_equal(identity_label(w->id, pid, "worker", l), 0);
}

/* The labels chose group kind and name. */
static void assert_group(const struct proc_labels *l, enum group_kind kind, const char *group)
{
	if (l->kind != kind || strcmp(l->group, group) != 0)
		fail_msg("labelled %s '%s', want %s '%s'", group_kind_name(l->kind), l->group, group_kind_name(kind), group);
}

static void test_identity_when_docker_state_gives_container_name(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	t_write_at(w->docker, "containers/" CID "/config.v2.json", "{\"ID\":\"" CID "\",\"Name\":\"/web-1\"}");
	label_in(w, 100, "/system.slice/docker-" CID ".scope", &l);
	assert_group(&l, GROUP_CONTAINER, "web-1");
	assert_string_equal(l.container, CID);
	assert_string_equal(l.runtime, "docker");
	assert_int_equal(l.uid, 0);
}

static void test_identity_when_podman_state_gives_container_name(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	t_write_at(w->storage, "overlay-containers/containers.json", "[{\"id\":\"" CID "\",\"names\":[\"db\"]}]");
	label_in(w, 101, "/machine.slice/libpod-" CID ".scope/container", &l);
	assert_group(&l, GROUP_CONTAINER, "db");
	assert_string_equal(l.runtime, "podman");
}

static void test_identity_when_kubelet_logs_give_pod_and_container(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	t_write_at(w->pods, "shop_cart-7d9f_" UID "/app/0.log", "log\n");
	t_write_at(w->logs, "cart-7d9f_shop_app-" CID ".log", "link\n");
	label_in(w, 102, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			".slice/cri-containerd-" CID ".scope", &l);
	assert_group(&l, GROUP_POD, "shop/cart-7d9f/app");
	assert_string_equal(l.k8s_namespace, "shop");
	assert_string_equal(l.pod, "cart-7d9f");
	assert_string_equal(l.container_name, "app");
	assert_string_equal(l.pod_uid, UID);
	assert_int_equal(warnings(w, "labelled by what is known"), 0);
}

static void test_identity_when_state_missing_keeps_id_and_warns_once(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	proc_in(w, 103, "/system.slice/docker-" CID ".scope");
	proc_in(w, 104, "/system.slice/docker-" CID ".scope");
	assert_int_equal(identity_label(w->id, 103, "worker", &l), 0);
	assert_group(&l, GROUP_CONTAINER, CID);
	assert_int_equal(identity_label(w->id, 104, "worker", &l), 0);
	assert_string_equal(l.group, CID);
	assert_int_equal(warnings(w, "labelled by what is known"), 1);
	assert_int_equal(warnings(w, "config.v2.json"), 1);
}

/* A container id as runtimes make them: 64 random-looking hex digits (splitmix64 of i, four times). */
static void random_id(uint64_t i, char id[65])
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	for (int k = 0; k < 4; k++)
		snprintf(id + 16 * k, 17, "%016llx", (unsigned long long)z);
}

/* A few dozen containers share a host: each one's missing state is still said once, however their cgroups
 * fall in the cache (a direct-mapped cache made two that share a slot evict each other at every tick). */
static void test_identity_when_many_containers_lack_state_warns_once_each(void **state)
{
	enum { N = 100, ROUNDS = 3 };
	struct world *w = *state;
	struct proc_labels l;
	char cg[128], id[65];

	for (unsigned i = 0; i < N; i++) {
		random_id(i, id);
		snprintf(cg, sizeof(cg), "/system.slice/docker-%s.scope", id);
		proc_in(w, 1000 + i, cg);
	}
	for (int r = 0; r < ROUNDS; r++)
		for (unsigned i = 0; i < N; i++) {
			assert_int_equal(identity_label(w->id, 1000 + i, "worker", &l), 0);
			assert_int_equal(l.kind, GROUP_CONTAINER);
		}
	for (unsigned i = 0; i < N; i++) {
		random_id(i, id);
		if (warnings(w, id) != 1)
			fail_msg("container %u (%.12s) warned %d times over %d rounds, want once", i, id, warnings(w, id),
				 ROUNDS);
	}
}

static void test_identity_when_state_truncated_or_hostile_keeps_id(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	t_write_at(w->docker, "containers/" CID "/config.v2.json", "{\"ID\":\"" CID "\",\"Na");
	t_write_at(w->docker, "containers/" CID2 "/config.v2.json", "{\"Name\":\"/a\\\"b\\nc\"}");
	proc_in(w, 105, "/system.slice/docker-" CID ".scope");
	proc_in(w, 106, "/system.slice/docker-" CID2 ".scope");
	assert_int_equal(identity_label(w->id, 105, "worker", &l), 0);
	assert_string_equal(l.group, CID);
	assert_int_equal(identity_label(w->id, 106, "worker", &l), 0);
	assert_string_equal(l.group, CID2);
	assert_string_equal(l.container_name, "");
	assert_int_equal(warnings(w, "truncated or corrupt"), 1);
}

static void test_identity_when_pod_logs_missing_keeps_pod_uid(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	label_in(w, 107, "/kubepods/besteffort/pod" UID "/" CID, &l);
	assert_group(&l, GROUP_POD, UID);
	assert_int_equal(warnings(w, "labelled by what is known"), 1);
}

static void test_identity_when_slurm_job_gives_job_and_user(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	label_in(w, 108, "/slurm/uid_0/job_4242/step_0", &l);
	assert_group(&l, GROUP_JOB, "4242");
	assert_string_equal(l.job_id, "4242");
	assert_string_equal(l.job_user, "root"); /* uid 0 by name */
}

static void test_identity_refresh_when_moved_relabels_once(void **state)
{
	struct world *w = *state;
	struct proc_labels l;

	proc_in(w, 109, "/user.slice/user-0.slice/session-1.scope");
	assert_int_equal(identity_label(w->id, 109, "bash", &l), 0);
	assert_group(&l, GROUP_COMM, "bash");
	assert_int_equal(identity_refresh(w->id, 109, "bash", &l), 0);
	t_write_at(w->proc, "109/cgroup", "0::/system.slice/build.service\n");
	assert_int_equal(identity_refresh(w->id, 109, "bash", &l), 1);
	assert_group(&l, GROUP_UNIT, "build.service");
	assert_int_equal(l.uid, 0);
	assert_int_equal(identity_refresh(w->id, 109, "bash", &l), 0);
	/* gone: nothing to refresh, labels stand */
	assert_int_equal(identity_refresh(w->id, 9999, "bash", &l), 0);
	assert_string_equal(l.group, "build.service");
}

static void test_host_identity_when_read_has_boot_id(void **state)
{
	struct host_identity h;

	(void)state;
	identity_host_read(&h);
	assert_true(h.hostname[0] != '\0');
	assert_int_equal(strlen(h.boot_id), 36); /* a UUID, on every Linux */
}

#define W(t) cmocka_unit_test_setup_teardown(t, world_setup, world_teardown)

TL_MAIN(
	cmocka_unit_test(test_docker_config_when_parsed_gives_the_name_and_pod_it_holds),
	cmocka_unit_test(test_storage_containers_when_podman_and_crio_gives_names),
	cmocka_unit_test(test_storage_containers_when_absent_or_not_a_list_says_so),
	cmocka_unit_test(test_pod_dir_when_kubelet_name_gives_namespace_and_pod),
	cmocka_unit_test(test_container_log_when_kubelet_link_gives_container_name),
	W(test_identity_when_docker_state_gives_container_name),
	W(test_identity_when_podman_state_gives_container_name),
	W(test_identity_when_kubelet_logs_give_pod_and_container),
	W(test_identity_when_state_missing_keeps_id_and_warns_once),
	W(test_identity_when_state_truncated_or_hostile_keeps_id),
	W(test_identity_when_pod_logs_missing_keeps_pod_uid),
	W(test_identity_when_many_containers_lack_state_warns_once_each),
	W(test_identity_when_slurm_job_gives_job_and_user),
	W(test_identity_refresh_when_moved_relabels_once),
	cmocka_unit_test(test_host_identity_when_read_has_boot_id)
)
