/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Prometheus text exposition (format 0.0.4) of the store and of joule's own health; pure. */
#ifndef JOULE_METRICS_H
#define JOULE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/sample.h"
#include "joule/store.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* joule's own health, gathered by the daemon; absent parts are simply not exported. */
struct metrics_self {
	const char *version;
	bool have_sampler;
	struct sampler_stats sampler;
	bool have_ledger;
	uint64_t ledger_bytes, ledger_syncs, ledger_queue;
	uint64_t last_scrape_ns;	/* how long the previous scrape took */
	uint64_t http_requests, http_errors;
	uint64_t start_real_ns;
	const struct host_identity *host;	/* NULL: no joule_host_info */
};

struct metrics_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/*
 * Render everything. The caller holds the store's read lock. Per-process
 * series exist for processes with own_series; everyone else's energy is in
 * the per-group series (no pid label), so every µJ is counted once.
 * 0 or -ENOMEM.
 */
int metrics_render(const struct store *s, const struct metrics_self *self, struct metrics_buf *out);
void metrics_buf_free(struct metrics_buf *b);

/* joule_host_info{hostname,machine_id,boot_id,source} 1: the series a fleet joins on. */
void metrics_host_info(struct metrics_buf *b, const struct host_identity *host, const char *source);

/* Escape a label value per the text format (\\, \", \n) into out; always terminated. */
void metrics_escape_label(const char *in, char *out, size_t outlen);

#endif /* JOULE_METRICS_H */
