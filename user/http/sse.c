// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* GET /api/v1/stream: one Server-Sent Event per sample, connections parked (suspended) between samples, keep-alives. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/http_respond.h"
#include "joule/http_sse.h"
#include "joule/log.h"
#include "joule/store.h"
#include "joule/util.h"
#include "joule/worker.h"

/* Every stream gets a comment this often, so a dead peer is noticed by a failed write. */
#define SSE_HEARTBEAT_NS (10 * NSEC_PER_SEC)
/* Parked streams are woken this often to check whether their heartbeat is due. */
#define SSE_WAKE_NS (2 * NSEC_PER_SEC)

struct sse;

struct http_sse {
	struct store *store;
	pthread_mutex_t lock;
	struct sse *parked;		/* suspended streams waiting for the next sample */
	/*
	 * Open streams. Atomic: sse_free runs inside libmicrohttpd's cleanup,
	 * and taking the lock there deadlocks against http_sse_notify (lock,
	 * then libmicrohttpd's lock in MHD_resume_connection).
	 */
	atomic_uint streams;
	struct worker hb;		/* the heartbeat; its stopping ends every stream */
};

struct sse {
	struct http_sse *reg;
	struct MHD_Connection *conn;
	uint64_t last_seq;
	uint64_t heartbeat_mono_ns;	/* last keep-alive (or the stream's start) */
	bool parked;
	struct sse *next;
	size_t len, off;
	char buf[4096];
};

static void sse_fill(struct sse *s)
{
	struct store_recent r[8];
	size_t n;

	s->len = s->off = 0;
	if (now_mono_ns() - s->heartbeat_mono_ns >= SSE_HEARTBEAT_NS) {
		s->len = (size_t)snprintf(s->buf, sizeof(s->buf), ": keep-alive\n\n");
		s->heartbeat_mono_ns = now_mono_ns();
	}
	store_rdlock(s->reg->store);
	n = store_recent(s->reg->store, r, ARRAY_SIZE(r));
	store_unlock(s->reg->store);
	for (size_t i = 0; i < n; i++) {
		char ts[40];
		int w;

		if (r[i].seq <= s->last_seq)
			continue;
		format_rfc3339(r[i].real_end_ns, ts, sizeof(ts));
		w = snprintf(s->buf + s->len, sizeof(s->buf) - s->len,
			     "id: %llu\nevent: sample\ndata: {\"seq\":%llu,\"time\":\"%s\",\"interval_ns\":%llu,"
			     "\"source\":\"%s\",\"energy_uj\":%llu,\"cpu_energy_uj\":%llu,\"memory_energy_uj\":%llu,"
			     "\"carbon_ug\":%llu,\"idle_uj\":%llu,\"tasks\":%u,\"intensity_g_per_kwh\":%.6g}\n\n",
			     (unsigned long long)r[i].seq, (unsigned long long)r[i].seq, ts,
			     (unsigned long long)r[i].interval_ns, energy_kind_name(r[i].source),
			     (unsigned long long)(r[i].host_cpu_uj + r[i].host_mem_uj),
			     (unsigned long long)r[i].host_cpu_uj, (unsigned long long)r[i].host_mem_uj,
			     (unsigned long long)r[i].host_carbon_ug, (unsigned long long)r[i].idle_uj, r[i].ntasks,
			     r[i].intensity_g_per_kwh);
		if (w < 0 || (size_t)w >= sizeof(s->buf) - s->len)
			break;
		s->len += (size_t)w;
		s->last_seq = r[i].seq;
	}
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;
	struct http_sse *h = s->reg;

	if (s->off == s->len)
		sse_fill(s);
	if (s->off == s->len) {
		uint64_t seq;

		pthread_mutex_lock(&h->lock);
		if (h->hb.stopping) {
			pthread_mutex_unlock(&h->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		/* A sample that landed since sse_fill has already notified: do not park past it. */
		store_rdlock(h->store);
		seq = store_last_seq(h->store);
		store_unlock(h->store);
		if (seq == s->last_seq && now_mono_ns() - s->heartbeat_mono_ns < SSE_HEARTBEAT_NS) {
			s->parked = true;
			s->next = h->parked;
			h->parked = s;
			MHD_suspend_connection(s->conn);
		}
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	return http_reader_copy(out, max, s->buf, s->len, &s->off);
}

/*
 * A parked stream is never freed: libmicrohttpd does not close suspended
 * connections, and http_stop resumes them all first. So no list surgery
 * (and no lock taken inside libmicrohttpd's cleanup path) is needed here.
 */
static void sse_free(void *cls)
{
	struct sse *s = cls;

	atomic_fetch_sub(&s->reg->streams, 1);
	free(s);
}

int http_sse_open(struct http_sse *h, struct MHD_Connection *c)
{
	struct sse *s;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint64_t seq;
	unsigned n = atomic_load(&h->streams);

	do {
		if (n >= SSE_MAX_STREAMS)
			return -EBUSY;
	} while (!atomic_compare_exchange_weak(&h->streams, &n, n + 1));
	s = calloc(1, sizeof(*s));
	if (!s) {
		atomic_fetch_sub(&h->streams, 1);
		return -ENOMEM;
	}
	s->reg = h;
	s->conn = c;
	s->heartbeat_mono_ns = now_mono_ns();
	store_rdlock(h->store);
	seq = store_last_seq(h->store);
	store_unlock(h->store);
	/* start with the newest sample, then one event per sample */
	s->last_seq = seq ? seq - 1 : 0;
	s->len = (size_t)snprintf(s->buf, sizeof(s->buf), "retry: 1000\n\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return -ENOMEM;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret == MHD_YES ? 0 : -EIO;
}

/* Resume every parked stream; the caller holds the lock. */
static void wake_parked(struct http_sse *h)
{
	while (h->parked) {
		struct sse *s = h->parked;

		h->parked = s->next;
		s->parked = false;
		MHD_resume_connection(s->conn);
	}
}

void http_sse_notify(struct http_sse *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	wake_parked(h);
	pthread_mutex_unlock(&h->lock);
}

/* Wakes parked streams now and then so their keep-alive goes out even when no sample comes. */
static void *heartbeat_main(void *arg)
{
	struct http_sse *h = arg;

	pthread_mutex_lock(&h->lock);
	while (worker_sleep(&h->hb, SSE_WAKE_NS))
		wake_parked(h);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

void http_sse_stop(struct http_sse *h)
{
	if (!h)
		return;
	worker_stop(&h->hb);
	/* resumed after stopping is set, every stream reads end-of-stream */
	http_sse_notify(h);
}

void http_sse_free(struct http_sse *h)
{
	if (!h)
		return;
	worker_destroy(&h->hb);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int http_sse_new(struct http_sse **out, struct store *store)
{
	struct http_sse *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->store = store;
	pthread_mutex_init(&h->lock, NULL);
	err = worker_start(&h->hb, &h->lock, heartbeat_main, h);
	if (err) {
		log_err("failed to start the stream heartbeat thread: %s", strerror(-err));
		http_sse_free(h);
		return err;
	}
	*out = h;
	return 0;
}
