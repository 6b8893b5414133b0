// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The power model's shipped coefficients (W per hardware thread) and the CPU → row match. */
#include <string.h>
#include "joule/energy.h"

/*
 * Rows copied from the project's reference table power_model.csv (see
 * docs/energy.md). Each value is SPECpower_ssj2008 whole-server wall power
 * divided by hardware threads: min = "active idle", max = 100 % load.
 * Sources (all Apache-2.0, Cloud Carbon Footprint):
 *  - ccf-app-constants: cloud-carbon-footprint/cloud-carbon-footprint at
 *    b7a049c (2024-03-25), packages/{aws,gcp,azure}/src/domain/ (the *FootprintEstimationConstants.ts files);
 *    the underlying SPECpower data set is CCF's of 2020-2021.
 *  - ccf-coefficients-2026: cloud-carbon-footprint/ccf-coefficients at
 *    b0032d9 (2026-04-24), output/coefficients-aws-use.csv, SPECpower file
 *    of 2026-03-09.
 *  - recomputed-ccf-method-specpower-2026: CCF's method re-run on the 41
 *    SPECpower (2026-03-09) servers matching EPYC 5th Gen models, because
 *    CCF's own 2026 row is an artefact of blank lines in its model list.
 *  - ccf-app-constants-average: CCF's AWS fallback when the
 *    microarchitecture is unknown.
 * Sapphire Rapids has no row of its own; it borrows Emerald Rapids (same
 * platform and socket), and its token says so. ARM Neoverse cores borrow
 * the Graviton rows built on them (themselves EPYC 2nd Gen proxies in CCF).
 */
static const struct energy_coeff coeffs[] = {
	{ "Intel", "Sandy Bridge", 2.17, 8.58, "ccf-app-constants" },
	{ "Intel", "Ivy Bridge", 3.04, 8.25, "ccf-app-constants" },
	{ "Intel", "Haswell", 1.00, 4.74, "ccf-app-constants" },
	{ "Intel", "Broadwell", 0.71, 3.69, "ccf-app-constants" },
	{ "Intel", "Skylake", 0.65, 4.26, "ccf-app-constants" },
	{ "Intel", "Cascade Lake", 0.64, 3.97, "ccf-app-constants" },
	{ "Intel", "Coffee Lake", 1.14, 5.42, "ccf-app-constants" },
	{ "Intel", "Ice Lake", 0.767, 3.758, "ccf-coefficients-2026" },
	{ "Intel", "Sapphire Rapids", 0.814, 4.482, "ccf-coefficients-2026-proxy-emerald-rapids" },
	{ "Intel", "Emerald Rapids", 0.814, 4.482, "ccf-coefficients-2026" },
	{ "Intel", "Granite Rapids", 0.582, 2.527, "ccf-coefficients-2026" },
	{ "AMD", "EPYC 1st Gen", 0.82, 2.55, "ccf-app-constants" },
	{ "AMD", "EPYC 2nd Gen", 0.47, 1.69, "ccf-app-constants" },
	{ "AMD", "EPYC 3rd Gen", 0.45, 2.02, "ccf-app-constants" },
	{ "AMD", "EPYC 4th Gen", 0.739, 2.282, "ccf-coefficients-2026" },
	{ "AMD", "EPYC 5th Gen", 0.267, 1.481, "recomputed-ccf-method-specpower-2026" },
	{ "AWS", "Graviton2", 0.47, 1.69, "ccf-app-constants" },
	{ "AWS", "Graviton3", 0.474, 1.693, "ccf-coefficients-2026-proxy-epyc2" },
	{ "AWS", "Graviton4", 0.474, 1.693, "ccf-coefficients-2026-proxy-epyc2" },
};

static const struct energy_coeff fallback = {
	"any", "unknown (CCF average)", 0.74, 3.5, "ccf-app-constants-average"
};

/* x86 family/model (and stepping range) → row; models from the kernel's intel-family.h. */
struct match {
	enum energy_vendor vendor;
	unsigned family, model_lo, model_hi, step_lo, step_hi;
	const char *uarch;
};

static const struct match matches[] = {
	{ ENERGY_VENDOR_INTEL, 6, 0x2A, 0x2A, 0, 15, "Sandy Bridge" },
	{ ENERGY_VENDOR_INTEL, 6, 0x2D, 0x2D, 0, 15, "Sandy Bridge" },
	{ ENERGY_VENDOR_INTEL, 6, 0x3A, 0x3A, 0, 15, "Ivy Bridge" },
	{ ENERGY_VENDOR_INTEL, 6, 0x3E, 0x3E, 0, 15, "Ivy Bridge" },
	{ ENERGY_VENDOR_INTEL, 6, 0x3C, 0x3C, 0, 15, "Haswell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x3F, 0x3F, 0, 15, "Haswell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x45, 0x46, 0, 15, "Haswell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x3D, 0x3D, 0, 15, "Broadwell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x47, 0x47, 0, 15, "Broadwell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x4F, 0x4F, 0, 15, "Broadwell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x56, 0x56, 0, 15, "Broadwell" },
	{ ENERGY_VENDOR_INTEL, 6, 0x4E, 0x4E, 0, 15, "Skylake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x5E, 0x5E, 0, 15, "Skylake" },
	/* Model 0x55 is Skylake-SP up to stepping 4, Cascade Lake (and Cooper Lake) above. */
	{ ENERGY_VENDOR_INTEL, 6, 0x55, 0x55, 0, 4, "Skylake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x55, 0x55, 5, 15, "Cascade Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x8E, 0x8E, 0, 15, "Coffee Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x9E, 0x9E, 0, 15, "Coffee Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0xA5, 0xA6, 0, 15, "Coffee Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x6A, 0x6A, 0, 15, "Ice Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x6C, 0x6C, 0, 15, "Ice Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x7D, 0x7E, 0, 15, "Ice Lake" },
	{ ENERGY_VENDOR_INTEL, 6, 0x8F, 0x8F, 0, 15, "Sapphire Rapids" },
	{ ENERGY_VENDOR_INTEL, 6, 0xCF, 0xCF, 0, 15, "Emerald Rapids" },
	{ ENERGY_VENDOR_INTEL, 6, 0xAD, 0xAE, 0, 15, "Granite Rapids" },
	/* AMD rows apply only when the model name says EPYC: Ryzen shares these families. */
	{ ENERGY_VENDOR_AMD, 0x17, 0x00, 0x2F, 0, 15, "EPYC 1st Gen" },
	{ ENERGY_VENDOR_AMD, 0x17, 0x30, 0x3F, 0, 15, "EPYC 2nd Gen" },
	{ ENERGY_VENDOR_AMD, 0x19, 0x00, 0x0F, 0, 15, "EPYC 3rd Gen" },
	{ ENERGY_VENDOR_AMD, 0x19, 0x10, 0x1F, 0, 15, "EPYC 4th Gen" },
	{ ENERGY_VENDOR_AMD, 0x19, 0xA0, 0xAF, 0, 15, "EPYC 4th Gen" },
	{ ENERGY_VENDOR_AMD, 0x1A, 0x00, 0x1F, 0, 15, "EPYC 5th Gen" },
};

/* arm64 "CPU part" of Arm Ltd. cores → the Graviton generation built on them. */
static const struct {
	unsigned part;
	const char *uarch;
} arm_parts[] = {
	{ 0xd0c, "Graviton2" }, /* Neoverse N1 */
	{ 0xd40, "Graviton3" }, /* Neoverse V1 */
	{ 0xd4f, "Graviton4" }, /* Neoverse V2 */
};

static const struct energy_coeff *by_uarch(const char *uarch)
{
	for (size_t i = 0; i < sizeof(coeffs) / sizeof(coeffs[0]); i++)
		if (!strcmp(coeffs[i].uarch, uarch))
			return &coeffs[i];
	return NULL;
}

const struct energy_coeff *energy_model_lookup(const struct energy_cpuid *id, bool *matched)
{
	const struct energy_coeff *c = NULL;

	if (id && id->vendor == ENERGY_VENDOR_ARM) {
		for (size_t i = 0; i < sizeof(arm_parts) / sizeof(arm_parts[0]); i++)
			if (arm_parts[i].part == id->arm_part)
				c = by_uarch(arm_parts[i].uarch);
	} else if (id) {
		for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]) && !c; i++) {
			const struct match *m = &matches[i];

			if (m->vendor != id->vendor || m->family != id->family || id->model < m->model_lo ||
			    id->model > m->model_hi || id->stepping < m->step_lo || id->stepping > m->step_hi)
				continue;
			if (m->vendor == ENERGY_VENDOR_AMD && !strstr(id->model_name, "EPYC"))
				continue;
			c = by_uarch(m->uarch);
		}
	}
	if (matched)
		*matched = c != NULL;
	return c ? c : &fallback;
}
