// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tamper matrix on a 50-line ledger: every byte flipped, every line deleted/swapped/duplicated, every truncation. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "unit/testlib.h"

#define NLINES 50

static char *orig;
static size_t orig_len;
static size_t line_start[NLINES + 1]; /* line_start[NLINES] == orig_len */
static char head[LEDGER_HASH_HEX + 1];
/*
 * Verifier state after each intact line: the verifier is a pure function of
 * the bytes so far, so resuming from snap[k-1] over a buffer whose first k-1
 * lines are the original ones gives exactly the from-scratch answer (checked
 * on a sample below) at a fraction of the cost.
 */
static struct ledger_verifier snap[NLINES + 1];

/* Build the ledger with the real writer, then keep its bytes. */
static int setup(void **state)
{
	char path[PATH_MAX];
	struct ledger_opts o = { .sync = LEDGER_SYNC_NEVER };
	struct ledger_verify_result r;
	const char *files[1];
	struct ledger *l;
	int n = 0;

	log_level = LOG_LVL_ERR;
	if (tl_setup(NULL)) /* under $TMPDIR, removed by the teardown even when setup fails half-way */
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/t.jsonl", tl_dir()) >= sizeof(path))
		return -1;
	o.path = path;
	if (ledger_open(&l, &o))
		return -1;
	for (int i = 0; i < NLINES - 1; i++) {
		cJSON *rec = cJSON_CreateObject(), *d = cJSON_CreateObject();

		cJSON_AddStringToObject(rec, "kind", i % 7 == 3 ? "process" : "run");
		ledger_json_add_u64(rec, "pid", 1000 + (uint64_t)i);
		ledger_json_add_u64(rec, "energy_uj", 123456789ULL * (uint64_t)(i + 1));
		cJSON_AddNumberToObject(rec, "allocation_ratio", (i + 1) / 97.0);
		cJSON_AddStringToObject(rec, "comm", i % 2 ? "stress-ng-cpu" : "caf\xc3\xa9\xe2\x82\xac\"q\\");
		ledger_json_add_u64(d, "package", (uint64_t)i * 1000);
		cJSON_AddItemToObject(rec, "domains", d);
		if (ledger_append_record(l, rec))
			return -1;
	}
	if (ledger_close(l))
		return -1;
	orig = tl_read_file(path, 1 << 20, &orig_len);
	if (!orig)
		return -1;
	for (size_t i = 0; i < orig_len; i++)
		if (i == 0 || orig[i - 1] == '\n')
			line_start[n++] = i;
	line_start[n] = orig_len;
	files[0] = path;
	if (n != NLINES || ledger_verify_files(files, 1, NULL, &r) || r.records != NLINES)
		return -1;
	memcpy(head, r.head_hash, sizeof(head));
	ledger_verifier_init(&snap[0]);
	for (int k = 1; k <= NLINES; k++) {
		snap[k] = snap[k - 1];
		if (ledger_verifier_buf(&snap[k], orig + line_start[k - 1], line_start[k] - line_start[k - 1]))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	free(orig);
	return tl_teardown(NULL);
}

static int line_of(size_t off)
{
	int k = 0;

	while (k < NLINES && line_start[k + 1] <= off)
		k++;
	return k + 1;
}

/* Verify a buffer from scratch; returns 0 or the 1-based line of the first error. */
static uint64_t verify_mem(const char *buf, size_t len, const char *expect, struct ledger_verifier *v)
{
	ledger_verifier_init(v);
	v->expect_head = expect;
	if (ledger_verifier_buf(v, buf, len))
		return v->line;
	if (expect && !v->head_seen)
		return v->line + 1;
	return 0;
}

/* Same as verify_mem for a buffer whose lines before `line` are untouched. */
static uint64_t verify_from(int line, const char *buf, size_t len, const char *expect, struct ledger_verifier *v)
{
	*v = snap[line - 1];
	v->expect_head = expect;
	v->head_seen = false;
	if (line > 1 && len == line_start[line - 1]) {
		/* Nothing after the intact prefix. */
	} else if (ledger_verifier_buf(v, buf + line_start[line - 1], len - line_start[line - 1])) {
		return v->line;
	}
	if (expect && !v->head_seen)
		return v->line + 1;
	return 0;
}

static void test_tamper_when_each_byte_flipped_expect_detected_at_its_line(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x20, 0xff };
	char *buf = malloc(orig_len);
	struct ledger_verifier v;
	unsigned tried = 0;

	for (size_t m = 0; m < sizeof(masks); m++) {
		for (size_t i = 0; i < orig_len; i++) {
			uint64_t bad;

			memcpy(buf, orig, orig_len);
			buf[i] ^= (char)masks[m];
			bad = verify_from(line_of(i), buf, orig_len, NULL, &v);
			tried++;
			if (i % 97 == 0) {
				struct ledger_verifier w;

				assert_int_equal(verify_mem(buf, orig_len, NULL, &w), bad);
			}
			if (bad != (uint64_t)line_of(i))
				fail_msg("byte %zu ^ 0x%02x (line %d): %s at line %" PRIu64, i, masks[m],
					 line_of(i), bad ? ledger_error_name(v.err) : "NOT DETECTED", bad);
		}
	}
	print_message("flipped %u bytes × masks: 100%% detected at the right line\n", tried);
	free(buf);
}

static void test_tamper_when_each_line_deleted_expect_detected_or_valid_shorter(void **state)
{
	char *buf = malloc(orig_len);
	struct ledger_verifier v;

	for (int k = 1; k <= NLINES; k++) {
		size_t a = line_start[k - 1], b = line_start[k], len = orig_len - (b - a);
		uint64_t bad;

		memcpy(buf, orig, a);
		memcpy(buf + a, orig + b, orig_len - b);
		bad = verify_mem(buf, len, NULL, &v);
		if (k < NLINES && bad != (uint64_t)k)
			fail_msg("line %d deleted: reported line %" PRIu64, k, bad);
		if (k == NLINES) {
			/* Cutting the last line leaves a valid, shorter ledger: only a known head can tell. */
			assert_int_equal(bad, 0);
			assert_int_equal(v.records, NLINES - 1);
			bad = verify_mem(buf, len, head, &v);
			assert_int_equal(bad, NLINES);
		}
	}
	free(buf);
}

static void test_tamper_when_adjacent_lines_swapped_expect_first_of_pair(void **state)
{
	char *buf = malloc(orig_len);
	struct ledger_verifier v;

	for (int k = 1; k < NLINES; k++) {
		size_t a = line_start[k - 1], b = line_start[k], c = line_start[k + 1];
		uint64_t bad;

		memcpy(buf, orig, orig_len);
		memcpy(buf + a, orig + b, c - b);
		memcpy(buf + a + (c - b), orig + a, b - a);
		bad = verify_mem(buf, orig_len, NULL, &v);
		if (bad != (uint64_t)k)
			fail_msg("lines %d/%d swapped: reported line %" PRIu64, k, k + 1, bad);
	}
	free(buf);
}

static void test_tamper_when_line_duplicated_expect_the_copy(void **state)
{
	char *buf = malloc(2 * orig_len);
	struct ledger_verifier v;

	for (int k = 1; k <= NLINES; k++) {
		size_t b = line_start[k], n = line_start[k] - line_start[k - 1];
		uint64_t bad;

		memcpy(buf, orig, b);
		memcpy(buf + b, orig + line_start[k - 1], n);
		memcpy(buf + b + n, orig + b, orig_len - b);
		bad = verify_mem(buf, orig_len + n, NULL, &v);
		if (bad != (uint64_t)k + 1)
			fail_msg("line %d duplicated: reported line %" PRIu64, k, bad);
	}
	free(buf);
}

static void test_tamper_when_truncated_at_every_offset_expect_torn_or_valid_prefix(void **state)
{
	struct ledger_verifier v;
	unsigned boundaries = 0;

	for (size_t off = 0; off < orig_len; off++) {
		int k = line_of(off);
		bool boundary = off == line_start[k - 1];
		uint64_t bad = off ? verify_from(k, orig, off, NULL, &v) : verify_mem(orig, off, NULL, &v);

		if (off == 0) {
			assert_int_equal(bad, 1);
			assert_int_equal(v.err, LEDGER_E_EMPTY);
		} else if (boundary) {
			/* A whole-line prefix is a valid ledger of k-1 records... */
			if (bad != 0 || v.records != (uint64_t)k - 1)
				fail_msg("cut at line boundary %d: %s", k, ledger_error_name(v.err));
			/* ...and is caught as soon as the head it should reach is known. */
			bad = verify_from(k, orig, off, head, &v);
			if (bad != (uint64_t)k || v.err != LEDGER_OK)
				fail_msg("cut before line %d with --head: reported %" PRIu64, k, bad);
			boundaries++;
		} else if (bad != (uint64_t)k || v.err != LEDGER_E_TORN) {
			fail_msg("cut at %zu (line %d): reported line %" PRIu64 " (%s)", off, k, bad,
				 ledger_error_name(v.err));
		}
	}
	assert_int_equal(boundaries, NLINES - 1);
}

static void test_tamper_when_untouched_expect_valid_with_head(void **state)
{
	struct ledger_verifier v;

	assert_int_equal(verify_mem(orig, orig_len, head, &v), 0);
	assert_int_equal(v.records, NLINES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tamper_when_untouched_expect_valid_with_head),
		cmocka_unit_test(test_tamper_when_each_byte_flipped_expect_detected_at_its_line),
		cmocka_unit_test(test_tamper_when_each_line_deleted_expect_detected_or_valid_shorter),
		cmocka_unit_test(test_tamper_when_adjacent_lines_swapped_expect_first_of_pair),
		cmocka_unit_test(test_tamper_when_line_duplicated_expect_the_copy),
		cmocka_unit_test(test_tamper_when_truncated_at_every_offset_expect_torn_or_valid_prefix),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
