// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The command table: every command's name, synopsis, help text, examples and entry point, in the order joule help lists them. */
#include "joule/commands.h"
#include "joule/daemon.h"
#include "joule/fleet.h"
#include "joule/report_cli.h"

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
