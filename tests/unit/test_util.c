// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: strict value parsing (durations, integers). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "joule/util.h"
#include "unit/testlib.h"

static void test_parse_duration_when_units_given_converts_to_ns(void **state)
{
	static const struct {
		const char *in;
		uint64_t ns;
	} ok[] = {
		{ "100ms", 100000000ULL }, { "1.5s", 1500000000ULL }, { "2m", 120000000000ULL },
		{ "1h", 3600000000000ULL }, { "250us", 250000ULL }, { "10ns", 10ULL }, { "3", 3000000000ULL },
		{ "0", 0 },
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		assert_int_equal(parse_duration_ns(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].ns);
	}
}

static void test_parse_duration_when_malformed_is_rejected(void **state)
{
	static const char *const bad[] = { "", "ms", "-1s", "1 s", "1sec", "fast", "1e400s", "1s2", " 1s" };
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_true(parse_duration_ns(bad[i], &v) < 0);
	assert_int_equal(parse_duration_ns("300y", &v), -EINVAL);
	assert_int_equal(parse_duration_ns("999999999999h", &v), -ERANGE);
}

static void test_parse_u64_when_not_all_digits_is_rejected(void **state)
{
	uint64_t v;

	assert_int_equal(parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("12a", &v), -EINVAL);
	assert_int_equal(parse_u64("", &v), -EINVAL);
}

TL_MAIN(
	cmocka_unit_test(test_parse_duration_when_units_given_converts_to_ns),
	cmocka_unit_test(test_parse_duration_when_malformed_is_rejected),
	cmocka_unit_test(test_parse_u64_when_not_all_digits_is_rejected)
)
