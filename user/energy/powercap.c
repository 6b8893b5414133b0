// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The powercap sysfs source: intel-rapl/amd-rapl zones and subzones, energy_uj wrapping at max_energy_range_uj. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "joule/energy_source.h"
#include "joule/log.h"
#include "joule/util.h"

#define DEFAULT_POWERCAP_ROOT "/sys/class/powercap"

/* "intel-rapl:N" or "intel-rapl:N:M" (and amd-rapl:...); intel-rapl-mmio duplicates package-N. */
static bool is_zone_name(const char *n, bool *sub)
{
	const char *p;
	int colons = 0;

	if (!strncmp(n, "intel-rapl:", 11))
		p = n + 11;
	else if (!strncmp(n, "amd-rapl:", 9))
		p = n + 9;
	else
		return false;
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p == ':') {
			if (p[1] == '\0' || p[1] == ':')
				return false;
			colons++;
		} else if (*p < '0' || *p > '9') {
			return false;
		}
	}
	if (colons > 1)
		return false;
	*sub = colons == 1;
	return true;
}

/* package-N, package-N-die-M → ENERGY_PACKAGE with N; else the fixed subzone names. */
static int zone_domain(const char *name, enum energy_domain *d, int *pkg_id)
{
	if (!strncmp(name, "package-", 8)) {
		char *end;
		long v = strtol(name + 8, &end, 10);

		if (end == name + 8 || v < 0 || v > 65535 || (*end && strncmp(end, "-die-", 5)))
			return -EINVAL;
		*d = ENERGY_PACKAGE;
		*pkg_id = (int)v;
		return 0;
	}
	/* a bare "package" names no package: only package-N does */
	if (!strcmp(name, "package") || energy_domain_parse(name, d))
		return -EINVAL;
	return 0;
}

struct zone_ent {
	char id[64];	/* intel-rapl:0:1 */
	char path[4096];
};

static int zone_cmp(const void *a, const void *b)
{
	return strcmp(((const struct zone_ent *)a)->id, ((const struct zone_ent *)b)->id);
}

static int zone_add(struct zone_ent **z, int *nz, int *cap, const char *id, const char *path)
{
	for (int i = 0; i < *nz; i++)
		if (!strcmp((*z)[i].id, id))
			return 0; /* flat and nested paths reach the same files */
	if (*nz == *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		struct zone_ent *nzp = realloc(*z, sizeof(**z) * (size_t)ncap);

		if (!nzp)
			return -ENOMEM;
		*z = nzp;
		*cap = ncap;
	}
	snprintf((*z)[*nz].id, sizeof((*z)[*nz].id), "%s", id);
	snprintf((*z)[*nz].path, sizeof((*z)[*nz].path), "%s", path);
	(*nz)++;
	return 0;
}

static int list_zones(const char *root, struct zone_ent **out, int *n)
{
	struct zone_ent *z = NULL;
	int nz = 0, cap = 0, err = 0, ntop;
	DIR *d = opendir(root);
	struct dirent *e;
	char path[4096];

	if (!d)
		return -errno;
	/* /sys/class/powercap lists zones and subzones flat (symlinks)... */
	while (!err && (e = readdir(d))) {
		bool sub;

		if (!is_zone_name(e->d_name, &sub))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		err = zone_add(&z, &nz, &cap, e->d_name, path);
	}
	closedir(d);
	/* ...and subzones also nest inside their zone: accept trees that only nest. */
	ntop = nz;
	for (int i = 0; i < ntop && !err; i++) {
		char top[64];
		size_t tl;
		bool sub;

		if (!is_zone_name(z[i].id, &sub) || sub)
			continue;
		snprintf(top, sizeof(top), "%s", z[i].id);
		tl = strlen(top);
		snprintf(path, sizeof(path), "%s", z[i].path);
		d = opendir(path);
		if (!d)
			continue;
		while (!err && (e = readdir(d))) {
			char sp[4400];

			if (!is_zone_name(e->d_name, &sub) || !sub || strncmp(e->d_name, top, tl) ||
			    e->d_name[tl] != ':')
				continue;
			snprintf(sp, sizeof(sp), "%s/%s", path, e->d_name);
			err = zone_add(&z, &nz, &cap, e->d_name, sp);
		}
		closedir(d);
	}
	if (err) {
		free(z);
		return err;
	}
	if (nz)
		qsort(z, (size_t)nz, sizeof(*z), zone_cmp);
	*out = z;
	*n = nz;
	return 0;
}

static int read_powercap_raw(int fd, uint64_t *out)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t v = 0;
	int digits = 0;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	/* "%llu\n"; stop at the newline (a file rewritten in place may hold more after it). */
	for (char *p = buf; *p >= '0' && *p <= '9'; p++, digits++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

static int open_powercap(struct energy_source *s, const struct energy_opts *o, char *why, size_t wl)
{
	const char *root = o->powercap_root ? o->powercap_root : DEFAULT_POWERCAP_ROOT;
	struct zone_ent *z = NULL;
	int nz = 0, err;

	err = list_zones(root, &z, &nz);
	if (err == -ENOENT || (!err && nz == 0)) {
		free(z);
		format_msg(why, wl, "no RAPL zones under %s (no intel_rapl/amd RAPL driver, or a VM without RAPL)",
			root);
		return -ENODEV;
	}
	if (err) {
		format_msg(why, wl, "cannot list %s: %s", root, strerror(-err));
		return err;
	}
	for (int i = 0; i < nz; i++) {
		char path[4200], name[64], parent[64];
		enum energy_domain dom;
		int pkg_id = 0, pkg, fd;
		uint64_t max_range, raw;
		struct energy_counter *c;
		char *colon;

		snprintf(path, sizeof(path), "%s/name", z[i].path);
		if (read_text_file(path, name, sizeof(name)) < 0 || zone_domain(name, &dom, &pkg_id)) {
			log_debug("powercap: skipping %s (name '%s')", z[i].id, name);
			continue;
		}
		/* A subzone belongs to its parent's package. */
		snprintf(parent, sizeof(parent), "%s", z[i].id);
		colon = strrchr(parent, ':');
		if (dom != ENERGY_PACKAGE && dom != ENERGY_PSYS) {
			if (!colon || strchr(parent, ':') == colon) {
				log_debug("powercap: %s: top-level zone '%s' skipped", z[i].id, name);
				continue;
			}
			char ppath[4200], pname[64];
			enum energy_domain pd;

			*colon = '\0';
			snprintf(ppath, sizeof(ppath), "%s/%s/name", root, parent);
			if (read_text_file(ppath, pname, sizeof(pname)) < 0) {
				/* no flat parent: the nested layout, parent is the directory above */
				snprintf(ppath, sizeof(ppath), "%s/../name", z[i].path);
				if (read_text_file(ppath, pname, sizeof(pname)) < 0)
					continue;
			}
			if (zone_domain(pname, &pd, &pkg_id) || pd != ENERGY_PACKAGE) {
				log_debug("powercap: %s has no package parent", z[i].id);
				continue;
			}
		}

		/* psys is platform-wide: joule files it under the first package. */
		pkg = dom == ENERGY_PSYS ? 0 : energy_pkg_index(o->topo, pkg_id);
		if (pkg < 0 || pkg >= ENERGY_MAX_PKG) {
			log_debug("powercap: %s: package %d has no online CPU", z[i].id, pkg_id);
			continue;
		}
		snprintf(path, sizeof(path), "%s/max_energy_range_uj", z[i].path);
		err = read_u64_file(path, &max_range);
		if (err || max_range == 0 || max_range == UINT64_MAX) {
			log_warn("powercap: %s: no usable max_energy_range_uj; skipped", z[i].id);
			continue;
		}
		snprintf(path, sizeof(path), "%s/energy_uj", z[i].path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -EACCES || err == -EPERM) {
				format_msg(why, wl,
					"permission denied reading %s: RAPL energy is root-only since CVE-2020-8694 "
					"(Platypus); run as root or grant CAP_DAC_READ_SEARCH",
					path);
				free(z);
				return -EACCES;
			}
			log_warn("powercap: cannot open %s: %s", path, strerror(-err));
			continue;
		}
		err = read_powercap_raw(fd, &raw);
		if (err) {
			close(fd);
			if (err == -EACCES || err == -EPERM) {
				format_msg(why, wl,
					"permission denied reading %s: run as root or grant CAP_DAC_READ_SEARCH", path);
				free(z);
				return -EACCES;
			}
			log_warn("powercap: cannot read %s: %s", path, strerror(-err));
			continue;
		}
		/* energy_uj counts 0 .. max_energy_range_uj, so the modulus is one more. */
		c = energy_add_counter(s, dom, pkg, fd, true, (struct energy_unit){ 1, 1 }, max_range + 1, raw, z[i].id);
		if (!c) {
			close(fd);
			free(z);
			return -ENOMEM;
		}
		log_debug("powercap: %s %s → package %d, range %" PRIu64 " uJ", z[i].id, name, pkg, max_range + 1);
	}
	free(z);
	if (!s->nc) {
		format_msg(why, wl, "no readable RAPL zone under %s", root);
		return -ENODEV;
	}
	return 0;
}

static int powercap_read_raw(const struct energy_counter *c, uint64_t *raw)
{
	return read_powercap_raw(c->fd, raw);
}

const struct energy_source_ops energy_powercap_ops = {
	.kind = ENERGY_SRC_POWERCAP,
	.open = open_powercap,
	.read_raw = powercap_read_raw,
};
