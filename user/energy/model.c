// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The model source: P = P_idle + (P_max - P_idle)·f(u) per package, from the sampler's or /proc/stat's utilisation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/energy_source.h"
#include "joule/util.h"

#define PROC_STAT "/proc/stat"

struct energy_model_state {
	double idle_w[ENERGY_MAX_PKG];
	double max_w[ENERGY_MAX_PKG];
	double last_u[ENERGY_MAX_PKG];
	uint64_t uj[ENERGY_MAX_PKG];
	uint64_t rem[ENERGY_MAX_PKG];
	bool linear;
	/* /proc/stat fallback when the caller passes no utilisation */
	const struct topo *topo;
	uint64_t *prev_busy, *prev_total;
	bool have_prev;
};

static int model_proc_stat(struct energy_model_state *m, uint64_t *busy_pkg, uint64_t *total_pkg, int npkg)
{
	int ncpu = m->topo->ncpu, n;
	uint64_t *busy = calloc((size_t)ncpu, sizeof(*busy));
	uint64_t *total = calloc((size_t)ncpu, sizeof(*total));
	char *text = energy_slurp(PROC_STAT);

	if (!busy || !total || !text) {
		free(busy);
		free(total);
		free(text);
		return -ENOMEM;
	}
	n = energy_parse_proc_stat(text, busy, total, ncpu);
	free(text);
	if (n < 0) {
		free(busy);
		free(total);
		return n;
	}
	for (int p = 0; p < npkg; p++)
		busy_pkg[p] = total_pkg[p] = 0;
	for (int c = 0; c < ncpu; c++) {
		int p = m->topo->cpu_pkg[c];

		if (p < 0 || p >= npkg)
			continue;
		if (m->have_prev && busy[c] >= m->prev_busy[c] && total[c] >= m->prev_total[c]) {
			busy_pkg[p] += busy[c] - m->prev_busy[c];
			total_pkg[p] += total[c] - m->prev_total[c];
		}
		m->prev_busy[c] = busy[c];
		m->prev_total[c] = total[c];
	}
	m->have_prev = true;
	free(busy);
	free(total);
	return 0;
}

static int open_model(struct energy_source *s, const struct energy_opts *o, char *why, size_t wl)
{
	const struct topo *t = o->topo;
	struct energy_model_state *m = calloc(1, sizeof(*m));
	int online = 0;

	if (!m)
		return -ENOMEM;
	s->m = m;
	m->topo = t;
	m->linear = o->model_linear;
	m->prev_busy = calloc((size_t)t->ncpu, sizeof(uint64_t));
	m->prev_total = calloc((size_t)t->ncpu, sizeof(uint64_t));
	if (!m->prev_busy || !m->prev_total)
		return -ENOMEM;
	for (int p = 0; p < t->npkg; p++)
		online += t->pkg_ncpu[p];
	if (online <= 0)
		online = 1;
	if (o->model_idle_w > 0 || o->model_max_w > 0) {
		if (!(o->model_idle_w >= 0) || !(o->model_max_w > o->model_idle_w) || o->model_max_w > 1e6) {
			format_msg(why, wl, "model: need 0 <= idle W < max W (got %.3g and %.3g)", o->model_idle_w,
				o->model_max_w);
			return -EINVAL;
		}
		/* Whole-host watts, shared between packages by their online CPUs. */
		for (int p = 0; p < t->npkg && p < ENERGY_MAX_PKG; p++) {
			double share = (double)t->pkg_ncpu[p] / online;

			m->idle_w[p] = o->model_idle_w * share;
			m->max_w[p] = o->model_max_w * share;
		}
		s->rel_unc = ENERGY_UNC_MODEL_GIVEN;
		snprintf(s->basis, sizeof(s->basis), "model %s: idle %.2f W, max %.2f W for the host (given)",
			 m->linear ? "linear" : "SPECpower/Teads curve", o->model_idle_w, o->model_max_w);
	} else {
		struct energy_cpuid id;
		const struct energy_coeff *c;
		bool matched = false;

		if (energy_read_cpuid(o, &id))
			memset(&id, 0, sizeof(id));
		c = energy_model_lookup(&id, &matched);
		for (int p = 0; p < t->npkg && p < ENERGY_MAX_PKG; p++) {
			m->idle_w[p] = c->idle_w_per_cpu * t->pkg_ncpu[p];
			m->max_w[p] = c->max_w_per_cpu * t->pkg_ncpu[p];
		}
		s->rel_unc = matched ? ENERGY_UNC_MODEL_MATCHED : ENERGY_UNC_MODEL_FALLBACK;
		snprintf(s->basis, sizeof(s->basis),
			 "model %s: %s %s %.3g-%.3g W per CPU x %d CPUs = %.2f-%.2f W (%s; SPECpower via CCF)",
			 m->linear ? "linear" : "SPECpower/Teads curve", c->vendor, c->uarch, c->idle_w_per_cpu,
			 c->max_w_per_cpu, online, c->idle_w_per_cpu * online, c->max_w_per_cpu * online, c->source);
	}
	s->npkg = t->npkg < ENERGY_MAX_PKG ? t->npkg : ENERGY_MAX_PKG;
	s->domains = 1u << ENERGY_PACKAGE;
	/* Baseline for the /proc/stat fallback. */
	{
		uint64_t b[ENERGY_MAX_PKG], tt[ENERGY_MAX_PKG];

		model_proc_stat(m, b, tt, s->npkg);
	}
	return 0;
}

static void read_model(struct energy_source *s, const struct energy_util *util, uint64_t dt_ns,
		       struct energy_reading *out)
{
	struct energy_model_state *m = s->m;
	uint64_t busy[ENERGY_MAX_PKG], total[ENERGY_MAX_PKG];
	const uint64_t *bp = NULL, *tp = NULL;

	if (util && util->npkg == s->npkg && util->busy_ns && util->total_ns) {
		bp = util->busy_ns;
		tp = util->total_ns;
	} else if (!model_proc_stat(m, busy, total, s->npkg)) {
		bp = busy;
		tp = total;
	}
	for (int p = 0; p < s->npkg; p++) {
		double u = m->last_u[p];

		if (bp && tp[p] > 0) {
			u = (double)bp[p] / (double)tp[p];
			if (u > 1.0)
				u = 1.0;
			m->last_u[p] = u;
		}
		energy_model_integrate(&m->uj[p], &m->rem[p],
				       energy_model_power_uw(m->idle_w[p], m->max_w[p], u, m->linear), dt_ns);
		out->uj[p][ENERGY_PACKAGE] = m->uj[p];
	}
}

static void free_model(struct energy_source *s)
{
	if (!s->m)
		return;
	free(s->m->prev_busy);
	free(s->m->prev_total);
	free(s->m);
	s->m = NULL;
}

static const char *describe_model(const struct energy_source *s)
{
	return s->basis;
}

const struct energy_source_ops energy_model_ops = {
	.kind = ENERGY_SRC_MODEL,
	.open = open_model,
	.read_all = read_model,
	.free = free_model,
	.describe = describe_model,
};
