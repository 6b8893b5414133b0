// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Prometheus query API over libcurl: one GET per query, its whole answer kept, failures told apart (slow, unreachable). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "joule/promclient.h"

/* An answer larger than this is not one the fleet asked for (thousands of groups are a few MB). */
#define MAX_ANSWER (64u << 20)

int promclient_init(struct promclient *c, const char *url, long timeout_ms, char *err, size_t errlen)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "--prometheus URL '%s' must start with http:// or https://", url ? url : "");
		return -EINVAL;
	}
	n = strlen(url);
	if (n >= sizeof(c->base)) {
		snprintf(err, errlen, "--prometheus URL is too long (%zu bytes, at most %zu)", n, sizeof(c->base) - 1);
		return -EINVAL;
	}
	if (strpbrk(url, " \t\r\n?#")) {
		snprintf(err, errlen, "--prometheus URL '%s' must be a plain base URL (no spaces, query or fragment)",
			 url);
		return -EINVAL;
	}
	memcpy(c->base, url, n + 1);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct prom_answer *a = ctx;
	size_t len = size * nmemb;
	char *nb;

	if (a->len + len > MAX_ANSWER)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	nb = realloc(a->body, a->len + len + 1);
	if (!nb)
		return 0;
	a->body = nb;
	memcpy(a->body + a->len, p, len);
	a->len += len;
	a->body[a->len] = '\0';
	return len;
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
	default:
		return -EIO;
	}
}

/* GET base+path?k=v&... with each value URL-encoded. */
static int get(const struct promclient *c, const char *path, const char *const *kv, size_t nkv,
	       struct prom_answer *a)
{
	char *url = NULL;
	size_t ulen = 0;
	FILE *m;
	CURL *h;
	CURLcode cc;

	memset(a, 0, sizeof(*a));
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
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
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "joule-fleet/" JOULE_VERSION);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->http_status);
	} else {
		a->err = map_curl(cc);
		snprintf(a->message, sizeof(a->message), "%s", curl_easy_strerror(cc));
		a->http_status = 0;
	}
	curl_easy_cleanup(h);
	free(url);
	return a->err;
}

int promclient_query(const struct promclient *c, const char *query, uint64_t time_s, struct prom_answer *a)
{
	char t[32];
	const char *kv[] = { "query", query, "time", t };

	snprintf(t, sizeof(t), "%llu", (unsigned long long)time_s);
	return get(c, "/api/v1/query", kv, time_s ? 4 : 2, a);
}

int promclient_query_range(const struct promclient *c, const char *query, uint64_t start_s, uint64_t end_s,
			   uint64_t step_s, struct prom_answer *a)
{
	char s[32], e[32], st[32];
	const char *kv[] = { "query", query, "start", s, "end", e, "step", st };

	snprintf(s, sizeof(s), "%llu", (unsigned long long)start_s);
	snprintf(e, sizeof(e), "%llu", (unsigned long long)end_s);
	snprintf(st, sizeof(st), "%llu", (unsigned long long)step_s);
	return get(c, "/api/v1/query_range", kv, 8, a);
}

void prom_answer_free(struct prom_answer *a)
{
	free(a->body);
	a->body = NULL;
	a->len = 0;
}
