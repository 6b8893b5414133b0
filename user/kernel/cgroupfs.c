// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The cgroup v2 (unified) hierarchy: a process's path in it from /proc, and the processes of a subtree from cgroup.procs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "joule/cgroupfs.h"
#include "joule/util.h"

int cgroupfs_parse_v2(const char *text, size_t len, char *path, size_t pathlen)
{
	const char *end = text + len, *line = text;

	/* "0::/path" is the unified hierarchy's line; the v1 lines of a hybrid host name other hierarchies */
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)((nl ? nl : end) - line);

		if (n >= 4 && memcmp(line, "0::/", 4) == 0) {
			if (n - 3 >= pathlen)
				return -ENAMETOOLONG;
			memcpy(path, line + 3, n - 3);
			path[n - 3] = '\0';
			return 0;
		}
		line += n + 1;
	}
	return -EOPNOTSUPP;
}

int cgroupfs_process_path(uint32_t pid, char *path, size_t pathlen)
{
	char file[64], buf[16384];	/* a hybrid host lists every v1 hierarchy before the unified line */
	int r;

	snprintf(file, sizeof(file), "/proc/%u/cgroup", pid);
	r = read_file(file, buf, sizeof(buf));
	if (r < 0)
		return r;
	return cgroupfs_parse_v2(buf, (size_t)r, path, pathlen);
}

/* Where the unified hierarchy is mounted, and which of its paths is that mount's root; read once. */
static struct {
	pthread_once_t once;
	char dir[PATH_MAX], root[PATH_MAX];
	bool found;
} v2 = { .once = PTHREAD_ONCE_INIT };

static void find_v2_mount(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[2 * PATH_MAX], root[PATH_MAX], dir[PATH_MAX];

	/* "36 25 0:30 / /sys/fs/cgroup/unified rw,... - cgroup2 cgroup2 rw" */
	while (f && !v2.found && fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - cgroup2 ");

		if (dash && sscanf(line, "%*s %*s %*s %4095s %4095s", root, dir) == 2) {
			snprintf(v2.root, sizeof(v2.root), "%s", strcmp(root, "/") ? root : "");
			snprintf(v2.dir, sizeof(v2.dir), "%s", dir);
			v2.found = true;
		}
	}
	if (f)
		fclose(f);
}

/* Append the pids of dirfd's cgroup.procs and of every cgroup below it to *v; depth bounds a deep tree. */
static int read_procs(int dirfd, int depth, size_t max, uint32_t **v, size_t *n, size_t *cap)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	unsigned long pid;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (!f) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (*n < max && fscanf(f, "%lu", &pid) == 1) {
		if (array_reserve(v, cap, *n + 1, sizeof(**v), 64)) {
			rc = -ENOMEM;	/* a partial list would undercount: say so instead */
			break;
		}
		(*v)[(*n)++] = (uint32_t)pid;
	}
	fclose(f);
	if (rc || depth >= 32)
		return rc;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!rc && (e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.') {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			/* a child cgroup removed meanwhile has no processes to count */
			if (sub >= 0) {
				if (read_procs(sub, depth + 1, max, v, n, cap) == -ENOMEM)
					rc = -ENOMEM;
				close(sub);
			}
		}
	closedir(d);
	return rc;
}

int cgroupfs_pids(const char *cgroup, size_t max, uint32_t **pids, size_t *n)
{
	char dir[2 * PATH_MAX];
	size_t cap = 0, rl;
	int fd, rc;

	pthread_once(&v2.once, find_v2_mount);
	*pids = NULL;
	*n = 0;
	if (!v2.found)
		return -EOPNOTSUPP;
	/* a path outside this mount's root (another cgroup namespace) is not ours to read */
	rl = strlen(v2.root);
	if (strncmp(cgroup, v2.root, rl) != 0 || (cgroup[rl] != '/' && cgroup[rl] != '\0') || strstr(cgroup, "/.."))
		return -EACCES;
	snprintf(dir, sizeof(dir), "%s%s", v2.dir, cgroup + rl);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	rc = read_procs(fd, 0, max, pids, n, &cap);
	close(fd);
	if (rc) {
		free(*pids);
		*pids = NULL;
		*n = 0;
	}
	return rc;
}
