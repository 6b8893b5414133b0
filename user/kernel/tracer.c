// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads the BPF skeleton and turns its maps and ring buffer into per-interval task deltas. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "joule/joule_bpf.h"
#include "joule.skel.h"
#include "joule/log.h"
#include "joule/tracer.h"
#include "joule/util.h"

/* Keys read per batch call: bounds the buffers whatever the map size or CPU count. */
#define BATCH_KEYS 4096
/*
 * Every this many snapshots (10 s at 10 Hz), processes that have not run
 * since are checked for life: an exit event lost to a full ring buffer must
 * not leave a dead process in the table for ever.
 */
#define GC_EVERY 100
/*
 * A finished process stays in the table this many snapshots: time its
 * teardown still charges (a starved exit can run after its last row) finds
 * its marks and name instead of a stranger's entry.
 */
#define TOMBSTONE_SNAPS 100

/* What userspace knows of one process (BPF map key plus lifecycle facts). */
struct proc {
	struct joule_task_key key;
	uint32_t ppid;
	bool used, marked, exited, filled;
	int exit_code;
	uint64_t exit_snap;	/* snapshot at which the exit event was drained */
	uint64_t final_snap;	/* snapshot of its last (exited) row; 0: not yet */
	uint64_t active_snap;	/* last snapshot in which it ran */
	uint64_t row_snap;	/* last snapshot that emitted a row for it */
	char comm[JOULE_COMM_LEN];
};

struct tracer {
	struct joule_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *collect;	/* the task iterator (see collect_threads) */
	int ncpu;
	uint64_t snap;
	uint64_t last_mono_ns;
	struct tracer_stats stats;

	/* open-addressing table of processes, linear probing, power-of-two size */
	struct proc *procs;
	size_t nprocs, cap;

	struct joule_cpu_state *states;	/* [ncpu] scratch for per-CPU reads */
	uint64_t *prev_idle, *prev_overflow, *prev_flush;

	struct joule_task_key *keys;	/* [BATCH_KEYS] */
	uint64_t *vals;			/* [BATCH_KEYS * ncpu] */
	bool batch_ok;
};

static uint64_t key_hash(const struct joule_task_key *k)
{
	uint64_t x = ((uint64_t)k->tgid << 32) ^ k->start_ns;

	/* splitmix64 finaliser: PIDs and start times are far from uniform */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool key_eq(const struct joule_task_key *a, const struct joule_task_key *b)
{
	return a->tgid == b->tgid && a->start_ns == b->start_ns;
}

static struct proc *proc_find(struct tracer *t, const struct joule_task_key *k)
{
	size_t mask = t->cap - 1;

	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		if (!t->procs[i].used)
			return NULL;
		if (key_eq(&t->procs[i].key, k))
			return &t->procs[i];
	}
}

static int proc_grow(struct tracer *t)
{
	size_t old_cap = t->cap, cap = old_cap ? old_cap * 2 : 1024;
	struct proc *old = t->procs, *n;

	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		for (j = key_hash(&old[i].key) & (cap - 1); n[j].used; j = (j + 1) & (cap - 1))
			;
		n[j] = old[i];
	}
	free(old);
	t->procs = n;
	t->cap = cap;
	return 0;
}

static struct proc *proc_add(struct tracer *t, const struct joule_task_key *k)
{
	struct proc *p = proc_find(t, k);
	size_t mask;

	if (p)
		return p;
	/* keep the load factor under 1/2 so probes stay short */
	if ((t->nprocs + 1) * 2 > t->cap && proc_grow(t))
		return NULL;
	mask = t->cap - 1;
	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		if (t->procs[i].used)
			continue;
		p = &t->procs[i];
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->key = *k;
		t->nprocs++;
		return p;
	}
}

/* Backward-shift deletion: no tombstones, so lookups never slow down. */
static void proc_del(struct tracer *t, struct proc *p)
{
	size_t mask = t->cap - 1, i = (size_t)(p - t->procs), j = i;

	p->used = false;
	t->nprocs--;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->procs[j].used)
			return;
		home = key_hash(&t->procs[j].key) & mask;
		/* can entry j move to the hole at i? only if its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			t->procs[i] = t->procs[j];
			t->procs[j].used = false;
			i = j;
		}
	}
}

/* A process that existed before joule attached: its parent and name come from /proc. */
static void proc_fill_from_procfs(struct proc *p)
{
	char path[64], buf[512], *rp;
	int n;

	p->filled = true;
	snprintf(path, sizeof(path), "/proc/%u/stat", p->key.tgid);
	n = read_text_file(path, buf, sizeof(buf));
	if (n <= 0) {
		snprintf(p->comm, sizeof(p->comm), "?");
		return;
	}
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
	rp = strrchr(buf, ')');
	if (!rp || !strchr(buf, '('))
		return;
	*rp = '\0';
	snprintf(p->comm, sizeof(p->comm), "%s", strchr(buf, '(') + 1);
	if (sscanf(rp + 2, "%*c %u", &p->ppid) != 1)
		p->ppid = 0;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;
	const struct joule_event *ev = data;
	struct joule_task_key k = { .tgid = ev->tgid, .start_ns = ev->start_ns };
	struct proc *p;

	if (len < sizeof(*ev))
		return 0;
	p = proc_add(t, &k);
	if (!p)
		return -ENOMEM;
	switch (ev->kind) {
	case JOULE_EV_FORK: {
		struct joule_task_key pk = { .tgid = ev->ppid, .start_ns = ev->pstart_ns };
		struct proc *parent = proc_find(t, &pk);

		p->ppid = ev->ppid;
		p->filled = true;
		memcpy(p->comm, ev->comm, sizeof(p->comm));
		if (parent && parent->marked)
			p->marked = true;
		break;
	}
	case JOULE_EV_EXEC:
	case JOULE_EV_RENAME:
		memcpy(p->comm, ev->comm, sizeof(p->comm));
		break;
	case JOULE_EV_EXIT:
		if (!p->filled) {
			memcpy(p->comm, ev->comm, sizeof(p->comm));
			p->filled = true;
		}
		p->exited = true;
		p->exit_code = ev->exit_code;
		p->exit_snap = t->snap;
		break;
	}
	return 0;
}

int tracer_poll_events(struct tracer *t)
{
	int n = ring_buffer__consume(t->rb);

	return n < 0 ? n : 0;
}

int tracer_mark_pid(struct tracer *t, uint32_t pid)
{
	int found = -ENOENT;

	tracer_poll_events(t);
	for (size_t i = 0; i < t->cap; i++) {
		struct proc *p = &t->procs[i];

		if (p->used && p->key.tgid == pid && !p->exited) {
			p->marked = true;
			found = 0;
		}
	}
	return found;
}

/*
 * Credit each CPU's running slice (see do_flush in joule.bpf.h). An offline
 * CPU fails with ENXIO: nothing runs there. Any other failure fails the
 * snapshot before anything is read or drained, so no data is lost.
 */
static int flush_cpus(struct tracer *t)
{
	int fd = bpf_program__fd(t->skel->progs.flush);

	for (int c = 0; c < t->ncpu; c++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = (__u32)c);

		if (bpf_prog_test_run_opts(fd, &opts) == 0 || errno == ENXIO)
			continue;
		return -errno;
	}
	return 0;
}

/*
 * Charge every thread's growth since its last charge (do_collect): one
 * pass of the task iterator. Its cost grows with the threads alive, not
 * with the switches, and it runs at the snapshot rate only.
 */
static int collect_threads(struct tracer *t)
{
	char buf[64];
	int fd, err = 0;
	ssize_t n;

	fd = bpf_iter_create(bpf_link__fd(t->collect));
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static int delta_reserve(struct tracer_delta *d, size_t rows)
{
	struct tracer_task *tasks;
	uint64_t *ns;
	size_t cap;

	if (rows <= d->cap)
		return 0;
	cap = d->cap ? d->cap : 256;
	while (cap < rows)
		cap *= 2;
	tasks = realloc(d->tasks, cap * sizeof(*tasks));
	if (!tasks)
		return -ENOMEM;
	d->tasks = tasks;
	ns = realloc(d->task_ns, cap * (size_t)d->ncpu * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	d->task_ns = ns;
	d->cap = cap;
	return 0;
}

/* One map entry: a process's per-CPU ns in the interval just closed. */
static int account(struct tracer *t, struct tracer_delta *d, const struct joule_task_key *k,
		   const uint64_t *vals)
{
	struct proc *p = proc_add(t, k);
	uint64_t total = 0, *row;
	int err;

	if (!p)
		return -ENOMEM;
	if (!p->filled)
		proc_fill_from_procfs(p);
	err = delta_reserve(d, d->ntasks + 1);
	if (err)
		return err;
	row = &d->task_ns[d->ntasks * (size_t)t->ncpu];
	for (int c = 0; c < t->ncpu; c++) {
		row[c] = vals[c];
		total += vals[c];
	}
	p->active_snap = t->snap;
	p->row_snap = t->snap;
	/* the exited row comes later, from the first snapshot without time (see finish_exited) */
	d->tasks[d->ntasks] = (struct tracer_task){
		.tgid = k->tgid,
		.ppid = p->ppid,
		.start_ns = k->start_ns,
		.marked = p->marked,
		.exited = false,
		.exit_code = p->exit_code,
		.total_ns = total,
	};
	memcpy(d->tasks[d->ntasks].comm, p->comm, sizeof(p->comm));
	d->ntasks++;
	return 0;
}

/* Read and empty the retired generation: every entry is a process that ran. */
static int drain_tasks_batch(struct tracer *t, struct tracer_delta *d, int fd)
{
	__u32 in_batch = 0, out_batch = 0;
	bool first = true, done = false;
	int err;

	while (!done) {
		__u32 count = BATCH_KEYS;

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_batch, &out_batch, t->keys,
						      t->vals, &count, NULL);
		if (err) {
			err = -errno;
			if (err != -ENOENT)
				return err;
			done = true; /* -ENOENT: the last batch, possibly with entries */
		}
		for (__u32 i = 0; i < count; i++) {
			err = account(t, d, &t->keys[i], &t->vals[(size_t)i * t->ncpu]);
			if (err)
				return err;
		}
		t->stats.map_entries += count;
		in_batch = out_batch;
		first = false;
	}
	return 0;
}

/* Kernels without htab batch ops (before 5.6): one key at a time. */
static int drain_tasks_iter(struct tracer *t, struct tracer_delta *d, int fd)
{
	struct joule_task_key key;
	int err;

	/* nothing writes the retired generation: take the first key until none is left */
	while (bpf_map_get_next_key(fd, NULL, &key) == 0) {
		err = bpf_map_lookup_elem(fd, &key, t->vals) ? -errno : 0;
		if (!err)
			err = account(t, d, &key, t->vals);
		if (bpf_map_delete_elem(fd, &key))
			return -errno;
		if (err)
			return err;
		t->stats.map_entries++;
	}
	return 0;
}

/* Idle entries whose process is gone (its exit event was lost) are treated as exited now. */
static void collect_lost_exits(struct tracer *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct proc *p = &t->procs[i];

		if (!p->used || p->exited || p->active_snap + GC_EVERY > t->snap)
			continue;
		if (kill((pid_t)p->key.tgid, 0) == 0 || errno != ESRCH)
			continue;
		p->exited = true;
		p->exit_snap = t->snap;
		t->stats.lost_exits++;
	}
}

/* Finished processes are forgotten once their tombstone time is over. */
static void reap(struct tracer *t)
{
	for (size_t i = 0; i < t->cap;) {
		struct proc *p = &t->procs[i];

		if (p->used && p->final_snap && p->final_snap + TOMBSTONE_SNAPS < t->snap)
			proc_del(t, p); /* shifts a later entry into slot i: look again */
		else
			i++;
	}
}

/*
 * The exit event fires before the kernel tears the process down (exit_mm
 * of a large address space runs for tens of ms after it), so a process is
 * finished only at the first snapshot after its exit that finds no time
 * for it: that one emits its exited row, with 0 ns.
 */
static int finish_exited(struct tracer *t, struct tracer_delta *d)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct proc *p = &t->procs[i];
		int err;

		if (!p->used || !p->exited || p->final_snap || p->exit_snap >= t->snap || p->row_snap == t->snap)
			continue;
		err = delta_reserve(d, d->ntasks + 1);
		if (err)
			return err;
		memset(&d->task_ns[d->ntasks * (size_t)t->ncpu], 0, (size_t)t->ncpu * sizeof(uint64_t));
		d->tasks[d->ntasks++] = (struct tracer_task){
			.tgid = p->key.tgid, .ppid = p->ppid, .start_ns = p->key.start_ns,
			.marked = p->marked, .exited = true, .exit_code = p->exit_code,
		};
		memcpy(d->tasks[d->ntasks - 1].comm, p->comm, sizeof(p->comm));
		p->final_snap = t->snap;
	}
	return 0;
}

/*
 * Sum each CPU's busy ns once for every consumer (the sampler's package
 * utilisation too). Busy + idle can exceed the interval only when a CPU's
 * slice start is stale: it was offline (its flush failed with ENXIO) and the
 * first switch after it came back charged the whole offline time as idle.
 */
static void sum_busy_clamp_idle(struct tracer *t, struct tracer_delta *d)
{
	uint64_t elapsed = d->mono_end_ns - d->mono_start_ns;

	memcpy(d->busy_ns, d->overflow_ns, (size_t)t->ncpu * sizeof(*d->busy_ns));
	for (size_t i = 0; i < d->ntasks; i++) {
		const uint64_t *row = &d->task_ns[i * (size_t)t->ncpu];

		for (int c = 0; c < t->ncpu; c++)
			d->busy_ns[c] += row[c];
	}
	for (int c = 0; c < t->ncpu; c++) {
		uint64_t busy = d->busy_ns[c], keep;

		/* the cut between intervals is not the same instant for tasks and idle: allow slack */
		if (busy + d->idle_ns[c] > elapsed + elapsed / 4 + 2 * NSEC_PER_MSEC) {
			keep = busy < elapsed ? elapsed - busy : 0;
			t->stats.stale_idle_ns += d->idle_ns[c] - (keep < d->idle_ns[c] ? keep : d->idle_ns[c]);
			if (keep < d->idle_ns[c])
				d->idle_ns[c] = keep;
		}
		/*
		 * What the CPU's clock saw that no task and no idle was charged
		 * with: IRQ and steal time where the kernel leaves them out of
		 * tasks' counts, threads without storage, and the running
		 * slice's lag at the flush (negative when an earlier lag is
		 * paid back).
		 */
		d->unaccounted_ns[c] = (int64_t)d->clock_ns[c] - (int64_t)(d->busy_ns[c] + d->idle_ns[c]);
		t->stats.unaccounted_ns += d->unaccounted_ns[c];
	}
}

int tracer_snapshot(struct tracer *t, struct tracer_delta *d)
{
	__u32 zero = 0, retired;
	int err, fd;

	if (d->ncpu != t->ncpu) {
		tracer_delta_free(d);
		d->ncpu = t->ncpu;
		d->idle_ns = calloc((size_t)t->ncpu, sizeof(*d->idle_ns));
		d->overflow_ns = calloc((size_t)t->ncpu, sizeof(*d->overflow_ns));
		d->busy_ns = calloc((size_t)t->ncpu, sizeof(*d->busy_ns));
		d->clock_ns = calloc((size_t)t->ncpu, sizeof(*d->clock_ns));
		d->unaccounted_ns = calloc((size_t)t->ncpu, sizeof(*d->unaccounted_ns));
		if (!d->idle_ns || !d->overflow_ns || !d->busy_ns || !d->clock_ns || !d->unaccounted_ns)
			return -ENOMEM;
	}
	d->ntasks = 0;
	t->snap++;

	/*
	 * Cut the interval: a flush credits every CPU's running slice to the
	 * current generation and the task iterator every other thread's
	 * growth, then programs are pointed at the other one, and a second
	 * flush makes sure every CPU has seen the flip (an IPI cannot land
	 * inside a running program: sched_switch and sched_migrate_task run
	 * with interrupts off), so nothing writes the retired generation while
	 * it is read and emptied below.
	 */
	retired = t->skel->bss->gen & 1;
	err = flush_cpus(t);
	if (!err)
		err = collect_threads(t);
	if (err)
		return err;
	__atomic_store_n(&t->skel->bss->gen, retired ^ 1, __ATOMIC_SEQ_CST);
	err = flush_cpus(t);
	if (err) {
		/*
		 * Not every CPU is known to have seen the flip: leave the
		 * retired generation alone. It is drained intact next time
		 * it is retired, so nothing is lost or read twice.
		 */
		return err;
	}
	d->mono_start_ns = t->last_mono_ns;
	d->mono_end_ns = now_mono_ns();
	t->last_mono_ns = d->mono_end_ns;
	/* Drain events before reading: a child's fork names its parent before its time is read. */
	err = tracer_poll_events(t);
	if (err)
		return err;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.cpu_state), &zero, t->states))
		return -errno;
	t->stats.overflow_events = 0;
	t->stats.overflow_ns = 0;
	for (int c = 0; c < t->ncpu; c++) {
		const struct joule_cpu_state *s = &t->states[c];

		d->idle_ns[c] = s->idle_ns - t->prev_idle[c];
		d->overflow_ns[c] = s->overflow_ns - t->prev_overflow[c];
		/* the CPU's own clock between its flushes; an offline CPU (no flush) has none */
		d->clock_ns[c] = t->prev_flush[c] && s->flush_ns > t->prev_flush[c] ? s->flush_ns - t->prev_flush[c] : 0;
		t->prev_idle[c] = s->idle_ns;
		t->prev_overflow[c] = s->overflow_ns;
		t->prev_flush[c] = s->flush_ns;
		t->stats.overflow_events += s->overflow_events;
		t->stats.overflow_ns += s->overflow_ns;
	}

	t->stats.map_entries = 0;
	fd = bpf_map__fd(retired ? t->skel->maps.procs1 : t->skel->maps.procs0);
	err = t->batch_ok ? drain_tasks_batch(t, d, fd) : drain_tasks_iter(t, d, fd);
	if (t->batch_ok && (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP) && t->stats.map_entries == 0) {
		log_info("batch map operations unavailable (%s): iterating keys", strerror(-err));
		t->batch_ok = false;
		err = drain_tasks_iter(t, d, fd);
	}
	if (err)
		return err;

	err = finish_exited(t, d);
	if (err)
		return err;
	sum_busy_clamp_idle(t, d);
	reap(t);
	if (t->snap % GC_EVERY == 0)
		collect_lost_exits(t);

	t->stats.snapshots++;
	t->stats.lost_events = t->skel->bss->lost_events;
	t->stats.lost_threads = t->skel->bss->lost_threads;
	t->stats.procs = (uint32_t)t->nprocs;
	return 0;
}

void tracer_delta_free(struct tracer_delta *d)
{
	free(d->tasks);
	free(d->task_ns);
	free(d->idle_ns);
	free(d->overflow_ns);
	free(d->busy_ns);
	free(d->clock_ns);
	free(d->unaccounted_ns);
	memset(d, 0, sizeof(*d));
}

int tracer_check_caps(char *why, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (geteuid() == 0)
		return 0;
	if (syscall(SYS_capget, &hdr, data) == 0) {
		eff = ((uint64_t)data[1].effective << 32) | data[0].effective;
		/* CAP_BPF (39) loads, CAP_PERFMON (38) attaches tracing; CAP_SYS_ADMIN implies both */
		if ((eff & (1ULL << 21)) || ((eff & (1ULL << 39)) && (eff & (1ULL << 38))))
			return 0;
	}
	snprintf(why, len, "loading BPF programs needs root, or CAP_BPF and CAP_PERFMON (try: sudo joule ...)");
	return -EPERM;
}

/*
 * Can the kernel load an empty tp_btf program on sched_switch? libbpf
 * 1.1's libbpf_probe_bpf_prog_type() loads TRACING programs without an
 * attach target and so reports them unsupported on every kernel; this
 * gives the one target joule needs.
 */
static bool tracing_prog_loads(int attach_btf_id)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = BPF_TRACE_RAW_TP,
		    .attach_btf_id = (__u32)attach_btf_id);
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &po);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * Feature probe, not a version check: tp_btf needs the kernel's BTF to
 * name the tracepoint's prototype (btf_trace_sched_switch) and the
 * BPF_PROG_TYPE_TRACING program type.
 */
static bool tp_btf_supported(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id;

	if (!vmlinux) {
		log_info("no kernel BTF (%s): using raw_tp programs", strerror(errno));
		return false;
	}
	id = btf__find_by_name_kind(vmlinux, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
	btf__free(vmlinux);
	if (id <= 0) {
		log_info("kernel BTF has no btf_trace_sched_switch: using raw_tp programs");
		return false;
	}
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL) != 1 && !tracing_prog_loads(id)) {
		log_info("kernel cannot load BPF_PROG_TYPE_TRACING programs (%s): using raw_tp programs",
			 strerror(errno));
		return false;
	}
	return true;
}

/* Open the skeleton, size the process maps, choose the hook flavour, load. 0 or -errno. */
static int open_and_load(struct tracer *t, bool raw)
{
	int err;

	t->skel = joule_bpf__open();
	if (!t->skel)
		return -errno;
	bpf_map__set_max_entries(t->skel->maps.procs0, t->stats.max_tasks);
	bpf_map__set_max_entries(t->skel->maps.procs1, t->stats.max_tasks);
	bpf_program__set_autoload(t->skel->progs.handle_switch, !raw);
	bpf_program__set_autoload(t->skel->progs.handle_migrate, !raw);
	bpf_program__set_autoload(t->skel->progs.handle_fork, !raw);
	bpf_program__set_autoload(t->skel->progs.handle_exec, !raw);
	bpf_program__set_autoload(t->skel->progs.handle_exit, !raw);
	bpf_program__set_autoload(t->skel->progs.handle_rename, !raw);
	bpf_program__set_autoload(t->skel->progs.handle_switch_raw, raw);
	bpf_program__set_autoload(t->skel->progs.handle_fork_raw, raw);
	bpf_program__set_autoload(t->skel->progs.handle_exec_raw, raw);
	bpf_program__set_autoload(t->skel->progs.handle_exit_raw, raw);
	bpf_program__set_autoload(t->skel->progs.handle_rename_raw, raw);
	/* libbpf prints the verifier's log of a refused program through log.c: shown with -v */
	err = joule_bpf__load(t->skel);
	if (err)
		log_err("failed to load the %s BPF programs: %s%s", raw ? "raw_tp" : "tp_btf", strerror(-err),
			log_level < LOG_LVL_DEBUG ? " (-v shows the verifier log)" : "");
	return err;
}

/*
 * Give every thread alive now its storage and baseline (do_collect with
 * iter_baseline), before sched_switch is attached: its time so far is not
 * joule's to report, and what it runs from here on is charged at its
 * next switch-out.
 */
static int baseline_threads(struct tracer *t)
{
	int err;

	t->skel->bss->attach_ns = now_mono_ns();
	t->skel->bss->iter_baseline = 1;
	err = collect_threads(t);
	t->skel->bss->iter_baseline = 0;
	return err;
}

int tracer_open(struct tracer **out, const struct tracer_opts *o)
{
	struct tracer *t;
	bool raw;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncpu = libbpf_num_possible_cpus();
	if (t->ncpu <= 0) {
		err = t->ncpu ? t->ncpu : -EINVAL;
		goto fail;
	}
	t->states = calloc((size_t)t->ncpu, sizeof(*t->states));
	t->prev_idle = calloc((size_t)t->ncpu, sizeof(uint64_t));
	t->prev_overflow = calloc((size_t)t->ncpu, sizeof(uint64_t));
	t->prev_flush = calloc((size_t)t->ncpu, sizeof(uint64_t));
	t->keys = calloc(BATCH_KEYS, sizeof(*t->keys));
	t->vals = calloc((size_t)BATCH_KEYS * (size_t)t->ncpu, sizeof(uint64_t));
	if (!t->states || !t->prev_idle || !t->prev_overflow || !t->prev_flush || !t->keys || !t->vals) {
		err = -ENOMEM;
		goto fail;
	}
	err = proc_grow(t);
	if (err)
		goto fail;

	t->stats.max_tasks = o->max_tasks ? o->max_tasks : JOULE_DEFAULT_MAX_TASKS;
	/* the chosen variant either loads or fails with its reason: never a silent retry as the other */
	raw = o->force_raw_tp || !tp_btf_supported();
	err = open_and_load(t, raw);
	if (err)
		goto fail;
	t->stats.raw_tp = raw;
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		log_err("failed to create ring buffer: %s", strerror(-err));
		goto fail;
	}
	t->collect = bpf_program__attach_iter(t->skel->progs.collect, NULL);
	if (!t->collect) {
		err = -errno;
		log_err("failed to attach the task iterator: %s", strerror(-err));
		goto fail;
	}
	t->batch_ok = true;
	if (o->no_attach) {
		*out = t;
		return 0;
	}
	err = baseline_threads(t);
	if (err) {
		log_err("failed to read the running threads: %s", strerror(-err));
		goto fail;
	}
	err = joule_bpf__attach(t->skel);
	if (err) {
		log_err("failed to attach BPF programs: %s", strerror(-err));
		goto fail;
	}
	/* Baseline: start every CPU's clock now, so the first interval is whole. */
	{
		struct tracer_delta d = {};

		err = tracer_snapshot(t, &d);
		tracer_delta_free(&d);
		if (err)
			goto fail;
	}
	*out = t;
	return 0;
fail:
	tracer_close(t);
	return err;
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	bpf_link__destroy(t->collect);
	joule_bpf__destroy(t->skel);
	free(t->procs);
	free(t->states);
	free(t->prev_idle);
	free(t->prev_overflow);
	free(t->prev_flush);
	free(t->keys);
	free(t->vals);
	free(t);
}

static int find_pid(const struct tracer *t, uint32_t pid, struct tracer_task *out)
{
	/* a scan, not a hash lookup: the table is keyed by (tgid, start time) and NVML gives pids only */
	for (size_t i = 0; i < t->cap; i++) {
		const struct proc *p = &t->procs[i];

		if (!p->used || p->exited || p->key.tgid != pid)
			continue;
		*out = (struct tracer_task){ .tgid = pid, .ppid = p->ppid, .start_ns = p->key.start_ns,
					     .marked = p->marked, .exit_code = p->exit_code };
		memcpy(out->comm, p->comm, sizeof(p->comm));
		return 0;
	}
	return -ENOENT;
}

int tracer_find_pid(struct tracer *t, uint32_t pid, struct tracer_task *out)
{
	if (!find_pid(t, pid, out))
		return 0;
	/* forked since the snapshot drained the ring buffer: its fork event is still there */
	tracer_poll_events(t);
	return find_pid(t, pid, out);
}

int tracer_ncpu(const struct tracer *t)
{
	return t->ncpu;
}

void tracer_get_stats(const struct tracer *t, struct tracer_stats *out)
{
	*out = t->stats;
	out->batch_ops = t->batch_ok;
}

void *tracer_skel(struct tracer *t)
{
	return t->skel;
}

int tracer_gc_period(void)
{
	return GC_EVERY;
}
