/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `joule fleet serve|query` (user/cmd/fleet.c): the daemon's query API, and Carmen's and the agent's views, over a whole fleet through Prometheus. */
#ifndef JOULE_FLEET_H
#define JOULE_FLEET_H

#include "joule/cli.h"

/* argv[0] is "fleet". 0 ok, 1 runtime or upstream failure, 2 usage error. */
int cmd_fleet(int argc, char **argv);

#define FLEET_DEFAULT_LISTEN "127.0.0.1:9941"

/* serve and query in the command table (commands.c); fleet.c parses each with its own. */
extern const struct cli_command cmd_fleet_serve_def, cmd_fleet_query_def;

/* Their options (commands.c) by index, for fleet.c's handler: serve takes them all, query those from
 * FLEET_OPT_PROMETHEUS on. */
enum {
	FLEET_OPT_LISTEN,
	FLEET_OPT_READY,
	FLEET_OPT_WEB_CONFIG,
	FLEET_OPT_PROMETHEUS,
	FLEET_OPT_JOB,
	FLEET_OPT_TIMEOUT,
	FLEET_OPT_CA,
	FLEET_OPT_CERT,
	FLEET_OPT_KEY,
	FLEET_OPT_BEARER,
	FLEET_OPT_BASIC_USER,
	FLEET_OPT_BASIC_PASSWORD,
	FLEET_OPT_VERBOSE,
	FLEET_OPT_N,
};
extern const struct cli_opt fleet_cli_opts[FLEET_OPT_N + 1];

#endif /* JOULE_FLEET_H */
