// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP API: pure routing and strict query parsing (fuzzed), JSON errors, and the libmicrohttpd server on TCP and a Unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <sodium.h>
#include <zlib.h>
#include "joule/carbon.h"
#include "joule/http.h"
#include "joule/log.h"
#include "joule/metrics.h"
#include "joule/netaddr.h"
#include "joule/store.h"
#include "joule/util.h"

/* A week: the longest window the store keeps at one-minute resolution. */
#define MAX_WINDOW_NS (7 * 86400 * NSEC_PER_SEC)

static const struct {
	const char *path;
	enum http_route_id id;
	const char *allow;
} routes[] = {
	{ "/metrics", R_METRICS, "GET" },
	{ "/healthz", R_HEALTHZ, "GET" },
	{ "/readyz", R_READYZ, "GET" },
	{ "/api/v1/host", R_HOST, "GET" },
	{ "/api/v1/processes", R_PROCESSES, "GET" },
	{ "/api/v1/apps", R_APPS, "GET" },
	{ "/api/v1/energy", R_ENERGY, "GET" },
	{ "/api/v1/samples.csv", R_SAMPLES_CSV, "GET" },
	{ "/api/v1/stream", R_STREAM, "GET" },
	{ "/api/v1/intensity", R_INTENSITY, "PUT" },
	{ "/api/v1/openapi.json", R_OPENAPI, "GET" },
};

void http_params_default(struct http_request_params *p)
{
	enum http_route_id r = p->route;
	uint32_t pid = p->pid;

	memset(p, 0, sizeof(*p));
	p->route = r;
	p->pid = pid;
	p->sort = SORT_ENERGY;
	p->limit = 100;
	p->window_ns = 3600 * NSEC_PER_SEC;
	p->step_ns = 60 * NSEC_PER_SEC;
}

int http_route(const char *method, const char *path, struct http_request_params *p, const char **allow)
{
	static const char prefix[] = "/api/v1/processes/";
	const char *want = NULL;

	memset(p, 0, sizeof(*p));
	*allow = NULL;
	if (!method || !path)
		return 404;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (strcmp(path, routes[i].path) == 0) {
			p->route = routes[i].id;
			want = routes[i].allow;
			break;
		}
	if (!want && strncmp(path, prefix, strlen(prefix)) == 0) {
		uint64_t pid;

		if (parse_u64(path + strlen(prefix), &pid) || pid == 0 || pid > 4194304)
			return 404;
		p->route = R_PROCESS;
		p->pid = (uint32_t)pid;
		want = "GET";
	}
	if (!want)
		return 404;
	/* HEAD is GET without a body: libmicrohttpd drops the body for us. */
	if (strcmp(method, want) != 0 && !(strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
		*allow = want;
		p->route = R_NONE;
		return 405;
	}
	http_params_default(p);
	return 0;
}

static int bad(char *err, size_t errlen, const char *key, const char *value, const char *accepted)
{
	snprintf(err, errlen, "invalid parameter %s='%.64s' (accepted: %s)", key, value ? value : "", accepted);
	return 400;
}

static bool allowed(enum http_route_id r, const char *key)
{
	switch (r) {
	case R_PROCESSES:
		return !strcmp(key, "comm") || !strcmp(key, "group") || !strcmp(key, "sort") || !strcmp(key, "limit");
	case R_ENERGY:
		return !strcmp(key, "group") || !strcmp(key, "window") || !strcmp(key, "step") ||
		       !strcmp(key, "breakdown");
	case R_SAMPLES_CSV:
	case R_APPS:
		return !strcmp(key, "limit");
	default:
		return false;
	}
}

int http_param(struct http_request_params *p, const char *key, const char *value, char *err, size_t errlen)
{
	uint64_t n;

	if (!key || !allowed(p->route, key)) {
		snprintf(err, errlen, "unknown parameter '%.64s'", key ? key : "");
		return 400;
	}
	if (!value)
		value = "";
	if (!strcmp(key, "comm")) {
		if (!*value || strlen(value) >= sizeof(p->comm))
			return bad(err, errlen, key, value, "a command name of 1-15 bytes");
		snprintf(p->comm, sizeof(p->comm), "%s", value);
	} else if (!strcmp(key, "group")) {
		if (!*value || strlen(value) >= sizeof(p->group))
			return bad(err, errlen, key, value, "a unit, container id, pod uid or comm");
		snprintf(p->group, sizeof(p->group), "%s", value);
	} else if (!strcmp(key, "sort")) {
		if (!strcmp(value, "energy"))
			p->sort = SORT_ENERGY;
		else if (!strcmp(value, "cpu"))
			p->sort = SORT_CPU;
		else if (!strcmp(value, "carbon"))
			p->sort = SORT_CARBON;
		else if (!strcmp(value, "pid"))
			p->sort = SORT_PID;
		else
			return bad(err, errlen, key, value, "energy, cpu, carbon, pid");
	} else if (!strcmp(key, "limit")) {
		uint32_t max = p->route == R_SAMPLES_CSV ? HTTP_MAX_SAMPLES : HTTP_MAX_LIMIT;
		char acc[48];

		snprintf(acc, sizeof(acc), "a whole number from 1 to %u", max);
		if (parse_u64(value, &n) || n < 1 || n > max)
			return bad(err, errlen, key, value, acc);
		p->limit = (uint32_t)n;
	} else if (!strcmp(key, "window") || !strcmp(key, "step")) {
		if (parse_duration_ns(value, &n) || n < NSEC_PER_SEC || n > MAX_WINDOW_NS || n % NSEC_PER_SEC)
			return bad(err, errlen, key, value, "a whole number of seconds from 1s to 7d, e.g. 3h, 15m");
		if (key[0] == 'w')
			p->window_ns = n;
		else
			p->step_ns = n;
	} else if (!strcmp(key, "breakdown")) {
		if (!strcmp(value, "true") || !strcmp(value, "1"))
			p->breakdown = true;
		else if (!strcmp(value, "false") || !strcmp(value, "0"))
			p->breakdown = false;
		else
			return bad(err, errlen, key, value, "true, false");
	}
	return 0;
}

int http_params_check(const struct http_request_params *p, char *err, size_t errlen)
{
	if (p->route != R_ENERGY)
		return 0;
	if (p->step_ns > p->window_ns) {
		snprintf(err, errlen, "invalid parameter step: longer than window");
		return 400;
	}
	if (p->window_ns % p->step_ns) {
		snprintf(err, errlen, "invalid parameter step: must divide window");
		return 400;
	}
	if (p->window_ns / p->step_ns > HTTP_MAX_STEPS) {
		snprintf(err, errlen, "invalid parameter step: window/step is more than %d steps", HTTP_MAX_STEPS);
		return 400;
	}
	return 0;
}

void http_error_json(int code, const char *message, char *out, size_t outlen)
{
	size_t o;
	int n = snprintf(out, outlen, "{\"error\":{\"code\":%d,\"message\":\"", code);

	if (n < 0 || (size_t)n >= outlen)
		return;
	o = (size_t)n;
	for (const unsigned char *m = (const unsigned char *)message; *m && o + 8 < outlen; m++) {
		if (*m == '"' || *m == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*m;
		} else if (*m < 0x20) {
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", *m);
		} else {
			out[o++] = (char)*m;
		}
	}
	snprintf(out + o, outlen - o, "\"}}");
}

/* ------------------------------------------------------------------ server */

/* PUT /intensity carries one small JSON object; anything larger is refused (413). */
#define MAX_BODY 1024
/* Headers plus body per connection: large enough for any sane request, small enough to bound memory. */
#define CONN_MEMORY_LIMIT (32 * 1024)
#define CONN_TIMEOUT_S 10
#define CONN_LIMIT 256
#define CONN_LIMIT_PER_IP 32
/*
 * Streams never end on their own: capped apart from (and well below) the
 * per-IP limit, so followers cannot lock out a scraper on the same address.
 */
#define SSE_MAX_STREAMS 8
#define SSE_RETRY_AFTER_S "10"
/* Every stream gets a comment this often, so a dead peer is noticed by a failed write. */
#define SSE_HEARTBEAT_NS (10 * NSEC_PER_SEC)
/* Parked streams are woken this often to check whether their heartbeat is due. */
#define SSE_WAKE_NS (2 * NSEC_PER_SEC)
#define CSV_LINE_MAX 256

struct sse;

struct http_server {
	struct MHD_Daemon *tcp, *unix_d;
	struct http_state *st;
	char *token;
	size_t token_len;
	char *version;
	char *socket_path;
	pthread_mutex_t sse_lock;
	struct sse *parked;		/* suspended streams waiting for the next sample */
	/*
	 * Open streams. Atomic: sse_free runs inside libmicrohttpd's cleanup,
	 * and taking sse_lock there deadlocks against http_notify_sample
	 * (sse_lock, then libmicrohttpd's lock in MHD_resume_connection).
	 */
	atomic_uint streams;
	bool stopping;
	pthread_cond_t hb_cond;		/* CLOCK_MONOTONIC; signalled at stop */
	pthread_t hb_thread;
	bool hb_running;
	atomic_uint_fast64_t requests, errors, last_scrape_ns;
};

/* Per-request state between libmicrohttpd's calls of the access handler. */
struct req {
	struct http_request_params p;
	int status;			/* != 0: answer this error on the final call */
	char err[256];
	char body[MAX_BODY + 1];
	size_t body_len;
	bool too_big;
};

static enum MHD_Result queue(struct http_server *h, struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *buf, size_t len, enum MHD_ResponseMemoryMode mode, const char *enc)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (enc) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, enc);
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	}
	if (status >= 400)
		atomic_fetch_add(&h->errors, 1);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_error(struct http_server *h, struct MHD_Connection *c, unsigned status,
				   const char *msg, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char buf[512];

	http_error_json((int)status, msg, buf, sizeof(buf));
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, !strcmp(allow, "GET") ? "GET, HEAD" : allow);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"joule\"");
	atomic_fetch_add(&h->errors, 1);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_json(struct http_server *h, struct MHD_Connection *c, unsigned status, cJSON *o)
{
	char *txt = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (!txt)
		return queue_error(h, c, 500, "out of memory", NULL);
	return queue(h, c, status, "application/json", txt, strlen(txt), MHD_RESPMEM_MUST_FREE, NULL);
}

/* ---- helpers for JSON bodies */

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_totals(cJSON *o, const struct store_totals *t)
{
	add_u64(o, "cpu_ns", t->cpu_ns);
	add_u64(o, "energy_uj", t->cpu_uj + t->mem_uj);
	add_u64(o, "cpu_energy_uj", t->cpu_uj);
	add_u64(o, "memory_energy_uj", t->mem_uj);
	add_u64(o, "carbon_ug", t->carbon_ug);
	add_u64(o, "embodied_ug", t->embodied_ug);
}

static void add_time(cJSON *o, const char *k, uint64_t real_ns)
{
	char buf[40];

	format_rfc3339(real_ns, buf, sizeof(buf));
	cJSON_AddStringToObject(o, k, buf);
}

static cJSON *intensity_json(const struct carbon_intensity *ci, double pue)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "g_per_kwh", ci->g_per_kwh);
	cJSON_AddNumberToObject(o, "rel_sd", ci->rel_sd);
	cJSON_AddStringToObject(o, "kind", ci->kind ? ci->kind : "");
	cJSON_AddStringToObject(o, "zone", ci->zone ? ci->zone : "");
	cJSON_AddNumberToObject(o, "year", ci->year);
	cJSON_AddStringToObject(o, "source", ci->source ? ci->source : "");
	cJSON_AddNumberToObject(o, "pue", pue);
	return o;
}

static cJSON *host_json(struct http_server *h)
{
	struct http_state *st = h->st;
	struct store_host hs;
	struct carbon_intensity ci = { 0 };
	cJSON *o = cJSON_CreateObject(), *t, *dom, *arr;
	uint64_t now = now_real_ns();

	store_rdlock(st->store);
	store_get_host(st->store, &hs);
	store_unlock(st->store);
	if (st->carbon)
		carbon_intensity_at(st->carbon, now, &ci);
	else
		ci = hs.intensity;
	cJSON_AddStringToObject(o, "version", h->version);
	add_time(o, "start_time", st->start_real_ns);
	cJSON_AddNumberToObject(o, "uptime_s", (double)(now - st->start_real_ns) / 1e9);
	cJSON_AddBoolToObject(o, "ready", st->ready != 0);
	cJSON_AddStringToObject(o, "source", hs.samples ? energy_kind_name(hs.source) : "");
	arr = cJSON_AddArrayToObject(o, "domains");
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		if (hs.domains & (1u << d))
			cJSON_AddItemToArray(arr, cJSON_CreateString(energy_domain_name((enum energy_domain)d)));
	add_u64(o, "samples", hs.samples);
	if (hs.samples) {
		add_time(o, "first_sample_time", hs.first_real_ns);
		add_time(o, "last_sample_time", hs.last_real_ns);
	}
	cJSON_AddItemToObject(o, "intensity", intensity_json(&ci, st->carbon ? carbon_pue(st->carbon) : hs.pue));
	t = cJSON_AddObjectToObject(o, "totals");
	add_u64(t, "energy_uj", hs.cpu_uj + hs.mem_uj);
	add_u64(t, "cpu_energy_uj", hs.cpu_uj);
	add_u64(t, "memory_energy_uj", hs.mem_uj);
	add_u64(t, "carbon_ug", hs.carbon_ug);
	add_u64(t, "embodied_ug", hs.embodied_ug);
	dom = cJSON_AddObjectToObject(t, "domains_uj");
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		if (hs.domains & (1u << d))
			add_u64(dom, energy_domain_name((enum energy_domain)d), hs.domain_uj[d]);
	add_totals(cJSON_AddObjectToObject(o, "idle"), &hs.idle);
	add_totals(cJSON_AddObjectToObject(o, "overflow"), &hs.overflow);
	add_u64(o, "processes_tracked", hs.procs_tracked);
	add_u64(o, "groups", hs.groups);
	return o;
}


/* The workload identity's names (only those known): namespace, pod, container, unit, slice, job. */
static void add_identity(cJSON *o, const struct proc_labels *l)
{
	struct labels_field f[LABELS_NIDENTITY];
	int n = labels_identity(l, f);

	for (int i = 0; i < n; i++)
		if (f[i].value[0])
			cJSON_AddStringToObject(o, f[i].json, f[i].value);
}

static cJSON *proc_json(const struct store_proc *p, uint64_t host_uj)
{
	cJSON *o = cJSON_CreateObject();

	add_u64(o, "pid", p->pid);
	add_u64(o, "ppid", p->ppid);
	cJSON_AddStringToObject(o, "comm", p->comm);
	cJSON_AddStringToObject(o, "group", p->labels.group);
	cJSON_AddStringToObject(o, "group_kind", group_kind_name(p->labels.kind));
	cJSON_AddStringToObject(o, "container", p->labels.container);
	add_identity(o, &p->labels);
	if (p->labels.uid != UINT32_MAX)
		add_u64(o, "uid", p->labels.uid);
	cJSON_AddBoolToObject(o, "exited", p->exited);
	if (p->exited)
		cJSON_AddNumberToObject(o, "exit_code", p->exit_code);
	cJSON_AddBoolToObject(o, "own_series", p->own_series);
	add_totals(o, &p->total);
	cJSON_AddNumberToObject(o, "allocation_ratio",
				host_uj ? (double)(p->total.cpu_uj + p->total.mem_uj) / (double)host_uj : 0.0);
	add_time(o, "first_seen", p->first_real_ns);
	add_time(o, "last_seen", p->last_real_ns);
	return o;
}

struct proc_pick {
	const struct http_request_params *p;
	struct store_proc *v;
	size_t n, cap;
	bool oom;
};

static int pick_proc(const struct store_proc *sp, void *ctx)
{
	struct proc_pick *k = ctx;

	if (k->p->comm[0] && strcmp(sp->comm, k->p->comm) != 0)
		return 0;
	if (k->p->group[0] && strcmp(sp->labels.group, k->p->group) != 0)
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;
		struct store_proc *v = realloc(k->v, cap * sizeof(*v));

		if (!v) {
			k->oom = true;
			return 1;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = *sp;
	return 0;
}

static uint64_t sort_value(const struct store_proc *p, enum http_sort key)
{
	switch (key) {
	case SORT_CPU:
		return p->total.cpu_ns;
	case SORT_CARBON:
		return p->total.carbon_ug;
	case SORT_PID:
		return p->pid;
	default:
		return p->total.cpu_uj + p->total.mem_uj;
	}
}

static int cmp_proc(const void *a, const void *b, void *arg)
{
	const struct store_proc *x = a, *y = b;
	enum http_sort key = *(enum http_sort *)arg;
	uint64_t vx, vy;

	vx = sort_value(x, key);
	vy = sort_value(y, key);
	if (vx == vy)
		return x->pid < y->pid ? -1 : x->pid > y->pid;
	/* pid ascending, everything else largest first */
	if (key == SORT_PID)
		return vx < vy ? -1 : 1;
	return vx > vy ? -1 : 1;
}

static enum MHD_Result h_processes(struct http_server *h, struct MHD_Connection *c, const struct req *rq)
{
	struct proc_pick k = { .p = &rq->p };
	struct store_host hs;
	enum http_sort key = rq->p.sort;
	cJSON *o, *arr;

	store_rdlock(h->st->store);
	store_get_host(h->st->store, &hs);
	store_foreach_proc(h->st->store, pick_proc, &k);
	store_unlock(h->st->store);
	if (k.oom) {
		free(k.v);
		return queue_error(h, c, 500, "out of memory", NULL);
	}
	qsort_r(k.v, k.n, sizeof(*k.v), cmp_proc, &key);
	o = cJSON_CreateObject();
	add_u64(o, "matched", k.n);
	arr = cJSON_AddArrayToObject(o, "processes");
	for (size_t i = 0; i < k.n && i < rq->p.limit; i++)
		cJSON_AddItemToArray(arr, proc_json(&k.v[i], hs.cpu_uj + hs.mem_uj));
	free(k.v);
	return queue_json(h, c, 200, o);
}

static enum MHD_Result h_process(struct http_server *h, struct MHD_Connection *c, const struct req *rq)
{
	const struct store_proc *sp;
	struct store_proc copy;
	struct store_host hs;
	struct procinfo pi;
	cJSON *o;
	char msg[64];

	store_rdlock(h->st->store);
	store_get_host(h->st->store, &hs);
	sp = store_find_proc(h->st->store, rq->p.pid);
	if (sp)
		copy = *sp;
	store_unlock(h->st->store);
	if (!sp) {
		snprintf(msg, sizeof(msg), "no process %u in the store", rq->p.pid);
		return queue_error(h, c, 404, msg, NULL);
	}
	o = proc_json(&copy, hs.cpu_uj + hs.mem_uj);
	/* exe, cmdline and cgroup only while the same process still runs */
	if (!copy.exited && procinfo_read(NULL, copy.pid, &pi) == 0 && strcmp(pi.comm, copy.comm) == 0) {
		cJSON_AddStringToObject(o, "exe", pi.exe);
		cJSON_AddStringToObject(o, "cmdline", pi.cmdline);
		cJSON_AddStringToObject(o, "cgroup", pi.cgroup);
	}
	return queue_json(h, c, 200, o);
}

struct group_pick {
	struct store_group *v;
	size_t n, cap;
	bool oom;
};

static int pick_group(const struct store_group *g, void *ctx)
{
	struct group_pick *k = ctx;

	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 128;
		struct store_group *v = realloc(k->v, cap * sizeof(*v));

		if (!v) {
			k->oom = true;
			return 1;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = *g;
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	const struct store_group *x = a, *y = b;
	uint64_t ex = x->total.cpu_uj + x->total.mem_uj, ey = y->total.cpu_uj + y->total.mem_uj;

	if (ex != ey)
		return ex > ey ? -1 : 1;
	return strcmp(x->name, y->name);
}

static enum MHD_Result h_apps(struct http_server *h, struct MHD_Connection *c, const struct req *rq)
{
	struct group_pick k = { 0 };
	cJSON *o, *arr;

	store_rdlock(h->st->store);
	store_foreach_group(h->st->store, pick_group, &k);
	store_unlock(h->st->store);
	if (k.oom) {
		free(k.v);
		return queue_error(h, c, 500, "out of memory", NULL);
	}
	qsort(k.v, k.n, sizeof(*k.v), cmp_group);
	o = cJSON_CreateObject();
	add_u64(o, "matched", k.n);
	arr = cJSON_AddArrayToObject(o, "apps");
	for (size_t i = 0; i < k.n && i < rq->p.limit; i++) {
		cJSON *g = cJSON_CreateObject();

		cJSON_AddStringToObject(g, "name", k.v[i].name);
		cJSON_AddStringToObject(g, "kind", group_kind_name(k.v[i].kind));
		add_identity(g, &k.v[i].labels);
		add_u64(g, "live_processes", k.v[i].live);
		add_totals(g, &k.v[i].total);
		cJSON_AddItemToArray(arr, g);
	}
	free(k.v);
	return queue_json(h, c, 200, o);
}

/* The series keys of /energy: energy in joules and carbon in grams, per step, plus their totals. */
static void add_series(cJSON *o, const struct store_point *pt, int n, bool with_time)
{
	static const char *const keys[] = { "energy_consumed", "cpu_energy", "memory_energy", "carbon_operational",
					    "carbon_embodied", "carbon_emitted" };
	cJSON *arr[ARRAY_SIZE(keys)], *tp = NULL, *tot;
	double sum[ARRAY_SIZE(keys)] = { 0 };

	if (with_time)
		tp = cJSON_AddArrayToObject(o, "time_points");
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		arr[k] = cJSON_AddArrayToObject(o, keys[k]);
	for (int i = 0; i < n; i++) {
		const struct store_point *p = &pt[i];
		double v[ARRAY_SIZE(keys)] = {
			(double)(p->cpu_uj + p->mem_uj) / 1e6, (double)p->cpu_uj / 1e6, (double)p->mem_uj / 1e6,
			(double)(p->carbon_ug - p->embodied_ug) / 1e6, (double)p->embodied_ug / 1e6,
			(double)p->carbon_ug / 1e6,
		};

		if (tp)
			cJSON_AddItemToArray(tp, cJSON_CreateNumber((double)(p->start_real_ns / NSEC_PER_SEC)));
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			cJSON_AddItemToArray(arr[k], cJSON_CreateNumber(v[k]));
			sum[k] += v[k];
		}
	}
	tot = cJSON_AddObjectToObject(o, "totals");
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		cJSON_AddNumberToObject(tot, keys[k], sum[k]);
}

static enum MHD_Result energy_error(struct http_server *h, struct MHD_Connection *c, int r,
				    const struct http_request_params *p)
{
	char msg[200];

	if (r == -ENOENT) {
		snprintf(msg, sizeof(msg), "no group '%s'", p->group);
		return queue_error(h, c, 404, msg, NULL);
	}
	snprintf(msg, sizeof(msg),
		 "invalid parameter window: %s keeps %llus at this step (%s needs whole minutes for groups, "
		 "processes and windows over 1h)",
		 p->group[0] || p->breakdown ? "a group" : "the host",
		 (unsigned long long)(store_max_window_ns(p->step_ns, p->group[0] || p->breakdown) / NSEC_PER_SEC),
		 "step");
	return queue_error(h, c, 400, msg, NULL);
}

#define BREAKDOWN_MAX 100	/* processes in one breakdown answer, largest energy first */

static enum MHD_Result h_energy(struct http_server *h, struct MHD_Connection *c, const struct req *rq)
{
	const struct http_request_params *p = &rq->p;
	size_t max = HTTP_MAX_STEPS;
	struct store_point *pt = calloc(max, sizeof(*pt));
	struct proc_pick k = { .p = p };
	uint64_t now = now_real_ns();
	cJSON *o = NULL;
	int n;

	if (!pt)
		return queue_error(h, c, 500, "out of memory", NULL);
	store_rdlock(h->st->store);
	n = store_query(h->st->store, p->group[0] ? p->group : NULL, 0, now, p->window_ns, p->step_ns, pt, max);
	if (n >= 0) {
		o = cJSON_CreateObject();
		add_u64(o, "window_s", p->window_ns / NSEC_PER_SEC);
		add_u64(o, "step_s", p->step_ns / NSEC_PER_SEC);
		if (p->group[0])
			cJSON_AddStringToObject(o, "group", p->group);
		cJSON_AddStringToObject(o, "energy_unit", "J");
		cJSON_AddStringToObject(o, "carbon_unit", "gCO2e");
		add_series(o, pt, n, true);
	}
	if (n >= 0 && p->breakdown) {
		cJSON *arr = cJSON_AddArrayToObject(o, "processes");
		enum http_sort key = SORT_ENERGY;

		store_foreach_proc(h->st->store, pick_proc, &k);
		qsort_r(k.v, k.n, sizeof(*k.v), cmp_proc, &key);
		for (size_t i = 0, shown = 0; i < k.n && shown < BREAKDOWN_MAX && !k.oom; i++) {
			cJSON *po;
			int m;

			if (!k.v[i].own_series)
				continue;
			m = store_query(h->st->store, NULL, k.v[i].pid, now, p->window_ns, p->step_ns, pt, max);
			if (m == -ENOENT)
				continue;
			if (m < 0) {
				n = m;
				break;
			}
			po = cJSON_CreateObject();
			add_u64(po, "pid", k.v[i].pid);
			cJSON_AddStringToObject(po, "comm", k.v[i].comm);
			cJSON_AddStringToObject(po, "group", k.v[i].labels.group);
			add_series(po, pt, m, false);
			cJSON_AddItemToArray(arr, po);
			shown++;
		}
	}
	store_unlock(h->st->store);
	free(pt);
	free(k.v);
	if (n < 0) {
		cJSON_Delete(o);
		return energy_error(h, c, n, p);
	}
	return queue_json(h, c, 200, o);
}

static enum MHD_Result h_samples_csv(struct http_server *h, struct MHD_Connection *c, const struct req *rq)
{
	static const char header[] = "seq,time,interval_ns,source,host_cpu_uj,host_memory_uj,host_carbon_ug,"
				     "idle_uj,overflow_uj,tasks,intensity_g_per_kwh\n";
	struct store_recent *v = calloc(rq->p.limit, sizeof(*v));
	size_t n, cap, len;
	char *buf;

	if (!v)
		return queue_error(h, c, 500, "out of memory", NULL);
	store_rdlock(h->st->store);
	n = store_recent(h->st->store, v, rq->p.limit);
	store_unlock(h->st->store);
	cap = sizeof(header) + n * CSV_LINE_MAX;
	buf = malloc(cap);
	if (!buf) {
		free(v);
		return queue_error(h, c, 500, "out of memory", NULL);
	}
	len = (size_t)snprintf(buf, cap, "%s", header);
	for (size_t i = 0; i < n; i++) {
		char ts[40];

		format_rfc3339(v[i].real_end_ns, ts, sizeof(ts));
		len += (size_t)snprintf(buf + len, cap - len, "%llu,%s,%llu,%s,%llu,%llu,%llu,%llu,%llu,%u,%.6g\n",
					(unsigned long long)v[i].seq, ts, (unsigned long long)v[i].interval_ns,
					energy_kind_name(v[i].source), (unsigned long long)v[i].host_cpu_uj,
					(unsigned long long)v[i].host_mem_uj, (unsigned long long)v[i].host_carbon_ug,
					(unsigned long long)v[i].idle_uj, (unsigned long long)v[i].overflow_uj,
					v[i].ntasks, v[i].intensity_g_per_kwh);
	}
	free(v);
	return queue(h, c, 200, "text/csv; charset=utf-8", buf, len, MHD_RESPMEM_MUST_FREE, NULL);
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], in thousandths; -1 if malformed. */
static int parse_qvalue(const char *v, size_t n)
{
	int q, scale = 100;

	if (n == 0 || (v[0] != '0' && v[0] != '1') || (n > 1 && v[1] != '.') || n > 5)
		return -1;
	q = (v[0] - '0') * 1000;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		q += (v[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

bool http_accepts_gzip(const char *ae)
{
	int gzip_q = -1, star_q = -1;

	if (!ae)
		return false;
	while (*ae) {
		const char *tok, *end;
		size_t toklen;
		int q = 1000;

		while (is_ows(*ae) || *ae == ',')
			ae++;
		if (!*ae)
			break;
		tok = ae;
		while (*ae && *ae != ',' && *ae != ';' && !is_ows(*ae))
			ae++;
		toklen = (size_t)(ae - tok);
		/* parameters: OWS ";" OWS name "=" value; only q matters, any malformed one voids the element */
		for (;;) {
			const char *name, *val;
			size_t nlen, vlen;

			while (is_ows(*ae))
				ae++;
			if (*ae != ';')
				break;
			ae++;
			while (is_ows(*ae))
				ae++;
			name = ae;
			while (*ae && *ae != '=' && *ae != ',' && *ae != ';' && !is_ows(*ae))
				ae++;
			nlen = (size_t)(ae - name);
			if (*ae != '=') {
				q = -1;
				continue;
			}
			val = ++ae;
			while (*ae && *ae != ',' && *ae != ';' && !is_ows(*ae))
				ae++;
			vlen = (size_t)(ae - val);
			if (nlen == 1 && (name[0] == 'q' || name[0] == 'Q'))
				q = q < 0 ? -1 : parse_qvalue(val, vlen);
		}
		end = strchr(ae, ',');
		if (end != ae && *ae) /* junk after the element */
			q = -1;
		if (end)
			ae = end;
		else
			ae += strlen(ae);
		if (q < 0)
			q = 0;
		if ((toklen == 4 && strncasecmp(tok, "gzip", 4) == 0) || (toklen == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
			gzip_q = q > gzip_q ? q : gzip_q;
		else if (toklen == 1 && tok[0] == '*')
			star_q = q;
	}
	/* an explicit gzip entry wins over "*" */
	return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

static bool accepts_gzip(struct MHD_Connection *c)
{
	return http_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

/* gzip (RFC 1952) of in; NULL on failure. */
static char *gzip_buf(const char *in, size_t len, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap;
	char *out;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, len) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static enum MHD_Result h_metrics(struct http_server *h, struct MHD_Connection *c)
{
	struct metrics_self self = { 0 };
	struct metrics_buf b = { 0 };
	uint64_t t0 = now_mono_ns();
	int err;

	if (h->st->fill_self)
		h->st->fill_self(h->st->fill_ctx, &self);
	self.version = h->version;
	self.start_real_ns = h->st->start_real_ns;
	self.http_requests = atomic_load(&h->requests);
	self.http_errors = atomic_load(&h->errors);
	self.last_scrape_ns = atomic_load(&h->last_scrape_ns);
	store_rdlock(h->st->store);
	err = metrics_render(h->st->store, &self, &b);
	store_unlock(h->st->store);
	if (err) {
		metrics_buf_free(&b);
		return queue_error(h, c, 500, "out of memory rendering metrics", NULL);
	}
	if (accepts_gzip(c)) {
		size_t zlen;
		char *z = gzip_buf(b.p, b.len, &zlen);

		if (z) {
			metrics_buf_free(&b);
			atomic_store(&h->last_scrape_ns, now_mono_ns() - t0);
			return queue(h, c, 200, METRICS_CONTENT_TYPE, z, zlen, MHD_RESPMEM_MUST_FREE, "gzip");
		}
	}
	atomic_store(&h->last_scrape_ns, now_mono_ns() - t0);
	/* b.p was malloc'ed: the response frees it */
	return queue(h, c, 200, METRICS_CONTENT_TYPE, b.p ? b.p : strdup(""), b.len, MHD_RESPMEM_MUST_FREE, NULL);
}

/* ---- PUT /intensity */

static bool token_ok(struct http_server *h, struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	if (!h->token || !a || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	n = strlen(a);
	/* sodium_memcmp is constant-time in the length compared; the length itself is not secret */
	return n == h->token_len && sodium_memcmp(a, h->token, n) == 0;
}

int http_parse_intensity(const char *body, size_t len, double *g_per_kwh, char *err, size_t errlen)
{
	cJSON *in = cJSON_ParseWithLength(body, len), *v;
	double g;

	if (!in || !cJSON_IsObject(in)) {
		cJSON_Delete(in);
		snprintf(err, errlen, "invalid body: expected a JSON object {\"g_per_kwh\": N}");
		return 400;
	}
	for (cJSON *it = in->child; it; it = it->next) {
		if (strcmp(it->string, "g_per_kwh") != 0) {
			cJSON_Delete(in);
			snprintf(err, errlen, "invalid body: unknown member (accepted: g_per_kwh)");
			return 400;
		}
		/* cJSON keeps both copies of a repeated key; which one counts is undefined (RFC 8259), so refuse */
		if (it != in->child) {
			cJSON_Delete(in);
			snprintf(err, errlen, "invalid body: duplicate member g_per_kwh");
			return 400;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(in, "g_per_kwh");
	g = cJSON_IsNumber(v) ? v->valuedouble : -1;
	cJSON_Delete(in);
	if (!(g >= 0 && g <= 10000)) {
		snprintf(err, errlen, "invalid parameter g_per_kwh: a number from 0 to 10000");
		return 400;
	}
	*g_per_kwh = g;
	return 0;
}

static enum MHD_Result h_intensity(struct http_server *h, struct MHD_Connection *c, struct req *rq)
{
	cJSON *o;
	double g;
	uint64_t now = now_real_ns();

	if (!h->st->carbon)
		return queue_error(h, c, 503, "carbon accounting is not running", NULL);
	if (http_parse_intensity(rq->body, rq->body_len, &g, rq->err, sizeof(rq->err)))
		return queue_error(h, c, 400, rq->err, NULL);
	carbon_push(h->st->carbon, g, now);
	log_info("intensity pushed over HTTP: %.3f g/kWh", g);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "g_per_kwh", g);
	cJSON_AddStringToObject(o, "kind", "pushed");
	add_time(o, "from", now);
	return queue_json(h, c, 200, o);
}

/* ---- GET /stream: Server-Sent Events, parked (suspended) between samples */

struct sse {
	struct http_server *h;
	struct MHD_Connection *conn;
	uint64_t last_seq;
	uint64_t heartbeat_mono_ns;	/* last keep-alive (or the stream's start) */
	bool parked;
	struct sse *next;
	size_t len, off;
	char buf[4096];
};

static void sse_fill(struct sse *s)
{
	struct store_recent r[8];
	size_t n;

	s->len = s->off = 0;
	if (now_mono_ns() - s->heartbeat_mono_ns >= SSE_HEARTBEAT_NS) {
		s->len = (size_t)snprintf(s->buf, sizeof(s->buf), ": keep-alive\n\n");
		s->heartbeat_mono_ns = now_mono_ns();
	}
	store_rdlock(s->h->st->store);
	n = store_recent(s->h->st->store, r, ARRAY_SIZE(r));
	store_unlock(s->h->st->store);
	for (size_t i = 0; i < n; i++) {
		char ts[40];
		int w;

		if (r[i].seq <= s->last_seq)
			continue;
		format_rfc3339(r[i].real_end_ns, ts, sizeof(ts));
		w = snprintf(s->buf + s->len, sizeof(s->buf) - s->len,
			     "id: %llu\nevent: sample\ndata: {\"seq\":%llu,\"time\":\"%s\",\"interval_ns\":%llu,"
			     "\"source\":\"%s\",\"energy_uj\":%llu,\"cpu_energy_uj\":%llu,\"memory_energy_uj\":%llu,"
			     "\"carbon_ug\":%llu,\"idle_uj\":%llu,\"tasks\":%u,\"intensity_g_per_kwh\":%.6g}\n\n",
			     (unsigned long long)r[i].seq, (unsigned long long)r[i].seq, ts,
			     (unsigned long long)r[i].interval_ns, energy_kind_name(r[i].source),
			     (unsigned long long)(r[i].host_cpu_uj + r[i].host_mem_uj),
			     (unsigned long long)r[i].host_cpu_uj, (unsigned long long)r[i].host_mem_uj,
			     (unsigned long long)r[i].host_carbon_ug, (unsigned long long)r[i].idle_uj, r[i].ntasks,
			     r[i].intensity_g_per_kwh);
		if (w < 0 || (size_t)w >= sizeof(s->buf) - s->len)
			break;
		s->len += (size_t)w;
		s->last_seq = r[i].seq;
	}
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;
	struct http_server *h = s->h;
	size_t n;

	if (s->off == s->len)
		sse_fill(s);
	if (s->off == s->len) {
		uint64_t seq;

		pthread_mutex_lock(&h->sse_lock);
		if (h->stopping) {
			pthread_mutex_unlock(&h->sse_lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		/* A sample that landed since sse_fill has already notified: do not park past it. */
		store_rdlock(h->st->store);
		seq = store_last_seq(h->st->store);
		store_unlock(h->st->store);
		if (seq == s->last_seq && now_mono_ns() - s->heartbeat_mono_ns < SSE_HEARTBEAT_NS) {
			s->parked = true;
			s->next = h->parked;
			h->parked = s;
			MHD_suspend_connection(s->conn);
		}
		pthread_mutex_unlock(&h->sse_lock);
		return 0;
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

/*
 * A parked stream is never freed: libmicrohttpd does not close suspended
 * connections, and http_stop resumes them all first. So no list surgery
 * (and no lock taken inside libmicrohttpd's cleanup path) is needed here.
 */
static void sse_free(void *cls)
{
	struct sse *s = cls;

	atomic_fetch_sub(&s->h->streams, 1);
	free(s);
}

/* 503 with Retry-After: the stream cap is reached. */
static enum MHD_Result queue_streams_full(struct http_server *h, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char msg[96], buf[256];

	snprintf(msg, sizeof(msg), "too many open streams (at most %d); retry later", SSE_MAX_STREAMS);
	http_error_json(503, msg, buf, sizeof(buf));
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, SSE_RETRY_AFTER_S);
	atomic_fetch_add(&h->errors, 1);
	ret = MHD_queue_response(c, 503, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result h_stream(struct http_server *h, struct MHD_Connection *c)
{
	struct sse *s;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint64_t seq;
	unsigned n = atomic_load(&h->streams);

	do {
		if (n >= SSE_MAX_STREAMS)
			return queue_streams_full(h, c);
	} while (!atomic_compare_exchange_weak(&h->streams, &n, n + 1));
	s = calloc(1, sizeof(*s));
	if (!s) {
		atomic_fetch_sub(&h->streams, 1);
		return queue_error(h, c, 500, "out of memory", NULL);
	}
	s->h = h;
	s->conn = c;
	s->heartbeat_mono_ns = now_mono_ns();
	store_rdlock(h->st->store);
	seq = store_last_seq(h->st->store);
	store_unlock(h->st->store);
	/* start with the newest sample, then one event per sample */
	s->last_seq = seq ? seq - 1 : 0;
	s->len = (size_t)snprintf(s->buf, sizeof(s->buf), "retry: 1000\n\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* Resume every parked stream; the caller holds sse_lock. */
static void wake_parked(struct http_server *h)
{
	while (h->parked) {
		struct sse *s = h->parked;

		h->parked = s->next;
		s->parked = false;
		MHD_resume_connection(s->conn);
	}
}

void http_notify_sample(struct http_server *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->sse_lock);
	wake_parked(h);
	pthread_mutex_unlock(&h->sse_lock);
}

/* Wakes parked streams now and then so their keep-alive goes out even when no sample comes. */
static void *heartbeat_main(void *arg)
{
	struct http_server *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->sse_lock);
	while (!h->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += SSE_WAKE_NS / NSEC_PER_SEC;
		pthread_cond_timedwait(&h->hb_cond, &h->sse_lock, &ts);
		if (!h->stopping)
			wake_parked(h);
	}
	pthread_mutex_unlock(&h->sse_lock);
	return NULL;
}

/* ---- the access handler */

/* GET /api/v1/openapi.json: OpenAPI 3 description of every endpoint (the integration tests validate answers against it). */
static const char openapi_json[] =
	"{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"joule daemon API\",\"version\":\"1\",\"description\":\""
	"Per-process energy (uJ, J) and carbon (ug, g CO2e) of this host. Errors are {\\\"error\\\":{\\\"code"
	"\\\":N,\\\"message\\\":\\\"...\\\"}}.\"},\"paths\":{\"/metrics\":{\"get\":{\"summary\":\"Prometheus "
	"text format 0.0.4 (gzip when accepted)\",\"responses\":{\"200\":{\"description\":\"metrics\",\"conte"
	"nt\":{\"text/plain; version=0.0.4\":{\"schema\":{\"type\":\"string\"}}}}}}},\"/healthz\":{\"get\":{\""
	"summary\":\"Liveness\",\"parameters\":[],\"responses\":{\"200\":{\"description\":\"alive\",\"content"
	"\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Status\"}}}}}}},\"/readyz\":{\""
	"get\":{\"summary\":\"Readiness: 503 until the first complete sample\",\"parameters\":[],\"responses\""
	":{\"200\":{\"description\":\"ready\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/com"
	"ponents/schemas/Status\"}}}},\"503\":{\"$ref\":\"#/components/responses/Error\"}}}},\"/api/v1/host\""
	":{\"get\":{\"summary\":\"Sources, domains, intensity in use, uptime, totals\",\"parameters\":[],\"re"
	"sponses\":{\"200\":{\"description\":\"host\",\"content\":{\"application/json\":{\"schema\":{\"$ref\""
	":\"#/components/schemas/Host\"}}}},\"400\":{\"$ref\":\"#/components/responses/Error\"}}}},\"/api/v1/"
	"processes\":{\"get\":{\"summary\":\"Tracked processes\",\"parameters\":[{\"name\":\"comm\",\"in\":\""
	"query\",\"required\":false,\"schema\":{\"type\":\"string\"},\"description\":\"exact command name\"},"
	"{\"name\":\"group\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\"},\"descripti"
	"on\":\"unit, container id, pod uid or comm\"},{\"name\":\"sort\",\"in\":\"query\",\"required\":false"
	",\"schema\":{\"type\":\"string\",\"enum\":[\"energy\",\"cpu\",\"carbon\",\"pid\"],\"default\":\"ener"
	"gy\"},\"description\":\"order\"},{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"schema\":"
	"{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},\"description\":\"at most this"
	" many\"}],\"responses\":{\"200\":{\"description\":\"processes\",\"content\":{\"application/json\":{\""
	"schema\":{\"$ref\":\"#/components/schemas/Processes\"}}}},\"400\":{\"$ref\":\"#/components/responses"
	"/Error\"}}}},\"/api/v1/processes/{pid}\":{\"get\":{\"summary\":\"One process (the newest holder of t"
	"he pid)\",\"parameters\":[{\"name\":\"pid\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\""
	"integer\",\"minimum\":1}}],\"responses\":{\"200\":{\"description\":\"process\",\"content\":{\"applic"
	"ation/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Process\"}}}},\"404\":{\"$ref\":\"#/compon"
	"ents/responses/Error\"}}}},\"/api/v1/apps\":{\"get\":{\"summary\":\"Groups: units, containers, pods,"
	" comms\",\"parameters\":[{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\""
	":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},\"description\":\"at most this many\"}]"
	",\"responses\":{\"200\":{\"description\":\"groups\",\"content\":{\"application/json\":{\"schema\":{\""
	"$ref\":\"#/components/schemas/Apps\"}}}},\"400\":{\"$ref\":\"#/components/responses/Error\"}}}},\"/a"
	"pi/v1/energy\":{\"get\":{\"summary\":\"Energy and carbon per time step\",\"parameters\":[{\"name\":\""
	"group\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\"},\"description\":\"a gro"
	"up name; absent: the host\"},{\"name\":\"window\",\"in\":\"query\",\"required\":false,\"schema\":{\""
	"type\":\"string\",\"pattern\":\"^[0-9]+(s|m|h|d)?$\"},\"description\":\"e.g. 3h (default 1h)\"},{\"n"
	"ame\":\"step\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\",\"pattern\":\"^[0"
	"-9]+(s|m|h|d)?$\"},\"description\":\"e.g. 1h (default 1m); divides window\"},{\"name\":\"breakdown\""
	",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"boolean\",\"default\":false},\"descripti"
	"on\":\"also per process with its own series\"}],\"responses\":{\"200\":{\"description\":\"series\",\""
	"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Energy\"}}}},\"400\":{\""
	"$ref\":\"#/components/responses/Error\"},\"404\":{\"$ref\":\"#/components/responses/Error\"}}}},\"/a"
	"pi/v1/samples.csv\":{\"get\":{\"summary\":\"The last samples as CSV with a header\",\"parameters\":["
	"{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"integer\",\"minimum\""
	":1,\"maximum\":600,\"default\":100},\"description\":\"rows\"}],\"responses\":{\"200\":{\"description"
	"\":\"CSV\",\"content\":{\"text/csv\":{\"schema\":{\"type\":\"string\"}}}},\"400\":{\"$ref\":\"#/comp"
	"onents/responses/Error\"}}}},\"/api/v1/stream\":{\"get\":{\"summary\":\"Server-Sent Events, one 'sam"
	"ple' event per sample\",\"parameters\":[],\"responses\":{\"200\":{\"description\":\"event stream\",\""
	"content\":{\"text/event-stream\":{\"schema\":{\"type\":\"string\"}}}}}}},\"/api/v1/intensity\":{\"pu"
	"t\":{\"summary\":\"Push the current grid intensity\",\"security\":[{\"bearer\":[]}],\"requestBody\":"
	"{\"required\":true,\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/In"
	"tensityPut\"}}}},\"responses\":{\"200\":{\"description\":\"accepted\",\"content\":{\"application/jso"
	"n\":{\"schema\":{\"$ref\":\"#/components/schemas/IntensityPushed\"}}}},\"400\":{\"$ref\":\"#/compone"
	"nts/responses/Error\"},\"401\":{\"$ref\":\"#/components/responses/Error\"},\"413\":{\"$ref\":\"#/com"
	"ponents/responses/Error\"},\"503\":{\"$ref\":\"#/components/responses/Error\"}}}},\"/api/v1/openapi."
	"json\":{\"get\":{\"summary\":\"This document\",\"parameters\":[],\"responses\":{\"200\":{\"descripti"
	"on\":\"OpenAPI 3\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}}}}}},\"comp"
	"onents\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}},\"responses\":{"
	"\"Error\":{\"description\":\"error\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/com"
	"ponents/schemas/Error\"}}}}},\"schemas\":{\"Error\":{\"type\":\"object\",\"properties\":{\"error\":{"
	"\"type\":\"object\",\"properties\":{\"code\":{\"type\":\"integer\"},\"message\":{\"type\":\"string\""
	"}},\"required\":[\"code\",\"message\"]}},\"required\":[\"error\"]},\"Totals\":{\"type\":\"object\",\""
	"properties\":{\"cpu_ns\":{\"type\":\"integer\",\"minimum\":0},\"energy_uj\":{\"type\":\"integer\",\""
	"minimum\":0},\"cpu_energy_uj\":{\"type\":\"integer\",\"minimum\":0},\"memory_energy_uj\":{\"type\":\""
	"integer\",\"minimum\":0},\"carbon_ug\":{\"type\":\"integer\",\"minimum\":0},\"embodied_ug\":{\"type\""
	":\"integer\",\"minimum\":0}},\"required\":[\"cpu_ns\",\"energy_uj\",\"cpu_energy_uj\",\"memory_energ"
	"y_uj\",\"carbon_ug\",\"embodied_ug\"]},\"Intensity\":{\"type\":\"object\",\"properties\":{\"g_per_kw"
	"h\":{\"type\":\"number\"},\"rel_sd\":{\"type\":\"number\"},\"kind\":{\"type\":\"string\"},\"zone\":{"
	"\"type\":\"string\"},\"year\":{\"type\":\"integer\"},\"source\":{\"type\":\"string\"},\"pue\":{\"typ"
	"e\":\"number\"}},\"required\":[\"g_per_kwh\",\"rel_sd\",\"kind\",\"zone\",\"year\",\"source\",\"pue\""
	"]},\"Host\":{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"},\"start_time\":{\""
	"type\":\"string\"},\"uptime_s\":{\"type\":\"number\"},\"ready\":{\"type\":\"boolean\"},\"source\":{\""
	"type\":\"string\"},\"domains\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"samples\":{\"t"
	"ype\":\"integer\",\"minimum\":0},\"first_sample_time\":{\"type\":\"string\"},\"last_sample_time\":{\""
	"type\":\"string\"},\"intensity\":{\"$ref\":\"#/components/schemas/Intensity\"},\"totals\":{\"type\":"
	"\"object\",\"properties\":{\"energy_uj\":{\"type\":\"integer\",\"minimum\":0},\"cpu_energy_uj\":{\"t"
	"ype\":\"integer\",\"minimum\":0},\"memory_energy_uj\":{\"type\":\"integer\",\"minimum\":0},\"carbon_"
	"ug\":{\"type\":\"integer\",\"minimum\":0},\"embodied_ug\":{\"type\":\"integer\",\"minimum\":0},\"dom"
	"ains_uj\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\",\"minimum\":0}}},\"req"
	"uired\":[\"energy_uj\",\"cpu_energy_uj\",\"memory_energy_uj\",\"carbon_ug\",\"embodied_ug\",\"domain"
	"s_uj\"]},\"idle\":{\"$ref\":\"#/components/schemas/Totals\"},\"overflow\":{\"$ref\":\"#/components/s"
	"chemas/Totals\"},\"processes_tracked\":{\"type\":\"integer\",\"minimum\":0},\"groups\":{\"type\":\"i"
	"nteger\",\"minimum\":0}},\"required\":[\"version\",\"start_time\",\"uptime_s\",\"ready\",\"source\","
	"\"domains\",\"samples\",\"intensity\",\"totals\",\"idle\",\"overflow\",\"processes_tracked\",\"group"
	"s\"]},\"Process\":{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\",\"minimum\":0},"
	"\"ppid\":{\"type\":\"integer\",\"minimum\":0},\"comm\":{\"type\":\"string\"},\"group\":{\"type\":\"s"
	"tring\"},\"group_kind\":{\"type\":\"string\",\"enum\":[\"comm\",\"unit\",\"container\",\"pod\",\"job\"]},"
	"\"namespace\":{\"type\":\"string\"},\"pod\":{\"type\":\"string\"},\"pod_uid\":{\"type\":\"string\"},"
	"\"container_name\":{\"type\":\"string\"},\"runtime\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\"},"
	"\"slice\":{\"type\":\"string\"},\"job_id\":{\"type\":\"string\"},\"job_user\":{\"type\":\"string\"},"
	"\"container_id\":{\"type\":\"string\"},"
	"\"c"
	"ontainer\":{\"type\":\"string\"},\"uid\":{\"type\":\"integer\",\"minimum\":0},\"exited\":{\"type\":\""
	"boolean\"},\"exit_code\":{\"type\":\"integer\"},\"own_series\":{\"type\":\"boolean\"},\"cpu_ns\":{\""
	"type\":\"integer\",\"minimum\":0},\"energy_uj\":{\"type\":\"integer\",\"minimum\":0},\"cpu_energy_uj"
	"\":{\"type\":\"integer\",\"minimum\":0},\"memory_energy_uj\":{\"type\":\"integer\",\"minimum\":0},\""
	"carbon_ug\":{\"type\":\"integer\",\"minimum\":0},\"embodied_ug\":{\"type\":\"integer\",\"minimum\":0"
	"},\"allocation_ratio\":{\"type\":\"number\"},\"first_seen\":{\"type\":\"string\"},\"last_seen\":{\"t"
	"ype\":\"string\"},\"exe\":{\"type\":\"string\"},\"cmdline\":{\"type\":\"string\"},\"cgroup\":{\"type"
	"\":\"string\"}},\"required\":[\"pid\",\"ppid\",\"comm\",\"group\",\"group_kind\",\"container\",\"exi"
	"ted\",\"own_series\",\"cpu_ns\",\"energy_uj\",\"cpu_energy_uj\",\"memory_energy_uj\",\"carbon_ug\",\""
	"embodied_ug\",\"allocation_ratio\",\"first_seen\",\"last_seen\"]},\"Processes\":{\"type\":\"object\""
	",\"properties\":{\"matched\":{\"type\":\"integer\",\"minimum\":0},\"processes\":{\"type\":\"array\","
	"\"items\":{\"$ref\":\"#/components/schemas/Process\"}}},\"required\":[\"matched\",\"processes\"]},\""
	"Apps\":{\"type\":\"object\",\"properties\":{\"matched\":{\"type\":\"integer\",\"minimum\":0},\"apps\""
	":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\""
	"kind\":{\"type\":\"string\",\"enum\":[\"comm\",\"unit\",\"container\",\"pod\",\"job\"]},"
	"\"namespace\":{\"type\":\"string\"},\"pod\":{\"type\":\"string\"},\"pod_uid\":{\"type\":\"string\"},"
	"\"container_name\":{\"type\":\"string\"},\"runtime\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\"},"
	"\"slice\":{\"type\":\"string\"},\"job_id\":{\"type\":\"string\"},\"job_user\":{\"type\":\"string\"},"
	"\"container_id\":{\"type\":\"string\"},"
	"\"live_processes\":{"
	"\"type\":\"integer\",\"minimum\":0},\"cpu_ns\":{\"type\":\"integer\",\"minimum\":0},\"energy_uj\":{\""
	"type\":\"integer\",\"minimum\":0},\"cpu_energy_uj\":{\"type\":\"integer\",\"minimum\":0},\"memory_en"
	"ergy_uj\":{\"type\":\"integer\",\"minimum\":0},\"carbon_ug\":{\"type\":\"integer\",\"minimum\":0},\""
	"embodied_ug\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"name\",\"kind\",\"live_processes"
	"\",\"cpu_ns\",\"energy_uj\",\"cpu_energy_uj\",\"memory_energy_uj\",\"carbon_ug\",\"embodied_ug\"]}}}"
	",\"required\":[\"matched\",\"apps\"]},\"Energy\":{\"type\":\"object\",\"properties\":{\"window_s\":{"
	"\"type\":\"integer\",\"minimum\":0},\"step_s\":{\"type\":\"integer\",\"minimum\":0},\"group\":{\"typ"
	"e\":\"string\"},\"energy_unit\":{\"type\":\"string\",\"enum\":[\"J\"]},\"carbon_unit\":{\"type\":\"s"
	"tring\",\"enum\":[\"gCO2e\"]},\"time_points\":{\"type\":\"array\",\"items\":{\"type\":\"integer\",\""
	"minimum\":0}},\"energy_consumed\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},\"cpu_energy\""
	":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},\"memory_energy\":{\"type\":\"array\",\"items\""
	":{\"type\":\"number\"}},\"carbon_operational\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
	"\"carbon_embodied\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},\"carbon_emitted\":{\"type\""
	":\"array\",\"items\":{\"type\":\"number\"}},\"totals\":{\"type\":\"object\",\"properties\":{\"energy"
	"_consumed\":{\"type\":\"number\"},\"cpu_energy\":{\"type\":\"number\"},\"memory_energy\":{\"type\":\""
	"number\"},\"carbon_operational\":{\"type\":\"number\"},\"carbon_embodied\":{\"type\":\"number\"},\"c"
	"arbon_emitted\":{\"type\":\"number\"}},\"required\":[\"energy_consumed\",\"cpu_energy\",\"memory_ene"
	"rgy\",\"carbon_operational\",\"carbon_embodied\",\"carbon_emitted\"]},\"processes\":{\"type\":\"arra"
	"y\",\"items\":{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\",\"minimum\":0},\"co"
	"mm\":{\"type\":\"string\"},\"group\":{\"type\":\"string\"},\"energy_consumed\":{\"type\":\"array\",\""
	"items\":{\"type\":\"number\"}},\"cpu_energy\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},\""
	"memory_energy\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},\"carbon_operational\":{\"type\""
	":\"array\",\"items\":{\"type\":\"number\"}},\"carbon_embodied\":{\"type\":\"array\",\"items\":{\"typ"
	"e\":\"number\"}},\"carbon_emitted\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},\"totals\":"
	"{\"type\":\"object\",\"properties\":{\"energy_consumed\":{\"type\":\"number\"},\"cpu_energy\":{\"typ"
	"e\":\"number\"},\"memory_energy\":{\"type\":\"number\"},\"carbon_operational\":{\"type\":\"number\"}"
	",\"carbon_embodied\":{\"type\":\"number\"},\"carbon_emitted\":{\"type\":\"number\"}},\"required\":[\""
	"energy_consumed\",\"cpu_energy\",\"memory_energy\",\"carbon_operational\",\"carbon_embodied\",\"carb"
	"on_emitted\"]}},\"required\":[\"pid\",\"comm\",\"group\",\"energy_consumed\",\"cpu_energy\",\"memory"
	"_energy\",\"carbon_operational\",\"carbon_embodied\",\"carbon_emitted\",\"totals\"]}}},\"required\":"
	"[\"window_s\",\"step_s\",\"energy_unit\",\"carbon_unit\",\"time_points\",\"energy_consumed\",\"cpu_e"
	"nergy\",\"memory_energy\",\"carbon_operational\",\"carbon_embodied\",\"carbon_emitted\",\"totals\"]}"
	",\"Status\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"}},\"required\":[\"s"
	"tatus\"]},\"IntensityPut\":{\"type\":\"object\",\"properties\":{\"g_per_kwh\":{\"type\":\"number\",\""
	"minimum\":0,\"maximum\":10000}},\"required\":[\"g_per_kwh\"]},\"IntensityPushed\":{\"type\":\"object"
	"\",\"properties\":{\"g_per_kwh\":{\"type\":\"number\"},\"kind\":{\"type\":\"string\"},\"from\":{\"ty"
	"pe\":\"string\"}},\"required\":[\"g_per_kwh\",\"kind\",\"from\"]}}}}";

static enum MHD_Result arg_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct req *rq = cls;

	rq->status = http_param(&rq->p, key, value, rq->err, sizeof(rq->err));
	return rq->status ? MHD_NO : MHD_YES;
}

static enum MHD_Result dispatch(struct http_server *h, struct MHD_Connection *c, struct req *rq)
{
	switch (rq->p.route) {
	case R_METRICS:
		return h_metrics(h, c);
	case R_HEALTHZ:
		return queue(h, c, 200, "application/json", (char *)"{\"status\":\"ok\"}", 15, MHD_RESPMEM_PERSISTENT,
			     NULL);
	case R_READYZ:
		if (!h->st->ready)
			return queue_error(h, c, 503, "not ready: no complete sample yet", NULL);
		return queue(h, c, 200, "application/json", (char *)"{\"status\":\"ready\"}", 18,
			     MHD_RESPMEM_PERSISTENT, NULL);
	case R_OPENAPI:
		return queue(h, c, 200, "application/json", (char *)openapi_json, strlen(openapi_json),
			     MHD_RESPMEM_PERSISTENT, NULL);
	case R_HOST:
		return queue_json(h, c, 200, host_json(h));
	case R_PROCESSES:
		return h_processes(h, c, rq);
	case R_PROCESS:
		return h_process(h, c, rq);
	case R_APPS:
		return h_apps(h, c, rq);
	case R_ENERGY:
		return h_energy(h, c, rq);
	case R_SAMPLES_CSV:
		return h_samples_csv(h, c, rq);
	case R_STREAM:
		return h_stream(h, c);
	case R_INTENSITY:
		return h_intensity(h, c, rq);
	default:
		return queue_error(h, c, 404, "not found", NULL);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *h = cls;
	struct req *rq = *con_cls;

	if (!rq) {
		const char *allow = NULL, *cl;
		int r;

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		atomic_fetch_add(&h->requests, 1);
		r = http_route(method, url, &rq->p, &allow);
		/* Errors known from the request line and headers are answered at once, before any body is read. */
		if (r == 405) {
			snprintf(rq->err, sizeof(rq->err), "method %.16s not allowed on %.128s", method, url);
			return queue_error(h, c, 405, rq->err, allow);
		}
		if (r == 404) {
			snprintf(rq->err, sizeof(rq->err), "no such path: %.128s", url);
			return queue_error(h, c, 404, rq->err, NULL);
		}
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_iter, rq);
		if (!rq->status)
			rq->status = http_params_check(&rq->p, rq->err, sizeof(rq->err));
		if (rq->status)
			return queue_error(h, c, (unsigned)rq->status, rq->err, NULL);
		if (rq->p.route == R_INTENSITY && !token_ok(h, c))
			return queue_error(h, c, 401,
					   h->token ? "missing or wrong bearer token"
						    : "no API token configured (--api-token-file)",
					   NULL);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			uint64_t n;

			if (parse_u64(cl, &n) || n > MAX_BODY) {
				snprintf(rq->err, sizeof(rq->err), "request body over %d bytes", MAX_BODY);
				return queue_error(h, c, 413, rq->err, NULL);
			}
		}
		return MHD_YES;
	}
	if (*upload_size) {
		/* chunked bodies have no length up front: keep counting, answer 413 at the end */
		if (rq->body_len + *upload_size > MAX_BODY)
			rq->too_big = true;
		else if (rq->p.route == R_INTENSITY)
			memcpy(rq->body + rq->body_len, upload, *upload_size);
		rq->body_len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big) {
		snprintf(rq->err, sizeof(rq->err), "request body over %d bytes", MAX_BODY);
		return queue_error(h, c, 413, rq->err, NULL);
	}
	if (rq->p.route == R_INTENSITY && rq->body_len > MAX_BODY)
		rq->body_len = MAX_BODY;
	return dispatch(h, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	if (log_level < LOG_LVL_DEBUG)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

/* Create, bind, chmod and chown the Unix socket; it never exists with a wider mode than asked. */
static int unix_listen(const char *path, uint32_t mode, const char *group)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat stt;
	char dir[sizeof(a.sun_path)], *slash;
	int fd, err;

	if (strlen(path) >= sizeof(a.sun_path)) {
		log_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			err = -errno;
			log_err("failed to create %s: %s", dir, strerror(-err));
			return err;
		}
	}
	/* a stale socket from a previous run; anything that is not a socket is left alone */
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode)) {
			log_err("refusing to replace %s: not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		log_err("failed to create unix socket: %s", strerror(-err));
		return err;
	}
	/*
	 * Linux creates the socket file with the socket inode's mode minus the
	 * umask, so narrowing that inode first gives at most 0600 without
	 * touching the process-wide umask (the ledger thread creates files).
	 */
	if (fchmod(fd, 0600)) {
		err = -errno;
		log_err("failed to restrict unix socket %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	err = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	if (err) {
		log_err("failed to bind %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	if (group && group[0]) {
		struct group *gr = getgrnam(group);

		if (!gr)
			log_warn("group '%s' does not exist: %s keeps group %u", group, path, (unsigned)getegid());
		else if (chown(path, (uid_t)-1, gr->gr_gid))
			log_warn("failed to give %s to group %s: %s", path, group, strerror(errno));
	}
	if (chmod(path, (mode_t)(mode & 07777)) || listen(fd, 128)) {
		err = -errno;
		log_err("failed to set up %s: %s", path, strerror(-err));
		close(fd);
		unlink(path);
		return err;
	}
	return fd;
}

static struct MHD_Daemon *start_mhd(struct http_server *h, unsigned flags, unsigned threads, int fd,
				    const struct sockaddr *sa, bool per_ip)
{
	struct MHD_OptionItem opts[] = {
		/* first, so that complaints about later options go through it too */
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY_LIMIT, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
		{ fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR, fd >= 0 ? fd : 0, (void *)sa },
		/* per-IP limits mean nothing on a Unix socket (no address) */
		{ per_ip ? MHD_OPTION_PER_IP_CONNECTION_LIMIT : MHD_OPTION_END, CONN_LIMIT_PER_IP, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

int http_start(struct http_server **out, const struct http_cfg *cfg, struct http_state *st, char *bound,
	       size_t boundlen)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned threads = cfg->threads ? cfg->threads : 2;
	struct http_server *h = calloc(1, sizeof(*h));
	int err = 0;

	if (!h)
		return -ENOMEM;
	if (sodium_init() < 0) {
		free(h);
		return -EIO;
	}
	pthread_mutex_init(&h->sse_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->hb_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	h->st = st;
	h->version = strdup(cfg->version ? cfg->version : "unknown");
	if (cfg->api_token && cfg->api_token[0]) {
		h->token = strdup(cfg->api_token);
		h->token_len = strlen(cfg->api_token);
	}
	if (bound && boundlen)
		bound[0] = '\0';
	if (cfg->listen && cfg->listen[0]) {
		struct sockaddr_storage ss;
		socklen_t len;
		const union MHD_DaemonInfo *di;
		char host[INET6_ADDRSTRLEN];

		if (netaddr_parse_listen(cfg->listen, &ss, &len)) {
			log_err("invalid listen address '%s' (expected ADDR:PORT or [ADDR]:PORT)", cfg->listen);
			err = -EINVAL;
			goto fail;
		}
		h->tcp = start_mhd(h, flags | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), threads, -1,
				   (struct sockaddr *)&ss, true);
		if (!h->tcp) {
			err = -EADDRINUSE;
			log_err("failed to listen on %s (address in use or not available)", cfg->listen);
			goto fail;
		}
		di = MHD_get_daemon_info(h->tcp, MHD_DAEMON_INFO_BIND_PORT);
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		if (bound && boundlen)
			snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
				 di ? (unsigned)di->port : 0);
	}
	if (cfg->socket_path && cfg->socket_path[0]) {
		int fd = unix_listen(cfg->socket_path, cfg->socket_mode ? cfg->socket_mode : 0660, cfg->socket_group);

		if (fd < 0) {
			err = fd;
			goto fail;
		}
		h->socket_path = strdup(cfg->socket_path);
		/* one polling thread (no pool) is plenty for local clients */
		h->unix_d = start_mhd(h, flags, 0, fd, NULL, false);
		if (!h->unix_d) {
			close(fd);
			log_err("failed to serve on %s", cfg->socket_path);
			err = -EIO;
			goto fail;
		}
	}
	if (!h->tcp && !h->unix_d) {
		log_err("nothing to serve on: both --listen and --socket are empty");
		err = -EINVAL;
		goto fail;
	}
	err = -pthread_create(&h->hb_thread, NULL, heartbeat_main, h);
	if (err) {
		log_err("failed to start the stream heartbeat thread: %s", strerror(-err));
		goto fail;
	}
	h->hb_running = true;
	*out = h;
	return 0;
fail:
	http_stop(h);
	return err;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	/* parked streams must be resumed before MHD_stop_daemon (API rule); they then end */
	pthread_mutex_lock(&h->sse_lock);
	h->stopping = true;
	pthread_cond_signal(&h->hb_cond);
	pthread_mutex_unlock(&h->sse_lock);
	if (h->hb_running)
		pthread_join(h->hb_thread, NULL);
	http_notify_sample(h);
	if (h->tcp)
		MHD_stop_daemon(h->tcp);
	if (h->unix_d)
		MHD_stop_daemon(h->unix_d);
	if (h->socket_path)
		unlink(h->socket_path);
	if (h->token)
		sodium_memzero(h->token, h->token_len);
	free(h->token);
	free(h->socket_path);
	free(h->version);
	pthread_cond_destroy(&h->hb_cond);
	pthread_mutex_destroy(&h->sse_lock);
	free(h);
}
