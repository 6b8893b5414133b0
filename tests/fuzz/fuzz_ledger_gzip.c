// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: the ledger's file reader on arbitrary bytes (gzip or not), and plain vs gzip of the same bytes read alike. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"

/* What a read produced, folded: every line's state, length and bytes. */
struct digest {
	uint64_t lines;
	uLong crc;
};

static int fold(void *arg, const char *line, size_t len, enum ledger_line_state state)
{
	struct digest *d = arg;
	unsigned char st = (unsigned char)state;

	d->lines++;
	d->crc = crc32(d->crc, &st, 1);
	d->crc = crc32(d->crc, (const unsigned char *)&len, sizeof(len));
	if (state != LEDGER_LINE_TOO_LONG && len)
		d->crc = crc32(d->crc, (const unsigned char *)line, (uInt)len);
	return 0;
}

/* A memfd holding buf, named by a path the reader can open. */
static int memfile(const void *buf, size_t len, char *path, size_t plen)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (len && write(fd, buf, len) != (ssize_t)len)
		abort();
	snprintf(path, plen, "/proc/self/fd/%d", fd);
	return fd;
}

static int read_digest(const void *buf, size_t len, struct digest *d, int *rc)
{
	char path[64], why[256];
	int fd = memfile(buf, len, path, sizeof(path));

	memset(d, 0, sizeof(*d));
	*rc = ledger_read_lines(path, fold, d, why, sizeof(why));
	if (*rc && !why[0])
		abort();	/* every read error carries its reason */
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest plain, viagz;
	struct ledger_verifier v;
	unsigned char *gz;
	uLongf gzcap = compressBound(size) + 64;
	z_stream z = { 0 };
	char path[64];
	int rc1, rc2, fd;

	/* The bytes as a file: gzip or plain, damaged or not, the reader returns with a reason. */
	read_digest(data, size, &plain, &rc1);
	fd = memfile(data, size, path, sizeof(path));
	ledger_verifier_init(&v);
	ledger_verifier_file(&v, path);
	close(fd);

	/* The same bytes gzip-compressed must read exactly as the plain file (unless they are gzip already). */
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return 0;
	gz = malloc(gzcap);
	if (!gz || deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)size;
	z.next_out = gz;
	z.avail_out = (uInt)gzcap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	read_digest(gz, gzcap - z.avail_out, &viagz, &rc2);
	deflateEnd(&z);
	free(gz);
	if (rc1 != rc2 || plain.lines != viagz.lines || plain.crc != viagz.crc)
		abort();
	return 0;
}
