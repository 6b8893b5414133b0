// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sampling quality: opens joule's real pipeline, runs N ticks of the 10 Hz
 * loop, and prints each tick's jitter (wake-up minus deadline) and work time
 * as percentiles, from struct sampler_stats read after every tick.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "joule/config.h"
#include "joule/log.h"
#include "joule/pipeline.h"
#include "joule/sampler.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (!n)
		return 0;
	if (k < 1)
		k = 1;
	return v[k > n ? n - 1 : k - 1];
}

int main(int argc, char **argv)
{
	struct joule_config cfg;
	struct pipeline p;
	struct sampler_stats st;
	uint64_t *jit, *work, tasks_sum = 0;
	size_t n = 0, want;
	char err[256];
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: tick-stats TICKS [SOURCE]   (source default: model)\n");
		return 2;
	}
	want = (size_t)strtoul(argv[1], NULL, 10);
	jit = calloc(want + 1, sizeof(*jit));
	work = calloc(want + 1, sizeof(*work));
	if (!jit || !work)
		return 1;
	log_setup_libbpf();
	config_init(&cfg);
	if (config_set(&cfg, "source", argc == 3 ? argv[2] : "model", err, sizeof(err))) {
		fprintf(stderr, "tick-stats: %s\n", err);
		return 2;
	}
	rc = pipeline_open(&p, &cfg);
	if (rc)
		return rc;
	while (n < want) {
		struct pollfd pfd = { sampler_fd(p.sampler), POLLIN, 0 };
		const struct sample *s;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (sampler_tick(p.sampler, &s))
			continue;
		sampler_get_stats(p.sampler, &st);
		jit[n] = st.last_jitter_ns;
		work[n] = st.last_work_ns;
		tasks_sum += s->ntasks;
		n++;
	}
	sampler_get_stats(p.sampler, &st);
	qsort(jit, n, sizeof(*jit), cmp_u64);
	qsort(work, n, sizeof(*work), cmp_u64);
	printf("{\"ticks\":%zu,\"missed\":%" PRIu64 ",\"tasks_per_tick\":%.1f,"
	       "\"jitter_p50_ns\":%" PRIu64 ",\"jitter_p99_ns\":%" PRIu64 ",\"jitter_max_ns\":%" PRIu64 ","
	       "\"work_p50_ns\":%" PRIu64 ",\"work_p99_ns\":%" PRIu64 ",\"work_max_ns\":%" PRIu64 ","
	       "\"lost_events\":%" PRIu64 ",\"overflow_events\":%" PRIu64 "}\n",
	       n, st.missed, n ? (double)tasks_sum / (double)n : 0.0,
	       pct(jit, n, 50), pct(jit, n, 99), n ? jit[n - 1] : 0,
	       pct(work, n, 50), pct(work, n, 99), n ? work[n - 1] : 0,
	       st.lost_events, st.overflow_events);
	pipeline_close(&p);
	config_free(&cfg);
	free(jit);
	free(work);
	return 0;
}
