/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading ledger files line by line, plain or gzip, with the line limit and a clear reason on any read error. */
#ifndef JOULE_LEDGER_READ_H
#define JOULE_LEDGER_READ_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* A line longer than this is an error, never an allocation the input chooses. */
#define LEDGER_LINE_MAX (1024 * 1024)

enum ledger_line_state {
	LEDGER_LINE,		/* a whole line, without its '\n' */
	LEDGER_LINE_TORN,	/* the last bytes of the file, with no '\n' after them */
	LEDGER_LINE_TOO_LONG,	/* a line over LEDGER_LINE_MAX (len is how far it got; line is partial) */
};

/* Return non-zero to stop the walk (that value is returned), 0 to go on. */
typedef int (*ledger_line_fn)(void *arg, const char *line, size_t len, enum ledger_line_state state);

/*
 * Call fn for every line of path (gzip is read transparently). Returns 0,
 * fn's non-zero value, or -errno when the file cannot be read, with the
 * reason copied into why (why may be NULL).
 */
int ledger_read_lines(const char *path, ledger_line_fn fn, void *arg, char *why, size_t whylen);

/*
 * Call cb for each parsed line of a file (plain or gzip), without
 * verifying; stops when cb returns non-zero (and returns that). A line
 * over LEDGER_LINE_MAX or not JSON is named on stderr and skipped, and
 * the walk goes on: then the result is -EBADMSG. A torn last line is
 * ignored. -errno if the file cannot be read (logged).
 */
int ledger_foreach(const char *path, int (*cb)(const cJSON *rec, void *arg), void *arg);
/* The same, with each record's 1-based line number in the file. */
int ledger_foreach_line(const char *path, int (*cb)(const cJSON *rec, uint64_t line, void *arg), void *arg);

#endif /* JOULE_LEDGER_READ_H */
