// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the fleet API's pure parts: PromQL escaping and building, routing and limits, and answers built from recorded Prometheus responses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "joule/fleet_api.h"
#include "joule/promql.h"
#include "joule/util.h"

/* Recorded from Debian's Prometheus 2.42 scraping a real daemon (instance 127.0.0.1:46233, --hostname rec-host). */
static const char rec_energy[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"domain\":\"cpu\","
	"\"group\":\"joule\",\"group_kind\":\"comm\"},\"value\":[1796170102,\"0.0509\"]},{\"metric\":{\"domain\":"
	"\"memory\",\"group\":\"joule\",\"group_kind\":\"comm\"},\"value\":[1796170102,\"0.000125\"]}]}}";
static const char rec_carbon[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"kind\":\"operational\","
	"\"group\":\"joule\",\"group_kind\":\"comm\"},\"value\":[1796170102,\"0.000012\"]},{\"metric\":{\"kind\":"
	"\"embodied\",\"group\":\"joule\",\"group_kind\":\"comm\"},\"value\":[1796170102,\"0.000007\"]}]}}";
static const char rec_cpu[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"group\":\"joule\","
	"\"group_kind\":\"comm\"},\"value\":[1796170102,\"0.25\"]}]}}";
static const char rec_up[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\","
	"\"instance\":\"127.0.0.1:46233\",\"job\":\"joule\"},\"value\":[1796170102,\"1\"]},{\"metric\":{\"__name__\":"
	"\"up\",\"instance\":\"127.0.0.1:46234\",\"job\":\"joule\"},\"value\":[1796170102,\"0\"]}]}}";
static const char rec_hosts[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"hostname\":\"rec-host\","
	"\"instance\":\"127.0.0.1:46233\"},\"value\":[1796170102,\"1\"]},{\"metric\":{\"hostname\":\"gone-host\","
	"\"instance\":\"127.0.0.1:46234\"},\"value\":[1796170102,\"1\"]}]}}";
/* group by (group, group_kind, <the identity labels>): a comm group carries none */
static const char rec_identity[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"group\":\"joule\","
	"\"group_kind\":\"comm\"},\"value\":[1796170102,\"1\"]}]}}";
static const char rec_matrix[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"domain\":\"cpu\"},"
	"\"values\":[[1796170101,\"0\"],[1796170102,\"0.051141129032258065\"]]},{\"metric\":{\"domain\":\"memory\"},"
	"\"values\":[[1796170101,\"0\"],[1796170102,\"0\"]]}]}}";
static const char rec_carbon_matrix[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"kind\":\"operational\"},"
	"\"values\":[[1796170102,\"0.5\"]]}]}}";
static const char rec_bad_data[] =
	"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": 1:5: parse "
	"error: unclosed left parenthesis\"}";

static struct fleet_answer ok(const char *body)
{
	return (struct fleet_answer){ .http_status = 200, .body = body, .len = strlen(body) };
}

static void route(struct fleet_req *r, const char *path)
{
	const char *allow;

	assert_int_equal(fleet_route("GET", path, r, &allow), 0);
	r->now_ms = 1796170102000;
}

static void test_promql_escape_when_name_has_quotes_braces_backslash_escapes_them(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(promql_escape("a\"b{c}\\d=~.*", out, sizeof(out)), 0);
	assert_string_equal(out, "a\\\"b{c}\\\\d=~.*");
	assert_int_equal(promql_escape("x\ny", out, sizeof(out)), 0);
	assert_string_equal(out, "x\\ny");
}

static void test_promql_escape_when_control_byte_or_too_long_refuses(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(promql_escape("a\tb", out, sizeof(out)), -EINVAL);
	assert_int_equal(promql_escape("abcd", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(promql_escape("\"\"", out, sizeof(out)), -ENAMETOOLONG);
}

static void test_promql_add_matcher_when_value_is_hostile_keeps_it_one_exact_matcher(void **state)
{
	char list[256] = "";

	(void)state;
	assert_int_equal(promql_add_matcher(list, sizeof(list), "job", "joule"), 0);
	assert_int_equal(promql_add_matcher(list, sizeof(list), "group", "x\"} or vector(1) or {a=\""), 0);
	assert_string_equal(list, "job=\"joule\",group=\"x\\\"} or vector(1) or {a=\\\"\"");
}

static void test_promql_window_sum_when_grouped_is_the_exact_delta_with_increase_for_resets(void **state)
{
	char q[PROMQL_MAX];

	(void)state;
	assert_int_equal(promql_window_sum(q, sizeof(q), "m", "job=\"j\"", "group", 60), 0);
	assert_string_equal(q, "sum by (group) (((last_over_time(m{job=\"j\"}[60s]) - (m{job=\"j\"} offset 60s or "
			       "last_over_time(m{job=\"j\"}[60s]) * 0)) unless resets(m{job=\"j\"}[60s]) > 0 or "
			       "increase(m{job=\"j\"}[60s])))");
	assert_int_equal(promql_window_sum(q, 16, "m", "", "", 60), -ENAMETOOLONG);
}

static void test_fleet_route_when_paths_known_or_not_routes_404_405(void **state)
{
	struct fleet_req r;
	const char *allow;

	(void)state;
	assert_int_equal(fleet_route("GET", "/api/v1/apps", &r, &allow), 0);
	assert_int_equal(r.route, FLEET_APPS);
	assert_int_equal(fleet_route("GET", "/api/apps/run-engine/", &r, &allow), 0);
	assert_int_equal(r.route, FLEET_CARMEN_RUN);
	assert_int_equal(r.p.window_ns, 3 * 3600 * NSEC_PER_SEC);
	assert_int_equal(fleet_route("GET", "/api/v1/processes", &r, &allow), 404);
	assert_int_equal(fleet_route("PUT", "/api/v1/energy", &r, &allow), 405);
	assert_string_equal(allow, "GET");
}

static void test_fleet_openapi_when_compared_to_the_routes_lists_every_path_and_no_other(void **state)
{
	size_t len, nroutes = 0;
	const char *doc = fleet_openapi(&len);
	cJSON *o = cJSON_ParseWithLength(doc, len), *paths, *p;
	struct fleet_req r;
	const char *allow;

	(void)state;
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "openapi")->valuestring, "3.0.3");
	paths = cJSON_GetObjectItem(o, "paths");
	for (const char *path; (path = fleet_route_path(nroutes)); nroutes++) {
		if (!cJSON_GetObjectItemCaseSensitive(paths, path))
			fail_msg("the fleet answers %s, which openapi.json lacks", path);
	}
	cJSON_ArrayForEach(p, paths) {
		if (fleet_route("GET", p->string, &r, &allow) != 0)
			fail_msg("openapi.json lists %s, which the fleet does not answer", p->string);
		if (!cJSON_GetObjectItem(p, "get"))
			fail_msg("openapi.json: %s has no GET", p->string);
	}
	assert_int_equal(cJSON_GetArraySize(paths), nroutes);
	cJSON_Delete(o);
}

static void test_fleet_param_when_out_of_the_daemons_limits_gives_400(void **state)
{
	struct fleet_req r;
	char err[256];

	(void)state;
	route(&r, "/api/v1/energy");
	assert_int_equal(fleet_param(&r, "window", "8d", err, sizeof(err)), 400);
	assert_non_null(strstr(err, "window"));
	assert_int_equal(fleet_param(&r, "window", "1000m", err, sizeof(err)), 0);
	assert_int_equal(fleet_param(&r, "step", "1s", err, sizeof(err)), 0);
	assert_int_equal(fleet_check(&r, err, sizeof(err)), 400);
	assert_non_null(strstr(err, "steps"));
	route(&r, "/api/v1/apps");
	assert_int_equal(fleet_param(&r, "step", "1m", err, sizeof(err)), 400);
	assert_int_equal(fleet_param(&r, "window", "15m", err, sizeof(err)), 0);
	assert_int_equal(fleet_param(&r, "limit", "0", err, sizeof(err)), 400);
	route(&r, "/api/apps/run-engine");
	assert_int_equal(fleet_param(&r, "sampling", "7m", err, sizeof(err)), 0);
	assert_int_equal(fleet_check(&r, err, sizeof(err)), 400);
}

/* The plan of a routed request, for job "joule" (the caller frees it). */
static struct fleet_plan *plan_for(const struct fleet_req *r)
{
	struct fleet_plan *pl = calloc(1, sizeof(*pl));
	char err[256];

	assert_non_null(pl);
	assert_int_equal(fleet_plan(r, "joule", pl, err, sizeof(err)), 0);
	return pl;
}

static void test_fleet_plan_when_group_is_hostile_quotes_it_in_every_query(void **state)
{
	struct fleet_req r;
	struct fleet_plan *pl;
	char err[256];

	(void)state;
	route(&r, "/api/v1/energy");
	assert_int_equal(fleet_param(&r, "group", "a\"b{c}\\d=~.*", err, sizeof(err)), 0);
	pl = plan_for(&r);
	assert_int_equal(pl->n, 4);
	assert_non_null(strstr(pl->q[0].expr, "group=\"a\\\"b{c}\\\\d=~.*\""));
	assert_null(strstr(pl->q[0].expr, "=~"  "\"")); /* never a regex matcher */
	assert_true(pl->q[0].range);
	assert_int_equal(pl->q[0].end_ms - pl->q[0].start_ms, (3600 - 60) * 1000);
	free(pl);
}

static cJSON *build_ok(struct fleet_req *r, struct fleet_answer *ans)
{
	struct fleet_plan *pl = calloc(1, sizeof(*pl));
	struct fleet_reply out;
	char err[256];
	cJSON *o;

	assert_non_null(pl);
	assert_int_equal(fleet_plan(r, "joule", pl, err, sizeof(err)), 0);
	assert_int_equal(fleet_build(r, pl, ans, &out), 200);
	o = cJSON_Parse(out.body);
	free(out.body);
	free(pl);
	assert_non_null(o);
	return o;
}

/* /api/v1/apps from the plan's answers: these three figures and names, the recorded hosts. */
static cJSON *build_apps(const char *energy, const char *carbon, const char *cpu, const char *identity)
{
	struct fleet_req r;
	struct fleet_answer ans[] = { ok(energy), ok(carbon), ok(cpu), ok(rec_up), ok(rec_hosts), ok(identity) };

	route(&r, "/api/v1/apps");
	return build_ok(&r, ans);
}

static void test_fleet_build_apps_when_recorded_answers_gives_the_daemons_keys_and_hosts(void **state)
{
	cJSON *o, *app, *miss;

	(void)state;
	o = build_apps(rec_energy, rec_carbon, rec_cpu, rec_identity);
	assert_int_equal(cJSON_GetObjectItem(o, "matched")->valuedouble, 1);
	app = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "apps"), 0);
	assert_string_equal(cJSON_GetObjectItem(app, "name")->valuestring, "joule");
	assert_string_equal(cJSON_GetObjectItem(app, "kind")->valuestring, "comm");
	assert_int_equal(cJSON_GetObjectItem(app, "cpu_energy_uj")->valuedouble, 50900);
	assert_int_equal(cJSON_GetObjectItem(app, "memory_energy_uj")->valuedouble, 125);
	assert_int_equal(cJSON_GetObjectItem(app, "energy_uj")->valuedouble, 51025);
	assert_int_equal(cJSON_GetObjectItem(app, "carbon_ug")->valuedouble, 19);
	assert_int_equal(cJSON_GetObjectItem(app, "carbon_embodied_ug")->valuedouble, 7);
	assert_int_equal(cJSON_GetObjectItem(app, "cpu_ns")->valuedouble, 250000000);
	miss = cJSON_GetObjectItem(o, "missing_hosts");
	assert_int_equal(cJSON_GetArraySize(miss), 1);
	assert_string_equal(cJSON_GetArrayItem(miss, 0)->valuestring, "gone-host");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "hosts")), 2);
	cJSON_Delete(o);
}

static void test_fleet_plan_when_apps_asks_the_identity_labels_by_group(void **state)
{
	struct fleet_req r;
	struct fleet_plan *pl;

	(void)state;
	route(&r, "/api/v1/apps");
	pl = plan_for(&r);
	assert_int_equal(pl->n, 6);
	assert_non_null(strstr(pl->q[5].expr, "group by (group, group_kind, namespace, pod, pod_uid, container, "
					      "container_id, runtime, unit, slice, job_id, job_user) (last_over_time("
					      "joule_group_energy_joules_total{job=\"joule\"}[3600s]))"));
	free(pl);
}

/* Two hosts run web.service (same unit, different slices) and one runs a pod's container. */
static const char two_host_energy[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"domain\":\"cpu\",\"group\":\"web.service\",\"group_kind\":\"unit\"},\"value\":[1796170102,\"2\"]},"
	"{\"metric\":{\"domain\":\"cpu\",\"group\":\"shop/cart/app\",\"group_kind\":\"pod\"},"
	"\"value\":[1796170102,\"1\"]}]}}";
static const char two_host_identity[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"group\":\"web.service\",\"group_kind\":\"unit\",\"unit\":\"web.service\",\"slice\":"
	"\"system.slice\"},\"value\":[1796170102,\"1\"]},"
	"{\"metric\":{\"group\":\"web.service\",\"group_kind\":\"unit\",\"unit\":\"web.service\",\"slice\":"
	"\"web.slice\"},\"value\":[1796170102,\"1\"]},"
	"{\"metric\":{\"group\":\"shop/cart/app\",\"group_kind\":\"pod\",\"namespace\":\"shop\",\"pod\":\"cart\","
	"\"pod_uid\":\"5f1c\",\"container\":\"app\",\"container_id\":\"ab12\",\"runtime\":\"containerd\"},"
	"\"value\":[1796170102,\"1\"]}]}}";
static const char empty_vector[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";

static void test_fleet_build_apps_when_series_carry_workload_names_gives_the_daemons_members(void **state)
{
	cJSON *o, *unit, *pod;

	(void)state;
	o = build_apps(two_host_energy, empty_vector, empty_vector, two_host_identity);
	unit = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "apps"), 0);
	pod = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "apps"), 1);
	assert_string_equal(cJSON_GetObjectItem(unit, "kind")->valuestring, "unit");
	assert_string_equal(cJSON_GetObjectItem(unit, "unit")->valuestring, "web.service");
	assert_null(cJSON_GetObjectItem(unit, "slice")); /* the hosts disagree: true of neither the whole app */
	assert_string_equal(cJSON_GetObjectItem(pod, "kind")->valuestring, "pod");
	assert_string_equal(cJSON_GetObjectItem(pod, "namespace")->valuestring, "shop");
	assert_string_equal(cJSON_GetObjectItem(pod, "pod")->valuestring, "cart");
	assert_string_equal(cJSON_GetObjectItem(pod, "pod_uid")->valuestring, "5f1c");
	/* the API's member names, not the metric's: container_name is the name, container_id the id */
	assert_string_equal(cJSON_GetObjectItem(pod, "container_name")->valuestring, "app");
	assert_string_equal(cJSON_GetObjectItem(pod, "container_id")->valuestring, "ab12");
	assert_string_equal(cJSON_GetObjectItem(pod, "runtime")->valuestring, "containerd");
	assert_null(cJSON_GetObjectItem(pod, "container"));
	assert_null(cJSON_GetObjectItem(pod, "unit"));
	assert_int_equal(cJSON_GetObjectItem(pod, "cpu_energy_uj")->valuedouble, 1000000);
	cJSON_Delete(o);
}

static void test_fleet_build_energy_when_recorded_matrix_places_points_in_their_steps(void **state)
{
	struct fleet_req r;
	struct fleet_answer ans[] = { ok(rec_matrix), ok(rec_carbon_matrix), ok(rec_up), ok(rec_hosts) };
	char err[256];
	cJSON *o, *e, *tp;

	(void)state;
	route(&r, "/api/v1/energy");
	assert_int_equal(fleet_param(&r, "window", "2s", err, sizeof(err)), 0);
	assert_int_equal(fleet_param(&r, "step", "1s", err, sizeof(err)), 0);
	o = build_ok(&r, ans);
	e = cJSON_GetObjectItem(o, "energy_consumed");
	tp = cJSON_GetObjectItem(o, "time_points");
	assert_int_equal(cJSON_GetArraySize(e), 2);
	assert_int_equal(cJSON_GetArrayItem(tp, 0)->valuedouble, 1796170100);
	assert_true(cJSON_GetArrayItem(e, 0)->valuedouble == 0);
	assert_true(cJSON_GetArrayItem(e, 1)->valuedouble == 0.051141129032258065);
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "totals"), "carbon_emitted")->valuedouble == 0.5);
	cJSON_Delete(o);
}

/* The newest scrape can be younger than a second: a plan at the whole second before now would leave it out. */
static void test_fleet_plan_when_now_is_between_seconds_evaluates_at_the_ms(void **state)
{
	static const char frac_matrix[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"domain\":\"cpu\"},"
		"\"values\":[[1796170101.75,\"1\"],[1796170102.75,\"2\"]]}]}}";
	struct fleet_answer ans[] = { ok(frac_matrix), ok(rec_carbon_matrix), ok(rec_up), ok(rec_hosts) };
	struct fleet_req r;
	struct fleet_plan *pl;
	cJSON *o, *e, *tp;
	char err[256];

	(void)state;
	route(&r, "/api/v1/energy");
	assert_int_equal(fleet_param(&r, "window", "2s", err, sizeof(err)), 0);
	assert_int_equal(fleet_param(&r, "step", "1s", err, sizeof(err)), 0);
	r.now_ms = 1796170102750;
	pl = plan_for(&r);
	assert_int_equal(pl->q[0].end_ms, 1796170102750);
	assert_int_equal(pl->q[0].start_ms, 1796170101750);
	for (size_t i = 0; i < pl->n; i++)
		if (!pl->q[i].range)
			assert_int_equal(pl->q[i].time_ms, 1796170102750);
	free(pl);
	o = build_ok(&r, ans);
	e = cJSON_GetObjectItem(o, "energy_consumed");
	tp = cJSON_GetObjectItem(o, "time_points");
	assert_true(cJSON_GetArrayItem(e, 0)->valuedouble == 1);
	assert_true(cJSON_GetArrayItem(e, 1)->valuedouble == 2);
	assert_true(cJSON_GetArrayItem(tp, 1)->valuedouble == 1796170101.75);
	cJSON_Delete(o);
}

static unsigned build_err(const char *path, struct fleet_answer bad, size_t at, char *msg, size_t msglen)
{
	struct fleet_req r;
	struct fleet_plan *pl = calloc(1, sizeof(*pl));
	struct fleet_answer ans[FLEET_MAX_QUERIES];
	struct fleet_reply out;
	char err[256];

	assert_non_null(pl);
	route(&r, path);
	assert_int_equal(fleet_plan(&r, "joule", pl, err, sizeof(err)), 0);
	for (size_t i = 0; i < pl->n; i++)
		ans[i] = pl->q[i].range ? ok(rec_matrix) : ok(rec_up);
	ans[at] = bad;
	fleet_build(&r, pl, ans, &out);
	assert_null(out.body);
	snprintf(msg, msglen, "%s", out.err);
	free(pl);
	return out.status;
}

/* A transport failure at any query of the plan is the answer, with curl's reason in it. */
static void test_fleet_build_when_the_transport_fails_gives_504_or_502_with_the_reason(void **state)
{
	static const struct {
		const char *path;
		size_t at;
		int err;
		const char *reason;
		unsigned status;
		const char *want;
	} cases[] = {
		{ "/api/v1/apps", 2, -ETIMEDOUT, "Timeout was reached", 504,
		  "prometheus did not answer in time: Timeout was reached" },
		{ "/api/v1/hosts", 0, -ECONNREFUSED, "Couldn't connect to server", 502,
		  "prometheus is unreachable: Couldn't connect to server" },
		{ "/api/v1/hosts", 1, -EPROTO, "SSL certificate problem: unable to get local issuer certificate", 502,
		  "TLS with prometheus failed: SSL certificate problem: unable to get local issuer certificate" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fleet_answer a = { .err = cases[i].err, .message = cases[i].reason };
		char msg[512];
		unsigned st = build_err(cases[i].path, a, cases[i].at, msg, sizeof(msg));

		if (st != cases[i].status || strcmp(msg, cases[i].want))
			fail_msg("%s, err %d: %u '%s', want %u '%s'", cases[i].path, cases[i].err, st, msg,
				 cases[i].status, cases[i].want);
	}
}

static void test_fleet_build_when_prometheus_answers_bad_data_gives_502_with_its_message(void **state)
{
	struct fleet_answer bad = { .http_status = 400, .body = rec_bad_data, .len = sizeof(rec_bad_data) - 1 };
	char msg[512];

	(void)state;
	assert_int_equal(build_err("/api/v1/energy", bad, 1, msg, sizeof(msg)), 502);
	assert_non_null(strstr(msg, "HTTP 400: bad_data: invalid parameter \"query\": 1:5: parse error"));
}

static void test_fleet_build_when_answer_is_not_the_query_api_gives_502(void **state)
{
	static const char html[] = "<html>proxy error</html>";
	struct fleet_answer page = { .http_status = 200, .body = html, .len = sizeof(html) - 1 };
	struct fleet_answer vec_for_matrix = ok(rec_up);
	char msg[512];

	(void)state;
	assert_int_equal(build_err("/api/v1/apps", page, 0, msg, sizeof(msg)), 502);
	assert_non_null(strstr(msg, "<html>proxy error</html>"));
	assert_int_equal(build_err("/api/v1/energy", vec_for_matrix, 0, msg, sizeof(msg)), 502);
	assert_non_null(strstr(msg, "a vector where a matrix"));
}

static void test_fleet_build_nodes_csv_when_recorded_matrices_gives_one_row_per_host_and_step(void **state)
{
	static const char watts[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"instance\":"
		"\"127.0.0.1:46233\"},\"values\":[[1796170042,\"12.5\"],[1796170102,\"13\"]]}]}}";
	static const char cores[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"instance\":"
		"\"127.0.0.1:46233\"},\"values\":[[1796170102,\"0.75\"]]}]}}";
	struct fleet_answer ans[] = { ok(watts), ok(cores), ok(rec_hosts) };
	struct fleet_plan *pl = calloc(1, sizeof(*pl));
	struct fleet_req r;
	struct fleet_reply out;
	char err[256];

	(void)state;
	assert_non_null(pl);
	route(&r, "/nodes.csv");
	assert_int_equal(fleet_param(&r, "limit", "2", err, sizeof(err)), 0);
	assert_int_equal(fleet_plan(&r, "joule", pl, err, sizeof(err)), 0);
	assert_int_equal(pl->q[0].end_ms - pl->q[0].start_ms, 60 * 1000);
	assert_int_equal(fleet_build(&r, pl, ans, &out), 200);
	assert_string_equal(out.body, "instance,host,collection_time,observation_time,cpu_usage,wattage\n"
				      "127.0.0.1:46233,rec-host,2026-12-02T00:08:22.000Z,2026-12-02T00:07:22.000Z,,12.500000\n"
				      "127.0.0.1:46233,rec-host,2026-12-02T00:08:22.000Z,2026-12-02T00:08:22.000Z,0.750000,13.000000\n");
	free(out.body);
	free(pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promql_escape_when_name_has_quotes_braces_backslash_escapes_them),
		cmocka_unit_test(test_promql_escape_when_control_byte_or_too_long_refuses),
		cmocka_unit_test(test_promql_add_matcher_when_value_is_hostile_keeps_it_one_exact_matcher),
		cmocka_unit_test(test_promql_window_sum_when_grouped_is_the_exact_delta_with_increase_for_resets),
		cmocka_unit_test(test_fleet_route_when_paths_known_or_not_routes_404_405),
		cmocka_unit_test(test_fleet_openapi_when_compared_to_the_routes_lists_every_path_and_no_other),
		cmocka_unit_test(test_fleet_param_when_out_of_the_daemons_limits_gives_400),
		cmocka_unit_test(test_fleet_plan_when_group_is_hostile_quotes_it_in_every_query),
		cmocka_unit_test(test_fleet_build_apps_when_recorded_answers_gives_the_daemons_keys_and_hosts),
		cmocka_unit_test(test_fleet_plan_when_apps_asks_the_identity_labels_by_group),
		cmocka_unit_test(test_fleet_build_apps_when_series_carry_workload_names_gives_the_daemons_members),
		cmocka_unit_test(test_fleet_build_energy_when_recorded_matrix_places_points_in_their_steps),
		cmocka_unit_test(test_fleet_plan_when_now_is_between_seconds_evaluates_at_the_ms),
		cmocka_unit_test(test_fleet_build_when_the_transport_fails_gives_504_or_502_with_the_reason),
		cmocka_unit_test(test_fleet_build_when_prometheus_answers_bad_data_gives_502_with_its_message),
		cmocka_unit_test(test_fleet_build_when_answer_is_not_the_query_api_gives_502),
		cmocka_unit_test(test_fleet_build_nodes_csv_when_recorded_matrices_gives_one_row_per_host_and_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
