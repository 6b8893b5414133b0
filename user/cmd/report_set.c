// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report/push target set of joule report and joule run --report/--push: options, report files, the push. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sodium.h>
#include "joule/carbon.h"
#include "joule/export.h"
#include "joule/log.h"
#include "joule/pushgw.h"
#include "joule/report_set.h"
#include "joule/util.h"

#define REPORT_MAX_TARGETS 16

struct target {
	enum export_format fmt;
	char *path;		/* "-": stdout */
	int fd;
};

struct report_set {
	struct target t[REPORT_MAX_TARGETS];
	size_t n;
	const char *project_name, *experiment_id, *run_id, *boamps_file;
	char run_id_buf[40], report_id[40];
	cJSON *boamps_input;
	uint64_t functional_units;
	const char *functional_unit;
	bool push;
	const char *push_url, *job;
	const char *grouping[PUSHGW_MAX_LABELS];
	size_t ngrouping;
	struct pushgw_target pg;
	uint64_t push_interval_ns;	/* joule run --push-interval: pushes while the command runs; 0: at the end only */
};

int report_set_new(struct report_set **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void report_set_free(struct report_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->t[i].fd > STDERR_FILENO)
			close(s->t[i].fd);
		free(s->t[i].path);
	}
	cJSON_Delete(s->boamps_input);
	free(s);
}

bool report_set_empty(const struct report_set *s)
{
	return s->n == 0 && !s->push;
}

int report_add_target(struct report_set *s, enum export_format fmt, const char *path)
{
	if (!path || !path[0]) {
		fprintf(stderr, "joule: --report %s needs a file: %s=FILE (- for stdout)\n", export_format_name(fmt),
			export_format_name(fmt));
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->t[i].path, path) == 0 && strcmp(path, "-") != 0) {
			fprintf(stderr, "joule: two reports would write %s\n", path);
			return -EINVAL;
		}
	}
	if (s->n == REPORT_MAX_TARGETS) {
		fprintf(stderr, "joule: at most %d reports\n", REPORT_MAX_TARGETS);
		return -EINVAL;
	}
	s->t[s->n].path = strdup(path);
	if (!s->t[s->n].path)
		return -ENOMEM;
	s->t[s->n].fmt = fmt;
	s->t[s->n].fd = -1;
	s->n++;
	return 0;
}

static int add_report_spec(struct report_set *s, const char *spec)
{
	const char *eq = strchr(spec, '=');
	enum export_format fmt;
	char name[32];

	if (!eq || (size_t)(eq - spec) >= sizeof(name)) {
		fprintf(stderr, "joule: --report wants FORMAT=FILE (codecarbon, boamps, csv, json, sci), not '%s'\n",
			spec);
		return -EINVAL;
	}
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	if (export_format_parse(name, &fmt)) {
		fprintf(stderr, "joule: unknown report format '%s' (codecarbon, boamps, csv, json, sci)\n", name);
		return -EINVAL;
	}
	return report_add_target(s, fmt, eq + 1);
}

/* "N NAME" or "N:NAME": one argument, as cli_parse hands it over. */
static int set_functional_unit(struct report_set *s, const char *val)
{
	char num[24];
	size_t n = strcspn(val, ": ");
	const char *name = val[n] ? val + n + 1 : NULL;

	if (n >= sizeof(num))
		n = sizeof(num) - 1;
	memcpy(num, val, n);
	num[n] = '\0';
	if (parse_u64(num, &s->functional_units) || s->functional_units == 0) {
		fprintf(stderr, "joule: --functional-unit wants N NAME with N a positive integer, not '%s'\n", val);
		return -EINVAL;
	}
	if (!name || !name[0] || name[0] == '-') {
		fprintf(stderr, "joule: --functional-unit %s needs a NAME (e.g. request, image, user)\n", num);
		return -EINVAL;
	}
	s->functional_unit = name;
	return 0;
}

int report_apply_opt(struct report_set *s, const char *key, const char *val)
{
	if (strcmp(key, "report") == 0)
		return add_report_spec(s, val) ? -EINVAL : 0;
	if (strcmp(key, "project-name") == 0)
		s->project_name = val;
	else if (strcmp(key, "experiment-id") == 0)
		s->experiment_id = val;
	else if (strcmp(key, "run-id") == 0)
		s->run_id = val;
	else if (strcmp(key, "boamps-input") == 0)
		s->boamps_file = val;
	else if (strcmp(key, "functional-unit") == 0)
		return set_functional_unit(s, val);
	else if (strcmp(key, "push") == 0) {
		s->push = true;
		s->push_url = val;
	} else if (strcmp(key, "push-interval") == 0) {
		/* at least a second: each push is an HTTP request from the sampling loop */
		if (parse_duration_ns(val, &s->push_interval_ns) || s->push_interval_ns < NSEC_PER_SEC ||
		    s->push_interval_ns > 86400 * NSEC_PER_SEC) {
			fprintf(stderr, "joule: --push-interval wants a duration from 1s to 1d (e.g. 30s), not '%s'\n", val);
			return -EINVAL;
		}
	} else if (strcmp(key, "job") == 0) {
		s->job = val;
	} else if (strcmp(key, "grouping") == 0) {
		if (s->ngrouping == PUSHGW_MAX_LABELS) {
			fprintf(stderr, "joule: at most %d --grouping labels\n", PUSHGW_MAX_LABELS);
			return -EINVAL;
		}
		s->grouping[s->ngrouping++] = val;
	} else {
		return -ENOENT;
	}
	return 0;
}

static void uuid4(char *buf, size_t len)
{
	unsigned char b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int read_boamps_input(struct report_set *s)
{
	char *buf;
	int n, rc = 0;
	char err[512];
	const size_t max = 1u << 20;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	n = read_file(s->boamps_file, buf, max + 1);
	if (n < 0) {
		fprintf(stderr, "joule: cannot read the BoAmps input %s: %s\n", s->boamps_file, strerror(-n));
		free(buf);
		return n;
	}
	if ((size_t)n >= max) {
		fprintf(stderr, "joule: the BoAmps input %s is over 1 MiB\n", s->boamps_file);
		free(buf);
		return -EFBIG;
	}
	s->boamps_input = cJSON_ParseWithLength(buf, (size_t)n);
	free(buf);
	if (!s->boamps_input) {
		fprintf(stderr, "joule: the BoAmps input %s is not JSON\n", s->boamps_file);
		return -EINVAL;
	}
	if (export_boamps_check_input(s->boamps_input, err, sizeof(err))) {
		fprintf(stderr, "joule: %s: %s\n", s->boamps_file, err);
		rc = -EINVAL;
	}
	return rc;
}

/* An existing emissions.csv must start with the same header, or a row would land under other columns. */
static int codecarbon_check(int fd, const char *path)
{
	const char *want = export_codecarbon_header_line();
	size_t n = strlen(want);
	char *got = calloc(1, n + 2);
	ssize_t r;
	int rc = 0;

	if (!got)
		return -ENOMEM;
	r = pread(fd, got, n + 1, 0);
	if (r < 0) {
		rc = -errno;
		fprintf(stderr, "joule: cannot read %s: %s\n", path, strerror(-rc));
	} else if (r > 0 && ((size_t)r < n + 1 || memcmp(got, want, n) != 0 ||
			     (got[n] != '\n' && got[n] != '\r'))) {
		fprintf(stderr, "joule: %s is not a CodeCarbon 2.x emissions.csv (its header differs); "
				"not appending to it\n", path);
		rc = -EINVAL;
	}
	free(got);
	return rc;
}

int report_set_prepare(struct report_set *s)
{
	char err[512];
	int rc;

	for (size_t i = 0; i < s->n; i++) {
		struct target *t = &s->t[i];

		if (t->fmt == EXPORT_BOAMPS && !s->boamps_file) {
			fprintf(stderr, "joule: the boamps report needs --boamps-input FILE (task, "
					"infrastructure.infraType; see docs/REPORTS.md)\n");
			return -EINVAL;
		}
		if (t->fmt == EXPORT_SCI && !s->functional_units) {
			fprintf(stderr, "joule: the sci report needs --functional-unit N NAME (e.g. 1000 request)\n");
			return -EINVAL;
		}
	}
	if (s->boamps_file && (rc = read_boamps_input(s)))
		return rc;
	if (s->push) {
		if (pushgw_init(&s->pg, s->push_url, err, sizeof(err)) ||
		    (s->job && pushgw_set_job(&s->pg, s->job, err, sizeof(err)))) {
			fprintf(stderr, "joule: %s\n", err);
			return -EINVAL;
		}
		for (size_t i = 0; i < s->ngrouping; i++) {
			if (pushgw_add_grouping(&s->pg, s->grouping[i], err, sizeof(err))) {
				fprintf(stderr, "joule: %s\n", err);
				return -EINVAL;
			}
		}
	} else if (s->job || s->ngrouping || s->push_interval_ns) {
		fprintf(stderr, "joule: --job, --grouping and --push-interval go with --push URL\n");
		return -EINVAL;
	}
	if (!s->run_id) {
		/* CodeCarbon gives every run a uuid4; so does joule, unless --run-id names it */
		uuid4(s->run_id_buf, sizeof(s->run_id_buf));
		s->run_id = s->run_id_buf;
	}
	uuid4(s->report_id, sizeof(s->report_id));
	/* open every file now: a path that cannot be written fails before any work is done */
	for (size_t i = 0; i < s->n; i++) {
		struct target *t = &s->t[i];
		int flags = O_CREAT | O_CLOEXEC | (t->fmt == EXPORT_CODECARBON ? O_RDWR | O_APPEND : O_WRONLY);

		if (strcmp(t->path, "-") == 0) {
			t->fd = STDOUT_FILENO;
			continue;
		}
		t->fd = open(t->path, flags, 0644);
		if (t->fd < 0) {
			rc = -errno;
			fprintf(stderr, "joule: cannot write the %s report to %s: %s\n", export_format_name(t->fmt),
				t->path, strerror(-rc));
			return rc;
		}
		if (t->fmt == EXPORT_CODECARBON && (rc = codecarbon_check(t->fd, t->path)))
			return rc;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * One row under an exclusive flock: two runs appending at once each see
 * the other's complete row, and the header is written by whoever finds the
 * file empty. A file whose last row lost its newline (a crash) gets one
 * first, so the new row never joins it.
 */
static int codecarbon_append(struct target *t, const char *row, size_t row_len)
{
	const char *hdr = export_codecarbon_header_line();
	struct stat st;
	char last = '\n', *buf = NULL;
	size_t n = 0;
	int rc;

	if (flock(t->fd, LOCK_EX) < 0) {
		rc = -errno;
		log_err("failed to lock %s: %s", t->path, strerror(-rc));
		return rc;
	}
	if (fstat(t->fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_size > 0) {
		rc = codecarbon_check(t->fd, t->path);
		if (rc)
			goto out;
		if (pread(t->fd, &last, 1, st.st_size - 1) != 1)
			last = '\n';
	}
	buf = malloc(strlen(hdr) + row_len + 3);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (last != '\n')
		buf[n++] = '\n';
	if (st.st_size == 0) {
		memcpy(buf + n, hdr, strlen(hdr));
		n += strlen(hdr);
		buf[n++] = '\n';
	}
	memcpy(buf + n, row, row_len);
	n += row_len;
	/* one write on an O_APPEND fd: the row is never interleaved with another writer's */
	rc = write_all(t->fd, buf, n);
	if (!rc && fdatasync(t->fd) < 0 && errno != EINVAL)
		rc = -errno;
out:
	if (rc && rc != -EINVAL)
		log_err("failed to append to %s: %s", t->path, strerror(-rc));
	flock(t->fd, LOCK_UN);
	free(buf);
	return rc;
}

static int emit_one(struct report_set *s, struct target *t, const struct export_run *r)
{
	struct export_opts o = {
		.project_name = s->project_name,
		.experiment_id = s->experiment_id,
		.run_id = s->run_id,
		.boamps_input = s->boamps_input,
		.report_id = s->report_id,
		.report_real_ns = now_real_ns(),
		.joule_version = JOULE_VERSION,
		.functional_units = s->functional_units,
		.functional_unit = s->functional_unit,
	};
	char *text = NULL, err[512] = "";
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int rc, crc;

	if (!mem)
		return -ENOMEM;
	/* to stdout a CodeCarbon report is a whole little file: header and row */
	if (t->fmt == EXPORT_CODECARBON && t->fd == STDOUT_FILENO)
		export_codecarbon_header(mem);
	rc = export_write(mem, t->fmt, r, &o, err, sizeof(err));
	crc = fclose(mem);
	if (!rc && crc)
		rc = -ENOMEM;
	if (rc) {
		if (err[0])
			log_err("failed to make the %s report: %s", export_format_name(t->fmt), err);
		else
			log_err("failed to make the %s report: %s", export_format_name(t->fmt), strerror(-rc));
		free(text);
		return rc;
	}
	if (t->fmt == EXPORT_CODECARBON && t->fd != STDOUT_FILENO) {
		rc = codecarbon_append(t, text, len);
	} else {
		if (t->fd != STDOUT_FILENO && ftruncate(t->fd, 0) < 0)
			rc = -errno;
		if (!rc && t->fd != STDOUT_FILENO && lseek(t->fd, 0, SEEK_SET) < 0)
			rc = -errno;
		if (!rc)
			rc = write_all(t->fd, text, len);
		if (rc)
			log_err("failed to write %s: %s", t->path, strerror(-rc));
	}
	free(text);
	return rc;
}

int report_set_emit(struct report_set *s, const struct export_run *r)
{
	int first = 0, rc;

	for (size_t i = 0; i < s->n; i++) {
		rc = emit_one(s, &s->t[i], r);
		if (rc && !first)
			first = rc;
	}
	if (s->push) {
		rc = pushgw_push(&s->pg, r);
		if (rc && !first)
			first = rc;
	}
	return first;
}

uint64_t report_set_push_interval_ns(const struct report_set *s)
{
	return s->push ? s->push_interval_ns : 0;
}

int report_set_push_interim(struct report_set *s, const struct export_run *r)
{
	struct pushgw_target t = s->pg;

	/* the next interval retries anyway; a dead gateway must not hold the sampling loop for long */
	t.attempts = 1;
	t.timeout_ms = 1000;
	return s->push ? pushgw_push(&t, r) : 0;
}

/* ----------------------------------------------------------- machine facts */

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		/* x86 "model name"; arm64 has no name there, only parts: left unknown */
		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(buf, len, "%s", colon);
			break;
		}
	}
	fclose(f);
}

static double ram_total_gib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	/* CodeCarbon's ram_total_size is bytes / 2^30 */
	return (double)kb / (1024.0 * 1024.0);
}

void report_machine_facts(struct export_run *r)
{
	struct utsname u;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	cpu_model(r->cpu_model, sizeof(r->cpu_model));
	r->cpu_count = n > 0 ? (uint32_t)n : 0;
	r->ram_total_gb = ram_total_gib();
	if (uname(&u) == 0)
		snprintf(r->os, sizeof(r->os), "%s-%s-%s", u.sysname, u.release, u.machine);
	if (gethostname(r->hostname, sizeof(r->hostname)) < 0)
		r->hostname[0] = '\0';
	r->hostname[sizeof(r->hostname) - 1] = '\0';
}

int report_run_from_json(const cJSON *run_json, const struct carbon_ctx *c, struct export_builder **b,
			 struct export_run *r)
{
	char err[256];
	cJSON *rec;
	int rc;

	rc = export_builder_new(b);
	if (rc)
		return rc;
	rec = cJSON_Duplicate(run_json, true);
	if (!rec)
		return -ENOMEM;
	if (!cJSON_GetObjectItemCaseSensitive(rec, "kind"))
		cJSON_AddStringToObject(rec, "kind", "run");
	if (!cJSON_GetObjectItemCaseSensitive(rec, "ts_end")) {
		char now[24];

		snprintf(now, sizeof(now), "%llu", (unsigned long long)now_real_ns());
		cJSON_AddStringToObject(rec, "ts_end", now);
	}
	rc = export_builder_add(*b, rec, err, sizeof(err));
	cJSON_Delete(rec);
	if (!rc)
		rc = export_builder_finish(*b, c, r);
	if (!rc)
		report_machine_facts(r);
	return rc;
}
