// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for cli.c: one getopt_long parser over the config key table and each command's own options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/ledger.h"
#include "joule/report_cli.h"
#include "joule/util.h"
#include "testlib.h"

#define ARGC(a) ((int)ARRAY_SIZE(a) - 1)

static const char *seen_opt, *seen_val;
static int seen_count;

static int record_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	seen_opt = o->name;
	seen_val = val;
	seen_count++;
	return 0;
}

static const struct cli_opt test_opts[] = {
	{ .name = "output", .short_opt = 'o', .takes_value = true, .metavar = "FILE", .help = "where" },
	{ .name = "group", .help = "fold" },
	{ 0 },
};

static const struct cli_command test_cmd = {
	.name = "testcmd",
	.synopsis = "[OPTIONS]",
	.summary = "a command for these tests",
	.description = "only here",
	.scope = CONFIG_RUN,
	.opts = test_opts,
};

static const struct cli_command *const table[] = { &cmd_run_def, &cmd_trace_def, &cmd_top_def, &cmd_probe_def,
						   &cmd_daemon_def, &test_cmd };

/* The config each test parses into (fresh at every parse, freed by the teardown) and the operands' index. */
static struct joule_config cfg;
static int parsed_idx;

static int setup(void **state)
{
	cli_register(table, ARRAY_SIZE(table));
	seen_opt = seen_val = NULL;
	seen_count = 0;
	config_init(&cfg);
	return tl_setup(state);
}

static int teardown(void **state)
{
	config_free(&cfg);
	return tl_teardown(state);
}

/* cli_parse of argv into a fresh cfg; its result. */
static int parse(const struct cli_command *cmd, int argc, char **argv, cli_opt_fn fn)
{
	config_free(&cfg);
	config_init(&cfg);
	parsed_idx = 0;
	return cli_parse(cmd, argc, argv, &cfg, fn, NULL, &parsed_idx);
}

/* A config file in the test's private directory (removed by the teardown). */
static char *write_conf(const char *text)
{
	char *path = strdup(tl_path("joule.conf"));
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_cli_parse_when_short_flags_combined_counts_each_v_and_stops_at_dashdash(void **state)
{
	char *argv[] = { "run", "-vvv", "--", "echo", "hi", NULL };

	assert_int_equal(parse(&cmd_run_def, ARGC(argv), argv, NULL), CLI_CONTINUE);
	assert_int_equal(cfg.verbose, 3);
	assert_int_equal(parsed_idx, 3); /* argv[3] is the command */
}

static void test_cli_parse_when_equals_or_separate_value_both_set_the_key(void **state)
{
	char *argv[] = { "run", "--zone=FR", "--interval", "250ms", "echo", NULL };

	assert_int_equal(parse(&cmd_run_def, ARGC(argv), argv, NULL), CLI_CONTINUE);
	assert_string_equal(cfg.zone, "FR");
	assert_int_equal(cfg.interval_ns, 250 * NSEC_PER_MSEC);
	assert_int_equal(parsed_idx, 4); /* the first operand ends the options, without "--" too */
}

static void test_cli_parse_when_config_file_given_options_win_wherever_they_stand(void **state)
{
	char *path = write_conf("[joule]\nzone = FR\npue = 1.5\n");

	{
		char *argv[] = { "run", "--zone", "DE", "--config", path, "--", "x", NULL };

		assert_int_equal(parse(&cmd_run_def, ARGC(argv), argv, NULL), CLI_CONTINUE);
		assert_string_equal(cfg.zone, "DE");	/* the option, given before --config */
		assert_true(cfg.pue == 1.5);		/* the file */
	}
	free(path);
}

static void test_cli_parse_when_key_of_another_command_is_a_usage_error(void **state)
{
	char *argv[] = { "run", "--top-n", "5", "--", "true", NULL };

	assert_int_equal(parse(&cmd_run_def, ARGC(argv), argv, NULL), EXIT_USAGE);
	assert_int_equal(cfg.top_n, 20); /* untouched */
}

static void test_cli_parse_when_own_options_given_hands_them_to_the_command(void **state)
{
	char *argv[] = { "testcmd", "-vo", "out.json", "--group", NULL };

	assert_int_equal(parse(&test_cmd, ARGC(argv), argv, record_opt), CLI_CONTINUE);
	assert_int_equal(seen_count, 2);
	assert_string_equal(seen_opt, "group");
	assert_null(seen_val);
	assert_int_equal(cfg.verbose, 1); /* -v of the cluster -vo */
}

static void test_cli_parse_when_value_missing_is_a_usage_error(void **state)
{
	char *argv[] = { "testcmd", "-o", NULL };

	assert_int_equal(parse(&test_cmd, ARGC(argv), argv, record_opt), EXIT_USAGE);
	assert_int_equal(seen_count, 0);
}

static void test_cli_parse_when_bad_value_is_a_usage_error(void **state)
{
	char *argv[] = { "run", "--interval", "soon", NULL };

	assert_int_equal(parse(&cmd_run_def, ARGC(argv), argv, NULL), EXIT_USAGE);
}

static void test_cli_parse_when_called_again_starts_a_fresh_scan(void **state)
{
	/* the daemon parses its argv again on SIGHUP: getopt's state must not carry over */
	char *argv[] = { "daemon", "--top-n", "7", "-v", NULL };

	for (int round = 0; round < 2; round++) {
		assert_int_equal(parse(&cmd_daemon_def, ARGC(argv), argv, NULL), CLI_CONTINUE);
		assert_int_equal(cfg.top_n, 7);
		assert_int_equal(cfg.verbose, 1);
	}
}

static void test_cli_parse_when_interleaved_takes_options_after_operands(void **state)
{
	/* the test command as ledger verify is: options may follow its operands */
	struct cli_command interleaved = test_cmd;
	char *argv[] = { "verify", "a.jsonl", "--group", "b.jsonl", NULL };

	interleaved.interleaved = true;
	assert_int_equal(parse(&interleaved, ARGC(argv), argv, record_opt), CLI_CONTINUE);
	assert_int_equal(seen_count, 1);
	assert_int_equal(parsed_idx, 2); /* the operands, moved after the options */
	assert_string_equal(argv[2], "a.jsonl");
	assert_string_equal(argv[3], "b.jsonl");
}

static void test_cli_parse_when_run_reads_a_config_it_leaves_the_files_ledger_alone(void **state)
{
	char *path = write_conf("ledger = /var/lib/joule/ledger.jsonl\nzone = FR\n");

	{
		char *argv[] = { "run", "--config", path, "--", "x", NULL };
		char *dargv[] = { "daemon", "--config", path, NULL };

		assert_int_equal(parse(&cmd_run_def, ARGC(argv), argv, NULL), CLI_CONTINUE);
		assert_null(cfg.ledger);			/* the daemon's ledger is not run's */
		assert_string_equal(cfg.zone, "FR");	/* the rest of the file applies */
		assert_int_equal(parse(&cmd_daemon_def, ARGC(dargv), dargv, NULL), CLI_CONTINUE);
		assert_string_equal(cfg.ledger, "/var/lib/joule/ledger.jsonl");
	}
	free(path);
}

static void test_cli_suggest_when_typo_names_the_nearest_command(void **state)
{
	assert_ptr_equal(cli_suggest("rnu"), &cmd_run_def);	/* a swapped pair is one edit */
	assert_ptr_equal(cli_suggest("dameon"), &cmd_daemon_def);
	assert_ptr_equal(cli_suggest("prob"), &cmd_probe_def);
	assert_null(cli_suggest("frobnicate"));
}

static void test_cli_opts_build_when_command_has_own_options_lists_them_first_and_help_last(void **state)
{
	struct cli_optlist l;

	assert_int_equal(cli_opts_build(&test_cmd, &l), 0);
	assert_string_equal(l.v[0].name, "output");
	assert_string_equal(l.v[1].name, "group");
	assert_true(l.v[l.n - 1].is_help);
	for (size_t i = 2; i + 1 < l.n; i++)
		assert_true(l.v[i].is_key);
	cli_opts_free(&l);
}

/* ---- the commands that parse through cli_parse with options of their own: ledger, report */

/* Run a command's main with its standard output (help text) sent to /dev/null; its exit status. */
static int quiet_main(int (*fn)(int, char **), int argc, char **argv)
{
	int saved, devnull, rc;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(saved >= 0 && devnull >= 0);
	assert_int_equal(dup2(devnull, STDOUT_FILENO), STDOUT_FILENO);
	close(devnull);
	rc = fn(argc, argv);
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	return rc;
}

static void test_ledger_cli_when_option_unknown_or_value_missing_is_a_usage_error(void **state)
{
	char *unknown[] = { "ledger", "verify", "--no-such-option", (char *)tl_path("l.jsonl"), NULL };
	char *missing[] = { "ledger", "head", (char *)tl_path("l.jsonl"), "-o", NULL };

	assert_int_equal(cmd_ledger(ARGC(unknown), unknown), EXIT_USAGE);
	assert_int_equal(cmd_ledger(ARGC(missing), missing), EXIT_USAGE);
}

static void test_ledger_cli_when_option_follows_the_file_still_checks_it(void **state)
{
	char *bad_pid[] = { "ledger", "show", (char *)tl_path("l.jsonl"), "--pid", "many", NULL };
	char *bad_time[] = { "ledger", "show", (char *)tl_path("l.jsonl"), "-s", "yesterday", NULL };

	/* interleaved: the option after FILE is parsed, and its own message and status kept */
	assert_int_equal(cmd_ledger(ARGC(bad_pid), bad_pid), EXIT_USAGE);
	assert_int_equal(cmd_ledger(ARGC(bad_time), bad_time), EXIT_USAGE);
}

static void test_ledger_cli_keygen_when_help_given_prints_help_and_writes_no_key(void **state)
{
	char *key = strdup(tl_path("ledger.key"));
	char *help_after[] = { "ledger", "keygen", key, "--help", NULL };
	char *short_help[] = { "ledger", "keygen", "-h", NULL };

	assert_int_equal(quiet_main(cmd_ledger, ARGC(help_after), help_after), 0);
	assert_int_equal(quiet_main(cmd_ledger, ARGC(short_help), short_help), 0);
	assert_int_equal(access(key, F_OK), -1);
	free(key);
}

static void test_report_cli_when_argument_is_no_option_is_a_usage_error(void **state)
{
	char *stray[] = { "report", "--from-ledger", (char *)tl_path("l.jsonl"), "stray", NULL };
	char *none[] = { "report", NULL };
	char *help[] = { "report", "--help", NULL };

	assert_int_equal(cmd_report(ARGC(stray), stray), EXIT_USAGE);
	assert_int_equal(cmd_report(ARGC(none), none), EXIT_USAGE);
	assert_int_equal(quiet_main(cmd_report, ARGC(help), help), 0);
}

static void test_report_cli_when_functional_unit_has_two_arguments_parses_on_after_the_name(void **state)
{
	char *bad_after[] = { "report", "--from-ledger", (char *)tl_path("absent.jsonl"), "--functional-unit", "10",
			      "request", "--uncertainty", "bogus", NULL };
	char *good_after[] = { "report", "--functional-unit", "10", "request", "--from-ledger",
			       (char *)tl_path("absent.jsonl"), "--format", "sci", NULL };
	char *no_name[] = { "report", "--from-ledger", (char *)tl_path("absent.jsonl"), "--functional-unit", "10", NULL };

	/* a bad option after NAME is still seen */
	assert_int_equal(cmd_report(ARGC(bad_after), bad_after), EXIT_USAGE);
	/* options after NAME count: the ledger is looked for (and is missing: a runtime failure) */
	assert_int_equal(cmd_report(ARGC(good_after), good_after), 1);
	assert_int_equal(cmd_report(ARGC(no_name), no_name), EXIT_USAGE);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_cli_parse_when_short_flags_combined_counts_each_v_and_stops_at_dashdash),
		T(test_cli_parse_when_equals_or_separate_value_both_set_the_key),
		T(test_cli_parse_when_config_file_given_options_win_wherever_they_stand),
		T(test_cli_parse_when_key_of_another_command_is_a_usage_error),
		T(test_cli_parse_when_own_options_given_hands_them_to_the_command),
		T(test_cli_parse_when_value_missing_is_a_usage_error),
		T(test_cli_parse_when_bad_value_is_a_usage_error),
		T(test_cli_parse_when_called_again_starts_a_fresh_scan),
		T(test_cli_parse_when_interleaved_takes_options_after_operands),
		T(test_cli_parse_when_run_reads_a_config_it_leaves_the_files_ledger_alone),
		T(test_cli_suggest_when_typo_names_the_nearest_command),
		T(test_cli_opts_build_when_command_has_own_options_lists_them_first_and_help_last),
		T(test_ledger_cli_when_option_unknown_or_value_missing_is_a_usage_error),
		T(test_ledger_cli_when_option_follows_the_file_still_checks_it),
		T(test_ledger_cli_keygen_when_help_given_prints_help_and_writes_no_key),
		T(test_report_cli_when_argument_is_no_option_is_a_usage_error),
		T(test_report_cli_when_functional_unit_has_two_arguments_parses_on_after_the_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
