/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A process's group labels and workload identity (unit, container, pod, batch job or comm): what every output groups by. */
#ifndef JOULE_LABELS_H
#define JOULE_LABELS_H

#include <stdbool.h>
#include <stdint.h>

/* What a process is grouped by, most specific first: pod > container > job > unit > comm. */
enum group_kind { GROUP_COMM, GROUP_UNIT, GROUP_CONTAINER, GROUP_POD, GROUP_JOB };

#define PROC_GROUP_LEN 96

/*
 * Every name is "" when unknown: a process is labelled by what is known
 * (a container without its runtime's state keeps its id, a pod whose log
 * directory is missing keeps its uid).
 */
struct proc_labels {
	enum group_kind kind;
	char group[PROC_GROUP_LEN];	/* unit, container name (else id), namespace/pod (else pod uid), job id, or comm */
	char container[72];		/* container id when known (also inside a pod), else "" */
	uint32_t uid;			/* real uid; UINT32_MAX when unknown */
	char unit[PROC_GROUP_LEN];	/* systemd unit (*.service) */
	char slice[PROC_GROUP_LEN];	/* the innermost systemd slice (*.slice) */
	char runtime[12];		/* docker, containerd, crio, podman: from the cgroup name */
	char container_name[128];	/* from the runtime's state (Docker, Podman, CRI-O) or the kubelet's logs */
	char k8s_namespace[64];		/* Kubernetes namespace: a DNS label, at most 63 */
	char pod[128];			/* Kubernetes pod name */
	char pod_uid[40];
	char job_id[24];		/* Slurm job id */
	char job_user[33];		/* the Slurm job's user: name, else uid as digits */
};

/* Who this host is, so many hosts under one Prometheus never collide (read once by identity_host_read). */
struct host_identity {
	char hostname[256];
	char machine_id[40]; /* /etc/machine-id: stable across boots */
	char boot_id[40];    /* /proc/sys/kernel/random/boot_id: new each boot, so counters restarting are explained */
};

const char *group_kind_name(enum group_kind k); /* "comm", "unit", "container", "pod", "job" */
int group_kind_parse(const char *name, enum group_kind *out); /* its inverse: 0 or -EINVAL */
/* The labels of a process known only by its comm: kind comm, unknown uid. */
void labels_from_comm(const char *comm, struct proc_labels *out);
/*
 * Pure: choose kind and group from the identity fields already filled in
 * (pod > container > job > unit > comm), keeping comm for kind comm.
 */
void labels_choose_group(struct proc_labels *l, const char *comm);
/* One name of a workload's identity, as each output spells it; value "" when unknown. */
struct labels_field {
	const char *metric; /* the /metrics label */
	const char *json;   /* the /api/v1 member */
	const char *value;
};
#define LABELS_NIDENTITY 10
/* The identity's names in one order for every output (metrics, API); fills out and returns LABELS_NIDENTITY. */
int labels_identity(const struct proc_labels *l, struct labels_field out[LABELS_NIDENTITY]);
/* Set the name labels_identity calls json (its "json" member), cut to its field; 0 or -ENOENT (no such name). */
int labels_set_identity(struct proc_labels *l, const char *json, const char *value);

/* True when a and b name different groups, i.e. the process moved (kind comm to kind comm is no move). */
bool labels_moved(const struct proc_labels *a, const struct proc_labels *b);

#endif /* JOULE_LABELS_H */
