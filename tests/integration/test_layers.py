# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""make check-layers: the tree obeys tools/layers.rules, and a planted violation is caught."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _copy_tree(dst):
    for d in ("user", "include", "bpf", "tools"):
        shutil.copytree(ROOT / d, dst / d)


def _check(tree):
    return subprocess.run([str(tree / "tools" / "check-layers"), str(tree)],
                          capture_output=True, text=True, timeout=60)


def test_check_layers_when_tree_as_committed_expect_pass():
    r = subprocess.run([str(ROOT / "tools" / "check-layers")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "includes obey" in r.stdout


def test_check_layers_when_core_includes_the_tracer_expect_named_violation(tmp_path):
    _copy_tree(tmp_path)
    with open(tmp_path / "user" / "core" / "attrib.c", "a") as f:
        f.write('#include "joule/tracer.h"\n')
    r = _check(tmp_path)
    assert r.returncode == 1, "a core module including the tracer must fail the check"
    assert "user/core/attrib.c" in r.stdout and "must not include joule/tracer.h" in r.stdout, r.stdout


def test_check_layers_when_a_core_header_pulls_in_the_sampler_expect_violation(tmp_path):
    _copy_tree(tmp_path)
    p = tmp_path / "include" / "joule" / "store.h"
    p.write_text(p.read_text().replace('#include "joule/sample.h"', '#include "joule/sampler.h"'))
    r = _check(tmp_path)
    assert r.returncode == 1, "a core header including a glue header must fail the check"
    assert "include/joule/store.h" in r.stdout, r.stdout


def test_check_layers_when_http_includes_the_ledger_expect_violation(tmp_path):
    _copy_tree(tmp_path)
    victim = sorted((tmp_path / "user" / "http").glob("*.c"))[0]
    with open(victim, "a") as f:
        f.write('#include "joule/ledger.h"\n')
    r = _check(tmp_path)
    assert r.returncode == 1, "the HTTP layer including the ledger must fail the check"
    assert "layer http must not include joule/ledger.h" in r.stdout, r.stdout


def test_check_layers_when_header_has_no_layer_expect_failure(tmp_path):
    _copy_tree(tmp_path)
    (tmp_path / "include" / "joule" / "orphan.h").write_text("/* no layer */\n")
    with open(tmp_path / "user" / "util.c", "a") as f:
        f.write('#include "joule/orphan.h"\n')
    r = _check(tmp_path)
    assert r.returncode == 1, "a header the rules do not place must fail the check"
    assert "has no layer" in r.stdout, r.stdout
