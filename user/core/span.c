// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Energy spans: the table of open spans, valued tick by tick and at their boundaries from their process's own CPU clock. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/span.h"

struct span_table {
	pthread_mutex_t lock;
	struct span *open;		/* open spans, in order of opening */
	size_t nopen, capopen;
	struct span *done;		/* closed, not yet drained */
	size_t ndone, capdone;
	uint64_t next_id;
	/* the latest tick, for spans that open or close between ticks */
	struct sample_totals host_ref;	/* every task's charge over the recent ticks: the rate of a span with no tick of its own */
	struct sample_totals host_hist[SPAN_RATE_TICKS];
	unsigned host_nhist, host_next;
	uint64_t host_uj, host_wall_ns;	/* host energy of the latest tick and its length: host power for the tail */
	double energy_rel_sd, intensity_rel_sd;
	struct span_metrics m;
};

static const char *const scope_names[SPAN_SCOPE_N] = {
	[SPAN_SCOPE_PROCESS] = "process", [SPAN_SCOPE_TREE] = "tree", [SPAN_SCOPE_CGROUP] = "cgroup",
};
static const char *const state_names[SPAN_STATE_N] = {
	[SPAN_OPEN] = "open", [SPAN_CLOSED] = "closed", [SPAN_EXITED] = "exited", [SPAN_STOPPED] = "stopped",
};

const char *span_scope_name(enum span_scope s)
{
	return (unsigned)s < SPAN_SCOPE_N ? scope_names[s] : "?";
}

int span_scope_parse(const char *s, enum span_scope *out)
{
	for (unsigned i = 0; i < SPAN_SCOPE_N; i++)
		if (s && !strcmp(s, scope_names[i])) {
			*out = (enum span_scope)i;
			return 0;
		}
	return -EINVAL;
}

const char *span_state_name(enum span_state s)
{
	return (unsigned)s < SPAN_STATE_N ? state_names[s] : "?";
}

int span_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SPAN_NAME_MAX) {
		snprintf(err, errlen, "span name must be 1-%d bytes (got %zu)", SPAN_NAME_MAX, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == ':' || c == '-')) {
			snprintf(err, errlen, "span name may hold only A-Z a-z 0-9 _ . : - (byte %zu is 0x%02x)", i,
				 (unsigned char)c);
			return -EINVAL;
		}
	}
	return 0;
}

int span_table_new(struct span_table **out)
{
	struct span_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->next_id = 1;
	snprintf(t->m.other.name, sizeof(t->m.other.name), "_other");
	*out = t;
	return 0;
}

void span_table_free(struct span_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nopen; i++)
		free(t->open[i].members);
	free(t->open);
	free(t->done);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uint64_t muldiv(uint64_t v, uint64_t num, uint64_t den)
{
	return den ? (uint64_t)((unsigned __int128)v * num / den) : 0;
}

void span_value(struct sample_totals *out, const struct sample_totals *ref, uint64_t num, uint64_t den)
{
	out->cpu_ns += muldiv(ref->cpu_ns, num, den);
	out->cpu_uj += muldiv(ref->cpu_uj, num, den);
	out->mem_uj += muldiv(ref->mem_uj, num, den);
	out->operational_ug += muldiv(ref->operational_ug, num, den);
	out->embodied_ug += muldiv(ref->embodied_ug, num, den);
	out->carbon_ug = out->operational_ug + out->embodied_ug;
}

/* A process-scope span's CPU ns, exact, valued at its reference charge's energy per CPU ns. */
static void value_cpu(struct span *sp, uint64_t cpu_ns)
{
	struct sample_totals v = { 0 };

	if (!cpu_ns)
		return;
	span_value(&v, &sp->ref, cpu_ns, sp->ref.cpu_ns);
	v.cpu_ns = cpu_ns;
	sample_totals_add(&sp->tot, &v);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int add_member(struct span *sp, uint32_t pid)
{
	if (sp->nmembers >= SPAN_TREE_MAX || grow((void **)&sp->members, &sp->cap, sp->nmembers + 1, sizeof(uint32_t)))
		return -ENOSPC;
	sp->members[sp->nmembers++] = pid;
	return 0;
}

static bool is_member(const struct span *sp, uint32_t pid)
{
	for (size_t i = 0; i < sp->nmembers; i++)
		if (sp->members[i] == pid)
			return true;
	return false;
}

static int cmp_pid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool in_sorted(const uint32_t *v, size_t n, uint32_t pid)
{
	return n && bsearch(&pid, v, n, sizeof(*v), cmp_pid);
}

/* A cgroup span's members become pids (sorted; taken over). */
static void set_members(struct span *sp, uint32_t *pids, size_t n)
{
	free(sp->members);
	sp->members = pids;
	sp->nmembers = sp->cap = n;
}

int span_open(struct span_table *t, const struct span_open_req *r, uint64_t *id)
{
	struct span *sp;
	char err[128];
	size_t mine = 0;
	int rc = 0;

	if (span_name_check(r->name, err, sizeof(err)))
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nopen; i++)
		mine += t->open[i].uid == r->uid;
	if (mine >= SPAN_MAX_PER_UID)
		rc = -EDQUOT;
	else if (t->nopen >= SPAN_MAX_OPEN)
		rc = -ENOSPC;
	else
		rc = grow((void **)&t->open, &t->capopen, t->nopen + 1, sizeof(*t->open));
	if (rc) {
		t->m.refused++;
		pthread_mutex_unlock(&t->lock);
		return rc;
	}
	sp = &t->open[t->nopen];
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->name, sizeof(sp->name), "%s", r->name);
	sp->scope = r->scope;
	sp->pid = r->pid;
	sp->uid = r->uid;
	sp->open_mono_ns = r->mono_ns;
	sp->open_real_ns = r->real_ns;
	sp->last_cum_ns = r->cum_ns;
	sp->valued_mono_ns = r->mono_ns;
	/* process scope values CPU ns at a rate: the host's until its own tick; a tree's charge per wall ns is unknown until its first tick */
	if (r->scope == SPAN_SCOPE_PROCESS)
		sp->ref = t->host_ref;
	sp->energy_rel_sd = t->energy_rel_sd;
	sp->intensity_rel_sd = t->intensity_rel_sd;
	if (r->scope == SPAN_SCOPE_CGROUP) {
		uint32_t *pids = r->nchildren ? malloc(r->nchildren * sizeof(*pids)) : NULL;

		if (r->nchildren && !pids) {
			pthread_mutex_unlock(&t->lock);
			return -ENOMEM;
		}
		if (r->nchildren) {
			memcpy(pids, r->children, r->nchildren * sizeof(*pids));
			qsort(pids, r->nchildren, sizeof(*pids), cmp_pid);
		}
		set_members(sp, pids, r->nchildren);
		snprintf(sp->cgroup, sizeof(sp->cgroup), "%s", r->cgroup ? r->cgroup : "");
	}
	if (r->scope == SPAN_SCOPE_TREE) {
		rc = add_member(sp, r->pid);
		for (size_t i = 0; !rc && i < r->nchildren; i++)
			rc = add_member(sp, r->children[i]);
		if (rc) {
			free(sp->members);
			pthread_mutex_unlock(&t->lock);
			return -ENOMEM;
		}
	}
	sp->id = t->next_id++;
	*id = sp->id;
	t->nopen++;
	t->m.opened++;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static struct span *find(struct span_table *t, uint64_t id, uint32_t uid)
{
	for (size_t i = 0; i < t->nopen; i++)
		if (t->open[i].id == id && (uid == 0 || t->open[i].uid == uid))
			return &t->open[i];
	return NULL;
}

int span_get(struct span_table *t, uint64_t id, uint32_t uid, struct span *out)
{
	struct span *sp;

	pthread_mutex_lock(&t->lock);
	sp = find(t, id, uid);
	if (sp) {
		*out = *sp;
		out->members = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	return sp ? 0 : -ENOENT;
}

size_t span_list(struct span_table *t, uint32_t uid, struct span *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nopen && n < max; i++)
		if (uid == 0 || t->open[i].uid == uid) {
			out[n] = t->open[i];
			out[n++].members = NULL;
		}
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void count_name(struct span_table *t, const struct span *sp)
{
	struct span_name_total *nt = NULL;

	for (size_t i = 0; i < t->m.n && !nt; i++)
		if (!strcmp(t->m.names[i].name, sp->name))
			nt = &t->m.names[i];
	if (!nt && t->m.n < SPAN_METRIC_NAMES) {
		nt = &t->m.names[t->m.n++];
		snprintf(nt->name, sizeof(nt->name), "%s", sp->name);
	}
	if (!nt)
		nt = &t->m.other;
	nt->count++;
	nt->cpu_ns += sp->tot.cpu_ns;
	nt->energy_uj += sample_totals_energy_uj(&sp->tot);
}

/* Move open[i] to the drain queue as state at mono/real ns. */
static void finish(struct span_table *t, size_t i, enum span_state state, uint64_t mono_ns, uint64_t real_ns,
		   struct span *out)
{
	struct span *sp = &t->open[i];

	sp->state = state;
	sp->close_mono_ns = mono_ns > sp->open_mono_ns ? mono_ns : sp->open_mono_ns;
	sp->close_real_ns = real_ns > sp->open_real_ns ? real_ns : sp->open_real_ns;
	free(sp->members);
	sp->members = NULL;
	sp->nmembers = sp->cap = 0;
	count_name(t, sp);
	if (state == SPAN_EXITED)
		t->m.exited++;
	else
		t->m.closed++;
	if (out)
		*out = *sp;
	/* the queue grows only between two ticks' drains; if memory is short the record is lost, not the daemon */
	if (!grow((void **)&t->done, &t->capdone, t->ndone + 1, sizeof(*t->done)))
		t->done[t->ndone++] = *sp;
	memmove(&t->open[i], &t->open[i + 1], (t->nopen - i - 1) * sizeof(*t->open));
	t->nopen--;
}

/* Host energy over [sp->valued_mono_ns, to] at the latest tick's host power. */
static void value_tail(struct span_table *t, struct span *sp, uint64_t to)
{
	uint64_t tail = to > sp->valued_mono_ns ? to - sp->valued_mono_ns : 0;

	sp->host_uj += muldiv(t->host_uj, tail, t->host_wall_ns);
	if (sp->scope != SPAN_SCOPE_PROCESS)
		span_value(&sp->tot, &sp->ref, tail, sp->ref_wall_ns);
	sp->valued_mono_ns = to > sp->valued_mono_ns ? to : sp->valued_mono_ns;
}

/*
 * Close open[i] as state at mono/real ns: a process-scope span takes its
 * clock's growth up to cum_ns (when cum_ok: the process is still there),
 * every span the tail since its latest tick.
 */
static void close_at(struct span_table *t, size_t i, uint64_t cum_ns, bool cum_ok, uint64_t mono_ns, uint64_t real_ns,
		     enum span_state state, struct span *out)
{
	struct span *sp = &t->open[i];

	if (sp->scope == SPAN_SCOPE_PROCESS && cum_ok && cum_ns > sp->last_cum_ns) {
		value_cpu(sp, cum_ns - sp->last_cum_ns);
		sp->last_cum_ns = cum_ns;
	}
	value_tail(t, sp, mono_ns);
	finish(t, i, state, mono_ns, real_ns, out);
}

int span_close(struct span_table *t, uint64_t id, uint32_t uid, uint64_t cum_ns, bool cum_ok, uint64_t mono_ns,
	       uint64_t real_ns, struct span *out)
{
	struct span *sp;

	pthread_mutex_lock(&t->lock);
	sp = find(t, id, uid);
	if (sp)
		close_at(t, (size_t)(sp - t->open), cum_ns, cum_ok, mono_ns, real_ns,
			 cum_ok ? SPAN_CLOSED : SPAN_EXITED, out);
	pthread_mutex_unlock(&t->lock);
	return sp ? 0 : -ENOENT;
}

/* The wall-time share of tick [a, b] after from: num/den. */
static void overlap(const struct sample *s, uint64_t from, uint64_t *num, uint64_t *den)
{
	uint64_t a = s->mono_start_ns, b = s->mono_end_ns;

	*den = b > a ? b - a : 0;
	*num = b > from ? b - (from > a ? from : a) : 0;
}

/* Push one tick's charge into a ring of SPAN_RATE_TICKS and return the ring's sum in *sum. */
static void ring_push(struct sample_totals *ring, unsigned *n, unsigned *next, const struct sample_totals *v,
		      struct sample_totals *sum)
{
	ring[*next] = *v;
	*next = (*next + 1) % SPAN_RATE_TICKS;
	if (*n < SPAN_RATE_TICKS)
		(*n)++;
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < *n; i++)
		sample_totals_add(sum, &ring[i]);
}

/* Value a tree or cgroup span's share of tick s from sum, its members' charge in s. */
static void value_tick(struct span *sp, const struct sample *s, const struct sample_totals *sum)
{
	uint64_t num, den;

	overlap(s, sp->valued_mono_ns, &num, &den);
	span_value(&sp->tot, sum, num, den);
	sp->host_uj += muldiv(s->host_cpu_uj + s->host_mem_uj, num, den);
	sp->ref = *sum;
	sp->ref_wall_ns = den;
	if (s->mono_end_ns > sp->valued_mono_ns)
		sp->valued_mono_ns = s->mono_end_ns;
}

/* Returns true if the span closed (its process exited in s). */
static bool tick_process(struct span_table *t, size_t i, const struct sample *s, span_cum_fn cum, void *ctx)
{
	struct span *sp = &t->open[i];
	const struct sample_task *task = NULL;
	uint64_t now_cum, num, den;

	for (size_t k = 0; k < s->ntasks && !task; k++)
		if (s->tasks[k].pid == sp->pid)
			task = &s->tasks[k];
	if (task && task->tot.cpu_ns)
		ring_push(sp->hist, &sp->nhist, &sp->hist_next, &task->tot, &sp->ref);
	else if (!sp->nhist)
		sp->ref = t->host_ref;
	overlap(s, sp->valued_mono_ns, &num, &den);
	sp->host_uj += muldiv(s->host_cpu_uj + s->host_mem_uj, num, den);
	if (s->mono_end_ns > sp->valued_mono_ns)
		sp->valued_mono_ns = s->mono_end_ns;
	if (task && task->exited) {
		/* the process's clock is gone with it: its last slice is what the tracer charged, from our last reading on */
		value_cpu(sp, muldiv(task->tot.cpu_ns, num, den));
		finish(t, i, SPAN_EXITED, s->mono_end_ns, s->real_end_ns, NULL);
		return true;
	}
	if (!cum(ctx, sp->pid, &now_cum)) {
		finish(t, i, SPAN_EXITED, s->mono_end_ns, s->real_end_ns, NULL);
		return true;
	}
	if (now_cum > sp->last_cum_ns)
		value_cpu(sp, now_cum - sp->last_cum_ns);
	sp->last_cum_ns = now_cum > sp->last_cum_ns ? now_cum : sp->last_cum_ns;
	return false;
}

static bool tick_tree(struct span_table *t, size_t i, const struct sample *s)
{
	struct span *sp = &t->open[i];
	struct sample_totals sum = { 0 };
	bool added = true, root_exited = false;

	/* a child and its own child can both be new in one tick, listed in any order: repeat until no pid joins */
	for (int pass = 0; added && pass < 8; pass++) {
		added = false;
		for (size_t k = 0; k < s->ntasks; k++)
			if (!is_member(sp, s->tasks[k].pid) && is_member(sp, s->tasks[k].ppid) &&
			    !add_member(sp, s->tasks[k].pid))
				added = true;
	}
	for (size_t k = 0; k < s->ntasks; k++)
		if (is_member(sp, s->tasks[k].pid)) {
			sample_totals_add(&sum, &s->tasks[k].tot);
			root_exited |= s->tasks[k].pid == sp->pid && s->tasks[k].exited;
		}
	value_tick(sp, s, &sum);
	if (root_exited) {
		finish(t, i, SPAN_EXITED, s->mono_end_ns, s->real_end_ns, NULL);
		return true;
	}
	return false;
}

/* Returns true if the span closed (the opener exited in s, or the cgroup is gone). */
static bool tick_cgroup(struct span_table *t, size_t i, const struct sample *s, const struct span_io *io)
{
	struct span *sp = &t->open[i];
	struct sample_totals sum = { 0 };
	uint32_t *now = NULL;
	size_t nnow = 0;
	bool opener_exited = false;
	int rc = io && io->members ? io->members(io->ctx, sp->cgroup, &now, &nnow) : -EAGAIN;

	if (rc == -EAGAIN || (rc && rc != -ENOENT))
		nnow = 0;	/* unread: the members of the previous tick stand */
	if (nnow)
		qsort(now, nnow, sizeof(*now), cmp_pid);
	for (size_t k = 0; k < s->ntasks; k++) {
		uint32_t pid = s->tasks[k].pid;

		if (in_sorted(sp->members, sp->nmembers, pid) || in_sorted(now, nnow, pid))
			sample_totals_add(&sum, &s->tasks[k].tot);
		opener_exited |= pid == sp->pid && s->tasks[k].exited;
	}
	value_tick(sp, s, &sum);
	if (!rc)
		set_members(sp, now, nnow);
	else
		free(now);
	if (opener_exited || rc == -ENOENT) {
		finish(t, i, SPAN_EXITED, s->mono_end_ns, s->real_end_ns, NULL);
		return true;
	}
	return false;
}

void span_tick(struct span_table *t, const struct sample *s, const struct span_io *io)
{
	struct sample_totals all = { 0 };

	for (size_t k = 0; k < s->ntasks; k++)
		sample_totals_add(&all, &s->tasks[k].tot);
	pthread_mutex_lock(&t->lock);
	if (all.cpu_ns)
		ring_push(t->host_hist, &t->host_nhist, &t->host_next, &all, &t->host_ref);
	t->host_uj = s->host_cpu_uj + s->host_mem_uj;
	t->host_wall_ns = s->mono_end_ns > s->mono_start_ns ? s->mono_end_ns - s->mono_start_ns : 0;
	t->energy_rel_sd = s->energy_rel_sd;
	t->intensity_rel_sd = s->intensity.rel_sd;
	for (size_t i = 0; i < t->nopen;) {
		bool gone;

		t->open[i].energy_rel_sd = s->energy_rel_sd;
		t->open[i].intensity_rel_sd = s->intensity.rel_sd;
		switch (t->open[i].scope) {
		case SPAN_SCOPE_TREE:
			gone = tick_tree(t, i, s);
			break;
		case SPAN_SCOPE_CGROUP:
			gone = tick_cgroup(t, i, s, io);
			break;
		default:
			gone = tick_process(t, i, s, io ? io->cum : NULL, io ? io->ctx : NULL);
			break;
		}
		if (!gone)
			i++;
	}
	pthread_mutex_unlock(&t->lock);
}

void span_close_all(struct span_table *t, const struct span_io *io, uint64_t mono_ns, uint64_t real_ns)
{
	pthread_mutex_lock(&t->lock);
	while (t->nopen) {
		uint64_t cum = 0;
		bool ok = t->open[0].scope == SPAN_SCOPE_PROCESS && io && io->cum && io->cum(io->ctx, t->open[0].pid, &cum);

		close_at(t, 0, cum, ok, mono_ns, real_ns, SPAN_STOPPED, NULL);
	}
	pthread_mutex_unlock(&t->lock);
}

void span_drain(struct span_table *t, void (*fn)(void *ctx, const struct span *sp), void *ctx)
{
	struct span *done;
	size_t n;

	pthread_mutex_lock(&t->lock);
	done = t->done;
	n = t->ndone;
	t->done = NULL;
	t->ndone = t->capdone = 0;
	pthread_mutex_unlock(&t->lock);
	/* outside the lock: fn may block on the ledger's queue */
	for (size_t i = 0; i < n; i++)
		fn(ctx, &done[i]);
	free(done);
}

void span_get_metrics(struct span_table *t, struct span_metrics *out)
{
	pthread_mutex_lock(&t->lock);
	*out = t->m;
	out->open = t->nopen;
	pthread_mutex_unlock(&t->lock);
}
