// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule report: a run summary from a window of ledger segments, written and pushed through a report set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "joule/apiget.h"
#include "joule/carbon.h"
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/export.h"
#include "joule/log.h"
#include "joule/report_cli.h"
#include "joule/report_plot.h"
#include "joule/report_set.h"
#include "joule/util.h"

/* docs/LEDGER.md: lines are at most 1 MiB */
#define LEDGER_LINE_MAX (1u << 20)

struct ledger_pass {
	const struct export_window *w;
	uint64_t lo, hi;	/* the window resolved: ts_end in [lo, hi] */
	uint64_t last_ts;	/* newest ts_end seen */
	struct export_builder *b;	/* NULL: only find last_ts */
	struct report_plot *plot;	/* --plot: the window's records drawn too */
	size_t in_window;
};

/* One pass over a ledger segment (plain or .gz, as rotation leaves them). 0, or 1 with FILE:LINE: reason printed. */
static int ledger_pass(const char *path, struct ledger_pass *p)
{
	gzFile gz = gzopen(path, "rb");
	char *line, err[256];
	size_t lineno = 0, n;
	int rc = 0, zerr;

	if (!gz) {
		fprintf(stderr, "joule: cannot read the ledger %s: %s\n", path, strerror(errno ? errno : ENOMEM));
		return 1;
	}
	/* a line of at most 1 MiB, its newline and the NUL */
	line = malloc(LEDGER_LINE_MAX + 2);
	if (!line) {
		gzclose(gz);
		return 1;
	}
	while (gzgets(gz, line, LEDGER_LINE_MAX + 2)) {
		const cJSON *kind;
		cJSON *rec;
		uint64_t ts;
		bool genesis;

		lineno++;
		n = strlen(line);
		if (n == 0 || line[n - 1] != '\n') {
			/* a torn last line is a record being written (docs/LEDGER.md): not part of the account yet */
			if (gzeof(gz))
				break;
			fprintf(stderr, "joule: %s:%zu: line too long (over 1 MiB)\n", path, lineno);
			rc = 1;
			break;
		}
		rec = cJSON_ParseWithLength(line, n);
		if (!rec || !cJSON_IsObject(rec)) {
			cJSON_Delete(rec);
			fprintf(stderr, "joule: %s:%zu: bad JSON (joule ledger verify %s says more)\n", path, lineno,
				path);
			rc = 1;
			break;
		}
		ts = export_record_ts_end(rec);
		if (ts > p->last_ts)
			p->last_ts = ts;
		kind = cJSON_GetObjectItemCaseSensitive(rec, "kind");
		genesis = cJSON_IsString(kind) && strcmp(kind->valuestring, "genesis") == 0;
		/* the genesis names the host whatever the window */
		if (p->b && (genesis || (ts >= p->lo && ts <= p->hi))) {
			if (export_builder_add(p->b, rec, err, sizeof(err))) {
				fprintf(stderr, "joule: %s:%zu: %s\n", path, lineno, err);
				rc = 1;
			} else if (!genesis) {
				p->in_window++;
				if (p->plot && report_plot_record(p->plot, rec)) {
					fprintf(stderr, "joule: %s:%zu: cannot add the record to the plot: out of memory\n",
						path, lineno);
					rc = 1;
				}
			}
		}
		cJSON_Delete(rec);
		if (rc)
			break;
	}
	if (!rc) {
		const char *msg = gzerror(gz, &zerr);

		if (zerr < 0) {
			fprintf(stderr, "joule: failed to read %s: %s\n", path,
				zerr == Z_ERRNO ? strerror(errno) : msg);
			rc = 1;
		}
	}
	free(line);
	gzclose(gz);
	return rc;
}

static bool same_host(const char *host_id)
{
	char mine[64];

	if (!host_id[0] || read_text_file("/etc/machine-id", mine, sizeof(mine)) < 0)
		return false;
	return strcmp(mine, host_id) == 0;
}

#define MAX_LEDGERS 64

struct report_args {
	struct report_set *s;
	struct joule_config *cfg;
	const char *ledgers[MAX_LEDGERS];
	size_t nledgers;
	const char *window, *format, *out, *api, *plot;
	enum export_by by;
	struct carbon_cfg ccfg;
	const char *unit_n;	/* --functional-unit N with its NAME still to come (the next argument) */
	char unit[256];		/* "N NAME" once it came: the report set keeps pointing into it */
};

static int report_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct report_args *a = ctx;

	if (!strcmp(o->name, "from-ledger")) {
		if (a->nledgers == MAX_LEDGERS) {
			fprintf(stderr, "joule: at most %d ledger files\n", MAX_LEDGERS);
			return -EINVAL;
		}
		a->ledgers[a->nledgers++] = val;
	} else if (!strcmp(o->name, "plot")) {
		a->plot = val;
	} else if (!strcmp(o->name, "from-api")) {
		a->api = val;
	} else if (!strcmp(o->name, "window")) {
		a->window = val;
	} else if (!strcmp(o->name, "by")) {
		if (export_by_parse(val, &a->by)) {
			fprintf(stderr, "joule: --by is process, workload, unit, slice, container, pod, namespace, job or "
					"comm, not '%s'\n", val);
			return -EINVAL;
		}
	} else if (!strcmp(o->name, "format")) {
		a->format = val;
	} else if (!strcmp(o->name, "output")) {
		a->out = val;
	} else if (!strcmp(o->name, "uncertainty")) {
		if (carbon_method_parse(val, &a->ccfg.method)) {
			fprintf(stderr, "joule: --uncertainty is analytical or monte-carlo, not '%s'\n", val);
			return -EINVAL;
		}
	} else if (!strcmp(o->name, "verbose")) {
		a->cfg->verbose = 1; /* info; cli_parse sets the level from it */
	} else if (!strcmp(o->name, "functional-unit") && !val[strcspn(val, ": ")]) {
		a->unit_n = val; /* --functional-unit N NAME: two arguments */
	} else {
		return report_apply_opt(a->s, o->name, val) ? -EINVAL : 0;
	}
	return 0;
}

/*
 * The options through the shared parser. It stops at the first operand:
 * that is the NAME of "--functional-unit N NAME", after which parsing goes
 * on, or a stray argument. CLI_CONTINUE, or the exit status.
 */
static int parse_report_args(int argc, char **argv, struct report_args *a)
{
	struct cli_command def = cmd_report_def;
	int rc, idx;

	def.own_parser = false;
	for (;;) {
		rc = cli_parse(&def, argc, argv, a->cfg, report_opt, a, &idx);
		if (rc != CLI_CONTINUE)
			return rc;
		if (a->unit_n) {
			snprintf(a->unit, sizeof(a->unit), "%s%s%s", a->unit_n, idx < argc ? " " : "",
				 idx < argc ? argv[idx] : "");
			a->unit_n = NULL;
			if (report_apply_opt(a->s, "functional-unit", a->unit))
				return EXIT_USAGE;
			if (idx >= argc)
				return CLI_CONTINUE;
			/* parse on after NAME, which stands in for argv[0] */
			argc -= idx;
			argv += idx;
			continue;
		}
		if (idx < argc) {
			fprintf(stderr, "joule: unknown option '%s' (see joule report --help)\n", argv[idx]);
			return EXIT_USAGE;
		}
		return CLI_CONTINUE;
	}
}

/* --from-api: /api/v1/host and /api/v1/energy over the window (one step), into r. 0, or the exit status after printing why. */
static int from_api(const char *where, const char *window, const struct carbon_ctx *c, struct export_run *r)
{
	uint64_t win_ns = 3600 * NSEC_PER_SEC;
	cJSON *host = NULL, *energy = NULL;
	char path[160], err[256];
	bool breakdown;
	int rc = 1;

	if (window) {
		struct export_window w;

		if (export_window_parse(window, &w, err, sizeof(err)) || !w.last_ns) {
			fprintf(stderr, "joule: --from-api takes a --window duration ending now (e.g. 1h, 90s), not '%s'\n",
				window);
			return EXIT_USAGE;
		}
		win_ns = w.last_ns;
	}
	if (win_ns % NSEC_PER_SEC) {
		fprintf(stderr, "joule: --from-api: the window must be whole seconds\n");
		return EXIT_USAGE;
	}
	/* the store keeps processes' series in whole minutes for 3 h; the host's for longer */
	breakdown = win_ns % (60 * NSEC_PER_SEC) == 0 && win_ns <= 3 * 3600 * NSEC_PER_SEC;
	snprintf(path, sizeof(path), "/api/v1/energy?window=%llus&step=%llus&breakdown=%s",
		 (unsigned long long)(win_ns / NSEC_PER_SEC), (unsigned long long)(win_ns / NSEC_PER_SEC),
		 breakdown ? "true" : "false");
	rc = apiget_json(where, "/api/v1/host", &host);
	if (!rc)
		rc = apiget_json(where, path, &energy);
	if (rc) {
		rc = rc == -EINVAL ? EXIT_USAGE : 1;
		goto out;
	}
	rc = 1;
	if (export_run_from_api(host, energy, c, now_real_ns(), r, err, sizeof(err))) {
		fprintf(stderr, "joule: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(host);
	cJSON_Delete(energy);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = { 0 };
	struct joule_config cfg;
	struct export_window w;
	struct ledger_pass pass = { 0 };
	struct report_plot plot = { 0 };
	struct carbon_ctx *c = NULL;
	struct export_run *r = NULL;
	enum export_format fmt;
	char err[512];
	int rc = EXIT_USAGE, prc;

	config_init(&cfg);
	a.cfg = &cfg;
	if (report_set_new(&a.s)) {
		config_free(&cfg);
		return 1;
	}
	prc = parse_report_args(argc, argv, &a);
	if (prc != CLI_CONTINUE) {
		rc = prc;
		goto out;
	}
	if (!a.nledgers == !a.api) {
		fprintf(stderr, "joule: report needs --from-ledger FILE or --from-api SOCKET|URL, not both (see joule "
				"report --help)\n");
		goto out;
	}
	if (!a.api && a.window && export_window_parse(a.window, &w, err, sizeof(err))) {
		fprintf(stderr, "joule: %s\n", err);
		goto out;
	}
	if (a.format) {
		if (export_format_parse(a.format, &fmt)) {
			fprintf(stderr, "joule: unknown report format '%s' (codecarbon, boamps, csv, json, sci)\n", a.format);
			goto out;
		}
		if (report_add_target(a.s, fmt, a.out ? a.out : "-"))
			goto out;
	} else if (a.out) {
		fprintf(stderr, "joule: -o FILE goes with --format FORMAT\n");
		goto out;
	}
	if (report_set_empty(a.s) && !a.plot && report_add_target(a.s, EXPORT_JSON, "-"))
		goto out;
	if (a.by != EXPORT_BY_PROCESS && a.api) {
		fprintf(stderr, "joule: --by groups a ledger's records (--from-ledger); the API has /api/v1/apps\n");
		goto out;
	}
	if (a.plot && a.api) {
		fprintf(stderr, "joule: --plot draws a ledger's window (--from-ledger), not --from-api\n");
		goto out;
	}
	/* report_plot_open says why it cannot */
	if (a.plot && report_plot_open(&plot, a.plot))
		goto out;
	pass.plot = a.plot ? &plot : NULL;
	if (report_set_prepare(a.s))
		goto out;

	rc = 1;
	if (carbon_open(&c, &a.ccfg, err, sizeof(err))) {
		log_err("failed to set up the carbon model: %s", err);
		goto out;
	}
	if (a.api) {
		r = calloc(1, sizeof(*r));
		if (!r)
			goto out;
		rc = from_api(a.api, a.window, c, r);
		if (rc)
			goto out;
		/* the daemon behind a Unix socket runs on this machine */
		if (a.api[0] == '/' || !strncmp(a.api, "unix:", 5))
			report_machine_facts(r);
		rc = report_set_emit(a.s, r) ? 1 : 0;
		goto out;
	}
	pass.lo = 0;
	pass.hi = UINT64_MAX;
	if (a.window && w.last_ns) {
		/* LAST ends at the newest record: find it first */
		for (size_t i = 0; i < a.nledgers; i++)
			if (ledger_pass(a.ledgers[i], &pass))
				goto out;
		pass.hi = pass.last_ts;
		pass.lo = pass.last_ts > w.last_ns ? pass.last_ts - w.last_ns : 0;
	} else if (a.window) {
		pass.lo = w.has_start ? w.start_ns : 0;
		pass.hi = w.has_end ? w.end_ns : UINT64_MAX;
	}
	if (export_builder_new(&pass.b))
		goto out;
	export_builder_set_by(pass.b, a.by);
	for (size_t i = 0; i < a.nledgers; i++)
		if (ledger_pass(a.ledgers[i], &pass))
			goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (!pass.in_window || export_builder_finish(pass.b, c, r)) {
		fprintf(stderr, "joule: no process, host or run records in %s%s\n", a.window ? "the window " : "the ledger",
			a.window ? a.window : "");
		goto out;
	}
	/* the machine facts are this host's: only true of a ledger written here */
	if (same_host(export_builder_host_id(pass.b)))
		report_machine_facts(r);
	rc = !report_set_empty(a.s) && report_set_emit(a.s, r) ? 1 : 0;
	if (a.plot) {
		char title[160];
		struct plot_opts po = { .title = title, .energy_uj = plot.host_uj, .carbon_ug = plot.host_carbon_ug };

		snprintf(title, sizeof(title), "joule report: %s%s", a.window ? "window " : "the whole ledger",
			 a.window ? a.window : "");
		if (report_plot_finish(&plot, &po))
			rc = 1;
	}
out:
	report_plot_close(&plot);
	if (r && a.api)
		free(r->procs);
	free(r);
	export_builder_free(pass.b);
	carbon_close(c);
	report_set_free(a.s);
	config_free(&cfg);
	return rc;
}
