/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Verifying a ledger: canonical form, hashes, links, sequence and signatures, line by line or over a series of files. */
#ifndef JOULE_LEDGER_VERIFY_H
#define JOULE_LEDGER_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/ledger_chain.h"
#include "joule/ledger_read.h"

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
	LEDGER_E_GZIP,		/* a .gz segment is damaged: bad CRC or data, cut short, junk after its end */
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
	bool expect_seq_set;	/* ... and at this seq (a checkpoint) */
	uint64_t expect_seq;
	bool head_seen;
	/* trust: set before the first line */
	bool require_signed;	/* every segment must be signed */
	bool pinned;		/* every segment must be signed by pinned_pk */
	unsigned char pinned_pk[32];
	/* what the series holds */
	uint64_t segments, signed_segments, unsigned_segments;
	bool ever_signed, key_changed;
	unsigned char first_pk[32];
	uint64_t first_unsigned_after_signed_seq;	/* 0: none (a genesis at seq 0 is never "after") */
	uint64_t starts, unrecorded_ns;	/* `start` records (restarts) and the time before them no record covers */
	uint64_t prev_ts_end_ns;	/* ts_end of the last valid record */
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
/* One file (plain or gzip) as the next of the series; 0 or -EBADMSG (v->err set, also for read errors). */
int ledger_verifier_file(struct ledger_verifier *v, const char *path);

struct ledger_verify_result {
	bool ok;
	uint64_t records;
	uint64_t first_ts_ns, last_ts_ns;
	char head_hash[LEDGER_HASH_HEX + 1];
	bool signed_chain;	/* every segment is signed */
	/* `gap` records: the writer lost records (the chain is intact, the account is not complete). */
	uint64_t gaps, lost_records, first_gap_seq;
	char first_gap_reason[64];
	uint64_t head_seq;
	uint64_t segments, signed_segments, unsigned_segments;
	uint64_t first_unsigned_after_signed_seq;	/* 0: no unsigned segment follows a signed one */
	bool key_changed;				/* the signed segments do not share one key */
	char pubkey[LEDGER_PUBKEY_HEX + 1];		/* the first segment's key, "" if unsigned */
	uint64_t starts, unrecorded_ns;			/* restarts recorded in the chain */
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

struct ledger_verify_opts {
	const char *expect_head;	/* hex hash that must be in the series, or NULL */
	bool expect_seq_set;		/* ... at this seq (a checkpoint) */
	uint64_t expect_seq;
	bool require_signatures;	/* an unsigned segment fails */
	bool pinned;			/* a segment not signed by pubkey fails (implies require_signatures) */
	unsigned char pubkey[32];
};

/* ledger_verify_files() with the trust options. */
int ledger_verify_series(const char *const *paths, int n, const struct ledger_verify_opts *o,
			 struct ledger_verify_result *res);

#endif /* JOULE_LEDGER_VERIFY_H */
