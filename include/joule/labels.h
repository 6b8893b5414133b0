/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A process's group labels (unit, container, pod or comm): the identity every output groups by. */
#ifndef JOULE_LABELS_H
#define JOULE_LABELS_H

#include <stdint.h>

/* What a process is grouped by, most specific first: pod > container > unit > comm. */
enum group_kind { GROUP_COMM, GROUP_UNIT, GROUP_CONTAINER, GROUP_POD };

#define PROC_GROUP_LEN 96

struct proc_labels {
	enum group_kind kind;
	char group[PROC_GROUP_LEN];	/* unit name, container id, pod uid, or comm */
	char container[72];		/* container id when known (also inside a pod), else "" */
	uint32_t uid;			/* real uid; UINT32_MAX when unknown */
};

const char *group_kind_name(enum group_kind k); /* "comm", "unit", "container", "pod" */
/* The labels of a process known only by its comm: kind comm, unknown uid. */
void labels_from_comm(const char *comm, struct proc_labels *out);

#endif /* JOULE_LABELS_H */
