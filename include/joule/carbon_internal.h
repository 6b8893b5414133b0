/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the carbon files share and nothing else includes: the context's layout and two helpers. */
#ifndef JOULE_CARBON_INTERNAL_H
#define JOULE_CARBON_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/carbon.h"

#define CARBON_MAX_PUSHES 32

struct carbon_pushed {
	uint64_t ns;
	double g_per_kwh;
};

struct carbon_ctx {
	const struct carbon_zone *zone;	/* NULL when only a fixed value was given */
	double fixed;			/* > 0: --intensity */
	struct carbon_series series;
	char *file;
	double pue, embodied_g, lifetime_s, embodied_share;
	char embodied_basis[160];
	enum carbon_method method;
	uint32_t draws;
	uint64_t seed;
	double *mc_buf;			/* [draws], so carbon_interval never allocates */
	pthread_mutex_t lock;		/* pushes (HTTP thread) and mc_buf */
	struct carbon_pushed push[CARBON_MAX_PUSHES];	/* ascending by ns; the oldest drop out */
	unsigned npush;
};

/* µg as an integer, rounded; 0 for nothing or NaN, saturating at UINT64_MAX. */
static inline uint64_t carbon_round_ug(long double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 18446744073709551615.0L)
		return UINT64_MAX;
	return (uint64_t)(v + 0.5L);
}

/* Read and parse the intensity CSV at path into c->series (carbon_intensity.c). */
int carbon_load_intensity_file(struct carbon_ctx *c, const char *path, char *err, size_t errlen);

#endif /* JOULE_CARBON_INTERNAL_H */
