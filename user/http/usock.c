// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Unix socket: one daemon per socket (a lock beside it), created with its mode and group, removed only while ours. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "joule/http.h"
#include "joule/http_usock.h"
#include "joule/log.h"

/* Create the directory of path if missing (one level, mode 0755): /run/joule under a fresh /run. */
static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST) {
		log_err("failed to create %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove the socket file only while it is still the one we bound (a successor may have replaced it). */
void http_usock_unlink(struct http_usock *h)
{
	struct stat st;

	if (!h->path)
		return;
	if (lstat(h->path, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino)
		unlink(h->path);
	free(h->path);
	h->path = NULL;
}

/*
 * One daemon per socket: an flock on SOCKET.lock, held while serving. The
 * kernel drops it with the process, so a kill -9 leaves nothing that blocks
 * a restart. The holder's pid is written in the file for the error message.
 */
int http_socket_lock(const char *path)
{
	char lock[PATH_MAX], pid[32];
	int fd, err, n;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		log_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	if (mkdir_parent(lock))
		return -EIO;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err = -errno;
		log_err("failed to open %s: %s", lock, strerror(-err));
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		if (err == -EWOULDBLOCK) {
			n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			log_err("another joule daemon (pid %s) serves %s (lock %s)", pid[0] ? pid : "unknown", path, lock);
			err = -EBUSY;
		} else {
			log_err("failed to lock %s: %s", lock, strerror(-err));
		}
		close(fd);
		return err;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("failed to write the pid to %s: %s", lock, strerror(errno));
	return fd;
}

/* Create, bind, chmod and chown the Unix socket; it never exists with a wider mode than asked. */
int http_usock_listen(struct http_usock *h, const char *path, uint32_t mode, const char *group)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat stt;
	char dir[sizeof(a.sun_path)], *slash;
	int fd, err;

	if (strlen(path) >= sizeof(a.sun_path)) {
		log_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			err = -errno;
			log_err("failed to create %s: %s", dir, strerror(-err));
			return err;
		}
	}
	/* a stale socket from a previous run; anything that is not a socket is left alone */
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode)) {
			log_err("refusing to replace %s: not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		log_err("failed to create unix socket: %s", strerror(-err));
		return err;
	}
	/*
	 * Linux creates the socket file with the socket inode's mode minus the
	 * umask, so narrowing that inode first gives at most 0600 without
	 * touching the process-wide umask (the ledger thread creates files).
	 */
	if (fchmod(fd, 0600)) {
		err = -errno;
		log_err("failed to restrict unix socket %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	err = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	if (err) {
		log_err("failed to bind %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	if (group && group[0]) {
		struct group *gr = getgrnam(group);

		if (!gr)
			log_warn("group '%s' does not exist: %s keeps group %u", group, path, (unsigned)getegid());
		else if (chown(path, (uid_t)-1, gr->gr_gid))
			log_warn("failed to give %s to group %s: %s", path, group, strerror(errno));
	}
	if (lstat(path, &stt) == 0) {
		h->path = strdup(path);
		h->dev = stt.st_dev;
		h->ino = stt.st_ino;
	}
	if (chmod(path, (mode_t)(mode & 07777)) || listen(fd, 1024)) {
		err = -errno;
		log_err("failed to set up %s: %s", path, strerror(-err));
		close(fd);
		http_usock_unlink(h);
		return err;
	}
	return fd;
}
