// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* fake-rapl: a synthetic RAPL powercap tree or MSR layout, driven by real CPU load, with ground truth. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ZONES 16
#define MAX_CPUS 256

enum mode { MODE_POWERCAP, MODE_MSR_INTEL, MODE_MSR_AMD };
enum kind { K_PKG, K_CORE, K_DRAM, K_PSYS };

struct zone {
	enum kind kind;
	int pkg;
	char id[48];	       /* intel-rapl:0:1, or msr:0x611 */
	char name[32];	       /* package-0, core, dram, psys */
	uint64_t uj;	       /* ground truth: unwrapped µJ since start */
	uint64_t rem_fj;       /* sub-µJ remainder (1e-15 J) so nothing drifts */
	int fd;		       /* powercap: energy_uj */
	uint64_t reg;	       /* msr: register */
	uint64_t num, den;     /* msr: µJ per tick = num/den */
	uint64_t start_ticks;  /* msr: initial counter value */
};

static struct {
	enum mode mode;
	const char *root;
	char truth_path[4096];
	const char *ready;
	int packages, cpus_per_pkg;
	bool psys, dram, core, dirty_high;
	uint64_t max_range_uj;
	double idle_w, max_w, duration_s;
	long interval_us;
	unsigned esu, cpu_model;
	uint64_t msr_start;
} opt = {
	.mode = MODE_POWERCAP,
	.packages = 1,
	.cpus_per_pkg = 1,
	.dram = true,
	.core = true,
	.max_range_uj = 262143328850ULL, /* a common real value */
	.idle_w = 10,
	.max_w = 60,
	.interval_us = 1000,
	.esu = 14,
	.cpu_model = 0x4E, /* Skylake client: DRAM uses the ESU */
};

static struct zone zones[MAX_ZONES];
static int nzones;
static int msr_fd[MAX_CPUS];
static int truth_fd = -1;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fake-rapl: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static void mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			die("mkdir", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		die("mkdir", buf);
}

static void write_file(const char *dir, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void write_file(const char *dir, const char *file, const char *fmt, ...)
{
	char path[4200];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	if (!f)
		die("cannot create", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f))
		die("cannot write", path);
}

/* Rewrite a small file in place: same inode, so open-fd pread readers and re-openers both see it. */
static void rewrite(int fd, const char *buf, size_t len)
{
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		die("pwrite", NULL);
	/* Shrink after writing: a reader then sees either the old or the new first line. */
	if (ftruncate(fd, (off_t)len))
		die("ftruncate", NULL);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Whole-machine busy fraction from /proc/stat since the previous call. */
static double cpu_load(void)
{
	static uint64_t pbusy, ptotal;
	uint64_t f[8] = { 0 }, busy, total;
	double u = 0;
	FILE *fp = fopen("/proc/stat", "r");

	if (!fp)
		return 0;
	if (fscanf(fp, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		       " %" SCNu64,
		   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]) < 4) {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
	total = busy + f[3] + f[4];
	if (ptotal && total > ptotal)
		u = (double)(busy - pbusy) / (double)(total - ptotal);
	pbusy = busy;
	ptotal = total;
	return u < 0 ? 0 : u > 1 ? 1 : u;
}

/* The fake's power function (documented in README.md): W per zone for load u. */
static double zone_watts(const struct zone *z, double u)
{
	double pkg = opt.idle_w + (opt.max_w - opt.idle_w) * u;

	switch (z->kind) {
	case K_PKG:
		return pkg;
	case K_CORE:
		return 0.6 * pkg;
	case K_DRAM:
		return 1.0 + 0.08 * pkg;
	case K_PSYS:
		return 3.0 + 1.25 * pkg * opt.packages;
	}
	return 0;
}

static bool intel_server_dram(unsigned model)
{
	static const unsigned m[] = { 0x3F, 0x4F, 0x55, 0x6A, 0x6C, 0x57, 0x85 };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (m[i] == model)
			return true;
	return false;
}

static struct zone *add_zone(enum kind k, int pkg, const char *id, const char *name)
{
	struct zone *z = &zones[nzones++];

	memset(z, 0, sizeof(*z));
	z->kind = k;
	z->pkg = pkg;
	z->fd = -1;
	snprintf(z->id, sizeof(z->id), "%s", id);
	snprintf(z->name, sizeof(z->name), "%s", name);
	return z;
}

static void build_powercap(void)
{
	char ctl[4096], dir[4200], id[48], name[32], link[4400], target[4200];
	int n = 0;

	snprintf(ctl, sizeof(ctl), "%s/intel-rapl", opt.root);
	mkdirs(ctl);
	write_file(ctl, "enabled", "1\n");
	for (int p = 0; p <= opt.packages; p++) {
		bool is_psys = p == opt.packages;

		if (is_psys && !opt.psys)
			break;
		snprintf(id, sizeof(id), "intel-rapl:%d", n++);
		if (is_psys)
			snprintf(name, sizeof(name), "psys");
		else
			snprintf(name, sizeof(name), "package-%d", p);
		add_zone(is_psys ? K_PSYS : K_PKG, is_psys ? 0 : p, id, name);
		if (is_psys)
			continue;
		if (opt.core)
			add_zone(K_CORE, p, "", "core");
		if (opt.dram)
			add_zone(K_DRAM, p, "", "dram");
	}
	/* Subzone ids follow their parent, numbered in order: intel-rapl:N:0, :1 ... */
	for (int i = 0, parent = -1, sub = 0; i < nzones; i++) {
		struct zone *z = &zones[i];

		if (z->kind == K_PKG || z->kind == K_PSYS) {
			parent = i;
			sub = 0;
			snprintf(dir, sizeof(dir), "%s/%s", ctl, z->id);
			snprintf(target, sizeof(target), "intel-rapl/%s", z->id);
		} else {
			snprintf(z->id, sizeof(z->id), "%s:%d", zones[parent].id, sub++);
			snprintf(dir, sizeof(dir), "%s/%s/%s", ctl, zones[parent].id, z->id);
			snprintf(target, sizeof(target), "intel-rapl/%s/%s", zones[parent].id, z->id);
		}
		mkdirs(dir);
		write_file(dir, "name", "%s\n", z->name);
		write_file(dir, "enabled", "1\n");
		write_file(dir, "max_energy_range_uj", "%" PRIu64 "\n", opt.max_range_uj);
		write_file(dir, "constraint_0_name", "long_term\n");
		write_file(dir, "constraint_0_power_limit_uw", "%.0f\n", opt.max_w * 1e6);
		write_file(dir, "constraint_0_time_window_us", "27983872\n");
		write_file(dir, "energy_uj", "0\n");
		snprintf(link, sizeof(link), "%s/energy_uj", dir);
		/* 0444 here; the kernel uses 0400 since CVE-2020-8694: tests may chmod. */
		chmod(link, 0444);
		z->fd = open(link, O_RDWR | O_CLOEXEC);
		if (z->fd < 0)
			die("open", link);
		/* /sys/class/powercap shows every zone flat, as symlinks. */
		snprintf(link, sizeof(link), "%s/%s", opt.root, z->id);
		unlink(link);
		if (symlink(target, link))
			die("symlink", link);
	}
}

static void build_msr(void)
{
	bool intel = opt.mode == MODE_MSR_INTEL;
	int ncpu = opt.packages * opt.cpus_per_pkg;
	char dir[4200], path[4200], cpulist[64];
	uint64_t unit_msr = intel ? (0xAULL << 16) | ((uint64_t)opt.esu << 8) | 0x3 : (0xAULL << 16) |
										     ((uint64_t)opt.esu << 8) | 0x3;

	if (ncpu > MAX_CPUS) {
		fprintf(stderr, "fake-rapl: too many CPUs\n");
		exit(2);
	}
	/* cpuinfo and a sysfs-like CPU tree, so a reader can identify the CPU and its packages. */
	write_file(opt.root, "cpuinfo",
		   "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\nmodel name\t: %s\n"
		   "stepping\t: 4\n\n",
		   intel ? "GenuineIntel" : "AuthenticAMD", intel ? 6u : 0x19u, intel ? opt.cpu_model : 0x11u,
		   intel ? "Fake Intel(R) Xeon(R) CPU" : "Fake AMD EPYC 9654");
	snprintf(dir, sizeof(dir), "%s/cpu", opt.root);
	mkdirs(dir);
	snprintf(cpulist, sizeof(cpulist), ncpu > 1 ? "0-%d\n" : "0\n", ncpu - 1);
	write_file(dir, "possible", "%s", cpulist);
	write_file(dir, "online", "%s", cpulist);
	for (int c = 0; c < ncpu; c++) {
		snprintf(path, sizeof(path), "%s/cpu/cpu%d/topology", opt.root, c);
		mkdirs(path);
		write_file(path, "physical_package_id", "%d\n", c / opt.cpus_per_pkg);
		snprintf(path, sizeof(path), "%s/%d", opt.root, c);
		mkdirs(path);
		snprintf(path, sizeof(path), "%s/%d/msr", opt.root, c);
		msr_fd[c] = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (msr_fd[c] < 0)
			die("open", path);
		if (pwrite(msr_fd[c], &unit_msr, 8, intel ? 0x606 : 0xC0010299) != 8)
			die("pwrite", path);
	}
	for (int p = 0; p < opt.packages; p++) {
		char id[48], name[32];
		struct zone *z;

		snprintf(name, sizeof(name), "package-%d", p);
		snprintf(id, sizeof(id), "msr:0x%x", intel ? 0x611 : 0xC001029B);
		z = add_zone(K_PKG, p, id, name);
		z->reg = intel ? 0x611 : 0xC001029B;
		if (intel && opt.core) {
			z = add_zone(K_CORE, p, "msr:0x639", "core");
			z->reg = 0x639;
		}
		if (intel && opt.dram) {
			z = add_zone(K_DRAM, p, "msr:0x619", "dram");
			z->reg = 0x619;
		}
		if (intel && opt.psys && p == 0) {
			z = add_zone(K_PSYS, 0, "msr:0x64d", "psys");
			z->reg = 0x64D;
		}
	}
	for (int i = 0; i < nzones; i++) {
		struct zone *z = &zones[i];

		z->num = 1000000;
		z->den = 1ULL << opt.esu;
		if (intel && z->kind == K_DRAM && intel_server_dram(opt.cpu_model)) {
			z->num = 153;
			z->den = 10;
		}
		z->start_ticks = opt.msr_start;
	}
}

static uint64_t msr_ticks(const struct zone *z)
{
	/* ticks the hardware would show for z->uj: floor(uj × den / num) */
	return (uint64_t)((unsigned __int128)z->uj * z->den / z->num);
}

static void publish(void)
{
	char buf[8192];
	size_t off = 0;

	for (int i = 0; i < nzones; i++) {
		struct zone *z = &zones[i];

		if (opt.mode == MODE_POWERCAP) {
			char v[32];
			int n = snprintf(v, sizeof(v), "%" PRIu64 "\n", z->uj % (opt.max_range_uj + 1));

			rewrite(z->fd, v, (size_t)n);
		} else {
			uint64_t raw = (z->start_ticks + msr_ticks(z)) & 0xffffffffULL;

			if (opt.dirty_high)
				raw |= 0xA5A5A5A5ULL << 32; /* reserved bits: readers must mask them */
			for (int c = z->pkg * opt.cpus_per_pkg; c < (z->pkg + 1) * opt.cpus_per_pkg; c++)
				if (pwrite(msr_fd[c], &raw, 8, (off_t)z->reg) != 8)
					die("pwrite msr", NULL);
		}
	}
	/* Ground truth, written after the counters it describes. */
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "# zone name package unwrapped_uj\n");
	for (int i = 0; i < nzones; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s %s %d %" PRIu64 "\n", zones[i].id,
					zones[i].name, zones[i].pkg, zones[i].uj);
	rewrite(truth_fd, buf, off);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fake-rapl --root DIR [options]\n"
		"  --mode powercap|msr-intel|msr-amd   layout to create (default powercap)\n"
		"  --packages N          packages (default 1)\n"
		"  --cpus-per-package N  msr modes: CPUs per package (default 1)\n"
		"  --psys                add a psys zone\n"
		"  --no-dram, --no-core  leave out those subzones\n"
		"  --max-range-uj N      powercap max_energy_range_uj (small forces wraps)\n"
		"  --idle-w W, --max-w W package power at 0 %% and 100 %% CPU load (10, 60)\n"
		"  --interval-us N       update period (default 1000)\n"
		"  --duration S          exit after S seconds (default: until SIGTERM/SIGINT)\n"
		"  --truth FILE          ground truth file (default ROOT/ground_truth)\n"
		"  --ready FILE          created once the tree holds its first values\n"
		"  --esu N               msr: energy status unit, 1/2^N J (default 14)\n"
		"  --cpu-model HEX       msr-intel: model number (server models use the 15.3 uJ DRAM unit)\n"
		"  --msr-start N         msr: initial counter value (near 2^32 forces an early wrap)\n"
		"  --dirty-high-bits     msr: set reserved bits 63:32\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "root", 1, 0, 'r' },	       { "mode", 1, 0, 'm' },	  { "packages", 1, 0, 'p' },
		{ "cpus-per-package", 1, 0, 'c' }, { "psys", 0, 0, 'P' }, { "no-dram", 0, 0, 'D' },
		{ "no-core", 0, 0, 'C' },	   { "max-range-uj", 1, 0, 'R' }, { "idle-w", 1, 0, 'i' },
		{ "max-w", 1, 0, 'x' },	   { "interval-us", 1, 0, 'I' }, { "duration", 1, 0, 'd' },
		{ "truth", 1, 0, 't' },	   { "ready", 1, 0, 'y' },	  { "esu", 1, 0, 'e' },
		{ "cpu-model", 1, 0, 'M' },	   { "msr-start", 1, 0, 's' }, { "dirty-high-bits", 0, 0, 'H' },
		{ "help", 0, 0, 'h' },	   { 0, 0, 0, 0 },
	};
	uint64_t start, last, next, deadline = 0;
	double u;
	int ch, tick = 0;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': opt.root = optarg; break;
		case 'm':
			if (!strcmp(optarg, "powercap"))
				opt.mode = MODE_POWERCAP;
			else if (!strcmp(optarg, "msr-intel"))
				opt.mode = MODE_MSR_INTEL;
			else if (!strcmp(optarg, "msr-amd"))
				opt.mode = MODE_MSR_AMD;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'p': opt.packages = atoi(optarg); break;
		case 'c': opt.cpus_per_pkg = atoi(optarg); break;
		case 'P': opt.psys = true; break;
		case 'D': opt.dram = false; break;
		case 'C': opt.core = false; break;
		case 'R': opt.max_range_uj = strtoull(optarg, NULL, 0); break;
		case 'i': opt.idle_w = atof(optarg); break;
		case 'x': opt.max_w = atof(optarg); break;
		case 'I': opt.interval_us = atol(optarg); break;
		case 'd': opt.duration_s = atof(optarg); break;
		case 't': snprintf(opt.truth_path, sizeof(opt.truth_path), "%s", optarg); break;
		case 'y': opt.ready = optarg; break;
		case 'e': opt.esu = (unsigned)atoi(optarg); break;
		case 'M': opt.cpu_model = (unsigned)strtoul(optarg, NULL, 16); break;
		case 's': opt.msr_start = strtoull(optarg, NULL, 0) & 0xffffffffULL; break;
		case 'H': opt.dirty_high = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!opt.root || opt.packages < 1 || opt.packages > 8 || opt.cpus_per_pkg < 1 || opt.max_range_uj < 1 ||
	    opt.interval_us < 100 || opt.esu > 31 || !(opt.max_w >= opt.idle_w) || opt.idle_w < 0) {
		usage(stderr);
		return 2;
	}
	mkdirs(opt.root);
	if (!opt.truth_path[0])
		snprintf(opt.truth_path, sizeof(opt.truth_path), "%s/ground_truth", opt.root);
	truth_fd = open(opt.truth_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (truth_fd < 0)
		die("open", opt.truth_path);
	if (opt.mode == MODE_POWERCAP)
		build_powercap();
	else
		build_msr();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	publish();
	if (opt.ready) {
		int fd = open(opt.ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0)
			die("open", opt.ready);
		close(fd);
	}
	u = cpu_load();
	start = last = next = mono_ns();
	if (opt.duration_s > 0)
		deadline = start + (uint64_t)(opt.duration_s * 1e9);
	while (!stop) {
		struct timespec ts;
		uint64_t now, dt;

		next += (uint64_t)opt.interval_us * 1000;
		ts.tv_sec = (time_t)(next / 1000000000ULL);
		ts.tv_nsec = (long)(next % 1000000000ULL);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: stop is set */
		now = mono_ns();
		dt = now - last;
		last = now;
		if (++tick % 10 == 0)
			u = cpu_load(); /* /proc/stat moves in 10 ms jiffies: no point reading it more often */
		for (int i = 0; i < nzones; i++) {
			struct zone *z = &zones[i];
			uint64_t p_uw = (uint64_t)(zone_watts(z, u) * 1e6);
			unsigned __int128 fj = (unsigned __int128)p_uw * dt + z->rem_fj;

			z->uj += (uint64_t)(fj / 1000000000u);
			z->rem_fj = (uint64_t)(fj % 1000000000u);
		}
		publish();
		if (deadline && now >= deadline)
			break;
		if (now > next + 100 * 1000000ULL)
			next = now; /* after a long stall, do not try to catch up tick by tick */
	}
	publish(); /* final flush: counters and ground truth agree */
	fsync(truth_fd);
	return 0;
}
