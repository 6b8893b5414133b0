// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule's entry point: subcommands run, trace, probe, ledger. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include <bpf/libbpf.h>
#include "joule/acct.h"
#include "joule/config.h"
#include "joule/daemon.h"
#include "joule/ledger.h"
#include "joule/log.h"
#include "joule/pipeline.h"
#include "joule/util.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: joule COMMAND [OPTIONS]\n"
		"\n"
		"commands:\n"
		"  run [OPTIONS] -- CMD [ARGS...]   run CMD and report its energy and carbon\n"
		"  trace [-c NAME]... [-p PID]... [-m REGEX] [--group] [--every 1s] [--duration D]\n"
		"                                   live energy of matching processes\n"
		"  top [--group] [--every 1s]        trace of everything, redrawn in place, by energy\n"
		"  probe [--json]                   what this host offers: BPF, topology, energy sources\n"
		"  daemon [--config F] [OPTIONS]    sampler, ledger, /metrics and the HTTP API (joule daemon --help)\n"
		"  ledger verify|show|keygen ...    check or read a hash-chained ledger\n"
		"  version\n"
		"\n"
		"options shared by run and trace (also config keys of the daemon):\n"
		"  --source auto|powercap|msr|perf|model   --powercap-root DIR   --msr-root DIR\n"
		"  --interval 100ms   --zone ZZ (--zone list)   --intensity G   --intensity-file F\n"
		"  --pue X   --idle separate|proportional   --uncertainty analytical|monte-carlo\n"
		"  --ledger FILE   --json   -o FILE   -v\n"
		"exit status: 0 ok, 1 runtime failure, 2 usage error; run returns CMD's status\n");
}

/*
 * Parse "--key value", "--key=value" and boolean "--key" into the config.
 * Stops at "--" or the first non-option; *idx is where it stopped. Unknown
 * options are offered to extra() (command-specific), then rejected.
 */
typedef int (*extra_opt_fn)(void *ctx, const char *opt, const char *val, bool *used_val);

static int parse_opts(int argc, char **argv, int *idx, struct joule_config *cfg, extra_opt_fn extra,
		      void *ctx)
{
	char err[512];
	int i;

	for (i = *idx; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char key[64];
		bool used = false;
		int takes, rc;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "-v") == 0 || strcmp(a, "-vv") == 0) {
			cfg->verbose += (int)strlen(a) - 1;
			continue;
		}
		if (a[1] != '-') {
			/* short options belong to the command (-c, -p, -m, -o) */
			rc = extra ? extra(ctx, a, i + 1 < argc ? argv[i + 1] : NULL, &used) : -ENOENT;
			if (rc == -ENOENT) {
				fprintf(stderr, "joule: unknown option '%s' (see joule --help)\n", a);
				return -EINVAL;
			}
			if (rc)
				return rc;
			i += used;
			continue;
		}
		snprintf(key, sizeof(key), "%s", a + 2);
		if (strchr(key, '=')) {
			*strchr(key, '=') = '\0';
			val = strchr(a, '=') + 1;
		}
		takes = config_key_takes_value(key);
		if (takes == -ENOENT) {
			rc = extra ? extra(ctx, a, val ? val : (i + 1 < argc ? argv[i + 1] : NULL), &used) : -ENOENT;
			if (rc == -ENOENT) {
				fprintf(stderr, "joule: unknown option '%s' (see joule --help)\n", a);
				return -EINVAL;
			}
			if (rc)
				return rc;
			if (used && !val)
				i++;
			continue;
		}
		if (takes && !val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "joule: option '%s' needs a value\n", a);
				return -EINVAL;
			}
			val = argv[++i];
		}
		rc = config_set(cfg, key, takes ? val : (val ? val : "true"), err, sizeof(err));
		if (rc) {
			fprintf(stderr, "joule: %s\n", err);
			return -EINVAL;
		}
	}
	*idx = i;
	log_level = cfg->verbose >= 2 ? LOG_LVL_DEBUG : cfg->verbose == 1 ? LOG_LVL_INFO : LOG_LVL_WARN;
	return 0;
}

/* "--zone list" prints the table instead of measuring. */
static bool zone_list_requested(const struct joule_config *cfg)
{
	if (cfg->zone && strcmp(cfg->zone, "list") == 0) {
		carbon_list_zones(stdout);
		return true;
	}
	return false;
}

/* Open the ledger a config names (--ledger, --ledger-sync, --ledger-period, --ledger-key). */
static int ledger_open_for_config(struct ledger **out, const struct joule_config *cfg)
{
	struct ledger_opts o = {
		.path = cfg->ledger,
		.sync = cfg->ledger_sync,
		.period_ns = cfg->ledger_period_ns,
		.key_path = cfg->ledger_key,
	};
	int err = ledger_open(out, &o);

	if (err)
		log_err("failed to open ledger %s: %s", cfg->ledger, strerror(-err));
	return err;
}

/* ---------------------------------------------------------------- report */

/* Everything a report needs about a window: the command, the rest of the host, carbon context. */
struct window {
	struct acct procs;		/* the command's processes (run) or matches (trace) */
	struct sample_totals mine, others, idle, overflow;
	uint64_t host_domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;
	uint64_t host_cpu_uj, host_mem_uj, host_carbon_ug;
	double intensity_sd_weighted;	/* Σ carbon × rel_sd, for the window's intensity uncertainty */
	double energy_rel_sd;
	enum energy_kind source;
	struct carbon_intensity intensity;
	double pue;
	uint64_t ticks;
	uint64_t span_ns;		/* Σ sample spans: the time the host figures cover */
};

static void window_add(struct window *w, const struct sample *s, bool (*mine)(const struct sample_task *, void *),
		       void *ctx)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct sample_task *t = &s->tasks[i];

		if (mine(t, ctx)) {
			acct_add(&w->procs, t);
			sample_totals_add(&w->mine, &t->tot);
		} else {
			sample_totals_add(&w->others, &t->tot);
		}
	}
	sample_totals_add(&w->idle, &s->idle);
	sample_totals_add(&w->overflow, &s->overflow);
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		w->host_domain_uj[d] += s->host_domain_uj[d];
	w->domains |= s->domains;
	w->host_cpu_uj += s->host_cpu_uj;
	w->host_mem_uj += s->host_mem_uj;
	w->host_carbon_ug += s->host_carbon_ug;
	w->intensity_sd_weighted += (double)s->host_carbon_ug * s->intensity.rel_sd;
	w->energy_rel_sd = s->energy_rel_sd;
	w->source = s->source;
	w->intensity = s->intensity;
	w->pue = s->pue;
	w->ticks++;
	w->span_ns += s->mono_end_ns - s->mono_start_ns;
}

static double window_intensity_sd(const struct window *w)
{
	if (w->host_carbon_ug == 0)
		return w->intensity.rel_sd;
	return w->intensity_sd_weighted / (double)w->host_carbon_ug;
}

static uint64_t host_uj(const struct window *w)
{
	return w->host_cpu_uj + w->host_mem_uj;
}

static double ratio(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

static void add_ci(cJSON *o, const char *key, struct carbon_ctx *c, const struct window *w, uint64_t mean)
{
	struct carbon_estimate e;
	cJSON *arr;

	carbon_interval(c, mean, w->energy_rel_sd, window_intensity_sd(w), &e);
	arr = cJSON_AddArrayToObject(o, key);
	cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)e.lo_ug));
	cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)e.hi_ug));
}

static cJSON *bucket_json(const struct sample_totals *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "cpu_ns", (double)s->cpu_ns);
	cJSON_AddNumberToObject(o, "energy_uj", (double)(s->cpu_uj + s->mem_uj));
	cJSON_AddNumberToObject(o, "cpu_energy_uj", (double)s->cpu_uj);
	cJSON_AddNumberToObject(o, "memory_energy_uj", (double)s->mem_uj);
	cJSON_AddNumberToObject(o, "carbon_ug", (double)s->carbon_ug);
	return o;
}

static cJSON *carbon_json(struct carbon_ctx *c, const struct window *w)
{
	cJSON *o = cJSON_CreateObject();
	struct carbon_estimate e;

	carbon_interval(c, 0, 0, 0, &e);
	cJSON_AddNumberToObject(o, "intensity_g_per_kwh", w->intensity.g_per_kwh);
	cJSON_AddStringToObject(o, "intensity_kind", w->intensity.kind ? w->intensity.kind : "");
	cJSON_AddStringToObject(o, "zone", w->intensity.zone ? w->intensity.zone : "");
	if (w->intensity.year)
		cJSON_AddNumberToObject(o, "year", w->intensity.year);
	cJSON_AddStringToObject(o, "source", w->intensity.source ? w->intensity.source : "");
	cJSON_AddNumberToObject(o, "pue", w->pue);
	cJSON_AddStringToObject(o, "method", carbon_method_name(e.method));
	cJSON_AddNumberToObject(o, "energy_rel_sd", w->energy_rel_sd);
	cJSON_AddNumberToObject(o, "intensity_rel_sd", window_intensity_sd(w));
	return o;
}

static cJSON *host_json(const struct window *w)
{
	cJSON *o = cJSON_CreateObject(), *dom;

	cJSON_AddNumberToObject(o, "energy_uj", (double)host_uj(w));
	cJSON_AddNumberToObject(o, "cpu_energy_uj", (double)w->host_cpu_uj);
	cJSON_AddNumberToObject(o, "memory_energy_uj", (double)w->host_mem_uj);
	cJSON_AddNumberToObject(o, "carbon_ug", (double)w->host_carbon_ug);
	cJSON_AddNumberToObject(o, "span_ns", (double)w->span_ns);
	if (w->span_ns)
		cJSON_AddNumberToObject(o, "mean_power_w", (double)host_uj(w) * 1e3 / (double)w->span_ns);
	dom = cJSON_AddObjectToObject(o, "domains");
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		if (w->domains & (1u << d))
			cJSON_AddNumberToObject(dom, energy_domain_name(d), (double)w->host_domain_uj[d]);
	return o;
}

static cJSON *procs_json(struct carbon_ctx *c, const struct window *w)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < w->procs.n; i++) {
		const struct acct_entry *e = &w->procs.v[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "pid", e->pid);
		cJSON_AddNumberToObject(o, "ppid", e->ppid);
		cJSON_AddStringToObject(o, "comm", e->comm);
		cJSON_AddNumberToObject(o, "cpu_ns", (double)e->tot.cpu_ns);
		cJSON_AddNumberToObject(o, "energy_uj", (double)(e->tot.cpu_uj + e->tot.mem_uj));
		cJSON_AddNumberToObject(o, "cpu_energy_uj", (double)e->tot.cpu_uj);
		cJSON_AddNumberToObject(o, "memory_energy_uj", (double)e->tot.mem_uj);
		cJSON_AddNumberToObject(o, "allocation_ratio", ratio(e->tot.cpu_uj + e->tot.mem_uj, host_uj(w)));
		cJSON_AddNumberToObject(o, "carbon_ug", (double)e->tot.carbon_ug);
		add_ci(o, "carbon_ci_ug", c, w, e->tot.carbon_ug);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static void print_row(FILE *f, const char *pid, const char *ppid, const char *name, const struct sample_totals *s,
		      uint64_t wall_ns, uint64_t host, struct carbon_ctx *c, const struct window *w)
{
	struct carbon_estimate e;
	double j = (double)(s->cpu_uj + s->mem_uj) / 1e6;

	carbon_interval(c, s->carbon_ug, w->energy_rel_sd, window_intensity_sd(w), &e);
	fprintf(f, "%7s %7s  %-16.16s %9.3f %10.3f %8.3f %8.3f %7.2f%% %10.4f [%.4f, %.4f]\n", pid, ppid, name,
		(double)s->cpu_ns / 1e9, j, (double)s->mem_uj / 1e6, wall_ns ? j * 1e9 / (double)wall_ns : 0.0,
		100.0 * ratio(s->cpu_uj + s->mem_uj, host), (double)s->carbon_ug / 1e6, (double)e.lo_ug / 1e6,
		(double)e.hi_ug / 1e6);
}

static void print_table(FILE *f, struct carbon_ctx *c, const struct window *w, uint64_t wall_ns, bool with_rest)
{
	struct sample_totals host = { 0 };
	char pid[16], ppid[16];

	fprintf(f, "%7s %7s  %-16s %9s %10s %8s %8s %8s %10s %s\n", "PID", "PPID", "COMM", "CPU s", "energy J",
		"mem J", "mean W", "share", "carbon g", "[95% interval]");
	for (size_t i = 0; i < w->procs.n; i++) {
		const struct acct_entry *e = &w->procs.v[i];
		struct sample_totals s = e->tot;

		snprintf(pid, sizeof(pid), "%u", e->pid);
		snprintf(ppid, sizeof(ppid), "%u", e->ppid);
		print_row(f, pid, ppid, e->comm, &s, wall_ns, host_uj(w), c, w);
	}
	if (!with_rest)
		return;
	print_row(f, "", "", "= command total", &w->mine, wall_ns, host_uj(w), c, w);
	print_row(f, "", "", "other processes", &w->others, wall_ns, host_uj(w), c, w);
	print_row(f, "", "", "idle", &w->idle, wall_ns, host_uj(w), c, w);
	if (w->overflow.cpu_ns || w->overflow.cpu_uj)
		print_row(f, "", "", "overflow", &w->overflow, wall_ns, host_uj(w), c, w);
	host = (struct sample_totals){ .cpu_uj = w->host_cpu_uj, .mem_uj = w->host_mem_uj, .carbon_ug = w->host_carbon_ug };
	host.cpu_ns = w->mine.cpu_ns + w->others.cpu_ns + w->idle.cpu_ns + w->overflow.cpu_ns;
	print_row(f, "", "", "= host", &host, wall_ns, host_uj(w), c, w);
}

static void print_footer(FILE *f, struct carbon_ctx *c, const struct window *w, uint64_t wall_ns,
			 struct energy_source *src)
{
	struct carbon_estimate e;

	carbon_interval(c, 0, 0, 0, &e);
	fprintf(f, "\nwall %.3f s; host energy %.3f J (", (double)wall_ns / 1e9, (double)host_uj(w) / 1e6);
	for (int d = 0, first = 1; d < ENERGY_NDOMAINS; d++) {
		if (!(w->domains & (1u << d)))
			continue;
		fprintf(f, "%s%s %.3f J", first ? "" : ", ", energy_domain_name(d), (double)w->host_domain_uj[d] / 1e6);
		first = 0;
	}
	fprintf(f, "), mean power %.2f W over %.3f s; source %s (±%.0f%% 1σ)\n",
		w->span_ns ? (double)host_uj(w) * 1e3 / (double)w->span_ns : 0.0, (double)w->span_ns / 1e9,
		energy_kind_name(w->source),
		100 * w->energy_rel_sd);
	if (w->source == ENERGY_SRC_MODEL && energy_model_basis(src)[0])
		fprintf(f, "%s\n", energy_model_basis(src));
	fprintf(f, "carbon: %.2f g/kWh (%s%s%s%s%.0d, %s), PUE %.2f, interval %s\n", w->intensity.g_per_kwh,
		w->intensity.kind ? w->intensity.kind : "", w->intensity.zone && w->intensity.zone[0] ? " " : "",
		w->intensity.zone ? w->intensity.zone : "", w->intensity.year ? " " : "", w->intensity.year,
		w->intensity.source ? w->intensity.source : "", w->pue, carbon_method_name(e.method));
}

/* Tick health: how regular the 10 Hz sampling was. */
static cJSON *sampler_json(const struct sampler *smp)
{
	struct sampler_stats st;
	cJSON *o = cJSON_CreateObject();
	uint64_t p99 = 0;

	sampler_get_stats(smp, &st);
	/* the histogram's bound that holds 99 % of the timer ticks */
	for (int i = 0; i < SAMPLER_JITTER_BUCKETS; i++) {
		if (st.jitter_count[i] * 100 >= st.jitter_count[SAMPLER_JITTER_BUCKETS - 1] * 99) {
			p99 = st.jitter_le_ns[i];
			break;
		}
	}
	cJSON_AddNumberToObject(o, "ticks", (double)st.ticks);
	cJSON_AddNumberToObject(o, "missed", (double)st.missed);
	cJSON_AddNumberToObject(o, "jitter_p99_le_ns", p99 == UINT64_MAX ? -1 : (double)p99);
	cJSON_AddNumberToObject(o, "max_jitter_ns", (double)st.max_jitter_ns);
	cJSON_AddNumberToObject(o, "max_work_ns", (double)st.max_work_ns);
	cJSON_AddNumberToObject(o, "energy_errors", (double)st.energy_errors);
	return o;
}

/* ------------------------------------------------------------------- run */

struct run_opts {
	const char *out_file;
	FILE *out;	/* opened before the command runs: a bad path fails before any work */
};

static int run_extra(void *ctx, const char *opt, const char *val, bool *used)
{
	struct run_opts *o = ctx;

	if (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0) {
		if (!val) {
			fprintf(stderr, "joule: %s needs a file\n", opt);
			return -EINVAL;
		}
		o->out_file = val;
		*used = true;
		return 0;
	}
	return -ENOENT;
}

static bool is_marked(const struct sample_task *t, void *ctx)
{
	return t->marked;
}

/* One tick of joule run: into the report's window and, if asked, the ledger. */
static void run_sample(struct sampler *smp, struct window *w, struct ledger *led)
{
	const struct sample *s;
	int err = sampler_tick(smp, &s);

	if (err) {
		log_err("sample failed: %s", strerror(-err));
		return;
	}
	window_add(w, s, is_marked, NULL);
	if (led)
		ledger_feed_sample(led, s);
}

static int child_status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/*
 * Fork CMD held at a pipe until the tracer has marked it, so not one of its
 * instructions runs unobserved. Exec failure comes back on a CLOEXEC pipe.
 */
static pid_t spawn_held(char **argv, const sigset_t *oldmask, int *release_fd, int *exec_err_fd)
{
	int hold[2], eerr[2];
	pid_t pid;

	if (pipe2(hold, O_CLOEXEC) || pipe2(eerr, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char c;
		int e;

		sigprocmask(SIG_SETMASK, oldmask, NULL);
		close(hold[1]);
		close(eerr[0]);
		if (read(hold[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(eerr[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(hold[0]);
	close(eerr[1]);
	*release_fd = hold[1];
	*exec_err_fd = eerr[0];
	return pid;
}

static int cmd_run(int argc, char **argv)
{
	struct joule_config cfg;
	struct run_opts ro = { 0 };
	struct pipeline p;
	struct window w;
	struct ledger *led = NULL;
	sigset_t mask, oldmask;
	int idx = 1, sfd = -1, release_fd = -1, exec_err_fd = -1, status = 0, rc = 1, err, exec_errno = 0;
	uint64_t t0, t1;
	struct rusage ru = { 0 };
	pid_t child;
	bool child_done = false;

	config_init(&cfg);
	memset(&w, 0, sizeof(w));
	if (parse_opts(argc, argv, &idx, &cfg, run_extra, &ro)) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (zone_list_requested(&cfg)) {
		config_free(&cfg);
		return 0;
	}
	if (idx >= argc) {
		fprintf(stderr, "joule: run needs a command: joule run [OPTIONS] -- CMD [ARGS...]\n");
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (ro.out_file) {
		ro.out = fopen(ro.out_file, "we");
		if (!ro.out) {
			fprintf(stderr, "joule: cannot write the report to %s: %s\n", ro.out_file, strerror(errno));
			config_free(&cfg);
			return EXIT_USAGE;
		}
	}
	/*
	 * Signals arrive on a signalfd: SIGINT/SIGTERM are forwarded, SIGCHLD
	 * ends the run. Blocked before any thread exists (the ledger writer),
	 * or a thread with them unblocked would swallow SIGCHLD.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	rc = pipeline_open(&p, &cfg);
	if (rc) {
		if (ro.out)
			fclose(ro.out);
		config_free(&cfg);
		return rc;
	}
	rc = 1;
	if (cfg.ledger) {
		err = ledger_open_for_config(&led, &cfg);
		if (err)
			goto out;
	}

	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("failed to create signalfd: %s", strerror(errno));
		goto out;
	}
	child = spawn_held(&argv[idx], &oldmask, &release_fd, &exec_err_fd);
	if (child < 0) {
		log_err("failed to fork: %s", strerror((int)-child));
		goto out;
	}
	err = tracer_mark_pid(p.tracer, (uint32_t)child);
	if (err)
		log_warn("child %d not seen by the tracer yet: its descendants may be missed", child);
	t0 = now_mono_ns();
	if (write(release_fd, "x", 1) != 1)
		log_err("failed to release the command: %s", strerror(errno));
	close(release_fd);
	if (read(exec_err_fd, &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
		fprintf(stderr, "joule: cannot run '%s': %s\n", argv[idx], strerror(exec_errno));
		waitpid(child, NULL, 0);
		rc = exec_errno == ENOENT ? 127 : 126;
		goto out;
	}

	while (!child_done) {
		struct pollfd fds[2] = { { sampler_fd(p.sampler), POLLIN, 0 }, { sfd, POLLIN, 0 } };

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					if (wait4(child, &status, WNOHANG, &ru) == child)
						child_done = true;
				} else if (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE) {
					/*
					 * Sent to joule alone (kill): pass it on. A
					 * terminal's Ctrl-C (SI_KERNEL) reached the
					 * command already, as the whole foreground
					 * group gets it; forwarding would double it.
					 */
					kill(child, (int)si.ssi_signo);
				}
			}
		}
		if (fds[0].revents & POLLIN)
			run_sample(p.sampler, &w, led);
	}
	t1 = now_mono_ns();
	/*
	 * Two last samples: the first collects the command's final slices, the
	 * second its exit rows (the tracer reads an exited process once more).
	 */
	for (int i = 0; i < 2; i++)
		run_sample(p.sampler, &w, led);

	{
		uint64_t wall = t1 - t0;
		uint64_t kernel_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
				     ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
		/* like perf stat: the text report on stderr, JSON on stdout, either to -o FILE */
		FILE *out = ro.out ? ro.out : cfg.json ? stdout : stderr;
		cJSON *root = cJSON_CreateObject(), *cmd, *total;
		struct tracer_stats ts;

		tracer_get_stats(p.tracer, &ts);
		cmd = cJSON_AddArrayToObject(root, "command");
		for (int i = idx; i < argc; i++)
			cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
		cJSON_AddNumberToObject(root, "exit_status", child_status_code(status));
		cJSON_AddNumberToObject(root, "wall_ns", (double)wall);
		cJSON_AddStringToObject(root, "source", energy_kind_name(w.source));
		cJSON_AddItemToObject(root, "processes", procs_json(p.carbon, &w));
		total = bucket_json(&w.mine);
		add_ci(total, "carbon_ci_ug", p.carbon, &w, w.mine.carbon_ug);
		cJSON_AddNumberToObject(total, "allocation_ratio", ratio(w.mine.cpu_uj + w.mine.mem_uj, host_uj(&w)));
		cJSON_AddNumberToObject(total, "kernel_cpu_ns", (double)kernel_ns);
		if (wall)
			cJSON_AddNumberToObject(total, "mean_power_w",
						(double)(w.mine.cpu_uj + w.mine.mem_uj) * 1e3 / (double)wall);
		cJSON_AddItemToObject(root, "total", total);
		cJSON_AddItemToObject(root, "others", bucket_json(&w.others));
		cJSON_AddItemToObject(root, "idle", bucket_json(&w.idle));
		cJSON_AddItemToObject(root, "overflow", bucket_json(&w.overflow));
		cJSON_AddItemToObject(root, "host", host_json(&w));
		cJSON_AddItemToObject(root, "carbon", carbon_json(p.carbon, &w));
		{
			cJSON *tj = cJSON_AddObjectToObject(root, "tracer");

			cJSON_AddNumberToObject(tj, "samples", (double)w.ticks);
			cJSON_AddNumberToObject(tj, "overflow_events", (double)ts.overflow_events);
			cJSON_AddNumberToObject(tj, "lost_events", (double)ts.lost_events);
			cJSON_AddNumberToObject(tj, "lost_exits", (double)ts.lost_exits);
			cJSON_AddStringToObject(tj, "hook", ts.raw_tp ? "raw_tp" : "tp_btf");
		}
		cJSON_AddItemToObject(root, "sampler", sampler_json(p.sampler));
		if (led) {
			cJSON *rec = cJSON_Duplicate(root, true);

			cJSON_AddStringToObject(rec, "kind", "run");
			if (ledger_append_record(led, rec))
				log_err("failed to append the run record to %s", cfg.ledger);
		}
		if (cfg.json) {
			char *txt = cJSON_PrintUnformatted(root);

			fprintf(out, "%s\n", txt);
			free(txt);
		} else {
			fprintf(out, "\n joule run:");
			for (int i = idx; i < argc; i++)
				fprintf(out, " %s", argv[i]);
			fprintf(out, "   (exit %d, CPU time by the kernel's count (user+sys) %.3f s)\n\n", child_status_code(status),
				(double)kernel_ns / 1e9);
			print_table(out, p.carbon, &w, wall, true);
			print_footer(out, p.carbon, &w, wall, p.energy);
		}
		if (ro.out) {
			if (fclose(ro.out))
				log_err("failed to write %s: %s", ro.out_file, strerror(errno));
			ro.out = NULL;
		}
		cJSON_Delete(root);
	}
	rc = child_status_code(status);
out:
	if (ro.out)
		fclose(ro.out);
	if (led && ledger_close(led) && rc == 0)
		rc = 1;
	if (sfd >= 0)
		close(sfd);
	if (exec_err_fd >= 0)
		close(exec_err_fd);
	acct_free(&w.procs);
	pipeline_close(&p);
	config_free(&cfg);
	return rc;
}

/* ----------------------------------------------------------------- trace */

struct trace_opts {
	char **names;
	size_t nnames;
	uint32_t *pids;
	size_t npids;
	regex_t re;
	bool has_re, group;
	bool refresh;	/* top on a terminal: redraw in place */
	uint64_t every_ns, duration_ns;
};

static int trace_extra(void *ctx, const char *opt, const char *val, bool *used)
{
	struct trace_opts *o = ctx;
	uint64_t v;
	int err;

	if (!strcmp(opt, "--group")) {
		o->group = true;
		return 0;
	}
	if (!val) {
		if (!strcmp(opt, "-c") || !strcmp(opt, "-p") || !strcmp(opt, "-m") || !strcmp(opt, "--every") ||
		    !strcmp(opt, "--duration")) {
			fprintf(stderr, "joule: %s needs a value\n", opt);
			return -EINVAL;
		}
		return -ENOENT;
	}
	*used = true;
	if (!strcmp(opt, "-c") || !strcmp(opt, "--comm")) {
		char **n = realloc(o->names, (o->nnames + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		o->names = n;
		o->names[o->nnames++] = (char *)val;
		return 0;
	}
	if (!strcmp(opt, "-p") || !strcmp(opt, "--pid")) {
		uint32_t *n;

		if (parse_u64(val, &v) || v == 0 || v > 4194304) {
			fprintf(stderr, "joule: -p needs a process id, not '%s'\n", val);
			return -EINVAL;
		}
		n = realloc(o->pids, (o->npids + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		o->pids = n;
		o->pids[o->npids++] = (uint32_t)v;
		return 0;
	}
	if (!strcmp(opt, "-m") || !strcmp(opt, "--match")) {
		if (o->has_re) {
			fprintf(stderr, "joule: -m may be given once\n");
			return -EINVAL;
		}
		err = regcomp(&o->re, val, REG_EXTENDED | REG_NOSUB);
		if (err) {
			char msg[128];

			regerror(err, &o->re, msg, sizeof(msg));
			fprintf(stderr, "joule: bad regular expression '%s': %s\n", val, msg);
			return -EINVAL;
		}
		o->has_re = true;
		return 0;
	}
	if (!strcmp(opt, "--every") || !strcmp(opt, "--duration")) {
		if (parse_duration_ns(val, &v) || v == 0) {
			fprintf(stderr, "joule: %s needs a duration such as 1s or 500ms, not '%s'\n", opt, val);
			return -EINVAL;
		}
		if (!strcmp(opt, "--every"))
			o->every_ns = v;
		else
			o->duration_ns = v;
		return 0;
	}
	*used = false;
	return -ENOENT;
}

static bool trace_match(const struct sample_task *t, void *ctx)
{
	const struct trace_opts *o = ctx;

	if (!o->nnames && !o->npids && !o->has_re)
		return true; /* no filter: everything (joule trace alone is a top) */
	for (size_t i = 0; i < o->nnames; i++)
		if (strncmp(t->comm, o->names[i], JOULE_COMM_LEN - 1) == 0)
			return true;
	for (size_t i = 0; i < o->npids; i++)
		if (t->pid == o->pids[i])
			return true;
	return o->has_re && regexec(&o->re, t->comm, 0, NULL, 0) == 0;
}

static int cmp_energy_desc(const void *a, const void *b)
{
	const struct acct_entry *x = a, *y = b;
	uint64_t ex = x->tot.cpu_uj + x->tot.mem_uj, ey = y->tot.cpu_uj + y->tot.mem_uj;

	return ex < ey ? 1 : ex > ey ? -1 : (x->pid > y->pid) - (x->pid < y->pid);
}

static void trace_print(FILE *f, struct carbon_ctx *c, struct window *iv, struct window *all, uint64_t span_ns,
			uint64_t elapsed_ns, const struct trace_opts *o, bool json)
{
	if (o->group)
		acct_group_by_comm(&iv->procs);
	qsort(iv->procs.v, iv->procs.n, sizeof(*iv->procs.v), cmp_energy_desc);
	if (json) {
		cJSON *root = cJSON_CreateObject(), *arr;
		char *txt;

		cJSON_AddNumberToObject(root, "elapsed_ns", (double)elapsed_ns);
		cJSON_AddNumberToObject(root, "interval_ns", (double)span_ns);
		arr = cJSON_AddArrayToObject(root, "processes");
		for (size_t i = 0; i < iv->procs.n; i++) {
			const struct acct_entry *e = &iv->procs.v[i];
			const struct acct_entry *tot = o->group ? NULL : acct_find(&all->procs, e->pid, e->start_ns);
			cJSON *p = cJSON_CreateObject();

			if (!o->group)
				cJSON_AddNumberToObject(p, "pid", e->pid);
			cJSON_AddStringToObject(p, "comm", e->comm);
			cJSON_AddNumberToObject(p, "cpu_ns", (double)e->tot.cpu_ns);
			cJSON_AddNumberToObject(p, "energy_uj", (double)(e->tot.cpu_uj + e->tot.mem_uj));
			cJSON_AddNumberToObject(p, "power_w", span_ns ? (double)(e->tot.cpu_uj + e->tot.mem_uj) * 1e3 / (double)span_ns : 0);
			cJSON_AddNumberToObject(p, "carbon_ug", (double)e->tot.carbon_ug);
			if (tot)
				cJSON_AddNumberToObject(p, "total_energy_uj", (double)(tot->tot.cpu_uj + tot->tot.mem_uj));
			cJSON_AddItemToArray(arr, p);
		}
		cJSON_AddNumberToObject(root, "host_energy_uj", (double)host_uj(iv));
		txt = cJSON_PrintUnformatted(root);
		fprintf(f, "%s\n", txt);
		free(txt);
		cJSON_Delete(root);
	} else {
		fprintf(f, "\n%8.1fs  host %.2f W (%s)  %zu matching\n", (double)elapsed_ns / 1e9,
			span_ns ? (double)host_uj(iv) * 1e3 / (double)span_ns : 0.0, energy_kind_name(iv->source),
			iv->procs.n);
		fprintf(f, "%7s  %-16s %8s %9s %9s %12s\n", o->group ? "COUNT" : "PID", "COMM", "CPU %", "power W",
			"energy J", "total J");
		for (size_t i = 0; i < iv->procs.n && i < 40; i++) {
			const struct acct_entry *e = &iv->procs.v[i];
			const struct acct_entry *tot = o->group ? NULL : acct_find(&all->procs, e->pid, e->start_ns);
			char id[16];

			snprintf(id, sizeof(id), "%u", o->group ? e->nprocs : e->pid);
			fprintf(f, "%7s  %-16.16s %7.1f%% %9.3f %9.3f %12.3f\n", id, e->comm,
				span_ns ? 100.0 * (double)e->tot.cpu_ns / (double)span_ns : 0.0,
				span_ns ? (double)(e->tot.cpu_uj + e->tot.mem_uj) * 1e3 / (double)span_ns : 0.0,
				(double)(e->tot.cpu_uj + e->tot.mem_uj) / 1e6,
				tot ? (double)(tot->tot.cpu_uj + tot->tot.mem_uj) / 1e6 : (double)(e->tot.cpu_uj + e->tot.mem_uj) / 1e6);
		}
	}
	fflush(f);
	(void)c;
}

static int cmd_trace(int argc, char **argv, bool top)
{
	struct trace_opts to = { .every_ns = NSEC_PER_SEC };
	struct joule_config cfg;
	struct window iv, all;
	struct pipeline p;
	sigset_t mask;
	int idx = 1, sfd = -1, rc;
	uint64_t t0, last_print;
	bool stop = false;

	config_init(&cfg);
	memset(&iv, 0, sizeof(iv));
	memset(&all, 0, sizeof(all));
	if (parse_opts(argc, argv, &idx, &cfg, trace_extra, &to) || idx < argc) {
		if (idx < argc)
			fprintf(stderr, "joule: trace takes no command; did you mean 'joule run -- %s'?\n", argv[idx]);
		rc = EXIT_USAGE;
		goto done;
	}
	if (zone_list_requested(&cfg)) {
		rc = 0;
		goto done;
	}
	to.refresh = top && !cfg.json && isatty(STDOUT_FILENO);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	rc = pipeline_open(&p, &cfg);
	if (rc)
		goto done;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("failed to create signalfd: %s", strerror(errno));
		rc = 1;
		pipeline_close(&p);
		goto done;
	}
	t0 = last_print = now_mono_ns();
	while (!stop) {
		struct pollfd fds[2] = { { sampler_fd(p.sampler), POLLIN, 0 }, { sfd, POLLIN, 0 } };
		const struct sample *s;
		uint64_t now;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN)
			stop = true;
		if (!(fds[0].revents & POLLIN) && !stop)
			continue;
		rc = sampler_tick(p.sampler, &s);
		if (rc)
			log_err("sample failed: %s", strerror(-rc));
		if (!rc) {
			window_add(&iv, s, trace_match, &to);
			window_add(&all, s, trace_match, &to);
		}
		now = now_mono_ns();
		if (to.duration_ns && now - t0 >= to.duration_ns)
			stop = true;
		if (now - last_print >= to.every_ns || stop) {
			if (to.refresh && !stop)
				fputs("\033[H\033[2J", stdout); /* home, clear: a top redraws in place */
			trace_print(stdout, p.carbon, &iv, &all, now - last_print, now - t0, &to, cfg.json);
			acct_clear(&iv.procs);
			/* top watches everything: forget finished processes, their energy stays in the sums */
			if (!to.nnames && !to.npids && !to.has_re)
				acct_drop_exited(&all.procs);
			memset(&iv.mine, 0, sizeof(iv) - offsetof(struct window, mine));
			last_print = now;
		}
	}
	if (!cfg.json) {
		uint64_t wall = now_mono_ns() - t0;

		printf("\n joule trace summary over %.1f s\n\n", (double)wall / 1e9);
		print_table(stdout, p.carbon, &all, wall, true);
		print_footer(stdout, p.carbon, &all, wall, p.energy);
	}
	rc = 0;
	if (sfd >= 0)
		close(sfd);
	pipeline_close(&p);
done:
	acct_free(&iv.procs);
	acct_free(&all.procs);
	if (to.has_re)
		regfree(&to.re);
	free(to.names);
	free(to.pids);
	config_free(&cfg);
	return rc;
}

/* ----------------------------------------------------------------- probe */

static int cmd_probe(int argc, char **argv)
{
	struct joule_config cfg;
	struct energy_probe res[ENERGY_SRC_NKINDS];
	struct energy_opts eo;
	struct tracer *t = NULL;
	struct tracer_opts tro = { 0 };
	struct utsname un;
	struct topo topo;
	char why[256] = "";
	cJSON *root, *arr;
	int idx = 1, n, err, bpf_err;
	bool btf;

	config_init(&cfg);
	if (parse_opts(argc, argv, &idx, &cfg, NULL, NULL) || idx < argc) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	uname(&un);
	btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	bpf_err = tracer_check_caps(why, sizeof(why));
	if (!bpf_err) {
		/* the real test: load and attach the programs, then let go */
		bpf_err = tracer_open(&t, &tro);
		if (bpf_err)
			snprintf(why, sizeof(why), "loading the BPF programs failed: %s (run with -vv for libbpf's log)",
				 strerror(-bpf_err));
	}
	err = topo_load(&topo, cfg.cpu_root ? cfg.cpu_root : TOPO_DEFAULT_ROOT);
	if (err) {
		log_err("failed to read CPU topology: %s", strerror(-err));
		tracer_close(t);
		config_free(&cfg);
		return 1;
	}
	pipeline_energy_opts(&cfg, &topo, &eo);
	n = energy_probe_all(&eo, res, ENERGY_SRC_NKINDS);

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "kernel", un.release);
	cJSON_AddStringToObject(root, "machine", un.machine);
	cJSON_AddBoolToObject(root, "btf", btf);
	cJSON_AddBoolToObject(root, "bpf", bpf_err == 0);
	if (t) {
		struct tracer_stats ts;

		tracer_get_stats(t, &ts);
		cJSON_AddStringToObject(root, "bpf_hook", ts.raw_tp ? "raw_tp" : "tp_btf");
		cJSON_AddBoolToObject(root, "bpf_batch_ops", ts.batch_ops);
	} else {
		cJSON_AddStringToObject(root, "bpf_error", why);
	}
	cJSON_AddNumberToObject(root, "possible_cpus", topo.ncpu);
	cJSON_AddNumberToObject(root, "packages", topo.npkg);
	arr = cJSON_AddArrayToObject(root, "cpu_package");
	for (int c = 0; c < topo.ncpu; c++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(topo.cpu_pkg[c]));
	arr = cJSON_AddArrayToObject(root, "energy_sources");
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *doms = cJSON_CreateArray();

		cJSON_AddStringToObject(o, "source", energy_kind_name(res[i].kind));
		cJSON_AddBoolToObject(o, "usable", res[i].usable);
		for (int d = 0; d < ENERGY_NDOMAINS; d++)
			if (res[i].domains & (1u << d))
				cJSON_AddItemToArray(doms, cJSON_CreateString(energy_domain_name(d)));
		cJSON_AddItemToObject(o, "domains", doms);
		cJSON_AddNumberToObject(o, "packages", res[i].npkg);
		cJSON_AddStringToObject(o, "detail", res[i].detail);
		cJSON_AddItemToArray(arr, o);
	}
	{
		const char *chosen = "none";

		for (int i = 0; i < n; i++)
			if (res[i].usable && (cfg.source == ENERGY_SRC_AUTO || cfg.source == res[i].kind)) {
				chosen = energy_kind_name(res[i].kind);
				break;
			}
		cJSON_AddStringToObject(root, "selected_source", chosen);
	}

	if (cfg.json) {
		char *txt = cJSON_PrintUnformatted(root);

		printf("%s\n", txt);
		free(txt);
	} else {
		cJSON *it;

		printf("kernel     %s %s, BTF %s\n", un.release, un.machine, btf ? "yes" : "no");
		printf("BPF        %s\n", t ? (cJSON_GetObjectItem(root, "bpf_hook")->valuestring) : why);
		if (t)
			printf("           programs load and attach (%s; batch map ops %s)\n",
			       cJSON_GetObjectItem(root, "bpf_hook")->valuestring,
			       cJSON_IsTrue(cJSON_GetObjectItem(root, "bpf_batch_ops")) ? "yes" : "no");
		printf("topology   %d possible CPUs, %d package%s:", topo.ncpu, topo.npkg, topo.npkg == 1 ? "" : "s");
		for (int c = 0; c < topo.ncpu; c++)
			printf(" cpu%d→%d", c, topo.cpu_pkg[c]);
		printf("\nenergy sources (auto picks the first usable):\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(root, "energy_sources"))
		{
			printf("  %-9s %-9s %s\n", cJSON_GetObjectItem(it, "source")->valuestring,
			       cJSON_IsTrue(cJSON_GetObjectItem(it, "usable")) ? "usable" : "unusable",
			       cJSON_GetObjectItem(it, "detail")->valuestring);
		}
		printf("selected   %s\n", cJSON_GetObjectItem(root, "selected_source")->valuestring);
	}
	cJSON_Delete(root);
	tracer_close(t);
	topo_free(&topo);
	config_free(&cfg);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log_setup_libbpf();
	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : EXIT_USAGE;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("joule %s (libbpf %s)\n", JOULE_VERSION, libbpf_version_string());
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "trace") || !strcmp(cmd, "top"))
		return cmd_trace(argc - 1, argv + 1, !strcmp(cmd, "top"));
	if (!strcmp(cmd, "probe"))
		return cmd_probe(argc - 1, argv + 1);
	if (!strcmp(cmd, "daemon"))
		return cmd_daemon(argc - 1, argv + 1);
	if (!strcmp(cmd, "ledger"))
		return cmd_ledger(argc - 1, argv + 1);
	fprintf(stderr, "joule: unknown command '%s' (see joule --help)\n", cmd);
	return EXIT_USAGE;
}
