// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz routing and query parsing: "METHOD PATH?k=v&k=v" never crashes and every answer is 0, 400, 404 or 405. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "joule/http_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request_params p;
	char *s = malloc(size + 1), *method, *path, *query, *save = NULL, err[256], json[300];
	const char *allow;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	method = s;
	path = strchr(s, ' ');
	if (path)
		*path++ = '\0';
	else
		path = "/";
	query = strchr(path, '?');
	if (query)
		*query++ = '\0';
	rc = http_route(method, path, &p, &allow);
	if (rc != 0 && rc != 404 && rc != 405)
		__builtin_trap();
	if (rc == 405 && !allow)
		__builtin_trap();
	for (char *kv = query ? strtok_r(query, "&", &save) : NULL; rc == 0 && kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		rc = http_param(&p, kv, eq, err, sizeof(err));
		if (rc != 0 && rc != 400)
			__builtin_trap();
		if (rc)
			http_error_json(rc, err, json, sizeof(json));
	}
	if (rc == 0 && http_params_check(&p, err, sizeof(err)) == 0 && p.route == R_ENERGY &&
	    (p.window_ns % p.step_ns || p.window_ns / p.step_ns > HTTP_MAX_STEPS))
		__builtin_trap();
	free(s);
	return 0;
}
