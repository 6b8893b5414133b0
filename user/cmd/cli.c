// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one option parser of every subcommand: getopt_long built from the config key table and the command's own options. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/carbon.h"
#include "joule/cli.h"
#include "joule/log.h"
#include "joule/util.h"

static const struct cli_command *const *commands;
static size_t ncommands;

void cli_register(const struct cli_command *const *cmds, size_t n)
{
	commands = cmds;
	ncommands = n;
}

const struct cli_command *const *cli_table(size_t *n)
{
	*n = ncommands;
	return commands;
}

const struct cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/* Optimal string alignment distance: a swapped pair ("rnu") costs one edit, as a typist makes it. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][65], *prev2 = d[0], *prev = d[1], *cur = d[2];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t best = sub < del ? sub : del;

			best = best < ins ? best : ins;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

/* Close enough to be a typo: one edit in a short word, two in a longer one. */
static bool near(const char *typed, const char *name)
{
	size_t n = strlen(typed), limit = n <= 4 ? 1 : 2;

	return edit_distance(typed, name) <= limit;
}

const struct cli_command *cli_suggest(const char *name)
{
	const struct cli_command *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < ncommands; i++) {
		size_t d = edit_distance(name, commands[i]->name);

		if (near(name, commands[i]->name) && d < best_d) {
			best = commands[i];
			best_d = d;
		}
	}
	return best;
}

/* ---- the option list of one command: its config keys, its own options, --help */

int cli_opts_build(const struct cli_command *cmd, struct cli_optlist *l)
{
	size_t nown = 0, nkeys = config_key_count();

	while (cmd->opts && cmd->opts[nown].name)
		nown++;
	l->v = calloc(nkeys + nown + 1, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	l->n = 0;
	/* the command's own options first: they are what its --help leads with */
	for (size_t i = 0; i < nown; i++) {
		const struct cli_opt *o = &cmd->opts[i];

		l->v[l->n++] = (struct cli_optent){ .name = o->name, .short_opt = o->short_opt,
						    .takes_value = o->takes_value, .metavar = o->metavar,
						    .help = o->help, .dflt = o->dflt, .repeatable = o->repeatable,
						    .accepted = o->accepted, .own = o };
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct config_key_doc k;

		config_key_doc(i, &k);
		if (!(k.scope & cmd->scope))
			continue;
		l->v[l->n++] = (struct cli_optent){ .name = k.name, .short_opt = k.short_opt,
						    .takes_value = k.takes_value, .metavar = k.metavar,
						    .help = k.help, .unit = k.unit, .dflt = k.dflt,
						    .accepted = k.accepted,
						    .repeatable = k.repeatable, .is_key = true };
	}
	l->v[l->n++] = (struct cli_optent){ .name = "help", .short_opt = 'h', .help = "show this help and exit",
					    .is_help = true };
	return 0;
}

void cli_opts_free(struct cli_optlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- messages for a bad option */

/* The command (other than cmd) that has this option, long name or short letter. */
static const struct cli_command *owner_of(const struct cli_command *cmd, const char *name, char short_opt)
{
	for (size_t i = 0; i < ncommands; i++) {
		const struct cli_command *o = commands[i];
		struct cli_optlist l;
		bool found = false;

		if (o == cmd || o->own_parser)
			continue;
		if (cli_opts_build(o, &l))
			return NULL;
		for (size_t j = 0; j < l.n && !found; j++)
			found = name ? strcmp(l.v[j].name, name) == 0 : l.v[j].short_opt == short_opt;
		cli_opts_free(&l);
		if (found)
			return o;
	}
	return NULL;
}

static void bad_long_option(const struct cli_command *cmd, const struct cli_optlist *l, const char *arg)
{
	char name[64];
	const struct cli_command *other;
	const char *best = NULL;
	size_t nprefix = 0, best_d = SIZE_MAX;

	snprintf(name, sizeof(name), "%s", arg + 2);
	name[strcspn(name, "=")] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		size_t d = edit_distance(name, l->v[i].name);

		if (strncmp(l->v[i].name, name, strlen(name)) == 0)
			nprefix++;
		if (near(name, l->v[i].name) && d < best_d) {
			best = l->v[i].name;
			best_d = d;
		}
	}
	if (nprefix > 1) {
		fprintf(stderr, "joule: option '--%s' is ambiguous; it could be", name);
		for (size_t i = 0, k = 0; i < l->n; i++)
			if (strncmp(l->v[i].name, name, strlen(name)) == 0)
				fprintf(stderr, "%s --%s", k++ ? "," : "", l->v[i].name);
		fprintf(stderr, "\n");
		return;
	}
	other = owner_of(cmd, name, 0);
	if (other)
		fprintf(stderr, "joule: unknown option '--%s': it is an option of 'joule %s', not of 'joule %s' "
				"(see joule %s --help)\n", name, other->name, cmd->name, cmd->name);
	else if (best)
		fprintf(stderr, "joule: unknown option '--%s'; did you mean '--%s'? (see joule %s --help)\n", name,
			best, cmd->name);
	else
		fprintf(stderr, "joule: unknown option '--%s' (see joule %s --help)\n", name, cmd->name);
}

static void bad_short_option(const struct cli_command *cmd, char c)
{
	const struct cli_command *other = owner_of(cmd, NULL, c);

	if (other)
		fprintf(stderr, "joule: unknown option '-%c': it is an option of 'joule %s', not of 'joule %s' "
				"(see joule %s --help)\n", c, other->name, cmd->name, cmd->name);
	else
		fprintf(stderr, "joule: unknown option '-%c' (see joule %s --help)\n", c, cmd->name);
}

static const struct cli_optent *by_short(const struct cli_optlist *l, int c)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].short_opt && l->v[i].short_opt == c)
			return &l->v[i];
	return NULL;
}

/* ---- the parse */

struct key_value {
	const char *key, *value;
};

/* The file --config names first, then the flags in their order: options win over the file. */
static int apply_keys(const struct cli_command *cmd, struct joule_config *cfg, const struct key_value *kv, size_t n)
{
	const char *file = NULL;
	char err[512];

	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, "config") == 0)
			file = kv[i].value;
	if (file && config_load_file(cfg, file, err, sizeof(err))) {
		fprintf(stderr, "joule: %s\n", err);
		return EXIT_USAGE;
	}
	/*
	 * A config file run shares with the daemon names the daemon's ledger; a
	 * run appending to it would interleave two chains. Only a --ledger on
	 * the command line gives a run a ledger.
	 */
	if (file && !(cmd->scope & CONFIG_DAEMON) && cfg->ledger) {
		log_info("%s: ignoring ledger = %s (the daemon's; give run --ledger FILE)", file, cfg->ledger);
		free(cfg->ledger);
		cfg->ledger = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (config_set(cfg, kv[i].key, kv[i].value, err, sizeof(err))) {
			fprintf(stderr, "joule: %s\n", err);
			return EXIT_USAGE;
		}
	}
	return CLI_CONTINUE;
}

/*
 * Short options in getopt's notation: "+:" ('+' stops at the first operand, so
 * run's CMD keeps its own options; ':' reports a missing value). An
 * interleaved command lets getopt move operands after the options instead.
 */
static void build_shorts(const struct cli_optlist *l, bool interleaved, char *buf, size_t len)
{
	size_t n = 0;

	if (!interleaved)
		buf[n++] = '+';
	buf[n++] = ':';
	for (size_t i = 0; i < l->n && n + 2 < len; i++) {
		if (!l->v[i].short_opt)
			continue;
		buf[n++] = l->v[i].short_opt;
		if (l->v[i].takes_value)
			buf[n++] = ':';
	}
	buf[n] = '\0';
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct joule_config *cfg, cli_opt_fn fn,
	      void *ctx, int *idx)
{
	struct cli_optlist l;
	struct option *lo = NULL;
	struct key_value *kv = NULL;
	size_t nkv = 0;
	char shorts[64];
	int c, rc = CLI_CONTINUE;

	if (cli_opts_build(cmd, &l))
		return 1;
	lo = calloc(l.n + 1, sizeof(*lo));
	kv = calloc((size_t)argc + 1, sizeof(*kv));
	if (!lo || !kv) {
		log_err("failed to parse options: %s", strerror(ENOMEM));
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		/* a key without a value (json, verbose) still takes --json=false and --verbose=2 */
		int has = l.v[i].takes_value ? required_argument : l.v[i].is_key ? optional_argument : no_argument;

		lo[i] = (struct option){ l.v[i].name, has, NULL, 256 + (int)i };
	}
	build_shorts(&l, cmd->interleaved, shorts, sizeof(shorts));
	optind = 0; /* glibc: 0 starts a fresh scan (the daemon parses again on SIGHUP) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct cli_optent *e;

		if (c == '?') {
			if (optopt >= 256)
				fprintf(stderr, "joule: option '--%s' takes no value (see joule %s --help)\n",
					l.v[optopt - 256].name, cmd->name);
			else if (optopt)
				bad_short_option(cmd, (char)optopt);
			else
				bad_long_option(cmd, &l, argv[optind - 1]);
			rc = EXIT_USAGE;
			goto out;
		}
		if (c == ':') {
			e = optopt >= 256 ? &l.v[optopt - 256] : by_short(&l, optopt);
			fprintf(stderr, "joule: option '--%s' needs a value%s%s (see joule %s --help)\n",
				e ? e->name : "?", e && e->metavar ? " " : "", e && e->metavar ? e->metavar : "",
				cmd->name);
			rc = EXIT_USAGE;
			goto out;
		}
		e = c >= 256 ? &l.v[c - 256] : by_short(&l, c);
		if (!e)
			continue;
		if (e->is_help) {
			cli_print_help(stdout, cmd);
			rc = 0;
			goto out;
		}
		if (e->is_key) {
			kv[nkv++] = (struct key_value){ e->name, optarg };
			continue;
		}
		if (!fn || fn(ctx, e->own, optarg)) {
			rc = EXIT_USAGE;
			goto out;
		}
	}
	*idx = optind;
	rc = apply_keys(cmd, cfg, kv, nkv);
	/* "--zone list" prints the zone table instead of measuring */
	if (rc == CLI_CONTINUE && cfg->zone && strcmp(cfg->zone, "list") == 0) {
		carbon_list_zones(stdout);
		rc = 0;
	}
	log_level = cfg->verbose >= 2 ? LOG_LVL_DEBUG : cfg->verbose == 1 ? LOG_LVL_INFO : LOG_LVL_WARN;
out:
	free(kv);
	free(lo);
	cli_opts_free(&l);
	return rc;
}
