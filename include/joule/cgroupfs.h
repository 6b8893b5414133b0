/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The cgroup v2 (unified) hierarchy (user/kernel/cgroupfs.c): a process's path in it, and the processes of a subtree now. */
#ifndef JOULE_CGROUPFS_H
#define JOULE_CGROUPFS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Pure: the unified hierarchy's path ("0::/system.slice/x.service") from
 * the text of /proc/PID/cgroup (len bytes, need not be NUL-terminated) into
 * path. 0, -EOPNOTSUPP (no "0::" line: a v1-only host), -ENAMETOOLONG.
 */
int cgroupfs_parse_v2(const char *text, size_t len, char *path, size_t pathlen);

/* The same read from /proc/PID/cgroup now. 0, -ENOENT (gone), or as cgroupfs_parse_v2. */
int cgroupfs_process_path(uint32_t pid, char *path, size_t pathlen);

/*
 * The pids in cgroup (a v2 path) and in every cgroup below it, at most max,
 * now, from the kernel's cgroup.procs: a malloc'd array in *pids (free it).
 * 0, -ENOENT (gone), -EOPNOTSUPP (no cgroup2 mount), -EACCES (outside this
 * mount's root), -ENOMEM (a partial list would undercount), or -errno.
 */
int cgroupfs_pids(const char *cgroup, size_t max, uint32_t **pids, size_t *n);

#endif /* JOULE_CGROUPFS_H */
