// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the identity parts of /metrics: workload labels on group series and joule_host_info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/metrics.h"
#include "joule/store.h"
#include "joule/util.h"
#include "unit/testlib.h"

#define UID "1b2c3d4e-1111-2222-3333-444455556666"

/* A pod whose namespace, pod and container names are known, as identity_label gives them. */
static int pod_labeler(void *ctx, uint32_t pid, const char *comm, struct proc_labels *l)
{
	(void)ctx;
	(void)pid;
	labels_from_comm(comm, l);
	strcpy(l->pod_uid, UID);
	strcpy(l->k8s_namespace, "shop");
	strcpy(l->pod, "cart-7d9f");
	strcpy(l->container_name, "app");
	strcpy(l->runtime, "containerd");
	labels_choose_group(l, comm);
	return 0;
}

static char *render(struct store *s, const struct metrics_self *self)
{
	struct textbuf b = { 0 };
	char *text;

	assert_int_equal(metrics_render(s, self, METRICS_TEXT, &b), 0);
	text = strndup(b.p, b.len);
	textbuf_free(&b);
	return text;
}

static struct store *one_pod_sample(void)
{
	struct store_cfg cfg = { .labeler = pod_labeler };
	struct sample_task t = { .pid = 42, .ppid = 1, .start_ns = 1,
				 .tot = { .cpu_ns = NSEC_PER_MSEC, .cpu_uj = 5000 } };
	struct sample smp = { .seq = 1, .ntasks = 1, .tasks = &t, .source = ENERGY_SRC_MODEL };
	struct store *s;

	strcpy(t.comm, "nginx");
	smp.mono_end_ns = 100 * NSEC_PER_MSEC;
	smp.real_start_ns = 1700000000ULL * NSEC_PER_SEC;
	smp.real_end_ns = smp.real_start_ns + smp.mono_end_ns;
	smp.host_cpu_uj = 5000;
	smp.domains = 1u << ENERGY_PACKAGE;
	smp.host_domain_uj[ENERGY_PACKAGE] = 5000;
	assert_int_equal(store_open(&s, &cfg), 0);
	assert_int_equal(store_add_sample(s, &smp), 0);
	return s;
}

static void test_group_series_when_pod_named_carry_namespace_pod_container(void **state)
{
	struct store *s = one_pod_sample();
	char *text = render(s, NULL), *line;

	(void)state;
	line = strstr(text, "joule_group_energy_joules_total{group=\"shop/cart-7d9f/app\"");
	assert_non_null(line);
	*strchr(line, '\n') = '\0';
	assert_non_null(strstr(line, "group_kind=\"pod\""));
	assert_non_null(strstr(line, "namespace=\"shop\""));
	assert_non_null(strstr(line, "pod=\"cart-7d9f\""));
	assert_non_null(strstr(line, "pod_uid=\"" UID "\""));
	assert_non_null(strstr(line, "container=\"app\""));
	assert_non_null(strstr(line, "runtime=\"containerd\""));
	assert_null(strstr(line, "job_id=")); /* unknown names are no labels */
	free(text);
	store_close(s);
}

static void test_host_info_when_given_is_one_series_with_every_label(void **state)
{
	struct host_identity h = { .hostname = "node-7", .machine_id = "3d1219c7c4c5404aaa1f6d2a48adfda4",
				   .boot_id = "f6435d80-95cc-47f9-bd3e-e80e030ab231" };
	struct metrics_self self = { .host = &h };
	struct store *s = one_pod_sample();
	char *text = render(s, &self);

	(void)state;
	assert_non_null(strstr(text, "\njoule_host_info{hostname=\"node-7\",machine_id=\"3d1219c7c4c5404aaa1f6d2a48adfda4\","
				     "boot_id=\"f6435d80-95cc-47f9-bd3e-e80e030ab231\",source=\"model\"} 1\n"));
	assert_non_null(strstr(text, "# TYPE joule_host_info gauge\n"));
	free(text);
	store_close(s);
}

static void test_host_info_when_hostname_hostile_is_escaped(void **state)
{
	struct host_identity h = { .hostname = "a\"b\\c\nd" };
	struct textbuf b = { 0 };
	char *text;

	(void)state;
	metrics_host_info(&b, &h, "powercap");
	text = strndup(b.p, b.len);
	assert_non_null(strstr(text, "hostname=\"a\\\"b\\\\c\\nd\""));
	free(text);
	textbuf_free(&b);
}

static void test_host_info_when_not_given_is_absent(void **state)
{
	struct store *s = one_pod_sample();
	char *text = render(s, NULL);

	(void)state;
	assert_null(strstr(text, "joule_host_info"));
	free(text);
	store_close(s);
}

TL_MAIN(
	cmocka_unit_test(test_group_series_when_pod_named_carry_namespace_pod_container),
	cmocka_unit_test(test_host_info_when_given_is_one_series_with_every_label),
	cmocka_unit_test(test_host_info_when_hostname_hostile_is_escaped),
	cmocka_unit_test(test_host_info_when_not_given_is_absent)
)
