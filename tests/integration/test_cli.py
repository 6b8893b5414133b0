# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The command line as a new user meets it: help, man page, completion, errors, output channels, top."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, JOULE, joule

root = pytest.mark.root
REPO = os.path.join(os.path.dirname(__file__), "..", "..")
COMMANDS = ["run", "trace", "top", "probe", "daemon"]
DAEMON_SCOPE = 8  # CONFIG_DAEMON in include/joule/config.h


def options_table():
    r = joule("help", "--options-json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def command_options(name):
    return next(c for c in options_table()["commands"] if c["name"] == name)["options"]


def report_of(stderr):
    """The one JSON line `joule run --json` writes to stderr; other lines may only be joule's own log."""
    lines = stderr.splitlines()
    reports = [ln for ln in lines if ln.startswith("{")]
    assert len(reports) == 1, f"one JSON report on stderr: {stderr}"
    others = [ln for ln in lines if not ln.startswith("{") and ln.strip()]
    assert all(ln.startswith("joule: ") for ln in others), f"only joule's log besides the report: {others}"
    return json.loads(reports[0])


# ---- help, version, errors


def test_help_lists_every_command_and_exits_0():
    r = joule("help")
    assert r.returncode == 0, r.stderr
    for c in COMMANDS + ["ledger"]:
        assert re.search(rf"^  {c}\s", r.stdout, re.M), f"'{c}' listed in joule help"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_has_synopsis_every_option_with_its_default_and_examples(cmd):
    r = joule(cmd, "--help")
    assert r.returncode == 0, f"joule {cmd} --help exits 0: {r.stderr}"
    assert r.stdout.startswith(f"usage: joule {cmd} "), "a synopsis first"
    assert "\nexamples:\n" in r.stdout and f"joule {cmd}" in r.stdout.split("examples:")[1], "examples"
    flat = " ".join(r.stdout.split())  # the help wraps long lines
    for o in command_options(cmd):
        assert f"--{o['long']}" in flat, f"--{o['long']} in joule {cmd} --help"
        if o["default"]:
            assert f"(default: {' '.join(o['default'].split())})" in flat, f"default of --{o['long']} shown"
        if o["unit"]:
            assert f"[{o['unit']}]" in flat, f"unit of --{o['long']} shown"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_short_h_equals_long_help(cmd):
    assert joule(cmd, "-h").stdout == joule(cmd, "--help").stdout, "-h and --help agree"


def test_help_of_a_command_equals_its_help_option():
    assert joule("help", "run").stdout == joule("run", "--help").stdout


def test_subcommand_help_has_its_synopsis_and_every_option_of_the_table():
    subs = [s for c in options_table()["commands"] for s in c.get("subcommands", [])]
    assert subs, "ledger and fleet have subcommands in the table"
    for sub in subs:
        r = joule(*sub["name"].split(), "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: joule {sub['name']} "), \
            f"joule {sub['name']} --help: {r.stdout[:200]} {r.stderr}"
        flat = " ".join(r.stdout.split())
        for o in sub["options"]:
            assert f"--{o['long']}" in flat, f"--{o['long']} in joule {sub['name']} --help"


def test_help_of_ledger_shows_its_subcommands():
    r = joule("help", "ledger")
    assert r.returncode == 0 and "joule ledger verify" in r.stdout, r.stdout + r.stderr


def test_help_of_a_mistyped_command_suggests_one():
    r = joule("help", "tarce")
    assert r.returncode == 2 and "did you mean 'trace'?" in r.stderr, r.stderr


def test_version_flags_print_the_version():
    for flag in ("--version", "-V", "version"):
        r = joule(flag)
        assert r.returncode == 0 and r.stdout.startswith("joule "), f"joule {flag}: {r.stdout}{r.stderr}"


def test_mistyped_command_gets_a_suggestion():
    r = joule("rnu")
    assert r.returncode == 2, "usage error"
    assert "unknown command 'rnu'; did you mean 'run'?" in r.stderr, r.stderr


def test_unrelated_command_gets_no_suggestion():
    r = joule("frobnicate")
    assert r.returncode == 2 and "did you mean" not in r.stderr, r.stderr


def test_mistyped_long_option_gets_a_suggestion():
    r = joule("run", "--jsno", "--", "true")
    assert r.returncode == 2
    assert "unknown option '--jsno'; did you mean '--json'?" in r.stderr, r.stderr


def test_ambiguous_prefix_names_the_candidates():
    r = joule("run", "--inten", "5", "--", "true")
    assert r.returncode == 2
    assert "ambiguous" in r.stderr and "--intensity" in r.stderr and "--intensity-file" in r.stderr, r.stderr


def test_daemon_option_given_to_run_is_rejected_naming_the_daemon():
    r = joule("run", "--top-n", "5", "--", "true")
    assert r.returncode == 2, "rejected, not ignored"
    assert "'--top-n': it is an option of 'joule daemon', not of 'joule run'" in r.stderr, r.stderr


def test_trace_short_option_given_to_run_is_rejected_naming_trace():
    r = joule("run", "-c", "sh", "--", "true")
    assert r.returncode == 2
    assert "'-c': it is an option of 'joule trace'" in r.stderr, r.stderr


def test_ledger_option_given_to_trace_is_rejected():
    r = joule("trace", "--ledger", "/tmp/x")
    assert r.returncode == 2 and "not of 'joule trace'" in r.stderr, r.stderr


def test_option_without_its_value_says_what_it_needs():
    r = joule("run", "--interval")
    assert r.returncode == 2 and "'--interval' needs a value DURATION" in r.stderr, r.stderr


def test_flag_given_a_value_is_rejected():
    r = joule("trace", "--group=yes")
    assert r.returncode == 2 and "'--group' takes no value" in r.stderr, r.stderr


def test_daemon_with_an_operand_is_a_usage_error():
    r = joule("daemon", "extra")
    assert r.returncode == 2 and "takes no argument 'extra'" in r.stderr, r.stderr


# ---- the table, --help, the man page and dist/joule.conf cannot drift


def conf_settings():
    """key -> [values] of the settings in dist/joule.conf: commented `;key = value` and the set `key = value`."""
    out = {}
    with open(os.path.join(REPO, "dist", "joule.conf")) as f:
        for ln in f:
            m = re.match(r"^;?([a-z-]+) = ?(.*)$", ln.rstrip("\n"))
            if m:
                out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_every_config_key_has_help_text_and_a_command():
    for k in options_table()["config_keys"]:
        assert k["help"], f"key '{k['name']}' has help text"
        assert k["scope"], f"key '{k['name']}' is an option of some command"


def test_dist_config_shows_every_daemon_key_with_its_default():
    conf = conf_settings()
    text = open(os.path.join(REPO, "dist", "joule.conf")).read()
    for k in options_table()["config_keys"]:
        name, d = k["name"], k["default"]
        if name == "config":  # a file cannot name a file
            continue
        if not k["scope"] & DAEMON_SCOPE:
            assert name not in conf, f"'{name}' is no daemon key: not in joule.conf"
            continue
        assert name in conf, f"daemon key '{name}' in dist/joule.conf"
        if not d:
            continue
        token = d.split(" (")[0]
        if " " in token:  # a prose default ("from the CPU model table") is named in the comment
            assert f"default: {d}" in text, f"default of '{name}' named in joule.conf"
        else:
            assert conf[name][0] == token, f"joule.conf shows '{name}' at its default {token}, not {conf[name][0]}"


def test_dist_config_names_no_key_the_table_lacks():
    keys = {k["name"] for k in options_table()["config_keys"]}
    for name in conf_settings():
        assert name in keys, f"joule.conf's '{name}' is a key of the table"


def test_dist_config_is_accepted_by_the_daemon_parser(tmp_path):
    # every setting uncommented, paths and all: the parser takes them (without starting a daemon)
    conf = tmp_path / "all.conf"
    lines = []
    for ln in open(os.path.join(REPO, "dist", "joule.conf")):
        if re.match(r"^;[a-z-]+ = ", ln):
            ln = ln[1:]
        lines.append(ln)
    conf.write_text("".join(lines))
    r = joule("daemon", "--config", str(conf), "--check")
    assert r.returncode == 0 and "configuration ok" in r.stdout, f"a config of every key parses: {r.stderr}"


def test_daemon_check_names_the_bad_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[joule]\ntop-n = many\n")
    r = joule("daemon", "--config", str(conf), "--check")
    assert r.returncode == 2 and f"{conf}:2" in r.stderr, r.stderr


def man_text():
    path = os.path.join(BUILD, "joule.1")
    assert os.path.exists(path), "make builds the man page"
    r = subprocess.run(["man", "-l", path], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MANWIDTH": "200", "MAN_KEEP_FORMATTING": "0", "PAGER": "cat"})
    assert r.returncode == 0, r.stderr
    return re.sub(r".\x08", "", r.stdout)


@pytest.mark.skipif(not shutil.which("man"), reason="man (man-db) not installed")
def test_man_page_has_a_section_per_command_and_every_option():
    text = man_text()
    flat = " ".join(text.split())
    cmds = options_table()["commands"]
    subs = [s for c in cmds for s in c.get("subcommands", [])]
    assert {"ledger verify", "ledger head", "ledger show", "ledger keygen", "fleet serve", "fleet query"} <= \
        {s["name"] for s in subs}, "the subcommands are in the table: %r" % [s["name"] for s in subs]
    for c in cmds + subs:
        assert f"joule {c['name']} " in text, f"a section for joule {c['name']}"
        for o in c["options"]:
            assert f"--{o['long']}" in flat, f"--{o['long']} of {c['name']} in the man page"
            if o["default"]:
                assert f"(default: {' '.join(o['default'].split())})" in flat, f"default of --{o['long']}"
    for word in ("EXIT STATUS", "FILES", "OUTPUT"):
        assert word in text, f"{word} section"


# ---- bash completion


def complete(*words):
    """COMPREPLY of the generated completion for the command line `words` (the last one being typed)."""
    script = os.path.join(BUILD, "joule.bash-completion")
    arr = " ".join(f"'{w}'" for w in words)
    prog = f"source '{script}'; COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}; _joule; " \
           'printf "%s\\n" "${COMPREPLY[@]}"'
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_completion_completes_commands():
    assert complete("joule", "ru") == {"run"}, "run"
    assert {"trace", "top"} <= complete("joule", "t"), "trace and top"


def test_completion_completes_a_commands_own_options_only():
    assert complete("joule", "daemon", "--top") == {"--top-n"}
    assert complete("joule", "run", "--top") == set(), "run has no --top-n"


def test_completion_completes_subcommands_then_their_own_options_and_files(tmp_path):
    assert complete("joule", "ledger", "") == {"verify", "head", "show", "keygen", "--help"}, "ledger's subcommands"
    assert complete("joule", "fleet", "") == {"serve", "query", "--help"}, "fleet's subcommands"
    assert complete("joule", "ledger", "verify", "--pub") == {"--pubkey"}, "verify's own option"
    assert complete("joule", "ledger", "show", "--pub") == set(), "show has no --pubkey"
    assert complete("joule", "fleet", "serve", "--basic") == {"--basic-auth-user", "--basic-auth-password-file"}
    (tmp_path / "ledger.jsonl").write_text("")
    assert complete("joule", "ledger", "verify", str(tmp_path / "led")) == {str(tmp_path / "ledger.jsonl")}, \
        "an operand of verify is a file"


def test_completion_offers_the_accepted_values():
    assert complete("joule", "run", "--source", "") == {"auto", "powercap", "msr", "perf", "model"}
    assert complete("joule", "run", "--idle", "p") == {"proportional"}
    assert complete("joule", "top", "--sort", "c") == {"cpu", "comm"}, "a command's own option too"


def test_completion_after_double_dash_completes_a_program():
    assert "true" in complete("joule", "run", "--", "tru"), "a command after --"


def test_completion_is_found_by_bash_completion_where_make_install_puts_it(tmp_path):
    if not os.path.exists("/usr/share/bash-completion/bash_completion"):
        pytest.skip("bash-completion not installed")
    # make install puts it in $PREFIX/share/bash-completion/completions/joule; bash-completion looks
    # there through XDG_DATA_DIRS
    comp = tmp_path / "share" / "bash-completion" / "completions"
    comp.mkdir(parents=True)
    shutil.copy(os.path.join(BUILD, "joule.bash-completion"), comp / "joule")
    prog = ("source /usr/share/bash-completion/bash_completion; _completion_loader joule; "
            "COMP_WORDS=(joule pro); COMP_CWORD=1; _joule; echo \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True,
                       timeout=30, env={**os.environ, "XDG_DATA_DIRS": str(tmp_path / "share")})
    assert r.stdout.split() == ["probe"], r.stdout + r.stderr


# ---- run: output channels, --config, -v, carbon in two parts


@root
def test_run_json_goes_to_stderr_and_stdout_stays_the_commands():
    r = joule("run", "--json", "--", "echo", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n", "the command's stdout, nothing else"
    assert report_of(r.stderr)["command"] == ["echo", "hello"]


@root
def test_run_json_to_a_file_descriptor_of_its_own(tmp_path):
    out = tmp_path / "report.json"
    # what the man page suggests for a pipe of its own: 3>FILE and -o /dev/fd/3
    r = subprocess.run(["sh", "-c", f'exec "$0" run --json -o /dev/fd/3 -- echo hello 3>"{out}"', JOULE],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    assert json.loads(out.read_text())["exit_status"] == 0, "the whole file is one JSON object"


@root
def test_run_combined_short_flags_and_repeated_v(tmp_path):
    out = tmp_path / "r.json"
    r = joule("run", "-vvo", str(out), "--json", "--", "true")
    assert r.returncode == 0, r.stderr
    assert "joule: debug" in r.stderr.lower() or "libbpf" in r.stderr, "-vv turns on debug messages"
    assert json.loads(out.read_text())["command"] == ["true"], "-o FILE inside the cluster"


@root
def test_run_config_file_applies_its_zone(tmp_path):
    conf = tmp_path / "joule.conf"
    conf.write_text("[joule]\nzone = FR\nembodied-kg = none\n")
    r = joule("run", "--config", str(conf), "--json", "--", "true")
    assert r.returncode == 0, r.stderr
    rep = report_of(r.stderr)
    assert rep["carbon"]["zone"] == "FR", "the config's zone"
    assert rep["total"]["carbon_embodied_ug"] == 0, "the config's embodied-kg = none"


@root
def test_run_options_win_over_the_config_file(tmp_path):
    conf = tmp_path / "joule.conf"
    conf.write_text("zone = FR\n")
    r = joule("run", "--zone", "DE", "--config", str(conf), "--json", "--", "true")
    assert r.returncode == 0, r.stderr
    assert report_of(r.stderr)["carbon"]["zone"] == "DE", "the command line wins, wherever --config is"


def test_run_config_file_with_a_bad_value_names_file_and_line(tmp_path):
    conf = tmp_path / "joule.conf"
    conf.write_text("[joule]\n\ninterval = soon\n")
    r = joule("run", "--config", str(conf), "--", "true")
    assert r.returncode == 2
    assert f"{conf}:3" in r.stderr and "interval" in r.stderr, r.stderr


def test_run_missing_config_file_is_a_usage_error(tmp_path):
    r = joule("run", "--config", str(tmp_path / "none.conf"), "--", "true")
    assert r.returncode == 2 and "none.conf" in r.stderr, r.stderr


def test_config_when_not_a_regular_file_is_refused_at_once():
    # /dev/zero was read forever (issue 18, item 8)
    for cmd in (("daemon", "--config", "/dev/zero", "--listen", "127.0.0.1:0", "--socket", ""),
                ("run", "--config", "/dev/zero", "--", "true")):
        r = subprocess.run([JOULE, *cmd], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, "%s: a config that is not a regular file is a usage error: %s" % (cmd[0], r.stderr)
        assert "/dev/zero" in r.stderr and "regular file" in r.stderr, r.stderr


@root
def test_run_when_the_report_cannot_be_written_exits_1():
    # the report lost to a full disk was exit 0 (issue 18, item 8)
    r = joule("run", "--json", "-o", "/dev/full", "--", "true")
    assert r.returncode == 1, "a lost report is a failure even when the command succeeded: %s" % r.stderr
    assert "failed to write the report" in r.stderr, r.stderr
    r = joule("run", "-o", "/dev/full", "--", "false")
    assert r.returncode == 1, "the command's own failure status is kept"


PARTS = ("total", "others", "idle", "overflow", "host")


@root
def test_run_json_splits_carbon_into_operational_and_embodied_everywhere():
    r = joule("run", "--json", "--", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
    rep = report_of(r.stderr)
    for p in rep["processes"] + [rep[k] for k in PARTS]:
        assert p["carbon_operational_ug"] + p["carbon_embodied_ug"] == p["carbon_ug"], f"parts sum: {p}"
    for key in ("carbon_operational_ug", "carbon_embodied_ug"):
        assert sum(rep[k][key] for k in PARTS[:4]) == rep["host"][key], f"{key}: the parts add up to the host"
    assert rep["total"]["carbon_embodied_ug"] > 0, "embodied carbon is on by default"


@root
def test_run_with_embodied_none_has_operational_carbon_only():
    r = joule("run", "--json", "--embodied-kg", "none", "--", "true")
    rep = report_of(r.stderr)
    for k in PARTS:
        assert rep[k]["carbon_embodied_ug"] == 0, k
        assert rep[k]["carbon_operational_ug"] == rep[k]["carbon_ug"], k


@root
def test_run_text_report_shows_both_parts_and_names_the_embodied_default():
    r = joule("run", "--", "true")
    assert r.returncode == 0, r.stderr
    assert "oper. g" in r.stderr and "embod. g" in r.stderr, "two columns"
    # the default's server and share depend on the machine (bare metal or a VM): the footer names both
    m = re.search(r"embodied: ([0-9.]+) kgCO2e server over 4\.0 years, this machine's share ([0-9.]+) \((ccf-[a-z-]+)",
                  r.stderr)
    assert m, "the embodied default, its share and its basis named: %s" % r.stderr
    assert float(m.group(1)) in (1000.0, 1616.5) and 0 < float(m.group(2)) <= 1, m.group(0)
    r = joule("run", "--embodied-kg", "none", "--", "true")
    assert "embodied: none" in r.stderr, r.stderr


# ---- top in a real terminal


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-S", str(sock), *args], capture_output=True, text=True, timeout=30,
                          check=check)


def wait_for_screen(sock, pred, what, timeout=30):
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = tmux(sock, "capture-pane", "-p", "-t", "t", check=False).stdout
        if pred(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{what}; the screen was:\n{screen}")


def check_fits(screen, cols, rows):
    lines = screen.split("\n")
    assert len(lines) <= rows + 1, f"at most {rows} lines: {len(lines)}"
    assert max(len(ln) for ln in lines) <= cols, f"no line wider than {cols}"
    assert lines[0].startswith("joule top"), f"the header stays on the first line: {lines[0]!r}"


@root
@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux not installed")
def test_top_fits_the_terminal_follows_a_resize_sorts_and_quits_with_q(tmp_path):
    sock = tmp_path / "tmux.sock"
    done = tmp_path / "done"
    tmux(sock, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "120", "-y", "30",
         # written whole, then renamed: the shell creates the target of `>` before echo fills it
         f"{JOULE} top --every 300ms; echo exit=$? > {done}.tmp; mv {done}.tmp {done}; sleep 60")
    try:
        screen = wait_for_screen(sock, lambda s: s.startswith("joule top") and "PID" in s, "top drew its table")
        check_fits(screen, 120, 30)
        # a crowded host has more than 30 processes: the table is cut at the bottom, not scrolled
        tmux(sock, "resize-window", "-t", "t", "-x", "70", "-y", "12")
        screen = wait_for_screen(sock, lambda s: len(s.split("\n")) <= 13 and s.startswith("joule top")
                                 and max(len(x) for x in s.split("\n")) <= 70, "top redrew at 70x12")
        check_fits(screen, 70, 12)
        tmux(sock, "send-keys", "-t", "t", "p")
        wait_for_screen(sock, lambda s: "sort pid" in s, "p sorts by pid")
        tmux(sock, "send-keys", "-t", "t", "q")
        deadline = time.time() + 30
        while not done.exists():
            assert time.time() < deadline, "q quits top"
            time.sleep(0.1)
        assert done.read_text().strip() == "exit=0"
        screen = tmux(sock, "capture-pane", "-p", "-t", "t").stdout
        assert "host energy" in screen, "the alternate screen is left and the summary printed after it"
        mode = tmux(sock, "display-message", "-p", "-t", "t", "#{alternate_on}").stdout.strip()
        assert mode == "0", "the terminal is back on its normal screen"
    finally:
        tmux(sock, "kill-server", check=False)


@root
def test_trace_group_counts_the_processes_of_each_name(tmp_path):
    # three processes of a name no other process has, each busy a little every 50 ms; python,
    # as it sleeps without forking (a shell's `sleep` child would be a fourth jcount until it execs)
    name = "jcount%s" % os.urandom(2).hex()  # this run's own comm: another run at once has its own
    prog = tmp_path / name
    shutil.copy("/usr/bin/python3", prog)
    loop = "import time\nwhile True:\n    sum(range(20000))\n    time.sleep(0.05)\n"
    procs = [subprocess.Popen([str(prog), "-c", loop]) for _ in range(3)]
    try:
        r = joule("trace", "-c", name, "--group", "--every", "1s", "--duration", "4s", "--json")
        assert r.returncode == 0, r.stderr
        rows = [p for ln in r.stdout.splitlines() if ln.startswith("{")
                for p in json.loads(ln)["processes"]]
        assert rows and all(p["comm"] == name for p in rows), r.stdout
        assert max(p["count"] for p in rows) == 3, f"one row counting 3 processes: {rows}"
    finally:
        for p in procs:
            p.kill()
            p.wait()


@root
def test_run_text_report_shows_a_name_with_escape_sequences_harmlessly():
    # any process may give itself a name that would clear the reader's terminal
    prog = ("open('/proc/self/comm', 'w').write('\\x1b[2Jevil')\n"
            "sum(range(300000))\n")
    r = joule("run", "--", "/usr/bin/python3", "-c", prog)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stderr, "no escape byte reaches the terminal"
    assert "?[2Jevil" in r.stderr, "the name is shown, its control byte as '?'"
