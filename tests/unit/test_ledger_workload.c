// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Workload labels in ledger process records: present, absent, hostile, a move mid-period, and older ledgers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/export.h"
#include "joule/labels.h"
#include "joule/ledger.h"
#include "joule/ledger_read.h"
#include "joule/ledger_record.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"
#include "testlib.h"

#define TICK_NS 100000000ull
#define REAL0_NS 1796180000000000000ull
#define MONO0_NS 5000000000000ull

/*
 * The labeler a test gives the ledger: pid 100 is labelled `before` until
 * tick `move_at`, `after` from then on; known false: the labeler knows no
 * process (the store did not track it).
 */
struct fake_labeler {
	bool known;
	int tick, move_at;
	struct proc_labels before, after;
};

static int fake_label(void *ctx, const struct sample_task *t, struct proc_labels *out)
{
	struct fake_labeler *f = ctx;

	if (!f->known || t->pid != 100)
		return -ENOENT;
	*out = f->move_at && f->tick >= f->move_at ? f->after : f->before;
	return 0;
}

static void unit_labels(struct proc_labels *l, const char *unit)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->unit, sizeof(l->unit), "%s", unit);
	snprintf(l->slice, sizeof(l->slice), "system.slice");
	l->uid = 0;
	labels_choose_group(l, "burn");
}

/* Tick i: pid 100 "burn" ran 10 ms and was charged 1000 uJ of the host's 3000. */
static void make_sample(struct sample *s, struct sample_task *t, int i)
{
	memset(s, 0, sizeof(*s));
	memset(t, 0, sizeof(*t));
	t->pid = 100;
	t->ppid = 1;
	t->start_ns = 42;
	snprintf(t->comm, sizeof(t->comm), "burn");
	t->tot.cpu_ns = 10000000;
	t->tot.cpu_uj = 1000;
	t->tot.operational_ug = 10;
	t->tot.carbon_ug = 10;
	s->seq = (uint64_t)i + 1;
	s->mono_start_ns = MONO0_NS + (uint64_t)i * TICK_NS;
	s->mono_end_ns = s->mono_start_ns + TICK_NS;
	s->real_start_ns = REAL0_NS + (uint64_t)i * TICK_NS;
	s->real_end_ns = s->real_start_ns + TICK_NS;
	s->ntasks = 1;
	s->tasks = t;
	s->idle.cpu_uj = 2000;
	s->host_cpu_uj = 3000;
	s->source = ENERGY_SRC_MODEL;
	s->intensity = (struct carbon_intensity){ .g_per_kwh = 300, .kind = "fixed", .zone = "", .source = "test" };
	s->pue = 1.0;
}

static void free_items(struct ledger_item_list *li)
{
	while (li->first) {
		struct ledger_item *it = li->first;

		li->first = it->next;
		ledger_item_free(it);
	}
}

static const char *str_member(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double num_member(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key)->valuedouble;
}

/*
 * A period's world (PERIOD_TEST): the fake labeler, the accumulator it labels
 * for, the items taken from it and those items as JSON records. The teardown
 * frees them all, so a failed assertion leaks nothing.
 */
struct period {
	struct fake_labeler f;
	struct ledger_acc a;
	struct ledger_item_list li;
	cJSON *rec[4]; /* li's first items as JSON, in order (take) */
};

static struct period the_period;

static int period_setup(void **state)
{
	struct period *p = &the_period;

	memset(p, 0, sizeof(*p));
	p->a.labeler = fake_label;
	p->a.labeler_ctx = &p->f;
	log_level = LOG_LVL_ERR;
	*state = p;
	return 0;
}

static int period_teardown(void **state)
{
	struct period *p = *state;

	for (size_t i = 0; i < ARRAY_SIZE(p->rec); i++)
		cJSON_Delete(p->rec[i]);
	free_items(&p->li);
	ledger_acc_free(&p->a);
	return 0;
}

#define PERIOD_TEST(f) cmocka_unit_test_setup_teardown(f, period_setup, period_teardown)

/* Feed ticks [0, n) to the accumulator, the fake labeler told each tick. */
static void feed(struct period *p, int n)
{
	struct sample s;
	struct sample_task t;

	for (int i = 0; i < n; i++) {
		p->f.tick = i;
		make_sample(&s, &t, i);
		assert_int_equal(ledger_acc_add(&p->a, &s), 0);
	}
}

/* Take the whole period, which ended with tick n - 1, and its first items as JSON into rec[]. */
static void take(struct period *p, int n)
{
	size_t i = 0;

	assert_int_equal(ledger_acc_take(&p->a, true, REAL0_NS + (uint64_t)n * TICK_NS, &p->li), 0);
	for (struct ledger_item *it = p->li.first; it && i < ARRAY_SIZE(p->rec); it = it->next, i++) {
		p->rec[i] = ledger_item_json(it);
		assert_non_null(p->rec[i]);
	}
}

/* Ticks [0, n) and the whole period taken. */
static void accumulate(struct period *p, int n)
{
	feed(p, n);
	take(p, n);
}

static void test_process_record_when_labels_known_carries_group_and_identity(void **state)
{
	struct period *p = *state;
	const cJSON *o;

	p->f.known = true;
	unit_labels(&p->f.before, "web.service");
	accumulate(p, 3);
	assert_int_equal(p->li.n, 2); /* the process, then the host */
	o = p->rec[0];
	assert_string_equal(str_member(o, "kind"), "process");
	assert_string_equal(str_member(o, "group"), "web.service");
	assert_string_equal(str_member(o, "group_kind"), "unit");
	assert_string_equal(str_member(o, "unit"), "web.service");
	assert_string_equal(str_member(o, "slice"), "system.slice");
	assert_int_equal(num_member(o, "uid"), 0);
	/* names not known are absent, not empty */
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "pod"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "container_id"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "job_id"));
}

static void test_process_record_when_labeler_knows_nothing_has_no_workload_keys(void **state)
{
	struct period *p = *state;
	const char *keys[] = { "group", "group_kind", "unit", "slice", "uid" };

	p->f.known = false;
	accumulate(p, 3);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (cJSON_GetObjectItemCaseSensitive(p->rec[0], keys[i]))
			fail_msg("unknown labels must leave %s out of the record", keys[i]);
	assert_string_equal(str_member(p->rec[0], "comm"), "burn");
}

static void test_acc_when_process_moves_mid_period_splits_record_at_that_tick(void **state)
{
	struct period *p = *state;
	const cJSON *before, *after, *host;
	uint64_t e_before, e_after, e_host, e_idle;

	p->f = (struct fake_labeler){ .known = true, .move_at = 4 };
	unit_labels(&p->f.before, "before.service");
	unit_labels(&p->f.after, "after.service");
	accumulate(p, 10);
	assert_int_equal(p->li.n, 3); /* the record closed by the move, the one after it, the host */
	before = p->rec[0];
	after = p->rec[1];
	host = p->rec[2];
	assert_string_equal(str_member(before, "group"), "before.service");
	assert_string_equal(str_member(after, "group"), "after.service");
	assert_int_equal(num_member(before, "intervals"), 4);
	assert_int_equal(num_member(after, "intervals"), 6);
	/* the record after the move starts where the one before it ended: the tick it moved */
	assert_string_equal(str_member(before, "ts_end"), str_member(after, "ts_start"));
	e_before = (uint64_t)num_member(before, "energy_uj");
	e_after = (uint64_t)num_member(after, "energy_uj");
	e_host = (uint64_t)num_member(host, "energy_uj");
	e_idle = (uint64_t)num_member(cJSON_GetObjectItemCaseSensitive(host, "idle"), "energy_uj");
	assert_int_equal(e_before, 4000);
	assert_int_equal(e_after, 6000);
	if (e_before + e_after + e_idle != e_host)
		fail_msg("the period's records must still sum to the host: %lu + %lu + %lu != %lu",
			 (unsigned long)e_before, (unsigned long)e_after, (unsigned long)e_idle, (unsigned long)e_host);
	assert_int_equal(num_member(host, "processes"), 2);
}

static void test_acc_when_comm_group_changes_by_exec_keeps_one_record(void **state)
{
	struct period *p = *state;

	p->f = (struct fake_labeler){ .known = true, .move_at = 2 };
	labels_from_comm("sh", &p->f.before);
	labels_from_comm("burn", &p->f.after);
	accumulate(p, 5);
	assert_int_equal(p->li.n, 2); /* an exec is no move: one process record, and the host */
	assert_string_equal(str_member(p->rec[0], "group_kind"), "comm");
	assert_string_equal(str_member(p->rec[0], "group"), "burn");
	assert_int_equal(num_member(p->rec[0], "intervals"), 5);
}

static void test_acc_when_queue_full_marks_moved_records_coalesced(void **state)
{
	struct period *p = *state;

	p->f = (struct fake_labeler){ .known = true, .move_at = 1 };
	unit_labels(&p->f.before, "a.service");
	unit_labels(&p->f.after, "b.service");
	feed(p, 3);
	ledger_acc_mark_coalesced(&p->a);
	take(p, 3);
	assert_string_equal(str_member(p->rec[0], "group"), "a.service");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p->rec[0], "coalesced")));
}

/* ---- through the real writer and verifier */

struct found {
	int process;
	char group[512], unit[512];
};

static int find_process(const cJSON *rec, void *arg)
{
	struct found *f = arg;

	if (strcmp(str_member(rec, "kind"), "process") != 0)
		return 0;
	f->process++;
	snprintf(f->group, sizeof(f->group), "%s", str_member(rec, "group") ? str_member(rec, "group") : "");
	snprintf(f->unit, sizeof(f->unit), "%s", str_member(rec, "unit") ? str_member(rec, "unit") : "");
	return 0;
}

static void write_ledger(const char *path, struct fake_labeler *f, int n)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_NEVER, .labeler = fake_label, .labeler_ctx = f };
	struct ledger *l = NULL;
	struct sample s;
	struct sample_task t;

	assert_int_equal(ledger_open(&l, &o), 0);
	for (int i = 0; i < n; i++) {
		f->tick = i;
		make_sample(&s, &t, i);
		assert_int_equal(ledger_feed_sample(l, &s), 0);
	}
	assert_int_equal(ledger_close(l), 0);
}

/* The ledger logs errors only, as in the other ledger tests, so the output holds the tests' own messages. */
static int ledger_setup(void **state)
{
	log_level = LOG_LVL_ERR;
	return tl_setup(state);
}

#define LEDGER_TEST(f) cmocka_unit_test_setup_teardown(f, ledger_setup, tl_teardown)

static void verify_ok(const char *path)
{
	struct ledger_verify_result r;
	const char *files[] = { path };

	if (ledger_verify_files(files, 1, NULL, &r))
		fail_msg("%s must verify: line %lu: %s: %s", path, (unsigned long)r.line, ledger_error_name(r.err), r.why);
}

static void test_ledger_when_labels_hostile_escapes_them_and_verifies(void **state)
{
	/* a unit name is whatever the cgroup's directory is called: quotes, backslashes, controls, bad UTF-8 */
	const char *hostile = "a\"b\\c\nd\x01" "e\xff" "f</script>.service";
	struct fake_labeler f = { .known = true };
	struct found got = { 0 };
	char text[4096];
	FILE *fp;

	(void)state;
	unit_labels(&f.before, hostile);
	write_ledger(tl_path("l.jsonl"), &f, 3);
	verify_ok(tl_path("l.jsonl"));
	fp = fopen(tl_path("l.jsonl"), "r");
	assert_non_null(fp);
	text[fread(text, 1, sizeof(text) - 1, fp)] = '\0';
	fclose(fp);
	/* the canonical escapes, and the bad byte as U+FFFD: one record per line still */
	assert_non_null(strstr(text, "\"unit\":\"a\\\"b\\\\c\\nd\\u0001e\xef\xbf\xbd" "f</script>.service\""));
	assert_int_equal(ledger_foreach(tl_path("l.jsonl"), find_process, &got), 0);
	assert_int_equal(got.process, 1);
	assert_string_equal(got.unit, "a\"b\\c\nd\x01" "e\xef\xbf\xbd" "f</script>.service");
	assert_string_equal(got.group, got.unit);
}

/* The fixture: written by the writer before workload labels (commit 7efac26), 12 records. */
#define BEFORE_LABELS "tests/fixtures/ledger/format1-before-workload.jsonl"

static void test_ledger_when_written_before_labels_still_verifies(void **state)
{
	(void)state;
	verify_ok(BEFORE_LABELS);
}

static void test_ledger_when_written_before_labels_is_reported_without_them(void **state)
{
	struct export_builder *b = NULL;
	struct export_run r;
	char err[256] = "";
	cJSON *recs[16];
	int n = 0;
	FILE *fp = fopen(BEFORE_LABELS, "r");
	char line[4096];

	(void)state;
	assert_non_null(fp);
	while (n < 16 && fgets(line, sizeof(line), fp))
		recs[n++] = cJSON_Parse(line);
	fclose(fp);
	assert_int_equal(n, 12);
	assert_int_equal(export_builder_new(&b), 0);
	export_builder_set_by(b, EXPORT_BY_WORKLOAD);
	for (int i = 0; i < n; i++) {
		if (export_builder_add(b, recs[i], err, sizeof(err)))
			fail_msg("record %d: %s", i, err);
		cJSON_Delete(recs[i]);
	}
	assert_int_equal(export_builder_finish(b, NULL, &r), 0);
	assert_int_equal(r.nprocs, 3);
	for (size_t i = 0; i < r.nprocs; i++)
		if (r.procs[i].has_labels)
			fail_msg("pid %u: a record without labels must give none", r.procs[i].pid);
	/* one row, of every process, with no key: nothing invented */
	assert_int_equal(r.ngroups, 1);
	assert_false(r.groups[0].has_labels);
	assert_int_equal(r.groups[0].processes, 3);
	assert_int_equal(export_energy_uj(&r.groups[0].f), export_energy_uj(&r.total));
	export_builder_free(b);
}

TL_MAIN(
	PERIOD_TEST(test_process_record_when_labels_known_carries_group_and_identity),
	PERIOD_TEST(test_process_record_when_labeler_knows_nothing_has_no_workload_keys),
	PERIOD_TEST(test_acc_when_process_moves_mid_period_splits_record_at_that_tick),
	PERIOD_TEST(test_acc_when_comm_group_changes_by_exec_keeps_one_record),
	PERIOD_TEST(test_acc_when_queue_full_marks_moved_records_coalesced),
	LEDGER_TEST(test_ledger_when_labels_hostile_escapes_them_and_verifies),
	LEDGER_TEST(test_ledger_when_written_before_labels_still_verifies),
	LEDGER_TEST(test_ledger_when_written_before_labels_is_reported_without_them)
)
