// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ledger trust and lifecycle: pinned keys, required signatures, checkpoints, one writer per ledger, start records, series order. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/ledger.h"
#include "joule/ledger_chain.h"
#include "joule/ledger_checkpoint.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_series.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"
#include "unit/testlib.h"

static char dir[64];
static char path[128], key[160], other[160];
static unsigned char pk[32], other_pk[32];

static int setup(void **state)
{
	char hex[LEDGER_PUBKEY_HEX + 1];

	strcpy(dir, "/tmp/joule-ltrust-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/l.jsonl", dir);
	snprintf(key, sizeof(key), "%s/k", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	log_level = LOG_LVL_ERR;
	if (ledger_keygen(key, hex) || ledger_pubkey_from_hex(hex, pk) || ledger_keygen(other, hex) ||
	    ledger_pubkey_from_hex(hex, other_pk))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_ledger(const char *key_path, int n)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_NEVER, .key_path = key_path };
	struct ledger *l = NULL;

	assert_int_equal(ledger_open(&l, &o), 0);
	for (int i = 0; i < n; i++) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddStringToObject(r, "kind", "run");
		cJSON_AddNumberToObject(r, "i", i);
		assert_int_equal(ledger_append_record(l, r), 0);
	}
	assert_int_equal(ledger_close(l), 0);
}

static int verify_with(const struct ledger_verify_opts *o, struct ledger_verify_result *r)
{
	const char *files[] = { path };

	return ledger_verify_series(files, 1, o, r);
}

static void test_verify_when_pinned_key_signed_it_expect_ok(void **state)
{
	struct ledger_verify_opts o = { .pinned = true };
	struct ledger_verify_result r;

	write_ledger(key, 5);
	memcpy(o.pubkey, pk, 32);
	assert_int_equal(verify_with(&o, &r), 0);
	assert_true(r.signed_chain);
}

static void test_verify_when_other_key_signed_it_expect_signature_error(void **state)
{
	struct ledger_verify_opts o = { .pinned = true };
	struct ledger_verify_result r;

	write_ledger(other, 5);
	memcpy(o.pubkey, pk, 32);
	assert_int_equal(verify_with(&o, &r), -EBADMSG);
	assert_int_equal(r.err, LEDGER_E_SIGNATURE);
	assert_int_equal(r.line, 1);
	assert_non_null(strstr(r.why, "not by the pinned key"));
}

static void test_verify_when_unsigned_and_signatures_required_expect_signature_error(void **state)
{
	struct ledger_verify_opts o = { .require_signatures = true };
	struct ledger_verify_result r;

	write_ledger(NULL, 3);
	assert_int_equal(ledger_verify_files((const char *const[]){ path }, 1, NULL, &r), 0);
	assert_false(r.signed_chain);
	assert_int_equal(verify_with(&o, &r), -EBADMSG);
	assert_int_equal(r.err, LEDGER_E_SIGNATURE);
}

static void test_checkpoint_when_signed_and_parsed_expect_same_record_and_signer(void **state)
{
	struct ledger_checkpoint cp = { .seq = 41, .ts_ns = 1800000000000000000ULL, .records = 42 }, back;
	struct ledger_key k;
	char *line = NULL, why[200];

	memset(cp.hash, 'a', LEDGER_HASH_HEX);
	assert_int_equal(ledger_key_load(key, &k), 0);
	assert_int_equal(ledger_checkpoint_format(&cp, &k, &line), 0);
	assert_int_equal(ledger_checkpoint_parse(line, strlen(line), pk, &back, why, sizeof(why)), 0);
	assert_int_equal(back.seq, 41);
	assert_string_equal(back.hash, cp.hash);
	assert_true(back.is_signed);
	assert_int_equal(ledger_checkpoint_parse(line, strlen(line), other_pk, &back, why, sizeof(why)), -EBADMSG);
	/* One digit of the seq changed: the signature no longer holds. */
	*strstr(line, "\"seq\":41") = '\0';
	{
		char *edited = NULL;

		assert_true(asprintf(&edited, "%s\"seq\":40%s", line, line + strlen(line) + 8) > 0);
		assert_int_equal(ledger_checkpoint_parse(edited, strlen(edited), NULL, &back, why, sizeof(why)), -EBADMSG);
		assert_non_null(strstr(why, "signature"));
		free(edited);
	}
	ledger_key_wipe(&k);
	free(line);
}

static void test_checkpoint_when_unsigned_and_key_pinned_expect_refused(void **state)
{
	struct ledger_checkpoint cp = { .seq = 1 }, back;
	char *line = NULL, why[200];

	memset(cp.hash, 'b', LEDGER_HASH_HEX);
	assert_int_equal(ledger_checkpoint_format(&cp, NULL, &line), 0);
	assert_int_equal(ledger_checkpoint_parse(line, strlen(line), NULL, &back, why, sizeof(why)), 0);
	assert_false(back.is_signed);
	assert_int_equal(ledger_checkpoint_parse(line, strlen(line), pk, &back, why, sizeof(why)), -EBADMSG);
	free(line);
}

static void test_verify_when_checkpoint_seq_not_in_ledger_expect_missing_records(void **state)
{
	struct ledger_verify_opts o = { .expect_seq_set = true };
	struct ledger_verify_result r;
	char head[LEDGER_HASH_HEX + 1];

	write_ledger(NULL, 3);
	assert_int_equal(verify_with(NULL, &r), 0);
	memcpy(head, r.head_hash, sizeof(head));
	o.expect_head = head;
	o.expect_seq = r.head_seq;
	assert_int_equal(verify_with(&o, &r), 0);
	o.expect_seq = r.head_seq + 1;	/* the right hash at another seq is not the checkpoint's record */
	assert_int_equal(verify_with(&o, &r), -EBADMSG);
	assert_int_equal(r.err, LEDGER_E_HEAD);
}

static void test_open_when_ledger_already_open_expect_ebusy(void **state)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_NEVER };
	struct ledger *a = NULL, *b = NULL;

	assert_int_equal(ledger_open(&a, &o), 0);
	assert_int_equal(ledger_open(&b, &o), -EBUSY);
	assert_null(b);
	assert_int_equal(ledger_close(a), 0);
	assert_int_equal(ledger_open(&b, &o), 0);
	assert_int_equal(ledger_close(b), 0);
}

static void test_open_when_holder_was_killed_expect_lock_free(void **state)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_NEVER };
	struct ledger *l = NULL;
	int fd, status;
	char c;
	pid_t pid;

	pid = tl_fork_reporting(&fd);
	if (pid == 0) {
		if (ledger_open(&l, &o) == 0 && write(fd, "o", 1) == 1)
			pause();
		_exit(1);
	}
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(ledger_open(&l, &o), -EBUSY);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
	assert_int_equal(ledger_open(&l, &o), 0);
	assert_int_equal(ledger_close(l), 0);
}

static int find_start(const cJSON *rec, void *arg)
{
	const cJSON **out = arg;

	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "kind")), "start") == 0)
		*out = cJSON_Duplicate(rec, 1);
	return 0;
}

static void test_open_when_chain_resumed_expect_start_record_naming_last_seq(void **state)
{
	struct ledger_verify_result r;
	const cJSON *start = NULL;

	write_ledger(NULL, 4);	/* genesis + 4: seq 0..4 */
	assert_int_equal(ledger_foreach(path, find_start, &start), 0);
	assert_null(start);
	write_ledger(NULL, 1);
	assert_int_equal(ledger_foreach(path, find_start, &start), 0);
	assert_non_null(start);
	assert_int_equal(cJSON_GetObjectItem(start, "seq")->valuedouble, 5);
	assert_int_equal(cJSON_GetObjectItem(start, "last_seq")->valuedouble, 4);
	assert_int_equal(cJSON_GetObjectItem(start, "pid")->valuedouble, getpid());
	cJSON_Delete((cJSON *)start);
	assert_int_equal(ledger_verify_files((const char *const[]){ path }, 1, NULL, &r), 0);
	assert_int_equal(r.starts, 1);
}

/* Seal a record onto the chain and feed it to the verifier. */
static int seal_and_verify(struct ledger_chain *c, struct ledger_verifier *v, cJSON *rec)
{
	char *line = NULL, hash[LEDGER_HASH_HEX + 1];
	size_t len;
	int err;

	ledger_json_add_ns(rec, "ts_start", 1);
	ledger_json_add_ns(rec, "ts_end", 2);
	assert_int_equal(ledger_chain_seal(c, rec, &line, &len, hash), 0);
	err = ledger_verifier_line(v, line, len - 1);
	ledger_chain_advance(c, hash);
	free(line);
	cJSON_Delete(rec);
	return err;
}

static void test_verify_when_start_record_names_a_later_seq_expect_bad_record(void **state)
{
	struct ledger_chain c;
	struct ledger_verifier v;
	cJSON *g = cJSON_CreateObject(), *st = cJSON_CreateObject();

	ledger_chain_init(&c);
	ledger_verifier_init(&v);
	cJSON_AddStringToObject(g, "kind", "genesis");
	assert_int_equal(seal_and_verify(&c, &v, g), 0);
	cJSON_AddStringToObject(st, "kind", "start");
	cJSON_AddNumberToObject(st, "last_seq", 9);	/* seq 1 cannot follow a run that ended at 9 */
	ledger_json_add_ns(st, "last_ts_end", 1);
	assert_int_equal(seal_and_verify(&c, &v, st), -EBADMSG);
	assert_int_equal(v.err, LEDGER_E_SCHEMA);
	assert_non_null(strstr(v.why, "last_seq"));
}

static void test_records_lost_when_null_ledger_expect_zero(void **state)
{
	assert_int_equal(ledger_records_lost(NULL), 0);
}

static void test_series_expand_when_glob_order_expect_chain_order(void **state)
{
	char *args[] = { "d/l.jsonl", "d/l.jsonl.1.gz", "d/l.jsonl.10.gz", "d/l.jsonl.2", "d/l.jsonl.9.gz" };
	const char *want[] = { "d/l.jsonl.1.gz", "d/l.jsonl.2", "d/l.jsonl.9.gz", "d/l.jsonl.10.gz", "d/l.jsonl" };
	char **out = NULL, why[200];
	int n = 0;

	assert_int_equal(ledger_series_expand(args, 5, &out, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(out[i], want[i]);
	ledger_series_free(out, n);
}

static void test_series_expand_when_files_of_two_ledgers_expect_order_kept(void **state)
{
	char *args[] = { "b.jsonl", "a.jsonl.1" };
	char **out = NULL, why[200];
	int n = 0;

	assert_int_equal(ledger_series_expand(args, 2, &out, &n, why, sizeof(why)), 0);
	assert_string_equal(out[0], "b.jsonl");
	assert_string_equal(out[1], "a.jsonl.1");
	ledger_series_free(out, n);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_verify_when_pinned_key_signed_it_expect_ok),
		T(test_verify_when_other_key_signed_it_expect_signature_error),
		T(test_verify_when_unsigned_and_signatures_required_expect_signature_error),
		T(test_checkpoint_when_signed_and_parsed_expect_same_record_and_signer),
		T(test_checkpoint_when_unsigned_and_key_pinned_expect_refused),
		T(test_verify_when_checkpoint_seq_not_in_ledger_expect_missing_records),
		T(test_open_when_ledger_already_open_expect_ebusy),
		T(test_open_when_holder_was_killed_expect_lock_free),
		T(test_open_when_chain_resumed_expect_start_record_naming_last_seq),
		T(test_verify_when_start_record_names_a_later_seq_expect_bad_record),
		cmocka_unit_test(test_records_lost_when_null_ledger_expect_zero),
		cmocka_unit_test(test_series_expand_when_glob_order_expect_chain_order),
		cmocka_unit_test(test_series_expand_when_files_of_two_ledgers_expect_order_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
