# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""GPU energy per process (issue 16) against the fake NVML library tests/fake-nvml builds.

No GPU can run here, so NVIDIA's library is replaced by build/fake-nvml/libnvidia-ml.so.1
(loaded with --nvml-lib): a mock by necessity. Everything else is real: joule, BPF, the processes
the fake reports (the command under `joule run` starts them and writes their pids to the fake's
control file). Each `joule run` is shared by the tests that read it (module-scoped fixtures).
"""
import csv
import json
import os
import re

import pytest

from conftest import BUILD, joule, skip_unless_root
from daemon_util import Daemon, check_schema, metrics_text, response_schema, wait_for

PY = "/usr/bin/python3"
FAKE = os.path.join(BUILD, "fake-nvml", "libnvidia-ml.so.1")
REPO = os.path.join(os.path.dirname(__file__), "..", "..")
BOAMPS_INPUT = os.path.join(REPO, "data", "boamps", "joule-input-example.json")
root = pytest.mark.root

# The command under `joule run`: starts N sleepers, lists them on the fake GPUs as the control
# file's template says ({0}, {1}: their pids), then either waits or drives a fault:
#   fault=fail  sets fail=999 on GPU 0 until the reader has met it, then clears it
#   fault=lost  sets lost=1 on GPU 0 and waits until the reader has met it
# Every wait polls with a deadline: a busy machine makes it slower, never wrong.
DRIVER = r'''
import os, subprocess, sys, time
ctl, template, n, fault = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
kids = [subprocess.Popen(["sleep", "30"]) for _ in range(n)]
base = template.format(*[k.pid for k in kids])

def put(text):  # the fake re-reads the file at every call: never let it see half a file
    with open(ctl + ".tmp", "w") as f:
        f.write(text)
    os.replace(ctl + ".tmp", ctl)

put(base)

def wait_flag(deadline_s):
    end = time.monotonic() + deadline_s
    while not os.path.exists(ctl + ".failed") and time.monotonic() < end:
        time.sleep(0.02)

time.sleep(0.6)                      # a few good ticks first
if fault == "fail":
    put(base.replace("gpu 0 ", "gpu 0 fail=999 ", 1))
    wait_flag(20)
    put(base)
    time.sleep(0.6)                  # good reads again: the counter's energy is carried
elif fault == "lost":
    put(base.replace("gpu 0 ", "gpu 0 lost=1 ", 1))
    wait_flag(20)
    time.sleep(0.3)
else:
    time.sleep(0.6)
# a process leaves NVML's lists when it ends: take them off the GPUs first, then end them
put("".join(ln for ln in open(ctl).readlines() if not ln.startswith("proc ")))
for k in kids:
    k.kill()
    k.wait()
'''


def report_of(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.startswith("{")]
    assert len(lines) == 1, f"one JSON report on stderr; stderr: {stderr}"
    return json.loads(lines[0])


def gpu_run(tmp, template, n=0, fault="none", gpu="nvml", lib=FAKE, extra=()):
    ctl = os.path.join(tmp, "nvml.ctl")
    script = os.path.join(tmp, "driver.py")
    with open(script, "w") as f:
        f.write(DRIVER)
    # the control file exists before joule starts: NVML finds its GPUs at open
    with open(ctl, "w") as f:
        f.write(template.format(*[4194305] * n) if n else template)  # a pid no process has
    env = dict(os.environ, FAKE_NVML_CONTROL=ctl)
    r = joule("run", "--json", "--gpu", gpu, "--nvml-lib", lib, *extra, "--", PY, script, ctl, template,
              str(n), fault, env=env)
    return r


def procs_by_pid(rep):
    return {p["pid"]: p for p in rep["processes"]}


def assert_cpu_side_balanced(rep):
    parts = [rep["total"], rep["others"], rep["idle"], rep["overflow"]]
    for key in ("energy_uj", "cpu_energy_uj", "memory_energy_uj", "carbon_ug"):
        assert sum(p[key] for p in parts) == rep["host"][key], f"CPU side {key} balances"
    assert rep["host"]["energy_uj"] > 0, "the CPU side was measured"


# GPU 0: energy counter, two processes at 3:1 SM utilisation, the device 90 % busy.
# GPU 1: an old GPU (no counter: power integrated), processes without samples: split by memory.
# GPU 2: MIG with two instances, no process: all idle, energy counted once.
THREE_GPUS = ("driver 550.54.15\n"
              "gpu 0 name=Fake_A100 uuid=GPU-a100-0 power_mw=200000 util=90\n"
              "gpu 1 name=Fake_K80 uuid=GPU-k80-1 power_mw=60000 counter=0 util=80\n"
              "gpu 2 name=Fake_H100 uuid=GPU-h100-2 power_mw=100000 mig=2\n"
              "proc 0 {0} sm=60 mem=1000\n"
              "proc 0 {1} sm=20 mem=1000\n"
              "proc 1 {2} sm=- mem=3000\n"
              "proc 1 {3} sm=- mem=1000\n")


@pytest.fixture(scope="module")
def three_gpus(tmp_path_factory):
    skip_unless_root()
    tmp = str(tmp_path_factory.mktemp("gpu3"))
    r = gpu_run(tmp, THREE_GPUS, n=4, extra=("--report", "codecarbon=" + os.path.join(tmp, "emissions.csv"),
                                             "--report", "boamps=" + os.path.join(tmp, "boamps.json"),
                                             "--boamps-input", BOAMPS_INPUT))
    assert r.returncode == 0, r.stderr
    rep = report_of(r.stderr)
    sleepers = sorted((p for p in rep["processes"] if p["comm"] == "sleep"), key=lambda p: p["pid"])
    assert len(sleepers) == 4, f"the four GPU processes are the command's: {rep['processes']}"
    return rep, sleepers, tmp


def gpu(rep, index):
    return next(g for g in rep["host"]["gpus"] if g["index"] == index)


@root
def test_gpu_two_processes_at_3_to_1_sm_utilisation_get_3_to_1_of_the_energy(three_gpus):
    rep, s, _ = three_gpus
    a, b = s[0]["gpu_energy_uj"], s[1]["gpu_energy_uj"]
    assert a > 0 and b > 0, f"both processes on GPU 0 got energy: {a}, {b}"
    print(f"3:1 on GPU 0: {a} / {b} uJ = {a / b:.6f} over {rep['host']['span_ns'] / 1e9:.2f} s")
    # exact per tick up to one µJ of largest-remainder rounding per tick
    assert abs(a - 3 * b) <= 4 * rep["host"]["span_ns"] / 1e8 + 4, f"3:1 split: {a} vs {b}"
    assert gpu(rep, 0)["split"] == "sm_util", "the method is stated"


@root
def test_gpu_energy_balances_exactly_in_uj(three_gpus):
    rep, _, _ = three_gpus
    host = rep["host"]
    parts = [rep["total"], rep["others"], rep["idle"], rep["overflow"]]
    assert sum(p["gpu_energy_uj"] for p in parts) == host["gpu_energy_uj"], "total+others+idle+overflow == host"
    assert sum(g["energy_uj"] for g in host["gpus"]) == host["gpu_energy_uj"], "GPUs sum to the host"
    assert sum(g["idle_energy_uj"] for g in host["gpus"]) == rep["idle"]["gpu_energy_uj"], "GPU idle bucket"
    assert host["domains"]["gpu"] == host["gpu_energy_uj"], "host.domains.gpu"
    assert sum(p["gpu_energy_uj"] for p in rep["processes"]) == rep["total"]["gpu_energy_uj"], "processes sum"
    assert_cpu_side_balanced(rep)


@root
def test_gpu_without_energy_counter_integrates_power_labelled_with_wider_uncertainty(three_gpus):
    rep, _, _ = three_gpus
    old, new = gpu(rep, 1), gpu(rep, 0)
    assert old["energy_source"] == "power_integrated", "labelled as integrated power"
    assert new["energy_source"] == "energy_counter", "the counter is used where it exists"
    assert old["energy_rel_sd"] > new["energy_rel_sd"], "integrated power is less certain"
    assert old["energy_uj"] > 0, "power was integrated"


@root
def test_gpu_without_samples_splits_by_memory_and_says_so(three_gpus):
    rep, s, _ = three_gpus
    g = gpu(rep, 1)
    a, b = s[2]["gpu_energy_uj"], s[3]["gpu_energy_uj"]
    assert g["split"] == "memory", "fallback method stated"
    assert b > 0 and abs(a - 3 * b) <= 4 * rep["host"]["span_ns"] / 1e8 + 4, f"3:1 by memory: {a} vs {b}"


@root
def test_gpu_mig_instances_reported_and_energy_counted_once(three_gpus):
    rep, _, _ = three_gpus
    g = gpu(rep, 2)
    assert g["mig_instances"] == 2, "MIG instances reported"
    assert g["split"] == "idle" and g["idle_energy_uj"] == g["energy_uj"], "no process: all idle"
    # 100 W over the run's span; twice that would be MIG counted twice (timing-independent ratio)
    expect = 100.0 * rep["host"]["span_ns"] / 1e3
    assert 0.7 * expect < g["energy_uj"] < 1.3 * expect, f"{g['energy_uj']} µJ against {expect:.0f} µJ at 100 W"


@root
def test_gpu_codecarbon_row_has_gpu_power_energy_count_and_model(three_gpus):
    rep, _, tmp = three_gpus
    with open(os.path.join(tmp, "emissions.csv")) as f:
        row = list(csv.DictReader(f))[-1]
    kwh = rep["total"]["gpu_energy_uj"] / 3.6e12
    assert float(row["gpu_energy"]) == pytest.approx(kwh, rel=1e-9), "gpu_energy in kWh"
    assert float(row["gpu_power"]) > 0, "gpu_power in W"
    assert float(row["energy_consumed"]) == pytest.approx(
        kwh + float(row["cpu_energy"]) + float(row["ram_energy"] or 0), rel=1e-9), "energy_consumed adds the GPU"
    assert row["gpu_count"] == "3" and row["gpu_model"] == "1 x Fake_A100, 1 x Fake_K80, 1 x Fake_H100", row


@root
def test_gpu_boamps_report_has_a_gpu_component_and_validates(three_gpus):
    import jsonschema  # noqa: F401  (python3-jsonschema, as in test_reports)
    from test_reports import boamps_validator
    rep, _, tmp = three_gpus
    with open(os.path.join(tmp, "boamps.json")) as f:
        doc = json.load(f)
    assert [e.message for e in boamps_validator().iter_errors(doc)] == [], "validates against the schemas"
    assert doc["measures"][0]["gpuTrackingMode"] == "nvml"
    gpus = [c for c in doc["infrastructure"]["components"] if c["componentType"] == "gpu"]
    assert gpus and gpus[0]["nbComponent"] == 3, doc["infrastructure"]
    kwh = (rep["total"]["energy_uj"] + rep["total"]["gpu_energy_uj"]) / 3.6e12
    assert doc["measures"][0]["powerConsumption"] == pytest.approx(kwh, rel=1e-9), "CPU + GPU kWh"


@root
def test_gpu_nvml_requested_but_library_missing_is_exit_2_with_reason(tmp_path):
    r = gpu_run(str(tmp_path), "", lib=str(tmp_path / "no-such-libnvidia-ml.so.1"))
    assert r.returncode == 2, r.stderr
    assert "--gpu nvml" in r.stderr and "no NVIDIA driver library" in r.stderr, r.stderr


@root
def test_gpu_auto_without_library_runs_with_cpu_data_and_no_gpu_keys(tmp_path):
    r = gpu_run(str(tmp_path), "", gpu="auto", lib=str(tmp_path / "no-such-libnvidia-ml.so.1"))
    assert r.returncode == 0, r.stderr
    rep = report_of(r.stderr)
    assert "gpus" not in rep["host"] and "gpu_energy_uj" not in rep["total"], "no GPU: keys absent"
    assert_cpu_side_balanced(rep)


ONE_GPU = ("gpu 0 name=Fake_A100 uuid=GPU-a100-0 power_mw=200000 util=50\n"
           "gpu 1 name=Fake_A100 uuid=GPU-a100-1 power_mw=100000\n"
           "proc 0 {0} sm=50\n")


def faulted_run(tmp_path, fault):
    """A run of ONE_GPU whose GPU 0 meets fault: (the process, its report, GPU 0's entry)."""
    r = gpu_run(str(tmp_path), ONE_GPU, n=1, fault=fault)
    assert r.returncode == 0, r.stderr
    rep = report_of(r.stderr)
    return r, rep, gpu(rep, 0)


@root
def test_gpu_driver_error_mid_run_is_reported_and_the_counter_carries_the_energy(tmp_path):
    r, rep, g = faulted_run(tmp_path, "fail")
    assert g["read_errors"] > 0 and g["status"] == "read_errors", f"the error is reported: {g}"
    assert "GPU 0 energy read failed" in r.stderr, "and logged"
    # the counter kept counting: the read after the error carries it, so GPU 0 (200 W) is
    # still twice GPU 1 (100 W), read over the same ticks
    assert abs(g["energy_uj"] / gpu(rep, 1)["energy_uj"] - 2.0) < 0.1, "no GPU energy lost"
    assert_cpu_side_balanced(rep)


@root
def test_gpu_that_disappears_is_reported_and_keeps_its_energy_and_cpu_data(tmp_path):
    _, rep, g = faulted_run(tmp_path, "lost")
    assert g["status"] == "lost" and g["nvml_error"] == 15, f"lost is reported: {g}"
    assert g["energy_uj"] > 0, "its energy before it went is kept"
    assert gpu(rep, 1)["status"] == "ok", "the other GPU is still read"
    parts = [rep["total"], rep["others"], rep["idle"], rep["overflow"]]
    assert sum(p["gpu_energy_uj"] for p in parts) == rep["host"]["gpu_energy_uj"], "still balances"
    assert_cpu_side_balanced(rep)


@root
def test_gpu_probe_names_gpus_driver_and_counter_or_power_only(tmp_path):
    ctl = tmp_path / "nvml.ctl"
    ctl.write_text(THREE_GPUS.format(1, 1, 1, 1))
    r = joule("probe", "--json", "--nvml-lib", FAKE, env=dict(os.environ, FAKE_NVML_CONTROL=str(ctl)))
    assert r.returncode == 0, r.stderr
    g = json.loads(r.stdout)["gpu"]
    assert g["usable"] and g["driver_version"] == "550.54.15", g
    assert [d["energy"] for d in g["gpus"]] == ["energy_counter", "power_only", "energy_counter"], g
    r = joule("probe", "--json", "--nvml-lib", str(tmp_path / "none.so"))
    g = json.loads(r.stdout)["gpu"]
    assert not g["usable"] and "no NVIDIA driver library" in g["detail"], g


@root
def test_gpu_metrics_and_api_per_gpu_and_gpu_domain_sums_to_host(tmp_path):
    ctl = tmp_path / "nvml.ctl"
    ctl.write_text("gpu 0 name=Fake_A100 uuid=GPU-a100-0 power_mw=200000\n")
    d = Daemon("--gpu", "nvml", "--nvml-lib", FAKE, env={"FAKE_NVML_CONTROL": str(ctl)}, workdir=str(tmp_path))
    try:
        pat = re.compile(r'^joule_gpu_energy_joules_total\{gpu="0",uuid="GPU-a100-0",[^}]*\} ([0-9.]+)$', re.M)
        wait_for(lambda: (m := pat.search(metrics_text(d))) and float(m.group(1)) > 0, 20, "GPU energy")
        text = metrics_text(d)

        def gpu_sum(family):
            return sum(float(v) for v in re.findall(r'^%s\{[^}]*domain="gpu"\} ([0-9.]+)$' % family, text, re.M))
        parts = sum(gpu_sum(f) for f in ("joule_group_energy_joules_total", "joule_idle_energy_joules_total",
                                         "joule_other_energy_joules_total"))
        host = gpu_sum("joule_host_attributed_energy_joules_total")
        assert host > 0 and abs(parts - host) < 1e-3 * host + 1e-5, f"group+idle+other {parts} == host {host}"
        assert 'joule_gpu_up{gpu="0",uuid="GPU-a100-0"} 1' in text
        spec = d.get_json("/api/v1/openapi.json")
        host = d.get_json("/api/v1/host")
        errs = check_schema(host, response_schema(spec, "/api/v1/host"), spec)
        assert not errs, "the API's host object with GPUs matches its schema: %s" % errs[:5]
        assert host["gpus"][0]["uuid"] == "GPU-a100-0" and host["totals"]["gpu_energy_uj"] > 0, host
    finally:
        d.cleanup()


def test_gpu_check_without_an_nvidia_gpu_fails_cleanly_saying_so():
    import shutil
    import subprocess
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: gpu-check would really run")
    r = subprocess.run([os.path.join(REPO, "tools", "gpu-check")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "no NVIDIA GPU" in r.stderr and "Traceback" not in r.stderr, r.stderr
