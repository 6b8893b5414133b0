# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`joule fleet` toward a Prometheus that wants TLS, a client certificate and basic auth: Debian's Prometheus
started with --web.config.file (a CA, server and client certificates made here by openssl, a bcrypt hash from
libcrypt). The right files give Prometheus' own answer; a wrong CA, a wrong password or no client certificate are
502 with the reason. No daemon: Prometheus scrapes one target that refuses, which /api/v1/hosts shows down."""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import pytest

from daemon_util import JOULE, wait_for
from fleet_util import FleetServer
from prom_util import Prometheus, needs_prometheus
from test_http_tls import bcrypt, pki  # noqa: F401 - pki is the module fixture that makes the certificates

pytestmark = needs_prometheus

USER, PASSWORD = "fleet", "s3cret-%s" % os.urandom(4).hex()


class TlsPrometheus:
    """Prometheus on https://127.0.0.1:0 requiring a client certificate of the test CA and basic auth; it
    scrapes one target that is bound and never listens, so up{job="joule"} is 0 and the hosts answer has it."""

    def __init__(self, pki_dir):
        self.dir = tempfile.mkdtemp(prefix="joule-fleet-tls-")
        self.dead = socket.socket()
        self.dead.bind(("127.0.0.1", 0))
        self.target = "127.0.0.1:%d" % self.dead.getsockname()[1]
        self.files = {n: os.path.join(pki_dir, n) for n in ("ca.crt", "client.crt", "client.key", "rogue.crt")}
        self.password = self.write("password", PASSWORD + "\n")  # a trailing newline, as an editor leaves it
        self.wrong = self.write("wrong", "not-" + PASSWORD)
        web = self.write("web.yml", "tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                         "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: %s\n"
                         "basic_auth_users:\n  %s: %s\n" % (os.path.join(pki_dir, "server.crt"),
                                                           os.path.join(pki_dir, "server.key"),
                                                           self.files["ca.crt"], USER, bcrypt(PASSWORD)))
        try:
            self.prom = Prometheus("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: joule\n"
                                   "    static_configs:\n      - targets: ['%s']\n" % self.target,
                                   args=["--web.config.file=" + web])
        except BaseException:
            self.cleanup()
            raise
        self.url = "https://127.0.0.1:%d" % self.prom.port

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def args(self, ca="ca.crt", password=None, cert=True):
        a = ["--ca-file", self.files[ca], "--basic-auth-user", USER, "--basic-auth-password-file",
             password or self.password]
        return a + (["--cert-file", self.files["client.crt"], "--key-file", self.files["client.key"]] if cert else [])

    def own_up(self):
        """up{job="joule"} from Prometheus' own query API, asked with Python's TLS and the right credentials."""
        ctx = ssl.create_default_context(cafile=self.files["ca.crt"])
        ctx.load_cert_chain(self.files["client.crt"], self.files["client.key"])
        req = urllib.request.Request("%s/api/v1/query?%s" % (self.url, urllib.parse.urlencode({"query": 'up{job="joule"}'})))
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("%s:%s" % (USER, PASSWORD)).encode()).decode())
        with urllib.request.urlopen(req, timeout=15, context=ctx) as r:
            return json.load(r)["data"]["result"]

    def cleanup(self):
        if getattr(self, "prom", None):
            self.prom.stop()
        self.dead.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_prom(pki):  # noqa: F811 - the imported fixture
    p = TlsPrometheus(pki)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture(scope="module")
def right(tls_prom):
    """`fleet serve` with every file right, once Prometheus has scraped its target (seen through the fleet)."""
    srv = FleetServer(tls_prom.url, *tls_prom.args())
    try:
        wait_for(lambda: (lambda st_b: st_b[0] == 200 and json.loads(st_b[2])["hosts"])(srv.get("/api/v1/hosts")),
                 60, "the TLS Prometheus' target through the fleet", step=0.25)
        yield srv
    finally:
        srv.cleanup()


def error_of(tls_prom, *args):
    srv = FleetServer(tls_prom.url, *args)
    try:
        st, ctype, body = srv.get("/api/v1/hosts")
    finally:
        srv.cleanup()
    assert ctype.startswith("application/json"), "not the error shape: %s %r" % (ctype, body[:200])
    return st, json.loads(body)["error"]


def test_fleet_tls_when_ca_cert_and_password_are_right_answers_what_prometheus_answers(tls_prom, right):
    body = right.get_json("/api/v1/hosts")
    own = tls_prom.own_up()
    assert [(h["instance"], h["up"]) for h in body["hosts"]] == [(x["metric"]["instance"], x["value"][1] == "1")
                                                                 for x in own], "fleet %r, prometheus %r" % (body, own)
    assert body["hosts"][0]["instance"] == tls_prom.target and body["missing_hosts"] == [tls_prom.target], \
        "the refusing target is not shown down: %r" % body


def test_fleet_tls_when_the_ca_is_wrong_answers_502_naming_the_certificate_problem(tls_prom, right):
    st, err = error_of(tls_prom, *tls_prom.args(ca="rogue.crt"))
    assert st == 502 and err["code"] == 502, "wrong CA: %d %r" % (st, err)
    assert "TLS with prometheus failed" in err["message"] and "certificate" in err["message"], \
        "the reason is not the certificate: %r" % err


def test_fleet_tls_when_the_password_is_wrong_passes_prometheus_401_on_as_502(tls_prom, right):
    st, err = error_of(tls_prom, *tls_prom.args(password=tls_prom.wrong))
    assert st == 502 and "HTTP 401" in err["message"], "wrong password: %d %r" % (st, err)


def test_fleet_tls_when_no_client_certificate_is_given_answers_502(tls_prom, right):
    st, err = error_of(tls_prom, *tls_prom.args(cert=False))
    assert st == 502 and err["code"] == 502, "no client certificate: %d %r" % (st, err)


def test_fleet_auth_when_a_secret_file_is_empty_or_options_half_given_exits_2_naming_it(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for args, what in ((["--basic-auth-user", "u", "--basic-auth-password-file", str(empty)], str(empty)),
                       (["--basic-auth-user", "u"], "--basic-auth-password-file"),
                       (["--cert-file", str(empty)], "--key-file"),
                       (["--bearer-token-file", str(tmp_path / "none")], str(tmp_path / "none"))):
        r = subprocess.run([JOULE, "fleet", "query", "--prometheus", "https://127.0.0.1:9", *args, "/api/v1/hosts"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and what in r.stderr, "%r: rc %d, %s" % (args, r.returncode, r.stderr)


def test_fleet_serve_when_given_a_web_config_serves_tls_and_asks_for_its_password(tls_prom, right, tmp_path):
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  viewer: %s\n"
                   % (os.path.join(os.path.dirname(tls_prom.files["ca.crt"]), "server.crt"),
                      os.path.join(os.path.dirname(tls_prom.files["ca.crt"]), "server.key"), bcrypt("v1ew")))
    srv = FleetServer(tls_prom.url, *tls_prom.args(), "--web-config-file", str(web))
    ctx = ssl.create_default_context(cafile=tls_prom.files["ca.crt"])

    def get(auth):
        req = urllib.request.Request("https://%s/api/v1/hosts" % srv.addr)
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=15, context=ctx) as r:
                return r.status, r.headers.get("WWW-Authenticate"), json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("WWW-Authenticate"), json.load(e)
    try:
        st, _, body = get("viewer:v1ew")
        assert st == 200 and body == right.get_json("/api/v1/hosts"), "over TLS with the password: %d %r" % (st, body)
        for auth in (None, "viewer:wrong"):
            st, challenge, body = get(auth)
            assert st == 401 and body["error"]["code"] == 401, "%r: %d %r" % (auth, st, body)
            assert challenge and challenge.startswith("Basic"), "%r: no Basic challenge (%r)" % (auth, challenge)
    finally:
        srv.cleanup()
