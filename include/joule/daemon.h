/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `joule daemon`: sampling, store, ledger and the HTTP API in one long-running process under systemd. */
#ifndef JOULE_DAEMON_H
#define JOULE_DAEMON_H

/* Where the daemon serves its API on a Unix socket unless --socket says otherwise (joule span's default too). */
#define DAEMON_DEFAULT_SOCKET "/run/joule/joule.sock"

/*
 * argv[0] is "daemon". Reads --config F first, then the flags (flags win).
 * Returns 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on a usage error.
 */
int cmd_daemon(int argc, char **argv);

/*
 * Write text and a newline to path whole or not at all (tmp + rename),
 * never through a planted link (also `joule fleet serve`'s ready file).
 * 0 or -errno, logged.
 */
int daemon_write_ready_file(const char *path, const char *text);

#endif /* JOULE_DAEMON_H */
