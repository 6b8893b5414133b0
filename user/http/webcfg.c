// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The web config file: exporter-toolkit YAML (tls_server_config, basic_auth_users) parsed strictly; bcrypt passwords. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <yaml.h>
#include "joule/http_webcfg.h"
#include "joule/log.h"
#include "joule/util.h"

/* A web config is a few lines; anything this large is not one. */
#define WEBCFG_MAX (64 * 1024)

static int bad(char *err, size_t errlen, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what ? what : "");
	return -EINVAL;
}

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* path as written, or joined to dir when relative (exporter-toolkit resolves against the file's directory) */
static char *resolve(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/' || !dir || !dir[0])
		return strdup(path);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}

/* The exporter-toolkit's names of the client certificate policies. */
static const struct name_value client_auth_types[] = {
	{ "NoClientCert", HTTP_CLIENT_CERT_NONE },
	{ "VerifyClientCertIfGiven", HTTP_CLIENT_CERT_VERIFY_IF_GIVEN },
	{ "RequireAndVerifyClientCert", HTTP_CLIENT_CERT_REQUIRE_VERIFY },
	{ NULL, 0 },
};

static int parse_tls(yaml_document_t *doc, yaml_node_t *m, const char *dir, struct http_webcfg *w, char *err,
		     size_t errlen)
{
	bool auth_given = false;

	if (m->type != YAML_MAPPING_NODE)
		return bad(err, errlen, "tls_server_config: expected a mapping%s", "");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, p->key));
		const char *v = scalar(doc, yaml_document_get_node(doc, p->value));
		char **dst = NULL;

		if (!k)
			return bad(err, errlen, "tls_server_config: a key that is not a string%s", "");
		for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
			const char *prev = scalar(doc, yaml_document_get_node(doc, q->key));

			if (prev && !strcmp(prev, k))
				return bad(err, errlen, "tls_server_config: key '%.64s' twice", k);
		}
		if (!v)
			return bad(err, errlen, "tls_server_config.%s: expected a string", k);
		if (!strcmp(k, "cert_file"))
			dst = &w->cert_file;
		else if (!strcmp(k, "key_file"))
			dst = &w->key_file;
		else if (!strcmp(k, "client_ca_file"))
			dst = &w->client_ca_file;
		if (dst) {
			free(*dst);
			*dst = v[0] ? resolve(dir, v) : NULL;
			if (v[0] && !*dst)
				return -ENOMEM;
		} else if (!strcmp(k, "client_auth_type")) {
			int mode;

			auth_given = true;
			if (name_value_find(client_auth_types, v, &mode))
				return bad(err, errlen,
					   "tls_server_config.client_auth_type: '%.64s' (accepted: NoClientCert, "
					   "VerifyClientCertIfGiven, RequireAndVerifyClientCert)", v);
			w->client_auth = mode;
		} else if (!strcmp(k, "min_version")) {
			if (strcmp(v, "TLS12") && strcmp(v, "TLS13"))
				return bad(err, errlen, "tls_server_config.min_version: '%.64s' (accepted: TLS12, TLS13)", v);
			free(w->min_version);
			w->min_version = strdup(v);
			if (!w->min_version)
				return -ENOMEM;
		} else {
			return bad(err, errlen,
				   "tls_server_config: unknown key '%.64s' (accepted: cert_file, key_file, client_ca_file, "
				   "client_auth_type, min_version)", k);
		}
	}
	if (!!w->cert_file != !!w->key_file)
		return bad(err, errlen, "tls_server_config: cert_file and key_file go together%s", "");
	/* as the exporter-toolkit: a CA without a verifying mode (or the reverse) is a mistake, not a default */
	if (w->client_ca_file && !auth_given)
		w->client_auth = HTTP_CLIENT_CERT_REQUIRE_VERIFY;
	if (w->client_ca_file && w->client_auth == HTTP_CLIENT_CERT_NONE)
		return bad(err, errlen, "tls_server_config: client_ca_file with client_auth_type NoClientCert%s", "");
	if (!w->client_ca_file && w->client_auth != HTTP_CLIENT_CERT_NONE)
		return bad(err, errlen, "tls_server_config: client_auth_type needs client_ca_file%s", "");
	if (!w->cert_file && w->client_ca_file)
		return bad(err, errlen, "tls_server_config: client_ca_file needs cert_file and key_file%s", "");
	return 0;
}

static bool is_bcrypt(const char *h)
{
	return strlen(h) == 60 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') &&
	       h[3] == '$';
}

static int parse_users(yaml_document_t *doc, yaml_node_t *m, struct http_webcfg *w, char *err, size_t errlen)
{
	size_t n;

	if (m->type == YAML_SCALAR_NODE && !scalar(doc, m)[0])
		return 0; /* "basic_auth_users:" with nothing after it */
	if (m->type != YAML_MAPPING_NODE)
		return bad(err, errlen, "basic_auth_users: expected a mapping of user: bcrypt hash%s", "");
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	w->users = calloc(n ? n : 1, sizeof(*w->users));
	if (!w->users)
		return -ENOMEM;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, p->key));
		const char *v = scalar(doc, yaml_document_get_node(doc, p->value));

		if (!k || !k[0] || strchr(k, ':'))
			return bad(err, errlen, "basic_auth_users: a user name that is empty, not a string or has ':'%s",
				   "");
		if (!v || !is_bcrypt(v))
			return bad(err, errlen, "basic_auth_users.%.64s: not a bcrypt hash ($2a$, $2b$ or $2y$)", k);
		for (size_t i = 0; i < w->nusers; i++)
			if (!strcmp(w->users[i].name, k))
				return bad(err, errlen, "basic_auth_users: user '%.64s' twice", k);
		w->users[w->nusers].name = strdup(k);
		w->users[w->nusers].hash = strdup(v);
		if (!w->users[w->nusers].name || !w->users[w->nusers].hash) {
			free(w->users[w->nusers].name);
			free(w->users[w->nusers].hash);
			return -ENOMEM;
		}
		w->nusers++;
	}
	return 0;
}

int http_webcfg_parse(const char *text, size_t len, const char *dir, struct http_webcfg *out, char *err,
		      size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len))
		return bad(err, errlen, "not a text file (a NUL byte)%s", "");
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "invalid YAML at line %zu: %s", parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start; !rc && p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *v = yaml_document_get_node(&doc, p->value);
			const char *k = scalar(&doc, yaml_document_get_node(&doc, p->key));

			/* a repeated key is ambiguous (YAML forbids it; libyaml keeps both): refuse it */
			for (yaml_node_pair_t *q = root->data.mapping.pairs.start; k && !rc && q < p; q++) {
				const char *prev = scalar(&doc, yaml_document_get_node(&doc, q->key));

				if (prev && !strcmp(prev, k))
					rc = bad(err, errlen, "key '%.64s' twice", k);
			}
			if (rc)
				break;
			if (!k)
				rc = bad(err, errlen, "a top-level key that is not a string%s", "");
			else if (!strcmp(k, "tls_server_config"))
				rc = parse_tls(&doc, v, dir, out, err, errlen);
			else if (!strcmp(k, "basic_auth_users"))
				rc = parse_users(&doc, v, out, err, errlen);
			else if (strcmp(k, "http_server_config") != 0)
				/* http_server_config (http2, headers) has nothing joule acts on: accepted, ignored */
				rc = bad(err, errlen,
					 "unknown key '%.64s' (accepted: tls_server_config, http_server_config, "
					 "basic_auth_users)", k);
		}
	} else if (root && !(root->type == YAML_SCALAR_NODE && !scalar(&doc, root)[0])) {
		rc = bad(err, errlen, "expected a mapping at the top%s", "");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc)
		http_webcfg_free(out);
	return rc;
}

int http_webcfg_load(const char *path, struct http_webcfg *out)
{
	char *text = malloc(WEBCFG_MAX + 2), *dir, *slash, err[256];
	int n, rc;

	if (!text)
		return -ENOMEM;
	n = read_text_file(path, text, WEBCFG_MAX + 2);
	if (n < 0) {
		log_err("failed to read web config %s: %s", path, strerror(-n));
		free(text);
		return n;
	}
	if (n > WEBCFG_MAX) {
		log_err("failed to read web config %s: over %d bytes", path, WEBCFG_MAX);
		free(text);
		return -EFBIG;
	}
	dir = strdup(path);
	if (!dir) {
		free(text);
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	rc = http_webcfg_parse(text, (size_t)n, dir, out, err, sizeof(err));
	if (rc == -EINVAL)
		log_err("invalid web config %s: %s", path, err);
	free(dir);
	free(text);
	return rc;
}

void http_webcfg_free(struct http_webcfg *w)
{
	if (!w)
		return;
	free(w->cert_file);
	free(w->key_file);
	free(w->client_ca_file);
	free(w->min_version);
	for (size_t i = 0; i < w->nusers; i++) {
		free(w->users[i].name);
		free(w->users[i].hash);
	}
	free(w->users);
	memset(w, 0, sizeof(*w));
}

bool http_webcfg_tls(const struct http_webcfg *w)
{
	return w && w->cert_file && w->key_file;
}

bool http_webcfg_password_ok(const struct http_webcfg *w, const char *user, const char *password)
{
	struct crypt_data *cd;
	const char *h;
	bool ok = false;

	if (!w || !user || !password)
		return false;
	for (size_t i = 0; i < w->nusers; i++) {
		if (strcmp(w->users[i].name, user) != 0)
			continue;
		/* crypt_r: the server's threads check passwords at once; crypt_data is too large for their stacks */
		cd = calloc(1, sizeof(*cd));
		if (!cd)
			return false;
		h = crypt_r(password, w->users[i].hash, cd);
		ok = h && h[0] != '*' && strlen(h) == strlen(w->users[i].hash) &&
		     sodium_memcmp(h, w->users[i].hash, strlen(h)) == 0;
		sodium_memzero(cd, sizeof(*cd));
		free(cd);
		return ok;
	}
	return false;
}
