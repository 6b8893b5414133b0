# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Installed, it just works: make install, the Debian package round trip (build, lintian, hardening,
install, run as the unit would, remove, purge) and the container image running `joule probe`."""
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from daemon_util import JOULE, REPO, unix_request, wait_for  # noqa: E402  (the daemon tests' helpers)

# Installing a package is machine-global: two `make test` runs in two clones would fight over
# /usr/bin/joule, the joule user and /var/lib/joule. This lock (a fixed name on purpose: it is
# the one thing both runs must agree on) serialises the install ... purge part.
INSTALL_LOCK = "/run/lock/joule-package-test.lock"
UNIT_PATH = "/lib/systemd/system/joule.service"
CONF_PATH = "/etc/joule/joule.conf"
CAP_BITS = {"CAP_DAC_READ_SEARCH": 2, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_SYS_RAWIO": 17}


def have(cmd):
    return shutil.which(cmd) is not None


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


needs_dpkg = pytest.mark.skipif(not have("dpkg-buildpackage") or not have("dh"),
                                reason="dpkg-buildpackage or debhelper missing (tools/deps.sh test installs them)")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="installs a package and loads BPF: needs root")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """joule_*.deb built by tools/build-deb in a copy of the tree (debian/rules clean would wipe build/)."""
    out = tmp_path_factory.mktemp("deb")
    t0 = time.monotonic()
    # dpkg-buildpackage without -j builds serially; a parallel build of the same package is the same package
    env = dict(os.environ)
    env.setdefault("DEB_BUILD_OPTIONS", "parallel=%d" % (os.cpu_count() or 1))
    r = run([os.path.join(REPO, "tools/build-deb"), str(out)], timeout=900, env=env)
    assert r.returncode == 0, "tools/build-deb failed:\n%s%s" % (r.stdout, r.stderr)
    debs = sorted(out.glob("joule_*.deb"))
    assert len(debs) == 1, "want one joule_*.deb in %s, got %s" % (out, debs)
    return {"deb": debs[0], "dir": out, "src": out / "joule", "build_s": time.monotonic() - t0}


# --- make install -------------------------------------------------------------------------------

def make_install(src, destdir, *args):
    r = run(["make", "-C", str(src), "install", "DESTDIR=%s" % destdir, *args])
    assert r.returncode == 0, "make install %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)


def exec_start(unit_text):
    m = re.search(r"^ExecStart=(.*)$", unit_text, re.M)
    assert m, "the unit has no ExecStart"
    return m.group(1).split()


@needs_dpkg
def test_install_when_prefix_is_usr_gives_a_unit_that_runs_usr_bin_joule(package, tmp_path):
    make_install(package["src"], tmp_path, "PREFIX=/usr")
    argv = exec_start((tmp_path / "lib/systemd/system/joule.service").read_text())
    assert argv[0] == "/usr/bin/joule", "ExecStart runs %s" % argv[0]
    assert (tmp_path / "usr/bin/joule").is_file(), "the binary the unit runs was not installed"


@needs_dpkg
def test_install_when_prefix_changes_after_a_build_regenerates_the_unit(package, tmp_path):
    # the package build generated the unit for /usr: a default install must not reuse it
    make_install(package["src"], tmp_path)
    argv = exec_start((tmp_path / "lib/systemd/system/joule.service").read_text())
    assert argv[0] == "/usr/local/bin/joule", "ExecStart runs %s after PREFIX went back to default" % argv[0]


@needs_dpkg
def test_install_unit_when_read_passes_only_the_config_file(package, tmp_path):
    make_install(package["src"], tmp_path, "PREFIX=/usr")
    argv = exec_start((tmp_path / "lib/systemd/system/joule.service").read_text())
    assert argv[1:] == ["daemon", "--config", CONF_PATH], "ExecStart passes more than --config: %s" % argv
    conf = (tmp_path / "etc/joule/joule.conf").read_text()
    assert re.search(r"^ledger = /var/lib/joule/ledger.jsonl$", conf, re.M), "the config does not set the ledger"
    assert re.search(r"^socket = /run/joule/joule.sock$", conf, re.M), "the config does not set the socket"


@needs_dpkg
def test_install_config_when_installed_is_0640(package, tmp_path):
    make_install(package["src"], tmp_path, "PREFIX=/usr")
    mode = stat.S_IMODE(os.stat(tmp_path / "etc/joule/joule.conf").st_mode)
    assert mode == 0o640, "config mode %o, want 0640" % mode


@needs_dpkg
def test_uninstall_when_run_after_install_leaves_only_the_config(package, tmp_path):
    make_install(package["src"], tmp_path, "PREFIX=/usr")
    r = run(["make", "-C", str(package["src"]), "uninstall", "DESTDIR=%s" % tmp_path, "PREFIX=/usr"])
    assert r.returncode == 0, "make uninstall failed:\n%s%s" % (r.stdout, r.stderr)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if not p.is_dir())
    assert left == ["etc/joule/joule.conf"], "left behind: %s" % left


@needs_dpkg
@needs_root
def test_install_when_root_without_destdir_gives_the_config_to_group_joule_and_keeps_edits(package):
    src = package["src"]
    paths = ("/usr/local/bin/joule", UNIT_PATH, "/usr/lib/sysusers.d/joule.conf", "/etc/joule")
    with InstallLock():
        if dpkg_status("joule"):
            pytest.skip("a joule package is on this machine (%s): the test would overwrite it" % dpkg_status("joule"))
        for p in paths:
            if os.path.lexists(p):
                pytest.skip("%s exists: the test would overwrite it" % p)
        try:
            r = run(["make", "-C", str(src), "install"])
            assert r.returncode == 0, "make install failed:\n%s%s" % (r.stdout, r.stderr)
            st = os.stat(CONF_PATH)
            gid = int(run(["getent", "group", "joule"]).stdout.split(":")[2])
            assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, gid), \
                "config is %o %d:%d, want 0640 root:joule" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            assert exec_start(open(UNIT_PATH).read())[0] == "/usr/local/bin/joule", "the unit runs another binary"
            with open(CONF_PATH, "a") as f:
                f.write("zone = FR\n")
            r = run(["make", "-C", str(src), "install"])
            assert r.returncode == 0, "second make install failed:\n%s%s" % (r.stdout, r.stderr)
            assert open(CONF_PATH).read().endswith("zone = FR\n"), "a second make install overwrote the config"
            r = run(["make", "-C", str(src), "uninstall"])
            assert r.returncode == 0, "make uninstall failed:\n%s%s" % (r.stdout, r.stderr)
            left = [p for p in paths[:3] if os.path.lexists(p)]
            assert not left, "make uninstall left %s" % left
        finally:
            run(["make", "-C", str(src), "uninstall"])
            shutil.rmtree("/etc/joule", ignore_errors=True)


# --- the unit -----------------------------------------------------------------------------------

def unit_for_verify(tmp_path):
    """The generated unit with ExecStart pointed at the build (verify needs the binary to exist)."""
    text = open(os.path.join(REPO, "dist/systemd/joule.service.in")).read()
    text = text.replace("@BINDIR@", os.path.dirname(JOULE)).replace("@SYSCONFDIR@", "/etc")
    path = tmp_path / "joule.service"
    path.write_text(text)
    return path


@pytest.mark.skipif(not have("systemd-analyze"), reason="systemd-analyze missing")
def test_unit_when_analyzed_offline_has_exposure_at_most_1_9(tmp_path):
    # 2.4 before ProtectKernelTunables, PrivateMounts, RemoveIPC and IPAddressDeny; a rise is a regression
    r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit_for_verify(tmp_path))])
    m = re.search(r"Overall exposure level for joule.service: ([0-9.]+)", r.stdout)
    assert m, "no exposure level in: %s%s" % (r.stdout[-500:], r.stderr)
    assert float(m.group(1)) <= 1.9, "exposure %s, was 1.9 when this test was written" % m.group(1)


# --- the Debian package -------------------------------------------------------------------------

@needs_dpkg
@pytest.mark.skipif(not have("lintian"), reason="lintian missing")
def test_package_when_linted_has_no_errors(package):
    changes = sorted(package["dir"].glob("joule_*.changes"))
    r = run(["lintian", "--fail-on", "error", str(changes[0])])
    assert r.returncode == 0, "lintian errors:\n%s%s" % (r.stdout, r.stderr)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert not errors, "lintian errors: %s" % errors


@needs_dpkg
@pytest.mark.skipif(not have("hardening-check"), reason="hardening-check (devscripts) missing")
def test_package_binary_when_checked_has_every_hardening_feature(package, tmp_path):
    r = run(["dpkg-deb", "-x", str(package["deb"]), str(tmp_path)])
    assert r.returncode == 0, "dpkg-deb -x failed: %s" % r.stderr
    # --nocfprotection: bookworm's crt1.o/crti.o carry no IBT note, so no binary linked here can
    # have one (hardening-check says "no" for /usr/bin/ls too); every other check must pass.
    r = run(["hardening-check", "--nocfprotection", str(tmp_path / "usr/bin/joule")])
    assert r.returncode == 0, "hardening-check failed:\n%s" % r.stdout
    assert "Immediate binding: yes" in r.stdout, "no BIND_NOW:\n%s" % r.stdout
    assert "Fortify Source functions: yes" in r.stdout, "no _FORTIFY_SOURCE:\n%s" % r.stdout


def read_unit(path):
    """[Service] settings of a unit file; repeated keys are joined with spaces."""
    svc, section = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            svc[k] = (svc[k] + " " + v) if k in svc else v
    return svc


class InstallLock:
    def __init__(self, timeout=900):
        self.timeout = timeout

    def __enter__(self):
        self.f = open(INSTALL_LOCK, "w")
        end = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > end:
                    raise AssertionError("another run held %s for %ds" % (INSTALL_LOCK, self.timeout))
                time.sleep(0.5)

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def dpkg_status(pkg):
    r = run(["dpkg-query", "-W", "-f=${Status}", pkg])
    return r.stdout if r.returncode == 0 else ""


def start_like_the_unit(svc, extra):
    """ExecStart as systemd would run it: the unit's user, group, capabilities (and no others),
    umask, no new privileges, its State/RuntimeDirectory, and a read-only / and /sys
    (ProtectSystem=strict, ProtectKernelTunables) in a private mount namespace."""
    user, group = svc["User"], svc["Group"]
    caps = ",".join("+" + c[4:].lower() for c in svc["AmbientCapabilities"].split())
    assert svc["CapabilityBoundingSet"].split() == svc["AmbientCapabilities"].split(), \
        "the bounding set and the ambient set differ: the emulation would be wrong"
    dirs = []
    for kind, parent in (("StateDirectory", "/var/lib"), ("RuntimeDirectory", "/run")):
        d = os.path.join(parent, svc[kind])
        mode = svc.get(kind + "Mode", "0755")
        r = run(["install", "-d", "-o", user, "-g", group, "-m", mode, d])
        assert r.returncode == 0, "failed to create %s: %s" % (d, r.stderr)
        dirs.append(d)
    script = "set -e\n"
    for d in dirs:
        script += "mount --bind %s %s\n" % (d, d)
    script += ("mount -o remount,bind,ro /\nmount -o remount,bind,ro /sys\n"
               "mount --bind /proc/sys /proc/sys\nmount -o remount,bind,ro /proc/sys\n"
               "umask %s\n"
               'exec setpriv --reuid=%s --regid=%s --init-groups --no-new-privs '
               '--inh-caps=-all,%s --ambient-caps=-all,%s --bounding-set=-all,%s -- "$@"\n'
               % (svc.get("UMask", "0022"), user, group, caps, caps, caps))
    argv = exec_start("ExecStart=" + svc["ExecStart"]) + extra
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + argv,
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def log_text(log):
    log.seek(0)
    return log.read().decode(errors="replace")


def http_get(host, port, path, timeout=10):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def unix_get(path, url):
    return unix_request(path, url).decode(errors="replace")


def cap_mask(names):
    return sum(1 << CAP_BITS[n] for n in names)


@needs_dpkg
@needs_root
@pytest.mark.skipif(not have("setpriv") or not have("unshare"), reason="setpriv/unshare (util-linux) missing")
def test_package_when_installed_runs_as_the_unit_and_removes_without_a_trace(package):
    times = {"build_s": package["build_s"]}
    t_lock = time.monotonic()
    with InstallLock():
        t0 = time.monotonic()
        times["lock_wait_s"] = t0 - t_lock
        if dpkg_status("joule"):
            pytest.skip("a joule package is already on this machine (%s): the test would remove it"
                        % dpkg_status("joule"))
        for p in ("/etc/joule", "/var/lib/joule", "/usr/bin/joule", UNIT_PATH):
            if os.path.lexists(p):
                pytest.skip("%s exists (a make install?): the test would remove it" % p)
        proc = None
        try:
            r = run(["dpkg", "-i", str(package["deb"])])
            assert r.returncode == 0, "dpkg -i failed:\n%s%s" % (r.stdout, r.stderr)
            times["install_s"] = time.monotonic() - t0
            files = run(["dpkg-query", "-L", "joule"]).stdout.split()
            conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "joule"]).stdout.split()[::2]
            check_installed(package, files, conffiles)
            # a reinstall (the upgrade path of postinst: the statoverride exists, the user too)
            r = run(["dpkg", "-i", str(package["deb"])])
            assert r.returncode == 0, "dpkg -i over an installed joule failed:\n%s%s" % (r.stdout, r.stderr)
            check_installed(package, files, conffiles)

            t1 = time.monotonic()
            svc = read_unit(UNIT_PATH)
            ready = os.path.join("/run", svc["RuntimeDirectory"], "ready")
            # what the test needs beyond the shipped config: a free port, a ready file, the model
            # source (this VM has no RAPL; auto would pick the model too, but say so)
            proc, log = start_like_the_unit(svc, ["--listen", "127.0.0.1:0", "--ready-file", ready,
                                                  "--source", "model"])
            wait_for(lambda: os.path.exists(ready) or proc.poll() is not None, 60, "the ready file")
            assert proc.poll() is None, "the daemon exited (%s):\n%s" % (proc.returncode, log_text(log))
            host, port = open(ready).read().strip().rsplit(":", 1)
            port = int(port)
            check_running(proc.pid, svc, host, port, log)
            times["ready_s"] = time.monotonic() - t1

            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=20)  # the unit's TimeoutStopSec
            assert rc == 0, "SIGTERM: exit %d:\n%s" % (rc, log_text(log))
            proc = None
            check_ledger()

            t2 = time.monotonic()
            r = run(["dpkg", "-r", "joule"])
            assert r.returncode == 0, "dpkg -r failed:\n%s%s" % (r.stdout, r.stderr)
            left = [f for f in files if os.path.lexists(f) and not os.path.isdir(f) and f not in conffiles]
            assert not left, "dpkg -r left: %s" % left
            assert os.path.exists(CONF_PATH), "dpkg -r removed the conffile (only purge should)"
            r = run(["dpkg", "-P", "joule"])
            assert r.returncode == 0, "dpkg -P failed:\n%s%s" % (r.stdout, r.stderr)
            times["remove_s"] = time.monotonic() - t2
            check_purged(files)
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=20)
            if dpkg_status("joule"):
                run(["dpkg", "-P", "joule"])
        times["locked_s"] = time.monotonic() - t0
    print("package round trip: " + ", ".join("%s %.1f" % kv for kv in times.items()))


def check_installed(package, files, conffiles):
    assert CONF_PATH in conffiles, "%s is not a conffile: %s" % (CONF_PATH, conffiles)
    for f in ("/usr/bin/joule", UNIT_PATH, "/usr/lib/sysusers.d/joule.conf",
              "/usr/share/joule/prometheus/joule.rules.yml", "/usr/share/joule/prometheus/prometheus.yml",
              "/usr/lib/python3/dist-packages/joule_client.py"):
        assert f in files and os.path.exists(f), "the package does not install %s" % f
    # man pages and completions, when the tree has them (issue 13's CLI part produces them)
    built = package["src"] / "build"
    for m in sorted(list(built.glob("*.[1-8]")) + list(built.glob("man/*.[1-8]"))):
        want = "/usr/share/man/man%s/%s.gz" % (m.suffix[1:], m.name)
        assert want in files, "man page %s is not in the package" % want
    comps = list(built.glob("joule.bash-completion")) + list(package["src"].glob("dist/completion/joule*"))
    if comps:
        assert "/usr/share/bash-completion/completions/joule" in files, "the bash completion is not in the package"
    assert exec_start(open(UNIT_PATH).read()) == ["/usr/bin/joule", "daemon", "--config", CONF_PATH], \
        "the installed unit's ExecStart is %s" % exec_start(open(UNIT_PATH).read())
    u = run(["getent", "passwd", "joule"]).stdout.strip().split(":")
    assert len(u) == 7 and u[6] == "/usr/sbin/nologin", "no system user joule: %s" % u
    st = os.stat(CONF_PATH)
    gid = int(run(["getent", "group", "joule"]).stdout.split(":")[2])
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, gid), \
        "config is %o %d:%d, want 0640 root:joule" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    assert os.path.lexists("/etc/systemd/system/multi-user.target.wants/joule.service"), "the unit is not enabled"
    if have("systemd-analyze"):
        r = run(["systemd-analyze", "verify", UNIT_PATH])
        assert r.returncode == 0 and not r.stderr.strip(), "systemd-analyze verify %s: %s" % (UNIT_PATH, r.stderr)


def check_running(pid, svc, host, port, log):
    status = open("/proc/%d/status" % pid).read()
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    eff = int(re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M).group(1), 16)
    assert uid == int(run(["id", "-u", "joule"]).stdout), "the daemon runs as uid %d, not joule" % uid
    assert eff == cap_mask(svc["AmbientCapabilities"].split()), \
        "effective capabilities %x, want only the unit's %s" % (eff, svc["AmbientCapabilities"])

    def ready():
        try:
            return http_get(host, port, "/readyz")[0] == 200
        except OSError:
            return False

    wait_for(ready, 60, "/readyz to answer 200")
    st, body = http_get(host, port, "/metrics")
    assert st == 200, "/metrics answered %d" % st
    assert re.search(r"^joule_host_energy_joules_total\S* [0-9.e+]+$", body, re.M), \
        "no joule_host_energy_joules_total in /metrics:\n%s" % body[:800]
    # the socket path came from the config file, not the command line
    sock = "/run/joule/joule.sock"
    st = os.stat(sock)
    gid = int(run(["getent", "group", "joule"]).stdout.split(":")[2])
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid, \
        "socket %s is %o group %d, want 0660 group joule" % (sock, stat.S_IMODE(st.st_mode), st.st_gid)
    assert unix_get(sock, "/readyz").startswith("HTTP/1.1 200"), "the socket does not answer /readyz"


def check_ledger():
    path = "/var/lib/joule/ledger.jsonl"
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) & 0o027 == 0, "ledger mode %o ignores the unit's UMask" % st.st_mode
    assert st.st_uid == int(run(["id", "-u", "joule"]).stdout), "the ledger is not joule's"
    r = run(["/usr/bin/joule", "ledger", "verify", path])
    assert r.returncode == 0, "ledger verify: %s%s" % (r.stdout, r.stderr)
    first = json.loads(open(path).readline())
    assert "hash" in first, "the ledger's first line has no hash: %s" % first


def check_purged(files):
    for p in ("/etc/joule", "/var/lib/joule", "/run/joule",
              "/etc/systemd/system/multi-user.target.wants/joule.service"):
        assert not os.path.lexists(p), "dpkg -P left %s" % p
    left = [f for f in files if os.path.lexists(f) and not os.path.isdir(f)]
    assert not left, "dpkg -P left: %s" % left
    r = run(["dpkg-statoverride", "--list", CONF_PATH])
    assert r.returncode != 0, "dpkg -P left a statoverride: %s" % r.stdout
    assert not dpkg_status("joule"), "dpkg still knows joule: %s" % dpkg_status("joule")


# --- the container image ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The FROM scratch image of this build, under a tag no other run uses."""
    if not have("podman"):
        pytest.skip("podman missing: the image is not built")
    if os.geteuid() != 0:
        pytest.skip("the image test runs rootful podman: needs root")
    ctx = tmp_path_factory.mktemp("image")
    r = run([os.path.join(REPO, "tools/image-rootfs"), JOULE, str(ctx / "rootfs")])
    assert r.returncode == 0, "image-rootfs failed: %s" % r.stderr
    tag = "localhost/joule-test:%s" % uuid.uuid4().hex[:12]
    t0 = time.monotonic()
    r = run(["podman", "build", "--pull=never", "-q", "-f", os.path.join(REPO, "Containerfile"), "-t", tag,
             str(ctx)])
    assert r.returncode == 0, "podman build failed:\n%s%s" % (r.stdout, r.stderr)
    yield {"tag": tag, "build_s": time.monotonic() - t0}
    run(["podman", "rmi", "-f", tag])


def test_image_when_built_holds_only_joule_and_its_libraries(image):
    r = run(["podman", "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{.Size}}", image["tag"]])
    assert r.returncode == 0, "podman image inspect failed: %s" % r.stderr
    entry, size = r.stdout.rsplit(" ", 1)
    assert json.loads(entry) == ["/usr/bin/joule"], "entrypoint %s" % entry
    assert int(size) < 64 << 20, "the image is %d bytes: more than joule and its libraries" % int(size)


@needs_root
@pytest.mark.skipif(not have("runc"), reason="runc missing: crun refuses this host's hybrid cgroup layout")
def test_image_when_run_privileged_probes_bpf_and_an_energy_source(image):
    # runc, not crun: crun stops at "cgroups in hybrid mode not supported" on this host.
    # The ulimits: podman otherwise asks for nofile 1048576 and nproc above what it set for
    # itself, and root here lacks CAP_SYS_RESOURCE; limits at or below the current ones need none.
    r = run(["podman", "--runtime", "runc", "run", "--rm", "--privileged", "--pid=host",
             "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
             "-v", "/sys/kernel/btf:/sys/kernel/btf:ro", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
             image["tag"], "probe"], timeout=120)
    assert r.returncode == 0, "joule probe in the image failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr)
    assert re.search(r"^BPF\s", r.stdout, re.M) and "programs load and attach" in r.stdout, \
        "probe in the image could not load BPF:\n%s" % r.stdout
    assert re.search(r"^selected\s+\S+", r.stdout, re.M), "probe selected no energy source:\n%s" % r.stdout
