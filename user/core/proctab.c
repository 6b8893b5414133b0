// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The per-process table: (pid, start_ns) -> a value, open addressing with linear probing and tombstones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "joule/proctab.h"

enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_DEAD };

/* The smallest table; below it a rehash costs more than the probes it saves. */
#define MIN_CAP 16

/*
 * The home slot depends on the pid only, so all processes of one pid share
 * a probe run and proctab_next_pid finds them; pid reuse is rare enough that
 * those runs stay short. Fibonacci hashing spreads consecutive pids.
 */
static size_t home(const struct proctab *t, uint32_t pid)
{
	uint64_t h = pid * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h ^ (h >> 29)) & (t->cap - 1);
}

static size_t cap_for(size_t expect)
{
	size_t cap = MIN_CAP;

	/* at most half full when holding expect: probe runs stay short */
	while (cap < expect * 2)
		cap <<= 1;
	return cap;
}

/* Move every used slot into a table of cap slots (tombstones are dropped). 0 or -ENOMEM. */
static int rehash(struct proctab *t, size_t cap)
{
	struct proctab_slot *old = t->s, *s = calloc(cap, sizeof(*s));
	size_t oldcap = t->cap;

	if (!s)
		return -ENOMEM;
	t->s = s;
	t->cap = cap;
	t->dead = 0;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (old[i].state != SLOT_USED)
			continue;
		for (j = home(t, old[i].pid); s[j].state == SLOT_USED; j = (j + 1) & (cap - 1))
			;
		s[j] = old[i];
	}
	free(old);
	return 0;
}

int proctab_init(struct proctab *t, size_t expect)
{
	memset(t, 0, sizeof(*t));
	return rehash(t, cap_for(expect));
}

void proctab_free(struct proctab *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

void proctab_clear(struct proctab *t)
{
	if (t->s)
		memset(t->s, 0, t->cap * sizeof(*t->s));
	t->n = 0;
	t->dead = 0;
}

/* The key's slot, or SIZE_MAX; *free_at the first tombstone or empty slot on the way (SIZE_MAX if none). */
static size_t lookup(const struct proctab *t, uint32_t pid, uint64_t start_ns, size_t *free_at)
{
	size_t i, steps;

	*free_at = SIZE_MAX;
	if (!t->cap)
		return SIZE_MAX;
	for (i = home(t, pid), steps = 0; steps < t->cap; i = (i + 1) & (t->cap - 1), steps++) {
		const struct proctab_slot *s = &t->s[i];

		if (s->state == SLOT_EMPTY) {
			if (*free_at == SIZE_MAX)
				*free_at = i;
			return SIZE_MAX;
		}
		if (s->state == SLOT_DEAD) {
			if (*free_at == SIZE_MAX)
				*free_at = i;
			continue;
		}
		if (s->pid == pid && s->start_ns == start_ns)
			return i;
	}
	return SIZE_MAX;
}

int proctab_put(struct proctab *t, uint32_t pid, uint64_t start_ns, size_t val)
{
	size_t at, i = lookup(t, pid, start_ns, &at);
	int err;

	if (i != SIZE_MAX) {
		t->s[i].val = val;
		return 0;
	}
	/*
	 * Keep used + dead at most 3/4 of the slots, so a probe always meets an
	 * empty slot soon: grow when the live entries need it, else rehash in
	 * place of the tombstones.
	 */
	if ((t->n + t->dead + 1) * 4 > t->cap * 3) {
		err = rehash(t, (t->n + 1) * 2 > t->cap ? cap_for(t->n + 1) : t->cap);
		if (err)
			return err;
		lookup(t, pid, start_ns, &at);
	}
	if (t->s[at].state == SLOT_DEAD)
		t->dead--;
	t->s[at] = (struct proctab_slot){ .start_ns = start_ns, .pid = pid, .state = SLOT_USED, .val = val };
	t->n++;
	return 0;
}

bool proctab_find(const struct proctab *t, uint32_t pid, uint64_t start_ns, size_t *val)
{
	size_t at, i = lookup(t, pid, start_ns, &at);

	if (i == SIZE_MAX)
		return false;
	if (val)
		*val = t->s[i].val;
	return true;
}

int proctab_remove(struct proctab *t, uint32_t pid, uint64_t start_ns)
{
	size_t at, i = lookup(t, pid, start_ns, &at);

	if (i == SIZE_MAX)
		return -ENOENT;
	t->s[i].state = SLOT_DEAD;
	t->n--;
	t->dead++;
	return 0;
}

static void ent(const struct proctab_slot *s, struct proctab_ent *out)
{
	*out = (struct proctab_ent){ .pid = s->pid, .start_ns = s->start_ns, .val = s->val };
}

bool proctab_next(const struct proctab *t, size_t *cursor, struct proctab_ent *out)
{
	while (*cursor < t->cap) {
		const struct proctab_slot *s = &t->s[(*cursor)++];

		if (s->state == SLOT_USED) {
			ent(s, out);
			return true;
		}
	}
	return false;
}

bool proctab_next_pid(const struct proctab *t, uint32_t pid, size_t *cursor, struct proctab_ent *out)
{
	if (!t->cap)
		return false;
	/* *cursor counts the probe steps taken from the pid's home slot */
	while (*cursor < t->cap) {
		const struct proctab_slot *s = &t->s[(home(t, pid) + (*cursor)++) & (t->cap - 1)];

		if (s->state == SLOT_EMPTY)
			break;
		if (s->state == SLOT_USED && s->pid == pid) {
			ent(s, out);
			return true;
		}
	}
	*cursor = t->cap;
	return false;
}
