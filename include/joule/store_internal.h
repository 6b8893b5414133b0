/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the store files share and nothing else includes: the tables' layout, the resolutions, the series. */
#ifndef JOULE_STORE_INTERNAL_H
#define JOULE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/proctab.h"
#include "joule/store.h"
#include "joule/util.h"

/* Resolutions: 1 s for an hour and 1 min for a week (host); 1 min for 3 h (groups, own-series processes). */
#define SEC_LEN 3600
#define MIN_LEN (7 * 24 * 60)
#define GROUP_MIN_LEN 180
#define MIN_NS (60 * NSEC_PER_SEC)

struct bucket {
	uint64_t idx1; /* bucket index + 1 (0: empty) */
	uint64_t cpu_uj, mem_uj, operational_ug, embodied_ug;
};

struct series {
	uint64_t width_ns;
	size_t len;
	struct bucket *b;
};

struct proc_entry {
	struct store_proc v;
	bool used;
	int next_free;		/* free list while unused; -1 ends */
	uint32_t group;
	bool group_set;		/* group is valid: group_get succeeded */
	uint64_t last_seen_mono_ns;
	struct series *min;	/* allocated once the process has its own series */
};

struct group_entry {
	struct store_group v;
	int next;
	uint32_t refs;		/* tracked processes that point at it: it cannot be forgotten while > 0 */
	uint64_t born_gen;	/* exposition count when it was created or came back from idle */
	int heir;		/* an older entry of the same group that takes its unseen energy; -1: other does */
	struct series min;
};

struct store {
	struct store_cfg cfg;
	pthread_rwlock_t lock;
	char **filters;
	size_t nfilters;

	struct proc_entry *procs;	/* max_procs entries, a free list through the unused ones */
	struct proctab proc_index;	/* (pid, start_ns) -> index into procs */
	int free_head;
	size_t nprocs, nown;

	struct group_entry **groups;
	size_t ngroups;
	int *group_hash;
	size_t group_hash_mask;

	struct store_host host;
	struct series sec, min;
	struct store_recent *recent;
	size_t recent_head, recent_n;
	uint64_t last_seq;
	/* expositions begun: a group not yet shown holds its energy as unseen (see charge_group) */
	_Atomic uint64_t expositions;
	size_t relabel_off;	/* where this sample's round of re-checks starts */
};

/* The store's own series (store_series.c): a ring of width_ns buckets, len of them. */
int store_series_init(struct series *s, uint64_t width_ns, size_t len);
void store_series_add(struct series *s, uint64_t real_ns, const struct sample_totals *t);
/* Record a sample in the 10 Hz ring and as the newest sequence number. */
void store_recent_push(struct store *s, const struct sample *smp);

#endif /* JOULE_STORE_INTERNAL_H */
