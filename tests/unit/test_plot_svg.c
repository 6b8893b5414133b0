// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: the stacked power SVG (series, rest, idle, host, title totals, escaping) and the shared palette. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "joule/plot_svg.h"
#include "unit/testlib.h"

#define S 1000000000ull
#define T0 (1700000000ull * S)

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ten 1 s host spans of 10 J (2 J idle) and nkeys series of (k+1) J per span */
static struct plot *plot_of(size_t nkeys, const char *const *names)
{
	struct plot *p = NULL;

	assert_int_equal(plot_new(&p), 0);
	for (uint64_t t = 0; t < 10; t++) {
		assert_int_equal(plot_add_host(p, T0 + t * S, T0 + (t + 1) * S, 10000000, 2000000), 0);
		for (size_t k = 0; k < nkeys; k++) {
			char key[16];

			snprintf(key, sizeof(key), "%zu", k + 100);
			assert_int_equal(plot_add(p, key, names[k], NULL, T0 + t * S, T0 + (t + 1) * S, (k + 1) * 100000), 0);
		}
	}
	return p;
}

/* p rendered with o, then freed: the SVG, which the caller frees. */
static char *render(struct plot *p, const struct plot_opts *o)
{
	char *svg = NULL;
	size_t len = 0;

	assert_int_equal(plot_svg_render(p, o, &svg, &len), 0);
	assert_int_equal(strlen(svg), len);
	plot_free(p);
	return svg;
}

/* plot_of() one series called name, rendered with o. */
static char *render_one(const char *name, const struct plot_opts *o)
{
	const char *names[] = { name };

	return render(plot_of(1, names), o);
}

static void test_plot_name_hash_when_known_inputs_is_fnv1a(void **state)
{
	static const struct {
		const char *in;
		uint32_t want;
	} cases[] = {
		{ "", 2166136261u },
		{ "a", 0xe40c292cu },
		{ "foobar", 0xbf9cf968u },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_true(plot_name_hash(cases[i].in) == cases[i].want);
}

static void test_plot_assign_colors_when_fewer_names_than_colours_gives_each_its_own(void **state)
{
	const char *names[PLOT_PALETTE_LEN] = { "make", "cc1", "as", "ld", "bash", "sh", "python3", "stress-ng",
						"sleep", "joule", "nginx", "postgres" };
	unsigned idx[PLOT_PALETTE_LEN];
	bool seen[PLOT_PALETTE_LEN] = { 0 };

	plot_assign_colors(names, PLOT_PALETTE_LEN, idx);
	for (size_t i = 0; i < PLOT_PALETTE_LEN; i++) {
		assert_true(idx[i] < PLOT_PALETTE_LEN);
		assert_false(seen[idx[i]]);
		seen[idx[i]] = true;
	}
	/* the first name always gets its hash's own slot: the same colour on the page and in every SVG */
	assert_int_equal(idx[0], plot_name_hash("make") % PLOT_PALETTE_LEN);
}

static void test_plot_assign_colors_when_same_name_twice_gives_the_second_the_next_slot(void **state)
{
	const char *names[] = { "cc1", "cc1" };
	unsigned idx[2];

	plot_assign_colors(names, 2, idx);
	assert_int_equal(idx[1], (idx[0] + 1) % PLOT_PALETTE_LEN);
}

static void test_plot_svg_render_when_no_host_span_is_enodata(void **state)
{
	struct plot *p = NULL;
	struct plot_opts o = { .title = "t" };
	char *svg = NULL;
	size_t len;

	assert_int_equal(plot_new(&p), 0);
	assert_int_equal(plot_add(p, "1", "a", NULL, T0, T0 + S, 5), 0);
	assert_int_equal(plot_svg_render(p, &o, &svg, &len), -ENODATA);
	assert_null(svg);
	plot_free(p);
}

static void test_plot_add_when_span_is_empty_is_einval(void **state)
{
	struct plot *p = NULL;

	assert_int_equal(plot_new(&p), 0);
	assert_int_equal(plot_add_host(p, T0, T0, 1, 0), -EINVAL);
	assert_int_equal(plot_add(p, "1", "a", NULL, T0 + S, T0, 1), -EINVAL);
	plot_free(p);
}

static void test_plot_svg_render_when_more_series_than_top_n_groups_the_rest(void **state)
{
	const char *names[] = { "a", "b", "c", "d", "e" };
	struct plot_opts o = { .title = "joule run: x", .energy_uj = 15000000, .carbon_ug = 1234567, .top_n = 3 };
	char *svg = render(plot_of(5, names), &o);

	assert_int_equal(count(svg, "<path class=\"series\""), 3);
	assert_int_equal(count(svg, "<path class=\"rest\""), 1);
	assert_int_equal(count(svg, "<path class=\"idle\""), 1);
	assert_int_equal(count(svg, "<path class=\"host\""), 1);
	/* the largest first: e (5 J per span), d, c; a and b are the rest (3 J in all) */
	assert_non_null(strstr(svg, "data-key=\"104\""));
	assert_null(strstr(svg, "data-key=\"100\""));
	assert_non_null(strstr(svg, "rest (3 J)"));
	free(svg);
}

static void test_plot_svg_render_when_totals_given_states_them_in_title_and_metadata(void **state)
{
	struct plot_opts o = { .title = "joule run: x", .energy_uj = 1500000, .carbon_ug = 2500000 };
	char *svg = render_one("a", &o);

	assert_non_null(strstr(svg, "joule run: x: 1.5 J, 2.5 g CO2e</text>"));
	assert_non_null(strstr(svg, "energy_uj=\"1500000\" carbon_ug=\"2500000\" host_energy_uj=\"100000000\""));
	free(svg);
}

static void test_plot_svg_render_when_name_has_markup_and_bytes_escapes_them(void **state)
{
	struct plot_opts o = { .title = "t<&>" };
	char *svg = render_one("<a&\"b'>\x1b\xff", &o);

	assert_non_null(strstr(svg, "&lt;a&amp;&quot;b&apos;&gt;??"));
	assert_non_null(strstr(svg, "t&lt;&amp;&gt;"));
	assert_null(strstr(svg, "<a&"));
	free(svg);
}

static void test_plot_svg_render_when_title_is_long_cuts_it_and_keeps_the_totals(void **state)
{
	char title[300];
	struct plot_opts o = { .title = title, .energy_uj = 1500000, .carbon_ug = 2500000 };
	char *svg;

	memset(title, 'x', sizeof(title) - 1);
	title[sizeof(title) - 1] = '\0';
	svg = render_one("a", &o);
	assert_non_null(strstr(svg, "x...: 1.5 J, 2.5 g CO2e</text>"));
	assert_null(strstr(svg, title));
	free(svg);
}

static void test_plot_svg_render_when_label_given_names_the_series_by_it(void **state)
{
	struct plot *p = NULL;
	struct plot_opts o = { .title = "t" };
	char *svg;

	assert_int_equal(plot_new(&p), 0);
	assert_int_equal(plot_add_host(p, T0, T0 + S, 10, 0), 0);
	assert_int_equal(plot_add(p, "42:7", "sh", "sh [42]", T0, T0 + S, 5), 0);
	svg = render(p, &o);
	assert_non_null(strstr(svg, "<title>sh [42]</title>"));
	free(svg);
}

static void test_plot_svg_render_when_source_is_model_says_it_is_estimated(void **state)
{
	struct plot_opts o = { .title = "t", .source = "model" };
	char *svg = render_one("a", &o);

	assert_non_null(strstr(svg, "source model (estimated from CPU use, not measured)"));
	free(svg);
}

static void test_plot_svg_render_when_series_colours_follows_the_palette(void **state)
{
	struct plot_opts o = { .title = "t" };
	char want[64];
	char *svg = render_one("stress-ng", &o);

	snprintf(want, sizeof(want), "fill=\"%s\"", plot_palette[plot_name_hash("stress-ng") % PLOT_PALETTE_LEN]);
	assert_non_null(strstr(svg, want));
	free(svg);
}

/* The page holds the SVG itself from <svg on, and a title escaped like the SVG's text (markup and control bytes). */
static void test_plot_html_render_when_title_has_markup_wraps_the_same_svg_in_a_page(void **state)
{
	const char *names[] = { "make" };
	struct plot_opts o = { .title = "joule run: a<b & \"c\"\x1b[2J" };
	char *svg = render(plot_of(1, names), &o), *page = NULL;
	struct plot *p = plot_of(1, names);
	size_t len = 0;

	(void)state;
	assert_int_equal(plot_html_render(p, &o, &page, &len), 0);
	plot_free(p);
	assert_int_equal(strlen(page), len);
	assert_true(strncmp(page, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(page, "<title>joule run: a&lt;b &amp; &quot;c&quot;?[2J</title>"));
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "<?xml"));
	assert_non_null(strstr(page, strstr(svg, "<svg")));	/* the picture, byte for byte */
	free(svg);
	free(page);
}

TL_MAIN(
	cmocka_unit_test(test_plot_name_hash_when_known_inputs_is_fnv1a),
	cmocka_unit_test(test_plot_assign_colors_when_fewer_names_than_colours_gives_each_its_own),
	cmocka_unit_test(test_plot_assign_colors_when_same_name_twice_gives_the_second_the_next_slot),
	cmocka_unit_test(test_plot_svg_render_when_no_host_span_is_enodata),
	cmocka_unit_test(test_plot_add_when_span_is_empty_is_einval),
	cmocka_unit_test(test_plot_svg_render_when_more_series_than_top_n_groups_the_rest),
	cmocka_unit_test(test_plot_svg_render_when_totals_given_states_them_in_title_and_metadata),
	cmocka_unit_test(test_plot_svg_render_when_name_has_markup_and_bytes_escapes_them),
	cmocka_unit_test(test_plot_svg_render_when_title_is_long_cuts_it_and_keeps_the_totals),
	cmocka_unit_test(test_plot_svg_render_when_label_given_names_the_series_by_it),
	cmocka_unit_test(test_plot_svg_render_when_source_is_model_says_it_is_estimated),
	cmocka_unit_test(test_plot_svg_render_when_series_colours_follows_the_palette),
	cmocka_unit_test(test_plot_html_render_when_title_has_markup_wraps_the_same_svg_in_a_page)
)
