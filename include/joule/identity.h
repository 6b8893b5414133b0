/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Workload identity: a process's cgroup resolved once per cgroup (cached) to unit, container, pod and job names. */
#ifndef JOULE_IDENTITY_H
#define JOULE_IDENTITY_H

#include <stdint.h>
#include "joule/labels.h"

/* Where each runtime keeps its state; NULL: the default shown. */
struct identity_opts {
	const char *proc_root;		  /* /proc */
	const char *docker_root;	  /* /var/lib/docker: containers/<id>/config.v2.json */
	const char *storage_root;	  /* /var/lib/containers/storage: overlay-containers/containers.json (Podman, CRI-O) */
	const char *pod_logs_root;	  /* /var/log/pods: <namespace>_<pod>_<uid>/<container>/ */
	const char *container_logs_root;  /* /var/log/containers: <pod>_<namespace>_<container>-<id>.log */
};

struct identity;

int identity_open(struct identity **out, const struct identity_opts *o); /* 0 or -ENOMEM */
void identity_close(struct identity *id);

/* The labels of pid now (struct store_cfg's labeler; ctx is a struct identity). 0 or -errno (-ENOENT: gone). */
int identity_label(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out);
/*
 * Re-check a process that ran this tick (struct store_cfg's relabel): 1 and
 * *l updated when its cgroup now names another group, 0 when not (or when
 * it is gone).
 */
int identity_refresh(void *ctx, uint32_t pid, const char *comm, struct proc_labels *l);

/* This host's identity: hostname, /etc/machine-id, the kernel's boot id (each "" when unreadable). */
void identity_host_read(struct host_identity *out);

/*
 * Pure parts, exposed for tests and fuzzing. Each fills what it finds in *l
 * and returns 0, or -EINVAL for text that is not the runtime's format.
 */
int identity_parse_docker_config(const char *json, size_t len, struct proc_labels *l);
int identity_parse_storage_containers(const char *json, size_t len, const char *id, struct proc_labels *l);
/* "<namespace>_<pod>_<uid>" (a /var/log/pods entry) for this uid. */
int identity_parse_pod_dir(const char *name, const char *uid, struct proc_labels *l);
/* "<pod>_<namespace>_<container>-<id>.log" (a /var/log/containers entry) for this container id. */
int identity_parse_container_log(const char *name, const char *id, struct proc_labels *l);

#endif /* JOULE_IDENTITY_H */
