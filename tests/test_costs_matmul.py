"""Gemm, MatMul (batched, broadcast, 1-D operands), MatMulInteger and Einsum against hand-computed costs.

MatMul: MACs = ∏output·K (K the contracted dimension), output shape after broadcasting.
Gemm: MACs = M·N·K with transA/transB honoured; C adds one FLOP per output element.
Einsum: contracted pairwise left to right; each pair costs the product of the sizes of all
letters it involves. FLOPs = 2·MACs.
"""

import numpy as np
from support.costcheck import analyzed, single
from support.builders import model, one_node, zeros
from onnx import TensorProto, helper, numpy_helper

F32 = 4  # bytes per float32 element


def test_matmul_2d():
    row = single(one_node("MatMul", {"a": [3, 5]}, {"b": zeros(5, 4)}))
    assert row.output_shapes == [[3, 4]]
    assert row.macs == 3 * 4 * 5 == 60  # one dot product of length K = 5 per output element
    assert row.flops == 2 * 60  # MatMul has no bias
    assert row.params == 20


def test_matmul_batched_with_broadcasting():
    # [2, 1, 4, 5] x [3, 5, 6]: batch dims [2, 1] and [3] broadcast to [2, 3]; output [2, 3, 4, 6], K = 5
    row = single(one_node("MatMul", {"a": [2, 1, 4, 5], "b": [3, 5, 6]}))
    assert row.output_shapes == [[2, 3, 4, 6]]
    macs = 2 * 3 * 4 * 6 * 5
    assert row.macs == macs == 720
    assert row.flops == 2 * macs
    assert row.params == 0  # both operands are activations
    assert row.bytes_read == F32 * (2 * 1 * 4 * 5 + 3 * 5 * 6)
    assert row.output_bytes == F32 * 2 * 3 * 4 * 6


def test_matmul_one_dimensional_operands():
    # A 1-D first operand is a row vector, [5] x [5, 6] -> [6]: 6 dot products of length 5.
    row = single(one_node("MatMul", {"a": [5], "b": [5, 6]}))
    assert row.output_shapes == [[6]]
    assert row.macs == 6 * 5
    # A 1-D second operand is a column vector, [2, 3, 5] x [5] -> [2, 3].
    row = single(one_node("MatMul", {"a": [2, 3, 5], "b": [5]}))
    assert row.output_shapes == [[2, 3]]
    assert row.macs == 2 * 3 * 5
    # [5] x [2, 5, 6] -> [2, 6]: the vector is broadcast over the batch.
    row = single(one_node("MatMul", {"a": [5], "b": [2, 5, 6]}))
    assert row.output_shapes == [[2, 6]]
    assert row.macs == 2 * 6 * 5
    # Two vectors: a dot product, 0-d output.
    row = single(one_node("MatMul", {"a": [7], "b": [7]}))
    assert row.output_shapes == [[]]
    assert row.macs == 7
    assert row.flops == 14


def test_gemm_plain_with_bias():
    # Y = A·B + C, A [M=3, K=5], B [K=5, N=4], C [N=4] broadcast over rows
    row = single(one_node("Gemm", {"a": [3, 5]}, {"b": zeros(5, 4), "c": zeros(4)}))
    assert row.output_shapes == [[3, 4]]
    macs = 3 * 4 * 5
    assert row.macs == macs
    assert row.flops == 2 * macs + 3 * 4  # C adds once per output element
    assert row.params == 5 * 4 + 4


def test_gemm_trans_a_trans_b_without_c():
    # transA: A is stored [K=4, M=3]; transB: B is stored [N=5, K=4]. Y [M=3, N=5], K = 4.
    row = single(one_node("Gemm", {"a": [4, 3]}, {"b": zeros(5, 4)}, transA=1, transB=1))
    assert row.output_shapes == [[3, 5]]
    assert row.macs == 3 * 5 * 4 == 60
    assert row.flops == 2 * 60  # no C
    assert row.params == 20


def test_gemm_trans_b_only_with_scalar_like_c():
    # The usual Linear layer: A [M=2, K=6], weight [N=3, K=6] transposed, C [1, 3]
    row = single(one_node("Gemm", {"a": [2, 6]}, {"b": zeros(3, 6), "c": zeros(1, 3)}, transB=1, alpha=0.5, beta=2.0))
    assert row.output_shapes == [[2, 3]]
    assert row.macs == 2 * 3 * 6
    assert row.flops == 2 * 36 + 2 * 3
    assert row.params == 18 + 3


def test_gemm_trans_a_only():
    # A stored [K=7, M=2]; B [K=7, N=3]; Y [2, 3]
    row = single(one_node("Gemm", {"a": [7, 2], "b": [7, 3]}, transA=1))
    assert row.output_shapes == [[2, 3]]
    assert row.macs == 2 * 3 * 7


def einsum(equation: str, shapes: dict):
    return single(one_node("Einsum", shapes, equation=equation, opset=17))


def test_einsum_batched_matmul():
    # bij,bjk->bik: b=2, i=3, j=4, k=5; one MAC per (b, i, j, k)
    row = einsum("bij,bjk->bik", {"a": [2, 3, 4], "b": [2, 4, 5]})
    assert row.output_shapes == [[2, 3, 5]]
    assert row.macs == 2 * 3 * 4 * 5 == 120
    assert row.flops == 240


def test_einsum_attention_scores():
    # bhqd,bhkd->bhqk: Q·Kᵀ per head; b=2, h=3, q=4, k=6, d=8
    row = einsum("bhqd,bhkd->bhqk", {"q": [2, 3, 4, 8], "k": [2, 3, 6, 8]})
    assert row.output_shapes == [[2, 3, 4, 6]]
    assert row.macs == 2 * 3 * 4 * 6 * 8 == 1152


def test_einsum_transpose_costs_nothing():
    row = einsum("ij->ji", {"x": [3, 4]})
    assert row.output_shapes == [[4, 3]]
    assert (row.macs, row.flops) == (0, 0)


def test_einsum_single_operand_reduction():
    # ij->i sums 4 elements into each of 3 outputs: 3 adds per output, 12 - 3 = 9
    row = einsum("ij->i", {"x": [3, 4]})
    assert row.output_shapes == [[3]]
    assert (row.macs, row.flops) == (0, 12 - 3)


def test_einsum_trace_and_diagonal():
    # ii-> sums the 3 diagonal elements of a 3x3 matrix: 2 adds (not 8); ii->i copies the diagonal
    row = einsum("ii->", {"x": [3, 3]})
    assert row.output_shapes == [[]]
    assert (row.macs, row.flops) == (0, 3 - 1)
    row = einsum("ii->i", {"x": [3, 3]})
    assert row.output_shapes == [[3]]
    assert (row.macs, row.flops) == (0, 0)


def test_einsum_outer_product():
    # i,j->ij: one multiply per output element, nothing to accumulate: 3·4 MACs
    row = einsum("i,j->ij", {"a": [3], "b": [4]})
    assert row.output_shapes == [[3, 4]]
    assert row.macs == 3 * 4


def test_einsum_three_operands_left_to_right():
    # ij,jk,kl->il with i=2, j=3, k=4, l=5, contracted left to right:
    # (ij,jk) involves i, j, k -> 2·3·4 MACs, leaving ik; (ik,kl) involves i, k, l -> 2·4·5 MACs.
    row = einsum("ij,jk,kl->il", {"a": [2, 3], "b": [3, 4], "c": [4, 5]})
    assert row.output_shapes == [[2, 5]]
    assert row.macs == 2 * 3 * 4 + 2 * 4 * 5 == 64


def test_einsum_ellipsis_broadcast():
    # ...ij,...jk->...ik with batch dims [2, 1] and [1, 3] broadcast to [2, 3]: i=4, j=5, k=6
    row = einsum("...ij,...jk->...ik", {"a": [2, 1, 4, 5], "b": [1, 3, 5, 6]})
    assert row.output_shapes == [[2, 3, 4, 6]]
    assert row.macs == 2 * 3 * 4 * 5 * 6 == 720
    # an operand without batch dims
    row = einsum("...ij,jk->...ik", {"a": [2, 3, 4, 5], "b": [5, 6]})
    assert row.output_shapes == [[2, 3, 4, 6]]
    assert row.macs == 2 * 3 * 4 * 5 * 6


def test_einsum_implicit_output():
    # "ij,jk" without "->": the output is the letters seen once, sorted: "ik"
    row = einsum("ij,jk", {"a": [2, 3], "b": [3, 4]})
    assert row.output_shapes == [[2, 4]]
    assert row.macs == 2 * 3 * 4


def test_shared_weight_counted_once_in_totals():
    # Two MatMuls read the same [5, 4] weight: each row lists it, the totals count it once.
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y1"], name="first"),
        helper.make_node("MatMul", ["x", "w"], ["y2"], name="second"),
    ]
    report = analyzed(model(nodes, {"x": [3, 5]}, ["y1", "y2"], {"w": zeros(5, 4)}))
    assert [r.params for r in report.nodes] == [20, 20]
    assert report.totals.params == 5 * 4
    assert report.totals.param_bytes == F32 * 20
    assert report.totals.macs == 2 * (3 * 4 * 5)
    assert report.totals.compute_layers == 2
    assert report.by_op_type["MatMul"].params == 20


def test_matmul_integer():
    # uint8 activations x int8 weights, int32 output [2, 3]; the int8 weight is a parameter.
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="n")
    graph = helper.make_graph(
        [node], "q", [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
        [numpy_helper.from_array(np.ones((4, 3), np.int8), "b")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    row = single(m)
    assert row.output_shapes == [[2, 3]]
    assert row.macs == 2 * 3 * 4
    assert row.params == 12 and row.param_bytes == 12


def test_weight_in_constant_node_inside_subgraph_is_a_param():
    # An If branch whose MatMul weight [4, 4] is a Constant node of the branch (as Paddle2ONNX writes
    # weights): the branch is the heavier one, counted in totals, and its weight is a parameter.
    weight = helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(zeros(4, 4)))
    then = helper.make_graph([weight, helper.make_node("MatMul", ["x", "w"], ["t"], name="matmul")], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 4])])
    other = helper.make_graph([helper.make_node("Relu", ["x"], ["e"], name="relu")], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 4])])
    branch = helper.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)
    graph = helper.make_graph(
        [branch], "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    report = analyzed(m, feeds={"c": np.array(True)})
    rows = {r.name: r for r in report.nodes}
    assert rows["matmul"].macs == 1 * 4 * 4 and rows["matmul"].repeat == 1
    assert rows["matmul"].params == 4 * 4
    assert report.totals.params == 16
