# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Issue 18 item 3: 1,000 idle connections and 100 slowloris clients over TCP and the Unix socket cannot keep a scraper from /metrics."""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from daemon_util import Daemon

pytestmark = pytest.mark.root

SCRAPE_EVERY_S = 0.1
SCRAPE_FOR_S = 30
# Generous: the contract is that every scrape is answered; the p99 is reported, and on this shared machine it
# is load-dependent, so only a bound no healthy server comes near is asserted.
P99_BOUND_S = 2.0

# The attacker, in its own process so that its work does not slow the scraper's clock: it keeps IDLE
# connections open that never send a byte and SLOW ones that trickle a header line, reopening any the server
# drops, half over TCP and half over the socket, until killed. It prints "up" once all are open.
ATTACKER = r'''
import os, random, selectors, socket, sys, time
host, port, path, idle, slow = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sel = selectors.DefaultSelector()
conns = {}

def open_one(kind, i):
    if i % 2:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
    else:
        s = socket.create_connection((host, port))
    s.setblocking(False)
    if kind == "slow":
        s.send(b"GET /metrics HTTP/1.1\r\n")
    conns[s] = [kind, i, time.monotonic()]
    sel.register(s, selectors.EVENT_READ)

for i in range(idle):
    open_one("idle", i)
for i in range(slow):
    open_one("slow", i)
print("up", flush=True)
reopened = 0
while True:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        try:
            gone = s.recv(4096) == b""
        except (ConnectionResetError, BlockingIOError):
            gone = True
        if gone:
            kind, i, _ = conns.pop(s)
            sel.unregister(s)
            s.close()
            try:
                open_one(kind, i)
                reopened += 1
            except OSError:
                pass
    now = time.monotonic()
    for s, c in list(conns.items()):
        if c[0] == "slow" and now - c[2] > 0.5:  # one header byte every half second per slow client
            c[2] = now
            try:
                s.send(b"X")
            except OSError:
                pass
'''


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # root without CAP_SYS_RESOURCE: soft to hard only
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def scrape(host, port, timeout=10):
    """One /metrics scrape on a fresh connection, as Prometheus does after an error; (ok, seconds)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: joule\r\nConnection: close\r\n\r\n")
            out = b""
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                out += b
        ok = out.startswith(b"HTTP/1.1 200") and b"joule_" in out
    except OSError:
        ok = False
    return ok, time.monotonic() - t0


def test_scrapes_when_1000_idle_and_100_slowloris_are_all_answered(tmp_path):
    if raise_nofile() < 3000:
        pytest.skip("RLIMIT_NOFILE hard limit below 3000: cannot open 1,100 client connections")
    sockdir = tempfile.mkdtemp(prefix="joule-load-")
    sock = os.path.join(sockdir, "joule.sock")
    d = Daemon("--source", "model", socket_path=sock, workdir=str(tmp_path))
    attacker = None
    try:
        d.wait_ready()
        attacker = subprocess.Popen([sys.executable, "-c", ATTACKER, d.host, str(d.port), sock, "1000", "100"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert attacker.stdout.readline().strip() == b"up", "attacker failed: %s" % attacker.stderr.read()[-500:]
        times, failed = [], 0
        end = time.monotonic() + SCRAPE_FOR_S
        next_at = time.monotonic()
        while time.monotonic() < end:
            ok, dt = scrape(d.host, d.port)
            times.append(dt)
            failed += not ok
            next_at += SCRAPE_EVERY_S
            time.sleep(max(0.0, next_at - time.monotonic()))
        assert attacker.poll() is None, "attacker died: %s" % attacker.stderr.read()[-500:]
        times.sort()
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        # the figures for the report (pytest -s shows them)
        print("\nslow-client load: %d scrapes, %d failed, p50 %.1f ms, p99 %.1f ms, max %.1f ms, loadavg %s"
              % (len(times), failed, p50 * 1e3, p99 * 1e3, times[-1] * 1e3, load))
        assert failed == 0, "%d of %d scrapes not answered with 200" % (failed, len(times))
        assert p99 < P99_BOUND_S, "p99 %.3f s" % p99
        # the socket's own users are served too
        st = subprocess.run([sys.executable, "-c", "import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                             "s.connect(sys.argv[1])\ns.sendall(b'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n"
                             "Connection: close\\r\\n\\r\\n')\nprint(s.recv(64).split(b'\\r\\n')[0].decode())",
                             sock], capture_output=True, text=True, timeout=20)
        assert st.stdout.startswith("HTTP/1.1 200"), "socket /healthz under load: %r" % (st.stdout + st.stderr)
    finally:
        if attacker:
            attacker.kill()
            attacker.wait()
        d.cleanup()
        try:
            os.rmdir(sockdir)
        except OSError:
            pass
