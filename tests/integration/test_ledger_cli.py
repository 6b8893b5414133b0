# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`joule ledger verify|show|keygen` on ledgers written by an independent Python implementation of the format."""
import gzip
import hashlib
import json
import os
import stat
import subprocess

import pytest

BUILD = os.environ.get("JOULE_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
JOULE = os.path.join(BUILD, "joule")


def joule(*args):
    return subprocess.run([JOULE, *args], capture_output=True, text=True, timeout=60)


def _dispatched():
    if not os.access(JOULE, os.X_OK):
        return False
    r = joule("ledger", "--help")
    return r.returncode == 0 and "joule ledger verify" in r.stdout


pytestmark = pytest.mark.skipif(not _dispatched(),
                                reason="main.c does not dispatch 'joule ledger' to cmd_ledger yet")


def canon(obj):
    # RFC 8785 for what these tests write: ASCII keys, integers, strings (Python sorts
    # by code point, which equals UTF-16 order for ASCII keys).
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_ledger(path, n_records=20):
    """A valid chain: genesis + process records, hashed as docs/LEDGER.md specifies."""
    prev = "0" * 64
    lines = []
    t0 = 1763758800000000000
    for seq in range(n_records):
        if seq == 0:
            rec = {"kind": "genesis", "format": 1, "joule_version": "test", "host_id": "",
                   "boot_id": "", "hostname": "t", "period_ns": 60000000000}
        else:
            rec = {"kind": "process", "pid": 100 + seq % 3, "ppid": 1, "start_ns": "5000",
                   "comm": ["make", "cc1", "café"][seq % 3], "marked": True, "exited": False,
                   "cpu_ns": 1000000 * seq, "energy_uj": 2500 * seq, "cpu_energy_uj": 2500 * seq,
                   "memory_energy_uj": 0, "carbon_ug": 300 * seq, "embodied_ug": 0,
                   "allocation_ratio": 0.5, "intervals": 600, "source": "model", "pue": 1,
                   "intensity_g_per_kwh": 450}
        rec["seq"] = seq
        rec["ts_start"] = str(t0 + seq * 60 * 10**9)
        rec["ts_end"] = str(t0 + (seq + 1) * 60 * 10**9)
        rec["prev_hash"] = prev
        rec["hash"] = hashlib.sha256(canon(rec).encode()).hexdigest()
        prev = rec["hash"]
        lines.append(canon(rec))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return prev


def test_verify_when_intact_expect_exit_0_and_summary(tmp_path):
    p = tmp_path / "run.jsonl"
    head = write_ledger(p)
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok: 20 records"), r.stdout
    assert head in r.stdout


def test_verify_when_one_character_edited_expect_exit_1_naming_that_line(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[6] = lines[6].replace('"energy_uj":15000', '"energy_uj":15001')
    p.write_text("".join(lines), encoding="utf-8")
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith(f"{p}:7: hash mismatch"), r.stdout


def test_verify_when_json_flag_expect_machine_readable_failure(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[4]
    p.write_text("".join(lines), encoding="utf-8")
    r = joule("ledger", "verify", "--json", str(p))
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["line"] == 5 and out["error"] == "sequence gap", out
    assert out["records"] == 4


def test_verify_when_gzip_and_expected_head_expect_ok_and_truncation_caught(tmp_path):
    p = tmp_path / "run.jsonl"
    head = write_ledger(p)
    gz = tmp_path / "run.jsonl.1.gz"
    with gzip.open(gz, "wb") as f:
        f.write(p.read_bytes())
    r = joule("ledger", "verify", "--head", head, str(gz))
    assert r.returncode == 0, r.stdout
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(lines[:-2]), encoding="utf-8")
    assert joule("ledger", "verify", str(p)).returncode == 0  # a valid, shorter ledger
    r = joule("ledger", "verify", "--head", head, str(p))
    assert r.returncode == 1 and ":19: missing records" in r.stdout, r.stdout


def test_verify_when_not_canonical_expect_named(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace('"ppid":1,', '"ppid":1, ')
    p.write_text("".join(lines), encoding="utf-8")
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 1 and f"{p}:3: not canonical" in r.stdout, r.stdout


def test_verify_when_no_file_expect_usage_exit_2():
    assert joule("ledger", "verify").returncode == 2
    assert joule("ledger", "frobnicate").returncode == 2


def test_show_when_pid_filter_expect_only_that_process(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p)
    r = joule("ledger", "show", "--json", "--pid", "101", str(p))
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)
    assert recs and all(x["pid"] == 101 for x in recs)
    r = joule("ledger", "show", "--comm", "café", str(p))
    assert r.returncode == 0 and "café" in r.stdout and "cc1" not in r.stdout


def test_keygen_when_new_file_expect_mode_0600_and_no_overwrite(tmp_path):
    k = tmp_path / "ledger.key"
    r = joule("ledger", "keygen", str(k))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(k).st_mode) == 0o600
    assert joule("ledger", "keygen", str(k)).returncode == 1


def write_chain(path, middle):
    """genesis, then the records in `middle` (dicts without seq/hash), chained."""
    prev = "0" * 64
    lines = []
    t0 = 1763758800000000000
    recs = [{"kind": "genesis", "format": 1, "joule_version": "test", "host_id": "",
             "boot_id": "", "hostname": "t", "period_ns": 60000000000}] + middle
    for seq, rec in enumerate(recs):
        rec = dict(rec, seq=seq, ts_start=str(t0 + seq), ts_end=str(t0 + seq + 1), prev_hash=prev)
        rec["hash"] = hashlib.sha256(canon(rec).encode()).hexdigest()
        prev = rec["hash"]
        lines.append(canon(rec))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def test_verify_when_gap_record_expect_exit_0_and_loss_reported(tmp_path):
    p = tmp_path / "run.jsonl"
    run = {"kind": "run", "exit_code": 0}
    write_chain(p, [run, run, {"kind": "gap", "lost_records": 7, "reason": "No space left on device"}, run])
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok: 5 records"), r.stdout
    assert "gap: 7 records lost before seq 3 (No space left on device)" in r.stdout, r.stdout
    out = json.loads(joule("ledger", "verify", "--json", str(p)).stdout)
    assert out["ok"] is True and out["lost_records"] == 7 and out["gaps"] == 1, out
    assert out["first_gap_seq"] == 3, out


def test_verify_when_no_gap_expect_no_gap_line(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p)
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 0 and "gap" not in r.stdout, r.stdout


def test_show_json_when_records_without_canonical_form_expect_others_shown_and_exit_1(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p, n_records=5)
    with open(p, "ab") as f:
        f.write(b'{"kind":"run","kind":"twice","seq":5}\n')       # line 6: duplicate key
        f.write(b'{"kind":"run","note":"\xff\xfe","seq":6}\n')    # line 7: invalid UTF-8
        f.write(b'{"kind":"run","seq":7}\n')                       # line 8: fine
    r = subprocess.run([JOULE, "ledger", "show", "--json", str(p)], capture_output=True, timeout=60)
    assert r.returncode == 1, r.stderr
    recs = json.loads(r.stdout)
    assert [x["seq"] for x in recs] == [0, 1, 2, 3, 4, 7], recs
    err = r.stderr.decode()
    assert f"{p}:6:" in err and "duplicate key" in err, err
    assert f"{p}:7:" in err, err


def test_show_when_line_over_1mib_expect_skipped_named_and_rest_shown(tmp_path):
    p = tmp_path / "run.jsonl"
    write_ledger(p, n_records=3)
    with open(p, "a", encoding="utf-8") as f:
        f.write('{"kind":"run","pad":"' + "a" * (1536 * 1024) + '","seq":3}\n')   # line 4
        f.write('{"kind":"run","seq":4}\n')
    r = joule("ledger", "show", "--json", str(p))
    assert r.returncode == 1, r.stderr
    assert [x["seq"] for x in json.loads(r.stdout)] == [0, 1, 2, 4], r.stdout[:200]
    assert f"{p}:4: line is over 1048576 bytes" in r.stderr, r.stderr
    r = joule("ledger", "show", str(p))
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 1 + 4, r.stdout
