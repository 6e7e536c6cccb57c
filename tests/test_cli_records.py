"""The JSON records of report, rewrite and validate, as the commands print them: their keys in order and figures
checked by hand (the library builds the records, the CLI only prints them)."""

import json

import pytest
from typer.testing import CliRunner

from onnxcost.cli import app
from support.rewrite_models import single_conv

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    """x[1, 8, 6, 6] -> Conv 3x3, pad 1, 8 -> 8 channels, bias."""
    path = tmp_path_factory.mktemp("m") / "conv.onnx"
    path.write_bytes(single_conv(8, 8, (3, 3), (6, 6), pads=[1, 1, 1, 1]).SerializeToString())
    return path


def test_report_record_of_vgg16():
    data = invoke("report", "--sample", "vgg16", "-f", "json")
    assert list(data) == ["schema", "model", "totals", "peak", "by_op_type", "nodes", "warnings"]
    assert data["schema"] == "onnxcost.report/1"
    assert data["model"]["source"] == "sample:vgg16"
    # Simonyan & Zisserman's configuration D, the classic per-layer table.
    assert data["totals"]["macs"] == 15_470_264_320
    assert data["totals"]["params"] == 138_357_544


def test_rewrite_record(conv, tmp_path):
    data = invoke("rewrite", "--separable", "--rank", "1", "--emission", "multiplier", conv, "-o", tmp_path / "o.onnx",
                  "-f", "json")
    assert list(data) == ["schema", "dry_run", "plan", "report_after", "validation"]
    assert data["schema"] == "onnxcost.rewrite/1" and data["dry_run"] is False
    # Dense: 36 output positions x 8 outputs x 8 inputs x 9 taps = 20,736 MACs; 8·8·9 weights + 8 biases = 584.
    # Rank 1: depthwise 36 x 8 x 9 = 2,592 + pointwise 36 x 8 x 8 = 2,304 -> 4,896 MACs;
    # params 8·9 + 8·8 + 8 biases = 144.
    plan = data["plan"]
    assert (plan["macs_before"], plan["macs_after"], plan["params_before"], plan["params_after"]) == (20_736, 4_896, 584, 144)
    # Memory traffic in bytes (float32): before, the conv reads x (288 floats), W (576) and b (8) and writes y (288):
    # 4·1,160 = 4,640. After, dw reads x (288) and its 72 weights and writes 288; pw reads those 288, 64 weights and 8
    # biases and writes 288: 4·(288 + 72 + 288 + 288 + 64 + 8 + 288) = 5,184.
    assert (plan["traffic_before"], plan["traffic_after"]) == (4_640, 5_184)
    assert data["report_after"] == {"macs": 4_896, "params": 144, "memory_traffic_bytes": 5_184}
    validation = data["validation"]
    assert list(validation) == ["outputs", "inputs", "input_source", "bounds", "failures", "warnings"]
    assert validation["inputs"] == {"x": [1, 8, 6, 6]} and validation["input_source"] == "random, seed 0"
    assert [o["name"] for o in validation["outputs"]] == ["y"] and validation["failures"] == []


def test_dry_run_record_has_no_model_after(conv):
    data = invoke("rewrite", "--separable", "--rank", "1", "--emission", "multiplier", conv, "--dry-run", "-f", "json")
    assert data["dry_run"] is True and data["report_after"] is None and data["validation"] is None
    assert data["plan"]["macs_after"] == 4_896


def test_validate_record_of_a_model_against_itself(conv):
    data = invoke("validate", conv, conv, "-f", "json")
    assert list(data) == ["schema", "reference", "candidate", "comparison"]
    assert data["schema"] == "onnxcost.validate/1"
    assert (data["reference"], data["candidate"]) == (str(conv), str(conv))
    (output,) = data["comparison"]["outputs"]
    # The same model on the same inputs: no difference at all.
    assert (output["max_abs_error"], output["rel_l2_error"]) == (0.0, 0.0) and output["cosine"] == pytest.approx(1.0, abs=1e-12)
    assert output["shape"] == [1, 8, 6, 6]
