# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The fleet for real: three `joule daemon`s with their own host names, one Debian Prometheus scraping them
through file-based service discovery and writing to a second one by remote_write, and `joule fleet serve`
on top. Per-app energy over the fleet equals the sum of the daemons' own figures; a host that stops shows as
missing, with what it reported kept; Prometheus unreachable, slow or wrong is a 502/504, never a success."""
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest

from daemon_util import JOULE, REPO, Daemon, check_schema, metrics_text, response_schema, wait_for
from fleet_util import FleetServer
from prom_util import Prometheus, promql_safe

RUN = os.urandom(3).hex()
HOSTS = ["fleet-%s-%s" % (RUN, x) for x in "abc"]
APP = "flt%s" % RUN                       # the workload's comm: a link to dash named after this run
HOSTILE = 'q"{%s}\\=~.*' % RUN[:3]         # quotes, braces, a backslash and regex characters: 14 bytes, < 16
LEAD_S = 4  # how far a window reaches back before t0: up to 3 s of delay before the fleet evaluates it
UNIFIED = "/sys/fs/cgroup/unified"
UNIT = "flt%s.service" % RUN             # a systemd-shaped unit cgroup of this run: kind unit, with unit and slice
# a tenth of a second of CPU, then asleep: the unit's group exists on every daemon and costs the machine nothing
UNIT_PROC = "import time\nt = time.monotonic() + 0.1\nwhile time.monotonic() < t: pass\ntime.sleep(600)\n"


def write_targets(path, addrs):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump([{"targets": addrs, "labels": {"fleet": RUN}}], f)
    os.rename(tmp, path)  # file SD rereads a whole file, never a half-written one


def rmdir(path):
    """True once path is gone: a killed process leaves its cgroup a moment after wait() returns."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def in_parallel(*fns):
    """Run the starters at once (each waits for its own ready file or endpoint); the first failure is raised."""
    out, errs = [None] * len(fns), []

    def run(i):
        try:
            out[i] = fns[i]()
        except BaseException as e:  # noqa: B902 - handed to the caller
            errs.append(e)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out, errs


def ready(prom):
    """prom once its TSDB is open (it listens before that); stopped if it never gets there."""
    try:
        prom.wait_ready()
    except BaseException:
        prom.stop()
        raise
    return prom


class Fleet:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="joule-fleet-test-")
        self.daemons, self.proms, self.servers = [], [], []
        self.unit_proc, self.unit_root = None, None
        self.targets = os.path.join(self.tmp, "targets.json")
        write_targets(self.targets, [])
        # the receiver's address goes into the scraper's config, so it starts first; the daemons meanwhile
        started, errs = in_parallel(
            lambda: ready(Prometheus("global:\n  scrape_interval: 1s\n", args=["--web.enable-remote-write-receiver"])),
            *[(lambda h=h: Daemon("--source", "model", "--hostname", h)) for h in HOSTS])
        self.remote = started[0]
        self.daemons = [d for d in started[1:] if d]
        self.proms = [p for p in started[:1] if p]
        if errs:
            raise errs[0]
        self.by_host = dict(zip(HOSTS, self.daemons))
        write_targets(self.targets, [d.addr for d in self.daemons])
        self.prom = ready(Prometheus(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: joule\n    file_sd_configs:\n      - files: ['%s']\n"
            "        refresh_interval: 1s\n"
            "remote_write:\n  - url: %s/api/v1/write\n    queue_config: { batch_send_deadline: 1s }\n"
            % (self.targets, self.remote.url)))
        self.proms.append(self.prom)
        self.fleet = FleetServer(self.prom.url)
        self.servers.append(self.fleet)

    def run_workload(self):
        """The app (and one with a hostile name) burns CPU on this host, so each daemon sees it. A group
        series starts at zero and shows new energy only after two expositions (docs/DAEMON.md), so a
        primer of the same name first creates each group entry; once every daemon's entry has been
        scraped twice, the window begins (t0) and the app runs. The daemons' figure for the window is the
        growth of their own /apps total from t0 to the end; the fleet's is Prometheus' for the window."""
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        links = []
        for name in (APP, HOSTILE):
            links.append(os.path.join(bindir, name))
            os.symlink("/bin/dash", links[-1])
            subprocess.run([links[-1], "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"], check=True)
        q = 'count by (instance) (count_over_time(joule_group_energy_joules_total{group="%s",domain="cpu"}[1m]) >= 2)'
        wait_for(lambda: all(len(promql_safe(self.prom.port, q % n.replace("\\", "\\\\").replace('"', '\\"')) or [])
                             == 3 for n in (APP, HOSTILE)), 20, "both groups scraped twice on every daemon", step=0.2)
        # A quiet stretch before t0: the primers' last ticks are in (a busy machine delays ticks) and
        # nothing of either group changes while the window's start falls in it (see window()).
        self.settle(APP, HOSTILE, quiet=1.0)
        time.sleep(LEAD_S + 1)
        self.base = {n: [self.app_uj(d, n) for d in self.daemons] for n in (APP, HOSTILE)}
        self.mbase = {n: [self.series_uj(d, n) for d in self.daemons] for n in (APP, HOSTILE)}
        self.t0 = time.time()
        procs = [subprocess.Popen([link, "-c", "while :; do :; done"]) for link in links]
        time.sleep(1.5)
        for p in procs:
            p.kill()
            p.wait()
        self.settle(APP, HOSTILE)
        settled = time.time()
        # Prometheus holds a sample of each app's series from every daemon taken after the app's last tick.
        # Not `up`'s timestamp: a scrape that times out (1 s, on a busy machine) writes up=0 with a new
        # timestamp but no sample of the series, which then ends a tick short (the fleet 2-5 % low).
        ts = 'timestamp(joule_group_energy_joules_total{group="%s",domain="cpu"})'
        # fleet serve evaluates at its clock to the ms, so a sample taken just before the request is in its
        # window (it once truncated to the whole second, and a younger sample was left out: one tick short).
        wait_for(lambda: all((lambda r: r and len(r) == 3 and all(float(x["value"][1]) > settled for x in r))(
            promql_safe(self.prom.port, ts % n.replace("\\", "\\\\").replace('"', '\\"'))) for n in (APP, HOSTILE)),
            30, "a sample of both apps' series from every daemon after their last tick", step=0.2)

    def settle(self, *names, quiet=0.3):
        """Wait until every daemon's total of the apps stops changing (their last ticks are in)."""
        def totals():
            return [self.app_uj(d, n) for d in self.daemons for n in names]

        def same():
            a = totals()
            time.sleep(quiet)
            return a == totals()
        wait_for(same, 15, "the totals of %r to settle" % (names,))

    def own(self, name):
        """Each daemon's energy for the app since t0, from its own API (µJ)."""
        return [self.app_uj(d, name) - b for d, b in zip(self.daemons, self.base[name])]

    def window(self):
        """window=Ns reaching back before t0, into the quiet stretch. The fleet evaluates it at its own now,
        later than ours by the request's time: on a busy machine that was over a second, and a window whose
        start fell after t0 then missed the app's first ticks (the fleet 5 % short). LEAD_S covers that."""
        return "window=%ds" % int(time.time() - self.t0 + LEAD_S)

    def own_series(self, name):
        """Each daemon's growth of its own exposed group series since t0 (µJ): what a scraper can see."""
        return [self.series_uj(d, name) - b for d, b in zip(self.daemons, self.mbase[name])]

    @staticmethod
    def series_uj(d, name):
        lab = 'group="%s"' % name.replace("\\", "\\\\").replace('"', '\\"')
        return sum(round(float(ln.rsplit(" ", 1)[1]) * 1e6) for ln in metrics_text(d).splitlines()
                   if ln.startswith("joule_group_energy_joules_total{") and lab in ln)

    @staticmethod
    def app_uj(d, name):
        apps = d.get_json("/api/v1/apps?limit=1000")["apps"]
        return sum(a["energy_uj"] for a in apps if a["name"] == name)

    def start_unit(self):
        """A process in <run's subtree>/system.slice/UNIT of the cgroup v2 hierarchy, as systemd shapes a service."""
        if not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")):
            return
        self.unit_root = os.path.join(UNIFIED, "joule-fleet-%s" % RUN)
        d = os.path.join(self.unit_root, "system.slice", UNIT)
        os.makedirs(d)
        self.unit_proc = subprocess.Popen(["sh", "-c", 'echo $$ > "$1/cgroup.procs" && exec /usr/bin/python3 -c "$2"',
                                           "sh", d, UNIT_PROC])

    def stop_unit(self):
        if self.unit_proc:
            self.unit_proc.kill()
            self.unit_proc.wait()
        if self.unit_root:
            for sub in (os.path.join("system.slice", UNIT), "system.slice", ""):
                wait_for(lambda p=os.path.join(self.unit_root, sub): rmdir(p), 10, "%s removed" % sub)

    def cleanup(self):
        self.stop_unit()
        for x in self.servers + self.daemons:
            x.cleanup()
        for p in reversed(self.proms):  # the scraper first: it must not wait to flush to a receiver gone
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def fleet():
    f = Fleet()
    try:
        wait_for(lambda: (lambda r: r and len(r) == 3 and all(x["value"][1] == "1" for x in r))(
            promql_safe(f.prom.port, 'up{job="joule"}')), 30, "three targets up through file SD")
        f.start_unit()
        f.run_workload()
        yield f
    finally:
        f.cleanup()


def app_of(body, name):
    m = [a for a in body["apps"] if a["name"] == name]
    assert len(m) == 1, "app %s: %d entries in %r" % (name, len(m), [a["name"] for a in body["apps"]][:20])
    return m[0]


def close(a, b, rel=0.01):
    return abs(a - b) <= rel * max(abs(a), abs(b))


def test_fleet_apps_when_three_hosts_run_an_app_equals_the_sum_of_the_daemons(fleet):
    own = fleet.own(APP)
    body = fleet.fleet.get_json("/api/v1/apps?%s&limit=1000&breakdown=true" % fleet.window())
    app = app_of(body, APP)
    assert all(x > 0 for x in own), "a daemon saw none of the app: %r" % own
    assert close(app["energy_uj"], sum(own)), "fleet %d uJ, daemons %r (sum %d); fleet per host %r; series %r" % (
        app["energy_uj"], own, sum(own), {h["host"][-1]: h["energy_uj"] for h in app["hosts"]}, fleet.own_series(APP))
    assert app["energy_uj"] == app["cpu_energy_uj"] + app["memory_energy_uj"], "energy is not cpu + memory: %r" % app
    assert app["carbon_ug"] == app["carbon_operational_ug"] + app["carbon_embodied_ug"], "carbon parts: %r" % app
    assert app["carbon_operational_ug"] > 0 and app["kind"] == "comm", "no operational carbon or kind: %r" % app
    per_host = {h["host"]: h["energy_uj"] for h in app["hosts"]}
    assert sorted(per_host) == sorted(HOSTS), "per-host breakdown names %r" % per_host
    for h, mine in zip(HOSTS, own):
        assert close(per_host[h], mine), "%s: fleet %d, daemon %d" % (h, per_host[h], mine)
    assert sorted(h["host"] for h in body["hosts"] if h["up"]) == sorted(HOSTS), "hosts up: %r" % body["hosts"]
    assert body["missing_hosts"] == [], "missing hosts while all are up: %r" % body["missing_hosts"]


IDENTITY_KEYS = ("namespace", "pod", "pod_uid", "container_name", "container_id", "runtime", "unit", "slice", "job_id",
                 "job_user")


def test_fleet_apps_when_a_unit_runs_on_every_host_carry_the_daemons_kind_and_names(fleet):
    if not fleet.unit_proc:
        pytest.skip("no cgroup v2 hierarchy at %s" % UNIFIED)
    own = [wait_for(lambda d=d: [a for a in d.get_json("/api/v1/apps?limit=1000")["apps"] if a["name"] == UNIT], 15,
                    "the unit in a daemon's /api/v1/apps")[0] for d in fleet.daemons]
    names = [{k: a[k] for k in IDENTITY_KEYS if k in a} for a in own]
    assert all(n == names[0] for n in names) and names[0].get("unit") == UNIT, "the daemons' names: %r" % names
    app = app_of(fleet.fleet.get_json("/api/v1/apps?window=60s&limit=1000"), UNIT)
    assert app["kind"] == own[0]["kind"] == "unit", "kind: fleet %r, daemon %r" % (app["kind"], own[0]["kind"])
    assert {k: app[k] for k in IDENTITY_KEYS if k in app} == names[0], "names: fleet %r, daemons %r" % (app, names[0])
    assert app_of(fleet.fleet.get_json("/api/v1/apps?window=60s&limit=1000"), APP)["kind"] == "comm", "the comm app"


def test_fleet_energy_when_asked_per_step_matches_the_daemons_window_figures(fleet):
    own = sum(fleet.own(APP)) / 1e6
    w = fleet.window()
    one = fleet.fleet.get_json("/api/v1/energy?group=%s&%s&step=%s" % (APP, w, w.split("=")[1]))
    assert close(one["totals"]["energy_consumed"], own), "fleet %r J, daemons %r J" % (one["totals"], own)
    n = int(w.split("=")[1][:-1])
    body = fleet.fleet.get_json("/api/v1/energy?group=%s&window=%ds&step=%ds&breakdown=true" % (APP, 2 * n, n))
    assert len(body["time_points"]) == 2 and len(body["energy_consumed"]) == 2, "2 steps: %r" % body
    assert close(sum(body["energy_consumed"]), body["totals"]["energy_consumed"], 1e-9), "steps do not add up"
    # twice the window reaches back into the primers' time (a late tick of theirs may be in it): at least the app
    assert body["totals"]["energy_consumed"] >= own * 0.99, "2 steps: fleet %r J, daemons %r J" % (body["totals"], own)
    assert body["time_points"] == sorted(body["time_points"]), "time points out of order"
    assert close(sum(body["energy_consumed"]), body["totals"]["energy_consumed"], 1e-9), "steps do not add to the total"
    hosts = {h["host"]: h["totals"]["energy_consumed"] for h in body["hosts_breakdown"]}
    assert sorted(hosts) == sorted(HOSTS), "per-host breakdown names %r" % hosts


def test_fleet_group_when_named_with_quotes_braces_and_regex_characters_matches_only_itself(fleet):
    own = sum(fleet.own(HOSTILE))
    w = fleet.window()
    body = fleet.fleet.get_json("/api/v1/energy?group=%s&%s&step=%s" % (urllib.parse.quote(HOSTILE, safe=""), w, w.split("=")[1]))
    assert own > 0, "the daemons did not see the hostile name"
    assert close(body["totals"]["energy_consumed"] * 1e6, own), "hostile name: fleet %r J, daemons %d uJ" % (body["totals"], own)
    for probe in (".*", APP + "|.*", 'x"} or vector(1) or {a="'):
        b = fleet.fleet.get_json("/api/v1/energy?group=%s&%s&step=%s" % (urllib.parse.quote(probe, safe=""), w, w.split("=")[1]))
        assert b["totals"]["energy_consumed"] == 0, "group %r matched something: %r" % (probe, b["totals"])


def test_fleet_carmen_shapes_when_asked_carry_the_seed_keys(fleet):
    names = fleet.fleet.get_json("/api/apps/?paas=production")
    assert APP in names["apps"] and isinstance(names["namespaces"], list), "Carmen /api/apps: %r" % names
    w = fleet.window().split("=")[1]
    run = fleet.fleet.get_json("/api/apps/run-engine/?sampling=%s&window=%s&app=%s&emission_breakdown=false" % (w, w, APP))
    assert isinstance(run, list) and len(run) == 1, "run-engine is one object per cluster: %r" % run
    r = run[0]
    for k in ("energy_consumed", "carbon_operational", "carbon_embodied", "carbon_emitted", "time_points",
              "cpu_energy", "memory_energy"):
        assert len(r[k]) == 1, "%s: %r" % (k, r[k])
    assert close(r["total_energy_consumed"] * 3.6e6 * 1e6, sum(fleet.own(APP))), "kWh %r vs the daemons' uJ" % r
    assert close(r["total_carbon_emitted"], r["total_carbon_operational"] + r["total_carbon_embodied"], 1e-9), "totals"
    assert all("T" in t for t in r["time_points"]), "time points are ISO times: %r" % r["time_points"]
    step_h = int(w.rstrip("s")) / 3600
    assert close(r["cpu_power"][0] * step_h, r["cpu_energy"][0], 1e-9), "cpu_power is not the step's kWh per hour: %r" % r
    for k in ("requested_cpu", "requested_memory", "cpu_util", "storage_capacity", "network_io"):
        assert r[k] == [], "%s: joule cannot know it, so it is empty: %r" % (k, r[k])
    per = fleet.fleet.get_json("/api/apps/run-engine?sampling=%s&window=%s&emission_breakdown=true" % (w, w))
    assert APP in [x["name"] for x in per], "breakdown per app lacks the app: %r" % [x["name"] for x in per][:20]


def test_fleet_nodes_csv_when_asked_for_the_last_three_gives_three_rows_per_host(fleet):
    st, ctype, body = fleet.fleet.get("/nodes.csv?limit=3&step=5s")
    assert st == 200 and ctype.startswith("text/csv"), "nodes.csv: %d %s %r" % (st, ctype, body[:200])
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    hosts = [r["host"] for r in rows]
    for h in HOSTS:
        # at most one a step; fewer when a scrape failed (a loaded host): never none
        assert 1 <= hosts.count(h) <= 3, "%s: %d rows in %r" % (h, hosts.count(h), body[:600])
    assert all(float(r["wattage"]) >= 0 and r["observation_time"].endswith("Z") for r in rows), "rows: %r" % rows[:3]


def test_fleet_stream_when_followed_sends_the_header_then_rows(fleet):
    host, port = fleet.fleet.addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=20)
    try:
        s.sendall(b"GET /stream.csv?step=2s HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        end = time.monotonic() + 20
        while data.count(b"fleet-%s" % RUN.encode()) < 3 and time.monotonic() < end:
            data += s.recv(65536)
    finally:
        s.close()
    assert b"200 OK" in data.split(b"\r\n")[0], "stream status: %r" % data[:100]
    assert b"instance,host,collection_time" in data, "stream without the CSV header: %r" % data[:400]
    assert data.count(b"fleet-%s" % RUN.encode()) >= 3, "stream rows: %r" % data[:800]


def test_fleet_query_when_run_on_the_terminal_answers_as_serve_does(fleet):
    r = subprocess.run([JOULE, "fleet", "query", "--prometheus", fleet.prom.url, "/api/v1/hosts"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "fleet query: %s" % r.stderr
    assert sorted(h["host"] for h in json.loads(r.stdout)["hosts"]) == sorted(HOSTS), "hosts: %s" % r.stdout


def test_fleet_over_remote_write_when_queried_gives_the_same_app_energy(fleet):
    want = sum(fleet.own(APP))

    def remote():
        # one group's query (cheap for a loaded Prometheus); the receiver lags the scraper by a batch or two
        w = fleet.window()
        r = subprocess.run([JOULE, "fleet", "query", "--prometheus", fleet.remote.url, "--timeout", "30s",
                            "/api/v1/energy?group=%s&%s&step=%s" % (APP, w, w.split("=")[1])],
                           capture_output=True, text=True, timeout=60)
        if r.returncode:
            return None
        got = json.loads(r.stdout)["totals"]["energy_consumed"] * 1e6
        return close(got, want) and got
    wait_for(remote, 60, "the app's energy in the remote-write receiver", step=0.5)


def test_fleet_when_prometheus_is_unreachable_answers_502_with_the_reason(fleet):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # bound, never listening: connections are refused
        r = subprocess.run([JOULE, "fleet", "query", "--prometheus", "http://127.0.0.1:%d" % dead, "/api/v1/apps"],
                           capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == "", "unreachable: rc %d, out %r" % (r.returncode, r.stdout)
    assert "unreachable" in r.stderr and "502" in r.stderr, "unreachable: %s" % r.stderr


def test_fleet_when_prometheus_is_slow_answers_504_in_the_error_shape(fleet):
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts (the kernel does), never answers: a Prometheus that hangs
    srv = FleetServer("http://127.0.0.1:%d" % hole.getsockname()[1], "--timeout", "500ms")
    try:
        t0 = time.monotonic()
        st, ctype, body = srv.get("/api/v1/apps")
        err = json.loads(body)["error"]
        assert st == 504 and err["code"] == 504 and ctype.startswith("application/json"), "slow: %d %r" % (st, body)
        assert "in time" in err["message"], "slow: %r" % err
        assert time.monotonic() - t0 < 10, "the timeout did not hold"
    finally:
        srv.cleanup()
        hole.close()


def test_fleet_when_prometheus_answers_an_error_passes_its_message_as_502(fleet):
    srv = FleetServer(fleet.prom.url + "/no-such-prefix")  # the real Prometheus answers 404 there
    try:
        st, _, body = srv.get("/api/v1/energy?window=1h&step=1m")
        err = json.loads(body)["error"]
        assert st == 502 and err["code"] == 502, "upstream error: %d %r" % (st, body)
        assert "404" in err["message"] and "page not found" in err["message"], "upstream message lost: %r" % err
    finally:
        srv.cleanup()


def test_fleet_when_parameters_are_out_of_the_daemons_limits_answers_400(fleet):
    for q in ("/api/v1/energy?window=8d", "/api/v1/energy?window=1h&step=7m", "/api/v1/energy?window=1000m&step=1s",
              "/api/v1/apps?limit=0", "/api/v1/apps?bogus=1", "/nodes.csv?limit=1001", "/api/v1/energy?group="):
        st, _, body = fleet.fleet.get(q)
        assert st == 400 and json.loads(body)["error"]["code"] == 400, "%s: %d %r" % (q, st, body)
    st, _, _ = fleet.fleet.get("/api/v1/nothing")
    assert st == 404, "unknown path: %d" % st


def test_fleet_host_when_its_daemon_stops_shows_missing_with_its_energy_kept(fleet):
    gone = HOSTS[2]
    before = app_of(fleet.fleet.get_json("/api/v1/apps?%s&limit=1000&breakdown=true" % fleet.window()), APP)
    fleet.by_host[gone].stop()
    body = wait_for(lambda: (lambda b: b if gone in b["missing_hosts"] else None)(
        fleet.fleet.get_json("/api/v1/apps?%s&limit=1000&breakdown=true" % fleet.window())), 30, "the stopped host missing",
        step=0.5)
    assert [h["up"] for h in body["hosts"] if h["host"] == gone] == [False], "up of the stopped host: %r" % body["hosts"]
    app = app_of(body, APP)
    kept = {h["host"]: h["energy_uj"] for h in app["hosts"]}
    was = {h["host"]: h["energy_uj"] for h in before["hosts"]}
    assert kept.get(gone, 0) > 0, "the stopped host's energy became zero: %r" % kept
    assert close(kept[gone], was[gone]), "the stopped host's energy changed: %d -> %d" % (was[gone], kept[gone])
    assert close(app["energy_uj"], before["energy_uj"]), "the fleet total changed when a host stopped"


def test_fleet_openapi_when_fetched_is_the_shipped_document_and_every_path_answers(fleet):
    spec = fleet.fleet.get_json("/api/v1/openapi.json")
    with open(os.path.join(REPO, "user/fleet/openapi.json")) as f:
        assert spec == json.load(f), "the served document is not user/fleet/openapi.json"
    for path, op in spec["paths"].items():
        if path == "/stream.csv":
            continue  # it streams until the client leaves (test_fleet_stream_when_followed_...)
        st, ctype, body = fleet.fleet.get(path + ("?window=10s&step=5s" if path.startswith("/api/v1/energy") else ""))
        assert st == 200, "%s (in openapi.json): %d %r" % (path, st, body[:200])
        if "application/json" in op["get"]["responses"]["200"].get("content", {}):
            errs = check_schema(json.loads(body), response_schema(spec, path), spec)
            assert not errs, "%s does not answer its schema: %s" % (path, errs[:5])


def test_fleet_shipped_prometheus_files_when_checked_by_promtool_pass():
    d = os.path.join(REPO, "dist/prometheus")
    tmp = tempfile.mkdtemp(prefix="joule-promfleet-")
    try:
        for f in ("fleet.yml", "fleet.rules.yml", "targets.json"):
            shutil.copy(os.path.join(d, f), tmp)
        shutil.copy(os.path.join(d, "joule.rules.yml"), tmp)  # fleet.yml loads both rule files
        r = subprocess.run(["promtool", "check", "rules", os.path.join(tmp, "fleet.rules.yml")], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, "promtool check rules: %s" % (r.stdout + r.stderr).decode()
        r = subprocess.run(["promtool", "check", "config", os.path.join(tmp, "fleet.yml")], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, "promtool check config: %s" % (r.stdout + r.stderr).decode()
    finally:
        shutil.rmtree(tmp)
