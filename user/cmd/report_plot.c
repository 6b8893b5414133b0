// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --plot FILE.svg|FILE.html: feeds plot_svg from joule run's samples or from ledger records, and writes the picture. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "joule/log.h"
#include "joule/report_plot.h"
#include "joule/util.h"

int report_plot_open(struct report_plot *rp, const char *path)
{
	int err;

	memset(rp, 0, sizeof(*rp));
	rp->f = fopen(path, "we");
	if (!rp->f) {
		err = -errno;
		fprintf(stderr, "joule: cannot write the plot to %s: %s\n", path, strerror(-err));
		return err;
	}
	rp->path = path;
	err = plot_new(&rp->p);
	if (err)
		fprintf(stderr, "joule: failed to start the plot: %s\n", strerror(-err));
	return err;
}

int report_plot_sample(struct report_plot *rp, const struct sample *s, window_match_fn mine, void *ctx)
{
	int err;

	if (!rp->p || s->real_end_ns <= s->real_start_ns)
		return 0;
	err = plot_add_host(rp->p, s->real_start_ns, s->real_end_ns, s->host_cpu_uj + s->host_mem_uj,
			    sample_totals_energy_uj(&s->idle));
	for (size_t i = 0; i < s->ntasks && !err; i++) {
		const struct sample_task *t = &s->tasks[i];
		char key[48], comm[JOULE_COMM_LEN], label[48];

		if (!mine(t, ctx) || !sample_totals_energy_uj(&t->tot))
			continue;
		snprintf(key, sizeof(key), "%u:%llu", t->pid, (unsigned long long)t->start_ns);
		snprintf(comm, sizeof(comm), "%s", t->comm);
		snprintf(label, sizeof(label), "%s [%u]", comm, t->pid);
		err = plot_add(rp->p, key, comm, label, s->real_start_ns, s->real_end_ns, sample_totals_energy_uj(&t->tot));
	}
	return err;
}

/* Ledger integers are numbers, or decimal strings above 2^53 (docs/LEDGER.md). */
static uint64_t rec_u64(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	uint64_t n = 0;

	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		return (uint64_t)v->valuedouble;
	if (cJSON_IsString(v) && parse_u64(v->valuestring, &n) == 0)
		return n;
	return 0;
}

int report_plot_record(struct report_plot *rp, const cJSON *rec)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rec, "kind");
	uint64_t t0 = rec_u64(rec, "ts_start"), t1 = rec_u64(rec, "ts_end");
	const cJSON *v;

	if (!rp->p || !cJSON_IsString(kind) || t1 <= t0)
		return 0;
	if (strcmp(kind->valuestring, "host") == 0) {
		rp->host_uj += rec_u64(rec, "energy_uj");
		rp->host_carbon_ug += rec_u64(rec, "carbon_ug");
		v = cJSON_GetObjectItemCaseSensitive(rec, "source");
		if (cJSON_IsString(v))
			snprintf(rp->source, sizeof(rp->source), "%s", v->valuestring);
		return plot_add_host(rp->p, t0, t1, rec_u64(rec, "energy_uj"),
				     rec_u64(cJSON_GetObjectItemCaseSensitive(rec, "idle"), "energy_uj"));
	}
	if (strcmp(kind->valuestring, "process") == 0) {
		char key[64], label[64];
		const char *comm = "?";

		v = cJSON_GetObjectItemCaseSensitive(rec, "comm");
		if (cJSON_IsString(v))
			comm = v->valuestring;
		snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)rec_u64(rec, "pid"),
			 (unsigned long long)rec_u64(rec, "start_ns"));
		if (!rec_u64(rec, "energy_uj"))
			return 0;
		snprintf(label, sizeof(label), "%.15s [%llu]", comm, (unsigned long long)rec_u64(rec, "pid"));
		return plot_add(rp->p, key, comm, label, t0, t1, rec_u64(rec, "energy_uj"));
	}
	return 0;
}

/* FILE.html: the picture inline in a page (plot_html_render); anything else: the SVG itself. */
static bool wants_html(const char *path)
{
	size_t n = strlen(path);

	return n >= 5 && !strcasecmp(path + n - 5, ".html");
}

int report_plot_finish(struct report_plot *rp, struct plot_opts *o)
{
	char *svg = NULL;
	size_t len = 0;
	int err;

	if (!o->source && rp->source[0])
		o->source = rp->source;
	err = (wants_html(rp->path) ? plot_html_render : plot_svg_render)(rp->p, o, &svg, &len);
	if (err) {
		fprintf(stderr, "joule: cannot draw %s: %s\n", rp->path,
			err == -ENODATA ? "no host samples to draw" : strerror(-err));
		return 1;
	}
	if (fwrite(svg, 1, len, rp->f) != len || fflush(rp->f)) {
		fprintf(stderr, "joule: failed to write %s: %s\n", rp->path, strerror(errno));
		free(svg);
		return 1;
	}
	free(svg);
	return 0;
}

void report_plot_close(struct report_plot *rp)
{
	if (rp->f && fclose(rp->f))
		log_err("failed to close %s: %s", rp->path, strerror(errno));
	rp->f = NULL;
	plot_free(rp->p);
	rp->p = NULL;
}
