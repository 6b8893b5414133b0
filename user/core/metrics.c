// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus text exposition of the store: base units, exact decimal conversions, bounded label sets. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/metrics.h"
#include "joule/util.h"

static void emit(struct metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void metrics_escape_label(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return;
	for (; *in && o + 2 < outlen; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

/* Integer micro-units printed as exact decimals: 1234567 µJ → "1.234567". */
static const char *micro(uint64_t v, char *buf)
{
	sprintf(buf, "%llu.%06llu", (unsigned long long)(v / 1000000), (unsigned long long)(v % 1000000));
	return buf;
}

static const char *nano(uint64_t v, char *buf)
{
	sprintf(buf, "%llu.%09llu", (unsigned long long)(v / NSEC_PER_SEC), (unsigned long long)(v % NSEC_PER_SEC));
	return buf;
}

static void head(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	emit(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct render {
	const struct store *s;
	struct metrics_buf *b;
	int family;
};

enum { F_CPU, F_ENERGY, F_CARBON, F_NFAM };

/* Labels of a per-process series. */
static void proc_labels(const struct store_proc *p, char *out, size_t len)
{
	char comm[64], group[2 * PROC_GROUP_LEN];

	metrics_escape_label(p->comm, comm, sizeof(comm));
	metrics_escape_label(p->labels.group, group, sizeof(group));
	snprintf(out, len, "pid=\"%u\",comm=\"%s\",group=\"%s\",group_kind=\"%s\"", p->pid, comm, group,
		 group_kind_name(p->labels.kind));
}

/* The workload identity of a group as extra labels (",namespace=\"..\",..."), only those known. */
static void identity_labels(const struct proc_labels *l, char *out, size_t len)
{
	struct labels_field f[LABELS_NIDENTITY];
	int n = labels_identity(l, f);
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < n && off < len; i++) {
		char esc[2 * 128];

		if (!f[i].value[0])
			continue;
		metrics_escape_label(f[i].value, esc, sizeof(esc));
		off += (size_t)snprintf(out + off, len - off, ",%s=\"%s\"", f[i].metric, esc);
	}
}

static void group_labels(const struct store_group *g, char *out, size_t len)
{
	char group[2 * PROC_GROUP_LEN], ident[1400];

	metrics_escape_label(g->name, group, sizeof(group));
	/* A comm group's name is the comm: keep the label so `sum by (comm)` sees it. */
	if (g->kind == GROUP_COMM) {
		snprintf(out, len, "comm=\"%s\",group=\"%s\",group_kind=\"comm\"", group, group);
		return;
	}
	identity_labels(&g->labels, ident, sizeof(ident));
	snprintf(out, len, "group=\"%s\",group_kind=\"%s\"%s", group, group_kind_name(g->kind), ident);
}

void metrics_host_info(struct metrics_buf *b, const struct host_identity *host, const char *source)
{
	char hn[2 * sizeof(host->hostname)], mid[96], bid[96], src[64];

	metrics_escape_label(host->hostname, hn, sizeof(hn));
	metrics_escape_label(host->machine_id, mid, sizeof(mid));
	metrics_escape_label(host->boot_id, bid, sizeof(bid));
	metrics_escape_label(source ? source : "", src, sizeof(src));
	head(b, "joule_host_info", "gauge", "This host's identity and energy source; always 1.");
	emit(b, "joule_host_info{hostname=\"%s\",machine_id=\"%s\",boot_id=\"%s\",source=\"%s\"} 1\n", hn, mid,
	     bid, src);
}

static void totals_lines(struct metrics_buf *b, int family, const char *labels, const struct store_totals *t)
{
	char v[40];

	switch (family) {
	case F_CPU:
		emit(b, "joule_process_cpu_seconds_total{%s} %s\n", labels, nano(t->cpu_ns, v));
		break;
	case F_ENERGY:
		emit(b, "joule_process_energy_joules_total{%s,domain=\"cpu\"} %s\n", labels, micro(t->cpu_uj, v));
		emit(b, "joule_process_energy_joules_total{%s,domain=\"memory\"} %s\n", labels, micro(t->mem_uj, v));
		break;
	case F_CARBON:
		emit(b, "joule_process_carbon_grams_total{%s} %s\n", labels, micro(t->carbon_ug, v));
		break;
	}
}

static int proc_cb(const struct store_proc *p, void *ctx)
{
	struct render *r = ctx;
	char labels[2048];

	/* A reused pid: only the newest holder keeps the series, so label sets stay unique. */
	if (!p->own_series || store_find_proc(r->s, p->pid) != p)
		return 0;
	proc_labels(p, labels, sizeof(labels));
	/* series, not total: what it ran before promotion is already in its group's rest */
	totals_lines(r->b, r->family, labels, &p->series);
	return 0;
}

static int rest_cb(const struct store_group *g, void *ctx)
{
	struct render *r = ctx;
	char labels[2048];

	group_labels(g, labels, sizeof(labels));
	totals_lines(r->b, r->family, labels, &g->rest);
	return 0;
}

static int group_cb(const struct store_group *g, void *ctx)
{
	struct render *r = ctx;
	char labels[2048], v[40];

	group_labels(g, labels, sizeof(labels));
	emit(r->b, "joule_group_energy_joules_total{%s,domain=\"cpu\"} %s\n", labels, micro(g->total.cpu_uj, v));
	emit(r->b, "joule_group_energy_joules_total{%s,domain=\"memory\"} %s\n", labels, micro(g->total.mem_uj, v));
	return 0;
}

static int group_carbon_cb(const struct store_group *g, void *ctx)
{
	struct render *r = ctx;
	char labels[2048], v[40];

	group_labels(g, labels, sizeof(labels));
	emit(r->b, "joule_group_carbon_grams_total{%s} %s\n", labels, micro(g->total.carbon_ug, v));
	return 0;
}

static void self_metrics(struct metrics_buf *b, const struct store_host *h, const struct metrics_self *m)
{
	char v[40];

	head(b, "joule_self_samples_total", "counter", "Samples taken since start.");
	emit(b, "joule_self_samples_total %llu\n", (unsigned long long)h->samples);
	head(b, "joule_self_processes_tracked", "gauge", "Processes held in the store.");
	emit(b, "joule_self_processes_tracked %llu\n", (unsigned long long)h->procs_tracked);
	head(b, "joule_self_processes_untracked_total", "counter",
	     "Process intervals charged to a group only because the process table was full.");
	emit(b, "joule_self_processes_untracked_total %llu\n", (unsigned long long)h->procs_untracked);
	head(b, "joule_self_groups", "gauge", "Groups (units, containers, pods, comms) held in the store.");
	emit(b, "joule_self_groups %llu\n", (unsigned long long)h->groups);
	if (m->have_sampler) {
		const struct sampler_stats *st = &m->sampler;

		head(b, "joule_self_ticks_missed_total", "counter", "Timer expirations beyond one per wake-up.");
		emit(b, "joule_self_ticks_missed_total %llu\n", (unsigned long long)st->missed);
		head(b, "joule_self_tick_jitter_seconds", "histogram", "Lateness of each sampling tick.");
		for (int i = 0; i < SAMPLER_JITTER_BUCKETS; i++)
			if (st->jitter_le_ns[i])
				emit(b, "joule_self_tick_jitter_seconds_bucket{le=\"%s\"} %llu\n",
				     nano(st->jitter_le_ns[i], v), (unsigned long long)st->jitter_count[i]);
		emit(b, "joule_self_tick_jitter_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)st->ticks);
		emit(b, "joule_self_tick_jitter_seconds_sum %s\n", nano(st->jitter_sum_ns, v));
		emit(b, "joule_self_tick_jitter_seconds_count %llu\n", (unsigned long long)st->ticks);
		head(b, "joule_self_tick_work_seconds_total", "counter", "Time spent working inside ticks.");
		emit(b, "joule_self_tick_work_seconds_total %s\n", nano(st->work_sum_ns, v));
		head(b, "joule_self_bpf_overflow_events_total", "counter",
		     "Times the BPF task map was full and time went to the overflow bucket.");
		emit(b, "joule_self_bpf_overflow_events_total %llu\n", (unsigned long long)st->overflow_events);
		head(b, "joule_self_bpf_lost_events_total", "counter", "Ring buffer records the kernel dropped.");
		emit(b, "joule_self_bpf_lost_events_total %llu\n", (unsigned long long)st->lost_events);
	}
	if (m->have_ledger) {
		head(b, "joule_self_ledger_bytes_total", "counter", "Bytes appended to the ledger.");
		emit(b, "joule_self_ledger_bytes_total %llu\n", (unsigned long long)m->ledger_bytes);
		head(b, "joule_self_ledger_syncs_total", "counter", "fdatasync calls on the ledger.");
		emit(b, "joule_self_ledger_syncs_total %llu\n", (unsigned long long)m->ledger_syncs);
		head(b, "joule_self_ledger_queue_records", "gauge", "Ledger records waiting to be written.");
		emit(b, "joule_self_ledger_queue_records %llu\n", (unsigned long long)m->ledger_queue);
	}
	head(b, "joule_self_http_requests_total", "counter", "HTTP requests answered.");
	emit(b, "joule_self_http_requests_total %llu\n", (unsigned long long)m->http_requests);
	head(b, "joule_self_scrape_duration_seconds", "gauge", "Time the previous /metrics rendering took.");
	emit(b, "joule_self_scrape_duration_seconds %s\n", nano(m->last_scrape_ns, v));
}

int metrics_render(const struct store *s, const struct metrics_self *self, struct metrics_buf *b)
{
	static const struct {
		const char *name, *help;
	} fam[F_NFAM] = {
		{ "joule_process_cpu_seconds_total", "On-CPU time per process with its own series, else per group." },
		{ "joule_process_energy_joules_total",
		  "Energy attributed per process with its own series, else per group, by domain." },
		{ "joule_process_carbon_grams_total",
		  "Carbon (operational + embodied, gCO2e) per process with its own series, else per group." },
	};
	const struct metrics_self none = { 0 };
	struct store_host h;
	struct render r = { .s = s, .b = b };
	char v[40], esc[128], esc2[256];

	if (!self)
		self = &none;
	b->len = 0;
	b->oom = false;
	store_get_host(s, &h);

	head(b, "joule_build_info", "gauge", "joule's version; always 1.");
	emit(b, "joule_build_info{version=\"%s\"} 1\n", self->version ? self->version : "unknown");
	if (self->host)
		metrics_host_info(b, self->host, h.samples ? energy_kind_name(h.source) : "");

	for (int f = 0; f < F_NFAM; f++) {
		const char *type = "counter";

		head(b, fam[f].name, type, fam[f].help);
		r.family = f;
		store_foreach_proc(s, proc_cb, &r);
		store_foreach_group(s, rest_cb, &r);
	}
	head(b, "joule_group_energy_joules_total", "counter", "Energy per group, all members ever, by domain.");
	store_foreach_group(s, group_cb, &r);
	head(b, "joule_group_carbon_grams_total", "counter", "Carbon per group (gCO2e), all members ever.");
	store_foreach_group(s, group_carbon_cb, &r);

	if (h.samples) {
		const char *src = energy_kind_name(h.source);

		head(b, "joule_host_energy_joules_total", "counter",
		     "Energy the host's counters measured, per domain (overlapping domains included).");
		for (int d = 0; d < ENERGY_NDOMAINS; d++)
			if (h.domains & (1u << d))
				emit(b, "joule_host_energy_joules_total{package=\"all\",domain=\"%s\",source=\"%s\"} %s\n",
				     energy_domain_name((enum energy_domain)d), src, micro(h.domain_uj[d], v));
		head(b, "joule_host_carbon_grams_total", "counter", "Carbon of the host's attributed energy (gCO2e).");
		emit(b, "joule_host_carbon_grams_total %s\n", micro(h.carbon_ug, v));
		head(b, "joule_idle_energy_joules_total", "counter", "Energy of idle time, not charged to any process.");
		emit(b, "joule_idle_energy_joules_total{domain=\"cpu\"} %s\n", micro(h.idle.cpu_uj, v));
		emit(b, "joule_idle_energy_joules_total{domain=\"memory\"} %s\n", micro(h.idle.mem_uj, v));
		head(b, "joule_overflow_energy_joules_total", "counter",
		     "Energy of tasks the full BPF task map could not hold.");
		emit(b, "joule_overflow_energy_joules_total %s\n", micro(h.overflow.cpu_uj + h.overflow.mem_uj, v));
		head(b, "joule_grid_intensity_grams_per_kwh", "gauge", "Grid carbon intensity in use (gCO2e/kWh).");
		metrics_escape_label(h.intensity.kind ? h.intensity.kind : "", esc, sizeof(esc));
		metrics_escape_label(h.intensity.zone ? h.intensity.zone : "", esc2, sizeof(esc2));
		emit(b, "joule_grid_intensity_grams_per_kwh{kind=\"%s\",zone=\"%s\"} %.6g\n", esc, esc2,
		     h.intensity.g_per_kwh);
	}
	self_metrics(b, &h, self);
	return b->oom ? -ENOMEM : 0;
}
