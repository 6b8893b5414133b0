# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real Prometheus (Debian's) scrapes the real daemon; the shipped rules and example config pass promtool."""
import os
import shutil
import subprocess
import tempfile

from prom_util import promql_safe
from daemon_util import REPO, Daemon, free_port, wait_for




def test_prometheus_when_scraping_daemon_sees_up_and_per_comm_rates():
    d = Daemon("--source", "model", "--top-n", "5")
    tmp = tempfile.mkdtemp(prefix="joule-prom-")
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files:\n  - %s\n"
                "scrape_configs:\n  - job_name: joule\n    static_configs:\n      - targets: ['%s']\n"
                % (os.path.join(REPO, "dist/prometheus/joule.rules.yml"), d.addr))
    log = open(os.path.join(tmp, "prometheus.log"), "wb")
    prom = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                             "--web.listen-address=127.0.0.1:%d" % port], stdout=log, stderr=subprocess.STDOUT)
    try:
        up = wait_for(lambda: (lambda r: r if r and r[0]["value"][1] == "1" else None)(
            promql_safe(port, 'up{job="joule"}')), 40, "up == 1")
        assert up[0]["metric"]["instance"] == d.addr, "scraped %r" % up[0]["metric"]
        rates = wait_for(lambda: promql_safe(port, "sum by (comm) (rate(joule_group_energy_joules_total[30s]))"), 15,
                         "per-comm energy rates")
        comms = {r["metric"].get("comm") for r in rates}
        assert "joule" in comms, "the daemon's own comm has no rate: %r" % sorted(c for c in comms if c)[:20]
        assert all(float(r["value"][1]) >= 0 for r in rates), "negative rate: counters went backwards"
        st = promql_safe(port, "scrape_samples_scraped{job=\"joule\"}")
        assert st and float(st[0]["value"][1]) > 20, "too few samples scraped: %r" % st
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        log.close()
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_shipped_rules_and_config_when_checked_by_promtool_pass():
    rules = os.path.join(REPO, "dist/prometheus/joule.rules.yml")
    r = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, timeout=60)
    assert r.returncode == 0, "promtool check rules: %s" % (r.stdout + r.stderr).decode()
    tmp = tempfile.mkdtemp(prefix="joule-promcfg-")
    try:
        # the example names its rules file relative to itself
        shutil.copy(os.path.join(REPO, "dist/prometheus/prometheus.yml"), tmp)
        shutil.copy(rules, tmp)
        r = subprocess.run(["promtool", "check", "config", os.path.join(tmp, "prometheus.yml")], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, "promtool check config: %s" % (r.stdout + r.stderr).decode()
    finally:
        shutil.rmtree(tmp)
