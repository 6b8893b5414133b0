/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The subcommands main.c's table dispatches to: each one's options, help and entry point. */
#ifndef JOULE_COMMANDS_H
#define JOULE_COMMANDS_H

#include "joule/cli.h"

extern const struct cli_command cmd_run_def;	/* run.c */
extern const struct cli_command cmd_trace_def;	/* trace.c */
extern const struct cli_command cmd_top_def;	/* trace.c */
extern const struct cli_command cmd_probe_def;	/* probe.c */
extern const struct cli_command cmd_daemon_def;	/* daemon.c */
extern const struct cli_command cmd_span_def;	/* span_cli.c */

/* joule ledger (ledger_cli.c): its entry point, and verify, head, show and keygen for the help. */
int cmd_ledger(int argc, char **argv);
extern const struct cli_command *const ledger_subcommands[];

#endif /* JOULE_COMMANDS_H */
