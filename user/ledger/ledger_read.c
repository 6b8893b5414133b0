// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading ledger files line by line (plain or gzip, transparently) for verify, recovery and show. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "joule/ledger_read.h"
#include "joule/log.h"

#define READ_CHUNK (64 * 1024)

static void set_why(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
}

int ledger_read_lines(const char *path, ledger_line_fn fn, void *arg, char *why, size_t whylen)
{
	char *chunk = NULL, *line = NULL;
	size_t len = 0, cap = 0;
	bool skipping = false;	/* inside a line over the limit that fn chose to skip */
	gzFile gz;
	int rc = 0, zerr;

	set_why(why, whylen, "");
	gz = gzopen(path, "rb");
	if (!gz) {
		rc = errno ? -errno : -ENOMEM;
		set_why(why, whylen, strerror(-rc));
		return rc;
	}
	gzbuffer(gz, 128 * 1024);
	chunk = malloc(READ_CHUNK);
	if (!chunk) {
		gzclose(gz);
		set_why(why, whylen, strerror(ENOMEM));
		return -ENOMEM;
	}
	for (;;) {
		int n = gzread(gz, chunk, READ_CHUNK);

		if (n < 0) {
			/* gzerror's text lives in gz: copy it before gzclose frees it. */
			const char *msg = gzerror(gz, &zerr);

			set_why(why, whylen, msg);
			rc = -EIO;
			break;
		}
		if (n == 0) {
			if (len > 0 && !skipping)
				rc = fn(arg, line, len, LEDGER_LINE_TORN);
			break;
		}
		for (int i = 0; i < n && !rc;) {
			char *nl = memchr(chunk + i, '\n', (size_t)(n - i));
			size_t take = nl ? (size_t)(nl - (chunk + i)) : (size_t)(n - i);

			if (skipping) {
				skipping = !nl;
				i += (int)take + (nl ? 1 : 0);
				continue;
			}
			if (len + take > LEDGER_LINE_MAX) {
				/* fn returns non-zero to stop, 0 to go on with the next line. */
				rc = fn(arg, line, len + take, LEDGER_LINE_TOO_LONG);
				if (rc)
					break;
				len = 0;
				skipping = !nl;
				i += (int)take + (nl ? 1 : 0);
				continue;
			}
			if (len + take > cap) {
				size_t ncap = cap ? cap : 4096;
				char *np;

				while (ncap < len + take)
					ncap *= 2;
				np = realloc(line, ncap);
				if (!np) {
					rc = -ENOMEM;
					set_why(why, whylen, strerror(ENOMEM));
					break;
				}
				line = np;
				cap = ncap;
			}
			memcpy(line + len, chunk + i, take);
			len += take;
			i += (int)take;
			if (nl) {
				rc = fn(arg, line ? line : "", len, LEDGER_LINE);
				len = 0;
				i++;
			}
		}
		if (rc)
			break;
	}
	gzclose(gz);
	free(chunk);
	free(line);
	return rc;
}

struct foreach_ctx {
	int (*cb)(const cJSON *rec, uint64_t line, void *arg);
	void *arg;
	const char *path;
	uint64_t line, skipped;
};

static int foreach_line_cb(void *arg, const char *line, size_t len, enum ledger_line_state state)
{
	struct foreach_ctx *c = arg;
	cJSON *obj;
	int rc;

	c->line++;
	if (state == LEDGER_LINE_TORN)
		return 0;	/* a record being written right now, or a crash: verify is the place to complain */
	if (state == LEDGER_LINE_TOO_LONG) {
		log_err("%s:%" PRIu64 ": line is over %d bytes: skipped", c->path, c->line, LEDGER_LINE_MAX);
		c->skipped++;
		return 0;
	}
	obj = cJSON_ParseWithLength(line, len);
	if (!obj) {
		log_err("%s:%" PRIu64 ": not JSON: skipped", c->path, c->line);
		c->skipped++;
		return 0;
	}
	rc = c->cb(obj, c->line, c->arg);
	cJSON_Delete(obj);
	return rc;
}

int ledger_foreach_line(const char *path, int (*cb)(const cJSON *rec, uint64_t line, void *arg), void *arg)
{
	struct foreach_ctx c = { .cb = cb, .arg = arg, .path = path };
	char why[256];
	int rc = ledger_read_lines(path, foreach_line_cb, &c, why, sizeof(why));

	if (rc < 0)
		log_err("failed to read %s: %s", path, why);
	if (rc == 0 && c.skipped)
		rc = -EBADMSG;
	return rc;
}

struct foreach_plain {
	int (*cb)(const cJSON *rec, void *arg);
	void *arg;
};

static int foreach_plain_cb(const cJSON *rec, uint64_t line, void *arg)
{
	struct foreach_plain *p = arg;

	(void)line;
	return p->cb(rec, p->arg);
}

int ledger_foreach(const char *path, int (*cb)(const cJSON *rec, void *arg), void *arg)
{
	struct foreach_plain p = { cb, arg };

	return ledger_foreach_line(path, foreach_plain_cb, &p);
}
