/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Pure request parsing of the HTTP API (user/http/query.c): routes, query parameters, Accept-Encoding, bodies, error JSON. */
#ifndef JOULE_HTTP_QUERY_H
#define JOULE_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/labels.h"

enum http_route_id {
	R_NONE,
	R_ROOT,		/* GET /: the live page (web/index.html) */
	R_PAGE,		/* the live page's other files: /app.js, /app.css, /palette.js, /vendor/... */
	R_METRICS,
	R_HEALTHZ,
	R_READYZ,
	R_HOST,
	R_PROCESSES,
	R_PROCESS,	/* /api/v1/processes/{pid} */
	R_APPS,
	R_ENERGY,
	R_SAMPLES_CSV,
	R_STREAM,
	R_INTENSITY,
	R_OPENAPI,
	R_SPANS,	/* GET (list), POST (open) /api/v1/spans: Unix socket only */
	R_SPAN,		/* DELETE /api/v1/spans/{id} */
};

enum http_sort { SORT_ENERGY, SORT_CPU, SORT_CARBON, SORT_PID };

#define HTTP_MAX_LIMIT 1000	/* processes?limit= */
#define HTTP_MAX_SAMPLES 600	/* samples.csv?limit= : the 10 Hz ring */
#define HTTP_MAX_STEPS 3600	/* energy: window/step; an hour of the host's 1 s steps (the live page) */

struct http_request_params {
	enum http_route_id route;
	uint32_t pid;			/* R_PROCESS */
	uint64_t span_id;		/* R_SPAN */
	char comm[16];
	char group[PROC_GROUP_LEN];
	enum http_sort sort;
	uint32_t limit;
	uint64_t window_ns, step_ns;
	bool breakdown;
};

/*
 * Route a request. Returns 0 (route and pid set), 404 (no such path), or
 * 405 with the allowed methods ("GET", "PUT", "GET, POST", "DELETE") in allow.
 */
int http_route(const char *method, const char *path, struct http_request_params *p, const char **allow);

/* Defaults of a route's parameters (limit 100, sort=energy, window 1h, step 1m, ...). */
void http_params_default(struct http_request_params *p);

/*
 * Apply one query parameter to an already routed request. 0, or 400 with a
 * message in err naming the parameter and what is accepted (unknown
 * parameter, bad number, out of range). Call http_params_check afterwards.
 */
int http_param(struct http_request_params *p, const char *key, const char *value, char *err, size_t errlen);
/* Cross-parameter checks (step divides window, step count bound). 0 or 400. */
int http_params_check(const struct http_request_params *p, char *err, size_t errlen);

/*
 * Whether an Accept-Encoding value (NULL: absent) accepts gzip, per RFC 9110
 * 12.5.3: a comma list of codings with optional ";q=" weights (spaces
 * allowed); q=0 refuses; an explicit gzip/x-gzip entry outranks "*".
 */
bool http_accepts_gzip(const char *accept_encoding);

/*
 * Parse a PUT /api/v1/intensity body: exactly {"g_per_kwh": N}, 0 <= N <= 10000.
 * 0, or 400 with the reason in err (not JSON/object, unknown or duplicate
 * member, out of range).
 */
int http_parse_intensity(const char *body, size_t len, double *g_per_kwh, char *err, size_t errlen);

/*
 * Whether a still-escaped request target or argument holds "%00", which
 * would decode to a string end and silently cut what follows.
 */
bool http_has_nul_escape(const char *s);

/*
 * Whether the Content-Length values of one request (n of them) are
 * acceptable: none, or all the same (RFC 9112 6.3: differing ones are an
 * unrecoverable framing error).
 */
bool http_content_lengths_agree(const char *const *values, size_t n);

/* Render {"error":{"code":N,"message":"..."}} with the message JSON-escaped. */
void http_error_json(int code, const char *message, char *out, size_t outlen);

#endif /* JOULE_HTTP_QUERY_H */
