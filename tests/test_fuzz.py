"""Fuzzing: mutated files and mutated protobuf fields either report or fail with the package's own error.

CI runs a few hundred cases. For a long run:

    ONNXCOST_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py -q
"""

import os
import re
import signal
from contextlib import contextmanager

import numpy as np
import onnx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import onnxcost
from onnxcost.errors import OnnxcostError

EXAMPLES = int(os.environ.get("ONNXCOST_FUZZ_EXAMPLES", "150"))
CASE_SECONDS = 20  # a case slower than this counts as a hang
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def seed_model() -> onnx.ModelProto:
    """A small network touching many code paths: conv, BN, pooling, an exporter-style flatten, Gemm, Softmax."""
    rng = np.random.default_rng(0)
    i64 = lambda *v: numpy_helper.from_array(np.array(v, np.int64))
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv"),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Shape", ["p"], ["s"], name="shape"),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64)), name="c0"),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0, name="concat"),
        helper.make_node("Reshape", ["p", "target"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "FW", "FB"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1, name="softmax"),
    ]
    weights = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
        numpy_helper.from_array(np.zeros(4, np.float32), "B"),
        *(numpy_helper.from_array(np.ones(4, np.float32), name) for name in ("g", "b", "m", "v")),
        numpy_helper.from_array(rng.standard_normal((5, 64)).astype(np.float32), "FW"),
        numpy_helper.from_array(np.zeros(5, np.float32), "FB"),
    ]
    axes, minus1 = i64(0), i64(-1)
    axes.name, minus1.name = "axes", "minus1"
    graph = helper.make_graph(nodes, "seed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])], weights + [axes, minus1])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


SEED = seed_model()
SEED_BYTES = SEED.SerializeToString()


@contextmanager
def time_limit(seconds):
    def on_alarm(signum, frame):
        raise TimeoutError(f"case ran longer than {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def report_or_own_error(path) -> None:
    """The property; outcomes are recorded as hypothesis events (--hypothesis-show-statistics lists them)."""
    with time_limit(CASE_SECONDS):
        try:
            onnxcost.analyze(path)
            event("reported")
        except OnnxcostError as exc:
            event(f"{type(exc).__name__}: {_shape_of(str(exc))}")


def _shape_of(message: str) -> str:
    """The message with names and numbers blanked, so similar errors count as one kind."""
    message = re.sub(r"'[^']*'", "'…'", message)
    return re.sub(r"\d+", "N", message)[:90]


def test_seed_model_reports():
    assert onnxcost.analyze(SEED, dims={"batch": 1}).totals.macs == 4 * 8 * 8 * 27 + 5 * 64


byte_edits = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate"]),
              st.integers(0, len(SEED_BYTES) - 1), st.binary(min_size=1, max_size=8)),
    min_size=1, max_size=6,
)


@FUZZ
@given(edits=byte_edits)
def test_mutated_bytes(edits, tmp_path):
    data = bytearray(SEED_BYTES)
    for kind, position, payload in edits:
        position %= max(len(data), 1)
        if kind == "flip":
            data[position:position + len(payload)] = bytes(a ^ b for a, b in zip(data[position:position + len(payload)], payload))
        elif kind == "insert":
            data[position:position] = payload
        elif kind == "delete":
            del data[position:position + len(payload)]
        else:
            del data[position:]
    path = tmp_path / "mutated.onnx"
    path.write_bytes(bytes(data))
    report_or_own_error(path)


INTERESTING_INTS = st.sampled_from([0, 1, -1, 2, 3, 7, 2**31 - 1, 2**31, 2**62, 2**63 - 1, -(2**63)])
FIELD_EDITS = st.lists(st.tuples(st.sampled_from([
    "op_type", "drop_input", "extra_input", "rename_output", "attr_int", "attr_ints", "input_dim", "init_dims",
    "elem_type", "opset", "domain", "swap_nodes", "drop_initializer", "drop_node", "attr_kind",
]), st.integers(0, 1000), INTERESTING_INTS, st.sampled_from(["Conv", "Relu", "MatMul", "Loop", "If", "Reshape",
                                                             "Gather", "Foo", "Einsum", "Resize", "Attention"])),
    min_size=1, max_size=5)


def mutate_fields(model: onnx.ModelProto, edits) -> None:
    graph = model.graph
    for kind, index, number, word in edits:
        nodes = graph.node
        node = nodes[index % len(nodes)] if len(nodes) else None
        if kind == "op_type" and node is not None:
            node.op_type = word
        elif kind == "drop_input" and node is not None and node.input:
            del node.input[index % len(node.input)]
        elif kind == "extra_input" and node is not None:
            node.input.append(["x", "W", "ghost", "", "y"][index % 5])
        elif kind == "rename_output" and node is not None and node.output:
            node.output[0] = ["x", "W", "r", "y", ""][index % 5]
        elif kind in ("attr_int", "attr_ints", "attr_kind") and node is not None and node.attribute:
            attr = node.attribute[index % len(node.attribute)]
            if kind == "attr_int":
                attr.i = number
            elif kind == "attr_ints":
                attr.ints.append(number)
            else:
                attr.type = [onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING, onnx.AttributeProto.GRAPH][index % 3]
        elif kind == "input_dim":
            dims = graph.input[0].type.tensor_type.shape.dim
            dims[index % len(dims)].dim_value = number
        elif kind == "init_dims" and graph.initializer:
            tensor = graph.initializer[index % len(graph.initializer)]
            if tensor.dims:
                tensor.dims[index % len(tensor.dims)] = number
        elif kind == "elem_type" and graph.initializer:
            graph.initializer[index % len(graph.initializer)].data_type = number % 40
        elif kind == "opset":
            model.opset_import[0].version = number if abs(number) < 100 else index % 40
        elif kind == "domain" and node is not None:
            node.domain = ["com.microsoft", "x.y", "ai.onnx.ml", ""][index % 4]
        elif kind == "swap_nodes" and len(nodes) > 1:
            other = nodes[(index * 7 + 1) % len(nodes)]
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            node.CopyFrom(other)
            other.CopyFrom(copy)
        elif kind == "drop_initializer" and graph.initializer:
            del graph.initializer[index % len(graph.initializer)]
        elif kind == "drop_node" and nodes:
            del nodes[index % len(nodes)]


@FUZZ
@given(edits=FIELD_EDITS)
def test_mutated_fields(edits, tmp_path):
    model = onnx.ModelProto()
    model.CopyFrom(SEED)
    mutate_fields(model, edits)
    path = tmp_path / "mutated.onnx"
    path.write_bytes(model.SerializeToString())
    report_or_own_error(path)
