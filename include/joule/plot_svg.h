/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Power over time as a stacked SVG (top processes, rest, idle, host behind), and the palette the live page shares. */
#ifndef JOULE_PLOT_SVG_H
#define JOULE_PLOT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The one palette of joule's pictures: the SVG of a run and the live page
 * (served as /palette.js from this table) colour a name the same way: the
 * slot of its FNV-1a hash, or the next slot no higher-ranked name took.
 * Colour-blind-safe hues (Okabe-Ito, then Tableau's) in a fixed order.
 */
#define PLOT_PALETTE_LEN 12
extern const char *const plot_palette[PLOT_PALETTE_LEN];
#define PLOT_COLOR_REST "#8c8c8c"	/* the processes past the top N, grouped */
#define PLOT_COLOR_IDLE "#d4d4d4"	/* the idle bucket */
#define PLOT_COLOR_HOST "#f1f1f1"	/* host power, drawn behind everything */
#define PLOT_COLOR_HOST_LINE "#404040"

/* FNV-1a, 32 bits, over the name's bytes: app.js computes the same. */
uint32_t plot_name_hash(const char *name);
/* Palette slots for names in rank order (first = largest): idx[i] in [0, PLOT_PALETTE_LEN). */
void plot_assign_colors(const char *const *names, size_t n, unsigned *idx);

struct plot;

int plot_new(struct plot **out);
void plot_free(struct plot *p);
/* The host's energy and the idle bucket's over [start_ns, end_ns) (ns since the epoch). 0 or -errno. */
int plot_add_host(struct plot *p, uint64_t start_ns, uint64_t end_ns, uint64_t host_uj, uint64_t idle_uj);
/*
 * energy_uj of one series over [start_ns, end_ns): key tells series apart
 * (a pid and start time), name colours it (a comm), label names it in the
 * legend (NULL: the name). 0 or -errno.
 */
int plot_add(struct plot *p, const char *key, const char *name, const char *label, uint64_t start_ns,
	     uint64_t end_ns, uint64_t energy_uj);

struct plot_opts {
	const char *title;		/* e.g. "joule run: make -j2" */
	uint64_t energy_uj;		/* the totals the title states (the caller's own account) */
	uint64_t carbon_ug;
	const char *source;		/* energy source, for the subtitle (may be NULL) */
	unsigned top_n;			/* series of their own; 0: 8 */
	unsigned width, height;		/* px; 0: 960 x 480 */
};

/* The picture as one SVG document (malloc'd, NUL-terminated). 0, -ENODATA with no host span, or -ENOMEM. */
int plot_svg_render(const struct plot *p, const struct plot_opts *o, char **out, size_t *len);
/*
 * The same picture inline in an HTML page of its own (a <title> from
 * o->title; no script, nothing fetched): one file to attach or open
 * anywhere. As plot_svg_render.
 */
int plot_html_render(const struct plot *p, const struct plot_opts *o, char **out, size_t *len);

#endif /* JOULE_PLOT_SVG_H */
