// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus exposition of the store (text 0.0.4, OpenMetrics 1.0): base units, exact decimals, bounded label sets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/metrics.h"
#include "joule/util.h"

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

struct render {
	const struct store *s;
	struct textbuf *b;
	bool om;		/* OpenMetrics 1.0 rather than text 0.0.4 */
	uint32_t exported;	/* group entries exported this time */
	enum { F_ENERGY, F_CPU, F_CARBON } family;
	bool gpu;		/* the host has GPUs: energy families get domain="gpu" */
};

/*
 * A family's header. OpenMetrics names the family without `_total` and
 * states the unit; text 0.0.4 names the counter's sample.
 */
static void head(struct render *r, const char *family, const char *type, const char *unit, const char *help)
{
	bool counter = strcmp(type, "counter") == 0;

	if (r->om) {
		textbuf_printf(r->b, "# TYPE %s %s\n", family, type);
		if (unit)
			textbuf_printf(r->b, "# UNIT %s %s\n", family, unit);
		textbuf_printf(r->b, "# HELP %s %s\n", family, help);
	} else {
		textbuf_printf(r->b, "# HELP %s%s %s\n# TYPE %s%s %s\n", family, counter ? "_total" : "", help, family,
			       counter ? "_total" : "", type);
	}
}

static void identity_labels(const struct proc_labels *l, char *out, size_t len);

static void group_labels(const struct store_group *g, char *out, size_t len)
{
	char group[2 * PROC_GROUP_LEN], comm[2 * JOULE_COMM_LEN], ident[1400] = "";

	metrics_escape_label(g->name, group, sizeof(group));
	metrics_escape_label(g->comm, comm, sizeof(comm));
	/* a comm group spans units and containers: no workload identity of its own */
	if (g->kind != GROUP_COMM)
		identity_labels(&g->labels, ident, sizeof(ident));
	snprintf(out, len, "group=\"%s\",group_kind=\"%s\",comm=\"%s\"%s", group, group_kind_name(g->kind), comm,
		 ident);
}

static void proc_labels(const struct store_proc *p, char *out, size_t len)
{
	char comm[2 * JOULE_COMM_LEN], group[2 * PROC_GROUP_LEN];

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

void metrics_host_info(struct textbuf *b, const struct host_identity *host, const char *source)
{
	char hn[2 * sizeof(host->hostname)], mid[96], bid[96], src[64];

	metrics_escape_label(host->hostname, hn, sizeof(hn));
	metrics_escape_label(host->machine_id, mid, sizeof(mid));
	metrics_escape_label(host->boot_id, bid, sizeof(bid));
	metrics_escape_label(source ? source : "", src, sizeof(src));
	/* a gauge: its header reads the same in text 0.0.4 and OpenMetrics */
	textbuf_printf(b, "# HELP joule_host_info This host's identity and energy source; always 1.\n# TYPE joule_host_info gauge\n");
	textbuf_printf(b, "joule_host_info{hostname=\"%s\",machine_id=\"%s\",boot_id=\"%s\",source=\"%s\"} 1\n", hn, mid,
		       bid, src);
}


/* One family's samples for a label set (labels may be ""). */
static void totals_lines(struct render *r, const char *name, const char *labels, const struct sample_totals *t)
{
	const char *sep = labels[0] ? "," : "";
	char v[40];

	switch (r->family) {
	case F_ENERGY:
		textbuf_printf(r->b, "%s{%s%sdomain=\"cpu\"} %s\n", name, labels, sep, micro(t->cpu_uj, v));
		textbuf_printf(r->b, "%s{%s%sdomain=\"memory\"} %s\n", name, labels, sep, micro(t->mem_uj, v));
		if (r->gpu) /* only on a host with a GPU: no new series elsewhere */
			textbuf_printf(r->b, "%s{%s%sdomain=\"gpu\"} %s\n", name, labels, sep, micro(t->gpu_uj, v));
		break;
	case F_CPU:
		if (labels[0])
			textbuf_printf(r->b, "%s{%s} %s\n", name, labels, nano(t->cpu_ns, v));
		else
			textbuf_printf(r->b, "%s %s\n", name, nano(t->cpu_ns, v));
		break;
	case F_CARBON:
		textbuf_printf(r->b, "%s{%s%skind=\"operational\"} %s\n", name, labels, sep, micro(t->operational_ug, v));
		textbuf_printf(r->b, "%s{%s%skind=\"embodied\"} %s\n", name, labels, sep, micro(t->embodied_ug, v));
		break;
	}
}

/* The sample name of the current family for a prefix: joule_group → joule_group_energy_joules_total. */
static const char *family_sample(const struct render *r, const char *base, char *name, size_t len)
{
	snprintf(name, len, "%s_%s_total", base,
		 r->family == F_ENERGY ? "energy_joules" : r->family == F_CPU ? "cpu_seconds" : "carbon_grams");
	return name;
}

static int group_cb(const struct store_group *g, void *ctx)
{
	struct render *r = ctx;
	struct sample_totals shown;
	char labels[2048], name[96];

	/* idle past the limit: no series; its past stays in the past, nothing moves */
	if (!store_group_exposed(r->s, g))
		return 0;
	if (r->family == F_ENERGY)
		r->exported++;
	group_labels(g, labels, sizeof(labels));
	shown = g->total;
	sample_totals_add(&shown, &g->adopted);
	shown.cpu_ns -= g->unseen.cpu_ns;
	shown.cpu_uj -= g->unseen.cpu_uj;
	shown.mem_uj -= g->unseen.mem_uj;
	shown.gpu_uj -= g->unseen.gpu_uj;
	shown.operational_ug -= g->unseen.operational_ug;
	shown.embodied_ug -= g->unseen.embodied_ug;
	shown.carbon_ug = shown.operational_ug + shown.embodied_ug;
	totals_lines(r, family_sample(r, "joule_group", name, sizeof(name)), labels, &shown);
	return 0;
}

static int proc_cb(const struct store_proc *p, void *ctx)
{
	struct render *r = ctx;
	char labels[2048], name[96];

	/* drill-down only, while alive; a reused pid: only the newest holder, so label sets stay unique */
	if (!p->own_series || p->exited || store_find_proc(r->s, p->pid) != p)
		return 0;
	proc_labels(p, labels, sizeof(labels));
	totals_lines(r, family_sample(r, "joule_process", name, sizeof(name)), labels, &p->total);
	return 0;
}

/*
 * other: energy no group series holds: the group table was full of active
 * entries, the BPF task map was full, or a group used it before any
 * exposition showed the group (a new series' first value is no increase).
 */
static void other_lines(struct render *r, const struct store_host *h)
{
	char name[96];

	family_sample(r, "joule_other", name, sizeof(name));
	totals_lines(r, name, "reason=\"group_table_full\"", &h->other);
	if (r->family == F_ENERGY && r->gpu) {
		/* on the GPU side, overflow is GPU energy of pids the tracer did not know: say so */
		struct sample_totals cpu_side = h->overflow;
		char v[40];

		cpu_side.gpu_uj = 0;
		totals_lines(r, name, "reason=\"task_map_full\"", &cpu_side);
		textbuf_printf(r->b, "%s{reason=\"gpu_process_unknown\",domain=\"gpu\"} %s\n", name, micro(h->overflow.gpu_uj, v));
	} else {
		totals_lines(r, name, "reason=\"task_map_full\"", &h->overflow);
	}
	totals_lines(r, name, "reason=\"before_first_exposition\"", &h->unseen);
}

/* Per GPU (issue 16): what each measured and how much of it was idle, labelled by index and UUID. */
static void gpu_lines(struct render *r, const struct store_host *h)
{
	char v[40], uuid[200], name[200];

	if (!r->gpu)
		return;
	head(r, "joule_gpu_energy_joules", "counter", "joules",
	     "Energy each GPU measured (NVML energy counter, or power integrated per tick where there is none); "
	     "its split is in the domain=\"gpu\" series of the group, idle and other families.");
	for (int i = 0; i < h->ngpu; i++) {
		metrics_escape_label(h->gpus[i].uuid, uuid, sizeof(uuid));
		metrics_escape_label(h->gpus[i].name, name, sizeof(name));
		textbuf_printf(r->b, "joule_gpu_energy_joules_total{gpu=\"%u\",uuid=\"%s\",name=\"%s\",source=\"%s\"} %s\n",
			       h->gpus[i].index, uuid, name, h->gpus[i].has_counter ? "energy_counter" : "power_integrated",
			       micro(h->gpus[i].energy_uj, v));
	}
	head(r, "joule_gpu_idle_energy_joules", "counter", "joules", "The part of each GPU's energy no process used.");
	for (int i = 0; i < h->ngpu; i++) {
		metrics_escape_label(h->gpus[i].uuid, uuid, sizeof(uuid));
		textbuf_printf(r->b, "joule_gpu_idle_energy_joules_total{gpu=\"%u\",uuid=\"%s\"} %s\n", h->gpus[i].index, uuid,
			       micro(h->gpus[i].idle_uj, v));
	}
	head(r, "joule_gpu_up", "gauge", NULL, "1 while the GPU is read, 0 once it is lost (its energy so far stays).");
	for (int i = 0; i < h->ngpu; i++) {
		metrics_escape_label(h->gpus[i].uuid, uuid, sizeof(uuid));
		textbuf_printf(r->b, "joule_gpu_up{gpu=\"%u\",uuid=\"%s\"} %d\n", h->gpus[i].index, uuid, !h->gpus[i].lost);
	}
}

/* One self-metric that is a whole number: its header, then its one sample (counters end in _total). */
static void self_u64(struct render *r, const char *family, const char *type, const char *unit, const char *help,
		     uint64_t v)
{
	head(r, family, type, unit, help);
	textbuf_printf(r->b, "%s%s %llu\n", family, strcmp(type, "counter") == 0 ? "_total" : "", (unsigned long long)v);
}

/* Closed spans by name: a bounded set of names, the rest summed into name="_other". */
static void span_lines(struct render *r, const char *family, const struct span_name_total *t, bool energy)
{
	char v[40];

	textbuf_printf(r->b, "%s{name=\"%s\"} %s\n", family, t->name, energy ? micro(t->energy_uj, v) : nano(t->cpu_ns, v));
}

static void span_metrics(struct render *r, const struct span_metrics *m)
{
	head(r, "joule_span_energy_joules", "counter", "joules",
	     "Energy (CPU side and DRAM) of closed energy spans, by span name; names beyond the first "
	     "32 are summed into name=\"_other\".");
	for (size_t i = 0; i < m->n; i++)
		span_lines(r, "joule_span_energy_joules_total", &m->names[i], true);
	if (m->other.count)
		span_lines(r, "joule_span_energy_joules_total", &m->other, true);
	head(r, "joule_span_cpu_seconds", "counter", "seconds", "On-CPU time of closed energy spans, by span name.");
	for (size_t i = 0; i < m->n; i++)
		span_lines(r, "joule_span_cpu_seconds_total", &m->names[i], false);
	if (m->other.count)
		span_lines(r, "joule_span_cpu_seconds_total", &m->other, false);
	head(r, "joule_spans", "counter", NULL, "Energy spans closed, by how they ended (closed by the caller, or at "
	     "their process's exit).");
	textbuf_printf(r->b, "joule_spans_total{end=\"closed\"} %llu\n", (unsigned long long)m->closed);
	textbuf_printf(r->b, "joule_spans_total{end=\"exited\"} %llu\n", (unsigned long long)m->exited);
	self_u64(r, "joule_spans_open", "gauge", NULL, "Energy spans open now.", m->open);
}

static void self_metrics(struct render *r, const struct store_host *h, const struct metrics_self *m)
{
	struct textbuf *b = r->b;
	char v[40];

	self_u64(r, "joule_self_samples", "counter", NULL, "Samples taken since start.", h->samples);
	self_u64(r, "joule_self_processes_tracked", "gauge", NULL, "Processes held in the store.", h->procs_tracked);
	self_u64(r, "joule_self_processes_untracked", "counter", NULL,
		 "Process intervals charged to a group only because the process table was full.", h->procs_untracked);
	self_u64(r, "joule_self_groups", "gauge", NULL,
		 "Group entries (group and comm) held in the store, exported or not.", h->groups);
	self_u64(r, "joule_self_groups_exported", "gauge", NULL,
		 "Group entries with series in this exposition (active within the idle limit).", r->exported);
	head(r, "joule_self_group_idle_limit_seconds", "gauge", "seconds",
	     "A group entry with no energy for this long has no series here.");
	textbuf_printf(b, "joule_self_group_idle_limit_seconds %s\n", nano(store_group_idle_ns(r->s), v));
	self_u64(r, "joule_self_groups_evicted", "counter", NULL, "Idle group entries forgotten to make room for new ones.",
		 h->groups_evicted);
	if (m->have_sampler) {
		const struct sampler_stats *st = &m->sampler;

		self_u64(r, "joule_self_ticks_missed", "counter", NULL, "Timer expirations beyond one per wake-up.",
			 st->missed);
		head(r, "joule_self_tick_jitter_seconds", "histogram", "seconds", "Lateness of each sampling tick.");
		/* finite bounds only: the last slot catches everything and is +Inf */
		for (int i = 0; i < SAMPLER_JITTER_BUCKETS; i++)
			if (st->jitter_le_ns[i] && st->jitter_le_ns[i] != UINT64_MAX)
				textbuf_printf(b, "joule_self_tick_jitter_seconds_bucket{le=\"%s\"} %llu\n",
					       nano(st->jitter_le_ns[i], v), (unsigned long long)st->jitter_count[i]);
		textbuf_printf(b, "joule_self_tick_jitter_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)st->ticks);
		textbuf_printf(b, "joule_self_tick_jitter_seconds_sum %s\n", nano(st->jitter_sum_ns, v));
		textbuf_printf(b, "joule_self_tick_jitter_seconds_count %llu\n", (unsigned long long)st->ticks);
		head(r, "joule_self_tick_work_seconds", "counter", "seconds", "Time spent working inside ticks.");
		textbuf_printf(b, "joule_self_tick_work_seconds_total %s\n", nano(st->work_sum_ns, v));
		self_u64(r, "joule_self_bpf_overflow_events", "counter", NULL,
			 "Times the BPF task map was full and time went to the overflow bucket.", st->overflow_events);
		self_u64(r, "joule_self_bpf_lost_events", "counter", NULL, "Ring buffer records the kernel dropped.",
			 st->lost_events);
	}
	if (m->have_ledger) {
		self_u64(r, "joule_self_ledger_bytes", "counter", "bytes", "Bytes appended to the ledger.", m->ledger_bytes);
		self_u64(r, "joule_self_ledger_syncs", "counter", NULL, "fdatasync calls on the ledger.", m->ledger_syncs);
		self_u64(r, "joule_self_ledger_queue_records", "gauge", NULL, "Ledger records waiting to be written.",
			 m->ledger_queue);
		self_u64(r, "joule_self_ledger_records_lost", "counter", NULL,
			 "Ledger records given up on (disk full, I/O error); a gap record names them once writing resumes.",
			 m->ledger_records_lost);
	}
	self_u64(r, "joule_self_http_requests", "counter", NULL, "HTTP requests answered.", m->http_requests);
	if (m->have_spans)
		span_metrics(r, &m->spans);
	head(r, "joule_self_scrape_duration_seconds", "gauge", "seconds", "Time the previous /metrics rendering took.");
	textbuf_printf(b, "joule_self_scrape_duration_seconds %s\n", nano(m->last_scrape_ns, v));
	if (m->have_process) {
		/* the names every Prometheus client library exports, so standard dashboards work */
		head(r, "process_cpu_seconds", "counter", "seconds", "Total user and system CPU time spent in seconds.");
		textbuf_printf(b, "process_cpu_seconds_total %s\n", nano(m->process.cpu_ns, v));
		head(r, "process_resident_memory_bytes", "gauge", "bytes", "Resident memory size in bytes.");
		textbuf_printf(b, "process_resident_memory_bytes %llu\n", (unsigned long long)m->process.rss_bytes);
		head(r, "process_virtual_memory_bytes", "gauge", "bytes", "Virtual memory size in bytes.");
		textbuf_printf(b, "process_virtual_memory_bytes %llu\n", (unsigned long long)m->process.vsize_bytes);
		head(r, "process_open_fds", "gauge", NULL, "Number of open file descriptors.");
		textbuf_printf(b, "process_open_fds %llu\n", (unsigned long long)m->process.open_fds);
		if (m->process.max_fds) {
			head(r, "process_max_fds", "gauge", NULL, "Maximum number of open file descriptors.");
			textbuf_printf(b, "process_max_fds %llu\n", (unsigned long long)m->process.max_fds);
		}
		head(r, "process_start_time_seconds", "gauge", "seconds",
		     "Start time of the process since unix epoch in seconds.");
		textbuf_printf(b, "process_start_time_seconds %s\n", nano(m->process.start_real_ns, v));
	}
}

int metrics_render(struct store *s, const struct metrics_self *self, enum metrics_format fmt,
		   struct textbuf *b)
{
	const struct metrics_self none = { 0 };
	struct store_host h;
	struct render r = { .s = s, .b = b, .om = fmt == METRICS_OPENMETRICS };
	char v[40], esc[128], esc2[256];

	if (!self)
		self = &none;
	b->len = 0;
	b->oom = false;
	store_begin_exposition(s);
	store_get_host(s, &h);
	r.gpu = h.ngpu > 0;

	head(&r, "joule_build_info", "gauge", NULL, "joule's version; always 1.");
	textbuf_printf(b, "joule_build_info{version=\"%s\"} 1\n", self->version ? self->version : "unknown");
	if (self->host)
		metrics_host_info(b, self->host, h.samples ? energy_kind_name(h.source) : "");

	/*
	 * The families to sum. Every µJ the host's split counters measured is
	 * in exactly one of group, idle and other, and each only grows.
	 */
	r.family = F_ENERGY;
	head(&r, "joule_group_energy_joules", "counter", "joules",
	     "Energy of every process of a group ever, live and exited, by comm and domain; with idle and other "
	     "it sums to joule_host_attributed_energy_joules_total.");
	store_foreach_group(s, group_cb, &r);
	head(&r, "joule_idle_energy_joules", "counter", "joules", "Energy of idle time and of CPU time no process was charged with (joule_cpu_unaccounted_seconds_total), "
	     "not charged to any process.");
	totals_lines(&r, "joule_idle_energy_joules_total", "", &h.idle);
	head(&r, "joule_other_energy_joules", "counter", "joules",
	     "Energy of processes no group series could hold (group table full, BPF task map full).");
	other_lines(&r, &h);
	head(&r, "joule_host_attributed_energy_joules", "counter", "joules",
	     "The host energy that is split over processes (CPU side and DRAM): group + idle + other.");
	textbuf_printf(b, "joule_host_attributed_energy_joules_total{domain=\"cpu\"} %s\n", micro(h.cpu_uj, v));
	textbuf_printf(b, "joule_host_attributed_energy_joules_total{domain=\"memory\"} %s\n", micro(h.mem_uj, v));
	if (r.gpu)
		textbuf_printf(b, "joule_host_attributed_energy_joules_total{domain=\"gpu\"} %s\n", micro(h.gpu_uj, v));

	r.family = F_CPU;
	head(&r, "joule_group_cpu_seconds", "counter", "seconds", "On-CPU time of every process of a group ever, by comm.");
	store_foreach_group(s, group_cb, &r);
	head(&r, "joule_cpu_unaccounted_seconds", "counter", "seconds",
	     "CPU time the CPUs' clocks saw that no process and no idle was charged with (IRQ or steal time, clock "
	     "skew); its energy is in joule_idle_energy_joules_total. Held at its highest value: never goes down.");
	textbuf_printf(b, "joule_cpu_unaccounted_seconds_total %s\n",
		       nano(h.cpu_unaccounted_hwm_ns > 0 ? (uint64_t)h.cpu_unaccounted_hwm_ns : 0, v));

	r.family = F_CARBON;
	head(&r, "joule_group_carbon_grams", "counter", "grams",
	     "Carbon (gCO2e) of every process of a group ever, by comm: kind operational (energy x PUE x intensity) "
	     "or embodied.");
	store_foreach_group(s, group_cb, &r);
	head(&r, "joule_idle_carbon_grams", "counter", "grams", "Carbon (gCO2e) of idle time, by kind.");
	totals_lines(&r, "joule_idle_carbon_grams_total", "", &h.idle);
	head(&r, "joule_other_carbon_grams", "counter", "grams", "Carbon (gCO2e) of the other energy, by kind.");
	other_lines(&r, &h);
	head(&r, "joule_host_carbon_grams", "counter", "grams", "Carbon (gCO2e) of the host, by kind.");
	textbuf_printf(b, "joule_host_carbon_grams_total{kind=\"operational\"} %s\n", micro(h.operational_ug, v));
	textbuf_printf(b, "joule_host_carbon_grams_total{kind=\"embodied\"} %s\n", micro(h.embodied_ug, v));

	/* Drill-down: processes with their own series, lifetime totals, while they live. Do not add to groups. */
	r.family = F_ENERGY;
	head(&r, "joule_process_energy_joules", "counter", "joules",
	     "Energy of one process (filters, top N) over its life, by domain; drill-down only, the series stops "
	     "when the process ends; sum joule_group_energy_joules_total instead.");
	store_foreach_proc(s, proc_cb, &r);
	r.family = F_CPU;
	head(&r, "joule_process_cpu_seconds", "counter", "seconds", "On-CPU time of one process; drill-down only.");
	store_foreach_proc(s, proc_cb, &r);
	r.family = F_CARBON;
	head(&r, "joule_process_carbon_grams", "counter", "grams",
	     "Carbon (gCO2e) of one process by kind; drill-down only.");
	store_foreach_proc(s, proc_cb, &r);

	if (h.samples) {
		const char *src = energy_kind_name(h.source);

		head(&r, "joule_host_energy_joules", "counter", "joules",
		     "Energy the host's counters measured, per domain (overlapping domains included: do not sum).");
		for (int d = 0; d < ENERGY_NDOMAINS; d++)
			if (h.domains & (1u << d))
				textbuf_printf(b, "joule_host_energy_joules_total{package=\"all\",domain=\"%s\",source=\"%s\"} %s\n",
					       energy_domain_name((enum energy_domain)d), src, micro(h.domain_uj[d], v));
		head(&r, "joule_grid_intensity_grams_per_kwh", "gauge", NULL, "Grid carbon intensity in use (gCO2e/kWh).");
		metrics_escape_label(h.intensity.kind ? h.intensity.kind : "", esc, sizeof(esc));
		metrics_escape_label(h.intensity.zone ? h.intensity.zone : "", esc2, sizeof(esc2));
		textbuf_printf(b, "joule_grid_intensity_grams_per_kwh{kind=\"%s\",zone=\"%s\"} %.6g\n", esc, esc2,
			       h.intensity.g_per_kwh);
		head(&r, "joule_pue_ratio", "gauge", "ratio", "Power usage effectiveness applied to operational carbon.");
		textbuf_printf(b, "joule_pue_ratio %.6g\n", h.pue);
	}
	gpu_lines(&r, &h);
	self_metrics(&r, &h, self);
	if (r.om)
		textbuf_printf(b, "# EOF\n");
	return b->oom ? -ENOMEM : 0;
}

enum metrics_format metrics_negotiate(const char *accept)
{
	/* Prometheus sends both with q-values; any mention of OpenMetrics means it can parse it */
	if (accept && strstr(accept, "application/openmetrics-text"))
		return METRICS_OPENMETRICS;
	return METRICS_TEXT;
}
