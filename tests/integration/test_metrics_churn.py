# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Series that sum under churn: ~1,000 short real processes across 50 names, some in systemd units and
containers (real cgroups), a fake RAPL tree, the real daemon and a real Prometheus (Debian's) scraping it
at 1 s. sum(increase()) of the group family with idle and other equals the daemon's own host energy, per
group it equals the daemon's own group totals, and no series of the summing families ever resets."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from prom_util import Prometheus, needs_prometheus, promql, promql_safe, scalar, scalar_safe, scrape_job
from daemon_util import Daemon, wait_for

NAMES = 50
PROCS = 1000
CGROUP2 = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified/") else "/sys/fs/cgroup"
# Names of this run only: two test runs at once (two clones) must not share a unit, a container
# cgroup or a comm, or each daemon would count the other run's burners in its groups.
RUN = os.urandom(2).hex()
UNITS = ["jchurn-%s-%s.service" % (RUN, x) for x in "abc"]
CONTAINERS = ["%s%060x" % (RUN, 0xC0FFEE00 + i) for i in range(2)]
PREFIX = "j%s" % RUN  # comm "j<run>NN": 7 characters of the kernel's 15



def cgroup_of(i):
    """Where process name i runs: names 40-44 in units, 45-49 in containers, the rest wherever the test is."""
    if 40 <= i < 45:
        return os.path.join(CGROUP2, UNITS[i % len(UNITS)])
    if 45 <= i < 50:
        return os.path.join(CGROUP2, "docker-%s.scope" % CONTAINERS[i % len(CONTAINERS)])
    return None


def group_of_comm(i):
    return "%s%02d" % (PREFIX, i)


def group_of(i):
    if 40 <= i < 45:
        return UNITS[i % len(UNITS)]
    if 45 <= i < 50:
        return CONTAINERS[i % len(CONTAINERS)]
    return "%s%02d" % (PREFIX, i)


class Burners:
    """Short real processes named j<run>NN (a symlink to dd, which does not exec again: comm is the link's name),
    started by one shell per name, which first moves itself into the name's unit or container cgroup."""

    def __init__(self, tmp):
        self.bin = os.path.join(tmp, "bin")
        os.makedirs(self.bin)
        for i in range(NAMES):
            os.symlink("/usr/bin/dd", os.path.join(self.bin, group_of_comm(i)))
        for cg in {cgroup_of(i) for i in range(NAMES)} - {None}:
            os.makedirs(cg, exist_ok=True)
        self.running = []
        self.started = 0

    def run(self, counts):
        """counts[i] processes of name i; one shell per unit/container name (it moves itself into the cgroup
        first), the plain names shared by 5 shells; all shells at once; wait for them all."""
        shells = {}
        for i, n in enumerate(counts):
            cg = cgroup_of(i)
            key = cg or "plain%d" % (i % 5)
            head = "echo $$ > %s/cgroup.procs; " % cg if cg else ""
            shells.setdefault(key, [head])
            shells[key].append("for k in $(seq %d); do %s if=/dev/zero of=/dev/null bs=64k "
                               "count=$((40 + (k * 37) %% 160)) 2>/dev/null; done; "
                               % (n, os.path.join(self.bin, group_of_comm(i))))
            self.started += n
        for parts in shells.values():
            self.running.append(subprocess.Popen(["bash", "-c", "".join(parts)]))
        for p in self.running:
            assert p.wait(timeout=300) == 0, "a burner shell failed"
        self.running = []

    def cleanup(self):
        for p in self.running:
            p.kill()
            p.wait()
        for cg in {cgroup_of(i) for i in range(NAMES)} - {None}:
            try:
                os.rmdir(cg)
            except OSError:
                pass


def apps(d):
    return {a["name"]: a for a in d.get_json("/api/v1/apps?limit=1000")["apps"]}


@pytest.mark.root
@needs_prometheus
def test_group_family_when_1000_processes_churn_sums_to_host_per_group_and_never_resets(fake_rapl):
    if not os.access(os.path.join(CGROUP2, "cgroup.procs"), os.W_OK):
        pytest.skip("no writable cgroup v2 hierarchy for the unit and container groups")
    fr = fake_rapl()
    tmp = tempfile.mkdtemp(prefix="joule-churn-")
    d = Daemon("--source", "powercap", "--powercap-root", fr.root, "--top-n", "10")
    prom = Prometheus(scrape_job(d.addr))
    port = prom.port
    b = Burners(tmp)
    try:
        prom.wait_up()
        # Warm-up: every group entry exists before the window, so each series spans all of it.
        b.run([1] * NAMES)
        wait_for(lambda: all(group_of(i) in apps(d) for i in range(NAMES)), 20, "all 50 groups in the API")
        time.sleep(4)  # quiet edge: no test process runs, the test groups' counters are flat
        t0 = time.time()
        before = apps(d)
        time.sleep(2)
        # The churn: PROCS - NAMES more processes, 19 of each name, every name at once.
        b.run([(PROCS - NAMES) // NAMES] * NAMES)
        time.sleep(4)  # quiet edge again, then the daemon's own figures
        after = apps(d)
        t1 = time.time()
        wait_for(lambda: scalar_safe(port, 'timestamp(joule_host_attributed_energy_joules_total{domain="cpu"})')
                 > t1 + 1, 30, "a scrape after the window")

        # The window: from the first scrape after t0 to the last before t1, taken from the samples themselves,
        # so increase() has nothing to extrapolate and compares with the daemon's own totals.
        span = int(time.time() - t0) + 5
        raw = promql(port, 'joule_host_attributed_energy_joules_total{domain="cpu"}[%ds]' % span)
        ts = [float(t) for t, _ in raw[0]["values"]]
        s0 = min(t for t in ts if t >= t0)
        sn = max(t for t in ts if t <= t1)
        w = "%dms" % round((sn - s0) * 1000 + 1)
        at = "@ %.3f" % sn

        def inc(sel, by=""):
            return "sum %s (increase(%s[%s] %s))" % (by, sel, w, at)

        host = scalar(port, inc("joule_host_attributed_energy_joules_total"))
        groups = scalar(port, inc("joule_group_energy_joules_total"))
        idle = scalar(port, inc("joule_idle_energy_joules_total"))
        other = scalar(port, inc("joule_other_energy_joules_total"))
        total = groups + idle + other
        scrapes = scalar(port, 'count_over_time(up{job="joule"}[%s] %s)' % (w, at))
        good = scalar(port, 'sum_over_time(up{job="joule"}[%s] %s)' % (w, at))
        print("window %.1f s, %d processes, %d of %d scrapes good: host %.3f J, groups %.3f + idle %.3f + other "
              "%.3f = %.3f J (%+.3f %%)" % (sn - s0, b.started, good, scrapes, host, groups, idle, other, total,
                                          100 * (total - host) / host))
        assert host > 0, "the daemon measured no energy in the window"
        assert abs(total - host) <= 0.01 * host, \
            "group + idle + other %.3f J vs the daemon's host energy %.3f J" % (total, host)

        mine = "|".join(sorted({group_of(i) for i in range(NAMES)}))
        per_group = {r["metric"]["group"]: float(r["value"][1])
                     for r in promql(port, inc('joule_group_energy_joules_total{group=~"%s"}' % mine, "by (group)"))}
        worst = 0.0
        for g in sorted({group_of(i) for i in range(NAMES)}):
            own = (after[g]["energy_uj"] - before[g]["energy_uj"]) / 1e6
            assert own > 0, "group %s used no energy in the window" % g
            got = per_group.get(g, 0.0)
            worst = max(worst, abs(got - own) / own)
            assert abs(got - own) <= 0.01 * own, "group %s: Prometheus %.6f J, the daemon %.6f J" % (g, got, own)
        print("per group: %d groups, worst difference %.3f %%" % (len(per_group), 100 * worst))
        kinds = {a["kind"] for g, a in after.items() if g in {group_of(i) for i in range(NAMES)}}
        assert kinds == {"comm", "unit", "container"}, "group kinds seen: %r" % kinds

        for fam in ("joule_group_energy_joules_total", "joule_idle_energy_joules_total",
                    "joule_other_energy_joules_total", "joule_host_attributed_energy_joules_total",
                    "joule_group_carbon_grams_total", "joule_process_energy_joules_total"):
            r = promql(port, "sum(resets(%s[%s] %s))" % (fam, w, at))
            assert not r or float(r[0]["value"][1]) == 0, "%s reset in the window: %r" % (fam, r)
        # live counts follow the living: none of the test's processes is left
        assert all(after[group_of(i)]["live_processes"] == 0 for i in range(NAMES)), \
            "live_processes after every burner ended: %r" % {g: a["live_processes"] for g, a in after.items()
                                                             if a["live_processes"]}
    finally:
        b.cleanup()
        prom.stop()
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)



@pytest.mark.root
@needs_prometheus
def test_group_when_idle_past_limit_leaves_exposition_and_returns_without_reset(tmp_path):
    name = "jidle%s" % os.urandom(2).hex()  # this run's own comm: another run at once has its own
    link = tmp_path / name
    os.symlink("/usr/bin/dd", link)
    d = Daemon("--source", "model", "--group-idle", "3s")
    # 250 ms scrapes: a dropped series' end is extrapolated by half an interval, so keep intervals small
    # against the window (a real window of an hour makes that 0.01 %)
    prom = Prometheus(scrape_job(d.addr, interval="250ms"))
    port = prom.port
    sel = 'joule_group_energy_joules_total{group="%s",domain="cpu"}' % name

    def burn():
        for _ in range(5):
            subprocess.run([str(link), "if=/dev/zero", "of=/dev/null", "bs=64k", "count=400"], check=True,
                           stderr=subprocess.DEVNULL)

    def exported():
        # asked of Prometheus, not of /metrics: every exposition counts towards a new series being seen
        return bool(promql_safe(port, 'count(%s)' % sel))

    try:
        prom.wait_up()
        t0 = time.time()
        burn()
        wait_for(exported, 10, "the jidle group scraped")
        wait_for(lambda: not exported(), 20, "the idle jidle group to leave the exposition")
        burn()
        wait_for(exported, 10, "the jidle group back in the exposition")
        time.sleep(3)
        t1 = time.time()
        wait_for(lambda: scalar_safe(port, 'timestamp(joule_host_attributed_energy_joules_total{domain="cpu"})')
                 > t1 + 1, 30, "a scrape after the window")
        # a window from sample to sample, as in the churn test: nothing for increase() to extrapolate
        raw = promql(port, 'joule_host_attributed_energy_joules_total{domain="cpu"}[%ds]' % (int(time.time() - t0) + 5))
        ts = [float(t) for t, _ in raw[0]["values"]]
        s0, sn = min(t for t in ts if t >= t0), max(t for t in ts if t <= t1)
        w = "%dms] @ %.3f" % (round((sn - s0) * 1000 + 1), sn)
        r = promql(port, "resets(%s[%s)" % (sel, w))
        assert r and float(r[0]["value"][1]) == 0, "the group's series reset when it came back: %r" % r
        r = promql(port, "count_over_time(%s[%s)" % (sel, w))
        assert r and float(r[0]["value"][1]) >= 2, "too few samples of the group: %r" % r
        host = scalar(port, "sum(increase(joule_host_attributed_energy_joules_total[%s))" % w)
        parts = scalar(port, "sum(increase(joule_group_energy_joules_total[%s)) + sum(increase("
                             "joule_idle_energy_joules_total[%s)) + sum(increase(joule_other_energy_joules_total[%s))"
                       % (w, w, w))
        print("idle drop: host %.3f J, groups + idle + other %.3f J" % (host, parts))
        assert abs(parts - host) <= 0.01 * host, "sum %.3f J vs host %.3f J across a drop and return" % (parts, host)
    finally:
        prom.stop()
        d.cleanup()
