/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The fleet API, pure (user/fleet/fleet_api.c): a request becomes a plan of PromQL queries, and their Prometheus answers become joule's or Carmen's JSON, or CSV. */
#ifndef JOULE_FLEET_API_H
#define JOULE_FLEET_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/http_query.h"
#include "joule/promql.h"

enum fleet_route {
	FLEET_NONE,
	FLEET_ROOT,		/* GET /: a plain text index */
	FLEET_HEALTHZ,
	FLEET_APPS,		/* /api/v1/apps: the daemon's keys, over the fleet */
	FLEET_ENERGY,		/* /api/v1/energy: the daemon's keys, over the fleet */
	FLEET_HOSTS,		/* /api/v1/hosts: every target, up or not, with its host name */
	FLEET_CARMEN_APPS,	/* /api/apps: {"namespaces": [...], "apps": [...]} */
	FLEET_CARMEN_RUN,	/* /api/apps/run-engine: Carmen's per-step arrays and totals */
	FLEET_NODES_CSV,	/* /nodes.csv: the last N measurements per node */
	FLEET_PODS_CSV,		/* /pods.csv: the last N measurements per pod */
	FLEET_STREAM_CSV,	/* /stream.csv: per-node rows, one set per step, chunked, until the client leaves */
	FLEET_OPENAPI,		/* /api/v1/openapi.json: user/fleet/openapi.json, as the daemon serves its own */
};

/* A checked request; the limits are the daemon's (http_param, http_params_check). */
struct fleet_req {
	enum fleet_route route;
	struct http_request_params p;	/* group, window_ns, step_ns, breakdown, limit */
	uint64_t now_ms;		/* evaluation time, the server's clock in ms: a whole second would miss the newest samples */
};

/* The i-th path the fleet answers (its route table, in order), NULL past the last. */
const char *fleet_route_path(size_t i);
/* The OpenAPI document of the fleet API (user/fleet/openapi.json, embedded at build time), and its length. */
const char *fleet_openapi(size_t *len);

/* Route a path (no query string). 0, 404, or 405 with allow set. */
int fleet_route(const char *method, const char *path, struct fleet_req *r, const char **allow);
/*
 * One query parameter, as the daemon checks it; the fleet adds window= and
 * breakdown= to /api/v1/apps (the daemon's /apps are lifetime totals, a
 * fleet's only exist per window), Carmen's sampling= (the step), app=
 * (the group), emission_breakdown= and paas= (accepted, ignored: one
 * Prometheus is one fleet). 0, or 400 with err.
 */
int fleet_param(struct fleet_req *r, const char *key, const char *value, char *err, size_t errlen);
/* Cross-parameter checks after the last fleet_param. 0 or 400 with err. */
int fleet_check(const struct fleet_req *r, char *err, size_t errlen);

#define FLEET_MAX_QUERIES 8

struct fleet_query {
	bool range;			/* query_range from start_ms to end_ms every step_s; else an instant at time_ms */
	uint64_t time_ms, start_ms, end_ms, step_s;
	char expr[PROMQL_MAX];
};

struct fleet_plan {
	struct fleet_query q[FLEET_MAX_QUERIES];
	size_t n;
};

/*
 * The queries a request needs. job is the scrape job of the joule targets
 * ("" for any). 0, or 400 with err (a name that cannot be a label value).
 */
int fleet_plan(const struct fleet_req *r, const char *job, struct fleet_plan *plan, char *err, size_t errlen);

/* One upstream answer, as promclient gives it (struct prom_answer's fields). */
struct fleet_answer {
	long http_status;	/* 0: none */
	int err;		/* the transport's -errno (-ETIMEDOUT: slow) */
	const char *message;	/* the transport's reason */
	const char *body;
	size_t len;
};

struct fleet_reply {
	unsigned status;
	const char *content_type;
	char *body;		/* malloc'ed; NULL on an error */
	size_t len;
	char err[512];		/* status >= 400: the message for the API's error JSON */
};

/*
 * Build the answer from the plan's answers (ans[i] for plan->q[i]). Any
 * upstream failure is the answer: 504 when Prometheus was too slow, 502 when
 * it was unreachable, answered an HTTP error or status "error" (its
 * errorType and error quoted), or something that is not its API's JSON.
 * Never a success with what is missing left out. Returns out->status.
 */
unsigned fleet_build(const struct fleet_req *r, const struct fleet_plan *plan, const struct fleet_answer *ans,
		     struct fleet_reply *out);

/* The CSV header of the per-node rows (nodes.csv and the stream). */
extern const char fleet_nodes_csv_header[];

#endif /* JOULE_FLEET_API_H */
