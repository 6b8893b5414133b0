# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""dist/grafana/joule.json: its structure here; every panel's PromQL, with the dashboard's variables
substituted as Grafana would, runs against a real Prometheus in test_daemon_prometheus.py (one Prometheus
for both). Grafana itself is not packaged here, so the dashboard's own rendering is not exercised."""
import json
import os

from daemon_util import REPO

DASHBOARD = os.path.join(REPO, "dist/grafana/joule.json")


def load():
    with open(DASHBOARD) as f:
        return json.load(f)


def panels(d):
    for p in d["panels"]:
        yield p
        for q in p.get("panels", []):  # collapsed rows hold their panels
            yield q


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
