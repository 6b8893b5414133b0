// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fuzz the cgroup-path parser: arbitrary /proc/PID/cgroup text never crashes and labels stay terminated. */
#include <stdint.h>
#include <string.h>
#include "joule/procinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_labels l;
	char path[64];

	procinfo_parse_cgroup((const char *)data, size, "fuzz", &l, path, sizeof(path));
	if (strnlen(l.group, sizeof(l.group)) == sizeof(l.group) ||
	    strnlen(l.container, sizeof(l.container)) == sizeof(l.container) ||
	    strnlen(path, sizeof(path)) == sizeof(path))
		__builtin_trap();
	if (l.kind != GROUP_COMM && l.group[0] == '\0')
		__builtin_trap();
	return 0;
}
