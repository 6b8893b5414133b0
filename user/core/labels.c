// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Group kinds by name, and the comm-only labels every process falls back to. */
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
	default: return "comm";
	}
}

void labels_from_comm(const char *comm, struct proc_labels *out)
{
	memset(out, 0, sizeof(*out));
	out->uid = UINT32_MAX;
	out->kind = GROUP_COMM;
	snprintf(out->group, sizeof(out->group), "%.*s", JOULE_COMM_LEN - 1, comm ? comm : "");
}
