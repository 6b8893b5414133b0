// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The energy-span endpoints over the Unix socket: who asks comes from SO_PEERCRED, never from the request; spans valued from the process's own CPU clock. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "joule/carbon.h"
#include "joule/cgroupfs.h"
#include "joule/http_query.h"
#include "joule/spans_http.h"
#include "joule/util.h"

bool spans_process_cpu_ns(uint32_t pid, uint64_t *cpu_ns)
{
	struct timespec ts;
	clockid_t clk;

	/*
	 * The process CPU clock is the sum of sum_exec_runtime over its threads,
	 * exited ones included, up to this instant: the clock the tracer
	 * charges from, read in one syscall (task/N/schedstat would lose the
	 * threads that already ended).
	 */
	if (clock_getcpuclockid((pid_t)pid, &clk) || clock_gettime(clk, &ts))
		return false;
	*cpu_ns = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
	return true;
}

static bool cum_cb(void *ctx, uint32_t pid, uint64_t *cum_ns)
{
	return spans_process_cpu_ns(pid, cum_ns);
}

static int members_cb(void *ctx, const char *cgroup, uint32_t **pids, size_t *n)
{
	return cgroupfs_pids(cgroup, SPAN_TREE_MAX, pids, n);
}

static const struct span_io span_io = { .cum = cum_cb, .members = members_cb };

void spans_http_tick(struct span_table *t, const struct sample *s)
{
	span_tick(t, s, &span_io);
}

void spans_http_stop(struct span_table *t)
{
	uint64_t real = now_real_ns();

	span_close_all(t, &span_io, now_mono_ns(), real);
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	cJSON_AddNumberToObject(o, k, (double)v);
}

cJSON *spans_http_json(const struct span *sp, struct carbon_ctx *carbon)
{
	cJSON *o = cJSON_CreateObject(), *ci;
	uint64_t end_mono = sp->close_mono_ns ? sp->close_mono_ns : sp->valued_mono_ns;
	uint64_t energy = sample_totals_energy_uj(&sp->tot);
	char ts[40];

	if (!o)
		return NULL;
	add_u64(o, "id", sp->id);
	cJSON_AddStringToObject(o, "name", sp->name);
	cJSON_AddStringToObject(o, "scope", span_scope_name(sp->scope));
	if (sp->scope == SPAN_SCOPE_CGROUP)
		cJSON_AddStringToObject(o, "cgroup", sp->cgroup);
	cJSON_AddStringToObject(o, "state", span_state_name(sp->state));
	add_u64(o, "pid", sp->pid);
	add_u64(o, "uid", sp->uid);
	format_rfc3339(sp->open_real_ns, ts, sizeof(ts));
	cJSON_AddStringToObject(o, "start", ts);
	if (sp->close_real_ns) {
		format_rfc3339(sp->close_real_ns, ts, sizeof(ts));
		cJSON_AddStringToObject(o, "end", ts);
	}
	add_u64(o, "wall_ns", end_mono > sp->open_mono_ns ? end_mono - sp->open_mono_ns : 0);
	add_u64(o, "cpu_ns", sp->tot.cpu_ns);
	add_u64(o, "energy_uj", energy);
	add_u64(o, "cpu_energy_uj", sp->tot.cpu_uj);
	add_u64(o, "memory_energy_uj", sp->tot.mem_uj);
	add_u64(o, "carbon_ug", sp->tot.carbon_ug);
	add_u64(o, "carbon_operational_ug", sp->tot.operational_ug);
	add_u64(o, "carbon_embodied_ug", sp->tot.embodied_ug);
	if (carbon) {
		struct carbon_estimate e;

		carbon_interval(carbon, sp->tot.carbon_ug, sp->energy_rel_sd, sp->intensity_rel_sd, &e);
		ci = cJSON_AddArrayToObject(o, "carbon_ci_ug");
		if (ci) {
			cJSON_AddItemToArray(ci, cJSON_CreateNumber((double)e.lo_ug));
			cJSON_AddItemToArray(ci, cJSON_CreateNumber((double)e.hi_ug));
		}
	}
	add_u64(o, "host_energy_uj", sp->host_uj);
	cJSON_AddNumberToObject(o, "host_share", sp->host_uj ? (double)energy / (double)sp->host_uj : 0.0);
	/* process scope reads the process's clock at both ends; tree scope is valued from ticks */
	cJSON_AddStringToObject(o, "cpu_clock", sp->scope == SPAN_SCOPE_PROCESS ? "process" : "tick");
	return o;
}

static unsigned fail(struct http_reply *out, unsigned status, const char *fmt, const char *arg)
{
	out->status = status;
	snprintf(out->err, sizeof(out->err), fmt, arg ? arg : "");
	return status;
}

static unsigned reply(struct http_reply *out, unsigned status, cJSON *o)
{
	char *txt = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (!txt)
		return fail(out, 500, "out of memory%s", NULL);
	out->status = status;
	out->content_type = "application/json";
	out->body = txt;
	out->len = strlen(txt);
	return status;
}

/* {"name": "...", "scope": "process"|"tree"|"cgroup", "pid": N}: every member checked, none unknown. */
static unsigned parse_open(const struct spans_request *rq, char *name, size_t namelen, enum span_scope *scope,
			   uint32_t *pid, struct http_reply *out)
{
	cJSON *o = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->body_len), *it;
	unsigned st = 0;

	*scope = SPAN_SCOPE_PROCESS;
	*pid = rq->peer_pid;
	name[0] = '\0';
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return fail(out, 400, "expected a JSON object such as {\"name\":\"training_step\"}%s", NULL);
	}
	cJSON_ArrayForEach(it, o) {
		if (!strcmp(it->string, "name") && cJSON_IsString(it)) {
			if (span_name_check(it->valuestring, out->err, sizeof(out->err)))
				st = 400;
			else
				snprintf(name, namelen, "%s", it->valuestring);
		} else if (!strcmp(it->string, "scope") && cJSON_IsString(it)) {
			if (span_scope_parse(it->valuestring, scope))
				st = fail(out, 400, "scope must be process, tree or cgroup, not '%.32s'", it->valuestring);
		} else if (!strcmp(it->string, "pid") && cJSON_IsNumber(it)) {
			if (it->valuedouble < 1 || it->valuedouble > 4194304 || it->valuedouble != (double)(int)it->valuedouble)
				st = fail(out, 400, "pid must be a process id%s", NULL);
			else
				*pid = (uint32_t)it->valuedouble;
		} else {
			st = fail(out, 400, "unknown or mistyped member '%.64s' (name: string, scope: string, pid: integer)",
				  it->string);
		}
		if (st)
			break;
	}
	cJSON_Delete(o);
	if (!st && !name[0])
		st = fail(out, 400, "missing member 'name'%s", NULL);
	if (st)
		out->status = st;
	return st;
}

static unsigned h_open(struct span_table *t, struct carbon_ctx *carbon, const struct spans_request *rq,
		       struct http_reply *out)
{
	struct span_open_req r = { 0 };
	char name[SPAN_NAME_MAX + 1], cgroup[SPAN_CGROUP_MAX];
	uint32_t *pids = NULL;
	struct span sp;
	uint64_t id;
	int err;

	if (parse_open(rq, name, sizeof(name), &r.scope, &r.pid, out))
		return out->status;
	/* a peer measures itself; only root may name another process */
	if (r.pid != rq->peer_pid && rq->peer_uid != 0) {
		char msg[64];

		snprintf(msg, sizeof(msg), "%u", r.pid);
		return fail(out, 403, "only root may open a span on another process (pid %s)", msg);
	}
	r.name = name;
	r.uid = rq->peer_uid;
	/* read the clock last, so the span starts as close to the answer as possible */
	r.real_ns = now_real_ns();
	r.mono_ns = now_mono_ns();
	if (!spans_process_cpu_ns(r.pid, &r.cum_ns)) {
		char msg[32];

		snprintf(msg, sizeof(msg), "%u", r.pid);
		return fail(out, 404, "no process %s", msg);
	}
	if (r.scope == SPAN_SCOPE_CGROUP) {
		/* the cgroup the process is in now, and its processes now: the span counts them from this instant */
		err = cgroupfs_process_path(r.pid, cgroup, sizeof(cgroup));
		if (!err)
			err = cgroupfs_pids(cgroup, SPAN_TREE_MAX, &pids, &r.nchildren);
		if (err == -EOPNOTSUPP)
			return fail(out, 400, "scope cgroup needs the cgroup v2 (unified) hierarchy, which this host has not%s",
				    NULL);
		if (err == -ENAMETOOLONG)
			return fail(out, 400, "the process's cgroup path is too long for a span%s", NULL);
		if (err)
			return fail(out, err == -ENOMEM ? 500 : 404, "cannot read the process's cgroup: %s", strerror(-err));
		r.cgroup = cgroup;
		r.children = pids;
	}
	err = span_open(t, &r, &id);
	free(pids);
	if (err == -EDQUOT) {
		char msg[32];

		snprintf(msg, sizeof(msg), "%d", SPAN_MAX_PER_UID);
		return fail(out, 429, "too many open spans for this user (at most %s): close some first", msg);
	}
	if (err == -ENOSPC)
		return fail(out, 429, "too many open spans on this host; retry later%s", NULL);
	if (err)
		return fail(out, 500, "failed to open the span%s", NULL);
	if (span_get(t, id, rq->peer_uid, &sp))
		return fail(out, 500, "span vanished%s", NULL);
	return reply(out, 201, spans_http_json(&sp, carbon));
}

static unsigned h_close(struct span_table *t, struct carbon_ctx *carbon, const struct spans_request *rq,
			struct http_reply *out)
{
	uint64_t cum = 0, mono, real;
	struct span sp;
	bool ok;
	char msg[32];

	snprintf(msg, sizeof(msg), "%llu", (unsigned long long)rq->id);
	if (span_get(t, rq->id, rq->peer_uid, &sp))
		return fail(out, 404, "no open span %s of this user", msg);
	real = now_real_ns();
	ok = sp.scope != SPAN_SCOPE_PROCESS || spans_process_cpu_ns(sp.pid, &cum);
	mono = now_mono_ns();
	if (span_close(t, rq->id, rq->peer_uid, cum, ok, mono, real, &sp))
		return fail(out, 404, "no open span %s of this user", msg);
	return reply(out, 200, spans_http_json(&sp, carbon));
}

static unsigned h_list(struct span_table *t, struct carbon_ctx *carbon, const struct spans_request *rq,
		       struct http_reply *out)
{
	/* a user has at most SPAN_MAX_PER_UID open; root sees them all */
	size_t max = rq->peer_uid ? SPAN_MAX_PER_UID : SPAN_MAX_OPEN;
	struct span *v = calloc(max, sizeof(*v));
	cJSON *o = cJSON_CreateObject(), *a = o ? cJSON_AddArrayToObject(o, "spans") : NULL;
	size_t n;

	if (!v || !a) {
		free(v);
		cJSON_Delete(o);
		return fail(out, 500, "out of memory%s", NULL);
	}
	n = span_list(t, rq->peer_uid, v, max);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, spans_http_json(&v[i], carbon));
	free(v);
	return reply(out, 200, o);
}

unsigned spans_http_answer(struct span_table *t, struct carbon_ctx *carbon, const struct spans_request *rq,
			   struct http_reply *out)
{
	memset(out, 0, sizeof(*out));
	if (!rq->peer_known)
		return fail(out, 403, "spans are served only on the Unix socket, where the peer's credentials are known%s",
			    NULL);
	if (!t)
		return fail(out, 503, "spans are not available%s", NULL);
	if (rq->route == R_SPAN)
		return h_close(t, carbon, rq, out);
	if (!strcmp(rq->method, "POST"))
		return h_open(t, carbon, rq, out);
	return h_list(t, carbon, rq, out);
}
