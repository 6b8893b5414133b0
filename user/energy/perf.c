// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The perf power PMU source: energy-* events of /sys/bus/event_source/devices/power, their scale and unit. */
#include <errno.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "joule/energy_source.h"
#include "joule/log.h"
#include "joule/util.h"

#define DEFAULT_PERF_ROOT "/sys/bus/event_source/devices/power"

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
		format_msg(why, wl, "no power PMU at %s (kernel without RAPL perf events, or a VM)", root);
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
			char name[48];
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
			snprintf(name, sizeof(name), "%s@cpu%d", perf_events[d], o->topo->pkg_first_cpu[p]);
			/* range 0: the kernel extends RAPL to a 64-bit count */
			if (!energy_add_counter(s, (enum energy_domain)d, p, fd, true, unit, 0, raw, name)) {
				close(fd);
				return -ENOMEM;
			}
		}
	}
	if (!s->nc) {
		if (denied) {
			format_msg(why, wl,
				"perf_event_open on the power PMU denied: needs CAP_PERFMON (or root), "
				"or kernel.perf_event_paranoid <= 0");
			return denied;
		}
		format_msg(why, wl, "no power PMU event could be opened under %s", root);
		return -ENODEV;
	}
	return 0;
}

static int perf_read_raw(const struct energy_counter *c, uint64_t *raw)
{
	ssize_t n = read(c->fd, raw, sizeof(*raw));

	if (n < 0)
		return -errno;
	return n == sizeof(*raw) ? 0 : -EIO;
}

const struct energy_source_ops energy_perf_ops = {
	.kind = ENERGY_SRC_PERF,
	.open = open_perf,
	.read_raw = perf_read_raw,
};
