/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Push a run's totals to a Prometheus Pushgateway (libcurl), with a few retries. */
#ifndef JOULE_PUSHGW_H
#define JOULE_PUSHGW_H

#include <stddef.h>
#include "joule/export.h"

#define PUSHGW_MAX_LABELS 16
#define PUSHGW_DEFAULT_JOB "joule"
#define PUSHGW_ATTEMPTS 3

struct pushgw_target {
	char url[1024];		/* "http://host:9091" (a trailing '/' is dropped) */
	char job[256];
	struct export_label labels[PUSHGW_MAX_LABELS];
	size_t nlabels;
	int attempts;		/* 0: PUSHGW_ATTEMPTS */
	long timeout_ms;	/* per attempt; 0: 5000 */
	long backoff_ms;	/* before the 2nd attempt, doubled after; 0: 250 */
};

/* Check the URL (http:// or https://) and set the job to PUSHGW_DEFAULT_JOB. 0 or -EINVAL with err. */
int pushgw_init(struct pushgw_target *t, const char *url, char *err, size_t errlen);
int pushgw_set_job(struct pushgw_target *t, const char *job, char *err, size_t errlen);
/* One "--grouping k=v"; a repeated name replaces the earlier value. */
int pushgw_add_grouping(struct pushgw_target *t, const char *kv, char *err, size_t errlen);
/*
 * PUT the run's totals to URL/metrics/job/<job>/<k>/<v>... (replacing the
 * group's earlier push). Retries connection failures and 5xx; a 4xx is
 * final. Logs the failure itself (log_err); returns 0, -EIO or -ENOMEM.
 */
int pushgw_push(const struct pushgw_target *t, const struct export_run *r);

#endif /* JOULE_PUSHGW_H */
