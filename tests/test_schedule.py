"""onnxcost.schedule: live activation bytes at every step, worked out by hand; the curve's top is the report's peak."""

from __future__ import annotations

from onnx import helper

import onnxcost
from onnxcost.report import NodeRow
from onnxcost.schedule import live_activations, output_sizes
from support.builders import model

FLOAT = 4


def test_vgg16_curve_by_hand(vgg16):
    report = onnxcost.analyze(vgg16)
    live = live_activations(report)
    assert live.rows == list(range(37))
    image, feature = 3 * 224 * 224 * FLOAT, 64 * 224 * 224 * FLOAT  # 602,112 and 12,845,056 B
    assert live.live_bytes[0] == image + feature  # conv1_1 reads the image and writes 64 maps
    assert live.live_bytes[1] == 2 * feature == 25_690_112  # relu1_1 reads conv1_1's maps and writes its own
    assert live.live_bytes[-1] == 4096 * FLOAT + 1000 * FLOAT  # fc8 reads relu7 and writes the logits
    assert max(live.live_bytes) == report.peak.bytes
    assert live.rows[live.live_bytes.index(report.peak.bytes)] == report.peak.node_index


def test_a_tensor_lives_until_its_last_reader():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"), helper.make_node("Neg", ["x"], ["b"], name="neg"),
             helper.make_node("Add", ["a", "b"], ["c"], name="add")]
    report = onnxcost.analyze(model(nodes, {"x": [1, 1000]}, ["c"]))
    size = 1000 * FLOAT
    # relu: x (read again by neg) and a; neg: x, a and b; add: a, b and c.
    assert live_activations(report).live_bytes == [2 * size, 3 * size, 3 * size]
    assert report.peak.bytes == 3 * size


def test_several_outputs_share_the_bytes_by_elements():
    row = NodeRow(index=0, name="split", op_type="Split", domain="", scope="", repeat=1, macs=0, flops=0, special_ops=0,
                  params=0, param_bytes=0, inputs=["x"], outputs=["y0", "", "y2"],
                  output_shapes=[[1, 2], None, [1, 4]], output_bytes=(2 + 4) * FLOAT, bytes_read=24,
                  memory_traffic_bytes=48)
    assert output_sizes(row) == {"y0": 2 * FLOAT, "y2": 4 * FLOAT}  # the omitted optional output has no name
