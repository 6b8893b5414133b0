// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pure request parsing for the HTTP API: routing, strict query parameters, framing checks, Accept-Encoding, the intensity body, error JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include "joule/http_page.h"
#include "joule/http_query.h"
#include "joule/util.h"

/* A week: the longest window the store keeps at one-minute resolution. */
#define MAX_WINDOW_NS (7 * 86400 * NSEC_PER_SEC)

static const struct {
	const char *path;
	enum http_route_id id;
	const char *allow;
} routes[] = {
	{ "/", R_ROOT, "GET" },
	{ "/metrics", R_METRICS, "GET" },
	{ "/healthz", R_HEALTHZ, "GET" },
	{ "/readyz", R_READYZ, "GET" },
	{ "/api/v1/host", R_HOST, "GET" },
	{ "/api/v1/processes", R_PROCESSES, "GET" },
	{ "/api/v1/apps", R_APPS, "GET" },
	{ "/api/v1/energy", R_ENERGY, "GET" },
	{ "/api/v1/samples.csv", R_SAMPLES_CSV, "GET" },
	{ "/api/v1/stream", R_STREAM, "GET" },
	{ "/api/v1/intensity", R_INTENSITY, "PUT" },
	{ "/api/v1/openapi.json", R_OPENAPI, "GET" },
	{ "/api/v1/spans", R_SPANS, "GET, POST" },
};

/* Whether method is one of allow's comma-separated methods (HEAD goes with GET). */
static bool method_allowed(const char *allow, const char *method)
{
	size_t n = strlen(method);

	/* an empty method would match everywhere and never advance */
	if (n == 0)
		return false;
	if (!strcmp(method, "HEAD"))
		method = "GET", n = 3;
	for (const char *p = allow; (p = strstr(p, method)); p += n)
		if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

void http_params_default(struct http_request_params *p)
{
	enum http_route_id r = p->route;
	uint32_t pid = p->pid;
	uint64_t span_id = p->span_id;

	memset(p, 0, sizeof(*p));
	p->route = r;
	p->pid = pid;
	p->span_id = span_id;
	p->sort = SORT_ENERGY;
	p->limit = 100;
	p->window_ns = 3600 * NSEC_PER_SEC;
	p->step_ns = 60 * NSEC_PER_SEC;
}

int http_route(const char *method, const char *path, struct http_request_params *p, const char **allow)
{
	static const char prefix[] = "/api/v1/processes/", span_prefix[] = "/api/v1/spans/";
	const char *want = NULL;

	memset(p, 0, sizeof(*p));
	*allow = NULL;
	if (!method || !path)
		return 404;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (strcmp(path, routes[i].path) == 0) {
			p->route = routes[i].id;
			want = routes[i].allow;
			break;
		}
	if (!want && strncmp(path, prefix, strlen(prefix)) == 0) {
		uint64_t pid;

		if (parse_u64(path + strlen(prefix), &pid) || pid == 0 || pid > 4194304)
			return 404;
		p->route = R_PROCESS;
		p->pid = (uint32_t)pid;
		want = "GET";
	}
	if (!want && strncmp(path, span_prefix, strlen(span_prefix)) == 0) {
		uint64_t id;

		if (parse_u64(path + strlen(span_prefix), &id) || id == 0)
			return 404;
		p->route = R_SPAN;
		p->span_id = id;
		want = "DELETE";
	}
	if (!want && http_page_find(path)) {
		p->route = R_PAGE;
		want = "GET";
	}
	if (!want)
		return 404;
	/* HEAD is GET without a body: libmicrohttpd drops the body for us. */
	if (!method_allowed(want, method)) {
		*allow = want;
		p->route = R_NONE;
		return 405;
	}
	http_params_default(p);
	return 0;
}

static int bad(char *err, size_t errlen, const char *key, const char *value, const char *accepted)
{
	snprintf(err, errlen, "invalid parameter %s='%.64s' (accepted: %s)", key, value ? value : "", accepted);
	return 400;
}

static bool allowed(enum http_route_id r, const char *key)
{
	switch (r) {
	case R_PROCESSES:
		return !strcmp(key, "comm") || !strcmp(key, "group") || !strcmp(key, "sort") || !strcmp(key, "limit");
	case R_ENERGY:
		return !strcmp(key, "group") || !strcmp(key, "window") || !strcmp(key, "step") ||
		       !strcmp(key, "breakdown");
	case R_SAMPLES_CSV:
	case R_APPS:
		return !strcmp(key, "limit");
	default:
		return false;
	}
}

int http_param(struct http_request_params *p, const char *key, const char *value, char *err, size_t errlen)
{
	uint64_t n;

	if (!key || !allowed(p->route, key)) {
		snprintf(err, errlen, "unknown parameter '%.64s'", key ? key : "");
		return 400;
	}
	if (!value)
		value = "";
	if (!strcmp(key, "comm")) {
		if (!*value || strlen(value) >= sizeof(p->comm))
			return bad(err, errlen, key, value, "a command name of 1-15 bytes");
		snprintf(p->comm, sizeof(p->comm), "%s", value);
	} else if (!strcmp(key, "group")) {
		if (!*value || strlen(value) >= sizeof(p->group))
			return bad(err, errlen, key, value, "a unit, container id, pod uid or comm");
		snprintf(p->group, sizeof(p->group), "%s", value);
	} else if (!strcmp(key, "sort")) {
		static const struct name_value sorts[] = {
			{ "energy", SORT_ENERGY }, { "cpu", SORT_CPU }, { "carbon", SORT_CARBON }, { "pid", SORT_PID },
			{ NULL, 0 },
		};
		int sort;

		if (name_value_find(sorts, value, &sort))
			return bad(err, errlen, key, value, "energy, cpu, carbon, pid");
		p->sort = sort;
	} else if (!strcmp(key, "limit")) {
		uint32_t max = p->route == R_SAMPLES_CSV ? HTTP_MAX_SAMPLES : HTTP_MAX_LIMIT;
		char acc[48];

		snprintf(acc, sizeof(acc), "a whole number from 1 to %u", max);
		if (parse_u64(value, &n) || n < 1 || n > max)
			return bad(err, errlen, key, value, acc);
		p->limit = (uint32_t)n;
	} else if (!strcmp(key, "window") || !strcmp(key, "step")) {
		if (parse_duration_ns(value, &n) || n < NSEC_PER_SEC || n > MAX_WINDOW_NS || n % NSEC_PER_SEC)
			return bad(err, errlen, key, value, "a whole number of seconds from 1s to 7d, e.g. 3h, 15m");
		if (key[0] == 'w')
			p->window_ns = n;
		else
			p->step_ns = n;
	} else if (!strcmp(key, "breakdown")) {
		if (!strcmp(value, "true") || !strcmp(value, "1"))
			p->breakdown = true;
		else if (!strcmp(value, "false") || !strcmp(value, "0"))
			p->breakdown = false;
		else
			return bad(err, errlen, key, value, "true, false");
	}
	return 0;
}

int http_params_check(const struct http_request_params *p, char *err, size_t errlen)
{
	if (p->route != R_ENERGY)
		return 0;
	if (p->step_ns > p->window_ns) {
		snprintf(err, errlen, "invalid parameter step: longer than window");
		return 400;
	}
	if (p->window_ns % p->step_ns) {
		snprintf(err, errlen, "invalid parameter step: must divide window");
		return 400;
	}
	if (p->window_ns / p->step_ns > HTTP_MAX_STEPS) {
		snprintf(err, errlen, "invalid parameter step: window/step is more than %d steps", HTTP_MAX_STEPS);
		return 400;
	}
	return 0;
}

void http_error_json(int code, const char *message, char *out, size_t outlen)
{
	size_t o;
	int n = snprintf(out, outlen, "{\"error\":{\"code\":%d,\"message\":\"", code);

	if (n < 0 || (size_t)n >= outlen)
		return;
	o = (size_t)n;
	for (const unsigned char *m = (const unsigned char *)message; *m && o + 8 < outlen; m++) {
		if (*m == '"' || *m == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*m;
		} else if (*m < 0x20) {
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", *m);
		} else {
			out[o++] = (char)*m;
		}
	}
	snprintf(out + o, outlen - o, "\"}}");
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], in thousandths; -1 if malformed. */
static int parse_qvalue(const char *v, size_t n)
{
	int q, scale = 100;

	if (n == 0 || (v[0] != '0' && v[0] != '1') || (n > 1 && v[1] != '.') || n > 5)
		return -1;
	q = (v[0] - '0') * 1000;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		q += (v[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

bool http_accepts_gzip(const char *ae)
{
	int gzip_q = -1, star_q = -1;

	if (!ae)
		return false;
	while (*ae) {
		const char *tok, *end;
		size_t toklen;
		int q = 1000;

		while (is_ows(*ae) || *ae == ',')
			ae++;
		if (!*ae)
			break;
		tok = ae;
		while (*ae && *ae != ',' && *ae != ';' && !is_ows(*ae))
			ae++;
		toklen = (size_t)(ae - tok);
		/* parameters: OWS ";" OWS name "=" value; only q matters, any malformed one voids the element */
		for (;;) {
			const char *name, *val;
			size_t nlen, vlen;

			while (is_ows(*ae))
				ae++;
			if (*ae != ';')
				break;
			ae++;
			while (is_ows(*ae))
				ae++;
			name = ae;
			while (*ae && *ae != '=' && *ae != ',' && *ae != ';' && !is_ows(*ae))
				ae++;
			nlen = (size_t)(ae - name);
			if (*ae != '=') {
				q = -1;
				continue;
			}
			val = ++ae;
			while (*ae && *ae != ',' && *ae != ';' && !is_ows(*ae))
				ae++;
			vlen = (size_t)(ae - val);
			if (nlen == 1 && (name[0] == 'q' || name[0] == 'Q'))
				q = q < 0 ? -1 : parse_qvalue(val, vlen);
		}
		end = strchr(ae, ',');
		if (end != ae && *ae) /* junk after the element */
			q = -1;
		if (end)
			ae = end;
		else
			ae += strlen(ae);
		if (q < 0)
			q = 0;
		if ((toklen == 4 && strncasecmp(tok, "gzip", 4) == 0) || (toklen == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
			gzip_q = q > gzip_q ? q : gzip_q;
		else if (toklen == 1 && tok[0] == '*')
			star_q = q;
	}
	/* an explicit gzip entry wins over "*" */
	return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

int http_parse_intensity(const char *body, size_t len, double *g_per_kwh, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *in, *v;
	double g;

	/* cJSON reads up to a NUL and ignores what follows the value: neither may hide the rest of a body */
	if (memchr(body, '\0', len)) {
		snprintf(err, errlen, "invalid body: it contains a NUL byte");
		return 400;
	}
	in = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (in && end) {
		for (; end < body + len; end++)
			if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
				cJSON_Delete(in);
				snprintf(err, errlen, "invalid body: text after the JSON object");
				return 400;
			}
	}
	if (!in || !cJSON_IsObject(in)) {
		cJSON_Delete(in);
		snprintf(err, errlen, "invalid body: expected a JSON object {\"g_per_kwh\": N}");
		return 400;
	}
	for (cJSON *it = in->child; it; it = it->next) {
		if (strcmp(it->string, "g_per_kwh") != 0) {
			cJSON_Delete(in);
			snprintf(err, errlen, "invalid body: unknown member (accepted: g_per_kwh)");
			return 400;
		}
		/* cJSON keeps both copies of a repeated key; which one counts is undefined (RFC 8259), so refuse */
		if (it != in->child) {
			cJSON_Delete(in);
			snprintf(err, errlen, "invalid body: duplicate member g_per_kwh");
			return 400;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(in, "g_per_kwh");
	g = cJSON_IsNumber(v) ? v->valuedouble : -1;
	cJSON_Delete(in);
	if (!(g >= 0 && g <= 10000)) {
		snprintf(err, errlen, "invalid parameter g_per_kwh: a number from 0 to 10000");
		return 400;
	}
	*g_per_kwh = g;
	return 0;
}

bool http_has_nul_escape(const char *s)
{
	for (; s && *s; s++)
		if (s[0] == '%' && s[1] == '0' && s[2] == '0')
			return true;
	return false;
}

bool http_content_lengths_agree(const char *const *values, size_t n)
{
	bool have = false;
	uint64_t first = 0;

	for (size_t i = 0; i < n; i++) {
		const char *v = values[i];

		/* one header may itself be a list ("5, 5"): every element counts */
		while (v && *v) {
			uint64_t x = 0;
			bool digits = false;

			while (is_ows(*v))
				v++;
			for (; *v >= '0' && *v <= '9'; v++, digits = true) {
				if (x > (UINT64_MAX - 9) / 10)
					return false;
				x = x * 10 + (uint64_t)(*v - '0');
			}
			while (is_ows(*v))
				v++;
			if (!digits || (*v && *v != ','))
				return false;
			if (*v == ',')
				v++;
			if (have && x != first)
				return false;
			first = x;
			have = true;
		}
	}
	return true;
}
