# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Workload labels in the daemon's ledger (issue 14): a process in a systemd-shaped cgroup of this run, moved to another
unit mid-period, is read back from the ledger with `joule ledger show` and `joule report --from-ledger --by`."""
import csv
import os
import json
import subprocess
import uuid

import pytest

from daemon_util import JOULE, Daemon, wait_for
from test_identity import UNIFIED, Cgroups

pytestmark = pytest.mark.root

_RUN = uuid.uuid4().hex[:8]
BEFORE = "joule-wl-before-%s.service" % _RUN
AFTER = "joule-wl-after-%s.service" % _RUN


def joule(*args, timeout=120):
    r = subprocess.run([JOULE, *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "joule %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr[-2000:])
    return r.stdout


def proc_group(d, pid):
    st, _hdr, body = d.get("/api/v1/processes/%d" % pid)
    return json.loads(body).get("group") if st == 200 else None


def energy_of(d, app):
    a = {x["name"]: x for x in d.get_json("/api/v1/apps?limit=1000")["apps"]}.get(app)
    return a["energy_uj"] if a else 0


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """The daemon's ledger after a burner ran in BEFORE, moved to AFTER, and was charged in both (the default 60 s
    period, so the move is mid-period); the daemon is stopped, so every record is on disk."""
    if not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")):
        pytest.skip("no cgroup v2 hierarchy at %s" % UNIFIED)
    tmp = tmp_path_factory.mktemp("ledger-workload")
    path = str(tmp / "l.jsonl")
    cg = Cgroups()
    d = None
    try:
        d = Daemon("--source", "model", "--ledger", path, workdir=str(tmp))
        p = cg.start("system.slice/" + BEFORE)
        wait_for(lambda: energy_of(d, BEFORE) > 0, 30, "energy charged to %s" % BEFORE)
        cg.move(p, "system.slice/" + AFTER)
        wait_for(lambda: proc_group(d, p.pid) == AFTER, 30, "pid %d relabelled %s" % (p.pid, AFTER))
        wait_for(lambda: energy_of(d, AFTER) > 0, 30, "energy charged to %s" % AFTER)
        assert d.stop() == 0, "daemon exit: %s" % d.output()
        yield {"path": path, "pid": p.pid}
    finally:
        if d:
            d.cleanup()
        cg.cleanup()


def test_ledger_when_process_moved_still_verifies(ledger):
    out = joule("ledger", "verify", ledger["path"])
    assert out.startswith("ok: "), out


def test_ledger_show_when_process_moved_has_old_labels_before_the_move_and_new_after(ledger):
    recs = json.loads(joule("ledger", "show", "--json", "--pid", str(ledger["pid"]), ledger["path"]))
    recs = [r for r in recs if r.get("group") in (BEFORE, AFTER)]
    before = [r for r in recs if r["group"] == BEFORE]
    after = [r for r in recs if r["group"] == AFTER]
    assert before and after, "records of both units: %r" % recs
    for r in before + after:
        assert (r["group_kind"], r["unit"], r["slice"]) == ("unit", r["group"], "system.slice"), "labels %r" % r
        assert "pod" not in r and "container_id" not in r and "job_id" not in r, "labels never invented: %r" % r
    # from the tick it moved: every record before the move ends where the records after it start, or earlier
    assert max(int(r["ts_end"]) for r in before) <= min(int(r["ts_start"]) for r in after), \
        "labels must follow the move: before %r after %r" % (before, after)
    assert sum(r["energy_uj"] for r in after) > 0, "energy after the move: %r" % after
    by_group = json.loads(joule("ledger", "show", "--json", "--group", AFTER, ledger["path"]))
    assert {r["pid"] for r in by_group} == {ledger["pid"]}, "show --group %s: %r" % (AFTER, by_group)


def test_report_by_workload_when_process_moved_charges_each_unit_its_records(ledger):
    recs = [json.loads(line) for line in open(ledger["path"], encoding="utf-8")]
    rep = json.loads(joule("report", "--from-ledger", ledger["path"], "--by", "workload", "--format", "json"))
    assert rep["by"] == "workload" and "processes" not in rep, "grouped report: %r" % sorted(rep)
    rows = {g.get("group"): g for g in rep["groups"]}
    for unit in (BEFORE, AFTER):
        assert unit in rows, "%s in the report's groups" % unit
        want = sum(r["energy_uj"] for r in recs if r.get("kind") == "process" and r.get("group") == unit)
        assert rows[unit]["energy_uj"] == want, "%s: report %d, the ledger's records %d" % (
            unit, rows[unit]["energy_uj"], want)
        assert (rows[unit]["group_kind"], rows[unit]["unit"], rows[unit]["processes"]) == ("unit", unit, 1), \
            "row %r" % rows[unit]
    assert sum(g["energy_uj"] for g in rep["groups"]) == rep["total"]["energy_uj"], "rows sum to the total"


def test_report_csv_when_process_moved_names_its_newest_workload(ledger):
    rows = list(csv.DictReader(joule("report", "--from-ledger", ledger["path"], "--format", "csv").splitlines()))
    mine = [r for r in rows if r["pid"] == str(ledger["pid"])]
    assert len(mine) == 1, "one row for pid %d: %r" % (ledger["pid"], mine)
    assert (mine[0]["group"], mine[0]["group_kind"], mine[0]["unit"]) == (AFTER, "unit", AFTER), "row %r" % mine[0]
    units = {r["unit"] for r in csv.DictReader(
        joule("report", "--from-ledger", ledger["path"], "--by", "unit", "--format", "csv").splitlines())}
    assert {BEFORE, AFTER} <= units, "--by unit rows: %r" % sorted(units)
