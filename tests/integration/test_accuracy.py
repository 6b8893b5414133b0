# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""joule's CPU time against the kernel's own accounting, on a quiet machine and under load."""
import json
import tempfile
import os
import subprocess

import pytest

from conftest import BUILD, joule

PY = "/usr/bin/python3"
root = pytest.mark.root

BURN = "import time\nt=time.process_time()\nwhile time.process_time()-t<{s}: pass\n"

# 2,000 children, each reaped before the next starts: a shell's subshells (fork, no exec).
FORKS = "i=0; while [ $i -lt 2000 ]; do ( : ); i=$((i+1)); done"


def run_json(*cmd):
    """joule run's JSON report (it goes to stderr, like perf stat's; -o keeps it apart from any log)."""
    fd, path = tempfile.mkstemp(prefix="joule-accuracy-", suffix=".json")
    os.close(fd)
    try:
        r = joule("run", "--json", "-o", path, "--", *cmd, timeout=300)
        assert r.returncode == 0, r.stderr
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


# One 300 ms burner's report per load, shared by the tests that read it (no second run).
_BURNER = {}


def burner(machine_load):
    if machine_load not in _BURNER:
        _BURNER[machine_load] = run_json(PY, "-c", BURN.format(s=0.3))
    return _BURNER[machine_load]


@root
def test_accuracy_cpu_time_of_a_process_over_100ms_is_within_0_1pct_of_rusage(machine_load):
    rep = burner(machine_load)
    joule_ns, kernel_ns = rep["total"]["cpu_ns"], rep["total"]["kernel_cpu_ns"]
    print(f"{machine_load}: joule {joule_ns} ns, rusage {kernel_ns} ns ({100 * (joule_ns / kernel_ns - 1):+.4f}%)")
    assert kernel_ns >= 100_000_000, "the burner ran at least 100 ms"
    assert abs(joule_ns - kernel_ns) <= 0.001 * kernel_ns, "within 0.1 % of the kernel's count"


@root
def test_accuracy_run_json_cpu_time_adds_up_to_the_cpus_clocks(machine_load):
    host = burner(machine_load)["host"]
    busy, idle, unacc, clock = host["busy_ns"], host["idle_ns"], host["unaccounted_ns"], host["cpu_clock_ns"]
    span = host["ncpus"] * host["span_ns"]
    print(f"{machine_load}: busy {busy} + idle {idle} + unaccounted {unacc} ns = clock {clock} ns "
          f"({100 * unacc / clock:+.3f}% unaccounted); ncpus x span {span} ns ({100 * (clock / span - 1):+.3f}%)")
    assert busy + idle + unacc == clock, "every ns of the CPUs' clocks is busy, idle or unaccounted, exactly"
    assert abs(clock - span) <= 0.02 * span, "the CPUs' clocks cover ncpus x the span the samples cover"


@root
def test_accuracy_cpu_time_of_a_short_process_is_within_1ms_of_rusage(machine_load):
    rep = run_json("/bin/true")
    joule_ns, kernel_ns = rep["total"]["cpu_ns"], rep["total"]["kernel_cpu_ns"]
    print(f"{machine_load}: joule {joule_ns} ns, rusage {kernel_ns} ns")
    assert abs(joule_ns - kernel_ns) <= 1_000_000, "within 1 ms of the kernel's count"


@root
def test_accuracy_2000_short_lived_processes_are_within_0_1pct_of_rusage_children(under_load):
    # under load only: the quiet case is test_run's 500 processes, and this one is the costly one
    machine_load = "loaded"
    rep = run_json("/bin/sh", "-c", FORKS)
    joule_ns, kernel_ns = rep["total"]["cpu_ns"], rep["total"]["kernel_cpu_ns"]
    print(f"{machine_load}: {len(rep['processes'])} processes; joule {joule_ns} ns, rusage {kernel_ns} ns "
          f"({100 * (joule_ns / kernel_ns - 1):+.4f}%)")
    assert len(rep["processes"]) >= 2001, "every child has its row"
    assert abs(joule_ns - kernel_ns) <= 0.001 * kernel_ns, "within 0.1 % of the kernel's count"


@root
def test_accuracy_attached_tracer_tests_hold(machine_load):
    """tests/bpf's attached tests (schedstat, 200 children, exit teardown, snapshot coverage) under this load."""
    binary = os.path.join(BUILD, "tests", "test_tracer")
    if not os.path.exists(binary):
        pytest.skip("build/tests/test_tracer not built (make test builds it)")
    r = subprocess.run([binary], env={**os.environ, "JOULE_TEST_FILTER": "test_attached_*"},
                       capture_output=True, text=True, timeout=600)
    print(r.stdout[-4000:])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
