/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live table of trace and top: sorting, grouping, plain printing, and a full-screen view that fits the terminal. */
#ifndef JOULE_TOP_H
#define JOULE_TOP_H

#include <stdio.h>
#include "joule/report.h"

enum top_sort { TOP_SORT_ENERGY, TOP_SORT_CPU, TOP_SORT_PID, TOP_SORT_COMM };
enum top_key { TOP_KEY_NONE, TOP_QUIT };

int top_sort_parse(const char *s, enum top_sort *out); /* "energy", "cpu", "pid", "comm"; 0 or -EINVAL */
void top_sort(struct acct *a, enum top_sort by);
/* Fold processes of one name into one entry: pid 0, and ppid holds how many processes it sums. */

/* One interval as lines of text (trace, or top without a terminal). */
void top_print_plain(FILE *f, const struct window *iv, const struct window *all, uint64_t span_ns,
		     uint64_t elapsed_ns, bool group);

/* The full-screen view on the controlling terminal (stdin/stdout): raw keys, alternate screen. */
struct top;
int top_open(struct top **out, enum top_sort sort); /* 0 or -errno (message logged) */
void top_resize(struct top *t);			    /* after SIGWINCH: read the size again */
enum top_key top_input(struct top *t);		    /* read pending keys: q quits, e/c/p/n sort */
/* Draw one interval within the terminal's rows and columns. */
void top_draw(struct top *t, struct window *iv, const struct window *all, uint64_t span_ns, uint64_t elapsed_ns,
	      bool group);
void top_close(struct top *t); /* restore the terminal; NULL is a no-op */

#endif /* JOULE_TOP_H */
