// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ledger records from samples: accumulate per process (pid, start_ns) and for the host, then build process/host JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "joule/ledger.h"
#include "joule/ledger_chain.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_record.h"
#include "joule/util.h"

/* A record of this kind spanning [t0, t1]: the members every kind has before the chain adds seq and hashes. */
static cJSON *record_new(const char *kind, uint64_t t0_ns, uint64_t t1_ns)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kind", kind);
	ledger_json_add_ns(o, "ts_start", t0_ns);
	ledger_json_add_ns(o, "ts_end", t1_ns);
	return o;
}

static void snap_ctx(struct ledger_ctx_snap *c, const struct sample *s)
{
	c->source = s->source;
	c->g_per_kwh = s->intensity.g_per_kwh;
	c->intensity_rel_sd = s->intensity.rel_sd;
	c->energy_rel_sd = s->energy_rel_sd;
	c->pue = s->pue;
	c->year = s->intensity.year;
	snprintf(c->kind, sizeof(c->kind), "%s", s->intensity.kind ? s->intensity.kind : "");
	snprintf(c->zone, sizeof(c->zone), "%s", s->intensity.zone ? s->intensity.zone : "");
	snprintf(c->src, sizeof(c->src), "%s", s->intensity.source ? s->intensity.source : "");
}

static void ctx_to_json(cJSON *o, const struct ledger_ctx_snap *c, bool full)
{
	cJSON_AddStringToObject(o, "source", energy_kind_name(c->source));
	cJSON_AddNumberToObject(o, "pue", c->pue);
	if (!full) {
		cJSON_AddNumberToObject(o, "intensity_g_per_kwh", c->g_per_kwh);
		return;
	}
	cJSON *in = cJSON_AddObjectToObject(o, "intensity");

	if (!in)
		return;
	cJSON_AddNumberToObject(in, "g_per_kwh", c->g_per_kwh);
	cJSON_AddNumberToObject(in, "rel_sd", c->intensity_rel_sd);
	cJSON_AddStringToObject(in, "kind", c->kind);
	cJSON_AddStringToObject(in, "zone", c->zone);
	cJSON_AddNumberToObject(in, "year", c->year);
	cJSON_AddStringToObject(in, "source", c->src);
	cJSON_AddNumberToObject(o, "energy_rel_sd", c->energy_rel_sd);
}

/* carbon_ug and its two parts (operational exactly energy x PUE x intensity; embodied the hardware's share). */
static void add_carbon(cJSON *o, const struct sample_totals *t)
{
	ledger_json_add_u64(o, "carbon_ug", t->carbon_ug);
	ledger_json_add_u64(o, "carbon_operational_ug", t->operational_ug);
	ledger_json_add_u64(o, "carbon_embodied_ug", t->embodied_ug);
}

/*
 * The workload identity, flat, under the names /api/v1/processes uses:
 * group and group_kind, then only the names known (docs/LEDGER.md).
 */
static void add_labels(cJSON *o, const struct proc_labels *l)
{
	struct labels_field f[LABELS_NIDENTITY];
	int n = labels_identity(l, f);

	if (l->group[0])
		cJSON_AddStringToObject(o, "group", l->group);
	cJSON_AddStringToObject(o, "group_kind", group_kind_name(l->kind));
	for (int i = 0; i < n; i++)
		if (f[i].value[0])
			cJSON_AddStringToObject(o, f[i].json, f[i].value);
	if (l->uid != UINT32_MAX)
		ledger_json_add_u64(o, "uid", l->uid);
}

static cJSON *proc_to_json(const struct ledger_proc_acc *p)
{
	uint64_t energy = sample_totals_energy_uj(&p->tot), host = p->host_uj_end - p->host_uj_start;
	cJSON *o = record_new("process", p->ts_start_ns, p->ts_end_ns);
	char buf[24];

	if (!o)
		return NULL;
	ledger_json_add_u64(o, "pid", p->pid);
	ledger_json_add_u64(o, "ppid", p->ppid);
	snprintf(buf, sizeof(buf), "%" PRIu64, p->start_ns);
	cJSON_AddStringToObject(o, "start_ns", buf);
	cJSON_AddStringToObject(o, "comm", p->comm);
	cJSON_AddBoolToObject(o, "marked", p->marked);
	cJSON_AddBoolToObject(o, "exited", p->exited);
	if (p->exited)
		cJSON_AddNumberToObject(o, "exit_code", p->exit_code);
	ledger_json_add_u64(o, "cpu_ns", p->tot.cpu_ns);
	ledger_json_add_u64(o, "energy_uj", energy);
	ledger_json_add_u64(o, "cpu_energy_uj", p->tot.cpu_uj);
	ledger_json_add_u64(o, "memory_energy_uj", p->tot.mem_uj);
	if (p->tot.gpu_uj) /* GPU energy (issue 16): only where a GPU charged the process */
		ledger_json_add_u64(o, "gpu_energy_uj", p->tot.gpu_uj);
	add_carbon(o, &p->tot);
	cJSON_AddNumberToObject(o, "allocation_ratio", host ? (double)energy / (double)host : 0.0);
	ledger_json_add_u64(o, "intervals", p->intervals);
	if (p->coalesced)
		cJSON_AddBoolToObject(o, "coalesced", true);
	if (p->has_labels)
		add_labels(o, &p->labels);
	ctx_to_json(o, &p->ctx, false);
	return o;
}

static void bucket_to_json(cJSON *o, const char *name, const struct sample_totals *b)
{
	cJSON *x = cJSON_AddObjectToObject(o, name);

	if (!x)
		return;
	ledger_json_add_u64(x, "cpu_ns", b->cpu_ns);
	ledger_json_add_u64(x, "energy_uj", sample_totals_energy_uj(b));
	if (b->gpu_uj)
		ledger_json_add_u64(x, "gpu_energy_uj", b->gpu_uj);
	add_carbon(x, b);
}

static cJSON *host_to_json(const struct ledger_host_acc *h)
{
	cJSON *o = record_new("host", h->ts_start_ns, h->ts_end_ns), *d;

	if (!o)
		return NULL;
	ledger_json_add_u64(o, "energy_uj", sample_totals_energy_uj(&h->tot));
	ledger_json_add_u64(o, "cpu_energy_uj", h->tot.cpu_uj);
	ledger_json_add_u64(o, "memory_energy_uj", h->tot.mem_uj);
	if (h->gpu)
		ledger_json_add_u64(o, "gpu_energy_uj", h->tot.gpu_uj);
	add_carbon(o, &h->tot);
	d = cJSON_AddObjectToObject(o, "domains");
	for (int i = 0; d && i < ENERGY_NDOMAINS; i++)
		if (h->domains & (1u << i))
			ledger_json_add_u64(d, energy_domain_name((enum energy_domain)i), h->domain_uj[i]);
	if (d && h->gpu)
		ledger_json_add_u64(d, "gpu", h->tot.gpu_uj);
	bucket_to_json(o, "idle", &h->idle);
	bucket_to_json(o, "overflow", &h->overflow);
	ledger_json_add_u64(o, "processes", h->processes);
	ledger_json_add_u64(o, "intervals", h->intervals);
	if (h->coalesced)
		cJSON_AddBoolToObject(o, "coalesced", true);
	ctx_to_json(o, &h->ctx, true);
	return o;
}

/* The table's values are the accumulators' addresses. */
static struct ledger_proc_acc *acc_of(size_t val)
{
	return (struct ledger_proc_acc *)(uintptr_t)val;
}

static struct ledger_proc_acc *acc_get(struct ledger_acc *l, const struct sample_task *t, uint64_t ts_start_ns)
{
	struct ledger_proc_acc *p;
	size_t val;

	if (proctab_find(&l->procs, t->pid, t->start_ns, &val))
		return acc_of(val);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (proctab_put(&l->procs, t->pid, t->start_ns, (size_t)(uintptr_t)p)) {
		free(p);
		return NULL;
	}
	p->pid = t->pid;
	p->start_ns = t->start_ns;
	p->ts_start_ns = ts_start_ns;
	p->host_uj_start = l->host_cum_uj;
	l->nacc++;
	return p;
}

void ledger_item_list_append(struct ledger_item_list *li, struct ledger_item *it)
{
	if (li->last)
		li->last->next = it;
	else
		li->first = it;
	li->last = it;
	li->n++;
}

int ledger_acc_take(struct ledger_acc *l, bool all, uint64_t ts_end_ns, struct ledger_item_list *out)
{
	struct ledger_item_list li = { 0 };
	struct proctab_ent e;
	size_t cur = 0;
	int err = 0;

	/* the records closed by a move belong to this period, before their processes' later records */
	if (all && l->moved.first) {
		li = l->moved;
		memset(&l->moved, 0, sizeof(l->moved));
	}
	/* removing the entry in hand is safe while iterating (proctab.h) */
	while (proctab_next(&l->procs, &cur, &e)) {
		struct ledger_proc_acc *p = acc_of(e.val);
		struct ledger_item *it;

		if (!all && !p->exited)
			continue;
		it = calloc(1, sizeof(*it));
		if (!it) {
			err = -ENOMEM;
			break;
		}
		proctab_remove(&l->procs, e.pid, e.start_ns);
		l->nacc--;
		if (p->exited)
			l->nexited--;
		it->type = LEDGER_ITEM_PROC;
		it->u.p = *p;
		free(p);
		ledger_item_list_append(&li, it);
	}
	/* the host record closes the period only once every process record of it is out */
	if (!err && all && l->period_open) {
		struct ledger_item *it = calloc(1, sizeof(*it));

		if (it) {
			l->host.ts_end_ns = ts_end_ns > l->host.ts_end_ns ? ts_end_ns : l->host.ts_end_ns;
			l->host.processes = li.n;
			it->type = LEDGER_ITEM_HOST;
			it->u.h = l->host;
			ledger_item_list_append(&li, it);
			memset(&l->host, 0, sizeof(l->host));
			l->period_open = false;
		} else {
			err = -ENOMEM;
		}
	}
	*out = li;
	return err;
}

/* Whether two known label sets name different workloads; an exec (comm to comm) is no move. */
static bool labels_differ(const struct proc_labels *a, const struct proc_labels *b)
{
	struct labels_field fa[LABELS_NIDENTITY], fb[LABELS_NIDENTITY];
	int n = labels_identity(a, fa);

	if (labels_moved(a, b) || a->uid != b->uid)
		return true;
	labels_identity(b, fb);
	for (int i = 0; i < n; i++)
		if (strcmp(fa[i].value, fb[i].value) != 0)
			return true;
	return false;
}

/*
 * Close p's record so far (it goes out with the period) and start p again
 * from this interval: the energy before a move keeps the old labels.
 */
static int acc_split(struct ledger_acc *l, struct ledger_proc_acc *p, uint64_t ts_start_ns)
{
	struct ledger_item *it = calloc(1, sizeof(*it));

	if (!it)
		return -ENOMEM;
	it->type = LEDGER_ITEM_PROC;
	it->u.p = *p;
	ledger_item_list_append(&l->moved, it);
	memset(&p->tot, 0, sizeof(p->tot));
	p->ts_start_ns = ts_start_ns;
	p->host_uj_start = l->host_cum_uj;
	p->intervals = 0;
	p->coalesced = false;
	return 0;
}

/* Take this interval's labels of p, closing its record first when they name another workload. */
static int acc_label(struct ledger_acc *l, struct ledger_proc_acc *p, const struct sample_task *t,
		     uint64_t ts_start_ns)
{
	struct proc_labels now;

	/* unknown now (the store no longer tracks it) is no move: the record keeps what was known */
	if (!l->labeler || l->labeler(l->labeler_ctx, t, &now) != 0)
		return 0;
	/* the common case, every tick of every process: the same labels as last tick, byte for byte */
	if (p->has_labels && memcmp(&p->labels, &now, sizeof(now)) == 0)
		return 0;
	if (p->has_labels && p->intervals && labels_differ(&p->labels, &now)) {
		int err = acc_split(l, p, ts_start_ns);

		if (err)
			return err;
	}
	p->labels = now;
	p->has_labels = true;
	return 0;
}

int ledger_acc_add(struct ledger_acc *l, const struct sample *s)
{
	uint64_t host_uj = s->host_cpu_uj + s->host_mem_uj;

	if (!l->period_open) {
		l->period_open = true;
		l->period_start_mono_ns = s->mono_start_ns;
		l->host.ts_start_ns = s->real_start_ns;
	}
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct sample_task *t = &s->tasks[i];
		struct ledger_proc_acc *p = acc_get(l, t, s->real_start_ns);

		if (!p || acc_label(l, p, t, s->real_start_ns))
			return -ENOMEM;
		p->ppid = t->ppid;
		memcpy(p->comm, t->comm, JOULE_COMM_LEN);
		p->comm[JOULE_COMM_LEN] = '\0';
		p->marked = p->marked || t->marked;
		if (t->exited && !p->exited) {
			p->exited = true;
			p->exit_code = t->exit_code;
			l->nexited++;
		}
		sample_totals_add(&p->tot, &t->tot);
		p->ts_end_ns = s->real_end_ns;
		p->host_uj_end = l->host_cum_uj + host_uj;
		p->intervals++;
		snap_ctx(&p->ctx, s);
	}
	l->host_cum_uj += host_uj;
	l->host.ts_end_ns = s->real_end_ns;
	l->host.intervals++;
	l->host.gpu |= s->ngpu > 0;
	sample_totals_add(&l->host.tot, &(struct sample_totals){ .cpu_uj = s->host_cpu_uj, .mem_uj = s->host_mem_uj,
								  .gpu_uj = s->host_gpu_uj,
								  .operational_ug = s->host_operational_ug,
								  .embodied_ug = s->host_embodied_ug });
	l->host.domains |= s->domains;
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		l->host.domain_uj[d] += s->host_domain_uj[d];
	sample_totals_add(&l->host.idle, &s->idle);
	sample_totals_add(&l->host.overflow, &s->overflow);
	snap_ctx(&l->host.ctx, s);
	return 0;
}

void ledger_acc_mark_coalesced(struct ledger_acc *a)
{
	struct proctab_ent e;
	size_t cur = 0;

	a->host.coalesced = true;
	while (proctab_next(&a->procs, &cur, &e))
		acc_of(e.val)->coalesced = true;
	for (struct ledger_item *it = a->moved.first; it; it = it->next)
		it->u.p.coalesced = true;
}

void ledger_acc_free(struct ledger_acc *a)
{
	struct proctab_ent e;
	size_t cur = 0;

	while (proctab_next(&a->procs, &cur, &e))
		free(acc_of(e.val));
	proctab_free(&a->procs);
	ledger_items_free(a->moved.first);
	memset(&a->moved, 0, sizeof(a->moved));
	a->nacc = a->nexited = 0;
}

cJSON *ledger_item_json(struct ledger_item *it)
{
	cJSON *o;

	switch (it->type) {
	case LEDGER_ITEM_PROC: return proc_to_json(&it->u.p);
	case LEDGER_ITEM_HOST: return host_to_json(&it->u.h);
	case LEDGER_ITEM_JSON: break;
	}
	o = it->u.json;
	it->u.json = NULL;
	return o;
}

void ledger_item_free(struct ledger_item *it)
{
	if (it && it->type == LEDGER_ITEM_JSON)
		cJSON_Delete(it->u.json);
	free(it);
}

void ledger_items_free(struct ledger_item *first)
{
	while (first) {
		struct ledger_item *next = first->next;

		ledger_item_free(first);
		first = next;
	}
}

static void read_id(const char *path, char *buf, size_t len)
{
	if (read_text_file(path, buf, len) < 0)
		buf[0] = '\0';
}

cJSON *ledger_genesis_json(uint64_t now_ns, uint64_t period_ns, const char *version, const char *prev_segment,
			   const char *broken, const char *broken_why, const struct ledger_key *key)
{
	char machine[64], boot[64], host[256] = "";
	cJSON *g = record_new("genesis", now_ns, now_ns);

	if (!g)
		return NULL;
	read_id("/etc/machine-id", machine, sizeof(machine));
	read_id("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	gethostname(host, sizeof(host) - 1);
	cJSON_AddNumberToObject(g, "format", LEDGER_FORMAT);
	cJSON_AddStringToObject(g, "joule_version", version);
	cJSON_AddStringToObject(g, "host_id", machine);
	cJSON_AddStringToObject(g, "boot_id", boot);
	cJSON_AddStringToObject(g, "hostname", host);
	ledger_json_add_u64(g, "period_ns", period_ns);
	if (prev_segment)
		cJSON_AddStringToObject(g, "prev_segment", prev_segment);
	if (broken) {
		cJSON_AddStringToObject(g, "broken_segment", broken);
		cJSON_AddStringToObject(g, "broken_reason", broken_why);
	}
	if (key) {
		char pkhex[LEDGER_PUBKEY_HEX + 1];

		sodium_bin2hex(pkhex, sizeof(pkhex), key->pk, sizeof(key->pk));
		cJSON_AddStringToObject(g, "pubkey", pkhex);
		cJSON_AddStringToObject(g, "key_id", key->key_id);
	}
	return g;
}

cJSON *ledger_start_json(uint64_t now_ns, const char *version, uint64_t last_seq, uint64_t last_ts_end_ns,
			 uint64_t torn_bytes_cut)
{
	char boot[64];
	cJSON *o = record_new("start", now_ns, now_ns);

	if (!o)
		return NULL;
	read_id("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	cJSON_AddStringToObject(o, "boot_id", boot);
	ledger_json_add_u64(o, "pid", (uint64_t)getpid());
	cJSON_AddStringToObject(o, "joule_version", version);
	ledger_json_add_u64(o, "last_seq", last_seq);
	ledger_json_add_ns(o, "last_ts_end", last_ts_end_ns);
	if (torn_bytes_cut)
		ledger_json_add_u64(o, "torn_bytes_cut", torn_bytes_cut);
	return o;
}

cJSON *ledger_rotate_json(const char *reason, uint64_t segment_records, uint64_t segment_bytes,
			  uint64_t seg_start_ns, uint64_t now_ns)
{
	cJSON *r = record_new("rotate", seg_start_ns, now_ns);

	if (!r)
		return NULL;
	cJSON_AddStringToObject(r, "reason", reason);
	ledger_json_add_u64(r, "segment_records", segment_records);
	ledger_json_add_u64(r, "segment_bytes", segment_bytes);
	return r;
}

cJSON *ledger_gap_json(uint64_t lost, const char *reason, uint64_t t0_ns, uint64_t t1_ns)
{
	cJSON *g = record_new("gap", t0_ns, t1_ns);

	if (!g)
		return NULL;
	ledger_json_add_u64(g, "lost_records", lost);
	cJSON_AddStringToObject(g, "reason", reason);
	return g;
}
