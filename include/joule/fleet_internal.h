/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the fleet API's answer files share and nothing else includes: a parsed answer, its labels and points, the hosts, the replies. */
#ifndef JOULE_FLEET_INTERNAL_H
#define JOULE_FLEET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "joule/fleet_api.h"

/* One upstream answer that passed the checks (fleet_answer.c). */
struct fleet_parsed {
	cJSON *root;
	cJSON *result;		/* data.result */
};

/* The queries of an /api/v1/apps plan, in order (fleet_plan makes them, b_apps reads them). */
enum fleet_apps_query {
	FA_ENERGY,	/* by group, group_kind, domain */
	FA_CARBON,	/* by group, group_kind, kind */
	FA_CPU,		/* by group, group_kind */
	FA_UP,
	FA_NAMES,	/* the hosts' names */
	FA_IDENTITY,	/* the workload names of each group: label sets only */
	FA_BREAKDOWN,	/* breakdown=true: energy by group, group_kind, instance */
};

/*
 * The element of a growing array of structs whose first member is a
 * char[keylen] key: the one holding key, else a new zeroed one appended
 * with it. NULL when out of memory.
 */
void *fleet_slot(void **v, size_t *n, size_t size, size_t keylen, const char *key);

/* A series' label, "" when it has none. */
const char *fleet_label(const cJSON *series, const char *name);
/* One [ts, "value"] pair; false for anything else, or NaN/Inf (no counter sum is either). */
bool fleet_pair(const cJSON *pv, double *ts, double *v);

/* up{} and joule_host_info joined by instance (labels, not samples). */
struct fleet_host {
	char instance[256], name[256];
	bool up, scraped;
};

struct fleet_hosts {
	struct fleet_host *v;
	size_t n;
};

/* Fill from up{} and joule_host_info (either may be NULL), sorted by instance. 0 or -ENOMEM. */
int fleet_hosts_fill(struct fleet_hosts *h, const cJSON *up, const cJSON *names);
/* An instance's host name, the instance itself when it has none. */
const char *fleet_host_name(const struct fleet_hosts *h, const char *instance);
/* "hosts" and "missing_hosts" into o. */
void fleet_add_hosts(cJSON *o, const struct fleet_hosts *h);

/* o (consumed) as the JSON reply. Returns out->status. */
unsigned fleet_reply_json(struct fleet_reply *out, cJSON *o);
void fleet_add_num(cJSON *o, const char *k, double v);

/* The builders of fleet_build, one per kind of answer; each returns out->status. */
unsigned fleet_build_energy(const struct fleet_req *r, const struct fleet_plan *pl, struct fleet_parsed *ps, size_t n,
			    struct fleet_reply *out);
unsigned fleet_build_csv(const struct fleet_req *r, struct fleet_parsed *ps, struct fleet_reply *out);

#endif /* JOULE_FLEET_INTERNAL_H */
