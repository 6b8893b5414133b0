// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests: the powercap and MSR readers at 10 Hz against a running tools/fake-rapl, checked against its ground truth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "joule/energy.h"
#include "joule/topo.h"
#include "joule/util.h"
#include "energy_test_util.h"
#include "unit/testlib.h"

struct live {
	char dir[256];
	char fake[4096];
	pid_t pid;
};

/* build/tests/test_energy_live → build/fake-rapl */
static void fake_path(char *out, size_t len)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(out, len, "%s/../fake-rapl", dirname(exe));
}

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l || tl_setup_into(l->dir, sizeof(l->dir)))
		return -1;
	fake_path(l->fake, sizeof(l->fake));
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	free(*state);
	return tl_teardown(NULL); /* kills and reaps the fake-rapl child, removes the directory */
}

static void start_fake(struct live *l, char *const extra[])
{
	char *argv[40], ready[512];
	int n = 0;

	snprintf(ready, sizeof(ready), "%s/ready", l->dir);
	argv[n++] = l->fake;
	for (int i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n++] = "--ready";
	argv[n++] = ready;
	argv[n++] = "--duration";
	argv[n++] = "120"; /* a safety net if the test dies */
	argv[n] = NULL;
	l->pid = fork();
	assert_true(l->pid >= 0);
	if (l->pid == 0) {
		execv(l->fake, argv);
		_exit(127);
	}
	tl_track_child(l->pid);
	/* up to 30 s: a busy machine can take seconds to run a new process */
	for (int i = 0; i < 3000 && access(ready, F_OK); i++)
		usleep(10000);
	assert_int_equal(access(ready, F_OK), 0);
}

/* Sum of ground-truth µJ per (package, domain). */
static void read_truth(const char *path, uint64_t uj[ENERGY_MAX_PKG][ENERGY_NDOMAINS])
{
	FILE *f = fopen(path, "r");
	char line[256];

	assert_non_null(f);
	memset(uj, 0, sizeof(uint64_t) * ENERGY_MAX_PKG * ENERGY_NDOMAINS);
	while (fgets(line, sizeof(line), f)) {
		char id[64], name[64];
		int pkg, d;
		uint64_t v;

		if (line[0] == '#' || sscanf(line, "%63s %63s %d %" SCNu64, id, name, &pkg, &v) != 4)
			continue;
		if (!strncmp(name, "package", 7))
			d = ENERGY_PACKAGE;
		else if (!strcmp(name, "core"))
			d = ENERGY_CORE;
		else if (!strcmp(name, "dram"))
			d = ENERGY_DRAM;
		else if (!strcmp(name, "psys"))
			d = ENERGY_PSYS;
		else
			continue;
		uj[pkg][d] += v;
	}
	fclose(f);
}

/*
 * Open while the fake is stopped (so the baseline and the truth agree), read
 * at 10 Hz on absolute deadlines for `seconds`, stop the fake (its final
 * flush makes counters and truth agree), read once more, compare.
 */
static void run_and_compare(struct live *l, struct energy_opts *o, double seconds, uint64_t min_wraps)
{
	uint64_t t0[ENERGY_MAX_PKG][ENERGY_NDOMAINS], t1[ENERGY_MAX_PKG][ENERGY_NDOMAINS];
	struct energy_source *s = NULL;
	struct energy_reading r;
	struct energy_stats st;
	struct timespec next;
	char truth[512], why[256] = "";
	int status, ticks = (int)(seconds * 10);
	double worst = 0, total_j = 0;

	snprintf(truth, sizeof(truth), "%s/root/ground_truth", l->dir);
	assert_int_equal(kill(l->pid, SIGSTOP), 0);
	usleep(20000);
	read_truth(truth, t0);
	assert_int_equal(energy_open(&s, o, why, sizeof(why)), 0);
	assert_int_equal(kill(l->pid, SIGCONT), 0);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < ticks; i++) {
		next.tv_nsec += 100000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		assert_int_equal(energy_read(s, NULL, &r), 0);
	}
	assert_int_equal(kill(l->pid, SIGTERM), 0);
	assert_int_equal(waitpid(l->pid, &status, 0), l->pid);
	tl_untrack_child(l->pid);
	l->pid = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(energy_read(s, NULL, &r), 0);
	read_truth(truth, t1);
	energy_get_stats(s, &st);
	for (int p = 0; p < r.npkg; p++) {
		for (int d = 0; d < ENERGY_NDOMAINS; d++) {
			double want, got, rel;

			if (!(r.domains & (1u << d)) || t1[p][d] == t0[p][d])
				continue;
			want = (double)(t1[p][d] - t0[p][d]);
			got = (double)r.uj[p][d];
			rel = fabs(got - want) / want;
			if (rel > worst)
				worst = rel;
			if (d == ENERGY_PACKAGE)
				total_j += got / 1e6;
			printf("  pkg %d %-7s truth %12.6f J  read %12.6f J  rel.err %.2e\n", p, energy_domain_name(d),
			       want / 1e6, got / 1e6, rel);
			assert_true(rel < 0.005);
		}
	}
	printf("  %s: %.1f s, %" PRIu64 " reads, %" PRIu64 " wraps, %" PRIu64 " rejected, %" PRIu64
	       " read errors, package %.3f J, worst rel.err %.2e\n",
	       energy_kind_name(energy_source_kind(s)), seconds, st.reads, st.wraps, st.rejected, st.read_errors,
	       total_j, worst);
	assert_true(st.wraps >= min_wraps);
	assert_int_equal(st.rejected, 0);
	energy_close(s);
}

static void test_powercap_live_fake_rapl_wraps_matches_truth(void **state)
{
	struct live *l = *state;
	static const int pkg_of[] = { 0, 1 };
	struct energy_opts o = { .kind = ENERGY_SRC_POWERCAP };
	struct topo topo;
	char root[512], cpu[512];
	char *args[] = { "--root", root, "--packages", "2", "--psys", "--max-range-uj", "40000000", "--idle-w", "8",
			 "--max-w", "20", NULL };

	snprintf(root, sizeof(root), "%s/root", l->dir);
	snprintf(cpu, sizeof(cpu), "%s/cpu", l->dir);
	t_topo_tree(cpu, 2, pkg_of);
	assert_int_equal(topo_load(&topo, cpu), 0);
	o.topo = &topo;
	o.powercap_root = root;
	start_fake(l, args);
	/*
	 * 40 J range at 8..20 W per package: a wrap every 2-5 s, so at least 4 per package in 20 s. A read
	 * later than one wrap period misses a wrap (no reader can see it): 2 s is what a busy machine's
	 * scheduler delay stays under (at 40 W and 20 J, 0.5 s, a read 0.75 s late lost 20 J at load 20).
	 */
	run_and_compare(l, &o, 20.0, 4);
	topo_free(&topo);
}

/* A fake MSR tree (tools/fake-rapl --mode ...) read through the real MSR source: its own topology and cpuinfo. */
static void msr_live(struct live *l, char *const mode_args[], int npkg, double seconds, uint64_t min_wraps)
{
	struct energy_opts o = { .kind = ENERGY_SRC_MSR };
	struct topo topo;
	char root[512], cpu[600], cpuinfo[600], *args[32];
	int n = 0;

	snprintf(root, sizeof(root), "%s/root", l->dir);
	args[n++] = "--root";
	args[n++] = root;
	for (int i = 0; mode_args[i] && n < 31; i++)
		args[n++] = mode_args[i];
	args[n] = NULL;
	start_fake(l, args);
	snprintf(cpu, sizeof(cpu), "%s/cpu", root);
	snprintf(cpuinfo, sizeof(cpuinfo), "%s/cpuinfo", root);
	assert_int_equal(topo_load(&topo, cpu), 0);
	assert_int_equal(topo.npkg, npkg);
	o.topo = &topo;
	o.msr_root = root;
	o.cpuinfo_path = cpuinfo;
	run_and_compare(l, &o, seconds, min_wraps);
	topo_free(&topo);
}

static void test_msr_live_fake_intel_server_matches_truth(void **state)
{
	/* Skylake-SP: DRAM in 15.3 µJ units; counters start 1 J below the 32-bit wrap */
	char *mode[] = { "--mode", "msr-intel", "--packages", "2", "--cpus-per-package", "2", "--psys",
			 "--cpu-model", "55", "--msr-start", "0xFFFFC000", "--dirty-high-bits", NULL };

	msr_live(*state, mode, 2, 3.0, 2);
}

static void test_msr_live_fake_amd_matches_truth(void **state)
{
	char *mode[] = { "--mode", "msr-amd", "--esu", "16", "--msr-start", "0xFFFF0000", NULL };

	msr_live(*state, mode, 1, 2.0, 1);
}

TL_MAIN(
	cmocka_unit_test_setup_teardown(test_powercap_live_fake_rapl_wraps_matches_truth, live_setup,
					live_teardown),
	cmocka_unit_test_setup_teardown(test_msr_live_fake_intel_server_matches_truth, live_setup,
					live_teardown),
	cmocka_unit_test_setup_teardown(test_msr_live_fake_amd_matches_truth, live_setup, live_teardown)
)
