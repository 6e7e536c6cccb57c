"""onnxcost rewrite --grouped G on the command line: exact on VGG-16 and a ResNet block in onnxruntime, the
written model's report against hand counts, skipped convs, the dry-run comparison, failed validation
(the bad-input table of both structures is in test_separable_cli.py).

Hand formulas (N = 1, P = output positions, K = kernel elements): dense conv P·Cout·Cin·K; grouped at rank r
per block P·G·r·(Cin·K + Cout). At the exact rank of full-rank weights, G·r = min(Cout, Cin·K), so an exact
rewrite costs P·min(Cout, Cin·K)·(Cin·K + Cout) whatever G: for VGG-16's convs (Cout <= 9·Cin) the dense conv
plus P·Cout².
"""

import json

import onnx
import pytest
from typer.testing import CliRunner

import onnxcost
from onnxcost.cli import commands

from support.rewrite_models import VGG16_CONVS, VGG16_MACS, finish, resnet_block

runner = CliRunner()
app = commands()


def rewrite(*args):
    return runner.invoke(app, ["rewrite", *map(str, args)])


@pytest.fixture(scope="module")
def vgg16_exact(tmp_path_factory):
    """VGG-16 exact, G = 2 with the exporters' shuffle and G = 4 with the Gather: one CLI run each."""
    runs = {}
    for groups, emission in ((2, "shuffle"), (4, "gather")):
        out = tmp_path_factory.mktemp(f"g{groups}") / "vgg16.grouped.onnx"
        result = rewrite("--grouped", groups, "--exact", "--emission", emission, "--sample", "vgg16", "-f", "json", "-o", out)
        assert result.exit_code == 0, result.output
        runs[groups] = (json.loads(result.stdout), out)
    return runs


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    path = tmp_path_factory.mktemp("block") / "block.onnx"
    onnx.save(resnet_block(), path)
    return path


@pytest.mark.parametrize("groups", [2, 4])
def test_vgg16_exact_matches_in_onnxruntime(vgg16_exact, groups):
    payload, _ = vgg16_exact[groups]
    (output,) = payload["validation"]["outputs"]
    assert output["name"] == "fc8" and output["rel_l2_error"] < 1e-5 and output["top1_agreement"] == 1.0
    assert payload["validation"]["failures"] == []


@pytest.mark.parametrize("groups", [2, 4])
def test_vgg16_exact_report_equals_the_prediction_and_the_hand_count(vgg16_exact, groups):
    payload, path = vgg16_exact[groups]
    extra = sum(side * side * cout * cout for name, _, cout, side in VGG16_CONVS[1:])
    assert extra == 2_003_828_736
    report = onnxcost.analyze(str(path))
    assert report.totals.macs == payload["plan"]["macs_after"] == payload["report_after"]["macs"] == VGG16_MACS + extra
    assert report.totals.params == payload["plan"]["params_after"]
    assert report.totals.memory_traffic_bytes == payload["plan"]["traffic_after"]
    rows = {row.name: row for row in report.nodes}
    # One layer by hand: conv3_1, 128 -> 256, 56x56; blocks (256/G) x (128/G·9), exact rank 256/G, M = 256·G.
    m = 256 * groups
    assert rows["conv3_1/gconv"].macs == 56 * 56 * m * (128 // groups) * 9 == 56 * 56 * 256 * 128 * 9
    assert rows["conv3_1/gpw"].macs == 56 * 56 * 256 * (m // groups) == 56 * 56 * 256 * 256
    layers = {l["name"]: l for l in payload["plan"]["layers"]}
    assert layers["conv3_1"]["macs_after"] == 56 * 56 * 256 * (128 * 9 + 256) == 802_816 * 1408
    assert layers["conv3_1"]["rank"] == 256 // groups == layers["conv3_1"]["exact_rank"]
    assert rows["conv1_1"].op_type == "Conv" and not layers["conv1_1"]["rewrite"]  # the RGB stem
    shuffle_ops = {"Reshape", "Transpose"} if groups == 2 else {"Gather"}
    assert {row.op_type for row in report.nodes if row.name.startswith("conv3_1/shuffle")} == shuffle_ops
    assert all(row.macs == 0 for row in report.nodes if "/shuffle" in row.name)
    assert any("costs min(Cout, Cin·K)·(Cin·K + Cout) MACs" in note for note in payload["plan"]["notes"])


def test_vgg16_written_model_passes_the_full_check(vgg16_exact):
    _, path = vgg16_exact[2]
    onnx.checker.check_model(str(path), full_check=True)


@pytest.mark.parametrize("groups", [2, 4])
def test_resnet_block_exact(block, tmp_path, groups):
    out = tmp_path / "out.onnx"
    result = rewrite("--grouped", groups, "--exact", block, "-o", out, "-f", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["validation"]["outputs"][0]["rel_l2_error"] < 1e-5
    report = onnxcost.analyze(str(out))
    # conv_a 16 -> 32 (8x8 out): 64·32·(144 + 32); conv_b 32 -> 32: 64·32·(288 + 32); conv_s 1x1: 64·16·(16 + 32).
    assert report.totals.macs == 64 * 32 * 176 + 64 * 32 * 320 + 64 * 16 * 48 == payload["plan"]["macs_after"]


def test_table_output_of_an_exact_rewrite(block, tmp_path):
    result = rewrite("--grouped", "2", "--exact", "--emission", "shuffle", block, "-o", tmp_path / "out.onnx")
    assert result.exit_code == 0, result.output
    assert "Rewrite: grouped G=2, exact" in result.stdout
    assert "validation passed (bound: relative L2 error <= 0.0001)" in result.stdout
    assert "memory traffic" in result.stdout and "the channel shuffle has no MACs" in result.stdout
    assert "equal to the pass's prediction to the MAC (and to the byte of memory traffic)" in result.stdout


def test_a_conv_that_g_does_not_divide_is_skipped_and_listed(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    weights = {"a.weight": rng.standard_normal((12, 8, 3, 3)).astype(np.float32),
               "b.weight": rng.standard_normal((6, 12, 3, 3)).astype(np.float32)}
    nodes = [onnx.helper.make_node("Conv", ["x", "a.weight"], ["a"], name="a", pads=[1] * 4),
             onnx.helper.make_node("Conv", ["a", "b.weight"], ["y"], name="b", pads=[1] * 4)]
    path = tmp_path / "m.onnx"
    onnx.save(finish(nodes, {"x": [1, 8, 6, 6]}, ["y"], weights), path)
    result = rewrite("--grouped", "4", "--exact", "--emission", "shuffle", path, "-o", tmp_path / "out.onnx")
    assert result.exit_code == 0, result.output
    assert "Left as they are" in result.stdout and "G=4 does not divide Cin=12 and Cout=6" in result.stdout
    result = rewrite("--grouped", "4", "--rank", "1", "--dry-run", "-f", "json", path)
    layers = {l["name"]: l for l in json.loads(result.stdout)["plan"]["layers"]}
    assert layers["a"]["rewrite"] and layers["b"]["reason"] == "G=4 does not divide Cin=12 and Cout=6"


def test_dry_run_shows_the_other_structures_at_the_same_macs(block, tmp_path):
    result = rewrite("--grouped", "2", "--rank", "2", "--emission", "shuffle", "--dry-run", block)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Plan (dry run): grouped G=2, rank 2" in out
    assert "Same MACs, other structures (weight rel. error)" in out
    for column in ("grouped G=2", "separable", "low-rank pair", "least error"):
        assert column in out
    assert "n/a: separable at conv_s: 1x1 kernel: nothing to separate" in out
    assert "n/a: separable at conv_b: rank 1 costs 83.97 K MACs > 81.92 K" in out
    assert "the least weight error:" in out
    assert list(tmp_path.iterdir()) == []
    result = rewrite("--grouped", "2", "--rank", "2", "--emission", "shuffle", "--dry-run", "-f", "json", block)
    layers = {l["name"]: l for l in json.loads(result.stdout)["plan"]["layers"]}
    pair = next(a for a in layers["conv_b"]["alternatives"] if a["structure"] == "low-rank pair")
    assert pair["rank"] == 4 and pair["macs"] == 81_920 == layers["conv_b"]["macs_after"]


def test_gather_fallback_is_said(tmp_path):
    """Dynamic spatial dims: the exporters' shuffle would freeze them, so the Gather is written and the table says so."""
    path = tmp_path / "dyn.onnx"
    import numpy as np

    w = {"conv.weight": np.random.default_rng(0).standard_normal((16, 8, 3, 3)).astype(np.float32)}
    node = onnx.helper.make_node("Conv", ["x", "conv.weight"], ["y"], name="conv", pads=[1] * 4)
    onnx.save(finish([node], {"x": [1, 8, "h", "w"]}, ["y"], w), path)
    result = rewrite("--grouped", "2", "--rank", "1", "--emission", "shuffle", "--input", "x:1x8x10x10", "--dry-run", path)
    assert result.exit_code == 0, result.output
    assert "conv: 'shuffle' emission not available here; gather" in result.stdout


def test_failed_validation_exits_1_and_writes_nothing(block, tmp_path):
    out = tmp_path / "out.onnx"
    result = rewrite("--grouped", "2", "--rank", "1", "--emission", "gather", "--max-rel-error", "1e-6", block, "-o", out)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: validation failed, nothing written")
    assert not out.exists()
