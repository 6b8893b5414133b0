/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The web config file (user/http/webcfg.c): TLS and basic auth in the Prometheus exporter-toolkit's format. */
#ifndef JOULE_HTTP_WEBCFG_H
#define JOULE_HTTP_WEBCFG_H

#include <stdbool.h>
#include <stddef.h>

enum http_client_auth {
	HTTP_CLIENT_CERT_NONE,		/* NoClientCert */
	HTTP_CLIENT_CERT_VERIFY_IF_GIVEN,	/* VerifyClientCertIfGiven */
	HTTP_CLIENT_CERT_REQUIRE_VERIFY,	/* RequireAndVerifyClientCert */
};

struct http_webcfg_user {
	char *name;
	char *hash;			/* bcrypt ($2a$, $2b$, $2y$) */
};

struct http_webcfg {
	/* tls_server_config; paths as written, resolved against the file's directory */
	char *cert_file, *key_file, *client_ca_file;
	enum http_client_auth client_auth;
	char *min_version;		/* TLS12, TLS13 or NULL */
	/* basic_auth_users */
	struct http_webcfg_user *users;
	size_t nusers;
};

/*
 * Pure: parse the YAML text (len bytes) of a web config. dir is the file's
 * directory, for relative paths. Unknown keys, a cert without its key,
 * client_ca_file without a verifying client_auth_type (or the reverse), and
 * user hashes that are not bcrypt are errors. 0, or -EINVAL with the reason
 * in err.
 */
int http_webcfg_parse(const char *text, size_t len, const char *dir, struct http_webcfg *out, char *err,
		      size_t errlen);

/* Read and parse path (errors are logged). 0 or -errno. */
int http_webcfg_load(const char *path, struct http_webcfg *out);

void http_webcfg_free(struct http_webcfg *w);

/* Whether TLS is configured (cert_file and key_file). */
bool http_webcfg_tls(const struct http_webcfg *w);

/* Whether user and password match a basic_auth_users entry (bcrypt via crypt_r; constant time compare). */
bool http_webcfg_password_ok(const struct http_webcfg *w, const char *user, const char *password);

#endif /* JOULE_HTTP_WEBCFG_H */
