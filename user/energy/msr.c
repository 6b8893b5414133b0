// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The MSR source: RAPL energy registers through /dev/cpu/N/msr, their units and the kernel's unit quirks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "joule/energy_source.h"
#include "joule/util.h"

#define DEFAULT_MSR_ROOT "/dev/cpu"

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
	int err = energy_read_cpuid(o, &id);

	if (err) {
		format_msg(why, wl, "cannot identify the CPU from %s: %s",
			o->cpuinfo_path ? o->cpuinfo_path : "/proc/cpuinfo", strerror(-err));
		return err;
	}
	if (id.vendor != ENERGY_VENDOR_INTEL && id.vendor != ENERGY_VENDOR_AMD && id.vendor != ENERGY_VENDOR_HYGON) {
		format_msg(why, wl, "CPU vendor has no RAPL MSRs (Intel, AMD and Hygon only)");
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
				format_msg(why, wl, "permission denied opening %s: reading MSRs needs root with CAP_SYS_RAWIO",
					path);
			else if (err == -ENOENT || err == -ENXIO || err == -ENODEV)
				format_msg(why, wl, "%s is missing: load the msr driver (modprobe msr, as root)", path);
			else
				format_msg(why, wl, "cannot open %s: %s", path, strerror(-err));
			return err;
		}
		err = msr_read(fd, is_intel ? MSR_INTEL_UNIT : MSR_AMD_UNIT, &unit_msr);
		if (err) {
			close(fd);
			if (err == -EACCES || err == -EPERM)
				format_msg(why, wl, "permission denied reading %s: needs CAP_SYS_RAWIO", path);
			else
				format_msg(why, wl, "RAPL unit MSR 0x%llx unreadable on CPU %d (%s): no RAPL here",
					is_intel ? 0x606ULL : 0xC0010299ULL, cpu, strerror(-err));
			return err == -EACCES || err == -EPERM ? err : -ENODEV;
		}
		for (size_t i = 0; i < (is_intel ? ARRAY_SIZE(intel) : ARRAY_SIZE(amd)); i++) {
			enum energy_domain dom = is_intel ? intel[i].dom : amd[i].dom;
			uint64_t reg = is_intel ? intel[i].reg : amd[i].reg, raw = 0;
			struct energy_counter *c;
			char name[48];

			if (dom == ENERGY_PSYS && p != 0)
				continue; /* platform-wide: read once, filed under package 0 */
			/* As the kernel's rapl_check_domain: unreadable or zero means absent. */
			if (msr_read(fd, reg, &raw) || !(raw & 0xffffffffULL))
				continue;
			snprintf(name, sizeof(name), "cpu%d:0x%llx", cpu, (unsigned long long)reg);
			/* One fd per CPU serves all its registers: the first counter owns it. */
			c = energy_add_counter(s, dom, p, fd, !owned, energy_msr_unit(&id, dom, unit_msr),
					       MSR_COUNTER_RANGE, raw & 0xffffffffULL, name);
			if (!c) {
				if (!owned)
					close(fd);
				return -ENOMEM;
			}
			owned = true;
			c->reg = reg;
		}
		if (!owned)
			close(fd);
	}
	if (!s->nc) {
		format_msg(why, wl, "no nonzero RAPL energy MSR under %s (a VM usually hides them)", root);
		return -ENODEV;
	}
	return 0;
}

static int msr_read_raw(const struct energy_counter *c, uint64_t *raw)
{
	int err = msr_read(c->fd, c->reg, raw);

	if (err)
		return err;
	*raw &= 0xffffffffULL; /* bits 63:32 are reserved */
	return 0;
}

const struct energy_source_ops energy_msr_ops = {
	.kind = ENERGY_SRC_MSR,
	.open = open_msr,
	.read_raw = msr_read_raw,
};
