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

static void test_array_reserve_when_more_is_needed_doubles_from_first_cap_and_keeps_contents(void **state)
{
	static const struct {
		size_t cap, need, want_cap;
	} cases[] = {
		{ 0, 1, 4 }, { 0, 5, 8 }, { 4, 4, 4 }, { 4, 5, 8 }, { 8, 33, 64 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t cap = cases[i].cap;
		uint64_t *v = cap ? calloc(cap, sizeof(*v)) : NULL;

		if (cap)
			v[cap - 1] = 42;
		assert_int_equal(array_reserve(&v, &cap, cases[i].need, sizeof(*v), 4), 0);
		assert_int_equal(cap, cases[i].want_cap);
		assert_non_null(v);
		if (cases[i].cap)
			assert_int_equal(v[cases[i].cap - 1], 42);
		v[cap - 1] = 7; /* the whole capacity is writable (ASan would say otherwise) */
		free(v);
	}
}

static void test_array_reserve_when_too_large_fails_and_keeps_the_array(void **state)
{
	size_t cap = 4;
	uint64_t *v = calloc(cap, sizeof(*v)), *old = v;

	assert_int_equal(array_reserve(&v, &cap, SIZE_MAX, sizeof(*v), 4), -ENOMEM);
	assert_ptr_equal(v, old);
	assert_int_equal(cap, 4);
	free(v);
}

static void test_name_value_find_when_name_is_in_the_table_gives_its_value_else_einval(void **state)
{
	static const struct name_value tab[] = { { "linear", 1 }, { "specpower", 0 }, { NULL } };
	int v = -1;

	assert_int_equal(name_value_find(tab, "specpower", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(name_value_find(tab, "linear", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(name_value_find(tab, "Linear", &v), -EINVAL);
	assert_int_equal(name_value_find(tab, "", &v), -EINVAL);
	assert_int_equal(v, 1);
}

TL_MAIN(
	cmocka_unit_test(test_parse_duration_when_units_given_converts_to_ns),
	cmocka_unit_test(test_parse_duration_when_malformed_is_rejected),
	cmocka_unit_test(test_parse_u64_when_not_all_digits_is_rejected),
	cmocka_unit_test(test_array_reserve_when_more_is_needed_doubles_from_first_cap_and_keeps_contents),
	cmocka_unit_test(test_array_reserve_when_too_large_fails_and_keeps_the_array),
	cmocka_unit_test(test_name_value_find_when_name_is_in_the_table_gives_its_value_else_einval)
)
