// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz target: the config file parser (INI through the key table) and the value parsers behind flags. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "joule/config.h"
#include "joule/topo.h"
#include "joule/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct joule_config c;
	char err[256], *s;
	bool mask[64];
	uint64_t u;
	double d;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	config_init(&c);
	if (config_load_string(&c, s, "fuzz.conf", err, sizeof(err)) != 0 && !memchr(err, '\0', sizeof(err)))
		abort(); /* an error must always come with a terminated message */
	config_free(&c);

	(void)topo_parse_cpulist(s, mask, 64);
	(void)parse_duration_ns(s, &u);
	(void)parse_u64(s, &u);
	(void)parse_double(s, &d);
	free(s);
	return 0;
}
