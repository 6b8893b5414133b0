/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The Prometheus HTTP query API client (user/fleet/promclient.c, libcurl): instant and range queries, with a timeout. */
#ifndef JOULE_PROMCLIENT_H
#define JOULE_PROMCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "joule/netcurl.h"

struct promclient {
	char base[1024];	/* "http://host:9090" or a Thanos/Mimir prefix; a trailing '/' is dropped */
	long timeout_ms;	/* whole request; 0: 10000 */
	struct netcurl_auth auth; /* TLS files and credentials (promclient_set_auth) */
};

/* What Prometheus answered: HTTP status and body, or why there is none. */
struct prom_answer {
	long http_status;	/* 0: no answer (connection failed or timed out) */
	int err;		/* 0, -ETIMEDOUT (slow), -ECONNREFUSED/-EHOSTUNREACH (unreachable), -EPROTO (TLS), -EIO, -ENOMEM */
	char *body;		/* malloc'ed, NUL-terminated (NULL if none) */
	size_t len;
	char message[256];	/* curl's reason when err != 0 */
};

/* Check the URL (http:// or https://, no query or fragment). 0 or -EINVAL with err. */
int promclient_init(struct promclient *c, const char *url, long timeout_ms, char *err, size_t errlen);

/*
 * TLS and authentication for every query (auth's file names are kept, its
 * secrets read now: netcurl_auth_load). 0 or -errno with err.
 */
int promclient_set_auth(struct promclient *c, const struct netcurl_auth *auth, char *err, size_t errlen);
/* Free what promclient_set_auth loaded. */
void promclient_free(struct promclient *c);

/* GET /api/v1/query?query=Q&time=T (T in ms since the epoch, sent as seconds with 3 decimals; 0: Prometheus' now). Returns a->err (the answer is set either way; free it with prom_answer_free). */
int promclient_query(const struct promclient *c, const char *query, uint64_t time_ms, struct prom_answer *a);
/* GET /api/v1/query_range?query=Q&start=&end=&step= (start, end in ms). As promclient_query. */
int promclient_query_range(const struct promclient *c, const char *query, uint64_t start_ms, uint64_t end_ms,
			   uint64_t step_s, struct prom_answer *a);
void prom_answer_free(struct prom_answer *a);

#endif /* JOULE_PROMCLIENT_H */
