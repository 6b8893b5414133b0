// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fleet API's requests without I/O: routes, parameters as the daemon checks them, and the plan of PromQL queries. */
#include <stdio.h>
#include <string.h>
#include "joule/fleet_api.h"
#include "joule/fleet_internal.h"
#include "joule/labels.h"
#include "joule/util.h"

#define MAX_CSV_ROWS 1000	/* nodes.csv / pods.csv ?limit= : measurements per node or pod */

static const struct {
	const char *path;
	enum fleet_route id;
} routes[] = {
	{ "/", FLEET_ROOT },
	{ "/healthz", FLEET_HEALTHZ },
	{ "/api/v1/apps", FLEET_APPS },
	{ "/api/v1/energy", FLEET_ENERGY },
	{ "/api/v1/hosts", FLEET_HOSTS },
	{ "/api/apps", FLEET_CARMEN_APPS },
	{ "/api/apps/", FLEET_CARMEN_APPS },	/* Carmen's own spelling */
	{ "/api/apps/run-engine", FLEET_CARMEN_RUN },
	{ "/api/apps/run-engine/", FLEET_CARMEN_RUN },
	{ "/nodes.csv", FLEET_NODES_CSV },
	{ "/pods.csv", FLEET_PODS_CSV },
	{ "/stream.csv", FLEET_STREAM_CSV },
	{ "/api/v1/openapi.json", FLEET_OPENAPI },	/* the daemon's path for its own */
};

const char *fleet_route_path(size_t i)
{
	return i < ARRAY_SIZE(routes) ? routes[i].path : NULL;
}

int fleet_route(const char *method, const char *path, struct fleet_req *r, const char **allow)
{
	memset(r, 0, sizeof(*r));
	*allow = NULL;
	if (!method || !path)
		return 404;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (strcmp(path, routes[i].path))
			continue;
		r->route = routes[i].id;
		/* the daemon's defaults (1h in 1m steps, limit 100); Carmen's window is three hours in 1h samples */
		r->p.route = R_ENERGY;
		http_params_default(&r->p);
		if (r->route == FLEET_CARMEN_RUN || r->route == FLEET_CARMEN_APPS) {
			r->p.window_ns = 3 * 3600 * NSEC_PER_SEC;
			r->p.step_ns = 3600 * NSEC_PER_SEC;
		}
		if (r->route == FLEET_STREAM_CSV)
			r->p.step_ns = 5 * NSEC_PER_SEC;
		if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
			*allow = "GET";
			return 405;
		}
		return 0;
	}
	return 404;
}

/* The daemon's own check of a value, as if key were a parameter of route id. */
static int as_daemon(struct fleet_req *r, enum http_route_id id, const char *key, const char *value, char *err,
		     size_t errlen)
{
	enum http_route_id keep = r->p.route;
	int rc;

	r->p.route = id;
	rc = http_param(&r->p, key, value, err, errlen);
	r->p.route = keep;
	return rc;
}

static int unknown(const char *key, char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown parameter '%.64s'", key ? key : "");
	return 400;
}

int fleet_param(struct fleet_req *r, const char *key, const char *value, char *err, size_t errlen)
{
	uint64_t n;

	if (!key)
		return unknown(key, err, errlen);
	if (!value)
		value = "";
	switch (r->route) {
	case FLEET_APPS:
		if (!strcmp(key, "limit"))
			return as_daemon(r, R_APPS, key, value, err, errlen);
		if (!strcmp(key, "window") || !strcmp(key, "breakdown"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		return unknown(key, err, errlen);
	case FLEET_ENERGY:
		return as_daemon(r, R_ENERGY, key, value, err, errlen);
	case FLEET_HOSTS:
	case FLEET_CARMEN_APPS:
		if (!strcmp(key, "window"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		if (r->route == FLEET_CARMEN_APPS && !strcmp(key, "paas"))
			return 0;
		return unknown(key, err, errlen);
	case FLEET_CARMEN_RUN:
		if (!strcmp(key, "paas"))
			return 0; /* Carmen's cluster name: one Prometheus is one fleet here */
		if (!strcmp(key, "sampling"))
			return as_daemon(r, R_ENERGY, "step", value, err, errlen);
		if (!strcmp(key, "app"))
			return as_daemon(r, R_ENERGY, "group", value, err, errlen);
		if (!strcmp(key, "emission_breakdown"))
			return as_daemon(r, R_ENERGY, "breakdown", value, err, errlen);
		if (!strcmp(key, "window"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		return unknown(key, err, errlen);
	case FLEET_NODES_CSV:
	case FLEET_PODS_CSV:
	case FLEET_STREAM_CSV:
		if (!strcmp(key, "step"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		if (!strcmp(key, "limit") && r->route != FLEET_STREAM_CSV) {
			if (parse_u64(value, &n) || n < 1 || n > MAX_CSV_ROWS) {
				snprintf(err, errlen, "invalid parameter limit='%.64s' (accepted: a whole number from 1 to %d)",
					 value, MAX_CSV_ROWS);
				return 400;
			}
			r->p.limit = (uint32_t)n;
			return 0;
		}
		return unknown(key, err, errlen);
	default:
		return unknown(key, err, errlen);
	}
}

int fleet_check(const struct fleet_req *r, char *err, size_t errlen)
{
	if (r->route == FLEET_ENERGY || r->route == FLEET_CARMEN_RUN) {
		struct http_request_params p = r->p;

		p.route = R_ENERGY;
		return http_params_check(&p, err, errlen);
	}
	if ((r->route == FLEET_NODES_CSV || r->route == FLEET_PODS_CSV) &&
	    (uint64_t)r->p.limit * (r->p.step_ns / NSEC_PER_SEC) > 7 * 86400) {
		snprintf(err, errlen, "invalid parameter limit: limit x step reaches back more than 7d");
		return 400;
	}
	return 0;
}

/* ---- plans */

static struct fleet_query *add_q(struct fleet_plan *pl)
{
	struct fleet_query *q = &pl->q[pl->n++];

	memset(q, 0, sizeof(*q));
	return q;
}

/* The steps of a window ending now: evaluations at now-window+step .. now, each summing the step before it. */
static void range_of(const struct fleet_req *r, struct fleet_query *q)
{
	uint64_t w = r->p.window_ns / NSEC_PER_SEC, s = r->p.step_ns / NSEC_PER_SEC;

	q->range = true;
	q->end_ms = r->now_ms;
	q->start_ms = r->now_ms - (w - s) * 1000;
	q->step_s = s;
}

static const char *const family[] = { PROMQL_GROUP_ENERGY, PROMQL_GROUP_CARBON, PROMQL_GROUP_CPU };

/* up{} and the hosts' names, the two queries every JSON answer's "hosts" comes from. */
static int add_hosts(struct fleet_plan *pl, const char *base, uint64_t w)
{
	int rc = promql_up(add_q(pl)->expr, sizeof(pl->q[0].expr), base);

	return rc | promql_host_names(add_q(pl)->expr, sizeof(pl->q[0].expr), base, w);
}

/* Energy by domain and carbon by kind per step of the window (and per `who` if given): two range queries. */
static int add_steps(struct fleet_plan *pl, const struct fleet_req *r, const char *sel, const char *who)
{
	static const char *const part[] = { "domain", "kind" };
	uint64_t s = r->p.step_ns / NSEC_PER_SEC;
	int rc = 0;

	for (int k = 0; k < 2; k++) {
		struct fleet_query *q = add_q(pl);
		char by[64];

		snprintf(by, sizeof(by), "%s%s%s", who ? who : "", who ? ", " : "", part[k]);
		range_of(r, q);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), family[k], sel, by, s);
	}
	return rc;
}

/* "group, group_kind" and every workload name's label (docs/identity.md): the label sets of each group. */
static void identity_by(char *out, size_t len)
{
	struct labels_field f[LABELS_NIDENTITY];
	struct proc_labels none = { 0 };
	size_t off = (size_t)snprintf(out, len, "group, group_kind");

	labels_identity(&none, f);
	for (int k = 0; k < LABELS_NIDENTITY && off < len; k++)
		off += (size_t)snprintf(out + off, len - off, ", %s", f[k].metric);
}

int fleet_plan(const struct fleet_req *r, const char *job, struct fleet_plan *pl, char *err, size_t errlen)
{
	char base[PROMQL_MAX / 8] = "", sel[PROMQL_MAX / 8], podsel[PROMQL_MAX / 8];
	uint64_t w = r->p.window_ns / NSEC_PER_SEC, s = r->p.step_ns / NSEC_PER_SEC;
	char ident[512];
	struct fleet_query *q;
	int rc = 0;

	memset(pl, 0, sizeof(*pl));
	if (job && job[0] && promql_add_matcher(base, sizeof(base), "job", job)) {
		snprintf(err, errlen, "the job name cannot be a label value");
		return 400;
	}
	snprintf(sel, sizeof(sel), "%s", base);
	if (r->p.group[0] && promql_add_matcher(sel, sizeof(sel), "group", r->p.group)) {
		snprintf(err, errlen, "invalid parameter group: holds a control character or is too long");
		return 400;
	}
	switch (r->route) {
	case FLEET_APPS:
		/* in enum fleet_apps_query's order */
		for (int k = 0; k < 3; k++) {
			static const char *const by[] = { "group, group_kind, domain", "group, group_kind, kind",
							  "group, group_kind" };

			q = add_q(pl);
			rc |= promql_window_sum(q->expr, sizeof(q->expr), family[k], sel, by[k], w);
		}
		rc |= add_hosts(pl, base, w);
		q = add_q(pl);
		identity_by(ident, sizeof(ident));
		rc |= promql_group_labels(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, sel, ident, w);
		if (r->p.breakdown) {
			q = add_q(pl);
			rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, sel,
						"group, group_kind, instance", w);
		}
		break;
	case FLEET_ENERGY:
	case FLEET_CARMEN_RUN:
		/* per step: the window sum over one step, so the steps tile the window exactly */
		rc |= add_steps(pl, r, sel, NULL);
		rc |= add_hosts(pl, base, w);
		if (r->p.breakdown)
			rc |= add_steps(pl, r, sel, r->route == FLEET_ENERGY ? "instance" : "group");
		break;
	case FLEET_HOSTS:
		rc |= add_hosts(pl, base, w);
		break;
	case FLEET_CARMEN_APPS:
		q = add_q(pl);
		rc |= promql_namespaces(q->expr, sizeof(q->expr), base);
		q = add_q(pl);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, base, "group", w);
		break;
	case FLEET_NODES_CSV:
	case FLEET_PODS_CSV:
	case FLEET_STREAM_CSV: {
		/* the last N steps; each value a rate over its step (watts, CPU cores) */
		uint64_t n = r->route == FLEET_STREAM_CSV ? 1 : r->p.limit;
		const char *by = r->route == FLEET_PODS_CSV ? "instance, namespace, pod" : "instance";

		snprintf(podsel, sizeof(podsel), "%s%spod!=\"\"", base, base[0] ? "," : "");
		for (int k = 0; k < 2; k++) {
			q = add_q(pl);
			q->range = true;
			q->end_ms = r->now_ms;
			q->start_ms = r->now_ms - (n - 1) * s * 1000;
			q->step_s = s;
			rc |= promql_rate_sum(q->expr, sizeof(q->expr), k ? PROMQL_GROUP_CPU : PROMQL_GROUP_ENERGY,
					      r->route == FLEET_PODS_CSV ? podsel : base, by, s);
		}
		q = add_q(pl);
		rc |= promql_host_names(q->expr, sizeof(q->expr), base, n * s);
		break;
	}
	default:
		break;
	}
	for (size_t i = 0; i < pl->n; i++)
		if (!pl->q[i].range)
			pl->q[i].time_ms = r->now_ms;
	if (rc) {
		snprintf(err, errlen, "the query does not fit in %d bytes", PROMQL_MAX);
		return 400;
	}
	return 0;
}
