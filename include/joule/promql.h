/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Pure PromQL building for the fleet API (user/fleet/promql.c): escaped label matchers and the window expressions Prometheus evaluates. */
#ifndef JOULE_PROMQL_H
#define JOULE_PROMQL_H

#include <stddef.h>
#include <stdint.h>

/* The families the fleet reads (docs/DAEMON.md): the group family is the one to sum. */
#define PROMQL_GROUP_ENERGY "joule_group_energy_joules_total"
#define PROMQL_GROUP_CARBON "joule_group_carbon_grams_total"
#define PROMQL_GROUP_CPU "joule_group_cpu_seconds_total"
#define PROMQL_HOST_ENERGY "joule_host_attributed_energy_joules_total"

/* Longest expression the fleet builds (a few selectors of escaped names): Prometheus takes far more. */
#define PROMQL_MAX 4096

/*
 * Escape value for a double-quoted PromQL string: backslash, double quote
 * and newline get a backslash (\\, \", \n); other bytes pass, so quotes,
 * braces and regex characters in a name stay data, never syntax (every
 * matcher the fleet builds is '=', never '=~'). 0, -EINVAL for a control
 * byte other than newline, -ENAMETOOLONG if it does not fit.
 */
int promql_escape(const char *value, char *out, size_t outlen);

/*
 * Append `,name="value"` (escaped) to a matcher list (a NUL-terminated
 * string without braces, "" at first). 0 or the error of promql_escape.
 */
int promql_add_matcher(char *list, size_t listlen, const char *name, const char *value);

/*
 * The amount a counter family grew in the window of window_s seconds ending
 * at the evaluation time, summed by the labels in `by` ("" for one sum):
 *
 *   sum by (BY) (
 *       (last_over_time(M{S}[Ws]) - (M{S} offset Ws or last_over_time(M{S}[Ws]) * 0))
 *         unless resets(M{S}[Ws]) > 0
 *     or increase(M{S}[Ws]))
 *
 * joule's group series never jump or reset and start at zero, so the last
 * value in the window minus the value at its start (zero for a series born
 * inside it) is exact: windows that tile a range add up to the range,
 * and a host that stopped inside the window keeps what it reported.
 * increase() extrapolates to the window's edges (up to a scrape interval
 * too much), so it is only the fallback for a series that did reset (a
 * daemon restarted). 0 or -ENAMETOOLONG.
 */
int promql_window_sum(char *out, size_t outlen, const char *metric, const char *matchers, const char *by,
		      uint64_t window_s);

/*
 * sum by (BY) (rate(M{S}[Ws])): watts or CPU cores now, for the CSV
 * views. 0 or -ENAMETOOLONG.
 */
int promql_rate_sum(char *out, size_t outlen, const char *metric, const char *matchers, const char *by,
		    uint64_t window_s);

/* up{S}: which targets answered their last scrape. 0 or -ENAMETOOLONG. */
int promql_up(char *out, size_t outlen, const char *matchers);

/*
 * max by (instance, hostname) (last_over_time(joule_host_info{S}[Ws])):
 * each target's host name, also for a target that is down now. 0 or -ENAMETOOLONG.
 */
int promql_host_names(char *out, size_t outlen, const char *matchers, uint64_t window_s);

/*
 * group by (BY) (last_over_time(M{S}[Ws])): the label sets of the series
 * seen in the window, values ignored (the workload names of each group).
 * 0 or -ENAMETOOLONG.
 */
int promql_group_labels(char *out, size_t outlen, const char *metric, const char *matchers, const char *by,
			uint64_t window_s);

/* group by (namespace) (M{S,namespace!=""}): the namespaces seen (Carmen's /api/apps). */
int promql_namespaces(char *out, size_t outlen, const char *matchers);

#endif /* JOULE_PROMQL_H */
