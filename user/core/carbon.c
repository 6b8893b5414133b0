// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Energy to carbon: intensity sources and their precedence, PUE, embodied share, 95 % intervals. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "joule/carbon.h"

/* 1 kWh = 3.6e12 µJ and 1 g = 1e6 µg, so µg = µJ · g/kWh · PUE / 3.6e6. */
#define UJ_PER_KWH_OVER_UG_PER_G 3.6e6L

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

#define MAX_PUSHES 32
#define MAX_MC_DRAWS 10000000u
#define MAX_FILE_BYTES (256u << 20)

struct push {
	uint64_t ns;
	double g_per_kwh;
};

struct carbon_ctx {
	const struct carbon_zone *zone;	/* NULL when only a fixed value was given */
	double fixed;			/* > 0: --intensity */
	struct carbon_series series;
	char *file;
	double pue, embodied_g, lifetime_s, embodied_share;
	char embodied_basis[160];
	enum carbon_method method;
	uint32_t draws;
	uint64_t seed;
	double *mc_buf;			/* [draws], so carbon_interval never allocates */
	pthread_mutex_t lock;		/* pushes (HTTP thread) and mc_buf */
	struct push push[MAX_PUSHES];	/* ascending by ns; the oldest drop out */
	unsigned npush;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *carbon_method_name(enum carbon_method m)
{
	return m == CARBON_MONTE_CARLO ? "monte_carlo" : "analytical_truncated";
}

int carbon_method_parse(const char *s, enum carbon_method *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "analytical") || !strcmp(s, "analytical_truncated"))
		*out = CARBON_ANALYTICAL;
	else if (!strcmp(s, "monte-carlo") || !strcmp(s, "monte_carlo"))
		*out = CARBON_MONTE_CARLO;
	else
		return -EINVAL;
	return 0;
}

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
			ret = -EINVAL;
			set_err(err, errlen, "%s:%zu: expected 2 fields (timestamp,gco2_per_kwh), found %zu",
				name, line, fields);
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
			ret = -EINVAL;
			set_err(err, errlen,
				"%s:%zu: bad timestamp '%s' (expected ISO-8601 with Z or a UTC offset, e.g. "
				"2026-01-01T00:00:00Z, or epoch seconds)",
				name, line, q);
			goto fail;
		}
		if (!field_copy(f2, n2, f, sizeof(f)) || !parse_value(f, &g)) {
			printable(f2, n2, q, sizeof(q));
			ret = -EINVAL;
			set_err(err, errlen, "%s:%zu: bad number '%s' (expected gCO2e/kWh, e.g. 412.5)",
				name, line, q);
			goto fail;
		}
		if (g < 0) {
			ret = -EINVAL;
			set_err(err, errlen, "%s:%zu: negative value %s (intensity must be >= 0 gCO2e/kWh)",
				name, line, f);
			goto fail;
		}
		if (s.n && ts <= s.ts_ns[s.n - 1]) {
			ret = -EINVAL;
			set_err(err, errlen,
				"%s:%zu: not sorted: timestamp is not after the one on line %zu "
				"(rows must be strictly ascending)",
				name, line, prev_line);
			goto fail;
		}
		ret = series_push(&s, &cap, ts, g);
		if (ret) {
			set_err(err, errlen, "%s: out of memory", name);
			goto fail;
		}
		prev_line = line;
	}
	if (!s.n) {
		set_err(err, errlen, "%s: empty file: no data rows (expected lines timestamp,gco2_per_kwh)",
			name);
		return -EINVAL;
	}
	*out = s;
	return 0;
fail:
	carbon_series_free(&s);
	return ret;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	size_t cap = 65536, n = 0;
	char *b = NULL, *nb;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		set_err(err, errlen, "cannot open intensity file %s: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		size_t r;

		if (!b || n == cap) {
			if (b)
				cap *= 2;
			if (cap > MAX_FILE_BYTES) {
				set_err(err, errlen, "%s: intensity file larger than %u MiB", path,
					MAX_FILE_BYTES >> 20);
				ret = -EINVAL;
				goto fail;
			}
			nb = realloc(b, cap);
			if (!nb) {
				set_err(err, errlen, "%s: out of memory", path);
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
		set_err(err, errlen, "cannot read intensity file %s", path);
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

/* ---- context --------------------------------------------------------------- */

int carbon_open(struct carbon_ctx **out, const struct carbon_cfg *cfg, char *err, size_t errlen)
{
	struct carbon_ctx *c;
	int ret = -EINVAL;

	if (!out || !cfg)
		return -EINVAL;
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);

	if (!(cfg->intensity_g_per_kwh >= 0)) {
		set_err(err, errlen, "bad intensity %g: must be >= 0 gCO2e/kWh", cfg->intensity_g_per_kwh);
		goto fail;
	}
	c->fixed = cfg->intensity_g_per_kwh;
	/* An explicit --zone and --intensity contradict each other: refuse rather than ignore one. */
	if (cfg->zone && c->fixed > 0) {
		set_err(err, errlen,
			"both --zone %s and --intensity %g given: use one (--intensity replaces the "
			"default zone " CARBON_DEFAULT_ZONE ")",
			cfg->zone, c->fixed);
		goto fail;
	}
	if (cfg->zone || !(c->fixed > 0)) {
		const char *z = cfg->zone ? cfg->zone : CARBON_DEFAULT_ZONE;

		c->zone = carbon_zone_find(z);
		if (!c->zone) {
			set_err(err, errlen,
				"unknown zone '%s': 'joule run --zone list' prints the %zu known zones", z,
				carbon_nzones);
			goto fail;
		}
	}

	c->pue = cfg->pue == 0 ? 1.0 : cfg->pue;
	if (!(c->pue >= 1.0 && c->pue < 10.0)) {
		set_err(err, errlen, "bad PUE %g: must be between 1.0 and 10", cfg->pue);
		goto fail;
	}
	if (isnan(cfg->embodied_g) || isinf(cfg->embodied_g)) {
		set_err(err, errlen, "bad embodied carbon %g g", cfg->embodied_g);
		goto fail;
	}
	c->embodied_g = cfg->embodied_g == 0 ? CARBON_DEFAULT_EMBODIED_G : cfg->embodied_g;
	c->embodied_share = cfg->embodied_share == 0 ? 1.0 : cfg->embodied_share;
	if (!(c->embodied_share > 0 && c->embodied_share <= 1)) {
		set_err(err, errlen, "bad embodied share %g: must be more than 0 and at most 1", cfg->embodied_share);
		goto fail;
	}
	snprintf(c->embodied_basis, sizeof(c->embodied_basis), "%s",
		 cfg->embodied_basis ? cfg->embodied_basis : "configured");
	c->lifetime_s = cfg->lifetime_s == 0 ? CARBON_DEFAULT_LIFETIME_S : cfg->lifetime_s;
	if (!(c->lifetime_s > 0) || isinf(c->lifetime_s)) {
		set_err(err, errlen, "bad host lifetime %g s: must be > 0", cfg->lifetime_s);
		goto fail;
	}

	c->method = cfg->method;
	c->seed = cfg->mc_seed;
	c->draws = cfg->mc_draws ? cfg->mc_draws : CARBON_DEFAULT_MC_DRAWS;
	if (c->draws < 100 || c->draws > MAX_MC_DRAWS) {
		set_err(err, errlen, "bad Monte Carlo draw count %u: must be 100..%u", c->draws,
			MAX_MC_DRAWS);
		goto fail;
	}
	if (c->method == CARBON_MONTE_CARLO) {
		c->mc_buf = malloc(c->draws * sizeof(double));
		if (!c->mc_buf) {
			ret = -ENOMEM;
			set_err(err, errlen, "out of memory for %u Monte Carlo draws", c->draws);
			goto fail;
		}
	}

	if (cfg->intensity_file) {
		char *buf = NULL;
		size_t len = 0;

		ret = read_file(cfg->intensity_file, &buf, &len, err, errlen);
		if (ret)
			goto fail;
		ret = carbon_parse_intensity_csv(buf, len, cfg->intensity_file, &c->series, err,
						 errlen);
		free(buf);
		if (ret)
			goto fail;
		c->file = strdup(cfg->intensity_file);
		if (!c->file) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	carbon_close(c);
	return ret;
}

void carbon_close(struct carbon_ctx *c)
{
	if (!c)
		return;
	carbon_series_free(&c->series);
	free(c->file);
	free(c->mc_buf);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void carbon_push(struct carbon_ctx *c, double g_per_kwh, uint64_t real_ns)
{
	unsigned i;

	if (!c || !(g_per_kwh >= 0) || isinf(g_per_kwh))
		return;
	pthread_mutex_lock(&c->lock);
	if (c->npush == MAX_PUSHES) {
		memmove(c->push, c->push + 1, (MAX_PUSHES - 1) * sizeof(c->push[0]));
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

double carbon_pue(const struct carbon_ctx *c)
{
	return c->pue;
}

static uint64_t round_ug(long double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 18446744073709551615.0L)
		return UINT64_MAX;
	return (uint64_t)(v + 0.5L);
}

uint64_t carbon_operational_ug(uint64_t energy_uj, double g_per_kwh, double pue)
{
	return round_ug((long double)energy_uj * g_per_kwh * pue / UJ_PER_KWH_OVER_UG_PER_G);
}

uint64_t carbon_embodied_ug(const struct carbon_ctx *c, uint64_t interval_ns, double share)
{
	if (c->embodied_g < 0 || !(share > 0))
		return 0;
	if (share > 1)
		share = 1;
	/* SCI M = TE · (time reserved / expected lifespan) · (resources reserved / total). */
	return round_ug((long double)c->embodied_g * 1e6L * ((long double)interval_ns / 1e9L) /
			c->lifetime_s * c->embodied_share * share);
}

void carbon_get_embodied(const struct carbon_ctx *c, struct carbon_embodied *out)
{
	out->enabled = c->embodied_g >= 0;
	out->server_g = out->enabled ? c->embodied_g : 0;
	out->lifetime_s = c->lifetime_s;
	out->share = c->embodied_share;
	out->basis = c->embodied_basis;
}

void carbon_embodied_default(bool virtual_machine, unsigned ncpu, unsigned host_threads, double *server_g,
			     double *share, char *basis, size_t basis_len)
{
	if (!virtual_machine && !host_threads) {
		/* bare metal: the machine is the server, and all of it is ours */
		*server_g = CARBON_DEFAULT_EMBODIED_G;
		*share = 1.0;
		snprintf(basis, basis_len, "ccf-base-server (bare metal, whole machine)");
		return;
	}
	/*
	 * A VM sees its vCPUs, not the host's: its share of the host is its
	 * CPUs over the host's hardware threads, the SCI's resources reserved
	 * over total resources.
	 */
	*server_g = CARBON_VM_HOST_EMBODIED_G;
	if (!host_threads)
		host_threads = CARBON_VM_HOST_THREADS;
	if (!ncpu)
		ncpu = 1;
	*share = ncpu >= host_threads ? 1.0 : (double)ncpu / host_threads;
	snprintf(basis, basis_len, "ccf-median-cloud-host, %u of %u threads (%s)", ncpu < host_threads ? ncpu : host_threads,
		 host_threads, virtual_machine ? "virtual machine" : "configured host size");
}

/* ---- uncertainty ----------------------------------------------------------- */

static double norm_cdf(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

/* Acklam's rational approximation, polished with one Halley step: ~1e-15 relative. */
static double norm_quantile(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
				    -2.759285104469687e+02, 1.383577518672690e+02,
				    -3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
				    -1.556989798598866e+02, 6.680131188771972e+01,
				    -1.328068155288572e+01 };
	static const double cc[] = { -7.784894002430293e-03, -3.223964580411365e-01,
				     -2.400758277161838e+00, -2.549732539343734e+00,
				     4.374664141464968e+00, 2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
				    2.445134137142996e+00, 3.754408661907416e+00 };
	double q, r, x, e, u;

	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		x = (((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		x = -(((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else {
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	e = norm_cdf(x) - p;
	u = e * sqrt(2 * M_PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}

/* xoshiro256** seeded by splitmix64: small, fast, and the same stream on every platform. */
struct rng {
	uint64_t s[4];
	double spare;
	bool has_spare;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl(r->s[3], 45);
	return res;
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
	r->has_spare = false;
}

/* Box–Muller, using both outputs. */
static double rng_normal(struct rng *r)
{
	double u1, u2, m;

	if (r->has_spare) {
		r->has_spare = false;
		return r->spare;
	}
	u1 = ((rng_next(r) >> 11) + 1) * 0x1.0p-53; /* (0, 1]: log is finite */
	u2 = (rng_next(r) >> 11) * 0x1.0p-53;
	m = sqrt(-2 * log(u1));
	r->spare = m * sin(2 * M_PI * u2);
	r->has_spare = true;
	return m * cos(2 * M_PI * u2);
}

/* A factor ~ N(1, sd) truncated at 0, by rejection (accepts >= 50 % of draws for any sd). */
static double rng_factor(struct rng *r, double sd)
{
	double x;

	if (sd <= 0)
		return 1;
	do
		x = 1 + sd * rng_normal(r);
	while (x <= 0);
	return x;
}

/* Quickselect: a[k] becomes the k-th smallest, smaller ones before it, larger after. */
static void select_kth(double *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
		double pivot, t;

		/* median of three keeps sorted-ish inputs linear */
		if (a[mid] < a[lo]) { t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
		if (a[hi] < a[lo]) { t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
		if (a[hi] < a[mid]) { t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
		pivot = a[mid];
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/* Sample quantile with linear interpolation between order statistics (R's type 7). */
static double quantile(double *a, size_t n, double p)
{
	double h = (double)(n - 1) * p, lo, hi = INFINITY;
	size_t k = (size_t)h, i;

	select_kth(a, n, k);
	lo = a[k];
	if (k + 1 >= n)
		return lo;
	for (i = k + 1; i < n; i++)
		hi = a[i] < hi ? a[i] : hi;
	return lo + (h - (double)k) * (hi - lo);
}

void carbon_interval(const struct carbon_ctx *cc, uint64_t mean_ug, double energy_rel_sd,
		     double intensity_rel_sd, struct carbon_estimate *out)
{
	struct carbon_ctx *c = (struct carbon_ctx *)cc; /* mc_buf is scratch, not state */
	double se = energy_rel_sd > 0 ? energy_rel_sd : 0;
	double si = intensity_rel_sd > 0 ? intensity_rel_sd : 0;
	double m = (double)mean_ug;

	out->method = c->method;
	out->mean_ug = mean_ug;
	out->lo_ug = out->hi_ug = out->dist_mean_ug = mean_ug;
	if (!mean_ug || (se == 0 && si == 0))
		return;

	if (c->method == CARBON_MONTE_CARLO) {
		struct rng r;
		double sum = 0;
		uint32_t i;

		pthread_mutex_lock(&c->lock);
		rng_seed(&r, c->seed);
		for (i = 0; i < c->draws; i++) {
			double v = rng_factor(&r, se) * rng_factor(&r, si);

			c->mc_buf[i] = v;
			sum += v;
		}
		out->dist_mean_ug = round_ug(m * (sum / c->draws));
		out->lo_ug = round_ug(m * quantile(c->mc_buf, c->draws, 0.025));
		out->hi_ug = round_ug(m * quantile(c->mc_buf, c->draws, 0.975));
		pthread_mutex_unlock(&c->lock);
		return;
	} else {
		/*
		 * XY of independent X ~ N(1, se), Y ~ N(1, si) has mean 1 and variance
		 * se² + si² + se²si²; approximate it by a normal truncated at 0 and take
		 * that distribution's own 2.5 % and 97.5 % quantiles.
		 */
		double s = sqrt(se * se + si * si + se * se * si * si);
		double alpha = -1 / s, a = norm_cdf(alpha);
		double zlo = norm_quantile(a + 0.025 * (1 - a));
		double zhi = norm_quantile(a + 0.975 * (1 - a));
		double phi = exp(-alpha * alpha / 2) / sqrt(2 * M_PI);

		out->lo_ug = round_ug(m * (1 + s * zlo));
		out->hi_ug = round_ug(m * (1 + s * zhi));
		out->dist_mean_ug = round_ug(m * (1 + s * phi / (1 - a)));
	}
}
