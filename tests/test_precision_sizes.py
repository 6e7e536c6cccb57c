"""onnxcost.precision_sizes: parameter bytes at 32/16/8/6/4 bits and the ratio to a baseline, by hand: SqueezeNet
1.0 against AlexNet ("AlexNet-level accuracy with 50x fewer parameters", Iandola et al. 2016)."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from onnx import helper

import onnxcost
from onnxcost import samples
from onnxcost.precision_sizes import PrecisionSizesError, parse_weight_bits, precision_sizes
from support.builders import model, zeros

SQUEEZENET_PARAMS = 1_248_424  # SqueezeNet 1.0 (torchvision; the paper's Table 2: 4.8 MB at 32 bits)
ALEXNET_PARAMS = 61_100_840  # torchvision's AlexNet, counted by hand in alexnet() below


def alexnet():
    """AlexNet as torchvision writes it (one tower, no LRN), 224x224: 224 -> 55 -> pool 27 -> 27 -> pool 13 ->
    13 -> pool 6; 256·6·6 = 9,216 features. Parameters, weights + biases:
      conv1 64·3·11·11 + 64 = 23,296        conv2 192·64·5·5 + 192 = 307,392   conv3 384·192·9 + 384 = 663,936
      conv4 256·384·9 + 256 = 884,992       conv5 256·256·9 + 256 = 590,080
      fc6 9,216·4,096 + 4,096 = 37,752,832  fc7 4,096·4,096 + 4,096 = 16,781,312  fc8 4,096·1,000 + 1,000 = 4,097,000
      total 61,100,840."""
    nodes, weights, x = [], {}, "image"
    convs = [(3, 64, 11, 4, 2, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False),
             (384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True)]
    for i, (cin, cout, k, stride, pad, pool) in enumerate(convs, 1):
        weights[f"c{i}.w"], weights[f"c{i}.b"] = zeros(cout, cin, k, k), zeros(cout)
        nodes += [helper.make_node("Conv", [x, f"c{i}.w", f"c{i}.b"], [f"conv{i}"], name=f"conv{i}",
                                   kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4),
                  helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"], name=f"relu{i}")]
        x = f"relu{i}"
        if pool:
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{i}"], name=f"pool{i}", kernel_shape=[3, 3],
                                          strides=[2, 2]))
            x = f"pool{i}"
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten"))
    x = "flat"
    for i, (fin, fout) in enumerate([(9216, 4096), (4096, 4096), (4096, 1000)], 6):
        weights[f"fc{i}.w"], weights[f"fc{i}.b"] = zeros(fout, fin), zeros(fout)
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.w", f"fc{i}.b"], [f"fc{i}"], name=f"fc{i}", transB=1))
        x = f"fc{i}"
    return model(nodes, {"image": [1, 3, 224, 224]}, [x], weights)


@pytest.fixture(scope="module")
def squeezenet():
    return onnxcost.analyze(samples.build("squeezenet1_0"))


def test_squeezenet_at_each_precision(squeezenet):
    result = precision_sizes(squeezenet)
    assert result.params == SQUEEZENET_PARAMS
    assert [(s.bits, s.label, s.bytes) for s in result.sizes] == [
        (32, "fp32", 4 * SQUEEZENET_PARAMS),  # 4,993,696 B = 4.76 MiB: the paper's "4.8MB"
        (16, "fp16/bf16", 2 * SQUEEZENET_PARAMS),  # 2,496,848
        (8, "int8", SQUEEZENET_PARAMS),  # 1,248,424 (Deep Compression, 33% of the weights kept: 0.66 MB)
        (6, "6-bit", 936_318),  # 6 · 1,248,424 / 8 = 936,318 (Deep Compression, pruned too: 0.47 MB)
        (4, "int4", 624_212),  # 4 · 1,248,424 / 8
    ]
    assert result.param_bytes == result.stored["float"] == 4 * SQUEEZENET_PARAMS
    assert result.sizes[3].formula == "ceil(6 × 1,248,424 / 8)"
    assert result.baseline is None and result.sizes[0].baseline_ratio is None


def test_fifty_times_fewer_parameters_than_alexnet(squeezenet):
    base = onnxcost.analyze(alexnet())
    assert base.totals.params == ALEXNET_PARAMS
    result = precision_sizes(squeezenet, (32, 8, 6), baseline=base)
    # 61,100,840 / 1,248,424 = 48.94: the paper's "50x" (240 MB / 4.8 MB, rounded).
    assert result.baseline.ratio == pytest.approx(48.942, abs=5e-4)
    assert result.baseline.phrase(result.params).startswith("48.9x fewer parameters than")
    # AlexNet's fp32 bytes (244,403,360) over SqueezeNet's at 32, 8 and 6 bits.
    assert [s.baseline_ratio for s in result.sizes] == pytest.approx([48.942, 195.77, 261.03], abs=5e-3)


def test_the_alexnet_sample_as_the_named_baseline(squeezenet):
    # The sample (onnxcost.samples "alexnet") has the hand count of alexnet() above: the same 48.9x.
    result = precision_sizes(squeezenet, [32], baseline="alexnet")
    assert (result.baseline.source, result.baseline.params) == ("alexnet", ALEXNET_PARAMS)
    assert result.baseline.phrase(result.params) == "48.9x fewer parameters than alexnet (1,248,424 against 61,100,840)"


def test_a_baseline_by_sample_name_or_file(squeezenet, tmp_path):
    result = precision_sizes(squeezenet, [32], baseline="squeezenet1_1")
    assert result.baseline.params == 1_235_496  # SqueezeNet 1.1 (torchvision)
    path = tmp_path / "small.onnx"
    onnx.save(model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, 4]},
                                    ["y"], {"w": zeros(4, 2)}), str(path))
    by_file = precision_sizes(squeezenet, [32], baseline=str(path))
    assert by_file.baseline.params == 8
    assert by_file.baseline.phrase(by_file.params).startswith(f"{SQUEEZENET_PARAMS / 8:.3g}x more parameters")
    with pytest.raises(PrecisionSizesError, match="neither a file nor a sample") as caught:
        precision_sizes(squeezenet, [32], baseline=str(tmp_path / "nothing"))
    assert caught.value.parameter == "baseline"


def test_bytes_round_up_to_whole_bytes():
    # 7 parameters: 6 bits each is 42 bits, 5.25 bytes -> 6; 3 bits: 21 bits -> 3 bytes; 8 bits: 7 bytes.
    report = onnxcost.analyze(model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, 1]}, ["y"],
                                    {"w": zeros(1, 7)}))
    assert [s.bytes for s in precision_sizes(report, [6, 3, 8]).sizes] == [6, 3, 7]
    assert precision_sizes(report, [3]).sizes[0].label == "3-bit"


def test_weight_bits_parsing():
    assert parse_weight_bits("32,16, 8,8") == [32, 16, 8]
    assert parse_weight_bits([4, 32]) == [4, 32]
    for bad in ("32,0", "abc", "65", "", [True]):
        with pytest.raises(PrecisionSizesError) as caught:
            parse_weight_bits(bad)
        assert caught.value.parameter == "weight_bits"


def test_record_keys_in_order(squeezenet):
    record = precision_sizes(squeezenet, [8]).to_dict()
    assert list(record) == ["schema", "source", "params", "param_bytes", "stored", "convention", "sizes", "baseline"]
    assert record["schema"] == "onnxcost.precision_sizes/1"


def test_report_sizes_section(tmp_path):
    # 8 x 3 = 24 parameters: 96 B at 32 bits, 18 B at 6; the baseline (4 x 2 = 8) has 3x fewer.
    small, base = tmp_path / "small.onnx", tmp_path / "base.onnx"
    for path, (k, n) in ((small, (8, 3)), (base, (4, 2))):
        onnx.save(model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, k]}, ["y"],
                        {"w": zeros(k, n)}), str(path))
    done = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(small), "-f", "json", "--weight-bits",
                           "32,6", "--baseline-params", str(base)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["sizes"]
    assert [(s["bits"], s["bytes"]) for s in record["sizes"]] == [(32, 96), (6, 18)]
    assert record["baseline"]["params"] == 8 and record["baseline"]["ratio"] == 8 / 24
    table = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(small), "--weight-bits", "4"],
                           capture_output=True, text=True, timeout=120)
    assert "int4" in table.stdout and "ceil(4 × 24 / 8)" in table.stdout
    bad = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(small), "--weight-bits", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'0' is not a whole number of bits" in bad.stderr
