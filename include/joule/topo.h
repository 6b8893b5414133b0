/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CPU topology: which package each CPU belongs to, read from sysfs. */
#ifndef JOULE_TOPO_H
#define JOULE_TOPO_H

#include <stdbool.h>

#define TOPO_DEFAULT_ROOT "/sys/devices/system/cpu"

struct topo {
	int ncpu;	    /* possible CPUs: the width of BPF per-CPU values */
	int npkg;	    /* packages with at least one online CPU */
	int *cpu_pkg;	    /* [ncpu] dense package index, -1 if offline */
	int *pkg_id;	    /* [npkg] physical_package_id */
	int *pkg_first_cpu; /* [npkg] lowest online CPU: where per-package MSRs are read */
	int *pkg_ncpu;	    /* [npkg] online CPUs in the package */
};

/*
 * Parse a kernel cpulist ("0-3,8,10-11") into mask[0..n). Returns the number
 * of CPUs set, or -EINVAL (bad syntax) / -ERANGE (a CPU >= n).
 */
int topo_parse_cpulist(const char *s, bool *mask, int n);

/* Read topology under root (TOPO_DEFAULT_ROOT in production). 0 or -errno. */
int topo_load(struct topo *t, const char *root);
void topo_free(struct topo *t);

#endif /* JOULE_TOPO_H */
