# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What a user reads from the real daemon: /metrics in both formats (promtool-clean), the landing page, carbon in
two parts that agree with energy x intensity, and live process counts that count the living."""
import os
import shutil
import subprocess

import pytest

from daemon_util import Daemon, metrics_text, wait_for

INTENSITY = 400.0  # g/kWh, fixed so the operational figure can be checked


@pytest.fixture(scope="module")
def daemon():
    d = Daemon("--source", "model", "--intensity", str(INTENSITY), "--top-n", "3")
    try:
        d.wait_ready()
        yield d
    finally:
        d.cleanup()


def test_metrics_when_scraped_live_passes_promtool_check_metrics(daemon):
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed")
    text = metrics_text(daemon)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        "promtool check metrics: %s" % (r.stdout + r.stderr).decode()


def test_metrics_when_accept_asks_openmetrics_answers_openmetrics_with_eof(daemon):
    st, hdr, body = daemon.get("/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"})
    text = body.decode()
    assert st == 200, "status %d" % st
    assert hdr["content-type"].startswith("application/openmetrics-text; version=1.0.0"), hdr["content-type"]
    assert text.endswith("# EOF\n"), "no # EOF at the end: %r" % text[-60:]
    assert "# TYPE joule_group_energy_joules counter\n# UNIT joule_group_energy_joules joules\n" in text, \
        "counter family not named without _total, or no unit"
    plain = metrics_text(daemon)
    assert "# EOF" not in plain and "# TYPE joule_group_energy_joules_total counter" in plain, \
        "text 0.0.4 by default"


def test_metrics_when_scraped_exports_standard_process_metrics_and_no_max_bucket(daemon):
    text = metrics_text(daemon)
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                 "process_start_time_seconds"):
        assert "\n%s " % name in text, "%s missing" % name
    assert "18446744073" not in text, "a UINT64_MAX histogram bound is exported"
    assert 'le="+Inf"' in text, "the jitter histogram has no +Inf bucket"


def test_landing_page_when_opened_is_html_with_links(daemon):
    st, hdr, body = daemon.get("/")
    assert st == 200, "GET / status %d" % st
    assert hdr["content-type"].startswith("text/html"), hdr["content-type"]
    for link in ("/metrics", "/api/v1/host", "/api/v1/openapi.json"):
        assert ('href="%s"' % link).encode() in body, "no link to %s" % link


def test_host_carbon_when_read_has_operational_equal_to_energy_times_intensity(daemon):
    h = daemon.get_json("/api/v1/host")
    t = h["totals"]
    expect = t["energy_uj"] * INTENSITY * h["intensity"]["pue"] / 3.6e6
    # each sample is rounded to the µg once: the sum may differ by at most one per sample
    assert abs(t["carbon_operational_ug"] - expect) <= h["samples"] + 1, \
        "operational %d µg, energy x intensity %.1f µg" % (t["carbon_operational_ug"], expect)
    assert t["carbon_ug"] == t["carbon_operational_ug"] + t["carbon_embodied_ug"], "carbon is not the two parts"
    idle = h["idle"]
    assert idle["carbon_ug"] == idle["carbon_operational_ug"] + idle["carbon_embodied_ug"], "idle parts"


def test_host_embodied_when_summed_over_apps_idle_other_is_the_host_figure(daemon):
    """Every µg of embodied carbon is in exactly one place (idle's share in idle's embodied figure)."""
    def consistent():
        h1 = daemon.get_json("/api/v1/host")
        apps = daemon.get_json("/api/v1/apps?limit=1000")
        h2 = daemon.get_json("/api/v1/host")
        return (h2, apps) if h1["samples"] == h2["samples"] and apps["matched"] <= 1000 else None

    h, apps = wait_for(consistent, 20, "/host and /apps read within one tick")
    parts = sum(a["carbon_embodied_ug"] for a in apps["apps"]) + sum(
        h[b]["carbon_embodied_ug"] for b in ("idle", "overflow", "other"))
    assert h["totals"]["carbon_embodied_ug"] > 0, "no embodied carbon by default"
    assert parts == h["totals"]["carbon_embodied_ug"], \
        "apps + idle + overflow + other embodied %d µg, host %d µg" % (parts, h["totals"]["carbon_embodied_ug"])
    ops = sum(a["carbon_operational_ug"] for a in apps["apps"]) + sum(
        h[b]["carbon_operational_ug"] for b in ("idle", "overflow", "other"))
    assert ops == h["totals"]["carbon_operational_ug"], "operational parts %d µg, host %d µg" % (
        ops, h["totals"]["carbon_operational_ug"])


def test_energy_api_when_windowed_operational_matches_energy_times_intensity(daemon):
    body = daemon.get_json("/api/v1/energy?window=1m&step=1m")
    tot = body["totals"]
    expect = tot["energy_consumed"] * INTENSITY / 3.6e6  # J x g/kWh / (J/kWh) = g
    assert tot["energy_consumed"] > 0, "no energy in the window"
    assert abs(tot["carbon_operational"] - expect) <= 1e-6 * 600 + 1e-9 * expect, \
        "carbon_operational %.9f g, energy x intensity %.9f g" % (tot["carbon_operational"], expect)


def test_apps_when_processes_exit_counts_only_the_living(daemon, tmp_path):
    name = "jlive%s" % os.urandom(2).hex()  # this run's own comm: another run at once has its own
    link = tmp_path / name
    os.symlink("/usr/bin/sleep", link)
    alive = [subprocess.Popen([str(link), "30"]) for _ in range(3)]
    try:
        for _ in range(20):
            subprocess.run([str(link), "0.01"], check=True)

        def counts():
            a = {x["name"]: x for x in daemon.get_json("/api/v1/apps?limit=1000")["apps"]}.get(name)
            seen.append(a)
            # exit records come a tick after the exit: poll until the short ones are counted out
            return a if a and a["processes"] >= 23 and a["live_processes"] == 3 else None

        seen = []
        try:
            wait_for(counts, 20, "23 %s processes seen, 3 of them live" % name)
        except AssertionError:
            raise AssertionError("/apps for %s never settled to 3 live: last %r" % (name, seen[-1:]))
    finally:
        for p in alive:
            p.kill()
            p.wait()
