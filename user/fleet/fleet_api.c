// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fleet API without I/O: requests to PromQL plans, Prometheus answers to joule's and Carmen's JSON and the agent's CSV. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "joule/fleet_api.h"
#include "joule/util.h"

#define J_PER_KWH 3.6e6
#define MAX_CSV_ROWS 1000	/* nodes.csv / pods.csv ?limit= : measurements per node or pod */

const char fleet_nodes_csv_header[] = "instance,host,collection_time,observation_time,cpu_usage,wattage\n";
static const char pods_csv_header[] = "instance,host,namespace,name,collection_time,observation_time,cpu_usage,wattage\n";

static const struct {
	const char *path;
	enum fleet_route id;
} routes[] = {
	{ "/", FLEET_ROOT },
	{ "/healthz", FLEET_HEALTHZ },
	{ "/api/v1/apps", FLEET_APPS },
	{ "/api/v1/energy", FLEET_ENERGY },
	{ "/api/v1/hosts", FLEET_HOSTS },
	{ "/api/apps", FLEET_CARMEN_APPS },
	{ "/api/apps/", FLEET_CARMEN_APPS },	/* Carmen's own spelling */
	{ "/api/apps/run-engine", FLEET_CARMEN_RUN },
	{ "/api/apps/run-engine/", FLEET_CARMEN_RUN },
	{ "/nodes.csv", FLEET_NODES_CSV },
	{ "/pods.csv", FLEET_PODS_CSV },
	{ "/stream.csv", FLEET_STREAM_CSV },
};

int fleet_route(const char *method, const char *path, struct fleet_req *r, const char **allow)
{
	memset(r, 0, sizeof(*r));
	*allow = NULL;
	if (!method || !path)
		return 404;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (strcmp(path, routes[i].path))
			continue;
		r->route = routes[i].id;
		/* the daemon's defaults (1h in 1m steps, limit 100); Carmen's window is three hours in 1h samples */
		r->p.route = R_ENERGY;
		http_params_default(&r->p);
		if (r->route == FLEET_CARMEN_RUN || r->route == FLEET_CARMEN_APPS) {
			r->p.window_ns = 3 * 3600 * NSEC_PER_SEC;
			r->p.step_ns = 3600 * NSEC_PER_SEC;
		}
		if (r->route == FLEET_STREAM_CSV)
			r->p.step_ns = 5 * NSEC_PER_SEC;
		if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
			*allow = "GET";
			return 405;
		}
		return 0;
	}
	return 404;
}

/* The daemon's own check of a value, as if key were a parameter of route id. */
static int as_daemon(struct fleet_req *r, enum http_route_id id, const char *key, const char *value, char *err,
		     size_t errlen)
{
	enum http_route_id keep = r->p.route;
	int rc;

	r->p.route = id;
	rc = http_param(&r->p, key, value, err, errlen);
	r->p.route = keep;
	return rc;
}

static int unknown(const char *key, char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown parameter '%.64s'", key ? key : "");
	return 400;
}

int fleet_param(struct fleet_req *r, const char *key, const char *value, char *err, size_t errlen)
{
	uint64_t n;

	if (!key)
		return unknown(key, err, errlen);
	if (!value)
		value = "";
	switch (r->route) {
	case FLEET_APPS:
		if (!strcmp(key, "limit"))
			return as_daemon(r, R_APPS, key, value, err, errlen);
		if (!strcmp(key, "window") || !strcmp(key, "breakdown"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		return unknown(key, err, errlen);
	case FLEET_ENERGY:
		return as_daemon(r, R_ENERGY, key, value, err, errlen);
	case FLEET_HOSTS:
	case FLEET_CARMEN_APPS:
		if (!strcmp(key, "window"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		if (r->route == FLEET_CARMEN_APPS && !strcmp(key, "paas"))
			return 0;
		return unknown(key, err, errlen);
	case FLEET_CARMEN_RUN:
		if (!strcmp(key, "paas"))
			return 0; /* Carmen's cluster name: one Prometheus is one fleet here */
		if (!strcmp(key, "sampling"))
			return as_daemon(r, R_ENERGY, "step", value, err, errlen);
		if (!strcmp(key, "app"))
			return as_daemon(r, R_ENERGY, "group", value, err, errlen);
		if (!strcmp(key, "emission_breakdown"))
			return as_daemon(r, R_ENERGY, "breakdown", value, err, errlen);
		if (!strcmp(key, "window"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		return unknown(key, err, errlen);
	case FLEET_NODES_CSV:
	case FLEET_PODS_CSV:
	case FLEET_STREAM_CSV:
		if (!strcmp(key, "step"))
			return as_daemon(r, R_ENERGY, key, value, err, errlen);
		if (!strcmp(key, "limit") && r->route != FLEET_STREAM_CSV) {
			if (parse_u64(value, &n) || n < 1 || n > MAX_CSV_ROWS) {
				snprintf(err, errlen, "invalid parameter limit='%.64s' (accepted: a whole number from 1 to %d)",
					 value, MAX_CSV_ROWS);
				return 400;
			}
			r->p.limit = (uint32_t)n;
			return 0;
		}
		return unknown(key, err, errlen);
	default:
		return unknown(key, err, errlen);
	}
}

int fleet_check(const struct fleet_req *r, char *err, size_t errlen)
{
	if (r->route == FLEET_ENERGY || r->route == FLEET_CARMEN_RUN) {
		struct http_request_params p = r->p;

		p.route = R_ENERGY;
		return http_params_check(&p, err, errlen);
	}
	if ((r->route == FLEET_NODES_CSV || r->route == FLEET_PODS_CSV) &&
	    (uint64_t)r->p.limit * (r->p.step_ns / NSEC_PER_SEC) > 7 * 86400) {
		snprintf(err, errlen, "invalid parameter limit: limit x step reaches back more than 7d");
		return 400;
	}
	return 0;
}

/* ---- plans */

static struct fleet_query *add_q(struct fleet_plan *pl)
{
	struct fleet_query *q = &pl->q[pl->n++];

	memset(q, 0, sizeof(*q));
	return q;
}

/* The steps of a window ending now: evaluations at now-window+step .. now, each summing the step before it. */
static void range_of(const struct fleet_req *r, struct fleet_query *q)
{
	uint64_t w = r->p.window_ns / NSEC_PER_SEC, s = r->p.step_ns / NSEC_PER_SEC;

	q->range = true;
	q->end_s = r->now_s;
	q->start_s = r->now_s - w + s;
	q->step_s = s;
}

int fleet_plan(const struct fleet_req *r, const char *job, struct fleet_plan *pl, char *err, size_t errlen)
{
	char base[PROMQL_MAX / 8] = "", sel[PROMQL_MAX / 8], podsel[PROMQL_MAX / 8];
	uint64_t w = r->p.window_ns / NSEC_PER_SEC, s = r->p.step_ns / NSEC_PER_SEC;
	const char *by_e, *by_c;
	struct fleet_query *q;
	int rc = 0;

	memset(pl, 0, sizeof(*pl));
	if (job && job[0] && promql_add_matcher(base, sizeof(base), "job", job)) {
		snprintf(err, errlen, "the job name cannot be a label value");
		return 400;
	}
	snprintf(sel, sizeof(sel), "%s", base);
	if (r->p.group[0] && promql_add_matcher(sel, sizeof(sel), "group", r->p.group)) {
		snprintf(err, errlen, "invalid parameter group: holds a control character or is too long");
		return 400;
	}
	switch (r->route) {
	case FLEET_APPS:
		q = add_q(pl);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, sel, "group, group_kind, domain", w);
		q = add_q(pl);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_CARBON, sel, "group, group_kind, kind", w);
		q = add_q(pl);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_CPU, sel, "group, group_kind", w);
		q = add_q(pl);
		rc |= promql_up(q->expr, sizeof(q->expr), base);
		q = add_q(pl);
		rc |= promql_host_names(q->expr, sizeof(q->expr), base, w);
		if (r->p.breakdown) {
			q = add_q(pl);
			rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, sel,
						"group, group_kind, instance", w);
		}
		break;
	case FLEET_ENERGY:
	case FLEET_CARMEN_RUN:
		/* per step: the window sum over one step, so the steps tile the window exactly */
		by_e = "domain";
		by_c = "kind";
		q = add_q(pl);
		range_of(r, q);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, sel, by_e, s);
		q = add_q(pl);
		range_of(r, q);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_CARBON, sel, by_c, s);
		q = add_q(pl);
		rc |= promql_up(q->expr, sizeof(q->expr), base);
		q = add_q(pl);
		rc |= promql_host_names(q->expr, sizeof(q->expr), base, w);
		if (r->p.breakdown) {
			const char *who = r->route == FLEET_ENERGY ? "instance" : "group";
			char be[64], bc[64];

			snprintf(be, sizeof(be), "%s, domain", who);
			snprintf(bc, sizeof(bc), "%s, kind", who);
			q = add_q(pl);
			range_of(r, q);
			rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, sel, be, s);
			q = add_q(pl);
			range_of(r, q);
			rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_CARBON, sel, bc, s);
		}
		break;
	case FLEET_HOSTS:
		q = add_q(pl);
		rc |= promql_up(q->expr, sizeof(q->expr), base);
		q = add_q(pl);
		rc |= promql_host_names(q->expr, sizeof(q->expr), base, w);
		break;
	case FLEET_CARMEN_APPS:
		q = add_q(pl);
		rc |= promql_namespaces(q->expr, sizeof(q->expr), base);
		q = add_q(pl);
		rc |= promql_window_sum(q->expr, sizeof(q->expr), PROMQL_GROUP_ENERGY, base, "group", w);
		break;
	case FLEET_NODES_CSV:
	case FLEET_PODS_CSV:
	case FLEET_STREAM_CSV: {
		/* the last N steps; each value a rate over its step (watts, CPU cores) */
		uint64_t n = r->route == FLEET_STREAM_CSV ? 1 : r->p.limit;
		const char *by = r->route == FLEET_PODS_CSV ? "instance, namespace, pod" : "instance";

		snprintf(podsel, sizeof(podsel), "%s%spod!=\"\"", base, base[0] ? "," : "");
		for (int k = 0; k < 2; k++) {
			q = add_q(pl);
			q->range = true;
			q->end_s = r->now_s;
			q->start_s = r->now_s - (n - 1) * s;
			q->step_s = s;
			rc |= promql_rate_sum(q->expr, sizeof(q->expr), k ? PROMQL_GROUP_CPU : PROMQL_GROUP_ENERGY,
					      r->route == FLEET_PODS_CSV ? podsel : base, by, s);
		}
		q = add_q(pl);
		rc |= promql_host_names(q->expr, sizeof(q->expr), base, n * s);
		break;
	}
	default:
		break;
	}
	for (size_t i = 0; i < pl->n; i++)
		if (!pl->q[i].range)
			pl->q[i].time_s = r->now_s;
	if (rc) {
		snprintf(err, errlen, "the query does not fit in %d bytes", PROMQL_MAX);
		return 400;
	}
	return 0;
}

/* ---- answers */

struct parsed {
	cJSON *root;
	cJSON *result;		/* data.result */
};

/* The upstream's failure as the API's error, or 0 with p->result the vector or matrix asked for. */
static unsigned take(const struct fleet_answer *a, bool range, struct parsed *p, char *err, size_t errlen)
{
	cJSON *st, *data, *type, *et, *e;

	memset(p, 0, sizeof(*p));
	if (a->err == -ETIMEDOUT) {
		snprintf(err, errlen, "prometheus did not answer in time: %s", a->message ? a->message : "timeout");
		return 504;
	}
	if (a->err || !a->http_status) {
		snprintf(err, errlen, "prometheus is unreachable: %s", a->message && a->message[0] ? a->message : "no answer");
		return 502;
	}
	p->root = a->body ? cJSON_ParseWithLength(a->body, a->len) : NULL;
	st = cJSON_GetObjectItemCaseSensitive(p->root, "status");
	if (cJSON_IsString(st) && !strcmp(st->valuestring, "error")) {
		et = cJSON_GetObjectItemCaseSensitive(p->root, "errorType");
		e = cJSON_GetObjectItemCaseSensitive(p->root, "error");
		snprintf(err, errlen, "prometheus answered HTTP %ld: %s: %s", a->http_status,
			 cJSON_IsString(et) ? et->valuestring : "error", cJSON_IsString(e) ? e->valuestring : "");
		/* 504 when Prometheus itself timed out evaluating, as the gateway it is to us */
		return cJSON_IsString(et) && !strcmp(et->valuestring, "timeout") ? 504 : 502;
	}
	if (a->http_status != 200 || !cJSON_IsString(st) || strcmp(st->valuestring, "success")) {
		char head[120];
		size_t n = a->body ? strcspn(a->body, "\r\n") : 0;

		snprintf(head, sizeof(head), "%.*s", (int)(n < 100 ? n : 100), a->body ? a->body : "");
		snprintf(err, errlen, "prometheus answered HTTP %ld without its query API's JSON: %s", a->http_status,
			 head);
		return 502;
	}
	data = cJSON_GetObjectItemCaseSensitive(p->root, "data");
	type = cJSON_GetObjectItemCaseSensitive(data, "resultType");
	p->result = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, range ? "matrix" : "vector") || !cJSON_IsArray(p->result)) {
		snprintf(err, errlen, "prometheus answered a %s where a %s was asked for",
			 cJSON_IsString(type) ? type->valuestring : "non-result", range ? "matrix" : "vector");
		return 502;
	}
	return 0;
}

static const char *label(const cJSON *series, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(series, "metric");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* One [ts, "value"] pair; false for anything else, or NaN/Inf (no counter sum is either). */
static bool pair(const cJSON *pv, double *ts, double *v)
{
	const cJSON *t = cJSON_GetArrayItem(pv, 0), *s = cJSON_GetArrayItem(pv, 1);
	char *end;

	if (!cJSON_IsNumber(t) || !cJSON_IsString(s))
		return false;
	*ts = t->valuedouble;
	*v = strtod(s->valuestring, &end);
	return *end == '\0' && isfinite(*v);
}

static bool sample(const cJSON *series, double *v)
{
	double ts;

	return pair(cJSON_GetObjectItemCaseSensitive(series, "value"), &ts, v);
}

static double u(double x, double scale)
{
	return (double)llround(x * scale);
}

/* ---- hosts: up{} and joule_host_info joined by instance (labels, not samples) */

struct host {
	char instance[256], name[256];
	bool up, scraped;
};

struct hosts {
	struct host *v;
	size_t n;
};

static struct host *host_get(struct hosts *h, const char *instance)
{
	struct host *nv;

	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].instance, instance))
			return &h->v[i];
	nv = realloc(h->v, (h->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	h->v = nv;
	memset(&h->v[h->n], 0, sizeof(*nv));
	snprintf(h->v[h->n].instance, sizeof(nv->instance), "%s", instance);
	return &h->v[h->n++];
}

static int cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct host *)a)->instance, ((const struct host *)b)->instance);
}

static int hosts_fill(struct hosts *h, const cJSON *up, const cJSON *names)
{
	const cJSON *s;
	double v;

	cJSON_ArrayForEach(s, up) {
		struct host *x = host_get(h, label(s, "instance"));

		if (!x)
			return -ENOMEM;
		x->scraped = true;
		x->up = sample(s, &v) && v == 1;
	}
	cJSON_ArrayForEach(s, names) {
		struct host *x = host_get(h, label(s, "instance"));

		if (!x)
			return -ENOMEM;
		snprintf(x->name, sizeof(x->name), "%s", label(s, "hostname"));
	}
	if (h->n)
		qsort(h->v, h->n, sizeof(*h->v), cmp_host);
	return 0;
}

static const char *host_name(const struct hosts *h, const char *instance)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].instance, instance))
			return h->v[i].name[0] ? h->v[i].name : instance;
	return instance;
}

/* "hosts": every target with up; "missing_hosts": those down now (or gone from discovery), by name. */
static void add_hosts(cJSON *o, const struct hosts *h)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "hosts"), *miss = cJSON_AddArrayToObject(o, "missing_hosts");

	for (size_t i = 0; i < h->n; i++) {
		cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "instance", h->v[i].instance);
		cJSON_AddStringToObject(x, "host", h->v[i].name);
		cJSON_AddBoolToObject(x, "up", h->v[i].up);
		cJSON_AddItemToArray(arr, x);
		if (!h->v[i].up)
			cJSON_AddItemToArray(miss, cJSON_CreateString(h->v[i].name[0] ? h->v[i].name : h->v[i].instance));
	}
}

/* ---- /api/v1/apps */

struct app {
	char name[256], kind[32];
	double cpu_j, mem_j, op_g, emb_g, cpu_s;
	cJSON *hosts;
};

struct apps {
	struct app *v;
	size_t n;
};

static struct app *app_get(struct apps *a, const cJSON *s)
{
	const char *name = label(s, "group"), *kind = label(s, "group_kind");
	struct app *nv;

	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].name, name) && !strcmp(a->v[i].kind, kind))
			return &a->v[i];
	nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	a->v = nv;
	memset(&a->v[a->n], 0, sizeof(*nv));
	snprintf(a->v[a->n].name, sizeof(nv->name), "%s", name);
	snprintf(a->v[a->n].kind, sizeof(nv->kind), "%s", kind);
	return &a->v[a->n++];
}

static int cmp_app(const void *x, const void *y)
{
	const struct app *a = x, *b = y;
	double ea = a->cpu_j + a->mem_j, eb = b->cpu_j + b->mem_j;

	if (ea != eb)
		return ea < eb ? 1 : -1;
	return strcmp(a->name, b->name);
}

static unsigned reply_json(struct fleet_reply *out, cJSON *o)
{
	out->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!out->body) {
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	out->len = strlen(out->body);
	out->content_type = "application/json";
	return out->status = 200;
}

static void add_num(cJSON *o, const char *k, double v)
{
	cJSON_AddNumberToObject(o, k, v);
}

static unsigned b_apps(const struct fleet_req *r, struct parsed *ps, size_t n, struct fleet_reply *out)
{
	struct apps a = { 0 };
	struct hosts h = { 0 };
	const cJSON *s;
	cJSON *o, *arr;
	double v;
	bool oom = hosts_fill(&h, ps[3].result, ps[4].result) != 0;

	cJSON_ArrayForEach(s, ps[0].result) {
		struct app *x = app_get(&a, s);

		if (!x || !sample(s, &v)) {
			oom |= !x;
			continue;
		}
		if (!strcmp(label(s, "domain"), "memory"))
			x->mem_j = v;
		else
			x->cpu_j = v;
	}
	cJSON_ArrayForEach(s, ps[1].result) {
		struct app *x = app_get(&a, s);

		if (!x || !sample(s, &v)) {
			oom |= !x;
			continue;
		}
		if (!strcmp(label(s, "kind"), "embodied"))
			x->emb_g = v;
		else
			x->op_g = v;
	}
	cJSON_ArrayForEach(s, ps[2].result) {
		struct app *x = app_get(&a, s);

		if (x && sample(s, &v))
			x->cpu_s = v;
		oom |= !x;
	}
	if (n > 5) {
		cJSON_ArrayForEach(s, ps[5].result) {
			struct app *x = app_get(&a, s);
			cJSON *e;

			if (!x || !sample(s, &v)) {
				oom |= !x;
				continue;
			}
			if (!x->hosts)
				x->hosts = cJSON_CreateArray();
			e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "instance", label(s, "instance"));
			cJSON_AddStringToObject(e, "host", host_name(&h, label(s, "instance")));
			add_num(e, "energy_uj", u(v, 1e6));
			cJSON_AddItemToArray(x->hosts, e);
		}
	}
	if (a.n)
		qsort(a.v, a.n, sizeof(*a.v), cmp_app);
	o = cJSON_CreateObject();
	add_num(o, "window_s", (double)(r->p.window_ns / NSEC_PER_SEC));
	add_num(o, "time", (double)r->now_s);
	add_num(o, "matched", (double)a.n);
	arr = cJSON_AddArrayToObject(o, "apps");
	for (size_t i = 0; i < a.n; i++) {
		struct app *x = &a.v[i];
		cJSON *g;

		if (i >= r->p.limit) {
			cJSON_Delete(x->hosts);
			continue;
		}
		g = cJSON_CreateObject();
		cJSON_AddStringToObject(g, "name", x->name);
		cJSON_AddStringToObject(g, "kind", x->kind);
		add_num(g, "cpu_ns", u(x->cpu_s, 1e9));
		add_num(g, "energy_uj", u(x->cpu_j, 1e6) + u(x->mem_j, 1e6));
		add_num(g, "cpu_energy_uj", u(x->cpu_j, 1e6));
		add_num(g, "memory_energy_uj", u(x->mem_j, 1e6));
		add_num(g, "carbon_ug", u(x->op_g, 1e6) + u(x->emb_g, 1e6));
		add_num(g, "carbon_operational_ug", u(x->op_g, 1e6));
		add_num(g, "carbon_embodied_ug", u(x->emb_g, 1e6));
		if (r->p.breakdown)
			cJSON_AddItemToObject(g, "hosts", x->hosts ? x->hosts : cJSON_CreateArray());
		cJSON_AddItemToArray(arr, g);
	}
	add_hosts(o, &h);
	free(a.v);
	free(h.v);
	if (oom) {
		cJSON_Delete(o);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	return reply_json(out, o);
}

/* ---- /api/v1/energy and Carmen's run-engine: per-step series */

enum { S_ENERGY, S_CPU, S_MEM, S_OP, S_EMB, S_CARBON, S_N };
static const char *const series_keys[S_N] = { "energy_consumed", "cpu_energy", "memory_energy",
					       "carbon_operational", "carbon_embodied", "carbon_emitted" };

struct steps {
	char who[256];		/* instance or group, "" for the whole */
	double *v[S_N];
};

struct stepset {
	struct steps *v;
	size_t n, nsteps;
	uint64_t start_s, step_s;
};

static struct steps *steps_get(struct stepset *ss, const char *who)
{
	struct steps *nv;

	for (size_t i = 0; i < ss->n; i++)
		if (!strcmp(ss->v[i].who, who))
			return &ss->v[i];
	nv = realloc(ss->v, (ss->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	ss->v = nv;
	memset(&ss->v[ss->n], 0, sizeof(*nv));
	snprintf(ss->v[ss->n].who, sizeof(nv->who), "%s", who);
	for (int k = 0; k < S_N; k++) {
		ss->v[ss->n].v[k] = calloc(ss->nsteps ? ss->nsteps : 1, sizeof(double));
		if (!ss->v[ss->n].v[k]) {
			ss->n++;
			return NULL;
		}
	}
	return &ss->v[ss->n++];
}

static void stepset_free(struct stepset *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		for (int k = 0; k < S_N; k++)
			free(ss->v[i].v[k]);
	free(ss->v);
}

/* Put a matrix's points into the step arrays: energy by domain or carbon by kind, per `who` label. */
static int fill_steps(struct stepset *ss, const cJSON *matrix, const char *who_label, bool carbon)
{
	const cJSON *s, *pv;

	cJSON_ArrayForEach(s, matrix) {
		const char *part = label(s, carbon ? "kind" : "domain");
		struct steps *x = steps_get(ss, who_label ? label(s, who_label) : "");
		int k1 = carbon ? (!strcmp(part, "embodied") ? S_EMB : S_OP) : (!strcmp(part, "memory") ? S_MEM : S_CPU);
		int k2 = carbon ? S_CARBON : S_ENERGY;

		if (!x)
			return -ENOMEM;
		cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(s, "values")) {
			double ts, v;
			long long i;

			if (!pair(pv, &ts, &v) || ts < (double)ss->start_s)
				continue;
			i = llround((ts - (double)ss->start_s) / (double)ss->step_s);
			if (i < 0 || (size_t)i >= ss->nsteps)
				continue;
			x->v[k1][i] += v;	/* one series per (who, part): this is a placement, not a sum of samples */
			x->v[k2][i] += v;	/* a step's whole is its parts (cpu + memory, operational + embodied) */
		}
	}
	return 0;
}

static void add_steps(cJSON *o, const struct steps *x, size_t n, double scale, const char *total_prefix)
{
	cJSON *tot = total_prefix ? NULL : cJSON_CreateObject();

	for (int k = 0; k < S_N; k++) {
		cJSON *arr = cJSON_AddArrayToObject(o, series_keys[k]);
		double sum = 0;

		for (size_t i = 0; i < n; i++) {
			double v = x ? x->v[k][i] / (k >= S_OP ? 1 : scale) : 0;

			cJSON_AddItemToArray(arr, cJSON_CreateNumber(v));
			sum += v;
		}
		if (tot) {
			add_num(tot, series_keys[k], sum);
		} else {
			char key[64];

			snprintf(key, sizeof(key), "%s%s", total_prefix, series_keys[k]);
			add_num(o, key, sum);
		}
	}
	if (tot)
		cJSON_AddItemToObject(o, "totals", tot);
}

static unsigned b_energy(const struct fleet_req *r, const struct fleet_plan *pl, struct parsed *ps, size_t n,
			 struct fleet_reply *out)
{
	struct stepset all = { 0 }, per = { 0 };
	struct hosts h = { 0 };
	bool carmen = r->route == FLEET_CARMEN_RUN;
	cJSON *o, *tp;
	int rc;

	all.nsteps = per.nsteps = (size_t)(r->p.window_ns / r->p.step_ns);
	all.start_s = per.start_s = pl->q[0].start_s;
	all.step_s = per.step_s = pl->q[0].step_s;
	rc = hosts_fill(&h, ps[2].result, ps[3].result);
	if (!rc && !steps_get(&all, ""))
		rc = -ENOMEM;
	if (!rc)
		rc = fill_steps(&all, ps[0].result, NULL, false);
	if (!rc)
		rc = fill_steps(&all, ps[1].result, NULL, true);
	if (!rc && n > 5) {
		const char *who = carmen ? "group" : "instance";

		rc = fill_steps(&per, ps[4].result, who, false);
		if (!rc)
			rc = fill_steps(&per, ps[5].result, who, true);
	}
	if (rc) {
		stepset_free(&all);
		stepset_free(&per);
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	if (!carmen) {
		o = cJSON_CreateObject();
		add_num(o, "window_s", (double)(r->p.window_ns / NSEC_PER_SEC));
		add_num(o, "step_s", (double)all.step_s);
		if (r->p.group[0])
			cJSON_AddStringToObject(o, "group", r->p.group);
		cJSON_AddStringToObject(o, "energy_unit", "J");
		cJSON_AddStringToObject(o, "carbon_unit", "gCO2e");
		tp = cJSON_AddArrayToObject(o, "time_points");
		for (size_t i = 0; i < all.nsteps; i++)	/* each step's start, as the daemon gives them */
			cJSON_AddItemToArray(tp, cJSON_CreateNumber((double)(all.start_s + i * all.step_s - all.step_s)));
		add_steps(o, &all.v[0], all.nsteps, 1, NULL);
		if (r->p.breakdown) {
			cJSON *arr = cJSON_AddArrayToObject(o, "hosts_breakdown");

			/* every known host, a down one too: its steps are what it reported before it went */
			for (size_t i = 0; i < h.n; i++)
				steps_get(&per, h.v[i].instance);
			for (size_t i = 0; i < per.n; i++) {
				cJSON *x = cJSON_CreateObject();

				cJSON_AddStringToObject(x, "instance", per.v[i].who);
				cJSON_AddStringToObject(x, "host", host_name(&h, per.v[i].who));
				add_steps(x, &per.v[i], per.nsteps, 1, NULL);
				cJSON_AddItemToArray(arr, x);
			}
		}
		add_hosts(o, &h);
	} else {
		/* Carmen: energy in kWh, carbon in g, ISO time points, total_* beside the arrays; one object per app on breakdown */
		o = cJSON_CreateArray();
		size_t nobj = r->p.breakdown ? per.n : 1;

		for (size_t j = 0; j < nobj; j++) {
			const struct steps *x = r->p.breakdown ? &per.v[j] : &all.v[0];
			cJSON *e = cJSON_CreateObject();
			char id[24];

			snprintf(id, sizeof(id), "%zu", j);
			cJSON_AddStringToObject(e, "id", id);
			cJSON_AddStringToObject(e, "name", r->p.breakdown ? x->who : r->p.group[0] ? r->p.group : "fleet");
			add_steps(e, x, all.nsteps, J_PER_KWH, "total_");
			tp = cJSON_AddArrayToObject(e, "time_points");
			for (size_t i = 0; i < all.nsteps; i++) {
				char buf[40];
				time_t t = (time_t)(all.start_s + i * all.step_s - all.step_s);
				struct tm tm;

				gmtime_r(&t, &tm);
				strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
				cJSON_AddItemToArray(tp, cJSON_CreateString(buf));
			}
			cJSON_AddStringToObject(e, "energy_unit", "kWh");
			cJSON_AddStringToObject(e, "carbon_unit", "gCO2e");
			cJSON_AddItemToArray(o, e);
		}
	}
	stepset_free(&all);
	stepset_free(&per);
	free(h.v);
	return reply_json(out, o);
}

static unsigned b_hosts(struct parsed *ps, struct fleet_reply *out)
{
	struct hosts h = { 0 };
	cJSON *o;

	if (hosts_fill(&h, ps[0].result, ps[1].result)) {
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	o = cJSON_CreateObject();
	add_hosts(o, &h);
	free(h.v);
	return reply_json(out, o);
}

static unsigned b_carmen_apps(struct parsed *ps, struct fleet_reply *out)
{
	cJSON *o = cJSON_CreateObject(), *ns = cJSON_AddArrayToObject(o, "namespaces"),
	      *apps = cJSON_AddArrayToObject(o, "apps");
	const cJSON *s;

	cJSON_ArrayForEach(s, ps[0].result)
		cJSON_AddItemToArray(ns, cJSON_CreateString(label(s, "namespace")));
	cJSON_ArrayForEach(s, ps[1].result)
		cJSON_AddItemToArray(apps, cJSON_CreateString(label(s, "group")));
	return reply_json(out, o);
}

/* ---- CSV: one row per (node or pod, step), oldest first per node */

static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static double point_at(const cJSON *matrix, const cJSON *like, const char *const *keys, size_t nkeys, double ts)
{
	const cJSON *s, *pv;

	cJSON_ArrayForEach(s, matrix) {
		size_t k;

		for (k = 0; k < nkeys; k++)
			if (strcmp(label(s, keys[k]), label(like, keys[k])))
				break;
		if (k < nkeys)
			continue;
		cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(s, "values")) {
			double t, v;

			if (pair(pv, &t, &v) && t == ts)
				return v;
		}
	}
	return NAN;
}

static unsigned b_csv(const struct fleet_req *r, struct parsed *ps, struct fleet_reply *out)
{
	static const char *const node_keys[] = { "instance" }, *const pod_keys[] = { "instance", "namespace", "pod" };
	bool pods = r->route == FLEET_PODS_CSV;
	const char *const *keys = pods ? pod_keys : node_keys;
	size_t nkeys = pods ? 3 : 1;
	struct hosts h = { 0 };
	char now[40];
	const cJSON *s, *pv;
	FILE *f;

	if (hosts_fill(&h, NULL, ps[2].result)) {
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	f = open_memstream(&out->body, &out->len);
	if (!f) {
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	format_rfc3339(r->now_s * NSEC_PER_SEC, now, sizeof(now));
	if (r->route != FLEET_STREAM_CSV)
		fputs(pods ? pods_csv_header : fleet_nodes_csv_header, f);
	cJSON_ArrayForEach(s, ps[0].result) {
		cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(s, "values")) {
			double ts, watts, cores;
			char obs[40];

			if (!pair(pv, &ts, &watts))
				continue;
			cores = point_at(ps[1].result, s, keys, nkeys, ts);
			format_rfc3339((uint64_t)ts * NSEC_PER_SEC, obs, sizeof(obs));
			csv_field(f, label(s, "instance"));
			fputc(',', f);
			csv_field(f, host_name(&h, label(s, "instance")));
			if (pods) {
				fputc(',', f);
				csv_field(f, label(s, "namespace"));
				fputc(',', f);
				csv_field(f, label(s, "pod"));
			}
			fprintf(f, ",%s,%s,", now, obs);
			if (isfinite(cores))
				fprintf(f, "%.6f", cores);
			fprintf(f, ",%.6f\n", watts);
		}
	}
	free(h.v);
	if (fclose(f)) {
		free(out->body);
		out->body = NULL;
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	out->content_type = "text/csv; charset=utf-8";
	return out->status = 200;
}

unsigned fleet_build(const struct fleet_req *r, const struct fleet_plan *pl, const struct fleet_answer *ans,
		     struct fleet_reply *out)
{
	struct parsed ps[FLEET_MAX_QUERIES] = { 0 };
	unsigned st = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < pl->n && !st; i++)
		st = take(&ans[i], pl->q[i].range, &ps[i], out->err, sizeof(out->err));
	if (st) {
		out->status = st;
	} else {
		switch (r->route) {
		case FLEET_APPS:
			b_apps(r, ps, pl->n, out);
			break;
		case FLEET_ENERGY:
		case FLEET_CARMEN_RUN:
			b_energy(r, pl, ps, pl->n, out);
			break;
		case FLEET_HOSTS:
			b_hosts(ps, out);
			break;
		case FLEET_CARMEN_APPS:
			b_carmen_apps(ps, out);
			break;
		case FLEET_NODES_CSV:
		case FLEET_PODS_CSV:
		case FLEET_STREAM_CSV:
			b_csv(r, ps, out);
			break;
		default:
			snprintf(out->err, sizeof(out->err), "no such endpoint");
			out->status = 404;
		}
	}
	for (size_t i = 0; i < pl->n; i++)
		cJSON_Delete(ps[i].root);
	return out->status;
}
