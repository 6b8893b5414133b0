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


def edited_ledger(tmp_path, edit):
    """A fresh ledger (write_ledger) at tmp_path/run.jsonl, its lines then changed in place by edit(lines)."""
    p = tmp_path / "run.jsonl"
    write_ledger(p)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    edit(lines)
    p.write_text("".join(lines), encoding="utf-8")
    return p


def test_verify_when_one_character_edited_expect_exit_1_naming_that_line(tmp_path):
    def edit(lines):
        lines[6] = lines[6].replace('"energy_uj":15000', '"energy_uj":15001')

    p = edited_ledger(tmp_path, edit)
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith(f"{p}:7: hash mismatch"), r.stdout


def test_verify_when_json_flag_expect_machine_readable_failure(tmp_path):
    p = edited_ledger(tmp_path, lambda lines: lines.pop(4))
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
    def edit(lines):
        lines[2] = lines[2].replace('"ppid":1,', '"ppid":1, ')

    p = edited_ledger(tmp_path, edit)
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


# ---- issue 18: trust, rotation series, damaged gzip, odd files, help ----------------------------

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
import zlib  # noqa: E402

GENESIS = {"kind": "genesis", "format": 1, "joule_version": "test", "host_id": "",
           "boot_id": "", "hostname": "t", "period_ns": 60000000000}


def key_from_file(path):
    """joule's key file is the hex Ed25519 seed: the same key in Python."""
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(open(path).read().strip()))


def pub_hex(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def seal_series(segments, key=None):
    """Each segment a list of record dicts (no genesis, seq or hash): chained, rotated, signed with key.

    Returns a list of lists of canonical lines. key may be one key for all or a list, one per segment."""
    prev, seq, out = "0" * 64, 0, []
    t0 = 1763758800000000000
    for i, middle in enumerate(segments):
        k = key[i] if isinstance(key, list) else key
        g = dict(GENESIS)
        if i:
            g["prev_segment"] = "l.jsonl.%d" % i
        if k:
            g["pubkey"] = pub_hex(k)
            g["key_id"] = hashlib.sha256(bytes.fromhex(g["pubkey"])).hexdigest()[:16]
        recs = [g] + middle
        if i < len(segments) - 1:
            recs = recs + [{"kind": "rotate", "reason": "size", "segment_records": len(recs) + 1,
                            "segment_bytes": 0}]
        lines = []
        for rec in recs:
            rec = dict(rec, seq=seq, ts_start=str(t0 + seq), ts_end=str(t0 + seq + 1), prev_hash=prev)
            rec["hash"] = hashlib.sha256(canon(rec).encode()).hexdigest()
            if k:
                rec["sig"] = k.sign(rec["hash"].encode()).hex()
            prev = rec["hash"]
            seq += 1
            lines.append(canon(rec) + "\n")
        out.append(lines)
    return out


def runs(n, energy=100):
    return [{"kind": "run", "i": i, "energy_uj": energy * (i + 1)} for i in range(n)]


@pytest.fixture
def signer(tmp_path):
    k = tmp_path / "ledger.key"
    r = joule("ledger", "keygen", str(k))
    assert r.returncode == 0, r.stderr
    return k


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_keygen_when_help_flag_expect_help_and_no_key_file(tmp_path, flag):
    r = subprocess.run([JOULE, "ledger", "keygen", flag], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 0 and "joule ledger keygen" in r.stdout, r.stdout + r.stderr
    assert os.listdir(tmp_path) == [], "keygen %s created %r" % (flag, os.listdir(tmp_path))


def test_keygen_when_new_file_expect_public_key_file_matching_the_key(signer):
    pub = open(str(signer) + ".pub").read().strip()
    assert pub == pub_hex(key_from_file(signer)), "FILE.pub is not the public half of FILE"
    assert stat.S_IMODE(os.stat(str(signer) + ".pub").st_mode) == 0o644


def test_verify_when_rewritten_and_resigned_with_fresh_key_expect_pinned_key_to_fail_it(tmp_path, signer):
    p = tmp_path / "l.jsonl"
    p.write_text("".join(seal_series([runs(5)], key_from_file(signer))[0]))
    r = joule("ledger", "verify", "--pubkey", str(signer) + ".pub", str(p))
    assert r.returncode == 0 and "signed by the pinned key" in r.stdout, r.stdout + r.stderr
    # The forgery of issue 18: every energy x10, chain recomputed, signed with a key of the forger's.
    p.write_text("".join(seal_series([runs(5, energy=1000)], Ed25519PrivateKey.generate())[0]))
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 0, "without a pinned key a re-signed rewrite still verifies: " + r.stdout
    assert "pin the signer with --pubkey" in r.stdout, "verify must say what 'signed' does not prove: " + r.stdout
    r = joule("ledger", "verify", "--pubkey", str(signer) + ".pub", str(p))
    assert r.returncode == 1, "a chain signed by another key passed the pinned check: " + r.stdout
    assert f"{p}:1: bad signature" in r.stdout and "not by the pinned key" in r.stdout, r.stdout


def test_verify_when_signatures_stripped_and_key_pinned_expect_failure(tmp_path, signer):
    p = tmp_path / "l.jsonl"
    p.write_text("".join(seal_series([runs(5)])[0]))
    assert joule("ledger", "verify", str(p)).returncode == 0
    r = joule("ledger", "verify", "--pubkey", str(signer) + ".pub", str(p))
    assert r.returncode == 1 and "unsigned segment" in r.stdout, r.stdout
    r = joule("ledger", "verify", "--require-signatures", str(p))
    assert r.returncode == 1 and "bad signature" in r.stdout, r.stdout


def test_verify_when_one_signature_missing_and_key_pinned_expect_that_line_named(tmp_path, signer):
    p = tmp_path / "l.jsonl"
    lines = seal_series([runs(5)], key_from_file(signer))[0]
    rec = json.loads(lines[3])
    del rec["sig"]
    lines[3] = canon(rec) + "\n"
    p.write_text("".join(lines))
    r = joule("ledger", "verify", "--pubkey", str(signer) + ".pub", str(p))
    assert r.returncode == 1 and r.stdout.startswith(f"{p}:4: bad signature"), r.stdout


def test_verify_when_unsigned_segment_after_signed_expect_warning_and_pinned_failure(tmp_path, signer):
    segs = seal_series([runs(3), runs(3)], [key_from_file(signer), None])
    files = []
    for name, lines in zip(["l.jsonl.1", "l.jsonl"], segs):
        (tmp_path / name).write_text("".join(lines))
        files.append(str(tmp_path / name))
    r = joule("ledger", "verify", *files)
    assert r.returncode == 0, r.stdout
    assert "ok: 9 records" in r.stdout and ", signed" not in r.stdout.splitlines()[0], r.stdout
    assert "warning: the segment from seq 5 on is unsigned" in r.stdout, r.stdout
    out = json.loads(joule("ledger", "verify", "--json", *files).stdout)
    assert out["signed"] is False and out["unsigned_from_seq"] == 5, out
    r = joule("ledger", "verify", "--pubkey", str(signer) + ".pub", *files)
    assert r.returncode == 1 and f"{files[1]}:1: bad signature" in r.stdout, r.stdout
    r = joule("ledger", "verify", "--require-signatures", *files)
    assert r.returncode == 1 and "unsigned segment" in r.stdout, r.stdout


def test_head_when_signed_checkpoint_expect_verify_checkpoint_to_catch_truncation(tmp_path, signer):
    p = tmp_path / "l.jsonl"
    lines = seal_series([runs(8)], key_from_file(signer))[0]
    p.write_text("".join(lines))
    cp = tmp_path / "cp.json"
    r = joule("ledger", "head", "--key", str(signer), "-o", str(cp), str(p))
    assert r.returncode == 0, r.stderr
    c = json.loads(cp.read_text())
    assert c["seq"] == 8 and c["hash"] == json.loads(lines[-1])["hash"] and "sig" in c, c
    pub = str(signer) + ".pub"
    r = joule("ledger", "verify", "--pubkey", pub, "--checkpoint", str(cp), str(p))
    assert r.returncode == 0 and "checkpoint: seq 8" in r.stdout, r.stdout + r.stderr
    p.write_text("".join(lines[:-2]))      # a valid, shorter ledger: only the checkpoint sees it
    assert joule("ledger", "verify", "--pubkey", pub, str(p)).returncode == 0
    r = joule("ledger", "verify", "--pubkey", pub, "--checkpoint", str(cp), str(p))
    assert r.returncode == 1 and "missing records" in r.stdout and "seq 8" in r.stdout, r.stdout


def test_verify_checkpoint_when_checkpoint_edited_or_other_signer_expect_refused(tmp_path, signer):
    p = tmp_path / "l.jsonl"
    p.write_text("".join(seal_series([runs(4)], key_from_file(signer))[0]))
    cp = tmp_path / "cp.json"
    assert joule("ledger", "head", "--key", str(signer), "-o", str(cp), str(p)).returncode == 0
    c = json.loads(cp.read_text())
    c["seq"] = 3
    (tmp_path / "edited.json").write_text(canon(c) + "\n")
    r = joule("ledger", "verify", "--checkpoint", str(tmp_path / "edited.json"), str(p))
    assert r.returncode == 1 and "signature" in r.stderr, r.stdout + r.stderr
    other = tmp_path / "other.key"
    assert joule("ledger", "keygen", str(other)).returncode == 0
    r = joule("ledger", "verify", "--pubkey", str(other) + ".pub", "--checkpoint", str(cp), str(p))
    assert r.returncode == 1 and "not by the pinned key" in r.stderr, r.stdout + r.stderr


def test_head_when_ledger_does_not_verify_expect_no_checkpoint(tmp_path):
    p = tmp_path / "l.jsonl"
    lines = seal_series([runs(4)])[0]
    del lines[2]
    p.write_text("".join(lines))
    r = joule("ledger", "head", str(p))
    assert r.returncode == 1 and r.stdout == "" and "sequence gap" in r.stderr, r.stdout + r.stderr


def write_rotated(tmp_path, n_segments=12, gz=True):
    """A rotated series l.jsonl.1[.gz] .. l.jsonl.(n-1)[.gz], l.jsonl: one chain."""
    segs = seal_series([runs(3) for _ in range(n_segments)])
    names = []
    for i, lines in enumerate(segs[:-1], start=1):
        data = "".join(lines).encode()
        name = "l.jsonl.%d%s" % (i, ".gz" if gz else "")
        (tmp_path / name).write_bytes(gzip.compress(data) if gz else data)
        names.append(name)
    (tmp_path / "l.jsonl").write_text("".join(segs[-1]))
    names.append("l.jsonl")
    return names, sum(len(s) for s in segs)


def test_verify_when_directory_of_rotated_gzip_segments_expect_one_chain(tmp_path):
    names, total = write_rotated(tmp_path)
    (tmp_path / "l.jsonl.lock").write_text("1\n")
    r = joule("ledger", "verify", str(tmp_path))
    assert r.returncode == 0 and r.stdout.startswith("ok: %d records" % total), r.stdout + r.stderr


def test_verify_when_glob_in_lexical_order_expect_chain_order(tmp_path):
    names, total = write_rotated(tmp_path)
    files = sorted(str(tmp_path / n) for n in names)        # what a shell glob gives: .10 before .2
    r = joule("ledger", "verify", *files)
    assert r.returncode == 0 and r.stdout.startswith("ok: %d records" % total), r.stdout + r.stderr


def test_verify_when_a_rotated_segment_is_missing_expect_failure(tmp_path):
    write_rotated(tmp_path)
    os.unlink(tmp_path / "l.jsonl.5.gz")
    r = joule("ledger", "verify", str(tmp_path))
    assert r.returncode == 1 and "l.jsonl.6.gz:1: sequence gap" in r.stdout, r.stdout


def test_verify_when_directory_holds_two_ledgers_expect_clear_error(tmp_path):
    write_rotated(tmp_path, n_segments=2)
    (tmp_path / "other.jsonl.1").write_text("".join(seal_series([runs(1)])[0]))
    r = joule("ledger", "verify", str(tmp_path))
    assert r.returncode == 1 and "more than one ledger" in r.stderr, r.stdout + r.stderr


def gz_of(lines):
    return gzip.compress("".join(lines).encode())


@pytest.mark.parametrize("damage", ["full_flush_cut", "no_trailer", "junk_after", "crc_flipped"])
def test_verify_when_gzip_segment_damaged_expect_bad_gzip(tmp_path, damage):
    lines = seal_series([runs(299)])[0]
    if damage == "full_flush_cut":
        c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = c.compress("".join(lines[:150]).encode()) + c.flush(zlib.Z_FULL_FLUSH)
    elif damage == "no_trailer":
        data = gz_of(lines)[:-8]
    elif damage == "junk_after":
        data = gz_of(lines) + b"junk\n"
    else:
        data = bytearray(gz_of(lines))
        data[-8] ^= 0xFF          # first byte of the CRC-32 in the trailer
        data = bytes(data)
    p = tmp_path / "l.jsonl.1.gz"
    p.write_bytes(data)
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 1, "a damaged gzip (%s) verified: %s" % (damage, r.stdout)
    assert ": bad gzip: " in r.stdout, r.stdout
    r = joule("ledger", "show", str(p))
    assert r.returncode == 1 and "failed to read" in r.stderr, r.stderr


def test_verify_when_gzip_has_two_members_expect_ok(tmp_path):
    lines = seal_series([runs(9)])[0]
    p = tmp_path / "l.jsonl.1.gz"
    p.write_bytes(gz_of(lines[:4]) + gz_of(lines[4:]))      # `cat a.gz b.gz` is a valid gzip file
    r = joule("ledger", "verify", str(p))
    assert r.returncode == 0 and r.stdout.startswith("ok: 10 records"), r.stdout


def test_verify_and_show_when_path_is_a_directory_expect_clear_error(tmp_path):
    d = tmp_path / "d.jsonl"
    d.mkdir()
    r = joule("ledger", "verify", str(d) + "/")
    assert r.returncode == 1, r.stdout
    r = subprocess.run([JOULE, "ledger", "verify", "--", str(d)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and ("no ledger segment" in r.stderr or "directory" in r.stdout), r.stdout + r.stderr
    r = joule("ledger", "show", str(d))
    assert r.returncode == 1 and "holds no ledger segment" in r.stderr, r.stderr


def test_verify_when_fifo_expect_prompt_refusal(tmp_path):
    f = tmp_path / "f.jsonl"
    os.mkfifo(f)
    r = subprocess.run([JOULE, "ledger", "verify", str(f)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "FIFO" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([JOULE, "ledger", "show", str(f)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "FIFO" in r.stderr, r.stderr
    p = tmp_path / "l.jsonl"
    p.write_text("".join(seal_series([runs(2)])[0]))
    r = subprocess.run([JOULE, "ledger", "verify", "--checkpoint", str(f), str(p)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr


def test_show_when_gzip_of_junk_lines_expect_few_stderr_lines_and_a_count(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(b"x\n" * 300000))
    r = subprocess.run([JOULE, "ledger", "show", str(p)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    err = r.stderr.splitlines()
    assert len(err) <= 12, "show wrote %d stderr lines" % len(err)
    assert "300000 lines skipped" in r.stderr, r.stderr[-300:]


def test_show_when_directory_of_rotated_segments_expect_records_in_chain_order(tmp_path):
    names, total = write_rotated(tmp_path)
    r = joule("ledger", "show", "--json", str(tmp_path))
    assert r.returncode == 0, r.stderr
    seqs = [x["seq"] for x in json.loads(r.stdout)]
    assert seqs == list(range(total)), "show DIR is not the chain in order: %r" % seqs[:20]
