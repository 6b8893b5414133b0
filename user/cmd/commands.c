// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The command table: each command and subcommand with its options, help text and examples, as --help, man and completion print them. */
#include "joule/commands.h"
#include "joule/daemon.h"
#include "joule/fleet.h"
#include "joule/report_cli.h"

static const struct cli_opt run_cli_opts[] = {
	{ .name = "output", .short_opt = 'o', .takes_value = true, .metavar = "FILE",
	  .help = "write the report to FILE instead of standard error (the command's own output is never mixed "
		  "with it)",
	  .dflt = "standard error" },
	{ .name = "report", .takes_value = true, .metavar = "FORMAT=FILE", .repeatable = true,
	  .help = "also write the run as FORMAT to FILE ('-' standard output): codecarbon (a row appended to an "
		  "emissions.csv), boamps, csv, json or sci; checked before CMD starts",
	  .accepted = "codecarbon=, boamps=, csv=, json=, sci=" },
	{ .name = "project-name", .takes_value = true, .metavar = "NAME",
	  .help = "codecarbon: the project_name column" },
	{ .name = "experiment-id", .takes_value = true, .metavar = "ID", .help = "codecarbon: the experiment_id column" },
	{ .name = "run-id", .takes_value = true, .metavar = "ID", .help = "codecarbon: the run_id column",
	  .dflt = "a random UUID" },
	{ .name = "boamps-input", .takes_value = true, .metavar = "FILE",
	  .help = "boamps: the task, algorithm and dataset fields only you know (docs/REPORTS.md)" },
	{ .name = "functional-unit", .takes_value = true, .metavar = "N:NAME",
	  .help = "sci: carbon per functional unit, e.g. 1000:request" },
	{ .name = "push", .takes_value = true, .metavar = "URL",
	  .help = "push the run's totals to a Prometheus Pushgateway when CMD ends (a failure is printed and never "
		  "changes the exit status)" },
	{ .name = "push-interval", .takes_value = true, .metavar = "DURATION",
	  .help = "push: also push the totals so far every DURATION (at least 1s) while CMD runs; the push at the end "
		  "adds the exit status and end time" },
	{ .name = "job", .takes_value = true, .metavar = "NAME", .help = "push: the job label", .dflt = "joule" },
	{ .name = "grouping", .takes_value = true, .metavar = "K=V", .repeatable = true,
	  .help = "push: one more grouping label" },
	{ .name = "plot", .takes_value = true, .metavar = "FILE.svg",
	  .help = "also draw the run as an SVG: power over time stacked by process (top 8, the rest grouped), host "
		  "power and idle behind, the energy and carbon totals in the title; FILE.html: the same inline in a "
		  "page of its own" },
	{ 0 },
};

static const struct cli_example run_examples[] = {
	{ "sudo joule run -- make -j8", "energy, power and carbon of a build and every process it starts" },
	{ "sudo joule run --json -o report.json -- ./train.py", "the report as one JSON object in report.json" },
	{ "sudo joule run --zone FR --embodied-kg none -- sleep 5", "French grid intensity, operational carbon only" },
	{ "sudo joule run --report codecarbon=emissions.csv --push http://localhost:9091 -- ./train.py",
	  "a CodeCarbon row and a Pushgateway record of a batch job" },
	{ "sudo joule run --plot build.svg -- make -j8", "a picture of the build's power, stacked by process" },
	{ 0 },
};

const struct cli_command cmd_run_def = {
	.name = "run",
	.synopsis = "[OPTIONS] [--] CMD [ARGS...]",
	.summary = "run CMD and report the energy and carbon of it and its descendants",
	.description = "Run CMD, held until the BPF tracer follows it, and report CPU time, energy, mean power, "
		       "share of the host and carbon (operational and embodied, with a 95 % interval) for it, each "
		       "descendant, the rest of the host and idle. Like perf stat, the report goes to standard error "
		       "(or to -o FILE), so CMD's standard output stays its own; --json makes it one JSON object. "
		       "joule run exits with CMD's status.",
	.scope = CONFIG_RUN,
	.opts = run_cli_opts,
	.examples = run_examples,
	.main = cmd_run,
};

static const struct cli_opt trace_cli_opts[] = {
	{ .name = "comm", .short_opt = 'c', .takes_value = true, .metavar = "NAME",
	  .help = "follow processes with this command name; repeatable", .repeatable = true },
	{ .name = "pid", .short_opt = 'p', .takes_value = true, .metavar = "PID",
	  .help = "follow this process id; repeatable", .repeatable = true },
	{ .name = "match", .short_opt = 'm', .takes_value = true, .metavar = "REGEX",
	  .help = "follow command names matching this extended regular expression" },
	{ .name = "group", .help = "one row per command name instead of per process" },
	{ .name = "every", .takes_value = true, .metavar = "DURATION", .help = "print every DURATION [ms, s, m, h]",
	  .dflt = "1s" },
	{ .name = "duration", .takes_value = true, .metavar = "DURATION", .help = "stop after DURATION [ms, s, m, h]",
	  .dflt = "until Ctrl-C" },
	{ 0 },
};

static const struct cli_opt top_cli_opts[] = {
	{ .name = "group", .help = "one row per command name instead of per process" },
	{ .name = "every", .takes_value = true, .metavar = "DURATION", .help = "redraw every DURATION [ms, s, m, h]",
	  .dflt = "1s" },
	{ .name = "duration", .takes_value = true, .metavar = "DURATION", .help = "stop after DURATION [ms, s, m, h]",
	  .dflt = "until q or Ctrl-C" },
	{ .name = "sort", .takes_value = true, .metavar = "KEY",
	  .help = "sort by energy, cpu, pid or comm (keys e, c, p, n while running)", .dflt = "energy",
	  .accepted = "energy, cpu, pid, comm" },
	{ 0 },
};

static const struct cli_example trace_examples[] = {
	{ "sudo joule trace -c postgres -c nginx", "energy of every postgres and nginx process, each second" },
	{ "sudo joule trace -m '^python' --group --every 5s", "python processes, one row per name, every 5 s" },
	{ "sudo joule trace -p 4242 --duration 1m --json", "one process for a minute, one JSON object a second" },
	{ 0 },
};

static const struct cli_example top_examples[] = {
	{ "sudo joule top", "every process by energy, redrawn each second; q quits" },
	{ "sudo joule top --group --sort cpu", "one row per command name, by CPU time" },
	{ 0 },
};

const struct cli_command cmd_trace_def = {
	.name = "trace",
	.synopsis = "[-c NAME]... [-p PID]... [-m REGEX] [OPTIONS]",
	.summary = "live energy and power of matching processes, each interval and summed",
	.description = "Follow processes by name, pid or regular expression (or all of them when none is given) "
		       "and print, every interval, each one's CPU share, power and energy, then a summary table "
		       "with carbon when stopped (Ctrl-C or --duration). New processes that match are picked up "
		       "as they start.",
	.scope = CONFIG_TRACE,
	.opts = trace_cli_opts,
	.examples = trace_examples,
	.main = cmd_trace,
};

const struct cli_command cmd_top_def = {
	.name = "top",
	.synopsis = "[--group] [--sort KEY] [OPTIONS]",
	.summary = "every process by energy, redrawn in place to fit the terminal",
	.description = "A trace of every process, drawn within the terminal's size and redrawn each interval. "
		       "Keys: q quits; e, c, p and n sort by energy, CPU, pid and name. "
		       "Without a terminal (a pipe) it prints like trace.",
	.scope = CONFIG_TRACE,
	.opts = top_cli_opts,
	.examples = top_examples,
	.main = cmd_top,
};

static const struct cli_example probe_examples[] = {
	{ "sudo joule probe", "BPF, topology and every energy source, with the reason one is unusable" },
	{ "joule probe --json --powercap-root /tmp/fake-rapl", "a test tree instead of sysfs, as JSON" },
	{ 0 },
};

const struct cli_command cmd_probe_def = {
	.name = "probe",
	.synopsis = "[OPTIONS]",
	.summary = "what this host offers: BPF, topology, energy sources and the one auto picks",
	.description = "Load and attach the BPF programs and let go, read the CPU topology, and try every energy "
		       "source (powercap, msr, perf, model) with the paths given; print which are usable, which one "
		       "--source auto would pick, and why the others are not.",
	.scope = CONFIG_PROBE,
	.examples = probe_examples,
	.main = cmd_probe,
};

static const struct cli_opt daemon_cli_opts[] = {
	{ .name = "check", .help = "read the config file and the options, say whether they are valid, and exit" },
	{ 0 },
};

static const struct cli_example daemon_examples[] = {
	{ "sudo joule daemon --config /etc/joule/joule.conf", "as the systemd unit runs it" },
	{ "joule daemon --config /etc/joule/joule.conf --check", "validate an edited config before a reload" },
	{ "sudo joule daemon --listen 127.0.0.1:0 --socket '' --ready-file /tmp/ready",
	  "any free port, no Unix socket; the bound address is written to /tmp/ready" },
	{ "curl -s localhost:9940/metrics | grep joule_group_energy", "what Prometheus scrapes" },
	{ 0 },
};

const struct cli_command cmd_daemon_def = {
	.name = "daemon",
	.synopsis = "[--config FILE] [OPTIONS]",
	.summary = "sample continuously; ledger, Prometheus /metrics and the JSON API over TCP and a Unix socket",
	.description = "Sample the whole host ten times a second, keep per-process and per-group totals, write "
		       "them to the ledger, and serve /metrics, /api/v1 and /healthz, /readyz. Every option is also "
		       "a key of the config file; options win over the file. SIGHUP rereads intensity, verbose and "
		       "filter; SIGTERM and SIGINT flush the ledger and exit 0.",
	.scope = CONFIG_DAEMON,
	.opts = daemon_cli_opts,
	.examples = daemon_examples,
	.main = cmd_daemon,
};

static const struct cli_opt verify_opts[] = {
	{ .name = "json", .short_opt = 'j', .help = "print the result as one JSON object" },
	{ .name = "head", .short_opt = 'H', .takes_value = true, .metavar = "HASH",
	  .help = "also require this record hash in the series (detects lines cut from the end)" },
	{ .name = "checkpoint", .short_opt = 'C', .takes_value = true, .metavar = "CP",
	  .help = "require the record a checkpoint of 'joule ledger head' names" },
	{ .name = "pubkey", .short_opt = 'P', .takes_value = true, .metavar = "FILE.pub",
	  .help = "pin the signer: every segment must be signed by this key" },
	{ .name = "require-signatures", .short_opt = 'S', .help = "fail any unsigned segment" },
	{ 0 },
};

const struct cli_command cmd_ledger_verify_def = {
	.name = "ledger verify",
	.synopsis = "[OPTIONS] FILE...|DIR",
	.summary = "verify a ledger",
	.description = "Checks canonical form, hashes, chain links, sequence and signatures of one segment or a "
		       "rotated series (plain or .gz): a directory, or the files of one ledger in any order, are read "
		       "oldest first. Exit 0 intact, 1 first bad line named, 2 usage.",
	.opts = verify_opts,
	.interleaved = true,
};

static const struct cli_opt head_opts[] = {
	{ .name = "key", .short_opt = 'k', .takes_value = true, .metavar = "KEY",
	  .help = "sign the checkpoint with this Ed25519 key" },
	{ .name = "pubkey", .short_opt = 'P', .takes_value = true, .metavar = "FILE.pub",
	  .help = "pin the signer of the ledger while verifying it" },
	{ .name = "output", .short_opt = 'o', .takes_value = true, .metavar = "CP",
	  .help = "write the checkpoint to CP (atomically) instead of standard output" },
	{ 0 },
};

const struct cli_command cmd_ledger_head_def = {
	.name = "ledger head",
	.synopsis = "[--key KEY] [--pubkey FILE.pub] [-o CP] FILE...|DIR",
	.summary = "take a checkpoint of a ledger",
	.description = "Verifies the ledger, then prints a checkpoint (seq, hash, time; signed with --key) to keep "
		       "away from the ledger, for a later 'joule ledger verify --checkpoint'.",
	.opts = head_opts,
	.interleaved = true,
};

static const struct cli_opt show_opts[] = {
	{ .name = "json", .short_opt = 'j', .help = "print the records as one JSON array" },
	{ .name = "pid", .short_opt = 'p', .takes_value = true, .metavar = "N", .help = "only this process's records" },
	{ .name = "comm", .short_opt = 'c', .takes_value = true, .metavar = "NAME",
	  .help = "only the records of this command name" },
	{ .name = "group", .short_opt = 'g', .takes_value = true, .metavar = "NAME",
	  .help = "only the process records of this workload (a unit, container, namespace/pod/container, job id "
		  "or comm: the group /api/v1/apps names)" },
	{ .name = "kind", .short_opt = 'k', .takes_value = true, .metavar = "KIND",
	  .help = "only records of this kind", .accepted = "genesis, process, host, run, start, rotate, gap" },
	{ .name = "since", .short_opt = 's', .takes_value = true, .metavar = "T",
	  .help = "only records ending at or after T (seconds since the epoch or RFC 3339 UTC)" },
	{ .name = "until", .short_opt = 'u', .takes_value = true, .metavar = "T",
	  .help = "only records starting at or before T" },
	{ 0 },
};

const struct cli_command cmd_ledger_show_def = {
	.name = "ledger show",
	.synopsis = "[OPTIONS] FILE...|DIR",
	.summary = "print a ledger's records",
	.description = "Prints records as a table (or a JSON array with --json), a rotated series in chain order; "
		       "T is seconds since the epoch or RFC 3339 UTC (2025-01-31T12:00:00Z).",
	.opts = show_opts,
	.interleaved = true,
};

const struct cli_command cmd_ledger_keygen_def = {
	.name = "ledger keygen",
	.synopsis = "FILE",
	.summary = "write a signing key",
	.description = "Writes a new Ed25519 key (mode 0600) for --ledger-key, and its public key to FILE.pub for "
		       "'joule ledger verify --pubkey'.",
	.interleaved = true,
};

static const struct cli_command *const ledger_subcommands[] = {
	&cmd_ledger_verify_def, &cmd_ledger_head_def, &cmd_ledger_show_def, &cmd_ledger_keygen_def, NULL,
};

static const struct cli_example ledger_examples[] = {
	{ "joule ledger verify /var/lib/joule/ledger.jsonl*", "check a rotated series, oldest first" },
	{ "joule ledger show --comm postgres --since 2026-01-01T00:00:00Z ledger.jsonl", "one program's records" },
	{ 0 },
};

/* The ledger's subcommands parse their own options (ledger_cli.c); the table carries its synopsis. */
const struct cli_command cmd_ledger_def = {
	.name = "ledger",
	.synopsis = "verify|head|show|keygen [OPTIONS] FILE...",
	.summary = "verify, read or sign a hash-chained ledger (joule ledger --help)",
	.description = "verify checks canonical form, hashes, chain links and signatures of a ledger (a rotated "
		       "series oldest first, plain or .gz) and names the first bad line; show prints its records "
		       "as a table or JSON; keygen writes an Ed25519 key for --ledger-key. 'joule ledger --help' "
		       "lists their options.",
	.examples = ledger_examples,
	.main = cmd_ledger,
	.own_parser = true,
	.subs = ledger_subcommands,
};

static const struct cli_opt report_cli_opts[] = {
	{ .name = "from-ledger", .takes_value = true, .metavar = "FILE", .repeatable = true,
	  .help = "a ledger segment (plain or .gz); several are read oldest first, at most 64" },
	{ .name = "from-api", .takes_value = true, .metavar = "SOCKET|URL",
	  .help = "a daemon's Unix socket (/run/joule/joule.sock) or API (http://127.0.0.1:9940): the host's energy "
		  "over a --window duration ending now, and the processes with series of their own when it is whole "
		  "minutes up to 3h" },
	{ .name = "window", .takes_value = true, .metavar = "W",
	  .help = "records ending in START..END (either side may be empty; epoch seconds or RFC 3339 "
		  "2026-01-31T12:00:00Z) or in the LAST duration (90s, 10m, 2h, 1d) up to the newest record",
	  .dflt = "everything" },
	{ .name = "by", .takes_value = true, .metavar = "KEY",
	  .help = "rows of the csv and json tables: one per process, or per workload (what /api/v1/apps groups by) "
		  "or label value, from the records' workload labels (a moved process in each group it was in)",
	  .accepted = "process, workload, unit, slice, container, pod, namespace, job, comm", .dflt = "process" },
	{ .name = "format", .takes_value = true, .metavar = "FORMAT", .help = "write the report in FORMAT to -o FILE",
	  .accepted = "codecarbon, boamps, csv, json, sci", .dflt = "json to standard output without --report or --push" },
	{ .name = "output", .short_opt = 'o', .takes_value = true, .metavar = "FILE",
	  .help = "where --format writes", .dflt = "standard output" },
	{ .name = "report", .takes_value = true, .metavar = "FORMAT=FILE", .repeatable = true,
	  .help = "also write FORMAT to FILE ('-' standard output)", .accepted = "codecarbon=, boamps=, csv=, json=, sci=" },
	{ .name = "project-name", .takes_value = true, .metavar = "NAME", .help = "codecarbon: the project_name column" },
	{ .name = "experiment-id", .takes_value = true, .metavar = "ID", .help = "codecarbon: the experiment_id column" },
	{ .name = "run-id", .takes_value = true, .metavar = "ID", .help = "codecarbon: the run_id column",
	  .dflt = "a random UUID" },
	{ .name = "boamps-input", .takes_value = true, .metavar = "FILE",
	  .help = "boamps: the task, algorithm and dataset fields only you know (docs/REPORTS.md)" },
	{ .name = "functional-unit", .takes_value = true, .metavar = "N NAME",
	  .help = "sci: carbon per functional unit, e.g. 1000 request (or 1000:request)" },
	{ .name = "push", .takes_value = true, .metavar = "URL", .help = "push the summary to a Prometheus Pushgateway" },
	{ .name = "job", .takes_value = true, .metavar = "NAME", .help = "push: the job label", .dflt = "joule" },
	{ .name = "grouping", .takes_value = true, .metavar = "K=V", .repeatable = true,
	  .help = "push: one more grouping label" },
	{ .name = "plot", .takes_value = true, .metavar = "FILE.svg",
	  .help = "draw the window's power over time, stacked by process, as an SVG (FILE.html: inline in a page)" },
	{ .name = "uncertainty", .takes_value = true, .metavar = "METHOD",
	  .help = "method of the 95 % carbon interval", .accepted = "analytical, monte-carlo", .dflt = "analytical" },
	{ .name = "verbose", .short_opt = 'v', .help = "more messages" },
	{ 0 },
};

static const struct cli_example report_examples[] = {
	{ "joule report --from-ledger run.jsonl --format codecarbon -o emissions.csv", "append a CodeCarbon row" },
	{ "joule report --from-ledger /var/lib/joule/ledger.jsonl --window 1h --format boamps --boamps-input task.json",
	  "a BoAmps report of the last hour" },
	{ 0 },
};

/* joule report parses its own options (report_cli.c; report_set.c holds the report and push options run shares). */
const struct cli_command cmd_report_def = {
	.name = "report",
	.synopsis = "--from-ledger FILE|--from-api SOCKET|URL [--window W] --format FORMAT [-o FILE] [--push URL ...]",
	.summary = "CodeCarbon, BoAmps, CSV, JSON or SCI reports and a Pushgateway push from a ledger or a daemon's API (joule report --help)",
	.description = "Builds a run summary from the records of a ledger (a joule run --ledger file or the daemon's) "
		       "over a window and writes it in one of the report formats, or pushes it to a Pushgateway. "
		       "'joule report --help' lists its options; docs/REPORTS.md shows every format.",
	.opts = report_cli_opts,
	.examples = report_examples,
	.main = cmd_report,
	.own_parser = true,
};

static const struct cli_opt span_cli_opts[] = {
	{ .name = "name", .short_opt = 'n', .takes_value = true, .metavar = "NAME",
	  .help = "the span's name (1-64 bytes of A-Z a-z 0-9 _ . : -)", .dflt = "the command's name" },
	{ .name = "socket", .short_opt = 'S', .takes_value = true, .metavar = "PATH",
	  .help = "the daemon's Unix socket ($JOULE_SOCKET when unset)", .dflt = DAEMON_DEFAULT_SOCKET },
	{ .name = "json", .help = "print the closed span as one JSON object instead of a summary" },
	{ .name = "output", .short_opt = 'o', .takes_value = true, .metavar = "FILE",
	  .help = "write the summary or JSON to FILE instead of stderr" },
	{ 0 },
};

static const struct cli_example span_examples[] = {
	{ "joule span --name nightly-etl -- ./etl.sh", "energy and carbon of a script and everything it starts" },
	{ "joule span --json -o span.json -- make -j8", "the span as JSON in a file" },
	{ 0 },
};

const struct cli_command cmd_span_def = {
	.name = "span",
	.synopsis = "[--name NAME] [--socket PATH] [--json] [-o FILE] -- CMD [ARGS...]",
	.summary = "energy and carbon of a command's process tree from the running daemon (an energy span)",
	.description = "Opens an energy span on the daemon's Unix socket for this process and its descendants "
		       "(scope tree), runs CMD, closes the span when CMD exits and prints its wall and CPU time, "
		       "energy (CPU, memory), carbon with its 95 % interval and its share of the host. Needs "
		       "access to the socket (group joule), not root. Exits with CMD's status; if no span can be "
		       "opened (no daemon, no permission) CMD is not run and the exit status is 1.",
	.scope = 0,
	.opts = span_cli_opts,
	.examples = span_examples,
	.main = cmd_span,
};

const struct cli_opt fleet_cli_opts[FLEET_OPT_N + 1] = {
	[FLEET_OPT_LISTEN] = { .name = "listen", .takes_value = true, .metavar = "ADDR:PORT",
		.dflt = FLEET_DEFAULT_LISTEN, .help = "where serve answers (port 0: any free port)" },
	[FLEET_OPT_READY] = { .name = "ready-file", .takes_value = true, .metavar = "FILE",
		.help = "written with the bound address once serving, removed at exit" },
	[FLEET_OPT_WEB_CONFIG] = { .name = "web-config-file", .takes_value = true, .metavar = "FILE",
		.help = "TLS and basic auth of the listener, as the daemon's (exporter-toolkit format)" },
	[FLEET_OPT_PROMETHEUS] = { .name = "prometheus", .takes_value = true, .metavar = "URL",
		.help = "the Prometheus (or Thanos, Mimir, VictoriaMetrics) query API base URL (required)" },
	[FLEET_OPT_JOB] = { .name = "job", .takes_value = true, .metavar = "NAME", .dflt = "joule",
		.help = "the scrape job of the joule targets (\"\": any job)" },
	[FLEET_OPT_TIMEOUT] = { .name = "timeout", .takes_value = true, .metavar = "DURATION", .dflt = "10s",
		.help = "per Prometheus query, 1ms to 10m: slower is 504" },
	[FLEET_OPT_CA] = { .name = "ca-file", .takes_value = true, .metavar = "FILE",
		.help = "CA certificates (PEM) to verify an https:// Prometheus with (default: the system's)" },
	[FLEET_OPT_CERT] = { .name = "cert-file", .takes_value = true, .metavar = "FILE",
		.help = "client certificate (PEM) shown to Prometheus; with --key-file" },
	[FLEET_OPT_KEY] = { .name = "key-file", .takes_value = true, .metavar = "FILE",
		.help = "the client certificate's key (PEM)" },
	[FLEET_OPT_BEARER] = { .name = "bearer-token-file", .takes_value = true, .metavar = "FILE",
		.help = "send 'Authorization: Bearer' with the token this file holds" },
	[FLEET_OPT_BASIC_USER] = { .name = "basic-auth-user", .takes_value = true, .metavar = "NAME",
		.help = "basic auth user name; with --basic-auth-password-file" },
	[FLEET_OPT_BASIC_PASSWORD] = { .name = "basic-auth-password-file", .takes_value = true, .metavar = "FILE",
		.help = "the basic auth password, read from this file (never on the command line)" },
	[FLEET_OPT_VERBOSE] = { .name = "verbose", .short_opt = 'v', .repeatable = true,
		.help = "log requests; twice: every PromQL query with its HTTP status" },
	{ 0 },
};

const struct cli_command cmd_fleet_serve_def = {
	.name = "fleet serve",
	.synopsis = "--prometheus URL [OPTIONS]",
	.summary = "the fleet API on HTTP",
	.description = "Answers the daemon's /api/v1/apps and /api/v1/energy, Carmen's /api/apps and "
		       "/api/apps/run-engine, per-node and per-pod CSV and /api/v1/openapi.json for every host a "
		       "Prometheus scrapes. Prometheus does every sum; one that is unreachable, slow or answers an "
		       "error is a 502 or 504, never an empty answer. Secrets are read from files. docs/FLEET.md.",
	.opts = fleet_cli_opts,
};

const struct cli_command cmd_fleet_query_def = {
	.name = "fleet query",
	.synopsis = "--prometheus URL [OPTIONS] PATH[?PARAMS]",
	.summary = "one fleet API answer on stdout",
	.description = "PATH is one of /api/v1/apps, /api/v1/energy, /api/v1/hosts, /api/apps, "
		       "/api/apps/run-engine, /nodes.csv, /pods.csv with the parameters serve takes. Exit 0 with the "
		       "answer, 2 for a bad path or parameter, 1 when Prometheus failed (502 or 504 and its reason "
		       "on stderr).",
	.opts = &fleet_cli_opts[FLEET_OPT_PROMETHEUS],
	.interleaved = true,
};

static const struct cli_command *const fleet_subcommands[] = { &cmd_fleet_serve_def, &cmd_fleet_query_def, NULL };

static const struct cli_example fleet_examples[] = {
	{ "joule fleet serve --prometheus http://prometheus:9090 --listen 127.0.0.1:9941",
	  "the daemon's /api/v1/apps and /api/v1/energy, over every host that Prometheus scrapes" },
	{ "joule fleet query --prometheus http://prometheus:9090 '/api/v1/apps?window=1h&breakdown=true'",
	  "energy and carbon per app across the fleet in the last hour, and per host" },
	{ "joule fleet serve --prometheus https://prom:9090 --ca-file ca.crt --basic-auth-user joule "
	  "--basic-auth-password-file /etc/joule/prom.pw",
	  "the same over a Prometheus that wants TLS and a password" },
	{ 0 },
};

const struct cli_command cmd_fleet_def = {
	.name = "fleet",
	.synopsis = "serve|query --prometheus URL [OPTIONS] [PATH]",
	.summary = "energy and carbon per app and per host over a fleet, by PromQL (joule fleet serve --help)",
	.description = "Answers the daemon's /api/v1/apps and /api/v1/energy, Carmen's /api/apps and "
		       "/api/apps/run-engine and per-node and per-pod CSV for every host a Prometheus scrapes. "
		       "Prometheus does every sum; a Prometheus that is unreachable, slow or answers an error is "
		       "a 502 or 504, never an empty answer. docs/FLEET.md lists the queries.",
	.examples = fleet_examples,
	.main = cmd_fleet,
	.own_parser = true,
	.subs = fleet_subcommands,
};

const struct cli_command *const joule_commands[] = {
	&cmd_run_def, &cmd_trace_def, &cmd_top_def, &cmd_probe_def, &cmd_daemon_def, &cmd_ledger_def,
	&cmd_report_def, &cmd_span_def, &cmd_fleet_def,
};
const size_t joule_ncommands = sizeof(joule_commands) / sizeof(joule_commands[0]);
