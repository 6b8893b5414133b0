// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connection admission and deadlines: a global limit, a reserve for scrapes, per-client limits, slow requests dropped. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "joule/http_conn.h"
#include "joule/http_query.h"
#include "joule/log.h"
#include "joule/util.h"
#include "joule/worker.h"

/*
 * Thousands of connections cost a descriptor and ~1 KB each with epoll; a
 * scrape needs one. Beyond that, a client is either broken or hostile.
 */
#define DEFAULT_MAX_CONNS 4096
/* Enough for a few Prometheus servers and health checkers while everything else is full. */
#define DEFAULT_RESERVE 64
/* A remote Prometheus needs one or two; 64 is generous for any honest client behind one address. */
#define DEFAULT_PER_ADDR 64
/* Descriptors kept for the rest of the daemon (ledger, BPF maps, /proc reads, the listeners). */
#define FD_HEADROOM 256
/* A real client sends its headers at once; a few seconds covers a slow link, not a trickle. */
#define HEADER_NS (5 * NSEC_PER_SEC)
#define BODY_NS (5 * NSEC_PER_SEC)
#define RESERVE_NS (2 * NSEC_PER_SEC)
/* The deadline thread's period: drops happen at most this late. */
#define SWEEP_NS (200 * NSEC_PER_MSEC)

struct http_conn {
	struct http_conns *owner;
	int fd;
	bool reserve;
	bool limited;			/* counted against per_client */
	bool peer_known;
	uint32_t peer_uid;
	uint32_t peer_pid;		/* the process that connected: who opens a span */
	bool target_nul;
	bool dropped;
	enum http_admit admitted;
	enum http_conn_phase phase;
	uint64_t clock_ns;		/* start of the current phase */
	struct sockaddr_storage addr;	/* TCP peers */
	socklen_t addrlen;
	struct http_conn *prev, *next;
};

struct http_conns {
	struct http_limits lim;
	bool unix_socket;
	/* Held by the deadline thread while it shuts a socket down: libmicrohttpd closes it only after NOTIFY_CLOSED. */
	pthread_mutex_t lock;
	struct http_conn *head;
	unsigned open_normal, open_reserve;
	uint64_t refused, dropped;
	struct worker sweep;		/* the deadline thread */
};

void http_limits_default(struct http_limits *l, unsigned max_conns, uint64_t nofile)
{
	uint64_t budget = nofile > FD_HEADROOM ? (nofile - FD_HEADROOM) / 2 : 16;

	memset(l, 0, sizeof(*l));
	l->reserve = DEFAULT_RESERVE;
	l->max_conns = max_conns ? max_conns : DEFAULT_MAX_CONNS;
	if (budget < (uint64_t)l->reserve * 2)
		l->reserve = (unsigned)(budget / 2);
	if (l->max_conns + (uint64_t)l->reserve > budget)
		l->max_conns = (unsigned)(budget - l->reserve);
	if (l->max_conns < 1)
		l->max_conns = 1;
	l->per_addr = DEFAULT_PER_ADDR;
	/* local users each get a share of the socket, so one of them cannot take all of it */
	l->per_uid = l->max_conns / 4 > 16 ? l->max_conns / 4 : 16;
	l->header_ns = HEADER_NS;
	l->body_ns = BODY_NS;
	l->reserve_ns = RESERVE_NS;
}

enum http_admit http_admit(const struct http_limits *l, unsigned open_normal, unsigned open_reserve,
			   unsigned open_same_client, unsigned client_limit)
{
	/* a client over its own limit gets nothing, not even the reserve: the reserve is for everyone else */
	if (client_limit && open_same_client >= client_limit)
		return HTTP_ADMIT_REFUSE;
	if (open_normal < l->max_conns)
		return HTTP_ADMIT_NORMAL;
	if (open_reserve < l->reserve)
		return HTTP_ADMIT_RESERVE;
	return HTTP_ADMIT_REFUSE;
}

bool http_deadline_passed(const struct http_limits *l, enum http_conn_phase phase, bool reserve, uint64_t clock_ns,
			  uint64_t now_ns)
{
	uint64_t limit;

	if (phase == HTTP_PHASE_ANSWER)
		return false;
	limit = reserve ? l->reserve_ns : phase == HTTP_PHASE_HEADERS ? l->header_ns : l->body_ns;
	return now_ns > clock_ns && now_ns - clock_ns > limit;
}

static bool is_loopback(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(x))
			return true;
		return IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127;
	}
	return false;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

/* Open limited connections of one client; the caller holds the lock. */
static unsigned count_client(const struct http_conns *t, const struct sockaddr *addr, bool by_uid, uint32_t uid)
{
	unsigned n = 0;

	for (const struct http_conn *k = t->head; k; k = k->next) {
		if (!k->limited)
			continue;
		if (by_uid ? k->peer_known && k->peer_uid == uid : same_addr(addr, &k->addr))
			n++;
	}
	return n;
}

enum MHD_Result http_conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_conns *t = cls;
	bool limited = !t->unix_socket && addr && addrlen && !is_loopback(addr);
	enum http_admit a;

	/* the Unix socket's uid is known only once the connection exists: checked in NOTIFY_STARTED */
	pthread_mutex_lock(&t->lock);
	a = http_admit(&t->lim, t->open_normal, t->open_reserve, limited ? count_client(t, addr, false, 0) : 0,
		       limited ? t->lim.per_addr : 0);
	if (a == HTTP_ADMIT_REFUSE)
		t->refused++;
	pthread_mutex_unlock(&t->lock);
	return a == HTTP_ADMIT_REFUSE ? MHD_NO : MHD_YES;
}

static void conn_started(struct http_conns *t, struct MHD_Connection *c, void **socket_context)
{
	const union MHD_ConnectionInfo *ci;
	struct http_conn *k = calloc(1, sizeof(*k));
	enum http_admit a;

	if (!k)
		return; /* untracked: served without limits rather than refused for our lack of memory */
	k->owner = t;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	k->fd = ci ? ci->connect_fd : -1;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (t->unix_socket) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (k->fd >= 0 && getsockopt(k->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			k->peer_known = true;
			k->peer_uid = cred.uid;
			k->peer_pid = (uint32_t)cred.pid;
			k->limited = true;
		}
	} else if (ci && ci->client_addr && !is_loopback(ci->client_addr)) {
		size_t n = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								   : sizeof(struct sockaddr_in);

		memcpy(&k->addr, ci->client_addr, n);
		k->addrlen = (socklen_t)n;
		k->limited = true;
	}
	k->clock_ns = now_mono_ns();
	pthread_mutex_lock(&t->lock);
	a = http_admit(&t->lim, t->open_normal, t->open_reserve,
		       k->limited ? count_client(t, (struct sockaddr *)&k->addr, t->unix_socket, k->peer_uid) : 0,
		       !k->limited ? 0 : t->unix_socket ? t->lim.per_uid : t->lim.per_addr);
	if (a == HTTP_ADMIT_REFUSE) {
		/* too late to refuse the accept (a race, or a Unix peer over its uid's share): end it at once */
		t->refused++;
		k->dropped = true;
		if (k->fd >= 0)
			shutdown(k->fd, SHUT_RDWR);
	}
	k->admitted = a;
	k->reserve = a == HTTP_ADMIT_RESERVE;
	if (a == HTTP_ADMIT_RESERVE)
		t->open_reserve++;
	else if (a == HTTP_ADMIT_NORMAL)
		t->open_normal++;
	k->next = t->head;
	if (t->head)
		t->head->prev = k;
	t->head = k;
	pthread_mutex_unlock(&t->lock);
	*socket_context = k;
}

static void conn_closed(struct http_conns *t, void **socket_context)
{
	struct http_conn *k = *socket_context;

	if (!k)
		return;
	pthread_mutex_lock(&t->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		t->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	if (k->admitted == HTTP_ADMIT_RESERVE)
		t->open_reserve--;
	else if (k->admitted == HTTP_ADMIT_NORMAL)
		t->open_normal--;
	pthread_mutex_unlock(&t->lock);
	free(k);
	*socket_context = NULL;
}

void http_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(cls, c, socket_context);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		conn_closed(cls, socket_context);
}

size_t http_conns_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *k = ci ? ci->socket_context : NULL;

	/*
	 * libmicrohttpd hands the target and arguments on as C strings, so a
	 * %00 would silently cut them ("limit=1%0099" read as 1): note it, and
	 * the request is refused before it is routed.
	 */
	if (k && http_has_nul_escape(s))
		k->target_nul = true;
	return MHD_http_unescape(s);
}

struct http_conn *http_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void http_conn_set_phase(struct http_conn *k, enum http_conn_phase phase)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->owner->lock);
	k->phase = phase;
	k->clock_ns = now_mono_ns();
	/* a new request on a kept-alive connection starts clean */
	if (phase == HTTP_PHASE_HEADERS)
		k->target_nul = false;
	pthread_mutex_unlock(&k->owner->lock);
}

bool http_conn_on_unix_socket(const struct http_conn *k)
{
	return k && k->owner->unix_socket;
}

bool http_conn_is_reserve(const struct http_conn *k)
{
	return k && k->reserve;
}

bool http_conn_target_had_nul(const struct http_conn *k)
{
	return k && k->target_nul;
}

bool http_conn_peer_pid(const struct http_conn *k, uint32_t *pid)
{
	if (!k || !k->peer_known)
		return false;
	*pid = k->peer_pid;
	return true;
}

bool http_conn_peer_uid(const struct http_conn *k, uint32_t *uid)
{
	if (!k || !k->peer_known)
		return false;
	*uid = k->peer_uid;
	return true;
}

void http_conns_stats(struct http_conns *t, uint64_t *refused, uint64_t *dropped)
{
	pthread_mutex_lock(&t->lock);
	*refused = t->refused;
	*dropped = t->dropped;
	pthread_mutex_unlock(&t->lock);
}

/*
 * Drops connections past their deadline. libmicrohttpd's own timeout is an
 * idle timeout that any trickle resets; shutdown() makes its next read see
 * the end, and it closes the connection itself. The lock keeps the
 * descriptor ours: libmicrohttpd closes it only after NOTIFY_CLOSED, which
 * waits for the lock.
 */
static void *sweep_main(void *arg)
{
	struct http_conns *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->sweep.stopping) {
		uint64_t now = now_mono_ns();

		for (struct http_conn *k = t->head; k; k = k->next) {
			if (k->dropped || k->fd < 0 || !http_deadline_passed(&t->lim, k->phase, k->reserve, k->clock_ns, now))
				continue;
			k->dropped = true;
			t->dropped++;
			shutdown(k->fd, SHUT_RDWR);
		}
		worker_sleep(&t->sweep, SWEEP_NS);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void http_conns_free(struct http_conns *t)
{
	if (!t)
		return;
	worker_stop(&t->sweep);
	/* MHD_stop_daemon closed every connection (NOTIFY_CLOSED): the list is empty */
	worker_destroy(&t->sweep);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int http_conns_new(struct http_conns **out, const struct http_limits *l, bool unix_socket)
{
	struct http_conns *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->lim = *l;
	t->unix_socket = unix_socket;
	pthread_mutex_init(&t->lock, NULL);
	err = worker_start(&t->sweep, &t->lock, sweep_main, t);
	if (err) {
		log_err("failed to start the connection deadline thread: %s", strerror(-err));
		http_conns_free(t);
		return err;
	}
	*out = t;
	return 0;
}
