/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Prometheus exposition (text 0.0.4 or OpenMetrics 1.0) of the store and of joule's own health; pure. */
#ifndef JOULE_METRICS_H
#define JOULE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/sample.h"
#include "joule/store.h"
#include "joule/span.h"
#include "joule/util.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_OPENMETRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

enum metrics_format { METRICS_TEXT, METRICS_OPENMETRICS };

/* The daemon's own process, for the standard process_* metrics (read from /proc/self). */
struct metrics_process {
	uint64_t cpu_ns;		/* user + system */
	uint64_t rss_bytes, vsize_bytes;
	uint64_t open_fds, max_fds;
	uint64_t start_real_ns;
};

/* joule's own health, gathered by the daemon; absent parts are simply not exported. */
struct metrics_self {
	const char *version;
	bool have_sampler;
	struct sampler_stats sampler;
	bool have_ledger;
	uint64_t ledger_bytes, ledger_syncs, ledger_queue;
	uint64_t ledger_records_lost;	/* given up on (disk full, I/O error) */
	uint64_t last_scrape_ns;	/* how long the previous scrape took */
	uint64_t http_requests, http_errors;
	uint64_t start_real_ns;
	bool have_process;
	struct metrics_process process;
	const struct host_identity *host;	/* NULL: no joule_host_info */
	bool have_spans;
	struct span_metrics spans;		/* energy spans: per-name totals of closed spans */
};

/*
 * Render everything. The caller holds the store's read lock (the store
 * counts the exposition: see store_begin_exposition). The group,
 * idle and other families hold every µJ once and only grow (the families to
 * sum); per-process series are a drill-down over the same energy for
 * processes with own_series, while they live. 0 or -ENOMEM.
 */
int metrics_render(struct store *s, const struct metrics_self *self, enum metrics_format fmt,
		   struct textbuf *out);

/* The format an Accept header asks for: OpenMetrics when it names application/openmetrics-text. */
enum metrics_format metrics_negotiate(const char *accept);

/* joule_host_info{hostname,machine_id,boot_id,source} 1: the series a fleet joins on. */
void metrics_host_info(struct textbuf *b, const struct host_identity *host, const char *source);

/* Escape a label value per the text format (\\, \", \n) into out; always terminated. */
void metrics_escape_label(const char *in, char *out, size_t outlen);

#endif /* JOULE_METRICS_H */
