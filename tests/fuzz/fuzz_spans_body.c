// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz the span request body: any bytes POSTed to /api/v1/spans give 201 or a 4xx with a reason, and an opened span closes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "joule/spans_http.h"

static void check_refusal(const struct http_reply *r)
{
	if (r->status != 400 && r->status != 403 && r->status != 404 && r->status != 429)
		__builtin_trap();	/* 500 only on out of memory, which the fuzzer does not simulate */
	if (!r->err[0] || r->body)
		__builtin_trap();	/* every refusal says why, and carries no body */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span_table *t;
	struct http_reply out;
	/* the first byte picks the peer: root or a user (who may not name another pid) */
	struct spans_request rq = {
		.route = R_SPANS, .method = "POST", .peer_known = true,
		.peer_pid = (uint32_t)getpid(), .peer_uid = size && (data[0] & 1) ? 1000 : 0,
	};
	cJSON *o, *id;

	if (size)
		data++, size--;
	rq.body = (const char *)data;
	rq.body_len = size;
	if (span_table_new(&t))
		return 0;
	spans_http_answer(t, NULL, &rq, &out);
	if (out.status != 201) {
		check_refusal(&out);
		span_table_free(t);
		return 0;
	}
	/* an opened span is shown as JSON with its id, and the same peer can close it */
	o = cJSON_ParseWithLength(out.body, out.len);
	id = cJSON_GetObjectItemCaseSensitive(o, "id");
	if (!cJSON_IsNumber(id))
		__builtin_trap();
	free(out.body);
	rq.route = R_SPAN;
	rq.method = "DELETE";
	rq.id = (uint64_t)id->valuedouble;
	rq.body = NULL;
	rq.body_len = 0;
	cJSON_Delete(o);
	spans_http_answer(t, NULL, &rq, &out);
	if (out.status != 200)
		__builtin_trap();
	free(out.body);
	span_table_free(t);
	return 0;
}
