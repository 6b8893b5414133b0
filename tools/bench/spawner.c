// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A process population for the userspace-cost rows: N small processes that
 * each wake once per period (random phase) and sleep again, plus B busy
 * spinners. Prints "ready" once all exist; SIGTERM ends them all.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void sleeper(long period_ms, unsigned seed)
{
	struct timespec ts;
	long phase_ms = period_ms ? (long)(rand_r(&seed) % (unsigned)period_ms) : 0;

	/* Die with the spawner, whatever kills it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ts.tv_sec = phase_ms / 1000;
	ts.tv_nsec = (phase_ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	for (;;) {
		if (!period_ms) {
			pause();
			continue;
		}
		ts.tv_sec = period_ms / 1000;
		ts.tv_nsec = (period_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static void spinner(void)
{
	volatile unsigned long x = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		x++;
}

int main(int argc, char **argv)
{
	long n, busy, period_ms;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: spawner N PERIOD_MS BUSY   (PERIOD_MS 0: sleep forever)\n");
		return 2;
	}
	n = atol(argv[1]);
	period_ms = atol(argv[2]);
	busy = atol(argv[3]);
	/* A group of our own: kill(0, ...) below must reach the children, not whoever started us. */
	setpgid(0, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (long i = 0; i < n + busy; i++) {
		pid = fork();
		if (pid < 0) {
			perror("spawner: fork");
			kill(0, SIGTERM);
			return 1;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			if (i < n)
				sleeper(period_ms, (unsigned)i * 2654435761u);
			spinner();
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
