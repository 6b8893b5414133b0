// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz the energy module's text parsers: perf PMU sysfs files, /proc/cpuinfo, /proc/stat. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "joule/energy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct energy_cpuid id;
	struct energy_unit u;
	uint64_t config, busy[8], total[8];
	char *s = malloc(size + 1);
	bool matched;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (energy_perf_parse_event(s, &config) == 0 && config > 0xff)
		abort(); /* the event field is 8 bits wide */
	if (energy_perf_parse_scale(s, &u) == 0) {
		if (!u.num || !u.den)
			abort();
		(void)energy_unit_to_uj(u, UINT64_MAX);
		(void)energy_uj_to_ticks(u, UINT64_MAX);
	}
	(void)energy_perf_check_unit(s);
	if (energy_cpuinfo_parse(s, &id) == 0) {
		const struct energy_coeff *c = energy_model_lookup(&id, &matched);

		if (!c || !(c->max_w_per_cpu > c->idle_w_per_cpu))
			abort();
	}
	(void)energy_parse_proc_stat(s, busy, total, 8);
	free(s);
	return 0;
}
