/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Test helpers for the energy tests: temporary trees of sysfs-like files. */
#ifndef ENERGY_TEST_UTIL_H
#define ENERGY_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void t_mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static inline void t_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void t_write(const char *path, const char *fmt, ...)
{
	char dir[4096], *slash;
	va_list ap;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		t_mkdirs(dir);
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static inline void t_rmrf(const char *path)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", path);
}

/* A sysfs CPU tree: cpu c in package pkg_of[c]. */
static inline void t_topo_tree(const char *root, int ncpu, const int *pkg_of)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/possible", root);
	t_write(p, "0-%d\n", ncpu - 1);
	snprintf(p, sizeof(p), "%s/online", root);
	t_write(p, "0-%d\n", ncpu - 1);
	for (int c = 0; c < ncpu; c++) {
		snprintf(p, sizeof(p), "%s/cpu%d/topology/physical_package_id", root, c);
		t_write(p, "%d\n", pkg_of[c]);
	}
}

#endif
