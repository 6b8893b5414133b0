/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* GET /api/v1/stream (user/http/sse.c): Server-Sent Events parked between samples, with a heartbeat thread. */
#ifndef JOULE_HTTP_SSE_H
#define JOULE_HTTP_SSE_H

#include <microhttpd.h>

struct store;
struct http_sse;

/* At most this many open streams; more get 503 with Retry-After. */
#define SSE_MAX_STREAMS 8
#define SSE_RETRY_AFTER_S "10"

/* The stream registry over store, with its heartbeat thread running. 0 or -errno. */
int http_sse_new(struct http_sse **out, struct store *store);
/* Queue a 200 event stream on c: 0, -EBUSY (SSE_MAX_STREAMS open; answer 503), -ENOMEM, or -EIO. */
int http_sse_open(struct http_sse *s, struct MHD_Connection *c);
/* Wake every parked stream (a sample landed). */
void http_sse_notify(struct http_sse *s);
/* End every stream and stop the heartbeat: call before MHD_stop_daemon, since parked connections must be resumed first. */
void http_sse_stop(struct http_sse *s);
/* Free the registry after every daemon serving its streams has stopped. */
void http_sse_free(struct http_sse *s);

#endif /* JOULE_HTTP_SSE_H */
