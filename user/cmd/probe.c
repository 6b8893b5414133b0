// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule probe`: what this host offers (kernel, BTF, BPF, topology, energy sources) and why a source is unusable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <cjson/cJSON.h>
#include "joule/commands.h"
#include "joule/log.h"
#include "joule/pipeline.h"

int cmd_probe(int argc, char **argv)
{
	struct joule_config cfg;
	struct energy_probe res[ENERGY_SRC_NKINDS];
	struct energy_opts eo;
	struct tracer *t = NULL;
	struct tracer_opts tro = { 0 };
	static struct gpu_probe gp;
	struct utsname un;
	struct topo topo;
	char why[256] = "";
	cJSON *root, *arr;
	int idx = 1, n, err, bpf_err;
	bool btf;

	config_init(&cfg);
	err = cli_parse(&cmd_probe_def, argc, argv, &cfg, NULL, NULL, &idx);
	if (err == CLI_CONTINUE && idx < argc) {
		fprintf(stderr, "joule: probe takes no arguments ('%s'; see joule probe --help)\n", argv[idx]);
		err = EXIT_USAGE;
	}
	if (err != CLI_CONTINUE) {
		config_free(&cfg);
		return err;
	}
	uname(&un);
	btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	bpf_err = tracer_check_caps(why, sizeof(why));
	if (!bpf_err) {
		/* the real test: load and attach the programs, then let go */
		bpf_err = tracer_open(&t, &tro);
		if (bpf_err)
			snprintf(why, sizeof(why), "loading the BPF programs failed: %s (run with -vv for libbpf's log)",
				 strerror(-bpf_err));
	}
	err = topo_load(&topo, cfg.cpu_root ? cfg.cpu_root : TOPO_DEFAULT_ROOT);
	if (err) {
		log_err("failed to read CPU topology: %s", strerror(-err));
		tracer_close(t);
		config_free(&cfg);
		return 1;
	}
	pipeline_energy_opts(&cfg, &topo, &eo);
	n = energy_probe_all(&eo, res, ENERGY_SRC_NKINDS);

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "kernel", un.release);
	cJSON_AddStringToObject(root, "machine", un.machine);
	cJSON_AddBoolToObject(root, "btf", btf);
	cJSON_AddBoolToObject(root, "bpf", bpf_err == 0);
	if (t) {
		struct tracer_stats ts;

		tracer_get_stats(t, &ts);
		cJSON_AddStringToObject(root, "bpf_hook", ts.raw_tp ? "raw_tp" : "tp_btf");
		cJSON_AddBoolToObject(root, "bpf_batch_ops", ts.batch_ops);
	} else {
		cJSON_AddStringToObject(root, "bpf_error", why);
	}
	cJSON_AddNumberToObject(root, "possible_cpus", topo.ncpu);
	cJSON_AddNumberToObject(root, "packages", topo.npkg);
	arr = cJSON_AddArrayToObject(root, "cpu_package");
	for (int c = 0; c < topo.ncpu; c++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(topo.cpu_pkg[c]));
	arr = cJSON_AddArrayToObject(root, "energy_sources");
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *doms = cJSON_CreateArray();

		cJSON_AddStringToObject(o, "source", energy_kind_name(res[i].kind));
		cJSON_AddBoolToObject(o, "usable", res[i].usable);
		for (int d = 0; d < ENERGY_NDOMAINS; d++)
			if (res[i].domains & (1u << d))
				cJSON_AddItemToArray(doms, cJSON_CreateString(energy_domain_name(d)));
		cJSON_AddItemToObject(o, "domains", doms);
		cJSON_AddNumberToObject(o, "packages", res[i].npkg);
		cJSON_AddStringToObject(o, "detail", res[i].detail);
		cJSON_AddItemToArray(arr, o);
	}
	{
		const char *chosen = "none";

		for (int i = 0; i < n; i++)
			if (res[i].usable && (cfg.source == ENERGY_SRC_AUTO || cfg.source == res[i].kind)) {
				chosen = energy_kind_name(res[i].kind);
				break;
			}
		cJSON_AddStringToObject(root, "selected_source", chosen);
	}

	{
		struct gpu_opts go = { .mode = cfg.gpu == GPU_MODE_NONE ? GPU_MODE_NONE : GPU_MODE_NVML,
				       .lib_path = cfg.nvml_lib };
		cJSON *gj = cJSON_AddObjectToObject(root, "gpu"), *ga;

		gpu_probe(&go, &gp);
		cJSON_AddBoolToObject(gj, "usable", gp.usable);
		if (!gp.usable)
			cJSON_AddStringToObject(gj, "detail", gp.why);
		else
			cJSON_AddStringToObject(gj, "driver_version", gp.driver);
		ga = cJSON_AddArrayToObject(gj, "gpus");
		for (int i = 0; i < gp.ngpu; i++) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddNumberToObject(o, "index", gp.dev[i].index);
			cJSON_AddStringToObject(o, "uuid", gp.dev[i].uuid);
			cJSON_AddStringToObject(o, "name", gp.dev[i].name);
			cJSON_AddStringToObject(o, "energy", gp.dev[i].has_counter ? "energy_counter" : "power_only");
			cJSON_AddNumberToObject(o, "mig_instances", gp.dev[i].mig_instances);
			cJSON_AddItemToArray(ga, o);
		}
	}

	if (cfg.json) {
		char *txt = cJSON_PrintUnformatted(root);

		printf("%s\n", txt);
		free(txt);
	} else {
		cJSON *it;

		printf("kernel     %s %s, BTF %s\n", un.release, un.machine, btf ? "yes" : "no");
		printf("BPF        %s\n", t ? (cJSON_GetObjectItem(root, "bpf_hook")->valuestring) : why);
		if (t)
			printf("           programs load and attach (%s; batch map ops %s)\n",
			       cJSON_GetObjectItem(root, "bpf_hook")->valuestring,
			       cJSON_IsTrue(cJSON_GetObjectItem(root, "bpf_batch_ops")) ? "yes" : "no");
		printf("topology   %d possible CPUs, %d package%s:", topo.ncpu, topo.npkg, topo.npkg == 1 ? "" : "s");
		for (int c = 0; c < topo.ncpu; c++)
			printf(" cpu%d→%d", c, topo.cpu_pkg[c]);
		printf("\nenergy sources (auto picks the first usable):\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(root, "energy_sources"))
		{
			printf("  %-9s %-9s %s\n", cJSON_GetObjectItem(it, "source")->valuestring,
			       cJSON_IsTrue(cJSON_GetObjectItem(it, "usable")) ? "usable" : "unusable",
			       cJSON_GetObjectItem(it, "detail")->valuestring);
		}
		printf("selected   %s\n", cJSON_GetObjectItem(root, "selected_source")->valuestring);
		if (!gp.usable)
			printf("gpu        none: %s\n", gp.why);
		else
			printf("gpu        NVML, driver %s, %d GPU%s:\n", gp.driver, gp.ngpu, gp.ngpu == 1 ? "" : "s");
		for (int i = 0; i < gp.ngpu; i++)
			printf("  gpu %u  %s  %s  %s%s\n", gp.dev[i].index, gp.dev[i].name, gp.dev[i].uuid,
			       gp.dev[i].has_counter ? "energy counter (mJ)"
						     : "power only (integrated per tick, wider uncertainty)",
			       gp.dev[i].mig_instances ? "; MIG instances, energy read once on the GPU" : "");
	}
	cJSON_Delete(root);
	tracer_close(t);
	topo_free(&topo);
	config_free(&cfg);
	return 0;
}
