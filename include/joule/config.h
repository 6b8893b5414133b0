/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Configuration: command-line flags and the daemon's INI file fill one struct through one key table. */
#ifndef JOULE_CONFIG_H
#define JOULE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/attrib.h"
#include "joule/carbon.h"
#include "joule/energy.h"
#include "joule/gpu.h"
#include "joule/ledger.h"

struct joule_config {
	/* shared by run, trace, daemon (DESIGN.md "Interfaces") */
	enum energy_kind source;	/* --source auto|powercap|msr|perf|model */
	char *powercap_root;		/* --powercap-root */
	char *msr_root;			/* --msr-root */
	char *perf_root;		/* --perf-root */
	char *cpu_root;			/* --cpu-root (topology; tests) */
	/* where the runtimes keep the state that names containers and pods (docs/identity.md) */
	char *docker_root;		/* --docker-root (/var/lib/docker) */
	char *storage_root;		/* --containers-storage-root (/var/lib/containers/storage: Podman, CRI-O) */
	char *pod_logs_root;		/* --pod-logs-root (/var/log/pods) */
	char *container_logs_root;	/* --container-logs-root (/var/log/containers) */
	double model_idle_w;		/* --model-idle-watts */
	double model_max_w;		/* --model-max-watts */
	bool model_linear;		/* --model-curve linear|specpower */
	enum gpu_mode gpu;		/* --gpu auto|nvml|none */
	char *nvml_lib;			/* --nvml-lib PATH (NULL: libnvidia-ml.so.1) */
	uint64_t interval_ns;		/* --interval 100ms */
	char *zone;			/* --zone ZZ ("list" prints the table) */
	double intensity;		/* --intensity G (0: unset) */
	char *intensity_file;		/* --intensity-file F */
	double pue;			/* --pue X (0: 1.0) */
	double embodied_g;		/* --embodied-kg ×1000 (<0 none, 0 default) */
	double lifetime_s;		/* --lifetime-years × year */
	double embodied_share;		/* --embodied-share: this machine's share of its server (0: detect) */
	enum idle_policy idle;		/* --idle separate|proportional */
	enum carbon_method uncertainty;	/* --uncertainty analytical|monte-carlo */
	char *ledger;			/* --ledger FILE */
	uint64_t ledger_period_ns;	/* --ledger-period 60s */
	enum ledger_sync ledger_sync;	/* --ledger-sync always|interval|never */
	char *ledger_key;		/* --ledger-key FILE */
	uint64_t ledger_rotate_bytes;	/* --ledger-rotate-bytes 64M (0: never) */
	uint64_t ledger_rotate_age_ns;	/* --ledger-rotate-age 24h (0: never) */
	bool ledger_gzip;		/* --ledger-gzip: compress rotated segments */
	uint32_t max_tasks;		/* --max-tasks N (BPF task map size) */
	bool json;			/* --json */
	int verbose;			/* -v, repeatable */

	/* daemon */
	char *config_file;		/* --config F */
	char *listen;			/* --listen ADDR:PORT (port 0: any free port) */
	char *socket_path;		/* --socket PATH ("" disables) */
	char *socket_group;		/* --socket-group NAME */
	uint32_t socket_mode;		/* --socket-mode 0660 */
	char *ready_file;		/* --ready-file F */
	char *api_token_file;		/* --api-token-file F */
	char *web_config_file;		/* --web-config-file F: TLS and basic auth (exporter-toolkit format) */
	uint32_t http_max_connections;	/* --http-max-connections N per listener (0: 4096) */
	char *hostname;			/* --hostname NAME: joule_host_info's hostname (a pod: the node's name) */
	uint32_t top_n;			/* --top-n N: per-process metric series */
	char **filters;			/* --filter COMM (repeatable): always exported per process */
	size_t nfilters;
	uint64_t grace_ns;		/* --exited-grace 5m */
	uint64_t group_idle_ns;		/* --group-idle 15m: idle groups leave /metrics */
};

/* Defaults of DESIGN.md: auto source, 100 ms, WORLD, PUE 1, separate idle, ... */
void config_init(struct joule_config *c);
void config_free(struct joule_config *c);

/*
 * Set one key (the long flag name without dashes, e.g. "powercap-root";
 * the INI file uses the same names). Returns 0, -ENOENT for an unknown key,
 * or -EINVAL with a message in err naming the key, the value and what is
 * accepted.
 */
int config_set(struct joule_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Does the key take a value? (false for boolean flags such as "json"). -ENOENT if unknown. */
int config_key_takes_value(const char *key);

/*
 * Which subcommands take a key as a flag (bits of config_key_doc.scope). The
 * daemon's file accepts every key; a key with scope 0 is a file-only key.
 */
#define CONFIG_RUN	(1u << 0)
#define CONFIG_TRACE	(1u << 1)	/* trace and top */
#define CONFIG_PROBE	(1u << 2)
#define CONFIG_DAEMON	(1u << 3)

/* What --help, the man page and completion say about a key: the table's documentation columns. */
struct config_key_doc {
	const char *name;
	bool takes_value;
	char short_opt;		/* 'v', or 0 */
	const char *metavar;	/* DIR, DURATION, ... (NULL for a flag) */
	const char *help;	/* one line, lowercase */
	const char *unit;	/* "gCO2e/kWh", ... or NULL */
	const char *dflt;	/* the default as a user would write it, or NULL for none */
	const char *accepted;
	unsigned scope;		/* CONFIG_* bits */
	bool repeatable;
};

/* The i-th key of the table (0 .. config_key_count()-1), in table order. */
size_t config_key_count(void);
void config_key_doc(size_t i, struct config_key_doc *out);

/* The ledger options a config names (--ledger, --ledger-sync, --ledger-period, --ledger-key). */
void config_ledger_opts(const struct joule_config *c, struct ledger_opts *o);

/* Load an INI file (keys as above, optional [joule] section). Errors name file:line. */
int config_load_file(struct joule_config *c, const char *path, char *err, size_t errlen);
/* The same for text in memory; name stands for the file in messages. */
int config_load_string(struct joule_config *c, const char *text, const char *name, char *err, size_t errlen);

#endif /* JOULE_CONFIG_H */
