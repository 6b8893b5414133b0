// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule run -- CMD`: run a command held until the tracer follows it, then report its energy and carbon like perf stat. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include "joule/commands.h"
#include "joule/ledger.h"
#include "joule/log.h"
#include "joule/pipeline.h"
#include "joule/report.h"
#include "joule/report_plot.h"
#include "joule/report_set.h"
#include "joule/util.h"

/* After the command is reaped: at most this many samples, this far apart, wait for its final switch. */
#define RUN_TAIL_SAMPLES 50
#define RUN_TAIL_PAUSE_NS (2 * 1000 * 1000)

/* Everything one run holds, from the parse to the report. */
struct run {
	struct joule_config cfg;
	char **cmd;			/* the command line after the options */
	int ncmd;
	const char *out_file;
	FILE *out;
	struct report_set *reports;	/* --report and --push: checked before the command starts */
	const char *plot_path;		/* --plot FILE.svg */
	struct report_plot plot;
	bool report_failed;		/* the report itself could not be written */
	struct pipeline p;
	bool have_p;
	struct window w;
	struct ledger *led;
	sigset_t mask, oldmask;
	int sfd;
	pid_t child;
	bool exit_seen;	/* a sample held the command's exit row: its last thread's final switch */
	int status;
	struct rusage ru;
	uint64_t t0, t1;
};

static int run_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct run *r = ctx;

	if (strcmp(o->name, "output") == 0) {
		r->out_file = val;
		return 0;
	}
	if (strcmp(o->name, "plot") == 0) {
		r->plot_path = val;
		return 0;
	}
	return report_apply_opt(r->reports, o->name, val) ? -EINVAL : 0;
}

static bool is_marked(const struct sample_task *t, void *ctx)
{
	return t->marked;
}

/* One tick of joule run: into the report's window and, if asked, the ledger. */
/* One sample into the run's window, plot and ledger; notes when it holds the command's own exit row. */
static void run_sample(struct run *r)
{
	const struct sample *s;
	int err = sampler_tick(r->p.sampler, &s);

	if (err) {
		log_err("sample failed: %s", strerror(-err));
		return;
	}
	window_add(&r->w, s, is_marked, NULL);
	if (r->plot.p && report_plot_sample(&r->plot, s, is_marked, NULL))
		log_err("failed to add a sample to the plot: out of memory");
	if (r->led)
		ledger_feed_sample(r->led, s);
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].pid == (uint32_t)r->child && s->tasks[i].exited)
			r->exit_seen = true;
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

/* Options, the command, the report file. CLI_CONTINUE or the exit status. */
static int run_parse(struct run *r, int argc, char **argv)
{
	int idx = 1, rc;

	if (report_set_new(&r->reports))
		return 1;
	rc = cli_parse(&cmd_run_def, argc, argv, &r->cfg, run_opt, r, &idx);
	if (rc != CLI_CONTINUE)
		return rc;
	if (idx >= argc) {
		fprintf(stderr, "joule: run needs a command: joule run [OPTIONS] -- CMD [ARGS...]\n");
		return EXIT_USAGE;
	}
	r->cmd = &argv[idx];
	r->ncmd = argc - idx;
	if (r->out_file) {
		r->out = fopen(r->out_file, "we");
		if (!r->out) {
			fprintf(stderr, "joule: cannot write the report to %s: %s\n", r->out_file, strerror(errno));
			return EXIT_USAGE;
		}
	}
	/* an unwritable report path, bad BoAmps input or sci without a unit: before any work (printed) */
	if (report_set_prepare(r->reports))
		return EXIT_USAGE;
	if (r->plot_path && report_plot_open(&r->plot, r->plot_path))
		return EXIT_USAGE;
	return CLI_CONTINUE;
}

/* Pipeline, ledger, signalfd. CLI_CONTINUE or the exit status. */
static int run_open(struct run *r)
{
	struct ledger_opts lo;
	int err;

	/*
	 * Signals arrive on a signalfd: SIGINT/SIGTERM are forwarded, SIGCHLD
	 * ends the run. Blocked before any thread exists (the ledger writer),
	 * or a thread with them unblocked would swallow SIGCHLD.
	 */
	sigemptyset(&r->mask);
	sigaddset(&r->mask, SIGINT);
	sigaddset(&r->mask, SIGTERM);
	sigaddset(&r->mask, SIGHUP);
	sigaddset(&r->mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &r->mask, &r->oldmask);
	err = pipeline_open(&r->p, &r->cfg);
	if (err)
		return err;
	r->have_p = true;
	if (r->cfg.ledger) {
		config_ledger_opts(&r->cfg, &lo);
		/* ledger_open logs why it failed: not again here */
		if (ledger_open(&r->led, &lo))
			return 1;
	}
	r->sfd = signalfd(-1, &r->mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sfd < 0) {
		log_err("failed to create signalfd: %s", strerror(errno));
		return 1;
	}
	return CLI_CONTINUE;
}

/* Fork, mark, release the command. CLI_CONTINUE or the exit status (126/127 if it cannot run). */
static int run_start(struct run *r)
{
	int release_fd = -1, exec_err_fd = -1, exec_errno = 0, rc = CLI_CONTINUE;

	r->child = spawn_held(r->cmd, &r->oldmask, &release_fd, &exec_err_fd);
	if (r->child < 0) {
		log_err("failed to fork: %s", strerror((int)-r->child));
		return 1;
	}
	if (tracer_mark_pid(r->p.tracer, (uint32_t)r->child))
		log_warn("child %d not seen by the tracer yet: its descendants may be missed", r->child);
	r->t0 = now_mono_ns();
	if (write(release_fd, "x", 1) != 1)
		log_err("failed to release the command: %s", strerror(errno));
	close(release_fd);
	if (read(exec_err_fd, &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
		fprintf(stderr, "joule: cannot run '%s': %s\n", r->cmd[0], strerror(exec_errno));
		waitpid(r->child, NULL, 0);
		rc = exec_errno == ENOENT ? 127 : 126;
	}
	close(exec_err_fd);
	return rc;
}

/* Sample until the command exits; pass on signals sent to joule alone. */
static cJSON *run_json(struct run *r);

/* --push-interval: the totals so far, pushed without an exit status or end time (the command still runs). */
static void run_push_interim(struct run *r)
{
	struct export_builder *eb = NULL;
	struct export_run er;
	cJSON *root;

	r->t1 = now_mono_ns();
	root = run_json(r);
	if (root && report_run_from_json(root, r->p.carbon, &eb, &er) == 0) {
		er.has_exit_status = false;
		er.end_real_ns = 0;
		(void)report_set_push_interim(r->reports, &er);
	}
	export_builder_free(eb);
	cJSON_Delete(root);
}

static void run_wait(struct run *r)
{
	uint64_t push_ns = report_set_push_interval_ns(r->reports), next_push = r->t0 + push_ns;
	bool done = false;

	while (!done) {
		struct pollfd fds[2] = { { sampler_fd(r->p.sampler), POLLIN, 0 }, { r->sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		while ((fds[1].revents & POLLIN) && read(r->sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD) {
				if (wait4(r->child, &r->status, WNOHANG, &r->ru) == r->child)
					done = true;
			} else if (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE) {
				/*
				 * Sent to joule alone (kill): pass it on. A terminal's
				 * Ctrl-C (SI_KERNEL) reached the command already, as the
				 * whole foreground group gets it; forwarding would double it.
				 */
				kill(r->child, (int)si.ssi_signo);
			}
		}
		if (fds[0].revents & POLLIN)
			run_sample(r);
		if (!done && push_ns && now_mono_ns() >= next_push) {
			run_push_interim(r);
			next_push = now_mono_ns() + push_ns;
		}
	}
	r->t1 = now_mono_ns();
	/*
	 * The parent can reap the command before the command's last switch
	 * (exit_notify wakes us; the dying task's final __schedule() comes after
	 * it on its own CPU). Sample until a sample holds that final switch, the
	 * command's exit row, and then once more for a descendant's; bounded, as
	 * a lost final-switch event must not hold the report (the tracer closes
	 * such a process late, by its own check).
	 */
	run_sample(r);
	for (int i = 0; i < RUN_TAIL_SAMPLES && !r->exit_seen; i++) {
		nanosleep(&(struct timespec){ 0, RUN_TAIL_PAUSE_NS }, NULL);
		run_sample(r);
	}
	if (!r->exit_seen)
		log_debug("run: the command's final switch not seen within %d samples; the tracer closes it late",
			  RUN_TAIL_SAMPLES);
	run_sample(r);
}

static uint64_t kernel_cpu_ns(const struct rusage *ru)
{
	return ((uint64_t)ru->ru_utime.tv_sec + (uint64_t)ru->ru_stime.tv_sec) * NSEC_PER_SEC +
	       ((uint64_t)ru->ru_utime.tv_usec + (uint64_t)ru->ru_stime.tv_usec) * 1000;
}

/* The run's JSON object (DESIGN.md "Interfaces"): also what the ledger records as kind "run". */
static cJSON *run_json(struct run *r)
{
	uint64_t wall = r->t1 - r->t0;
	cJSON *root = cJSON_CreateObject(), *cmd, *total, *tj;
	struct tracer_stats ts;

	tracer_get_stats(r->p.tracer, &ts);
	cmd = cJSON_AddArrayToObject(root, "command");
	for (int i = 0; i < r->ncmd; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(r->cmd[i]));
	cJSON_AddNumberToObject(root, "exit_status", child_status_code(r->status));
	cJSON_AddNumberToObject(root, "wall_ns", (double)wall);
	cJSON_AddStringToObject(root, "source", energy_kind_name(r->w.source));
	report_add_window_json(root, r->p.carbon, &r->w);
	total = cJSON_GetObjectItem(root, "total");
	cJSON_AddNumberToObject(total, "kernel_cpu_ns", (double)kernel_cpu_ns(&r->ru));
	if (wall)
		cJSON_AddNumberToObject(total, "mean_power_w",
					(double)(r->w.mine.cpu_uj + r->w.mine.mem_uj) * 1e3 / (double)wall);
	tj = cJSON_AddObjectToObject(root, "tracer");
	cJSON_AddNumberToObject(tj, "samples", (double)r->w.ticks);
	cJSON_AddNumberToObject(tj, "overflow_events", (double)ts.overflow_events);
	cJSON_AddNumberToObject(tj, "lost_events", (double)ts.lost_events);
	cJSON_AddNumberToObject(tj, "lost_exits", (double)ts.lost_exits);
	cJSON_AddStringToObject(tj, "hook", ts.raw_tp ? "raw_tp" : "tp_btf");
	cJSON_AddItemToObject(root, "sampler", report_sampler_json(r->p.sampler));
	return root;
}

/* --report and --push: their failures are printed and never change the command's exit status. */
static void run_write_reports(struct run *r, const cJSON *root)
{
	struct export_builder *eb = NULL;
	struct export_run er;

	if (report_set_empty(r->reports))
		return;
	if (report_run_from_json(root, r->p.carbon, &eb, &er) == 0)
		(void)report_set_emit(r->reports, &er);
	else
		log_err("failed to build the reports of the run");
	export_builder_free(eb);
}

/* The report, like perf stat's: on stderr (text or JSON) so CMD's stdout stays CMD's, or in -o FILE. */
static void run_report(struct run *r)
{
	FILE *out = r->out ? r->out : stderr;
	uint64_t wall = r->t1 - r->t0;
	cJSON *root = run_json(r);

	if (r->led) {
		cJSON *rec = cJSON_Duplicate(root, true);

		cJSON_AddStringToObject(rec, "kind", "run");
		if (ledger_append_record(r->led, rec))
			log_err("failed to append the run record to %s", r->cfg.ledger);
	}
	if (r->cfg.json) {
		char *txt = cJSON_PrintUnformatted(root);

		fprintf(out, "%s\n", txt);
		free(txt);
	} else {
		fprintf(out, "\n joule run:");
		for (int i = 0; i < r->ncmd; i++)
			fprintf(out, " %s", r->cmd[i]);
		fprintf(out, "   (exit %d, CPU time by the kernel's count (user+sys) %.3f s)\n\n",
			child_status_code(r->status), (double)kernel_cpu_ns(&r->ru) / 1e9);
		report_print_table(out, r->p.carbon, &r->w, wall, true);
		report_print_footer(out, r->p.carbon, &r->w, wall, r->p.energy);
	}
	/* a report that could not be written (a full disk, a closed pipe) is a failure, not a success */
	if (fflush(out) || ferror(out)) {
		log_err("failed to write the report to %s: %s", r->out_file ? r->out_file : "standard error",
			strerror(errno));
		r->report_failed = true;
	}
	run_write_reports(r, root);
	if (r->plot.p) {
		struct plot_opts po = { .energy_uj = sample_totals_energy_uj(&r->w.mine),
					.carbon_ug = r->w.mine.carbon_ug, .source = energy_kind_name(r->w.source) };
		char title[256];
		size_t n = (size_t)snprintf(title, sizeof(title), "joule run:");

		for (int i = 0; i < r->ncmd && n < sizeof(title); i++)
			n += (size_t)snprintf(title + n, sizeof(title) - n, " %s", r->cmd[i]);
		po.title = title;
		/* like a report: a picture that could not be written is a failure (printed) */
		if (report_plot_finish(&r->plot, &po))
			r->report_failed = true;
	}
	cJSON_Delete(root);
}

/* Close in reverse order; a ledger that fails to flush turns a success into 1. */
static int run_close(struct run *r, int rc)
{
	if (r->out && fclose(r->out)) {
		log_err("failed to write %s: %s", r->out_file, strerror(errno));
		if (rc == 0)
			rc = 1;
	}
	if (r->led && ledger_close(r->led) && rc == 0)
		rc = 1;
	if (r->sfd >= 0)
		close(r->sfd);
	window_free(&r->w);
	report_plot_close(&r->plot);
	if (r->have_p)
		pipeline_close(&r->p);
	report_set_free(r->reports);
	config_free(&r->cfg);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct run r = { .sfd = -1 };
	int rc;

	config_init(&r.cfg);
	rc = run_parse(&r, argc, argv);
	if (rc == CLI_CONTINUE) {
		window_init(&r.w, &r.cfg);
		rc = run_open(&r);
	}
	if (rc == CLI_CONTINUE)
		rc = run_start(&r);
	if (rc == CLI_CONTINUE) {
		run_wait(&r);
		run_report(&r);
		rc = child_status_code(r.status);
		/* the command's status, unless it succeeded and its report was lost */
		if (rc == 0 && r.report_failed)
			rc = 1;
	}
	return run_close(&r, rc);
}
