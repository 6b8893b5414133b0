// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule trace` and `joule top`: live energy of matching processes (or of all), each interval and summed. */
#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <cjson/cJSON.h>
#include "joule/commands.h"
#include "joule/log.h"
#include "joule/pipeline.h"
#include "joule/report.h"
#include "joule/top.h"
#include "joule/util.h"

struct trace_opts {
	char **names;
	size_t nnames;
	uint32_t *pids;
	size_t npids;
	regex_t re;
	bool has_re, group;
	uint64_t every_ns, duration_ns;
};

static int add_name(struct trace_opts *o, const char *val)
{
	char **n = realloc(o->names, (o->nnames + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	o->names = n;
	o->names[o->nnames++] = (char *)val;
	return 0;
}

static int add_pid(struct trace_opts *o, const char *val)
{
	uint64_t v;
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

static int set_match(struct trace_opts *o, const char *val)
{
	int err;

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

struct trace_ctx {
	struct trace_opts to;
	enum top_sort sort;
};

static int trace_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct trace_ctx *x = ctx;
	uint64_t v;

	if (!strcmp(o->name, "comm"))
		return add_name(&x->to, val);
	if (!strcmp(o->name, "pid"))
		return add_pid(&x->to, val);
	if (!strcmp(o->name, "match"))
		return set_match(&x->to, val);
	if (!strcmp(o->name, "group")) {
		x->to.group = true;
		return 0;
	}
	if (!strcmp(o->name, "sort")) {
		if (top_sort_parse(val, &x->sort)) {
			fprintf(stderr, "joule: --sort takes energy, cpu, pid or comm, not '%s'\n", val);
			return -EINVAL;
		}
		return 0;
	}
	/* --every, --duration */
	if (parse_duration_ns(val, &v) || v == 0) {
		fprintf(stderr, "joule: --%s needs a duration such as 1s or 500ms, not '%s'\n", o->name, val);
		return -EINVAL;
	}
	if (!strcmp(o->name, "every"))
		x->to.every_ns = v;
	else
		x->to.duration_ns = v;
	return 0;
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

static void trace_print_json(FILE *f, struct window *iv, struct window *all, uint64_t span_ns,
			     uint64_t elapsed_ns, const struct trace_opts *o)
{
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
		else
			cJSON_AddNumberToObject(p, "count", e->nprocs);
		cJSON_AddStringToObject(p, "comm", e->comm);
		cJSON_AddNumberToObject(p, "cpu_ns", (double)e->tot.cpu_ns);
		cJSON_AddNumberToObject(p, "energy_uj", (double)(e->tot.cpu_uj + e->tot.mem_uj));
		cJSON_AddNumberToObject(p, "power_w",
					span_ns ? (double)(e->tot.cpu_uj + e->tot.mem_uj) * 1e3 / (double)span_ns : 0);
		cJSON_AddNumberToObject(p, "carbon_ug", (double)e->tot.carbon_ug);
		cJSON_AddNumberToObject(p, "carbon_operational_ug", (double)(e->tot.carbon_ug - e->tot.embodied_ug));
		cJSON_AddNumberToObject(p, "carbon_embodied_ug", (double)e->tot.embodied_ug);
		if (tot)
			cJSON_AddNumberToObject(p, "total_energy_uj", (double)(tot->tot.cpu_uj + tot->tot.mem_uj));
		cJSON_AddItemToArray(arr, p);
	}
	cJSON_AddNumberToObject(root, "host_energy_uj", (double)window_host_uj(iv));
	txt = cJSON_PrintUnformatted(root);
	fprintf(f, "%s\n", txt);
	free(txt);
	cJSON_Delete(root);
}

/* Whether the loop should stop: a signal, the duration, or q in top. */
struct trace_loop {
	struct pipeline p;
	struct window iv, all;
	int sfd;
	struct top *top;	/* top on a terminal, else NULL */
};

static int trace_loop(struct trace_loop *l, struct trace_ctx *x, bool json)
{
	struct trace_opts *to = &x->to;
	uint64_t t0, last_print;
	bool stop = false;
	int rc;

	t0 = last_print = now_mono_ns();
	while (!stop) {
		struct pollfd fds[3] = { { sampler_fd(l->p.sampler), POLLIN, 0 }, { l->sfd, POLLIN, 0 },
					 { l->top ? STDIN_FILENO : -1, POLLIN, 0 } };
		const struct sample *s;
		uint64_t now;

		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(l->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH && l->top)
					top_resize(l->top);
				else if (si.ssi_signo != SIGWINCH)
					stop = true;
			}
		}
		if (l->top && (fds[2].revents & POLLIN) && top_input(l->top) == TOP_QUIT)
			stop = true;
		/* the terminal went away: nothing to draw on, and its fd would poll ready forever */
		if (l->top && (fds[2].revents & (POLLHUP | POLLERR | POLLNVAL)))
			stop = true;
		if (!(fds[0].revents & POLLIN) && !stop)
			continue;
		rc = sampler_tick(l->p.sampler, &s);
		if (rc)
			log_err("sample failed: %s", strerror(-rc));
		if (!rc) {
			window_add(&l->iv, s, trace_match, to);
			window_add(&l->all, s, trace_match, to);
		}
		now = now_mono_ns();
		if (to->duration_ns && now - t0 >= to->duration_ns)
			stop = true;
		if (now - last_print >= to->every_ns || stop) {
			if (to->group)
				acct_group_by_comm(&l->iv.procs);
			if (l->top) {
				top_draw(l->top, &l->iv, &l->all, now - last_print, now - t0, to->group);
			} else {
				top_sort(&l->iv.procs, TOP_SORT_ENERGY);
				if (json)
					trace_print_json(stdout, &l->iv, &l->all, now - last_print, now - t0, to);
				else
					top_print_plain(stdout, &l->iv, &l->all, now - last_print, now - t0, to->group);
				fflush(stdout);
			}
			/* top watches everything: forget finished processes, their energy stays in the sums */
			if (!to->nnames && !to->npids && !to->has_re)
				acct_drop_exited(&l->all.procs);
			window_reset(&l->iv);
			last_print = now;
		}
	}
	return 0;
}

static int cmd_trace_or_top(int argc, char **argv, const struct cli_command *def)
{
	struct trace_ctx x = { .to = { .every_ns = NSEC_PER_SEC }, .sort = TOP_SORT_ENERGY };
	struct trace_loop l = { .sfd = -1 };
	struct joule_config cfg;
	bool top = def == &cmd_top_def;
	uint64_t t0;
	sigset_t mask;
	int idx = 1, rc;

	config_init(&cfg);
	window_init(&l.iv, &cfg);
	window_init(&l.all, &cfg);
	rc = cli_parse(def, argc, argv, &cfg, trace_opt, &x, &idx);
	if (rc != CLI_CONTINUE)
		goto done;
	window_init(&l.iv, &cfg);
	window_init(&l.all, &cfg);
	if (idx < argc) {
		fprintf(stderr, "joule: %s takes no command; did you mean 'joule run -- %s'?\n", def->name, argv[idx]);
		rc = EXIT_USAGE;
		goto done;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	rc = pipeline_open(&l.p, &cfg);
	if (rc)
		goto done;
	l.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l.sfd < 0) {
		log_err("failed to create signalfd: %s", strerror(errno));
		rc = 1;
		goto close;
	}
	if (top && !cfg.json && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)) {
		rc = top_open(&l.top, x.sort);
		if (rc) {
			rc = 1;
			goto close;
		}
	}
	t0 = now_mono_ns();
	rc = trace_loop(&l, &x, cfg.json);
	top_close(l.top);
	if (!cfg.json) {
		uint64_t wall = now_mono_ns() - t0;

		printf("\n joule %s summary over %.1f s\n\n", def->name, (double)wall / 1e9);
		report_print_table(stdout, l.p.carbon, &l.all, wall, true);
		report_print_footer(stdout, l.p.carbon, &l.all, wall, l.p.energy);
	}
close:
	if (l.sfd >= 0)
		close(l.sfd);
	pipeline_close(&l.p);
done:
	window_free(&l.iv);
	window_free(&l.all);
	if (x.to.has_re)
		regfree(&x.to.re);
	free(x.to.names);
	free(x.to.pids);
	config_free(&cfg);
	return rc;
}

int cmd_trace(int argc, char **argv)
{
	return cmd_trace_or_top(argc, argv, &cmd_trace_def);
}

int cmd_top(int argc, char **argv)
{
	return cmd_trace_or_top(argc, argv, &cmd_top_def);
}
