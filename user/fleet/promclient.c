// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Prometheus query API over libcurl: one GET per query, its whole answer kept, failures told apart (slow, unreachable, TLS). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "joule/netcurl.h"
#include "joule/promclient.h"

/* An answer larger than this is not one the fleet asked for (thousands of groups are a few MB). */
#define MAX_ANSWER (64u << 20)

int promclient_init(struct promclient *c, const char *url, long timeout_ms, char *err, size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = netcurl_base_url(url, "--prometheus URL", c->base, sizeof(c->base), err, errlen);
	if (rc)
		return rc;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	return 0;
}

int promclient_set_auth(struct promclient *c, const struct netcurl_auth *auth, char *err, size_t errlen)
{
	netcurl_auth_free(&c->auth);
	c->auth = *auth;
	c->auth.bearer_token = c->auth.basic_password = NULL;
	return netcurl_auth_load(&c->auth, err, errlen);
}

void promclient_free(struct promclient *c)
{
	netcurl_auth_free(&c->auth);
}

static int map_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* GET base+path?k=v&... with each value URL-encoded. */
static int get(const struct promclient *c, const char *path, const char *const *kv, size_t nkv,
	       struct prom_answer *a)
{
	struct netcurl_body b = { .max = MAX_ANSWER };
	char *url = NULL, why[CURL_ERROR_SIZE] = "";
	size_t ulen = 0;
	FILE *m;
	CURL *h;
	CURLcode cc;

	memset(a, 0, sizeof(*a));
	h = netcurl_easy("joule-fleet/" JOULE_VERSION, c->timeout_ms, &c->auth);
	if (!h) {
		snprintf(a->message, sizeof(a->message), "libcurl did not initialise");
		return a->err = -EIO;
	}
	m = open_memstream(&url, &ulen);
	if (!m) {
		curl_easy_cleanup(h);
		return a->err = -ENOMEM;
	}
	fprintf(m, "%s%s", c->base, path);
	for (size_t i = 0; i + 1 < nkv; i += 2) {
		char *e = curl_easy_escape(h, kv[i + 1], 0);

		fprintf(m, "%c%s=%s", i ? '&' : '?', kv[i], e ? e : "");
		curl_free(e);
	}
	if (fclose(m)) {
		free(url);
		curl_easy_cleanup(h);
		return a->err = -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, netcurl_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	/* curl's own words for a TLS failure ("unable to get local issuer certificate") say more than its code's */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, why);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->http_status);
	} else {
		a->err = map_curl(cc);
		snprintf(a->message, sizeof(a->message), "%s", b.too_big ? "answer over 64 MiB"
							       : why[0] ? why : curl_easy_strerror(cc));
		a->http_status = 0;
	}
	a->body = b.p;
	a->len = b.len;
	curl_easy_cleanup(h);
	free(url);
	return a->err;
}

/* Prometheus takes a time as seconds with a fraction; ms keeps the newest scrape inside the window */
static void format_ms(char *buf, size_t len, uint64_t ms)
{
	snprintf(buf, len, "%llu.%03llu", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

int promclient_query(const struct promclient *c, const char *query, uint64_t time_ms, struct prom_answer *a)
{
	char t[32];
	const char *kv[] = { "query", query, "time", t };

	format_ms(t, sizeof(t), time_ms);
	return get(c, "/api/v1/query", kv, time_ms ? 4 : 2, a);
}

int promclient_query_range(const struct promclient *c, const char *query, uint64_t start_ms, uint64_t end_ms,
			   uint64_t step_s, struct prom_answer *a)
{
	char s[32], e[32], st[32];
	const char *kv[] = { "query", query, "start", s, "end", e, "step", st };

	format_ms(s, sizeof(s), start_ms);
	format_ms(e, sizeof(e), end_ms);
	snprintf(st, sizeof(st), "%llu", (unsigned long long)step_s);
	return get(c, "/api/v1/query_range", kv, 8, a);
}

void prom_answer_free(struct prom_answer *a)
{
	free(a->body);
	a->body = NULL;
	a->len = 0;
}
