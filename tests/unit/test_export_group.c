// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reports per workload or label (--by) from ledger process records with workload labels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/export.h"
#include "testlib.h"

/* A process record: pid, ts_end (s after an epoch), energy, and the labels as JSON members (or ""). */
static cJSON *proc_rec(unsigned pid, unsigned t_s, unsigned energy_uj, const char *labels)
{
	char buf[1024];
	cJSON *o;

	snprintf(buf, sizeof(buf),
		 "{\"kind\":\"process\",\"pid\":%u,\"ppid\":1,\"start_ns\":\"%u\",\"comm\":\"c%u\",\"marked\":false,"
		 "\"exited\":false,\"cpu_ns\":1000,\"energy_uj\":%u,\"cpu_energy_uj\":%u,\"memory_energy_uj\":0,"
		 "\"carbon_ug\":0,\"carbon_operational_ug\":0,\"carbon_embodied_ug\":0,"
		 "\"ts_start\":\"%u000000000\",\"ts_end\":\"%u000000000\"%s%s}",
		 pid, pid * 7, pid, energy_uj, energy_uj, t_s, t_s + 1, labels[0] ? "," : "", labels);
	o = cJSON_Parse(buf);
	if (!o)
		fail_msg("test record does not parse: %s", buf);
	return o;
}

static void add(struct export_builder *b, cJSON *rec)
{
	char err[256] = "";

	if (export_builder_add(b, rec, err, sizeof(err)))
		fail_msg("record refused: %s", err);
	cJSON_Delete(rec);
}

#define UNIT_A "\"group\":\"a.service\",\"group_kind\":\"unit\",\"unit\":\"a.service\",\"slice\":\"system.slice\""
#define UNIT_B "\"group\":\"b.service\",\"group_kind\":\"unit\",\"unit\":\"b.service\",\"slice\":\"system.slice\""

static const struct export_group *row_of(const struct export_run *r, const char *group)
{
	for (size_t i = 0; i < r->ngroups; i++)
		if (r->groups[i].has_labels && strcmp(r->groups[i].labels.group, group) == 0)
			return &r->groups[i];
	return NULL;
}

static struct export_builder *moved_process(enum export_by by)
{
	struct export_builder *b = NULL;

	assert_int_equal(export_builder_new(&b), 0);
	export_builder_set_by(b, by);
	/* pid 10 in a.service for two periods, then moved to b.service; pid 11 always in b.service */
	add(b, proc_rec(10, 100, 300, UNIT_A));
	add(b, proc_rec(10, 160, 200, UNIT_A));
	add(b, proc_rec(10, 220, 50, UNIT_B));
	add(b, proc_rec(11, 100, 1000, UNIT_B));
	return b;
}

static void test_by_workload_when_process_moved_charges_each_group_its_part(void **state)
{
	struct export_builder *b = moved_process(EXPORT_BY_WORKLOAD);
	struct export_run r;
	const struct export_group *a, *bb;

	(void)state;
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_int_equal(r.by, EXPORT_BY_WORKLOAD);
	assert_int_equal(r.ngroups, 2);
	a = row_of(&r, "a.service");
	bb = row_of(&r, "b.service");
	assert_non_null(a);
	assert_non_null(bb);
	assert_int_equal(export_energy_uj(&a->f), 500);
	assert_int_equal(export_energy_uj(&bb->f), 1050);
	assert_int_equal(a->processes, 1);
	assert_int_equal(bb->processes, 2); /* the moved process counts in both */
	assert_string_equal(r.groups[0].labels.group, "b.service"); /* largest energy first */
	assert_string_equal(a->labels.slice, "system.slice");
	export_builder_free(b);
}

static void test_process_table_when_process_moved_has_its_newest_labels(void **state)
{
	struct export_builder *b = moved_process(EXPORT_BY_PROCESS);
	struct export_run r;

	(void)state;
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_int_equal(r.ngroups, 0);
	for (size_t i = 0; i < r.nprocs; i++) {
		assert_true(r.procs[i].has_labels);
		assert_string_equal(r.procs[i].labels.group, "b.service");
		assert_int_equal(r.procs[i].labels.kind, GROUP_UNIT);
	}
	export_builder_free(b);
}

static void test_by_unit_when_some_unlabelled_sums_them_in_one_empty_row(void **state)
{
	struct export_builder *b = NULL;
	struct export_run r;
	const struct export_group *none = NULL;

	(void)state;
	assert_int_equal(export_builder_new(&b), 0);
	export_builder_set_by(b, EXPORT_BY_UNIT);
	add(b, proc_rec(10, 100, 300, UNIT_A));
	add(b, proc_rec(20, 100, 70, ""));
	add(b, proc_rec(21, 100, 30, "\"group\":\"bash\",\"group_kind\":\"comm\""));
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_int_equal(r.ngroups, 2);
	for (size_t i = 0; i < r.ngroups; i++)
		if (!export_label_value(r.groups[i].has_labels ? &r.groups[i].labels : NULL, r.groups[i].comm,
					"unit")[0])
			none = &r.groups[i];
	assert_non_null(none);
	assert_int_equal(none->processes, 2);
	assert_int_equal(export_energy_uj(&none->f), 100);
	export_builder_free(b);
}

static void test_by_pod_when_two_namespaces_share_a_pod_name_keeps_two_rows(void **state)
{
	struct export_builder *b = NULL;
	struct export_run r;

	(void)state;
	assert_int_equal(export_builder_new(&b), 0);
	export_builder_set_by(b, EXPORT_BY_POD);
	add(b, proc_rec(10, 100, 300, "\"group\":\"shop/web\",\"group_kind\":\"pod\",\"namespace\":\"shop\","
					"\"pod\":\"web\",\"pod_uid\":\"u1\""));
	add(b, proc_rec(11, 100, 200, "\"group\":\"blog/web\",\"group_kind\":\"pod\",\"namespace\":\"blog\","
					"\"pod\":\"web\",\"pod_uid\":\"u2\""));
	add(b, proc_rec(12, 100, 100, "\"group\":\"shop/web/app\",\"group_kind\":\"pod\",\"namespace\":\"shop\","
					"\"pod\":\"web\",\"pod_uid\":\"u1\",\"container_name\":\"app\""));
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_int_equal(r.ngroups, 2);
	assert_string_equal(r.groups[0].labels.k8s_namespace, "shop");
	assert_int_equal(export_energy_uj(&r.groups[0].f), 400);
	assert_int_equal(r.groups[0].processes, 2);
	assert_string_equal(r.groups[1].labels.k8s_namespace, "blog");
	export_builder_free(b);
}

static void test_builder_when_label_has_wrong_type_refuses_record(void **state)
{
	const char *bad[] = {
		"\"group_kind\":\"cluster\"",
		"\"group_kind\":7",
		"\"group_kind\":\"unit\",\"unit\":[1]",
		"\"group_kind\":\"unit\",\"group\":{}",
		"\"group_kind\":\"unit\",\"uid\":-1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct export_builder *b = NULL;
		char err[256] = "";
		cJSON *rec = proc_rec(10, 100, 1, bad[i]);

		assert_int_equal(export_builder_new(&b), 0);
		if (export_builder_add(b, rec, err, sizeof(err)) != -EINVAL)
			fail_msg("labels %s must be refused", bad[i]);
		if (!strstr(err, "workload label"))
			fail_msg("labels %s: the error must say which member: %s", bad[i], err);
		cJSON_Delete(rec);
		export_builder_free(b);
	}
}

static void test_csv_when_by_workload_quotes_hostile_group_and_has_no_total_row(void **state)
{
	struct export_builder *b = NULL;
	struct export_run r;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(export_builder_new(&b), 0);
	export_builder_set_by(b, EXPORT_BY_WORKLOAD);
	add(b, proc_rec(10, 100, 300, "\"group\":\"x,\\\"y\\\".service\",\"group_kind\":\"unit\","
					"\"unit\":\"x,\\\"y\\\".service\""));
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(export_csv(f, &r), 0);
	fclose(f);
	assert_non_null(strstr(text, "group_kind,group,namespace,"));
	assert_non_null(strstr(text, "\nunit,\"x,\"\"y\"\".service\",,,,,,,\"x,\"\"y\"\".service\",,,,1,1000,300,"));
	if (strstr(text, "total"))
		fail_msg("a grouped table has no total row (its empty key is the unlabelled row): %s", text);
	free(text);
	export_builder_free(b);
}

static void test_by_names_when_parsed_round_trip(void **state)
{
	enum export_by by;

	(void)state;
	tl_assert_names_round_trip(enum export_by, EXPORT_BY_N, export_by_name, export_by_parse);
	assert_int_equal(export_by_parse("host", &by), -EINVAL);
	assert_null(export_by_columns(EXPORT_BY_PROCESS)[0]);
}

TL_MAIN(
	cmocka_unit_test(test_by_workload_when_process_moved_charges_each_group_its_part),
	cmocka_unit_test(test_process_table_when_process_moved_has_its_newest_labels),
	cmocka_unit_test(test_by_unit_when_some_unlabelled_sums_them_in_one_empty_row),
	cmocka_unit_test(test_by_pod_when_two_namespaces_share_a_pod_name_keeps_two_rows),
	cmocka_unit_test(test_builder_when_label_has_wrong_type_refuses_record),
	cmocka_unit_test(test_csv_when_by_workload_quotes_hostile_group_and_has_no_total_row),
	cmocka_unit_test(test_by_names_when_parsed_round_trip)
)
