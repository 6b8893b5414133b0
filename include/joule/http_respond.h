/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Building and sending libmicrohttpd responses (user/http/respond.c): headers every answer carries, JSON errors, gzip. */
#ifndef JOULE_HTTP_RESPOND_H
#define JOULE_HTTP_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <microhttpd.h>

/* Queue r and drop our reference; a reserve slot's answer says "Connection: close". */
enum MHD_Result http_send_response(struct MHD_Connection *c, unsigned status, struct MHD_Response *r);
/* A response over buf with its Content-Type, no-store, and Content-Encoding enc (NULL: none). NULL on failure
 * (buf is freed then when mode is MHD_RESPMEM_MUST_FREE). */
struct MHD_Response *http_response_buffer(const char *ctype, char *buf, size_t len, enum MHD_ResponseMemoryMode mode,
					  const char *enc);
/* The API's JSON error for status, with Allow (allow != NULL) or WWW-Authenticate (401) where they belong. */
struct MHD_Response *http_response_error(unsigned status, const char *msg, const char *allow);
/* Whether the request's Accept-Encoding takes gzip. */
bool http_client_accepts_gzip(struct MHD_Connection *c);
/* A streaming response's content reader step: up to max bytes of buf[*off, len) into out, *off advanced. */
ssize_t http_reader_copy(char *out, size_t max, const char *buf, size_t len, size_t *off);
/* gzip (RFC 1952) of in; NULL on failure, else a malloc'd buffer of *out_len bytes. */
char *http_gzip(const char *in, size_t len, size_t *out_len);

#endif /* JOULE_HTTP_RESPOND_H */
