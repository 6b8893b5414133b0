// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Runs a burner pinned to one CPU under residual.bpf.o and prints where switch-to-switch time and sum_exec_runtime differ. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct residual_out {
	__u64 kt_ns, se_ns, slices, foreign, foreign_kt_ns, pos_ns, neg_ns;
	__u64 short_n, short_kt_ns, short_diff_ns, long_n, long_kt_ns, long_diff_ns;
};

static unsigned long long cpu_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_link *link;
	struct bpf_map *bss;
	struct residual_out o;
	int go[2], cpu, burn_ms, zero = 0;
	char path[64], buf[128];
	unsigned long long sched_ns;
	pid_t pid;
	FILE *f;
	struct {
		__u32 target_pid, pad;
		struct residual_out out;
	} data;

	if (argc != 4) {
		fprintf(stderr, "usage: residual RESIDUAL.bpf.o CPU BURN_MS\n");
		return 2;
	}
	cpu = atoi(argv[2]);
	burn_ms = atoi(argv[3]);
	if (pipe(go))
		return 1;
	pid = fork();
	if (pid == 0) {
		cpu_set_t set;
		char c;
		unsigned long long end;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		end = cpu_ns(CLOCK_THREAD_CPUTIME_ID) + (unsigned long long)burn_ms * 1000000ULL;
		while (cpu_ns(CLOCK_THREAD_CPUTIME_ID) < end)
			;
		pause();
		_exit(0);
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "residual: failed to load %s: %s\n", argv[1], strerror(errno));
		kill(pid, SIGKILL);
		return 1;
	}
	bss = bpf_object__find_map_by_name(obj, ".bss");
	memset(&data, 0, sizeof(data));
	data.target_pid = (__u32)pid;
	if (!bss || bpf_map_update_elem(bpf_map__fd(bss), &zero, &data, 0)) {
		fprintf(stderr, "residual: failed to set the target: %s\n", strerror(errno));
		kill(pid, SIGKILL);
		return 1;
	}
	link = bpf_program__attach(bpf_object__find_program_by_name(obj, "res_switch"));
	if (!link) {
		fprintf(stderr, "residual: failed to attach: %s\n", strerror(errno));
		kill(pid, SIGKILL);
		return 1;
	}
	usleep(10000);
	/* the child is switched in after this: its whole run is seen slice by slice */
	if (write(go[1], "x", 1) != 1)
		return 1;
	for (;;) {
		usleep(20000);
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			break;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		/* state S after the burn: asleep in pause(), its last slice closed */
		if (strstr(buf, ") S "))
			break;
	}
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	sched_ns = 0;
	if (f) {
		if (fscanf(f, "%llu", &sched_ns) != 1)
			sched_ns = 0;
		fclose(f);
	}
	bpf_map_lookup_elem(bpf_map__fd(bss), &zero, &data);
	o = data.out;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("burner on cpu %d: %llu slices, schedstat %llu ns\n", cpu, (unsigned long long)o.slices, sched_ns);
	printf("  switch-to-switch clock  %llu ns (%+.3f%% of schedstat)\n", (unsigned long long)o.kt_ns,
	       100.0 * ((double)o.kt_ns / (double)sched_ns - 1));
	printf("  sum_exec_runtime growth %llu ns (%+.3f%% of schedstat)\n", (unsigned long long)o.se_ns,
	       100.0 * ((double)o.se_ns / (double)sched_ns - 1));
	printf("  per slice: clock above by %llu ns in all, below by %llu ns; mean |diff| %.0f ns\n",
	       (unsigned long long)o.pos_ns, (unsigned long long)o.neg_ns,
	       o.slices ? (double)(o.pos_ns + o.neg_ns) / (double)o.slices : 0.0);
	printf("  slices < 500 us: %llu, clock above by %.0f ns each (%.3f%% of their length)\n",
	       (unsigned long long)o.short_n, o.short_n ? (double)(__s64)o.short_diff_ns / (double)o.short_n : 0.0,
	       o.short_kt_ns ? 100.0 * (double)(__s64)o.short_diff_ns / (double)o.short_kt_ns : 0.0);
	printf("  slices >= 500 us: %llu, clock above by %.0f ns each (%.3f%% of their length)\n",
	       (unsigned long long)o.long_n, o.long_n ? (double)(__s64)o.long_diff_ns / (double)o.long_n : 0.0,
	       o.long_kt_ns ? 100.0 * (double)(__s64)o.long_diff_ns / (double)o.long_kt_ns : 0.0);
	printf("  slices not opened by its own switch-in: %llu (%llu ns)\n", (unsigned long long)o.foreign,
	       (unsigned long long)o.foreign_kt_ns);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
