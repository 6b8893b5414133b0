/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The HTTP server (user/http/server.c): /metrics and the JSON API on TCP and a Unix socket. Parsing: http_query.h. */
#ifndef JOULE_HTTP_H
#define JOULE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct carbon_ctx;
struct span_table;
struct http_auth;

struct http_cfg {
	const char *listen;		/* ADDR:PORT; NULL or "" disables TCP */
	const char *socket_path;	/* NULL or "" disables the Unix socket */
	const char *socket_group;	/* NULL: keep the process's group */
	uint32_t socket_mode;
	const char *api_token;		/* NULL: PUT /intensity is always 401 */
	unsigned threads;		/* 0: 2 */
	unsigned max_connections;	/* per listener, beyond it only a reserve for scrapes; 0: 4096 (fd limit permitting) */
	const char *web_config_file;	/* exporter-toolkit web config (TLS, basic auth); NULL: plain HTTP */
	/*
	 * web_config_file already loaded (http_auth_new): http_start takes it
	 * over and frees it, on failure too; NULL: http_start loads the file.
	 * One load, so a certificate rotated in between cannot differ from
	 * the one checked at start.
	 */
	struct http_auth *auth;
	const char *version;
};

/* Live counters the daemon hands to /metrics and /readyz (read under the store lock). */
struct http_state {
	struct store *store;
	struct carbon_ctx *carbon;	/* for PUT /intensity; NULL: 503 */
	struct span_table *spans;	/* energy spans (Unix socket); NULL: 503 */
	volatile int ready;		/* set after the first full sample */
	/*
	 * Ledger records lost within the last minute (disk full, I/O error):
	 * /readyz answers 503 while it is not 0, so a probe sees what the
	 * ledger's gap record will say later.
	 */
	volatile uint64_t ledger_lost_recent;
	uint64_t start_real_ns;
	void (*fill_self)(void *ctx, void *metrics_self);	/* optional: sampler/ledger stats */
	void *fill_ctx;
};

struct http_server;

/*
 * One daemon per socket: take an flock on SOCKET_PATH.lock (created if
 * missing, the holder's pid written in it) and keep the returned descriptor
 * open while serving; the kernel drops the lock with the process, so a
 * kill -9 never blocks a restart. The file itself stays (removing it would
 * let two daemons lock two different files). -EBUSY (logged with the
 * holder's pid) if another daemon holds it, or -errno.
 */
int http_socket_lock(const char *socket_path);

/* Start serving. bound (if not NULL) gets "ADDR:PORT" actually bound (port 0 resolved). */
int http_start(struct http_server **out, const struct http_cfg *cfg, struct http_state *st, char *bound,
	       size_t boundlen);
/* Wake SSE followers after a sample. */
void http_notify_sample(struct http_server *h);
void http_stop(struct http_server *h);

#endif /* JOULE_HTTP_H */
