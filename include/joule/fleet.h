/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `joule fleet serve|query` (user/cmd/fleet.c): the daemon's query API, and Carmen's and the agent's views, over a whole fleet through Prometheus. */
#ifndef JOULE_FLEET_H
#define JOULE_FLEET_H

#include "joule/cli.h"

/* argv[0] is "fleet". 0 ok, 1 runtime or upstream failure, 2 usage error. */
int cmd_fleet(int argc, char **argv);
/* serve and query, for the command table's help, man page and completion. */
extern const struct cli_command *const fleet_subcommands[];

#endif /* JOULE_FLEET_H */
