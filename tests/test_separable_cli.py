"""onnxcost rewrite --separable on the command line: what it prints, writes, refuses, and its exit codes; and
the bad-input table of both structures (--separable and --grouped G)."""

import json

import onnx
import pytest
from typer.testing import CliRunner

import onnxcost
from onnxcost.cli import commands

from support.rewrite_models import resnet_block, single_conv

runner = CliRunner()
app = commands()


@pytest.fixture()
def block(tmp_path):
    path = tmp_path / "block.onnx"
    onnx.save(resnet_block(), path)
    return path


def rewrite(*args):
    return runner.invoke(app, ["rewrite", "--separable", *map(str, args)])


def test_exact_rewrite_writes_a_checked_model(block, tmp_path):
    out = tmp_path / "out.onnx"
    result = rewrite("--exact", block, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr
    onnx.checker.check_model(str(out), full_check=True)
    report = onnxcost.analyze(str(out))
    # conv_a 16->32 3x3 s2 on 16x16 (8x8 out), conv_b 32->32 3x3 (8x8), exact rank 9; conv_s 1x1 16->32 s2.
    expected = 64 * (16 * 81 + 32 * 16 * 9) + 64 * (32 * 81 + 32 * 32 * 9) + 64 * 32 * 16
    assert report.totals.macs == expected
    assert f"{expected:,}" in result.stdout
    assert "validation passed (bound: relative L2 error <= 0.0001)" in result.stdout
    assert "exact mode proves the surgery correct" in result.stdout
    assert "conv_a +bn_a" in result.stdout


def test_dry_run_lists_and_writes_nothing(block, tmp_path):
    result = rewrite("--rank", "1", "--dry-run", block)
    assert result.exit_code == 0, result.output
    assert "Plan (dry run): separable, rank 1" in result.stdout
    assert "1x1 kernel: nothing to separate" in result.stdout
    # conv_a at rank 1: 64·(16·9 + 32·16) = 41,984 MACs, params 16·9 + 32·16 + 32 (folded bias) = 688
    assert "41.98 K" in result.stdout and "688" in result.stdout
    assert list(tmp_path.iterdir()) == [block]


def test_dry_run_json_has_exact_figures(block):
    result = rewrite("--rank", "1", "--dry-run", "-f", "json", block)
    payload = json.loads(result.stdout)
    layers = {l["name"]: l for l in payload["plan"]["layers"]}
    assert layers["conv_a"]["macs_after"] == 64 * (16 * 9 + 32 * 16)
    assert layers["conv_a"]["params_after"] == 16 * 9 + 32 * 16 + 32
    assert layers["conv_s"]["rewrite"] is False


def test_failed_validation_writes_nothing_and_exits_1(block, tmp_path):
    out = tmp_path / "out.onnx"
    result = rewrite("--rank", "1", "--max-rel-error", "1e-6", block, "-o", out)
    assert result.exit_code == 1
    assert "validation FAILED" in result.stdout
    assert result.stderr.startswith("error: validation failed, nothing written: output 'out': relative L2 error")
    assert not out.exists()
    result = rewrite("--rank", "1", "--max-rel-error", "1e-6", "--force", block, "-o", out)
    assert result.exit_code == 0 and out.exists()
    assert "writing anyway (--force)" in result.stderr


def test_atol_rtol_bounds(block, tmp_path):
    out = tmp_path / "out.onnx"
    result = rewrite("--exact", "--atol", "1e-3", "--rtol", "1e-3", block, "-o", out)
    assert result.exit_code == 0, result.output
    result = rewrite("--rank", "1", "--atol", "1e-9", "--rtol", "0", block, "-o", out)
    assert result.exit_code == 1 and "exceeds" in result.stderr


def test_given_inputs(block, tmp_path):
    import numpy as np

    data = tmp_path / "data.npz"
    np.savez(data, x=np.random.default_rng(0).standard_normal((1, 16, 16, 16)).astype(np.float32))
    result = rewrite("--exact", "--inputs", data, block, "-o", tmp_path / "out.onnx")
    assert result.exit_code == 0, result.output
    assert "inputs: " in result.stdout and "data.npz" in result.stdout


def test_never_over_the_input_unless_in_place(block):
    before = block.read_bytes()
    result = rewrite("--rank", "1", block, "-o", block)
    assert result.exit_code == 2 and "refused without --in-place" in result.stderr
    assert block.read_bytes() == before
    result = rewrite("--rank", "1", "--no-validate", "--in-place", block)
    assert result.exit_code == 0, result.output
    assert block.read_bytes() != before
    assert any(n.name == "conv_a/pw" for n in onnx.load(str(block)).graph.node)


@pytest.mark.parametrize("args, message", [
    # either structure
    (["rewrite", "--rank", "1", "M", "-o", "o.onnx"], "choose a structure: --separable, --grouped G, or both"),
    (["rewrite", "--separable", "--rank", "1", "--energy", "0.9", "M", "-o", "o.onnx"], "choose one mode, not --rank and --energy"),
    (["rewrite", "--grouped", "2", "--rank", "1", "--exact", "M", "-o", "o.onnx"], "choose one mode, not --exact and --rank"),
    (["rewrite", "--separable", "--rank", "0", "M", "-o", "o.onnx"], "--rank must be an integer >= 1, got 0"),
    (["rewrite", "--separable", "--energy", "1.5", "M", "-o", "o.onnx"], "--energy must be in (0, 1]"),
    (["rewrite", "--separable", "--target-macs", "fast", "M", "-o", "o.onnx"], "--target-macs 'fast'"),
    (["rewrite", "--separable", "--min-channels", "0", "M", "-o", "o.onnx"], "--min-channels must be >= 1, got 0"),
    (["rewrite", "--separable", "M"], "give -o OUT.onnx"),
    (["rewrite", "--separable", "--sample", "vgg16", "--in-place"], "--in-place needs a model file"),
    (["rewrite", "--separable", "missing.onnx", "-o", "o.onnx"], "missing.onnx: no such file"),
    (["rewrite", "--separable", "--rtol", "-1", "M", "-o", "o.onnx"], "--rtol must be >= 0"),
    # per structure
    (["rewrite", "--separable", "--target-macs", "1", "M", "-o", "o.onnx"], "cannot be met"),
    (["rewrite", "--grouped", "2", "--target-macs", "1", "M", "-o", "o.onnx"], "cannot be met"),
    (["rewrite", "--grouped", "0", "--rank", "1", "M", "-o", "o.onnx"], "--grouped G must be an integer >= 1"),
    (["rewrite", "--grouped", "2", "--emission", "concat", "--rank", "1", "M", "-o", "o.onnx"],
     "--emission concat: the grouped G=2 rewrite writes shuffle or gather"),
    (["rewrite", "--separable", "--emission", "gather", "--rank", "1", "M", "-o", "o.onnx"],
     "--emission gather: the separable rewrite writes multiplier or concat"),
])
def test_bad_input_is_one_line_and_exit_2(block, tmp_path, args, message):
    args = [str(block) if a == "M" else str(tmp_path / a) if a.endswith(".onnx") else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "o.onnx").exists()


def test_include_exclude_min_channels(block):
    result = rewrite("--rank", "1", "--dry-run", "--exclude", "conv_b", "-f", "json", block)
    layers = {l["name"]: l for l in json.loads(result.stdout)["plan"]["layers"]}
    assert layers["conv_a"]["rewrite"] and layers["conv_b"]["reason"] == "matched by exclude"
    result = rewrite("--rank", "1", "--dry-run", "--min-channels", "17", "-f", "json", block)
    layers = {l["name"]: l for l in json.loads(result.stdout)["plan"]["layers"]}
    assert layers["conv_a"]["reason"] == "16 input channels < min_channels 17"
    assert layers["conv_b"]["rewrite"]


def test_target_macs_ratio(block, tmp_path):
    before = onnxcost.analyze(str(block)).totals.macs
    out = tmp_path / "out.onnx"
    result = rewrite("--target-macs", "0.5x", "--emission", "multiplier", block, "-o", out)
    assert result.exit_code == 0, result.output
    assert onnxcost.analyze(str(out)).totals.macs <= before // 2


def test_measure_on_the_command_line(block, tmp_path):
    result = rewrite("--rank", "2", "--measure", "--dry-run", block)
    assert result.exit_code == 0, result.output
    assert "measured" in result.stdout


def test_sample_dry_run(tmp_path):
    result = rewrite("--rank", "1", "--dry-run", "--sample", "vgg16", "--include", "conv5_*")
    assert result.exit_code == 0, result.output
    assert "conv5_3" in result.stdout and "sample:vgg16" in result.stdout


def test_single_conv_model_with_grouped_conv(tmp_path):
    path = tmp_path / "g.onnx"
    onnx.save(single_conv(8, 16, [3, 3], [10, 10], group=2, pads=[1] * 4), path)
    result = rewrite("--rank", "2", path, "-o", tmp_path / "out.onnx")
    assert result.exit_code == 0, result.output
    # Grouped: only the one-conv emission exists, no measurement needed.
    assert "multiplier" in result.stdout


def test_html_page_is_written_even_when_validation_fails(block, tmp_path):
    out, page = tmp_path / "out.onnx", tmp_path / "rewrite.html"
    result = rewrite("--rank", "1", "--max-rel-error", "1e-6", "--html", page, block, "-o", out)
    assert result.exit_code == 1 and not out.exists()  # rank 1 of random weights: far above 1e-6
    assert f"wrote {page}" in result.stderr
    html = page.read_text(encoding="utf-8")
    # conv_a: 8·8 outputs · 32 · 16 · 9 = 294,912 MACs before; rank 1: 16·9·64 + 16·32·64 = 41,984 after.
    assert "294.91 K → 41.98 K" in html
    assert 'id="validation"' in html and "block.onnx" in html


def test_html_page_next_to_a_written_model(block, tmp_path):
    out, page = tmp_path / "out.onnx", tmp_path / "rewrite.html"
    result = rewrite("--exact", "--html", page, block, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.exists() and page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("where", ["input", "output"])
def test_html_page_never_replaces_the_input_or_the_model_written(block, tmp_path, where):
    out = tmp_path / "out.onnx"
    page = block if where == "input" else out
    before = block.read_bytes()
    result = rewrite("--exact", "--html", page, block, "-o", out)
    assert result.exit_code == 2 and result.stdout == ""
    said = {"input": "it is the input", "output": "--html"}[where]
    assert said in result.stderr and block.read_bytes() == before and not out.exists()


def test_calibrate_on_the_command_line(block, tmp_path):
    # 10 samples of the block's input: 8 calibrate, 2 (a fifth) are held out and validate.
    import numpy as np

    data = tmp_path / "data.npz"
    np.savez(data, x=np.random.default_rng(0).standard_normal((10, 16, 16, 16)).astype(np.float32))
    result = rewrite("--rank", 2, "--calibrate", data, block, "-o", tmp_path / "out.onnx", "-f", "json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["plan"]["calibration"] == {"samples": 8, "held_out": 2, "refit": True}
    assert record["validation"]["input_source"] == "2 held-out calibration sample(s)"
    table = rewrite("--rank", 2, "--calibrate", data, "--no-refit", "--dry-run", block)
    assert table.exit_code == 0, table.output
    assert "calibrated on 8 samples" in table.stdout and "output" in table.stdout
    missing = rewrite("--rank", 2, "--calibrate", tmp_path / "missing.npz", "--dry-run", block)
    assert missing.exit_code == 2 and "missing.npz: no such file or folder" in missing.stderr
