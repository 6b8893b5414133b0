// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the intensity CSV parser: any bytes in, a sorted series or an error out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "joule/carbon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct carbon_series s = { 0 };
	char err[256];
	size_t i;

	if (carbon_parse_intensity_csv((const char *)data, size, "fuzz.csv", &s, err, sizeof(err)) == 0) {
		/* the contract: non-empty, strictly ascending, finite values >= 0 */
		if (!s.n)
			abort();
		for (i = 0; i < s.n; i++) {
			if (!(s.g_per_kwh[i] >= 0) || s.g_per_kwh[i] > 1e308)
				abort();
			if (i && s.ts_ns[i] <= s.ts_ns[i - 1])
				abort();
		}
		carbon_series_free(&s);
	} else if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz.csv", 8)) {
		abort(); /* every error names the input */
	}
	return 0;
}
