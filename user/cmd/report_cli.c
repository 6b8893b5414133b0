// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule report: a run summary from a window of ledger segments, written and pushed through a report set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "joule/carbon.h"
#include "joule/export.h"
#include "joule/log.h"
#include "joule/report_cli.h"
#include "joule/report_plot.h"
#include "joule/report_set.h"
#include "joule/util.h"

#define EXIT_USAGE 2
/* docs/LEDGER.md: lines are at most 1 MiB */
#define LEDGER_LINE_MAX (1u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: joule report --from-ledger FILE [--from-ledger FILE]... [--window START..END|LAST]\n"
		"                    [--format codecarbon|boamps|csv|json|sci] [-o FILE] [--report FORMAT=FILE]...\n"
		"                    [--project-name S] [--experiment-id S] [--run-id S]   (codecarbon)\n"
		"                    [--boamps-input FILE]                                (boamps)\n"
		"                    [--functional-unit N NAME]                           (sci)\n"
		"                    [--push URL [--job NAME] [--grouping K=V]...]        (Pushgateway)\n"
		"                    [--plot FILE.svg] [--uncertainty analytical|monte-carlo] [-v]\n"
		"\n"
		"  FILE: ledger segments (plain or .gz), oldest first. The window selects records by end time:\n"
		"  START..END (either side may be empty; epoch seconds or RFC 3339 2026-01-31T12:00:00Z)\n"
		"  or LAST, a duration (90s, 10m, 2h, 1d) ending at the newest record. Default: everything.\n"
		"  Without --format, --report, --push or --plot the json report goes to stdout.\n"
		"  --plot draws the window's power over time, stacked by process, as an SVG.\n"
		"exit status: 0 ok, 1 runtime failure (unreadable ledger, bad line, no records, failed push),\n"
		"2 usage error (also a report file that cannot be written)\n");
}

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

int cmd_report(int argc, char **argv)
{
	const char *ledgers[64], *window = NULL, *format = NULL, *out = NULL, *plot_path = NULL;
	struct report_plot plot = { 0 };
	size_t nledgers = 0;
	struct report_set *s = NULL;
	struct export_window w;
	struct ledger_pass pass = { 0 };
	struct carbon_cfg ccfg = { 0 };
	struct carbon_ctx *c = NULL;
	struct export_run *r = NULL;
	enum export_format fmt;
	char err[512];
	int rc = EXIT_USAGE;

	if (report_set_new(&s))
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int pr = report_parse_arg(s, argc, argv, &i);

		if (pr < 0)
			goto out;
		if (pr)
			continue;
		if (!strcmp(a, "-v")) {
			log_level = LOG_LVL_INFO;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (i + 1 >= argc && (!strcmp(a, "--from-ledger") || !strcmp(a, "--window") || !strcmp(a, "--format") ||
				      !strcmp(a, "-o") || !strcmp(a, "--uncertainty") || !strcmp(a, "--plot"))) {
			fprintf(stderr, "joule: option '%s' needs a value\n", a);
			goto out;
		}
		if (!strcmp(a, "--from-ledger")) {
			if (nledgers == 64) {
				fprintf(stderr, "joule: at most 64 ledger files\n");
				goto out;
			}
			ledgers[nledgers++] = argv[++i];
		} else if (!strcmp(a, "--window")) {
			window = argv[++i];
		} else if (!strcmp(a, "--format")) {
			format = argv[++i];
		} else if (!strcmp(a, "-o")) {
			out = argv[++i];
		} else if (!strcmp(a, "--plot")) {
			plot_path = argv[++i];
		} else if (!strcmp(a, "--uncertainty")) {
			if (carbon_method_parse(argv[++i], &ccfg.method)) {
				fprintf(stderr, "joule: --uncertainty is analytical or monte-carlo, not '%s'\n", argv[i]);
				goto out;
			}
		} else {
			fprintf(stderr, "joule: unknown option '%s' (see joule report --help)\n", a);
			goto out;
		}
	}
	if (!nledgers) {
		fprintf(stderr, "joule: report needs --from-ledger FILE (see joule report --help)\n");
		goto out;
	}
	if (window && export_window_parse(window, &w, err, sizeof(err))) {
		fprintf(stderr, "joule: %s\n", err);
		goto out;
	}
	if (format) {
		if (export_format_parse(format, &fmt)) {
			fprintf(stderr, "joule: unknown report format '%s' (codecarbon, boamps, csv, json, sci)\n", format);
			goto out;
		}
		if (report_add_target(s, fmt, out ? out : "-"))
			goto out;
	} else if (out) {
		fprintf(stderr, "joule: -o FILE goes with --format FORMAT\n");
		goto out;
	}
	if (report_set_empty(s) && !plot_path && report_add_target(s, EXPORT_JSON, "-"))
		goto out;
	if (report_set_prepare(s))
		goto out;
	/* report_plot_open says why it cannot */
	if (plot_path && report_plot_open(&plot, plot_path))
		goto out;
	pass.plot = plot_path ? &plot : NULL;

	rc = 1;
	if (carbon_open(&c, &ccfg, err, sizeof(err))) {
		log_err("failed to set up the carbon model: %s", err);
		goto out;
	}
	pass.lo = 0;
	pass.hi = UINT64_MAX;
	if (window && w.last_ns) {
		/* LAST ends at the newest record: find it first */
		for (size_t i = 0; i < nledgers; i++)
			if (ledger_pass(ledgers[i], &pass))
				goto out;
		pass.hi = pass.last_ts;
		pass.lo = pass.last_ts > w.last_ns ? pass.last_ts - w.last_ns : 0;
	} else if (window) {
		pass.lo = w.has_start ? w.start_ns : 0;
		pass.hi = w.has_end ? w.end_ns : UINT64_MAX;
	}
	if (export_builder_new(&pass.b))
		goto out;
	for (size_t i = 0; i < nledgers; i++)
		if (ledger_pass(ledgers[i], &pass))
			goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (!pass.in_window || export_builder_finish(pass.b, c, r)) {
		fprintf(stderr, "joule: no process, host or run records in %s%s\n", window ? "the window " : "the ledger",
			window ? window : "");
		goto out;
	}
	/* the machine facts are this host's: only true of a ledger written here */
	if (same_host(export_builder_host_id(pass.b)))
		report_machine_facts(r);
	rc = !report_set_empty(s) && report_set_emit(s, r) ? 1 : 0;
	if (plot_path) {
		char title[160];
		struct plot_opts po = { .title = title, .energy_uj = plot.host_uj, .carbon_ug = plot.host_carbon_ug };

		snprintf(title, sizeof(title), "joule report: %s%s", window ? "window " : "the whole ledger",
			 window ? window : "");
		if (report_plot_finish(&plot, &po))
			rc = 1;
	}
out:
	report_plot_close(&plot);
	free(r);
	export_builder_free(pass.b);
	carbon_close(c);
	report_set_free(s);
	return rc;
}
