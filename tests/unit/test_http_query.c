// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for HTTP routing and query parsing: every bad input is a 4xx naming the parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "joule/http_query.h"
#include "joule/util.h"
#include "unit/testlib.h"

static void test_route_when_known_paths_routes_them(void **state)
{
	struct http_request_params p;
	const char *allow;

	assert_int_equal(http_route("GET", "/metrics", &p, &allow), 0);
	assert_int_equal(p.route, R_METRICS);
	assert_int_equal(http_route("HEAD", "/api/v1/host", &p, &allow), 0);
	assert_int_equal(p.route, R_HOST);
	assert_int_equal(http_route("GET", "/api/v1/processes/4242", &p, &allow), 0);
	assert_int_equal(p.route, R_PROCESS);
	assert_int_equal(p.pid, 4242);
	assert_int_equal(p.limit, 100);
	assert_int_equal(http_route("PUT", "/api/v1/intensity", &p, &allow), 0);
	assert_int_equal(p.route, R_INTENSITY);
}

static void test_route_when_unknown_or_bad_pid_gives_404(void **state)
{
	struct http_request_params p;
	const char *allow;

	assert_int_equal(http_route("GET", "/nope", &p, &allow), 404);
	assert_int_equal(http_route("GET", "/api/v1/processes/abc", &p, &allow), 404);
	assert_int_equal(http_route("GET", "/api/v1/processes/0", &p, &allow), 404);
	assert_int_equal(http_route("GET", "/api/v1/processes/-1", &p, &allow), 404);
	assert_int_equal(http_route("GET", "/api/v1/processes/99999999999999999999", &p, &allow), 404);
	assert_int_equal(http_route("GET", "/metrics/", &p, &allow), 404);
}

static void test_route_when_wrong_method_gives_405_with_allow(void **state)
{
	struct http_request_params p;
	const char *allow;

	assert_int_equal(http_route("POST", "/metrics", &p, &allow), 405);
	assert_string_equal(allow, "GET");
	assert_int_equal(http_route("GET", "/api/v1/intensity", &p, &allow), 405);
	assert_string_equal(allow, "PUT");
	assert_int_equal(http_route("DELETE", "/api/v1/processes/1", &p, &allow), 405);
}

static void test_param_when_valid_sets_fields(void **state)
{
	struct http_request_params p;
	const char *allow;
	char err[256];

	http_route("GET", "/api/v1/energy", &p, &allow);
	assert_int_equal(http_param(&p, "window", "3h", err, sizeof(err)), 0);
	assert_int_equal(http_param(&p, "step", "1h", err, sizeof(err)), 0);
	assert_int_equal(http_param(&p, "breakdown", "true", err, sizeof(err)), 0);
	assert_int_equal(http_param(&p, "group", "nginx.service", err, sizeof(err)), 0);
	assert_int_equal(http_params_check(&p, err, sizeof(err)), 0);
	assert_int_equal(p.window_ns, 3 * 3600 * NSEC_PER_SEC);
	assert_true(p.breakdown);
	http_route("GET", "/api/v1/processes", &p, &allow);
	assert_int_equal(http_param(&p, "sort", "cpu", err, sizeof(err)), 0);
	assert_int_equal(http_param(&p, "limit", "1000", err, sizeof(err)), 0);
	assert_int_equal(p.sort, SORT_CPU);
}

static void test_param_when_bad_values_gives_400_naming_parameter(void **state)
{
	static const struct {
		const char *path, *key, *value;
	} cases[] = {
		{ "/api/v1/processes", "limit", "0" },	  { "/api/v1/processes", "limit", "1001" },
		{ "/api/v1/processes", "limit", "-1" },	  { "/api/v1/processes", "limit", "1e3" },
		{ "/api/v1/processes", "limit", "" },	  { "/api/v1/processes", "sort", "size" },
		{ "/api/v1/processes", "comm", "" },	  { "/api/v1/processes", "comm", "0123456789abcdef" },
		{ "/api/v1/processes", "window", "1h" },  { "/api/v1/energy", "window", "-3h" },
		{ "/api/v1/energy", "window", "30d" },	  { "/api/v1/energy", "window", "1.5s" },
		{ "/api/v1/energy", "step", "500ms" },	  { "/api/v1/energy", "step", "soon" },
		{ "/api/v1/energy", "breakdown", "yes" }, { "/api/v1/samples.csv", "limit", "601" },
		{ "/api/v1/host", "x", "1" },		  { "/metrics", "name", "x" },
	};
	struct http_request_params p;
	const char *allow;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(http_route("GET", cases[i].path, &p, &allow), 0);
		assert_int_equal(http_param(&p, cases[i].key, cases[i].value, err, sizeof(err)), 400);
		assert_non_null(strstr(err, cases[i].key));
	}
}

static void test_params_check_when_step_does_not_fit_gives_400(void **state)
{
	struct http_request_params p;
	const char *allow;
	char err[256];

	http_route("GET", "/api/v1/energy", &p, &allow);
	http_param(&p, "window", "1h", err, sizeof(err));
	http_param(&p, "step", "7m", err, sizeof(err));
	assert_int_equal(http_params_check(&p, err, sizeof(err)), 400);
	http_param(&p, "step", "2h", err, sizeof(err));
	assert_int_equal(http_params_check(&p, err, sizeof(err)), 400);
	http_param(&p, "window", "7d", err, sizeof(err));
	http_param(&p, "step", "1s", err, sizeof(err));
	assert_int_equal(http_params_check(&p, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "step"));
}

static void test_error_json_when_message_has_quotes_escapes(void **state)
{
	char out[128];

	http_error_json(400, "bad \"x\"\n", out, sizeof(out));
	assert_string_equal(out, "{\"error\":{\"code\":400,\"message\":\"bad \\\"x\\\"\\u000a\"}}");
	http_error_json(404, "0123456789012345678901234567890123456789", out, 48);
	assert_int_equal(out[strlen(out) - 1], '}');
}

static void test_accepts_gzip_when_weights_and_spaces_follows_rfc9110(void **state)
{
	static const char *yes[] = { "gzip", "GZIP", "deflate, gzip", "gzip;q=0.5", "gzip ; q=1", "br;q=1, gzip;q=0.001",
				     "*", "x-gzip", "identity, *;q=0.1", "gzip;q=1.000", "br,gzip" };
	static const char *no[] = { "", "br", "gzip;q=0", "gzip; q=0", "gzip ;q=0", "gzip;q=0.0, br;q=1",
				    "gzip;q=0.000", "*;q=0", "gzip;q=0, *", "gzipx", "identity", "gzip;q=1.5",
				    "gzip;q=abc", "br;q=1, gzip;q=0" };

	assert_false(http_accepts_gzip(NULL));
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!http_accepts_gzip(yes[i]))
			fail_msg("'%s' should accept gzip", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (http_accepts_gzip(no[i]))
			fail_msg("'%s' should not accept gzip", no[i]);
}

static void test_parse_intensity_when_member_duplicated_gives_400_naming_it(void **state)
{
	const char *dup = "{\"g_per_kwh\":5,\"g_per_kwh\":9000}";
	const char *ok = "{\"g_per_kwh\": 123.5}";
	char err[128] = "";
	double g = -1;

	assert_int_equal(http_parse_intensity(dup, strlen(dup), &g, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "duplicate member g_per_kwh"));
	assert_int_equal(http_parse_intensity(ok, strlen(ok), &g, err, sizeof(err)), 0);
	assert_true(g == 123.5);
	assert_int_equal(http_parse_intensity("{\"x\":1}", 7, &g, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "unknown member"));
	assert_int_equal(http_parse_intensity("{\"g_per_kwh\":10001}", 19, &g, err, sizeof(err)), 400);
	assert_int_equal(http_parse_intensity("[1]", 3, &g, err, sizeof(err)), 400);
}

/* Issue 18 item 8: cJSON stops at the value's end and at a NUL; neither may hide the rest of a body. */
static void test_parse_intensity_when_text_after_object_or_nul_gives_400(void **state)
{
	static const struct {
		const char *body;
		size_t len;
		int want;
		const char *why;
	} cases[] = {
		{ "{\"g_per_kwh\":100}", 17, 0, "exactly the object" },
		{ "{\"g_per_kwh\":100}\r\n ", 20, 0, "trailing whitespace" },
		{ "{\"g_per_kwh\":100}xxxxx", 22, 400, "trailing junk" },
		{ "{\"g_per_kwh\":100}{}", 19, 400, "a second value" },
		{ "{\"g_per_kwh\":100}\0xyz", 21, 400, "a NUL after the object" },
		{ "{\"g_per_kwh\":1\0}", 16, 400, "a NUL inside" },
	};
	char err[256];
	double g;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = http_parse_intensity(cases[i].body, cases[i].len, &g, err, sizeof(err));

		if (r != cases[i].want)
			fail_msg("%s: got %d, want %d (%s)", cases[i].why, r, cases[i].want, err);
	}
}

static void test_has_nul_escape_when_percent00_anywhere_is_true(void **state)
{
	assert_true(http_has_nul_escape("1%0099"));		/* limit=1%0099 */
	assert_true(http_has_nul_escape("/api/v1/processes%00"));	/* at the end of a path */
	assert_false(http_has_nul_escape("bash%20x"));		/* other escapes are fine */
	assert_false(http_has_nul_escape("%0"));		/* a cut escape is not a NUL */
	assert_false(http_has_nul_escape(""));			/* empty */
}

static void test_content_lengths_when_they_differ_disagree(void **state)
{
	const char *same[] = { "5", "5" }, *differ[] = { "0", "5" }, *list_same[] = { "5, 5" },
		   *list_differ[] = { "5,6" }, *junk[] = { "5x" }, *one[] = { "12" };

	assert_true(http_content_lengths_agree(NULL, 0));	/* no Content-Length */
	assert_true(http_content_lengths_agree(one, 1));	/* one */
	assert_true(http_content_lengths_agree(same, 2));	/* repeated, equal (RFC 9112 6.3) */
	assert_true(http_content_lengths_agree(list_same, 1));	/* an equal list */
	assert_false(http_content_lengths_agree(differ, 2));	/* two different headers */
	assert_false(http_content_lengths_agree(list_differ, 1)); /* a list that differs */
	assert_false(http_content_lengths_agree(junk, 1));	/* not a number */
}

TL_MAIN(
	cmocka_unit_test(test_route_when_known_paths_routes_them),
	cmocka_unit_test(test_route_when_unknown_or_bad_pid_gives_404),
	cmocka_unit_test(test_route_when_wrong_method_gives_405_with_allow),
	cmocka_unit_test(test_param_when_valid_sets_fields),
	cmocka_unit_test(test_param_when_bad_values_gives_400_naming_parameter),
	cmocka_unit_test(test_params_check_when_step_does_not_fit_gives_400),
	cmocka_unit_test(test_error_json_when_message_has_quotes_escapes),
	cmocka_unit_test(test_accepts_gzip_when_weights_and_spaces_follows_rfc9110),
	cmocka_unit_test(test_parse_intensity_when_member_duplicated_gives_400_naming_it),
	cmocka_unit_test(test_parse_intensity_when_text_after_object_or_nul_gives_400),
	cmocka_unit_test(test_has_nul_escape_when_percent00_anywhere_is_true),
	cmocka_unit_test(test_content_lengths_when_they_differ_disagree)
)
