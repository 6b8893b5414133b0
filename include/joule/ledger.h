/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tamper-evident ledger, the writer: records from samples, durable append off the sampling path, recovery, rotation. */
#ifndef JOULE_LEDGER_H
#define JOULE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "joule/ledger_chain.h"

/*
 * The rest of the ledger has its own headers: ledger_verify.h (verify),
 * ledger_read.h (read and show), ledger_keys.h (keygen), ledger_chain.h
 * (canonical lines and hashes), ledger_record.h, ledger_segment.h.
 */

struct sample;
struct sample_task;
struct proc_labels;

/*
 * The workload labels of a process in the sample being fed (the daemon's
 * store, resolved once per cgroup and updated when the process moves): 0
 * with *out filled, or -ENOENT when unknown (the record then has no labels).
 */
typedef int (*ledger_labeler)(void *ctx, const struct sample_task *t, struct proc_labels *out);

#define LEDGER_FORMAT 1		/* "format" in genesis: bump on incompatible schema changes */

enum ledger_sync {
	LEDGER_SYNC_INTERVAL = 0, /* fdatasync at most once per sync_interval_ns (default 1 s) */
	LEDGER_SYNC_ALWAYS,	  /* fdatasync after every batch the writer drains */
	LEDGER_SYNC_NEVER,	  /* leave it to the kernel (and to close) */
};

struct ledger_opts {
	const char *path;	   /* the active segment; rotated ones are path.N[.gz] */
	enum ledger_sync sync;
	uint64_t sync_interval_ns; /* 0: 1 s */
	uint64_t period_ns;	   /* process/host record period; 0: 60 s */
	uint64_t rotate_bytes;	   /* rotate when the segment reaches this size; 0: never */
	uint64_t rotate_age_ns;	   /* rotate when the segment is this old; 0: never */
	bool compress;		   /* gzip rotated segments (path.N.gz) */
	size_t queue_limit;	   /* records waiting for the writer before periods coalesce; 0: 4096 */
	const char *key_path;	   /* Ed25519 key file (mode 0600) to sign every record; NULL: unsigned */
	/*
	 * Called on the writer thread after fdatasync() returned: every record
	 * with seq <= synced_seq is on stable storage. May be NULL.
	 */
	void (*on_sync)(void *arg, uint64_t synced_seq);
	void *on_sync_arg;
	/* Labels for `process` records (docs/LEDGER.md "workload"), called on the feeder's thread; NULL: none. */
	ledger_labeler labeler;
	void *labeler_ctx;
};

/* Writer health, for logs and joule_self_ledger_* metrics. */
struct ledger_stats {
	uint64_t records;	/* lines written by this process */
	uint64_t bytes;
	uint64_t syncs;
	uint64_t sync_errors, write_errors;
	uint64_t queue_depth, queue_max_depth;
	uint64_t queue_full;	/* periods deferred because the queue was at its limit */
	uint64_t coalesced;	/* records that cover more than one period because of that */
	uint64_t rotations;
	uint64_t last_seq, synced_seq;
	uint64_t records_lost;	/* records given up on (disk full, I/O error): see the `gap` record */
	uint64_t torn_bytes_cut;	/* recovery: bytes of a torn last line removed at open */
	bool started_new_chain;		/* recovery: the old segment failed verification */
};

/*
 * Threads: ledger_feed_sample() and ledger_close() belong to one thread (the
 * sampler's); ledger_append_record(), ledger_flush() and ledger_get_stats()
 * may be called from any thread. Disk I/O happens only on the writer thread.
 */
struct ledger;

/*
 * Open (create or recover) the ledger at o->path and start its writer
 * thread. One writer per ledger: a second open of the same path (this or
 * another process) fails with -EBUSY naming the holder's pid (flock on
 * path.lock). A chain that goes on from an earlier run gets a `start`
 * record. Recovery cuts a torn last line, verifies the segment and
 * continues its chain; a segment that fails verification is renamed to
 * path.broken-<unix_s> and never appended to, and a new chain starts whose
 * genesis names it. 0 or -errno; the reason is always logged here, so the
 * caller need not print it again.
 */
int ledger_open(struct ledger **out, const struct ledger_opts *o);

/* Emit records for what is still accumulated, drain the queue, fdatasync, stop the writer, free. */
int ledger_close(struct ledger *l);

/*
 * Account one sampler interval. Accumulates per process (pid + start_ns)
 * and for the host; once per period emits one `process` record per process
 * and one `host` record, and a `process` record as soon as a process exits.
 * Never blocks on disk: if the queue is at its limit the period's records
 * are held back and the next attempt covers the longer span (counted in
 * queue_full/coalesced, logged); nothing is dropped. Call from one thread.
 */
int ledger_feed_sample(struct ledger *l, const struct sample *s);

/*
 * Queue a record built by the caller (the `run` summary). Takes ownership
 * of obj, which must have a string "kind" and must not have "seq",
 * "prev_hash", "hash" or "sig"; "ts_start"/"ts_end" are set to now if
 * absent. Use ledger_json_add_u64() for integers. Never drops; may block
 * briefly on the queue lock only. 0 or -EINVAL.
 */
int ledger_append_record(struct ledger *l, cJSON *obj);

/* Wait until everything queued so far is written and fdatasync'ed. 0 or -EIO. */
int ledger_flush(struct ledger *l);

void ledger_get_stats(struct ledger *l, struct ledger_stats *out);

/*
 * Records given up on since open (disk full, I/O error), for /metrics and
 * /readyz: cheap, any thread; 0 for a NULL ledger. Each loss is also a
 * `gap` record once writing resumes.
 */
uint64_t ledger_records_lost(struct ledger *l);

#endif /* JOULE_LEDGER_H */
