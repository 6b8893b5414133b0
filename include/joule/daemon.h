/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `joule daemon`: sampling, store, ledger and the HTTP API in one long-running process under systemd. */
#ifndef JOULE_DAEMON_H
#define JOULE_DAEMON_H

/*
 * argv[0] is "daemon". Reads --config F first, then the flags (flags win).
 * Returns 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on a usage error.
 */
int cmd_daemon(int argc, char **argv);

#endif /* JOULE_DAEMON_H */
