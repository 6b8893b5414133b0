// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the web config: the exporter-toolkit format read strictly, paths resolved, bcrypt checked. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "joule/http_webcfg.h"
#include "unit/testlib.h"

/* A real $2b$ hash of "pw" at cost 4 (the cheapest bcrypt), made by libcrypt itself. */
static const char *hash_of(const char *pw)
{
	static char out[128];
	char salt[64];

	assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt))); /* libcrypt makes bcrypt salts */
	strcpy(out, crypt(pw, salt));
	return out;
}

static void test_webcfg_when_full_example_reads_every_field(void **state)
{
	char text[512], err[256];
	struct http_webcfg w;

	snprintf(text, sizeof(text),
		 "tls_server_config:\n  cert_file: server.crt\n  key_file: /etc/joule/server.key\n"
		 "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n  min_version: TLS13\n"
		 "http_server_config:\n  http2: false\n"
		 "basic_auth_users:\n  prom: '%s'\n",
		 hash_of("pw"));
	assert_int_equal(http_webcfg_parse(text, strlen(text), "/etc/joule", &w, err, sizeof(err)), 0);
	assert_string_equal(w.cert_file, "/etc/joule/server.crt"); /* relative: against the file's directory */
	assert_string_equal(w.key_file, "/etc/joule/server.key");  /* absolute: as written */
	assert_string_equal(w.client_ca_file, "/etc/joule/ca.crt");
	assert_int_equal(w.client_auth, HTTP_CLIENT_CERT_VERIFY_IF_GIVEN);
	assert_string_equal(w.min_version, "TLS13");
	assert_int_equal(w.nusers, 1); /* one user */
	assert_true(http_webcfg_tls(&w)); /* TLS on */
	http_webcfg_free(&w);
}

static void test_webcfg_when_invalid_gives_einval_naming_why(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "tls_server_config:\n  cert_file: a\n", "cert_file and key_file" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher: x\n", "unknown key 'cipher'" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n", "Sometimes" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
		  "needs client_ca_file" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n", "TLS10" },
		{ "basic_auth_users:\n  prom: hunter2\n", "not a bcrypt hash" },
		{ "basic_auth_users: [a, b]\n", "expected a mapping" },
		{ "tls_config:\n  cert_file: a\n", "unknown key 'tls_config'" },
		{ "tls_server_config: [\n", "invalid YAML" },
		{ "- a\n- b\n", "mapping at the top" },
		{ "basic_auth_users: {}\nbasic_auth_users: {}\n", "twice" },
		{ "tls_server_config:\n  cert_file: a\n  cert_file: b\n  key_file: c\n", "twice" },
	};
	char err[256];
	struct http_webcfg w;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (http_webcfg_parse(cases[i].text, strlen(cases[i].text), ".", &w, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", cases[i].text);
		if (!strstr(err, cases[i].why))
			fail_msg("error '%s' does not say '%s'", err, cases[i].why);
	}
}

static void test_webcfg_when_empty_configures_nothing(void **state)
{
	char err[256];
	struct http_webcfg w;

	assert_int_equal(http_webcfg_parse("", 0, ".", &w, err, sizeof(err)), 0); /* an empty file is valid */
	assert_false(http_webcfg_tls(&w));					/* no TLS */
	assert_int_equal(w.nusers, 0);						/* no users */
	http_webcfg_free(&w);
}

static void test_webcfg_password_when_checked_accepts_only_the_right_one(void **state)
{
	char text[256], err[256];
	struct http_webcfg w;

	snprintf(text, sizeof(text), "basic_auth_users:\n  prom: '%s'\n", hash_of("right"));
	assert_int_equal(http_webcfg_parse(text, strlen(text), ".", &w, err, sizeof(err)), 0);
	assert_true(http_webcfg_password_ok(&w, "prom", "right"));	/* the password */
	assert_false(http_webcfg_password_ok(&w, "prom", "wrong"));	/* another password */
	assert_false(http_webcfg_password_ok(&w, "other", "right"));	/* another user */
	assert_false(http_webcfg_password_ok(&w, "prom", ""));	/* empty */
	http_webcfg_free(&w);
}

TL_MAIN(
	cmocka_unit_test(test_webcfg_when_full_example_reads_every_field),
	cmocka_unit_test(test_webcfg_when_invalid_gives_einval_naming_why),
	cmocka_unit_test(test_webcfg_when_empty_configures_nothing),
	cmocka_unit_test(test_webcfg_password_when_checked_accepts_only_the_right_one)
)
