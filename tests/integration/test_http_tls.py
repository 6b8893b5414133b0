# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--web-config-file (exporter-toolkit format): TLS with a CA the test makes, basic auth with bcrypt, client certificates; curl and a real Prometheus scraping over TLS."""
import ctypes
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from prom_util import Prometheus, needs_prometheus, promql_safe, scrape_job
from daemon_util import JOULE, REPO, Daemon, wait_for

pytestmark = pytest.mark.root

PASSWORD = "s3cret-scrape"


def bcrypt(password):
    """A $2b$ hash from libcrypt (libxcrypt: what the daemon's crypt_r checks against)."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.restype = ctypes.c_char_p
    salt = lib.crypt_gensalt(b"$2b$", 5, None, 0)
    return lib.crypt(password.encode(), salt).decode()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki():
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all made here."""
    d = tempfile.mkdtemp(prefix="joule-pki-")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=joule test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + name,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt", cwd=d)
    # a second CA whose client certificate must be refused
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=someone else", "-keyout", "rogue.key", "-out", "rogue.crt", cwd=d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def web_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def curl(d, path, *args):
    """(HTTP status or 0 when no HTTP answer, body) over https://127.0.0.1:port."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *args,
                        "https://%s%s" % (d.addr, path)], capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


@pytest.fixture(scope="module")
def tls_daemon(pki, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    # relative paths: resolved against the web config's directory, as the exporter-toolkit does
    for f in ("server.crt", "server.key"):
        shutil.copy(os.path.join(pki, f), tmp / f)
    cfg = web_config(str(tmp / "web.yml"), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                           "basic_auth_users:\n  prom: %s\n" % bcrypt(PASSWORD))
    d = Daemon("--source", "model", "--web-config-file", cfg, workdir=str(tmp))
    yield d
    d.cleanup()


def test_tls_when_password_right_serves_metrics(tls_daemon, pki):
    st, body = curl(tls_daemon, "/metrics", "--cacert", os.path.join(pki, "ca.crt"), "-u", "prom:" + PASSWORD)
    assert st == 200 and "joule_" in body, "status %d: %s" % (st, body[:200])


@pytest.mark.parametrize("auth", [[], ["-u", "prom:wrong"], ["-u", "nobody:" + PASSWORD]])
def test_tls_when_password_missing_or_wrong_gives_401_with_basic_challenge(tls_daemon, pki, auth):
    st, body = curl(tls_daemon, "/metrics", "--cacert", os.path.join(pki, "ca.crt"), "-D", "/dev/stderr", *auth)
    assert st == 401, "status %d for %r" % (st, auth)
    assert json.loads(body)["error"]["code"] == 401, "not the JSON error shape: %r" % body[:200]


def test_tls_when_client_speaks_plain_http_gets_no_answer(tls_daemon):
    st, hdr, body = (0, None, b"")
    try:
        st, hdr, body = tls_daemon.get("/metrics", timeout=5)
    except Exception:
        pass
    assert st != 200, "plain HTTP served on a TLS listener"


def test_tls_when_authenticated_process_detail_is_full(tls_daemon, pki):
    st, body = curl(tls_daemon, "/api/v1/processes/%d" % tls_daemon.proc.pid, "--cacert",
                    os.path.join(pki, "ca.crt"), "-u", "prom:" + PASSWORD)
    assert st == 200, "status %d: %s" % (st, body[:200])
    assert json.loads(body).get("exe", "").endswith("/joule"), "an authenticated user lacks exe: %s" % body[:300]


def test_client_cert_when_required_refuses_others(pki, tmp_path):
    cfg = web_config(str(tmp_path / "web.yml"),
                     "tls_server_config:\n  cert_file: %s/server.crt\n  key_file: %s/server.key\n"
                     "  client_ca_file: %s/ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n" % (pki, pki, pki))
    d = Daemon("--source", "model", "--web-config-file", cfg, workdir=str(tmp_path))
    try:
        ca = ["--cacert", os.path.join(pki, "ca.crt")]
        st, _ = curl(d, "/healthz", *ca)
        assert st in (0, 403), "no client certificate: status %d" % st
        st, _ = curl(d, "/healthz", *ca, "--cert", os.path.join(pki, "rogue.crt"), "--key",
                     os.path.join(pki, "rogue.key"))
        assert st in (0, 403), "a certificate from another CA: status %d" % st
        st, body = curl(d, "/healthz", *ca, "--cert", os.path.join(pki, "client.crt"), "--key",
                        os.path.join(pki, "client.key"))
        assert st == 200, "the CA's client certificate refused: %d %s" % (st, body[:200])
    finally:
        d.cleanup()


# Each way a web config is refused and its message: the table in tests/unit/test_http_webcfg.c. Here the daemon
# is started once with one of them: it exits 1 and its message names the file and the problem.
def test_web_config_when_invalid_exits_1_naming_the_problem(tmp_path):
    text, what = "tls_server_config:\n  cert_file: a\n  key_file: b\n  bogus: 1\n", "unknown key 'bogus'"
    cfg = web_config(str(tmp_path / "web.yml"), text)
    r = subprocess.run([JOULE, "daemon", "--source", "model", "--listen", "127.0.0.1:0", "--socket", "",
                        "--web-config-file", cfg], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, "exit %d: %s" % (r.returncode, r.stderr)
    assert what in r.stderr and cfg in r.stderr, "error does not name the file and %r: %s" % (what, r.stderr)


@needs_prometheus
def test_prometheus_when_scraping_over_tls_with_basic_auth_sees_up(tls_daemon, pki, tmp_path):
    pw = tmp_path / "password"
    pw.write_text(PASSWORD)
    prom = Prometheus(scrape_job(tls_daemon.addr, extra="    scheme: https\n    tls_config:\n      ca_file: %s\n"
                                 "    basic_auth:\n      username: prom\n      password_file: %s\n"
                                 % (os.path.join(pki, "ca.crt"), pw)))
    try:
        prom.wait_up(60, "up == 1 over TLS with basic auth")
        n = wait_for(lambda: promql_safe(prom.port, 'scrape_samples_scraped{job="joule"}'), 10, "samples scraped")
        assert float(n[0]["value"][1]) > 20, "too few samples scraped over TLS: %r" % n
    finally:
        prom.stop()


def test_shipped_web_config_when_its_files_exist_serves_tls_with_its_user(pki, tmp_path):
    shutil.copy(os.path.join(REPO, "dist/web-config.yml"), tmp_path / "web-config.yml")
    shutil.copy(os.path.join(pki, "server.crt"), tmp_path / "joule.crt")
    shutil.copy(os.path.join(pki, "server.key"), tmp_path / "joule.key")
    d = Daemon("--source", "model", "--web-config-file", str(tmp_path / "web-config.yml"), workdir=str(tmp_path))
    try:
        st, body = curl(d, "/healthz", "--cacert", os.path.join(pki, "ca.crt"), "-u", "prometheus:example")
        assert st == 200, "the documented example user refused: %d %s" % (st, body[:200])
    finally:
        d.cleanup()
