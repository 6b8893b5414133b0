// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Energy to carbon: the context and its settings, PUE, operational and embodied µg. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "joule/carbon.h"
#include "joule/carbon_internal.h"
#include "joule/util.h"

/* 1 kWh = 3.6e12 µJ and 1 g = 1e6 µg, so µg = µJ · g/kWh · PUE / 3.6e6. */
#define UJ_PER_KWH_OVER_UG_PER_G 3.6e6L

#define MAX_MC_DRAWS 10000000u

const char *carbon_method_name(enum carbon_method m)
{
	return m == CARBON_MONTE_CARLO ? "monte_carlo" : "analytical_truncated";
}

int carbon_method_parse(const char *s, enum carbon_method *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "analytical") || !strcmp(s, "analytical_truncated"))
		*out = CARBON_ANALYTICAL;
	else if (!strcmp(s, "monte-carlo") || !strcmp(s, "monte_carlo"))
		*out = CARBON_MONTE_CARLO;
	else
		return -EINVAL;
	return 0;
}

/* ---- context --------------------------------------------------------------- */

int carbon_open(struct carbon_ctx **out, const struct carbon_cfg *cfg, char *err, size_t errlen)
{
	struct carbon_ctx *c;
	int ret = -EINVAL;

	if (!out || !cfg)
		return -EINVAL;
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);

	if (!(cfg->intensity_g_per_kwh >= 0)) {
		format_msg(err, errlen, "bad intensity %g: must be >= 0 gCO2e/kWh", cfg->intensity_g_per_kwh);
		goto fail;
	}
	c->fixed = cfg->intensity_g_per_kwh;
	/* An explicit --zone and --intensity contradict each other: refuse rather than ignore one. */
	if (cfg->zone && c->fixed > 0) {
		format_msg(err, errlen,
			"both --zone %s and --intensity %g given: use one (--intensity replaces the "
			"default zone " CARBON_DEFAULT_ZONE ")",
			cfg->zone, c->fixed);
		goto fail;
	}
	if (cfg->zone || !(c->fixed > 0)) {
		const char *z = cfg->zone ? cfg->zone : CARBON_DEFAULT_ZONE;

		c->zone = carbon_zone_find(z);
		if (!c->zone) {
			format_msg(err, errlen,
				"unknown zone '%s': 'joule run --zone list' prints the %zu known zones", z,
				carbon_nzones);
			goto fail;
		}
	}

	c->pue = cfg->pue == 0 ? 1.0 : cfg->pue;
	if (!(c->pue >= 1.0 && c->pue < 10.0)) {
		format_msg(err, errlen, "bad PUE %g: must be between 1.0 and 10", cfg->pue);
		goto fail;
	}
	if (isnan(cfg->embodied_g) || isinf(cfg->embodied_g)) {
		format_msg(err, errlen, "bad embodied carbon %g g", cfg->embodied_g);
		goto fail;
	}
	c->embodied_g = cfg->embodied_g == 0 ? CARBON_DEFAULT_EMBODIED_G : cfg->embodied_g;
	c->embodied_share = cfg->embodied_share == 0 ? 1.0 : cfg->embodied_share;
	if (!(c->embodied_share > 0 && c->embodied_share <= 1)) {
		format_msg(err, errlen, "bad embodied share %g: must be more than 0 and at most 1", cfg->embodied_share);
		goto fail;
	}
	snprintf(c->embodied_basis, sizeof(c->embodied_basis), "%s",
		 cfg->embodied_basis ? cfg->embodied_basis : "configured");
	c->lifetime_s = cfg->lifetime_s == 0 ? CARBON_DEFAULT_LIFETIME_S : cfg->lifetime_s;
	if (!(c->lifetime_s > 0) || isinf(c->lifetime_s)) {
		format_msg(err, errlen, "bad host lifetime %g s: must be > 0", cfg->lifetime_s);
		goto fail;
	}

	c->method = cfg->method;
	c->seed = cfg->mc_seed;
	c->draws = cfg->mc_draws ? cfg->mc_draws : CARBON_DEFAULT_MC_DRAWS;
	if (c->draws < 100 || c->draws > MAX_MC_DRAWS) {
		format_msg(err, errlen, "bad Monte Carlo draw count %u: must be 100..%u", c->draws,
			MAX_MC_DRAWS);
		goto fail;
	}
	if (c->method == CARBON_MONTE_CARLO) {
		c->mc_buf = malloc(c->draws * sizeof(double));
		if (!c->mc_buf) {
			ret = -ENOMEM;
			format_msg(err, errlen, "out of memory for %u Monte Carlo draws", c->draws);
			goto fail;
		}
	}

	if (cfg->intensity_file) {
		ret = carbon_load_intensity_file(c, cfg->intensity_file, err, errlen);
		if (ret)
			goto fail;
	}
	*out = c;
	return 0;
fail:
	carbon_close(c);
	return ret;
}

void carbon_close(struct carbon_ctx *c)
{
	if (!c)
		return;
	carbon_series_free(&c->series);
	free(c->file);
	free(c->mc_buf);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

double carbon_pue(const struct carbon_ctx *c)
{
	return c->pue;
}

uint64_t carbon_operational_ug(uint64_t energy_uj, double g_per_kwh, double pue)
{
	return carbon_round_ug((long double)energy_uj * g_per_kwh * pue / UJ_PER_KWH_OVER_UG_PER_G);
}

uint64_t carbon_embodied_ug(const struct carbon_ctx *c, uint64_t interval_ns, double share)
{
	if (c->embodied_g < 0 || !(share > 0))
		return 0;
	if (share > 1)
		share = 1;
	/* SCI M = TE · (time reserved / expected lifespan) · (resources reserved / total). */
	return carbon_round_ug((long double)c->embodied_g * 1e6L * ((long double)interval_ns / 1e9L) /
			c->lifetime_s * c->embodied_share * share);
}

void carbon_get_embodied(const struct carbon_ctx *c, struct carbon_embodied *out)
{
	out->enabled = c->embodied_g >= 0;
	out->server_g = out->enabled ? c->embodied_g : 0;
	out->lifetime_s = c->lifetime_s;
	out->share = c->embodied_share;
	out->basis = c->embodied_basis;
}

void carbon_embodied_default(bool virtual_machine, unsigned ncpu, unsigned host_threads, double *server_g,
			     double *share, char *basis, size_t basis_len)
{
	if (!virtual_machine && !host_threads) {
		/* bare metal: the machine is the server, and all of it is ours */
		*server_g = CARBON_DEFAULT_EMBODIED_G;
		*share = 1.0;
		snprintf(basis, basis_len, "ccf-base-server (bare metal, whole machine)");
		return;
	}
	/*
	 * A VM sees its vCPUs, not the host's: its share of the host is its
	 * CPUs over the host's hardware threads, the SCI's resources reserved
	 * over total resources.
	 */
	*server_g = CARBON_VM_HOST_EMBODIED_G;
	if (!host_threads)
		host_threads = CARBON_VM_HOST_THREADS;
	if (!ncpu)
		ncpu = 1;
	*share = ncpu >= host_threads ? 1.0 : (double)ncpu / host_threads;
	snprintf(basis, basis_len, "ccf-median-cloud-host, %u of %u threads (%s)", ncpu < host_threads ? ncpu : host_threads,
		 host_threads, virtual_machine ? "virtual machine" : "configured host size");
}
