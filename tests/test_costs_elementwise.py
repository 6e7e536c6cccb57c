"""Element-wise ops against hand-computed costs: activations, unary math, broadcasting binary ops.

Each op costs a fixed number of FLOPs per output element; a transcendental (exp, log, sqrt, erf,
tanh, sin, pow) is one FLOP and also one special op. The per-op decompositions are written next
to each expected number.
"""

import numpy as np
import pytest
from support.costcheck import analyzed, single
from support.builders import model, one_node, zeros
from onnx import TensorProto, helper

F32 = 4  # bytes per float32 element


SHAPE = [2, 3, 4]
N = 2 * 3 * 4  # elements of x and y

# (op, attributes, opset, FLOPs per element, special ops per element), each written out from the op's formula
ACTIVATIONS = [
    ("Relu", {}, 17, 1, 0),                           # max(x, 0)
    ("LeakyRelu", {"alpha": 0.1}, 17, 2, 0),          # x < 0 ? alpha·x : x: compare, multiply
    ("Sigmoid", {}, 17, 4, 1),                        # 1 / (1 + exp(-x)): neg, exp, add, divide; exp special
    ("Tanh", {}, 17, 1, 1),                           # one transcendental
    ("HardSigmoid", {"alpha": 0.2, "beta": 0.5}, 17, 4, 0),  # max(0, min(1, alpha·x + beta)): mul, add, min, max
    ("HardSwish", {}, 17, 5, 0),                      # x · hardsigmoid(x): 4 + 1 multiply
    ("Elu", {"alpha": 1.0}, 17, 4, 1),                # x < 0 ? alpha·(exp(x) - 1) : x: compare, exp, sub, mul
    ("Selu", {}, 17, 5, 1),                           # gamma · elu: 4 + 1
    ("Softplus", {}, 17, 3, 2),                       # log(1 + exp(x)): exp, add, log; exp and log special
    ("Softsign", {}, 17, 3, 0),                       # x / (1 + |x|): abs, add, divide
    ("Mish", {}, 18, 5, 3),                           # x · tanh(softplus(x)): 3 + tanh + multiply; exp, log, tanh
    ("Gelu", {}, 20, 5, 1),                           # x·0.5·(1 + erf(x/√2)): divide, erf, add, 2 multiplies
    ("Gelu", {"approximate": "tanh"}, 20, 9, 1),      # 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))):
                                                      # x³ (2), ·0.044715, + x, ·√(2/π), tanh, + 1, · x, · 0.5
    ("Exp", {}, 17, 1, 1),
    ("Log", {}, 17, 1, 1),
    ("Sqrt", {}, 17, 1, 1),
    ("Erf", {}, 17, 1, 1),
    ("Sin", {}, 17, 1, 1),
    ("Reciprocal", {}, 17, 1, 0),                     # a divide, not a transcendental
    ("Neg", {}, 17, 1, 0),
    ("Abs", {}, 17, 1, 0),
    ("Floor", {}, 17, 1, 0),
]


@pytest.mark.parametrize("op, attrs, opset, flops, special", ACTIVATIONS, ids=lambda v: v if isinstance(v, str) else None)
def test_activation_and_unary(op, attrs, opset, flops, special):
    row = single(one_node(op, {"x": SHAPE}, opset=opset, **attrs))
    assert row.output_shapes == [SHAPE]
    assert (row.macs, row.flops, row.special_ops) == (0, flops * N, special * N)
    assert row.params == 0
    # traffic: x read, y written, float32
    assert (row.bytes_read, row.output_bytes) == (F32 * N, F32 * N)
    assert row.memory_traffic_bytes == 2 * F32 * N


def test_swish_op():
    # opset 24 Swish: x · sigmoid(alpha·x): multiply by alpha (1) + sigmoid (4) + multiply by x (1)
    row = single(one_node("Swish", {"x": SHAPE}, opset=24, alpha=1.0))
    assert row.output_shapes == [SHAPE]
    assert (row.flops, row.special_ops) == (6 * N, 1 * N)


def test_swish_as_mul_of_sigmoid():
    # What exporters write for SiLU: Mul(x, Sigmoid(x)) -> 4 + 1 FLOPs per element, one exp.
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="sigmoid"), helper.make_node("Mul", ["x", "s"], ["y"], name="mul")]
    report = analyzed(model(nodes, {"x": SHAPE}, ["y"]))
    sigmoid, mul = report.nodes
    assert (sigmoid.flops, sigmoid.special_ops) == (4 * N, N)
    assert (mul.flops, mul.special_ops) == (1 * N, 0)
    assert mul.output_shapes == [SHAPE]
    assert (report.totals.flops, report.totals.special_ops, report.totals.macs) == (5 * N, N, 0)


def test_clip_bounds_are_not_params():
    # opset 13 Clip(x, min, max) with 0-d bounds: a max and a min per element; the bounds are settings
    m = one_node("Clip", {"x": SHAPE}, {"lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)})
    row = single(m)
    assert row.output_shapes == [SHAPE]
    assert row.flops == 2 * N
    assert (row.params, row.param_bytes) == (0, 0)


def test_clip_counts_only_the_bounds_given():
    # only a lower bound: one max per element; no bounds at all: a copy
    lower = single(one_node("Clip", {"x": SHAPE}, {"lo": np.array(0.0, np.float32)}))
    assert lower.flops == 1 * N
    assert single(one_node("Clip", {"x": SHAPE})).flops == 0
    # opset 6 keeps min and max in attributes (defaults: the float range): both applied
    assert single(one_node("Clip", {"x": SHAPE}, opset=6, min=0.0)).flops == 2 * N


def test_prelu_slope_is_a_parameter():
    # slope [3, 1] broadcasts over x [2, 3, 4] (unidirectionally); compare and multiply per element
    row = single(one_node("PRelu", {"x": SHAPE}, {"slope": zeros(3, 1)}))
    assert row.output_shapes == [SHAPE]
    assert row.flops == 2 * N
    assert row.params == 3
    assert row.param_bytes == F32 * 3


def test_add_broadcasts_both_operands():
    # [1, 3, 1, 5] + [2, 1, 4, 1] -> [2, 3, 4, 5]: one add per output element
    row = single(one_node("Add", {"a": [1, 3, 1, 5], "b": [2, 1, 4, 1]}))
    assert row.output_shapes == [[2, 3, 4, 5]]
    assert row.flops == 2 * 3 * 4 * 5 == 120
    # both inputs are read once in full, the broadcast output written
    assert row.bytes_read == F32 * (1 * 3 * 1 * 5 + 2 * 1 * 4 * 1)
    assert row.output_bytes == F32 * 120


@pytest.mark.parametrize("op, special", [("Sub", 0), ("Mul", 0), ("Div", 0), ("Pow", 1)])
def test_binary_arithmetic(op, special):
    row = single(one_node(op, {"a": [4, 1], "b": [1, 5]}))
    assert row.output_shapes == [[4, 5]]
    assert (row.flops, row.special_ops) == (20, special * 20)


def test_comparison_and_where():
    # Greater [3, 1] vs [4]: one compare per output of [3, 4] (bool); Where selects per output element
    nodes = [
        helper.make_node("Greater", ["a", "b"], ["c"], name="greater"),
        helper.make_node("Where", ["c", "a", "b"], ["y"], name="where"),
    ]
    report = analyzed(model(nodes, {"a": [3, 1], "b": [4]}, ["y"]))
    greater, where = report.nodes
    assert greater.output_shapes == where.output_shapes == [[3, 4]]
    assert greater.flops == where.flops == 12
    assert greater.output_bytes == 12  # bool: one byte per element


def test_variadic_sum_and_mean():
    # Sum of 3 inputs: 2 adds per output element; Mean: 2 adds and a divide
    inputs = {"a": [2, 3], "b": [3], "c": [1]}
    assert single(one_node("Sum", inputs)).flops == 2 * 6
    assert single(one_node("Max", inputs)).flops == 2 * 6
    mean = single(one_node("Mean", inputs))
    assert mean.output_shapes == [[2, 3]]
    assert mean.flops == 3 * 6


def test_scalar_constant_is_not_a_param():
    # x · 0.5 with a 0-d initializer: a constant, not a parameter; a rank-1 float tensor is one.
    scalar = single(one_node("Mul", {"x": SHAPE}, {"half": np.array(0.5, np.float32)}))
    assert (scalar.flops, scalar.params, scalar.param_bytes) == (N, 0, 0)
    vector = single(one_node("Mul", {"x": SHAPE}, {"gamma": zeros(4)}))
    assert (vector.flops, vector.params, vector.param_bytes) == (N, 4, 16)


def test_scalar_from_constant_node_is_not_a_param():
    const = helper.make_node("Constant", [], ["eps"], value_float=1e-5)
    add = helper.make_node("Add", ["x", "eps"], ["y"], name="add")
    report = analyzed(model([const, add], {"x": SHAPE}, ["y"]))
    assert [r.op_type for r in report.nodes] == ["Add"]
    assert report.totals.params == 0
    assert report.nodes[0].flops == N


def test_float16_elementwise_bytes():
    # float16 activations: 2 bytes per element read and written
    m = model([helper.make_node("Relu", ["x"], ["y"], name="n")], {"x": SHAPE}, ["y"], elem_type=TensorProto.FLOAT16)
    row = single(m)
    assert row.output_shapes == [SHAPE]
    assert (row.bytes_read, row.output_bytes) == (2 * N, 2 * N)
