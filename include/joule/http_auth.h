/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TLS and authentication of the TCP listener from a web config (user/http/auth.c): GnuTLS options, basic auth, client certificates. */
#ifndef JOULE_HTTP_AUTH_H
#define JOULE_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>

struct http_auth;

/* Load the web config at path and the files it names. 0 or -errno (logged). */
int http_auth_new(struct http_auth **out, const char *path);
void http_auth_free(struct http_auth *a);

/* Whether the listener speaks TLS (cert_file and key_file). */
bool http_auth_tls(const struct http_auth *a);
/* Whether any authentication is configured (basic_auth_users or a client CA). */
bool http_auth_required(const struct http_auth *a);

/* libmicrohttpd options for TLS (key, certificate, client CA, priorities), appended at opts[*n]; room for 4. */
void http_auth_mhd_options(const struct http_auth *a, struct MHD_OptionItem *opts, size_t *n);

enum http_auth_result {
	HTTP_AUTH_NONE,		/* nothing configured: anonymous */
	HTTP_AUTH_OK,		/* every configured check passed */
	HTTP_AUTH_NEED_PASSWORD,	/* 401 with a Basic challenge */
	HTTP_AUTH_BAD_CERT,	/* 403: no verified client certificate */
};

/* Check a request's client certificate and basic auth. Passwords that passed are cached (keyed hash), as bcrypt costs ~50 ms. */
enum http_auth_result http_auth_check(struct http_auth *a, struct MHD_Connection *c);

#endif /* JOULE_HTTP_AUTH_H */
