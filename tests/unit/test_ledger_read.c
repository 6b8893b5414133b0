// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ledger reader: damaged gzip is an error with a reason, directories and FIFOs are refused at once, odd lines are safe. */
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
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include "joule/ledger.h"
#include "joule/ledger_read.h"
#include "joule/ledger_segment.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "unit/testlib.h"

static char dir[64];
static char path[128], gz[160];
static unsigned char *gzdata;
static size_t gzlen;

/* A real ledger of 40 records from the writer, and its gzip (as rotation writes it) in memory. */
static int setup(void **state)
{
	struct ledger_opts o = { .sync = LEDGER_SYNC_NEVER };
	struct ledger *l = NULL;

	strcpy(dir, "/tmp/joule-lread-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/l.jsonl", dir);
	snprintf(gz, sizeof(gz), "%s/l.jsonl.1.gz", dir);
	log_level = LOG_LVL_ERR;
	o.path = path;
	if (ledger_open(&l, &o))
		return -1;
	for (int i = 0; i < 39; i++) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddStringToObject(r, "kind", "run");
		cJSON_AddNumberToObject(r, "i", i);
		if (ledger_append_record(l, r))
			return -1;
	}
	if (ledger_close(l) || ledger_gzip_file(path, gz))
		return -1;
	gzdata = tl_read_file(gz, 1 << 20, &gzlen);
	if (!gzdata)
		return -1;
	alarm(60);	/* a reader that blocks (a FIFO) fails the test instead of hanging the suite */
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	alarm(0);
	free(gzdata);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_bytes(const char *p, const void *buf, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Verify one file; the error it must give (LEDGER_OK: must pass) and a word of the reason. */
static void expect_verify(const char *p, enum ledger_error want, const char *word)
{
	const char *files[] = { p };
	struct ledger_verify_result r;
	int err = ledger_verify_files(files, 1, NULL, &r);

	if (want == LEDGER_OK) {
		if (err)
			fail_msg("%s should verify: line %" PRIu64 ": %s: %s", p, r.line, ledger_error_name(r.err), r.why);
		return;
	}
	if (err == 0)
		fail_msg("%s verified although it should fail with '%s'", p, ledger_error_name(want));
	if (r.err != want)
		fail_msg("%s: got '%s' (%s), want '%s'", p, ledger_error_name(r.err), r.why, ledger_error_name(want));
	if (word && !strstr(r.why, word))
		fail_msg("%s: the reason '%s' does not say '%s'", p, r.why, word);
}

static void test_verify_when_gzip_intact_expect_ok(void **state)
{
	expect_verify(gz, LEDGER_OK, NULL);
}

/* Issue 18 item 4: the reason was read from memory gzclose had freed (ASan: heap-use-after-free). */
static void test_verify_when_gzip_crc_flipped_expect_bad_gzip_with_reason(void **state)
{
	gzdata[gzlen - 8] ^= 0xff;	/* first byte of the trailer's CRC-32 */
	write_bytes(gz, gzdata, gzlen);
	expect_verify(gz, LEDGER_E_GZIP, "incorrect data check");
}

static void test_verify_when_gzip_without_trailer_expect_bad_gzip(void **state)
{
	write_bytes(gz, gzdata, gzlen - 8);
	expect_verify(gz, LEDGER_E_GZIP, "truncated");
}

static void test_verify_when_gzip_has_junk_after_end_expect_bad_gzip(void **state)
{
	memcpy(gzdata + gzlen, "junk\n", 5);
	write_bytes(gz, gzdata, gzlen + 5);
	expect_verify(gz, LEDGER_E_GZIP, "after the end");
}

/* Issue 18 item 5: a stream cut at a full-flush point decodes to whole lines and used to pass as shorter. */
static void test_verify_when_gzip_cut_at_full_flush_point_expect_bad_gzip(void **state)
{
	char *plain = malloc(1 << 20), *out = malloc(1 << 20);
	FILE *f = fopen(path, "rb");
	size_t n, cut = 0;
	int lines = 0;
	z_stream z = { 0 };

	assert_non_null(f);
	n = fread(plain, 1, 1 << 20, f);
	fclose(f);
	while (cut < n && lines < 20)
		if (plain[cut++] == '\n')
			lines++;
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)plain;
	z.avail_in = (uInt)cut;
	z.next_out = (unsigned char *)out;
	z.avail_out = 1 << 20;
	assert_int_equal(deflate(&z, Z_FULL_FLUSH), Z_OK);
	write_bytes(gz, out, (1 << 20) - z.avail_out);
	deflateEnd(&z);
	expect_verify(gz, LEDGER_E_GZIP, "truncated");
	free(plain);
	free(out);
}

static void test_verify_when_two_gzip_members_expect_both_decoded_as_one_file(void **state)
{
	memcpy(gzdata + gzlen, gzdata, gzlen);	/* the same chain twice: decodes, and then fails as a chain */
	write_bytes(gz, gzdata, 2 * gzlen);
	expect_verify(gz, LEDGER_E_GENESIS, "genesis in the middle");
}

static void test_verify_when_directory_expect_read_error_naming_it(void **state)
{
	char d[160];

	snprintf(d, sizeof(d), "%s/d.jsonl", dir);
	assert_int_equal(mkdir(d, 0755), 0);
	expect_verify(d, LEDGER_E_IO, "directory");
}

static void test_verify_when_fifo_expect_prompt_read_error(void **state)
{
	char f[160];

	snprintf(f, sizeof(f), "%s/f.jsonl", dir);
	assert_int_equal(mkfifo(f, 0600), 0);
	expect_verify(f, LEDGER_E_IO, "FIFO");
}

static int count_line(void *arg, const char *line, size_t len, enum ledger_line_state state)
{
	int *n = arg;

	if (state == LEDGER_LINE && len == 0 && line)
		n[0]++;
	n[1]++;
	return 0;
}

/* UBSan: an empty first line once meant memcpy(NULL, src, 0). */
static void test_read_lines_when_first_line_empty_expect_empty_line(void **state)
{
	int n[2] = { 0, 0 };
	char why[128];

	write_bytes(path, "\n\n{}\n", 5);
	assert_int_equal(ledger_read_lines(path, count_line, n, why, sizeof(why)), 0);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 3);
}

static int count_rec(const cJSON *rec, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_foreach_when_many_bad_lines_expect_ebadmsg_and_the_good_ones(void **state)
{
	FILE *f = fopen(path, "a");
	int n = 0;

	assert_non_null(f);
	for (int i = 0; i < 5000; i++)
		fputs("x\n", f);
	fclose(f);
	assert_int_equal(ledger_foreach(path, count_rec, &n), -EBADMSG);
	assert_int_equal(n, 40);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_verify_when_gzip_intact_expect_ok),
		T(test_verify_when_gzip_crc_flipped_expect_bad_gzip_with_reason),
		T(test_verify_when_gzip_without_trailer_expect_bad_gzip),
		T(test_verify_when_gzip_has_junk_after_end_expect_bad_gzip),
		T(test_verify_when_gzip_cut_at_full_flush_point_expect_bad_gzip),
		T(test_verify_when_two_gzip_members_expect_both_decoded_as_one_file),
		T(test_verify_when_directory_expect_read_error_naming_it),
		T(test_verify_when_fifo_expect_prompt_read_error),
		T(test_read_lines_when_first_line_empty_expect_empty_line),
		T(test_foreach_when_many_bad_lines_expect_ebadmsg_and_the_good_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
