/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The JSON and CSV answers of the HTTP API from the store (user/http/api.c), testable without a server. */
#ifndef JOULE_HTTP_API_H
#define JOULE_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/http_query.h"

struct store;
struct carbon_ctx;

/* What an answer is built from: the store, the carbon context and the daemon's identity. */
struct http_api_ctx {
	struct store *store;
	struct carbon_ctx *carbon;	/* NULL: /host shows the store's last intensity */
	const char *version;
	uint64_t start_real_ns;
	bool ready;
};

/* One answer: a malloc'ed body with its type, or (status >= 400) an error message for the caller's error JSON. */
struct http_reply {
	unsigned status;
	const char *content_type;
	char *body;
	size_t len;
	char err[256];
};

/* Whether http_api_answer serves this route (host, processes, process, apps, energy, samples.csv). */
bool http_api_handles(enum http_route_id route);

/*
 * Answer a routed, checked request. Returns the HTTP status, also in
 * out->status: 200 with out->body (the caller frees it), or 4xx/5xx with
 * out->err set and no body.
 */
unsigned http_api_answer(const struct http_api_ctx *ctx, const struct http_request_params *p,
			 struct http_reply *out);

#endif /* JOULE_HTTP_API_H */
