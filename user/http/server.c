// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP server: libmicrohttpd on TCP and a Unix socket, routing to the API, /metrics, errors as JSON. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <sodium.h>
#include <zlib.h>
#include "joule/carbon.h"
#include "joule/http.h"
#include "joule/http_api.h"
#include "joule/http_auth.h"
#include "joule/http_conn.h"
#include "joule/http_query.h"
#include "joule/http_sse.h"
#include "joule/http_usock.h"
#include "joule/log.h"
#include "joule/metrics.h"
#include "joule/netaddr.h"
#include "joule/store.h"
#include "joule/util.h"
/* user/http/openapi.json as bytes (Makefile: xxd -i) */
#include "http_openapi.h"

/* PUT /intensity carries one small JSON object; anything larger is refused (413). */
#define MAX_BODY 1024
/* Headers plus body per connection: large enough for any sane request, small enough to bound memory. */
#define CONN_MEMORY_LIMIT (32 * 1024)
/*
 * libmicrohttpd's timeout is for inactivity: it ends answers a client stopped
 * reading. Requests that trickle in are bounded by conn.c's deadlines.
 */
#define CONN_TIMEOUT_S 10

struct http_server {
	struct MHD_Daemon *tcp, *unix_d;
	struct http_conns *tcp_conns, *unix_conns;
	struct http_auth *auth;		/* TLS and authentication of the TCP listener (web config); NULL: none */
	struct http_state *st;
	struct http_sse *sse;
	char *token;
	size_t token_len;
	char *version;
	struct http_usock usock;	/* the socket file we bound, so we remove only ours */
	atomic_uint_fast64_t requests, errors, last_scrape_ns;
};

/* Per-request state between libmicrohttpd's calls of the access handler. */
struct req {
	struct http_request_params p;
	int status;			/* != 0: answer this error on the final call */
	char err[256];
	char body[MAX_BODY + 1];
	size_t body_len;
	bool too_big;
	bool to_body;			/* the headers passed: on to the body */
	bool authenticated;		/* basic auth or a verified client certificate (web config) */
	struct http_conn *conn;		/* admission and deadline state of the connection */
	const char *cl[4];		/* Content-Length values seen */
	size_t ncl;
};

/* Queue r; a reserve slot serves one request and closes, so it is free again at once. */
static enum MHD_Result send_response(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (http_conn_is_reserve(http_conn_of(c)))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue(struct http_server *h, struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *buf, size_t len, enum MHD_ResponseMemoryMode mode, const char *enc)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, mode);

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (enc) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, enc);
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	}
	if (status >= 400)
		atomic_fetch_add(&h->errors, 1);
	return send_response(c, status, r);
}

static enum MHD_Result queue_error(struct http_server *h, struct MHD_Connection *c, unsigned status,
				   const char *msg, const char *allow)
{
	struct MHD_Response *r;
	char buf[512];

	http_error_json((int)status, msg, buf, sizeof(buf));
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, !strcmp(allow, "GET") ? "GET, HEAD" : allow);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"joule\"");
	atomic_fetch_add(&h->errors, 1);
	return send_response(c, status, r);
}

static enum MHD_Result queue_json(struct http_server *h, struct MHD_Connection *c, unsigned status, cJSON *o)
{
	char *txt = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (!txt)
		return queue_error(h, c, 500, "out of memory", NULL);
	return queue(h, c, status, "application/json", txt, strlen(txt), MHD_RESPMEM_MUST_FREE, NULL);
}

static bool accepts_gzip(struct MHD_Connection *c)
{
	return http_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

/* gzip (RFC 1952) of in; NULL on failure. */
static char *gzip_buf(const char *in, size_t len, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap;
	char *out;

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

static enum MHD_Result h_metrics(struct http_server *h, struct MHD_Connection *c)
{
	struct metrics_self self = { 0 };
	struct metrics_buf b = { 0 };
	uint64_t t0 = now_mono_ns();
	enum metrics_format fmt;
	const char *ctype;
	int err;

	if (h->st->fill_self)
		h->st->fill_self(h->st->fill_ctx, &self);
	self.version = h->version;
	self.start_real_ns = h->st->start_real_ns;
	self.http_requests = atomic_load(&h->requests);
	self.http_errors = atomic_load(&h->errors);
	self.last_scrape_ns = atomic_load(&h->last_scrape_ns);
	store_rdlock(h->st->store);
	fmt = metrics_negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	ctype = fmt == METRICS_OPENMETRICS ? METRICS_OPENMETRICS_CONTENT_TYPE : METRICS_CONTENT_TYPE;
	err = metrics_render(h->st->store, &self, fmt, &b);
	store_unlock(h->st->store);
	if (err) {
		metrics_buf_free(&b);
		return queue_error(h, c, 500, "out of memory rendering metrics", NULL);
	}
	if (accepts_gzip(c)) {
		size_t zlen;
		char *z = gzip_buf(b.p, b.len, &zlen);

		if (z) {
			metrics_buf_free(&b);
			atomic_store(&h->last_scrape_ns, now_mono_ns() - t0);
			return queue(h, c, 200, ctype, z, zlen, MHD_RESPMEM_MUST_FREE, "gzip");
		}
	}
	atomic_store(&h->last_scrape_ns, now_mono_ns() - t0);
	/* b.p was malloc'ed: the response frees it */
	return queue(h, c, 200, ctype, b.p ? b.p : strdup(""), b.len, MHD_RESPMEM_MUST_FREE, NULL);
}

/* ---- PUT /intensity */
static bool token_ok(struct http_server *h, struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	if (!h->token || !a || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	n = strlen(a);
	/* sodium_memcmp is constant-time in the length compared; the length itself is not secret */
	return n == h->token_len && sodium_memcmp(a, h->token, n) == 0;
}

static enum MHD_Result h_intensity(struct http_server *h, struct MHD_Connection *c, struct req *rq)
{
	cJSON *o;
	double g;
	uint64_t now = now_real_ns();
	char from[40];

	if (!h->st->carbon)
		return queue_error(h, c, 503, "carbon accounting is not running", NULL);
	if (http_parse_intensity(rq->body, rq->body_len, &g, rq->err, sizeof(rq->err)))
		return queue_error(h, c, 400, rq->err, NULL);
	carbon_push(h->st->carbon, g, now);
	log_info("intensity pushed over HTTP: %.3f g/kWh", g);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "g_per_kwh", g);
	cJSON_AddStringToObject(o, "kind", "pushed");
	format_rfc3339(now, from, sizeof(from));
	cJSON_AddStringToObject(o, "from", from);
	return queue_json(h, c, 200, o);
}

/* 401 with a Basic challenge: the web config has basic_auth_users. */
static enum MHD_Result queue_basic_auth(struct http_server *h, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char buf[256];

	http_error_json(401, "authentication required (basic auth)", buf, sizeof(buf));
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	atomic_fetch_add(&h->errors, 1);
	ret = MHD_queue_basic_auth_fail_response(c, "joule", r);
	MHD_destroy_response(r);
	return ret;
}

/* 503 with Retry-After: the stream cap is reached. */
static enum MHD_Result queue_streams_full(struct http_server *h, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	char msg[96], buf[256];

	snprintf(msg, sizeof(msg), "too many open streams (at most %d); retry later", SSE_MAX_STREAMS);
	http_error_json(503, msg, buf, sizeof(buf));
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, SSE_RETRY_AFTER_S);
	atomic_fetch_add(&h->errors, 1);
	return send_response(c, 503, r);
}

static enum MHD_Result h_stream(struct http_server *h, struct MHD_Connection *c)
{
	int err = http_sse_open(h->sse, c);

	if (err == -EBUSY)
		return queue_streams_full(h, c);
	if (err == -ENOMEM)
		return queue_error(h, c, 500, "out of memory", NULL);
	return err ? MHD_NO : MHD_YES;
}

static enum MHD_Result h_api(struct http_server *h, struct MHD_Connection *c, const struct req *rq)
{
	struct http_api_ctx x = {
		.store = h->st->store,
		.carbon = h->st->carbon,
		.version = h->version,
		.start_real_ns = h->st->start_real_ns,
		.ready = h->st->ready != 0,
		.viewer = { .kind = rq->authenticated ? HTTP_VIEWER_TRUSTED : HTTP_VIEWER_ANONYMOUS },
	};
	struct http_reply out;

	/* a Unix socket peer is known by its credentials; TCP peers only by authentication */
	if (!rq->authenticated && http_conn_peer_uid(rq->conn, &x.viewer.uid))
		x.viewer.kind = HTTP_VIEWER_UID;

	if (http_api_answer(&x, &rq->p, &out) >= 400)
		return queue_error(h, c, out.status, out.err, NULL);
	return queue(h, c, out.status, out.content_type, out.body, out.len, MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result arg_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct req *rq = cls;

	rq->status = http_param(&rq->p, key, value, rq->err, sizeof(rq->err));
	return rq->status ? MHD_NO : MHD_YES;
}

/* GET /: a plain page with links, for a person who opens the address in a browser. */
static const char landing_page[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>joule</title></head><body>\n"
	"<h1>joule</h1>\n<p>Energy and carbon per process, group and host.</p>\n<ul>\n"
	"<li><a href=\"/metrics\">/metrics</a> (Prometheus; OpenMetrics on request)</li>\n"
	"<li><a href=\"/api/v1/host\">/api/v1/host</a></li>\n"
	"<li><a href=\"/api/v1/apps\">/api/v1/apps</a></li>\n"
	"<li><a href=\"/api/v1/processes\">/api/v1/processes</a></li>\n"
	"<li><a href=\"/api/v1/energy\">/api/v1/energy</a></li>\n"
	"<li><a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (the API's description)</li>\n"
	"<li><a href=\"/healthz\">/healthz</a>, <a href=\"/readyz\">/readyz</a></li>\n"
	"</ul>\n</body></html>\n";

static enum MHD_Result dispatch(struct http_server *h, struct MHD_Connection *c, struct req *rq)
{
	switch (rq->p.route) {
	case R_ROOT:
		return queue(h, c, 200, "text/html; charset=utf-8", (char *)landing_page, sizeof(landing_page) - 1,
			     MHD_RESPMEM_PERSISTENT, NULL);
	case R_METRICS:
		return h_metrics(h, c);
	case R_HEALTHZ:
		return queue(h, c, 200, "application/json", (char *)"{\"status\":\"ok\"}", 15, MHD_RESPMEM_PERSISTENT,
			     NULL);
	case R_READYZ:
		if (!h->st->ready)
			return queue_error(h, c, 503, "not ready: no complete sample yet", NULL);
		return queue(h, c, 200, "application/json", (char *)"{\"status\":\"ready\"}", 18,
			     MHD_RESPMEM_PERSISTENT, NULL);
	case R_OPENAPI:
		return queue(h, c, 200, "application/json", (char *)http_openapi_json, http_openapi_json_len,
			     MHD_RESPMEM_PERSISTENT, NULL);
	case R_STREAM:
		return h_stream(h, c);
	case R_INTENSITY:
		return h_intensity(h, c, rq);
	default:
		if (http_api_handles(rq->p.route))
			return h_api(h, c, rq);
		return queue_error(h, c, 404, "not found", NULL);
	}
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct req *rq = cls;

	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0 && rq->ncl < ARRAY_SIZE(rq->cl))
		rq->cl[rq->ncl++] = value;
	return MHD_YES;
}

/* The scrape and health routes: the only ones a reserve slot serves. */
static bool reserve_route(enum http_route_id r)
{
	return r == R_METRICS || r == R_HEALTHZ || r == R_READYZ;
}

/* Checks on the request line and headers, answered before any body is read. MHD_YES: go on to the body. */
static enum MHD_Result on_headers(struct http_server *h, struct MHD_Connection *c, struct req *rq, const char *url,
				  const char *method)
{
	const char *allow = NULL, *cl;
	int r;

	/* the web config guards the TCP listener, before anything about the request is answered */
	if (h->auth && !http_conn_on_unix_socket(rq->conn)) {
		enum http_auth_result a = http_auth_check(h->auth, c);

		if (a == HTTP_AUTH_NEED_PASSWORD)
			return queue_basic_auth(h, c);
		if (a == HTTP_AUTH_BAD_CERT)
			return queue_error(h, c, 403, "a client certificate signed by the configured CA is required", NULL);
		rq->authenticated = a == HTTP_AUTH_OK;
	}
	if (http_conn_target_had_nul(rq->conn)) {
		snprintf(rq->err, sizeof(rq->err), "invalid request target: an encoded NUL byte (%%00)");
		return queue_error(h, c, 400, rq->err, NULL);
	}
	/* differing lengths are a framing error (RFC 9112 6.3); which one a proxy used is unknowable */
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_content_length, rq);
	if (!http_content_lengths_agree(rq->cl, rq->ncl)) {
		snprintf(rq->err, sizeof(rq->err), "invalid request: Content-Length headers that disagree");
		return queue_error(h, c, 400, rq->err, NULL);
	}
	r = http_route(method, url, &rq->p, &allow);
	if (r == 405) {
		snprintf(rq->err, sizeof(rq->err), "method %.16s not allowed on %.128s", method, url);
		return queue_error(h, c, 405, rq->err, allow);
	}
	if (r == 404) {
		snprintf(rq->err, sizeof(rq->err), "no such path: %.128s", url);
		return queue_error(h, c, 404, rq->err, NULL);
	}
	if (http_conn_is_reserve(rq->conn) && !reserve_route(rq->p.route))
		return queue_error(h, c, 503, "server busy: only /metrics, /healthz and /readyz are served now", NULL);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_iter, rq);
	if (!rq->status)
		rq->status = http_params_check(&rq->p, rq->err, sizeof(rq->err));
	if (rq->status)
		return queue_error(h, c, (unsigned)rq->status, rq->err, NULL);
	/* an authenticated user (web config) may push; anyone else needs the bearer token */
	if (rq->p.route == R_INTENSITY && !rq->authenticated && !token_ok(h, c))
		return queue_error(h, c, 401,
				   h->token ? "missing or wrong bearer token" : "no API token configured (--api-token-file)",
				   NULL);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		uint64_t n;

		if (parse_u64(cl, &n) || n > MAX_BODY) {
			snprintf(rq->err, sizeof(rq->err), "request body over %d bytes", MAX_BODY);
			return queue_error(h, c, 413, rq->err, NULL);
		}
	}
	http_conn_set_phase(rq->conn, HTTP_PHASE_BODY);
	rq->to_body = true;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *h = cls;
	struct req *rq = *con_cls;

	if (!rq) {
		enum MHD_Result ret;

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		rq->conn = http_conn_of(c);
		atomic_fetch_add(&h->requests, 1);
		ret = on_headers(h, c, rq, url, method);
		/* an answer queued already has no deadline left to meet; a request going on to its body does */
		if (!rq->to_body)
			http_conn_set_phase(rq->conn, HTTP_PHASE_ANSWER);
		return ret;
	}
	if (*upload_size) {
		/* chunked bodies have no length up front: keep counting, answer 413 at the end */
		if (rq->body_len + *upload_size > MAX_BODY)
			rq->too_big = true;
		else if (rq->p.route == R_INTENSITY)
			memcpy(rq->body + rq->body_len, upload, *upload_size);
		rq->body_len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	http_conn_set_phase(rq->conn, HTTP_PHASE_ANSWER);
	if (rq->too_big) {
		snprintf(rq->err, sizeof(rq->err), "request body over %d bytes", MAX_BODY);
		return queue_error(h, c, 413, rq->err, NULL);
	}
	if (rq->p.route == R_INTENSITY && rq->body_len > MAX_BODY)
		rq->body_len = MAX_BODY;
	return dispatch(h, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	/* a kept-alive connection waits for its next request's headers, on a fresh deadline */
	http_conn_set_phase(rq ? rq->conn : http_conn_of(c), HTTP_PHASE_HEADERS);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	if (log_level < LOG_LVL_DEBUG)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

static struct MHD_Daemon *start_mhd(struct http_server *h, unsigned flags, unsigned threads, int fd,
				    const struct sockaddr *sa, struct http_conns *conns, const struct http_limits *lim,
				    const struct http_auth *auth)
{
	/*
	 * conns admits connections itself (the accept policy); libmicrohttpd's
	 * limit only backs it up. A thread pool splits that limit between its
	 * workers, hence the factor: no worker may refuse before conns does.
	 */
	unsigned mhd_limit = (lim->max_conns + lim->reserve) * (threads > 1 ? threads : 1) + 16;
	struct MHD_OptionItem opts[16] = {
		/* first, so that complaints about later options go through it too */
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)mhd_limit, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY_LIMIT, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_conns_notify, conns },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)http_conns_unescape, conns },
		{ MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL },
		{ fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR, fd >= 0 ? fd : 0, (void *)sa },
	};
	size_t n = 10;

	if (http_auth_tls(auth)) {
		flags |= MHD_USE_TLS;
		http_auth_mhd_options(auth, opts, &n);
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return MHD_start_daemon(flags, 0, http_conns_accept, conns, on_request, h, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
}

/* Whether a bind address keeps the API on this host (127.0.0.0/8, ::1). */
static bool loopback_bind(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* The descriptors this process may open (soft limit, raised to the hard one). */
static uint64_t fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };

		/* root without CAP_SYS_RESOURCE may still raise the soft limit to the hard one */
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : rl.rlim_cur;
}

int http_start(struct http_server **out, const struct http_cfg *cfg, struct http_state *st, char *bound,
	       size_t boundlen)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned threads = cfg->threads ? cfg->threads : 2;
	struct http_server *h = calloc(1, sizeof(*h));
	struct http_limits lim;
	int err = 0;

	if (!h)
		return -ENOMEM;
	http_limits_default(&lim, cfg->max_connections, fd_budget());
	if (sodium_init() < 0) {
		free(h);
		return -EIO;
	}
	h->st = st;
	err = http_sse_new(&h->sse, st->store);
	if (err) {
		free(h);
		return err;
	}
	h->version = strdup(cfg->version ? cfg->version : "unknown");
	if (cfg->api_token && cfg->api_token[0]) {
		h->token = strdup(cfg->api_token);
		h->token_len = strlen(cfg->api_token);
	}
	if (bound && boundlen)
		bound[0] = '\0';
	if (cfg->listen && cfg->listen[0]) {
		struct sockaddr_storage ss;
		socklen_t len;
		const union MHD_DaemonInfo *di;
		char host[INET6_ADDRSTRLEN];

		if (netaddr_parse_listen(cfg->listen, &ss, &len)) {
			log_err("invalid listen address '%s' (expected ADDR:PORT or [ADDR]:PORT)", cfg->listen);
			err = -EINVAL;
			goto fail;
		}
		if (cfg->web_config_file && cfg->web_config_file[0]) {
			err = http_auth_new(&h->auth, cfg->web_config_file);
			if (err)
				goto fail;
		}
		if (!loopback_bind(&ss) && !http_auth_tls(h->auth))
			log_warn("listening on %s without TLS: anyone who reaches it reads /metrics and the API in the "
				 "clear (see --web-config-file)", cfg->listen);
		else if (!loopback_bind(&ss) && !http_auth_required(h->auth))
			log_warn("listening on %s without authentication: anyone who reaches it reads /metrics and the API "
				 "(basic_auth_users or client_ca_file in --web-config-file)", cfg->listen);
		err = http_conns_new(&h->tcp_conns, &lim, false);
		if (err)
			goto fail;
		h->tcp = start_mhd(h, flags | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), threads, -1,
				   (struct sockaddr *)&ss, h->tcp_conns, &lim, h->auth);
		if (!h->tcp) {
			err = -EADDRINUSE;
			log_err("failed to listen on %s (address in use or not available)", cfg->listen);
			goto fail;
		}
		di = MHD_get_daemon_info(h->tcp, MHD_DAEMON_INFO_BIND_PORT);
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		if (bound && boundlen)
			snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
				 di ? (unsigned)di->port : 0);
	}
	if (cfg->socket_path && cfg->socket_path[0]) {
		int fd;

		fd = http_usock_listen(&h->usock, cfg->socket_path, cfg->socket_mode ? cfg->socket_mode : 0660, cfg->socket_group);
		if (fd < 0) {
			err = fd;
			goto fail;
		}
		err = http_conns_new(&h->unix_conns, &lim, true);
		if (err) {
			close(fd);
			http_usock_unlink(&h->usock);
			goto fail;
		}
		/* one polling thread (no pool) is plenty for local clients */
		h->unix_d = start_mhd(h, flags, 0, fd, NULL, h->unix_conns, &lim, NULL);
		if (!h->unix_d) {
			close(fd);
			log_err("failed to serve on %s", cfg->socket_path);
			err = -EIO;
			goto fail;
		}
	}
	if (!h->tcp && !h->unix_d) {
		log_err("nothing to serve on: both --listen and --socket are empty");
		err = -EINVAL;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	http_stop(h);
	return err;
}

void http_notify_sample(struct http_server *h)
{
	if (h)
		http_sse_notify(h->sse);
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	/* parked streams must be resumed before MHD_stop_daemon (API rule); they then end */
	http_sse_stop(h->sse);
	if (h->tcp)
		MHD_stop_daemon(h->tcp);
	if (h->unix_d)
		MHD_stop_daemon(h->unix_d);
	http_conns_free(h->tcp_conns);
	http_conns_free(h->unix_conns);
	http_auth_free(h->auth);
	http_sse_free(h->sse);
	http_usock_unlink(&h->usock);
	if (h->token)
		sodium_memzero(h->token, h->token_len);
	free(h->token);
	free(h->version);
	free(h);
}
