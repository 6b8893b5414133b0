// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule ledger verify|show|keygen`: the command-line face of the ledger module. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "joule/jcs.h"
#include "joule/ledger.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: joule ledger verify [--json] [--head HASH] FILE...\n"
		"       joule ledger show [--json] [--pid N] [--comm NAME] [--kind KIND]\n"
		"                         [--since T] [--until T] FILE...\n"
		"       joule ledger keygen FILE\n"
		"\n"
		"verify  check canonical form, hashes, chain links, sequence and signatures of\n"
		"        one segment or a rotated series given oldest first (plain or .gz).\n"
		"        --head HASH also requires that hash in the series (detects lines cut\n"
		"        from the end). Exit 0 intact, 1 first bad line named, 2 usage.\n"
		"show    print records as a table (or a JSON array with --json); T is seconds\n"
		"        since the epoch or RFC 3339 UTC (2025-01-31T12:00:00Z).\n"
		"keygen  write a new Ed25519 key (mode 0600) for --ledger-key.\n");
}

/* Seconds since the epoch (may be fractional) or RFC 3339 UTC, to ns. */
static int parse_time_ns(const char *s, uint64_t *out)
{
	struct tm tm = { 0 };
	const char *rest;
	double sec;

	if (parse_double(s, &sec) == 0 && sec >= 0) {
		*out = (uint64_t)(sec * 1e9);
		return 0;
	}
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -EINVAL;
	double frac = 0;
	if (*rest == '.') {
		char *end;

		frac = strtod(rest, &end);
		rest = end;
	}
	if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		return -EINVAL;
	*out = (uint64_t)timegm(&tm) * NSEC_PER_SEC + (uint64_t)(frac * 1e9);
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "head", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ledger_verify_result r;
	const char *head = NULL;
	bool json = false;
	char t0[40], t1[40];
	int c, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jH:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'H': head = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "joule: ledger verify: no FILE given\n");
		usage(stderr);
		return 2;
	}
	if (head && strlen(head) != LEDGER_HASH_HEX) {
		fprintf(stderr, "joule: ledger verify: --head wants a 64-digit hex hash\n");
		return 2;
	}
	err = ledger_verify_files((const char *const *)argv + optind, argc - optind, head, &r);
	format_rfc3339(r.first_ts_ns, t0, sizeof(t0));
	format_rfc3339(r.last_ts_ns, t1, sizeof(t1));
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *s = NULL;

		cJSON_AddBoolToObject(o, "ok", !err);
		ledger_json_add_u64(o, "records", r.records);
		if (r.records) {
			cJSON_AddStringToObject(o, "first_ts", t0);
			cJSON_AddStringToObject(o, "last_ts", t1);
			cJSON_AddStringToObject(o, "head_hash", r.head_hash);
			cJSON_AddBoolToObject(o, "signed", r.signed_chain);
		}
		if (r.gaps) {
			ledger_json_add_u64(o, "gaps", r.gaps);
			ledger_json_add_u64(o, "lost_records", r.lost_records);
			ledger_json_add_u64(o, "first_gap_seq", r.first_gap_seq);
			cJSON_AddStringToObject(o, "first_gap_reason", r.first_gap_reason);
		}
		if (err) {
			cJSON_AddStringToObject(o, "file", r.file);
			ledger_json_add_u64(o, "line", r.line);
			cJSON_AddStringToObject(o, "error", ledger_error_name(r.err));
			cJSON_AddStringToObject(o, "detail", r.why);
		}
		if (jcs_serialize(o, &s, NULL) == 0)
			printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else if (!err) {
		printf("ok: %" PRIu64 " records, %s .. %s, head %s%s\n", r.records, t0, t1, r.head_hash,
		       r.signed_chain ? ", signed" : "");
		/* The chain is intact, but the writer says it lost records: never let that pass quietly. */
		if (r.gaps == 1)
			printf("gap: %" PRIu64 " records lost before seq %" PRIu64 " (%s)\n", r.lost_records,
			       r.first_gap_seq, r.first_gap_reason);
		else if (r.gaps > 1)
			printf("gap: %" PRIu64 " records lost in %" PRIu64 " gaps, the first before seq %" PRIu64
			       " (%s)\n", r.lost_records, r.gaps, r.first_gap_seq, r.first_gap_reason);
	} else {
		printf("%s:%" PRIu64 ": %s: %s\n", r.file, r.line, ledger_error_name(r.err), r.why);
		if (r.records)
			printf("(the %" PRIu64 " records before it verify; last good head %s)\n", r.records,
			       r.head_hash);
	}
	return err ? 1 : 0;
}

struct show_filter {
	bool json, any_pid;
	uint32_t pid;
	const char *comm, *kind;
	uint64_t since, until;
	const char *file;
	uint64_t shown, unshowable;
};

static uint64_t num_field(const cJSON *rec, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(rec, key);
	uint64_t v = 0;

	if (cJSON_IsNumber(it) && it->valuedouble > 0)
		return (uint64_t)it->valuedouble;
	if (cJSON_IsString(it))
		parse_u64(it->valuestring, &v);
	return v;
}

static int show_cb(const cJSON *rec, uint64_t line, void *arg)
{
	struct show_filter *f = arg;
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "kind"));
	const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "comm"));
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(rec, "pid");
	uint64_t t0 = num_field(rec, "ts_start"), t1 = num_field(rec, "ts_end");
	char when[40];

	if (f->kind && (!kind || strcmp(kind, f->kind) != 0))
		return 0;
	if (f->any_pid && (!cJSON_IsNumber(pid) || (uint32_t)pid->valuedouble != f->pid))
		return 0;
	if (f->comm && (!comm || strcmp(comm, f->comm) != 0))
		return 0;
	if ((f->since && t1 < f->since) || (f->until && t0 > f->until))
		return 0;
	if (f->json) {
		/* One record at a time: a record that has no canonical form must not hide the others. */
		char *s = NULL;
		int err = jcs_serialize(rec, &s, NULL);

		if (err) {
			fprintf(stderr, "joule: ledger show: %s:%" PRIu64 ": record cannot be shown as JSON: %s\n",
				f->file, line, err == -EEXIST ? "duplicate key" : strerror(-err));
			f->unshowable++;
			return 0;
		}
		printf("%s%s", f->shown++ ? "," : "[", s);
		free(s);
		return 0;
	}
	f->shown++;
	format_rfc3339(t1, when, sizeof(when));
	printf("%8" PRIu64 "  %-8s %-24s ", num_field(rec, "seq"), kind ? kind : "?", when);
	if (cJSON_IsNumber(pid)) {
		char shown[64];
		size_t i;

		/* A comm is whatever the process chose: keep control characters off the terminal. */
		for (i = 0; comm && comm[i] && i < sizeof(shown) - 1; i++)
			shown[i] = (unsigned char)comm[i] < 0x20 || comm[i] == 0x7f ? '?' : comm[i];
		shown[i] = '\0';
		printf("%8" PRIu64 "  %-16s ", num_field(rec, "pid"), shown);
	}
	else
		printf("%8s  %-16s ", "-", "");
	printf("%12.3f %14.3f %12.3f\n", (double)num_field(rec, "cpu_ns") / 1e9,
	       (double)num_field(rec, "energy_uj") / 1e6, (double)num_field(rec, "carbon_ug") / 1e6);
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "kind", required_argument, NULL, 'k' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct show_filter f = { 0 };
	uint64_t v;
	int c, rc = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jp:c:k:s:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': f.json = true; break;
		case 'p':
			if (parse_u64(optarg, &v) || v > UINT32_MAX) {
				fprintf(stderr, "joule: ledger show: bad --pid '%s'\n", optarg);
				return 2;
			}
			f.any_pid = true;
			f.pid = (uint32_t)v;
			break;
		case 'c': f.comm = optarg; break;
		case 'k': f.kind = optarg; break;
		case 's':
		case 'u':
			if (parse_time_ns(optarg, c == 's' ? &f.since : &f.until)) {
				fprintf(stderr, "joule: ledger show: bad time '%s' (seconds since the epoch "
						"or 2025-01-31T12:00:00Z)\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "joule: ledger show: no FILE given\n");
		usage(stderr);
		return 2;
	}
	if (!f.json)
		printf("%8s  %-8s %-24s %8s  %-16s %12s %14s %12s\n", "SEQ", "KIND", "END (UTC)", "PID",
		       "COMM", "CPU_S", "ENERGY_J", "CARBON_G");
	/* A file or line that cannot be shown is named on stderr; the rest is still shown; exit 1. */
	for (int i = optind; i < argc; i++) {
		f.file = argv[i];
		if (ledger_foreach_line(argv[i], show_cb, &f) != 0)
			rc = 1;
	}
	if (f.json)
		printf("%s]\n", f.shown ? "" : "[");
	return rc || f.unshowable ? 1 : 0;
}

static int cmd_keygen(int argc, char **argv)
{
	char pk[65];

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (ledger_keygen(argv[1], pk))
		return 1;
	printf("wrote %s (mode 0600); public key %s\n", argv[1], pk);
	return 0;
}

int cmd_ledger(int argc, char **argv)
{
	/* argv[0] is "ledger", argv[1] the subcommand. */
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	fprintf(stderr, "joule: ledger: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
