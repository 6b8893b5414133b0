// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for config.c: flags and INI keys through one table, strict values, clear errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "joule/config.h"
#include "joule/netaddr.h"
#include "joule/util.h"
#include "unit/testlib.h"

/* An assertion that names the key it failed for (cmocka's own take no message). */
#define check(cond, key) do { if (!(cond)) fail_msg("key %s: %s", (key), #cond); } while (0)

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/joule-test-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/*
 * The config a test works on (CFG_TEST): fresh from config_init, freed by the
 * teardown even when an assertion fails.
 */
static struct joule_config c;

static int cfg_setup(void **state)
{
	config_init(&c);
	return tl_setup(state);
}

static int cfg_teardown(void **state)
{
	config_free(&c);
	return tl_teardown(state);
}

#define CFG_TEST(f) cmocka_unit_test_setup_teardown(f, cfg_setup, cfg_teardown)

/* config_set with its message in set_err; config_set's result. */
static char set_err[256];

static int set(struct joule_config *c, const char *key, const char *value)
{
	return config_set(c, key, value, set_err, sizeof(set_err));
}

static void test_config_init_when_fresh_has_design_defaults(void **state)
{
	assert_int_equal(c.source, ENERGY_SRC_AUTO);
	assert_int_equal(c.interval_ns, 100 * NSEC_PER_MSEC);
	assert_true(c.pue == 1.0);
	assert_int_equal(c.idle, IDLE_SEPARATE);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(c.grace_ns, 300 * NSEC_PER_SEC);
}

static void test_config_set_when_valid_values_fills_fields(void **state)
{
	assert_int_equal(set(&c, "source", "powercap"), 0);
	assert_int_equal(c.source, ENERGY_SRC_POWERCAP);
	assert_int_equal(set(&c, "powercap-root", "/tmp/rapl"), 0);
	assert_string_equal(c.powercap_root, "/tmp/rapl");
	assert_int_equal(set(&c, "interval", "250ms"), 0);
	assert_int_equal(c.interval_ns, 250 * NSEC_PER_MSEC);
	assert_int_equal(set(&c, "intensity", "412.5"), 0);
	assert_true(c.intensity == 412.5);
	assert_int_equal(set(&c, "embodied-kg", "1200"), 0);
	assert_true(c.embodied_g == 1200000.0);
	assert_int_equal(set(&c, "lifetime-years", "4"), 0);
	assert_true(c.lifetime_s == 4 * 365.25 * 86400.0);
	assert_int_equal(set(&c, "idle", "proportional"), 0);
	assert_int_equal(c.idle, IDLE_PROPORTIONAL);
	assert_int_equal(set(&c, "uncertainty", "monte-carlo"), 0);
	assert_int_equal(c.uncertainty, CARBON_MONTE_CARLO);
	assert_int_equal(set(&c, "ledger-sync", "never"), 0);
	assert_int_equal(c.ledger_sync, LEDGER_SYNC_NEVER);
	assert_int_equal(set(&c, "listen", "127.0.0.1:0"), 0);
	assert_string_equal(c.listen, "127.0.0.1:0");
	assert_int_equal(set(&c, "listen", "[::1]:9940"), 0);
	assert_int_equal(set(&c, "socket-mode", "0640"), 0);
	assert_int_equal(c.socket_mode, 0640);
	assert_int_equal(set(&c, "socket", ""), 0);
	assert_string_equal(c.socket_path, "");
	assert_int_equal(set(&c, "model-curve", "linear"), 0);
	assert_true(c.model_linear);
	assert_int_equal(set(&c, "top-n", "5"), 0);
	assert_int_equal(c.top_n, 5);
}

static void test_config_set_when_bare_flags_sets_bool_and_counts_verbose(void **state)
{
	assert_int_equal(config_key_takes_value("json"), 0);
	assert_int_equal(config_key_takes_value("verbose"), 0);
	assert_int_equal(config_key_takes_value("listen"), 1);
	assert_int_equal(config_key_takes_value("nope"), -ENOENT);
	assert_int_equal(set(&c, "json", NULL), 0);
	assert_true(c.json);
	assert_int_equal(set(&c, "json", "off"), 0);
	assert_false(c.json);
	set(&c, "verbose", NULL);
	set(&c, "verbose", NULL);
	assert_int_equal(c.verbose, 2);
}

static void test_config_set_when_bad_value_names_key_value_and_accepted(void **state)
{
	/* each refused with its error, the message holding every err_has string */
	static const struct {
		const char *key, *value;
		int want;
		const char *err_has[3];
	} cases[] = {
		{ "interval", "fast", -EINVAL, { "interval", "'fast'", "accepted:" } },
		{ "source", "rapl", -EINVAL, { "powercap, msr, perf, model" } },
		{ "pue", "0.5", -EINVAL, { 0 } },
		{ "intensity", "-3", -EINVAL, { 0 } },
		{ "interval", "1ms", -EINVAL, { 0 } },
		{ "listen", "9940", -EINVAL, { 0 } },
		{ "listen", "1.2.3.4:70000", -EINVAL, { 0 } },
		{ "socket-mode", "rw", -EINVAL, { 0 } },
		{ "socket-mode", "4755", -EINVAL, { 0 } },
		{ "top-n", "ten", -EINVAL, { 0 } },
		{ "json", "maybe", -EINVAL, { 0 } },
		{ "powercap-root", "", -EINVAL, { 0 } },
		{ "listen", NULL, -EINVAL, { "needs a value" } },
		{ "colour", "red", -ENOENT, { "colour" } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = set(&c, cases[i].key, cases[i].value);

		check(rc == cases[i].want, cases[i].key);
		for (size_t k = 0; k < 3 && cases[i].err_has[k]; k++)
			if (!strstr(set_err, cases[i].err_has[k]))
				fail_msg("key %s = %s: message '%s' lacks '%s'", cases[i].key,
					 cases[i].value ? cases[i].value : "(none)", set_err, cases[i].err_has[k]);
	}
	/* a rejected value leaves the default in place */
	assert_int_equal(c.interval_ns, 100 * NSEC_PER_MSEC);
}

static void test_config_set_when_filter_repeated_appends(void **state)
{
	assert_int_equal(set(&c, "filter", "postgres"), 0);
	assert_int_equal(set(&c, "filter", "nginx"), 0);
	assert_int_equal(c.nfilters, 2);
	assert_string_equal(c.filters[1], "nginx");
	config_free(&c);
	assert_null(c.filters);
}

static void test_config_set_when_listen_empty_disables_tcp(void **state)
{
	assert_int_equal(set(&c, "listen", ""), 0);
	assert_non_null(c.listen);
	assert_string_equal(c.listen, "");
}

static void test_config_set_when_listen_accepted_the_server_parses_it_too(void **state)
{
	static const char *ok[] = { "127.0.0.1:0", "[::1]:9940", "localhost:0", "*:0", "0.0.0.0:65535" };
	static const char *bad[] = { "example.com:80", "localhost", ":9940", "1.2.3:80", "[::1]", "[zz]:1",
				     "*:65536", "local-host:1", "127.0.0.1:-1" };
	struct sockaddr_storage ss;
	socklen_t len;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(set(&c, "listen", ok[i]), 0);
		assert_int_equal(netaddr_parse_listen(ok[i], &ss, &len), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(set(&c, "listen", bad[i]), -EINVAL);
		assert_int_equal(netaddr_parse_listen(bad[i], &ss, &len), -EINVAL);
	}
	assert_int_equal(netaddr_parse_listen("localhost:9940", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9940);
	assert_int_equal(netaddr_parse_listen("*:1", &ss, &len), 0);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
}

static void test_config_set_when_filter_longer_than_comm_rejects(void **state)
{
	assert_int_equal(set(&c, "filter", "fifteen-chars-x"), 0);
	assert_int_equal(set(&c, "filter", "sixteen-chars-xy"), -EINVAL);
	assert_non_null(strstr(set_err, "at most 15 characters"));
	assert_int_equal(c.nfilters, 1);
}

static void test_config_load_file_when_valid_sets_every_key(void **state)
{
	char *path = write_tmp("; joule daemon\n[joule]\nsource = model\ninterval = 200ms\n"
			       "listen = 127.0.0.1:0 ; inline comment\nfilter = a\nfilter = b\njson = yes\n"
			       "exited-grace = 2m\n");
	char err[256];

	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.source, ENERGY_SRC_MODEL);
	assert_int_equal(c.interval_ns, 200 * NSEC_PER_MSEC);
	assert_string_equal(c.listen, "127.0.0.1:0");
	assert_int_equal(c.nfilters, 2);
	assert_true(c.json);
	assert_int_equal(c.grace_ns, 120 * NSEC_PER_SEC);
	unlink(path);
	free(path);
}

static void test_config_load_file_when_bad_value_names_file_and_line(void **state)
{
	char *path = write_tmp("[joule]\nsource = model\npue = high\n");
	char err[256], want[300];

	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "pue"));
	unlink(path);
	free(path);
}

static void test_config_load_file_when_unknown_key_or_section_fails(void **state)
{
	char *p1 = write_tmp("colour = red\n");
	char *p2 = write_tmp("[other]\nsource = model\n");
	char *p3 = write_tmp("just text\n");
	char err[256];

	assert_int_equal(config_load_file(&c, p1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'colour'"));
	assert_int_equal(config_load_file(&c, p2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "[other]"));
	assert_int_equal(config_load_file(&c, p3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1:"));
	assert_int_equal(config_load_file(&c, "/nonexistent/joule.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/joule.conf"));
	unlink(p1);
	unlink(p2);
	unlink(p3);
	free(p1);
	free(p2);
	free(p3);
}

static void test_config_load_file_when_shipped_example_parses(void **state)
{
	char err[256];

	if (access("dist/joule.conf", R_OK) != 0)
		skip();
	assert_int_equal(config_load_file(&c, "dist/joule.conf", err, sizeof(err)), 0);
}

static void test_config_load_string_when_syntax_error_names_name_and_line(void **state)
{
	char err[256] = "";

	assert_int_equal(config_load_string(&c, "[joule]\nzone = DE\nthis line has no equals sign\n", "x.conf",
					     err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "x.conf:3: syntax error (expected key = value or [section])");
	assert_string_equal(c.zone, "DE");
}

static void test_config_key_doc_when_listed_every_key_has_help_scope_and_accepted(void **state)
{
	size_t n = config_key_count();

	assert_true(n > 30);
	for (size_t i = 0; i < n; i++) {
		struct config_key_doc k;

		config_key_doc(i, &k);
		check(k.help != NULL, k.name);
		check(k.accepted != NULL, k.name);
		check(k.scope != 0, k.name);
		/* a value needs a name in --help (DIR, DURATION) */
		check(!k.takes_value || k.metavar, k.name);
		check(config_key_takes_value(k.name) == k.takes_value, k.name);
	}
}

static void test_config_key_doc_when_default_given_it_parses_as_a_value(void **state)
{
	/* a default such as "100ms" is what the key would take: give it and nothing changes */
	for (size_t i = 0; i < config_key_count(); i++) {
		struct joule_config a, b;
		struct config_key_doc k;
		char v[64];

		config_key_doc(i, &k);
		if (!k.dflt || !k.takes_value || strchr(k.dflt, ' ') || !strcmp(k.name, "embodied-kg"))
			continue;
		snprintf(v, sizeof(v), "%s", k.dflt);
		config_init(&a);
		config_init(&b);
		check(set(&b, k.name, v) == 0, k.name);
		check(a.interval_ns == b.interval_ns && a.pue == b.pue && a.idle == b.idle &&
					a.ledger_sync == b.ledger_sync && a.ledger_period_ns == b.ledger_period_ns &&
					a.socket_mode == b.socket_mode && a.top_n == b.top_n && a.grace_ns == b.grace_ns &&
					a.source == b.source && a.uncertainty == b.uncertainty,
		      k.name);
		config_free(&a);
		config_free(&b);
	}
}

static void test_config_ledger_opts_when_keys_set_maps_each_one(void **state)
{
	struct ledger_opts o;

	assert_int_equal(set(&c, "ledger", "/tmp/l.jsonl"), 0);
	assert_int_equal(set(&c, "ledger-sync", "always"), 0);
	assert_int_equal(set(&c, "ledger-period", "5s"), 0);
	assert_int_equal(set(&c, "ledger-key", "/tmp/k"), 0);
	config_ledger_opts(&c, &o);
	assert_string_equal(o.path, "/tmp/l.jsonl");
	assert_int_equal(o.sync, LEDGER_SYNC_ALWAYS);
	assert_int_equal(o.period_ns, 5 * NSEC_PER_SEC);
	assert_string_equal(o.key_path, "/tmp/k");
}

TL_MAIN(
	CFG_TEST(test_config_init_when_fresh_has_design_defaults),
	CFG_TEST(test_config_set_when_valid_values_fills_fields),
	CFG_TEST(test_config_set_when_bare_flags_sets_bool_and_counts_verbose),
	CFG_TEST(test_config_set_when_bad_value_names_key_value_and_accepted),
	CFG_TEST(test_config_set_when_filter_repeated_appends),
	CFG_TEST(test_config_set_when_listen_empty_disables_tcp),
	CFG_TEST(test_config_set_when_listen_accepted_the_server_parses_it_too),
	CFG_TEST(test_config_set_when_filter_longer_than_comm_rejects),
	CFG_TEST(test_config_load_file_when_valid_sets_every_key),
	CFG_TEST(test_config_load_file_when_bad_value_names_file_and_line),
	CFG_TEST(test_config_load_file_when_unknown_key_or_section_fails),
	CFG_TEST(test_config_load_file_when_shipped_example_parses),
	CFG_TEST(test_config_load_string_when_syntax_error_names_name_and_line),
	cmocka_unit_test(test_config_key_doc_when_listed_every_key_has_help_scope_and_accepted),
	cmocka_unit_test(test_config_key_doc_when_default_given_it_parses_as_a_value),
	CFG_TEST(test_config_ledger_opts_when_keys_set_maps_each_one)
)
