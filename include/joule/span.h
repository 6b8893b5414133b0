/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Energy spans (user/core/span.c): the table of open spans, their valuation at each tick and at their boundaries, per-name totals. */
#ifndef JOULE_SPAN_H
#define JOULE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/sample.h"

/* A name is a label value on /metrics and a key in reports: short, and of a charset that needs no escaping. */
#define SPAN_NAME_MAX 64
/* Open spans per uid: a loop that forgets to close its spans gets 429, not the daemon's memory. */
#define SPAN_MAX_PER_UID 64
#define SPAN_MAX_OPEN 4096
/* Distinct names with a series of their own on /metrics; later names are summed into name="_other". */
#define SPAN_METRIC_NAMES 32
/*
 * Ticks whose charges give a process-scope span its energy per CPU ns: one
 * tick's rate swings with when slices are charged and when the energy
 * counter moved (tens of % on a busy machine); a second's worth is steady.
 */
#define SPAN_RATE_TICKS 10
/* Processes followed by one tree span (a parallel build); later descendants are not counted. */
#define SPAN_TREE_MAX 65536

/* A cgroup v2 path, as /proc/PID/cgroup gives it (procinfo's limit). */
#define SPAN_CGROUP_MAX 512

/*
 * process: the caller's own process, from its CPU clock; tree: it and the
 * descendants seen from its tick on; cgroup: every process in the caller's
 * cgroup v2 (and the cgroups below it), from the kernel's cgroup.procs at
 * each tick: a container's or a unit's work, whoever started it.
 */
enum span_scope { SPAN_SCOPE_PROCESS, SPAN_SCOPE_TREE, SPAN_SCOPE_CGROUP, SPAN_SCOPE_N };
/* stopped: still open when the daemon stopped, closed then and recorded as such */
enum span_state { SPAN_OPEN, SPAN_CLOSED, SPAN_EXITED, SPAN_STOPPED, SPAN_STATE_N };

struct span {
	uint64_t id;
	char name[SPAN_NAME_MAX + 1];
	enum span_scope scope;
	enum span_state state;
	uint32_t pid, uid;
	uint64_t open_mono_ns, open_real_ns;
	uint64_t close_mono_ns, close_real_ns;	/* 0 while open */
	struct sample_totals tot;	/* valued so far (all of it once closed) */
	uint64_t host_uj;		/* host energy over the span's wall time, valued so far */
	char cgroup[SPAN_CGROUP_MAX];	/* cgroup scope: the cgroup v2 path measured ("" otherwise) */
	/* how it is valued: the process's own CPU clock at the boundaries (process scope), or ticks (tree, cgroup) */
	uint64_t last_cum_ns;		/* process scope: the process's cumulative CPU ns when last read */
	uint64_t valued_mono_ns;	/* tree and cgroup scope: wall time valued up to */
	struct sample_totals ref;	/* valuation rate per ref.cpu_ns: its process's recent charges (tree: the latest tick's) */
	struct sample_totals hist[SPAN_RATE_TICKS];	/* process scope: its process's charges in its recent ticks */
	unsigned nhist, hist_next;
	uint64_t ref_wall_ns;		/* tree and cgroup scope: the wall length of ref's tick */
	double energy_rel_sd, intensity_rel_sd;	/* in force at the latest tick, for the 95 % interval */
	uint32_t *members;		/* tree scope: pids followed (the root first); cgroup: the latest cgroup.procs, sorted */
	size_t nmembers, cap;
};

/* What /metrics shows: per-name totals of closed spans and the open count. */
struct span_name_total {
	char name[SPAN_NAME_MAX + 1];
	uint64_t count;
	uint64_t cpu_ns, energy_uj;
};

struct span_metrics {
	size_t n;		/* names with a series of their own */
	struct span_name_total names[SPAN_METRIC_NAMES];
	struct span_name_total other;	/* name="_other": every later name (count 0: none yet) */
	uint64_t open, opened, closed, exited, refused;
};

struct span_table;

int span_table_new(struct span_table **out);
void span_table_free(struct span_table *t);

/* Whether name is 1..SPAN_NAME_MAX bytes of [A-Za-z0-9_.:-]. 0, or -EINVAL with the reason in err. */
int span_name_check(const char *name, char *err, size_t errlen);
const char *span_scope_name(enum span_scope s);	/* "process", "tree", "cgroup" */
int span_scope_parse(const char *s, enum span_scope *out);	/* 0 or -EINVAL */
const char *span_state_name(enum span_state s);	/* "open", "closed", "exited", "stopped" */

struct span_open_req {
	const char *name;
	enum span_scope scope;
	uint32_t pid, uid;
	uint64_t cum_ns;	/* the process's cumulative CPU ns read at mono_ns (process scope) */
	uint64_t mono_ns, real_ns;
	const uint32_t *children;	/* tree scope: descendants alive at open; cgroup scope: its processes at open */
	size_t nchildren;
	const char *cgroup;		/* cgroup scope: the cgroup v2 path (< SPAN_CGROUP_MAX bytes) */
};

/*
 * Open a span. 0 with its id; -EINVAL (bad name: check first for the
 * message), -EDQUOT (SPAN_MAX_PER_UID open for this uid), -ENOSPC
 * (SPAN_MAX_OPEN), -ENOMEM.
 */
int span_open(struct span_table *t, const struct span_open_req *r, uint64_t *id);

/*
 * A copy of open span id if uid may see it (its owner, or root: uid 0).
 * members is not copied (NULL). 0 or -ENOENT.
 */
int span_get(struct span_table *t, uint64_t id, uint32_t uid, struct span *out);

/*
 * Close span id: value the part since the latest tick (process scope: the
 * CPU ns from the latest reading to cum_ns at the latest tick's rate; when
 * cum_ok is false the process is gone and nothing more is added), fill out
 * (members NULL) and queue it for span_drain. 0 or -ENOENT.
 */
int span_close(struct span_table *t, uint64_t id, uint32_t uid, uint64_t cum_ns, bool cum_ok, uint64_t mono_ns,
	       uint64_t real_ns, struct span *out);

/*
 * Copies of uid's open spans (every span for uid 0), at most max, valued
 * up to the latest tick. Returns how many were written.
 */
size_t span_list(struct span_table *t, uint32_t uid, struct span *out, size_t max);

/*
 * Reads a process's cumulative CPU ns now; false if it is gone. Called
 * under the table's lock, once per open process-scope span per tick.
 */
typedef bool (*span_cum_fn)(void *ctx, uint32_t pid, uint64_t *cum_ns);

/*
 * Reads the pids in a cgroup and below it now, into a malloc'd array the
 * caller frees. 0, or -ENOENT when the cgroup is gone, or -errno. Called
 * under the table's lock, once per open cgroup-scope span per tick.
 */
typedef int (*span_members_fn)(void *ctx, const char *cgroup, uint32_t **pids, size_t *n);

/* The readers a tick uses (members may be NULL: a cgroup span then keeps its members). */
struct span_io {
	span_cum_fn cum;
	span_members_fn members;
	void *ctx;
};

/*
 * Value one tick: each open span takes its process's (or tree's, or
 * cgroup's) charge from s; a process-scope span's CPU is its process's own
 * clock (io->cum) since the previous reading, valued at the process's rate
 * in s; a cgroup span's members are what io->members reads now, and the
 * tick counts the tasks that were members before it or are now (one that
 * exited or moved out in the tick ran in it as a member). A span whose
 * process exited in s (or whose cgroup is gone) is closed as exited, at s's end.
 */
void span_tick(struct span_table *t, const struct sample *s, const struct span_io *io);

/*
 * Close every open span as stopped at mono/real ns (the daemon is
 * stopping): valued like span_close, then queued for span_drain.
 */
void span_close_all(struct span_table *t, const struct span_io *io, uint64_t mono_ns, uint64_t real_ns);

/* Hand every span closed since the previous call to fn (in order of closing), then forget them. */
void span_drain(struct span_table *t, void (*fn)(void *ctx, const struct span *sp), void *ctx);

/* The per-name totals for /metrics. */
void span_get_metrics(struct span_table *t, struct span_metrics *out);

/*
 * Pure valuation helpers, exposed for the tests: add ref x num / den to out,
 * field by field, 128-bit exact, rounded down (cpu_ns too). */
void span_value(struct sample_totals *out, const struct sample_totals *ref, uint64_t num, uint64_t den);

#endif /* JOULE_SPAN_H */
