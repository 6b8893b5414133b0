// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fuzz the whole request path as the server runs it: a raw HTTP/1.1 request
 * (request line, headers, body) through the %00 and Content-Length checks,
 * libmicrohttpd's own unescaping, routing, every query parameter, the
 * intensity body, and the API's answer from a real store. Nothing crashes;
 * every status is one the server may send; every JSON answer parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include "joule/http_api.h"
#include "joule/http_query.h"
#include "joule/store.h"
#include "joule/util.h"

static struct store *st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sample_task t[2] = {
		{ .pid = 4242, .ppid = 1, .tot = { .cpu_ns = 50000000, .cpu_uj = 300, .carbon_ug = 10, .operational_ug = 10 } },
		{ .pid = 4243, .ppid = 1, .tot = { .cpu_ns = 10000000, .cpu_uj = 100, .carbon_ug = 3, .operational_ug = 3 } },
	};
	struct store_cfg cfg = { .top_n = 2 };

	snprintf(t[0].comm, sizeof(t[0].comm), "bash");
	snprintf(t[1].comm, sizeof(t[1].comm), "make");
	if (store_open(&st, &cfg))
		abort();
	for (uint64_t seq = 1; seq <= 20; seq++) {
		struct sample s = { .seq = seq, .ntasks = 2, .tasks = t, .source = ENERGY_SRC_POWERCAP };

		s.mono_start_ns = seq * 100000000ULL;
		s.mono_end_ns = s.mono_start_ns + 100000000ULL;
		s.real_start_ns = now_real_ns() - (21 - seq) * 100000000ULL;
		s.real_end_ns = s.real_start_ns + 100000000ULL;
		s.host_cpu_uj = 500;
		s.domains = 1u << ENERGY_PACKAGE;
		s.host_domain_uj[ENERGY_PACKAGE] = 500;
		if (store_add_sample(st, &s))
			abort();
	}
	return 0;
}

static void check_json(const char *s, size_t n)
{
	cJSON *o = cJSON_ParseWithLength(s, n);

	if (!o)
		__builtin_trap(); /* every JSON answer parses */
	cJSON_Delete(o);
}

/* Query arguments as libmicrohttpd splits and decodes them: '&', '=', '+' as space, then %XX. */
static int apply_args(struct http_request_params *p, char *q, char *err, size_t errlen)
{
	char *save = NULL;

	for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		int rc;

		if (eq)
			*eq++ = '\0';
		for (char *c = kv; *c; c++)
			*c = *c == '+' ? ' ' : *c;
		MHD_http_unescape(kv);
		if (eq) {
			for (char *c = eq; *c; c++)
				*c = *c == '+' ? ' ' : *c;
			MHD_http_unescape(eq);
		}
		rc = http_param(p, kv, eq, err, errlen);
		if (rc != 0 && rc != 400)
			__builtin_trap();
		if (rc)
			return rc;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *line, *rest, *method, *target, *query, err[256], ej[600];
	const char *cls[8], *allow, *accept_encoding = NULL, *body;
	struct http_request_params p;
	size_t ncl = 0, body_len;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* the head ends at the first blank line; the rest (all of it, NULs too) is the body */
	body = memmem(s, size, "\r\n\r\n", 4);
	body_len = body ? size - (size_t)(body + 4 - s) : 0;
	if (body) {
		s[body - s] = '\0';
		body += 4;
	} else {
		body = "";
	}
	line = strtok_r(s, "\r\n", &rest);
	method = line ? strtok_r(line, " ", &target) : NULL;
	if (!method || !target)
		goto out;
	target[strcspn(target, " ")] = '\0';
	for (char *h = strtok_r(NULL, "\r\n", &rest); h; h = strtok_r(NULL, "\r\n", &rest)) {
		char *colon = strchr(h, ':');

		if (!colon)
			continue;
		*colon++ = '\0';
		colon += strspn(colon, " \t");
		if (!strcasecmp(h, "Content-Length") && ncl < 8)
			cls[ncl++] = colon;
		else if (!strcasecmp(h, "Accept-Encoding"))
			accept_encoding = colon;
	}
	(void)http_accepts_gzip(accept_encoding);
	if (http_has_nul_escape(target) || !http_content_lengths_agree(cls, ncl))
		goto out; /* the server answers 400 here */
	query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	MHD_http_unescape(target);
	rc = http_route(method, target, &p, &allow);
	if (rc != 0 && rc != 404 && rc != 405)
		__builtin_trap();
	if (rc == 405 && !allow)
		__builtin_trap();
	if (rc == 0 && query)
		rc = apply_args(&p, query, err, sizeof(err));
	if (rc == 0)
		rc = http_params_check(&p, err, sizeof(err));
	if (rc == 400) {
		http_error_json(rc, err, ej, sizeof(ej));
		check_json(ej, strlen(ej));
	}
	if (rc == 0 && p.route == R_INTENSITY) {
		double g;

		rc = http_parse_intensity(body, body_len, &g, err, sizeof(err));
		if (rc == 0 && !(g >= 0 && g <= 10000))
			__builtin_trap();
	}
	if (rc == 0 && http_api_handles(p.route)) {
		struct http_api_ctx x = { .store = st, .version = "fuzz", .ready = true,
					  .viewer = { .kind = HTTP_VIEWER_ANONYMOUS } };
		struct http_reply out;
		unsigned status;

		status = http_api_answer(&x, &p, &out);
		if (status != out.status || (status != 200 && (status < 400 || status > 599)))
			__builtin_trap();
		if (status == 200 && !out.body)
			__builtin_trap();
		if (status == 200 && !strcmp(out.content_type, "application/json"))
			check_json(out.body, out.len);
		if (status != 200 && (out.body || !out.err[0]))
			__builtin_trap();
		free(out.body);
	}
out:
	free(s);
	return 0;
}
