# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""joule report from a real run's ledger: CodeCarbon rows under concurrent appends, BoAmps against its schemas,
CSV/JSON/SCI against the run's own figures, and a Pushgateway round trip read back through a real Prometheus."""
import csv
import glob
import json
import os
import re
import subprocess
import gzip
import shutil

import pytest

from conftest import JOULE, joule, skip_unless_root
from daemon_util import wait_for
from prom_util import Logged, Prometheus, promql, promql_safe

root = pytest.mark.root
REPO = os.path.join(os.path.dirname(__file__), "..", "..")
BOAMPS = os.path.join(REPO, "data", "boamps")
BOAMPS_INPUT = os.path.join(BOAMPS, "joule-input-example.json")


def reference_columns():
    with open(os.path.join(REPO, "data", "codecarbon", "emissions_columns.txt")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real run with a ledger: (ledger path, the run's own --json object)."""
    skip_unless_root()
    d = tmp_path_factory.mktemp("run")
    led, out = str(d / "run.jsonl"), d / "run.json"
    r = joule("run", "--json", "-o", str(out), "--ledger", led, "--", "stress-ng", "--cpu", "1", "-t", "1", "-q")
    assert r.returncode == 0, r.stderr
    return led, json.loads(out.read_text())


def report(led, *args, **kw):
    return joule("report", "--from-ledger", led, *args, **kw)


def report_json(led, *args):
    r = report(led, "--format", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@root
def test_report_json_when_whole_ledger_equals_the_runs_own_totals(run):
    led, rj = run
    rep = report_json(led)
    for k in ("cpu_ns", "energy_uj", "cpu_energy_uj", "memory_energy_uj", "carbon_ug", "carbon_ci_ug"):
        assert rep["total"][k] == rj["total"][k], "total.%s from the ledger differs from joule run's" % k
    assert rep["host"]["energy_uj"] == rj["host"]["energy_uj"], "host energy differs from joule run's"
    assert rep["command"] == " ".join(rj["command"]), "the command is the run record's"
    assert rep["wall_ns"] == rj["wall_ns"], "the wall time is the run's"
    t = rep["total"]
    assert t["carbon_operational_ug"] + t["carbon_embodied_ug"] == t["carbon_ug"], "carbon splits into two parts"
    assert sorted(p["pid"] for p in rep["processes"]) == sorted(p["pid"] for p in rj["processes"]), \
        "the table lists the run's processes"


@root
def test_report_window_when_covering_the_run_or_last_hour_equals_the_whole_ledger(run):
    led, rj = run
    whole = report_json(led)["total"]
    with open(led) as f:
        ends = [int(json.loads(l)["ts_end"]) for l in f]
    start, end = min(ends) / 1e9 - 1, max(ends) / 1e9 + 1
    assert report_json(led, "--window", "%.3f..%.3f" % (start, end))["total"] == whole, "explicit window"
    assert report_json(led, "--window", "1h")["total"] == whole, "LAST window of an hour"


@root
def test_report_when_segment_is_gzip_compressed_reads_it_like_the_plain_one(run, tmp_path):
    led, _ = run
    gz = str(tmp_path / "run.jsonl.1.gz")
    with open(led, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert report_json(gz) == report_json(led), "a rotated, compressed segment gives the same report"


@root
def test_report_window_when_before_the_run_fails_saying_no_records(run):
    led, _ = run
    r = report(led, "--window", "..1000000000")
    assert r.returncode == 1, "an empty window is a runtime failure"
    assert "no process, host or run records" in r.stderr, r.stderr


def test_report_window_when_malformed_is_a_usage_error(tmp_path):
    led = tmp_path / "l.jsonl"
    led.write_text("")
    r = report(str(led), "--window", "yesterday")
    assert r.returncode == 2, "a bad window is a usage error"
    assert "bad window 'yesterday'" in r.stderr, r.stderr


def test_report_when_ledger_line_is_not_json_names_file_and_line(tmp_path):
    led = tmp_path / "l.jsonl"
    led.write_text('{"kind":"genesis","ts_end":"1"}\nnot json\n')
    r = report(str(led))
    assert r.returncode == 1, "a bad line fails the report"
    assert "l.jsonl:2: bad JSON" in r.stderr, r.stderr


@root
def test_codecarbon_when_many_appends_at_once_has_header_once_and_whole_rows(run, tmp_path):
    led, rj = run
    out = str(tmp_path / "emissions.csv")
    n = 8
    procs = [subprocess.Popen([JOULE, "report", "--from-ledger", led, "--report", "codecarbon=" + out,
                               "--project-name", "proj", "--experiment-id", "exp-%d" % i],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    with open(out, newline="") as f:
        lines = f.read().splitlines()
    assert lines.count(lines[0]) == 1, "the header is written once"
    with open(out, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        rows = list(rd)
    assert header == reference_columns(), "exactly CodeCarbon's columns, in order"
    assert len(rows) == n, "one row per append"
    assert all(len(r) == len(header) for r in rows), "no row is torn or merged"
    assert sorted(dict(zip(header, r))["experiment_id"] for r in rows) == sorted("exp-%d" % i for i in range(n)), \
        "every append's own row"
    row = dict(zip(header, rows[0]))
    t = rj["total"]
    assert float(row["duration"]) == pytest.approx(rj["wall_ns"] / 1e9, rel=1e-9), "duration in s"
    assert float(row["cpu_energy"]) == pytest.approx(t["cpu_energy_uj"] / 3.6e12, rel=1e-9), "cpu_energy in kWh"
    ram = float(row["ram_energy"]) if row["ram_energy"] else 0.0
    assert float(row["energy_consumed"]) == pytest.approx(float(row["cpu_energy"]) + ram, rel=1e-9), \
        "energy_consumed = cpu + gpu + ram (kWh)"
    op_kg = (t["carbon_ug"] - report_json(led)["total"]["carbon_embodied_ug"]) / 1e9
    assert float(row["emissions"]) == pytest.approx(op_kg, rel=1e-9, abs=1e-15), "emissions in kg, operational"
    assert float(row["emissions_rate"]) == pytest.approx(float(row["emissions"]) / float(row["duration"]),
                                                         rel=1e-6), "emissions_rate in kg/s"
    assert float(row["cpu_power"]) == pytest.approx(float(row["cpu_energy"]) * 3.6e6 / float(row["duration"]),
                                                    rel=1e-6), "cpu_power in W"
    assert row["project_name"] == "proj", "project_name from the option"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", row["run_id"]), \
        "run_id a uuid4 when not given"
    assert row["gpu_energy"] == "" and row["gpu_power"] == "", "no GPU measured: left empty, not 0"
    assert row["python_version"] == "" and row["codecarbon_version"] == "", "what joule cannot know is empty"


@root
def test_codecarbon_when_file_has_other_columns_refuses_and_leaves_it_alone(run, tmp_path):
    led, _ = run
    out = tmp_path / "emissions.csv"
    out.write_text("a,b,c\n1,2,3\n")
    r = report(led, "--report", "codecarbon=" + str(out))
    assert r.returncode == 2, "a foreign CSV is refused before anything is written"
    assert "not a CodeCarbon 2.x emissions.csv" in r.stderr, r.stderr
    assert out.read_text() == "a,b,c\n1,2,3\n", "the file is untouched"


def boamps_validator():
    import jsonschema
    store = {}
    for fn in glob.glob(os.path.join(BOAMPS, "*_schema.json")):
        with open(fn) as f:
            s = json.load(f)
        store[s["id"]] = s
    rootschema = store["https://raw.githubusercontent.com/Boavizta/BoAmps/main/model/report_schema.json"]
    # the schemas reference each other by URL: resolve them from the store, never the network
    resolver = jsonschema.RefResolver(base_uri=rootschema["id"], referrer=rootschema, store=store)
    return jsonschema.Draft4Validator(rootschema, resolver=resolver)


@root
def test_boamps_when_input_describes_the_task_validates_against_the_schemas(run, tmp_path):
    led, rj = run
    out = tmp_path / "report.json"
    r = report(led, "--report", "boamps=" + str(out), "--boamps-input", BOAMPS_INPUT)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    errors = [e.message for e in boamps_validator().iter_errors(doc)]
    assert errors == [], "the report validates against report_schema.json and its references"
    m = doc["measures"][0]
    assert m["powerConsumption"] == pytest.approx(rj["total"]["energy_uj"] / 3.6e12, rel=1e-12), "kWh measured"
    assert m["measurementMethod"] == "joule", "joule made the measure"
    half = 1.96 * rj["carbon"]["energy_rel_sd"]
    want = "high" if half <= 0.10 else "medium" if half <= 0.25 else "low"
    assert doc["quality"] == want, "quality from the energy source's own uncertainty"
    assert doc["task"]["taskStage"] == "training", "the task comes from the input file"


@root
def test_boamps_when_input_lacks_the_task_is_a_usage_error_naming_it(run, tmp_path):
    led, _ = run
    bad = tmp_path / "in.json"
    bad.write_text('{"infrastructure":{"infraType":"onPremise"}}')
    out = tmp_path / "report.json"
    r = report(led, "--report", "boamps=" + str(out), "--boamps-input", str(bad))
    assert r.returncode == 2, "bad input is a usage error"
    assert '"task" is required' in r.stderr, r.stderr
    r = report(led, "--report", "boamps=" + str(out))
    assert r.returncode == 2 and "--boamps-input" in r.stderr, "no input: say which option is missing"


@root
def test_csv_when_read_back_rows_sum_to_the_total_row(run):
    led, rj = run
    r = report(led, "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(r.stdout.splitlines()))
    procs = [x for x in rows if x["pid"]]
    total = [x for x in rows if not x["pid"]]
    assert len(total) == 1 and total[0]["comm"] == "total", "one total row, with no pid"
    for k in ("cpu_ns", "energy_uj", "carbon_ug"):
        assert sum(int(x[k]) for x in procs) == int(total[0][k]), "processes sum to the total (%s)" % k
    assert int(total[0]["energy_uj"]) == rj["total"]["energy_uj"], "the total is the run's"


@root
def test_sci_when_functional_unit_given_is_carbon_per_unit(run):
    led, rj = run
    r = report(led, "--format", "sci", "--functional-unit", "4", "request")
    assert r.returncode == 0, r.stderr
    sci = json.loads(r.stdout)
    assert sci["functional_unit"] == {"count": 4, "name": "request"}, "R as given"
    assert sci["sci_g_per_unit"] == pytest.approx(rj["total"]["carbon_ug"] / 1e6 / 4, rel=1e-12), "(O + M) / R"
    assert sci["operational_g"] + sci["embodied_g"] == pytest.approx(rj["total"]["carbon_ug"] / 1e6, rel=1e-12)
    r = report(led, "--format", "sci")
    assert r.returncode == 2 and "--functional-unit" in r.stderr, "no R: a usage error naming the option"


def test_report_when_output_path_cannot_be_written_exits_2(tmp_path):
    led = tmp_path / "l.jsonl"
    led.write_text("")
    r = report(str(led), "--report", "json=" + str(tmp_path / "no" / "such" / "dir.json"))
    assert r.returncode == 2, "an unwritable report path is a usage error"
    assert "cannot write the json report" in r.stderr, r.stderr


@root
def test_pushgateway_when_scraped_by_prometheus_promql_equals_the_run(run, tmp_path):
    led, rj = run
    # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: keep this test's state its own
    pg = Logged(["prometheus-pushgateway", "--web.listen-address=127.0.0.1:0",
                 "--persistence.file=" + str(tmp_path / "pg.data")], str(tmp_path / "pg.log"))
    prom = None
    try:
        r = report(led, "--push", "http://127.0.0.1:%d" % pg.port, "--job", "train/nightly",
                   "--grouping", "path=/srv/a b", "--grouping", "team=ml")
        assert r.returncode == 0, r.stderr
        prom = Prometheus("global: {scrape_interval: 1s}\n"
                          "scrape_configs:\n"
                          "  - job_name: pushgateway\n"
                          "    honor_labels: true\n"
                          "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % pg.port)
        sel = '{job="train/nightly",path="/srv/a b",team="ml"}'
        prom.wait_ready(120)
        res = wait_for(lambda: promql_safe(prom.port, "joule_job_energy_joules" + sel), 120,
                       "Prometheus to see the pushed series")
        t = rj["total"]
        assert float(res[0]["value"][1]) == t["energy_uj"] / 1e6, "PromQL energy equals the run's (J)"
        assert float(promql(prom.port, "joule_job_cpu_seconds" + sel)[0]["value"][1]) == t["cpu_ns"] / 1e9, \
            "CPU seconds"
        assert float(promql(prom.port, "joule_job_duration_seconds" + sel)[0]["value"][1]) == rj["wall_ns"] / 1e9, \
            "duration"
        op = float(promql(prom.port, "joule_job_carbon_operational_grams" + sel)[0]["value"][1])
        emb = float(promql(prom.port, "joule_job_carbon_embodied_grams" + sel)[0]["value"][1])
        assert op + emb == pytest.approx(t["carbon_ug"] / 1e6, rel=1e-12), "operational + embodied = carbon (g)"
    finally:
        if prom:
            prom.stop()
        pg.stop()


def test_push_when_gateway_unreachable_retries_reports_and_still_writes_reports(tmp_path):
    led = tmp_path / "l.jsonl"
    led.write_text('{"kind":"host","cpu_energy_uj":5,"memory_energy_uj":0,"carbon_ug":1,"ts_start":"1",'
                   '"ts_end":"2","source":"model"}\n')
    out = tmp_path / "r.json"
    # a port nobody listens on: bind one, learn it, close it
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = report(str(led), "--report", "json=" + str(out), "--push", "http://127.0.0.1:%d" % port)
    assert r.returncode == 1, "a failed push is a runtime failure of joule report"
    assert "failed to push to http://127.0.0.1:%d/metrics/job/joule" % port in r.stderr, r.stderr
    assert "(3 attempts)" in r.stderr, "retried before giving up"
    assert json.loads(out.read_text())["host"]["energy_uj"] == 5, "the other reports are still written"


def test_push_when_grouping_label_is_invalid_is_a_usage_error(tmp_path):
    led = tmp_path / "l.jsonl"
    led.write_text("")
    r = report(str(led), "--push", "http://127.0.0.1:9", "--grouping", "job=x")
    assert r.returncode == 2 and "the job label is set by --job" in r.stderr, r.stderr
    r = report(str(led), "--push", "ftp://x")
    assert r.returncode == 2 and "must start with http://" in r.stderr, r.stderr


def tiny_ledger(tmp_path):
    """A ledger of one period: one marked process and its host record."""
    led = tmp_path / "tiny.jsonl"
    led.write_text(
        '{"kind":"process","pid":7,"ppid":1,"start_ns":"3","comm":"job","marked":true,"cpu_ns":1000000000,'
        '"cpu_energy_uj":3600000,"memory_energy_uj":0,"energy_uj":3600000,"carbon_ug":600,"embodied_ug":100,'
        '"ts_start":"1767225600000000000","ts_end":"1767225601000000000"}\n'
        '{"kind":"host","cpu_energy_uj":7200000,"memory_energy_uj":0,"energy_uj":7200000,"carbon_ug":1200,'
        '"source":"powercap","energy_rel_sd":0.02,"pue":1,"intensity":{"g_per_kwh":500,"rel_sd":0.1,'
        '"kind":"fixed","zone":"","year":0,"source":"--intensity"},'
        '"ts_start":"1767225600000000000","ts_end":"1767225601000000000"}\n')
    return str(led)


def test_codecarbon_when_last_row_lost_its_newline_starts_a_new_line(tmp_path):
    led = tiny_ledger(tmp_path)
    out = tmp_path / "emissions.csv"
    r = report(led, "--report", "codecarbon=" + str(out))
    assert r.returncode == 0, r.stderr
    torn = out.read_text()[:-20]  # a crash mid-row: no newline at the end
    out.write_text(torn)
    r = report(led, "--report", "codecarbon=" + str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.startswith(torn + "\n"), "the torn row is kept as it was and closed"
    rows = list(csv.reader(text.splitlines()))
    assert len(rows[-1]) == len(reference_columns()), "the new row is whole, on its own line"
    assert float(dict(zip(rows[0], rows[-1]))["energy_consumed"]) == 3600000 / 3.6e12, "kWh of the record"


def test_report_when_two_reports_name_one_file_is_a_usage_error(tmp_path):
    led = tiny_ledger(tmp_path)
    f = str(tmp_path / "r")
    r = report(led, "--report", "json=" + f, "--report", "csv=" + f)
    assert r.returncode == 2 and "two reports would write" in r.stderr, r.stderr


@root
def test_run_report_when_formats_asked_writes_each_and_they_agree_with_the_run(tmp_path):
    cc, js, out = tmp_path / "emissions.csv", tmp_path / "table.json", tmp_path / "run.json"
    r = joule("run", "--json", "-o", str(out), "--report", "codecarbon=%s" % cc, "--report", "json=%s" % js,
              "--project-name", "p1", "--", "true")
    assert r.returncode == 0, r.stderr
    rj, tj = json.loads(out.read_text()), json.loads(js.read_text())
    assert tj["total"]["energy_uj"] == rj["total"]["energy_uj"], "the json report's total differs from the run's"
    with open(cc, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["project_name"] == "p1", "one CodeCarbon row with the project name"
    assert abs(float(rows[0]["energy_consumed"]) - rj["total"]["energy_uj"] / 3.6e12) < 1e-12, \
        "energy_consumed is the run's energy in kWh"


@root
def test_run_report_when_path_cannot_be_written_exits_2_before_the_command_runs(tmp_path):
    marker = tmp_path / "ran"
    r = joule("run", "--report", "csv=%s" % (tmp_path / "missing" / "x.csv"), "--", "touch", str(marker))
    assert r.returncode == 2, "an unwritable report path is a usage error: %s" % r.stderr
    assert not marker.exists(), "the command must not run when a report cannot be written"
    assert "missing/x.csv" in r.stderr, r.stderr
