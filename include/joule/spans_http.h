/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The energy-span endpoints (user/http/spans.c): POST/GET /api/v1/spans and DELETE /api/v1/spans/{id} over the Unix socket, and the tick that values open spans. */
#ifndef JOULE_SPANS_HTTP_H
#define JOULE_SPANS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "joule/http_api.h"
#include "joule/sample.h"
#include "joule/span.h"

struct carbon_ctx;

/* One request to the span routes, with who sent it. */
struct spans_request {
	enum http_route_id route;	/* R_SPANS or R_SPAN */
	const char *method;		/* GET, POST (R_SPANS), DELETE (R_SPAN) */
	uint64_t id;			/* R_SPAN */
	const char *body;
	size_t body_len;
	bool peer_known;		/* false on TCP: spans are refused */
	uint32_t peer_pid, peer_uid;	/* SO_PEERCRED of the Unix socket connection */
};

/* Answer a span request: 200/201 with a JSON body (freed by the caller), or 4xx with out->err. */
unsigned spans_http_answer(struct span_table *t, struct carbon_ctx *carbon, const struct spans_request *rq,
			   struct http_reply *out);

/* Value the open spans over one tick (reads each span process's CPU clock). Call from the sampling thread. */
void spans_http_tick(struct span_table *t, const struct sample *s);

/* A span as the API and the ledger show it (carbon interval from carbon; NULL: none). NULL on out of memory. */
cJSON *spans_http_json(const struct span *sp, struct carbon_ctx *carbon);

/* A process's cumulative CPU ns now, all its threads, dead ones too (the scheduler's sum_exec_runtime). */
bool spans_process_cpu_ns(uint32_t pid, uint64_t *cpu_ns);

/* The daemon is stopping: close the spans still open as stopped, valued up to now, for the last drain. */
void spans_http_stop(struct span_table *t);

#endif /* JOULE_SPANS_HTTP_H */
