/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The daemon's Unix socket (user/http/usock.c): bound with its mode and group, removed only while it is ours. http_socket_lock is in http.h. */
#ifndef JOULE_HTTP_USOCK_H
#define JOULE_HTTP_USOCK_H

#include <stdint.h>
#include <sys/types.h>

/* The socket file as bound: only this inode is ever removed. */
struct http_usock {
	char *path;
	dev_t dev;
	ino_t ino;
};

/*
 * Create (parent directory too), bind, chown to group and chmod the socket
 * at path; it never exists with a wider mode than asked. A stale socket is
 * replaced; anything else at path is refused. Returns the listening fd or
 * -errno, and fills own.
 */
int http_usock_listen(struct http_usock *own, const char *path, uint32_t mode, const char *group);

/* Remove the socket file if it is still the one bound (a successor may have replaced it), and forget it. */
void http_usock_unlink(struct http_usock *own);

#endif /* JOULE_HTTP_USOCK_H */
