/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Ledger records from samples: per-process and host accumulators over a period, turned into queued items and JSON. */
#ifndef JOULE_LEDGER_RECORD_H
#define JOULE_LEDGER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "joule/labels.h"
#include "joule/ledger.h"
#include "joule/proctab.h"
#include "joule/sample.h"

/* What a record needs from the carbon side, copied: the sampler's pointers may not outlive the tick. */
struct ledger_ctx_snap {
	enum energy_kind source;
	double g_per_kwh, intensity_rel_sd, energy_rel_sd, pue;
	char kind[16], zone[16], src[128];
	int year;
};

struct ledger_proc_acc {
	uint32_t pid, ppid;
	uint64_t start_ns;
	char comm[JOULE_COMM_LEN + 1];
	bool marked, exited;
	int exit_code;
	struct sample_totals tot;
	uint64_t ts_start_ns, ts_end_ns;
	uint64_t host_uj_start, host_uj_end;	/* cumulative host energy: the ratio's denominator */
	uint32_t intervals;
	bool coalesced;
	struct ledger_ctx_snap ctx;
	bool has_labels;		/* the labeler knew the process: labels go into the record */
	struct proc_labels labels;
};

struct ledger_host_acc {
	uint64_t ts_start_ns, ts_end_ns;
	uint32_t intervals;
	struct sample_totals tot;	/* the host: cpu_ns unused */
	uint64_t domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;
	bool gpu;			/* a GPU was read: gpu_energy_uj and domains.gpu in the record */
	struct sample_totals idle, overflow;
	uint64_t processes;
	bool coalesced;
	struct ledger_ctx_snap ctx;
};

enum ledger_item_type { LEDGER_ITEM_PROC, LEDGER_ITEM_HOST, LEDGER_ITEM_JSON };

/* One record waiting for the writer: an accumulator copy, or a caller's JSON object. */
struct ledger_item {
	struct ledger_item *next;
	enum ledger_item_type type;
	union {
		struct ledger_proc_acc p;
		struct ledger_host_acc h;
		cJSON *json;
	} u;
};

/* Items built together and queued in one go. */
struct ledger_item_list {
	struct ledger_item *first, *last;
	uint64_t n;
};

/* The period being accumulated (the feeder's thread only). */
struct ledger_acc {
	struct proctab procs;		/* (pid, start_ns) -> struct ledger_proc_acc * (malloc'd) */
	size_t nacc, nexited;
	struct ledger_host_acc host;
	bool period_open;
	uint64_t period_start_mono_ns;	/* CLOCK_MONOTONIC: a wall-clock step must not end a period */
	uint64_t host_cum_uj;
	ledger_labeler labeler;		/* NULL: records without workload labels */
	void *labeler_ctx;
	/*
	 * Records closed mid-period because their process moved to another
	 * workload: they go out with the period's batch, so the period's
	 * records still sum to its host record.
	 */
	struct ledger_item_list moved;
};

/*
 * Add one sampler interval. A process whose labels changed (it moved
 * cgroup) has its record so far closed and a new one opened from this
 * interval, so each record's labels are true of all its energy. 0 or
 * -ENOMEM (what was added so far stays).
 */
int ledger_acc_add(struct ledger_acc *a, const struct sample *s);

/* Mark every open record as spanning more than one period (the queue was full). */
void ledger_acc_mark_coalesced(struct ledger_acc *a);

/*
 * Move accumulators into out: all of them and the host record (period
 * end), or only the exited processes. On ENOMEM what was moved is in out
 * and the rest stays accumulated for the next attempt. 0 or -ENOMEM.
 */
int ledger_acc_take(struct ledger_acc *a, bool all, uint64_t ts_end_ns, struct ledger_item_list *out);

void ledger_acc_free(struct ledger_acc *a);

void ledger_item_list_append(struct ledger_item_list *li, struct ledger_item *it);

/* The record for an item (a JSON item is handed over: the item no longer owns it). NULL on ENOMEM. */
cJSON *ledger_item_json(struct ledger_item *it);

/* The chain's own records (NULL on ENOMEM); see docs/LEDGER.md for their keys. */
struct ledger_key;
cJSON *ledger_genesis_json(uint64_t now_ns, uint64_t period_ns, const char *version, const char *prev_segment,
			   const char *broken, const char *broken_why, const struct ledger_key *key);
cJSON *ledger_start_json(uint64_t now_ns, const char *version, uint64_t last_seq, uint64_t last_ts_end_ns,
			 uint64_t torn_bytes_cut);
cJSON *ledger_rotate_json(const char *reason, uint64_t segment_records, uint64_t segment_bytes,
			  uint64_t seg_start_ns, uint64_t now_ns);
cJSON *ledger_gap_json(uint64_t lost, const char *reason, uint64_t t0_ns, uint64_t t1_ns);

/* Free an item and whatever JSON it still owns. */
void ledger_item_free(struct ledger_item *it);
/* Free a chain of items from first on (its next links). */
void ledger_items_free(struct ledger_item *first);

#endif /* JOULE_LEDGER_RECORD_H */
