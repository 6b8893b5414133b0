// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The power model's pure parts: CPU identity, /proc/stat utilisation, the load curve, exact integration. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/energy.h"
#include "joule/util.h"

/* /proc/cpuinfo's vendor_id values; any other leaves the vendor unknown. */
static const struct name_value vendors[] = {
	{ "GenuineIntel", ENERGY_VENDOR_INTEL }, { "AuthenticAMD", ENERGY_VENDOR_AMD },
	{ "HygonGenuine", ENERGY_VENDOR_HYGON }, { NULL, 0 },
};

/* Value of "key<spaces/tabs>: value" on the line at p, if the key matches; else NULL. */
static const char *field(const char *line, const char *key)
{
	size_t n = strlen(key);
	const char *p = line;

	if (strncmp(p, key, n))
		return NULL;
	p += n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static unsigned parse_uint_any(const char *p)
{
	unsigned long v = strtoul(p, NULL, 0); /* "6", "0xd0c" */

	return v > 0xffffffffUL ? 0 : (unsigned)v;
}

int energy_cpuinfo_parse(const char *text, struct energy_cpuid *out)
{
	const char *line = text;
	bool seen = false;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[256];
		const char *v;

		/* A blank line ends the first processor block: later CPUs are alike. */
		if (len == 0 && seen)
			break;
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		if ((v = field(buf, "vendor_id"))) {
			int vendor;

			seen = true;
			if (!name_value_find(vendors, v, &vendor))
				out->vendor = vendor;
		} else if ((v = field(buf, "cpu family"))) {
			seen = true;
			out->family = parse_uint_any(v);
		} else if ((v = field(buf, "model name"))) {
			seen = true;
			snprintf(out->model_name, sizeof(out->model_name), "%s", v);
		} else if ((v = field(buf, "model"))) {
			seen = true;
			out->model = parse_uint_any(v);
		} else if ((v = field(buf, "stepping"))) {
			seen = true;
			out->stepping = parse_uint_any(v);
		} else if ((v = field(buf, "CPU implementer"))) {
			seen = true;
			if (parse_uint_any(v) == 0x41) /* Arm Ltd. */
				out->vendor = ENERGY_VENDOR_ARM;
		} else if ((v = field(buf, "CPU part"))) {
			seen = true;
			out->arm_part = parse_uint_any(v);
		}
		line = end ? end + 1 : NULL;
	}
	return seen ? 0 : -EINVAL;
}

static bool parse_u64_tok(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		p++;
	}
	*pp = p;
	*out = v;
	return true;
}

int energy_parse_proc_stat(const char *text, uint64_t *busy, uint64_t *total, int ncpu)
{
	const char *line = text;
	int seen = 0;

	for (int c = 0; c < ncpu; c++)
		busy[c] = total[c] = 0;
	while (line && *line) {
		const char *end = strchr(line, '\n');

		/* "cpuN user nice system idle iowait irq softirq steal guest guest_nice" */
		if (!strncmp(line, "cpu", 3) && isdigit((unsigned char)line[3])) {
			const char *p = line + 3;
			uint64_t cpu, f[8] = { 0 };
			int nf = 0;

			if (!parse_u64_tok(&p, &cpu))
				return -EINVAL;
			while (nf < 8 && parse_u64_tok(&p, &f[nf]))
				nf++;
			if (nf < 4)
				return -EINVAL;
			if (cpu < (uint64_t)ncpu) {
				/* guest time is already inside user; idle and iowait are not busy. */
				uint64_t b = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];

				busy[cpu] = b;
				total[cpu] = b + f[3] + f[4];
				seen++;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return seen;
}

/*
 * The SPECpower/Teads curve: utilisation 0/10/50/100 % → 0.12/0.32/0.75/1.02
 * of TDP, linear between (Davy 2021, Teads Engineering, "Building an AWS EC2
 * Carbon Emissions Dataset"; the points as in the Green Software Foundation
 * if-unofficial-plugins teads-curve). joule takes only its shape: P_idle and
 * P_max come from SPECpower (per vCPU) or flags, so the curve is rescaled to
 * f(0) = 0 and f(1) = 1: f(u) = (y(u) - 0.12) / (1.02 - 0.12). Then f(10 %)
 * = 0.222 and f(50 %) = 0.700, against 0.1 and 0.5 for the linear model.
 */
static const double curve_u[] = { 0.0, 0.10, 0.50, 1.00 };
static const double curve_y[] = { 0.12, 0.32, 0.75, 1.02 };

double energy_model_curve(double u, bool linear)
{
	if (!(u > 0.0)) /* also NaN */
		return 0.0;
	if (u >= 1.0)
		return 1.0;
	if (linear)
		return u;
	for (int i = 1; i < 4; i++) {
		if (u <= curve_u[i]) {
			double t = (u - curve_u[i - 1]) / (curve_u[i] - curve_u[i - 1]);
			double y = curve_y[i - 1] + t * (curve_y[i] - curve_y[i - 1]);

			return (y - curve_y[0]) / (curve_y[3] - curve_y[0]);
		}
	}
	return 1.0;
}

uint64_t energy_model_power_uw(double idle_w, double max_w, double u, bool linear)
{
	double w = idle_w + (max_w - idle_w) * energy_model_curve(u, linear);

	if (!(w > 0.0))
		return 0;
	if (w > 1e9)
		w = 1e9;
	return (uint64_t)(w * 1e6 + 0.5);
}

void energy_model_integrate(uint64_t *uj, uint64_t *rem, uint64_t p_uw, uint64_t dt_ns)
{
	/* µW × ns = 1e-15 J; 1e9 of them make one µJ. 128 bits: no overflow for any dt. */
	unsigned __int128 fj = (unsigned __int128)p_uw * dt_ns + *rem;

	*uj += (uint64_t)(fj / 1000000000u);
	*rem = (uint64_t)(fj % 1000000000u);
}
