// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus answers to the fleet API's JSON without I/O: the upstream's errors, hosts, /api/v1/apps, /api/v1/hosts and Carmen's app list. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "joule/fleet_api.h"
#include "joule/fleet_internal.h"
#include "joule/labels.h"
#include "joule/util.h"

/* The upstream's failure as the API's error, or 0 with p->result the vector or matrix asked for. */
static unsigned take(const struct fleet_answer *a, bool range, struct fleet_parsed *p, char *err, size_t errlen)
{
	cJSON *st, *data, *type, *et, *e;

	memset(p, 0, sizeof(*p));
	if (a->err == -ETIMEDOUT) {
		snprintf(err, errlen, "prometheus did not answer in time: %s", a->message ? a->message : "timeout");
		return 504;
	}
	if (a->err == -EPROTO) {
		snprintf(err, errlen, "TLS with prometheus failed: %s", a->message ? a->message : "");
		return 502;
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

const char *fleet_label(const cJSON *series, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(series, "metric");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* One [ts, "value"] pair; false for anything else, or NaN/Inf (no counter sum is either). */
bool fleet_pair(const cJSON *pv, double *ts, double *v)
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

	return fleet_pair(cJSON_GetObjectItemCaseSensitive(series, "value"), &ts, v);
}

static double u(double x, double scale)
{
	return (double)llround(x * scale);
}

/* ---- hosts: up{} and joule_host_info joined by instance (labels, not samples) */

void *fleet_slot(void **v, size_t *n, size_t size, size_t keylen, const char *key)
{
	char *base = *v, *nv;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp(base + i * size, key))
			return base + i * size;
	nv = realloc(base, (*n + 1) * size);
	if (!nv)
		return NULL;
	*v = nv;
	memset(nv + *n * size, 0, size);
	snprintf(nv + *n * size, keylen, "%s", key);
	return nv + (*n)++ * size;
}

static struct fleet_host *host_get(struct fleet_hosts *h, const char *instance)
{
	return fleet_slot((void **)&h->v, &h->n, sizeof(*h->v), sizeof(h->v->instance), instance);
}

static int cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct fleet_host *)a)->instance, ((const struct fleet_host *)b)->instance);
}

int fleet_hosts_fill(struct fleet_hosts *h, const cJSON *up, const cJSON *names)
{
	const cJSON *s;
	double v;

	cJSON_ArrayForEach(s, up) {
		struct fleet_host *x = host_get(h, fleet_label(s, "instance"));

		if (!x)
			return -ENOMEM;
		x->scraped = true;
		x->up = sample(s, &v) && v == 1;
	}
	cJSON_ArrayForEach(s, names) {
		struct fleet_host *x = host_get(h, fleet_label(s, "instance"));

		if (!x)
			return -ENOMEM;
		snprintf(x->name, sizeof(x->name), "%s", fleet_label(s, "hostname"));
	}
	if (h->n)
		qsort(h->v, h->n, sizeof(*h->v), cmp_host);
	return 0;
}

const char *fleet_host_name(const struct fleet_hosts *h, const char *instance)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].instance, instance))
			return h->v[i].name[0] ? h->v[i].name : instance;
	return instance;
}

/* "hosts": every target with up; "missing_hosts": those down now (or gone from discovery), by name. */
void fleet_add_hosts(cJSON *o, const struct fleet_hosts *h)
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

unsigned fleet_reply_json(struct fleet_reply *out, cJSON *o)
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

void fleet_add_num(cJSON *o, const char *k, double v)
{
	cJSON_AddNumberToObject(o, k, v);
}

/* ---- /api/v1/apps */

struct app {
	char key[320];		/* "kind/name": a kind has no '/' */
	char name[256], kind[32];
	double cpu_j, mem_j, op_g, emb_g, cpu_s;
	char id[LABELS_NIDENTITY][256];	/* the workload's names, as the series' labels carry them */
	unsigned id_mixed;	/* bit k: the series disagree on name k (hosts differ), so it is left out */
	cJSON *hosts;
};

struct apps {
	struct app *v;
	size_t n;
};

static struct app *app_get(struct apps *a, const cJSON *s)
{
	const char *name = fleet_label(s, "group"), *kind = fleet_label(s, "group_kind");
	char key[sizeof(a->v->key)];
	struct app *x;

	snprintf(key, sizeof(key), "%s/%s", kind, name);
	x = fleet_slot((void **)&a->v, &a->n, sizeof(*a->v), sizeof(a->v->key), key);
	if (x && !x->name[0] && !x->kind[0]) {
		snprintf(x->name, sizeof(x->name), "%s", name);
		snprintf(x->kind, sizeof(x->kind), "%s", kind);
	}
	return x;
}

static int cmp_app(const void *x, const void *y)
{
	const struct app *a = x, *b = y;
	double ea = a->cpu_j + a->mem_j, eb = b->cpu_j + b->mem_j;

	if (ea != eb)
		return ea < eb ? 1 : -1;
	return strcmp(a->name, b->name);
}

/* Which figure of an app each of the first answers fills: `second` when label's value is `is`, else `first`. */
static const struct {
	const char *label, *is;
	size_t first, second;
} app_figures[] = {
	[FA_ENERGY] = { "domain", "memory", offsetof(struct app, cpu_j), offsetof(struct app, mem_j) },
	[FA_CARBON] = { "kind", "embodied", offsetof(struct app, op_g), offsetof(struct app, emb_g) },
	[FA_CPU] = { NULL, NULL, offsetof(struct app, cpu_s), 0 },
};

/* One series' workload names into its app: a name two series disagree on is true of no single workload. */
static void app_identity(struct app *x, const cJSON *s, const struct labels_field *f)
{
	for (int k = 0; k < LABELS_NIDENTITY; k++) {
		const char *v = fleet_label(s, f[k].metric);

		if (!v[0])
			continue;
		if (!x->id[k][0])
			snprintf(x->id[k], sizeof(x->id[k]), "%s", v);
		else if (strcmp(x->id[k], v))
			x->id_mixed |= 1u << k;
	}
}

static void app_host(struct app *x, const cJSON *s, const struct fleet_hosts *h, double v)
{
	cJSON *e = cJSON_CreateObject();

	if (!x->hosts)
		x->hosts = cJSON_CreateArray();
	cJSON_AddStringToObject(e, "instance", fleet_label(s, "instance"));
	cJSON_AddStringToObject(e, "host", fleet_host_name(h, fleet_label(s, "instance")));
	fleet_add_num(e, "energy_uj", u(v, 1e6));
	cJSON_AddItemToArray(x->hosts, e);
}

/* The app as the daemon spells it; its per-host list moves into the answer. */
static cJSON *app_json(struct app *x, const struct labels_field *f, bool breakdown)
{
	cJSON *g = cJSON_CreateObject();

	cJSON_AddStringToObject(g, "name", x->name);
	cJSON_AddStringToObject(g, "kind", x->kind);
	/* the daemon's member names (container_name, not the metric's container), only those known */
	for (int k = 0; k < LABELS_NIDENTITY; k++)
		if (x->id[k][0] && !(x->id_mixed & (1u << k)))
			cJSON_AddStringToObject(g, f[k].json, x->id[k]);
	fleet_add_num(g, "cpu_ns", u(x->cpu_s, 1e9));
	fleet_add_num(g, "energy_uj", u(x->cpu_j, 1e6) + u(x->mem_j, 1e6));
	fleet_add_num(g, "cpu_energy_uj", u(x->cpu_j, 1e6));
	fleet_add_num(g, "memory_energy_uj", u(x->mem_j, 1e6));
	fleet_add_num(g, "carbon_ug", u(x->op_g, 1e6) + u(x->emb_g, 1e6));
	fleet_add_num(g, "carbon_operational_ug", u(x->op_g, 1e6));
	fleet_add_num(g, "carbon_embodied_ug", u(x->emb_g, 1e6));
	if (breakdown) {
		cJSON_AddItemToObject(g, "hosts", x->hosts ? x->hosts : cJSON_CreateArray());
		x->hosts = NULL;
	}
	return g;
}

static unsigned b_apps(const struct fleet_req *r, struct fleet_parsed *ps, size_t n, struct fleet_reply *out)
{
	struct labels_field f[LABELS_NIDENTITY];
	struct proc_labels none = { 0 };
	struct apps a = { 0 };
	struct fleet_hosts h = { 0 };
	const cJSON *s, *ids = n > FA_IDENTITY ? ps[FA_IDENTITY].result : NULL;
	const cJSON *per_host = n > FA_BREAKDOWN ? ps[FA_BREAKDOWN].result : NULL;
	cJSON *o, *arr;
	double v;
	bool oom = fleet_hosts_fill(&h, ps[FA_UP].result, ps[FA_NAMES].result) != 0;

	labels_identity(&none, f); /* the names only */
	for (size_t q = 0; q < ARRAY_SIZE(app_figures); q++) {
		cJSON_ArrayForEach(s, ps[q].result) {
			struct app *x = app_get(&a, s);
			const char *lv = app_figures[q].label ? fleet_label(s, app_figures[q].label) : NULL;
			size_t at = lv && !strcmp(lv, app_figures[q].is) ? app_figures[q].second : app_figures[q].first;

			oom |= !x;
			if (x && sample(s, &v))
				*(double *)((char *)x + at) = v;
		}
	}
	cJSON_ArrayForEach(s, ids) {
		struct app *x = app_get(&a, s);

		oom |= !x;
		if (x)
			app_identity(x, s, f);
	}
	cJSON_ArrayForEach(s, per_host) {
		struct app *x = app_get(&a, s);

		oom |= !x;
		if (x && sample(s, &v))
			app_host(x, s, &h, v);
	}
	if (a.n)
		qsort(a.v, a.n, sizeof(*a.v), cmp_app);
	o = cJSON_CreateObject();
	fleet_add_num(o, "window_s", (double)(r->p.window_ns / NSEC_PER_SEC));
	fleet_add_num(o, "time", (double)r->now_ms / 1000.0);
	fleet_add_num(o, "matched", (double)a.n);
	arr = cJSON_AddArrayToObject(o, "apps");
	for (size_t i = 0; i < a.n; i++) {
		if (i < r->p.limit)
			cJSON_AddItemToArray(arr, app_json(&a.v[i], f, r->p.breakdown));
		cJSON_Delete(a.v[i].hosts);
	}
	fleet_add_hosts(o, &h);
	free(a.v);
	free(h.v);
	if (oom) {
		cJSON_Delete(o);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	return fleet_reply_json(out, o);
}

static unsigned b_hosts(struct fleet_parsed *ps, struct fleet_reply *out)
{
	struct fleet_hosts h = { 0 };
	cJSON *o;

	if (fleet_hosts_fill(&h, ps[0].result, ps[1].result)) {
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	o = cJSON_CreateObject();
	fleet_add_hosts(o, &h);
	free(h.v);
	return fleet_reply_json(out, o);
}

static unsigned b_carmen_apps(struct fleet_parsed *ps, struct fleet_reply *out)
{
	cJSON *o = cJSON_CreateObject(), *ns = cJSON_AddArrayToObject(o, "namespaces"),
	      *apps = cJSON_AddArrayToObject(o, "apps");
	const cJSON *s;

	cJSON_ArrayForEach(s, ps[0].result)
		cJSON_AddItemToArray(ns, cJSON_CreateString(fleet_label(s, "namespace")));
	cJSON_ArrayForEach(s, ps[1].result)
		cJSON_AddItemToArray(apps, cJSON_CreateString(fleet_label(s, "group")));
	return fleet_reply_json(out, o);
}

unsigned fleet_build(const struct fleet_req *r, const struct fleet_plan *pl, const struct fleet_answer *ans,
		     struct fleet_reply *out)
{
	struct fleet_parsed ps[FLEET_MAX_QUERIES] = { 0 };
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
			fleet_build_energy(r, pl, ps, pl->n, out);
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
			fleet_build_csv(r, ps, out);
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
