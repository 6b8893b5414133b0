// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The aliasing workload: COUNT processes spread evenly over SECONDS, each
 * burning a uniformly random 1..20 ms of CPU (its own CPU clock) and
 * exiting. The kernel's RUSAGE_CHILDREN of this process is the truth.
 * With SHORT_BURST_LOG=FILE, each child's own rusage goes there as
 * "pid cpu_ns" (to find where a collector loses time).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static FILE *child_log;

/* Reap one child (or any ready one with WNOHANG); log its own CPU time. */
static pid_t reap(int flags)
{
	struct rusage ru;
	pid_t pid = wait4(-1, NULL, flags, &ru);

	if (pid > 0 && child_log)
		fprintf(child_log, "%d %llu\n", pid,
			(unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
			(unsigned long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull);
	return pid;
}

static void burn(uint64_t cpu_ns)
{
	while (clock_ns(CLOCK_PROCESS_CPUTIME_ID) < cpu_ns)
		;
	_exit(0);
}

int main(int argc, char **argv)
{
	long count, min_ms = 1, max_ms = 20;
	double seconds;
	unsigned seed = 7;
	uint64_t t0, gap_ns;

	if (argc < 3) {
		fprintf(stderr, "usage: short-burst COUNT SECONDS [MIN_MS MAX_MS]\n");
		return 2;
	}
	count = atol(argv[1]);
	seconds = atof(argv[2]);
	if (argc >= 5) {
		min_ms = atol(argv[3]);
		max_ms = atol(argv[4]);
	}
	if (getenv("SHORT_BURST_LOG"))
		child_log = fopen(getenv("SHORT_BURST_LOG"), "w");
	gap_ns = (uint64_t)(seconds * 1e9 / (double)count);
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++) {
		uint64_t due = t0 + (uint64_t)i * gap_ns, now = clock_ns(CLOCK_MONOTONIC);
		uint64_t cpu_ns = (uint64_t)(min_ms + (long)(rand_r(&seed) % (unsigned)(max_ms - min_ms + 1))) * 1000000ull;
		pid_t pid;

		if (due > now) {
			struct timespec ts = { (time_t)((due - now) / 1000000000ull), (long)((due - now) % 1000000000ull) };

			nanosleep(&ts, NULL);
		}
		while (reap(WNOHANG) > 0)
			;
		pid = fork();
		if (pid == 0)
			burn(cpu_ns);
		if (pid < 0)
			perror("short-burst: fork");
	}
	while (reap(0) > 0)
		;
	if (child_log)
		fclose(child_log);
	return 0;
}
