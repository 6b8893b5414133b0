// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* CPU → package map from sysfs (possible, online, physical_package_id). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/topo.h"
#include "joule/util.h"

static int parse_int(const char **p, int *out)
{
	long v = 0;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v > 1 << 20)
			return -ERANGE;
		(*p)++;
	}
	*out = (int)v;
	return 0;
}

int topo_parse_cpulist(const char *s, bool *mask, int n)
{
	const char *p = s;
	int count = 0, err;

	memset(mask, 0, sizeof(*mask) * (size_t)n);
	if (!*p)
		return 0; /* an empty list is valid: e.g. "offline" when none are */
	for (;;) {
		int lo, hi;

		err = parse_int(&p, &lo);
		if (err)
			return err;
		hi = lo;
		if (*p == '-') {
			p++;
			err = parse_int(&p, &hi);
			if (err)
				return err;
			if (hi < lo)
				return -EINVAL;
		}
		if (hi >= n)
			return -ERANGE;
		for (int c = lo; c <= hi; c++) {
			if (!mask[c])
				count++;
			mask[c] = true;
		}
		if (*p == '\0' || *p == '\n')
			return count;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
}

/* The possible list's highest CPU + 1: per-CPU map values have this many slots. */
static int count_possible(const char *list)
{
	const char *p = list;
	int max = -1;

	while (*p) {
		if (isdigit((unsigned char)*p)) {
			int v = (int)strtol(p, (char **)&p, 10);

			if (v > max)
				max = v;
		} else {
			p++;
		}
	}
	return max + 1;
}

int topo_load(struct topo *t, const char *root)
{
	char path[4096], buf[4096];
	bool *online = NULL;
	int *ids = NULL, err, n;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/possible", root);
	n = read_text_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	t->ncpu = count_possible(buf);
	if (t->ncpu <= 0)
		return -EINVAL;

	online = calloc((size_t)t->ncpu, sizeof(*online));
	ids = calloc((size_t)t->ncpu, sizeof(*ids));
	t->cpu_pkg = calloc((size_t)t->ncpu, sizeof(*t->cpu_pkg));
	t->pkg_id = calloc((size_t)t->ncpu, sizeof(*t->pkg_id));
	t->pkg_first_cpu = calloc((size_t)t->ncpu, sizeof(*t->pkg_first_cpu));
	t->pkg_ncpu = calloc((size_t)t->ncpu, sizeof(*t->pkg_ncpu));
	if (!online || !ids || !t->cpu_pkg || !t->pkg_id || !t->pkg_first_cpu || !t->pkg_ncpu) {
		err = -ENOMEM;
		goto out;
	}

	snprintf(path, sizeof(path), "%s/online", root);
	n = read_text_file(path, buf, sizeof(buf));
	if (n < 0) {
		err = n;
		goto out;
	}
	err = topo_parse_cpulist(buf, online, t->ncpu);
	if (err < 0)
		goto out;

	for (int c = 0; c < t->ncpu; c++) {
		uint64_t id = 0;
		int p;

		t->cpu_pkg[c] = -1;
		if (!online[c])
			continue;
		snprintf(path, sizeof(path), "%s/cpu%d/topology/physical_package_id", root, c);
		/* Some VMs and older kernels lack the file: one package then. */
		if (read_u64_file(path, &id) < 0)
			id = 0;
		for (p = 0; p < t->npkg; p++)
			if (t->pkg_id[p] == (int)id)
				break;
		if (p == t->npkg) {
			t->pkg_id[p] = (int)id;
			t->pkg_first_cpu[p] = c;
			t->npkg++;
		}
		t->cpu_pkg[c] = p;
		t->pkg_ncpu[p]++;
	}
	err = t->npkg ? 0 : -ENODEV;
out:
	free(online);
	free(ids);
	if (err)
		topo_free(t);
	return err;
}

void topo_free(struct topo *t)
{
	free(t->cpu_pkg);
	free(t->pkg_id);
	free(t->pkg_first_cpu);
	free(t->pkg_ncpu);
	memset(t, 0, sizeof(*t));
}
