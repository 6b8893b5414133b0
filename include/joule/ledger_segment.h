/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Ledger segment files: create, rotate to FILE.N (gzip to FILE.N.gz), and recover the active one at open. */
#ifndef JOULE_LEDGER_SEGMENT_H
#define JOULE_LEDGER_SEGMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/ledger_chain.h"

/* The active segment file. */
struct ledger_segment {
	const char *path;	/* FILE; rotated segments are FILE.N[.gz] */
	int fd;			/* -1: none (closed for rotation, or not created yet) */
	uint64_t bytes, records, start_ns;
	int next_index;		/* the next rotated segment's N; 0: look it up */
};

/* Create FILE (O_EXCL, O_APPEND) and make its name durable. quiet: a retry, the caller reports. 0 or -errno. */
int ledger_segment_create(struct ledger_segment *s, bool quiet);

/*
 * Rename the closed FILE to FILE.N (N one above any existing index), then,
 * with compress, to FILE.N.gz (a failed compression keeps FILE.N). name
 * gets the base name that now holds the segment. 0 or -errno (logged).
 */
int ledger_segment_retire(struct ledger_segment *s, bool compress, char *name, size_t len);

/* Highest N among path.N and path.N.gz (0: none). */
int ledger_segment_max_index(const char *path);

/* gzip src to dst through dst.tmp, fsync'ed, renamed. 0 or -errno. */
int ledger_gzip_file(const char *src, const char *dst);

/* fsync the directory holding path, so a create or rename survives a crash. 0 or -errno. */
int ledger_fsync_dir_of(const char *path);

const char *ledger_base_name(const char *path);

enum ledger_recovery_action {
	LEDGER_RECOVER_APPEND,	/* the segment verified: append to it */
	LEDGER_RECOVER_GENESIS,	/* the segment is new or empty: write a genesis (linked, or naming a broken file) */
	LEDGER_RECOVER_CLOSE,	/* the segment is complete (rotate record, other key): retire it, start the next */
};

struct ledger_recovery {
	enum ledger_recovery_action action;
	char prev_segment[PATH_MAX];		/* GENESIS: the rotated segment it continues, or "" */
	char broken[PATH_MAX + 40];		/* GENESIS: the file set aside because it failed verify, or "" */
	char broken_why[320];
	uint64_t torn_bytes_cut;
	bool started_new_chain;			/* the old segment failed verification */
	/* A chain that goes on from an earlier run: where that run's records end. */
	bool resumed;
	uint64_t last_seq, last_ts_end_ns;
};

/*
 * One writer per ledger: an exclusive flock on path.lock (which holds the
 * holder's pid), kept until *fd is closed. The kernel drops it when the
 * holder dies, so a kill -9 never blocks a restart. The file is left in
 * place: unlinking it would let two writers lock two different inodes.
 * 0, or -EBUSY (logged with the holder's pid), or -errno (logged).
 */
int ledger_segment_lock(const char *path, int *fd);

/*
 * Open or create s->path and bring c to where its chain ends: cut a torn
 * last line, verify the segment, continue its chain; a segment that fails
 * verification is renamed path.broken-<unix_s> (never appended to) and a
 * new chain starts; a missing or empty segment continues the newest
 * rotated one. r says what the writer must do next. 0 or -errno (logged).
 */
int ledger_segment_recover(struct ledger_segment *s, struct ledger_chain *c, struct ledger_recovery *r);

#endif /* JOULE_LEDGER_SEGMENT_H */
