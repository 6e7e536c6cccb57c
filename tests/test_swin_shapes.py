"""Shifted-window attention as PyTorch's TorchScript exporter writes it (tests/support/swin.py): at a fully static
input every tensor's shape is known (none assumed 1) and the MACs are the hand count (issue 10).

Hand count of one block, C channels, T tokens of the H x W input, T' tokens after padding to a multiple of the
7x7 window (attention runs on T' = windows · 49 tokens), MLP ratio 4:
    qkv T'·C·3C + q·kᵀ and attn·v 2·T'·49·C + proj T'·C·C + MLP 2·T·C·4C
    = 4·T'·C² + 98·T'·C + 8·T·C².
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

import onnxcost
from support.swin import swin_block, swin_t


def test_shifted_window_block_at_a_static_input_knows_every_shape():
    # 56x56 (no padding), C = 96: T = T' = 3136. 4·3136·9216 = 115,605,504; 98·3136·96 = 29,503,488;
    # 8·3136·9216 = 231,211,008: 376,320,000.
    report = onnxcost.analyze(swin_block(), inputs={"x": [1, 56, 56, 96]})
    assert report.warnings == []
    assert report.totals.macs == 376_320_000
    assert all(shape is not None and all(d > 0 for d in shape) for row in report.nodes for shape in row.output_shapes)


def test_declared_static_input_needs_no_override():
    report = onnxcost.analyze(swin_block(dims=(1, 56, 56)))
    assert report.warnings == [] and report.totals.macs == 376_320_000


def test_padded_windows_every_shape_equals_onnxruntime():
    # 30x30 pads to 35x35 (pad = (7 - 30 % 7) % 7 = 5): 25 windows of 49 tokens, batch 2: T' = 2450, T = 1800.
    # 4·2450·9216 = 90,316,800; 98·2450·96 = 23,049,600; 8·1800·9216 = 132,710,400: 246,076,800.
    model = swin_block(seed=1)
    report = onnxcost.analyze(model, inputs={"x": [2, 30, 30, 96]})
    assert report.warnings == []
    assert report.totals.macs == 246_076_800
    softmax = {tuple(s) for row in report.nodes if row.op_type == "Softmax" for s in row.output_shapes}
    assert softmax == {(50, 3, 49, 49)}  # 2 images · 25 windows, 3 heads, 49 x 49
    # Every node's outputs as onnxruntime computes them.
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [name for node in probe.graph.node for name in node.output]
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    actual = dict(zip(names, session.run(None, {"x": np.random.default_rng(0).random((2, 30, 30, 96), np.float32)})))
    reported = {name: shape for row in report.nodes for name, shape in zip(row.outputs, row.output_shapes)}
    # Constant nodes became initializers in the report's skeleton; every other tensor has its real shape.
    wrong = {name: (shape, list(actual[name].shape)) for name, shape in reported.items()
             if shape != list(actual[name].shape)}
    assert not wrong
    assert set(reported) == {node.output[0] for node in model.graph.node if node.op_type != "Constant"}


def test_swin_t_reports_the_published_cost_with_every_shape_known():
    # Hand count at 224x224 (all windows full: T' = T): patch embedding 3136·96·48 = 14,450,688; per stage
    # (T, C, blocks) = (3136, 96, 2), (784, 192, 2), (196, 384, 6), (49, 768, 2), a block 12·T·C² + 98·T·C:
    # 376,320,000·2 + 361,568,256·2 + 354,192,384·6 + 350,504,448·2 = 4,301,939,712; patch merging
    # (T/4)·4C·2C = 57,802,752 three times; head 768·1000. Total 4,490,566,656: the published 4.49 G
    # (torchvision's swin_t, "GFLOPS 4.49", which counts MACs), and 28,288,354 parameters (28.3 M).
    report = onnxcost.analyze(swin_t(), inputs={"x": [1, 3, 224, 224]})
    assert report.warnings == []
    assert report.totals.macs == 4_490_566_656
    assert report.totals.params == 28_288_354
    assert report.nodes[-1].output_shapes == [[1, 1000]]
