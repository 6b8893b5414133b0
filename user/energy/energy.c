// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Energy source selection and the one read loop: open the first usable source, read its counters, probe all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "joule/energy_source.h"
#include "joule/log.h"
#include "joule/util.h"

#define DEFAULT_CPUINFO "/proc/cpuinfo"

/* Hardware updates RAPL about every 1 ms: a read may include that much beyond dt. */
#define PLAUSIBLE_SLACK_NS (10 * NSEC_PER_MSEC)

/* In the order auto tries them: measured before modelled, the most direct first. */
static const struct energy_source_ops *const sources[] = {
	&energy_powercap_ops,
	&energy_msr_ops,
	&energy_perf_ops,
	&energy_model_ops,
};

/* /proc/cpuinfo can be tens of kB: grow the buffer as needed. */
char *energy_slurp(const char *path)
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

int energy_pkg_index(const struct topo *t, int pkg_id)
{
	for (int p = 0; p < t->npkg; p++)
		if (t->pkg_id[p] == pkg_id)
			return p;
	return -1;
}

int energy_read_cpuid(const struct energy_opts *o, struct energy_cpuid *id)
{
	const char *path = o->cpuinfo_path ? o->cpuinfo_path : DEFAULT_CPUINFO;
	char *text = energy_slurp(path);
	int err;

	if (!text)
		return -errno;
	err = energy_cpuinfo_parse(text, id);
	free(text);
	return err;
}

/* Gap after which more than one wrap may have gone unseen, at the plausible maximum power. */
static uint64_t stall_ns_for(const struct energy_counter *c)
{
	uint64_t range_uj;

	if (!c->acc.range)
		return 0; /* a 64-bit counter never wraps in practice */
	range_uj = energy_unit_to_uj(c->unit, c->acc.range);
	/* µJ / W = µs */
	return range_uj / ENERGY_PLAUSIBLE_MAX_W * 1000;
}

struct energy_counter *energy_add_counter(struct energy_source *s, enum energy_domain dom, int pkg, int fd,
					  bool own_fd, struct energy_unit unit, uint64_t range, uint64_t raw,
					  const char *name)
{
	struct energy_counter *nc = realloc(s->c, sizeof(*s->c) * (size_t)(s->nc + 1)), *c;

	if (!nc)
		return NULL;
	s->c = nc;
	c = &s->c[s->nc++];
	memset(c, 0, sizeof(*c));
	c->dom = dom;
	c->pkg = pkg;
	c->fd = fd;
	c->own_fd = own_fd;
	c->unit = unit;
	energy_acc_init(&c->acc, range);
	energy_acc_step(&c->acc, raw, 0); /* the baseline */
	c->stall_ns = stall_ns_for(c);
	snprintf(c->name, sizeof(c->name), "%s", name);
	s->domains |= 1u << dom;
	return c;
}

static void free_source(struct energy_source *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nc; i++)
		if (s->c[i].own_fd && s->c[i].fd >= 0)
			close(s->c[i].fd);
	free(s->c);
	if (s->ops && s->ops->free)
		s->ops->free(s);
	free(s);
}

static const struct energy_source_ops *ops_of(enum energy_kind k)
{
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++)
		if (sources[i]->kind == k)
			return sources[i];
	return NULL;
}

static int open_kind(enum energy_kind k, const struct energy_opts *o, struct energy_source **out, char *why,
		     size_t wl)
{
	const struct energy_source_ops *ops = ops_of(k);
	struct energy_source *s;
	int err;

	if (!ops)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->rel_unc = ENERGY_UNC_MEASURED;
	err = ops->open(s, o, why, wl);
	if (err) {
		free_source(s);
		return err;
	}
	/* Measured sources report every package of the topology, even one without a counter. */
	if (s->nc)
		s->npkg = o->topo->npkg;
	if (s->npkg > ENERGY_MAX_PKG)
		s->npkg = ENERGY_MAX_PKG;
	s->last_ns = now_mono_ns();
	*out = s;
	return 0;
}

int energy_open(struct energy_source **out, const struct energy_opts *o, char *why, size_t whylen)
{
	char msg[256];
	int err = -ENODEV;

	*out = NULL;
	if (!o || !o->topo || o->topo->npkg <= 0) {
		format_msg(why, whylen, "energy: no CPU topology");
		return -EINVAL;
	}
	if (o->kind != ENERGY_SRC_AUTO)
		return open_kind(o->kind, o, out, why, whylen);
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		msg[0] = '\0';
		err = open_kind(sources[i]->kind, o, out, msg, sizeof(msg));
		if (!err) {
			log_info("energy source: %s", energy_kind_name(sources[i]->kind));
			return 0;
		}
		log_info("energy source %s unusable: %s", energy_kind_name(sources[i]->kind), msg);
		format_msg(why, whylen, "%s", msg);
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
	if (s->ops->read_all) {
		s->ops->read_all(s, util, dt, out);
		s->last_ns = now;
		return 0;
	}
	for (int i = 0; i < s->nc; i++) {
		struct energy_counter *c = &s->c[i];
		uint64_t raw, max_uj;
		int err = s->ops->read_raw(c, &raw);

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
		struct energy_counter *c = &s->c[i];

		out->uj[c->pkg][c->dom] += energy_unit_to_uj(c->unit, c->acc.total);
	}
	s->last_ns = now;
	return ok || !s->nc ? 0 : first_err;
}

enum energy_kind energy_source_kind(const struct energy_source *s)
{
	return s->ops->kind;
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
	return s->ops->kind == ENERGY_SRC_MODEL ? s->basis : "";
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
		if (s->ops->describe) {
			snprintf(r->detail, sizeof(r->detail), "%s", s->ops->describe(s));
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

