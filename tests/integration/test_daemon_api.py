# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The daemon's HTTP API against the real binary: every endpoint vs its OpenAPI schema, /metrics through promtool, malformed requests."""
import json
import socket
import subprocess
import time

import pytest

from daemon_util import Daemon, check_schema, metrics_text, response_schema, token_file, wait_for

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    tok = token_file(tmp, TOKEN)
    d = Daemon("--source", "model", "--api-token-file", tok, "--top-n", "5", "--filter", "sleep",
               workdir=str(tmp))
    # a process to find by comm; it lives for the whole module
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        d.wait_ready()
        yield d
    finally:
        sleeper.kill()
        sleeper.wait()
        d.cleanup()


@pytest.fixture(scope="module")
def spec(daemon):
    return daemon.get_json("/api/v1/openapi.json")


def conforms(value, schema, spec):
    errs = check_schema(value, schema, spec)
    assert not errs, "schema violations: %s" % errs[:5]


def test_openapi_when_fetched_lists_every_endpoint(spec):
    want = {"/metrics", "/healthz", "/readyz", "/api/v1/host", "/api/v1/processes", "/api/v1/processes/{pid}",
            "/api/v1/apps", "/api/v1/energy", "/api/v1/samples.csv", "/api/v1/stream", "/api/v1/intensity",
            "/api/v1/openapi.json"}
    assert want <= set(spec["paths"]), "openapi.json lacks %s" % (want - set(spec["paths"]))


def test_healthz_and_readyz_when_sampling_answer_ok(daemon, spec):
    conforms(daemon.get_json("/healthz"), response_schema(spec, "/healthz"), spec)
    body = daemon.get_json("/readyz")
    assert body == {"status": "ready"}, "readyz body %r" % body


def test_host_when_sampling_matches_schema_and_counts_up(daemon, spec):
    a = daemon.get_json("/api/v1/host")
    conforms(a, response_schema(spec, "/api/v1/host"), spec)
    assert a["source"] == "model", "source %r" % a["source"]
    time.sleep(0.5)
    b = daemon.get_json("/api/v1/host")
    assert b["samples"] > a["samples"], "samples did not advance: %d -> %d" % (a["samples"], b["samples"])
    assert b["totals"]["energy_uj"] > a["totals"]["energy_uj"], "host energy did not grow"


def test_processes_when_filtered_by_comm_returns_only_that_comm(daemon, spec):
    body = wait_for(lambda: (lambda j: j if j["processes"] else None)(
        daemon.get_json("/api/v1/processes?comm=joule&sort=cpu&limit=5")), 5, "joule in /processes")
    conforms(body, response_schema(spec, "/api/v1/processes"), spec)
    assert all(p["comm"] == "joule" for p in body["processes"]), "comm filter leaked other processes"
    assert len(body["processes"]) <= 5, "limit not applied"


def test_processes_when_sorted_by_energy_are_descending(daemon):
    body = daemon.get_json("/api/v1/processes?sort=energy&limit=50")
    e = [p["energy_uj"] for p in body["processes"]]
    assert e == sorted(e, reverse=True), "not sorted by energy: %r" % e[:10]


def test_process_by_pid_when_known_matches_schema(daemon, spec):
    pid = daemon.proc.pid
    body = wait_for(lambda: (lambda r: json.loads(r[2]) if r[0] == 200 else None)(
        daemon.get("/api/v1/processes/%d" % pid)), 5, "the daemon's own pid")
    conforms(body, response_schema(spec, "/api/v1/processes/{pid}"), spec)
    assert body["pid"] == pid and body["comm"] == "joule", "wrong process %r" % body
    # TCP without authentication shows no more than /proc shows any user: no exe link, no cmdline (issue 18)
    assert "exe" not in body and "cmdline" not in body, "TCP disclosed exe/cmdline: %r" % body


def test_apps_when_listed_match_schema(daemon, spec):
    body = daemon.get_json("/api/v1/apps?limit=10")
    conforms(body, response_schema(spec, "/api/v1/apps"), spec)
    assert 0 < len(body["apps"]) <= 10, "apps count %d" % len(body["apps"])


def test_energy_when_host_window_is_stepped_has_one_point_per_step(daemon, spec):
    body = daemon.get_json("/api/v1/energy?window=1m&step=10s")
    conforms(body, response_schema(spec, "/api/v1/energy"), spec)
    assert len(body["time_points"]) == 6, "6 steps expected, got %d" % len(body["time_points"])
    assert body["totals"]["energy_consumed"] > 0, "no energy in the last minute"
    for k in ("carbon_operational", "carbon_embodied"):
        assert abs(body["totals"][k] + 0) >= 0, k
    em = body["totals"]["carbon_emitted"]
    parts = body["totals"]["carbon_operational"] + body["totals"]["carbon_embodied"]
    assert abs(em - parts) < 1e-6, "emitted %r != operational + embodied %r" % (em, parts)


def test_energy_when_breakdown_for_group_lists_processes(daemon, spec):
    body = daemon.get_json("/api/v1/energy?group=joule&window=3h&step=1h&breakdown=true")
    conforms(body, response_schema(spec, "/api/v1/energy"), spec)
    assert len(body["time_points"]) == 3, "3 steps expected"
    assert "processes" in body, "breakdown=true gave no processes"


def test_samples_csv_when_limited_has_header_and_rows(daemon):
    st, hdr, body = daemon.get("/api/v1/samples.csv?limit=5")
    lines = body.decode().splitlines()
    assert st == 200 and hdr["content-type"].startswith("text/csv"), "status %d type %s" % (st, hdr["content-type"])
    assert lines[0].startswith("seq,time,interval_ns,source,"), "header %r" % lines[0]
    assert len(lines) == 6, "5 rows expected, got %d" % (len(lines) - 1)
    seqs = [int(l.split(",")[0]) for l in lines[1:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5, "rows not consecutive samples: %r" % seqs


def test_stream_when_followed_gives_one_event_per_sample(daemon):
    s = socket.create_connection((daemon.host, daemon.port), timeout=5)
    s.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    end = time.monotonic() + 5
    while buf.count(b"event: sample") < 5 and time.monotonic() < end:
        buf += s.recv(65536)
    s.close()
    assert b"text/event-stream" in buf, "not an event stream: %r" % buf[:200]
    ids = [int(l.split(b":")[1]) for l in buf.split(b"\n") if l.startswith(b"id: ")]
    assert len(ids) >= 5, "fewer than 5 events in 5 s: %r" % buf[:300]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "events skip or repeat samples: %r" % ids


def test_intensity_put_when_token_is_right_changes_intensity_in_use(daemon, spec):
    st, _, body = daemon.request("PUT", "/api/v1/intensity", body=b'{"g_per_kwh": 123.5}',
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    assert st == 200, "PUT status %d %r" % (st, body)
    conforms(json.loads(body), response_schema(spec, "/api/v1/intensity", "put"), spec)
    host = daemon.get_json("/api/v1/host")
    assert host["intensity"]["kind"] == "pushed" and host["intensity"]["g_per_kwh"] == 123.5, \
        "pushed intensity not in use: %r" % host["intensity"]


def test_metrics_when_checked_by_promtool_has_no_errors_or_warnings(daemon):
    text = metrics_text(daemon)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0 and not out.strip(), "promtool: %s" % out
    for name in ("joule_process_cpu_seconds_total", "joule_process_energy_joules_total",
                 "joule_process_carbon_grams_total", "joule_host_energy_joules_total",
                 "joule_idle_energy_joules_total", "joule_grid_intensity_grams_per_kwh", "joule_build_info",
                 "joule_self_samples_total", "joule_self_tick_jitter_seconds_bucket",
                 "joule_self_scrape_duration_seconds"):
        assert "\n" + name in text, "%s missing from /metrics" % name
    assert 'joule_process_energy_joules_total{pid="' in text and 'comm="sleep"' in text, \
        "the filtered comm has no per-process series"


def test_metrics_when_gzip_accepted_is_compressed_and_identical_in_shape(daemon):
    plain = metrics_text(daemon)
    z = metrics_text(daemon, gz=True)
    names = lambda t: {l.split("{")[0].split(" ")[0] for l in t.splitlines() if l and not l.startswith("#")}
    assert names(plain) == names(z), "gzip and plain expose different families"


# ---- malformed requests: (method, path, body, headers, expected status)
def malformed():
    auth = {"Authorization": "Bearer " + TOKEN}
    cases = []
    for q in ("limit=0", "limit=-1", "limit=abc", "limit=1001", "limit=99999999999999999999", "limit=",
              "limit=1.5", "sort=foo", "sort=", "comm=", "comm=aaaaaaaaaaaaaaaaaaaaaa", "unknown=1", "group="):
        cases.append(("GET", "/api/v1/processes?" + q, None, {}, 400))
    for q in ("window=-1h", "window=0", "window=abc", "window=8d", "window=1.5s", "step=0", "window=1m&step=7s",
              "window=1h&step=2h", "window=2h&step=1s", "breakdown=maybe", "window=100000000000000000000s",
              "limit=5", "group=no-such-group-xyz&window=3h&step=1h"):
        cases.append(("GET", "/api/v1/energy?" + q, None, {}, 404 if "no-such" in q else 400))
    for q in ("limit=601", "limit=0", "limit=x"):
        cases.append(("GET", "/api/v1/samples.csv?" + q, None, {}, 400))
    cases += [("GET", "/api/v1/apps?limit=abc", None, {}, 400), ("GET", "/api/v1/apps?sort=energy", None, {}, 400),
              ("GET", "/metrics?x=1", None, {}, 400), ("GET", "/healthz?verbose", None, {}, 400)]
    for p in ("/api", "/api/v1", "/api/v1/", "/api/v1/processes/0", "/api/v1/processes/abc",
              "/api/v1/processes/-1", "/api/v1/processes/4194305", "/api/v2/host", "/metrics/", "/api/v1/host/x",
              "/../etc/passwd", "/api/v1/processes/1x"):
        cases.append(("GET", p, None, {}, 404))
    for m, p, allow in (("POST", "/metrics", "GET"), ("DELETE", "/api/v1/host", "GET"),
                        ("PUT", "/api/v1/processes", "GET"), ("GET", "/api/v1/intensity", "PUT"),
                        ("POST", "/api/v1/intensity", "PUT"), ("PATCH", "/healthz", "GET")):
        cases.append((m, p, None, {"_allow": allow}, 405))
    put = "/api/v1/intensity"
    cases += [("PUT", put, b'{"g_per_kwh":1}', {}, 401),
              ("PUT", put, b'{"g_per_kwh":1}', {"Authorization": "Bearer wrong"}, 401),
              ("PUT", put, b'{"g_per_kwh":1}', {"Authorization": "Bearer " + TOKEN + "x"}, 401),
              ("PUT", put, b'{"g_per_kwh":1}', {"Authorization": "Basic " + TOKEN}, 401),
              ("PUT", put, b"x" * 4096, auth, 413),
              ("PUT", put, b"not json", auth, 400),
              ("PUT", put, b'{"g_per_kwh":-5}', auth, 400),
              ("PUT", put, b'{"g_per_kwh":"x"}', auth, 400),
              ("PUT", put, b'{"foo":1}', auth, 400),
              ("PUT", put, b"[]", auth, 400),
              ("PUT", put, b"", auth, 400)]
    return cases


def test_malformed_requests_when_sent_each_get_the_right_4xx_and_daemon_keeps_serving(daemon):
    cases = malformed()
    assert len(cases) >= 40, "only %d malformed cases" % len(cases)
    wrong = []
    for m, p, body, hdr, want in cases:
        allow = hdr.pop("_allow", None) if hdr else None
        st, rh, data = daemon.request(m, p, body=body, headers=hdr)
        if st != want:
            wrong.append("%s %s -> %d (want %d) %r" % (m, p, st, want, data[:120]))
            continue
        err = json.loads(data)["error"]
        if err["code"] != want or not err["message"]:
            wrong.append("%s %s: error body %r" % (m, p, err))
        if allow and allow not in rh.get("allow", ""):
            wrong.append("%s %s: Allow %r, want %s" % (m, p, rh.get("allow"), allow))
    assert not wrong, "%d of %d wrong:\n%s" % (len(wrong), len(cases), "\n".join(wrong))
    assert daemon.get("/healthz")[0] == 200, "daemon stopped serving after malformed requests"


def test_chunked_body_when_oversized_gets_413(daemon):
    s = socket.create_connection((daemon.host, daemon.port), timeout=5)
    chunk = b"x" * 1000
    req = (b"PUT /api/v1/intensity HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
           b"\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"3e8\r\n" + chunk + b"\r\n") * 3 + b"0\r\n\r\n")
    s.sendall(req)
    resp = s.recv(4096)
    s.close()
    assert resp.startswith(b"HTTP/1.1 413"), "chunked oversized body: %r" % resp[:100]


def test_raw_garbage_when_sent_is_refused_and_daemon_keeps_serving(daemon):
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " +
                b"a" * 40000 + b"\r\n\r\n", b"\x00\x01\x02\r\n\r\n"):
        # a request line libmicrohttpd cannot even start to parse is left to the 10 s connection timeout
        s = socket.create_connection((daemon.host, daemon.port), timeout=1)
        try:
            s.sendall(raw)
            resp = s.recv(200)
        except (ConnectionResetError, BrokenPipeError, TimeoutError, socket.timeout):
            resp = b""
        assert daemon.get("/healthz", timeout=2)[0] == 200, "not serving while %r is pending" % raw[:20]
        s.close()
        assert resp == b"" or resp[9:10] in (b"4", b"5"), "garbage %r answered %r" % (raw[:20], resp[:40])
    assert daemon.get("/healthz")[0] == 200, "daemon stopped serving after garbage"


# How much longer than on a quiet machine a wait may take before it is a failure.
LOAD_SLACK = 3


def open_stream(daemon):
    """A raw stream connection; returns (socket, first bytes received)."""
    s = socket.create_connection((daemon.host, daemon.port), timeout=5)
    s.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return s, buf


def test_stream_when_cap_reached_extra_gets_503_and_metrics_still_answers(daemon):
    cap = 8
    streams = []
    try:
        # earlier tests' streams may take a moment to be noticed closed
        def first_ok():
            s, head = open_stream(daemon)
            if head.startswith(b"HTTP/1.1 200"):
                streams.append(s)
                return True
            s.close()
            return False
        wait_for(first_ok, 5, "a first stream")
        for i in range(cap - 1):
            s, head = open_stream(daemon)
            streams.append(s)
            assert head.startswith(b"HTTP/1.1 200"), "stream %d refused: %r" % (i + 2, head[:100])
        st, hdr, body = daemon.get("/api/v1/stream")
        assert st == 503, "stream %d: status %d" % (cap + 1, st)
        assert hdr.get("retry-after") == "10", "no Retry-After on the refused stream: %r" % hdr
        assert json.loads(body)["error"]["code"] == 503, "error body %r" % body
        for _ in range(3):
            assert metrics_text(daemon).startswith("# HELP"), "/metrics not answered with the streams open"
    finally:
        for s in streams:
            s.close()
    wait_for(lambda: open_stream(daemon)[1].startswith(b"HTTP/1.1 200"), 5, "a stream after the others closed")


def test_stream_when_followed_gets_a_keep_alive_within_15s(daemon):
    # The contract is one keep-alive every 10 s; a busy machine may delay the
    # heartbeat thread, so the wait polls (a quiet 5 s is no failure) up to a
    # deadline with room for that.
    # earlier tests' streams may take a moment to be noticed closed (the cap is 8): retry a 503
    end = time.monotonic() + 10 * LOAD_SLACK
    while True:
        s, buf = open_stream(daemon)
        if buf.startswith(b"HTTP/1.1 200") or time.monotonic() > end:
            break
        s.close()
        time.sleep(0.5)
    assert buf.startswith(b"HTTP/1.1 200"), "the stream was refused: %r" % buf[:200]
    end = time.monotonic() + 15 * LOAD_SLACK
    try:
        while b"\n: keep-alive\n" not in buf and time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    assert b"\n: keep-alive\n" in buf, "no keep-alive comment within %d s" % (15 * LOAD_SLACK)


def test_intensity_put_when_member_duplicated_gets_400_naming_it(daemon):
    st, _, body = daemon.request("PUT", "/api/v1/intensity", body=b'{"g_per_kwh":5,"g_per_kwh":9000}',
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    assert st == 400, "duplicate member: status %d %r" % (st, body)
    assert "duplicate member g_per_kwh" in json.loads(body)["error"]["message"], "message %r" % body


@pytest.mark.parametrize("ae", ["gzip; q=0", "gzip;q=0.0, br;q=1"])
def test_metrics_when_gzip_refused_by_weight_is_not_compressed(daemon, ae):
    st, hdr, body = daemon.get("/metrics", headers={"Accept-Encoding": ae})
    assert st == 200, "/metrics status %d" % st
    assert "content-encoding" not in hdr, "gzip sent although %r refuses it" % ae
    assert body.startswith(b"# HELP"), "body is not plain text for %r" % ae
