// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One row of CodeCarbon's emissions.csv (columns, order and units of CodeCarbon 2.x) from a run summary. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include "joule/carbon.h"
#include "joule/export.h"

/* data/codecarbon_emissions_columns.txt: CodeCarbon 2.x EmissionsData, in file order */
static const char header_line[] =
	"timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
	"ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,"
	"cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,"
	"gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue";

#define UJ_PER_KWH 3.6e12
#define UG_PER_KG 1e9

const char *export_codecarbon_header_line(void)
{
	return header_line;
}

int export_codecarbon_header(FILE *f)
{
	fprintf(f, "%s\n", header_line);
	return ferror(f) ? -EIO : 0;
}

/* %.10g keeps a 5 µJ difference visible in kWh and prints like Python's float repr for these magnitudes */
static void num(FILE *f, double v)
{
	fprintf(f, ",%.10g", v);
}

static void str(FILE *f, const char *s)
{
	fputc(',', f);
	export_csv_field(f, s);
}

static void empty(FILE *f, int n)
{
	while (n-- > 0)
		fputc(',', f);
}

/* A country only when the intensity came from a country row of the zone table (not WORLD, not a sub-zone). */
static const char *country_name(const struct export_run *r)
{
	const struct carbon_zone *z;

	if (strcmp(r->intensity_kind, "zone") != 0 || strlen(r->zone) != 2 || !isalpha((unsigned char)r->zone[0]))
		return "";
	z = carbon_zone_find(r->zone);
	return z ? z->name : "";
}

int export_codecarbon_row(FILE *f, const struct export_run *r, const struct export_opts *o)
{
	char ts[32];
	double dur_s = (double)r->wall_ns / 1e9;
	double cpu_kwh = (double)r->total.tot.cpu_uj / UJ_PER_KWH, ram_kwh = (double)r->total.tot.mem_uj / UJ_PER_KWH;
	double kg = (double)r->total.tot.operational_ug / UG_PER_KG;
	/* RAM energy is measured only where a DRAM domain exists; otherwise it is unknown, not zero */
	bool ram_known = r->domains & (1u << ENERGY_DRAM);
	/* GPU energy likewise: known where NVML was read, empty otherwise (not 0) */
	bool gpu_known = r->gpu_count > 0;
	double gpu_kwh = (double)r->total.tot.gpu_uj / UJ_PER_KWH;

	export_format_utc(ts, sizeof(ts), r->end_real_ns, 'T');
	export_csv_field(f, ts);
	str(f, o && o->project_name ? o->project_name : "");
	str(f, o && o->run_id ? o->run_id : "");
	str(f, o && o->experiment_id ? o->experiment_id : "");
	num(f, dur_s);
	/* CodeCarbon's emissions are energy x PUE x intensity: joule's operational part, not the embodied */
	num(f, kg);
	if (dur_s > 0)
		num(f, kg / dur_s);
	else
		empty(f, 1);
	if (dur_s > 0)
		num(f, cpu_kwh * 3.6e6 / dur_s);
	else
		empty(f, 1);
	if (gpu_known && dur_s > 0)
		num(f, gpu_kwh * 3.6e6 / dur_s);
	else
		empty(f, 1);
	if (ram_known && dur_s > 0)
		num(f, ram_kwh * 3.6e6 / dur_s);
	else
		empty(f, 1);
	num(f, cpu_kwh);
	if (gpu_known)
		num(f, gpu_kwh);
	else
		empty(f, 1);
	if (ram_known)
		num(f, ram_kwh);
	else
		empty(f, 1);
	num(f, cpu_kwh + (ram_known ? ram_kwh : 0) + (gpu_known ? gpu_kwh : 0));
	str(f, country_name(r));
	/* country_iso_code is ISO 3166 alpha-3 in CodeCarbon; joule's zones are alpha-2: left empty */
	empty(f, 1);
	empty(f, 3); /* region, cloud_provider, cloud_region */
	str(f, r->os);
	empty(f, 2); /* python_version, codecarbon_version */
	if (r->cpu_count)
		fprintf(f, ",%u", r->cpu_count);
	else
		empty(f, 1);
	str(f, r->cpu_model);
	if (gpu_known) {
		fprintf(f, ",%u", r->gpu_count);
		str(f, r->gpu_model);
	} else {
		empty(f, 2);
	}
	empty(f, 2); /* longitude, latitude */
	if (r->ram_total_gb > 0)
		fprintf(f, ",%.3f", r->ram_total_gb);
	else
		empty(f, 1);
	/* "process": the figures are the command's; "machine": every process of a ledger window */
	str(f, r->command[0] ? "process" : "machine");
	empty(f, 1); /* on_cloud: joule cannot tell */
	num(f, r->pue > 0 ? r->pue : 1.0);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}
