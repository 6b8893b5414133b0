/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Energy domains and energy source kinds, and their names: the one table every layer uses. */
#ifndef JOULE_DOMAIN_H
#define JOULE_DOMAIN_H

enum energy_domain {
	ENERGY_PACKAGE,
	ENERGY_CORE,	/* pp0 */
	ENERGY_UNCORE,	/* pp1 */
	ENERGY_DRAM,
	ENERGY_PSYS,	/* platform; overlaps package: never summed with it */
	ENERGY_NDOMAINS,
};

enum energy_kind {
	ENERGY_SRC_AUTO,
	ENERGY_SRC_POWERCAP,
	ENERGY_SRC_MSR,
	ENERGY_SRC_PERF,
	ENERGY_SRC_MODEL,
	ENERGY_SRC_NKINDS,
};

const char *energy_kind_name(enum energy_kind k);	/* "auto", "powercap", "msr", "perf", "model"; "unknown" */
int energy_kind_parse(const char *name, enum energy_kind *out);	/* 0 or -EINVAL */
const char *energy_domain_name(enum energy_domain d);	/* "package", "core", "uncore", "dram", "psys"; "unknown" */
int energy_domain_parse(const char *name, enum energy_domain *out); /* 0 or -EINVAL */

#endif /* JOULE_DOMAIN_H */
