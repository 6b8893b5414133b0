// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ledger's writer thread: seals and appends queued records, fsync policy, retries and losses, rotation, recovery. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "joule/ledger_internal.h"
#include "joule/log.h"
#include "joule/sample.h"
#include "joule/util.h"

#ifndef JOULE_VERSION
#define JOULE_VERSION "0.1.0"
#endif

#define WRITE_RETRY_NS (5 * NSEC_PER_SEC)	/* the writer's one retry window before records are lost */
#define WRITE_RETRY_SLEEP_US (100 * 1000)

/*
 * One record onto disk: sealed by the chain, one write(), one attempt;
 * write_record() decides about retries. *io tells a failed write() (worth
 * retrying) from a record that cannot be built. Writer only.
 */
static int emit(struct ledger *l, cJSON *obj, bool *io)
{
	char hash[LEDGER_HASH_HEX + 1];
	char *line = NULL;
	size_t llen;
	ssize_t n;
	int err;

	*io = false;
	err = ledger_chain_seal(&l->chain, obj, &line, &llen, hash);
	if (err) {
		free(line);
		return err;
	}
	err = l->seg.fd < 0 ? -EBADF : 0;
	for (size_t off = 0; !err && off < llen; off += (size_t)n) {
		n = write(l->seg.fd, line + off, llen - off);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			err = n < 0 ? -errno : -EIO;	/* after a short write: the real reason (ENOSPC) */
	}
	free(line);
	if (err) {
		/* A short write leaves a torn line: cut it so the retry starts clean. */
		if (l->seg.fd >= 0 && ftruncate(l->seg.fd, (off_t)l->seg.bytes) < 0)
			log_err("ledger: failed to cut a short write in %s: %s", l->path, strerror(errno));
		pthread_mutex_lock(&l->mu);
		l->st.write_errors++;
		pthread_mutex_unlock(&l->mu);
		*io = true;
		return err;
	}
	l->written_seq = l->chain.seq_next;
	ledger_chain_advance(&l->chain, hash);
	l->seg.bytes += llen;
	l->seg.records++;
	l->dirty = true;
	pthread_mutex_lock(&l->mu);
	l->st.records++;
	l->st.bytes += llen;
	l->st.last_seq = l->written_seq;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

void ledger_writer_sync(struct ledger *l)
{
	int rc;

	if (l->seg.fd < 0) {
		/* Mid-rotation with no file: nothing to sync until a segment exists; don't spin. */
		l->last_sync_mono_ns = now_mono_ns();
		return;
	}
	rc = fdatasync(l->seg.fd);

	l->last_sync_mono_ns = now_mono_ns();
	pthread_mutex_lock(&l->mu);
	if (rc < 0) {
		l->st.sync_errors++;
		l->io_error = true;
	} else {
		l->st.syncs++;
		l->st.synced_seq = l->written_seq;
	}
	pthread_mutex_unlock(&l->mu);
	if (rc < 0) {
		log_err("ledger: fdatasync %s failed: %s", l->path, strerror(errno));
		return;
	}
	l->dirty = false;
	if (l->o.on_sync)
		l->o.on_sync(l->o.on_sync_arg, l->written_seq);
}

/* Emit obj (NULL: it could not be built) and free it. */
static int emit_new(struct ledger *l, cJSON *obj)
{
	bool io;
	int err;

	if (!obj)
		return -ENOMEM;
	err = emit(l, obj, &io);
	cJSON_Delete(obj);
	return err;
}

static int write_genesis(struct ledger *l, const char *prev_segment, const char *broken,
			 const char *broken_why)
{
	uint64_t now = now_real_ns();

	l->seg.bytes = 0;
	l->seg.records = 0;
	l->seg.start_ns = now;
	return emit_new(l, ledger_genesis_json(now, l->o.period_ns, JOULE_VERSION, prev_segment, broken, broken_why,
					       l->chain.signing ? &l->chain.key : NULL));
}

/*
 * Bring the rotation as far as it will go: retire the closed segment to
 * path.N[.gz], create the new one, write its genesis linked to the retired
 * one. Each step is remembered, so after a failure (ENOSPC, no inodes) the
 * next write resumes where it stopped.
 */
static int restart_segment(struct ledger *l)
{
	int err;

	if (l->seg_closed) {
		err = ledger_segment_retire(&l->seg, l->o.compress, l->pending_prev, sizeof(l->pending_prev));
		if (err)
			return err;
		l->seg_closed = false;
	}
	if (l->seg.fd < 0) {
		err = ledger_segment_create(&l->seg, l->retry_deadline_ns || l->lost);
		if (err)
			return err;
		l->need_genesis = true;
		if (l->pending_prev[0]) {
			pthread_mutex_lock(&l->mu);
			l->st.rotations++;
			pthread_mutex_unlock(&l->mu);
		}
	}
	if (l->need_genesis) {
		err = write_genesis(l, l->pending_prev[0] ? l->pending_prev : NULL, NULL, NULL);
		if (err)
			return err;
		l->need_genesis = false;
		l->pending_prev[0] = '\0';
	}
	return 0;
}

/* Close the active segment (ended by a rotate record, or complete at recovery) and start the next. */
static int move_aside_and_restart(struct ledger *l)
{
	if (l->seg.fd >= 0) {
		if (l->dirty)
			ledger_writer_sync(l);
		close(l->seg.fd);
		l->seg.fd = -1;
	}
	l->seg_closed = true;
	return restart_segment(l);
}

static int rotate(struct ledger *l, const char *reason)
{
	int err = emit_new(l, ledger_rotate_json(reason, l->seg.records + 1, l->seg.bytes, l->seg.start_ns,
						 now_real_ns()));

	if (err)
		return err;
	err = move_aside_and_restart(l);
	ledger_writer_sync(l);
	return err;
}

static void maybe_rotate(struct ledger *l)
{
	const char *reason = NULL;

	if (l->seg.fd < 0 || l->seg_closed || l->need_genesis)
		return;	/* a rotation is under way already */
	if (l->o.rotate_bytes && l->seg.bytes >= l->o.rotate_bytes)
		reason = "size";
	else if (l->o.rotate_age_ns && now_real_ns() - l->seg.start_ns >= l->o.rotate_age_ns)
		reason = "age";
	if (reason && rotate(l, reason))
		log_err("ledger: rotation of %s failed; writing on", l->path);
}

static bool stopping(struct ledger *l)
{
	bool stop;

	pthread_mutex_lock(&l->mu);
	stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

/* Tell the chain what was lost: a `gap` record before the first record written after a loss. */
static int emit_gap(struct ledger *l)
{
	int err = emit_new(l, ledger_gap_json(l->lost, l->lost_reason, l->lost_t0_ns, l->lost_t1_ns));

	if (err)
		return err;
	log_err("ledger: writing to %s resumed: %" PRIu64 " records were lost (%s); gap record at seq %" PRIu64,
		l->path, l->lost, l->lost_reason, l->written_seq);
	l->lost = 0;
	return 0;
}

/* obj may be NULL (the record could not even be built); io: a failed write, not a bad record. */
static void lose_record(struct ledger *l, const cJSON *obj, int err, bool io)
{
	uint64_t now = now_real_ns();

	if (l->lost == 0) {
		l->lost_t0_ns = now;
		snprintf(l->lost_reason, sizeof(l->lost_reason), "%s%s",
			 io ? "" : "record could not be built: ", strerror(-err));
		log_err("ledger: cannot write to %s (%s): record (%s) LOST; further records fail fast "
			"until a write succeeds", l->path, l->lost_reason,
			cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind")) ?: "?");
	} else {
		log_debug("ledger: record (%s) LOST (%s)",
			  cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind")) ?: "?", strerror(-err));
	}
	l->lost++;
	l->lost_t1_ns = now;
	pthread_mutex_lock(&l->mu);
	l->st.records_lost++;
	l->io_error = true;
	pthread_mutex_unlock(&l->mu);
}

/*
 * Write one record, finishing a rotation and writing a pending gap record
 * first. On failure, retry until the writer's one deadline (set by the
 * first failure, cleared by a success); once it has passed, records were
 * lost or a stop was requested, each record gets a single attempt.
 */
static int write_record(struct ledger *l, cJSON *obj)
{
	for (;;) {
		bool io = true;
		int err;

		err = restart_segment(l);
		if (!err && l->lost)
			err = emit_gap(l);
		if (!err)
			err = emit(l, obj, &io);
		if (!err) {
			l->retry_deadline_ns = 0;
			return 0;
		}
		if (!io || l->lost || stopping(l) ||
		    (l->retry_deadline_ns && now_mono_ns() >= l->retry_deadline_ns)) {
			lose_record(l, obj, err, io);
			return err;
		}
		if (!l->retry_deadline_ns) {
			l->retry_deadline_ns = now_mono_ns() + WRITE_RETRY_NS;
			log_err("ledger: write to %s failed (seq %" PRIu64 "): %s; retrying for %d s", l->path,
				l->chain.seq_next, strerror(-err), (int)(WRITE_RETRY_NS / NSEC_PER_SEC));
		}
		usleep(WRITE_RETRY_SLEEP_US);
	}
}

static void write_item(struct ledger *l, struct ledger_item *it)
{
	cJSON *o = ledger_item_json(it);

	if (!o) {
		lose_record(l, NULL, -ENOMEM, false);
		return;
	}
	if (write_record(l, o) == 0)
		maybe_rotate(l);
	cJSON_Delete(o);
}

void *ledger_writer_main(void *arg)
{
	struct ledger *l = arg;
	uint64_t interval = l->o.sync_interval_ns;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct ledger_item *batch;
		uint64_t ticket;
		bool stop, need;

		while (!l->head && !l->stop && l->flush_req == l->flush_done) {
			if (l->dirty && l->o.sync == LEDGER_SYNC_INTERVAL) {
				uint64_t due = l->last_sync_mono_ns + interval;
				struct timespec ts = { (time_t)(due / NSEC_PER_SEC), (long)(due % NSEC_PER_SEC) };

				if (pthread_cond_timedwait(&l->cv_item, &l->mu, &ts) == ETIMEDOUT)
					break;
			} else {
				pthread_cond_wait(&l->cv_item, &l->mu);
			}
		}
		batch = l->head;
		l->head = l->tail = NULL;
		ticket = l->flush_req;
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);

		while (batch) {
			struct ledger_item *next = batch->next;

			write_item(l, batch);
			pthread_mutex_lock(&l->mu);
			l->st.queue_depth--;
			pthread_mutex_unlock(&l->mu);
			ledger_item_free(batch);
			batch = next;
		}
		need = l->dirty &&
		       (l->o.sync == LEDGER_SYNC_ALWAYS || stop || ticket != l->flush_done ||
			(l->o.sync == LEDGER_SYNC_INTERVAL &&
			 now_mono_ns() - l->last_sync_mono_ns >= interval));
		if (need)
			ledger_writer_sync(l);

		pthread_mutex_lock(&l->mu);
		l->flush_done = ticket;
		pthread_cond_broadcast(&l->cv_done);
		if (stop && !l->head)
			break;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- open and recovery ------------------------------------------------- */

/*
 * A restart as a chain record: without it a reader cannot tell the time a
 * killed writer never recorded from a quiet host. Written when the chain
 * goes on from an earlier run (a new chain's genesis says the same).
 */
static int write_start(struct ledger *l, const struct ledger_recovery *r)
{
	return emit_new(l, ledger_start_json(now_real_ns(), JOULE_VERSION, r->last_seq, r->last_ts_end_ns,
					     r->torn_bytes_cut));
}

int ledger_writer_recover(struct ledger *l)
{
	struct ledger_recovery r;
	int err = ledger_segment_recover(&l->seg, &l->chain, &r);

	l->st.torn_bytes_cut = r.torn_bytes_cut;
	l->st.started_new_chain = r.started_new_chain;
	if (err)
		return err;
	switch (r.action) {
	case LEDGER_RECOVER_APPEND:
		break;
	case LEDGER_RECOVER_GENESIS:
		err = write_genesis(l, r.prev_segment[0] ? r.prev_segment : NULL,
				    r.broken[0] ? r.broken : NULL, r.broken_why);
		break;
	case LEDGER_RECOVER_CLOSE:
		err = move_aside_and_restart(l);
		break;
	}
	if (!err && r.resumed)
		err = write_start(l, &r);
	if (err)
		log_err("failed to write to ledger %s: %s", l->path, strerror(-err));
	return err;
}
