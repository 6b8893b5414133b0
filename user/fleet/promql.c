// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* PromQL text for the fleet API: label values escaped once here, and the window sums Prometheus evaluates for us. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "joule/promql.h"

int promql_escape(const char *value, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return -ENAMETOOLONG;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		const char *esc = NULL;
		char one[2] = { (char)*p, 0 };

		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '"')
			esc = "\\\"";
		else if (*p == '\n')
			esc = "\\n";
		else if (*p < 0x20 || *p == 0x7f)
			return -EINVAL; /* no name joule exports holds one; refusing beats guessing */
		else
			esc = one;
		size_t n = strlen(esc);
		if (o + n >= outlen)
			return -ENAMETOOLONG;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

int promql_add_matcher(char *list, size_t listlen, const char *name, const char *value)
{
	char esc[1024];
	size_t n = strlen(list);
	int rc = promql_escape(value, esc, sizeof(esc)), w;

	if (rc)
		return rc;
	w = snprintf(list + n, listlen - n, "%s%s=\"%s\"", n ? "," : "", name, esc);
	if (w < 0 || (size_t)w >= listlen - n) {
		list[n] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

__attribute__((format(printf, 3, 4))) static int put(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* "sum by (a, b) (" or "sum (" */
static void sum_head(char *buf, size_t len, const char *by)
{
	if (by && by[0])
		snprintf(buf, len, "sum by (%s) (", by);
	else
		snprintf(buf, len, "sum (");
}

int promql_window_sum(char *out, size_t outlen, const char *metric, const char *matchers, const char *by,
		      uint64_t window_s)
{
	char head[256], sel[PROMQL_MAX / 4];
	unsigned long long w = (unsigned long long)window_s;

	sum_head(head, sizeof(head), by);
	if (put(sel, sizeof(sel), "%s{%s}", metric, matchers))
		return -ENAMETOOLONG;
	return put(out, outlen,
		   "%s((last_over_time(%s[%llus]) - (%s offset %llus or last_over_time(%s[%llus]) * 0))"
		   " unless resets(%s[%llus]) > 0 or increase(%s[%llus])))",
		   head, sel, w, sel, w, sel, w, sel, w, sel, w);
}

int promql_rate_sum(char *out, size_t outlen, const char *metric, const char *matchers, const char *by,
		    uint64_t window_s)
{
	char head[256];

	sum_head(head, sizeof(head), by);
	return put(out, outlen, "%srate(%s{%s}[%llus]))", head, metric, matchers, (unsigned long long)window_s);
}

int promql_up(char *out, size_t outlen, const char *matchers)
{
	return put(out, outlen, "up{%s}", matchers);
}

int promql_host_names(char *out, size_t outlen, const char *matchers, uint64_t window_s)
{
	return put(out, outlen, "max by (instance, hostname) (last_over_time(joule_host_info{%s}[%llus]))", matchers,
		   (unsigned long long)window_s);
}

int promql_namespaces(char *out, size_t outlen, const char *matchers)
{
	return put(out, outlen, "group by (namespace) (%s{%s%snamespace!=\"\"})", PROMQL_GROUP_ENERGY, matchers,
		   matchers[0] ? "," : "");
}

int promql_group_labels(char *out, size_t outlen, const char *metric, const char *matchers, const char *by,
			uint64_t window_s)
{
	return put(out, outlen, "group by (%s) (last_over_time(%s{%s}[%llus]))", by, metric, matchers,
		   (unsigned long long)window_s);
}
