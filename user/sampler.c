// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The sampling loop: each tick reads task deltas and energy, attributes energy, converts it to carbon. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include "joule/log.h"
#include "joule/sampler.h"
#include "joule/tracer.h"
#include "joule/util.h"

#define DEFAULT_INTERVAL_NS (100 * NSEC_PER_MSEC)

/* Jitter histogram bounds: 10 Hz ticks should land well inside 2 ms. */
static const uint64_t jitter_bounds_ns[SAMPLER_JITTER_BUCKETS] = {
	50000, 100000, 250000, 500000, 1000000, 2000000, 5000000, UINT64_MAX,
};

struct sampler {
	struct tracer *tr;
	struct energy_source *src;
	struct carbon_ctx *carbon;
	struct sampler_cfg cfg;
	int tfd;
	int ncpu, npkg;
	int *cpu_pkg;		/* [ncpu] tracer's CPU numbering → package */
	uint64_t next_deadline_ns;
	uint64_t last_real_ns;
	struct energy_reading prev, cur;
	struct tracer_delta delta;
	struct sampler_stats stats;
	struct sample sample;

	/* per-tick scratch, grown as needed, never shrunk */
	size_t cap;
	uint64_t *task_cpu_uj, *task_mem_uj, *weights, *shares;
	uint64_t *busy_ns, *total_ns; /* [npkg] */
	uint64_t *split_idle_ns; /* [ncpu] idle plus positive unaccounted: the time whose energy goes to idle */
	uint64_t *pkg_cpu_uj, *pkg_mem_uj;
	struct gpu_reading *gread;	/* NULL without a GPU */
	uint64_t gpu_proc_uj[GPU_MAX_PROCS];
};

static int grow(struct sampler *s, size_t n)
{
	size_t cap = s->cap ? s->cap : 256;
	void *p;

	if (n <= s->cap)
		return 0;
	while (cap < n)
		cap *= 2;
#define GROW(field, count)                                        \
	do {                                                      \
		p = realloc(s->field, (count) * sizeof(*s->field)); \
		if (!p)                                           \
			return -ENOMEM;                           \
		s->field = p;                                     \
	} while (0)
	GROW(task_cpu_uj, cap);
	GROW(task_mem_uj, cap);
	GROW(weights, cap + 2);
	GROW(shares, cap + 2);
	GROW(sample.tasks, cap);
#undef GROW
	s->cap = cap;
	return 0;
}

int sampler_open(struct sampler **out, struct tracer *tr, struct energy_source *src,
		 struct carbon_ctx *carbon, const struct topo *topo, const struct sampler_cfg *cfg)
{
	struct itimerspec its = {};
	struct energy_util util;
	struct sampler *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->tr = tr;
	s->src = src;
	s->carbon = carbon;
	s->cfg = *cfg;
	if (!s->cfg.interval_ns)
		s->cfg.interval_ns = DEFAULT_INTERVAL_NS;
	s->ncpu = tracer_ncpu(tr);
	s->npkg = topo->npkg;
	s->cpu_pkg = calloc((size_t)s->ncpu, sizeof(int));
	s->busy_ns = calloc((size_t)s->npkg, sizeof(uint64_t));
	s->total_ns = calloc((size_t)s->npkg, sizeof(uint64_t));
	s->pkg_cpu_uj = calloc((size_t)s->npkg, sizeof(uint64_t));
	s->pkg_mem_uj = calloc((size_t)s->npkg, sizeof(uint64_t));
	s->split_idle_ns = calloc((size_t)s->ncpu, sizeof(uint64_t));
	if (!s->cpu_pkg || !s->busy_ns || !s->total_ns || !s->pkg_cpu_uj || !s->pkg_mem_uj || !s->split_idle_ns) {
		err = -ENOMEM;
		goto fail;
	}
	/* BPF numbers possible CPUs; a CPU the topology does not know carries no energy. */
	for (int c = 0; c < s->ncpu; c++)
		s->cpu_pkg[c] = c < topo->ncpu ? topo->cpu_pkg[c] : -1;
	err = grow(s, 256);
	if (err)
		goto fail;
	if (cfg->gpu) {
		s->gread = calloc(1, sizeof(*s->gread));
		if (!s->gread) {
			err = -ENOMEM;
			goto fail;
		}
		/* baseline: the first tick's GPU energy starts here too */
		gpu_read(cfg->gpu, s->gread);
	}

	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tfd < 0) {
		err = -errno;
		goto fail;
	}
	/* Baseline energy: the first tick's delta starts here. */
	memset(&util, 0, sizeof(util));
	util.npkg = s->npkg;
	util.busy_ns = s->busy_ns;
	util.total_ns = s->total_ns;
	err = energy_read(src, &util, &s->prev);
	if (err)
		goto fail;
	/* Baseline tasks, taken as close to the energy baseline as possible. */
	err = tracer_snapshot(tr, &s->delta);
	if (err)
		goto fail;
	s->last_real_ns = now_real_ns();

	/* Absolute deadlines on a fixed grid: late wake-ups never shift later ticks. */
	s->next_deadline_ns = now_mono_ns() + s->cfg.interval_ns;
	its.it_value.tv_sec = (time_t)(s->next_deadline_ns / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(s->next_deadline_ns % NSEC_PER_SEC);
	its.it_interval.tv_sec = (time_t)(s->cfg.interval_ns / NSEC_PER_SEC);
	its.it_interval.tv_nsec = (long)(s->cfg.interval_ns % NSEC_PER_SEC);
	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL)) {
		err = -errno;
		goto fail;
	}
	for (int i = 0; i < SAMPLER_JITTER_BUCKETS; i++)
		s->stats.jitter_le_ns[i] = jitter_bounds_ns[i];
	*out = s;
	return 0;
fail:
	sampler_close(s);
	return err;
}

void sampler_close(struct sampler *s)
{
	if (!s)
		return;
	if (s->tfd > 0)
		close(s->tfd);
	tracer_delta_free(&s->delta);
	free(s->cpu_pkg);
	free(s->busy_ns);
	free(s->total_ns);
	free(s->pkg_cpu_uj);
	free(s->pkg_mem_uj);
	free(s->split_idle_ns);
	free(s->task_cpu_uj);
	free(s->task_mem_uj);
	free(s->weights);
	free(s->shares);
	free(s->sample.tasks);
	free(s->gread);
	free(s);
}

int sampler_fd(const struct sampler *s)
{
	return s->tfd;
}

void sampler_get_stats(const struct sampler *s, struct sampler_stats *out)
{
	struct tracer_stats ts;

	*out = s->stats;
	tracer_get_stats(s->tr, &ts);
	out->lost_events = ts.lost_events;
	out->overflow_events = ts.overflow_events;
}

/* Count timer expirations; a manual tick (none due) records no jitter. */
static void account_timer(struct sampler *s, uint64_t woke_ns)
{
	uint64_t exp = 0, jitter;

	if (read(s->tfd, &exp, sizeof(exp)) != sizeof(exp) || exp == 0)
		return;
	/* the deadline this wake-up served is the last one that expired */
	s->next_deadline_ns += (exp - 1) * s->cfg.interval_ns;
	jitter = woke_ns > s->next_deadline_ns ? woke_ns - s->next_deadline_ns : 0;
	s->next_deadline_ns += s->cfg.interval_ns;
	s->stats.missed += exp - 1;
	s->stats.last_jitter_ns = jitter;
	s->stats.jitter_sum_ns += jitter;
	if (jitter > s->stats.max_jitter_ns)
		s->stats.max_jitter_ns = jitter;
	for (int i = 0; i < SAMPLER_JITTER_BUCKETS; i++)
		if (jitter <= s->stats.jitter_le_ns[i])
			s->stats.jitter_count[i]++;
}

/*
 * Split a carbon total over tasks, idle and overflow by weights (the slots
 * after the tasks are idle, then overflow); everything lands somewhere.
 */
static void split_carbon(struct sampler *s, uint64_t total, size_t n, uint64_t *out_tasks,
			 uint64_t *out_idle, uint64_t *out_overflow)
{
	int err = lr_split(total, s->weights, n + 2, s->shares);

	if (err) {
		/* no weight at all (-EDOM): the host's baseline, i.e. idle; -ENOMEM: idle too, and say so */
		if (err != -EDOM)
			log_warn("carbon split failed (%s): this interval's carbon goes to idle", strerror(-err));
		memset(s->shares, 0, (n + 2) * sizeof(*s->shares));
		s->shares[n] = total;
	}
	for (size_t i = 0; i < n; i++)
		out_tasks[i] += s->shares[i];
	*out_idle += s->shares[n];
	*out_overflow += s->shares[n + 1];
}

/* The row of pid in this sample, appending one (no CPU time) if the tracer knows the process. */
static struct sample_task *task_for_pid(struct sampler *s, uint32_t pid)
{
	struct sample *smp = &s->sample;
	struct tracer_task tt;

	for (size_t i = 0; i < smp->ntasks; i++)
		if (smp->tasks[i].pid == pid && !smp->tasks[i].exited)
			return &smp->tasks[i];
	if (smp->ntasks == s->cap || tracer_find_pid(s->tr, pid, &tt))
		return NULL;
	smp->tasks[smp->ntasks] = (struct sample_task){
		.pid = tt.tgid, .ppid = tt.ppid, .start_ns = tt.start_ns, .marked = tt.marked,
	};
	memcpy(smp->tasks[smp->ntasks].comm, tt.comm, sizeof(tt.comm));
	return &smp->tasks[smp->ntasks++];
}

/*
 * Each GPU's interval energy over the processes on it (gpu_attrib), then to
 * their rows by host pid; what finds no process goes to overflow, so the
 * GPU side balances like the CPU side: Σ tasks + idle + overflow == host.
 */
static void attribute_gpus(struct sampler *s)
{
	struct sample *smp = &s->sample;
	const struct gpu_reading *gr = s->gread;

	smp->host_gpu_uj = 0;
	smp->ngpu = gr ? gr->ngpu : 0;
	for (int g = 0; g < smp->ngpu; g++) {
		const struct gpu_dev_reading *r = &gr->dev[g];
		struct sample_gpu *sg = &smp->gpus[g];
		struct gpu_attrib_in in = {
			.energy_uj = r->energy_uj, .nprocs = r->nprocs, .procs = r->procs,
			.busy_valid = r->busy_valid, .busy_pct = r->busy_pct,
		};
		struct gpu_attrib_out o = { .proc_uj = s->gpu_proc_uj };

		*sg = (struct sample_gpu){
			.index = r->index, .has_counter = r->has_counter, .status = r->status,
			.nvml_err = r->nvml_err, .mig_instances = r->mig_instances, .energy_uj = r->energy_uj,
			.rel_sd = gpu_rel_uncertainty(r->has_counter),
		};
		memcpy(sg->uuid, r->uuid, sizeof(sg->uuid));
		memcpy(sg->name, r->name, sizeof(sg->name));
		if (r->status != GPU_OK)
			s->stats.gpu_errors++;
		if (gpu_attrib_split(&in, &o)) { /* cannot happen with the reader's bounds; keep the energy */
			memset(s->gpu_proc_uj, 0, sizeof(s->gpu_proc_uj));
			o.idle_uj = r->energy_uj;
			o.method = GPU_SPLIT_IDLE;
		}
		sg->method = o.method;
		sg->idle_uj = o.idle_uj;
		smp->idle.gpu_uj += o.idle_uj;
		smp->host_gpu_uj += r->energy_uj;
		for (size_t i = 0; i < r->nprocs; i++) {
			struct sample_task *t;

			if (!s->gpu_proc_uj[i])
				continue;
			t = task_for_pid(s, r->procs[i].pid);
			if (t) {
				t->tot.gpu_uj += s->gpu_proc_uj[i];
			} else {
				smp->overflow.gpu_uj += s->gpu_proc_uj[i];
				s->stats.gpu_unmatched_uj += s->gpu_proc_uj[i];
				log_debug("GPU %u: pid %u is not a process joule knows; %" PRIu64 " uJ to overflow",
					  r->index, r->procs[i].pid, s->gpu_proc_uj[i]);
			}
		}
	}
}

int sampler_tick(struct sampler *s, const struct sample **out)
{
	struct tracer_delta *d = &s->delta;
	struct sample *smp = &s->sample;
	struct attrib_out ao = {};
	struct attrib_in ai;
	struct energy_util util;
	uint64_t woke = now_mono_ns(), elapsed, op_total, emb_total;
	double g, pue;
	int err;

	account_timer(s, woke);

	/* Tasks first, energy straight after: both describe the same interval. */
	err = tracer_snapshot(s->tr, d);
	if (err)
		return err;
	elapsed = d->mono_end_ns - d->mono_start_ns;
	memset(s->busy_ns, 0, (size_t)s->npkg * sizeof(uint64_t));
	memset(s->total_ns, 0, (size_t)s->npkg * sizeof(uint64_t));
	for (int c = 0; c < s->ncpu; c++) {
		int p = s->cpu_pkg[c];

		if (p < 0)
			continue;
		s->busy_ns[p] += d->busy_ns[c];
		s->total_ns[p] += elapsed;
	}
	util.npkg = s->npkg;
	util.busy_ns = s->busy_ns;
	util.total_ns = s->total_ns;
	err = energy_read(s->src, &util, &s->cur);
	if (err) {
		/*
		 * The task deltas are already taken: keep them, with no energy
		 * for this interval. The counters are cumulative, so the next
		 * good read carries this interval's energy too; nothing is lost.
		 */
		s->stats.energy_errors++;
		log_warn("energy read failed (%s): this interval gets its energy at the next read",
			 strerror(-err));
		s->cur = s->prev;
	}
	if (s->gread)
		gpu_read(s->cfg.gpu, s->gread);

	memset(smp->host_domain_uj, 0, sizeof(smp->host_domain_uj));
	smp->host_cpu_uj = 0;
	smp->host_mem_uj = 0;
	for (int p = 0; p < s->npkg; p++) {
		s->pkg_cpu_uj[p] = energy_cpu_uj(&s->cur, p) - energy_cpu_uj(&s->prev, p);
		s->pkg_mem_uj[p] = energy_mem_uj(&s->cur, p) - energy_mem_uj(&s->prev, p);
		smp->host_cpu_uj += s->pkg_cpu_uj[p];
		smp->host_mem_uj += s->pkg_mem_uj[p];
		for (int dom = 0; dom < ENERGY_NDOMAINS; dom++)
			smp->host_domain_uj[dom] += s->cur.uj[p][dom] - s->prev.uj[p][dom];
	}
	smp->domains = s->cur.domains;
	s->prev = s->cur;

	/* room for GPU processes that did not run on a CPU this interval */
	err = grow(s, d->ntasks + (s->gread ? (size_t)s->gread->ngpu * GPU_MAX_PROCS : 0));
	if (err)
		return err;
	/*
	 * CPU time the clock saw and no task or idle was charged with (IRQ,
	 * steal, a running slice's lag) is split like idle: its energy goes
	 * to the idle bucket, never to a task the kernel did not count it
	 * for. A negative interval (a lag paid back) adds nothing.
	 */
	for (int c = 0; c < s->ncpu; c++)
		s->split_idle_ns[c] = d->idle_ns[c] + (d->unaccounted_ns[c] > 0 ? (uint64_t)d->unaccounted_ns[c] : 0);
	ai = (struct attrib_in){
		.ncpu = s->ncpu, .cpu_pkg = s->cpu_pkg, .npkg = s->npkg,
		.ntasks = d->ntasks, .task_ns = d->task_ns,
		.idle_ns = s->split_idle_ns, .overflow_ns = d->overflow_ns,
		.cpu_uj = s->pkg_cpu_uj, .mem_uj = s->pkg_mem_uj, .idle = s->cfg.idle,
	};
	ao.task_cpu_uj = s->task_cpu_uj;
	ao.task_mem_uj = s->task_mem_uj;
	err = attrib_split(&ai, &ao);
	if (err)
		return err;

	smp->seq++;
	smp->mono_start_ns = d->mono_start_ns;
	smp->mono_end_ns = d->mono_end_ns;
	smp->real_start_ns = s->last_real_ns;
	smp->real_end_ns = now_real_ns();
	s->last_real_ns = smp->real_end_ns;
	smp->ntasks = d->ntasks;
	memset(&smp->idle, 0, sizeof(smp->idle));
	memset(&smp->overflow, 0, sizeof(smp->overflow));
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct tracer_task *tt = &d->tasks[i];
		struct sample_task *st = &smp->tasks[i];

		*st = (struct sample_task){
			.pid = tt->tgid, .ppid = tt->ppid, .start_ns = tt->start_ns,
			.marked = tt->marked, .exited = tt->exited, .exit_code = tt->exit_code,
			.tot = { .cpu_ns = tt->total_ns, .cpu_uj = ao.task_cpu_uj[i], .mem_uj = ao.task_mem_uj[i] },
		};
		memcpy(st->comm, tt->comm, sizeof(st->comm));
	}
	smp->clock_ns = 0;
	smp->unaccounted_ns = 0;
	smp->ncpus = 0;
	for (int c = 0; c < s->ncpu; c++) {
		smp->idle.cpu_ns += d->idle_ns[c];
		smp->overflow.cpu_ns += d->overflow_ns[c];
		smp->clock_ns += d->clock_ns[c];
		smp->unaccounted_ns += d->unaccounted_ns[c];
		smp->ncpus += d->clock_ns[c] > 0;
	}
	smp->idle.cpu_uj = ao.idle_cpu_uj;
	smp->idle.mem_uj = ao.idle_mem_uj;
	smp->overflow.cpu_uj = ao.overflow_cpu_uj;
	smp->overflow.mem_uj = ao.overflow_mem_uj;
	attribute_gpus(s);

	/*
	 * Operational carbon of the whole host, split by energy: it balances
	 * like energy, and each part is exactly its energy x PUE x intensity
	 * up to the split's rounding.
	 */
	carbon_intensity_at(s->carbon, smp->real_end_ns, &smp->intensity);
	g = smp->intensity.g_per_kwh;
	pue = carbon_pue(s->carbon);
	smp->pue = pue;
	op_total = carbon_operational_ug(smp->host_cpu_uj + smp->host_mem_uj + smp->host_gpu_uj, g, pue);
	for (size_t i = 0; i < smp->ntasks; i++)
		s->weights[i] = sample_totals_energy_uj(&smp->tasks[i].tot) + smp->tasks[i].tot.gpu_uj;
	s->weights[smp->ntasks] = sample_totals_energy_uj(&smp->idle) + smp->idle.gpu_uj;
	s->weights[smp->ntasks + 1] = sample_totals_energy_uj(&smp->overflow) + smp->overflow.gpu_uj;
	memset(s->task_cpu_uj, 0, smp->ntasks * sizeof(uint64_t)); /* reused: operational carbon per task */
	split_carbon(s, op_total, smp->ntasks, s->task_cpu_uj, &smp->idle.operational_ug,
		     &smp->overflow.operational_ug);

	/*
	 * Embodied carbon (SCI M): this machine's share of its hardware for the
	 * interval, split by time, idle included: idle time keeps the hardware
	 * reserved as much as busy time does, so idle's share is idle's.
	 */
	emb_total = carbon_embodied_ug(s->carbon, elapsed, 1.0);
	for (size_t i = 0; i < smp->ntasks; i++)
		s->weights[i] = smp->tasks[i].tot.cpu_ns;
	s->weights[smp->ntasks] = smp->idle.cpu_ns;
	s->weights[smp->ntasks + 1] = smp->overflow.cpu_ns;
	memset(s->task_mem_uj, 0, smp->ntasks * sizeof(uint64_t)); /* reused: embodied carbon per task */
	split_carbon(s, emb_total, smp->ntasks, s->task_mem_uj, &smp->idle.embodied_ug, &smp->overflow.embodied_ug);
	for (size_t i = 0; i < smp->ntasks; i++) {
		struct sample_totals *t = &smp->tasks[i].tot;

		t->operational_ug = s->task_cpu_uj[i];
		t->embodied_ug = s->task_mem_uj[i];
		t->carbon_ug = t->operational_ug + t->embodied_ug;
	}
	smp->idle.carbon_ug = smp->idle.operational_ug + smp->idle.embodied_ug;
	smp->overflow.carbon_ug = smp->overflow.operational_ug + smp->overflow.embodied_ug;
	smp->host_operational_ug = op_total;
	smp->host_embodied_ug = emb_total;
	smp->host_carbon_ug = op_total + emb_total;
	smp->source = energy_source_kind(s->src);
	smp->energy_rel_sd = energy_rel_uncertainty(s->src);

	s->stats.ticks++;
	s->stats.last_work_ns = now_mono_ns() - woke;
	s->stats.work_sum_ns += s->stats.last_work_ns;
	if (s->stats.last_work_ns > s->stats.max_work_ns)
		s->stats.max_work_ns = s->stats.last_work_ns;
	*out = smp;
	return 0;
}
