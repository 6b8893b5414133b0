# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The daemon's ledger (issue 18): one daemon per ledger, restarts as chain records, rotation and gzip from flags."""
import gzip
import json
import os
import signal
import subprocess

import pytest

from daemon_util import JOULE, Daemon, wait_for

pytestmark = pytest.mark.root


def workdir(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return str(d)


def lines_of(path):
    if str(path).endswith(".gz"):
        return gzip.decompress(open(path, "rb").read()).decode().splitlines()
    return open(path, encoding="utf-8").read().splitlines()


def kinds(path):
    return [json.loads(line)["kind"] for line in open(path, encoding="utf-8")]


def verify(*paths):
    return subprocess.run([JOULE, "ledger", "verify", *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_second_daemon_on_same_ledger_expect_exit_1_naming_the_holder(tmp_path):
    ledger = tmp_path / "l.jsonl"
    first = Daemon("--source", "model", "--ledger", str(ledger), workdir=workdir(tmp_path, "a"))
    try:
        r = subprocess.run([JOULE, "daemon", "--source", "model", "--ledger", str(ledger), "--listen", "127.0.0.1:0",
                            "--socket", ""], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, "a second daemon on the same ledger started (exit %d)" % r.returncode
        assert "pid %d" % first.proc.pid in r.stderr, "the message does not name the holder: " + r.stderr
        assert r.stderr.count("in use by another writer") == 1, "the open error is printed more than once: " + r.stderr
        assert first.proc.poll() is None, "the first daemon died"
    finally:
        assert first.stop() == 0
    r = verify(ledger)
    assert r.returncode == 0, r.stdout


def test_daemon_after_kill_9_expect_restart_and_start_record_in_chain(tmp_path):
    ledger = tmp_path / "l.jsonl"
    args = ("--source", "model", "--ledger", str(ledger), "--ledger-period", "1s", "--ledger-sync", "always")
    d = Daemon(*args, workdir=workdir(tmp_path, "a"))
    try:
        wait_for(lambda: ledger.exists() and "host" in kinds(ledger), 30, "a host record")
    finally:
        d.stop(signal.SIGKILL)
    # The lock died with the process: a restart is never blocked by it.
    d = Daemon(*args, workdir=workdir(tmp_path, "b"))
    try:
        wait_for(lambda: "start" in kinds(ledger), 30, "a start record")
    finally:
        assert d.stop() == 0
    recs = [json.loads(line) for line in open(ledger, encoding="utf-8")]
    start = next(r for r in recs if r["kind"] == "start")
    before = recs[start["seq"] - 1]
    assert start["last_seq"] == before["seq"], "start names seq %d, the previous run ended at %d" % (
        start["last_seq"], before["seq"])
    assert start["boot_id"] and start["pid"] == d.proc.pid, start
    r = verify(ledger)
    assert r.returncode == 0 and "restarts: 1" in r.stdout, r.stdout


def test_daemon_when_rotation_flags_expect_gzip_segments_that_verify_as_one_chain(tmp_path):
    ledger = tmp_path / "l.jsonl"
    d = Daemon("--source", "model", "--ledger", str(ledger), "--ledger-period", "1s",
               "--ledger-rotate-bytes", "2k", "--ledger-gzip", workdir=workdir(tmp_path, "a"))
    try:
        wait_for(lambda: os.path.exists(str(ledger) + ".2.gz"), 60, "two rotated gzip segments")
    finally:
        assert d.stop() == 0
    r = verify(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    segments = [p for p in tmp_path.iterdir() if p.name.startswith("l.jsonl.") and p.name.endswith(".gz")]
    assert len(segments) >= 2 and not any(p.name.endswith(tuple("0123456789")) for p in tmp_path.iterdir()), \
        "rotated segments left uncompressed: %r" % sorted(p.name for p in tmp_path.iterdir())
    total = len(lines_of(ledger)) + sum(len(lines_of(p)) for p in segments)
    assert r.stdout.startswith("ok: %d records" % total), "verify DIR did not read every segment: " + r.stdout


@pytest.mark.parametrize("flag,value", [("--ledger-rotate-bytes", "lots"), ("--ledger-rotate-age", "0")])
def test_daemon_when_bad_rotation_value_expect_exit_2(tmp_path, flag, value):
    r = subprocess.run([JOULE, "daemon", "--ledger", str(tmp_path / "l.jsonl"), flag, value], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and flag.lstrip("-") in r.stderr, r.stderr
