// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Pushgateway client: one PUT of the run's totals per grouping key, over libcurl, retried a few times. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "joule/log.h"
#include "joule/netcurl.h"
#include "joule/pushgw.h"

int pushgw_init(struct pushgw_target *t, const char *url, char *err, size_t errlen)
{
	int rc;

	memset(t, 0, sizeof(*t));
	rc = netcurl_base_url(url, "push URL", t->url, sizeof(t->url), err, errlen);
	if (rc)
		return rc;
	snprintf(t->job, sizeof(t->job), "%s", PUSHGW_DEFAULT_JOB);
	return 0;
}

int pushgw_set_job(struct pushgw_target *t, const char *job, char *err, size_t errlen)
{
	if (!job || !job[0] || strlen(job) >= sizeof(t->job)) {
		snprintf(err, errlen, "--job needs a name of 1 to %zu bytes", sizeof(t->job) - 1);
		return -EINVAL;
	}
	snprintf(t->job, sizeof(t->job), "%s", job);
	return 0;
}

int pushgw_add_grouping(struct pushgw_target *t, const char *kv, char *err, size_t errlen)
{
	struct export_label l;
	int rc = export_label_parse(kv, &l, err, errlen);

	if (rc)
		return rc;
	for (size_t i = 0; i < t->nlabels; i++) {
		if (strcmp(t->labels[i].name, l.name) == 0) {
			t->labels[i] = l;
			return 0;
		}
	}
	if (t->nlabels == PUSHGW_MAX_LABELS) {
		snprintf(err, errlen, "at most %d --grouping labels", PUSHGW_MAX_LABELS);
		return -EINVAL;
	}
	t->labels[t->nlabels++] = l;
	return 0;
}

struct reply {
	char text[256];
	size_t n;
};

/* Keep the start of the Pushgateway's answer: on a 4xx it says what it rejected. */
static size_t on_reply(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct reply *r = ctx;
	size_t len = size * nmemb, room = sizeof(r->text) - 1 - r->n;

	if (len < room)
		room = len;
	memcpy(r->text + r->n, p, room);
	r->n += room;
	r->text[r->n] = '\0';
	return len;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

int pushgw_push(const struct pushgw_target *t, const struct export_run *r)
{
	char path[4096], *url = NULL, *body = NULL;
	size_t body_len = 0;
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	FILE *mem;
	int attempts = t->attempts > 0 ? t->attempts : PUSHGW_ATTEMPTS, rc;
	long backoff = t->backoff_ms > 0 ? t->backoff_ms : 250;

	rc = export_push_path(path, sizeof(path), t->job, t->labels, t->nlabels);
	if (rc) {
		log_err("failed to push to %s: the grouping key does not fit in a URL", t->url);
		return -EIO;
	}
	mem = open_memstream(&body, &body_len);
	if (!mem)
		return -ENOMEM;
	rc = export_push_body(mem, r);
	if (fclose(mem) || rc) {
		free(body);
		return -ENOMEM;
	}
	if (asprintf(&url, "%s%s", t->url, path) < 0) {
		free(body);
		return -ENOMEM;
	}
	h = netcurl_easy("joule/" JOULE_VERSION, t->timeout_ms > 0 ? t->timeout_ms : 5000L, NULL);
	if (!h) {
		log_err("failed to push to %s: libcurl did not initialise", url);
		rc = -EIO;
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: text/plain; version=0.0.4; charset=utf-8");
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* PUT replaces every metric of this grouping key: a re-run of the job leaves no stale series */
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = -EIO;
	for (int i = 1; i <= attempts; i++) {
		struct reply reply = { .n = 0 };
		long status = 0;
		CURLcode cc;

		reply.text[0] = '\0';
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
		cc = curl_easy_perform(h);
		if (cc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && status >= 200 && status < 300) {
			log_info("pushed to %s (HTTP %ld)", url, status);
			rc = 0;
			break;
		}
		one_line(reply.text);
		if (cc == CURLE_OK && status >= 400 && status < 500) {
			/* the Pushgateway refused what was sent: sending it again cannot help */
			log_err("failed to push to %s: HTTP %ld %s", url, status, reply.text);
			break;
		}
		if (i == attempts) {
			if (cc != CURLE_OK)
				log_err("failed to push to %s: %s (%d attempts)", url, curl_easy_strerror(cc), attempts);
			else
				log_err("failed to push to %s: HTTP %ld %s (%d attempts)", url, status, reply.text,
					attempts);
			break;
		}
		log_info("push to %s: %s, retrying in %ld ms", url,
			 cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", backoff);
		sleep_ms(backoff);
		backoff *= 2;
	}
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	free(url);
	free(body);
	return rc;
}
