"""onnxcost audit on Ray: a local cluster started here gives the JSONL the local run gives, byte for byte.

Ray is an optional extra. Without it these tests skip with the reason, except in CI (CI=true), where its
absence fails the run: CI installs it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from onnx import helper

from onnxcost import samples
from onnxcost.auditing import audit
from onnxcost.files import save_model
from onnxcost.render.audit import render_audit
from support.builders import model, zeros

try:
    import ray
except ImportError:
    if os.environ.get("CI") == "true":
        pytest.fail("ray is not installed, and CI must run the Ray tests: pip install 'onnxcost[ray]'", pytrace=False)
    pytest.skip("ray is not installed (pip install 'onnxcost[ray]')", allow_module_level=True)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of two CPUs for this module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two zoo samples, a model with a free dimension (a warning), and a truncated file (an error row)."""
    folder = tmp_path_factory.mktemp("models")
    for name in ("squeezenet1_1", "shufflenet_v2_x1_0"):
        save_model(samples.build(name), folder / f"{name}.onnx")
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv")]
    (folder / "free_batch.onnx").write_bytes(model(nodes, {"x": ["batch", 2, 5, 5]}, ["y"], {"W": zeros(3, 2, 3, 3)}).SerializeToString())
    data = (folder / "squeezenet1_1.onnx").read_bytes()
    (folder / "truncated.onnx").write_bytes(data[: len(data) // 3])
    return folder


def test_ray_and_local_runs_write_the_same_jsonl(cluster, models, tmp_path):
    local = audit(models, jobs=2, resume=tmp_path / "local.jsonl")
    on_ray = audit(models, ray=True, resume=tmp_path / "ray.jsonl")
    assert ray.is_initialized()  # the session the test opened is used, and left open
    assert render_audit(on_ray, "jsonl") == render_audit(local, "jsonl")
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    rows = {os.path.basename(row.path): row for row in on_ray.rows}
    assert {name: row.status for name, row in rows.items()} == {
        "free_batch.onnx": "ok", "shufflenet_v2_x1_0.onnx": "ok", "squeezenet1_1.onnx": "ok", "truncated.onnx": "error"}
    assert rows["squeezenet1_1.onnx"].params == 1_235_496  # torchvision's num_params (no BatchNorm)
    assert rows["shufflenet_v2_x1_0.onnx"].params == 2_278_604 + 2 * 8_090  # + BN running statistics
    assert rows["free_batch.onnx"].macs == 1 * 3 * 3 * 3 * (2 * 3 * 3) and rows["free_batch.onnx"].free_dims == ["batch"]


def test_cli_on_the_cluster_at_an_address(cluster, models, tmp_path):
    local, remote = tmp_path / "local.jsonl", tmp_path / "remote.jsonl"
    commands = [["audit", str(models), "-f", "jsonl", "-o", str(local)],
                ["audit", str(models), "--ray-address", cluster, "-f", "jsonl", "-o", str(remote)]]
    for args in commands:
        result = subprocess.run([sys.executable, "-m", "onnxcost", *args], capture_output=True, text=True, timeout=300)
        assert result.returncode == 1 and "error: not every model passed: 4 models: 3 ok, 1 error" in result.stderr, result.stderr
    assert remote.read_bytes() == local.read_bytes()
