"""Models with free dimensions for the formula tests, written the way PyTorch's exporters write them."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .builders import model, zeros

D, HEADS, KV_HEADS, HEAD_DIM, FFN = 64, 4, 2, 16, 128


def _ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def gqa_decoder(layers: int = 2) -> onnx.ModelProto:
    """A decoder-only transformer with grouped-query attention (4 query heads sharing 2 key/value heads), a causal
    mask built from Range over the sequence, SwiGLU MLP; input x [batch, seq, 64]. Reshape targets are computed at
    run time from Shape -> Gather -> Unsqueeze -> Concat, as torch.onnx writes them.

    Per token and layer the projections cost 64·64 (q) + 2·64·32 (k, v) + 64·64 (o) + 3·64·128 (gate, up, down)
    = 36,864 MACs; attention costs batch·heads·seq²·head_dim twice (scores, then values): 2·4·16 = 128·batch·seq²."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero_scalar"], ["batch"], axis=0),
        helper.make_node("Gather", ["shape", "one_scalar"], ["seq"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axis0"], ["batch_1"]),
        helper.make_node("Unsqueeze", ["seq", "axis0"], ["seq_1"]),
        helper.make_node("Concat", ["batch_1", "seq_1", "q_heads"], ["q_shape"], axis=0),
        helper.make_node("Concat", ["batch_1", "seq_1", "kv_heads"], ["kv_shape"], axis=0),
        helper.make_node("Concat", ["batch_1", "kv_groups", "seq_1", "head_dim"], ["expand_shape"], axis=0),
        helper.make_node("Concat", ["batch_1", "seq_1", "model_dim"], ["out_shape"], axis=0),
        # causal mask: position i sees j <= i
        helper.make_node("Range", ["zero_scalar", "seq", "one_scalar"], ["positions"]),
        helper.make_node("Unsqueeze", ["positions", "axis0"], ["columns"]),
        helper.make_node("Unsqueeze", ["positions", "axis1"], ["rows"]),
        helper.make_node("LessOrEqual", ["columns", "rows"], ["causal"]),
    ]
    weights = {
        "axis0": _ints(0), "axis1": _ints(1),
        "zero_scalar": np.array(0, dtype=np.int64), "one_scalar": np.array(1, dtype=np.int64),
        "q_heads": _ints(HEADS, HEAD_DIM), "kv_heads": _ints(KV_HEADS, HEAD_DIM),
        "kv_groups": _ints(KV_HEADS, HEADS // KV_HEADS), "head_dim": _ints(HEAD_DIM),
        "model_dim": _ints(D), "head_split": _ints(0, HEADS, -1, HEAD_DIM),
        "scale": np.array(HEAD_DIM ** -0.5, dtype=np.float32), "minus_inf": np.array(-1e9, dtype=np.float32),
    }
    x = "x"
    for layer in range(layers):
        p = f"l{layer}_"
        for name, shape in (("wq", (D, D)), ("wk", (D, KV_HEADS * HEAD_DIM)), ("wv", (D, KV_HEADS * HEAD_DIM)),
                            ("wo", (D, D)), ("wg", (D, FFN)), ("wu", (D, FFN)), ("wd", (FFN, D))):
            weights[p + name] = zeros(*shape)
        weights[p + "norm"] = zeros(D)
        nodes += [
            helper.make_node("LayerNormalization", [x, p + "norm"], [p + "h"], axis=-1),
            helper.make_node("MatMul", [p + "h", p + "wq"], [p + "q"]),
            helper.make_node("MatMul", [p + "h", p + "wk"], [p + "k"]),
            helper.make_node("MatMul", [p + "h", p + "wv"], [p + "v"]),
            helper.make_node("Reshape", [p + "q", "q_shape"], [p + "q4"]),
            helper.make_node("Reshape", [p + "k", "kv_shape"], [p + "k4"]),
            helper.make_node("Reshape", [p + "v", "kv_shape"], [p + "v4"]),
            helper.make_node("Transpose", [p + "q4"], [p + "qt"], perm=[0, 2, 1, 3]),
            helper.make_node("Transpose", [p + "k4"], [p + "kt"], perm=[0, 2, 1, 3]),
            helper.make_node("Transpose", [p + "v4"], [p + "vt"], perm=[0, 2, 1, 3]),
            # repeat each key/value head for its group of query heads: [b, kv, 1, s, d] -> [b, kv, g, s, d]
            helper.make_node("Unsqueeze", [p + "kt", "two"], [p + "k5"]),
            helper.make_node("Unsqueeze", [p + "vt", "two"], [p + "v5"]),
            helper.make_node("Expand", [p + "k5", "expand_shape"], [p + "ke"]),
            helper.make_node("Expand", [p + "v5", "expand_shape"], [p + "ve"]),
            helper.make_node("Reshape", [p + "ke", "head_split"], [p + "kh"]),
            helper.make_node("Reshape", [p + "ve", "head_split"], [p + "vh"]),
            helper.make_node("Transpose", [p + "kh"], [p + "kT"], perm=[0, 1, 3, 2]),
            helper.make_node("MatMul", [p + "qt", p + "kT"], [p + "scores"]),
            helper.make_node("Mul", [p + "scores", "scale"], [p + "scaled"]),
            helper.make_node("Where", ["causal", p + "scaled", "minus_inf"], [p + "masked"]),
            helper.make_node("Softmax", [p + "masked"], [p + "probs"], axis=-1),
            helper.make_node("MatMul", [p + "probs", p + "vh"], [p + "ctx"]),
            helper.make_node("Transpose", [p + "ctx"], [p + "ctx_t"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [p + "ctx_t", "out_shape"], [p + "ctx3"]),
            helper.make_node("MatMul", [p + "ctx3", p + "wo"], [p + "o"]),
            helper.make_node("Add", [x, p + "o"], [p + "r"]),
            helper.make_node("LayerNormalization", [p + "r", p + "norm"], [p + "h2"], axis=-1),
            helper.make_node("MatMul", [p + "h2", p + "wg"], [p + "g"]),
            helper.make_node("MatMul", [p + "h2", p + "wu"], [p + "u"]),
            helper.make_node("Sigmoid", [p + "g"], [p + "gs"]),
            helper.make_node("Mul", [p + "g", p + "gs"], [p + "silu"]),
            helper.make_node("Mul", [p + "silu", p + "u"], [p + "gu"]),
            helper.make_node("MatMul", [p + "gu", p + "wd"], [p + "down"]),
            helper.make_node("Add", [p + "r", p + "down"], [p + "out"]),
        ]
        x = p + "out"
    weights["two"] = _ints(2)
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    return model(nodes, {"x": ["batch", "seq", D]}, ["y"], weights)


def strided_cnn() -> onnx.ModelProto:
    """A fully convolutional net on x [1, 3, H, W]: conv 3x3 stride 2 pad 1 (3 -> 8), ReLU, max pool 3x3 stride 2
    pad 1, conv 3x3 pad 1 (8 -> 16), conv 1x1 stride 2 (16 -> 16), global average pool, Flatten, Gemm (16 -> 10).

    Sizes: H1 = floor((H - 1)/2) + 1 (conv), H2 = floor((H1 - 1)/2) + 1 (pool), H3 = floor((H2 - 1)/2) + 1 (1x1
    stride 2), the same for W. MACs = 216·H1·W1 + 1,152·H2·W2 + 256·H3·W3 + 160."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], kernel_shape=[1, 1], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["c3"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["y"], transB=1),
    ]
    weights = {"w1": zeros(8, 3, 3, 3), "b1": zeros(8), "w2": zeros(16, 8, 3, 3), "w3": zeros(16, 16, 1, 1),
               "fc": zeros(10, 16), "fcb": zeros(10)}
    return model(nodes, {"x": [1, 3, "H", "W"]}, ["y"], weights)
