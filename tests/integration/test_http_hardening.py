# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The HTTP layer against hostile input and clients (issue 18): strict framing, NUL bytes, the ready file, one daemon per socket, least disclosure, deadlines and the reserve."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from daemon_util import JOULE, Daemon, token_file, unix_request, wait_for

pytestmark = pytest.mark.root

TOKEN = "t0k3n-" + uuid.uuid4().hex


def raw(host, port, data, timeout=10):
    """Send bytes, return the whole answer (the server closes or answers with Connection: close)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:") and len(body) >= int(line.split(b":")[1]):
                        return out
        return out


def status_of(answer):
    assert answer.startswith(b"HTTP/1.1 "), "not an HTTP answer: %r" % answer[:80]
    return int(answer.split(b" ")[1])


def unix_get(path, target, timeout=10):
    """GET over the Unix socket; (status, parsed JSON body or raw bytes)."""
    head, _, body = unix_request(path, target, timeout).partition(b"\r\n\r\n")
    try:
        return status_of(head), json.loads(body)
    except ValueError:
        return status_of(head), body


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    tok = token_file(tmp, TOKEN)
    d = Daemon("--source", "model", "--api-token-file", tok, workdir=str(tmp))
    d.wait_ready()
    yield d
    d.cleanup()


def put_intensity(d, body):
    hdr = b"PUT /api/v1/intensity HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n" \
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (TOKEN.encode(), len(body))
    return raw(d.host, d.port, hdr + body)


# ---- item 8: bodies, NULs, framing

def test_intensity_when_valid_body_gives_200(daemon):
    a = put_intensity(daemon, b'{"g_per_kwh":100}')
    assert status_of(a) == 200, "a valid push refused: %r" % a[-200:]


def test_intensity_when_text_follows_the_object_gives_400(daemon):
    a = put_intensity(daemon, b'{"g_per_kwh":100}xxxxx')
    assert status_of(a) == 400, "trailing junk accepted: %r" % a[-200:]
    assert b"after the JSON object" in a, "the error does not say why: %r" % a[-200:]


def test_intensity_when_body_has_nul_gives_400(daemon):
    a = put_intensity(daemon, b'{"g_per_kwh":100}\x00{"g_per_kwh":9000}')
    assert status_of(a) == 400, "a body with a NUL accepted: %r" % a[-200:]
    assert b"NUL" in a, "the error does not name the NUL: %r" % a[-200:]


@pytest.mark.parametrize("target", [
    "/api/v1/processes?limit=1%0099",
    "/api/v1/processes?comm=bash%00xyz",
    "/api/v1/processes%00",
])
def test_request_when_target_has_encoded_nul_gives_400(daemon, target):
    st, hdr, body = daemon.get(target)
    assert st == 400, "%s: status %d, body %r" % (target, st, body[:200])
    assert json.loads(body)["error"]["code"] == 400, "%s: not the JSON error shape" % target


def test_request_when_content_lengths_differ_gives_400(daemon):
    a = raw(daemon.host, daemon.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n"
                                      b"Connection: close\r\n\r\nhello")
    assert status_of(a) == 400, "two different Content-Length accepted: %r" % a[:200]


def test_request_when_content_lengths_agree_is_served(daemon):
    a = raw(daemon.host, daemon.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n"
                                      b"Connection: close\r\n\r\n")
    assert status_of(a) == 200, "identical Content-Length refused: %r" % a[:200]


def test_processes_when_comm_matches_nothing_gives_empty_list(daemon):
    body = daemon.get_json("/api/v1/processes?comm=%E2%98%83")
    assert body["matched"] == 0 and body["processes"] == [], "a snowman matched: %r" % body


# ---- item 6: the ready file never follows a link

def test_ready_file_when_links_planted_leaves_their_targets_alone(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("root secret\n")
    os.chmod(victim, 0o600)
    ready = tmp_path / "ready"
    os.symlink(victim, ready)

    def plant():  # in the child, before exec: the daemon's pid is ours
        os.symlink(str(victim), "%s.tmp.%d" % (ready, os.getpid()))

    p = subprocess.Popen([JOULE, "daemon", "--source", "model", "--listen", "127.0.0.1:0", "--socket", "",
                          "--ready-file", str(ready)], preexec_fn=plant, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: not os.path.islink(ready) or p.poll() is not None, 20, "the ready file")
        assert p.poll() is None, "daemon exited: %s" % p.stdout.read().decode()
        assert victim.read_text() == "root secret\n", "the daemon wrote through a planted link"
        assert oct(os.stat(victim).st_mode & 0o777) == oct(0o600), "the victim's mode changed"
        assert ":" in ready.read_text(), "no address in the ready file"
        assert not [f for f in os.listdir(tmp_path) if ".tmp." in f], "a tmp file or link left behind"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)


# ---- one daemon per socket

def test_socket_when_second_daemon_starts_it_exits_1_naming_the_holder(tmp_path):
    sock = str(tmp_path / "joule.sock")
    os.mkdir(tmp_path / "a")
    first = Daemon("--source", "model", socket_path=sock, workdir=str(tmp_path / "a"))
    try:
        r = subprocess.run([JOULE, "daemon", "--source", "model", "--listen", "127.0.0.1:0", "--socket", sock],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, "second daemon exit %d: %s" % (r.returncode, r.stderr)
        assert "pid %d" % first.proc.pid in r.stderr, "holder's pid not named: %s" % r.stderr
        st, body = unix_get(sock, "/healthz")
        assert st == 200, "the first daemon lost its socket"
    finally:
        first.cleanup()
    assert not os.path.exists(sock), "socket left behind by the first daemon's SIGTERM"


def test_socket_when_replaced_the_old_daemon_leaves_the_new_one_alone(tmp_path):
    sock = str(tmp_path / "joule.sock")
    os.mkdir(tmp_path / "a")
    d = Daemon("--source", "model", socket_path=sock, workdir=str(tmp_path / "a"))
    other = socket.socket(socket.AF_UNIX)
    try:
        os.unlink(sock)
        other.bind(sock)  # a successor's socket at the same path
        assert d.stop() == 0, "daemon exit status"
        assert os.path.exists(sock), "SIGTERM removed a socket the daemon no longer owned"
    finally:
        other.close()
        d.cleanup()


def test_socket_when_holder_was_killed_restart_succeeds(tmp_path):
    sock = str(tmp_path / "joule.sock")
    os.mkdir(tmp_path / "a")
    os.mkdir(tmp_path / "b")
    a = Daemon("--source", "model", socket_path=sock, workdir=str(tmp_path / "a"))
    a.stop(sig=signal.SIGKILL)
    a.cleanup()
    assert os.path.exists(sock + ".lock"), "no lock file beside the socket"
    b = Daemon("--source", "model", socket_path=sock, workdir=str(tmp_path / "b"))
    try:
        assert unix_get(sock, "/healthz")[0] == 200, "restarted daemon does not serve the socket"
    finally:
        b.cleanup()


# ---- item 7: least disclosure

@pytest.fixture
def other_user():
    name = "jth" + uuid.uuid4().hex[:6]
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True, timeout=30)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], timeout=30)


def test_process_detail_when_asked_shows_what_proc_would(tmp_path, other_user):
    # a directory every user can traverse: the other user must reach the socket
    sockdir = tempfile.mkdtemp(prefix="joule-sock-")
    os.chmod(sockdir, 0o755)
    sock = os.path.join(sockdir, "joule.sock")
    os.mkdir(tmp_path / "d")
    secret = "--token=" + uuid.uuid4().hex
    # processes that wake now and then, so the tracer sees them run; the secret is in their cmdline. Started
    # before the daemon, so that it first sees them after setpriv's exec, as python3.
    busy = ["/usr/bin/python3", "-c", "import time\nwhile True: time.sleep(0.1)", secret]
    root_proc = subprocess.Popen(busy)
    user_proc = subprocess.Popen(["setpriv", "--reuid=%d" % other_user.pw_uid, "--regid=%d" % other_user.pw_gid,
                                  "--clear-groups"] + busy)
    d = None
    try:
        wait_for(lambda: open("/proc/%d/comm" % user_proc.pid).read().startswith("python3"), 10, "setpriv's exec")
        d = Daemon("--source", "model", "--socket-mode", "0666", socket_path=sock, workdir=str(tmp_path / "d"))
        def seen_as_python(pid):  # setpriv execs python3: details come only once the store has the new comm
            st, _, body = d.get("/api/v1/processes/%d" % pid)
            return st == 200 and json.loads(body)["comm"].startswith("python3")

        for p in (root_proc, user_proc):
            wait_for(lambda: seen_as_python(p.pid), 30, "pid %d in the store as python3" % p.pid)
        exe = os.readlink("/proc/%d/exe" % root_proc.pid)
        # TCP without authentication: nothing /proc guards, and no cmdline
        tcp = d.get_json("/api/v1/processes/%d" % root_proc.pid)
        assert "exe" not in tcp and "cmdline" not in tcp, "TCP disclosed %r" % tcp
        assert secret not in json.dumps(tcp), "the secret leaked over TCP"

        # the Unix socket as root: everything
        st, full = unix_get(sock, "/api/v1/processes/%d" % root_proc.pid)
        assert st == 200 and full.get("exe") == exe, "root's own view lacks exe: %r" % full
        assert secret in full.get("cmdline", ""), "root's own view lacks cmdline: %r" % full

        def as_user(pid):
            r = subprocess.run(["setpriv", "--reuid=%d" % other_user.pw_uid, "--regid=%d" % other_user.pw_gid,
                                "--clear-groups", "curl", "-sS", "--max-time", "10", "--unix-socket", sock,
                                "http://joule/api/v1/processes/%d" % pid], capture_output=True, text=True,
                               timeout=20)
            assert r.returncode == 0, "client as %s failed: %s" % (other_user.pw_name, r.stderr)
            return json.loads(r.stdout)

        own = as_user(user_proc.pid)
        assert own.get("exe") == exe and secret in own.get("cmdline", ""), \
            "a user's own process not shown in full: %r" % own
        other = as_user(root_proc.pid)
        assert "exe" not in other, "another user's exe link shown (/proc refuses it): %r" % other
        hidepid = "hidepid=" in open("/proc/self/mountinfo").read()
        if not hidepid:
            assert "cmdline" in other, "cmdline hidden although /proc shows it: %r" % other
    finally:
        root_proc.kill()
        user_proc.kill()
        root_proc.wait()
        user_proc.wait()
        if d:
            d.cleanup()
        shutil.rmtree(sockdir, ignore_errors=True)


# ---- item 3: deadlines and the reserve

def test_slow_request_when_trickled_is_dropped_within_the_deadline(daemon):
    s = socket.create_connection((daemon.host, daemon.port), timeout=30)
    start = time.monotonic()
    closed_after = None
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        for i in range(200):  # a header byte every 0.2 s: libmicrohttpd's idle timeout never fires
            try:
                s.sendall(b"X-a: b\r\n"[i % 8:i % 8 + 1])
                s.settimeout(0.2)
                if s.recv(100) == b"":
                    closed_after = time.monotonic() - start
                    break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
    finally:
        s.close()
    assert closed_after is not None, "a trickling request was kept for 40 s"
    assert closed_after < 20, "dropped only after %.1f s" % closed_after


def test_reserve_when_connections_full_serves_metrics_and_refuses_the_rest(tmp_path):
    d = Daemon("--source", "model", "--http-max-connections", "8", workdir=str(tmp_path))
    idle = []
    try:
        d.wait_ready()
        for _ in range(8):
            idle.append(socket.create_connection((d.host, d.port), timeout=10))

        def host_busy():
            a = raw(d.host, d.port, b"GET /api/v1/host HTTP/1.1\r\nHost: x\r\n\r\n")
            return a if status_of(a) == 503 else None

        a = wait_for(host_busy, 4, "a 503 for /api/v1/host while 8 idle connections fill the server")
        assert b"only /metrics" in a, "the 503 does not say what is served: %r" % a[-200:]
        m = raw(d.host, d.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(m) == 200 and b"joule_" in m, "/metrics not served from the reserve: %r" % m[:200]
        h = raw(d.host, d.port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(h) == 200, "/readyz not served from the reserve"
        # idle connections meet the header deadline; then everything is served again
        wait_for(lambda: status_of(raw(d.host, d.port, b"GET /api/v1/host HTTP/1.1\r\nHost: x\r\n"
                                                       b"Connection: close\r\n\r\n")) == 200,
                 20, "/api/v1/host served once the idle connections are dropped")
    finally:
        for s in idle:
            s.close()
        d.cleanup()
