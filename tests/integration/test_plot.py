# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A picture of a run: `joule run --plot F.svg` and `joule report --from-ledger L --plot F.svg` write SVG that
parses as XML, has one series per top process, and states the totals of the run's own JSON."""
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import FakeRapl, joule, skip_unless_root

SVG = "{http://www.w3.org/2000/svg}"
JOULE_NS = "{urn:joule:plot}"
TOP_N = 8  # plot_svg's default
root = pytest.mark.root
# Two processes of the run's own names, each busy for a while, so the picture has known series.
WORKLOAD = ("import ctypes, sys, time\n"
            "ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)\n"
            "t = time.monotonic()\n"
            "while time.monotonic() - t < 1.0:\n"
            "    pass\n")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `joule run --plot` of two named busy processes on a fake RAPL tree, with its JSON and ledger."""
    skip_unless_root()
    d = tmp_path_factory.mktemp("plot")
    fr = FakeRapl(d / "rapl")
    tag = "%d" % (os.getpid() % 100000)
    names = ("jplotA" + tag, "jplotB" + tag)
    try:
        r = joule("run", "--source", "powercap", "--powercap-root", fr.root, "--json", "-o", str(d / "run.json"),
                  "--ledger", str(d / "ledger.jsonl"), "--plot", str(d / "run.svg"), "--",
                  "sh", "-c", '/usr/bin/python3 -c "$0" %s & /usr/bin/python3 -c "$0" %s; wait' % names, WORKLOAD)
    finally:
        fr.stop()
    assert r.returncode == 0, r.stderr
    with open(d / "run.json") as f:
        rep = json.load(f)
    return d, rep, names


def parse(path):
    tree = ET.parse(path)  # raises on anything that is not well-formed XML
    svg = tree.getroot()
    assert svg.tag == SVG + "svg", "root element %s" % svg.tag
    return svg


def series(svg):
    return [p for p in svg.iter(SVG + "path") if p.get("class") == "series"]


@root
def test_run_plot_when_written_parses_as_svg_with_a_series_per_top_process(run):
    d, rep, names = run
    svg = parse(d / "run.svg")
    procs = sorted((p for p in rep["processes"] if p["energy_uj"] > 0), key=lambda p: -p["energy_uj"])
    want = {p["pid"] for p in procs[:TOP_N]}
    got = {int(p.get("data-key").split(":")[0]) for p in series(svg)}
    assert got == want, "series pids %s, the run's top processes %s" % (sorted(got), sorted(want))
    labels = [p.find(SVG + "title").text for p in series(svg)]
    for n in names:
        assert any(lb.startswith(n + " [") for lb in labels), "no series for %s among %s" % (n, labels)


@root
def test_run_plot_when_written_states_the_totals_of_the_runs_json(run):
    d, rep, _ = run
    svg = parse(d / "run.svg")
    tot = svg.find(SVG + "metadata").find(JOULE_NS + "totals")
    assert int(tot.get("energy_uj")) == rep["total"]["energy_uj"], "energy in the metadata"
    assert int(tot.get("carbon_ug")) == rep["total"]["carbon_ug"], "carbon in the metadata"
    assert int(tot.get("host_energy_uj")) == rep["host"]["energy_uj"], "the host line is not the run's host energy"
    title = next(t for t in svg.iter(SVG + "text") if t.get("class") == "title").text
    m = re.search(r": ([0-9.]+) (J|kJ), ", title)
    assert m, "no energy in the title %r" % title
    j = float(m.group(1)) * (1000 if m.group(2) == "kJ" else 1)
    assert abs(j - rep["total"]["energy_uj"] / 1e6) <= 0.006 * j + 0.01, "title %r, JSON %d µJ" % (
        title, rep["total"]["energy_uj"])
    assert "CO2e" in title, "no carbon in the title %r" % title


@root
def test_run_plot_when_written_has_rest_idle_and_host_layers(run):
    d, _, _ = run
    classes = [p.get("class") for p in parse(d / "run.svg").iter(SVG + "path")]
    assert classes[0] == "host", "host is not drawn first (behind): %s" % classes
    assert "idle" in classes, "no idle layer: %s" % classes


@root
def test_report_plot_when_ledger_of_the_run_draws_its_top_processes_and_host_energy(run):
    d, _, _ = run
    r = joule("report", "--from-ledger", str(d / "ledger.jsonl"), "--plot", str(d / "ledger.svg"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "--plot alone writes no JSON to stdout: %r" % r.stdout[:200]
    svg = parse(d / "ledger.svg")
    hosts = [json.loads(ln) for ln in open(d / "ledger.jsonl") if '"kind":"host"' in ln]
    tot = svg.find(SVG + "metadata").find(JOULE_NS + "totals")
    assert int(tot.get("energy_uj")) == sum(int(h["energy_uj"]) for h in hosts), "title energy is the host records'"
    # the ledger holds every process of the host, not only the run's: its top 8 are the series
    energy = {}
    for ln in open(d / "ledger.jsonl"):
        rec = json.loads(ln)
        if rec.get("kind") == "process" and int(rec["energy_uj"]) > 0:
            k = "%s:%s" % (rec["pid"], rec["start_ns"])
            energy[k] = energy.get(k, 0) + int(rec["energy_uj"])
    top = sorted(energy.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    assert {p.get("data-key") for p in series(svg)} == {k for k, _ in top}, "series are not the ledger's top 8"


@root
def test_report_plot_when_path_is_html_puts_the_same_svg_in_a_page(run):
    d, _, _ = run
    for ext in ("svg", "html"):
        r = joule("report", "--from-ledger", str(d / "ledger.jsonl"), "--plot", str(d / ("page." + ext)))
        assert r.returncode == 0, r.stderr
    page = (d / "page.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>" in page and "<script" not in page, page[:300]
    inline = ET.fromstring(page[page.index("<svg"):page.rindex("</svg>") + len("</svg>")])
    alone = parse(d / "page.svg")
    assert [p.get("data-key") for p in series(inline)] == [p.get("data-key") for p in series(alone)], \
        "the page's picture is not the SVG's"


def test_run_plot_when_path_cannot_be_written_is_a_usage_error_before_the_command(tmp_path):
    marker = tmp_path / "ran"
    r = joule("run", "--source", "model", "--plot", str(tmp_path / "no" / "such" / "dir.svg"), "--",
              "touch", str(marker))
    assert r.returncode == 2, "exit %d: %s" % (r.returncode, r.stderr)
    assert "cannot write the plot to" in r.stderr, r.stderr
    assert not marker.exists(), "the command ran although its plot could not be written"


def test_report_plot_when_ledger_has_no_host_record_fails_with_a_reason(tmp_path):
    led = tmp_path / "l.jsonl"
    led.write_text('{"kind":"genesis","seq":0,"ts_start":1,"ts_end":1}\n'
                   '{"kind":"run","seq":1,"ts_start":1,"ts_end":2,"total":{"energy_uj":1}}\n')
    r = joule("report", "--from-ledger", str(led), "--plot", str(tmp_path / "o.svg"))
    assert r.returncode == 1, "exit %d: %s" % (r.returncode, r.stderr)
    assert r.stderr.strip(), "no reason given"
