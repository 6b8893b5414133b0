# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""dist/grafana/joule.json: every panel's PromQL, with the dashboard's variables substituted as Grafana would,
parses and returns data from a real Prometheus (Debian's) scraping the real daemon. Grafana itself is not
packaged here, so the dashboard's own rendering is not exercised: only its queries and its structure."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request

import pytest

from daemon_util import REPO, Daemon, free_port, wait_for

DASHBOARD = os.path.join(REPO, "dist/grafana/joule.json")


def load():
    with open(DASHBOARD) as f:
        return json.load(f)


def panels(d):
    for p in d["panels"]:
        yield p
        for q in p.get("panels", []):  # collapsed rows hold their panels
            yield q


def query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400 with Prometheus' parse error in the body
        try:
            return json.load(e)
        except ValueError:
            return {"status": "http %d" % e.code}
    except OSError:  # not listening yet
        return {}


def substitute(expr, values):
    # longest names first, so $instance is not cut by a shorter variable's name
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${%s}" % name, values[name]).replace("$" + name, values[name])
    return expr


def test_dashboard_when_loaded_has_unique_ids_a_datasource_variable_and_queries():
    d = load()
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids repeat: %r" % ids
    names = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "instance", "job", "group_kind"} <= names, "variables: %r" % names
    titles = {p["title"] for p in panels(d)}
    for want in ("Host power", "Power by group", "Power by process (drill-down)", "Carbon rate",
                 "Grid intensity in use", "Top processes now", "joule's own overhead"):
        assert want in titles, "no panel %r" % want
    for p in panels(d):
        assert p.get("targets"), "panel %r has no query" % p["title"]


def test_dashboard_when_each_panel_query_runs_against_prometheus_it_parses_and_returns_data():
    if not shutil.which("prometheus"):
        pytest.skip("Debian's prometheus is not installed")
    d = Daemon("--source", "model", "--top-n", "5")
    tmp = tempfile.mkdtemp(prefix="joule-dash-")
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n"
                "scrape_configs:\n  - job_name: joule\n    static_configs:\n      - targets: ['%s']\n" % d.addr)
    log = open(os.path.join(tmp, "prometheus.log"), "wb")
    prom = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                             "--web.listen-address=127.0.0.1:%d" % port], stdout=log, stderr=subprocess.STDOUT)
    try:
        dash = load()
        # what Grafana puts in: the selected (here: every) value of each variable, a rate interval of 4 scrapes
        values = {"instance": d.addr.replace(".", "\\\\."), "job": "joule", "group_kind": ".*",
                  "__rate_interval": "10s", "datasource": "prometheus"}
        exprs = [(p["title"], substitute(t["expr"], values)) for p in panels(dash) for t in p["targets"]]
        for _, e in exprs:
            assert "$" not in e, "a variable left in %r" % e
        wait_for(lambda: query(port, 'up{job="joule"} == 1').get("data", {}).get("result"), 60,
                 "Prometheus scraping the daemon")
        for title, e in exprs:
            body = query(port, e)
            assert body.get("status") == "success", "panel %r: %s does not run: %r" % (title, e, body)
            # series need a few scrapes before a 10 s rate has two points
            wait_for(lambda: query(port, e).get("data", {}).get("result"), 30,
                     "data for panel %r: %s" % (title, e))
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        log.close()
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
