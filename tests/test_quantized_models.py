"""Quantized twins made by onnxruntime's own tools report what their float models report, and their bytes by
storage precision are the hand count.

quantize_static (QDQ and QOperator, calibrated on seeded random data) and quantize_dynamic on SqueezeNet 1.1 and
MobileNet V2 from the zoo; the MatMulNBits quantizer (4-bit, blocks of 32) and quantize_dynamic on a small decoder
built here. MACs equal the float model's to the MAC; parameters count logical elements, so they equal the float
model's too; scales and zero points are quantization parameters.
"""

import logging

import onnx
import pytest
from onnxruntime.quantization import QuantFormat, quantize_dynamic, quantize_static
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from support.quantized import DECODER_MATRICES, SEQUENCE, VOCAB, WIDTH, SeededReader, decoder

import onnxcost
from onnxcost import samples

logging.getLogger("onnxruntime.quantization").setLevel(logging.ERROR)

# SqueezeNet 1.1 (torchvision: 1,235,496 parameters): conv1 of 64 channels, eight fire modules (squeeze s, two
# expands of e), conv10 of 1000; every conv has a bias.
FIRES = [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256)]
SQUEEZENET_BIASES = 64 + sum(s + 2 * e for s, e in FIRES) + 1000
# MobileNet V2 (torchvision: 3,504,872 parameters, BN scale and shift of 17,056 channels, a 1280 x 1000 classifier
# with bias); the sample keeps BN's running mean and variance too.
MOBILENET_BN_CHANNELS = 17_056
MOBILENET_CONV_WEIGHTS = 3_504_872 - 2 * MOBILENET_BN_CHANNELS - (1280 * 1000 + 1000)


def quantized(tmp_path_factory, name: str, how: str) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """(float, quantized) for the zoo model ``name``, quantized by onnxruntime ``how``: 'QDQ', 'QOperator' or
    'dynamic'."""
    folder = tmp_path_factory.mktemp(f"{name}-{how}")
    model = samples.build(name)
    source, target = folder / "float.onnx", folder / "quantized.onnx"
    onnx.save(model, source)
    if how == "dynamic":
        quantize_dynamic(source, target)
    else:
        quantize_static(source, target, SeededReader(model), quant_format=getattr(QuantFormat, how))
    return model, onnx.load(target)


FORMATS = ["QDQ", "QOperator", "dynamic"]


@pytest.fixture(scope="module")
def squeezenets(tmp_path_factory):
    """{format: (float report, quantized report)} for SqueezeNet 1.1."""
    reports = {}
    for how in FORMATS:
        model, twin = quantized(tmp_path_factory, "squeezenet1_1", how)
        reports[how] = onnxcost.analyze_model(model), onnxcost.analyze_model(twin)
    return reports


@pytest.mark.parametrize("how", FORMATS)
def test_squeezenet_twins_cost_the_float_model(squeezenets, how):
    plain, twin = squeezenets[how]
    assert plain.totals.params == 1_235_496  # the float figures are tested against torchvision in test_zoo.py
    assert twin.warnings == []
    assert twin.totals.macs == plain.totals.macs
    assert twin.totals.params == plain.totals.params
    assert twin.totals.compute_layers == plain.totals.compute_layers == 26
    # every conv runs on 8-bit activations and weights
    assert (twin.totals.macs_float, twin.totals.macs_int8, twin.totals.macs_weight_only) == (0, twin.totals.macs, 0)


@pytest.mark.parametrize("how", FORMATS)
def test_squeezenet_twins_param_bytes_by_precision(squeezenets, how):
    plain, twin = squeezenets[how]
    t = twin.totals
    weights = 1_235_496 - SQUEEZENET_BIASES  # int8, one byte each
    # Static quantization stores the biases as int32; quantize_dynamic leaves them float, added after the rescale.
    biases = "param_bytes_float" if how == "dynamic" else "param_bytes_int32"
    expected = {"param_bytes_float": 0, "param_bytes_int8": weights, "param_bytes_int4": 0, "param_bytes_int32": 0}
    expected[biases] = 4 * SQUEEZENET_BIASES
    assert {key: getattr(t, key) for key in expected} == expected
    assert t.param_bytes == weights + 4 * SQUEEZENET_BIASES == 1_247_328


@pytest.mark.parametrize("how", FORMATS)
def test_squeezenet_twins_quantization_parameters(squeezenets, how):
    # Per tensor: a float scale and an 8-bit zero point (5 bytes) for each of the 26 conv weights; statically,
    # also for the 36 activations quantized (the input, 26 conv and 8 Concat outputs, the pooled output) and, in
    # QDQ, a float scale and an int32 zero point (8 bytes) for each of the 26 biases.
    plain, twin = squeezenets[how]
    pairs, extra_bytes = {"dynamic": (26, 0), "QOperator": (26 + 36, 0), "QDQ": (26 + 36 + 26, 3 * 26)}[how]
    t = twin.totals
    assert (t.quantization_params, t.quantization_param_bytes) == (2 * pairs, 5 * pairs + extra_bytes)
    assert plain.totals.quantization_params == 0


def test_squeezenet_qoperator_activations_are_a_quarter_of_float_ones(squeezenets):
    plain, twin = squeezenets["QOperator"]
    first_float = next(row for row in plain.nodes if row.op_type == "Conv")
    first_int8 = next(row for row in twin.nodes if row.op_type == "QLinearConv")
    assert first_float.output_bytes == 4 * 64 * 111 * 111  # [1, 64, 111, 111] float
    assert first_int8.output_bytes == 64 * 111 * 111  # the same tensor in uint8
    # conv1's output and the MaxPool's [1, 64, 55, 55] output, live together at the MaxPool (Relu is fused)
    assert twin.peak.bytes == 64 * 111 * 111 + 64 * 55 * 55 == 982_144


def test_mobilenet_v2_qoperator_with_qgemm_and_qlinear_add(tmp_path_factory):
    model, twin = quantized(tmp_path_factory, "mobilenet_v2", "QOperator")
    plain, report = onnxcost.analyze_model(model), onnxcost.analyze_model(twin)
    assert report.warnings == []
    assert report.totals.macs == plain.totals.macs == 300_774_272
    assert report.totals.macs_int8 == report.totals.macs
    assert report.totals.params == plain.totals.params == 3_504_872 + 2 * MOBILENET_BN_CHANNELS
    assert report.totals.compute_layers == plain.totals.compute_layers == 53
    gemm = report.by_op_type["com.microsoft.QGemm"]
    assert (gemm.macs, gemm.macs_int8) == (1280 * 1000, 1280 * 1000)  # the classifier the issue found missing
    assert report.by_op_type["com.microsoft.QLinearAdd"].count == 10
    t = report.totals
    assert t.param_bytes_int8 == MOBILENET_CONV_WEIGHTS + 1280 * 1000  # conv and classifier weights
    assert t.param_bytes_int32 == 4 * 1000  # the classifier's bias; the convs have none (BN follows)
    assert t.param_bytes_float == 4 * 4 * MOBILENET_BN_CHANNELS  # BN stays float: scale, shift, mean, variance
    assert t.param_bytes_int4 == 0


# --- a decoder quantized for LLM-style CPU inference ------------------------------------------------------

DECODER_MACS = SEQUENCE * sum(k * n for k, n in DECODER_MATRICES.values())  # 8 tokens through seven matrices
MATRIX_ELEMENTS = sum(k * n for k, n in DECODER_MATRICES.values())
EMBEDDING = VOCAB * WIDTH
BLOCK = 32


def blocks(k: int) -> int:
    return -(-k // BLOCK)


def nbits(quant_format, op_types=("MatMul",), accuracy_level=None) -> onnx.ModelProto:
    quantizer = MatMulNBitsQuantizer(decoder(), bits=4, block_size=BLOCK, quant_format=quant_format,
                                     op_types_to_quantize=op_types, accuracy_level=accuracy_level)
    quantizer.process()
    return quantizer.model.model


def test_decoder_float_figures():
    report = onnxcost.analyze_model(decoder())
    assert DECODER_MACS == 8 * (4 * 64 * 64 + 64 * 128 + 128 * 64 + 64 * 256) == 393_216
    assert report.totals.macs == report.totals.macs_float == DECODER_MACS
    assert report.totals.params == MATRIX_ELEMENTS + EMBEDDING == 65_536


def test_matmul_nbits_decoder_with_a_quantized_embedding():
    report = onnxcost.analyze_model(nbits(QuantFormat.QOperator, op_types=("MatMul", "Gather")))
    assert report.warnings == []
    assert [op for op in report.by_op_type if op.startswith("com.")] == [
        "com.microsoft.MatMulNBits", "com.microsoft.GatherBlockQuantized"]
    t = report.totals
    assert (t.macs, t.macs_weight_only, t.macs_int8, t.macs_float) == (DECODER_MACS, DECODER_MACS, 0, 0)
    assert t.params == MATRIX_ELEMENTS + EMBEDDING  # logical elements, not packed bytes
    assert (t.param_bytes, t.param_bytes_int4, t.param_bytes_float) == (65_536 // 2, 65_536 // 2, 0)  # half a byte each
    assert t.compute_layers == 7
    # MatMulNBits: float scales [N, blocks] and uint8 zero points [N, ⌈blocks·4/8⌉] per matrix;
    # GatherBlockQuantized: float scales [256, 2] and uint4 zero points [256, 2] for the embedding.
    scales = sum(n * blocks(k) for k, n in DECODER_MATRICES.values())
    zero_points = sum(n * -(-blocks(k) * 4 // 8) for k, n in DECODER_MATRICES.values())
    assert (scales, zero_points) == (1536, 768)
    assert t.quantization_params == scales + zero_points + 2 * VOCAB * 2
    assert t.quantization_param_bytes == 4 * scales + zero_points + 4 * VOCAB * 2 + VOCAB * 2 // 2


def test_matmul_nbits_accuracy_level_4_runs_in_int8():
    report = onnxcost.analyze_model(nbits(QuantFormat.QOperator, accuracy_level=4))
    assert (report.totals.macs_int8, report.totals.macs_weight_only) == (DECODER_MACS, 0)


def test_matmul_nbits_qdq_form_blocked_int4_dequantize_linear():
    report = onnxcost.analyze_model(nbits(QuantFormat.QDQ))
    t = report.totals
    assert report.warnings == [] and report.by_op_type["DequantizeLinear"].count == 7
    assert (t.macs, t.macs_weight_only) == (DECODER_MACS, DECODER_MACS)
    assert t.params == MATRIX_ELEMENTS + EMBEDDING
    assert (t.param_bytes_int4, t.param_bytes_float) == (MATRIX_ELEMENTS // 2, 4 * EMBEDDING)
    # float scales and uint4 zero points, [blocks, N] each
    scales = sum(n * blocks(k) for k, n in DECODER_MATRICES.values())
    assert (t.quantization_params, t.quantization_param_bytes) == (2 * scales, 4 * scales + scales // 2)


@pytest.mark.parametrize("per_channel", [False, True])
def test_dynamic_quantization_of_the_decoder(tmp_path, per_channel):
    source, target = tmp_path / "float.onnx", tmp_path / "dynamic.onnx"
    onnx.save(decoder(), source)
    quantize_dynamic(source, target, per_channel=per_channel)
    report = onnxcost.analyze_model(onnx.load(target))
    t = report.totals
    assert (t.macs, t.macs_int8) == (DECODER_MACS, DECODER_MACS)
    assert t.params == MATRIX_ELEMENTS + EMBEDDING and t.param_bytes_int8 == 65_536
    # a scale and a zero point per matrix and for the embedding; per channel, one per output column
    columns = sum(n for _, n in DECODER_MATRICES.values()) if per_channel else len(DECODER_MATRICES)
    assert t.quantization_params == 2 * (columns + 1)
    assert t.quantization_param_bytes == 5 * (columns + 1)  # float scale, int8 zero point
