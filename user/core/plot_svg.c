// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A stacked power-over-time picture as SVG: spans of energy binned in time, top N series, rest, idle, host behind. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "joule/plot_svg.h"
#include "joule/util.h"

const char *const plot_palette[PLOT_PALETTE_LEN] = {
	"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
	"#f0e442", "#4e79a7", "#b07aa1", "#59a14f", "#edc948", "#9c755f",
};

/* Enough columns for a smooth 960 px picture; a 10 Hz hour would be 36000 otherwise. */
#define PLOT_MAX_BINS 240
#define PLOT_DEFAULT_TOP 8
/* Beyond this many distinct series the rest shares one: a long ledger window has thousands of processes. */
#define PLOT_MAX_KEYS 8192
#define PLOT_NAME_LEN 64

struct plot_key {
	char key[PLOT_NAME_LEN];
	char name[PLOT_NAME_LEN];
	char label[PLOT_NAME_LEN];
	uint64_t total_uj;
};

/* One span of energy: a host span (key SPAN_HOST) or one series' share. */
#define SPAN_HOST UINT32_MAX
struct plot_span {
	uint32_t key;
	uint64_t start_ns, end_ns;
	uint64_t uj, idle_uj;
};

struct plot {
	struct plot_key *keys;
	size_t nkeys, capkeys;
	size_t last_key;		/* the series of the previous plot_add: runs of one key are common */
	uint32_t overflow_key;		/* the shared series past PLOT_MAX_KEYS, or SPAN_HOST if none yet */
	struct plot_span *spans;
	size_t nspans, capspans;
	size_t nhost;
};

uint32_t plot_name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		h ^= *c;
		h *= 16777619u;
	}
	return h;
}

void plot_assign_colors(const char *const *names, size_t n, unsigned *idx)
{
	bool taken[PLOT_PALETTE_LEN] = { 0 };

	for (size_t i = 0; i < n; i++) {
		unsigned slot = plot_name_hash(names[i]) % PLOT_PALETTE_LEN;

		/* more names than colours: the later ones share, in hash order */
		if (i < PLOT_PALETTE_LEN)
			while (taken[slot])
				slot = (slot + 1) % PLOT_PALETTE_LEN;
		taken[slot] = true;
		idx[i] = slot;
	}
}

int plot_new(struct plot **out)
{
	struct plot *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->overflow_key = SPAN_HOST;
	*out = p;
	return 0;
}

void plot_free(struct plot *p)
{
	if (!p)
		return;
	free(p->keys);
	free(p->spans);
	free(p);
}

static int push_span(struct plot *p, const struct plot_span *s)
{
	int err = array_reserve(&p->spans, &p->capspans, p->nspans + 1, sizeof(*p->spans), 256);

	if (err)
		return err;
	p->spans[p->nspans++] = *s;
	return 0;
}

int plot_add_host(struct plot *p, uint64_t start_ns, uint64_t end_ns, uint64_t host_uj, uint64_t idle_uj)
{
	struct plot_span s = { .key = SPAN_HOST, .start_ns = start_ns, .end_ns = end_ns, .uj = host_uj,
			       .idle_uj = idle_uj };
	int err;

	if (end_ns <= start_ns)
		return -EINVAL;
	err = push_span(p, &s);
	if (!err)
		p->nhost++;
	return err;
}

static int find_key(struct plot *p, const char *key, const char *name, const char *label, uint32_t *out)
{
	if (p->nkeys && strncmp(p->keys[p->last_key].key, key, PLOT_NAME_LEN - 1) == 0) {
		*out = (uint32_t)p->last_key;
		return 0;
	}
	for (size_t i = 0; i < p->nkeys; i++)
		if (strncmp(p->keys[i].key, key, PLOT_NAME_LEN - 1) == 0) {
			p->last_key = i;
			*out = (uint32_t)i;
			return 0;
		}
	if (p->nkeys >= PLOT_MAX_KEYS) {
		if (p->overflow_key != SPAN_HOST) {
			*out = p->overflow_key;
			return 0;
		}
		key = name = label = "(more)";
	}
	if (array_reserve(&p->keys, &p->capkeys, p->nkeys + 1, sizeof(*p->keys), 64))
		return -ENOMEM;
	memset(&p->keys[p->nkeys], 0, sizeof(p->keys[0]));
	snprintf(p->keys[p->nkeys].key, PLOT_NAME_LEN, "%s", key);
	snprintf(p->keys[p->nkeys].name, PLOT_NAME_LEN, "%s", name);
	snprintf(p->keys[p->nkeys].label, PLOT_NAME_LEN, "%s", label ? label : name);
	if (p->nkeys >= PLOT_MAX_KEYS)
		p->overflow_key = (uint32_t)p->nkeys;
	p->last_key = p->nkeys;
	*out = (uint32_t)p->nkeys++;
	return 0;
}

int plot_add(struct plot *p, const char *key, const char *name, const char *label, uint64_t start_ns,
	     uint64_t end_ns, uint64_t energy_uj)
{
	struct plot_span s = { .start_ns = start_ns, .end_ns = end_ns, .uj = energy_uj };
	int err;

	if (end_ns <= start_ns)
		return -EINVAL;
	err = find_key(p, key, name, label, &s.key);
	if (err)
		return err;
	/* a process that renames itself (exec, prctl) is shown by its last name, as the run's report does */
	if (s.key != p->overflow_key && strncmp(p->keys[s.key].name, name, PLOT_NAME_LEN - 1) != 0) {
		snprintf(p->keys[s.key].name, PLOT_NAME_LEN, "%s", name);
		snprintf(p->keys[s.key].label, PLOT_NAME_LEN, "%s", label ? label : name);
	}
	p->keys[s.key].total_uj += energy_uj;
	return push_span(p, &s);
}

/* An output buffer that remembers running out of memory, so the writers need not check each call. */
/*
 * Text for XML: the five specials escaped, and every byte that could make the
 * document ill-formed (controls, bytes above ASCII: a comm is any 15 bytes,
 * not UTF-8) shown as '?'.
 */
static void put_text(struct textbuf *o, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '&': textbuf_printf(o, "&amp;"); break;
		case '<': textbuf_printf(o, "&lt;"); break;
		case '>': textbuf_printf(o, "&gt;"); break;
		case '"': textbuf_printf(o, "&quot;"); break;
		case '\'': textbuf_printf(o, "&apos;"); break;
		default: textbuf_printf(o, "%c", *c < 0x20 || *c >= 0x7f ? '?' : *c); break;
		}
	}
}

/* Spread v over the bins [t0 + i*w, t0 + (i+1)*w) in proportion to overlap with [a, b). */
static void spread(double *bins, size_t nbins, uint64_t t0, double w, uint64_t a, uint64_t b, double v)
{
	double lo = (double)(a - t0) / w, hi = (double)(b - t0) / w, span = hi - lo;
	size_t i0 = (size_t)lo, i1 = (size_t)ceil(hi);

	if (span <= 0)
		return;
	if (i1 > nbins)
		i1 = nbins;
	for (size_t i = i0; i < i1; i++) {
		double l = lo > (double)i ? lo : (double)i, h = hi < (double)(i + 1) ? hi : (double)(i + 1);

		if (h > l)
			bins[i] += v * (h - l) / span;
	}
}

/* A tick step of about a fifth of max: 1, 2 or 5 times a power of ten. */
static double nice_step(double max)
{
	double raw = max / 5, p = pow(10, floor(log10(raw))), m = raw / p;

	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_energy(char *buf, size_t len, uint64_t uj)
{
	double j = (double)uj / 1e6;

	if (j >= 3.6e6)
		snprintf(buf, len, "%.3g kWh", j / 3.6e6);
	else if (j >= 1e3)
		snprintf(buf, len, "%.3g kJ", j / 1e3);
	else
		snprintf(buf, len, "%.3g J", j);
}

static void fmt_carbon(char *buf, size_t len, uint64_t ug)
{
	double g = (double)ug / 1e6;

	if (g >= 1e3)
		snprintf(buf, len, "%.3g kg CO2e", g / 1e3);
	else if (g >= 1)
		snprintf(buf, len, "%.3g g CO2e", g);
	else
		snprintf(buf, len, "%.3g mg CO2e", g * 1e3);
}

struct layer {
	const char *label;
	const char *color;
	const char *cls;	/* "series" for a top process, else what the layer is */
	const char *key;
	uint64_t total_uj;
	double *w;		/* power per bin, W */
};

static int cmp_key_energy(const void *a, const void *b, void *arg)
{
	const struct plot_key *k = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (k[x].total_uj != k[y].total_uj)
		return k[x].total_uj < k[y].total_uj ? 1 : -1;
	return strcmp(k[x].key, k[y].key);
}

/* Geometry of the plot area. */
struct frame {
	double x0, y0, w, h;	/* left, top, width, height of the plot area */
	double ymax;		/* W at the top */
	size_t nbins;
};

static double fx(const struct frame *f, size_t i)
{
	return f->x0 + f->w * (double)i / (double)f->nbins;
}

static double fy(const struct frame *f, double watts)
{
	return f->y0 + f->h - f->h * (watts / f->ymax);
}

/* One stacked layer: a step outline over base+w, back along base. */
static void put_area(struct textbuf *o, const struct frame *f, const struct layer *l, const double *base)
{
	textbuf_printf(o, "<path class=\"%s\" data-key=\"", l->cls);
	put_text(o, l->key);
	textbuf_printf(o, "\" fill=\"%s\" stroke=\"none\" d=\"M%.1f %.1f", l->color, fx(f, 0), fy(f, base[0]));
	for (size_t i = 0; i < f->nbins; i++)
		textbuf_printf(o, "L%.1f %.1fL%.1f %.1f", fx(f, i), fy(f, base[i] + l->w[i]), fx(f, i + 1),
			       fy(f, base[i] + l->w[i]));
	for (size_t i = f->nbins; i-- > 0;)
		textbuf_printf(o, "L%.1f %.1fL%.1f %.1f", fx(f, i + 1), fy(f, base[i]), fx(f, i), fy(f, base[i]));
	textbuf_printf(o, "Z\"><title>");
	put_text(o, l->label);
	textbuf_printf(o, "</title></path>\n");
}

static void put_axes(struct textbuf *o, const struct frame *f, uint64_t span_ns)
{
	double ys = nice_step(f->ymax), secs = (double)span_ns / 1e9, div = 1, xs;
	const char *unit = "s";

	textbuf_printf(o, "<g class=\"axes\" font-size=\"11\" fill=\"#404040\">\n");
	for (double v = 0; v <= f->ymax + 1e-9; v += ys)
		textbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>"
			       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g W</text>\n",
			       f->x0, fy(f, v), f->x0 + f->w, fy(f, v), f->x0 - 6, fy(f, v) + 4, v);
	if (secs >= 7200) {
		div = 3600;
		unit = "h";
	} else if (secs >= 180) {
		div = 60;
		unit = "min";
	}
	xs = nice_step(secs / div);
	for (double v = 0; v <= secs / div + 1e-9; v += xs) {
		double x = f->x0 + f->w * v * div / secs;

		textbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#404040\"/>"
			       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g %s</text>\n",
			       x, f->y0 + f->h, x, f->y0 + f->h + 4, x, f->y0 + f->h + 17, v, unit);
	}
	textbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#404040\"/>\n", f->x0, f->y0 + f->h,
		       f->x0 + f->w, f->y0 + f->h);
	textbuf_printf(o, "</g>\n");
}

static void put_legend(struct textbuf *o, const struct frame *f, const struct layer *ls, size_t n)
{
	double x = f->x0 + f->w + 16, y = f->y0 + 4;

	textbuf_printf(o, "<g class=\"legend\" font-size=\"12\" fill=\"#202020\">\n");
	/* top of the stack first, as the eye reads the picture */
	for (size_t i = n; i-- > 0; y += 20) {
		char e[32];

		fmt_energy(e, sizeof(e), ls[i].total_uj);
		textbuf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\" stroke=\"%s\"/>"
			       "<text x=\"%.1f\" y=\"%.1f\">",
			       x, y, ls[i].color, !strcmp(ls[i].cls, "host") ? PLOT_COLOR_HOST_LINE : "none", x + 18, y + 10);
		put_text(o, ls[i].label);
		textbuf_printf(o, " (%s)</text>\n", e);
	}
	textbuf_printf(o, "</g>\n");
}

int plot_svg_render(const struct plot *p, const struct plot_opts *o, char **out, size_t *len)
{
	unsigned top = o->top_n ? o->top_n : PLOT_DEFAULT_TOP;
	double W = o->width ? o->width : 960, H = o->height ? o->height : 480, binw, maxw = 0;
	uint64_t t0 = UINT64_MAX, t1 = 0, host_uj = 0, idle_uj = 0, rest_uj = 0;
	struct frame f = { .x0 = 64, .y0 = 64 };
	struct layer *ls = NULL;
	uint32_t *order = NULL;
	double *mem = NULL, *host, *base;
	const char **names = NULL;
	unsigned *colors = NULL;
	size_t ntop, nl = 0;
	struct textbuf b = { 0 };
	char e[32], c[40];
	int err = -ENOMEM;

	for (size_t i = 0; i < p->nspans; i++)
		if (p->spans[i].key == SPAN_HOST) {
			if (p->spans[i].start_ns < t0)
				t0 = p->spans[i].start_ns;
			if (p->spans[i].end_ns > t1)
				t1 = p->spans[i].end_ns;
		}
	if (!p->nhost)
		return -ENODATA;
	f.nbins = p->nhost < PLOT_MAX_BINS ? p->nhost : PLOT_MAX_BINS;
	f.w = W - f.x0 - 250;
	f.h = H - f.y0 - 40;
	binw = (double)(t1 - t0) / (double)f.nbins;

	order = calloc(p->nkeys + 1, sizeof(*order));
	ntop = p->nkeys < top ? p->nkeys : top;
	/* layers: the top series, rest, idle; then host (behind, drawn first) */
	ls = calloc(ntop + 3, sizeof(*ls));
	mem = calloc((ntop + 4) * f.nbins, sizeof(double));
	names = calloc(ntop + 1, sizeof(*names));
	colors = calloc(ntop + 1, sizeof(*colors));
	if (!order || !ls || !mem || !names || !colors)
		goto out;
	for (uint32_t i = 0; i < p->nkeys; i++)
		order[i] = i;
	qsort_r(order, p->nkeys, sizeof(*order), cmp_key_energy, p->keys);
	for (size_t i = 0; i < ntop; i++)
		names[i] = p->keys[order[i]].name;
	plot_assign_colors(names, ntop, colors);
	for (size_t i = 0; i < ntop + 2; i++)
		ls[i].w = mem + i * f.nbins;
	host = mem + (ntop + 2) * f.nbins;
	base = mem + (ntop + 3) * f.nbins;
	for (size_t i = 0; i < ntop; i++) {
		ls[i] = (struct layer){ .label = p->keys[order[i]].label, .color = plot_palette[colors[i]],
					.cls = "series", .key = p->keys[order[i]].key,
					.total_uj = p->keys[order[i]].total_uj, .w = ls[i].w };
	}
	/* rank of each key: its layer, or rest */
	for (size_t i = 0; i < p->nspans; i++) {
		const struct plot_span *s = &p->spans[i];
		size_t li = ntop;

		if (s->key == SPAN_HOST) {
			spread(host, f.nbins, t0, binw, s->start_ns, s->end_ns, (double)s->uj);
			spread(ls[ntop + 1].w, f.nbins, t0, binw, s->start_ns, s->end_ns, (double)s->idle_uj);
			host_uj += s->uj;
			idle_uj += s->idle_uj;
			continue;
		}
		for (size_t k = 0; k < ntop; k++)
			if (order[k] == s->key) {
				li = k;
				break;
			}
		if (li == ntop)
			rest_uj += s->uj;
		spread(ls[li].w, f.nbins, t0, binw, s->start_ns, s->end_ns, (double)s->uj);
	}
	nl = ntop;
	if (rest_uj) {
		ls[nl] = (struct layer){ .label = "rest", .color = PLOT_COLOR_REST, .cls = "rest", .key = "rest",
					 .total_uj = rest_uj, .w = ls[ntop].w };
		nl++;
	}
	ls[nl] = (struct layer){ .label = "idle", .color = PLOT_COLOR_IDLE, .cls = "idle", .key = "idle",
				 .total_uj = idle_uj, .w = ls[ntop + 1].w };
	nl++;
	/* µJ per bin to W: µJ / ns × 1e3 */
	for (size_t i = 0; i < f.nbins; i++) {
		double stack = 0;

		host[i] *= 1e3 / binw;
		for (size_t l = 0; l < nl; l++) {
			ls[l].w[i] *= 1e3 / binw;
			stack += ls[l].w[i];
		}
		if (host[i] > maxw)
			maxw = host[i];
		if (stack > maxw)
			maxw = stack;
	}
	f.ymax = maxw > 0 ? nice_step(maxw * 1.05) * ceil(maxw * 1.05 / nice_step(maxw * 1.05)) : 1;

	fmt_energy(e, sizeof(e), o->energy_uj);
	fmt_carbon(c, sizeof(c), o->carbon_ug);
	textbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:joule=\"urn:joule:plot\" version=\"1.1\" "
		       "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, sans-serif\">\n",
		       W, H, W, H);
	textbuf_printf(&b, "<metadata><joule:totals energy_uj=\"%llu\" carbon_ug=\"%llu\" host_energy_uj=\"%llu\" "
		       "start_ns=\"%llu\" end_ns=\"%llu\"/></metadata>\n",
		       (unsigned long long)o->energy_uj, (unsigned long long)o->carbon_ug, (unsigned long long)host_uj,
		       (unsigned long long)t0, (unsigned long long)t1);
	textbuf_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
	textbuf_printf(&b, "<text class=\"title\" x=\"%.1f\" y=\"24\" font-size=\"16\" font-weight=\"bold\" fill=\"#202020\">",
		       f.x0);
	{
		/* a long command is cut, never the totals: about 0.6 em a character at 16 px */
		size_t room = (size_t)((W - f.x0 - 8) / 9.6), tail = strlen(e) + strlen(c) + 4;
		const char *t = o->title ? o->title : "joule";
		char cut[512];

		snprintf(cut, sizeof(cut), "%s", t);
		if (room > tail + 8 && strlen(cut) > room - tail)
			snprintf(cut + room - tail - 3, sizeof(cut) - (room - tail - 3), "...");
		put_text(&b, cut);
		textbuf_printf(&b, ": %s, %s</text>\n", e, c);
	}
	{
		char start[32];
		time_t ts = (time_t)(t0 / 1000000000ull);
		struct tm tm;

		gmtime_r(&ts, &tm);
		strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fmt_energy(e, sizeof(e), host_uj);
		textbuf_printf(&b, "<text class=\"subtitle\" x=\"%.1f\" y=\"44\" font-size=\"12\" fill=\"#505050\">"
			       "power stacked by process from %s over %.1f s; host %s (line)",
			       f.x0, start, (double)(t1 - t0) / 1e9, e);
		if (o->source) {
			textbuf_printf(&b, "; source ");
			put_text(&b, o->source);
			if (!strcmp(o->source, "model"))
				textbuf_printf(&b, " (estimated from CPU use, not measured)");
		}
		textbuf_printf(&b, "</text>\n");
	}
	put_axes(&b, &f, t1 - t0);
	/* host behind: its whole area pale, its outline dark; the gap above the stack is other processes */
	textbuf_printf(&b, "<path class=\"host\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.1f %.1f", PLOT_COLOR_HOST,
		       PLOT_COLOR_HOST_LINE, fx(&f, 0), fy(&f, 0));
	for (size_t i = 0; i < f.nbins; i++)
		textbuf_printf(&b, "L%.1f %.1fL%.1f %.1f", fx(&f, i), fy(&f, host[i]), fx(&f, i + 1), fy(&f, host[i]));
	textbuf_printf(&b, "L%.1f %.1fZ\"><title>host</title></path>\n", fx(&f, f.nbins), fy(&f, 0));
	for (size_t l = 0; l < nl; l++) {
		put_area(&b, &f, &ls[l], base);
		for (size_t i = 0; i < f.nbins; i++)
			base[i] += ls[l].w[i];
	}
	ls[nl] = (struct layer){ .label = "host", .color = PLOT_COLOR_HOST, .cls = "host", .key = "host",
				 .total_uj = host_uj };
	put_legend(&b, &f, ls, nl + 1);
	textbuf_printf(&b, "</svg>\n");
	if (b.oom)
		goto out;
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	err = 0;
out:
	free(b.p);
	free(order);
	free(ls);
	free(mem);
	free(names);
	free(colors);
	return err;
}

int plot_html_render(const struct plot *p, const struct plot_opts *o, char **out, size_t *len)
{
	struct textbuf b = { 0 };
	char *svg = NULL;
	size_t n = 0;
	const char *at;
	int err = plot_svg_render(p, o, &svg, &n);

	if (err)
		return err;
	/* inline SVG in HTML takes no XML declaration: the page starts at <svg */
	at = strstr(svg, "<svg");
	textbuf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	put_text(&b, o->title && o->title[0] ? o->title : "joule plot");
	textbuf_printf(&b, "</title>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		       "</head>\n<body style=\"margin:0;background:#fff\">\n%s\n</body>\n</html>\n", at ? at : svg);
	free(svg);
	if (b.oom) {
		textbuf_free(&b);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
