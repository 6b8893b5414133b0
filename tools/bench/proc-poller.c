// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A minimal /proc-polling collector, the way Scaphandre and Kepler 0.10 work:
 * every tick read /proc/stat and /proc/PID/stat of every process, take CPU
 * deltas, split the interval's (modelled) energy by them. The bench compares
 * joule's cost and capture with this.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct slot {
	uint64_t start;		/* starttime (ticks since boot): tells a reused pid apart */
	uint64_t cpu_ticks;	/* utime + stime at the last scan */
	uint32_t ppid;
	uint32_t seen_scan;
	bool desc;		/* a descendant of the followed root */
	double energy_uj;	/* share attributed so far */
};

static struct slot *slots;
static uint32_t pid_max;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* Fields after the last ')' of /proc/PID/stat: state is field 3, ppid 4, utime 14, stime 15, starttime 22. */
static int parse_stat(const char *buf, uint32_t *ppid, uint64_t *cpu, uint64_t *start)
{
	const char *p = strrchr(buf, ')');
	unsigned long long v[20];
	int field = 3;

	if (!p)
		return -EINVAL;
	p += 2;
	while (*p && field <= 22) {
		while (*p == ' ')
			p++;
		if (field >= 4)
			v[field - 4] = strtoull(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
		field++;
	}
	if (field <= 22)
		return -EINVAL;
	*ppid = (uint32_t)v[0];
	*cpu = v[14 - 4] + v[15 - 4];
	*start = v[22 - 4];
	return 0;
}

static uint64_t host_busy_ticks(void)
{
	char buf[512];
	unsigned long long u = 0, n = 0, s = 0, idle = 0, iow = 0, irq = 0, sirq = 0;

	if (read_small("/proc/stat", buf, sizeof(buf)) < 0)
		return 0;
	sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &iow, &irq, &sirq);
	return u + n + s + irq + sirq;
}

static bool is_desc(uint32_t pid, uint32_t root, uint32_t scan)
{
	for (int depth = 0; depth < 64 && pid > 1 && pid < pid_max; depth++) {
		if (slots[pid].ppid == root)
			return true;
		if (slots[pid].seen_scan != scan)
			return false;
		pid = slots[pid].ppid;
	}
	return false;
}

int main(int argc, char **argv)
{
	double hz = 10, duration_s = 0, watts = 20;
	uint32_t root = 0, until = 0, scan = 0;
	uint64_t ticks_per_s = (uint64_t)sysconf(_SC_CLK_TCK), retired_ns = 0, procs_read = 0;
	uint64_t t_start, interval_ns, last_busy, last_ns;
	struct itimerspec its = {};
	char buf[1024], path[64];
	FILE *f;
	int tfd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hz") && i + 1 < argc)
			hz = atof(argv[++i]);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			duration_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--descendants-of") && i + 1 < argc)
			root = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--until-exit") && i + 1 < argc)
			until = (uint32_t)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: proc-poller [--hz F] [--duration S] [--descendants-of PID] [--until-exit PID]\n"
					"  prints JSON: ticks, procs read per tick, CPU ns captured (of descendants of PID, if given)\n");
			return 2;
		}
	}
	f = fopen("/proc/sys/kernel/pid_max", "r");
	if (!f || fscanf(f, "%" SCNu32, &pid_max) != 1)
		pid_max = 4194304;
	if (f)
		fclose(f);
	slots = calloc(pid_max, sizeof(*slots));
	if (!slots)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	interval_ns = (uint64_t)(1e9 / hz);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	t_start = now_ns();
	its.it_value.tv_sec = (time_t)(t_start / 1000000000ull);
	its.it_value.tv_nsec = (long)(t_start % 1000000000ull);
	its.it_interval.tv_sec = (time_t)(interval_ns / 1000000000ull);
	its.it_interval.tv_nsec = (long)(interval_ns % 1000000000ull);
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	last_busy = host_busy_ticks();
	last_ns = t_start;

	while (!stop) {
		struct pollfd pfd = { tfd, POLLIN, 0 };
		uint64_t exp, busy, delta_busy, now, energy_uj, sum_delta = 0;
		struct dirent *de;
		DIR *d;

		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			break;
		if (until && kill((pid_t)until, 0) && errno == ESRCH)
			break;
		if (duration_s > 0 && now_ns() - t_start >= (uint64_t)(duration_s * 1e9))
			break;
		if (!(pfd.revents & POLLIN) || read(tfd, &exp, sizeof(exp)) != sizeof(exp))
			continue;

		/* One scan: every process's stat, as the /proc collectors do each interval. */
		scan++;
		now = now_ns();
		busy = host_busy_ticks();
		delta_busy = busy - last_busy;
		last_busy = busy;
		energy_uj = (uint64_t)(watts * (double)(now - last_ns) / 1e3);
		last_ns = now;
		d = opendir("/proc");
		if (!d)
			return 1;
		while ((de = readdir(d))) {
			uint32_t pid, ppid;
			uint64_t cpu, start;
			struct slot *s;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = (uint32_t)strtoul(de->d_name, NULL, 10);
			if (pid >= pid_max)
				continue;
			snprintf(path, sizeof(path), "/proc/%u/stat", pid);
			if (read_small(path, buf, sizeof(buf)) < 0 || parse_stat(buf, &ppid, &cpu, &start))
				continue;
			procs_read++;
			s = &slots[pid];
			if (s->seen_scan && s->start != start) {
				/* The pid was reused: the old process's last sample is all we ever saw of it. */
				if (s->desc)
					retired_ns += s->cpu_ticks * (1000000000ull / ticks_per_s);
				memset(s, 0, sizeof(*s));
			}
			if (s->seen_scan) {
				uint64_t dc = cpu - s->cpu_ticks;

				sum_delta += dc;
				/* Energy split by CPU ticks over the host's busy ticks. */
				if (delta_busy)
					s->energy_uj += (double)energy_uj * (double)dc / (double)delta_busy;
			}
			s->start = start;
			s->cpu_ticks = cpu;
			s->ppid = ppid;
			s->seen_scan = scan;
		}
		closedir(d);
		if (root) {
			for (uint32_t pid = 2; pid < pid_max; pid++)
				if (slots[pid].seen_scan == scan && !slots[pid].desc)
					slots[pid].desc = is_desc(pid, root, scan);
		}
		(void)sum_delta;
	}
	{
		uint64_t captured_ns = retired_ns;

		for (uint32_t pid = 2; pid < pid_max; pid++)
			if (slots[pid].desc)
				captured_ns += slots[pid].cpu_ticks * (1000000000ull / ticks_per_s);
		printf("{\"hz\":%g,\"scans\":%u,\"procs_per_scan\":%.1f,\"captured_ns\":%" PRIu64 "}\n",
		       hz, scan, scan ? (double)procs_read / scan : 0.0, captured_ns);
	}
	return 0;
}
