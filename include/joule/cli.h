/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One option parser for every subcommand (getopt_long over the config key table), and its help, man page and completion. */
#ifndef JOULE_CLI_H
#define JOULE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "joule/config.h"

#define EXIT_USAGE 2
/* cli_parse's "carry on": any other value is the exit status to return at once. */
#define CLI_CONTINUE (-1)

/* An option of one command that is not a config key (run -o, trace -c). */
struct cli_opt {
	const char *name;	/* long name, without dashes */
	char short_opt;		/* 0 if none */
	bool takes_value;
	const char *metavar;
	const char *help;
	const char *dflt;	/* NULL: no default worth naming */
	bool repeatable;
	const char *accepted;	/* "energy, cpu, pid, comm": the values completion offers (may be NULL) */
};

/*
 * The command's handler for its own options: 0, or -EINVAL after printing
 * one "joule: ..." line. val is NULL for an option without a value.
 */
typedef int (*cli_opt_fn)(void *ctx, const struct cli_opt *o, const char *val);

struct cli_example {
	const char *cmd;	/* "joule run -- make -j8" */
	const char *what;	/* what it shows */
};

/*
 * A command and everything its --help, man section and completion say. A
 * command that parses its own argv today (ledger verify/show/keygen) can adopt
 * the parser with a cli_command of its own: scope 0 (no config keys), its
 * options in opts, interleaved = true (options after FILE...), and
 * cli_parse(&def, argc, argv, &unused_cfg, handler, ctx, &idx); -h/--help,
 * "did you mean" and clear messages come with it.
 */
struct cli_command {
	const char *name;
	const char *synopsis;		/* after "joule NAME " */
	const char *summary;		/* one line for 'joule help' */
	const char *description;	/* a paragraph for CMD --help and the man page */
	unsigned scope;			/* CONFIG_* bit: the config keys it takes as flags */
	const struct cli_opt *opts;	/* its own options, NULL-name terminated (may be NULL) */
	const struct cli_example *examples; /* NULL-cmd terminated (may be NULL) */
	int (*main)(int argc, char **argv); /* argv[0] is the command's name */
	bool own_parser;		/* parses its own argv (ledger): help is its synopsis only */
	const struct cli_command *const *subs; /* own_parser with subcommands (ledger verify...): NULL-terminated,
						* each with its own options, for the man page and completion */
	bool interleaved;		/* options may follow operands (verify FILE --json); no "--" needed */
};

/* One option of a command as the parser and the help see it: a config key, an own option or --help. */
struct cli_optent {
	const char *name;
	char short_opt;
	bool takes_value;
	const char *metavar, *help, *unit, *dflt;
	const char *accepted;		/* config keys: what the value may be */
	bool repeatable, is_key, is_help;
	const struct cli_opt *own;	/* set for the command's own options */
};

struct cli_optlist {
	struct cli_optent *v;
	size_t n;
};

/* Every option cmd takes, own options first, then its config keys in table order, then --help. 0 or -ENOMEM. */
int cli_opts_build(const struct cli_command *cmd, struct cli_optlist *l);
void cli_opts_free(struct cli_optlist *l);

/* The command table, registered once by main(): "did you mean" and "belongs to" look in it. */
void cli_register(const struct cli_command *const *cmds, size_t n);
const struct cli_command *cli_find(const char *name);
const struct cli_command *const *cli_table(size_t *n);
/* The registered command nearest to a mistyped name, or NULL if none is close. */
const struct cli_command *cli_suggest(const char *name);

/*
 * Parse argv[1..] for cmd: config keys in its scope (applied after the file
 * --config names, so options win over the file), its own options (handed to
 * fn), -h/--help. Stops at "--" or the first operand (or, for an interleaved
 * command, moves the operands after the options); *idx is where. Prints
 * one clear message on a bad option. Returns CLI_CONTINUE, 0 after --help
 * (or --zone list, which prints the zone table), or EXIT_USAGE. Sets the log level from -v.
 */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct joule_config *cfg, cli_opt_fn fn,
	      void *ctx, int *idx);

/* `joule CMD --help`: synopsis, description, every option with its default and unit, examples. */
void cli_print_help(FILE *f, const struct cli_command *cmd);
/* `joule help`: the commands and their one-line summaries. */
void cli_print_commands(FILE *f);
/* The man page (roff), from the same tables as --help. */
void cli_print_man(FILE *f, const char *version);
/* bash completion script, from the same tables. */
void cli_print_bash_completion(FILE *f);
/* The option table as JSON, for the drift test and tools. */
void cli_print_options_json(FILE *f);

#endif /* JOULE_CLI_H */
