/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The JSON and CSV answers of the HTTP API from the store (user/http/api.c), testable without a server. */
#ifndef JOULE_HTTP_API_H
#define JOULE_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/http_query.h"

struct store;
struct carbon_ctx;

/* Who asks: decides which /proc-derived fields an answer may carry (least disclosure). */
enum http_viewer_kind {
	HTTP_VIEWER_ANONYMOUS,	/* TCP without authentication: any local user, or anyone the bind reaches */
	HTTP_VIEWER_UID,	/* a Unix socket peer, by SO_PEERCRED */
	HTTP_VIEWER_TRUSTED,	/* authenticated (web config basic auth or client certificate) */
};

struct http_viewer {
	enum http_viewer_kind kind;
	uint32_t uid;		/* HTTP_VIEWER_UID */
};

/* The fields of /api/v1/processes/{pid} that /proc guards. */
struct http_disclosure {
	bool exe, cmdline, cgroup;
};

/*
 * Pure: what a viewer may see of a process owned by owner_uid (UINT32_MAX:
 * unknown), given whether /proc hides other users' processes (hidepid).
 * As /proc does: root and the owner see everything; other users never the
 * exe link (ptrace access), and cmdline and cgroup only without hidepid.
 * An anonymous TCP client is treated as less than any local user: no exe,
 * no cmdline (it may carry secrets such as --token=...).
 */
void http_disclose(const struct http_viewer *v, uint32_t owner_uid, bool proc_hidden, struct http_disclosure *out);

/* What an answer is built from: the store, the carbon context, the daemon's identity and the viewer. */
struct http_api_ctx {
	struct store *store;
	struct carbon_ctx *carbon;	/* NULL: /host shows the store's last intensity */
	const char *version;
	uint64_t start_real_ns;
	bool ready;
	struct http_viewer viewer;
};

/* One answer: a malloc'ed body with its type, or (status >= 400) an error message for the caller's error JSON. */
struct http_reply {
	unsigned status;
	const char *content_type;
	char *body;
	size_t len;
	char err[256];
};

/* Whether http_api_answer serves this route (host, processes, process, apps, energy, samples.csv). */
bool http_api_handles(enum http_route_id route);

/*
 * Answer a routed, checked request. Returns the HTTP status, also in
 * out->status: 200 with out->body (the caller frees it), or 4xx/5xx with
 * out->err set and no body.
 */
unsigned http_api_answer(const struct http_api_ctx *ctx, const struct http_request_params *p,
			 struct http_reply *out);

#endif /* JOULE_HTTP_API_H */
