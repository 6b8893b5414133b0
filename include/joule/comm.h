/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The length of a task's comm: one constant shared by the BPF program and every userspace layer. */
#ifndef JOULE_COMM_H
#define JOULE_COMM_H

/* The kernel's TASK_COMM_LEN, NUL included. */
#define JOULE_COMM_LEN 16

#endif /* JOULE_COMM_H */
