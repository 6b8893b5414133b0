// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz the cgroup-path parser and the runtime state parsers: arbitrary text never crashes and every label stays terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "joule/identity.h"
#include "joule/procinfo.h"

#define CID "4e1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef"
#define UID "1b2c3d4e-1111-2222-3333-444455556666"

#define TERMINATED(f) (strnlen((f), sizeof(f)) < sizeof(f))

static void check(const struct proc_labels *l)
{
	if (!TERMINATED(l->group) || !TERMINATED(l->container) || !TERMINATED(l->unit) || !TERMINATED(l->slice) ||
	    !TERMINATED(l->runtime) || !TERMINATED(l->container_name) || !TERMINATED(l->k8s_namespace) ||
	    !TERMINATED(l->pod) || !TERMINATED(l->pod_uid) || !TERMINATED(l->job_id) || !TERMINATED(l->job_user))
		__builtin_trap();
	/* names taken from state files are held to the runtimes' own alphabet */
	for (const char *p = l->container_name; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '\n' || *p == '{' || *p == '}')
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_labels l;
	char path[64], *s;

	procinfo_parse_cgroup((const char *)data, size, "fuzz", &l, path, sizeof(path));
	check(&l);
	if (strnlen(path, sizeof(path)) == sizeof(path))
		__builtin_trap();
	if (l.kind != GROUP_COMM && l.group[0] == '\0')
		__builtin_trap();

	/* the same bytes as each runtime's state */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	labels_from_comm("fuzz", &l);
	identity_parse_docker_config(s, size, &l);
	identity_parse_storage_containers(s, size, CID, &l);
	identity_parse_pod_dir(s, UID, &l);
	identity_parse_container_log(s, CID, &l);
	labels_choose_group(&l, "fuzz");
	check(&l);
	free(s);
	return 0;
}
