// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The libcurl setup joule's HTTP clients share: global init once, the base-URL check, the answer buffer, TLS files and credentials. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "joule/netcurl.h"

/* A token or password longer than this is not one (JWTs are a few KB). */
#define SECRET_MAX 16384

int netcurl_base_url(const char *url, const char *what, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t n;

	if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "%s '%s' must start with http:// or https://", what, url ? url : "");
		return -EINVAL;
	}
	n = strlen(url);
	if (n >= outlen) {
		snprintf(err, errlen, "%s is too long (%zu bytes, at most %zu)", what, n, outlen - 1);
		return -EINVAL;
	}
	if (strpbrk(url, " \t\r\n?#")) {
		snprintf(err, errlen, "%s '%s' must be a plain base URL (no spaces, query or fragment)", what, url);
		return -EINVAL;
	}
	memcpy(out, url, n + 1);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

size_t netcurl_on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct netcurl_body *b = ctx;
	size_t add = size * n;
	char *q;

	if (b->len + add > b->max) {
		b->too_big = true;
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	}
	q = realloc(b->p, b->len + add + 1);
	if (!q)
		return 0;
	b->p = q;
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* A secret file's content without its trailing newline and spaces, as Prometheus trims them. */
static int read_secret(const char *opt, const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "failed to open %s %s: %s", opt, path, strerror(-rc));
		return rc;
	}
	buf = malloc(SECRET_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, SECRET_MAX + 1, f);
	rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!rc && n > SECRET_MAX) {
		snprintf(err, errlen, "%s %s is over %d bytes: not a secret", opt, path, SECRET_MAX);
		rc = -EFBIG;
	} else if (rc) {
		snprintf(err, errlen, "failed to read %s %s: %s", opt, path, strerror(-rc));
	}
	while (!rc && n > 0 && strchr(" \t\r\n", buf[n - 1]))
		n--;
	if (!rc && (n == 0 || memchr(buf, '\0', n) || memchr(buf, '\n', n))) {
		snprintf(err, errlen, "%s %s holds no secret (empty, or more than one line)", opt, path);
		rc = -EINVAL;
	}
	if (rc) {
		explicit_bzero(buf, SECRET_MAX + 1);
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int readable(const char *opt, const char *path, char *err, size_t errlen)
{
	int rc;

	if (!path || access(path, R_OK) == 0)
		return 0;
	rc = -errno;
	snprintf(err, errlen, "failed to read %s %s: %s", opt, path, strerror(-rc));
	return rc;
}

int netcurl_auth_load(struct netcurl_auth *a, char *err, size_t errlen)
{
	int rc;

	if (!a->cert_file != !a->key_file) {
		snprintf(err, errlen, "a client certificate needs both --cert-file and --key-file");
		return -EINVAL;
	}
	if (!a->basic_user != !a->basic_password_file) {
		snprintf(err, errlen, "basic auth needs both --basic-auth-user and --basic-auth-password-file");
		return -EINVAL;
	}
	if (a->basic_user && a->bearer_token_file) {
		/* Prometheus' http_config refuses both at once too: one Authorization header */
		snprintf(err, errlen, "--bearer-token-file and --basic-auth-user exclude each other");
		return -EINVAL;
	}
	if (a->basic_user && strchr(a->basic_user, ':')) {
		snprintf(err, errlen, "--basic-auth-user '%s' holds ':', which basic auth cannot carry", a->basic_user);
		return -EINVAL;
	}
	rc = readable("--ca-file", a->ca_file, err, errlen);
	if (!rc)
		rc = readable("--cert-file", a->cert_file, err, errlen);
	if (!rc)
		rc = readable("--key-file", a->key_file, err, errlen);
	if (!rc && a->bearer_token_file)
		rc = read_secret("--bearer-token-file", a->bearer_token_file, &a->bearer_token, err, errlen);
	if (!rc && a->basic_password_file)
		rc = read_secret("--basic-auth-password-file", a->basic_password_file, &a->basic_password, err, errlen);
	if (rc)
		netcurl_auth_free(a);
	return rc;
}

static void wipe(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void netcurl_auth_free(struct netcurl_auth *a)
{
	wipe(&a->bearer_token);
	wipe(&a->basic_password);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe with older TLS backends: once, before the first handle of any client */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *netcurl_easy(const char *user_agent, long timeout_ms, const struct netcurl_auth *auth)
{
	CURL *h;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return NULL;
	h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
	if (!auth)
		return h;
	if (auth->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, auth->ca_file);
	if (auth->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, auth->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, auth->key_file);
	}
	if (auth->bearer_token) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, auth->bearer_token);
	} else if (auth->basic_password) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, auth->basic_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, auth->basic_password);
	}
	return h;
}
