# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The live page in a real browser: Debian's chromium, headless, driven over the DevTools protocol (a small stdlib
websocket client below), loads / from a daemon on a fake RAPL tree, draws its charts with the expected series,
logs no console error or CSP violation, and leaves a screenshot in the test's tmp dir. Plus the page's headers."""
import base64
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import urllib.parse

import pytest

from conftest import FakeRapl
from daemon_util import Daemon, end_process, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CSP = ("default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:")
ASSETS = ("/", "/app.js", "/app.css", "/palette.js", "/vendor/uplot/uPlot.iife.min.js",
          "/vendor/uplot/uPlot.min.css", "/vendor/uplot/LICENSE")


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: text frames out (masked), text frames in."""

    def __init__(self, url, timeout=60):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (u.path, u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "the DevTools websocket closed during the handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), "websocket handshake refused: %r" % head[:80]
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "the DevTools websocket closed"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = struct.pack("!B", 0x81)
        if n < 126:
            head += struct.pack("!B", 0x80 | n)
        elif n < 65536:
            head += struct.pack("!BH", 0x80 | 126, n)
        else:
            head += struct.pack("!BQ", 0x80 | 127, n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0f
            if op == 8:
                raise AssertionError("the DevTools websocket was closed by the browser")
            if op in (9, 10):  # ping, pong: chromium does not send them unasked
                continue
            msg += payload
            if b0 & 0x80:
                return msg.decode()

    def close(self):
        self.sock.close()


class Browser:
    """chromium --headless=new with one page target; events are kept for the console checks."""

    def __init__(self, workdir):
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
             "--disable-component-update", "--disable-sync", "--disable-breakpad", "--mute-audio",
             "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             "--user-data-dir=" + self.profile, "--window-size=1280,2400", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = os.path.join(self.profile, "DevToolsActivePort")
            wait_for(lambda: os.path.exists(port_file) and open(port_file).read().count("\n") >= 1
                     or self.proc.poll() is not None, 60, "chromium's DevToolsActivePort", step=0.1)
            assert self.proc.poll() is None, "chromium exited at start (status %s)" % self.proc.returncode
            port = int(open(port_file).read().split()[0])
            targets = wait_for(lambda: [t for t in self._list(port) if t.get("type") == "page"], 10, "a page target")
            self.ws = WebSocket(targets[0]["webSocketDebuggerUrl"])
        except BaseException:
            self.stop()
            raise
        self.next_id = 0
        self.events = []
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(m)

    @staticmethod
    def _list(port):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/json/list")
            return json.loads(c.getresponse().read())
        except OSError:
            return []
        finally:
            c.close()

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                assert "error" not in m, "%s failed: %s" % (method, m["error"])
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        assert "exceptionDetails" not in r, "evaluating %s threw: %s" % (expr, r["exceptionDetails"])
        return r["result"].get("value")

    def problems(self):
        """Console errors, uncaught exceptions and browser log errors (CSP violations among them)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.%s: %s" % (p["type"], [a.get("value", a.get("description")) for a in p["args"]]))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: %s" % p["exceptionDetails"].get("exception", {}).get("description"))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append("log: %s %s" % (p["entry"].get("text"), p["entry"].get("url", "")))
        return out

    def stop(self):
        if getattr(self, "ws", None):
            self.ws.close()
        end_process(self.proc, timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


# A process of this run's own name, busy a fifth of the time: the page must show it among the top processes
# however busy the shared machine is (--filter gives it its own series; --top-n 1 keeps the others few).
WORKLOAD = """
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
while True:
    t = time.monotonic()
    while time.monotonic() - t < 0.02:
        pass
    time.sleep(0.08)
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    work = tmp_path_factory.mktemp("page")
    comm = "jpage%d" % (os.getpid() % 1000000)
    fr = FakeRapl(work / "rapl")
    busy = subprocess.Popen(["/usr/bin/python3", "-c", WORKLOAD, comm])
    d = None
    try:
        d = Daemon("--source", "powercap", "--powercap-root", fr.root, "--top-n", "1", "--filter", comm,
                   socket_path=str(work / "joule.sock"), workdir=str(work))
        d.wait_ready()
        d.comm = comm
        yield d
    finally:
        if d:
            d.cleanup()
        busy.kill()
        busy.wait()
        fr.stop()


@pytest.fixture(scope="module")
def page(daemon, tmp_path_factory):
    """The page loaded once, its first data drawn; the screenshot is saved under the module's tmp dir."""
    if not CHROMIUM:
        pytest.skip("chromium is not installed (tools/deps.sh test installs it): the browser tests need it")
    out = tmp_path_factory.mktemp("page-shot")
    b = Browser(str(out))
    try:
        b.call("Page.navigate", url="http://%s/" % daemon.addr)

        def drawn():
            s = b.evaluate("window.joule ? JSON.stringify(window.joule.summary()) : ''")
            if not s:
                return None
            s = json.loads(s)
            c = s["charts"]
            ok = (s["samples"] >= 3 and s["rows"] > 0 and s["loaded"].get("card") and
                  all(k in c for k in ("chart-host", "chart-groups", "chart-procs", "chart-carbon")) and
                  c["chart-host"]["points"] > 0)
            return s if ok else None

        try:
            summary = wait_for(drawn, 45, "the page's charts, stream samples and process table", step=0.25)
        except AssertionError as e:
            b.evaluate("1")
            raise AssertionError("%s: %s; console: %s" % (
                e, b.evaluate("window.joule ? JSON.stringify(window.joule.summary()) : 'no app.js'"), b.problems()))
        shot = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path = out / "page.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        print("screenshot: %s" % path)
        yield b, summary, path
    finally:
        b.stop()


def test_page_files_when_fetched_have_strict_csp_and_no_sniffing(daemon):
    for path in ASSETS:
        st, hdr, body = daemon.get(path)
        assert st == 200 and body, "%s: status %d, %d bytes" % (path, st, len(body))
        csp = hdr.get("content-security-policy", "")
        for directive in CSP:
            assert directive in csp, "%s: CSP %r lacks %r" % (path, csp, directive)
        assert hdr.get("x-content-type-options") == "nosniff", "%s: no nosniff" % path


def test_page_index_when_fetched_has_no_inline_script_or_style(daemon):
    st, hdr, body = daemon.get("/")
    html = body.decode()
    assert hdr["content-type"].startswith("text/html"), hdr["content-type"]
    assert "<style" not in html and " style=" not in html, "inline style in index.html"
    for tag in html.split("<script")[1:]:
        assert tag.split(">", 1)[0].count(" src=") == 1, "a script without src: <script%s" % tag[:60]
        assert tag.split(">", 1)[1].startswith("</script>"), "inline script body: <script%s" % tag[:80]


def test_page_files_when_written_to_are_refused_with_allow(daemon):
    for method in ("POST", "PUT", "DELETE"):
        st, hdr, _ = daemon.request(method, "/app.js", body=b"x")
        assert st == 405, "%s /app.js: status %d" % (method, st)
        assert hdr.get("allow") == "GET, HEAD", "%s /app.js: Allow %r" % (method, hdr.get("allow"))


def test_page_when_served_on_the_unix_socket_is_the_same_page(daemon):
    sock = os.path.join(daemon.dir, "joule.sock")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(b"GET /app.js HTTP/1.1\r\nHost: joule\r\nConnection: close\r\n\r\n")
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    finally:
        s.close()
    head, body = resp.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), "socket GET /app.js: %r" % head[:40]
    assert b"content-security-policy: default-src 'none'" in head.lower(), "no CSP on the socket"
    assert body == daemon.get("/app.js")[2], "the socket serves another app.js than TCP"


def test_page_when_loaded_in_chromium_draws_every_chart_with_its_series(page, daemon):
    b, s, _ = page
    page_comm = daemon.comm
    c = s["charts"]
    assert c["chart-host"]["series"] == ["host", "CPU (package)", "memory (DRAM)"], c["chart-host"]
    assert c["chart-carbon"]["series"] == ["carbon rate"], c["chart-carbon"]
    # stacked charts list the top of the stack first: rest, then the largest last
    groups = c["chart-groups"]["series"]
    assert groups[0].startswith("rest") and len(groups) >= 2, "groups chart: %s" % groups
    procs = c["chart-procs"]["series"]
    assert procs[0].startswith("rest") and len(procs) >= 2, "top processes chart: %s" % procs
    assert any(p.startswith(page_comm + " [") for p in procs), "%s not among the top processes: %s" % (
        page_comm, procs)


def test_page_when_loaded_in_chromium_shows_source_intensity_and_table(page):
    b, s, _ = page
    assert b.evaluate("document.getElementById('source-name').textContent") == "powercap", "source card"
    words = b.evaluate("document.getElementById('source-words').textContent")
    assert words.startswith("measured"), "source in words: %r" % words
    assert "g CO2e/kWh" in b.evaluate("document.getElementById('carbon-intensity').textContent"), "intensity"
    assert b.evaluate("document.querySelectorAll('#procs tbody tr').length") > 0, "empty process table"


def test_page_when_loaded_in_chromium_colours_names_as_plot_svg_does(page):
    b, _, _ = page
    # plot_svg.c's FNV-1a over the same bytes (tests/unit/test_plot_svg.c pins these values)
    assert b.evaluate("window.joule.nameHash('foobar')") == 0xbf9cf968, "app.js hashes names differently"
    assert b.evaluate("window.joule.nameHash('a')") == 0xe40c292c, "app.js hashes names differently"


def test_page_when_loaded_in_chromium_logs_no_error(page):
    b, s, path = page
    b.evaluate("1")  # collect the events queued since the last call
    assert not s["errors"], "the page reported: %s" % s["errors"]
    assert not b.problems(), "console: %s" % b.problems()
    assert path.stat().st_size > 10000, "screenshot %s is suspiciously small" % path


def test_page_when_sorted_by_power_orders_rows_by_power(page):
    b, _, _ = page
    b.evaluate("document.querySelector('.sort[data-sort=power]').click()")
    assert b.evaluate("document.querySelector('.sort.on').dataset.sort") == "power", "sort button not on"
    b.evaluate("document.querySelector('.sort[data-sort=energy]').click()")
    cells = b.evaluate("[...document.querySelectorAll('#procs tbody tr td:nth-child(4)')].map(t => +t.textContent)")
    assert cells == sorted(cells, reverse=True), "rows not by energy: %s" % cells
