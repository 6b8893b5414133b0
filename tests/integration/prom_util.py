# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real Prometheus (Debian's) for the tests: one launcher on a free port with its own directory, strict
PromQL queries for figures and safe ones for polling."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import pytest

from daemon_util import end_process, log_text, wait_for


needs_prometheus = pytest.mark.skipif(not shutil.which("prometheus"), reason="Debian's prometheus is not installed")


def scrape_job(target, interval="1s", extra=""):
    """A prometheus.yml with one job named joule scraping target; extra lines go into the job (indented 4)."""
    return ("global:\n  scrape_interval: %s\n  evaluation_interval: %s\n"
            "scrape_configs:\n  - job_name: joule\n%s    static_configs:\n      - targets: ['%s']\n"
            % (interval, interval, extra, target))


class Logged:
    """A Prometheus-family server (prometheus, prometheus-pushgateway) on 127.0.0.1:0: its bound port is read
    from its own "Listening on" log line, so two test runs at once never race for a port."""

    def __init__(self, argv, log_path, timeout=60):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None

        def listening():
            assert self.proc.poll() is None, "%s exited: %s" % (argv[0], self.output()[-2000:])
            m = re.search(r'msg="Listening on" address=127\.0\.0\.1:(\d+)', self.output())
            return int(m.group(1)) if m else None
        try:
            self.port = wait_for(listening, timeout, "%s listening" % argv[0])
        except BaseException:
            self.stop()
            raise

    def output(self):
        return log_text(self.log, self.log_path)

    def stop(self):
        end_process(self.proc)
        self.log.close()


class Prometheus(Logged):
    """prometheus with config text cfg (and rule files), data and log in a private directory; stop() ends it
    and removes the directory. Tests that start one are marked needs_prometheus."""

    def __init__(self, cfg, rules=(), args=()):
        self.dir = tempfile.mkdtemp(prefix="joule-prom-")
        if rules:
            cfg = cfg.replace("scrape_configs:", "rule_files:\n%sscrape_configs:"
                              % "".join("  - %s\n" % r for r in rules), 1)
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(cfg)
        try:
            super().__init__(["prometheus", "--config.file=" + self.config,
                              "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                              "--web.listen-address=127.0.0.1:0", *args], os.path.join(self.dir, "prometheus.log"))
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.url = "http://127.0.0.1:%d" % self.port

    def wait_ready(self, timeout=60):
        """Prometheus listens before its TSDB is open and answers 503 until then: poll /-/ready."""
        def ready():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=10) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(ready, timeout, "Prometheus ready")

    def wait_up(self, timeout=60, what="Prometheus scraping the daemon"):
        """The up{job="joule"} result once its value is 1 (polling: Prometheus starts, then scrapes)."""
        def up():
            assert self.proc.poll() is None, "prometheus exited: %s" % self.output()[-2000:]
            r = promql_safe(self.port, 'up{job="joule"}')
            return r if r and r[0]["value"][1] == "1" else None
        return wait_for(up, timeout, what)

    def stop(self):
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def answer(port, q):
    """The whole answer to an instant query, also when Prometheus refuses it (400 with its parse error in the
    body); {} while it is not listening yet."""
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except ValueError:
            return {"status": "http %d" % e.code}
    except OSError:
        return {}


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
