// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule ledger verify|head|show|keygen`: the command-line face of the ledger module. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/jcs.h"
#include "joule/ledger.h"
#include "joule/ledger_checkpoint.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_read.h"
#include "joule/ledger_series.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: joule ledger verify [--json] [--head HASH] [--checkpoint CP] [--pubkey FILE.pub]\n"
		"                           [--require-signatures] FILE...|DIR\n"
		"       joule ledger head [--key KEY] [--pubkey FILE.pub] [-o CP] FILE...|DIR\n"
		"       joule ledger show [--json] [--pid N] [--comm NAME] [--group NAME] [--kind KIND]\n"
		"                         [--since T] [--until T] FILE...|DIR\n"
		"       joule ledger keygen FILE\n"
		"\n"
		"verify  check canonical form, hashes, chain links, sequence and signatures of\n"
		"        one segment or a rotated series (plain or .gz): a directory, or the files\n"
		"        of one ledger in any order (a glob), are read oldest first.\n"
		"        --head HASH also requires that hash in the series (detects lines cut\n"
		"        from the end); --checkpoint CP requires the record a checkpoint names.\n"
		"        --pubkey FILE.pub pins the signer: every segment must be signed by that\n"
		"        key; --require-signatures fails any unsigned segment.\n"
		"        Exit 0 intact, 1 first bad line named, 2 usage.\n"
		"head    verify, then print a checkpoint (seq, hash, time; signed with --key) to\n"
		"        keep away from the ledger, for a later 'verify --checkpoint'.\n"
		"show    print records as a table (or a JSON array with --json); T is seconds\n"
		"        since the epoch or RFC 3339 UTC (2025-01-31T12:00:00Z).\n"
		"keygen  write a new Ed25519 key (mode 0600) for --ledger-key, and its public\n"
		"        key to FILE.pub for 'verify --pubkey'.\n"
		"\n"
		"examples:\n"
		"  joule ledger keygen /etc/joule/ledger.key\n"
		"  joule ledger verify --pubkey /etc/joule/ledger.key.pub /var/lib/joule/\n"
		"  joule ledger head --key /etc/joule/ledger.key /var/lib/joule/ > cp.json\n"
		"  joule ledger verify --checkpoint cp.json /var/lib/joule/ledger.jsonl*\n");
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

/*
 * A subcommand's options through the shared parser (cli.h): no config keys,
 * options anywhere among the FILEs. CLI_CONTINUE with *idx at the first
 * FILE, or the exit status (0 after --help, 2 after a usage error).
 */
static int parse_sub(const struct cli_command *def, int argc, char **argv, cli_opt_fn fn, void *ctx, int *idx)
{
	struct joule_config cfg;
	int rc;

	config_init(&cfg);
	rc = cli_parse(def, argc, argv, &cfg, fn, ctx, idx);
	config_free(&cfg);
	return rc;
}

/* The options verify and head share: which files, and what to trust. */
struct trust_args {
	const char *head, *checkpoint, *pubkey;
	bool require_signatures;
	struct ledger_verify_opts vo;
	struct ledger_checkpoint cp;
	char **paths;
	int npaths;
};

/* Pin, checkpoint, file list; 0, 1 (runtime failure, printed) or 2 (usage, printed). */
static int trust_prepare(struct trust_args *t, const char *cmd, int argc, char **argv, int idx)
{
	char why[256];
	int err;

	if (idx >= argc) {
		fprintf(stderr, "joule: ledger %s: no FILE given\n", cmd);
		usage(stderr);
		return 2;
	}
	if (t->head && (strlen(t->head) != LEDGER_HASH_HEX || !ledger_is_hex(t->head, LEDGER_HASH_HEX))) {
		fprintf(stderr, "joule: ledger %s: --head wants a 64-digit lowercase hex hash\n", cmd);
		return 2;
	}
	t->vo.expect_head = t->head;
	t->vo.require_signatures = t->require_signatures;
	if (t->pubkey) {
		if (ledger_pubkey_read(t->pubkey, t->vo.pubkey))
			return 1;
		t->vo.pinned = true;
	}
	if (t->checkpoint) {
		char *text = NULL;
		ssize_t len = 0;
		struct stat st;
		/* O_NONBLOCK and a regular file only: a FIFO given here must not hang verify. */
		int fd = open(t->checkpoint, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		err = fd >= 0 ? 0 : -errno;
		if (!err && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
			err = -EINVAL;
		if (!err) {
			text = malloc(65536);
			len = text ? read(fd, text, 65535) : -1;
			if (len < 0)
				err = -EIO;
		}
		if (fd >= 0)
			close(fd);
		if (err) {
			fprintf(stderr, "joule: ledger %s: failed to read checkpoint %s: %s\n", cmd, t->checkpoint,
				err == -EINVAL ? "not a regular file" : strerror(-err));
			free(text);
			return 1;
		}
		err = ledger_checkpoint_parse(text, (size_t)len, t->vo.pinned ? t->vo.pubkey : NULL, &t->cp, why, sizeof(why));
		free(text);
		if (err) {
			fprintf(stderr, "joule: ledger %s: checkpoint %s: %s\n", cmd, t->checkpoint, why);
			return 1;
		}
		if (t->head && strcmp(t->head, t->cp.hash) != 0) {
			fprintf(stderr, "joule: ledger %s: --head and --checkpoint name different records\n", cmd);
			return 2;
		}
		t->vo.expect_head = t->cp.hash;
		t->vo.expect_seq_set = true;
		t->vo.expect_seq = t->cp.seq;
	}
	err = ledger_series_expand(argv + idx, argc - idx, &t->paths, &t->npaths, why, sizeof(why));
	if (err) {
		fprintf(stderr, "joule: ledger %s: %s\n", cmd, why);
		return 1;
	}
	return 0;
}

static void print_verify_json(const struct trust_args *t, const struct ledger_verify_result *r, bool ok,
			      const char *t0, const char *t1)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	cJSON_AddBoolToObject(o, "ok", ok);
	ledger_json_add_u64(o, "records", r->records);
	if (r->records) {
		cJSON_AddStringToObject(o, "first_ts", t0);
		cJSON_AddStringToObject(o, "last_ts", t1);
		cJSON_AddStringToObject(o, "head_hash", r->head_hash);
		ledger_json_add_u64(o, "head_seq", r->head_seq);
		cJSON_AddBoolToObject(o, "signed", r->signed_chain);
		cJSON_AddBoolToObject(o, "pinned", t->vo.pinned && ok);
		ledger_json_add_u64(o, "segments", r->segments);
		ledger_json_add_u64(o, "signed_segments", r->signed_segments);
		if (r->pubkey[0])
			cJSON_AddStringToObject(o, "pubkey", r->pubkey);
		if (r->first_unsigned_after_signed_seq)
			ledger_json_add_u64(o, "unsigned_from_seq", r->first_unsigned_after_signed_seq);
		ledger_json_add_u64(o, "restarts", r->starts);
		ledger_json_add_u64(o, "unrecorded_ns", r->unrecorded_ns);
	}
	if (t->checkpoint && ok)
		ledger_json_add_u64(o, "checkpoint_seq", t->cp.seq);
	if (r->gaps) {
		ledger_json_add_u64(o, "gaps", r->gaps);
		ledger_json_add_u64(o, "lost_records", r->lost_records);
		ledger_json_add_u64(o, "first_gap_seq", r->first_gap_seq);
		cJSON_AddStringToObject(o, "first_gap_reason", r->first_gap_reason);
	}
	if (!ok) {
		cJSON_AddStringToObject(o, "file", r->file);
		ledger_json_add_u64(o, "line", r->line);
		cJSON_AddStringToObject(o, "error", ledger_error_name(r->err));
		cJSON_AddStringToObject(o, "detail", r->why);
	}
	if (jcs_serialize(o, &s, NULL) == 0)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

static void print_verify_text(const struct trust_args *t, const struct ledger_verify_result *r, bool ok,
			      const char *t0, const char *t1)
{
	char when[40];

	if (!ok) {
		printf("%s:%" PRIu64 ": %s: %s\n", r->file, r->line, ledger_error_name(r->err), r->why);
		if (r->records)
			printf("(the %" PRIu64 " records before it verify; last good head %s)\n", r->records,
			       r->head_hash);
		return;
	}
	printf("ok: %" PRIu64 " records, %s .. %s, head %s%s\n", r->records, t0, t1, r->head_hash,
	       !r->signed_chain ? "" : t->vo.pinned ? ", signed by the pinned key" : ", signed");
	if (t->checkpoint) {
		format_rfc3339(t->cp.ts_ns, when, sizeof(when));
		printf("checkpoint: seq %" PRIu64 " (taken %s%s) is in the ledger\n", t->cp.seq, when,
		       t->cp.is_signed ? ", signed" : ", unsigned");
	}
	/* What a signature in the file does not prove: say so rather than let "signed" imply origin. */
	if (r->signed_segments && !t->vo.pinned)
		printf("note: signatures were checked against the key in the ledger itself; "
		       "pin the signer with --pubkey FILE.pub\n");
	if (r->first_unsigned_after_signed_seq)
		printf("warning: the segment from seq %" PRIu64 " on is unsigned, after signed ones: anyone who "
		       "can write the files could have written it (--require-signatures fails this)\n",
		       r->first_unsigned_after_signed_seq);
	if (r->key_changed && !t->vo.pinned)
		printf("warning: the signing key changes within the series\n");
	if (r->starts)
		printf("restarts: %" PRIu64 " (%.1f s before them not covered by any record)\n", r->starts,
		       (double)r->unrecorded_ns / 1e9);
	/* The chain is intact, but the writer says it lost records: never let that pass quietly. */
	if (r->gaps == 1)
		printf("gap: %" PRIu64 " records lost before seq %" PRIu64 " (%s)\n", r->lost_records,
		       r->first_gap_seq, r->first_gap_reason);
	else if (r->gaps > 1)
		printf("gap: %" PRIu64 " records lost in %" PRIu64 " gaps, the first before seq %" PRIu64
		       " (%s)\n", r->lost_records, r->gaps, r->first_gap_seq, r->first_gap_reason);
}

/* The subcommands' options are in the command table (commands.c); their handlers below key on the short letters. */
struct verify_args {
	struct trust_args t;
	bool json;
};

static int verify_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct verify_args *a = ctx;

	switch (o->short_opt) {
	case 'j': a->json = true; break;
	case 'H': a->t.head = val; break;
	case 'C': a->t.checkpoint = val; break;
	case 'P': a->t.pubkey = val; break;
	case 'S': a->t.require_signatures = true; break;
	}
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	struct verify_args a = { 0 };
	struct trust_args *t = &a.t;
	struct ledger_verify_result r;
	char t0[40], t1[40];
	int idx, err;

	err = parse_sub(&cmd_ledger_verify_def, argc, argv, verify_opt, &a, &idx);
	if (err != CLI_CONTINUE)
		return err;
	err = trust_prepare(t, "verify", argc, argv, idx);
	if (err)
		return err;
	err = ledger_verify_series((const char *const *)t->paths, t->npaths, &t->vo, &r);
	format_rfc3339(r.first_ts_ns, t0, sizeof(t0));
	format_rfc3339(r.last_ts_ns, t1, sizeof(t1));
	if (a.json)
		print_verify_json(t, &r, !err, t0, t1);
	else
		print_verify_text(t, &r, !err, t0, t1);
	ledger_series_free(t->paths, t->npaths);
	return err ? 1 : 0;
}

/* Write text to path through path.tmp and a rename, so a checkpoint is never half there. */
static int write_file_atomic(const char *path, const char *text)
{
	char *tmp = NULL;
	FILE *f;
	int err = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	f = fopen(tmp, "wxe");
	if (!f) {
		err = -errno;
	} else {
		if (fputs(text, f) == EOF || fflush(f) == EOF || fsync(fileno(f)) < 0)
			err = errno ? -errno : -EIO;
		if (fclose(f) == EOF && !err)
			err = errno ? -errno : -EIO;
		if (!err && rename(tmp, path) < 0)
			err = -errno;
		if (err)
			unlink(tmp);
	}
	free(tmp);
	return err;
}

struct head_args {
	struct trust_args t;
	const char *key_path, *out;
};

static int head_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct head_args *a = ctx;

	switch (o->short_opt) {
	case 'k': a->key_path = val; break;
	case 'P': a->t.pubkey = val; break;
	case 'o': a->out = val; break;
	}
	return 0;
}

static int cmd_head(int argc, char **argv)
{
	struct head_args a = { 0 };
	struct trust_args *t = &a.t;
	struct ledger_verify_result r;
	struct ledger_checkpoint cp = { 0 };
	struct ledger_key key;
	const char *key_path, *out;
	char *line = NULL;
	int idx, err;

	err = parse_sub(&cmd_ledger_head_def, argc, argv, head_opt, &a, &idx);
	if (err != CLI_CONTINUE)
		return err;
	key_path = a.key_path;
	out = a.out;
	err = trust_prepare(t, "head", argc, argv, idx);
	if (err)
		return err;
	if (key_path && ledger_key_load(key_path, &key)) {
		ledger_series_free(t->paths, t->npaths);
		return 1;
	}
	err = ledger_verify_series((const char *const *)t->paths, t->npaths, &t->vo, &r);
	ledger_series_free(t->paths, t->npaths);
	if (err) {
		/* A checkpoint vouches for the ledger: never take one of a ledger that does not verify. */
		fprintf(stderr, "joule: ledger head: %s:%" PRIu64 ": %s: %s\n", r.file, r.line,
			ledger_error_name(r.err), r.why);
		if (key_path)
			ledger_key_wipe(&key);
		return 1;
	}
	cp.seq = r.head_seq;
	memcpy(cp.hash, r.head_hash, sizeof(cp.hash));
	cp.ts_ns = now_real_ns();
	cp.records = r.records;
	err = ledger_checkpoint_format(&cp, key_path ? &key : NULL, &line);
	if (key_path)
		ledger_key_wipe(&key);
	if (!err && out)
		err = write_file_atomic(out, line);
	else if (!err && (fputs(line, stdout) == EOF || fflush(stdout) == EOF))
		err = errno ? -errno : -EIO;
	free(line);
	if (err) {
		fprintf(stderr, "joule: ledger head: failed to write the checkpoint to %s: %s\n",
			out ? out : "stdout", strerror(-err));
		return 1;
	}
	return 0;
}

struct show_filter {
	bool json, any_pid;
	uint32_t pid;
	const char *comm, *kind, *group;
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

/* A comm or a group name is whatever a process or a cgroup chose: keep control characters off the terminal. */
static void terminal_text(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s && s[i] && i < len - 1; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
}

static int show_cb(const cJSON *rec, uint64_t line, void *arg)
{
	struct show_filter *f = arg;
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "kind"));
	const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "comm"));
	const char *group = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "group"));
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(rec, "pid");
	uint64_t t0 = num_field(rec, "ts_start"), t1 = num_field(rec, "ts_end");
	char when[40];

	if (f->kind && (!kind || strcmp(kind, f->kind) != 0))
		return 0;
	if (f->any_pid && (!cJSON_IsNumber(pid) || (uint32_t)pid->valuedouble != f->pid))
		return 0;
	if (f->comm && (!comm || strcmp(comm, f->comm) != 0))
		return 0;
	if (f->group && (!group || strcmp(group, f->group) != 0))
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

		terminal_text(comm, shown, sizeof(shown));
		printf("%8" PRIu64 "  %-16s ", num_field(rec, "pid"), shown);
	}
	else
		printf("%8s  %-16s ", "-", "");
	printf("%12.3f %14.3f %12.3f", (double)num_field(rec, "cpu_ns") / 1e9,
	       (double)num_field(rec, "energy_uj") / 1e6, (double)num_field(rec, "carbon_ug") / 1e6);
	if (group) {
		char shown[256]; /* a record from another writer may hold a longer name: cut for the table */
		const char *gk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "group_kind"));

		terminal_text(group, shown, sizeof(shown));
		printf("  %s %s", gk ? gk : "?", shown);
	}
	putchar('\n');
	return 0;
}

static int show_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct show_filter *f = ctx;
	uint64_t v;

	switch (o->short_opt) {
	case 'j': f->json = true; break;
	case 'p':
		if (parse_u64(val, &v) || v > UINT32_MAX) {
			fprintf(stderr, "joule: ledger show: bad --pid '%s'\n", val);
			return -EINVAL;
		}
		f->any_pid = true;
		f->pid = (uint32_t)v;
		break;
	case 'c': f->comm = val; break;
	case 'g': f->group = val; break;
	case 'k': f->kind = val; break;
	case 's':
	case 'u':
		if (parse_time_ns(val, o->short_opt == 's' ? &f->since : &f->until)) {
			fprintf(stderr, "joule: ledger show: bad time '%s' (seconds since the epoch "
					"or 2025-01-31T12:00:00Z)\n", val);
			return -EINVAL;
		}
		break;
	}
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	struct show_filter f = { 0 };
	char **paths = NULL, why[256];
	int rc, idx, npaths = 0;

	rc = parse_sub(&cmd_ledger_show_def, argc, argv, show_opt, &f, &idx);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = 0;
	if (idx >= argc) {
		fprintf(stderr, "joule: ledger show: no FILE given\n");
		usage(stderr);
		return 2;
	}
	if (!f.json)
		printf("%8s  %-8s %-24s %8s  %-16s %12s %14s %12s  %s\n", "SEQ", "KIND", "END (UTC)", "PID",
		       "COMM", "CPU_S", "ENERGY_J", "CARBON_G", "WORKLOAD");
	/* A file or line that cannot be shown is named on stderr; the rest is still shown; exit 1. */
	/* A directory or a glob of one ledger's segments is shown in chain order, as verify reads it. */
	if (ledger_series_expand(argv + idx, argc - idx, &paths, &npaths, why, sizeof(why))) {
		fprintf(stderr, "joule: ledger show: %s\n", why);
		return 1;
	}
	for (int i = 0; i < npaths; i++) {
		f.file = paths[i];
		if (ledger_foreach_line(paths[i], show_cb, &f) != 0)
			rc = 1;
	}
	ledger_series_free(paths, npaths);
	if (f.json)
		printf("%s]\n", f.shown ? "" : "[");
	return rc || f.unshowable ? 1 : 0;
}

static int cmd_keygen(int argc, char **argv)
{
	char pk[LEDGER_PUBKEY_HEX + 1];
	int rc, idx;

	/* parsed too: "keygen --help" must print help, never create a key file named --help */
	rc = parse_sub(&cmd_ledger_keygen_def, argc, argv, NULL, NULL, &idx);
	if (rc != CLI_CONTINUE)
		return rc;
	if (argc - idx != 1) {
		fprintf(stderr, "joule: ledger keygen: want exactly one FILE (a name starting with '-' goes after --)\n");
		usage(stderr);
		return 2;
	}
	if (ledger_keygen(argv[idx], pk))
		return 1;
	printf("wrote %s (mode 0600) and %s.pub; public key %s\n", argv[idx], argv[idx], pk);
	return 0;
}

int cmd_ledger(int argc, char **argv)
{
	/* argv[0] is "ledger", argv[1] the subcommand. */
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "head") == 0)
		return cmd_head(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	fprintf(stderr, "joule: ledger: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
