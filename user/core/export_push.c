// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a Pushgateway gets: the run's totals in the text format, and the grouping-key path with its escaping rules. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include "joule/export.h"
#include "joule/jcs.h"

static bool label_name_ok(const char *s)
{
	/* Prometheus: [a-zA-Z_][a-zA-Z0-9_]*; "__" is reserved for internal use */
	if (!s[0] || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return false;
	return strncmp(s, "__", 2) != 0;
}

int export_label_parse(const char *kv, struct export_label *out, char *err, size_t errlen)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	size_t n;

	if (!eq) {
		snprintf(err, errlen, "grouping '%s' is not NAME=VALUE", kv ? kv : "");
		return -EINVAL;
	}
	n = (size_t)(eq - kv);
	if (n >= sizeof(out->name) || strlen(eq + 1) >= sizeof(out->value)) {
		snprintf(err, errlen, "grouping '%.80s...' is too long (name < %zu, value < %zu bytes)", kv,
			 sizeof(out->name), sizeof(out->value));
		return -EINVAL;
	}
	memcpy(out->name, kv, n);
	out->name[n] = '\0';
	if (!label_name_ok(out->name)) {
		snprintf(err, errlen, "grouping '%s': '%s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*)", kv,
			 out->name);
		return -EINVAL;
	}
	if (strcmp(out->name, "job") == 0) {
		snprintf(err, errlen, "grouping '%s': the job label is set by --job", kv);
		return -EINVAL;
	}
	snprintf(out->value, sizeof(out->value), "%s", eq + 1);
	return 0;
}

struct path_buf {
	char *p;
	size_t len, used;
	bool overflow;
};

static void put(struct path_buf *b, const char *s, size_t n)
{
	if (b->used + n >= b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->used, s, n);
	b->used += n;
	b->p[b->used] = '\0';
}

static void put_s(struct path_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* RFC 4648 §5 (URL and filename safe), with padding: the Pushgateway accepts both */
static void put_base64url(struct path_buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char q[4];

	if (n == 0) {
		put_s(b, "="); /* the Pushgateway's spelling of an empty value */
		return;
	}
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		put(b, q, 4);
	}
}

static void put_escaped(struct path_buf *b, const char *s)
{
	char hex[4];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		/* RFC 3986 unreserved characters pass; everything else is %XX */
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			put(b, (const char *)&c, 1);
		} else {
			snprintf(hex, sizeof(hex), "%%%02X", c);
			put(b, hex, 3);
		}
	}
}

static void put_pair(struct path_buf *b, const char *name, const char *value)
{
	put_s(b, "/");
	put_s(b, name);
	if (!value[0] || strchr(value, '/')) {
		/* a '/' cannot be path-escaped for the Pushgateway (its router decodes first) */
		put_s(b, "@base64/");
		put_base64url(b, (const unsigned char *)value, strlen(value));
	} else {
		put_s(b, "/");
		put_escaped(b, value);
	}
}

int export_push_path(char *buf, size_t len, const char *job, const struct export_label *labels, size_t nlabels)
{
	struct path_buf b = { buf, len, 0, false };

	if (!len)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	if (!job || !job[0])
		return -EINVAL;
	put_s(&b, "/metrics");
	put_pair(&b, "job", job);
	for (size_t i = 0; i < nlabels; i++)
		put_pair(&b, labels[i].name, labels[i].value);
	return b.overflow ? -ENAMETOOLONG : 0;
}

/* The shortest digits that read back as the same double: Prometheus stores exactly what joule computed. */
static const char *num(double v, char buf[JCS_NUMBER_MAX])
{
	if (jcs_format_double(v, buf) < 0)
		snprintf(buf, JCS_NUMBER_MAX, "NaN");
	return buf;
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	char b[JCS_NUMBER_MAX];

	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, num(v, b));
}

static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

int export_push_body(FILE *f, const struct export_run *r)
{
	const struct export_figures *t = &r->total;

	gauge(f, "joule_job_energy_joules", "Energy the job's processes used (CPU side plus memory), in joules.",
	      (double)export_energy_uj(t) / 1e6);
	gauge(f, "joule_job_cpu_energy_joules", "The CPU (package or psys) part of the job's energy.",
	      (double)t->tot.cpu_uj / 1e6);
	gauge(f, "joule_job_memory_energy_joules", "The memory (DRAM) part of the job's energy.",
	      (double)t->tot.mem_uj / 1e6);
	gauge(f, "joule_job_carbon_operational_grams", "Operational carbon: energy x PUE x grid intensity, g CO2e.",
	      (double)t->tot.operational_ug / 1e6);
	gauge(f, "joule_job_carbon_embodied_grams", "Embodied carbon: the job's share of the host's manufacture, g CO2e.",
	      (double)t->tot.embodied_ug / 1e6);
	if (t->has_ci) {
		fputs("# HELP joule_job_carbon_interval_grams The 95 % interval of operational plus embodied carbon.\n"
		      "# TYPE joule_job_carbon_interval_grams gauge\n",
		      f);
		char b[JCS_NUMBER_MAX];

		fprintf(f, "joule_job_carbon_interval_grams{bound=\"lower\"} %s\n", num((double)t->ci_lo_ug / 1e6, b));
		fprintf(f, "joule_job_carbon_interval_grams{bound=\"upper\"} %s\n", num((double)t->ci_hi_ug / 1e6, b));
	}
	gauge(f, "joule_job_cpu_seconds", "On-CPU time of the job's processes.", (double)t->tot.cpu_ns / 1e9);
	gauge(f, "joule_job_duration_seconds", "Wall time of the job.", (double)r->wall_ns / 1e9);
	gauge(f, "joule_job_host_energy_joules", "Energy of the whole host over the job.",
	      (double)(r->host_cpu_uj + r->host_mem_uj) / 1e6);
	if (r->end_real_ns)
		gauge(f, "joule_job_end_timestamp_seconds", "When the job ended, seconds since the epoch.",
		      (double)(r->end_real_ns / 1000000) / 1e3);
	if (r->has_exit_status)
		gauge(f, "joule_job_exit_status", "The job's exit status.", r->exit_status);
	fputs("# HELP joule_job_info Where the figures come from.\n# TYPE joule_job_info gauge\n", f);
	fprintf(f, "joule_job_info{source=\"%s\",zone=\"", energy_kind_name(r->source));
	label_value(f, r->zone);
	fputs("\"} 1\n", f);
	return ferror(f) ? -EIO : 0;
}
