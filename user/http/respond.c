// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Responses of the HTTP server: the headers every answer carries, the API's JSON errors, gzip of large bodies. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "joule/http_conn.h"
#include "joule/http_query.h"
#include "joule/http_respond.h"

enum MHD_Result http_send_response(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	/* a reserve slot serves one request and closes, so it is free again at once */
	if (http_conn_is_reserve(http_conn_of(c)))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

struct MHD_Response *http_response_buffer(const char *ctype, char *buf, size_t len, enum MHD_ResponseMemoryMode mode,
					  const char *enc)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, mode);

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (enc) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, enc);
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	}
	return r;
}

struct MHD_Response *http_response_error(unsigned status, const char *msg, const char *allow)
{
	struct MHD_Response *r;
	char buf[512];

	http_error_json((int)status, msg, buf, sizeof(buf));
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, !strcmp(allow, "GET") ? "GET, HEAD" : allow);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"joule\"");
	return r;
}

bool http_client_accepts_gzip(struct MHD_Connection *c)
{
	return http_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

ssize_t http_reader_copy(char *out, size_t max, const char *buf, size_t len, size_t *off)
{
	size_t n = len - *off < max ? len - *off : max;

	memcpy(out, buf + *off, n);
	*off += n;
	return (ssize_t)n;
}

char *http_gzip(const char *in, size_t len, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap;
	char *out;

	/* windowBits 15 + 16: a gzip header and trailer rather than zlib's */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, len) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}
