// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Carbon intensity and where it comes from: pushed values, an intensity CSV time series, the zone table. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "joule/carbon.h"
#include "joule/carbon_internal.h"
#include "joule/util.h"

/*
 * Relative 1-sigma uncertainty of each intensity kind; docs/CARBON.md gives
 * the reasoning. A yearly average stands in for hourly values that swing
 * around it, so it is wider than a time series of the hours themselves.
 */
#define RELSD_SERIES 0.10	  /* pushed, file: hourly estimates from a data provider */
#define RELSD_FIXED 0.10	  /* --intensity: the user's number, basis unknown */
#define RELSD_ZONE_MEASURED 0.15  /* yearly average, grid-operator data */
#define RELSD_ZONE_ESTIMATED 0.25 /* yearly average, provider's estimate / annual statistics */
#define RELSD_WORLD 0.44	  /* sd of the 206 country values / WORLD: "somewhere on Earth" */

#define MAX_FILE_BYTES (256u << 20)

const struct carbon_zone *carbon_zone_find(const char *code)
{
	size_t i;

	if (!code)
		return NULL;
	for (i = 0; i < carbon_nzones; i++)
		if (!strcasecmp(carbon_zones[i].code, code))
			return &carbon_zones[i];
	return NULL;
}

void carbon_list_zones(FILE *out)
{
	size_t i;

	fprintf(out, "%-14s %9s %5s  %-32s %s\n", "ZONE", "G/KWH", "YEAR", "SOURCE", "NAME");
	for (i = 0; i < carbon_nzones; i++)
		fprintf(out, "%-14s %9.2f %5d  %-32s %s\n", carbon_zones[i].code,
			carbon_zones[i].g_per_kwh, carbon_zones[i].year, carbon_zones[i].source,
			carbon_zones[i].name);
	fprintf(out, "\nLifecycle gCO2e/kWh, yearly averages. Data: Electricity Maps, 2024 Yearly Carbon "
		     "Intensity Data (ODbL 1.0),\nhttps://www.electricitymaps.com; WORLD: Ember via Our "
		     "World in Data (CC BY 4.0).\n");
}

/* ---- intensity CSV ------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: proleptic Gregorian date to days since 1970-01-01. */
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Up to 9 fraction digits become ns; more are accepted and ignored. */
static const char *parse_frac_ns(const char *s, uint64_t *ns)
{
	uint64_t scale = 100000000;

	*ns = 0;
	if (!isdigit((unsigned char)*s))
		return NULL;
	for (; isdigit((unsigned char)*s); s++) {
		*ns += (uint64_t)(*s - '0') * scale;
		scale /= 10;
	}
	return s;
}

static bool parse_iso8601(const char *s, uint64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
	uint64_t frac = 0;
	int64_t t;
	bool leap;

	/* YYYY-MM-DD[T ]HH:MM[:SS[.f]](Z|±HH[:MM]|±HHMM) */
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi))
		return false;
	s += 16;
	if (*s == ':') {
		if (!digits(s + 1, 2, &sec))
			return false;
		s += 3;
		if (*s == '.' || *s == ',') {
			s = parse_frac_ns(s + 1, &frac);
			if (!s)
				return false;
		}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (!digits(s + 1, 2, &oh))
			return false;
		s += 3;
		if (*s == ':')
			s++;
		if (*s) {
			if (!digits(s, 2, &om))
				return false;
			s += 2;
		}
	} else {
		return false; /* local time without an offset is ambiguous */
	}
	if (*s)
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || y > 2500 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || sec > 59 || oh > 23 ||
	    om > 59)
		return false;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0)
		return false;
	*out = (uint64_t)t * 1000000000ULL + frac;
	return true;
}

static bool parse_epoch(const char *s, uint64_t *out)
{
	uint64_t sec = 0, frac = 0;
	int n = 0;

	for (; isdigit((unsigned char)*s); s++, n++) {
		if (n >= 11)
			return false;
		sec = sec * 10 + (uint64_t)(*s - '0');
	}
	if (!n)
		return false;
	if (*s == '.') {
		s = parse_frac_ns(s + 1, &frac);
		if (!s)
			return false;
	}
	/* ns since the epoch must fit in 64 bits: up to the year 2554. */
	if (*s || sec > UINT64_MAX / 1000000000ULL - 1)
		return false;
	*out = sec * 1000000000ULL + frac;
	return true;
}

static bool parse_timestamp(const char *s, uint64_t *out)
{
	if (strlen(s) > 4 && s[4] == '-')
		return parse_iso8601(s, out);
	return parse_epoch(s, out);
}

static bool parse_value(const char *s, double *out)
{
	const char *p;
	char *end;

	/* strtod would also take hex, "inf" and "nan": allow plain decimals only. */
	for (p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && !strchr(".eE+-", *p))
			return false;
	errno = 0;
	*out = strtod(s, &end);
	return *s && !*end && !errno && isfinite(*out);
}

/* Copy a field, trimmed, for messages and strtod; false if it has NULs or is too long. */
static bool field_copy(const char *b, size_t n, char *dst, size_t cap)
{
	while (n && (*b == ' ' || *b == '\t')) {
		b++;
		n--;
	}
	while (n && (b[n - 1] == ' ' || b[n - 1] == '\t'))
		n--;
	if (n >= cap || memchr(b, '\0', n))
		return false;
	memcpy(dst, b, n);
	dst[n] = '\0';
	return true;
}

/* A field quoted in an error message: printable and short. */
static void printable(const char *b, size_t n, char *dst, size_t cap)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 4 < cap; i++)
		dst[j++] = isprint((unsigned char)b[i]) ? b[i] : '?';
	if (i < n) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
}

static int series_push(struct carbon_series *s, size_t *cap, uint64_t ts, double g)
{
	if (s->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		uint64_t *t = realloc(s->ts_ns, ncap * sizeof(*t));
		double *v;

		if (!t)
			return -ENOMEM;
		s->ts_ns = t;
		v = realloc(s->g_per_kwh, ncap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->g_per_kwh = v;
		*cap = ncap;
	}
	s->ts_ns[s->n] = ts;
	s->g_per_kwh[s->n] = g;
	s->n++;
	return 0;
}

void carbon_series_free(struct carbon_series *s)
{
	if (!s)
		return;
	free(s->ts_ns);
	free(s->g_per_kwh);
	memset(s, 0, sizeof(*s));
}

/* A row's error, said as "FILE:LINE: what" like a compiler's: -EINVAL. */
static int row_error(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int row_error(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return -EINVAL;
	n = snprintf(err, errlen, "%s:%zu: ", name, line);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int carbon_parse_intensity_csv(const char *buf, size_t len, const char *name,
			       struct carbon_series *out, char *err, size_t errlen)
{
	struct carbon_series s = { 0 };
	size_t cap = 0, line = 0, pos = 0, prev_line = 0;
	bool seen_first = false;
	char q[48];
	int ret;

	if (!name)
		name = "intensity file";
	if (!out || (len && !buf))
		return -EINVAL;
	while (pos < len) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos), *comma, *f2;
		size_t n = nl ? (size_t)(nl - l) : len - pos, n1, n2;
		char f[64];
		uint64_t ts;
		double g;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n && l[n - 1] == '\r')
			n--;
		n1 = 0;
		while (n1 < n && (l[n1] == ' ' || l[n1] == '\t'))
			n1++;
		if (n1 == n || l[n1] == '#')
			continue;
		comma = memchr(l, ',', n);
		if (!comma || memchr(comma + 1, ',', n - (size_t)(comma + 1 - l))) {
			size_t k, fields = 1;

			for (k = 0; k < n; k++)
				fields += l[k] == ',';
			ret = row_error(err, errlen, name, line, "expected 2 fields (timestamp,gco2_per_kwh), found %zu",
					fields);
			goto fail;
		}
		n1 = (size_t)(comma - l);
		f2 = comma + 1;
		n2 = n - n1 - 1;
		/* The first data-looking line decides: a first field not starting with a digit is a header. */
		if (!seen_first) {
			seen_first = true;
			if (field_copy(l, n1, f, sizeof(f)) && f[0] && !isdigit((unsigned char)f[0]))
				continue;
		}
		if (!field_copy(l, n1, f, sizeof(f)) || !parse_timestamp(f, &ts)) {
			printable(l, n1, q, sizeof(q));
			ret = row_error(err, errlen, name, line,
					"bad timestamp '%s' (expected ISO-8601 with Z or a UTC offset, e.g. "
					"2026-01-01T00:00:00Z, or epoch seconds)", q);
			goto fail;
		}
		if (!field_copy(f2, n2, f, sizeof(f)) || !parse_value(f, &g)) {
			printable(f2, n2, q, sizeof(q));
			ret = row_error(err, errlen, name, line, "bad number '%s' (expected gCO2e/kWh, e.g. 412.5)", q);
			goto fail;
		}
		if (g < 0) {
			ret = row_error(err, errlen, name, line, "negative value %s (intensity must be >= 0 gCO2e/kWh)", f);
			goto fail;
		}
		if (s.n && ts <= s.ts_ns[s.n - 1]) {
			ret = row_error(err, errlen, name, line,
					"not sorted: timestamp is not after the one on line %zu "
					"(rows must be strictly ascending)", prev_line);
			goto fail;
		}
		ret = series_push(&s, &cap, ts, g);
		if (ret) {
			format_msg(err, errlen, "%s: out of memory", name);
			goto fail;
		}
		prev_line = line;
	}
	if (!s.n) {
		format_msg(err, errlen, "%s: empty file: no data rows (expected lines timestamp,gco2_per_kwh)",
			name);
		return -EINVAL;
	}
	*out = s;
	return 0;
fail:
	carbon_series_free(&s);
	return ret;
}

static int read_intensity_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	size_t cap = 65536, n = 0;
	char *b = NULL, *nb;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		format_msg(err, errlen, "cannot open intensity file %s: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		size_t r;

		if (!b || n == cap) {
			if (b)
				cap *= 2;
			if (cap > MAX_FILE_BYTES) {
				format_msg(err, errlen, "%s: intensity file larger than %u MiB", path,
					MAX_FILE_BYTES >> 20);
				ret = -EINVAL;
				goto fail;
			}
			nb = realloc(b, cap);
			if (!nb) {
				format_msg(err, errlen, "%s: out of memory", path);
				ret = -ENOMEM;
				goto fail;
			}
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		format_msg(err, errlen, "cannot read intensity file %s", path);
		goto fail;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	fclose(f);
	free(b);
	return ret;
}
int carbon_load_intensity_file(struct carbon_ctx *c, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_intensity_file(path, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = carbon_parse_intensity_csv(buf, len, path, &c->series, err, errlen);
	free(buf);
	if (ret)
		return ret;
	c->file = strdup(path);
	return c->file ? 0 : -ENOMEM;
}

void carbon_push(struct carbon_ctx *c, double g_per_kwh, uint64_t real_ns)
{
	unsigned i;

	if (!c || !(g_per_kwh >= 0) || isinf(g_per_kwh))
		return;
	pthread_mutex_lock(&c->lock);
	if (c->npush == CARBON_MAX_PUSHES) {
		memmove(c->push, c->push + 1, (CARBON_MAX_PUSHES - 1) * sizeof(c->push[0]));
		c->npush--;
	}
	/* Keep ascending order; a push for the same instant replaces the earlier one. */
	i = c->npush;
	while (i && c->push[i - 1].ns > real_ns)
		i--;
	if (i && c->push[i - 1].ns == real_ns) {
		c->push[i - 1].g_per_kwh = g_per_kwh;
	} else {
		memmove(c->push + i + 1, c->push + i, (c->npush - i) * sizeof(c->push[0]));
		c->push[i].ns = real_ns;
		c->push[i].g_per_kwh = g_per_kwh;
		c->npush++;
	}
	pthread_mutex_unlock(&c->lock);
}

static int utc_year(uint64_t ns)
{
	int64_t days = (int64_t)(ns / 1000000000ULL / 86400);
	int y = 1970;

	for (;;) {
		int len = ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 366 : 365;

		if (days < len)
			return y;
		days -= len;
		y++;
	}
}

void carbon_intensity_at(const struct carbon_ctx *cc, uint64_t real_ns, struct carbon_intensity *out)
{
	struct carbon_ctx *c = (struct carbon_ctx *)cc; /* the lock is not part of the value */
	size_t lo, hi;
	unsigned i;

	memset(out, 0, sizeof(*out));
	out->zone = "";
	pthread_mutex_lock(&c->lock);
	for (i = c->npush; i-- > 0;) {
		if (c->push[i].ns <= real_ns) {
			out->g_per_kwh = c->push[i].g_per_kwh;
			out->rel_sd = RELSD_SERIES;
			out->kind = "pushed";
			out->source = "api";
			pthread_mutex_unlock(&c->lock);
			return;
		}
	}
	pthread_mutex_unlock(&c->lock);

	/* The file's value in force: the last row with ts <= t; before its first row it does not apply. */
	if (c->series.n && c->series.ts_ns[0] <= real_ns) {
		lo = 0;
		hi = c->series.n;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (c->series.ts_ns[mid] <= real_ns)
				lo = mid;
			else
				hi = mid;
		}
		out->g_per_kwh = c->series.g_per_kwh[lo];
		out->rel_sd = RELSD_SERIES;
		out->kind = "file";
		out->year = utc_year(c->series.ts_ns[lo]);
		out->source = c->file;
		return;
	}
	if (!c->zone) {
		out->g_per_kwh = c->fixed;
		out->rel_sd = RELSD_FIXED;
		out->kind = "fixed";
		out->source = "--intensity";
		return;
	}
	out->g_per_kwh = c->zone->g_per_kwh;
	out->kind = "zone";
	out->zone = c->zone->code;
	out->year = c->zone->year;
	out->source = c->zone->source;
	if (!strcmp(c->zone->code, "WORLD"))
		out->rel_sd = RELSD_WORLD;
	else if (strstr(c->zone->source, "estimated") || strstr(c->zone->source, "-from-"))
		out->rel_sd = RELSD_ZONE_ESTIMATED;
	else
		out->rel_sd = RELSD_ZONE_MEASURED;
}
