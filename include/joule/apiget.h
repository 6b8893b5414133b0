/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* GET a JSON document from a joule daemon's API (user/net/apiget.c): over its Unix socket or http(s). */
#ifndef JOULE_APIGET_H
#define JOULE_APIGET_H

#include <cjson/cJSON.h>

/*
 * GET PATH from the daemon at where: a Unix socket path ("/run/joule/joule.sock",
 * or "unix:PATH") or a base URL ("http://127.0.0.1:9940"). 0 with the parsed
 * JSON in *doc (the caller deletes it), or -errno after printing why (cannot
 * connect, HTTP error with the daemon's message, not JSON).
 */
int apiget_json(const char *where, const char *path, cJSON **doc);

#endif /* JOULE_APIGET_H */
