# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The daemon as a system service: Unix socket permissions, systemd unit, sd_notify, signals (SIGTERM ledger, SIGHUP reload), powercap source."""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from daemon_util import FAKE_RAPL, JOULE, REPO, Daemon, wait_for

SOCK_CLIENT = r'''
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
'''


@pytest.fixture
def throwaway_ids():
    """A group for the socket and a user outside it, removed afterwards."""
    tag = uuid.uuid4().hex[:6]
    group, outsider = "jt" + tag, "jtu" + tag
    subprocess.run(["groupadd", group], check=True, timeout=30)
    try:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", outsider], check=True,
                       timeout=30)
        try:
            yield group, outsider
        finally:
            subprocess.run(["userdel", outsider], timeout=30)
    finally:
        subprocess.run(["groupdel", group], timeout=30)


def run_as(uid, gid, path):
    r = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups", "/usr/bin/python3",
                        "-c", SOCK_CLIENT, path], capture_output=True, timeout=20)
    return r.stdout.decode().strip() + r.stderr.decode().strip()


def test_unix_socket_when_group_set_has_mode_and_group_and_refuses_outsiders(throwaway_ids):
    group, outsider = throwaway_ids
    gid = grp.getgrnam(group).gr_gid
    u = pwd.getpwnam(outsider)
    # a directory every user can traverse: only the socket's own mode decides
    sockdir = tempfile.mkdtemp(prefix="joule-sock-")
    os.chmod(sockdir, 0o755)
    path = os.path.join(sockdir, "joule.sock")
    d = Daemon("--source", "model", "--socket-group", group, "--socket-mode", "0660", socket_path=path)
    try:
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode), "not a socket"
        assert stat.S_IMODE(st.st_mode) == 0o660, "mode %o" % stat.S_IMODE(st.st_mode)
        assert st.st_gid == gid, "group %d, want %d" % (st.st_gid, gid)
        assert run_as(u.pw_uid, u.pw_gid, path) == "EACCES", "a user outside the group got in"
        assert run_as(u.pw_uid, gid, path) == "HTTP/1.1 200 OK", "a member of the group was refused"
    finally:
        d.cleanup()
        assert not os.path.exists(path), "socket left behind after exit"
        shutil.rmtree(sockdir, ignore_errors=True)


def test_systemd_unit_when_verified_passes():
    unit = os.path.join(REPO, "dist/systemd/joule.service.in")
    text = open(unit).read()
    assert "ExecStart=@BINDIR@/joule daemon" in text, "ExecStart does not run @BINDIR@/joule daemon"
    tmp = tempfile.mkdtemp(prefix="joule-unit-")
    try:
        # verify checks that ExecStart's binary exists: point it at the build (make does this for BINDIR)
        with open(os.path.join(tmp, "joule.service"), "w") as f:
            f.write(text.replace("@BINDIR@", os.path.dirname(JOULE)).replace("@SYSCONFDIR@", "/etc"))
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(tmp, "joule.service")], capture_output=True,
                           timeout=60)
        assert r.returncode == 0 and not r.stderr.strip(), "systemd-analyze verify: %s" % r.stderr.decode()
    finally:
        shutil.rmtree(tmp)


def host_totals(d):
    return d.get_json("/api/v1/host")


def test_sigterm_when_under_load_leaves_a_ledger_that_verifies(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    d = Daemon("--source", "model", "--ledger", str(ledger), "--ledger-period", "1s", "--ledger-sync", "interval",
               workdir=str(tmp_path))
    load = subprocess.Popen(["stress-ng", "--cpu", "2", "--timeout", "20s", "--quiet"])
    stop = threading.Event()
    count = [0]

    def scrape():
        while not stop.is_set():
            try:
                d.get("/metrics", timeout=2)
                count[0] += 1
            except OSError:
                pass

    threads = [threading.Thread(target=scrape) for _ in range(4)]
    try:
        d.wait_ready()
        for t in threads:
            t.start()
        time.sleep(3)
        rc = d.stop(signal.SIGTERM, timeout=20)
    finally:
        stop.set()
        for t in threads:
            t.join()
        load.kill()
        load.wait()
    assert rc == 0, "exit status %d after SIGTERM: %s" % (rc, d.output()[-500:])
    assert count[0] > 10, "only %d scrapes under load" % count[0]
    r = subprocess.run([JOULE, "ledger", "verify", str(ledger)], capture_output=True, timeout=60)
    assert r.returncode == 0, "ledger verify: %s" % (r.stdout + r.stderr).decode()
    kinds = [json.loads(l)["kind"] for l in ledger.read_text().splitlines()]
    assert "host" in kinds and "process" in kinds, "ledger lacks host/process records: %r" % set(kinds)


def test_sighup_when_config_changes_keeps_totals_and_applies_intensity(tmp_path):
    conf = tmp_path / "joule.conf"
    conf.write_text("[joule]\nsource = model\nintensity = 100\n")
    d = Daemon("--config", str(conf), workdir=str(tmp_path))
    try:
        d.wait_ready()
        time.sleep(0.5)
        before = host_totals(d)
        assert before["intensity"]["g_per_kwh"] == 100, "config intensity not used: %r" % before["intensity"]
        conf.write_text("[joule]\nsource = model\nintensity = 250\nfilter = sleep\n")
        d.send(signal.SIGHUP)
        after = wait_for(lambda: (lambda h: h if h["intensity"]["g_per_kwh"] == 250 and
                                  h["samples"] >= before["samples"] + 5 else None)(host_totals(d)), 5,
                         "intensity 250 and 5 more samples after SIGHUP")
        assert d.proc.poll() is None, "daemon exited on SIGHUP"
        assert after["totals"]["energy_uj"] >= before["totals"]["energy_uj"], "energy total shrank on reload"
        assert after["start_time"] == before["start_time"], "daemon restarted instead of reloading"
    finally:
        assert d.stop() == 0, "exit status after SIGTERM"
        shutil.rmtree(d.dir, ignore_errors=True)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_sd_notify_when_socket_set_sends_ready_watchdog_stopping(tmp_path, abstract):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "@joule-test-%s" % uuid.uuid4().hex[:8]
        s.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        s.bind(name)
    s.settimeout(10)
    d = Daemon("--source", "model", env={"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "400000"}, workdir=str(tmp_path))
    msgs = []
    try:
        wait_for(lambda: msgs.append(s.recv(4096).decode()) or any("READY=1" in m for m in msgs), 10, "READY=1")
        wait_for(lambda: msgs.append(s.recv(4096).decode()) or any("WATCHDOG=1" in m for m in msgs), 5,
                 "WATCHDOG=1")
        assert d.get("/readyz")[0] == 200, "READY=1 sent before /readyz is ready"
        assert d.stop() == 0, "exit status after SIGTERM"
        wait_for(lambda: msgs.append(s.recv(4096).decode()) or any("STOPPING=1" in m for m in msgs), 5,
                 "STOPPING=1")
    finally:
        d.cleanup()
        s.close()


def test_powercap_source_when_fake_rapl_runs_reports_powercap_energy(tmp_path):
    root = tmp_path / "rapl"
    ready = tmp_path / "rapl.ready"
    fake = subprocess.Popen([FAKE_RAPL, "--root", str(root), "--ready", str(ready), "--duration", "60"])
    try:
        wait_for(ready.exists, 10, "fake-rapl tree")
        d = Daemon("--source", "powercap", "--powercap-root", str(root), workdir=str(tmp_path))
        try:
            d.wait_ready()
            time.sleep(1)
            host = d.get_json("/api/v1/host")
            assert host["source"] == "powercap", "source %r" % host["source"]
            assert "package" in host["domains"] and "dram" in host["domains"], "domains %r" % host["domains"]
            assert host["totals"]["energy_uj"] > 0, "no energy read from the fake tree"
            text = d.get("/metrics")[2].decode()
            assert 'joule_host_energy_joules_total{package="all",domain="package",source="powercap"}' in text, \
                "no powercap host series"
        finally:
            d.cleanup()
    finally:
        fake.terminate()
        fake.wait(timeout=10)


@pytest.mark.parametrize("args", [
    ["--listen", "example.com:80"],
    ["--listen", "1.2.3:80"],
    ["--listen", "localhost"],
    ["--listen", ":9940"],
    ["--listen", "", "--socket", ""],
    ["--filter", "sixteen-chars-xy"],
], ids=["hostname", "short-ipv4", "no-port", "no-host", "nothing-to-serve", "filter-too-long"])
def test_daemon_when_bad_listen_or_filter_exits_2_before_starting(tmp_path, args):
    start = time.monotonic()
    r = subprocess.run([JOULE, "daemon", "--source", "model", "--socket", str(tmp_path / "s"),
                        "--ready-file", str(tmp_path / "ready")] + args, capture_output=True, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 2, "exit status %d for %r: %s" % (r.returncode, args, err[-300:])
    assert "BPF" not in err and "bpf" not in err, "reached BPF work before rejecting %r: %s" % (args, err[-300:])
    assert not (tmp_path / "ready").exists(), "ready file written although %r is invalid" % (args,)
    assert time.monotonic() - start < 5, "rejecting %r took too long" % (args,)


@pytest.mark.parametrize("listen,host", [("localhost:0", "127.0.0.1"), ("*:0", "0.0.0.0")])
def test_daemon_when_listen_is_localhost_or_star_binds_it(tmp_path, listen, host):
    d = Daemon("--source", "model", "--listen", listen, workdir=str(tmp_path))
    try:
        assert d.host == host, "bound %s for --listen %s" % (d.addr, listen)
        d.host = "127.0.0.1"  # 0.0.0.0 answers on loopback too
        assert d.get("/healthz")[0] == 200, "/healthz not answered on %s" % d.addr
    finally:
        d.cleanup()


def test_daemon_when_listen_empty_serves_only_the_unix_socket(tmp_path):
    sock, ready = tmp_path / "joule.sock", tmp_path / "ready"
    p = subprocess.Popen([JOULE, "daemon", "--source", "model", "--listen", "", "--socket", str(sock),
                          "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: ready.exists() or p.poll() is not None, 20, "the ready file")
        assert p.poll() is None, "daemon exited with --listen '': %s" % p.stderr.read().decode()[-300:]
        assert ready.read_text().strip() == "unix:%s" % sock, "ready file %r" % ready.read_text()
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200"), "no 200 over the unix socket"
        s.close()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0, "exit status after SIGTERM"
        p.stderr.close()
