// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading ledger files line by line (plain or gzip, transparently) for verify, recovery and show. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "joule/ledger_read.h"
#include "joule/log.h"

#define READ_CHUNK (64 * 1024)
#define GZ_MAGIC0 0x1f
#define GZ_MAGIC1 0x8b
/* show names this many unreadable lines, then only counts them: a bad file must not flood the terminal. */
#define SKIP_REPORT_MAX 10

static void set_why(char *why, size_t whylen, const char *fmt, const char *arg)
{
	if (why && whylen)
		snprintf(why, whylen, fmt, arg);
}

/*
 * A plain or gzip file as a byte stream. gzread() is not used: it ignores
 * junk after the last member and reports a stream cut short only through
 * gzerror(), so a truncated segment read as a shorter valid one.
 */
struct src {
	int fd;
	bool gz, z_ready, member_done, eof;
	uint64_t members;
	z_stream z;
	unsigned char in[READ_CHUNK];
	size_t pending;		/* plain: bytes of in[] not yet returned (the sniffed start) */
};

/* More raw bytes into in[]; 0, or -errno. Sets eof at the end of the file. */
static int src_fill(struct src *s, char *why, size_t whylen)
{
	ssize_t n;

	do
		n = read(s->fd, s->in, sizeof(s->in));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;

		set_why(why, whylen, "%s", strerror(-err));
		return err;
	}
	if (n == 0)
		s->eof = true;
	s->z.next_in = s->in;
	s->z.avail_in = (uInt)n;
	return 0;
}

static int src_open(struct src *s, const char *path, char *why, size_t whylen)
{
	struct stat st;
	int err;

	memset(s, 0, sizeof(*s));
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0) {
		err = -errno;
		set_why(why, whylen, "%s", strerror(-err));
		return err;
	}
	if (fstat(s->fd, &st) < 0) {
		err = -errno;
		set_why(why, whylen, "%s", strerror(-err));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		set_why(why, whylen, "%s", S_ISDIR(st.st_mode) ? "is a directory, not a ledger file" :
			S_ISFIFO(st.st_mode) ? "is a FIFO, not a regular file (a ledger is read from a file)" :
			"is not a regular file");
		goto fail;
	}
	err = src_fill(s, why, whylen);
	if (err)
		goto fail;
	s->gz = s->z.avail_in >= 2 && s->in[0] == GZ_MAGIC0 && s->in[1] == GZ_MAGIC1;
	if (!s->gz) {
		s->pending = s->z.avail_in;
		return 0;
	}
	/* 16 + MAX_WBITS: a gzip wrapper, whose CRC-32 and length inflate checks. */
	if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
		set_why(why, whylen, "%s", "out of memory for the gzip decoder");
		err = -ENOMEM;
		goto fail;
	}
	s->z_ready = true;
	return 0;
fail:
	close(s->fd);
	s->fd = -1;
	return err;
}

static void src_close(struct src *s)
{
	if (s->z_ready)
		inflateEnd(&s->z);
	if (s->fd >= 0)
		close(s->fd);
}

/* Up to cap bytes of content: > 0, 0 at a clean end, -errno (-EILSEQ: the gzip stream is damaged). */
static ssize_t src_read(struct src *s, char *out, size_t cap, char *why, size_t whylen)
{
	ssize_t n;
	int rc, err;

	if (!s->gz) {
		if (s->pending) {
			n = (ssize_t)s->pending;
			memcpy(out, s->in, s->pending);	/* cap is READ_CHUNK, the size of in[] */
			s->pending = 0;
			return n;
		}
		if (s->eof)
			return 0;
		do
			n = read(s->fd, out, cap);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			set_why(why, whylen, "%s", strerror(errno));
			return -errno;
		}
		s->eof = n == 0;
		return n;
	}
	for (;;) {
		if (s->z.avail_in == 0 && !s->eof) {
			err = src_fill(s, why, whylen);
			if (err)
				return err;
			continue;
		}
		if (s->member_done) {
			if (s->z.avail_in == 0)
				return 0;	/* eof right after a complete member: the clean end */
			if (s->z.next_in[0] != GZ_MAGIC0 || (s->z.avail_in >= 2 && s->z.next_in[1] != GZ_MAGIC1)) {
				set_why(why, whylen, "%s", "bytes after the end of the gzip stream (junk appended)");
				return -EILSEQ;
			}
			/* Another member: concatenated gzip files are one valid gzip file. */
			inflateReset(&s->z);
			s->member_done = false;
		}
		if (s->z.avail_in == 0 && s->eof) {
			set_why(why, whylen, "%s", "the gzip stream ends before its end marker and trailer (truncated)");
			return -EILSEQ;
		}
		s->z.next_out = (unsigned char *)out;
		s->z.avail_out = (uInt)cap;
		rc = inflate(&s->z, Z_NO_FLUSH);
		n = (ssize_t)(cap - s->z.avail_out);
		if (rc == Z_STREAM_END) {
			s->member_done = true;
			s->members++;
		} else if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
			set_why(why, whylen, "damaged gzip data: %s", s->z.msg ? s->z.msg : "inflate failed");
			return rc == Z_MEM_ERROR ? -ENOMEM : -EILSEQ;
		}
		/* Z_BUF_ERROR: no progress without more input, which the top of the loop reads. */
		if (n > 0)
			return n;
	}
}

int ledger_read_lines(const char *path, ledger_line_fn fn, void *arg, char *why, size_t whylen)
{
	char *chunk = NULL, *line = NULL;
	size_t len = 0, cap = 0;
	bool skipping = false;	/* inside a line over the limit that fn chose to skip */
	struct src *s;
	int rc = 0;

	set_why(why, whylen, "%s", "");
	s = malloc(sizeof(*s));
	chunk = malloc(READ_CHUNK);
	if (!s || !chunk) {
		free(s);
		free(chunk);
		set_why(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = src_open(s, path, why, whylen);
	if (rc) {
		free(s);
		free(chunk);
		return rc;
	}
	for (;;) {
		ssize_t r = src_read(s, chunk, READ_CHUNK, why, whylen);
		int n = (int)r;

		if (r < 0) {
			rc = (int)r;
			break;
		}
		if (r == 0) {
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
					set_why(why, whylen, "%s", strerror(ENOMEM));
					break;
				}
				line = np;
				cap = ncap;
			}
			/* An empty first line leaves line NULL: memcpy(NULL, src, 0) is undefined. */
			if (take)
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
	src_close(s);
	free(s);
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
		if (c->skipped++ < SKIP_REPORT_MAX)
			log_err("%s:%" PRIu64 ": line is over %d bytes: skipped", c->path, c->line, LEDGER_LINE_MAX);
		return 0;
	}
	obj = cJSON_ParseWithLength(line, len);
	if (!obj) {
		if (c->skipped++ < SKIP_REPORT_MAX)
			log_err("%s:%" PRIu64 ": not JSON: skipped", c->path, c->line);
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
		log_err("failed to read %s after line %" PRIu64 ": %s", path, c.line, why);
	if (c.skipped > SKIP_REPORT_MAX)
		log_err("%s: %" PRIu64 " lines skipped in all (not JSON or over %d bytes); the first %d are named above",
			path, c.skipped, LEDGER_LINE_MAX, SKIP_REPORT_MAX);
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
