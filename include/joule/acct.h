/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-process totals over a window (a whole run, a trace interval), keyed by pid and start time. */
#ifndef JOULE_ACCT_H
#define JOULE_ACCT_H

#include <stddef.h>
#include "joule/proctab.h"
#include "joule/sample.h"

struct acct_entry {
	uint32_t pid, ppid;
	uint64_t start_ns;
	char comm[JOULE_COMM_LEN];
	bool exited;
	int exit_code;
	uint32_t nprocs;	/* processes summed in this entry: 1, or more once entries are merged (top --group) */
	struct sample_totals tot;
};

/*
 * v is sorted by (pid, start_ns), so readers walk it in pid order; index
 * finds an entry by key. A reader that reorders v (top_sort) or merges it
 * (acct_group_by_comm) leaves it for reading until acct_clear.
 */
struct acct {
	struct acct_entry *v;
	size_t n, cap;
	struct proctab index;	/* (pid, start_ns) -> position in v */
};

/* Add one interval's figures to the process's entry (created on first sight). 0 or -ENOMEM. */
int acct_add(struct acct *a, const struct sample_task *t);
struct acct_entry *acct_find(const struct acct *a, uint32_t pid, uint64_t start_ns);
void acct_clear(struct acct *a); /* forget every entry, keep the memory */
void acct_drop_exited(struct acct *a); /* forget the processes that have exited */
void acct_free(struct acct *a);

/* Merge entries of the same comm into one (pid 0, nprocs the count), for a per-name view. */
void acct_group_by_comm(struct acct *a);

#endif /* JOULE_ACCT_H */
