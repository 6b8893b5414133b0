// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Crash test: kill -9 a heavy writer (sync=always) at 50 random moments; recovery must verify and keep every synced record. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"
#include "unit/testlib.h"

#define KILLS 50
#define MAX_DELAY_US 120000	/* kill within 0..120 ms of fork: spans open/recovery and steady writing */

static int sync_fd = -1;

/* Runs on the writer thread after fdatasync() returned: tell the parent what is durable. */
static void report_synced(void *arg, uint64_t seq)
{
	ssize_t n = write(sync_fd, &seq, sizeof(seq));

	(void)n;
}

static void writer_child(const char *path)
{
	struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_ALWAYS, .on_sync = report_synced };
	struct ledger *l;
	struct ledger_stats st;

	log_level = LOG_LVL_ERR;
	if (ledger_open(&l, &o))
		_exit(3);
	for (uint64_t i = 0;; i++) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddStringToObject(r, "kind", "run");
		ledger_json_add_u64(r, "i", i);
		cJSON_AddStringToObject(r, "pad", "padding so lines are a few hundred bytes long, "
					"which makes a kill in the middle of a write() more likely .....");
		ledger_append_record(l, r);
		/* Keep the queue short so the run measures the disk path, not memory. */
		ledger_get_stats(l, &st);
		while (st.queue_depth > 64) {
			usleep(200);
			ledger_get_stats(l, &st);
		}
	}
}

static void test_ledger_crash_when_killed_50_times_expect_verified_and_synced_records_kept(void **state)
{
	char dir[] = "/tmp/joule-crash-XXXXXX", path[96], cmd[128];
	uint64_t seed = (uint64_t)time(NULL), total_synced = 0, torn = 0, kills_mid_write = 0;
	uint64_t start = now_mono_ns();
	const char *files[1];

	log_level = LOG_LVL_ERR;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/crash.jsonl", dir);
	files[0] = path;
	srandom((unsigned)seed);
	for (int k = 0; k < KILLS; k++) {
		struct ledger_verify_result r;
		struct ledger_opts o = { .path = path, .sync = LEDGER_SYNC_NEVER };
		struct ledger_stats st;
		struct ledger *l;
		uint64_t seq, max_synced = 0;
		bool any = false;
		int fd, status;
		pid_t pid;

		pid = tl_fork_reporting(&fd);
		if (pid == 0) {
			sync_fd = fd;
			writer_child(path);
			_exit(0);
		}
		usleep((useconds_t)(random() % MAX_DELAY_US));
		kill(pid, SIGKILL);
		while (read(fd, &seq, sizeof(seq)) == (ssize_t)sizeof(seq)) {
			max_synced = seq;
			any = true;
		}
		close(fd);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		/* Restart: recovery must accept the file (never a new chain) ... */
		assert_int_equal(ledger_open(&l, &o), 0);
		ledger_get_stats(l, &st);
		if (st.started_new_chain)
			fail_msg("kill %d (seed %" PRIu64 "): recovery had to start a new chain", k, seed);
		if (st.torn_bytes_cut) {
			torn += st.torn_bytes_cut;
			kills_mid_write++;
		}
		assert_int_equal(ledger_close(l), 0);
		/* ... the whole file must verify ... */
		if (ledger_verify_files(files, 1, NULL, &r))
			fail_msg("kill %d (seed %" PRIu64 "): %s:%" PRIu64 ": %s: %s", k, seed, r.file, r.line,
				 ledger_error_name(r.err), r.why);
		/* ... and hold every record reported durable (seqs are consecutive from 0). */
		if (any && r.records < max_synced + 1)
			fail_msg("kill %d (seed %" PRIu64 "): synced seq %" PRIu64 " missing (%" PRIu64 " records)",
				 k, seed, max_synced, r.records);
		if (any)
			total_synced = max_synced + 1;
	}
	print_message("%d kills in %.1f s (seed %" PRIu64 "): %" PRIu64 " records synced, "
		      "%" PRIu64 " torn tails cut (%" PRIu64 " bytes), all verified\n",
		      KILLS, (double)(now_mono_ns() - start) / 1e9, seed, total_synced, kills_mid_write, torn);
	assert_true(total_synced > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

TL_MAIN(
	cmocka_unit_test(test_ledger_crash_when_killed_50_times_expect_verified_and_synced_records_kept)
)
