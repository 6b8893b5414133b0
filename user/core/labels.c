// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Group kinds by name, the comm-only labels every process falls back to, and the group chosen from an identity. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "joule/comm.h"
#include "joule/labels.h"

const char *group_kind_name(enum group_kind k)
{
	switch (k) {
	case GROUP_UNIT: return "unit";
	case GROUP_CONTAINER: return "container";
	case GROUP_POD: return "pod";
	case GROUP_JOB: return "job";
	default: return "comm";
	}
}

int group_kind_parse(const char *name, enum group_kind *out)
{
	static const enum group_kind all[] = { GROUP_COMM, GROUP_UNIT, GROUP_CONTAINER, GROUP_POD, GROUP_JOB };

	for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(group_kind_name(all[i]), name) == 0) {
			*out = all[i];
			return 0;
		}
	return -EINVAL;
}

void labels_from_comm(const char *comm, struct proc_labels *out)
{
	memset(out, 0, sizeof(*out));
	out->uid = UINT32_MAX;
	out->kind = GROUP_COMM;
	snprintf(out->group, sizeof(out->group), "%.*s", JOULE_COMM_LEN - 1, comm ? comm : "");
}

/* Group names longer than the field are cut, not refused: the full names stay in their own fields. */
static void set_group(struct proc_labels *l, const char *a, const char *sep, const char *b)
{
	size_t n = 0, cap = sizeof(l->group) - 1;

	for (const char *parts[] = { a, sep, b }, **p = parts; p < parts + 3; p++)
		for (const char *c = *p; c && *c && n < cap; c++)
			l->group[n++] = *c;
	l->group[n] = '\0';
}

void labels_choose_group(struct proc_labels *l, const char *comm)
{
	if (l->pod_uid[0]) {
		l->kind = GROUP_POD;
		/*
		 * One group per container of a pod, namespace/pod/container (sum by
		 * namespace, pod for the pod): unique in a cluster. namespace/pod for
		 * a process of the pod in no named container; the uid while the
		 * kubelet's logs are not readable.
		 */
		if (l->k8s_namespace[0] && l->pod[0] && l->container_name[0]) {
			set_group(l, l->k8s_namespace, "/", l->pod);
			set_group(l, l->group, "/", l->container_name);
		} else if (l->k8s_namespace[0] && l->pod[0])
			set_group(l, l->k8s_namespace, "/", l->pod);
		else
			set_group(l, l->pod_uid, NULL, NULL);
	} else if (l->container[0]) {
		l->kind = GROUP_CONTAINER;
		set_group(l, l->container_name[0] ? l->container_name : l->container, NULL, NULL);
	} else if (l->job_id[0]) {
		l->kind = GROUP_JOB;
		set_group(l, l->job_id, NULL, NULL);
	} else if (l->unit[0]) {
		l->kind = GROUP_UNIT;
		set_group(l, l->unit, NULL, NULL);
	} else {
		l->kind = GROUP_COMM;
		snprintf(l->group, sizeof(l->group), "%.*s", JOULE_COMM_LEN - 1, comm ? comm : "");
	}
}

bool labels_moved(const struct proc_labels *a, const struct proc_labels *b)
{
	if (a->kind == GROUP_COMM && b->kind == GROUP_COMM)
		return false;
	return a->kind != b->kind || strcmp(a->group, b->group) != 0;
}

/* "container" is the container's name on /metrics (Kubernetes' own label); in JSON it was the id first. */
#define FIELD(m) offsetof(struct proc_labels, m), sizeof(((struct proc_labels *)0)->m)
static const struct {
	const char *metric, *json;
	size_t off, size;
} identity_tab[LABELS_NIDENTITY] = {
	{ "namespace", "namespace", FIELD(k8s_namespace) },
	{ "pod", "pod", FIELD(pod) },
	{ "pod_uid", "pod_uid", FIELD(pod_uid) },
	{ "container", "container_name", FIELD(container_name) },
	{ "container_id", "container_id", FIELD(container) },
	{ "runtime", "runtime", FIELD(runtime) },
	{ "unit", "unit", FIELD(unit) },
	{ "slice", "slice", FIELD(slice) },
	{ "job_id", "job_id", FIELD(job_id) },
	{ "job_user", "job_user", FIELD(job_user) },
};

int labels_identity(const struct proc_labels *l, struct labels_field out[LABELS_NIDENTITY])
{
	for (int i = 0; i < LABELS_NIDENTITY; i++)
		out[i] = (struct labels_field){ identity_tab[i].metric, identity_tab[i].json,
						(const char *)l + identity_tab[i].off };
	return LABELS_NIDENTITY;
}

int labels_set_identity(struct proc_labels *l, const char *json, const char *value)
{
	for (int i = 0; i < LABELS_NIDENTITY; i++)
		if (strcmp(identity_tab[i].json, json) == 0) {
			snprintf((char *)l + identity_tab[i].off, identity_tab[i].size, "%s", value);
			return 0;
		}
	return -ENOENT;
}
