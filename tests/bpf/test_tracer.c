// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* BPF tests: the switch logic under bpf_prog_test_run, then attached programs against the kernel's own accounting. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "joule/joule_bpf.h"
#include "joule.skel.h"
#include "joule/tracer.h"
#include "joule/util.h"

static struct tracer *open_unattached(uint32_t max_tasks)
{
	struct tracer_opts o = { .max_tasks = max_tasks, .no_attach = true };
	struct tracer *t = NULL;

	assert_int_equal(tracer_open(&t, &o), 0);
	return t;
}

/* Run the test_switch wrapper on CPU 0: the task (tgid, start) or idle ran until now. */
static void run_switch(struct tracer *t, uint32_t tgid, uint64_t start, bool idle, uint64_t now)
{
	struct joule_bpf *skel = tracer_skel(t);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = 0);

	skel->bss->test_in.prev.tgid = tgid;
	skel->bss->test_in.prev.start_ns = start;
	skel->bss->test_in.prev_idle = idle;
	skel->bss->test_in.now_ns = now;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.test_switch), &opts), 0);
}

static uint64_t task_ns_on_cpu(struct tracer *t, uint32_t tgid, uint64_t start, int cpu)
{
	struct joule_bpf *skel = tracer_skel(t);
	struct joule_task_key k = { .tgid = tgid, .start_ns = start };
	uint64_t vals[1024] = {};

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.tasks0), &k, vals))
		return UINT64_MAX;
	return vals[cpu];
}

static struct joule_cpu_state cpu_state(struct tracer *t, int cpu)
{
	struct joule_bpf *skel = tracer_skel(t);
	struct joule_cpu_state st[1024];
	__u32 zero = 0;

	memset(st, 0, sizeof(st));
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.cpu_state), &zero, st), 0);
	return st[cpu];
}

static void test_switch_when_first_on_cpu_charges_nobody(void **state)
{
	struct tracer *t = open_unattached(0);

	run_switch(t, 100, 7, false, 1000);
	assert_int_equal(task_ns_on_cpu(t, 100, 7, 0), UINT64_MAX);
	assert_int_equal(cpu_state(t, 0).idle_ns, 0);
	assert_int_equal(cpu_state(t, 0).switched_in_ns, 1000);
	tracer_close(t);
}

static void test_switch_charges_outgoing_task_its_slice(void **state)
{
	struct tracer *t = open_unattached(0);

	run_switch(t, 999, 9, false, 1000);	/* first switch: its slice's start is unknown */
	run_switch(t, 100, 7, false, 1500);	/* 100 ran 500 ns */
	run_switch(t, 200, 9, false, 2000);	/* 200 ran 500 ns */
	run_switch(t, 0, 0, true, 2600);	/* idle for 600 ns */
	run_switch(t, 100, 7, false, 2700);	/* 100 ran 100 ns more */
	assert_int_equal(task_ns_on_cpu(t, 999, 9, 0), UINT64_MAX);
	assert_int_equal(task_ns_on_cpu(t, 100, 7, 0), 600);
	assert_int_equal(task_ns_on_cpu(t, 200, 9, 0), 500);
	assert_int_equal(cpu_state(t, 0).idle_ns, 600);
	assert_int_equal(cpu_state(t, 0).switches, 5);
	tracer_close(t);
}

static void test_switch_when_pid_reused_keeps_processes_apart(void **state)
{
	struct tracer *t = open_unattached(0);

	run_switch(t, 0, 0, true, 1);
	run_switch(t, 300, 1, false, 1001);
	run_switch(t, 300, 2, false, 3001);	/* same pid, later start: a new process */
	assert_int_equal(task_ns_on_cpu(t, 300, 1, 0), 1000);
	assert_int_equal(task_ns_on_cpu(t, 300, 2, 0), 2000);
	tracer_close(t);
}

static void test_switch_when_map_full_sends_time_to_overflow(void **state)
{
	struct tracer *t = open_unattached(4);
	uint64_t now = 1000, tasks_sum = 0;
	struct joule_cpu_state st;

	run_switch(t, 0, 0, true, now);
	for (uint32_t pid = 1; pid <= 10; pid++) {
		now += 100 * pid;
		run_switch(t, pid, pid, false, now);
	}
	for (uint32_t pid = 1; pid <= 10; pid++) {
		uint64_t v = task_ns_on_cpu(t, pid, pid, 0);

		if (v != UINT64_MAX)
			tasks_sum += v;
	}
	st = cpu_state(t, 0);
	assert_true(st.overflow_ns > 0);
	assert_int_equal(st.overflow_events, 6);
	/* nothing is dropped: tasks + overflow + idle cover every ns since the first switch */
	assert_int_equal(tasks_sum + st.overflow_ns + st.idle_ns, now - 1000);
	tracer_close(t);
}

/* Σ of every task's ns on CPU 0 plus CPU 0's idle ns. */
static uint64_t cpu0_charged(struct tracer *t)
{
	struct joule_bpf *skel = tracer_skel(t);
	struct joule_task_key k, *prev = NULL;
	uint64_t sum = cpu_state(t, 0).idle_ns + cpu_state(t, 0).overflow_ns;

	while (bpf_map_get_next_key(bpf_map__fd(skel->maps.tasks0), prev, &k) == 0) {
		sum += task_ns_on_cpu(t, k.tgid, k.start_ns, 0);
		prev = &k;
	}
	return sum;
}

static void test_flush_credits_running_slice_once(void **state)
{
	struct tracer *t = open_unattached(0);
	struct joule_bpf *skel = tracer_skel(t);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = 0);
	uint64_t start = now_mono_ns() - 5000000, first, second;

	run_switch(t, 0, 0, true, start); /* the running slice on CPU 0 starts 5 ms ago */
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.flush), &opts), 0);
	first = cpu_state(t, 0).switched_in_ns;
	/* whoever was on CPU 0 (this test, or idle) got exactly the slice up to the flush */
	assert_true(first >= start + 5000000);
	assert_int_equal(cpu0_charged(t), first - start);
	/* a second flush charges only the time since the first */
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.flush), &opts), 0);
	second = cpu_state(t, 0).switched_in_ns;
	assert_int_equal(cpu0_charged(t), second - start);
	tracer_close(t);
}

static void test_snapshot_when_exit_event_lost_collects_dead_entry(void **state)
{
	struct tracer *t = open_unattached(0);
	struct joule_bpf *skel = tracer_skel(t);
	struct tracer_delta d = {};
	struct joule_task_key k = { .start_ns = 12345 };
	uint64_t vals[1024] = { 1000 };
	bool seen = false, exited = false;
	struct tracer_stats st;

	/* a pid nobody has: the entry looks like a process whose exit event was lost */
	for (k.tgid = 4000000; kill((pid_t)k.tgid, 0) == 0 || errno != ESRCH; k.tgid++)
		;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.tasks0), &k, vals, BPF_NOEXIST), 0);
	for (int i = 0; i < 2 * tracer_gc_period() + 2; i++) {
		assert_int_equal(tracer_snapshot(t, &d), 0);
		for (size_t r = 0; r < d.ntasks; r++) {
			if (d.tasks[r].tgid != k.tgid)
				continue;
			seen = true;
			exited |= d.tasks[r].exited;
		}
	}
	tracer_get_stats(t, &st);
	assert_true(seen);
	assert_true(exited);
	/* ≥: without the lifecycle programs attached, any process that died meanwhile counts too */
	assert_true(st.lost_exits >= 1);
	assert_int_equal(task_ns_on_cpu(t, k.tgid, k.start_ns, 0), UINT64_MAX);
	tracer_delta_free(&d);
	tracer_close(t);
}

/* ---- attached: real workloads against the kernel's accounting ---- */

static void burn_ns(uint64_t ns)
{
	struct timespec ts;
	uint64_t end;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec + ns;
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	while ((uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec < end);
}

/* fork() whose child dies with the test: a failed assertion never leaves a spinner behind. */
static pid_t fork_child(void)
{
	pid_t pid = fork();

	if (pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

static struct tracer *open_attached(uint32_t max_tasks, bool raw)
{
	struct tracer_opts o = { .max_tasks = max_tasks, .force_raw_tp = raw };
	struct tracer *t = NULL;

	assert_int_equal(tracer_open(&t, &o), 0);
	return t;
}

static uint64_t sum_for_pid(const struct tracer_delta *d, uint32_t pid)
{
	uint64_t s = 0;

	for (size_t i = 0; i < d->ntasks; i++)
		if (d->tasks[i].tgid == pid)
			s += d->tasks[i].total_ns;
	return s;
}

static void cpu_time_matches_schedstat(bool raw)
{
	struct tracer *t = open_attached(0, raw);
	struct tracer_delta d = {};
	int go[2], done[2];
	uint64_t joule_ns = 0, kernel_ns;
	char path[64], buf[128];
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(1);
		burn_ns(300 * NSEC_PER_MSEC);
		if (write(done[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(read(done[0], buf, 1), 1);
	usleep(20000); /* the child is asleep in pause(): its schedstat is final */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	assert_true(read_text_file(path, buf, sizeof(buf)) > 0);
	kernel_ns = strtoull(buf, NULL, 10);
	assert_int_equal(tracer_snapshot(t, &d), 0);
	joule_ns = sum_for_pid(&d, (uint32_t)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* joule saw the child since its fork; schedstat counts the same span */
	print_message("joule %llu ns, schedstat %llu ns\n", (unsigned long long)joule_ns,
		      (unsigned long long)kernel_ns);
	for (size_t i = 0; i < d.ntasks; i++)
		if (d.tasks[i].total_ns > NSEC_PER_MSEC)
			print_message("  row %u %s %llu ns\n", d.tasks[i].tgid, d.tasks[i].comm,
				      (unsigned long long)d.tasks[i].total_ns);
	assert_true(kernel_ns >= 290 * NSEC_PER_MSEC);
	assert_true(joule_ns * 100 >= kernel_ns * 99);
	assert_true(joule_ns * 100 <= kernel_ns * 101);
	tracer_delta_free(&d);
	tracer_close(t);
}

static void test_attached_cpu_time_matches_schedstat_within_1pct(void **state)
{
	cpu_time_matches_schedstat(false);
}

static void test_attached_raw_tp_fallback_matches_schedstat(void **state)
{
	cpu_time_matches_schedstat(true);
}

static void test_attached_snapshots_cover_every_cpu_interval(void **state)
{
	struct tracer *t = open_attached(0, false);
	struct tracer_delta d = {};
	int ncpu = tracer_ncpu(t), online;
	uint64_t busy_ns;
	double worst = 0;
	pid_t pid;
	cpu_set_t set;

	/* A pinned busy loop: it never switches out voluntarily. */
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof(set), &set);
		for (;;)
			;
	}
	online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(tracer_snapshot(t, &d), 0);
	for (int i = 0; i < 20; i++) {
		uint64_t covered = 0, span;

		usleep(100000);
		assert_int_equal(tracer_snapshot(t, &d), 0);
		span = (d.mono_end_ns - d.mono_start_ns) * (uint64_t)online;
		for (size_t k = 0; k < d.ntasks * (size_t)ncpu; k++)
			covered += d.task_ns[k];
		for (int c = 0; c < ncpu; c++)
			covered += d.idle_ns[c] + d.overflow_ns[c];
		double err = covered > span ? (double)(covered - span) / span : (double)(span - covered) / span;
		if (err > worst)
			worst = err;
	}
	busy_ns = sum_for_pid(&d, (uint32_t)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	print_message("worst snapshot coverage error: %.3f%% over 20 snapshots of 100 ms; "
		      "the spinner's last interval: %llu ns\n", worst * 100, (unsigned long long)busy_ns);
	assert_true(worst < 0.02);
	/* it never switched out on its own, yet each snapshot holds its running slice */
	assert_true(busy_ns > 50 * NSEC_PER_MSEC);
	tracer_delta_free(&d);
	tracer_close(t);
}

static void test_attached_short_lived_children_captured(void **state)
{
	struct tracer *t = open_attached(0, false);
	struct tracer_delta d = {};
	uint64_t joule_ns = 0, kernel_ns;
	struct rusage ru;
	pid_t pid;
	int status, res[2];
	char buf[64] = "";

	/* A marked parent forks 200 children of ~3 ms CPU each, reaping each. */
	assert_int_equal(pipe(res), 0);
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(50000);
		for (int i = 0; i < 200; i++) {
			pid_t c = fork();

			if (c == 0) {
				burn_ns(3 * NSEC_PER_MSEC);
				_exit(0);
			}
			waitpid(c, NULL, 0);
		}
		getrusage(RUSAGE_CHILDREN, &ru);
		/* the children's CPU time goes back to the test through a pipe */
		dprintf(res[1], "%llu\n", (unsigned long long)(ru.ru_utime.tv_sec * 1000000ULL + ru.ru_utime.tv_usec +
								ru.ru_stime.tv_sec * 1000000ULL + ru.ru_stime.tv_usec));
		_exit(0);
	}
	close(res[1]);
	assert_int_equal(tracer_mark_pid(t, (uint32_t)pid), 0);
	for (;;) {
		assert_int_equal(tracer_snapshot(t, &d), 0);
		for (size_t i = 0; i < d.ntasks; i++)
			if (d.tasks[i].marked && d.tasks[i].tgid != (uint32_t)pid)
				joule_ns += d.tasks[i].total_ns;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tracer_snapshot(t, &d), 0);
		for (size_t k = 0; k < d.ntasks; k++)
			if (d.tasks[k].marked && d.tasks[k].tgid != (uint32_t)pid)
				joule_ns += d.tasks[k].total_ns;
	}
	assert_true(read(res[0], buf, sizeof(buf) - 1) > 0);
	close(res[0]);
	kernel_ns = strtoull(buf, NULL, 10) * 1000;
	print_message("children: joule %llu ns, RUSAGE_CHILDREN %llu ns (%.2f%%)\n",
		      (unsigned long long)joule_ns, (unsigned long long)kernel_ns, 100.0 * joule_ns / kernel_ns);
	assert_true(kernel_ns >= 500 * NSEC_PER_MSEC);
	assert_true(joule_ns * 100 >= kernel_ns * 99);
	tracer_delta_free(&d);
	tracer_close(t);
}

/*
 * Bytes the exit-teardown child touches: enough that freeing them runs well
 * after the exit tracepoint, small enough for any test machine (a quarter of
 * the available memory at most).
 */
static size_t teardown_bytes(void)
{
	size_t want = 256UL << 20, avail = (size_t)sysconf(_SC_AVPHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);

	return avail / 4 < want ? avail / 4 : want;
}

/* Seconds a wait on a child may take: generous, and longer on a loaded machine. */
static double wait_budget_s(double quiet_s)
{
	double load = 0;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	if (getloadavg(&load, 1) != 1 || online < 1)
		return quiet_s * 4;
	return quiet_s * (2 + 2 * load / (double)online);
}

static void test_attached_exit_teardown_stays_with_the_process(void **state)
{
	struct tracer *t = open_attached(0, false);
	struct tracer_delta d = {};
	uint64_t joule_ns = 0, kernel_ns, deadline;
	bool all_marked = true, exited = false, after_exit = false, reaped = false;
	struct rusage ru = {};
	size_t len = teardown_bytes();
	int status = 0;
	pid_t pid;

	/* touched, then exit: freeing it runs for 10s of ms after the exit tracepoint */
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			_exit(2);
		memset(m, 1, len);
		_exit(0);
	}
	assert_int_equal(tracer_mark_pid(t, (uint32_t)pid), 0);
	deadline = now_mono_ns() + (uint64_t)(wait_budget_s(10) * NSEC_PER_SEC);
	while (!(exited && reaped) && now_mono_ns() < deadline) {
		usleep(100000);
		if (!reaped && wait4(pid, &status, WNOHANG, &ru) == pid)
			reaped = true;
		assert_int_equal(tracer_snapshot(t, &d), 0);
		for (size_t r = 0; r < d.ntasks; r++) {
			if (d.tasks[r].tgid != (uint32_t)pid)
				continue;
			after_exit |= exited;
			exited |= d.tasks[r].exited;
			all_marked &= d.tasks[r].marked;
			joule_ns += d.tasks[r].total_ns;
		}
	}
	assert_true(reaped); /* before anything reads ru */
	for (int i = 0; i < 3; i++) { /* anything after the exited row would show here */
		usleep(100000);
		assert_int_equal(tracer_snapshot(t, &d), 0);
		for (size_t r = 0; r < d.ntasks; r++)
			after_exit |= d.tasks[r].tgid == (uint32_t)pid;
	}
	kernel_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
		    ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
	print_message("%zu MiB child: joule %llu ns, rusage %llu ns (%.2f%%)\n", len >> 20,
		      (unsigned long long)joule_ns, (unsigned long long)kernel_ns,
		      100.0 * (double)joule_ns / (double)kernel_ns);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(exited);
	assert_false(after_exit);
	assert_true(all_marked);
	assert_true(joule_ns * 100 >= kernel_ns * 99);
	tracer_delta_free(&d);
	tracer_close(t);
}

static void test_attached_full_map_reports_overflow_and_balances(void **state)
{
	struct tracer *t = open_attached(8, false);
	struct tracer_delta d = {};
	struct tracer_stats st;
	int ncpu = tracer_ncpu(t), online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t covered = 0, span = 0;
	pid_t kids[40];

	for (int i = 0; i < 40; i++) {
		kids[i] = fork_child();
		if (kids[i] == 0) {
			for (int k = 0; k < 50; k++) {
				burn_ns(200000);
				usleep(1000);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < 5; i++) {
		usleep(100000);
		assert_int_equal(tracer_snapshot(t, &d), 0);
		span += (d.mono_end_ns - d.mono_start_ns) * (uint64_t)online;
		for (size_t k = 0; k < d.ntasks * (size_t)ncpu; k++)
			covered += d.task_ns[k];
		for (int c = 0; c < ncpu; c++)
			covered += d.idle_ns[c] + d.overflow_ns[c];
	}
	for (int i = 0; i < 40; i++)
		waitpid(kids[i], NULL, 0);
	tracer_get_stats(t, &st);
	print_message("overflow: %llu events, %llu ns; coverage %.3f%%\n",
		      (unsigned long long)st.overflow_events, (unsigned long long)st.overflow_ns,
		      100.0 * covered / span);
	assert_true(st.overflow_events > 0);
	assert_true(st.overflow_ns > 0);
	assert_true(covered * 100 >= span * 98);
	assert_true(covered * 100 <= span * 102);
	tracer_delta_free(&d);
	tracer_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch_when_first_on_cpu_charges_nobody),
		cmocka_unit_test(test_switch_charges_outgoing_task_its_slice),
		cmocka_unit_test(test_switch_when_pid_reused_keeps_processes_apart),
		cmocka_unit_test(test_switch_when_map_full_sends_time_to_overflow),
		cmocka_unit_test(test_flush_credits_running_slice_once),
		cmocka_unit_test(test_snapshot_when_exit_event_lost_collects_dead_entry),
		cmocka_unit_test(test_attached_cpu_time_matches_schedstat_within_1pct),
		cmocka_unit_test(test_attached_raw_tp_fallback_matches_schedstat),
		cmocka_unit_test(test_attached_snapshots_cover_every_cpu_interval),
		cmocka_unit_test(test_attached_short_lived_children_captured),
		cmocka_unit_test(test_attached_exit_teardown_stays_with_the_process),
		cmocka_unit_test(test_attached_full_map_reports_overflow_and_balances),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_tracer: needs root to load BPF programs\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
