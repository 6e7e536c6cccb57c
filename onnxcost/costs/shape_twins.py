"""Standard-domain stand-ins ("twins") for onnxruntime's quantized contrib ops, for shape inference only.

onnx infers no com.microsoft op, and onnxruntime's symbolic inference gives up on the whole graph at the first
one it does not know (QLinearConcat, QLinearGlobalAveragePool, QGemm, ...), so every tensor after such a node
would have no shape. A twin is a few standard nodes that write the same outputs with the same shapes and dtypes
(QLinearConcat: a Concat of its data inputs; QGemm: a Gemm and a Cast to its output type; MatMulNBits: a MatMul by
a weightless [K, N] stand-in), so that onnx's own inference runs through a quantized graph. Twins are never
costed: the analysis costs the original nodes with the shapes found on the twinned copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import walk
from ..skeleton import keeps_data
from .attention import MICROSOFT

PREFIX = "onnxcost::twin/"  # names of the tensors a twin adds (no exporter writes '::')
MISFITS = (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, AttributeError)


class _Twin:
    """What one node's twin is built from: the node, the stored tensors of the model, the default opset; it
    collects the nodes and stand-in initializers it makes."""

    def __init__(self, node: onnx.NodeProto, stored: dict[str, TensorProto], opset: int):
        self.node = node
        self.stored = stored
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []

    def input(self, index: int) -> str:
        return self.node.input[index] if index < len(self.node.input) else ""

    def attr(self, name: str, default=None):
        for attr in self.node.attribute:
            if attr.name == name:
                return helper.get_attribute_value(attr)
        return default

    def attrs(self, *skip: str) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in self.node.attribute if a.name not in skip}

    def stored_type(self, index: int, default: int) -> int:
        tensor = self.stored.get(self.input(index))
        return tensor.data_type if tensor is not None else default

    def temp(self, label: str) -> str:
        return f"{PREFIX}{self.node.output[0]}/{label}"

    def add(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=self.node.name, **attrs))
        return output

    def stand_in(self, label: str, elem_type: int, dims: list[int]) -> str:
        """A weightless initializer of ``dims`` (small ones hold zeros, as the skeleton keeps their data)."""
        name = self.temp(label)
        tensor = TensorProto(name=name, data_type=elem_type, dims=dims)
        if keeps_data(tensor):
            zeros = np.zeros(dims, dtype=helper.tensor_dtype_to_np_dtype(elem_type))
            tensor = numpy_helper.from_array(zeros, name)
        self.initializers.append(tensor)
        return name

    def constant_ints(self, label: str, values: list[int]) -> str:
        name = self.temp(label)
        self.initializers.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
        return name

    def channels_first(self, name: str, rank: int) -> str:
        """``name`` transposed from [N, ..., C] to [N, C, ...] when the node works channels_last."""
        if not self.attr("channels_last", 0):
            return name
        return self.add("Transpose", [name], self.temp("nchw"), perm=[0, rank - 1, *range(1, rank - 1)])

    def finish(self, op_type: str, inputs: list[str], rank: int, cast_to: int | None = None, **attrs) -> None:
        """The twin's main node writing output 0, back to channels_last and cast to ``cast_to`` when asked."""
        output = self.node.output[0]
        last = bool(self.attr("channels_last", 0))
        result = self.add(op_type, inputs, self.temp("out") if last or cast_to is not None else output, **attrs)
        if last:
            back = self.temp("nhwc") if cast_to is not None else output
            result = self.add("Transpose", [result], back, perm=[0, *range(2, rank), 1])
        if cast_to is not None:
            self.add("Cast", [result], output, to=cast_to)


def _same_shape(twin: _Twin) -> None:
    twin.finish("Identity", [twin.input(0)], 0)


def _binary(op_type: str, a: int, b: int, cast_to: int | None = None) -> Callable[[_Twin], None]:
    def build(twin: _Twin) -> None:
        twin.finish(op_type, [twin.input(a), twin.input(b)], 0, cast_to)
    return build


def _where(twin: _Twin) -> None:
    twin.finish("Where", [twin.input(0), twin.input(1), twin.input(4)], 0)


def _concat(twin: _Twin) -> None:
    data = [name for index, name in enumerate(twin.node.input) if index >= 2 and (index - 2) % 3 == 0]
    twin.finish("Concat", data, 0, axis=twin.attr("axis"))


def _conv(twin: _Twin) -> None:
    weight = twin.stored.get(twin.input(3))
    rank = len(weight.dims) if weight is not None else len(twin.attr("kernel_shape", [0, 0])) + 2
    x = twin.channels_first(twin.input(0), rank)
    twin.finish("Conv", [x, twin.input(3)], rank, twin.stored_type(7, TensorProto.UINT8), **twin.attrs("channels_last"))


def _average_pool(twin: _Twin) -> None:
    rank = len(twin.attr("kernel_shape", [0, 0])) + 2
    x = twin.channels_first(twin.input(0), rank)
    twin.finish("AveragePool", [x], rank, **twin.attrs("channels_last"))


def _global_average_pool(twin: _Twin) -> None:
    x = twin.channels_first(twin.input(0), 4)  # onnxruntime writes channels_last only for 4-D (NHWC) tensors
    twin.finish("GlobalAveragePool", [x], 4)


def _reduce(op_type: str, axes_input_since: int, cast_to: int | None = None) -> Callable[[_Twin], None]:
    def build(twin: _Twin) -> None:
        axes = twin.attr("axes")
        keepdims = twin.attr("keepdims", 1)
        inputs = [twin.input(0)]
        if axes is not None and twin.opset >= axes_input_since:
            inputs.append(twin.constant_ints("axes", list(axes)))
            twin.finish(op_type, inputs, 0, cast_to, keepdims=keepdims)
        elif axes is not None:
            twin.finish(op_type, inputs, 0, cast_to, keepdims=keepdims, axes=list(axes))
        else:
            twin.finish(op_type, inputs, 0, cast_to, keepdims=keepdims)
    return build


def _qgemm(twin: _Twin) -> None:
    # Float output without y_scale (input 7), else the type of y_zero_point (input 8).
    out_type = twin.stored_type(8, TensorProto.UINT8) if twin.input(7) else TensorProto.FLOAT
    twin.finish("Gemm", [twin.input(0), twin.input(3)], 0, out_type, **twin.attrs("alpha"))


def _by_k_n(twin: _Twin) -> None:
    # MatMulNBits, MatMulBnb4: A [.., K] times a [K, N] stand-in for the packed weight, of A's type (the scales' or
    # absmax's, input 2); Y has A's type.
    weight = twin.stand_in("weight", twin.stored_type(2, TensorProto.FLOAT), [twin.attr("K"), twin.attr("N")])
    twin.finish("MatMul", [twin.input(0), weight], 0)


def _gather_block_quantized(twin: _Twin) -> None:
    data = twin.stored.get(twin.input(0))
    if data is None:
        return
    dims = list(data.dims)
    bits = twin.attr("bits", 4)
    if data.data_type == TensorProto.UINT8 and bits in (2, 4) and dims:
        dims[-1] *= 8 // bits  # values packed along the last axis
    logical = twin.stand_in("data", twin.stored_type(2, TensorProto.FLOAT), dims)
    twin.finish("Gather", [logical, twin.input(1)], 0, axis=twin.attr("gather_axis", 0))


def _qattention(twin: _Twin) -> None:
    # output [B, S, hidden]: the input times a [Din, hidden] stand-in, hidden a third of the packed weights.
    weight = twin.stored.get(twin.input(1))
    if weight is None or len(weight.dims) != 2:
        return
    stand_in = twin.stand_in("weight", TensorProto.FLOAT, [weight.dims[0], weight.dims[1] // 3])
    twin.finish("MatMul", [twin.input(0), stand_in], 0, twin.stored_type(3, TensorProto.FLOAT))


def _lstm(twin: _Twin) -> None:
    # DynamicQuantizeLSTM's R is [directions, H, 4·H] (an LSTM's is [directions, 4·H, H]): hidden_size says H.
    attrs = twin.attrs()
    recurrence = twin.stored.get(twin.input(2))
    if "hidden_size" not in attrs and recurrence is not None and len(recurrence.dims) == 3:
        attrs["hidden_size"] = recurrence.dims[1]
    outputs = list(twin.node.output)
    twin.nodes.append(helper.make_node("LSTM", list(twin.node.input[:8]), outputs, name=twin.node.name, **attrs))


def _cast(slot: int, default: int) -> Callable[[_Twin], None]:
    def build(twin: _Twin) -> None:
        twin.finish("Cast", [twin.input(0)], 0, to=twin.stored_type(slot, default))
    return build


TWINS: dict[str, Callable[[_Twin], None]] = {
    "QLinearAdd": _binary("Add", 0, 3),
    "QLinearMul": _binary("Mul", 0, 3),
    "MulInteger": _binary("Mul", 0, 2, cast_to=TensorProto.INT32),
    "QLinearWhere": _where,
    "QLinearSigmoid": _same_shape,
    "QLinearLeakyRelu": _same_shape,
    "QLinearSoftmax": _same_shape,
    "QLinearConcat": _concat,
    "QLinearConv": _conv,
    "QLinearAveragePool": _average_pool,
    "QLinearGlobalAveragePool": _global_average_pool,
    "QLinearReduceMean": _reduce("ReduceMean", 18),
    "ReduceSumInteger": _reduce("ReduceSum", 13, cast_to=TensorProto.INT32),
    "QGemm": _qgemm,
    "DynamicQuantizeMatMul": _binary("MatMul", 0, 1),
    "MatMulIntegerToFloat": lambda twin: _binary("MatMul", 0, 1, twin.stored_type(2, TensorProto.FLOAT))(twin),
    "MatMulNBits": _by_k_n,
    "MatMulBnb4": _by_k_n,
    "GatherBlockQuantized": _gather_block_quantized,
    "QAttention": _qattention,
    "DynamicQuantizeLSTM": _lstm,
    "DequantizeLinear": _cast(1, TensorProto.FLOAT),
    "QuantizeLinear": _cast(2, TensorProto.UINT8),
}


def _twinned(node: onnx.NodeProto) -> bool:
    return node.domain == MICROSOFT and node.op_type in TWINS and len(node.output) > 0 and bool(node.output[0])


def with_twins(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` itself when no node needs a twin, else a copy in which every com.microsoft quantized op is
    replaced by its standard-domain twin (in subgraphs too)."""
    if not any(o.domain == MICROSOFT for o in model.opset_import) or not any(
            _twinned(node) for graph in walk.graphs(model.graph) for node in graph.node):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    opset = next((o.version for o in copy.opset_import if o.domain in ("", "ai.onnx")), 0)
    graphs = list(walk.graphs(copy.graph))
    stored = {t.name: t for graph in graphs for t in graph.initializer}
    for graph in reversed(graphs):  # subgraphs before the graph whose nodes hold them (rewriting copies the nodes)
        if not any(_twinned(node) for node in graph.node):
            continue
        nodes = []
        for node in graph.node:
            if not _twinned(node):
                nodes.append(node)
                continue
            twin = _Twin(node, stored, opset)
            try:
                TWINS[node.op_type](twin)
            except MISFITS:  # attributes that do not fit the op: its cost rule says what is wrong
                twin = _Twin(node, stored, opset)
            nodes.extend(twin.nodes or [node])  # a node no twin can stand for stays (and keeps unknown shapes)
            graph.initializer.extend(twin.initializers)
        del graph.node[:]
        graph.node.extend(nodes)
    return copy
