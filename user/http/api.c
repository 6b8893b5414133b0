// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP API's answers built from the store: host, processes, apps, energy series and samples CSV. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "joule/carbon.h"
#include "joule/http_api.h"
#include "joule/procinfo.h"
#include "joule/store.h"
#include "joule/util.h"

#define CSV_LINE_MAX 256
#define BREAKDOWN_MAX 100	/* processes in one breakdown answer, largest energy first */

void http_disclose(const struct http_viewer *v, uint32_t owner_uid, bool proc_hidden, struct http_disclosure *out)
{
	bool full = v->kind == HTTP_VIEWER_TRUSTED ||
		    (v->kind == HTTP_VIEWER_UID && (v->uid == 0 || (owner_uid != UINT32_MAX && v->uid == owner_uid)));

	out->exe = full;
	out->cmdline = full || (v->kind == HTTP_VIEWER_UID && !proc_hidden);
	out->cgroup = full || !proc_hidden;
}

/* Whether /proc is mounted with hidepid (other users' /proc/PID unreadable); read once. */
static bool proc_hidden(void)
{
	static atomic_int cached = -1;
	int v = atomic_load(&cached);

	if (v < 0) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[1024];

		v = 0;
		while (f && fgets(line, sizeof(line), f)) {
			/* "... /proc ... - proc proc rw,hidepid=invisible" (hidepid=0/off shows everything) */
			char *mp = strchr(line, ' '), *opt = strstr(line, " - proc ");

			for (int i = 0; mp && i < 3; i++)
				mp = strchr(mp + 1, ' ');
			if (!mp || strncmp(mp, " /proc ", 7) != 0 || !opt)
				continue;
			opt = strstr(opt, "hidepid=");
			if (opt && strncmp(opt, "hidepid=0", 9) != 0 && strncmp(opt, "hidepid=off", 11) != 0)
				v = 1;
		}
		if (f)
			fclose(f);
		atomic_store(&cached, v);
	}
	return v == 1;
}

static unsigned reply_error(struct http_reply *out, unsigned status, const char *msg)
{
	out->status = status;
	snprintf(out->err, sizeof(out->err), "%s", msg);
	return status;
}

static unsigned reply_body(struct http_reply *out, const char *ctype, char *body, size_t len)
{
	out->status = 200;
	out->content_type = ctype;
	out->body = body;
	out->len = len;
	return 200;
}

static unsigned reply_json(struct http_reply *out, cJSON *o)
{
	char *txt = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (!txt)
		return reply_error(out, 500, "out of memory");
	return reply_body(out, "application/json", txt, strlen(txt));
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_totals(cJSON *o, const struct sample_totals *t)
{
	add_u64(o, "cpu_ns", t->cpu_ns);
	add_u64(o, "energy_uj", t->cpu_uj + t->mem_uj);
	add_u64(o, "cpu_energy_uj", t->cpu_uj);
	add_u64(o, "memory_energy_uj", t->mem_uj);
	add_u64(o, "gpu_energy_uj", t->gpu_uj);
	add_u64(o, "carbon_ug", t->carbon_ug);
	add_u64(o, "carbon_operational_ug", t->operational_ug);
	add_u64(o, "carbon_embodied_ug", t->embodied_ug);
	add_u64(o, "embodied_ug", t->embodied_ug); /* the name before carbon_embodied_ug; kept for readers of it */
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

static cJSON *host_json(const struct http_api_ctx *x)
{
	struct store_host hs;
	struct carbon_intensity ci = { 0 };
	cJSON *o = cJSON_CreateObject(), *t, *dom, *arr;
	uint64_t now = now_real_ns();

	store_rdlock(x->store);
	store_get_host(x->store, &hs);
	store_unlock(x->store);
	if (x->carbon)
		carbon_intensity_at(x->carbon, now, &ci);
	else
		ci = hs.intensity;
	cJSON_AddStringToObject(o, "version", x->version);
	add_time(o, "start_time", x->start_real_ns);
	cJSON_AddNumberToObject(o, "uptime_s", (double)(now - x->start_real_ns) / 1e9);
	/* the page reads joule's own overhead as this process's entry */
	add_u64(o, "pid", (uint64_t)getpid());
	cJSON_AddBoolToObject(o, "ready", x->ready);
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
	cJSON_AddItemToObject(o, "intensity", intensity_json(&ci, x->carbon ? carbon_pue(x->carbon) : hs.pue));
	t = cJSON_AddObjectToObject(o, "totals");
	add_u64(t, "energy_uj", hs.cpu_uj + hs.mem_uj);
	add_u64(t, "cpu_energy_uj", hs.cpu_uj);
	add_u64(t, "memory_energy_uj", hs.mem_uj);
	add_u64(t, "gpu_energy_uj", hs.gpu_uj);
	add_u64(t, "carbon_ug", hs.carbon_ug);
	add_u64(t, "carbon_operational_ug", hs.operational_ug);
	add_u64(t, "carbon_embodied_ug", hs.embodied_ug);
	add_u64(t, "embodied_ug", hs.embodied_ug);
	dom = cJSON_AddObjectToObject(t, "domains_uj");
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		if (hs.domains & (1u << d))
			add_u64(dom, energy_domain_name((enum energy_domain)d), hs.domain_uj[d]);
	if (hs.ngpu) {
		add_u64(dom, "gpu", hs.gpu_uj);
		arr = cJSON_AddArrayToObject(o, "gpus");
		for (int g = 0; g < hs.ngpu; g++) {
			cJSON *j = cJSON_CreateObject();

			add_u64(j, "index", hs.gpus[g].index);
			cJSON_AddStringToObject(j, "uuid", hs.gpus[g].uuid);
			cJSON_AddStringToObject(j, "name", hs.gpus[g].name);
			add_u64(j, "energy_uj", hs.gpus[g].energy_uj);
			add_u64(j, "idle_energy_uj", hs.gpus[g].idle_uj);
			cJSON_AddStringToObject(j, "energy_source", hs.gpus[g].has_counter ? "energy_counter" : "power_integrated");
			cJSON_AddStringToObject(j, "status", hs.gpus[g].lost ? "lost" : "ok");
			cJSON_AddItemToArray(arr, j);
		}
	}
	add_totals(cJSON_AddObjectToObject(o, "idle"), &hs.idle);
	add_totals(cJSON_AddObjectToObject(o, "overflow"), &hs.overflow);
	add_totals(cJSON_AddObjectToObject(o, "other"), &hs.other);
	/* the CPUs' time: busy + idle + unaccounted == clock, exactly (unaccounted may be negative) */
	t = cJSON_AddObjectToObject(o, "cpu");
	add_u64(t, "clock_ns", hs.cpu_clock_ns);
	add_u64(t, "busy_ns", hs.cpu_clock_ns - hs.idle.cpu_ns - (uint64_t)hs.cpu_unaccounted_ns);
	add_u64(t, "idle_ns", hs.idle.cpu_ns);
	cJSON_AddNumberToObject(t, "unaccounted_ns", (double)hs.cpu_unaccounted_ns);
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
	add_identity(o, &p->labels);
	cJSON_AddStringToObject(o, "container", p->labels.container);
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
	if (array_reserve(&k->v, &k->cap, k->n + 1, sizeof(*k->v), 256)) {
		k->oom = true;
		return 1;
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

static unsigned a_processes(const struct http_api_ctx *x, const struct http_request_params *p, struct http_reply *out)
{
	struct proc_pick k = { .p = p };
	struct store_host hs;
	enum http_sort key = p->sort;
	cJSON *o, *arr;

	store_rdlock(x->store);
	store_get_host(x->store, &hs);
	store_foreach_proc(x->store, pick_proc, &k);
	store_unlock(x->store);
	if (k.oom) {
		free(k.v);
		return reply_error(out, 500, "out of memory");
	}
	/* qsort_r(NULL, 0) is undefined (glibc declares it nonnull) */
	if (k.n)
		qsort_r(k.v, k.n, sizeof(*k.v), cmp_proc, &key);
	o = cJSON_CreateObject();
	add_u64(o, "matched", k.n);
	arr = cJSON_AddArrayToObject(o, "processes");
	for (size_t i = 0; i < k.n && i < p->limit; i++)
		cJSON_AddItemToArray(arr, proc_json(&k.v[i], hs.cpu_uj + hs.mem_uj));
	free(k.v);
	return reply_json(out, o);
}

static unsigned a_process(const struct http_api_ctx *x, const struct http_request_params *p, struct http_reply *out)
{
	const struct store_proc *sp;
	struct store_proc copy;
	struct store_host hs;
	struct procinfo pi;
	cJSON *o;
	char msg[64];

	store_rdlock(x->store);
	store_get_host(x->store, &hs);
	sp = store_find_proc(x->store, p->pid);
	if (sp)
		copy = *sp;
	store_unlock(x->store);
	if (!sp) {
		snprintf(msg, sizeof(msg), "no process %u in the store", p->pid);
		return reply_error(out, 404, msg);
	}
	o = proc_json(&copy, hs.cpu_uj + hs.mem_uj);
	/* exe, cmdline and cgroup only while the same process still runs, and only what /proc would show the viewer */
	if (!copy.exited && procinfo_read(NULL, copy.pid, &pi) == 0 && strcmp(pi.comm, copy.comm) == 0) {
		struct http_disclosure d;

		http_disclose(&x->viewer, pi.labels.uid, proc_hidden(), &d);
		if (d.exe)
			cJSON_AddStringToObject(o, "exe", pi.exe);
		if (d.cmdline)
			cJSON_AddStringToObject(o, "cmdline", pi.cmdline);
		if (d.cgroup)
			cJSON_AddStringToObject(o, "cgroup", pi.cgroup);
	}
	return reply_json(out, o);
}

struct group_pick {
	struct store_group *v;
	size_t n, cap;
	bool oom;
};

static int pick_group(const struct store_group *g, void *ctx)
{
	struct group_pick *k = ctx;

	if (array_reserve(&k->v, &k->cap, k->n + 1, sizeof(*k->v), 128)) {
		k->oom = true;
		return 1;
	}
	k->v[k->n++] = *g;
	return 0;
}

static int cmp_group_key(const void *a, const void *b)
{
	const struct store_group *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The store keeps one entry per (group, comm); an app is the group: merge its entries (sorted by key). */
static size_t merge_groups(struct store_group *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (o && cmp_group_key(&v[o - 1], &v[i]) == 0) {
			v[o - 1].live += v[i].live;
			v[o - 1].procs += v[i].procs;
			sample_totals_add(&v[o - 1].total, &v[i].total);
			continue;
		}
		v[o++] = v[i];
	}
	return o;
}

static int cmp_group(const void *a, const void *b)
{
	const struct store_group *x = a, *y = b;
	uint64_t ex = x->total.cpu_uj + x->total.mem_uj, ey = y->total.cpu_uj + y->total.mem_uj;

	if (ex != ey)
		return ex > ey ? -1 : 1;
	return strcmp(x->name, y->name);
}

static unsigned a_apps(const struct http_api_ctx *x, const struct http_request_params *p, struct http_reply *out)
{
	struct group_pick k = { 0 };
	cJSON *o, *arr;

	store_rdlock(x->store);
	store_foreach_group(x->store, pick_group, &k);
	store_unlock(x->store);
	if (k.oom) {
		free(k.v);
		return reply_error(out, 500, "out of memory");
	}
	if (k.n) {
		qsort(k.v, k.n, sizeof(*k.v), cmp_group_key);
		k.n = merge_groups(k.v, k.n);
		qsort(k.v, k.n, sizeof(*k.v), cmp_group);
	}
	o = cJSON_CreateObject();
	add_u64(o, "matched", k.n);
	arr = cJSON_AddArrayToObject(o, "apps");
	for (size_t i = 0; i < k.n && i < p->limit; i++) {
		cJSON *g = cJSON_CreateObject();

		cJSON_AddStringToObject(g, "name", k.v[i].name);
		cJSON_AddStringToObject(g, "kind", group_kind_name(k.v[i].kind));
		add_identity(g, &k.v[i].labels);
		add_u64(g, "live_processes", k.v[i].live);
		add_u64(g, "processes", k.v[i].procs);
		add_totals(g, &k.v[i].total);
		cJSON_AddItemToArray(arr, g);
	}
	free(k.v);
	return reply_json(out, o);
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
			(double)p->operational_ug / 1e6, (double)p->embodied_ug / 1e6,
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

static unsigned energy_error(struct http_reply *out, int r, const struct http_request_params *p)
{
	char msg[200];

	if (r == -ENOENT) {
		snprintf(msg, sizeof(msg), "no group '%s'", p->group);
		return reply_error(out, 404, msg);
	}
	snprintf(msg, sizeof(msg),
		 "invalid parameter window: %s keeps %llus at this step (%s needs whole minutes for groups, "
		 "processes and windows over 1h)",
		 p->group[0] || p->breakdown ? "a group" : "the host",
		 (unsigned long long)(store_max_window_ns(p->step_ns, p->group[0] || p->breakdown) / NSEC_PER_SEC),
		 "step");
	return reply_error(out, 400, msg);
}



static unsigned a_energy(const struct http_api_ctx *x, const struct http_request_params *p, struct http_reply *out)
{
	size_t max = HTTP_MAX_STEPS;
	struct store_point *pt = calloc(max, sizeof(*pt));
	struct proc_pick k = { .p = p };
	uint64_t now = now_real_ns();
	cJSON *o = NULL;
	int n;

	if (!pt)
		return reply_error(out, 500, "out of memory");
	store_rdlock(x->store);
	n = store_query(x->store, p->group[0] ? p->group : NULL, 0, now, p->window_ns, p->step_ns, pt, max);
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

		store_foreach_proc(x->store, pick_proc, &k);
		if (k.n)
			qsort_r(k.v, k.n, sizeof(*k.v), cmp_proc, &key);
		for (size_t i = 0, shown = 0; i < k.n && shown < BREAKDOWN_MAX && !k.oom; i++) {
			cJSON *po;
			int m;

			if (!k.v[i].own_series)
				continue;
			m = store_query(x->store, NULL, k.v[i].pid, now, p->window_ns, p->step_ns, pt, max);
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
	store_unlock(x->store);
	free(pt);
	free(k.v);
	if (n < 0) {
		cJSON_Delete(o);
		return energy_error(out, n, p);
	}
	return reply_json(out, o);
}

static unsigned a_samples_csv(const struct http_api_ctx *x, const struct http_request_params *p, struct http_reply *out)
{
	static const char header[] = "seq,time,interval_ns,source,host_cpu_uj,host_memory_uj,host_carbon_ug,"
				     "idle_uj,overflow_uj,tasks,intensity_g_per_kwh\n";
	struct store_recent *v = calloc(p->limit, sizeof(*v));
	size_t n, cap, len;
	char *buf;

	if (!v)
		return reply_error(out, 500, "out of memory");
	store_rdlock(x->store);
	n = store_recent(x->store, v, p->limit);
	store_unlock(x->store);
	cap = sizeof(header) + n * CSV_LINE_MAX;
	buf = malloc(cap);
	if (!buf) {
		free(v);
		return reply_error(out, 500, "out of memory");
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
	return reply_body(out, "text/csv; charset=utf-8", buf, len);
}

bool http_api_handles(enum http_route_id route)
{
	switch (route) {
	case R_HOST:
	case R_PROCESSES:
	case R_PROCESS:
	case R_APPS:
	case R_ENERGY:
	case R_SAMPLES_CSV:
		return true;
	default:
		return false;
	}
}

unsigned http_api_answer(const struct http_api_ctx *x, const struct http_request_params *p, struct http_reply *out)
{
	memset(out, 0, sizeof(*out));
	switch (p->route) {
	case R_HOST:
		return reply_json(out, host_json(x));
	case R_PROCESSES:
		return a_processes(x, p, out);
	case R_PROCESS:
		return a_process(x, p, out);
	case R_APPS:
		return a_apps(x, p, out);
	case R_ENERGY:
		return a_energy(x, p, out);
	case R_SAMPLES_CSV:
		return a_samples_csv(x, p, out);
	default:
		return reply_error(out, 404, "not found");
	}
}
