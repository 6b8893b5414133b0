# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real Prometheus (Debian's) scrapes the real daemon: up, per-comm rates and every panel of the Grafana
dashboard (one daemon and one Prometheus for the module); the shipped rules and example config pass promtool."""
import os
import shutil
import subprocess
import tempfile

import pytest

from prom_util import Prometheus, needs_prometheus, answer, promql_safe, scrape_job
from daemon_util import REPO, Daemon, wait_for
from test_metrics_dashboard import load as load_dashboard, panels, substitute

RULES = os.path.join(REPO, "dist/prometheus/joule.rules.yml")


@pytest.fixture(scope="module")
def scraped():
    """(daemon, Prometheus): the model daemon scraped every second with the shipped rules loaded."""
    d = Daemon("--source", "model", "--top-n", "5")
    prom = None
    try:
        prom = Prometheus(scrape_job(d.addr), rules=[RULES])
        yield d, prom
    finally:
        if prom:
            prom.stop()
        d.cleanup()


@needs_prometheus
def test_prometheus_when_scraping_daemon_sees_up_and_per_comm_rates(scraped):
    d, prom = scraped
    up = prom.wait_up(40, "up == 1")
    assert up[0]["metric"]["instance"] == d.addr, "scraped %r" % up[0]["metric"]
    rates = wait_for(lambda: promql_safe(prom.port, "sum by (comm) (rate(joule_group_energy_joules_total[30s]))"),
                     15, "per-comm energy rates")
    comms = {r["metric"].get("comm") for r in rates}
    assert "joule" in comms, "the daemon's own comm has no rate: %r" % sorted(c for c in comms if c)[:20]
    assert all(float(r["value"][1]) >= 0 for r in rates), "negative rate: counters went backwards"
    st = promql_safe(prom.port, "scrape_samples_scraped{job=\"joule\"}")
    assert st and float(st[0]["value"][1]) > 20, "too few samples scraped: %r" % st


@needs_prometheus
def test_dashboard_when_each_panel_query_runs_against_prometheus_it_parses_and_returns_data(scraped):
    d, prom = scraped
    dash = load_dashboard()
    # what Grafana puts in: the selected (here: every) value of each variable, a rate interval of 4 scrapes
    values = {"instance": d.addr.replace(".", "\\\\."), "job": "joule", "group_kind": ".*",
              "__rate_interval": "10s", "datasource": "prometheus"}
    exprs = [(p["title"], substitute(t["expr"], values)) for p in panels(dash) for t in p["targets"]]
    for _, e in exprs:
        assert "$" not in e, "a variable left in %r" % e
    prom.wait_up(60)
    for title, e in exprs:
        body = answer(prom.port, e)
        assert body.get("status") == "success", "panel %r: %s does not run: %r" % (title, e, body)
        # series need a few scrapes before a 10 s rate has two points
        wait_for(lambda: answer(prom.port, e).get("data", {}).get("result"), 30,
                 "data for panel %r: %s" % (title, e))


def test_shipped_rules_and_config_when_checked_by_promtool_pass():
    r = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, timeout=60)
    assert r.returncode == 0, "promtool check rules: %s" % (r.stdout + r.stderr).decode()
    tmp = tempfile.mkdtemp(prefix="joule-promcfg-")
    try:
        # the example names its rules file relative to itself
        shutil.copy(os.path.join(REPO, "dist/prometheus/prometheus.yml"), tmp)
        shutil.copy(RULES, tmp)
        r = subprocess.run(["promtool", "check", "config", os.path.join(tmp, "prometheus.yml")], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, "promtool check config: %s" % (r.stdout + r.stderr).decode()
    finally:
        shutil.rmtree(tmp)
