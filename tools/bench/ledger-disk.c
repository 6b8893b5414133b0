// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a day of ledger costs on disk: the real writer fed N busy processes for a few 60 s periods, scaled to 1,440 periods. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_segment.h"
#include "joule/log.h"
#include "joule/sample.h"
#include "joule/util.h"

#define PERIOD_NS (60 * NSEC_PER_SEC)
#define TICK_NS (100 * NSEC_PER_MSEC)	/* the sampler's default interval */

static const char *const comms[] = { "postgres", "nginx", "java", "python3", "node", "systemd-journal",
				     "kworker/3:1", "sshd", "containerd", "redis-server", "bash", "cc1" };

static long file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
	int nproc = argc > 1 ? atoi(argv[1]) : 100, periods = argc > 2 ? atoi(argv[2]) : 10;
	const char *dir = argc > 3 ? argv[3] : ".", *key = argc > 4 ? argv[4] : NULL;
	struct ledger_opts o = { .sync = LEDGER_SYNC_NEVER, .key_path = key, .period_ns = PERIOD_NS };
	struct sample s = { 0 };
	struct ledger *l = NULL;
	char path[512], gz[600];
	uint64_t mono = 1000 * NSEC_PER_SEC, real = 1796000000ULL * NSEC_PER_SEC;
	long raw, packed, genesis;
	int ticks = (int)(PERIOD_NS / TICK_NS);

	log_level = LOG_LVL_ERR;
	snprintf(path, sizeof(path), "%s/ledger-disk-%d.jsonl", dir, nproc);
	snprintf(gz, sizeof(gz), "%s.gz", path);
	unlink(path);
	unlink(gz);
	o.path = path;
	if (ledger_open(&l, &o))
		return 1;
	genesis = file_size(path);
	s.tasks = calloc((size_t)nproc, sizeof(*s.tasks));
	s.ntasks = (size_t)nproc;
	s.source = ENERGY_SRC_POWERCAP;
	s.pue = 1.0;
	s.domains = 1u << ENERGY_PACKAGE;
	s.intensity.g_per_kwh = 380;
	s.intensity.zone = "DE";
	s.intensity.kind = "zone";
	s.intensity.source = "Ember 2024";
	s.intensity.year = 2024;
	for (int i = 0; i < nproc; i++) {
		struct sample_task *t = &s.tasks[i];

		t->pid = 1000 + (uint32_t)i * 3779 % 4000000;
		t->ppid = 1;
		t->start_ns = 5000 * NSEC_PER_SEC + (uint64_t)i * 1234567;
		snprintf(t->comm, sizeof(t->comm), "%s", comms[i % (int)ARRAY_SIZE(comms)]);
	}
	/* Every process on CPU in every tick: the upper bound (an idle process writes no record). */
	for (int p = 0; p < periods; p++) {
		for (int k = 0; k < ticks; k++) {
			uint64_t host = 0;

			for (int i = 0; i < nproc; i++) {
				struct sample_task *t = &s.tasks[i];

				struct sample_totals *o = &t->tot;

				o->cpu_ns = 1000000 + (uint64_t)((i * 7919 + k) % 50) * 100000;
				o->cpu_uj = o->cpu_ns / 40 + (uint64_t)(i % 13);
				o->mem_uj = o->cpu_uj / 20;
				o->operational_ug = (o->cpu_uj + o->mem_uj) * 38 / 360;
				o->embodied_ug = o->operational_ug / 8;
				o->carbon_ug = o->operational_ug + o->embodied_ug;
				host += o->cpu_uj + o->mem_uj;
			}
			s.mono_start_ns = mono;
			s.mono_end_ns = mono + TICK_NS;
			s.real_start_ns = real;
			s.real_end_ns = real + TICK_NS;
			s.host_cpu_uj = host + 1000000;
			s.host_domain_uj[ENERGY_PACKAGE] = s.host_cpu_uj;
			s.idle.cpu_uj = 1000000;
			mono += TICK_NS;
			real += TICK_NS;
			if (ledger_feed_sample(l, &s))
				return 1;
		}
	}
	if (ledger_close(l))
		return 1;
	raw = file_size(path);
	if (ledger_gzip_file(path, gz))
		return 1;
	packed = file_size(gz);
	/* A day is 1,440 periods; the genesis is once per segment, not per period. */
	printf("processes %d%s: %ld B per period (%ld B per process record), %.1f MB/day raw, %.1f MB/day gzip\n",
	       nproc, key ? " signed" : "", (raw - genesis) / periods, (raw - genesis) / periods / (nproc + 1),
	       (double)(raw - genesis) / periods * 1440 / 1e6, (double)packed * ((double)(raw - genesis) / raw) / periods * 1440 / 1e6);
	return 0;
}
