// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz target: the config file parser (INI through the key table), the option parser over it, and the value parsers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/config.h"
#include "joule/topo.h"
#include "joule/util.h"

/* The input's lines as an argv for each command: getopt_long, suggestions, the key setters. */
static void fuzz_argv(char *s)
{
	static const struct cli_command *const cmds[] = { &cmd_run_def, &cmd_trace_def, &cmd_top_def,
							  &cmd_probe_def, &cmd_daemon_def };
	char *argv[18], *save = NULL;
	int argc = 1;

	cli_register(cmds, sizeof(cmds) / sizeof(cmds[0]));
	for (char *w = strtok_r(s, "\n", &save); w && argc < 17; w = strtok_r(NULL, "\n", &save)) {
		/* --config FILE would read a file the input names (/dev/zero never ends): not this target's job */
		if (strncmp(w, "--co", 4) == 0)
			continue;
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct joule_config c;
		int idx = 0, rc;

		/* trace's own options keep pointers into argv: no handler, so they are rejected as usage errors */
		argv[0] = (char *)cmds[i]->name;
		config_init(&c);
		rc = cli_parse(cmds[i], argc, argv, &c, NULL, NULL, &idx);
		if (rc == CLI_CONTINUE && (idx < 1 || idx > argc))
			abort(); /* where the options stop is inside argv */
		config_free(&c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct joule_config c;
	char err[256], *s;
	bool mask[64];
	uint64_t u;
	double d;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	config_init(&c);
	if (config_load_string(&c, s, "fuzz.conf", err, sizeof(err)) != 0 && !memchr(err, '\0', sizeof(err)))
		abort(); /* an error must always come with a terminated message */
	config_free(&c);

	(void)topo_parse_cpulist(s, mask, 64);
	(void)parse_duration_ns(s, &u);
	(void)parse_u64(s, &u);
	(void)parse_double(s, &d);
	fuzz_argv(s); /* last: it cuts s into words */
	free(s);
	return 0;
}
