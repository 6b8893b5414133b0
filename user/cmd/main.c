// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* joule's entry point: dispatch through the command table (commands.c), help and version, and a "did you mean" for a mistyped command. */
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/log.h"

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
	cli_register(joule_commands, joule_ncommands);
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
