/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Listen-address parsing, shared by config validation and the HTTP server. */
#ifndef JOULE_NETADDR_H
#define JOULE_NETADDR_H

#include <sys/socket.h>

/*
 * Parse a listen address: IPV4:PORT, [IPV6]:PORT, localhost:PORT
 * (127.0.0.1) or *:PORT (0.0.0.0); port 0..65535, 0 = any free port. No
 * name lookup. 0 or -EINVAL. Config validation and the server both use it,
 * so what passes the command line also binds.
 */
int netaddr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif /* JOULE_NETADDR_H */
