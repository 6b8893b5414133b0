// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report of a run or trace window: sums samples, then writes them as JSON or as a perf-stat-like table. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "joule/energy.h"
#include "joule/report.h"

void window_init(struct window *w, const struct joule_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->embodied_g = cfg->embodied_g;
	w->lifetime_s = cfg->lifetime_s;
}

void window_add(struct window *w, const struct sample *s, window_match_fn mine, void *ctx)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct sample_task *t = &s->tasks[i];

		if (mine(t, ctx)) {
			acct_add(&w->procs, t);
			sample_totals_add(&w->mine, &t->tot);
		} else {
			sample_totals_add(&w->others, &t->tot);
		}
	}
	sample_totals_add(&w->idle, &s->idle);
	sample_totals_add(&w->overflow, &s->overflow);
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		w->host_domain_uj[d] += s->host_domain_uj[d];
	w->domains |= s->domains;
	w->host_cpu_uj += s->host_cpu_uj;
	w->host_mem_uj += s->host_mem_uj;
	w->host_gpu_uj += s->host_gpu_uj;
	if (s->ngpu > w->ngpu)
		w->ngpu = s->ngpu;
	for (int g = 0; g < s->ngpu; g++) {
		struct window_gpu *wg = &w->gpus[g];

		wg->last = s->gpus[g];
		if (s->gpus[g].method != GPU_SPLIT_IDLE)
			wg->method = s->gpus[g].method;
		wg->energy_uj += s->gpus[g].energy_uj;
		wg->idle_uj += s->gpus[g].idle_uj;
		wg->read_errors += s->gpus[g].status == GPU_READ_ERROR;
		wg->lost |= s->gpus[g].status == GPU_LOST;
	}
	w->host_carbon_ug += s->host_carbon_ug;
	w->host_embodied_ug += s->host_embodied_ug;
	w->intensity_sd_weighted += (double)s->host_carbon_ug * s->intensity.rel_sd;
	w->energy_rel_sd = s->energy_rel_sd;
	w->source = s->source;
	w->intensity = s->intensity;
	w->pue = s->pue;
	w->ticks++;
	w->span_ns += s->mono_end_ns - s->mono_start_ns;
	w->cpu_clock_ns += s->clock_ns;
	w->unaccounted_ns += s->unaccounted_ns;
	if (s->ncpus > w->ncpus)
		w->ncpus = s->ncpus;
}

void window_reset(struct window *w)
{
	struct acct procs = w->procs;
	double eg = w->embodied_g, ls = w->lifetime_s;

	acct_clear(&procs);
	memset(w, 0, sizeof(*w));
	w->procs = procs;
	w->embodied_g = eg;
	w->lifetime_s = ls;
}

void window_free(struct window *w)
{
	acct_free(&w->procs);
}

uint64_t window_host_uj(const struct window *w)
{
	return w->host_cpu_uj + w->host_mem_uj;
}

static double window_intensity_sd(const struct window *w)
{
	if (w->host_carbon_ug == 0)
		return w->intensity.rel_sd;
	return w->intensity_sd_weighted / (double)w->host_carbon_ug;
}

static double ratio(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

/* ---- JSON */

static void add_ci(cJSON *o, const char *key, struct carbon_ctx *c, const struct window *w, uint64_t mean)
{
	struct carbon_estimate e;
	cJSON *arr;

	carbon_interval(c, mean, w->energy_rel_sd, window_intensity_sd(w), &e);
	arr = cJSON_AddArrayToObject(o, key);
	cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)e.lo_ug));
	cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)e.hi_ug));
}

/* carbon_ug and its two parts: operational is what is not embodied, so the parts sum exactly. */
static void add_carbon(cJSON *o, uint64_t carbon_ug, uint64_t embodied_ug)
{
	cJSON_AddNumberToObject(o, "carbon_ug", (double)carbon_ug);
	cJSON_AddNumberToObject(o, "carbon_operational_ug", (double)(carbon_ug - embodied_ug));
	cJSON_AddNumberToObject(o, "carbon_embodied_ug", (double)embodied_ug);
}

/* GPU energy is its own key, not part of energy_uj (the CPU side, DESIGN's balance); absent without a GPU. */
static void add_gpu(cJSON *o, const struct window *w, uint64_t gpu_uj)
{
	if (w->ngpu)
		cJSON_AddNumberToObject(o, "gpu_energy_uj", (double)gpu_uj);
}

static cJSON *bucket_json(const struct window *w, const struct sample_totals *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "cpu_ns", (double)s->cpu_ns);
	cJSON_AddNumberToObject(o, "energy_uj", (double)(s->cpu_uj + s->mem_uj));
	cJSON_AddNumberToObject(o, "cpu_energy_uj", (double)s->cpu_uj);
	cJSON_AddNumberToObject(o, "memory_energy_uj", (double)s->mem_uj);
	add_gpu(o, w, s->gpu_uj);
	add_carbon(o, s->carbon_ug, s->embodied_ug);
	return o;
}

static cJSON *carbon_json(struct carbon_ctx *c, const struct window *w)
{
	cJSON *o = cJSON_CreateObject();
	struct carbon_estimate e;

	carbon_interval(c, 0, 0, 0, &e);
	cJSON_AddNumberToObject(o, "intensity_g_per_kwh", w->intensity.g_per_kwh);
	cJSON_AddStringToObject(o, "intensity_kind", w->intensity.kind ? w->intensity.kind : "");
	cJSON_AddStringToObject(o, "zone", w->intensity.zone ? w->intensity.zone : "");
	if (w->intensity.year)
		cJSON_AddNumberToObject(o, "year", w->intensity.year);
	cJSON_AddStringToObject(o, "source", w->intensity.source ? w->intensity.source : "");
	cJSON_AddNumberToObject(o, "pue", w->pue);
	cJSON_AddStringToObject(o, "method", carbon_method_name(e.method));
	cJSON_AddNumberToObject(o, "energy_rel_sd", w->energy_rel_sd);
	cJSON_AddNumberToObject(o, "intensity_rel_sd", window_intensity_sd(w));
	return o;
}

static const char *gpu_status_name(const struct window_gpu *g)
{
	return g->lost ? "lost" : g->read_errors ? "read_errors" : "ok";
}

/* Each GPU: energy, idle, how it was read (counter or integrated power) and split, and its trouble. */
static cJSON *gpus_json(const struct window *w)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; i < w->ngpu; i++) {
		const struct window_gpu *g = &w->gpus[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "index", g->last.index);
		cJSON_AddStringToObject(o, "uuid", g->last.uuid);
		cJSON_AddStringToObject(o, "name", g->last.name);
		cJSON_AddNumberToObject(o, "energy_uj", (double)g->energy_uj);
		cJSON_AddNumberToObject(o, "idle_energy_uj", (double)g->idle_uj);
		cJSON_AddStringToObject(o, "energy_source", g->last.has_counter ? "energy_counter" : "power_integrated");
		cJSON_AddNumberToObject(o, "energy_rel_sd", g->last.rel_sd);
		cJSON_AddStringToObject(o, "split", gpu_split_name(g->method));
		cJSON_AddStringToObject(o, "status", gpu_status_name(g));
		cJSON_AddNumberToObject(o, "read_errors", (double)g->read_errors);
		if (g->last.nvml_err)
			cJSON_AddNumberToObject(o, "nvml_error", g->last.nvml_err);
		cJSON_AddNumberToObject(o, "mig_instances", g->last.mig_instances);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *host_json(const struct window *w)
{
	cJSON *o = cJSON_CreateObject(), *dom;

	cJSON_AddNumberToObject(o, "energy_uj", (double)window_host_uj(w));
	cJSON_AddNumberToObject(o, "cpu_energy_uj", (double)w->host_cpu_uj);
	cJSON_AddNumberToObject(o, "memory_energy_uj", (double)w->host_mem_uj);
	add_carbon(o, w->host_carbon_ug, w->host_embodied_ug);
	cJSON_AddNumberToObject(o, "span_ns", (double)w->span_ns);
	/* the CPUs' time: busy_ns + idle_ns + unaccounted_ns == cpu_clock_ns ≈ ncpus × span_ns */
	cJSON_AddNumberToObject(o, "ncpus", (double)w->ncpus);
	cJSON_AddNumberToObject(o, "cpu_clock_ns", (double)w->cpu_clock_ns);
	cJSON_AddNumberToObject(o, "busy_ns", (double)(w->mine.cpu_ns + w->others.cpu_ns + w->overflow.cpu_ns));
	cJSON_AddNumberToObject(o, "idle_ns", (double)w->idle.cpu_ns);
	cJSON_AddNumberToObject(o, "unaccounted_ns", (double)w->unaccounted_ns);
	if (w->span_ns)
		cJSON_AddNumberToObject(o, "mean_power_w", (double)window_host_uj(w) * 1e3 / (double)w->span_ns);
	dom = cJSON_AddObjectToObject(o, "domains");
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		if (w->domains & (1u << d))
			cJSON_AddNumberToObject(dom, energy_domain_name(d), (double)w->host_domain_uj[d]);
	if (w->ngpu) {
		cJSON_AddNumberToObject(dom, "gpu", (double)w->host_gpu_uj);
		cJSON_AddNumberToObject(o, "gpu_energy_uj", (double)w->host_gpu_uj);
		cJSON_AddItemToObject(o, "gpus", gpus_json(w));
	}
	return o;
}

static cJSON *procs_json(struct carbon_ctx *c, const struct window *w)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < w->procs.n; i++) {
		const struct acct_entry *e = &w->procs.v[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "pid", e->pid);
		cJSON_AddNumberToObject(o, "ppid", e->ppid);
		cJSON_AddStringToObject(o, "comm", e->comm);
		cJSON_AddNumberToObject(o, "cpu_ns", (double)e->tot.cpu_ns);
		cJSON_AddNumberToObject(o, "energy_uj", (double)(e->tot.cpu_uj + e->tot.mem_uj));
		cJSON_AddNumberToObject(o, "cpu_energy_uj", (double)e->tot.cpu_uj);
		cJSON_AddNumberToObject(o, "memory_energy_uj", (double)e->tot.mem_uj);
		add_gpu(o, w, e->tot.gpu_uj);
		cJSON_AddNumberToObject(o, "allocation_ratio", ratio(e->tot.cpu_uj + e->tot.mem_uj, window_host_uj(w)));
		add_carbon(o, e->tot.carbon_ug, e->tot.embodied_ug);
		add_ci(o, "carbon_ci_ug", c, w, e->tot.carbon_ug);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

void report_add_window_json(cJSON *root, struct carbon_ctx *c, const struct window *w)
{
	cJSON *total;

	cJSON_AddItemToObject(root, "processes", procs_json(c, w));
	total = bucket_json(w, &w->mine);
	add_ci(total, "carbon_ci_ug", c, w, w->mine.carbon_ug);
	cJSON_AddNumberToObject(total, "allocation_ratio",
				ratio(w->mine.cpu_uj + w->mine.mem_uj, window_host_uj(w)));
	cJSON_AddItemToObject(root, "total", total);
	cJSON_AddItemToObject(root, "others", bucket_json(w, &w->others));
	cJSON_AddItemToObject(root, "idle", bucket_json(w, &w->idle));
	cJSON_AddItemToObject(root, "overflow", bucket_json(w, &w->overflow));
	cJSON_AddItemToObject(root, "host", host_json(w));
	cJSON_AddItemToObject(root, "carbon", carbon_json(c, w));
}

cJSON *report_sampler_json(const struct sampler *smp)
{
	struct sampler_stats st;
	cJSON *o = cJSON_CreateObject();
	uint64_t p99 = 0;

	sampler_get_stats(smp, &st);
	/* the histogram's bound that holds 99 % of the timer ticks */
	for (int i = 0; i < SAMPLER_JITTER_BUCKETS; i++) {
		if (st.jitter_count[i] * 100 >= st.jitter_count[SAMPLER_JITTER_BUCKETS - 1] * 99) {
			p99 = st.jitter_le_ns[i];
			break;
		}
	}
	cJSON_AddNumberToObject(o, "ticks", (double)st.ticks);
	cJSON_AddNumberToObject(o, "missed", (double)st.missed);
	cJSON_AddNumberToObject(o, "jitter_p99_le_ns", p99 == UINT64_MAX ? -1 : (double)p99);
	cJSON_AddNumberToObject(o, "max_jitter_ns", (double)st.max_jitter_ns);
	cJSON_AddNumberToObject(o, "max_work_ns", (double)st.max_work_ns);
	cJSON_AddNumberToObject(o, "energy_errors", (double)st.energy_errors);
	return o;
}

/* ---- text */

void report_printable_comm(const char *comm, char *out, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && comm[i]; i++)
		out[i] = (unsigned char)comm[i] < 0x20 || comm[i] == 0x7f ? '?' : comm[i];
	out[i] = '\0';
}

static void print_row(FILE *f, const char *pid, const char *ppid, const char *name, const struct sample_totals *s,
		      uint64_t wall_ns, uint64_t host, struct carbon_ctx *c, const struct window *w)
{
	struct carbon_estimate e;
	double j = (double)(s->cpu_uj + s->mem_uj) / 1e6;
	char shown[JOULE_COMM_LEN + 16];

	report_printable_comm(name, shown, sizeof(shown));
	carbon_interval(c, s->carbon_ug, w->energy_rel_sd, window_intensity_sd(w), &e);
	fprintf(f, "%7s %7s  %-16.16s %9.3f %10.3f %8.3f ", pid, ppid, shown, (double)s->cpu_ns / 1e9, j,
		(double)s->mem_uj / 1e6);
	if (w->ngpu)
		fprintf(f, "%10.3f ", (double)s->gpu_uj / 1e6);
	fprintf(f, "%8.3f %7.2f%% %10.4f %10.4f %10.4f [%.4f, %.4f]\n",
		wall_ns ? j * 1e9 / (double)wall_ns : 0.0, 100.0 * ratio(s->cpu_uj + s->mem_uj, host),
		(double)(s->carbon_ug - s->embodied_ug) / 1e6, (double)s->embodied_ug / 1e6,
		(double)s->carbon_ug / 1e6, (double)e.lo_ug / 1e6, (double)e.hi_ug / 1e6);
}

void report_print_table(FILE *f, struct carbon_ctx *c, const struct window *w, uint64_t wall_ns, bool with_rest)
{
	struct sample_totals host = { 0 };
	char pid[16], ppid[16];

	fprintf(f, "%7s %7s  %-16s %9s %10s %8s ", "PID", "PPID", "COMM", "CPU s", "energy J", "mem J");
	if (w->ngpu)
		fprintf(f, "%10s ", "GPU J");
	fprintf(f, "%8s %8s %10s %10s %10s %s\n", "mean W", "share", "oper. g", "embod. g", "carbon g",
		"[95% interval]");
	for (size_t i = 0; i < w->procs.n; i++) {
		const struct acct_entry *e = &w->procs.v[i];
		snprintf(pid, sizeof(pid), "%u", e->pid);
		snprintf(ppid, sizeof(ppid), "%u", e->ppid);
		print_row(f, pid, ppid, e->comm, &e->tot, wall_ns, window_host_uj(w), c, w);
	}
	if (!with_rest)
		return;
	print_row(f, "", "", "= command total", &w->mine, wall_ns, window_host_uj(w), c, w);
	print_row(f, "", "", "other processes", &w->others, wall_ns, window_host_uj(w), c, w);
	print_row(f, "", "", "idle", &w->idle, wall_ns, window_host_uj(w), c, w);
	if (w->overflow.cpu_ns || w->overflow.cpu_uj || w->overflow.gpu_uj)
		print_row(f, "", "", "overflow", &w->overflow, wall_ns, window_host_uj(w), c, w);
	host = (struct sample_totals){ .cpu_uj = w->host_cpu_uj, .mem_uj = w->host_mem_uj, .gpu_uj = w->host_gpu_uj,
				       .carbon_ug = w->host_carbon_ug,
				       .operational_ug = w->host_carbon_ug - w->host_embodied_ug,
				       .embodied_ug = w->host_embodied_ug };
	host.cpu_ns = w->mine.cpu_ns + w->others.cpu_ns + w->idle.cpu_ns + w->overflow.cpu_ns;
	print_row(f, "", "", "= host", &host, wall_ns, window_host_uj(w), c, w);
}

/* How embodied carbon was counted: the figure, its lifetime, and whether it is joule's default. */
/* How embodied carbon was counted: the server's figure, its lifetime, this machine's share, and why. */
static void print_embodied(FILE *f, struct carbon_ctx *c, const struct window *w)
{
	struct carbon_embodied e;

	carbon_get_embodied(c, &e);
	if (!e.enabled) {
		fprintf(f, "embodied: none (--embodied-kg none); carbon is operational only\n");
		return;
	}
	fprintf(f, "embodied: %.1f kgCO2e server over %.1f years, this machine's share %.4f (%s%s), split by CPU "
		   "time; operational = energy x PUE x intensity\n",
		e.server_g / 1000.0, e.lifetime_s / (365.25 * 86400.0), e.share, e.basis ? e.basis : "configured",
		w->embodied_g > 0 ? ", --embodied-kg" : "; --embodied-kg none leaves it out");
}

void report_print_footer(FILE *f, struct carbon_ctx *c, const struct window *w, uint64_t wall_ns,
			 struct energy_source *src)
{
	struct carbon_estimate e;

	carbon_interval(c, 0, 0, 0, &e);
	fprintf(f, "\nwall %.3f s; host energy %.3f J (", (double)wall_ns / 1e9, (double)window_host_uj(w) / 1e6);
	for (int d = 0, first = 1; d < ENERGY_NDOMAINS; d++) {
		if (!(w->domains & (1u << d)))
			continue;
		fprintf(f, "%s%s %.3f J", first ? "" : ", ", energy_domain_name(d), (double)w->host_domain_uj[d] / 1e6);
		first = 0;
	}
	fprintf(f, "), mean power %.2f W over %.3f s; source %s (±%.0f%% 1σ)\n",
		w->span_ns ? (double)window_host_uj(w) * 1e3 / (double)w->span_ns : 0.0, (double)w->span_ns / 1e9,
		energy_kind_name(w->source), 100 * w->energy_rel_sd);
	for (int i = 0; i < w->ngpu; i++) {
		const struct window_gpu *g = &w->gpus[i];

		fprintf(f, "gpu %u %s (%s): %.3f J, idle %.3f J; %s (±%.1f%% 1σ), split by %s%s%s\n", g->last.index,
			g->last.name, g->last.uuid, (double)g->energy_uj / 1e6, (double)g->idle_uj / 1e6,
			g->last.has_counter ? "energy counter" : "power integrated per tick", 100 * g->last.rel_sd,
			gpu_split_name(g->method), g->lost ? "; LOST during the run, energy up to then" : "",
			g->read_errors ? "; some reads failed" : "");
	}
	if (w->source == ENERGY_SRC_MODEL && energy_model_basis(src)[0])
		fprintf(f, "%s\n", energy_model_basis(src));
	fprintf(f, "carbon: %.2f g/kWh (%s%s%s%s%.0d, %s), PUE %.2f, interval %s\n", w->intensity.g_per_kwh,
		w->intensity.kind ? w->intensity.kind : "", w->intensity.zone && w->intensity.zone[0] ? " " : "",
		w->intensity.zone ? w->intensity.zone : "", w->intensity.year ? " " : "", w->intensity.year,
		w->intensity.source ? w->intensity.source : "", w->pue, carbon_method_name(e.method));
	print_embodied(f, c, w);
}
