# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Fixtures for tests that run the real joule binary: its path, a fake RAPL tree."""
import os
import signal
import subprocess
import time

import pytest

BUILD = os.environ.get("JOULE_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
JOULE = os.path.join(BUILD, "joule")
FAKE_RAPL = os.path.join(BUILD, "fake-rapl")


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (BPF)")


def skip_unless_root():
    """Skip the test (or the module fixture that calls it) when BPF programs cannot be loaded."""
    if os.geteuid() != 0:
        pytest.skip("needs root to load BPF programs")


@pytest.fixture(autouse=True)
def _needs_root(request):
    if request.node.get_closest_marker("root"):
        skip_unless_root()


def joule(*args, timeout=120, **kw):
    """Run joule, return the CompletedProcess (text mode)."""
    return subprocess.run([JOULE, *args], capture_output=True, text=True, timeout=timeout, **kw)


class FakeRapl:
    """A running tools/fake-rapl tree; ground_truth() reads its unwrapped joules."""

    def __init__(self, root, *args):
        self.root = str(root)
        ready = os.path.join(self.root, "..", os.path.basename(self.root) + ".ready")
        self.proc = subprocess.Popen([FAKE_RAPL, "--root", self.root, "--ready", ready, *args])
        deadline = time.time() + 10
        while not os.path.exists(ready):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("fake-rapl did not become ready")
            time.sleep(0.02)

    def ground_truth(self):
        """{zone name: unwrapped µJ} from the truth file."""
        out = {}
        with open(os.path.join(self.root, "ground_truth")) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                zone, name, _pkg, uj = line.split()
                out[name] = int(uj)
        return out

    def realtime(self, prio=10):
        """SCHED_FIFO for the fake, so its counters advance on time on a busy machine."""
        os.sched_setscheduler(self.proc.pid, os.SCHED_FIFO, os.sched_param(prio))

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def fake_rapl(tmp_path):
    started = []

    def start(*args):
        fr = FakeRapl(tmp_path / f"rapl{len(started)}", *args)
        started.append(fr)
        return fr

    yield start
    for fr in started:
        fr.stop()


class Load:
    """stress-ng on every CPU, with fork and switch workers: what a busy host does to the switch path."""

    def __init__(self):
        n = os.cpu_count() or 1
        self.proc = subprocess.Popen(
            ["stress-ng", "--cpu", str(n), "--fork", "1", "--switch", "1", "--timeout", "0", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        # running once every worker has been forked: poll its children, not a fixed sleep
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    if len(f.read().split()) >= n + 2:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("stress-ng load did not start")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(params=["quiet", "loaded"])
def machine_load(request):
    """Runs the test twice: as the machine is, and with every CPU busy (Load)."""
    load = Load() if request.param == "loaded" else None
    yield request.param
    if load:
        load.stop()


@pytest.fixture
def under_load():
    """Every CPU busy (Load) for the test's duration."""
    load = Load()
    yield
    load.stop()
