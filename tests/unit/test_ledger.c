// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ledger behaviour on real files: records from samples, chain, recovery, rotation + gzip, signing, queue deferral. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/jcs.h"
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/sampler.h"
#include "joule/util.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	strcpy(dir, "/tmp/joule-ledger-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/l.jsonl", dir);
	log_level = LOG_LVL_ERR;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct ledger *open_ledger(const struct ledger_opts *extra)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_ALWAYS };
	struct ledger *l = NULL;

	if (extra) {
		o = *extra;
		o.path = path;
	}
	assert_int_equal(ledger_open(&l, &o), 0);
	return l;
}

static void append_runs(struct ledger *l, int n)
{
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kind", "run");
		cJSON_AddNumberToObject(o, "i", i);
		cJSON_AddNumberToObject(o, "ratio", 1.0 / (i + 3));
		cJSON_AddStringToObject(o, "note", "caf\xc3\xa9 \xe2\x82\xac");
		assert_int_equal(ledger_append_record(l, o), 0);
	}
}

static void verify_ok(const char *const *files, int n, uint64_t records)
{
	struct ledger_verify_result r;
	int err = ledger_verify_files(files, n, NULL, &r);

	if (err)
		fail_msg("verify failed: %s:%" PRIu64 ": %s: %s", r.file, r.line, ledger_error_name(r.err), r.why);
	if (records)
		assert_int_equal(r.records, records);
}

struct collect {
	int process, host, genesis, run, rotate, exited;
	uint64_t proc_energy_uj, host_energy_uj, idle_energy_uj, proc_cpu_ns;
};

static int collect_cb(const cJSON *rec, void *arg)
{
	struct collect *c = arg;
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "kind"));

	if (strcmp(kind, "process") == 0) {
		c->process++;
		c->proc_energy_uj += (uint64_t)cJSON_GetObjectItem(rec, "energy_uj")->valuedouble;
		c->proc_cpu_ns += (uint64_t)cJSON_GetObjectItem(rec, "cpu_ns")->valuedouble;
		if (cJSON_IsTrue(cJSON_GetObjectItem(rec, "exited")))
			c->exited++;
	} else if (strcmp(kind, "host") == 0) {
		c->host++;
		c->host_energy_uj += (uint64_t)cJSON_GetObjectItem(rec, "energy_uj")->valuedouble;
		c->idle_energy_uj += (uint64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "idle"),
								   "energy_uj")->valuedouble;
	} else if (strcmp(kind, "genesis") == 0) {
		c->genesis++;
	} else if (strcmp(kind, "run") == 0) {
		c->run++;
	} else if (strcmp(kind, "rotate") == 0) {
		c->rotate++;
	}
	return 0;
}

static void collect(const char *file, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(ledger_foreach(file, collect_cb, c), 0);
}

/* A 100 ms tick with three tasks; task 3 exits at tick exit_tick. Energy conserves exactly. */
static void make_sample(struct sample *s, struct sample_task *t, int tick, int exit_tick)
{
	uint64_t t0 = 1763758800ULL * NSEC_PER_SEC + (uint64_t)tick * 100 * NSEC_PER_MSEC;
	int n = 0;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 3; i++) {
		if (i == 2 && tick > exit_tick)
			continue;
		memset(&t[n], 0, sizeof(t[n]));
		t[n].pid = 100 + (uint32_t)i;
		t[n].ppid = 1;
		t[n].start_ns = 5000 + (uint64_t)i;
		snprintf(t[n].comm, sizeof(t[n].comm), "task%d", i);
		t[n].tot.cpu_ns = 10000000ULL * (uint64_t)(i + 1);
		t[n].tot.cpu_uj = 1000 * (uint64_t)(i + 1);
		t[n].tot.mem_uj = 10;
		t[n].tot.carbon_ug = 50;
		t[n].tot.operational_ug = 50;
		t[n].exited = i == 2 && tick == exit_tick;
		n++;
	}
	s->seq = (uint64_t)tick;
	s->real_start_ns = t0;
	s->real_end_ns = t0 + 100 * NSEC_PER_MSEC;
	s->mono_start_ns = 7 * NSEC_PER_SEC + (uint64_t)tick * 100 * NSEC_PER_MSEC;
	s->mono_end_ns = s->mono_start_ns + 100 * NSEC_PER_MSEC;
	s->ntasks = (size_t)n;
	s->tasks = t;
	s->idle.cpu_uj = 4000;
	s->host_cpu_uj = 4000;
	s->host_mem_uj = 0;
	for (int i = 0; i < n; i++) {
		s->host_cpu_uj += t[i].tot.cpu_uj;
		s->host_mem_uj += t[i].tot.mem_uj;
	}
	s->host_domain_uj[ENERGY_PACKAGE] = s->host_cpu_uj;
	s->host_domain_uj[ENERGY_DRAM] = s->host_mem_uj;
	s->domains = (1u << ENERGY_PACKAGE) | (1u << ENERGY_DRAM);
	s->source = ENERGY_SRC_MODEL;
	s->intensity.g_per_kwh = 450;
	s->intensity.kind = "zone";
	s->intensity.zone = "WORLD";
	s->intensity.source = "test";
	s->intensity.year = 2023;
	s->pue = 1.0;
}

static void test_ledger_open_when_new_file_expect_genesis_that_verifies(void **state)
{
	struct ledger *l = open_ledger(NULL);
	const char *files[] = { path };
	struct collect c;

	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 1);
	collect(path, &c);
	assert_int_equal(c.genesis, 1);
}

static void test_ledger_append_when_records_expect_chain_of_canonical_lines(void **state)
{
	struct ledger *l = open_ledger(NULL);
	const char *files[] = { path };
	struct ledger_stats st;

	append_runs(l, 20);
	assert_int_equal(ledger_flush(l), 0);
	ledger_get_stats(l, &st);
	assert_int_equal(st.records, 21);
	assert_int_equal(st.last_seq, 20);
	assert_int_equal(st.synced_seq, 20);
	assert_true(st.syncs >= 1);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 21);
}

static void test_ledger_append_when_record_has_reserved_key_expect_einval(void **state)
{
	struct ledger *l = open_ledger(NULL);
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", "run");
	cJSON_AddStringToObject(o, "hash", "x");
	assert_int_equal(ledger_append_record(l, o), -EINVAL);
	assert_int_equal(ledger_append_record(l, cJSON_CreateObject()), -EINVAL);
	assert_int_equal(ledger_close(l), 0);
}

static void test_ledger_append_when_invalid_utf8_and_nan_expect_repaired_record(void **state)
{
	struct ledger *l = open_ledger(NULL);
	const char *files[] = { path };
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", "run");
	cJSON_AddStringToObject(o, "comm", "bad\xff\xfe");
	cJSON_AddNumberToObject(o, "x", NAN);
	assert_int_equal(ledger_append_record(l, o), 0);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 2);
}

static void test_ledger_json_add_u64_when_above_2p53_expect_string(void **state)
{
	cJSON *o = cJSON_CreateObject();

	ledger_json_add_u64(o, "small", JCS_MAX_SAFE_INT);
	ledger_json_add_u64(o, "big", JCS_MAX_SAFE_INT + 1);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "small")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "big")), "9007199254740993");
	cJSON_Delete(o);
}

static void test_ledger_feed_when_periods_and_exit_expect_records_that_conserve_energy(void **state)
{
	struct ledger_opts o = { .sync = LEDGER_SYNC_INTERVAL, .period_ns = NSEC_PER_SEC };
	struct ledger *l = open_ledger(&o);
	const char *files[] = { path };
	struct sample_task t[3];
	struct sample s;
	uint64_t host = 0, tasks = 0;
	struct collect c;

	/* 35 ticks = 3.5 periods; task 2 exits in tick 12 (second period). */
	for (int tick = 0; tick < 35; tick++) {
		make_sample(&s, t, tick, 12);
		host += s.host_cpu_uj + s.host_mem_uj;
		for (size_t i = 0; i < s.ntasks; i++)
			tasks += t[i].tot.cpu_uj + t[i].tot.mem_uj;
		assert_int_equal(ledger_feed_sample(l, &s), 0);
	}
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 0);
	collect(path, &c);
	/* 3 full periods + the partial one at close: a host record each. */
	assert_int_equal(c.host, 4);
	/* tasks 0 and 1: one record per period (4 each); task 2: period 1 + its exit record. */
	assert_int_equal(c.process, 4 + 4 + 2);
	assert_int_equal(c.exited, 1);
	assert_int_equal(c.host_energy_uj, host);
	assert_int_equal(c.proc_energy_uj, tasks);
	assert_int_equal(c.proc_energy_uj + c.idle_energy_uj, c.host_energy_uj);
}

static void test_ledger_feed_when_exit_expect_record_written_before_period_end(void **state)
{
	struct ledger_opts o = { .sync = LEDGER_SYNC_ALWAYS, .period_ns = 3600 * NSEC_PER_SEC };
	struct ledger *l = open_ledger(&o);
	struct sample_task t[3];
	struct sample s;
	struct collect c;

	for (int tick = 0; tick < 5; tick++) {
		make_sample(&s, t, tick, 2);
		assert_int_equal(ledger_feed_sample(l, &s), 0);
	}
	assert_int_equal(ledger_flush(l), 0);
	collect(path, &c);
	assert_int_equal(c.process, 1);
	assert_int_equal(c.exited, 1);
	assert_int_equal(c.host, 0);
	assert_int_equal(ledger_close(l), 0);
}

static int slow_syncs;
static void slow_on_sync(void *arg, uint64_t seq)
{
	/* Stand-in for a disk that stalls: the writer is stuck here. */
	if (slow_syncs++ < 3)
		usleep(300 * 1000);
}

static void test_ledger_feed_when_writer_stalls_expect_no_block_and_nothing_lost(void **state)
{
	struct ledger_opts o = { .sync = LEDGER_SYNC_ALWAYS, .period_ns = 100 * NSEC_PER_MSEC,
				 .queue_limit = 2, .on_sync = slow_on_sync };
	struct ledger *l;
	const char *files[] = { path };
	struct sample_task t[3];
	struct sample s;
	struct ledger_stats st;
	uint64_t tasks = 0, worst = 0;
	struct collect c;

	slow_syncs = 0;
	l = open_ledger(&o);
	for (int tick = 0; tick < 40; tick++) {
		uint64_t t0 = now_mono_ns(), dt;

		make_sample(&s, t, tick, 1000);
		for (size_t i = 0; i < s.ntasks; i++)
			tasks += t[i].tot.cpu_uj + t[i].tot.mem_uj;
		assert_int_equal(ledger_feed_sample(l, &s), 0);
		dt = now_mono_ns() - t0;
		worst = dt > worst ? dt : worst;
	}
	ledger_get_stats(l, &st);
	assert_true(st.queue_full > 0);
	/* The feeder never waits for the disk: well under one 300 ms stall. */
	if (worst > 50 * NSEC_PER_MSEC)
		fail_msg("feed_sample took %" PRIu64 " ms with a stalled writer", worst / NSEC_PER_MSEC);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 0);
	collect(path, &c);
	assert_int_equal(c.proc_energy_uj, tasks);
}

static void test_ledger_verify_when_torn_tail_expect_torn_error(void **state)
{
	struct ledger *l = open_ledger(NULL);
	const char *files[] = { path };
	struct ledger_verify_result r;
	struct ledger_stats st;
	int fd;

	append_runs(l, 5);
	assert_int_equal(ledger_close(l), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "{\"kind\":\"run\",\"se", 17), 17);
	close(fd);
	assert_int_equal(ledger_verify_files(files, 1, NULL, &r), -EBADMSG);
	assert_int_equal(r.err, LEDGER_E_TORN);
	assert_int_equal(r.line, 7);

	l = open_ledger(NULL);
	ledger_get_stats(l, &st);
	assert_int_equal(st.torn_bytes_cut, 17);
	assert_false(st.started_new_chain);
	append_runs(l, 3);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 9 + 1);	/* + the start record of the second open */
}

static void test_ledger_open_when_tampered_expect_set_aside_and_new_chain(void **state)
{
	struct ledger *l = open_ledger(NULL);
	const char *files[] = { path };
	struct ledger_stats st;
	char buf[8192], broken[256] = "";
	struct collect c;
	ssize_t n;
	int fd;

	append_runs(l, 5);
	assert_int_equal(ledger_close(l), 0);
	fd = open(path, O_RDWR);
	n = read(fd, buf, sizeof(buf));
	assert_true(n > 100);
	buf[n - 30] ^= 1;
	assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
	close(fd);

	l = open_ledger(NULL);
	ledger_get_stats(l, &st);
	assert_true(st.started_new_chain);
	append_runs(l, 1);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 1, 2);
	collect(path, &c);
	assert_int_equal(c.genesis, 1);
	/* The new genesis names the broken file, which is still there, untouched. */
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n] = '\0';
	char *p = strstr(buf, "\"broken_segment\":\"");
	assert_non_null(p);
	sscanf(p + 18, "%255[^\"]", broken);
	snprintf(buf, sizeof(buf), "%s/%s", dir, broken);
	assert_int_equal(access(buf, F_OK), 0);
}

/* A ledger's series of segments: the rotated ones, oldest first, then the active file. */
struct segments {
	char names[8][160];
	const char *files[9];
	int n;
};

/*
 * Append nruns to l and close it, having rotated at least min_rotations
 * times: its segments (path.N<suffix>, each one there, at most max of them).
 */
static void close_rotated(struct ledger *l, int nruns, uint64_t min_rotations, const char *suffix, int max,
			  struct segments *sg)
{
	struct ledger_stats st;

	append_runs(l, nruns);
	assert_int_equal(ledger_flush(l), 0);
	ledger_get_stats(l, &st);
	assert_true(st.rotations >= min_rotations);
	assert_int_equal(ledger_close(l), 0);
	sg->n = 0;
	for (int i = 1; i <= (int)st.rotations && sg->n < max; i++) {
		snprintf(sg->names[sg->n], sizeof(sg->names[0]), "%s.%d%s", path, i, suffix);
		assert_int_equal(access(sg->names[sg->n], F_OK), 0);
		sg->files[sg->n] = sg->names[sg->n];
		sg->n++;
	}
	sg->files[sg->n++] = path;
}

static void test_ledger_rotate_when_size_limit_expect_gzip_series_that_verifies(void **state)
{
	struct ledger_opts o = { .sync = LEDGER_SYNC_INTERVAL, .rotate_bytes = 2000, .compress = true };
	struct segments sg;
	struct collect c;

	close_rotated(open_ledger(&o), 30, 2, ".gz", 7, &sg);
	verify_ok(sg.files, sg.n, 0);
	collect(sg.files[0], &c);
	assert_int_equal(c.rotate, 1);
	/* Out of order, the link check fails. */
	if (sg.n >= 3) {
		const char *swapped[] = { sg.files[1], sg.files[0] };
		struct ledger_verify_result r;

		assert_int_equal(ledger_verify_files(swapped, 2, NULL, &r), -EBADMSG);
		assert_int_equal(r.line, 1);
	}
}

static void test_ledger_open_when_crash_left_only_rotated_segment_expect_new_segment_linked(void **state)
{
	struct ledger *l = open_ledger(NULL);
	char seg[160];
	const char *files[] = { seg, path };

	append_runs(l, 3);
	assert_int_equal(ledger_close(l), 0);
	/* As if rotation crashed after the rename, before the new file existed. */
	snprintf(seg, sizeof(seg), "%s.1", path);
	assert_int_equal(rename(path, seg), 0);
	l = open_ledger(NULL);
	append_runs(l, 2);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(files, 2, 4 + 3 + 1);	/* + the start record: the chain goes on */
}

static void test_ledger_open_when_active_segment_empty_after_rotation_expect_chain_continues(void **state)
{
	struct ledger_opts o = { .sync = LEDGER_SYNC_ALWAYS, .rotate_bytes = 1500 };
	struct ledger *l;
	struct segments sg;

	close_rotated(open_ledger(&o), 20, 3, "", 8, &sg);
	/* As if the rotation crashed after creating the new segment, before its genesis was on disk. */
	assert_int_equal(truncate(path, 0), 0);
	l = open_ledger(&o);
	append_runs(l, 2);
	assert_int_equal(ledger_close(l), 0);
	verify_ok(sg.files, sg.n, 0);
}

static void test_ledger_sign_when_key_expect_signed_chain_and_tamper_of_sig_detected(void **state)
{
	char key[160], pk[65], buf[16384];
	struct ledger_opts o = { .sync = LEDGER_SYNC_ALWAYS };
	struct ledger_verify_result r;
	const char *files[] = { path };
	struct ledger *l = NULL;
	ssize_t n;
	int fd;

	snprintf(key, sizeof(key), "%s/key", dir);
	assert_int_equal(ledger_keygen(key, pk), 0);
	assert_int_equal(ledger_keygen(key, pk), -EEXIST);
	chmod(key, 0644);
	o.path = path;
	o.key_path = key;
	assert_int_equal(ledger_open(&l, &o), -EPERM);
	chmod(key, 0600);
	assert_int_equal(ledger_open(&l, &o), 0);
	append_runs(l, 4);
	assert_int_equal(ledger_close(l), 0);
	assert_int_equal(ledger_verify_files(files, 1, NULL, &r), 0);
	assert_true(r.signed_chain);

	/* Flip one hex digit of the last signature: only the signature check can see it. */
	fd = open(path, O_RDWR);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	buf[n - 1] = '\0';
	char *sig = strstr(strrchr(buf, '\n'), "\"sig\":\"");
	buf[n - 1] = '\n';
	assert_non_null(sig);
	sig[10] = sig[10] == 'a' ? 'b' : 'a';
	assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
	close(fd);
	assert_int_equal(ledger_verify_files(files, 1, NULL, &r), -EBADMSG);
	assert_int_equal(r.err, LEDGER_E_SIGNATURE);
	assert_int_equal(r.line, 5);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ledger_open_when_new_file_expect_genesis_that_verifies),
		T(test_ledger_append_when_records_expect_chain_of_canonical_lines),
		T(test_ledger_append_when_record_has_reserved_key_expect_einval),
		T(test_ledger_append_when_invalid_utf8_and_nan_expect_repaired_record),
		cmocka_unit_test(test_ledger_json_add_u64_when_above_2p53_expect_string),
		T(test_ledger_feed_when_periods_and_exit_expect_records_that_conserve_energy),
		T(test_ledger_feed_when_exit_expect_record_written_before_period_end),
		T(test_ledger_feed_when_writer_stalls_expect_no_block_and_nothing_lost),
		T(test_ledger_verify_when_torn_tail_expect_torn_error),
		T(test_ledger_open_when_tampered_expect_set_aside_and_new_chain),
		T(test_ledger_rotate_when_size_limit_expect_gzip_series_that_verifies),
		T(test_ledger_open_when_crash_left_only_rotated_segment_expect_new_segment_linked),
		T(test_ledger_open_when_active_segment_empty_after_rotation_expect_chain_continues),
		T(test_ledger_sign_when_key_expect_signed_chain_and_tamper_of_sig_detected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
