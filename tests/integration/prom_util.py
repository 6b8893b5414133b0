# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""PromQL against a Prometheus the test started: strict queries for figures, safe ones for polling."""
import json
import urllib.parse
import urllib.request


def promql(port, q, **params):
    """The result of an instant query; a failed query fails the test."""
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode(dict(query=q, **params)))
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body.get("status") == "success", "query %s: %r" % (q, body)
    return body["data"]["result"]


def scalar(port, q):
    r = promql(port, q)
    assert len(r) == 1, "%s: expected one result, got %r" % (q, r)
    return float(r[0]["value"][1])


def promql_safe(port, q):
    """The result, or None while Prometheus is not there yet or answers an error (for wait_for)."""
    try:
        return promql(port, q)
    except (OSError, AssertionError):
        return None


def scalar_safe(port, q):
    r = promql_safe(port, q)
    return float(r[0]["value"][1]) if r else 0.0
