// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The 95 % interval of a carbon figure: a truncated-normal analytical bound or a seeded Monte Carlo. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "joule/carbon.h"
#include "joule/carbon_internal.h"

static double norm_cdf(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

/* Acklam's rational approximation, polished with one Halley step: ~1e-15 relative. */
static double norm_quantile(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
				    -2.759285104469687e+02, 1.383577518672690e+02,
				    -3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
				    -1.556989798598866e+02, 6.680131188771972e+01,
				    -1.328068155288572e+01 };
	static const double cc[] = { -7.784894002430293e-03, -3.223964580411365e-01,
				     -2.400758277161838e+00, -2.549732539343734e+00,
				     4.374664141464968e+00, 2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
				    2.445134137142996e+00, 3.754408661907416e+00 };
	double q, r, x, e, u;

	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		x = (((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		x = -(((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else {
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	e = norm_cdf(x) - p;
	u = e * sqrt(2 * M_PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}

/* xoshiro256** seeded by splitmix64: small, fast, and the same stream on every platform. */
struct rng {
	uint64_t s[4];
	double spare;
	bool has_spare;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl(r->s[3], 45);
	return res;
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
	r->has_spare = false;
}

/* Box–Muller, using both outputs. */
static double rng_normal(struct rng *r)
{
	double u1, u2, m;

	if (r->has_spare) {
		r->has_spare = false;
		return r->spare;
	}
	u1 = ((rng_next(r) >> 11) + 1) * 0x1.0p-53; /* (0, 1]: log is finite */
	u2 = (rng_next(r) >> 11) * 0x1.0p-53;
	m = sqrt(-2 * log(u1));
	r->spare = m * sin(2 * M_PI * u2);
	r->has_spare = true;
	return m * cos(2 * M_PI * u2);
}

/* A factor ~ N(1, sd) truncated at 0, by rejection (accepts >= 50 % of draws for any sd). */
static double rng_factor(struct rng *r, double sd)
{
	double x;

	if (sd <= 0)
		return 1;
	do
		x = 1 + sd * rng_normal(r);
	while (x <= 0);
	return x;
}

/* Quickselect: a[k] becomes the k-th smallest, smaller ones before it, larger after. */
static void select_kth(double *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
		double pivot, t;

		/* median of three keeps sorted-ish inputs linear */
		if (a[mid] < a[lo]) { t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
		if (a[hi] < a[lo]) { t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
		if (a[hi] < a[mid]) { t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
		pivot = a[mid];
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/* Sample quantile with linear interpolation between order statistics (R's type 7). */
static double quantile(double *a, size_t n, double p)
{
	double h = (double)(n - 1) * p, lo, hi = INFINITY;
	size_t k = (size_t)h, i;

	select_kth(a, n, k);
	lo = a[k];
	if (k + 1 >= n)
		return lo;
	for (i = k + 1; i < n; i++)
		hi = a[i] < hi ? a[i] : hi;
	return lo + (h - (double)k) * (hi - lo);
}

void carbon_interval(const struct carbon_ctx *cc, uint64_t mean_ug, double energy_rel_sd,
		     double intensity_rel_sd, struct carbon_estimate *out)
{
	struct carbon_ctx *c = (struct carbon_ctx *)cc; /* mc_buf is scratch, not state */
	double se = energy_rel_sd > 0 ? energy_rel_sd : 0;
	double si = intensity_rel_sd > 0 ? intensity_rel_sd : 0;
	double m = (double)mean_ug;

	out->method = c->method;
	out->mean_ug = mean_ug;
	out->lo_ug = out->hi_ug = out->dist_mean_ug = mean_ug;
	if (!mean_ug || (se == 0 && si == 0))
		return;

	if (c->method == CARBON_MONTE_CARLO) {
		struct rng r;
		double sum = 0;
		uint32_t i;

		pthread_mutex_lock(&c->lock);
		rng_seed(&r, c->seed);
		for (i = 0; i < c->draws; i++) {
			double v = rng_factor(&r, se) * rng_factor(&r, si);

			c->mc_buf[i] = v;
			sum += v;
		}
		out->dist_mean_ug = carbon_round_ug(m * (sum / c->draws));
		out->lo_ug = carbon_round_ug(m * quantile(c->mc_buf, c->draws, 0.025));
		out->hi_ug = carbon_round_ug(m * quantile(c->mc_buf, c->draws, 0.975));
		pthread_mutex_unlock(&c->lock);
		return;
	} else {
		/*
		 * XY of independent X ~ N(1, se), Y ~ N(1, si) has mean 1 and variance
		 * se² + si² + se²si²; approximate it by a normal truncated at 0 and take
		 * that distribution's own 2.5 % and 97.5 % quantiles.
		 */
		double s = sqrt(se * se + si * si + se * se * si * si);
		double alpha = -1 / s, a = norm_cdf(alpha);
		double zlo = norm_quantile(a + 0.025 * (1 - a));
		double zhi = norm_quantile(a + 0.975 * (1 - a));
		double phi = exp(-alpha * alpha / 2) / sqrt(2 * M_PI);

		out->lo_ug = carbon_round_ug(m * (1 + s * zlo));
		out->hi_ug = carbon_round_ug(m * (1 + s * zhi));
		out->dist_mean_ug = carbon_round_ug(m * (1 + s * phi / (1 - a)));
	}
}
