// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ledger on the sampler's side: open (lock, key, recovery), the record feed and its bounded queue, flush, close. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "joule/ledger_internal.h"
#include "joule/log.h"
#include "joule/sample.h"
#include "joule/util.h"

#define DEFAULT_PERIOD_NS (60 * NSEC_PER_SEC)
#define DEFAULT_SYNC_NS NSEC_PER_SEC
#define DEFAULT_QUEUE_LIMIT 4096

/* Everything but the segment's fd, once the writer thread is gone (or never started). */
static void ledger_free(struct ledger *l)
{
	ledger_acc_free(&l->acc);
	ledger_items_free(l->head);
	l->head = l->tail = NULL;
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv_item);
	pthread_cond_destroy(&l->cv_done);
	ledger_key_wipe(&l->chain.key);
	if (l->lock_fd >= 0)
		close(l->lock_fd);	/* last: the records above are on disk before another writer may start */
	free(l->path);
	free(l);
}

int ledger_open(struct ledger **out, const struct ledger_opts *o)
{
	struct ledger *l;
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	if (!o || !o->path || !*o->path) {
		log_err("failed to open the ledger: no path given");
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		log_err("failed to open ledger %s: libsodium does not initialise", o->path);
		return -EIO;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		log_err("failed to open ledger %s: %s", o->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	l->o = *o;
	l->seg.fd = -1;
	l->lock_fd = -1;
	l->path = strdup(o->path);
	l->seg.path = l->path;
	ledger_chain_init(&l->chain);
	if (!l->o.period_ns)
		l->o.period_ns = DEFAULT_PERIOD_NS;
	if (!l->o.sync_interval_ns)
		l->o.sync_interval_ns = DEFAULT_SYNC_NS;
	if (!l->o.queue_limit)
		l->o.queue_limit = DEFAULT_QUEUE_LIMIT;
	l->o.path = l->path;
	l->o.key_path = NULL;
	l->acc.labeler = o->labeler;
	l->acc.labeler_ctx = o->labeler_ctx;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv_item, &ca);
	pthread_cond_init(&l->cv_done, &ca);
	pthread_condattr_destroy(&ca);
	l->last_sync_mono_ns = now_mono_ns();
	if (!l->path) {
		err = -ENOMEM;
		log_err("failed to open ledger %s: %s", o->path, strerror(-err));
		goto fail;
	}
	/* Before recovery: two writers would each cut, verify and append to the other's chain. */
	err = ledger_segment_lock(l->path, &l->lock_fd);
	if (err)
		goto fail;
	if (o->key_path) {
		err = ledger_key_load(o->key_path, &l->chain.key);
		if (err)
			goto fail;
		l->chain.signing = true;
	}
	err = ledger_writer_recover(l);
	if (err)
		goto fail;
	if (l->dirty)
		ledger_writer_sync(l);
	err = -pthread_create(&l->thread, NULL, ledger_writer_main, l);
	if (err) {
		log_err("ledger: failed to start the writer thread: %s", strerror(-err));
		goto fail;
	}
	l->thread_started = true;
	*out = l;
	return 0;
fail:
	if (l->seg.fd >= 0)
		close(l->seg.fd);
	ledger_free(l);
	return err;
}

/* ---- the feeder (the sampler's thread) --------------------------------- */

static void push_items(struct ledger *l, const struct ledger_item_list *li)
{
	if (!li->first)
		return;
	pthread_mutex_lock(&l->mu);
	if (l->tail)
		l->tail->next = li->first;
	else
		l->head = li->first;
	l->tail = li->last;
	l->st.queue_depth += li->n;
	if (l->st.queue_depth > l->st.queue_max_depth)
		l->st.queue_max_depth = l->st.queue_depth;
	pthread_cond_signal(&l->cv_item);
	pthread_mutex_unlock(&l->mu);
}

/* Queue the accumulated records (all, or the exited processes'); on ENOMEM what was built is still queued. */
static int emit_accumulated(struct ledger *l, bool all, uint64_t ts_end_ns)
{
	struct ledger_item_list li;
	int err = ledger_acc_take(&l->acc, all, ts_end_ns, &li);

	push_items(l, &li);
	return err;
}

static bool queue_has_room(struct ledger *l)
{
	bool room;

	pthread_mutex_lock(&l->mu);
	room = l->st.queue_depth < l->o.queue_limit;
	pthread_mutex_unlock(&l->mu);
	return room;
}

int ledger_feed_sample(struct ledger *l, const struct sample *s)
{
	bool due;
	int err;

	if (!l || !s)
		return -EINVAL;
	err = ledger_acc_add(&l->acc, s);
	if (err)
		return err;
	due = s->mono_end_ns - l->acc.period_start_mono_ns >= l->o.period_ns;
	if (!due && l->acc.nexited == 0)
		return 0;
	if (!queue_has_room(l)) {
		/* Hold the records back: the accumulators keep counting, nothing is lost. */
		pthread_mutex_lock(&l->mu);
		l->st.queue_full++;
		if (l->st.queue_full == 1 || l->st.queue_full % 1000 == 0)
			log_warn("ledger: writer queue full (%" PRIu64 " records waiting; disk slow?): "
				 "records deferred and coalesced (%" PRIu64 " times so far)",
				 l->st.queue_depth, l->st.queue_full);
		pthread_mutex_unlock(&l->mu);
		if (due && !l->deferred) {
			l->deferred = true;
			ledger_acc_mark_coalesced(&l->acc);
		}
		return 0;
	}
	if (l->deferred) {
		pthread_mutex_lock(&l->mu);
		l->st.coalesced += l->acc.nacc + l->acc.moved.n + 1;
		pthread_mutex_unlock(&l->mu);
		l->deferred = false;
	}
	if (due) {
		err = emit_accumulated(l, true, s->real_end_ns);
		/* The next period starts where this one ended, even if records are still pending. */
		l->acc.period_start_mono_ns = s->mono_end_ns;
		return err;
	}
	return emit_accumulated(l, false, s->real_end_ns);
}

int ledger_append_record(struct ledger *l, cJSON *obj)
{
	struct ledger_item_list li = { 0 };
	struct ledger_item *it;
	uint64_t now = now_real_ns();

	if (!l || !cJSON_IsObject(obj) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, "kind")) ||
	    cJSON_GetObjectItemCaseSensitive(obj, "seq") || cJSON_GetObjectItemCaseSensitive(obj, "prev_hash") ||
	    cJSON_GetObjectItemCaseSensitive(obj, "hash") || cJSON_GetObjectItemCaseSensitive(obj, "sig")) {
		cJSON_Delete(obj);
		return -EINVAL;
	}
	if (!cJSON_GetObjectItemCaseSensitive(obj, "ts_start"))
		ledger_json_add_ns(obj, "ts_start", now);
	if (!cJSON_GetObjectItemCaseSensitive(obj, "ts_end"))
		ledger_json_add_ns(obj, "ts_end", now);
	it = calloc(1, sizeof(*it));
	if (!it) {
		cJSON_Delete(obj);
		return -ENOMEM;
	}
	it->type = LEDGER_ITEM_JSON;
	it->u.json = obj;
	ledger_item_list_append(&li, it);
	push_items(l, &li);
	return 0;
}

int ledger_flush(struct ledger *l)
{
	uint64_t ticket;
	bool bad;

	pthread_mutex_lock(&l->mu);
	ticket = ++l->flush_req;
	pthread_cond_signal(&l->cv_item);
	while (l->flush_done < ticket)
		pthread_cond_wait(&l->cv_done, &l->mu);
	bad = l->io_error;
	pthread_mutex_unlock(&l->mu);
	return bad ? -EIO : 0;
}

uint64_t ledger_records_lost(struct ledger *l)
{
	uint64_t n;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	n = l->st.records_lost;
	pthread_mutex_unlock(&l->mu);
	return n;
}

void ledger_get_stats(struct ledger *l, struct ledger_stats *out)
{
	pthread_mutex_lock(&l->mu);
	*out = l->st;
	pthread_mutex_unlock(&l->mu);
}

int ledger_close(struct ledger *l)
{
	int err = 0;

	if (!l)
		return 0;
	/* Whatever is accumulated is a record too: a partial period. */
	if (l->acc.period_open || l->acc.nacc)
		err = emit_accumulated(l, true, l->acc.host.ts_end_ns);
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv_item);
	pthread_mutex_unlock(&l->mu);
	if (l->thread_started)
		pthread_join(l->thread, NULL);
	if (l->seg.fd >= 0) {
		if (fdatasync(l->seg.fd) < 0 && !err)
			err = -errno;
		close(l->seg.fd);
	}
	if (l->io_error && !err)
		err = -EIO;
	ledger_free(l);
	return err;
}
