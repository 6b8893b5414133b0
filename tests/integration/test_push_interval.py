# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""joule run --push-interval: the totals so far reach a real prometheus-pushgateway while the command runs."""
import json
import shutil
import subprocess
import uuid

import pytest

from conftest import joule, skip_unless_root
from test_reports import Logged

PY = "/usr/bin/python3"


@pytest.mark.root
@pytest.mark.skipif(not shutil.which("prometheus-pushgateway"), reason="prometheus-pushgateway missing")
def test_run_push_interval_when_command_runs_pushes_growing_totals_then_the_exit(tmp_path):
    skip_unless_root()
    pg = Logged(["prometheus-pushgateway", "--web.listen-address=127.0.0.1:0",
                 "--persistence.file=" + str(tmp_path / "pg.data")], str(tmp_path / "pg.log"))
    job = "push-interval-" + uuid.uuid4().hex[:8]
    url = "http://127.0.0.1:%d" % pg.port
    # the command itself watches the gateway: what it sees was pushed while it ran
    watcher = """
import json, sys, time, urllib.request
url, job = sys.argv[1], sys.argv[2]
seen, exit_seen = [], False
deadline = time.monotonic() + 30
while len(set(seen)) < 2 and time.monotonic() < deadline:
    time.sleep(0.2)
    for line in urllib.request.urlopen(url + "/metrics", timeout=5).read().decode().splitlines():
        if 'job="%s"' % job in line and line.startswith("joule_job_duration_seconds{"):
            seen.append(float(line.split()[-1]))
        if 'job="%s"' % job in line and line.startswith("joule_job_exit_status{"):
            exit_seen = True
print(json.dumps({"seen": seen, "exit_seen": exit_seen}))
"""
    try:
        r = joule("run", "--push", url, "--push-interval", "1s", "--job", job, "-o", str(tmp_path / "run.json"),
                  "--json", "--", PY, "-c", watcher, url, job, timeout=120)
        assert r.returncode == 0, "run failed: %s" % r.stderr[-2000:]
        w = json.loads(r.stdout.strip().splitlines()[-1])
        values = sorted(set(w["seen"]))
        assert len(values) >= 2, "fewer than two pushes seen while the command ran: %r" % w["seen"]
        assert w["seen"] == sorted(w["seen"]), "pushed durations went down: %r" % w["seen"]
        assert not w["exit_seen"], "an exit status was pushed while the command still ran"
        final = subprocess.run(["curl", "-s", url + "/metrics"], capture_output=True, text=True, timeout=10).stdout
        run = json.loads((tmp_path / "run.json").read_text())
        cpu = [float(l.split()[-1]) for l in final.splitlines()
               if l.startswith("joule_job_cpu_seconds{") and 'job="%s"' % job in l]
        assert cpu == [run["total"]["cpu_ns"] / 1e9], "the last push is not the run's total: %r" % cpu
        assert any(l.startswith("joule_job_exit_status{") and 'job="%s"' % job in l for l in final.splitlines()), \
            "the push at the end has no exit status"
    finally:
        pg.stop()


@pytest.mark.parametrize("args,why", [
    (["--push", "http://127.0.0.1:9", "--push-interval", "500ms"], "from 1s"),
    (["--push-interval", "10s"], "go with --push"),
])
def test_run_push_interval_when_bad_is_a_usage_error_before_the_command(tmp_path, args, why):
    marker = tmp_path / "ran"
    r = joule("run", *args, "--", "touch", str(marker))
    assert r.returncode == 2, "exit %d: %s" % (r.returncode, r.stderr)
    assert why in r.stderr, "message does not say why: %s" % r.stderr
    assert not marker.exists(), "the command ran although the options were bad"
