/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the writer's two files share and nothing else includes: struct ledger, and the writer thread's entry points. */
#ifndef JOULE_LEDGER_INTERNAL_H
#define JOULE_LEDGER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "joule/ledger.h"
#include "joule/ledger_chain.h"
#include "joule/ledger_record.h"
#include "joule/ledger_segment.h"

struct ledger {
	struct ledger_opts o;
	char *path;
	int lock_fd;		/* flock on path.lock: one writer per ledger */

	/* feeder side (the caller's thread) */
	struct ledger_acc acc;
	bool deferred;

	/* queue, shared */
	pthread_mutex_t mu;
	pthread_cond_t cv_item, cv_done;
	struct ledger_item *head, *tail;
	uint64_t flush_req, flush_done;
	bool stop;
	struct ledger_stats st;
	pthread_t thread;
	bool thread_started;

	/* writer side (the writer thread after open) */
	struct ledger_chain chain;
	struct ledger_segment seg;
	bool dirty;
	uint64_t last_sync_mono_ns, written_seq;
	bool io_error;
	/*
	 * Rotation state, so a failure anywhere in it is retried before the
	 * next write instead of leaving fd at -1: seg_closed (a rotate record
	 * ended the file, it still has to be renamed), then seg.fd < 0 (the new
	 * segment must be created), then need_genesis.
	 */
	bool seg_closed, need_genesis;
	char pending_prev[PATH_MAX + 40];	/* the renamed segment the next genesis links to, or "" */
	/* Losses: one retry deadline for the writer, then fail fast until a gap record is written. */
	uint64_t retry_deadline_ns;	/* CLOCK_MONOTONIC; 0: no failure pending */
	uint64_t lost, lost_t0_ns, lost_t1_ns;
	char lost_reason[64];
};

/*
 * The writer's side (ledger_writer.c). ledger_writer_recover runs in
 * ledger_open before the thread starts: it resumes or restarts the chain
 * (0 or -errno, logged). ledger_writer_sync fdatasyncs if anything is
 * unsynced. ledger_writer_main is the thread.
 */
int ledger_writer_recover(struct ledger *l);
void ledger_writer_sync(struct ledger *l);
void *ledger_writer_main(void *arg);

#endif /* JOULE_LEDGER_INTERNAL_H */
