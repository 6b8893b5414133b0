// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live table of trace and top; top's full-screen view draws within the window size with termios and ANSI escapes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "joule/log.h"
#include "joule/top.h"

int top_sort_parse(const char *s, enum top_sort *out)
{
	static const char *const names[] = { "energy", "cpu", "pid", "comm" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum top_sort)i;
			return 0;
		}
	return -EINVAL;
}

static uint64_t energy(const struct acct_entry *e)
{
	return sample_totals_energy_uj(&e->tot);
}

static int by_pid(const struct acct_entry *x, const struct acct_entry *y)
{
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_energy(const void *a, const void *b)
{
	const struct acct_entry *x = a, *y = b;

	return energy(x) < energy(y) ? 1 : energy(x) > energy(y) ? -1 : by_pid(x, y);
}

static int cmp_cpu(const void *a, const void *b)
{
	const struct acct_entry *x = a, *y = b;

	return x->tot.cpu_ns < y->tot.cpu_ns ? 1 : x->tot.cpu_ns > y->tot.cpu_ns ? -1 : by_pid(x, y);
}

static int cmp_pid(const void *a, const void *b)
{
	return by_pid(a, b);
}

static int cmp_comm(const void *a, const void *b)
{
	const struct acct_entry *x = a, *y = b;
	int c = strcmp(x->comm, y->comm);

	return c ? c : by_pid(x, y);
}

void top_sort(struct acct *a, enum top_sort by)
{
	static int (*const cmp[])(const void *, const void *) = { cmp_energy, cmp_cpu, cmp_pid, cmp_comm };

	qsort(a->v, a->n, sizeof(*a->v), cmp[by]);
}

static double watts(uint64_t uj, uint64_t span_ns)
{
	return span_ns ? (double)uj * 1e3 / (double)span_ns : 0.0;
}

static void header(char *buf, size_t len, const struct window *iv, uint64_t span_ns, uint64_t elapsed_ns)
{
	snprintf(buf, len, "%8.1fs  host %.2f W (%s)  %zu matching", (double)elapsed_ns / 1e9,
		 watts(window_host_uj(iv), span_ns), energy_kind_name(iv->source), iv->procs.n);
}

static void columns(char *buf, size_t len, bool group)
{
	snprintf(buf, len, "%7s  %-16s %8s %9s %9s %12s", group ? "COUNT" : "PID", "COMM", "CPU %", "power W",
		 "energy J", "total J");
}

static void row(char *buf, size_t len, const struct acct_entry *e, const struct window *all, uint64_t span_ns,
		bool group)
{
	const struct acct_entry *tot = group ? NULL : acct_find(&all->procs, e->pid, e->start_ns);
	char comm[JOULE_COMM_LEN];

	report_printable_comm(e->comm, comm, sizeof(comm));
	snprintf(buf, len, "%7u  %-16.16s %7.1f%% %9.3f %9.3f %12.3f", group ? e->nprocs : e->pid, comm,
		 span_ns ? 100.0 * (double)e->tot.cpu_ns / (double)span_ns : 0.0, watts(energy(e), span_ns),
		 (double)energy(e) / 1e6, (double)(tot ? energy(tot) : energy(e)) / 1e6);
}

void top_print_plain(FILE *f, const struct window *iv, const struct window *all, uint64_t span_ns,
		     uint64_t elapsed_ns, bool group)
{
	char line[256];

	header(line, sizeof(line), iv, span_ns, elapsed_ns);
	fprintf(f, "\n%s\n", line);
	columns(line, sizeof(line), group);
	fprintf(f, "%s\n", line);
	for (size_t i = 0; i < iv->procs.n && i < 40; i++) {
		row(line, sizeof(line), &iv->procs.v[i], all, span_ns, group);
		fprintf(f, "%s\n", line);
	}
}

/* ---- full screen */

struct top {
	struct termios saved;
	int rows, cols;
	enum top_sort sort;
};

/* Restored on any exit path, even one that skips top_close. */
static struct termios *restore_at_exit;

static void restore_terminal(void)
{
	if (!restore_at_exit)
		return;
	/* leave the alternate screen, show the cursor, then the saved modes */
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, restore_at_exit);
	restore_at_exit = NULL;
}

void top_resize(struct top *t)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	} else {
		t->rows = 24;
		t->cols = 80;
	}
}

int top_open(struct top **out, enum top_sort sort)
{
	static bool registered;
	struct termios raw;
	struct top *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	if (tcgetattr(STDIN_FILENO, &t->saved)) {
		err = -errno;
		log_err("failed to read the terminal's modes: %s", strerror(-err));
		free(t);
		return err;
	}
	raw = t->saved;
	/* keys one at a time and unechoed; output processing stays, so \n is still \r\n */
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)) {
		err = -errno;
		log_err("failed to set the terminal's modes: %s", strerror(-err));
		free(t);
		return err;
	}
	restore_at_exit = &t->saved;
	if (!registered) {
		atexit(restore_terminal);
		registered = true;
	}
	t->sort = sort;
	top_resize(t);
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout); /* alternate screen, hide cursor, clear */
	fflush(stdout);
	*out = t;
	return 0;
}

enum top_key top_input(struct top *t)
{
	static const char sorts[] = "ecpn";
	char buf[32];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	for (ssize_t i = 0; i < n; i++) {
		const char *s = strchr(sorts, buf[i]);

		if (buf[i] == 'q' || buf[i] == 'Q')
			return TOP_QUIT;
		if (s && buf[i])
			t->sort = (enum top_sort)(s - sorts);
	}
	return TOP_KEY_NONE;
}

/* One screen line: cut to the width, cleared to its end; no newline after the last row (no scroll). */
static void put_line(const struct top *t, int *y, const char *text, bool inverse)
{
	if (*y >= t->rows)
		return;
	fprintf(stdout, "\033[%d;1H%s%.*s\033[K%s", *y + 1, inverse ? "\033[7m" : "", t->cols, text,
		inverse ? "\033[0m" : "");
	(*y)++;
}

void top_draw(struct top *t, struct window *iv, const struct window *all, uint64_t span_ns, uint64_t elapsed_ns,
	      bool group)
{
	static const char *const names[] = { "energy", "cpu", "pid", "comm" };
	char line[512], head[256];
	int y = 0;

	top_sort(&iv->procs, t->sort);
	header(head, sizeof(head), iv, span_ns, elapsed_ns);
	snprintf(line, sizeof(line), "joule top  %s  sort %s  (q quit, e/c/p/n sort)", head, names[t->sort]);
	put_line(t, &y, line, false);
	columns(line, sizeof(line), group);
	put_line(t, &y, line, true);
	for (size_t i = 0; i < iv->procs.n && y < t->rows; i++) {
		row(line, sizeof(line), &iv->procs.v[i], all, span_ns, group);
		put_line(t, &y, line, false);
	}
	if (y < t->rows)
		fprintf(stdout, "\033[%d;1H\033[J", y + 1); /* clear what the last frame left below */
	fflush(stdout);
}

void top_close(struct top *t)
{
	if (!t)
		return;
	restore_terminal();
	free(t);
}
