// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --help, the man page, bash completion and the option table as JSON: all written from the one command and key table. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "joule/cli.h"

#define HELP_WIDTH 79
#define HELP_INDENT 30

/* "  -v, --verbose[=LEVEL]": the left column of an option line. */
static void option_label(const struct cli_optent *e, char *buf, size_t len, bool plain_value)
{
	char shortpart[8] = "    ";

	if (e->short_opt)
		snprintf(shortpart, sizeof(shortpart), "-%c, ", e->short_opt);
	if (e->takes_value)
		snprintf(buf, len, "%s--%s %s", shortpart, e->name, e->metavar ? e->metavar : "VALUE");
	else if (e->is_key && e->metavar && plain_value)
		snprintf(buf, len, "%s--%s[=%s]", shortpart, e->name, e->metavar);
	else
		snprintf(buf, len, "%s--%s", shortpart, e->name);
}

/* The right column: what it does, [unit], (default: ...). */
static void option_text(const struct cli_optent *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", e->help ? e->help : "");

	if (e->unit && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " [%s]", e->unit);
	if (e->dflt && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " (default: %s)", e->dflt);
}

/* Words of text from column `col`, wrapped at HELP_WIDTH and indented to `indent`. */
static void wrap(FILE *f, const char *text, int col, int indent)
{
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (col > indent && col + 1 + (int)w > HELP_WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)w, p);
		col += (int)w;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

/* Options to document: a command the shared parser reads, or one that parses its own argv with a table it names. */
static bool documented(const struct cli_command *cmd)
{
	return !cmd->own_parser || cmd->opts;
}

void cli_print_help(FILE *f, const struct cli_command *cmd)
{
	struct cli_optlist l;
	char label[96], text[512];

	fprintf(f, "usage: joule %s %s\n\n", cmd->name, cmd->synopsis);
	wrap(f, cmd->description, 0, 0);
	if (documented(cmd) && cli_opts_build(cmd, &l) == 0) {
		fprintf(f, "\noptions:\n");
		for (size_t i = 0; i < l.n; i++) {
			option_label(&l.v[i], label, sizeof(label), true);
			option_text(&l.v[i], text, sizeof(text));
			fprintf(f, "  %s", label);
			if ((int)strlen(label) + 2 >= HELP_INDENT)
				fprintf(f, "\n%*s", HELP_INDENT, "");
			else
				fprintf(f, "%*s", HELP_INDENT - 2 - (int)strlen(label), "");
			wrap(f, text, HELP_INDENT, HELP_INDENT);
		}
		cli_opts_free(&l);
	}
	if (cmd->examples && cmd->examples[0].cmd) {
		fprintf(f, "\nexamples:\n");
		for (const struct cli_example *x = cmd->examples; x->cmd; x++)
			fprintf(f, "  %s\n      %s\n", x->cmd, x->what);
	}
	fputc('\n', f);
	if (cmd->scope & (CONFIG_RUN | CONFIG_TRACE | CONFIG_DAEMON))
		wrap(f, "Every option that is a key of the config file (joule.conf) can also be set there and read "
			"with --config FILE; options on the command line win.", 0, 0);
	wrap(f, strcmp(cmd->name, "run") == 0 ? "exit status: 0 ok, 1 runtime failure, 2 usage error; run returns "
						 "CMD's status. See also: man joule."
					       : "exit status: 0 ok, 1 runtime failure, 2 usage error. See also: man joule.",
	     0, 0);
}

void cli_print_commands(FILE *f)
{
	size_t n;
	const struct cli_command *const *t = cli_table(&n);

	fprintf(f, "usage: joule COMMAND [OPTIONS]\n       joule help [COMMAND]\n       joule --version\n\n"
		   "joule attributes this host's energy and carbon to processes (eBPF on sched_switch, RAPL or a\n"
		   "power model), and reports them per command, live, or as a daemon with /metrics and an API.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-9s %s\n", t[i]->name, t[i]->summary);
	fprintf(f, "\n'joule COMMAND --help' lists a command's options with their defaults; 'man joule' has it all.\n"
		   "-V, --version prints the version. Exit status: 0 ok, 1 runtime failure, 2 usage error.\n");
}

/* ---- man page */

/* Text for roff: backslashes and dashes escaped, a leading '.' or '\'' defused. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void man_command(FILE *f, const struct cli_command *cmd)
{
	struct cli_optlist l;
	char text[512];

	fprintf(f, ".SS \"joule %s ", cmd->name);
	roff(f, cmd->synopsis);
	fprintf(f, "\"\n");
	roff(f, cmd->description);
	fprintf(f, "\n");
	if (documented(cmd) && cli_opts_build(cmd, &l) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			const struct cli_optent *e = &l.v[i];

			fprintf(f, ".TP\n");
			if (e->short_opt)
				fprintf(f, "\\fB\\-%c\\fR, ", e->short_opt);
			fprintf(f, "\\fB\\-\\-");
			roff(f, e->name);
			fprintf(f, "\\fR");
			if (e->takes_value) {
				fprintf(f, " \\fI");
				roff(f, e->metavar ? e->metavar : "VALUE");
				fprintf(f, "\\fR");
			}
			fprintf(f, "\n");
			option_text(e, text, sizeof(text));
			roff(f, text);
			fprintf(f, "\n");
		}
		cli_opts_free(&l);
	}
	if (cmd->examples && cmd->examples[0].cmd) {
		fprintf(f, ".PP\nExamples:\n");
		for (const struct cli_example *x = cmd->examples; x->cmd; x++) {
			fprintf(f, ".TP\n.B ");
			roff(f, x->cmd);
			fprintf(f, "\n");
			roff(f, x->what);
			fprintf(f, "\n");
		}
	}
	/* after the command's own examples, so none of them reads as its last subcommand's */
	for (const struct cli_command *const *sub = cmd->subs; sub && *sub; sub++)
		man_command(f, *sub);
}

void cli_print_man(FILE *f, const char *version)
{
	size_t n;
	const struct cli_command *const *t = cli_table(&n);

	fprintf(f, ".\\\" generated by 'joule help --man' from the command and config key tables; do not edit\n"
		   ".TH JOULE 1 \"\" \"joule %s\" \"User Commands\"\n"
		   ".SH NAME\njoule \\- energy and carbon of Linux processes, attributed with eBPF\n"
		   ".SH SYNOPSIS\n.B joule\n.I COMMAND\n[\\fIOPTIONS\\fR]\n.br\n.B joule help\n[\\fICOMMAND\\fR]\n"
		   ".br\n.B joule \\-\\-version\n"
		   ".SH DESCRIPTION\n"
		   "joule counts, with a BPF program on sched_switch, the nanoseconds each task runs on each CPU,\n"
		   "reads the CPU's energy counters (RAPL through powercap or MSR, the perf power PMU, or a power\n"
		   "model) ten times a second, splits each interval's energy exactly over the tasks that ran, and\n"
		   "converts energy to carbon: operational (energy \\(mu PUE \\(mu grid intensity) and embodied\n"
		   "(the host's manufacturing carbon over its lifetime), each with a 95 %% interval.\n"
		   ".PP\nEvery option of run, trace, top and daemon that is also a configuration key can be set in\n"
		   "an INI file read with \\fB\\-\\-config\\fR \\fIFILE\\fR; options on the command line win over\n"
		   "the file.\n"
		   ".SH COMMANDS\n", version);
	for (size_t i = 0; i < n; i++)
		man_command(f, t[i]);
	fprintf(f, ".SH OUTPUT\n"
		   "The report of \\fBjoule run\\fR goes to standard error, like \\fBperf stat\\fR, so the\n"
		   "command's own standard output stays the command's; \\fB\\-o\\fR \\fIFILE\\fR writes it to a\n"
		   "file instead (\\fB\\-o /dev/fd/3\\fR with 3>report.json for a pipe of its own). With\n"
		   "\\fB\\-\\-json\\fR the report is one JSON object on one line.\n"
		   ".SH FILES\n.TP\n.I /etc/joule/joule.conf\nthe daemon's configuration (every key is an option above)\n"
		   ".TP\n.I /run/joule/joule.sock\nthe daemon's Unix socket (mode 0660, group joule)\n"
		   ".SH EXIT STATUS\n0 ok, 1 runtime failure, 2 usage error; \\fBjoule run\\fR returns the command's\n"
		   "status (128 + N when a signal N ended it, 127 when it cannot be found).\n"
		   ".SH SEE ALSO\n\\fBperf-stat\\fR(1), \\fBsystemd.service\\fR(5)\n");
}

/* ---- bash completion */

/* "auto, powercap, msr" -> "auto powercap msr"; false if the accepted text is prose, not a list of words. */
static bool choices(const char *accepted, char *buf, size_t len)
{
	size_t n = 0;

	if (!accepted)
		return false;
	for (const char *p = accepted; *p; p++) {
		if (*p == ',' && p[1] == ' ') {
			p++;
			if (n + 1 < len)
				buf[n++] = ' ';
			continue;
		}
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return false;
		if (n + 1 < len)
			buf[n++] = *p;
	}
	buf[n] = '\0';
	return strchr(buf, ' ') != NULL;
}

static void bash_value_case(FILE *f, const struct cli_optlist *l)
{
	char words[256];

	fprintf(f, "\t\tcase \"$prev\" in\n");
	for (size_t i = 0; i < l->n; i++) {
		const struct cli_optent *e = &l->v[i];
		const char *mv = e->metavar ? e->metavar : "";

		if (!e->takes_value)
			continue;
		fprintf(f, "\t\t--%s", e->name);
		if (e->short_opt)
			fprintf(f, "|-%c", e->short_opt);
		if (choices(e->accepted, words, sizeof(words)))
			fprintf(f, ") COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", words);
		else if (!strcmp(mv, "DIR"))
			fprintf(f, ") COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n");
		else if (!strcmp(mv, "FILE") || !strcmp(mv, "PATH"))
			fprintf(f, ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
		else
			fprintf(f, ") return ;;\n");
	}
	fprintf(f, "\t\tesac\n");
}

/*
 * The value cases and the option words of cmd, at indent. With files (the
 * operands of ledger verify, show...), a word not starting with '-' is a file.
 */
static void bash_options(FILE *f, const struct cli_command *cmd, const char *indent, bool files)
{
	struct cli_optlist l;

	if (cli_opts_build(cmd, &l))
		return;
	bash_value_case(f, &l);
	if (files)
		fprintf(f, "%sif [[ \"$cur\" != -* ]]; then\n%s\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n%s\treturn\n%sfi\n",
			indent, indent, indent, indent);
	fprintf(f, "%sCOMPREPLY=($(compgen -W '", indent);
	for (size_t j = 0; j < l.n; j++)
		fprintf(f, "--%s ", l.v[j].name);
	fprintf(f, "' -- \"$cur\"))\n");
	cli_opts_free(&l);
}

/* "ledger verify": the word after the command is a subcommand; after it, that subcommand's options. */
static void bash_subcommands(FILE *f, const struct cli_command *cmd)
{
	size_t skip = strlen(cmd->name) + 1;

	fprintf(f, "\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then\n\t\t\tCOMPREPLY=($(compgen -W '");
	for (const struct cli_command *const *sub = cmd->subs; *sub; sub++)
		fprintf(f, "%s ", (*sub)->name + skip);
	fprintf(f, "--help' -- \"$cur\"))\n\t\t\treturn\n\t\tfi\n\t\tcase \"${COMP_WORDS[2]}\" in\n");
	for (const struct cli_command *const *sub = cmd->subs; *sub; sub++) {
		fprintf(f, "\t\t%s)\n", (*sub)->name + skip);
		bash_options(f, *sub, "\t\t\t", true);
		fprintf(f, "\t\t\t;;\n");
	}
	fprintf(f, "\t\tesac\n\t\t;;\n");
}

void cli_print_bash_completion(FILE *f)
{
	size_t n;
	const struct cli_command *const *t = cli_table(&n);

	fprintf(f, "# bash completion for joule; generated by 'joule help --completion bash' from its option table.\n"
		   "_joule()\n{\n"
		   "\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" i\n"
		   "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W '");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s ", t[i]->name);
	fprintf(f, "help --help --version' -- \"$cur\"))\n\t\treturn\n\tfi\n"
		   "\t# after 'run ... --' the words are a command line of their own\n"
		   "\tfor ((i = 2; i < COMP_CWORD; i++)); do\n"
		   "\t\tif [ \"${COMP_WORDS[i]}\" = -- ]; then\n"
		   "\t\t\tif [ $((i + 1)) -eq \"$COMP_CWORD\" ]; then\n"
		   "\t\t\t\tCOMPREPLY=($(compgen -c -- \"$cur\"))\n"
		   "\t\t\telse\n\t\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\t\tfi\n\t\t\treturn\n\t\tfi\n\tdone\n"
		   "\tcase \"${COMP_WORDS[1]}\" in\n");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "\t%s)\n", t[i]->name);
		if (t[i]->subs) {
			bash_subcommands(f, t[i]);
			continue;
		}
		if (!documented(t[i])) {
			fprintf(f, "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\t;;\n");
			continue;
		}
		bash_options(f, t[i], "\t\t", false);
		fprintf(f, "\t\t;;\n");
	}
	fprintf(f, "\thelp)\n\t\tCOMPREPLY=($(compgen -W '");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s ", t[i]->name);
	fprintf(f, "' -- \"$cur\"))\n\t\t;;\n\tesac\n}\ncomplete -F _joule joule\n");
}

/* ---- the table as JSON */

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/* One command as JSON: its name, synopsis and options, and its subcommands', each the same. */
static cJSON *command_json(const struct cli_command *cmd)
{
	cJSON *c = cJSON_CreateObject(), *opts;
	struct cli_optlist l;

	cJSON_AddStringToObject(c, "name", cmd->name);
	cJSON_AddStringToObject(c, "synopsis", cmd->synopsis);
	cJSON_AddBoolToObject(c, "own_parser", cmd->own_parser);
	opts = cJSON_AddArrayToObject(c, "options");
	if (documented(cmd) && cli_opts_build(cmd, &l) == 0) {
		for (size_t j = 0; j < l.n; j++) {
			cJSON *o = cJSON_CreateObject();
			char s[2] = { l.v[j].short_opt, 0 };

			cJSON_AddStringToObject(o, "long", l.v[j].name);
			add_str(o, "short", s[0] ? s : NULL);
			cJSON_AddBoolToObject(o, "takes_value", l.v[j].takes_value);
			add_str(o, "metavar", l.v[j].metavar);
			add_str(o, "default", l.v[j].dflt);
			add_str(o, "unit", l.v[j].unit);
			cJSON_AddBoolToObject(o, "config_key", l.v[j].is_key);
			cJSON_AddItemToArray(opts, o);
		}
		cli_opts_free(&l);
	}
	if (cmd->subs) {
		cJSON *subs = cJSON_AddArrayToObject(c, "subcommands");

		for (const struct cli_command *const *sub = cmd->subs; *sub; sub++)
			cJSON_AddItemToArray(subs, command_json(*sub));
	}
	return c;
}

void cli_print_options_json(FILE *f)
{
	size_t n;
	const struct cli_command *const *t = cli_table(&n);
	cJSON *root = cJSON_CreateObject(), *cmds = cJSON_AddArrayToObject(root, "commands");
	cJSON *keys = cJSON_AddArrayToObject(root, "config_keys");
	char *txt;

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(cmds, command_json(t[i]));
	for (size_t i = 0; i < config_key_count(); i++) {
		struct config_key_doc k;
		cJSON *o = cJSON_CreateObject();

		config_key_doc(i, &k);
		cJSON_AddStringToObject(o, "name", k.name);
		cJSON_AddBoolToObject(o, "takes_value", k.takes_value);
		add_str(o, "help", k.help);
		add_str(o, "default", k.dflt);
		add_str(o, "unit", k.unit);
		cJSON_AddNumberToObject(o, "scope", k.scope);
		cJSON_AddItemToArray(keys, o);
	}
	txt = cJSON_Print(root);
	if (txt)
		fprintf(f, "%s\n", txt);
	cJSON_free(txt);
	cJSON_Delete(root);
}
