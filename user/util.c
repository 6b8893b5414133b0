// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Strict parsing of numbers and durations, clock reads and small sysfs file reads. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "joule/util.h"

int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || !isfinite(v))
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_duration_ns(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 }, { "", 1e9 },
	};
	char *end;
	double v;

	if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || !isfinite(v) || v < 0)
		return -ERANGE;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double ns = v * units[i].ns;

			/* 2^63 ns is 292 years: anything beyond is a typo. */
			if (ns >= 9.2e18)
				return -ERANGE;
			*out = (uint64_t)llround(ns);
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t now_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = -errno;
	close(fd);
	if (n < 0)
		return err;
	buf[n] = '\0';
	return (int)n;
}

int read_text_file(const char *path, char *buf, size_t len)
{
	int n = read_file(path, buf, len);

	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n;
}

int read_u64_file(const char *path, uint64_t *out)
{
	char buf[64];
	int n;

	n = read_text_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	return parse_u64(buf, out);
}

void format_rfc3339(uint64_t real_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(real_ns / NSEC_PER_SEC);
	struct tm tm;
	char base[32];

	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(real_ns % NSEC_PER_SEC / NSEC_PER_MSEC));
}

void format_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int array_reserve(void *array, size_t *cap, size_t need, size_t elem_size, size_t first_cap)
{
	size_t c = *cap ? *cap : first_cap;
	void *old, *n;

	if (need <= *cap)
		return 0;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return -ENOMEM;
		c *= 2;
	}
	/* through memcpy: array is a T **, not a void ** */
	memcpy(&old, array, sizeof(old));
	n = reallocarray(old, c, elem_size);
	if (!n)
		return -ENOMEM;
	memcpy(array, &n, sizeof(n));
	*cap = c;
	return 0;
}

void textbuf_vprintf(struct textbuf *b, const char *fmt, va_list ap)
{
	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_list again;
		int n;

		va_copy(again, ap);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, again);
		va_end(again);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		/* 4 KiB first: an exposition or a plot is tens of kB, one doubling per few appends */
		if (array_reserve(&b->p, &b->cap, b->len + (size_t)n + 1, 1, 4096)) {
			b->oom = true;
			return;
		}
	}
}

void textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	textbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

void textbuf_free(struct textbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int name_value_find(const struct name_value *tab, const char *name, int *out)
{
	for (; tab->name; tab++) {
		if (!strcmp(tab->name, name)) {
			*out = tab->value;
			return 0;
		}
	}
	return -EINVAL;
}
