// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TLS and authentication of the TCP listener: the web config's files for GnuTLS, client certificates, cached bcrypt basic auth. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include "joule/http_auth.h"
#include "joule/http_webcfg.h"
#include "joule/log.h"
#include "joule/util.h"

/* A certificate chain or key in PEM is a few KB; a megabyte is no PEM file. */
#define PEM_MAX (1024 * 1024)
/* Users x clients that scrape at once; older entries are forgotten first and checked with bcrypt again. */
#define AUTH_CACHE 32

struct http_auth {
	struct http_webcfg w;
	char *key_pem, *cert_pem, *ca_pem;
	char *priorities;
	pthread_mutex_t lock;
	unsigned char cache_key[crypto_generichash_KEYBYTES];
	unsigned char cache[AUTH_CACHE][crypto_generichash_BYTES];
	bool cache_used[AUTH_CACHE];
	unsigned cache_next;
};

static int read_pem(const char *path, char **out)
{
	char *buf = malloc(PEM_MAX + 1);
	int n;

	if (!buf)
		return -ENOMEM;
	n = read_file(path, buf, PEM_MAX + 1);
	if (n < 0 || n >= PEM_MAX) {
		log_err("failed to read %s: %s", path, n < 0 ? strerror(-n) : "over 1 MB");
		free(buf);
		return n < 0 ? n : -EFBIG;
	}
	*out = buf;
	return 0;
}

int http_auth_new(struct http_auth **out, const char *path)
{
	struct http_auth *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	crypto_generichash_keygen(a->cache_key);
	err = http_webcfg_load(path, &a->w);
	if (!err && a->w.cert_file)
		err = read_pem(a->w.key_file, &a->key_pem);
	if (!err && a->w.cert_file)
		err = read_pem(a->w.cert_file, &a->cert_pem);
	if (!err && a->w.client_ca_file)
		err = read_pem(a->w.client_ca_file, &a->ca_pem);
	if (!err && a->w.min_version) {
		/* GnuTLS priority strings: the defaults, less the versions below the minimum */
		a->priorities = strdup(!strcmp(a->w.min_version, "TLS13") ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
									   : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
		if (!a->priorities)
			err = -ENOMEM;
	}
	if (err) {
		http_auth_free(a);
		return err;
	}
	*out = a;
	return 0;
}

void http_auth_free(struct http_auth *a)
{
	if (!a)
		return;
	if (a->key_pem)
		sodium_memzero(a->key_pem, strlen(a->key_pem));
	free(a->key_pem);
	free(a->cert_pem);
	free(a->ca_pem);
	free(a->priorities);
	http_webcfg_free(&a->w);
	sodium_memzero(a->cache, sizeof(a->cache));
	pthread_mutex_destroy(&a->lock);
	free(a);
}

bool http_auth_tls(const struct http_auth *a)
{
	return a && a->cert_pem && a->key_pem;
}

bool http_auth_required(const struct http_auth *a)
{
	return a && (a->w.nusers || a->w.client_auth != HTTP_CLIENT_CERT_NONE);
}

void http_auth_mhd_options(const struct http_auth *a, struct MHD_OptionItem *opts, size_t *n)
{
	if (!http_auth_tls(a))
		return;
	opts[(*n)++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, a->key_pem };
	opts[(*n)++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, a->cert_pem };
	/* with a trust list libmicrohttpd asks for a client certificate; whether it verified is checked per request */
	if (a->ca_pem)
		opts[(*n)++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, a->ca_pem };
	if (a->priorities)
		opts[(*n)++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, a->priorities };
}

/* Whether the peer sent a certificate at all, and whether it verified against the client CA. */
static bool client_cert(struct MHD_Connection *c, bool *verified)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;
	unsigned status = 0, n = 0;

	*verified = false;
	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	if (!gnutls_certificate_get_peers(s, &n) || n == 0)
		return false;
	*verified = gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
	return true;
}

static bool password_cached(struct http_auth *a, const char *user, const char *pass, bool *ok)
{
	crypto_generichash_state st;
	unsigned char h[crypto_generichash_BYTES];
	bool hit = false;

	crypto_generichash_init(&st, a->cache_key, sizeof(a->cache_key), sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
	crypto_generichash_update(&st, (const unsigned char *)pass, strlen(pass));
	crypto_generichash_final(&st, h, sizeof(h));
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < AUTH_CACHE && !hit; i++)
		hit = a->cache_used[i] && sodium_memcmp(a->cache[i], h, sizeof(h)) == 0;
	pthread_mutex_unlock(&a->lock);
	if (hit) {
		*ok = true;
		return true;
	}
	/* outside the lock: bcrypt is slow by design */
	*ok = http_webcfg_password_ok(&a->w, user, pass);
	if (*ok) {
		pthread_mutex_lock(&a->lock);
		memcpy(a->cache[a->cache_next], h, sizeof(h));
		a->cache_used[a->cache_next] = true;
		a->cache_next = (a->cache_next + 1) % AUTH_CACHE;
		pthread_mutex_unlock(&a->lock);
	}
	sodium_memzero(h, sizeof(h));
	return false;
}

enum http_auth_result http_auth_check(struct http_auth *a, struct MHD_Connection *c)
{
	bool verified, ok = false, proven = false;

	if (!http_auth_required(a))
		return HTTP_AUTH_NONE;
	if (a->w.client_auth != HTTP_CLIENT_CERT_NONE) {
		bool given = client_cert(c, &verified);

		if ((given && !verified) || (!given && a->w.client_auth == HTTP_CLIENT_CERT_REQUIRE_VERIFY))
			return HTTP_AUTH_BAD_CERT;
		proven = given;
	}
	if (a->w.nusers) {
		char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);

		if (user && pass)
			password_cached(a, user, pass, &ok);
		if (pass) {
			sodium_memzero(pass, strlen(pass));
			MHD_free(pass);
		}
		if (user)
			MHD_free(user);
		if (!ok)
			return HTTP_AUTH_NEED_PASSWORD;
		proven = true;
	}
	/* VerifyClientCertIfGiven without a certificate (and no users): served, but as anyone */
	return proven ? HTTP_AUTH_OK : HTTP_AUTH_NONE;
}
