/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The reports and the push a command writes (joule report, and joule run --report/--push): options, files, output. */
#ifndef JOULE_REPORT_SET_H
#define JOULE_REPORT_SET_H

#include <cjson/cJSON.h>
#include "joule/export.h"

struct report_set;

int report_set_new(struct report_set **out);
void report_set_free(struct report_set *s);

/*
 * A report option by name (without dashes), one value each, as cli_parse
 * hands them over (joule run, joule report): --report FORMAT=FILE,
 * --project-name, --experiment-id, --run-id (codecarbon), --boamps-input,
 * --functional-unit "N NAME" or "N:NAME" (sci), --push URL, --job,
 * --grouping K=V. 0, -EINVAL with the reason printed, -ENOENT if key is not
 * a report option.
 */
int report_apply_opt(struct report_set *s, const char *key, const char *val);
/* Add one report target (what --report FORMAT=FILE does); -EINVAL with the reason printed. */
int report_add_target(struct report_set *s, enum export_format fmt, const char *path);
/* Whether any report or push was asked for. */
bool report_set_empty(const struct report_set *s);

/*
 * Before the command starts: read the BoAmps input, check each format has
 * what it needs, open every FILE. On failure the reason is printed and
 * -EINVAL / -errno returned: the caller exits 2 without running anything.
 */
int report_set_prepare(struct report_set *s);
/*
 * At the end: write every report and push. Each failure is printed; the
 * other reports are still written. 0, or the first error (joule run must
 * not let it change the command's exit status).
 */
int report_set_emit(struct report_set *s, const struct export_run *r);

/* joule run --push-interval D: how often to push while the command runs (0: only at its end, or no --push). */
uint64_t report_set_push_interval_ns(const struct report_set *s);
/*
 * One push while the command runs (r without exit status or end time): one
 * attempt with a 1 s timeout, as the next interval tries again. A failure
 * is printed; 0 or -EIO.
 */
int report_set_push_interim(struct report_set *s, const struct export_run *r);

/*
 * A run summary from the object joule run prints with --json (and appends
 * to the ledger as its "run" record); machine facts of this host added.
 * r->procs lives in *b: free it with export_builder_free after the reports.
 */
int report_run_from_json(const cJSON *run_json, const struct carbon_ctx *c, struct export_builder **b,
			 struct export_run *r);
/* This host's CPU model and count, RAM, OS and hostname into r. */
void report_machine_facts(struct export_run *r);

#endif /* JOULE_REPORT_SET_H */
