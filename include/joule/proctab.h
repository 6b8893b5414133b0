/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One table of processes keyed by (pid, start_ns): open addressing, the index the store, the ledger and acct share. */
#ifndef JOULE_PROCTAB_H
#define JOULE_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A pid alone is not a process: the kernel reuses pids, so a process is
 * (pid, start_ns). The table maps that key to one size_t its owner chooses
 * (an index into its own array, or a pointer as uintptr_t); it owns no
 * entries. Linear probing from a slot chosen by the pid alone, so every
 * process that ever had a pid is found from that pid (proctab_next_pid).
 * Removal leaves a tombstone, so removing during proctab_next is safe;
 * adding during an iteration is not (it may rehash). Not thread-safe.
 */
struct proctab_slot {
	uint64_t start_ns;
	uint32_t pid;
	uint8_t state;		/* empty, used or dead (a tombstone) */
	size_t val;
};

/* All zeros is an empty table: it allocates on the first proctab_put. */
struct proctab {
	struct proctab_slot *s;
	size_t cap;		/* a power of two, or 0 */
	size_t n;		/* used slots */
	size_t dead;		/* tombstones: they keep probe runs unbroken until the next rehash */
};

/* One entry, as proctab_next hands it out. */
struct proctab_ent {
	uint32_t pid;
	uint64_t start_ns;
	size_t val;
};

/* Room for expect entries without a rehash. 0 or -ENOMEM. */
int proctab_init(struct proctab *t, size_t expect);
void proctab_free(struct proctab *t);
/* Forget every entry, keep the memory. */
void proctab_clear(struct proctab *t);

/* Set the key's value, adding the key if it is new. 0, or -ENOMEM (the table is unchanged). */
int proctab_put(struct proctab *t, uint32_t pid, uint64_t start_ns, size_t val);
/* true and *val (val may be NULL) if the key is in the table. */
bool proctab_find(const struct proctab *t, uint32_t pid, uint64_t start_ns, size_t *val);
/* 0, or -ENOENT if the key is not in the table. */
int proctab_remove(struct proctab *t, uint32_t pid, uint64_t start_ns);

/* Every entry once, in slot order: start with *cursor = 0; false when done. */
bool proctab_next(const struct proctab *t, size_t *cursor, struct proctab_ent *out);
/* Every entry of one pid (each start_ns it had): start with *cursor = 0; false when done. */
bool proctab_next_pid(const struct proctab *t, uint32_t pid, size_t *cursor, struct proctab_ent *out);

#endif /* JOULE_PROCTAB_H */
