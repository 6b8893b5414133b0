// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule's entry point: the command table, help and version, and a "did you mean" for a mistyped command. */
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/fleet.h"
#include "joule/ledger.h"
#include "joule/log.h"
#include "joule/report_cli.h"

static const struct cli_example ledger_examples[] = {
	{ "joule ledger verify /var/lib/joule/ledger.jsonl*", "check a rotated series, oldest first" },
	{ "joule ledger show --comm postgres --since 2026-01-01T00:00:00Z ledger.jsonl", "one program's records" },
	{ 0 },
};

/* The ledger's subcommands parse their own options (ledger_cli.c); the table carries its synopsis. */
static const struct cli_command cmd_ledger_def = {
	.name = "ledger",
	.synopsis = "verify|head|show|keygen [OPTIONS] FILE...",
	.summary = "verify, read or sign a hash-chained ledger (joule ledger --help)",
	.description = "verify checks canonical form, hashes, chain links and signatures of a ledger (a rotated "
		       "series oldest first, plain or .gz) and names the first bad line; show prints its records "
		       "as a table or JSON; keygen writes an Ed25519 key for --ledger-key. 'joule ledger --help' "
		       "lists their options.",
	.examples = ledger_examples,
	.main = cmd_ledger,
	.own_parser = true,
	.subs = ledger_subcommands,
};

static const struct cli_example report_examples[] = {
	{ "joule report --from-ledger run.jsonl --format codecarbon -o emissions.csv", "append a CodeCarbon row" },
	{ "joule report --from-ledger /var/lib/joule/ledger.jsonl --window 1h --format boamps --boamps-input task.json",
	  "a BoAmps report of the last hour" },
	{ 0 },
};

/* joule report parses its own options (report_cli.c; report_set.c holds the report and push options run shares). */
static const struct cli_command cmd_report_def = {
	.name = "report",
	.synopsis = "--from-ledger FILE|--from-api SOCKET|URL [--window W] --format FORMAT [-o FILE] [--push URL ...]",
	.summary = "CodeCarbon, BoAmps, CSV, JSON or SCI reports and a Pushgateway push from a ledger or a daemon's API (joule report --help)",
	.description = "Builds a run summary from the records of a ledger (a joule run --ledger file or the daemon's) "
		       "over a window and writes it in one of the report formats, or pushes it to a Pushgateway. "
		       "'joule report --help' lists its options; docs/REPORTS.md shows every format.",
	.opts = report_cli_opts,
	.examples = report_examples,
	.main = cmd_report,
	.own_parser = true,
};

static const struct cli_command *const commands[] = {
	&cmd_run_def, &cmd_trace_def, &cmd_top_def, &cmd_probe_def, &cmd_daemon_def, &cmd_ledger_def,
	&cmd_report_def, &cmd_span_def, &cmd_fleet_def,
};

static int print_version(void)
{
	printf("joule %s (libbpf %s)\n", JOULE_VERSION, libbpf_version_string());
	return 0;
}

/* joule help [COMMAND | --man | --completion bash | --options-json] */
static int cmd_help(int argc, char **argv)
{
	const struct cli_command *c;

	if (argc < 2) {
		cli_print_commands(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--man")) {
		cli_print_man(stdout, JOULE_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--completion") && argc > 2 && !strcmp(argv[2], "bash")) {
		cli_print_bash_completion(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--options-json")) {
		cli_print_options_json(stdout);
		return 0;
	}
	c = cli_find(argv[1]);
	if (!c) {
		const struct cli_command *s = cli_suggest(argv[1]);

		fprintf(stderr, "joule: no command '%s'%s%s%s (see joule help)\n", argv[1], s ? "; did you mean '" : "",
			s ? s->name : "", s ? "'?" : "");
		return EXIT_USAGE;
	}
	if (c->own_parser) {
		char *sub[] = { argv[1], "--help", NULL };

		return c->main(2, sub);
	}
	cli_print_help(stdout, c);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	const struct cli_command *c;

	log_setup_libbpf();
	cli_register(commands, sizeof(commands) / sizeof(commands[0]));
	if (!name) {
		cli_print_commands(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h"))
		return cmd_help(argc - 1, argv + 1);
	if (!strcmp(name, "version") || !strcmp(name, "--version") || !strcmp(name, "-V"))
		return print_version();
	c = cli_find(name);
	if (c)
		return c->main(argc - 1, argv + 1);
	c = cli_suggest(name);
	if (c)
		fprintf(stderr, "joule: unknown command '%s'; did you mean '%s'? (see joule help)\n", name, c->name);
	else
		fprintf(stderr, "joule: unknown command '%s' (see joule help)\n", name);
	return EXIT_USAGE;
}
