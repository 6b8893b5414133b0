// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: the ledger verifier on arbitrary bytes, and canonical JSON idempotence on whatever parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "joule/jcs.h"
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger_verifier v;
	cJSON *j;

	/* Whole input as a ledger file: must return, never crash, never read out of bounds. */
	ledger_verifier_init(&v);
	if (ledger_verifier_buf(&v, (const char *)data, size) == 0 && v.records == 0 && size)
		abort(); /* a non-empty file that verifies has records */

	/* Canonical form is a fixed point: canon(parse(canon(x))) == canon(x). */
	j = cJSON_ParseWithLength((const char *)data, size);
	if (j) {
		char *a = NULL, *b = NULL;
		size_t alen, blen;

		if (jcs_serialize(j, &a, &alen) == 0) {
			cJSON *k = cJSON_ParseWithLength(a, alen);

			if (!k || jcs_serialize(k, &b, &blen) != 0 || blen != alen || memcmp(a, b, alen) != 0)
				abort();
			cJSON_Delete(k);
		}
		free(a);
		free(b);
		cJSON_Delete(j);
	}
	return 0;
}
