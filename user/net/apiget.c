// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* GET one JSON document from a joule daemon's API over libcurl: its Unix socket or an http(s) base URL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "joule/apiget.h"
#include "joule/log.h"
#include "joule/netcurl.h"

/* /api/v1/energy with a breakdown is the largest answer: 1000 steps x a few series x 100 processes */
#define BODY_MAX (64u << 20)

int apiget_json(const char *where, const char *path, cJSON **doc)
{
	const char *sock = !strncmp(where, "unix:", 5) ? where + 5 : where[0] == '/' ? where : NULL;
	struct netcurl_body b = { .max = BODY_MAX };
	char url[2048];
	long status = 0;
	CURLcode cc;
	CURL *c;
	int err = 0;

	*doc = NULL;
	if (!sock && strncmp(where, "http://", 7) && strncmp(where, "https://", 8)) {
		log_err("--from-api wants a socket path or an http(s):// URL, not '%s'", where);
		return -EINVAL;
	}
	snprintf(url, sizeof(url), "%s%s", sock ? "http://localhost" : where, path);
	/* "http://host:9940/" + "/api/..." */
	if (!sock && strlen(where) > 0 && where[strlen(where) - 1] == '/')
		snprintf(url, sizeof(url), "%.*s%s", (int)strlen(where) - 1, where, path);
	c = netcurl_easy("joule/" JOULE_VERSION, 30000L, NULL);
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (sock)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, netcurl_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		log_err("failed to get %s from %s: %s", path, where,
			b.too_big ? "answer over 64 MiB" : curl_easy_strerror(cc));
		err = -EIO;
	} else {
		*doc = b.p ? cJSON_ParseWithLength(b.p, b.len) : NULL;
		if (status >= 400) {
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(*doc, "error"),
									  "message");

			log_err("failed to get %s from %s: %ld %s", path, where, status,
				cJSON_IsString(m) ? m->valuestring : "");
			err = -EIO;
		} else if (!*doc) {
			log_err("failed to get %s from %s: the answer is not JSON", path, where);
			err = -EPROTO;
		}
		if (err) {
			cJSON_Delete(*doc);
			*doc = NULL;
		}
	}
	free(b.p);
	return err;
}
