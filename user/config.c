// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Configuration: one table of keys and setters serves command-line flags and the INI file alike. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>
#include "joule/config.h"
#include "joule/netaddr.h"
#include "joule/util.h"

/* Julian year: what "lifetime in years" means for amortising embodied carbon. */
#define SECONDS_PER_YEAR (365.25 * 86400.0)

struct config_key {
	const char *name;
	bool takes_value;
	/* value is NULL only for a boolean/counting key given as a bare flag */
	int (*set)(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen);
	const char *accepted; /* named in error messages */
	size_t off;	      /* offset of the field in struct joule_config */
};

static int fail(char *err, size_t errlen, const struct config_key *k, const char *v, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "invalid value '%s' for %s: %s (accepted: %s)", v ? v : "", k->name,
			 why, k->accepted);
	return -EINVAL;
}

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->off))

static int set_string(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
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

/* Like set_string, but "" is meaningful (e.g. socket = "" disables the socket). */
static int set_string_or_empty(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_positive_double(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_pue(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
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

static int set_embodied(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_lifetime(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_duration(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_interval(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_u32(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (parse_u64(v, &n))
		return fail(err, errlen, k, v, "not a whole number");
	if (n > UINT32_MAX)
		return fail(err, errlen, k, v, "too large");
	*FIELD(c, k, uint32_t) = (uint32_t)n;
	return 0;
}

static int set_max_tasks(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_source(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_model_curve(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	if (strcmp(v, "linear") == 0)
		c->model_linear = true;
	else if (strcmp(v, "specpower") == 0)
		c->model_linear = false;
	else
		return fail(err, errlen, k, v, "unknown curve");
	return 0;
}

static int set_idle(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	if (idle_policy_parse(v, &c->idle))
		return fail(err, errlen, k, v, "unknown idle policy");
	return 0;
}

static int set_uncertainty(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	if (carbon_method_parse(v, &c->uncertainty))
		return fail(err, errlen, k, v, "unknown method");
	return 0;
}

static int set_ledger_sync(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			   size_t errlen)
{
	if (strcmp(v, "always") == 0)
		c->ledger_sync = LEDGER_SYNC_ALWAYS;
	else if (strcmp(v, "interval") == 0)
		c->ledger_sync = LEDGER_SYNC_INTERVAL;
	else if (strcmp(v, "never") == 0)
		c->ledger_sync = LEDGER_SYNC_NEVER;
	else
		return fail(err, errlen, k, v, "unknown sync mode");
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

static int set_bool(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	bool b = true;

	if (v && parse_bool(v, &b))
		return fail(err, errlen, k, v, "not a boolean");
	*FIELD(c, k, bool) = b;
	return 0;
}

static int set_verbose(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_listen(struct joule_config *c, const struct config_key *k, const char *v, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	/* "" disables TCP (the Unix socket may still serve) */
	if (*v && netaddr_parse_listen(v, &ss, &len))
		return fail(err, errlen, k, v, "not ADDR:PORT");
	return set_string_or_empty(c, k, v, err, errlen);
}

static int set_socket_mode(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

static int set_filter(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

#define OFF(f) offsetof(struct joule_config, f)

static const struct config_key keys[] = {
	{ "source", true, set_source, "auto, powercap, msr, perf, model", OFF(source) },
	{ "powercap-root", true, set_string, "a directory", OFF(powercap_root) },
	{ "msr-root", true, set_string, "a directory", OFF(msr_root) },
	{ "perf-root", true, set_string, "a directory", OFF(perf_root) },
	{ "cpu-root", true, set_string, "a directory", OFF(cpu_root) },
	{ "docker-root", true, set_string, "a directory", OFF(docker_root) },
	{ "containers-storage-root", true, set_string, "a directory", OFF(storage_root) },
	{ "pod-logs-root", true, set_string, "a directory", OFF(pod_logs_root) },
	{ "container-logs-root", true, set_string, "a directory", OFF(container_logs_root) },
	{ "model-idle-watts", true, set_positive_double, "watts > 0", OFF(model_idle_w) },
	{ "model-max-watts", true, set_positive_double, "watts > 0", OFF(model_max_w) },
	{ "model-curve", true, set_model_curve, "linear, specpower", OFF(model_linear) },
	{ "interval", true, set_interval, "a duration from 10ms to 1h, e.g. 100ms", OFF(interval_ns) },
	{ "zone", true, set_string, "a zone code such as DE or WORLD ('list' prints them)", OFF(zone) },
	{ "intensity", true, set_positive_double, "gCO2e/kWh > 0", OFF(intensity) },
	{ "intensity-file", true, set_string, "a CSV file timestamp,gco2_per_kwh", OFF(intensity_file) },
	{ "pue", true, set_pue, "a number from 1.0 to 10", OFF(pue) },
	{ "embodied-kg", true, set_embodied, "kgCO2e >= 0, or none", OFF(embodied_g) },
	{ "lifetime-years", true, set_lifetime, "years, more than 0 and at most 100", OFF(lifetime_s) },
	{ "idle", true, set_idle, "separate, proportional", OFF(idle) },
	{ "uncertainty", true, set_uncertainty, "analytical, monte-carlo", OFF(uncertainty) },
	{ "ledger", true, set_string, "a file path", OFF(ledger) },
	{ "ledger-period", true, set_duration, "a duration > 0, e.g. 60s", OFF(ledger_period_ns) },
	{ "ledger-sync", true, set_ledger_sync, "always, interval, never", OFF(ledger_sync) },
	{ "ledger-key", true, set_string, "a file path", OFF(ledger_key) },
	{ "max-tasks", true, set_max_tasks, "a whole number from 64 to 4194304", OFF(max_tasks) },
	{ "json", false, set_bool, "true, false (yes/no, on/off, 1/0)", OFF(json) },
	{ "verbose", false, set_verbose, "0 to 3", OFF(verbose) },
	{ "config", true, set_string, "a file path", OFF(config_file) },
	{ "listen", true, set_listen,
	  "IPV4:PORT, [IPV6]:PORT, localhost:PORT or *:PORT (port 0 = any), or empty to disable TCP", OFF(listen) },
	{ "socket", true, set_string_or_empty, "a path, or empty to disable", OFF(socket_path) },
	{ "socket-group", true, set_string, "a group name", OFF(socket_group) },
	{ "socket-mode", true, set_socket_mode, "an octal mode such as 0660", OFF(socket_mode) },
	{ "ready-file", true, set_string, "a file path", OFF(ready_file) },
	{ "api-token-file", true, set_string, "a file path", OFF(api_token_file) },
	{ "hostname", true, set_string, "a host name", OFF(hostname) },
	{ "top-n", true, set_u32, "a whole number", OFF(top_n) },
	{ "filter", true, set_filter, "a command name (comm, at most 15 characters), repeatable", OFF(filters) },
	{ "exited-grace", true, set_duration, "a duration > 0, e.g. 5m", OFF(grace_ns) },
};

static const struct config_key *find_key(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

void config_init(struct joule_config *c)
{
	memset(c, 0, sizeof(*c));
	c->source = ENERGY_SRC_AUTO;
	c->interval_ns = 100 * NSEC_PER_MSEC;
	c->pue = 1.0;
	c->idle = IDLE_SEPARATE;
	c->uncertainty = CARBON_ANALYTICAL;
	c->ledger_period_ns = 60 * NSEC_PER_SEC;
	c->ledger_sync = LEDGER_SYNC_INTERVAL;
	c->socket_mode = 0660;
	c->top_n = 20;
	c->grace_ns = 300 * NSEC_PER_SEC;
	/*
	 * zone stays NULL: carbon treats that as WORLD, and a NULL zone never
	 * outranks an explicit --intensity. listen/socket/group defaults are
	 * strings the daemon fills in when they are unset (see daemon.c).
	 */
}

void config_free(struct joule_config *c)
{
	char **strs[] = { &c->powercap_root, &c->msr_root, &c->perf_root, &c->cpu_root, &c->docker_root,
			  &c->storage_root, &c->pod_logs_root, &c->container_logs_root, &c->zone,
			  &c->intensity_file, &c->ledger, &c->ledger_key, &c->config_file, &c->listen,
			  &c->socket_path, &c->socket_group, &c->ready_file, &c->api_token_file, &c->hostname };

	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < c->nfilters; i++)
		free(c->filters[i]);
	free(c->filters);
	c->filters = NULL;
	c->nfilters = 0;
}

int config_key_takes_value(const char *key)
{
	const struct config_key *k = find_key(key);

	if (!k)
		return -ENOENT;
	return k->takes_value;
}

int config_set(struct joule_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct config_key *k = find_key(key);

	if (!k) {
		if (err && errlen)
			snprintf(err, errlen, "unknown key '%s'", key ? key : "");
		return -ENOENT;
	}
	if (k->takes_value && !value) {
		if (err && errlen)
			snprintf(err, errlen, "%s needs a value (accepted: %s)", k->name, k->accepted);
		return -EINVAL;
	}
	return k->set(c, k, value, err, errlen);
}

struct ini_ctx {
	struct joule_config *c;
	char err[256];
	int rc;
	bool failed;
};

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	int rc;

	/* Only the first error is reported: its line number is what ini_parse returns. */
	if (section[0] && strcmp(section, "joule") != 0) {
		if (!x->failed)
			snprintf(x->err, sizeof(x->err), "unknown section [%s] (accepted: [joule] or none)", section);
		x->failed = true;
		x->rc = -EINVAL;
		return 0;
	}
	if (strcmp(name, "config") == 0) {
		if (!x->failed)
			snprintf(x->err, sizeof(x->err), "'config' cannot be set inside a config file");
		x->failed = true;
		x->rc = -EINVAL;
		return 0;
	}
	if (!value)
		value = "";
	rc = config_set(x->c, name, value, x->failed ? NULL : x->err, sizeof(x->err));
	if (rc) {
		x->failed = true;
		if (!x->rc)
			x->rc = rc == -ENOENT ? -EINVAL : rc;
		return 0;
	}
	return 1;
}

/* The first error of a parse, as "NAME:LINE: problem". */
static int ini_result(const struct ini_ctx *x, int line, const char *name, char *err, size_t errlen)
{
	if (line == 0 && !x->failed)
		return 0;
	if (err && errlen) {
		if (x->failed)
			snprintf(err, errlen, "%s:%d: %s", name, line, x->err);
		else if (line < 0)
			snprintf(err, errlen, "%s: out of memory", name);
		else
			snprintf(err, errlen, "%s:%d: syntax error (expected key = value or [section])", name, line);
	}
	if (x->rc)
		return x->rc;
	return line < 0 ? -ENOMEM : -EINVAL;
}

int config_load_file(struct joule_config *c, const char *path, char *err, size_t errlen)
{
	struct ini_ctx x = { .c = c };
	FILE *f;
	int line;

	f = fopen(path, "re");
	if (!f) {
		int e = -errno;

		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	line = ini_parse_file(f, on_ini_key, &x);
	fclose(f);
	return ini_result(&x, line, path, err, errlen);
}

int config_load_string(struct joule_config *c, const char *text, const char *name, char *err, size_t errlen)
{
	struct ini_ctx x = { .c = c };

	return ini_result(&x, ini_parse_string(text, on_ini_key, &x), name, err, errlen);
}
