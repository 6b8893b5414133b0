# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""dist/kubernetes checked offline: the manifests parse and render (kubectl kustomize), grant only what joule needs,
select each other, and the DaemonSet's arguments start the real daemon."""
import os
import re
import shutil
import subprocess
import uuid

import pytest
import yaml

from daemon_util import REPO, Daemon, metrics_text

KDIR = os.path.join(REPO, "dist", "kubernetes")


def docs():
    out = []
    for name in sorted(os.listdir(KDIR)):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            with open(os.path.join(KDIR, name)) as f:
                out += [(name, d) for d in yaml.safe_load_all(f) if d is not None]
    return out


def one(kind):
    found = [d for _n, d in docs() if d["kind"] == kind]
    assert len(found) == 1, "want one %s, found %d" % (kind, len(found))
    return found[0]


def container():
    return one("DaemonSet")["spec"]["template"]["spec"]["containers"][0]


def test_manifests_when_parsed_each_name_a_kind_and_a_namespace():
    seen = docs()
    assert {d["kind"] for _n, d in seen} == {"Namespace", "DaemonSet", "Service", "ServiceMonitor"}, "kinds %r" % seen
    for name, d in seen:
        assert d.get("apiVersion") and d.get("metadata", {}).get("name"), "%s: apiVersion or name missing" % name
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == "joule", "%s: not in namespace joule" % name


def test_kustomization_when_rendered_offline_by_kubectl_lists_every_manifest():
    if not shutil.which("kubectl"):
        pytest.skip("kubectl not installed")
    r = subprocess.run(["kubectl", "kustomize", KDIR], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "kubectl kustomize: %s" % r.stderr
    rendered = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(r.stdout) if d)
    assert rendered == sorted((d["kind"], d["metadata"]["name"]) for _n, d in docs()), "rendered %r" % rendered


def test_daemonset_when_checked_has_host_pid_and_only_the_capabilities_joule_needs():
    pod = one("DaemonSet")["spec"]["template"]["spec"]
    sc = container()["securityContext"]
    assert pod.get("hostPID") is True, "hostPID is needed to read every process's /proc"
    assert pod.get("automountServiceAccountToken") is False, "joule uses no Kubernetes API: no token"
    assert not pod.get("hostNetwork"), "hostNetwork is not needed"
    assert sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False, "privileges %r" % sc
    assert sc.get("readOnlyRootFilesystem") is True, "root filesystem should be read-only"
    assert sc["capabilities"]["drop"] == ["ALL"], "capabilities not dropped: %r" % sc["capabilities"]
    assert sorted(sc["capabilities"]["add"]) == ["BPF", "DAC_READ_SEARCH", "PERFMON"], "capabilities %r" % (
        sc["capabilities"]["add"])


def test_daemonset_when_checked_mounts_host_paths_read_only_where_asked():
    pod = one("DaemonSet")["spec"]["template"]["spec"]
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m for m in container()["volumeMounts"]}
    assert set(mounts) == {v["name"] for v in pod["volumes"]}, "mounts and volumes differ"
    for path in ("/sys", "/sys/kernel/btf", "/sys/fs/cgroup", "/var/log/pods", "/var/log/containers"):
        name = [n for n, p in host.items() if p == path]
        assert name, "no hostPath volume for %s" % path
        m = mounts[name[0]]
        assert m.get("readOnly") is True and m["mountPath"] == path, "%s not mounted read-only at itself: %r" % (
            path, m)
    writable = sorted(host[n] for n, m in mounts.items() if n in host and not m.get("readOnly"))
    assert writable == ["/var/lib/joule"], "writable host paths %r" % writable


def test_service_and_servicemonitor_when_checked_select_the_daemonset_and_its_port():
    ds, svc, sm = one("DaemonSet"), one("Service"), one("ServiceMonitor")
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), "DaemonSet selector"
    assert svc["spec"]["selector"].items() <= pod_labels.items(), "Service does not select the pods"
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(), "ServiceMonitor"
    assert svc["metadata"]["namespace"] in sm["spec"]["namespaceSelector"]["matchNames"], "namespaceSelector"
    ports = {p["name"]: p for p in container()["ports"]}
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    for ep in sm["spec"]["endpoints"]:
        assert ep["port"] in svc_ports, "ServiceMonitor port %s not in the Service" % ep["port"]
        assert svc_ports[ep["port"]]["targetPort"] in ports, "Service targetPort not a container port"
        assert ep.get("honorLabels") is True, "workload labels would be renamed exported_*"
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        p = container()[probe]["httpGet"]
        assert p["path"] == path and p["port"] in ports, "%s %r" % (probe, p)
    listen = [a for a in container()["args"] if a.startswith("--listen=")]
    assert listen == ["--listen=0.0.0.0:%d" % ports["metrics"]["containerPort"]], "listen %r" % listen


@pytest.mark.root
def test_daemonset_args_when_given_to_the_real_daemon_start_it_with_the_node_name(tmp_path):
    node = "node-%s" % uuid.uuid4().hex[:8]
    args = []
    for a in container()["args"][1:]:  # after "daemon"
        a = a.replace("$(NODE_NAME)", node)
        if a.startswith("--listen="):
            continue  # the test's own loopback port 0
        if a.startswith("--ledger="):
            a = "--ledger=%s" % (tmp_path / "ledger.jsonl")
        args.append(a)
    d = Daemon("--source", "model", *args, workdir=str(tmp_path))
    try:
        d.wait_ready()
        info = re.findall(r'^joule_host_info\{(.*)\} 1$', metrics_text(d), re.M)
        assert len(info) == 1 and 'hostname="%s"' % node in info[0], "host info %r" % info
    finally:
        d.cleanup()
