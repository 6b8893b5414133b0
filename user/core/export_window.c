// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The --window syntax of the ledger's readers: RFC 3339 times, START..END and LAST (a duration back from now). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "joule/export.h"
#include "joule/util.h"

static int parse_2digits(const char *s, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -EINVAL;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't', 'z' and ' ' accepted as RFC 3339 allows */
static int parse_rfc3339(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	int y1, y2, mo, d, h, mi, sec, oh, om;
	uint64_t frac_ns = 0, scale = 100000000;
	long off_s = 0;
	time_t t;
	const char *p;

	if (strlen(s) < 20 || parse_2digits(s, &y1) || parse_2digits(s + 2, &y2) || s[4] != '-' ||
	    parse_2digits(s + 5, &mo) || s[7] != '-' || parse_2digits(s + 8, &d) ||
	    !(s[10] == 'T' || s[10] == 't' || s[10] == ' ') || parse_2digits(s + 11, &h) || s[13] != ':' ||
	    parse_2digits(s + 14, &mi) || s[16] != ':' || parse_2digits(s + 17, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac_ns += (uint64_t)(*p - '0') * scale;
			scale /= 10;
		}
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off_s = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !parse_2digits(p + 1, &oh) && p[3] == ':' &&
		   !parse_2digits(p + 4, &om) && oh < 24 && om < 60) {
		off_s = (long)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	tm.tm_year = y1 * 100 + y2 - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || (long long)t - off_s < 0)
		return -EINVAL;
	*ns = (uint64_t)((long long)t - off_s) * NSEC_PER_SEC + frac_ns;
	return 0;
}

int export_time_parse(const char *s, uint64_t *ns)
{
	double secs;

	if (!s || !s[0])
		return -EINVAL;
	if (strchr(s, '-') && strlen(s) >= 20)
		return parse_rfc3339(s, ns);
	/* epoch seconds; 4e9 s is year 2096, far below 2^64 ns */
	if (parse_double(s, &secs) || !(secs >= 0 && secs < 4e9))
		return -EINVAL;
	*ns = (uint64_t)llround(secs * 1e9);
	return 0;
}

/* One side of START..END: empty leaves it open, anything else must be a time. */
static int parse_bound(const char *side, const char *which, uint64_t *ns, bool *has, char *err, size_t errlen)
{
	if (!side[0])
		return 0;
	if (export_time_parse(side, ns)) {
		snprintf(err, errlen, "bad window %s '%s': want epoch seconds or RFC 3339 (2026-01-31T12:00:00Z)",
			 which, side);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

int export_window_parse(const char *s, struct export_window *w, char *err, size_t errlen)
{
	const char *dots = s ? strstr(s, "..") : NULL;
	char side[64];

	memset(w, 0, sizeof(*w));
	if (!s || !s[0]) {
		snprintf(err, errlen, "empty window: give START..END or a duration such as 10m");
		return -EINVAL;
	}
	if (!dots) {
		size_t n = strlen(s);
		uint64_t v = 0;
		int rc;

		/* a day is not among parse_duration_ns's units */
		if (n > 1 && s[n - 1] == 'd' && n < sizeof(side)) {
			double days;

			memcpy(side, s, n - 1);
			side[n - 1] = '\0';
			rc = parse_double(side, &days);
			if (!rc && !(days > 0 && days < 36500))
				rc = -ERANGE;
			if (!rc)
				v = (uint64_t)llround(days * 86400e9);
		} else {
			rc = parse_duration_ns(s, &v);
		}
		if (rc || v == 0) {
			snprintf(err, errlen, "bad window '%s': want START..END (epoch seconds or RFC 3339) or a "
					      "duration ending at the last record (90s, 10m, 2h, 1d)", s);
			return -EINVAL;
		}
		w->last_ns = v;
		return 0;
	}
	if ((size_t)(dots - s) >= sizeof(side) || strlen(dots + 2) >= sizeof(side)) {
		snprintf(err, errlen, "bad window '%.80s': a bound is too long", s);
		return -EINVAL;
	}
	memcpy(side, s, (size_t)(dots - s));
	side[dots - s] = '\0';
	if (parse_bound(side, "start", &w->start_ns, &w->has_start, err, errlen))
		return -EINVAL;
	snprintf(side, sizeof(side), "%s", dots + 2);
	if (parse_bound(side, "end", &w->end_ns, &w->has_end, err, errlen))
		return -EINVAL;
	if (w->has_start && w->has_end && w->end_ns < w->start_ns) {
		snprintf(err, errlen, "bad window '%s': the end is before the start", s);
		return -EINVAL;
	}
	return 0;
}

