/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Connection admission and request deadlines of the HTTP server (user/http/conn.c): limits, a reserve, slow-client drops. */
#ifndef JOULE_HTTP_CONN_H
#define JOULE_HTTP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>

struct http_limits {
	unsigned max_conns;	/* connections a listener serves in full */
	unsigned reserve;	/* beyond max_conns: only /metrics, /healthz, /readyz, one request each */
	unsigned per_addr;	/* per non-loopback TCP address */
	unsigned per_uid;	/* per peer uid on the Unix socket */
	uint64_t header_ns;	/* a request's headers must be in this long after open (or the previous answer) */
	uint64_t body_ns;	/* and its body this long after its headers */
	uint64_t reserve_ns;	/* the whole request on a reserve slot */
};

/*
 * Defaults for a listener, from the descriptor budget: max_conns asked for
 * (0: 4096) clamped so that two listeners and the rest of the daemon fit in
 * nofile descriptors.
 */
void http_limits_default(struct http_limits *l, unsigned max_conns, uint64_t nofile);

enum http_admit { HTTP_ADMIT_NORMAL, HTTP_ADMIT_RESERVE, HTTP_ADMIT_REFUSE };

/*
 * Who gets a new connection: open normal and reserve connections, and how
 * many the same client has open, against its limit (0: none; loopback TCP
 * peers share one address, so they are not limited one by one).
 */
enum http_admit http_admit(const struct http_limits *l, unsigned open_normal, unsigned open_reserve,
			   unsigned open_same_client, unsigned client_limit);

enum http_conn_phase { HTTP_PHASE_HEADERS, HTTP_PHASE_BODY, HTTP_PHASE_ANSWER };

/* Whether a connection in phase since clock_ns is past its deadline at now_ns (answers have none). */
bool http_deadline_passed(const struct http_limits *l, enum http_conn_phase phase, bool reserve, uint64_t clock_ns,
			  uint64_t now_ns);

struct http_conns;
struct http_conn;

/* One listener's tracker, with its deadline thread running. unix_socket: peers are told apart by uid. */
int http_conns_new(struct http_conns **out, const struct http_limits *l, bool unix_socket);
/* After MHD_stop_daemon of its listener. */
void http_conns_free(struct http_conns *t);

/* libmicrohttpd hooks; cls is the tracker. */
enum MHD_Result http_conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void http_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
size_t http_conns_unescape(void *cls, struct MHD_Connection *c, char *s);

/* The tracked state of c (NULL if untracked). */
struct http_conn *http_conn_of(struct MHD_Connection *c);
/* Request progress, for the deadlines: headers in, answer queued, answer sent. */
void http_conn_set_phase(struct http_conn *k, enum http_conn_phase phase);
bool http_conn_is_reserve(const struct http_conn *k);
/* Whether k came in on the Unix socket (false for TCP and for an untracked connection). */
bool http_conn_on_unix_socket(const struct http_conn *k);
/* Whether this request's target had a %00 (decoded by libmicrohttpd into a string end). */
bool http_conn_target_had_nul(const struct http_conn *k);
/* The Unix socket peer's uid (SO_PEERCRED); false on TCP. */
bool http_conn_peer_uid(const struct http_conn *k, uint32_t *uid);
/* The pid that connected to the Unix socket (SO_PEERCRED, taken at connect); false on TCP. */
bool http_conn_peer_pid(const struct http_conn *k, uint32_t *pid);

/* Counters for /metrics and the tests: refused at admission, dropped at a deadline. */
void http_conns_stats(struct http_conns *t, uint64_t *refused, uint64_t *dropped);

#endif /* JOULE_HTTP_CONN_H */
