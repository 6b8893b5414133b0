// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Configuration: one table of keys and setters serves command-line flags and the INI file alike. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include "joule/config.h"
#include "joule/netaddr.h"
#include "joule/util.h"

/* A config file is a few kB; a megabyte is room for comments, not a reason to read /dev/zero. */
#define CONFIG_MAX_BYTES (1024 * 1024)

/* Julian year: what "lifetime in years" means for amortising embodied carbon. */
#define SECONDS_PER_YEAR (365.25 * 86400.0)

struct config_key {
	const char *name;
	bool takes_value;
	/* value is NULL only for a boolean/counting key given as a bare flag */
	int (*set)(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen);
	const char *accepted; /* named in error messages */
	size_t off;	      /* offset of the field in struct joule_config */
	/* documentation and scope (designated initializers, after the five above) */
	const char *metavar, *help, *unit, *dflt;
	unsigned scope;	/* CONFIG_* bits: the subcommands that take it as a flag */
	char short_opt;
	bool repeatable;
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

static int set_share(struct joule_config *c, const struct config_key *k, const char *v, char *err,
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

/* "64M", "1G", "500k", or bytes; powers of 1024. */
static int set_bytes(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
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

/* GPU keys (issue 16): --gpu and --nvml-lib, kept together */
static int set_gpu(struct joule_config *c, const struct config_key *k, const char *v, char *err, size_t errlen)
{
	if (gpu_mode_parse(v, &c->gpu))
		return fail(err, errlen, k, v, "unknown GPU mode");
	return 0;
}

#define OFF(f) offsetof(struct joule_config, f)

/* The measuring commands: run and trace/top share the pipeline's keys; the daemon takes all of them. */
#define MEASURE (CONFIG_RUN | CONFIG_TRACE | CONFIG_DAEMON)
#define SOURCE_KEYS (MEASURE | CONFIG_PROBE)
#define WRITES_LEDGER (CONFIG_RUN | CONFIG_DAEMON)

static const struct config_key keys[] = {
	{ "source", true, set_source, "auto, powercap, msr, perf, model", OFF(source), .metavar = "SOURCE",
	  .help = "energy source; auto takes the first usable of powercap, msr, perf, model", .dflt = "auto",
	  .scope = SOURCE_KEYS },
	{ "powercap-root", true, set_string, "a directory", OFF(powercap_root), .metavar = "DIR",
	  .help = "powercap sysfs tree to read RAPL counters from", .dflt = "/sys/class/powercap",
	  .scope = SOURCE_KEYS },
	{ "msr-root", true, set_string, "a directory", OFF(msr_root), .metavar = "DIR",
	  .help = "directory of the per-CPU MSR devices (N/msr)", .dflt = "/dev/cpu", .scope = SOURCE_KEYS },
	{ "perf-root", true, set_string, "a directory", OFF(perf_root), .metavar = "DIR",
	  .help = "sysfs directory of the perf power PMU", .dflt = "/sys/bus/event_source/devices/power",
	  .scope = SOURCE_KEYS },
	{ "cpu-root", true, set_string, "a directory", OFF(cpu_root), .metavar = "DIR",
	  .help = "sysfs CPU tree the topology (CPU to package) is read from", .dflt = "/sys/devices/system/cpu",
	  .scope = SOURCE_KEYS },
	{ "docker-root", true, set_string, "a directory", OFF(docker_root), .metavar = "DIR",
	  .help = "Docker's state directory: container names from containers/ID/config.v2.json",
	  .dflt = "/var/lib/docker", .scope = CONFIG_DAEMON },
	{ "containers-storage-root", true, set_string, "a directory", OFF(storage_root), .metavar = "DIR",
	  .help = "Podman's and CRI-O's storage: container names from overlay-containers/containers.json",
	  .dflt = "/var/lib/containers/storage", .scope = CONFIG_DAEMON },
	{ "pod-logs-root", true, set_string, "a directory", OFF(pod_logs_root), .metavar = "DIR",
	  .help = "the kubelet's pod log directories NAMESPACE_POD_UID/CONTAINER: Kubernetes names",
	  .dflt = "/var/log/pods", .scope = CONFIG_DAEMON },
	{ "container-logs-root", true, set_string, "a directory", OFF(container_logs_root), .metavar = "DIR",
	  .help = "the kubelet's container log links (containerd container ids to names)",
	  .dflt = "/var/log/containers", .scope = CONFIG_DAEMON },
	{ "model-idle-watts", true, set_positive_double, "watts > 0", OFF(model_idle_w), .metavar = "W",
	  .help = "power model: whole-host power when idle", .unit = "W", .dflt = "from the CPU model table",
	  .scope = SOURCE_KEYS },
	{ "model-max-watts", true, set_positive_double, "watts > 0", OFF(model_max_w), .metavar = "W",
	  .help = "power model: whole-host power at 100 % CPU", .unit = "W", .dflt = "from the CPU model table",
	  .scope = SOURCE_KEYS },
	{ "model-curve", true, set_model_curve, "linear, specpower", OFF(model_linear), .metavar = "CURVE",
	  .help = "power model: power against utilisation, linear or the SPECpower curve", .dflt = "specpower",
	  .scope = SOURCE_KEYS },
	{ "gpu", true, set_gpu, "auto, nvml, none", OFF(gpu), .metavar = "MODE",
	  .help = "GPU energy: auto reads NVIDIA GPUs through NVML when the library and a GPU are there; "
		  "nvml requires them; none reads no GPU", .dflt = "auto", .scope = SOURCE_KEYS },
	{ "nvml-lib", true, set_string, "a file", OFF(nvml_lib), .metavar = "PATH",
	  .help = "the NVML library to load", .dflt = "libnvidia-ml.so.1", .scope = SOURCE_KEYS },
	{ "interval", true, set_interval, "a duration from 10ms to 1h, e.g. 100ms", OFF(interval_ns),
	  .metavar = "DURATION", .help = "sampling period, 10ms to 1h", .unit = "ms, s, m, h", .dflt = "100ms",
	  .scope = MEASURE },
	{ "zone", true, set_string, "a zone code such as DE or WORLD ('list' prints them)", OFF(zone),
	  .metavar = "ZONE", .help = "grid zone of the built-in intensity table ('--zone list' prints it)",
	  .dflt = "WORLD", .scope = MEASURE },
	{ "intensity", true, set_positive_double, "gCO2e/kWh > 0", OFF(intensity), .metavar = "G",
	  .help = "a fixed grid carbon intensity, over the zone's average", .unit = "gCO2e/kWh",
	  .dflt = "the zone's average", .scope = MEASURE },
	{ "intensity-file", true, set_string, "a CSV file timestamp,gco2_per_kwh", OFF(intensity_file),
	  .metavar = "FILE", .help = "intensity time series, CSV lines timestamp,gco2_per_kwh",
	  .scope = MEASURE },
	{ "pue", true, set_pue, "a number from 1.0 to 10", OFF(pue), .metavar = "X",
	  .help = "power usage effectiveness of the facility (its energy over IT energy), 1.0 to 10",
	  .dflt = "1.0", .scope = MEASURE },
	{ "embodied-kg", true, set_embodied, "kgCO2e >= 0, or none", OFF(embodied_g), .metavar = "KG",
	  .help = "embodied carbon of the server this machine runs on (scaled by --embodied-share), or 'none' "
		  "to leave it out", .unit = "kgCO2e",
	  .dflt = "1000 on bare metal, 1616.5 in a VM", .scope = MEASURE },
	{ "lifetime-years", true, set_lifetime, "years, more than 0 and at most 100", OFF(lifetime_s),
	  .metavar = "YEARS", .help = "lifespan the embodied carbon is spread over", .unit = "years",
	  .dflt = "4", .scope = MEASURE },
	{ "embodied-share", true, set_share, "a fraction more than 0 and at most 1 (this machine's share of its server)",
	  OFF(embodied_share), .metavar = "X",
	  .help = "this machine's share of the server whose embodied carbon --embodied-kg is",
	  .dflt = "1 on bare metal, online CPUs / 96 in a VM", .scope = MEASURE },
	{ "idle", true, set_idle, "separate, proportional", OFF(idle), .metavar = "POLICY",
	  .help = "idle energy: its own bucket (separate) or spread over busy tasks (proportional)",
	  .dflt = "separate", .scope = MEASURE },
	{ "uncertainty", true, set_uncertainty, "analytical, monte-carlo", OFF(uncertainty), .metavar = "METHOD",
	  .help = "method of the 95 % carbon interval, analytical or monte-carlo", .dflt = "analytical",
	  .scope = MEASURE },
	{ "ledger", true, set_string, "a file path", OFF(ledger), .metavar = "FILE",
	  .help = "append hash-chained JSON-lines records to FILE", .scope = WRITES_LEDGER },
	{ "ledger-period", true, set_duration, "a duration > 0, e.g. 60s", OFF(ledger_period_ns),
	  .metavar = "DURATION", .help = "period of the ledger's process and host records",
	  .unit = "ms, s, m, h", .dflt = "60s", .scope = WRITES_LEDGER },
	{ "ledger-sync", true, set_ledger_sync, "always, interval, never", OFF(ledger_sync), .metavar = "MODE",
	  .help = "fdatasync the ledger after every record (always), once a second (interval) or never",
	  .dflt = "interval", .scope = WRITES_LEDGER },
	{ "ledger-key", true, set_string, "a file path", OFF(ledger_key), .metavar = "FILE",
	  .help = "Ed25519 key to sign ledger records with ('joule ledger keygen FILE' makes one)",
	  .scope = WRITES_LEDGER },
	{ "ledger-rotate-bytes", true, set_bytes, "a size > 0, e.g. 64M", OFF(ledger_rotate_bytes), .metavar = "SIZE",
	  .help = "close the ledger segment and start FILE.N once it reaches SIZE (k, M, G, T); unset, never",
	  .unit = "bytes", .scope = WRITES_LEDGER },
	{ "ledger-rotate-age", true, set_duration, "a duration > 0, e.g. 24h", OFF(ledger_rotate_age_ns),
	  .metavar = "DURATION", .help = "close the ledger segment once it is this old; unset, never",
	  .unit = "ms, s, m, h", .scope = WRITES_LEDGER },
	{ "ledger-gzip", false, set_bool, "true, false (yes/no, on/off, 1/0)", OFF(ledger_gzip),
	  .help = "gzip the ledger segments once rotated (verify reads them as they are)", .dflt = "false",
	  .scope = WRITES_LEDGER },
	{ "max-tasks", true, set_max_tasks, "a whole number from 64 to 4194304", OFF(max_tasks), .metavar = "N",
	  .help = "size of the BPF task map, 64 to 4194304; beyond it tasks count as overflow",
	  .unit = "tasks", .dflt = "65536", .scope = MEASURE },
	{ "json", false, set_bool, "true, false (yes/no, on/off, 1/0)", OFF(json),
	  .help = "print the report as JSON", .dflt = "false", .scope = CONFIG_RUN | CONFIG_TRACE | CONFIG_PROBE },
	{ "verbose", false, set_verbose, "0 to 3", OFF(verbose), .metavar = "LEVEL",
	  .help = "more messages: -v info, -vv debug and libbpf's log; repeatable", .dflt = "0",
	  .scope = SOURCE_KEYS, .short_opt = 'v', .repeatable = true },
	{ "config", true, set_string, "a file path", OFF(config_file), .metavar = "FILE",
	  .help = "read keys from this INI file first (the daemon's format; run takes no ledger from it); "
		  "options on the command line win",
	  .scope = MEASURE },
	{ "listen", true, set_listen,
	  "IPV4:PORT, [IPV6]:PORT, localhost:PORT or *:PORT (port 0 = any), or empty to disable TCP", OFF(listen),
	  .metavar = "ADDR:PORT", .help = "TCP address of /metrics and the API; port 0 takes any free port, '' disables",
	  .dflt = "127.0.0.1:9940", .scope = CONFIG_DAEMON },
	{ "socket", true, set_string_or_empty, "a path, or empty to disable", OFF(socket_path), .metavar = "PATH",
	  .help = "Unix socket serving the same API; '' disables it", .dflt = "/run/joule/joule.sock",
	  .scope = CONFIG_DAEMON },
	{ "socket-group", true, set_string, "a group name", OFF(socket_group), .metavar = "NAME",
	  .help = "group that owns the Unix socket", .dflt = "joule", .scope = CONFIG_DAEMON },
	{ "socket-mode", true, set_socket_mode, "an octal mode such as 0660", OFF(socket_mode), .metavar = "MODE",
	  .help = "permission bits of the Unix socket, octal", .dflt = "0660", .scope = CONFIG_DAEMON },
	{ "ready-file", true, set_string, "a file path", OFF(ready_file), .metavar = "FILE",
	  .help = "written with the bound address once serving (for scripts and tests)", .scope = CONFIG_DAEMON },
	{ "api-token-file", true, set_string, "a file path", OFF(api_token_file), .metavar = "FILE",
	  .help = "file holding the bearer token that PUT /api/v1/intensity requires", .scope = CONFIG_DAEMON },
	{ "top-n", true, set_u32, "a whole number", OFF(top_n), .metavar = "N",
	  .help = "per-process metric series for the top N processes by energy", .unit = "processes",
	  .dflt = "20", .scope = CONFIG_DAEMON },
	{ "filter", true, set_filter, "a command name (comm, at most 15 characters), repeatable", OFF(filters),
	  .metavar = "COMM", .help = "always export this command name per process; repeatable",
	  .scope = CONFIG_DAEMON, .repeatable = true },
	{ "exited-grace", true, set_duration, "a duration > 0, e.g. 5m", OFF(grace_ns), .metavar = "DURATION",
	  .help = "how long an exited process stays in the API (its metric series stop at exit)",
	  .unit = "ms, s, m, h", .dflt = "5m",
	  .scope = CONFIG_DAEMON },
	{ "group-idle", true, set_duration, "a duration > 0, e.g. 15m", OFF(group_idle_ns), .metavar = "DURATION",
	  .help = "a group with no energy for this long leaves /metrics (it returns, without a reset, when it earns "
		  "again)", .unit = "ms, s, m, h", .dflt = "15m", .scope = CONFIG_DAEMON },
	{ "web-config-file", true, set_string, "a file path (exporter-toolkit web config)", OFF(web_config_file),
	  .metavar = "FILE", .help = "TLS and basic auth of the TCP listener, in the exporter-toolkit web config format",
	  .scope = CONFIG_DAEMON },
	{ "http-max-connections", true, set_u32, "a whole number (0: 4096)", OFF(http_max_connections),
	  .metavar = "N", .help = "connections each listener serves at once (a reserve for /metrics and the probes "
	  "comes on top)", .unit = "connections", .dflt = "4096", .scope = CONFIG_DAEMON },
	{ "hostname", true, set_string, "a host name", OFF(hostname), .metavar = "NAME",
	  .help = "the hostname label of joule_host_info (in a pod, pass the node's name)",
	  .dflt = "the kernel's host name", .scope = CONFIG_DAEMON },
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
	c->group_idle_ns = 900 * NSEC_PER_SEC;
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
			  &c->socket_path, &c->socket_group, &c->ready_file, &c->api_token_file,
			  &c->web_config_file, &c->hostname, &c->nvml_lib };

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

size_t config_key_count(void)
{
	return ARRAY_SIZE(keys);
}

void config_key_doc(size_t i, struct config_key_doc *out)
{
	const struct config_key *k = &keys[i];

	*out = (struct config_key_doc){
		.name = k->name,
		.takes_value = k->takes_value,
		.short_opt = k->short_opt,
		.metavar = k->metavar,
		.help = k->help,
		.unit = k->unit,
		.dflt = k->dflt,
		.accepted = k->accepted,
		.scope = k->scope,
		.repeatable = k->repeatable,
	};
}

void config_ledger_opts(const struct joule_config *c, struct ledger_opts *o)
{
	*o = (struct ledger_opts){
		.path = c->ledger,
		.sync = c->ledger_sync,
		.period_ns = c->ledger_period_ns,
		.key_path = c->ledger_key,
		.rotate_bytes = c->ledger_rotate_bytes,
		.rotate_age_ns = c->ledger_rotate_age_ns,
		.compress = c->ledger_gzip,
	};
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
	struct stat st;
	int line;

	f = fopen(path, "re");
	if (!f) {
		int e = -errno;

		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	/* /dev/zero or a FIFO would be read forever: a config file is a regular file of sane size */
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, CONFIG_MAX_BYTES);
		fclose(f);
		return -EINVAL;
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
