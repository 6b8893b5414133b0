// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Configuration: one table of keys and setters serves command-line flags and the INI file alike. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/config_internal.h"
#include "joule/util.h"

#define OFF(f) offsetof(struct joule_config, f)

/* The measuring commands: run and trace/top share the pipeline's keys; the daemon takes all of them. */
#define MEASURE (CONFIG_RUN | CONFIG_TRACE | CONFIG_DAEMON)
#define SOURCE_KEYS (MEASURE | CONFIG_PROBE)
#define WRITES_LEDGER (CONFIG_RUN | CONFIG_DAEMON)

static const struct config_key keys[] = {
	{ "source", true, cfg_set_source, "auto, powercap, msr, perf, model", OFF(source), .metavar = "SOURCE",
	  .help = "energy source; auto takes the first usable of powercap, msr, perf, model", .dflt = "auto",
	  .scope = SOURCE_KEYS },
	{ "powercap-root", true, cfg_set_string, "a directory", OFF(powercap_root), .metavar = "DIR",
	  .help = "powercap sysfs tree to read RAPL counters from", .dflt = "/sys/class/powercap",
	  .scope = SOURCE_KEYS },
	{ "msr-root", true, cfg_set_string, "a directory", OFF(msr_root), .metavar = "DIR",
	  .help = "directory of the per-CPU MSR devices (N/msr)", .dflt = "/dev/cpu", .scope = SOURCE_KEYS },
	{ "perf-root", true, cfg_set_string, "a directory", OFF(perf_root), .metavar = "DIR",
	  .help = "sysfs directory of the perf power PMU", .dflt = "/sys/bus/event_source/devices/power",
	  .scope = SOURCE_KEYS },
	{ "cpu-root", true, cfg_set_string, "a directory", OFF(cpu_root), .metavar = "DIR",
	  .help = "sysfs CPU tree the topology (CPU to package) is read from", .dflt = "/sys/devices/system/cpu",
	  .scope = SOURCE_KEYS },
	{ "docker-root", true, cfg_set_string, "a directory", OFF(docker_root), .metavar = "DIR",
	  .help = "Docker's state directory: container names from containers/ID/config.v2.json",
	  .dflt = "/var/lib/docker", .scope = CONFIG_DAEMON },
	{ "containers-storage-root", true, cfg_set_string, "a directory", OFF(storage_root), .metavar = "DIR",
	  .help = "Podman's and CRI-O's storage: container names from overlay-containers/containers.json",
	  .dflt = "/var/lib/containers/storage", .scope = CONFIG_DAEMON },
	{ "pod-logs-root", true, cfg_set_string, "a directory", OFF(pod_logs_root), .metavar = "DIR",
	  .help = "the kubelet's pod log directories NAMESPACE_POD_UID/CONTAINER: Kubernetes names",
	  .dflt = "/var/log/pods", .scope = CONFIG_DAEMON },
	{ "container-logs-root", true, cfg_set_string, "a directory", OFF(container_logs_root), .metavar = "DIR",
	  .help = "the kubelet's container log links (containerd container ids to names)",
	  .dflt = "/var/log/containers", .scope = CONFIG_DAEMON },
	{ "model-idle-watts", true, cfg_set_positive_double, "watts > 0", OFF(model_idle_w), .metavar = "W",
	  .help = "power model: whole-host power when idle", .unit = "W", .dflt = "from the CPU model table",
	  .scope = SOURCE_KEYS },
	{ "model-max-watts", true, cfg_set_positive_double, "watts > 0", OFF(model_max_w), .metavar = "W",
	  .help = "power model: whole-host power at 100 % CPU", .unit = "W", .dflt = "from the CPU model table",
	  .scope = SOURCE_KEYS },
	{ "model-curve", true, cfg_set_model_curve, "linear, specpower", OFF(model_linear), .metavar = "CURVE",
	  .help = "power model: power against utilisation, linear or the SPECpower curve", .dflt = "specpower",
	  .scope = SOURCE_KEYS },
	{ "gpu", true, cfg_set_gpu, "auto, nvml, none", OFF(gpu), .metavar = "MODE",
	  .help = "GPU energy: auto reads NVIDIA GPUs through NVML when the library and a GPU are there; "
		  "nvml requires them; none reads no GPU", .dflt = "auto", .scope = SOURCE_KEYS },
	{ "nvml-lib", true, cfg_set_string, "a file", OFF(nvml_lib), .metavar = "PATH",
	  .help = "the NVML library to load", .dflt = "libnvidia-ml.so.1", .scope = SOURCE_KEYS },
	{ "interval", true, cfg_set_interval, "a duration from 10ms to 1h, e.g. 100ms", OFF(interval_ns),
	  .metavar = "DURATION", .help = "sampling period, 10ms to 1h", .unit = "ms, s, m, h", .dflt = "100ms",
	  .scope = MEASURE },
	{ "zone", true, cfg_set_string, "a zone code such as DE or WORLD ('list' prints them)", OFF(zone),
	  .metavar = "ZONE", .help = "grid zone of the built-in intensity table ('--zone list' prints it)",
	  .dflt = "WORLD", .scope = MEASURE },
	{ "intensity", true, cfg_set_positive_double, "gCO2e/kWh > 0", OFF(intensity), .metavar = "G",
	  .help = "a fixed grid carbon intensity, over the zone's average", .unit = "gCO2e/kWh",
	  .dflt = "the zone's average", .scope = MEASURE },
	{ "intensity-file", true, cfg_set_string, "a CSV file timestamp,gco2_per_kwh", OFF(intensity_file),
	  .metavar = "FILE", .help = "intensity time series, CSV lines timestamp,gco2_per_kwh",
	  .scope = MEASURE },
	{ "pue", true, cfg_set_pue, "a number from 1.0 to 10", OFF(pue), .metavar = "X",
	  .help = "power usage effectiveness of the facility (its energy over IT energy), 1.0 to 10",
	  .dflt = "1.0", .scope = MEASURE },
	{ "embodied-kg", true, cfg_set_embodied, "kgCO2e >= 0, or none", OFF(embodied_g), .metavar = "KG",
	  .help = "embodied carbon of the server this machine runs on (scaled by --embodied-share), or 'none' "
		  "to leave it out", .unit = "kgCO2e",
	  .dflt = "1000 on bare metal, 1616.5 in a VM", .scope = MEASURE },
	{ "lifetime-years", true, cfg_set_lifetime, "years, more than 0 and at most 100", OFF(lifetime_s),
	  .metavar = "YEARS", .help = "lifespan the embodied carbon is spread over", .unit = "years",
	  .dflt = "4", .scope = MEASURE },
	{ "embodied-share", true, cfg_set_share, "a fraction more than 0 and at most 1 (this machine's share of its server)",
	  OFF(embodied_share), .metavar = "X",
	  .help = "this machine's share of the server whose embodied carbon --embodied-kg is",
	  .dflt = "1 on bare metal, online CPUs / 96 in a VM", .scope = MEASURE },
	{ "idle", true, cfg_set_idle, "separate, proportional", OFF(idle), .metavar = "POLICY",
	  .help = "idle energy: its own bucket (separate) or spread over busy tasks (proportional)",
	  .dflt = "separate", .scope = MEASURE },
	{ "uncertainty", true, cfg_set_uncertainty, "analytical, monte-carlo", OFF(uncertainty), .metavar = "METHOD",
	  .help = "method of the 95 % carbon interval, analytical or monte-carlo", .dflt = "analytical",
	  .scope = MEASURE },
	{ "ledger", true, cfg_set_string, "a file path", OFF(ledger), .metavar = "FILE",
	  .help = "append hash-chained JSON-lines records to FILE", .scope = WRITES_LEDGER },
	{ "ledger-period", true, cfg_set_duration, "a duration > 0, e.g. 60s", OFF(ledger_period_ns),
	  .metavar = "DURATION", .help = "period of the ledger's process and host records",
	  .unit = "ms, s, m, h", .dflt = "60s", .scope = WRITES_LEDGER },
	{ "ledger-sync", true, cfg_set_ledger_sync, "always, interval, never", OFF(ledger_sync), .metavar = "MODE",
	  .help = "fdatasync the ledger after every record (always), once a second (interval) or never",
	  .dflt = "interval", .scope = WRITES_LEDGER },
	{ "ledger-key", true, cfg_set_string, "a file path", OFF(ledger_key), .metavar = "FILE",
	  .help = "Ed25519 key to sign ledger records with ('joule ledger keygen FILE' makes one)",
	  .scope = WRITES_LEDGER },
	{ "ledger-rotate-bytes", true, cfg_set_bytes, "a size > 0, e.g. 64M", OFF(ledger_rotate_bytes), .metavar = "SIZE",
	  .help = "close the ledger segment and start FILE.N once it reaches SIZE (k, M, G, T); unset, never",
	  .unit = "bytes", .scope = WRITES_LEDGER },
	{ "ledger-rotate-age", true, cfg_set_duration, "a duration > 0, e.g. 24h", OFF(ledger_rotate_age_ns),
	  .metavar = "DURATION", .help = "close the ledger segment once it is this old; unset, never",
	  .unit = "ms, s, m, h", .scope = WRITES_LEDGER },
	{ "ledger-gzip", false, cfg_set_bool, "true, false (yes/no, on/off, 1/0)", OFF(ledger_gzip),
	  .help = "gzip the ledger segments once rotated (verify reads them as they are)", .dflt = "false",
	  .scope = WRITES_LEDGER },
	{ "max-tasks", true, cfg_set_max_tasks, "a whole number from 64 to 4194304", OFF(max_tasks), .metavar = "N",
	  .help = "size of the BPF task map, 64 to 4194304; beyond it tasks count as overflow",
	  .unit = "tasks", .dflt = "65536", .scope = MEASURE },
	{ "json", false, cfg_set_bool, "true, false (yes/no, on/off, 1/0)", OFF(json),
	  .help = "print the report as JSON", .dflt = "false", .scope = CONFIG_RUN | CONFIG_TRACE | CONFIG_PROBE },
	{ "verbose", false, cfg_set_verbose, "0 to 3", OFF(verbose), .metavar = "LEVEL",
	  .help = "more messages: -v info, -vv debug and libbpf's log; repeatable", .dflt = "0",
	  .scope = SOURCE_KEYS, .short_opt = 'v', .repeatable = true },
	{ "config", true, cfg_set_string, "a file path", OFF(config_file), .metavar = "FILE",
	  .help = "read keys from this INI file first (the daemon's format; run takes no ledger from it); "
		  "options on the command line win",
	  .scope = MEASURE },
	{ "listen", true, cfg_set_listen,
	  "IPV4:PORT, [IPV6]:PORT, localhost:PORT or *:PORT (port 0 = any), or empty to disable TCP", OFF(listen),
	  .metavar = "ADDR:PORT", .help = "TCP address of /metrics and the API; port 0 takes any free port, '' disables",
	  .dflt = "127.0.0.1:9940", .scope = CONFIG_DAEMON },
	{ "socket", true, cfg_set_string_or_empty, "a path, or empty to disable", OFF(socket_path), .metavar = "PATH",
	  .help = "Unix socket serving the same API; '' disables it", .dflt = "/run/joule/joule.sock",
	  .scope = CONFIG_DAEMON },
	{ "socket-group", true, cfg_set_string, "a group name", OFF(socket_group), .metavar = "NAME",
	  .help = "group that owns the Unix socket", .dflt = "joule", .scope = CONFIG_DAEMON },
	{ "socket-mode", true, cfg_set_socket_mode, "an octal mode such as 0660", OFF(socket_mode), .metavar = "MODE",
	  .help = "permission bits of the Unix socket, octal", .dflt = "0660", .scope = CONFIG_DAEMON },
	{ "ready-file", true, cfg_set_string, "a file path", OFF(ready_file), .metavar = "FILE",
	  .help = "written with the bound address once serving (for scripts and tests)", .scope = CONFIG_DAEMON },
	{ "api-token-file", true, cfg_set_string, "a file path", OFF(api_token_file), .metavar = "FILE",
	  .help = "file holding the bearer token that PUT /api/v1/intensity requires", .scope = CONFIG_DAEMON },
	{ "top-n", true, cfg_set_u32, "a whole number", OFF(top_n), .metavar = "N",
	  .help = "per-process metric series for the top N processes by energy", .unit = "processes",
	  .dflt = "20", .scope = CONFIG_DAEMON },
	{ "filter", true, cfg_set_filter, "a command name (comm, at most 15 characters), repeatable", OFF(filters),
	  .metavar = "COMM", .help = "always export this command name per process; repeatable",
	  .scope = CONFIG_DAEMON, .repeatable = true },
	{ "exited-grace", true, cfg_set_duration, "a duration > 0, e.g. 5m", OFF(grace_ns), .metavar = "DURATION",
	  .help = "how long an exited process stays in the API (its metric series stop at exit)",
	  .unit = "ms, s, m, h", .dflt = "5m",
	  .scope = CONFIG_DAEMON },
	{ "group-idle", true, cfg_set_duration, "a duration > 0, e.g. 15m", OFF(group_idle_ns), .metavar = "DURATION",
	  .help = "a group with no energy for this long leaves /metrics (it returns, without a reset, when it earns "
		  "again)", .unit = "ms, s, m, h", .dflt = "15m", .scope = CONFIG_DAEMON },
	{ "web-config-file", true, cfg_set_string, "a file path (exporter-toolkit web config)", OFF(web_config_file),
	  .metavar = "FILE", .help = "TLS and basic auth of the TCP listener, in the exporter-toolkit web config format",
	  .scope = CONFIG_DAEMON },
	{ "http-max-connections", true, cfg_set_u32, "a whole number (0: 4096)", OFF(http_max_connections),
	  .metavar = "N", .help = "connections each listener serves at once (a reserve for /metrics and the probes "
	  "comes on top)", .unit = "connections", .dflt = "4096", .scope = CONFIG_DAEMON },
	{ "hostname", true, cfg_set_string, "a host name", OFF(hostname), .metavar = "NAME",
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

