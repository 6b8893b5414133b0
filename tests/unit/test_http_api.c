// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the API's answers from a real store, without a server: filters, order, limits, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "joule/http_api.h"
#include "joule/store.h"
#include "joule/util.h"

#define T0_REAL (1700000000ULL * NSEC_PER_SEC)
#define TICK (100 * NSEC_PER_MSEC)

static struct sample_task task(uint32_t pid, const char *comm, uint64_t uj)
{
	struct sample_task t = { .pid = pid, .ppid = 1, .start_ns = pid * 10ULL,
				 .tot = { .cpu_ns = 50 * NSEC_PER_MSEC, .cpu_uj = uj, .carbon_ug = uj / 2,
					  .operational_ug = uj / 2 } };

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	return t;
}

/* A store that saw one sample: bash 4242 (300 uJ), make 4243 (500 uJ), bash 4244 (100 uJ). */
static int setup(void **state)
{
	struct sample_task t[] = { task(4242, "bash", 300), task(4243, "make", 500), task(4244, "bash", 100) };
	struct sample s = { .seq = 1, .ntasks = 3, .tasks = t, .source = ENERGY_SRC_POWERCAP };
	struct store_cfg cfg = { 0 };
	struct store *st;

	s.mono_start_ns = TICK;
	s.mono_end_ns = 2 * TICK;
	s.real_start_ns = T0_REAL + s.mono_start_ns;
	s.real_end_ns = T0_REAL + s.mono_end_ns;
	s.host_cpu_uj = 900;
	s.host_domain_uj[ENERGY_PACKAGE] = 900;
	s.domains = 1u << ENERGY_PACKAGE;
	s.intensity.g_per_kwh = 400;
	if (store_open(&st, &cfg) || store_add_sample(st, &s))
		return -1;
	*state = st;
	return 0;
}

static int teardown(void **state)
{
	store_close(*state);
	return 0;
}

/* Route url ("/path?k=v&...") as the server does, answer it, and parse the JSON body (NULL on an error status). */
static cJSON *get(struct store *st, const char *url, unsigned *status, char *err, size_t errlen)
{
	struct http_api_ctx x = { .store = st, .version = "test", .start_real_ns = T0_REAL, .ready = true };
	struct http_request_params p;
	struct http_reply out;
	char buf[256], *q, *kv, *save = NULL;
	const char *allow;
	cJSON *o = NULL;

	snprintf(buf, sizeof(buf), "%s", url);
	q = strchr(buf, '?');
	if (q)
		*q++ = '\0';
	assert_int_equal(http_route("GET", buf, &p, &allow), 0); /* the test's url routes */
	for (kv = q ? strtok_r(q, "&", &save) : NULL; kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		assert_int_equal(http_param(&p, kv, eq, err, errlen), 0); /* the test's parameters are valid */
	}
	*status = http_api_answer(&x, &p, &out);
	if (out.body)
		o = cJSON_ParseWithLength(out.body, out.len);
	else
		snprintf(err, errlen, "%s", out.err);
	free(out.body);
	return o;
}

/* A GET that must answer 200 with a JSON body: the body. */
static cJSON *get_ok(struct store *st, const char *url)
{
	char err[256] = "";
	unsigned status;
	cJSON *o = get(st, url, &status, err, sizeof(err));

	if (status != 200 || !o)
		fail_msg("GET %s: status %u, %s", url, status, o ? "a body" : err);
	return o;
}

static void test_api_processes_when_sorted_by_energy_gives_largest_first(void **state)
{
	cJSON *o = get_ok(*state, "/api/v1/processes"), *arr;

	arr = cJSON_GetObjectItem(o, "processes");
	assert_int_equal(cJSON_GetArraySize(arr), 3); /* every process */
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "pid")->valueint, 4243); /* make, 500 uJ, first */
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 2), "pid")->valueint, 4244); /* bash, 100 uJ, last */
	cJSON_Delete(o);
}

static void test_api_processes_when_comm_and_limit_gives_matched_and_at_most_limit(void **state)
{
	cJSON *o = get_ok(*state, "/api/v1/processes?comm=bash&limit=1");

	assert_int_equal(cJSON_GetObjectItem(o, "matched")->valueint, 2); /* both bash processes match */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "processes")), 1); /* limit=1 shows one */
	cJSON_Delete(o);
}

/* Issue 18 item 8: no match used to reach qsort_r(NULL, 0), undefined behaviour that UBSan reports. */
static void test_api_processes_when_comm_matches_nothing_gives_empty_list(void **state)
{
	cJSON *o = get_ok(*state, "/api/v1/processes?comm=\xe2\x98\x83");

	assert_int_equal(cJSON_GetObjectItem(o, "matched")->valueint, 0); /* nothing matched */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "processes")), 0); /* an empty list */
	cJSON_Delete(o);
}

static void test_api_process_when_pid_unknown_gives_404_naming_it(void **state)
{
	char err[256];
	unsigned status;
	cJSON *o = get(*state, "/api/v1/processes/999", &status, err, sizeof(err));

	assert_null(o); /* no body on an error */
	assert_int_equal(status, 404);
	assert_non_null(strstr(err, "999")); /* the message names the pid */
}

static void test_api_host_when_one_sample_gives_its_energy(void **state)
{
	cJSON *o = get_ok(*state, "/api/v1/host");

	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "totals"), "energy_uj")->valueint, 900); /* host uJ */
	assert_int_equal(cJSON_GetObjectItem(o, "samples")->valueint, 1); /* one sample */
	cJSON_Delete(o);
}

static void test_api_apps_when_two_comms_gives_one_group_each(void **state)
{
	cJSON *o = get_ok(*state, "/api/v1/apps"), *first;

	first = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "apps"), 0);
	assert_string_equal(cJSON_GetObjectItem(first, "name")->valuestring, "make"); /* largest energy first */
	assert_int_equal(cJSON_GetObjectItem(first, "energy_uj")->valueint, 500); /* make's energy */
	cJSON_Delete(o);
}

/* Issue 18 item 7: what /proc shows each viewer, and never more. */
static void test_disclose_when_viewer_varies_follows_proc(void **state)
{
	static const struct {
		struct http_viewer v;
		uint32_t owner;
		bool hidden;
		struct http_disclosure want;
		const char *why;
	} cases[] = {
		{ { HTTP_VIEWER_ANONYMOUS, 0 }, 0, false, { false, false, true }, "TCP, no auth: no exe, no cmdline" },
		{ { HTTP_VIEWER_ANONYMOUS, 0 }, 0, true, { false, false, false }, "TCP, no auth, hidepid: nothing" },
		{ { HTTP_VIEWER_TRUSTED, 0 }, 0, true, { true, true, true }, "authenticated: everything" },
		{ { HTTP_VIEWER_UID, 0 }, 1000, true, { true, true, true }, "root on the socket: everything" },
		{ { HTTP_VIEWER_UID, 1000 }, 1000, true, { true, true, true }, "the owner: everything" },
		{ { HTTP_VIEWER_UID, 1000 }, 0, false, { false, true, true }, "another user: no exe link" },
		{ { HTTP_VIEWER_UID, 1000 }, 0, true, { false, false, false }, "another user, hidepid: nothing" },
		{ { HTTP_VIEWER_UID, 1000 }, UINT32_MAX, false, { false, true, true }, "unknown owner: not the viewer's" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_disclosure d;

		http_disclose(&cases[i].v, cases[i].owner, cases[i].hidden, &d);
		if (d.exe != cases[i].want.exe || d.cmdline != cases[i].want.cmdline || d.cgroup != cases[i].want.cgroup)
			fail_msg("%s: got exe=%d cmdline=%d cgroup=%d", cases[i].why, d.exe, d.cmdline, d.cgroup);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_api_processes_when_sorted_by_energy_gives_largest_first),
		cmocka_unit_test_setup_teardown(test_api_processes_when_comm_and_limit_gives_matched_and_at_most_limit, setup,
						teardown),
		T(test_api_processes_when_comm_matches_nothing_gives_empty_list),
		T(test_api_process_when_pid_unknown_gives_404_naming_it),
		T(test_api_host_when_one_sample_gives_its_energy),
		T(test_api_apps_when_two_comms_gives_one_group_each),
		cmocka_unit_test(test_disclose_when_viewer_varies_follows_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
