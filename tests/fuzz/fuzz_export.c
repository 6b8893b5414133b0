// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz target: the report parsers (--window, --grouping, BoAmps input, ledger records into a run summary) and every formatter over what they accept. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/export.h"

static void format_all(const struct export_run *r, const cJSON *in)
{
	struct export_opts o = { .project_name = "p", .run_id = "r", .boamps_input = in, .functional_units = 3,
				 .functional_unit = "unit" };
	FILE *f = fopen("/dev/null", "w");
	char err[512];

	if (!f)
		return;
	for (int i = 0; i < EXPORT_NFORMATS; i++) {
		err[0] = '\0';
		if (export_write(f, (enum export_format)i, r, &o, err, sizeof(err)) == -EINVAL && !err[0])
			abort(); /* a refusal always says why */
	}
	export_push_body(f, r);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct export_window w;
	struct export_label l;
	struct export_builder *b;
	struct export_run r;
	char err[512], path[512], *s;
	const char *nl;
	uint64_t ns;
	cJSON *rec;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)export_window_parse(s, &w, err, sizeof(err));
	(void)export_time_parse(s, &ns);
	if (export_label_parse(s, &l, err, sizeof(err)) == 0) {
		if (export_push_path(path, sizeof(path), l.value, &l, 1) == 0 && strncmp(path, "/metrics/job", 12) != 0)
			abort();
	}
	/* each line a ledger record */
	if (export_builder_new(&b) == 0) {
		for (const char *p = s; p && *p; p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			rec = cJSON_ParseWithLength(p, nl ? (size_t)(nl - p) : strlen(p));
			if (rec)
				(void)export_builder_add(b, rec, err, sizeof(err));
			cJSON_Delete(rec);
		}
		if (export_builder_finish(b, NULL, &r) == 0) {
			rec = cJSON_Parse(s);
			format_all(&r, rec);
			cJSON_Delete(rec);
		}
		export_builder_free(b);
	}
	free(s);
	return 0;
}
