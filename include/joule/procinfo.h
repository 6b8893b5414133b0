/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Process facts from /proc (comm, exe, cmdline, uid, cgroup) and the group label derived from the cgroup path. */
#ifndef JOULE_PROCINFO_H
#define JOULE_PROCINFO_H

#include <stddef.h>
#include <stdint.h>
#include "joule/labels.h"

struct procinfo {
	uint32_t pid;
	char comm[16];
	char exe[256];
	char cmdline[512];	/* NUL separators replaced by spaces */
	char cgroup[512];	/* the cgroup v2 path (or the systemd hierarchy's on v1) */
	struct proc_labels labels;
};


/*
 * Pure: derive labels from the text of /proc/PID/cgroup (len bytes, need not
 * be NUL-terminated) and the process's comm. Recognises systemd units
 * ("*.service"), Docker/containerd/CRI-O/Podman container ids, and
 * Kubernetes pod uids in both the cgroupfs ("pod<uid>") and systemd
 * ("pod<uid_with_underscores>.slice") forms. Falls back to comm. If path is
 * not NULL the selected cgroup path is copied there. Always returns 0.
 */
int procinfo_parse_cgroup(const char *text, size_t len, const char *comm, struct proc_labels *out,
			  char *path, size_t pathlen);

/* Read everything under proc_root (NULL: "/proc") for pid. 0 or -errno (-ENOENT: gone). */
int procinfo_read(const char *proc_root, uint32_t pid, struct procinfo *out);

/* The real uid from proc_root/PID/status. 0 or -errno (-ENOENT: gone). */
int procinfo_read_uid(const char *proc_root, uint32_t pid, uint32_t *uid);

/* Labels only, in the shape struct store_cfg's labeler wants; ctx is a proc root or NULL. */
int procinfo_label(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out);

#endif /* JOULE_PROCINFO_H */
