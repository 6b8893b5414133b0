/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The command table (commands.c) main.c dispatches through, and the entry points it names. */
#ifndef JOULE_COMMANDS_H
#define JOULE_COMMANDS_H

#include <stddef.h>
#include "joule/cli.h"

/* Every command, in the order 'joule help' lists them; main.c registers it. */
extern const struct cli_command *const joule_commands[];
extern const size_t joule_ncommands;

/* Each command's entry in the table: its own parse reads its options through it. */
extern const struct cli_command cmd_run_def, cmd_trace_def, cmd_top_def, cmd_probe_def, cmd_daemon_def,
	cmd_ledger_def, cmd_report_def, cmd_span_def, cmd_fleet_def;
/* joule ledger's subcommands (ledger_cli.c parses each with its own). */
extern const struct cli_command cmd_ledger_verify_def, cmd_ledger_head_def, cmd_ledger_show_def,
	cmd_ledger_keygen_def;

/* Entry points (argv[0] is the command's name) of the commands without a header of their own. */
int cmd_run(int argc, char **argv);			/* run.c */
int cmd_trace(int argc, char **argv);			/* trace.c */
int cmd_top(int argc, char **argv);			/* trace.c */
int cmd_probe(int argc, char **argv);			/* probe.c */
int cmd_span(int argc, char **argv);			/* span_cli.c */
int cmd_ledger(int argc, char **argv);			/* ledger_cli.c: verify, head, show, keygen */

#endif /* JOULE_COMMANDS_H */
