/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What joule's libcurl clients share (user/net/netcurl.c): one global init, the base-URL check, a bounded answer buffer, the common options, TLS and authentication. */
#ifndef JOULE_NETCURL_H
#define JOULE_NETCURL_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

/*
 * Check a base URL (http:// or https://, no spaces, query or fragment) and
 * copy it to out without trailing '/'. what names the option in the message
 * ("--prometheus URL"). 0 or -EINVAL with err.
 */
int netcurl_base_url(const char *url, const char *what, char *out, size_t outlen, char *err, size_t errlen);

/* An answer kept whole up to max bytes (NUL-terminated); a longer one fails the transfer with too_big set. */
struct netcurl_body {
	char *p;
	size_t len, max;
	bool too_big;
};

/* CURLOPT_WRITEFUNCTION for a struct netcurl_body (CURLOPT_WRITEDATA). */
size_t netcurl_on_body(char *data, size_t size, size_t n, void *ctx);

/*
 * TLS and authentication toward a server, named as in Prometheus'
 * http_config: ca_file, cert_file, key_file, bearer_token_file, basic_auth
 * (username, password_file). The secrets are read from their files by
 * netcurl_auth_load, never taken from the command line.
 */
struct netcurl_auth {
	const char *ca_file;		/* NULL: the system's CAs */
	const char *cert_file, *key_file; /* a client certificate: both or neither */
	const char *bearer_token_file;
	const char *basic_user, *basic_password_file;
	char *bearer_token;		/* loaded: malloc'ed, trailing whitespace dropped */
	char *basic_password;
};

/*
 * Check the combination (cert with key, basic user with password file, not
 * both bearer and basic), that every file is readable, and read the
 * secrets. 0, or -errno with err naming the option and the file.
 */
int netcurl_auth_load(struct netcurl_auth *a, char *err, size_t errlen);
/* Wipe and free the loaded secrets. */
void netcurl_auth_free(struct netcurl_auth *a);

/*
 * A new easy handle with the options every client sets: no signals, the
 * whole transfer within timeout_ms, http and https only, the user agent,
 * and auth's TLS files and credentials (auth may be NULL). NULL if libcurl
 * did not initialise or is out of memory.
 */
CURL *netcurl_easy(const char *user_agent, long timeout_ms, const struct netcurl_auth *auth);

#endif /* JOULE_NETCURL_H */
