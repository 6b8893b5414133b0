// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: the span routes of the HTTP API (POST/GET /api/v1/spans, DELETE /api/v1/spans/{id}). */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "joule/http_query.h"
#include "unit/testlib.h"

static void test_span_routes_when_method_and_path_vary_route_or_refuse(void **state)
{
	static const struct {
		const char *method, *path;
		int status;
		enum http_route_id route;
		uint64_t id;
		const char *allow;
	} cases[] = {
		{ "POST", "/api/v1/spans", 0, R_SPANS, 0, NULL },
		{ "GET", "/api/v1/spans", 0, R_SPANS, 0, NULL },
		{ "HEAD", "/api/v1/spans", 0, R_SPANS, 0, NULL },
		{ "DELETE", "/api/v1/spans/7", 0, R_SPAN, 7, NULL },
		{ "DELETE", "/api/v1/spans/18446744073709551615", 0, R_SPAN, UINT64_MAX, NULL },
		{ "PUT", "/api/v1/spans", 405, R_NONE, 0, "GET, POST" },
		{ "DELETE", "/api/v1/spans", 405, R_NONE, 0, "GET, POST" },
		{ "GET", "/api/v1/spans/7", 405, R_NONE, 0, "DELETE" },
		{ "POS", "/api/v1/spans", 405, R_NONE, 0, "GET, POST" },
		{ "", "/api/v1/spans", 405, R_NONE, 0, "GET, POST" },	/* the fuzzer's empty input: once an endless loop */
		{ "DELETE", "/api/v1/spans/0", 404, R_NONE, 0, NULL },
		{ "DELETE", "/api/v1/spans/abc", 404, R_NONE, 0, NULL },
		{ "DELETE", "/api/v1/spans/", 404, R_NONE, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_request_params p;
		const char *allow = NULL;
		int rc = http_route(cases[i].method, cases[i].path, &p, &allow);

		if (rc != cases[i].status)
			fail_msg("%s %s: status %d, want %d", cases[i].method, cases[i].path, rc, cases[i].status);
		if (rc == 0 && (p.route != cases[i].route || p.span_id != cases[i].id))
			fail_msg("%s %s: route %d id %llu", cases[i].method, cases[i].path, p.route,
				 (unsigned long long)p.span_id);
		if (cases[i].allow && (!allow || strcmp(allow, cases[i].allow)))
			fail_msg("%s %s: allow '%s', want '%s'", cases[i].method, cases[i].path, allow ? allow : "(none)",
				 cases[i].allow);
	}
}

TL_MAIN(
	cmocka_unit_test(test_span_routes_when_method_and_path_vary_route_or_refuse)
)
