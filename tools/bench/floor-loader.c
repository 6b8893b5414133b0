// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads and attaches the empty floor program, prints its id, and holds it until SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: floor-loader FLOOR.bpf.o\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "floor-loader: failed to open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "floor-loader: failed to load: %s\n", strerror(-err));
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj, "floor_switch");
	link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		fprintf(stderr, "floor-loader: failed to attach: %s\n", strerror(errno));
		return 1;
	}
	bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	/* The id on stdout tells run-bench the program is attached and which one to read. */
	printf("%u\n", info.id);
	fflush(stdout);
	while (!stop)
		pause();
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
