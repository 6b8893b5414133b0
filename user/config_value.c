// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Configuration values: the setters of the key table, each parsing and checking one kind of value. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/config_internal.h"
#include "joule/netaddr.h"
#include "joule/util.h"

/* Julian year: what "lifetime in years" means for amortising embodied carbon. */
#define SECONDS_PER_YEAR (365.25 * 86400.0)

static int fail(char *err, size_t errlen, const struct config_key *k, const char *v, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "invalid value '%s' for %s: %s (accepted: %s)", v ? v : "", k->name,
			 why, k->accepted);
	return -EINVAL;
}

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->off))

int cfg_set_string(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	char **dst = FIELD(c, k, char *);
	char *s;

	if (!*v)
		return fail(err, errlen, k, v, "empty");
	s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Like cfg_set_string, but "" is meaningful (e.g. socket = "" disables the socket). */
int cfg_set_string_or_empty(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			       size_t errlen)
{
	char **dst = FIELD(c, k, char *);
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int cfg_set_positive_double(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			       size_t errlen)
{
	double d;

	if (parse_double(v, &d))
		return fail(err, errlen, k, v, "not a number");
	if (d <= 0)
		return fail(err, errlen, k, v, "must be greater than 0");
	*FIELD(c, k, double) = d;
	return 0;
}

int cfg_set_pue(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	double d;

	if (parse_double(v, &d))
		return fail(err, errlen, k, v, "not a number");
	/* PUE is total facility energy over IT energy: below 1 is impossible. */
	if (d < 1.0 || d > 10.0)
		return fail(err, errlen, k, v, "out of range");
	c->pue = d;
	return 0;
}

int cfg_set_embodied(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			size_t errlen)
{
	double d;

	if (parse_double(v, &d) && strcmp(v, "none") != 0)
		return fail(err, errlen, k, v, "not a number");
	if (strcmp(v, "none") == 0 || d < 0)
		c->embodied_g = -1; /* no embodied share at all */
	else
		c->embodied_g = d * 1000.0;
	return 0;
}

int cfg_set_share(struct joule_config *c, const struct config_key *k, const char *v, char *err,
		     size_t errlen)
{
	double d;

	if (parse_double(v, &d))
		return fail(err, errlen, k, v, "not a number");
	if (!(d > 0 && d <= 1))
		return fail(err, errlen, k, v, "out of range");
	c->embodied_share = d;
	return 0;
}

int cfg_set_lifetime(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			size_t errlen)
{
	double d;

	if (parse_double(v, &d))
		return fail(err, errlen, k, v, "not a number");
	if (d <= 0 || d > 100)
		return fail(err, errlen, k, v, "out of range");
	c->lifetime_s = d * SECONDS_PER_YEAR;
	return 0;
}

int cfg_set_duration(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			size_t errlen)
{
	uint64_t ns;

	if (parse_duration_ns(v, &ns))
		return fail(err, errlen, k, v, "not a duration");
	if (ns == 0)
		return fail(err, errlen, k, v, "must be greater than 0");
	*FIELD(c, k, uint64_t) = ns;
	return 0;
}

int cfg_set_interval(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			size_t errlen)
{
	uint64_t ns;

	if (parse_duration_ns(v, &ns))
		return fail(err, errlen, k, v, "not a duration");
	/* Below 10 ms the sampler's own work dominates; above 1 h a tick loses whole processes. */
	if (ns < 10 * NSEC_PER_MSEC || ns > 3600 * NSEC_PER_SEC)
		return fail(err, errlen, k, v, "out of range");
	c->interval_ns = ns;
	return 0;
}

int cfg_set_u32(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (parse_u64(v, &n))
		return fail(err, errlen, k, v, "not a whole number");
	if (n > UINT32_MAX)
		return fail(err, errlen, k, v, "too large");
	*FIELD(c, k, uint32_t) = (uint32_t)n;
	return 0;
}

int cfg_set_max_tasks(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			 size_t errlen)
{
	uint64_t n;

	if (parse_u64(v, &n))
		return fail(err, errlen, k, v, "not a whole number");
	if (n < 64 || n > (1u << 22))
		return fail(err, errlen, k, v, "out of range");
	c->max_tasks = (uint32_t)n;
	return 0;
}

int cfg_set_source(struct joule_config *c, const struct config_key *k, const char *v, char *err,
		      size_t errlen)
{
	if (strcmp(v, "auto") == 0) {
		c->source = ENERGY_SRC_AUTO;
		return 0;
	}
	if (energy_kind_parse(v, &c->source))
		return fail(err, errlen, k, v, "unknown source");
	return 0;
}

int cfg_set_model_curve(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	static const struct name_value curves[] = { { "linear", true }, { "specpower", false }, { NULL, 0 } };
	int linear;

	if (name_value_find(curves, v, &linear))
		return fail(err, errlen, k, v, "unknown curve");
	c->model_linear = linear;
	return 0;
}

int cfg_set_idle(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	if (idle_policy_parse(v, &c->idle))
		return fail(err, errlen, k, v, "unknown idle policy");
	return 0;
}

int cfg_set_uncertainty(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	if (carbon_method_parse(v, &c->uncertainty))
		return fail(err, errlen, k, v, "unknown method");
	return 0;
}

int cfg_set_ledger_sync(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	static const struct name_value modes[] = {
		{ "always", LEDGER_SYNC_ALWAYS }, { "interval", LEDGER_SYNC_INTERVAL }, { "never", LEDGER_SYNC_NEVER },
		{ NULL, 0 },
	};
	int mode;

	if (name_value_find(modes, v, &mode))
		return fail(err, errlen, k, v, "unknown sync mode");
	c->ledger_sync = mode;
	return 0;
}

/* "64M", "1G", "500k", or bytes; powers of 1024. */
int cfg_set_bytes(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	static const char units[] = "kmgt";
	char num[32];
	size_t len = strlen(v);
	const char *u = len ? strchr(units, tolower((unsigned char)v[len - 1])) : NULL;
	const char *given = v;
	uint64_t n, mul = 1;

	if (u && v[len - 1] && len < sizeof(num)) {
		for (const char *p = units; p <= u; p++)
			mul *= 1024;
		snprintf(num, sizeof(num), "%.*s", (int)len - 1, v);
		v = num;
	}
	if (parse_u64(v, &n) || n == 0)
		return fail(err, errlen, k, given, "not a size > 0 (bytes, or with k, M, G, T)");
	if (n > UINT64_MAX / mul)
		return fail(err, errlen, k, given, "too large");
	*FIELD(c, k, uint64_t) = n * mul;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_set_bool(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	bool b = true;

	if (v && parse_bool(v, &b))
		return fail(err, errlen, k, v, "not a boolean");
	*FIELD(c, k, bool) = b;
	return 0;
}

int cfg_set_verbose(struct joule_config *c, const struct config_key *k, const char *v, char *err,
		       size_t errlen)
{
	uint64_t n;

	if (!v) { /* -v is repeatable: each one raises the level */
		if (c->verbose < 3)
			c->verbose++;
		return 0;
	}
	if (parse_u64(v, &n) || n > 3)
		return fail(err, errlen, k, v, "not a level");
	c->verbose = (int)n;
	return 0;
}

int cfg_set_listen(struct joule_config *c, const struct config_key *k, const char *v, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	/* "" disables TCP (the Unix socket may still serve) */
	if (*v && netaddr_parse_listen(v, &ss, &len))
		return fail(err, errlen, k, v, "not ADDR:PORT");
	return cfg_set_string_or_empty(c, k, v, err, errlen);
}

int cfg_set_socket_mode(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	unsigned long m;
	size_t n = strlen(v);
	char *end;

	if (n < 3 || n > 4 || strspn(v, "01234567") != n)
		return fail(err, errlen, k, v, "not an octal mode");
	m = strtoul(v, &end, 8);
	if (m > 0777)
		return fail(err, errlen, k, v, "only permission bits");
	c->socket_mode = (uint32_t)m;
	return 0;
}

int cfg_set_filter(struct joule_config *c, const struct config_key *k, const char *v, char *err,
		      size_t errlen)
{
	char **n;
	char *s;

	if (!*v)
		return fail(err, errlen, k, v, "empty");
	/* the kernel truncates comm to 15 characters, so a longer filter could never match */
	if (strlen(v) > 15)
		return fail(err, errlen, k, v, "longer than 15 characters; a comm is at most 15 characters");
	s = strdup(v);
	if (!s)
		return -ENOMEM;
	n = realloc(c->filters, (c->nfilters + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return -ENOMEM;
	}
	n[c->nfilters++] = s;
	c->filters = n;
	return 0;
}

/* GPU keys (issue 16): --gpu and --nvml-lib, kept together */
int cfg_set_gpu(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	if (gpu_mode_parse(v, &c->gpu))
		return fail(err, errlen, k, v, "unknown GPU mode");
	return 0;
}
