# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`joule fleet serve` on port 0 for the fleet tests, and a GET that returns error statuses as answers."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

from daemon_util import JOULE, end_process, wait_for


def http_get(url, timeout=15):
    """(status, content type, body bytes) of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


class FleetServer:
    """`joule fleet serve` on 127.0.0.1:0; the address comes from its ready file."""

    def __init__(self, prometheus_url, *args, ready_timeout=20):
        self.dir = tempfile.mkdtemp(prefix="joule-fleet-")
        ready = os.path.join(self.dir, "ready")
        self.log_path = os.path.join(self.dir, "fleet.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([JOULE, "fleet", "serve", "--prometheus", prometheus_url, "--listen",
                                      "127.0.0.1:0", "--ready-file", ready] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: os.path.exists(ready) or self.proc.poll() is not None, ready_timeout, "fleet ready file")
            assert self.proc.poll() is None, "fleet serve exited: %s" % self.output()
            with open(ready) as f:
                self.addr = f.read().strip()
            self.url = "http://" + self.addr
        except BaseException:
            self.cleanup()
            raise

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def get(self, path, timeout=30):
        return http_get(self.url + path, timeout=timeout)

    def get_json(self, path, status=200):
        st, ctype, body = self.get(path)
        assert st == status, "%s: status %d, body %r" % (path, st, body[:400])
        assert ctype.startswith("application/json"), "%s: content type %s" % (path, ctype)
        return json.loads(body)

    def cleanup(self):
        end_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
