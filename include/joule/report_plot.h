/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --plot FILE.svg of joule run and joule report: samples or ledger records into a plot_svg picture, written out. */
#ifndef JOULE_REPORT_PLOT_H
#define JOULE_REPORT_PLOT_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "joule/plot_svg.h"
#include "joule/report.h"

struct report_plot {
	const char *path;
	FILE *f;		/* opened before any work, so a bad path fails first */
	struct plot *p;
	uint64_t host_uj, host_carbon_ug;	/* of the ledger records drawn (joule report's title) */
	char source[16];
};

/* Open path for writing and start an empty picture. 0, or -errno after printing why. */
int report_plot_open(struct report_plot *rp, const char *path);
/* One tick: the host span, its idle part and every task mine() accepts. 0 or -errno. */
int report_plot_sample(struct report_plot *rp, const struct sample *s, window_match_fn mine, void *ctx);
/* One ledger record: host and process records are drawn, the others ignored. 0 or -errno. */
int report_plot_record(struct report_plot *rp, const cJSON *rec);
/* Draw and write; o->source defaults to the records' source. 0, or 1 after printing why. */
int report_plot_finish(struct report_plot *rp, struct plot_opts *o);
void report_plot_close(struct report_plot *rp);

#endif /* JOULE_REPORT_PLOT_H */
