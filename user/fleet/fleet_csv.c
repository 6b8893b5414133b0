// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fleet's CSV views without I/O: nodes.csv, pods.csv and the stream's rows from Prometheus range answers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "joule/export.h"
#include "joule/fleet_api.h"
#include "joule/fleet_internal.h"
#include "joule/util.h"

const char fleet_nodes_csv_header[] = "instance,host,collection_time,observation_time,cpu_usage,wattage\n";
static const char pods_csv_header[] = "instance,host,namespace,name,collection_time,observation_time,cpu_usage,wattage\n";

/* ---- CSV: one row per (node or pod, step), oldest first per node */

static double point_at(const cJSON *matrix, const cJSON *like, const char *const *keys, size_t nkeys, double ts)
{
	const cJSON *s, *pv;

	cJSON_ArrayForEach(s, matrix) {
		size_t k;

		for (k = 0; k < nkeys; k++)
			if (strcmp(fleet_label(s, keys[k]), fleet_label(like, keys[k])))
				break;
		if (k < nkeys)
			continue;
		cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(s, "values")) {
			double t, v;

			if (fleet_pair(pv, &t, &v) && t == ts)
				return v;
		}
	}
	return NAN;
}

unsigned fleet_build_csv(const struct fleet_req *r, struct fleet_parsed *ps, struct fleet_reply *out)
{
	static const char *const node_keys[] = { "instance" }, *const pod_keys[] = { "instance", "namespace", "pod" };
	bool pods = r->route == FLEET_PODS_CSV;
	const char *const *keys = pods ? pod_keys : node_keys;
	size_t nkeys = pods ? 3 : 1;
	struct fleet_hosts h = { 0 };
	char now[40];
	const cJSON *s, *pv;
	FILE *f;

	if (fleet_hosts_fill(&h, NULL, ps[2].result)) {
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	f = open_memstream(&out->body, &out->len);
	if (!f) {
		free(h.v);
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	format_rfc3339(r->now_ms * 1000000, now, sizeof(now));
	if (r->route != FLEET_STREAM_CSV)
		fputs(pods ? pods_csv_header : fleet_nodes_csv_header, f);
	cJSON_ArrayForEach(s, ps[0].result) {
		cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(s, "values")) {
			double ts, watts, cores;
			char obs[40];

			if (!fleet_pair(pv, &ts, &watts))
				continue;
			cores = point_at(ps[1].result, s, keys, nkeys, ts);
			format_rfc3339((uint64_t)ts * NSEC_PER_SEC, obs, sizeof(obs));
			export_csv_field(f, fleet_label(s, "instance"));
			fputc(',', f);
			export_csv_field(f, fleet_host_name(&h, fleet_label(s, "instance")));
			if (pods) {
				fputc(',', f);
				export_csv_field(f, fleet_label(s, "namespace"));
				fputc(',', f);
				export_csv_field(f, fleet_label(s, "pod"));
			}
			fprintf(f, ",%s,%s,", now, obs);
			if (isfinite(cores))
				fprintf(f, "%.6f", cores);
			fprintf(f, ",%.6f\n", watts);
		}
	}
	free(h.v);
	if (fclose(f)) {
		free(out->body);
		out->body = NULL;
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	out->content_type = "text/csv; charset=utf-8";
	return out->status = 200;
}
