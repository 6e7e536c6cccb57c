"""Exporter realism: the zoo's networks written the way real exporters write them report the same.

Each variant (onnxcost.samples.exporters) holds the same network with the same weights: it must
pass the full check, compute the same outputs in onnxruntime, and report the same MACs, node by
node. Parameters follow the report's convention, derived by hand for each form:

- BatchNormalization folded into its Conv (TorchScript exporter): each folded BN's scale, shift,
  mean and variance (4 per channel) become one bias per channel on the Conv, so the count is the
  published one (which has the scale and shift) less 1 per folded channel.
- Every other form keeps the weights as they are: the same count as the plain sample.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import onnxcost
from onnxcost import samples
from onnxcost.files import save_with_external_data
from onnxcost.samples import exporters

STYLES = {
    "torchscript": exporters.torchscript_style,
    "dynamo": exporters.dynamo_style,
    "tf2onnx": exporters.tf2onnx_style,
    "float16": exporters.float16,
}
CASES = [
    ("resnet50", "torchscript"), ("resnet50", "dynamo"), ("resnet50", "tf2onnx"), ("resnet50", "float16"),
    ("mobilenet_v2", "torchscript"), ("mobilenet_v2", "dynamo"), ("mobilenet_v2", "tf2onnx"), ("mobilenet_v2", "float16"),
    ("shufflenet_v2_x1_0", "torchscript"), ("shufflenet_v2_x1_0", "dynamo"), ("shufflenet_v2_x1_0", "float16"),
    ("se_resnet50", "dynamo"), ("se_resnet50", "tf2onnx"),
    ("xception", "torchscript"), ("xception", "tf2onnx"),
    ("inception_v3", "torchscript"), ("inception_v3", "dynamo"), ("inception_v3", "tf2onnx"),
    ("densenet121", "torchscript"), ("densenet121", "tf2onnx"),
    ("vit_b_16", "torchscript"), ("vit_b_16", "dynamo"), ("vit_b_16", "float16"),
]
# Published parameter counts (BN scale and shift, no running statistics) and BN channels, with the
# sources in tests/test_zoo.py; and the BN channels a TorchScript export folds into convolutions.
PUBLISHED = {
    "resnet50": (25_557_032, 26_560), "mobilenet_v2": (3_504_872, 17_056), "shufflenet_v2_x1_0": (2_278_604, 8_090),
    "xception": (22_855_952, 27_264), "inception_v3": (27_161_264 - 3_326_696, 17_216),
    "densenet121": (7_978_856, 41_824), "vit_b_16": (86_567_656, 0),
}
# DenseNet's BN-ReLU-Conv order leaves only the BNs right after a conv to fold: norm0 and each
# layer's norm2 (4·32 channels after its 1x1 conv); everywhere else every BN follows a conv.
FOLDED = {**{name: bn for name, (_, bn) in PUBLISHED.items()}, "densenet121": 64 + 128 * (6 + 12 + 24 + 16)}


class Models:
    """Plain samples, their variants, reports and onnxruntime outputs, each made once per module."""

    def __init__(self):
        self.cache: dict[tuple, object] = {}

    def _get(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def plain(self, name):
        return self._get(("plain", name), lambda: samples.build(name))

    def variant(self, name, style):
        kwargs = {"module_of": vit_layer} if (name, style) == ("vit_b_16", "dynamo") else {}
        return self._get((style, name), lambda: STYLES[style](self.plain(name), **kwargs))

    def report(self, name, style=None):
        dims = {"batch_size": 1} if style == "torchscript" else None
        model = self.plain(name) if style is None else self.variant(name, style)
        return self._get(("report", style, name), lambda: onnxcost.analyze(model, dims=dims))

    def image(self, name):
        shape = [d.dim_value for d in self.plain(name).graph.input[0].type.tensor_type.shape.dim]
        return np.random.default_rng(1).standard_normal(shape).astype(np.float32)

    def outputs(self, name):
        return self._get(("outputs", name), lambda: run(self.plain(name), self.image(name)))


def vit_layer(name: str) -> str | None:
    """A ViT's modules: each encoder layer ('encoder.layers.encoder_layer_3')."""
    return ".".join(name.split(".")[:3]) if name.startswith("encoder.layers.") else None


def run(model: onnx.ModelProto | str, image: np.ndarray) -> np.ndarray:
    source = model if isinstance(model, str) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image})[0]


@pytest.fixture(scope="module")
def models():
    return Models()


def per_node_macs(report: onnxcost.Report) -> list[int]:
    return sorted(row.macs * row.repeat for row in report.nodes if row.macs)


# --- every variant -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, style", CASES)
def test_passes_the_full_check(models, name, style):
    onnx.checker.check_model(models.variant(name, style), full_check=True)


@pytest.mark.parametrize("name, style", CASES)
def test_computes_the_same_outputs(models, name, style):
    image = models.image(name)
    if style == "tf2onnx":
        image = np.ascontiguousarray(image.transpose(0, 2, 3, 1))
    elif style == "float16":
        image = image.astype(np.float16)
    got = run(models.variant(name, style), image).astype(np.float32)
    expected = models.outputs(name)
    tolerance = 2e-2 if style == "float16" else 1e-4
    assert np.abs(got - expected).max() <= tolerance * np.abs(expected).max()


@pytest.mark.parametrize("name, style", CASES)
def test_reports_the_same_macs_node_by_node(models, name, style):
    plain, variant = models.report(name), models.report(name, style)
    assert variant.totals.macs == plain.totals.macs
    assert per_node_macs(variant) == per_node_macs(plain)
    assert variant.totals.compute_layers == plain.totals.compute_layers
    assert variant.warnings == []


@pytest.mark.parametrize("name, style", CASES)
def test_parameters_follow_the_convention(models, name, style):
    plain, variant = models.report(name), models.report(name, style)
    if style == "torchscript":
        published, bn = PUBLISHED[name]
        assert variant.totals.params == published + 2 * bn - 3 * FOLDED[name]
    else:
        assert variant.totals.params == plain.totals.params


# --- what each exporter writes -----------------------------------------------------------------------------

def test_torchscript_parameter_counts(models):
    """BN folded: published count less one per BN channel (scale + shift → one conv bias)."""
    assert models.report("resnet50", "torchscript").totals.params == 25_557_032 - 26_560 == 25_530_472
    assert models.report("mobilenet_v2", "torchscript").totals.params == 3_504_872 - 17_056
    assert models.report("shufflenet_v2_x1_0", "torchscript").totals.params == 2_278_604 - 8_090
    assert models.report("inception_v3", "torchscript").totals.params == 23_834_568 - 17_216
    assert models.report("xception", "torchscript").totals.params == 22_855_952 - 27_264
    # DenseNet keeps 34,336 BN channels (with running statistics) and folds 7,488.
    assert models.report("densenet121", "torchscript").totals.params == 7_978_856 + 2 * 34_336 - 7_488


def test_torchscript_graph(models):
    model = models.variant("resnet50", "torchscript")
    ops = [n.op_type for n in model.graph.node]
    assert "BatchNormalization" not in ops and "Flatten" not in ops
    assert {"Constant", "Identity", "Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} <= set(ops)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch_size"
    assert len(model.graph.value_info) > 0
    assert "/layer1/layer1.0/conv1/Conv" in {n.name for n in model.graph.node}
    assert any(t.name.startswith("onnx::Conv_") for t in model.graph.initializer)


def test_torchscript_dynamic_batch(models):
    """The batch is a named dimension: unknown without --dim (and said so), exact with it."""
    model = models.variant("resnet50", "torchscript")
    unset = onnxcost.analyze(model)
    assert unset.totals.macs == models.report("resnet50").totals.macs
    assert any("batch_size" in warning for warning in unset.warnings)
    assert onnxcost.analyze(model, dims={"batch_size": 4}).totals.macs == 4 * 4_089_184_256
    image = models.image("resnet50")
    both = run(model, np.concatenate([image, image[:, :, ::-1]]))
    single = run(models.plain("resnet50"), np.ascontiguousarray(image[:, :, ::-1]))
    assert np.abs(both[1:] - single).max() <= 1e-4 * np.abs(single).max()


def test_torchscript_vit_expands_the_class_token_over_the_batch(models):
    model = models.variant("vit_b_16", "torchscript")
    assert onnxcost.analyze(model, dims={"batch_size": 2}).totals.macs == 2 * 17_563_828_224


def test_dynamo_graph(models):
    model = models.variant("resnet50", "dynamo")
    assert {o.domain: o.version for o in model.opset_import}[""] == 18
    assert len(model.graph.value_info) == 0
    calls = [n for n in model.graph.node if n.domain == exporters.FUNCTION_DOMAIN]
    assert len(calls) == 16  # one call per bottleneck
    assert len(model.functions) < len(calls)  # units of the same shape share a function
    means = [n for f in model.functions for n in f.node if n.op_type == "ReduceMean"] + \
        [n for n in model.graph.node if n.op_type == "ReduceMean"]
    assert means and all(len(n.input) == 2 for n in means)  # opset 18: axes is an input
    assert not any(n.op_type == "GlobalAveragePool" for n in model.graph.node)


def test_dynamo_se_module_reduces_inside_functions(models):
    model = models.variant("se_resnet50", "dynamo")
    inside = [n for f in model.functions for n in f.node]
    assert any(n.op_type == "ReduceMean" for n in inside) and any(n.op_type == "Constant" for n in inside)


def test_dynamo_vit_layers_share_one_function(models):
    model = models.variant("vit_b_16", "dynamo")
    assert len(model.functions) == 1
    assert sum(1 for n in model.graph.node if n.domain == exporters.FUNCTION_DOMAIN) == 12


def test_tf2onnx_graph(models):
    model = models.variant("resnet50", "tf2onnx")
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 224, 224, 3]
    ops = [n.op_type for n in model.graph.node]
    bound = sum(ops.count(op) for op in ("Conv", "MaxPool", "BatchNormalization"))
    assert ops.count("Transpose") == 2 * bound
    assert "Gemm" not in ops and "MatMul" in ops
    assert any(a.name == "auto_pad" and a.s == b"SAME_UPPER" for n in model.graph.node for a in n.attribute)
    assert {o.domain: o.version for o in model.opset_import}[""] == 13


def test_tf2onnx_refuses_what_it_cannot_write(models):
    with pytest.raises(ValueError, match="channel_shuffle"):
        exporters.tf2onnx_style(models.plain("shufflenet_v2_x1_0"))


def test_float16_halves_the_bytes(models):
    plain, half = models.report("resnet50"), models.report("resnet50", "float16")
    assert half.totals.params == plain.totals.params
    assert half.totals.param_bytes == 2 * half.totals.params == plain.totals.param_bytes // 2
    assert 2 * half.totals.peak_activation_bytes == plain.totals.peak_activation_bytes
    assert 2 * half.totals.activation_bytes == plain.totals.activation_bytes
    model = models.variant("resnet50", "float16")
    assert {t.data_type for t in model.graph.initializer} == {onnx.TensorProto.FLOAT16}


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16"])
def test_external_data(models, name, tmp_path):
    """Weights in a separate file: the report reads the graph only, and gives the same totals."""
    path = save_with_external_data(models.plain(name), tmp_path / f"{name}.onnx")
    (data,) = exporters.external_files(path)
    assert path.stat().st_size < 1_000_000 < data.stat().st_size
    stored = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == onnx.TensorProto.EXTERNAL for t in stored.graph.initializer if len(t.dims) > 1)
    report, plain = onnxcost.analyze(path), models.report(name)
    assert (report.totals.macs, report.totals.params, report.totals.param_bytes) == \
        (plain.totals.macs, plain.totals.params, plain.totals.param_bytes)
    assert report.totals.peak_activation_bytes == plain.totals.peak_activation_bytes
    got = run(str(path), models.image(name))
    assert np.array_equal(got, models.outputs(name))
