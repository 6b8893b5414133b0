# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Helpers for the daemon tests: start the real `joule daemon` on port 0, talk HTTP with the stdlib, check JSON against the daemon's own OpenAPI schemas."""
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("JOULE_BUILD") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../../build"))
JOULE = os.path.join(BUILD, "joule")
FAKE_RAPL = os.path.join(BUILD, "fake-rapl")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def wait_for(pred, timeout, what, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def end_process(proc, timeout=20):
    """SIGTERM proc if it still runs and reap it; SIGKILL after timeout s. Its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def token_file(directory, token):
    """The API token in directory/token, mode 0600 as the daemon requires; its path."""
    path = os.path.join(str(directory), "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path


def log_text(log, path):
    """What a child wrote so far to its log (an open file, flushed first) at path."""
    log.flush()
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def unix_request(path, target, timeout=10):
    """GET target over the Unix socket at path; the whole answer (head and body) as bytes."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: joule\r\nConnection: close\r\n\r\n" % target.encode())
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b


class Daemon:
    """The real binary on 127.0.0.1:0; the address comes from --ready-file."""

    def __init__(self, *args, env=None, socket_path="", workdir=None, ready_timeout=60):
        self.dir = workdir or tempfile.mkdtemp(prefix="joule-daemon-")
        self.ready_file = os.path.join(self.dir, "ready")
        self.log_path = os.path.join(self.dir, "daemon.log")
        cmd = [JOULE, "daemon", "--listen", "127.0.0.1:0", "--socket", socket_path,
               "--ready-file", self.ready_file] + list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))
        try:
            wait_for(lambda: os.path.exists(self.ready_file) or self.proc.poll() is not None,
                     ready_timeout, "the ready file")
            assert self.proc.poll() is None, "daemon exited early: %s" % self.output()
            with open(self.ready_file) as f:
                self.addr = f.read().strip()
            self.host, port = self.addr.rsplit(":", 1)
            self.port = int(port)
        except BaseException:
            self.stop()
            raise

    def output(self):
        return log_text(self.log, self.log_path)

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def get_json(self, path, status=200):
        st, hdr, body = self.get(path)
        assert st == status, "%s: status %d, body %r" % (path, st, body[:300])
        assert hdr["content-type"].startswith("application/json"), "%s: content type %s" % (path, hdr["content-type"])
        return json.loads(body)

    def wait_ready(self, timeout=60):  # a deadline for a busy machine; polls, so a quiet one waits no longer
        wait_for(lambda: self.get("/readyz")[0] == 200, timeout, "/readyz 200")

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("daemon did not exit within %ds of %s" % (timeout, sig))
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def metrics_text(d, gz=False):
    st, hdr, body = d.get("/metrics", headers={"Accept-Encoding": "gzip"} if gz else {})
    assert st == 200, "/metrics status %d" % st
    if gz:
        assert hdr.get("content-encoding") == "gzip", "/metrics not gzip-encoded although accepted"
        body = gzip.decompress(body)
    return body.decode()


# ---- a small JSON Schema (OpenAPI 3 subset) checker: type, required, properties, items, enum, minimum, $ref

def _resolve(schema, root):
    while "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def check_schema(value, schema, root, path="$"):
    """Return a list of violations (empty: value conforms)."""
    s = _resolve(schema, root)
    errs = []
    t = s.get("type")
    ok = {
        None: True,
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool)
        or (isinstance(value, float) and value.is_integer()),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[t]
    if not ok:
        return ["%s: expected %s, got %r" % (path, t, value)]
    if "enum" in s and value not in s["enum"]:
        errs.append("%s: %r not in %r" % (path, value, s["enum"]))
    if "minimum" in s and isinstance(value, (int, float)) and value < s["minimum"]:
        errs.append("%s: %r below minimum %r" % (path, value, s["minimum"]))
    if t == "object":
        for k in s.get("required", []):
            if k not in value:
                errs.append("%s: missing required %s" % (path, k))
        props = s.get("properties", {})
        extra = s.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                errs += check_schema(v, props[k], root, path + "." + k)
            elif isinstance(extra, dict):
                errs += check_schema(v, extra, root, path + "." + k)
            elif props:
                errs.append("%s: member %s not in the schema" % (path, k))
    if t == "array" and "items" in s:
        for i, v in enumerate(value):
            errs += check_schema(v, s["items"], root, "%s[%d]" % (path, i))
    return errs


def response_schema(spec, path, method="get", status="200"):
    op = spec["paths"][path][method]
    resp = _resolve(op["responses"][status], spec)
    return resp["content"]["application/json"]["schema"]
