// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz the web config parser: any bytes give 0 or -EINVAL with a reason, and a parsed config is consistent. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "joule/http_webcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_webcfg w;
	char err[256] = "";
	int rc = http_webcfg_parse((const char *)data, size, "/etc/joule", &w, err, sizeof(err));

	if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
		__builtin_trap();
	if (rc == -EINVAL && !err[0])
		__builtin_trap(); /* every refusal says why */
	if (rc == 0) {
		if (!!w.cert_file != !!w.key_file)
			__builtin_trap(); /* a certificate always comes with its key */
		for (size_t i = 0; i < w.nusers; i++)
			if (strlen(w.users[i].hash) != 60)
				__builtin_trap(); /* only bcrypt hashes are kept */
		http_webcfg_free(&w);
	}
	return 0;
}
