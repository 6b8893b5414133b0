// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The names of energy domains and source kinds, in one table each. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "joule/domain.h"

static const char *const kind_names[ENERGY_SRC_NKINDS] = { "auto", "powercap", "msr", "perf", "model" };
static const char *const domain_names[ENERGY_NDOMAINS] = { "package", "core", "uncore", "dram", "psys" };

static int name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++) {
		if (!strcmp(name, names[i]))
			return i;
	}
	return -EINVAL;
}

const char *energy_kind_name(enum energy_kind k)
{
	return (unsigned)k < ENERGY_SRC_NKINDS ? kind_names[k] : "unknown";
}

int energy_kind_parse(const char *name, enum energy_kind *out)
{
	int i = name_index(kind_names, ENERGY_SRC_NKINDS, name);

	if (i < 0)
		return i;
	*out = (enum energy_kind)i;
	return 0;
}

const char *energy_domain_name(enum energy_domain d)
{
	return (unsigned)d < ENERGY_NDOMAINS ? domain_names[d] : "unknown";
}

int energy_domain_parse(const char *name, enum energy_domain *out)
{
	int i = name_index(domain_names, ENERGY_NDOMAINS, name);

	if (i < 0)
		return i;
	*out = (enum energy_domain)i;
	return 0;
}
