/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tamper-evident ledger: canonical JSON lines in a SHA-256 chain, durable append off the sampling path, recovery, rotation, verify. */
#ifndef JOULE_LEDGER_H
#define JOULE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct sample;

/* A line longer than this is an error, never an allocation the input chooses. */
#define LEDGER_LINE_MAX (1024 * 1024)
#define LEDGER_HASH_HEX 64	/* hex SHA-256 */
#define LEDGER_FORMAT 1		/* "format" in genesis: bump on incompatible schema changes */

enum ledger_sync {
	LEDGER_SYNC_INTERVAL = 0, /* fdatasync at most once per sync_interval_ns (default 1 s) */
	LEDGER_SYNC_ALWAYS,	  /* fdatasync after every batch the writer drains */
	LEDGER_SYNC_NEVER,	  /* leave it to the kernel (and to close) */
};

/* "interval", "always", "never" (--ledger-sync); 0 or -EINVAL. */
int ledger_sync_parse(const char *s, enum ledger_sync *out);

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
 * thread. Recovery cuts a torn last line, verifies the segment and
 * continues its chain; a segment that fails verification is renamed to
 * path.broken-<unix_s> and never appended to, and a new chain starts whose
 * genesis names it. 0 or -errno (the reason is logged).
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
 * Add an unsigned integer: a JSON number when <= 2^53 (exact in every
 * reader), else a decimal string, so no digit is ever lost. 0 or -ENOMEM.
 */
int ledger_json_add_u64(cJSON *obj, const char *key, uint64_t v);

/* Write a new Ed25519 key (hex seed) to path, mode 0600, refusing to overwrite. 0 or -errno. */
int ledger_keygen(const char *path, char pubkey_hex[65]);

/* ---- verification ------------------------------------------------------ */

enum ledger_error {
	LEDGER_OK = 0,
	LEDGER_E_IO,		/* cannot open or read the file */
	LEDGER_E_EMPTY,		/* no records at all */
	LEDGER_E_TOO_LONG,	/* line over LEDGER_LINE_MAX */
	LEDGER_E_TORN,		/* last line has no newline (cut short) */
	LEDGER_E_JSON,		/* not a JSON object */
	LEDGER_E_DUPKEY,	/* an object repeats a member name */
	LEDGER_E_NOT_CANONICAL,	/* valid JSON, but not the RFC 8785 bytes */
	LEDGER_E_SCHEMA,	/* kind, seq, ts_*, prev_hash or hash missing or ill-typed */
	LEDGER_E_HASH,		/* hash is not SHA-256 of the record without hash/sig */
	LEDGER_E_LINK,		/* prev_hash is not the previous record's hash */
	LEDGER_E_GENESIS,	/* a segment does not start with genesis, or genesis mid-segment */
	LEDGER_E_SEQ,		/* seq is not the previous seq + 1 */
	LEDGER_E_SIGNATURE,	/* missing or bad Ed25519 signature in a signed chain */
	LEDGER_E_HEAD,		/* the expected head hash never appeared (truncated ledger) */
};

const char *ledger_error_name(enum ledger_error e); /* "hash mismatch", "broken link", ... */

/* Streaming verifier: feed lines in order; exposed for recovery, the CLI and the fuzzer. */
struct ledger_verifier {
	uint64_t records;	/* valid records so far, all files */
	uint64_t line;		/* line number in the current file, 1-based */
	uint64_t next_seq;
	bool have_prev;		/* prev_hash holds the last valid record's hash */
	bool at_file_start;	/* the next record must be a genesis */
	char prev_hash[LEDGER_HASH_HEX + 1];
	char last_kind[16];
	uint64_t first_ts_ns, last_ts_ns;
	uint64_t seg_records, seg_start_ts_ns;
	bool signed_chain;
	unsigned char pubkey[32];
	uint64_t gaps, lost_records;	/* `gap` records seen and the records they say were lost */
	uint64_t first_gap_seq;		/* seq of the first gap record */
	char first_gap_reason[64];
	const char *expect_head; /* optional: this hash must appear (verify_files) */
	bool head_seen;
	enum ledger_error err;
	char why[200];
};

void ledger_verifier_init(struct ledger_verifier *v);
/* The next line starts a new file of the series: it must be a genesis linked to what came before. */
void ledger_verifier_begin_file(struct ledger_verifier *v);
/* One line without its '\n'. 0, or -EBADMSG with v->err and v->why set (v->line names it). */
int ledger_verifier_line(struct ledger_verifier *v, const char *line, size_t len);
/* A whole file's bytes (must end in '\n'); stops at the first error. 0 or -EBADMSG. */
int ledger_verifier_buf(struct ledger_verifier *v, const char *buf, size_t len);

struct ledger_verify_result {
	bool ok;
	uint64_t records;
	uint64_t first_ts_ns, last_ts_ns;
	char head_hash[LEDGER_HASH_HEX + 1];
	bool signed_chain;
	/* `gap` records: the writer lost records (the chain is intact, the account is not complete). */
	uint64_t gaps, lost_records, first_gap_seq;
	char first_gap_reason[64];
	/* on failure: */
	enum ledger_error err;
	char file[512];
	uint64_t line;
	char why[200];
};

/*
 * Verify files (plain or gzip) as one series, in the order given. With
 * expect_head (hex), also fail unless that hash is in the series: the only
 * way to detect lines cut at a line boundary from the end. 0 if intact,
 * -EBADMSG with res filled otherwise.
 */
int ledger_verify_files(const char *const *paths, int n, const char *expect_head,
			struct ledger_verify_result *res);

/*
 * Call cb for each parsed line of a file (plain or gzip), without
 * verifying; stops when cb returns non-zero (and returns that). A line
 * over LEDGER_LINE_MAX or not JSON is named on stderr and skipped, and
 * the walk goes on: then the result is -EBADMSG. A torn last line is
 * ignored. -errno if the file cannot be read.
 */
int ledger_foreach(const char *path, int (*cb)(const cJSON *rec, void *arg), void *arg);
/* The same, with each record's 1-based line number in the file. */
int ledger_foreach_line(const char *path, int (*cb)(const cJSON *rec, uint64_t line, void *arg), void *arg);

/* `joule ledger verify|show|keygen ...`; main.c dispatches "ledger" here. Returns the exit code. */
int cmd_ledger(int argc, char **argv);

#endif /* JOULE_LEDGER_H */
