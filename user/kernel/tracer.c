// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads and attaches the BPF skeleton and cuts each snapshot: flush, collect, flip the generation, read. */
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
#include "joule/tracer_internal.h"
#include "joule/util.h"

/*
 * The snapshot's cut and the skeleton's lifecycle live here; the process
 * table and lifecycle in tracer_procs.c, reading the maps in tracer_read.c.
 */

int tracer_poll_events(struct tracer *t)
{
	int n = ring_buffer__consume(t->rb);

	return n < 0 ? n : 0;
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

int tracer_snapshot(struct tracer *t, struct tracer_delta *d)
{
	__u32 retired;
	int err;

	err = tracer_delta_alloc(t, d);
	if (err)
		return err;
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
	/* the end until tracer_read_cpus has the flushes' own instant */
	d->mono_start_ns = t->last_mono_ns;
	d->mono_end_ns = now_mono_ns();
	/*
	 * Drain events before reading: a child's fork names its parent
	 * before its time is read, and a final switch's event says which
	 * generation holds the process's last ns (see tracer_handle_event).
	 */
	t->draining = true;
	t->retired = retired;
	err = tracer_poll_events(t);
	t->draining = false;
	if (err)
		return err;

	err = tracer_read_cpus(t, d, bpf_map__fd(t->skel->maps.cpu_state));
	t->last_mono_ns = d->mono_end_ns;
	if (!err)
		err = tracer_read_tasks(t, d, bpf_map__fd(retired ? t->skel->maps.procs1 : t->skel->maps.procs0));
	if (!err)
		err = tracer_finish_exited(t, d);
	if (err)
		return err;
	tracer_sum_busy_clamp_idle(t, d);
	tracer_reap(t);
	if (t->snap % TRACER_GC_EVERY == 0)
		tracer_collect_lost_exits(t);

	t->stats.snapshots++;
	t->stats.lost_events = t->skel->bss->lost_events;
	t->stats.lost_threads = t->skel->bss->lost_threads;
	t->stats.procs = (uint32_t)t->nprocs;
	return 0;
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
	/* processes, not threads; a tiny LRU map evicts early, and an evicted count only closes late */
	bpf_map__set_max_entries(t->skel->maps.lives, t->stats.max_tasks < 1024 ? 1024 : t->stats.max_tasks);
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
	t->skel->bss->iter_mode = JOULE_ITER_BASELINE;
	err = collect_threads(t);
	t->skel->bss->iter_mode = JOULE_ITER_CHARGE;
	return err;
}

/*
 * Once attached, count each thread older than attach among its process's
 * live threads (clones from attach on are counted by sched_process_fork),
 * so each process's last final switch can be told apart (see lives).
 */
static int count_threads(struct tracer *t)
{
	int err;

	t->skel->bss->iter_mode = JOULE_ITER_COUNT;
	err = collect_threads(t);
	t->skel->bss->iter_mode = JOULE_ITER_CHARGE;
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
	t->prev = calloc((size_t)t->ncpu, sizeof(*t->prev));
	t->keys = calloc(TRACER_BATCH_KEYS, sizeof(*t->keys));
	t->vals = calloc((size_t)TRACER_BATCH_KEYS * (size_t)t->ncpu, sizeof(uint64_t));
	if (!t->states || !t->prev || !t->keys || !t->vals) {
		err = -ENOMEM;
		goto fail;
	}
	err = tracer_procs_init(t);
	if (err)
		goto fail;

	t->stats.max_tasks = o->max_tasks ? o->max_tasks : JOULE_DEFAULT_MAX_TASKS;
	/* the chosen variant either loads or fails with its reason: never a silent retry as the other */
	raw = o->force_raw_tp || !tp_btf_supported();
	err = open_and_load(t, raw);
	if (err)
		goto fail;
	t->stats.raw_tp = raw;
	t->lives_fd = bpf_map__fd(t->skel->maps.lives);
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), tracer_handle_event, t, NULL);
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
	err = count_threads(t);
	if (err) {
		log_err("failed to count the running threads: %s", strerror(-err));
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
	tracer_procs_free(t);
	free(t->states);
	free(t->prev);
	free(t->keys);
	free(t->vals);
	free(t);
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
	return TRACER_GC_EVERY;
}
