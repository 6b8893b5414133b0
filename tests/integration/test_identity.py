# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Workload identity against the real daemon: real cgroup v2 hierarchies shaped as systemd, Docker, Podman, CRI-O,
containerd/Kubernetes and Slurm shape them, runtime state from fixture files, and a process moved between cgroups."""
import json
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

# Units of this run only: another test run's daemon sees these processes too, and ours sees theirs.
_RUN = uuid.uuid4().hex[:8]
TEST_UNIT = "joule-id-test-%s.service" % _RUN
BEFORE_UNIT = "joule-id-before-%s.service" % _RUN
AFTER_UNIT = "joule-id-after-%s.service" % _RUN

from daemon_util import Daemon, check_schema, metrics_text, response_schema, wait_for

pytestmark = pytest.mark.root

UNIFIED = "/sys/fs/cgroup/unified"

# Burn about a fifth of a CPU until told to stop: enough for the model to charge energy, little for a shared machine.
BURN = ("import time\n"
        "end = time.monotonic() + 120\n"
        "while time.monotonic() < end:\n"
        "    t = time.monotonic() + 0.01\n"
        "    while time.monotonic() < t: pass\n"
        "    time.sleep(0.04)\n")


def hexid():
    return uuid.uuid4().hex + uuid.uuid4().hex


class Cgroups:
    """A private subtree of the cgroup v2 hierarchy; every process started in it is killed and every directory removed."""

    def __init__(self):
        self.root = os.path.join(UNIFIED, "joule-identity-%s" % uuid.uuid4().hex[:12])
        os.mkdir(self.root)
        self.procs = []

    def path(self, rel):
        return os.path.join(self.root, rel.strip("/"))

    def start(self, rel):
        """A burner that moves itself into rel before it starts burning (so its first tick is already there)."""
        d = self.path(rel)
        os.makedirs(d, exist_ok=True)
        p = subprocess.Popen(["sh", "-c", 'echo $$ > "$1/cgroup.procs" && exec /usr/bin/python3 -c "$2"', "sh",
                              d, BURN])
        self.procs.append(p)
        wait_for(lambda: str(p.pid) in open(os.path.join(d, "cgroup.procs")).read().split(), 5,
                 "pid %d in %s" % (p.pid, rel))
        return p

    def move(self, p, rel):
        d = self.path(rel)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(p.pid))

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        deadline = time.monotonic() + 10
        for dirpath, _dirs, _files in sorted(os.walk(self.root), key=lambda w: -w[0].count("/")):
            while True:
                try:
                    os.rmdir(dirpath)
                    break
                except OSError:
                    # a killed process leaves its cgroup a moment after wait() returns
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def apps(d):
    return {a["name"]: a for a in d.get_json("/api/v1/apps?limit=1000")["apps"]}


def app(d, name, timeout=15):
    return wait_for(lambda: (lambda a: a if a and a["energy_uj"] > 0 else None)(apps(d).get(name)), timeout,
                    "app %r with energy in /api/v1/apps" % name)


DOCKER_ID, PODMAN_ID, CRIO_ID, CTRD_ID, TRUNC_ID, MISSING_ID = (hexid() for _ in range(6))
CRIO_POD_UID = str(uuid.uuid4())
CTRD_POD_UID = str(uuid.uuid4())
# Slurm job ids of this run (another run's daemon sees our cgroups and we see theirs)
JOB_V1, JOB_V2 = (str(10000 + uuid.uuid4().int % 90000) for _ in range(2))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")):
        pytest.skip("no cgroup v2 hierarchy at %s" % UNIFIED)
    tmp = tmp_path_factory.mktemp("identity")
    state = {k: str(tmp / k) for k in ("docker", "storage", "pods", "containers")}
    # Docker: /var/lib/docker/containers/<id>/config.v2.json
    write(os.path.join(state["docker"], "containers", DOCKER_ID, "config.v2.json"),
          json.dumps({"ID": DOCKER_ID, "Name": "/web-1", "Config": {"Labels": {}}}))
    # a config cut off mid-write (a crash of dockerd), and none at all for MISSING_ID
    write(os.path.join(state["docker"], "containers", TRUNC_ID, "config.v2.json"),
          '{"ID": "%s", "Name": "/tru' % TRUNC_ID)
    # Podman and CRI-O: containers/storage's overlay-containers/containers.json
    write(os.path.join(state["storage"], "overlay-containers", "containers.json"),
          json.dumps([{"id": PODMAN_ID, "names": ["db-1"], "image": "x"},
                      {"id": CRIO_ID, "names": ["k8s_app_cart-7d9f_shop_%s_0" % CRIO_POD_UID]}]))
    # the kubelet: /var/log/pods/<ns>_<pod>_<uid>/<container>/ and /var/log/containers/<pod>_<ns>_<ctr>-<id>.log
    write(os.path.join(state["pods"], "shop_cart-7d9f_%s" % CRIO_POD_UID, "app", "0.log"), "")
    write(os.path.join(state["pods"], "web_nginx-5c4b_%s" % CTRD_POD_UID, "nginx", "0.log"), "")
    write(os.path.join(state["containers"], "nginx-5c4b_web_nginx-%s.log" % CTRD_ID), "")

    cg = Cgroups()
    d = None
    try:
        crio_slice = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice" % (
            CRIO_POD_UID.replace("-", "_"))
        procs = {
            "unit": cg.start("system.slice/" + TEST_UNIT),
            "docker": cg.start("system.slice/docker-%s.scope" % DOCKER_ID),
            "podman": cg.start("machine.slice/libpod-%s.scope/container" % PODMAN_ID),
            "crio": cg.start("%s/crio-%s.scope" % (crio_slice, CRIO_ID)),
            "containerd": cg.start("kubepods/burstable/pod%s/%s" % (CTRD_POD_UID, CTRD_ID)),
            "slurm_v1": cg.start("slurm/uid_0/job_%s/step_0" % JOB_V1),
            "slurm_v2": cg.start("system.slice/slurmstepd.scope/job_%s/step_batch/user/task_0" % JOB_V2),
            "truncated": cg.start("system.slice/docker-%s.scope" % TRUNC_ID),
            "missing": cg.start("system.slice/docker-%s.scope" % MISSING_ID),
        }
        d = Daemon("--source", "model", "--docker-root", state["docker"], "--containers-storage-root",
                   state["storage"], "--pod-logs-root", state["pods"], "--container-logs-root",
                   state["containers"], workdir=str(tmp))
        d.wait_ready()
        yield {"d": d, "cg": cg, "procs": procs}
    finally:
        if d:
            d.cleanup()
        cg.cleanup()


def test_unit_when_in_a_service_cgroup_is_kind_unit_with_slice(world):
    a = app(world["d"], TEST_UNIT)
    assert a["kind"] == "unit", "kind %r" % a["kind"]
    assert a["unit"] == TEST_UNIT and a["slice"] == "system.slice", "unit/slice %r" % a


def test_docker_when_config_names_it_is_the_container_name(world):
    a = app(world["d"], "web-1")
    assert a["kind"] == "container", "kind %r" % a["kind"]
    assert a["container_id"] == DOCKER_ID and a["runtime"] == "docker", "docker identity %r" % a


def test_podman_when_containers_json_names_it_is_the_container_name(world):
    a = app(world["d"], "db-1")
    assert (a["kind"], a["runtime"], a["container_id"]) == ("container", "podman", PODMAN_ID), "podman %r" % a


def test_crio_pod_when_storage_and_pod_logs_name_it_is_namespace_pod_container(world):
    a = app(world["d"], "shop/cart-7d9f/app")
    assert a["kind"] == "pod", "kind %r" % a["kind"]
    assert (a["namespace"], a["pod"], a["container_name"], a["pod_uid"]) == (
        "shop", "cart-7d9f", "app", CRIO_POD_UID), "cri-o pod identity %r" % a


def test_containerd_pod_when_kubelet_logs_name_it_is_namespace_pod_container(world):
    a = app(world["d"], "web/nginx-5c4b/nginx")
    assert (a["kind"], a["namespace"], a["pod"], a["container_name"], a["container_id"]) == (
        "pod", "web", "nginx-5c4b", "nginx", CTRD_ID), "containerd pod identity %r" % a


def test_slurm_when_v1_and_v2_job_cgroups_are_jobs_with_user(world):
    v1 = app(world["d"], JOB_V1)
    v2 = app(world["d"], JOB_V2)
    assert (v1["kind"], v1["job_id"], v1["job_user"]) == ("job", JOB_V1, "root"), "slurm v1 %r" % v1
    assert (v2["kind"], v2["job_id"], v2["job_user"]) == ("job", JOB_V2, "root"), "slurm v2 (user from uid) %r" % v2


def test_state_when_truncated_or_missing_is_labelled_by_id_and_logged_once(world):
    d = world["d"]
    t = app(d, TRUNC_ID)
    m = app(d, MISSING_ID)
    assert t["kind"] == "container" and "container_name" not in t, "truncated config %r" % t
    assert m["kind"] == "container" and "container_name" not in m, "missing config %r" % m
    time.sleep(1.0)  # ten more ticks in which the same cgroups are seen again
    out = d.output()
    for cid in (TRUNC_ID, MISSING_ID):
        n = len([l for l in out.splitlines() if "labelled by what is known" in l and cid in l])
        assert n == 1, "container %s logged %d times, want once:\n%s" % (cid[:12], n, out[-2000:])


def test_apps_when_identity_known_match_schema(world):
    d = world["d"]
    app(d, "shop/cart-7d9f/app")
    spec = d.get_json("/api/v1/openapi.json")
    body = d.get_json("/api/v1/apps?limit=1000")
    errs = check_schema(body, response_schema(spec, "/api/v1/apps"), spec)
    assert not errs, "schema violations: %s" % errs[:5]


def test_metrics_when_identity_known_label_groups_and_host(world):
    d = world["d"]
    app(d, "shop/cart-7d9f/app")
    text = metrics_text(d)
    pod = [l for l in text.splitlines() if l.startswith("joule_group_energy_joules_total{") and
           'group="shop/cart-7d9f/app"' in l]
    assert pod, "no group series for the pod"
    for want in ('group_kind="pod"', 'namespace="shop"', 'pod="cart-7d9f"', 'container="app"'):
        assert want in pod[0], "%s missing from %s" % (want, pod[0])
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot_id = f.read().strip()
    info = re.findall(r'^joule_host_info\{(.*)\} 1$', text, re.M)
    assert len(info) == 1, "joule_host_info lines: %r" % info
    assert 'boot_id="%s"' % boot_id in info[0] and 'source="model"' in info[0], "host info %s" % info[0]
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), "promtool: %s%s" % (
            r.stdout, r.stderr)


def test_moved_process_when_cgroup_changes_energy_follows_it_from_that_tick(world):
    d, cg = world["d"], world["cg"]
    p = cg.start("system.slice/" + BEFORE_UNIT)
    before = app(d, BEFORE_UNIT)
    assert before["kind"] == "unit", "before %r" % before
    cg.move(p, "system.slice/" + AFTER_UNIT)
    after = app(d, AFTER_UNIT)
    assert after["live_processes"] == 1, "after.service should hold the moved process: %r" % after
    # From the tick it moved, the old unit gets nothing more; the new one keeps growing.
    e1 = apps(d)[BEFORE_UNIT]
    a1 = apps(d)[AFTER_UNIT]
    time.sleep(1.5)
    e2 = apps(d)[BEFORE_UNIT]
    a2 = apps(d)[AFTER_UNIT]
    assert e2["energy_uj"] == e1["energy_uj"], "old unit still charged after the move: %d -> %d" % (
        e1["energy_uj"], e2["energy_uj"])
    assert e2["live_processes"] == 0, "old unit still counts the moved process: %r" % e2
    assert a2["energy_uj"] > a1["energy_uj"], "new unit not charged: %d -> %d" % (a1["energy_uj"], a2["energy_uj"])
    pr = d.get_json("/api/v1/processes/%d" % p.pid)
    assert (pr["group"], pr["group_kind"], pr["unit"]) == (
        AFTER_UNIT, "unit", AFTER_UNIT), "process labels %r" % pr


# ---- a real Podman container

BURN_C = r"""
#include <time.h>
#include <unistd.h>
/* Busy 2 ms in every 10 ms for at most two minutes: a container that uses some CPU and ends by itself. */
static long ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000 + t.tv_nsec / 1000000; }
int main(void) { long end = ms() + 120000; while (ms() < end) { long t = ms() + 2; while (ms() < t) ; usleep(8000); } return 0; }
"""


def podman(*args, timeout=180, check=True):
    r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("podman %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()[-500:]))
    return r


@pytest.fixture(scope="module")
def podman_container(tmp_path_factory):
    """A FROM-scratch image of a static burner, run by Debian's podman; skipped with the reason when it cannot run."""
    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.skip("podman or runc not installed")
    tmp = tmp_path_factory.mktemp("podman")
    tag = "localhost/joule-identity-test:%s" % uuid.uuid4().hex[:12]
    name = "joule-id-%s" % uuid.uuid4().hex[:12]
    (tmp / "burn.c").write_text(BURN_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(tmp / "burn"), str(tmp / "burn.c")], check=True, timeout=120)
    (tmp / "Containerfile").write_text('FROM scratch\nCOPY burn /burn\nENTRYPOINT ["/burn"]\n')
    built = started = False
    try:
        podman("build", "-q", "-t", tag, str(tmp))
        built = True
        # crun refuses this host twice: setrlimit needs CAP_SYS_RESOURCE (root here lacks it) and crun does not
        # support the hybrid cgroup layout. runc, with limits below the current ones, runs.
        r = podman("--runtime", "runc", "run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit",
                   "nproc=1024:1024", tag, check=False)
        if r.returncode != 0:
            pytest.skip("podman cannot run a container here: %s" % (r.stderr or r.stdout).strip()[-300:])
        started = True
        cid = r.stdout.strip().splitlines()[-1]
        pid = int(podman("inspect", "-f", "{{.State.Pid}}", name).stdout.strip())
        yield {"name": name, "id": cid, "pid": pid}
    finally:
        if started:
            podman("rm", "-f", "-t", "0", name, check=False)
        if built:
            podman("rmi", "-f", tag, check=False)


def test_podman_when_a_real_container_runs_it_is_named_from_podman_state(podman_container, tmp_path):
    c = podman_container
    # the real containers/storage root, the default: nothing is given but where to listen
    d = Daemon("--source", "model", workdir=str(tmp_path))
    try:
        d.wait_ready()
        a = app(d, c["name"], timeout=30)
        assert (a["kind"], a["runtime"], a["container_id"]) == ("container", "podman", c["id"]), "podman %r" % a
        pr = d.get_json("/api/v1/processes/%d" % c["pid"])
        assert pr["group"] == c["name"] and pr["container_name"] == c["name"], "process labels %r" % pr
    finally:
        d.cleanup()
