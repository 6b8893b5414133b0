// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* RFC 8785 vectors, byte-exact: Appendix B numbers, §3.2.2 sample, §3.2.3 ordering, escapes, errors. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/jcs.h"
#include "unit/testlib.h"

static double from_bits(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* RFC 8785 Appendix B: IEEE 754 bit pattern → canonical text. */
static const struct { uint64_t bits; const char *text; } rfc_numbers[] = {
	{ 0x0000000000000000ULL, "0" },
	{ 0x8000000000000000ULL, "0" },
	{ 0x0000000000000001ULL, "5e-324" },
	{ 0x8000000000000001ULL, "-5e-324" },
	{ 0x7fefffffffffffffULL, "1.7976931348623157e+308" },
	{ 0xffefffffffffffffULL, "-1.7976931348623157e+308" },
	{ 0x4340000000000000ULL, "9007199254740992" },
	{ 0xc340000000000000ULL, "-9007199254740992" },
	{ 0x4430000000000000ULL, "295147905179352830000" },
	{ 0x44b52d02c7e14af5ULL, "9.999999999999997e+22" },
	{ 0x44b52d02c7e14af6ULL, "1e+23" },
	{ 0x44b52d02c7e14af7ULL, "1.0000000000000001e+23" },
	{ 0x444b1ae4d6e2ef4eULL, "999999999999999700000" },
	{ 0x444b1ae4d6e2ef4fULL, "999999999999999900000" },
	{ 0x444b1ae4d6e2ef50ULL, "1e+21" },
	{ 0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7" },
	{ 0x3eb0c6f7a0b5ed8dULL, "0.000001" },
	{ 0x41b3de4355555553ULL, "333333333.3333332" },
	{ 0x41b3de4355555554ULL, "333333333.33333325" },
	{ 0x41b3de4355555555ULL, "333333333.3333333" },
	{ 0x41b3de4355555556ULL, "333333333.3333334" },
	{ 0x41b3de4355555557ULL, "333333333.33333343" },
	{ 0xbecbf647612f3696ULL, "-0.0000033333333333333333" },
	{ 0x43143ff3c1cb0959ULL, "1424953923781206.2" },
};

static void test_jcs_number_when_rfc8785_appendix_b_expect_exact_text(void **state)
{
	char buf[JCS_NUMBER_MAX];

	for (size_t i = 0; i < sizeof(rfc_numbers) / sizeof(rfc_numbers[0]); i++) {
		int n = jcs_format_double(from_bits(rfc_numbers[i].bits), buf);

		if (n < 0 || strcmp(buf, rfc_numbers[i].text) != 0)
			fail_msg("bits %016llx: got '%s', RFC 8785 says '%s'",
				 (unsigned long long)rfc_numbers[i].bits, n < 0 ? "(error)" : buf,
				 rfc_numbers[i].text);
		assert_int_equal(n, (int)strlen(rfc_numbers[i].text));
	}
}

static void test_jcs_number_when_nan_or_infinity_expect_edom(void **state)
{
	char buf[JCS_NUMBER_MAX];

	assert_int_equal(jcs_format_double(from_bits(0x7fffffffffffffffULL), buf), -EDOM);
	assert_int_equal(jcs_format_double(from_bits(0x7ff0000000000000ULL), buf), -EDOM);
	assert_int_equal(jcs_format_double(-INFINITY, buf), -EDOM);
}

static void test_jcs_number_when_integers_and_thresholds_expect_ecmascript_text(void **state)
{
	static const struct { double v; const char *text; } cases[] = {
		{ 1, "1" }, { -1, "-1" }, { 100, "100" }, { 4.5, "4.5" }, { 0.002, "0.002" },
		{ 1e-7, "1e-7" }, { 1.5e-7, "1.5e-7" }, { 1e20, "100000000000000000000" },
		{ 1e21, "1e+21" }, { 123456789012, "123456789012" }, { 0.1, "0.1" },
		{ 1e30, "1e+30" }, { 1e-27, "1e-27" }, { 2.5e-5, "0.000025" },
	};
	char buf[JCS_NUMBER_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		jcs_format_double(cases[i].v, buf);
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%.17g: got '%s', want '%s'", cases[i].v, buf, cases[i].text);
	}
}

/* Every double must round-trip through its text: a sweep over random bit patterns. */
static void test_jcs_number_when_random_doubles_expect_round_trip(void **state)
{
	char buf[JCS_NUMBER_MAX];
	uint64_t x = 0x9E3779B97F4A7C15ULL;

	for (int i = 0; i < 50000; i++) {
		double d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d = from_bits(x);
		if (!isfinite(d))
			continue;
		jcs_format_double(d, buf);
		if (strtod(buf, NULL) != d)
			fail_msg("%016llx: '%s' does not read back", (unsigned long long)x, buf);
	}
}

static char *canon(const char *json, int *err)
{
	cJSON *j = cJSON_Parse(json);
	char *out = NULL;

	assert_non_null(j);
	*err = jcs_serialize(j, &out, NULL);
	cJSON_Delete(j);
	return out;
}

/* json canonicalises without error to want. */
static void assert_canon(const char *json, const char *want)
{
	int err;
	char *out = canon(json, &err);

	if (err != 0 || !out || strcmp(out, want) != 0)
		fail_msg("canonical form of %s: error %d, got %s, want %s", json, err, out ? out : "(none)", want);
	free(out);
}

/* RFC 8785 §3.2.2: the combined sample, as the RFC prints it. */
static void test_jcs_serialize_when_rfc8785_sample_expect_exact_bytes(void **state)
{
	const char *in =
		"{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
		"  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
		"  \"literals\": [null, true, false]\n}";
	const char *want =
		"{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
		"\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";

	assert_canon(in, want);
}

/* RFC 8785 §3.2.3: member order by UTF-16 code units (the emoji's surrogates sort before U+FB33). */
static void test_jcs_serialize_when_rfc8785_sorting_example_expect_utf16_order(void **state)
{
	const char *in = "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
			 "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
			 "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
			 "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}";
	const char *want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
			   "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
			   "\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
			   "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";

	assert_canon(in, want);
}

static void test_jcs_serialize_when_control_chars_expect_short_or_lowercase_u_escapes(void **state)
{
	assert_canon("[\"\\u0001\\b\\t\\n\\f\\r\\u001f\\u007f/\\u00e9\"]",
		     "[\"\\u0001\\b\\t\\n\\f\\r\\u001f\x7f/\xc3\xa9\"]");
}

static void test_jcs_serialize_when_nested_and_empty_expect_no_whitespace(void **state)
{
	assert_canon(" { \"b\" : [ ] , \"a\" : { } , \"c\" : [ { \"z\":1, \"y\":-0.0 } ] } ",
		     "{\"a\":{},\"b\":[],\"c\":[{\"y\":0,\"z\":1}]}");
}

static void test_jcs_serialize_when_duplicate_key_expect_eexist(void **state)
{
	int err;
	char *out = canon("{\"a\":1,\"b\":2,\"a\":3}", &err);

	assert_int_equal(err, -EEXIST);
	assert_null(out);
}

static void test_jcs_serialize_when_invalid_utf8_expect_eilseq(void **state)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;

	cJSON_AddStringToObject(o, "k", "bad \xc3\x28 byte");
	assert_int_equal(jcs_serialize(o, &out, NULL), -EILSEQ);
	cJSON_Delete(o);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "k", "surrogate \xed\xa0\x80");
	assert_int_equal(jcs_serialize(o, &out, NULL), -EILSEQ);
	cJSON_Delete(o);
}

static void test_jcs_serialize_when_infinite_number_expect_edom(void **state)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;

	cJSON_AddNumberToObject(o, "x", INFINITY);
	assert_int_equal(jcs_serialize(o, &out, NULL), -EDOM);
	cJSON_Delete(o);
}

TL_MAIN(
	cmocka_unit_test(test_jcs_number_when_rfc8785_appendix_b_expect_exact_text),
	cmocka_unit_test(test_jcs_number_when_nan_or_infinity_expect_edom),
	cmocka_unit_test(test_jcs_number_when_integers_and_thresholds_expect_ecmascript_text),
	cmocka_unit_test(test_jcs_number_when_random_doubles_expect_round_trip),
	cmocka_unit_test(test_jcs_serialize_when_rfc8785_sample_expect_exact_bytes),
	cmocka_unit_test(test_jcs_serialize_when_rfc8785_sorting_example_expect_utf16_order),
	cmocka_unit_test(test_jcs_serialize_when_control_chars_expect_short_or_lowercase_u_escapes),
	cmocka_unit_test(test_jcs_serialize_when_nested_and_empty_expect_no_whitespace),
	cmocka_unit_test(test_jcs_serialize_when_duplicate_key_expect_eexist),
	cmocka_unit_test(test_jcs_serialize_when_invalid_utf8_expect_eilseq),
	cmocka_unit_test(test_jcs_serialize_when_infinite_number_expect_edom)
)
