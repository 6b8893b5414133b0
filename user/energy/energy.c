// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Energy sources behind one interface: powercap sysfs, MSR, perf power PMU, power model. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "joule/energy.h"
#include "joule/log.h"
#include "joule/util.h"

#define DEFAULT_POWERCAP_ROOT "/sys/class/powercap"
#define DEFAULT_MSR_ROOT "/dev/cpu"
#define DEFAULT_PERF_ROOT "/sys/bus/event_source/devices/power"
#define DEFAULT_CPUINFO "/proc/cpuinfo"
#define PROC_STAT "/proc/stat"

#define MSR_INTEL_UNIT 0x606
#define MSR_INTEL_PKG 0x611
#define MSR_INTEL_PP0 0x639
#define MSR_INTEL_PP1 0x641
#define MSR_INTEL_DRAM 0x619
#define MSR_INTEL_PSYS 0x64D
#define MSR_AMD_UNIT 0xC0010299
#define MSR_AMD_CORE 0xC001029A /* per core; not read, see open_msr() */
#define MSR_AMD_PKG 0xC001029B

/* RAPL energy counters are 32 bits wide on MSR; powercap and perf hide that. */
#define MSR_COUNTER_RANGE (1ULL << 32)
/* Hardware updates RAPL about every 1 ms: a read may include that much beyond dt. */
#define PLAUSIBLE_SLACK_NS (10 * NSEC_PER_MSEC)

/*
 * Relative standard uncertainty (1 sigma) of a source's energy.
 * Measured (RAPL through powercap, MSR or perf): 5 %. RAPL has been
 * measured, not modelled, since Haswell and tracks the package's own power
 * closely (Hackenberg et al. 2015, "An Energy Efficiency Feature Survey of
 * the Intel Haswell Processor", IPDPSW; Khan et al. 2018, "RAPL in Action:
 * Experiences in Using RAPL for Power Measurements", ACM TOMPECS 3(2), who
 * found RAPL highly correlated with wall power); 5 % covers the
 * model-based RAPL of Sandy/Ivy Bridge and DRAM RAPL's larger error
 * (Desrochers et al. 2016, "A Validation of DRAM RAPL Power
 * Measurements", MEMSYS).
 * Model: 30 % with coefficients matched to the microarchitecture, 50 % with
 * the CCF fallback average, 25 % with P_idle/P_max given by the operator.
 * Reasoning: SPECpower per-thread figures for one microarchitecture differ
 * between CCF's own releases by up to 2× (Ivy Bridge idle 3.04 vs 1.71 W,
 * Haswell 1.00 vs 1.86 W; docs/energy.md), a VM's share of a host is not a
 * share of its threads' SPECpower, and the curve's shape is a fleet average.
 * Operator-given endpoints remove the coefficient error but not the shape.
 */
#define UNC_MEASURED 0.05
#define UNC_MODEL_MATCHED 0.30
#define UNC_MODEL_FALLBACK 0.50
#define UNC_MODEL_GIVEN 0.25

struct counter {
	enum energy_domain dom;
	int pkg;
	int fd;
	bool own_fd;
	uint64_t reg; /* MSR offset */
	struct energy_unit unit;
	struct energy_acc acc;
	uint64_t stall_ns; /* a gap longer than this may hide a whole wrap */
	char name[48];	   /* for logs: zone or register */
};

struct model_state {
	double idle_w[ENERGY_MAX_PKG];
	double max_w[ENERGY_MAX_PKG];
	double last_u[ENERGY_MAX_PKG];
	uint64_t uj[ENERGY_MAX_PKG];
	uint64_t rem[ENERGY_MAX_PKG];
	bool linear;
	/* /proc/stat fallback when the caller passes no utilisation */
	const struct topo *topo;
	uint64_t *prev_busy, *prev_total;
	bool have_prev;
};

struct energy_source {
	enum energy_kind kind;
	int npkg;
	uint32_t domains;
	struct counter *c;
	int nc;
	uint64_t last_ns;
	uint64_t last_warn_ns; /* stall and rejection warnings: at most one a minute */
	bool warned;
	uint64_t reads;
	uint64_t read_errors;
	double rel_unc;
	char basis[256];
	struct model_state *m;
};

/* ---------- pure cores ---------- */

uint64_t energy_unit_to_uj(struct energy_unit u, uint64_t ticks)
{
	unsigned __int128 v;

	if (!u.den)
		return 0;
	v = (unsigned __int128)ticks * u.num / u.den;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

uint64_t energy_uj_to_ticks(struct energy_unit u, uint64_t uj)
{
	unsigned __int128 v;

	if (!u.num)
		return UINT64_MAX;
	v = ((unsigned __int128)uj * u.den + u.num - 1) / u.num;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

void energy_acc_init(struct energy_acc *a, uint64_t range)
{
	memset(a, 0, sizeof(*a));
	a->range = range;
}

enum energy_acc_event energy_acc_step(struct energy_acc *a, uint64_t raw, uint64_t max_delta)
{
	uint64_t delta;
	bool wrapped;

	if (a->range && raw >= a->range)
		return ENERGY_ACC_INVALID;
	if (!a->primed) {
		a->prev = raw;
		a->primed = true;
		return ENERGY_ACC_FIRST;
	}
	wrapped = raw < a->prev;
	/* (raw - prev) mod range; with range 0 (2^64) unsigned arithmetic does it. */
	delta = raw - a->prev;
	if (wrapped && a->range)
		delta = a->range - a->prev + raw;
	if (max_delta && delta > max_delta) {
		/* Not energy that could have been used: a reset, a glitch or a torn read. */
		a->rejected++;
		a->prev = raw;
		return ENERGY_ACC_REJECTED;
	}
	a->prev = raw;
	a->total += delta;
	if (wrapped) {
		a->wraps++;
		return ENERGY_ACC_WRAP;
	}
	return ENERGY_ACC_OK;
}

unsigned energy_msr_esu(uint64_t unit_msr)
{
	return (unsigned)((unit_msr >> 8) & 0x1f);
}

/*
 * Server parts whose DRAM counter uses a fixed 15.3 µJ unit, not the ESU of
 * MSR 0x606: the kernel's rapl_defaults_hsw_server list in
 * drivers/powercap/intel_rapl_common.c (Haswell-X 0x3F, Broadwell-X 0x4F,
 * Skylake-X/Cascade Lake 0x55, Ice Lake-X 0x6A, Ice Lake-D 0x6C, Xeon Phi
 * KNL 0x57, KNM 0x85). Broadwell-D (0x56) uses the ESU.
 */
bool energy_intel_dram_fixed_unit(unsigned family, unsigned model)
{
	static const unsigned models[] = { 0x3F, 0x4F, 0x55, 0x6A, 0x6C, 0x57, 0x85 };

	if (family != 6)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(models); i++)
		if (models[i] == model)
			return true;
	return false;
}

struct energy_unit energy_msr_unit(const struct energy_cpuid *id, enum energy_domain d, uint64_t unit_msr)
{
	struct energy_unit u = { 1000000, 1ULL << energy_msr_esu(unit_msr) };

	if (id->vendor == ENERGY_VENDOR_INTEL && d == ENERGY_DRAM &&
	    energy_intel_dram_fixed_unit(id->family, id->model)) {
		u.num = 153; /* 15.3 µJ, as the kernel and turbostat use */
		u.den = 10;
	}
	/* Sapphire/Emerald Rapids count psys in whole joules (rapl_defaults_spr_server). */
	if (id->vendor == ENERGY_VENDOR_INTEL && d == ENERGY_PSYS && id->family == 6 &&
	    (id->model == 0x8F || id->model == 0xCF)) {
		u.num = 1000000;
		u.den = 1;
	}
	return u;
}

int energy_perf_parse_event(const char *text, uint64_t *config)
{
	const char *p = text;
	bool have = false;

	/* Terms "key=value" separated by commas; the power PMU uses only event=. */
	while (*p && *p != '\n') {
		const char *eq = strchr(p, '=');
		const char *end = p + strcspn(p, ",\n");
		char *numend;
		unsigned long long v;

		if (!eq || eq > end)
			return -EINVAL;
		errno = 0;
		if (eq + 1 == end)
			return -EINVAL;
		v = strtoull(eq + 1, &numend, 0);
		if (errno || numend != end || eq[1] == '-' || eq[1] == '+' || eq[1] == ' ')
			return -EINVAL;
		if ((size_t)(eq - p) == 5 && !strncmp(p, "event", 5)) {
			if (v > 0xff) /* format/event is config:0-7 */
				return -EINVAL;
			*config = v;
			have = true;
		} else {
			return -ENOTSUP;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return have ? 0 : -EINVAL;
}

int energy_perf_parse_scale(const char *text, struct energy_unit *out)
{
	char buf[64], *end;
	size_t n = strcspn(text, "\n");
	double s, uj;
	int exp;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	errno = 0;
	s = strtod(buf, &end);
	if (errno || *end || !(s > 0.0) || !isfinite(s))
		return -EINVAL;
	uj = s * 1e6; /* µJ per count */
	/* The kernel's fixed 2^-32 J (and any power of two) converts exactly. */
	if (frexp(s, &exp) == 0.5 && exp <= 1 && exp > -63) {
		out->num = 1000000;
		out->den = 1ULL << (1 - exp);
		return 0;
	}
	if (uj >= 1e12) /* over a megajoule per count: not an energy counter */
		return -EINVAL;
	/* Otherwise a ratio with a 2^k denominator to ~12 significant digits. */
	for (int k = 62; k >= 0; k--) {
		double num = ldexp(uj, k);

		if (num < 1e12) {
			if (num < 1.0)
				return -EINVAL;
			out->num = (uint64_t)(num + 0.5);
			out->den = 1ULL << k;
			return 0;
		}
	}
	return -EINVAL;
}

int energy_perf_check_unit(const char *text)
{
	size_t n = strcspn(text, "\n");

	return n == 6 && !strncmp(text, "Joules", 6) ? 0 : -EINVAL;
}

/* ---------- helpers ---------- */

static void set_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Read a whole (small) file: /proc/cpuinfo can be tens of kB. Returns a malloc'd string or NULL. */
static char *slurp(const char *path)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0) {
		int err = errno;

		free(buf);
		if (fd >= 0)
			close(fd);
		errno = err;
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = cap < (1 << 24) ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			int err = errno;

			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static int pkg_index(const struct topo *t, int pkg_id)
{
	for (int p = 0; p < t->npkg; p++)
		if (t->pkg_id[p] == pkg_id)
			return p;
	return -1;
}

static struct counter *add_counter(struct energy_source *s)
{
	struct counter *nc = realloc(s->c, sizeof(*s->c) * (size_t)(s->nc + 1));

	if (!nc)
		return NULL;
	s->c = nc;
	memset(&s->c[s->nc], 0, sizeof(s->c[s->nc]));
	s->c[s->nc].fd = -1;
	return &s->c[s->nc++];
}

static void free_source(struct energy_source *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nc; i++)
		if (s->c[i].own_fd && s->c[i].fd >= 0)
			close(s->c[i].fd);
	free(s->c);
	if (s->m) {
		free(s->m->prev_busy);
		free(s->m->prev_total);
		free(s->m);
	}
	free(s);
}

/* Gap after which more than one wrap may have gone unseen, at the plausible maximum power. */
static uint64_t stall_ns_for(const struct counter *c)
{
	uint64_t range_uj;

	if (!c->acc.range)
		return 0; /* a 64-bit counter never wraps in practice */
	range_uj = energy_unit_to_uj(c->unit, c->acc.range);
	/* µJ / W = µs */
	return range_uj / ENERGY_PLAUSIBLE_MAX_W * 1000;
}

/* ---------- powercap ---------- */

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
		set_why(why, wl, "no RAPL zones under %s (no intel_rapl/amd RAPL driver, or a VM without RAPL)",
			root);
		return -ENODEV;
	}
	if (err) {
		set_why(why, wl, "cannot list %s: %s", root, strerror(-err));
		return err;
	}
	for (int i = 0; i < nz; i++) {
		char path[4200], name[64], parent[64];
		enum energy_domain dom;
		int pkg_id = 0, pkg, fd;
		uint64_t max_range, raw;
		struct counter *c;
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
		pkg = dom == ENERGY_PSYS ? 0 : pkg_index(o->topo, pkg_id);
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
				set_why(why, wl,
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
				set_why(why, wl,
					"permission denied reading %s: run as root or grant CAP_DAC_READ_SEARCH", path);
				free(z);
				return -EACCES;
			}
			log_warn("powercap: cannot read %s: %s", path, strerror(-err));
			continue;
		}
		c = add_counter(s);
		if (!c) {
			close(fd);
			free(z);
			return -ENOMEM;
		}
		c->dom = dom;
		c->pkg = pkg;
		c->fd = fd;
		c->own_fd = true;
		c->unit = (struct energy_unit){ 1, 1 };
		/* energy_uj counts 0 .. max_energy_range_uj, so the modulus is one more. */
		energy_acc_init(&c->acc, max_range + 1);
		energy_acc_step(&c->acc, raw, 0);
		c->stall_ns = stall_ns_for(c);
		snprintf(c->name, sizeof(c->name), "%s", z[i].id);
		s->domains |= 1u << dom;
		if (pkg + 1 > s->npkg)
			s->npkg = pkg + 1;
		log_debug("powercap: %s %s → package %d, range %" PRIu64 " uJ", z[i].id, name, pkg, max_range + 1);
	}
	free(z);
	if (!s->nc) {
		set_why(why, wl, "no readable RAPL zone under %s", root);
		return -ENODEV;
	}
	s->npkg = o->topo->npkg;
	return 0;
}

/* ---------- MSR ---------- */

static int msr_read(int fd, uint64_t reg, uint64_t *out)
{
	uint64_t v;
	ssize_t n = pread(fd, &v, sizeof(v), (off_t)reg);

	if (n < 0)
		return -errno;
	if (n != sizeof(v))
		return -EIO; /* past the end of a fake MSR file: no such register */
	*out = v;
	return 0;
}

static int read_cpuid(const struct energy_opts *o, struct energy_cpuid *id)
{
	const char *path = o->cpuinfo_path ? o->cpuinfo_path : DEFAULT_CPUINFO;
	char *text = slurp(path);
	int err;

	if (!text)
		return -errno;
	err = energy_cpuinfo_parse(text, id);
	free(text);
	return err;
}

static int open_msr(struct energy_source *s, const struct energy_opts *o, char *why, size_t wl)
{
	const char *root = o->msr_root ? o->msr_root : DEFAULT_MSR_ROOT;
	struct energy_cpuid id;
	static const struct {
		enum energy_domain dom;
		uint64_t reg;
	} intel[] = {
		{ ENERGY_PACKAGE, MSR_INTEL_PKG }, { ENERGY_CORE, MSR_INTEL_PP0 }, { ENERGY_UNCORE, MSR_INTEL_PP1 },
		{ ENERGY_DRAM, MSR_INTEL_DRAM },   { ENERGY_PSYS, MSR_INTEL_PSYS },
	},
	  amd[] = {
		  /*
		   * Only the package counter: 0xC001029A is per physical core and
		   * SMT siblings read the same one, which topo cannot tell apart.
		   */
		  { ENERGY_PACKAGE, MSR_AMD_PKG },
	  };
	int err = read_cpuid(o, &id);

	if (err) {
		set_why(why, wl, "cannot identify the CPU from %s: %s",
			o->cpuinfo_path ? o->cpuinfo_path : DEFAULT_CPUINFO, strerror(-err));
		return err;
	}
	if (id.vendor != ENERGY_VENDOR_INTEL && id.vendor != ENERGY_VENDOR_AMD && id.vendor != ENERGY_VENDOR_HYGON) {
		set_why(why, wl, "CPU vendor has no RAPL MSRs (Intel, AMD and Hygon only)");
		return -ENODEV;
	}
	for (int p = 0; p < o->topo->npkg && p < ENERGY_MAX_PKG; p++) {
		char path[4200];
		int cpu = o->topo->pkg_first_cpu[p], fd;
		bool is_intel = id.vendor == ENERGY_VENDOR_INTEL;
		uint64_t unit_msr = 0;
		bool owned = false;

		snprintf(path, sizeof(path), "%s/%d/msr", root, cpu);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -EACCES || err == -EPERM)
				set_why(why, wl, "permission denied opening %s: reading MSRs needs root with CAP_SYS_RAWIO",
					path);
			else if (err == -ENOENT || err == -ENXIO || err == -ENODEV)
				set_why(why, wl, "%s is missing: load the msr driver (modprobe msr, as root)", path);
			else
				set_why(why, wl, "cannot open %s: %s", path, strerror(-err));
			return err;
		}
		err = msr_read(fd, is_intel ? MSR_INTEL_UNIT : MSR_AMD_UNIT, &unit_msr);
		if (err) {
			close(fd);
			if (err == -EACCES || err == -EPERM)
				set_why(why, wl, "permission denied reading %s: needs CAP_SYS_RAWIO", path);
			else
				set_why(why, wl, "RAPL unit MSR 0x%llx unreadable on CPU %d (%s): no RAPL here",
					is_intel ? 0x606ULL : 0xC0010299ULL, cpu, strerror(-err));
			return err == -EACCES || err == -EPERM ? err : -ENODEV;
		}
		for (size_t i = 0; i < (is_intel ? ARRAY_SIZE(intel) : ARRAY_SIZE(amd)); i++) {
			enum energy_domain dom = is_intel ? intel[i].dom : amd[i].dom;
			uint64_t reg = is_intel ? intel[i].reg : amd[i].reg, raw = 0;
			struct counter *c;

			if (dom == ENERGY_PSYS && p != 0)
				continue; /* platform-wide: read once, filed under package 0 */
			/* As the kernel's rapl_check_domain: unreadable or zero means absent. */
			if (msr_read(fd, reg, &raw) || !(raw & 0xffffffffULL))
				continue;
			c = add_counter(s);
			if (!c) {
				if (!owned)
					close(fd);
				return -ENOMEM;
			}
			c->dom = dom;
			c->pkg = p;
			c->fd = fd;
			c->own_fd = !owned;
			owned = true;
			c->reg = reg;
			c->unit = energy_msr_unit(&id, dom, unit_msr);
			energy_acc_init(&c->acc, MSR_COUNTER_RANGE);
			energy_acc_step(&c->acc, raw & 0xffffffffULL, 0);
			c->stall_ns = stall_ns_for(c);
			snprintf(c->name, sizeof(c->name), "cpu%d:0x%llx", cpu, (unsigned long long)reg);
			s->domains |= 1u << dom;
		}
		if (!owned)
			close(fd);
	}
	if (!s->nc) {
		set_why(why, wl, "no nonzero RAPL energy MSR under %s (a VM usually hides them)", root);
		return -ENODEV;
	}
	s->npkg = o->topo->npkg;
	return 0;
}

/* ---------- perf power PMU ---------- */

static const char *const perf_events[ENERGY_NDOMAINS] = {
	"energy-pkg", "energy-cores", "energy-gpu", "energy-ram", "energy-psys",
};

static int open_perf(struct energy_source *s, const struct energy_opts *o, char *why, size_t wl)
{
	const char *root = o->perf_root ? o->perf_root : DEFAULT_PERF_ROOT;
	char path[4200], text[256];
	uint64_t type;
	int err, denied = 0;

	snprintf(path, sizeof(path), "%s/type", root);
	err = read_u64_file(path, &type);
	if (err) {
		set_why(why, wl, "no power PMU at %s (kernel without RAPL perf events, or a VM)", root);
		return -ENODEV;
	}
	for (int d = 0; d < ENERGY_NDOMAINS; d++) {
		struct energy_unit unit;
		uint64_t config;

		snprintf(path, sizeof(path), "%s/events/%s", root, perf_events[d]);
		if (read_text_file(path, text, sizeof(text)) < 0)
			continue;
		if (energy_perf_parse_event(text, &config)) {
			log_warn("perf: cannot parse %s: '%s'", path, text);
			continue;
		}
		snprintf(path, sizeof(path), "%s/events/%s.scale", root, perf_events[d]);
		if (read_text_file(path, text, sizeof(text)) < 0 || energy_perf_parse_scale(text, &unit)) {
			log_warn("perf: no usable %s", path);
			continue;
		}
		snprintf(path, sizeof(path), "%s/events/%s.unit", root, perf_events[d]);
		if (read_text_file(path, text, sizeof(text)) >= 0 && energy_perf_check_unit(text)) {
			log_warn("perf: %s is '%s', not Joules", path, text);
			continue;
		}
		for (int p = 0; p < o->topo->npkg && p < ENERGY_MAX_PKG; p++) {
			struct perf_event_attr attr;
			struct counter *c;
			uint64_t raw;
			int fd;

			if (d == ENERGY_PSYS && p != 0)
				continue;
			memset(&attr, 0, sizeof(attr));
			attr.size = sizeof(attr);
			attr.type = (uint32_t)type;
			attr.config = config;
			fd = (int)syscall(SYS_perf_event_open, &attr, -1, o->topo->pkg_first_cpu[p], -1,
					  PERF_FLAG_FD_CLOEXEC);
			if (fd < 0) {
				err = -errno;
				if (err == -EACCES || err == -EPERM)
					denied = err;
				log_debug("perf: %s on CPU %d: %s", perf_events[d], o->topo->pkg_first_cpu[p],
					  strerror(-err));
				continue;
			}
			if (read(fd, &raw, sizeof(raw)) != sizeof(raw)) {
				close(fd);
				continue;
			}
			c = add_counter(s);
			if (!c) {
				close(fd);
				return -ENOMEM;
			}
			c->dom = (enum energy_domain)d;
			c->pkg = p;
			c->fd = fd;
			c->own_fd = true;
			c->unit = unit;
			energy_acc_init(&c->acc, 0); /* the kernel extends RAPL to a 64-bit count */
			energy_acc_step(&c->acc, raw, 0);
			snprintf(c->name, sizeof(c->name), "%s@cpu%d", perf_events[d], o->topo->pkg_first_cpu[p]);
			s->domains |= 1u << d;
		}
	}
	if (!s->nc) {
		if (denied) {
			set_why(why, wl,
				"perf_event_open on the power PMU denied: needs CAP_PERFMON (or root), "
				"or kernel.perf_event_paranoid <= 0");
			return denied;
		}
		set_why(why, wl, "no power PMU event could be opened under %s", root);
		return -ENODEV;
	}
	s->npkg = o->topo->npkg;
	return 0;
}

/* ---------- model ---------- */

static int model_proc_stat(struct model_state *m, uint64_t *busy_pkg, uint64_t *total_pkg, int npkg)
{
	int ncpu = m->topo->ncpu, n;
	uint64_t *busy = calloc((size_t)ncpu, sizeof(*busy));
	uint64_t *total = calloc((size_t)ncpu, sizeof(*total));
	char *text = slurp(PROC_STAT);

	if (!busy || !total || !text) {
		free(busy);
		free(total);
		free(text);
		return -ENOMEM;
	}
	n = energy_parse_proc_stat(text, busy, total, ncpu);
	free(text);
	if (n < 0) {
		free(busy);
		free(total);
		return n;
	}
	for (int p = 0; p < npkg; p++)
		busy_pkg[p] = total_pkg[p] = 0;
	for (int c = 0; c < ncpu; c++) {
		int p = m->topo->cpu_pkg[c];

		if (p < 0 || p >= npkg)
			continue;
		if (m->have_prev && busy[c] >= m->prev_busy[c] && total[c] >= m->prev_total[c]) {
			busy_pkg[p] += busy[c] - m->prev_busy[c];
			total_pkg[p] += total[c] - m->prev_total[c];
		}
		m->prev_busy[c] = busy[c];
		m->prev_total[c] = total[c];
	}
	m->have_prev = true;
	free(busy);
	free(total);
	return 0;
}

static int open_model(struct energy_source *s, const struct energy_opts *o, char *why, size_t wl)
{
	const struct topo *t = o->topo;
	struct model_state *m = calloc(1, sizeof(*m));
	int online = 0;

	if (!m)
		return -ENOMEM;
	s->m = m;
	m->topo = t;
	m->linear = o->model_linear;
	m->prev_busy = calloc((size_t)t->ncpu, sizeof(uint64_t));
	m->prev_total = calloc((size_t)t->ncpu, sizeof(uint64_t));
	if (!m->prev_busy || !m->prev_total)
		return -ENOMEM;
	for (int p = 0; p < t->npkg; p++)
		online += t->pkg_ncpu[p];
	if (online <= 0)
		online = 1;
	if (o->model_idle_w > 0 || o->model_max_w > 0) {
		if (!(o->model_idle_w >= 0) || !(o->model_max_w > o->model_idle_w) || o->model_max_w > 1e6) {
			set_why(why, wl, "model: need 0 <= idle W < max W (got %.3g and %.3g)", o->model_idle_w,
				o->model_max_w);
			return -EINVAL;
		}
		/* Whole-host watts, shared between packages by their online CPUs. */
		for (int p = 0; p < t->npkg && p < ENERGY_MAX_PKG; p++) {
			double share = (double)t->pkg_ncpu[p] / online;

			m->idle_w[p] = o->model_idle_w * share;
			m->max_w[p] = o->model_max_w * share;
		}
		s->rel_unc = UNC_MODEL_GIVEN;
		snprintf(s->basis, sizeof(s->basis), "model %s: idle %.2f W, max %.2f W for the host (given)",
			 m->linear ? "linear" : "SPECpower/Teads curve", o->model_idle_w, o->model_max_w);
	} else {
		struct energy_cpuid id;
		const struct energy_coeff *c;
		bool matched = false;

		if (read_cpuid(o, &id))
			memset(&id, 0, sizeof(id));
		c = energy_model_lookup(&id, &matched);
		for (int p = 0; p < t->npkg && p < ENERGY_MAX_PKG; p++) {
			m->idle_w[p] = c->idle_w_per_cpu * t->pkg_ncpu[p];
			m->max_w[p] = c->max_w_per_cpu * t->pkg_ncpu[p];
		}
		s->rel_unc = matched ? UNC_MODEL_MATCHED : UNC_MODEL_FALLBACK;
		snprintf(s->basis, sizeof(s->basis),
			 "model %s: %s %s %.3g-%.3g W per CPU x %d CPUs = %.2f-%.2f W (%s; SPECpower via CCF)",
			 m->linear ? "linear" : "SPECpower/Teads curve", c->vendor, c->uarch, c->idle_w_per_cpu,
			 c->max_w_per_cpu, online, c->idle_w_per_cpu * online, c->max_w_per_cpu * online, c->source);
	}
	s->npkg = t->npkg < ENERGY_MAX_PKG ? t->npkg : ENERGY_MAX_PKG;
	s->domains = 1u << ENERGY_PACKAGE;
	/* Baseline for the /proc/stat fallback. */
	{
		uint64_t b[ENERGY_MAX_PKG], tt[ENERGY_MAX_PKG];

		model_proc_stat(m, b, tt, s->npkg);
	}
	return 0;
}

static void read_model(struct energy_source *s, const struct energy_util *util, uint64_t dt_ns)
{
	struct model_state *m = s->m;
	uint64_t busy[ENERGY_MAX_PKG], total[ENERGY_MAX_PKG];
	const uint64_t *bp = NULL, *tp = NULL;

	if (util && util->npkg == s->npkg && util->busy_ns && util->total_ns) {
		bp = util->busy_ns;
		tp = util->total_ns;
	} else if (!model_proc_stat(m, busy, total, s->npkg)) {
		bp = busy;
		tp = total;
	}
	for (int p = 0; p < s->npkg; p++) {
		double u = m->last_u[p];

		if (bp && tp[p] > 0) {
			u = (double)bp[p] / (double)tp[p];
			if (u > 1.0)
				u = 1.0;
			m->last_u[p] = u;
		}
		energy_model_integrate(&m->uj[p], &m->rem[p],
				       energy_model_power_uw(m->idle_w[p], m->max_w[p], u, m->linear), dt_ns);
	}
}

/* ---------- public ---------- */

static int open_kind(enum energy_kind k, const struct energy_opts *o, struct energy_source **out, char *why,
		     size_t wl)
{
	struct energy_source *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->kind = k;
	s->rel_unc = UNC_MEASURED;
	switch (k) {
	case ENERGY_SRC_POWERCAP:
		err = open_powercap(s, o, why, wl);
		break;
	case ENERGY_SRC_MSR:
		err = open_msr(s, o, why, wl);
		break;
	case ENERGY_SRC_PERF:
		err = open_perf(s, o, why, wl);
		break;
	case ENERGY_SRC_MODEL:
		err = open_model(s, o, why, wl);
		break;
	default:
		err = -EINVAL;
	}
	if (err) {
		free_source(s);
		return err;
	}
	if (s->npkg > ENERGY_MAX_PKG)
		s->npkg = ENERGY_MAX_PKG;
	s->last_ns = now_mono_ns();
	*out = s;
	return 0;
}

int energy_open(struct energy_source **out, const struct energy_opts *o, char *why, size_t whylen)
{
	static const enum energy_kind order[] = { ENERGY_SRC_POWERCAP, ENERGY_SRC_MSR, ENERGY_SRC_PERF,
						  ENERGY_SRC_MODEL };
	char msg[256];
	int err = -ENODEV;

	*out = NULL;
	if (!o || !o->topo || o->topo->npkg <= 0) {
		set_why(why, whylen, "energy: no CPU topology");
		return -EINVAL;
	}
	if (o->kind != ENERGY_SRC_AUTO)
		return open_kind(o->kind, o, out, why, whylen);
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		msg[0] = '\0';
		err = open_kind(order[i], o, out, msg, sizeof(msg));
		if (!err) {
			log_info("energy source: %s", energy_kind_name(order[i]));
			return 0;
		}
		log_info("energy source %s unusable: %s", energy_kind_name(order[i]), msg);
		set_why(why, whylen, "%s", msg);
	}
	return err;
}

void energy_close(struct energy_source *s)
{
	free_source(s);
}

static bool may_warn(struct energy_source *s, uint64_t now)
{
	if (s->warned && now - s->last_warn_ns < 60 * NSEC_PER_SEC)
		return false;
	s->warned = true;
	s->last_warn_ns = now;
	return true;
}

int energy_read(struct energy_source *s, const struct energy_util *util, struct energy_reading *out)
{
	uint64_t now = now_mono_ns(), dt = now - s->last_ns;
	int ok = 0, first_err = 0;

	memset(out, 0, sizeof(*out));
	out->mono_ns = now;
	out->npkg = s->npkg;
	out->domains = s->domains;
	s->reads++;
	if (s->kind == ENERGY_SRC_MODEL) {
		read_model(s, util, dt);
		for (int p = 0; p < s->npkg; p++)
			out->uj[p][ENERGY_PACKAGE] = s->m->uj[p];
		s->last_ns = now;
		return 0;
	}
	for (int i = 0; i < s->nc; i++) {
		struct counter *c = &s->c[i];
		uint64_t raw, max_uj;
		int err;

		if (s->kind == ENERGY_SRC_POWERCAP) {
			err = read_powercap_raw(c->fd, &raw);
		} else if (s->kind == ENERGY_SRC_MSR) {
			err = msr_read(c->fd, c->reg, &raw);
			raw &= 0xffffffffULL; /* bits 63:32 are reserved */
		} else {
			ssize_t n = read(c->fd, &raw, sizeof(raw));

			err = n == sizeof(raw) ? 0 : (n < 0 ? -errno : -EIO);
		}
		if (err) {
			s->read_errors++;
			if (!first_err)
				first_err = err;
			continue;
		}
		ok++;
		if (c->stall_ns && dt > c->stall_ns && may_warn(s, now)) {
			log_warn("energy: %.3f s since the last read of %s exceeds its wrap period at %d W "
				 "(%.3f s): energy may be missing",
				 (double)dt / 1e9, c->name, ENERGY_PLAUSIBLE_MAX_W, (double)c->stall_ns / 1e9);
		}
		/* W × ns / 1000 = µJ: the most a package could have used in dt (plus RAPL's update slack). */
		max_uj = (uint64_t)ENERGY_PLAUSIBLE_MAX_W * (dt + PLAUSIBLE_SLACK_NS) / 1000;
		if (energy_acc_step(&c->acc, raw, energy_uj_to_ticks(c->unit, max_uj)) == ENERGY_ACC_REJECTED &&
		    may_warn(s, now))
			log_warn("energy: %s jumped by more than %d W could explain in %.3f s; delta dropped",
				 c->name, ENERGY_PLAUSIBLE_MAX_W, (double)dt / 1e9);
	}
	for (int i = 0; i < s->nc; i++) {
		struct counter *c = &s->c[i];

		out->uj[c->pkg][c->dom] += energy_unit_to_uj(c->unit, c->acc.total);
	}
	s->last_ns = now;
	return ok || !s->nc ? 0 : first_err;
}

enum energy_kind energy_source_kind(const struct energy_source *s)
{
	return s->kind;
}

void energy_get_stats(const struct energy_source *s, struct energy_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->reads = s->reads;
	out->read_errors = s->read_errors;
	for (int i = 0; i < s->nc; i++) {
		out->wraps += s->c[i].acc.wraps;
		out->rejected += s->c[i].acc.rejected;
	}
}

double energy_rel_uncertainty(const struct energy_source *s)
{
	return s->rel_unc;
}

const char *energy_model_basis(const struct energy_source *s)
{
	return s->kind == ENERGY_SRC_MODEL ? s->basis : "";
}

int energy_probe_all(const struct energy_opts *o, struct energy_probe *res, int max)
{
	int n = 0;

	for (int k = ENERGY_SRC_POWERCAP; k < ENERGY_SRC_NKINDS && n < max; k++, n++) {
		struct energy_probe *r = &res[n];
		struct energy_source *s = NULL;
		struct energy_opts oo = *o;
		int err;

		memset(r, 0, sizeof(*r));
		r->kind = (enum energy_kind)k;
		oo.kind = r->kind;
		if (!o->topo) {
			snprintf(r->detail, sizeof(r->detail), "no CPU topology");
			continue;
		}
		err = open_kind(r->kind, &oo, &s, r->detail, sizeof(r->detail));
		if (err) {
			if (!r->detail[0])
				snprintf(r->detail, sizeof(r->detail), "%s", strerror(-err));
			continue;
		}
		r->usable = true;
		r->domains = s->domains;
		r->npkg = s->npkg;
		if (r->kind == ENERGY_SRC_MODEL) {
			snprintf(r->detail, sizeof(r->detail), "%s", s->basis);
		} else {
			size_t off = 0;

			off += (size_t)snprintf(r->detail, sizeof(r->detail), "%d counters:", s->nc);
			for (int i = 0; i < s->nc && off < sizeof(r->detail); i++)
				off += (size_t)snprintf(r->detail + off, sizeof(r->detail) - off, " %s=%s/%d",
							s->c[i].name, energy_domain_name(s->c[i].dom), s->c[i].pkg);
		}
		energy_close(s);
	}
	return n;
}

uint64_t energy_cpu_uj(const struct energy_reading *r, int pkg)
{
	if (pkg < 0 || pkg >= r->npkg || pkg >= ENERGY_MAX_PKG)
		return 0;
	if (r->domains & (1u << ENERGY_PACKAGE))
		return r->uj[pkg][ENERGY_PACKAGE];
	if (r->domains & (1u << ENERGY_PSYS))
		return r->uj[pkg][ENERGY_PSYS];
	return 0;
}

uint64_t energy_mem_uj(const struct energy_reading *r, int pkg)
{
	if (pkg < 0 || pkg >= r->npkg || pkg >= ENERGY_MAX_PKG)
		return 0;
	return r->domains & (1u << ENERGY_DRAM) ? r->uj[pkg][ENERGY_DRAM] : 0;
}

uint64_t energy_host_uj(const struct energy_reading *r)
{
	uint64_t uj = 0;

	for (int p = 0; p < r->npkg && p < ENERGY_MAX_PKG; p++)
		uj += energy_cpu_uj(r, p) + energy_mem_uj(r, p);
	return uj;
}
