// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A run summary from ledger records (process, host, run; docs/LEDGER.md keys only). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/carbon.h"
#include "joule/export.h"
#include "joule/proctab.h"
#include "joule/util.h"

/* ------------------------------------------------------------ records */

/*
 * A process's figures under one label set: a process that moved has one
 * part per workload it was in, so a grouped table charges each its share.
 */
struct bpart {
	size_t lset;		/* into export_builder.lsets; SIZE_MAX: records without labels */
	size_t next;		/* the process's next part; SIZE_MAX: none */
	struct export_figures f;
};

struct bproc {
	struct export_proc p;
	bool marked;
	size_t part;		/* first of its parts */
	size_t lset;		/* labels of its newest labelled record; SIZE_MAX: none */
	uint64_t lset_ts;
};

struct export_builder {
	struct bproc *v;
	size_t n, cap;
	struct proctab index;	/* (pid, start_ns) -> position in v */
	struct export_proc *out;
	size_t nprocess_records, nhost_records, nruns;
	bool any_marked;
	uint64_t host_cpu_uj, host_mem_uj, host_carbon_ug, domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;
	double carbon_sd_weighted;
	uint64_t min_ts_start, max_ts_end;
	struct export_run last;	/* source, intensity and PUE of the newest host record */
	uint64_t last_host_ts;
	cJSON *run;
	char host_id[64];
	/* every distinct label set of the records, once: a day of records has few */
	struct proc_labels *lsets;
	size_t nlsets, caplsets;
	struct proctab lset_index;	/* (probe, hash of the set) -> lsets */
	struct bpart *parts;
	size_t nparts, capparts;
	enum export_by by;
	struct export_group *groups;
};

int export_builder_new(struct export_builder **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void export_builder_free(struct export_builder *b)
{
	if (!b)
		return;
	free(b->v);
	proctab_free(&b->index);
	free(b->out);
	cJSON_Delete(b->run);
	free(b->lsets);
	proctab_free(&b->lset_index);
	free(b->parts);
	free(b->groups);
	free(b);
}

void export_builder_set_by(struct export_builder *b, enum export_by by)
{
	b->by = by;
}

const char *export_builder_host_id(const struct export_builder *b)
{
	return b->host_id;
}

/* Ledger integers are numbers, or decimal strings above 2^53 (docs/LEDGER.md): accept both. */
static int get_u64(const cJSON *o, const char *key, uint64_t *out, bool *present)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = 0;
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		if (!(v->valuedouble >= 0 && v->valuedouble < 1.8446744073709552e19))
			return -EINVAL;
		*out = (uint64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v))
		return parse_u64(v->valuestring, out);
	return -EINVAL;
}

static double get_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void get_str(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
}

uint64_t export_record_ts_end(const cJSON *rec)
{
	uint64_t v = 0;

	return get_u64(rec, "ts_end", &v, NULL) ? 0 : v;
}

static struct bproc *proc_get(struct export_builder *b, uint32_t pid, uint64_t start_ns)
{
	size_t i;

	if (proctab_find(&b->index, pid, start_ns, &i))
		return &b->v[i];
	if (array_reserve(&b->v, &b->cap, b->n + 1, sizeof(*b->v), 64))
		return NULL;
	if (proctab_put(&b->index, pid, start_ns, b->n))
		return NULL;
	memset(&b->v[b->n], 0, sizeof(b->v[b->n]));
	b->v[b->n].p.pid = pid;
	b->v[b->n].p.start_ns = start_ns;
	b->v[b->n].part = SIZE_MAX;
	b->v[b->n].lset = SIZE_MAX;
	return &b->v[b->n++];
}

/*
 * The workload labels of a process record (docs/LEDGER.md): 1 with *l
 * filled, 0 for a record without them (ledgers before them, joule run's),
 * -EINVAL for labels of the wrong type.
 */
static int get_labels(const cJSON *rec, struct proc_labels *l)
{
	const cJSON *gk = cJSON_GetObjectItemCaseSensitive(rec, "group_kind"), *g, *v;
	struct labels_field f[LABELS_NIDENTITY];
	uint64_t uid;
	bool has_uid;

	if (!gk)
		return 0;
	/* zeroed whole: label sets are compared and hashed as bytes */
	memset(l, 0, sizeof(*l));
	if (!cJSON_IsString(gk) || group_kind_parse(gk->valuestring, &l->kind))
		return -EINVAL;
	g = cJSON_GetObjectItemCaseSensitive(rec, "group");
	if (g && !cJSON_IsString(g))
		return -EINVAL;
	if (g)
		snprintf(l->group, sizeof(l->group), "%s", g->valuestring);
	labels_identity(l, f);
	for (int i = 0; i < LABELS_NIDENTITY; i++) {
		v = cJSON_GetObjectItemCaseSensitive(rec, f[i].json);
		if (v && !cJSON_IsString(v))
			return -EINVAL;
		if (v)
			labels_set_identity(l, f[i].json, v->valuestring);
	}
	if (get_u64(rec, "uid", &uid, &has_uid) || uid > UINT32_MAX)
		return -EINVAL;
	l->uid = has_uid ? (uint32_t)uid : UINT32_MAX;
	return 1;
}

static uint64_t lset_hash(const struct proc_labels *l)
{
	const unsigned char *p = (const unsigned char *)l;
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < sizeof(*l); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* The index of this label set in b->lsets, added if new. 0 or -ENOMEM. */
static int lset_intern(struct export_builder *b, const struct proc_labels *l, size_t *out)
{
	uint64_t h = lset_hash(l);
	uint32_t probe = 0;
	size_t i;

	for (; proctab_find(&b->lset_index, probe, h, &i); probe++)
		if (memcmp(&b->lsets[i], l, sizeof(*l)) == 0) {
			*out = i;
			return 0;
		}
	if (array_reserve(&b->lsets, &b->caplsets, b->nlsets + 1, sizeof(*b->lsets), 64))
		return -ENOMEM;
	if (proctab_put(&b->lset_index, probe, h, b->nlsets))
		return -ENOMEM;
	b->lsets[b->nlsets] = *l;
	*out = b->nlsets++;
	return 0;
}

/* Add a record's figures to the part of process e under label set ls. 0 or -ENOMEM. */
static int part_add(struct export_builder *b, struct bproc *e, size_t ls, const struct export_figures *f)
{
	struct bpart *p;
	size_t i;

	for (i = e->part; i != SIZE_MAX && b->parts[i].lset != ls; i = b->parts[i].next)
		;
	if (i == SIZE_MAX) {
		if (array_reserve(&b->parts, &b->capparts, b->nparts + 1, sizeof(*b->parts), 64))
			return -ENOMEM;
		i = b->nparts++;
		memset(&b->parts[i], 0, sizeof(b->parts[i]));
		b->parts[i].lset = ls;
		b->parts[i].next = e->part;
		e->part = i;
	}
	p = &b->parts[i];
	export_figures_add(&p->f, f);
	return 0;
}

/* Operational and embodied from carbon_ug (their sum) and the embodied part, when recorded. */
static void split_carbon(struct export_figures *f, uint64_t carbon_ug, bool has_emb, uint64_t emb_ug,
			 double g_per_kwh, double pue)
{
	uint64_t op;

	f->tot.carbon_ug += carbon_ug;
	if (has_emb && emb_ug <= carbon_ug) {
		f->tot.embodied_ug += emb_ug;
		f->tot.operational_ug += carbon_ug - emb_ug;
		return;
	}
	/* DESIGN.md: operational is exactly energy x PUE x intensity; the rest is embodied */
	op = carbon_operational_ug(f->tot.cpu_uj + f->tot.mem_uj, g_per_kwh, pue > 0 ? pue : 1.0);
	if (op > carbon_ug)
		op = carbon_ug;
	f->tot.operational_ug += op;
	f->tot.embodied_ug += carbon_ug - op;
}

static int add_process(struct export_builder *b, const cJSON *rec, char *err, size_t errlen)
{
	uint64_t pid, ppid, start, cpu_ns, cpu_uj, mem_uj, carbon, emb;
	bool has_emb;
	const cJSON *marked = cJSON_GetObjectItemCaseSensitive(rec, "marked");
	struct bproc *e;
	struct export_figures add = { 0 };
	struct proc_labels l;
	size_t ls = SIZE_MAX;
	uint64_t ts_end = export_record_ts_end(rec);
	int has_labels;

	if (get_u64(rec, "pid", &pid, NULL) || get_u64(rec, "ppid", &ppid, NULL) ||
	    get_u64(rec, "start_ns", &start, NULL) || get_u64(rec, "cpu_ns", &cpu_ns, NULL) ||
	    get_u64(rec, "cpu_energy_uj", &cpu_uj, NULL) || get_u64(rec, "memory_energy_uj", &mem_uj, NULL) ||
	    get_u64(rec, "carbon_ug", &carbon, NULL) || get_u64(rec, "carbon_embodied_ug", &emb, &has_emb) ||
	    pid > UINT32_MAX || ppid > UINT32_MAX) {
		snprintf(err, errlen, "process record with a member that is not a non-negative integer");
		return -EINVAL;
	}
	/* ledgers written before the carbon_embodied_ug key named the part embodied_ug */
	if (!has_emb && get_u64(rec, "embodied_ug", &emb, &has_emb)) {
		snprintf(err, errlen, "process record with a member that is not a non-negative integer");
		return -EINVAL;
	}
	has_labels = get_labels(rec, &l);
	if (has_labels < 0) {
		snprintf(err, errlen, "process record with a workload label of the wrong type (group_kind one of comm, "
				      "unit, container, pod, job; names strings; uid an integer)");
		return -EINVAL;
	}
	if (has_labels && lset_intern(b, &l, &ls))
		return -ENOMEM;
	e = proc_get(b, (uint32_t)pid, start);
	if (!e)
		return -ENOMEM;
	e->p.ppid = (uint32_t)ppid;
	get_str(rec, "comm", e->p.comm, sizeof(e->p.comm));
	add.tot.cpu_uj = cpu_uj;
	add.tot.mem_uj = mem_uj;
	split_carbon(&add, carbon, has_emb, emb, get_num(rec, "intensity_g_per_kwh"), get_num(rec, "pue"));
	add.tot.cpu_ns = cpu_ns;
	if (part_add(b, e, ls, &add))
		return -ENOMEM;
	if (has_labels && (e->lset == SIZE_MAX || ts_end >= e->lset_ts)) {
		e->lset = ls;
		e->lset_ts = ts_end;
	}
	export_figures_add(&e->p.f, &add);
	if (cJSON_IsTrue(marked)) {
		e->marked = true;
		b->any_marked = true;
	}
	b->nprocess_records++;
	return 0;
}

static void span(struct export_builder *b, const cJSON *rec)
{
	uint64_t t0 = 0, t1 = export_record_ts_end(rec);

	get_u64(rec, "ts_start", &t0, NULL);
	if (t0 && (!b->min_ts_start || t0 < b->min_ts_start))
		b->min_ts_start = t0;
	if (t1 > b->max_ts_end)
		b->max_ts_end = t1;
}

static void read_intensity(struct export_run *r, const cJSON *in)
{
	r->intensity_g_per_kwh = get_num(in, "g_per_kwh");
	r->intensity_rel_sd = get_num(in, "rel_sd");
	get_str(in, "kind", r->intensity_kind, sizeof(r->intensity_kind));
	get_str(in, "zone", r->zone, sizeof(r->zone));
	get_str(in, "source", r->intensity_source, sizeof(r->intensity_source));
	r->intensity_year = (int)get_num(in, "year");
}

static int add_host(struct export_builder *b, const cJSON *rec, char *err, size_t errlen)
{
	uint64_t cpu_uj, mem_uj, carbon, v;
	const cJSON *dom = cJSON_GetObjectItemCaseSensitive(rec, "domains"), *it, *src;
	enum energy_kind k;
	double rel_sd;

	if (get_u64(rec, "cpu_energy_uj", &cpu_uj, NULL) || get_u64(rec, "memory_energy_uj", &mem_uj, NULL) ||
	    get_u64(rec, "carbon_ug", &carbon, NULL)) {
		snprintf(err, errlen, "host record with a member that is not a non-negative integer");
		return -EINVAL;
	}
	b->host_cpu_uj += cpu_uj;
	b->host_mem_uj += mem_uj;
	b->host_carbon_ug += carbon;
	cJSON_ArrayForEach(it, dom)
	{
		enum energy_domain d;

		if (it->string && !energy_domain_parse(it->string, &d) && !get_u64(dom, it->string, &v, NULL)) {
			b->domain_uj[d] += v;
			b->domains |= 1u << d;
		}
	}
	rel_sd = get_num(cJSON_GetObjectItemCaseSensitive(rec, "intensity"), "rel_sd");
	b->carbon_sd_weighted += (double)carbon * rel_sd;
	/* source, intensity and PUE: those in force at the newest host record */
	if (export_record_ts_end(rec) >= b->last_host_ts) {
		b->last_host_ts = export_record_ts_end(rec);
		src = cJSON_GetObjectItemCaseSensitive(rec, "source");
		if (cJSON_IsString(src) && !energy_kind_parse(src->valuestring, &k))
			b->last.source = k;
		b->last.energy_rel_sd = get_num(rec, "energy_rel_sd");
		b->last.pue = get_num(rec, "pue");
		read_intensity(&b->last, cJSON_GetObjectItemCaseSensitive(rec, "intensity"));
	}
	b->nhost_records++;
	return 0;
}

int export_builder_add(struct export_builder *b, const cJSON *rec, char *err, size_t errlen)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rec, "kind");
	int rc = 0;

	if (!cJSON_IsObject(rec) || !cJSON_IsString(kind)) {
		snprintf(err, errlen, "not a ledger record (no \"kind\")");
		return -EINVAL;
	}
	if (strcmp(kind->valuestring, "genesis") == 0) {
		get_str(rec, "host_id", b->host_id, sizeof(b->host_id));
	} else if (strcmp(kind->valuestring, "process") == 0) {
		rc = add_process(b, rec, err, errlen);
		if (!rc)
			span(b, rec);
	} else if (strcmp(kind->valuestring, "host") == 0) {
		rc = add_host(b, rec, err, errlen);
		if (!rc)
			span(b, rec);
	} else if (strcmp(kind->valuestring, "run") == 0) {
		cJSON *copy = cJSON_Duplicate(rec, true);

		if (!copy)
			return -ENOMEM;
		cJSON_Delete(b->run);
		b->run = copy;
		b->nruns++;
	}
	return rc;
}

static void interval(const struct carbon_ctx *c, const struct export_run *r, struct export_figures *f)
{
	struct carbon_estimate e;

	if (!c)
		return;
	carbon_interval(c, export_carbon_ug(f), r->energy_rel_sd, r->intensity_rel_sd, &e);
	f->ci_lo_ug = e.lo_ug;
	f->ci_hi_ug = e.hi_ug;
	f->has_ci = true;
}

static void run_command(struct export_run *r, const cJSON *run)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(run, "command"), *it;
	size_t n = 0;

	r->command[0] = '\0';
	cJSON_ArrayForEach(it, cmd)
	{
		if (!cJSON_IsString(it))
			continue;
		n += (size_t)snprintf(r->command + n, n < sizeof(r->command) ? sizeof(r->command) - n : 0, "%s%s",
				      n ? " " : "", it->valuestring);
		if (n >= sizeof(r->command)) {
			r->command[sizeof(r->command) - 1] = '\0';
			break;
		}
	}
}

/* CodeCarbon's gpu_model from host.gpus: "N x NAME" per distinct name, in order, joined by ", ". */
static void gpu_model(const cJSON *gpus, struct export_run *r)
{
	const cJSON *g, *h;
	size_t off = 0;

	r->gpu_count = (uint32_t)cJSON_GetArraySize(gpus);
	cJSON_ArrayForEach(g, gpus)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(g, "name");
		unsigned n = 0;
		bool earlier = false;

		if (!cJSON_IsString(name))
			continue;
		cJSON_ArrayForEach(h, gpus)
		{
			const cJSON *hn = cJSON_GetObjectItemCaseSensitive(h, "name");
			bool same = cJSON_IsString(hn) && strcmp(hn->valuestring, name->valuestring) == 0;

			if (h == g)
				break;
			earlier |= same;
		}
		if (earlier)
			continue;
		cJSON_ArrayForEach(h, gpus)
		{
			const cJSON *hn = cJSON_GetObjectItemCaseSensitive(h, "name");

			n += cJSON_IsString(hn) && strcmp(hn->valuestring, name->valuestring) == 0;
		}
		if (off < sizeof(r->gpu_model))
			off += (size_t)snprintf(r->gpu_model + off, sizeof(r->gpu_model) - off, "%s%u x %s",
						off ? ", " : "", n, name->valuestring);
	}
}

/* The figures of a run record, when no process records exist (a run without --ledger's periodic records). */
static int figures_from_run(struct export_builder *b, const cJSON *run, struct export_run *r)
{
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(run, "host"), *carbon, *procs, *it, *dom, *src;
	enum energy_kind k;
	size_t n = 0;

	carbon = cJSON_GetObjectItemCaseSensitive(run, "carbon");
	src = cJSON_GetObjectItemCaseSensitive(run, "source");
	if (cJSON_IsString(src) && !energy_kind_parse(src->valuestring, &k))
		r->source = k;
	r->intensity_g_per_kwh = get_num(carbon, "intensity_g_per_kwh");
	r->intensity_rel_sd = get_num(carbon, "intensity_rel_sd");
	r->energy_rel_sd = get_num(carbon, "energy_rel_sd");
	r->pue = get_num(carbon, "pue");
	r->intensity_year = (int)get_num(carbon, "year");
	get_str(carbon, "intensity_kind", r->intensity_kind, sizeof(r->intensity_kind));
	get_str(carbon, "zone", r->zone, sizeof(r->zone));
	get_str(carbon, "source", r->intensity_source, sizeof(r->intensity_source));
	get_str(carbon, "method", r->method, sizeof(r->method));
	get_u64(host, "cpu_energy_uj", &r->host_cpu_uj, NULL);
	get_u64(host, "memory_energy_uj", &r->host_mem_uj, NULL);
	get_u64(host, "gpu_energy_uj", &r->host_gpu_uj, NULL);
	gpu_model(cJSON_GetObjectItemCaseSensitive(host, "gpus"), r);
	dom = cJSON_GetObjectItemCaseSensitive(host, "domains");
	cJSON_ArrayForEach(it, dom)
	{
		enum energy_domain d;

		if (it->string && !energy_domain_parse(it->string, &d) &&
		    !get_u64(dom, it->string, &r->host_domain_uj[d], NULL))
			r->domains |= 1u << d;
	}
	procs = cJSON_GetObjectItemCaseSensitive(run, "processes");
	b->out = calloc((size_t)cJSON_GetArraySize(procs) + 1, sizeof(*b->out));
	if (!b->out)
		return -ENOMEM;
	/* the processes, then the total: the same members in both */
	for (it = procs ? procs->child : NULL;; it = it->next) {
		const cJSON *o = it ? it : cJSON_GetObjectItemCaseSensitive(run, "total");
		struct export_figures *f = it ? &b->out[n].f : &r->total;
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(o, "carbon_ci_ug");
		uint64_t carbon = 0, op = 0, emb = 0, v;
		bool has_op, has_emb;

		get_u64(o, "cpu_ns", &f->tot.cpu_ns, NULL);
		get_u64(o, "cpu_energy_uj", &f->tot.cpu_uj, NULL);
		get_u64(o, "memory_energy_uj", &f->tot.mem_uj, NULL);
		get_u64(o, "gpu_energy_uj", &f->tot.gpu_uj, NULL);
		get_u64(o, "carbon_ug", &carbon, NULL);
		get_u64(o, "carbon_operational_ug", &op, &has_op);
		get_u64(o, "carbon_embodied_ug", &emb, &has_emb);
		if (has_op && has_emb) {
			f->tot.operational_ug = op;
			f->tot.embodied_ug = emb;
			f->tot.carbon_ug = op + emb;
		} else {
			split_carbon(f, carbon, has_emb, emb, r->intensity_g_per_kwh, r->pue);
		}
		if (cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(ci->child) && cJSON_IsNumber(ci->child->next) &&
		    ci->child->valuedouble >= 0 && ci->child->next->valuedouble >= ci->child->valuedouble &&
		    ci->child->next->valuedouble < 1.8e19) {
			f->ci_lo_ug = (uint64_t)ci->child->valuedouble;
			f->ci_hi_ug = (uint64_t)ci->child->next->valuedouble;
			f->has_ci = true;
		}
		if (!it)
			break;
		get_u64(it, "pid", &v, NULL);
		b->out[n].pid = (uint32_t)v;
		get_u64(it, "ppid", &v, NULL);
		b->out[n].ppid = (uint32_t)v;
		get_str(it, "comm", b->out[n].comm, sizeof(b->out[n].comm));
		n++;
	}
	r->procs = b->out;
	r->nprocs = n;
	return 0;
}

/* The table per workload or label: every part of every process in the total, summed per key. */
static int group_parts(struct export_builder *b, const struct carbon_ctx *c, struct export_run *r)
{
	struct export_grouping g = { .by = b->by };
	int err = 0;

	for (size_t i = 0; !err && i < b->n; i++) {
		const struct bproc *e = &b->v[i];

		if (b->any_marked && !e->marked)
			continue;
		for (size_t k = e->part; !err && k != SIZE_MAX; k = b->parts[k].next) {
			const struct bpart *pt = &b->parts[k];

			err = export_grouping_add(&g, pt->lset == SIZE_MAX ? NULL : &b->lsets[pt->lset], e->p.comm, i,
						  &pt->f);
		}
	}
	free(b->groups);
	b->groups = NULL;
	if (!err)
		export_grouping_take(&g, &b->groups, &r->ngroups);
	export_grouping_free(&g);
	if (err)
		return err;
	for (size_t i = 0; i < r->ngroups; i++)
		interval(c, r, &b->groups[i].f);
	r->by = b->by;
	r->groups = b->groups;
	return 0;
}

int export_builder_finish(struct export_builder *b, const struct carbon_ctx *c, struct export_run *r)
{
	const cJSON *run = b->nruns == 1 ? b->run : NULL;
	uint64_t run_end = run ? export_record_ts_end(run) : 0, v;
	const cJSON *st;

	memset(r, 0, sizeof(*r));
	if (!b->nprocess_records && !b->nhost_records && !b->run)
		return -ENODATA;
	if (run) {
		run_command(r, run);
		st = cJSON_GetObjectItemCaseSensitive(run, "exit_status");
		if (cJSON_IsNumber(st)) {
			r->has_exit_status = true;
			r->exit_status = st->valueint;
		}
		get_u64(run, "wall_ns", &r->wall_ns, NULL);
	}
	if (!b->nprocess_records && !b->nhost_records) {
		int rc = figures_from_run(b, b->run, r);

		if (rc)
			return rc;
		if (b->nruns > 1) {
			/* the figures are the newest run's: so are the command and its wall time */
			run_command(r, b->run);
			get_u64(b->run, "wall_ns", &r->wall_ns, NULL);
		}
		r->end_real_ns = export_record_ts_end(b->run);
		r->start_real_ns = r->end_real_ns > r->wall_ns ? r->end_real_ns - r->wall_ns : 0;
		if (!r->method[0] && c) {
			struct carbon_estimate e;

			carbon_interval(c, 0, 0, 0, &e);
			snprintf(r->method, sizeof(r->method), "%s", carbon_method_name(e.method));
		}
		return 0;
	}
	r->source = b->last.source;
	r->energy_rel_sd = b->last.energy_rel_sd;
	r->pue = b->last.pue;
	r->intensity_g_per_kwh = b->last.intensity_g_per_kwh;
	memcpy(r->intensity_kind, b->last.intensity_kind, sizeof(r->intensity_kind));
	memcpy(r->zone, b->last.zone, sizeof(r->zone));
	memcpy(r->intensity_source, b->last.intensity_source, sizeof(r->intensity_source));
	r->intensity_year = b->last.intensity_year;
	/* the window's intensity uncertainty: each period's weighted by its carbon (as joule run does) */
	r->intensity_rel_sd = b->host_carbon_ug ? b->carbon_sd_weighted / (double)b->host_carbon_ug
						: b->last.intensity_rel_sd;
	r->host_cpu_uj = b->host_cpu_uj;
	r->host_mem_uj = b->host_mem_uj;
	memcpy(r->host_domain_uj, b->domain_uj, sizeof(r->host_domain_uj));
	r->domains = b->domains;
	if (c) {
		struct carbon_estimate e;

		carbon_interval(c, 0, 0, 0, &e);
		snprintf(r->method, sizeof(r->method), "%s", carbon_method_name(e.method));
	}
	free(b->out);
	b->out = calloc(b->n + 1, sizeof(*b->out));
	if (!b->out)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		const struct bproc *e = &b->v[i];
		struct export_figures *t = &r->total;

		/* a run's ledger: the command and its descendants; a daemon's: every process */
		if (b->any_marked && !e->marked)
			continue;
		b->out[r->nprocs] = e->p;
		if (e->lset != SIZE_MAX) {
			b->out[r->nprocs].has_labels = true;
			b->out[r->nprocs].labels = b->lsets[e->lset];
		}
		interval(c, r, &b->out[r->nprocs].f);
		r->nprocs++;
		export_figures_add(t, &e->p.f);
	}
	interval(c, r, &r->total);
	r->procs = b->out;
	if (b->by != EXPORT_BY_PROCESS) {
		int err = group_parts(b, c, r);

		if (err)
			return err;
	}
	if (run && run_end) {
		r->end_real_ns = run_end;
		r->start_real_ns = run_end > r->wall_ns ? run_end - r->wall_ns : 0;
	} else {
		r->start_real_ns = b->min_ts_start;
		r->end_real_ns = b->max_ts_end;
		v = b->max_ts_end > b->min_ts_start ? b->max_ts_end - b->min_ts_start : 0;
		r->wall_ns = v;
	}
	return 0;
}
