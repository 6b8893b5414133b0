// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for connection admission and deadlines: limits, the reserve, per-client shares, phases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "joule/http_conn.h"
#include "joule/util.h"
#include "unit/testlib.h"

static struct http_limits lim(void)
{
	struct http_limits l;

	http_limits_default(&l, 100, 100000);
	return l;
}

static void test_limits_default_when_fds_plenty_keeps_what_was_asked(void **state)
{
	struct http_limits l;

	http_limits_default(&l, 0, 100000);
	assert_int_equal(l.max_conns, 4096); /* the default global limit */
	assert_true(l.reserve > 0);	     /* a reserve for scrapes */
	assert_true(l.per_uid >= 16);	     /* a Unix peer's share */
	assert_true(l.header_ns <= 10 * NSEC_PER_SEC); /* a few seconds for headers */
}

static void test_limits_default_when_fds_scarce_fits_two_listeners(void **state)
{
	struct http_limits l;

	http_limits_default(&l, 4096, 1024);
	/* two listeners plus the daemon's own headroom must fit in 1024 descriptors */
	assert_true(2 * (l.max_conns + l.reserve) + 256 <= 1024);
	assert_true(l.max_conns >= 1); /* still serves */
}

static void test_admit_when_below_limit_gives_normal(void **state)
{
	struct http_limits l = lim();

	assert_int_equal(http_admit(&l, 0, 0, 0, 0), HTTP_ADMIT_NORMAL);	/* empty */
	assert_int_equal(http_admit(&l, 99, 0, 0, 0), HTTP_ADMIT_NORMAL);	/* last normal slot */
}

static void test_admit_when_full_gives_reserve_then_refuses(void **state)
{
	struct http_limits l = lim();

	assert_int_equal(http_admit(&l, 100, 0, 0, 0), HTTP_ADMIT_RESERVE);		/* full: the reserve */
	assert_int_equal(http_admit(&l, 100, l.reserve - 1, 0, 0), HTTP_ADMIT_RESERVE); /* last reserve slot */
	assert_int_equal(http_admit(&l, 100, l.reserve, 0, 0), HTTP_ADMIT_REFUSE);	/* reserve full too */
}

static void test_admit_when_client_over_its_share_refuses_even_the_reserve(void **state)
{
	struct http_limits l = lim();

	assert_int_equal(http_admit(&l, 10, 0, 63, 64), HTTP_ADMIT_NORMAL); /* under its share */
	assert_int_equal(http_admit(&l, 10, 0, 64, 64), HTTP_ADMIT_REFUSE); /* at its share */
	assert_int_equal(http_admit(&l, 100, 0, 64, 64), HTTP_ADMIT_REFUSE); /* the reserve is for the others */
	assert_int_equal(http_admit(&l, 10, 0, 5000, 0), HTTP_ADMIT_NORMAL); /* unlimited client (loopback) */
}

static void test_deadline_when_phase_varies_applies_to_requests_not_answers(void **state)
{
	struct http_limits l = lim();
	uint64_t t0 = 1000 * NSEC_PER_SEC;

	assert_false(http_deadline_passed(&l, HTTP_PHASE_HEADERS, false, t0, t0 + l.header_ns)); /* at the limit */
	assert_true(http_deadline_passed(&l, HTTP_PHASE_HEADERS, false, t0, t0 + l.header_ns + 1)); /* past it */
	assert_true(http_deadline_passed(&l, HTTP_PHASE_BODY, false, t0, t0 + l.body_ns + 1)); /* a slow body */
	assert_false(http_deadline_passed(&l, HTTP_PHASE_ANSWER, false, t0, t0 + 3600 * NSEC_PER_SEC)); /* streams */
	assert_true(http_deadline_passed(&l, HTTP_PHASE_HEADERS, true, t0, t0 + l.reserve_ns + 1)); /* reserve: shorter */
	assert_false(http_deadline_passed(&l, HTTP_PHASE_HEADERS, false, t0, t0 - 1)); /* clock before start */
}

TL_MAIN(
	cmocka_unit_test(test_limits_default_when_fds_plenty_keeps_what_was_asked),
	cmocka_unit_test(test_limits_default_when_fds_scarce_fits_two_listeners),
	cmocka_unit_test(test_admit_when_below_limit_gives_normal),
	cmocka_unit_test(test_admit_when_full_gives_reserve_then_refuses),
	cmocka_unit_test(test_admit_when_client_over_its_share_refuses_even_the_reserve),
	cmocka_unit_test(test_deadline_when_phase_varies_applies_to_requests_not_answers)
)
