// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ledger under a full disk (a tiny tmpfs): rotation that cannot create a file, writes that fail, close that must not hang. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"
#include "unit/testlib.h"

static char dir[64];
static char path[128];
static bool mounted;

/* A tmpfs of our own: the only honest way to run out of inodes or blocks without filling the host. */
static int setup_tmpfs(const char *opts)
{
	strcpy(dir, "/tmp/joule-lfault-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/l.jsonl", dir);
	log_level = LOG_LVL_ERR;
	mounted = mount("tmpfs", dir, "tmpfs", 0, opts) == 0;
	return 0;
}

static int setup_inodes(void **state)
{
	return setup_tmpfs("size=4m,nr_inodes=8");
}

static int setup_blocks(void **state)
{
	return setup_tmpfs("size=256k,nr_inodes=64");
}

static int teardown(void **state)
{
	if (mounted)
		umount2(dir, MNT_DETACH);
	mounted = false;
	rmdir(dir);
	return 0;
}

static void need_tmpfs(void)
{
	if (!mounted) {
		print_message("cannot mount a tmpfs (not root?): skipped\n");
		skip();
	}
}

static void append_runs(struct ledger *l, int n, int base)
{
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kind", "run");
		cJSON_AddNumberToObject(o, "i", base + i);
		cJSON_AddStringToObject(o, "pad", "a line of a couple of hundred bytes so a few records fill a segment ..........");
		assert_int_equal(ledger_append_record(l, o), 0);
	}
}

/* Create files until the filesystem refuses; returns how many. */
static int fill_inodes(void)
{
	char f[160];
	int n = 0;

	for (;; n++) {
		int fd;

		snprintf(f, sizeof(f), "%s/filler%d", dir, n);
		fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			break;
		close(fd);
	}
	return n;
}

static void free_inodes(int n)
{
	char f[160];

	for (int i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "%s/filler%d", dir, i);
		unlink(f);
	}
}

/* Write until ENOSPC. */
static void fill_blocks(void)
{
	char f[160], buf[4096];
	int fd;

	memset(buf, 'x', sizeof(buf));
	snprintf(f, sizeof(f), "%s/filler", dir);
	fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

struct find {
	int gaps, runs;
	uint64_t gap_lost;
	int max_i;
};

static int find_cb(const cJSON *rec, void *arg)
{
	struct find *f = arg;
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "kind"));

	if (strcmp(kind, "gap") == 0) {
		f->gaps++;
		f->gap_lost += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "lost_records"));
	} else if (strcmp(kind, "run") == 0) {
		f->runs++;
		if ((int)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "i")) > f->max_i)
			f->max_i = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "i"));
	}
	return 0;
}

/* The series path.1 .. path.N, path, and what it holds. */
static void verify_series(struct find *f, struct ledger_verify_result *r)
{
	static char names[64][160];
	const char *files[65];
	int n = 0;

	for (int i = 1; i < 64; i++) {
		snprintf(names[n], sizeof(names[n]), "%s.%d", path, i);
		if (access(names[n], F_OK) < 0)
			break;
		files[n] = names[n];
		n++;
	}
	files[n++] = path;
	memset(f, 0, sizeof(*f));
	f->max_i = -1;
	for (int i = 0; i < n; i++)
		assert_int_equal(ledger_foreach(files[i], find_cb, f), 0);
	if (ledger_verify_files(files, n, NULL, r))
		fail_msg("verify failed: %s:%" PRIu64 ": %s: %s", r->file, r->line, ledger_error_name(r->err),
			 r->why);
}

static void test_ledger_rotate_when_new_segment_cannot_be_created_expect_recovery_once_space_is_freed(void **state)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_ALWAYS, .rotate_bytes = 1000 };
	struct ledger_verify_result r;
	struct ledger_stats st;
	struct ledger *l;
	struct find f;
	int fillers;

	need_tmpfs();
	assert_int_equal(ledger_open(&l, &o), 0);
	fillers = fill_inodes();
	assert_true(fillers > 0);
	/* Enough to pass rotate_bytes: the rename works, creating the new segment cannot. */
	append_runs(l, 8, 0);
	assert_int_equal(ledger_flush(l), -EIO);
	ledger_get_stats(l, &st);
	assert_true(st.rotations == 0);
	free_inodes(fillers);
	append_runs(l, 3, 100);
	ledger_flush(l);
	ledger_get_stats(l, &st);
	assert_true(st.rotations >= 1);
	assert_int_equal(ledger_close(l), -EIO);	/* records were lost: close says so */
	verify_series(&f, &r);
	assert_int_equal(f.max_i, 102);
	assert_true(f.runs >= 3);
	assert_int_equal((uint64_t)f.runs + f.gap_lost, 11);
}

static void test_ledger_write_when_disk_full_expect_one_deadline_losses_counted_and_gap_record(void **state)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_ALWAYS };
	struct ledger_verify_result r;
	struct ledger_stats st0, st;
	struct ledger *l;
	struct find f;
	uint64_t t0, took_ms, written;
	char filler[160];

	need_tmpfs();
	assert_int_equal(ledger_open(&l, &o), 0);
	fill_blocks();
	ledger_get_stats(l, &st0);
	t0 = now_mono_ns();
	append_runs(l, 20, 0);
	assert_int_equal(ledger_flush(l), -EIO);
	took_ms = (now_mono_ns() - t0) / NSEC_PER_MSEC;
	print_message("20 records on a full disk: flush after %" PRIu64 " ms\n", took_ms);
	/* One 5 s deadline for the writer, not 5 s per record (that would be 100 s). */
	assert_true(took_ms < 8000);
	/* The ledger's last page still has room for a few lines; the rest must be counted lost. */
	ledger_get_stats(l, &st);
	written = st.records - st0.records;
	assert_true(st.records_lost >= 5);
	assert_int_equal(written + st.records_lost, 20);
	/* What /metrics and /readyz read while the disk is full (issue 18 item 8). */
	assert_int_equal(ledger_records_lost(l), st.records_lost);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	assert_int_equal(unlink(filler), 0);
	append_runs(l, 2, 100);
	ledger_flush(l);
	assert_int_equal(ledger_close(l), -EIO);
	verify_series(&f, &r);
	assert_int_equal(f.gaps, 1);
	assert_int_equal(f.gap_lost, st.records_lost);
	assert_int_equal(f.runs, written + 2);
	assert_int_equal(r.lost_records, st.records_lost);
	assert_int_equal(r.gaps, 1);
	assert_string_equal(r.first_gap_reason, strerror(ENOSPC));
}

static void test_ledger_close_when_disk_full_and_queue_long_expect_prompt_return(void **state)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_NEVER };
	struct ledger_stats st;
	struct ledger *l;
	uint64_t t0, took_ms;

	need_tmpfs();
	assert_int_equal(ledger_open(&l, &o), 0);
	fill_blocks();
	append_runs(l, 500, 0);
	ledger_get_stats(l, &st);
	t0 = now_mono_ns();
	assert_int_equal(ledger_close(l), -EIO);
	took_ms = (now_mono_ns() - t0) / NSEC_PER_MSEC;
	print_message("close with 500 queued records on a full disk: %" PRIu64 " ms\n", took_ms);
	assert_true(took_ms < 6000);
}

TL_MAIN(
	cmocka_unit_test_setup_teardown(test_ledger_rotate_when_new_segment_cannot_be_created_expect_recovery_once_space_is_freed, setup_inodes, teardown),
	cmocka_unit_test_setup_teardown(test_ledger_write_when_disk_full_expect_one_deadline_losses_counted_and_gap_record, setup_blocks, teardown),
	cmocka_unit_test_setup_teardown(test_ledger_close_when_disk_full_and_queue_long_expect_prompt_return, setup_blocks, teardown)
)
