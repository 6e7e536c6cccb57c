"""The corpus of bad inputs, generated on demand (no binaries in git).

Each entry writes one case into a folder and returns the path to give the CLI,
with the words the one-line error must contain. ````python -m support.bad_inputs DIR`` (run in tests/)
writes the whole corpus for a look by hand.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Case = Callable[[Path], Path]


def _model(nodes, inputs, weights=None, opset=17, extra_opsets=None) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "bad",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in (weights or {}).items()],
    )
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def _write(folder: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = folder / name
    path.write_bytes(model.SerializeToString())
    return path


def _relu(shape=(1, 4)):
    return _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": list(shape)})


def external(folder: Path, location: str) -> Path:
    """A MatMul whose [64, 64] weight lives in external data at ``location``."""
    model = _model([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], {"x": [1, 64]}, {"W": np.zeros((64, 64))})
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", "length": str(64 * 64 * 4)}.items():
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    return _write(folder, model)


def missing(folder):
    return folder / "missing.onnx"


def directory(folder):
    (folder / "a_folder.onnx").mkdir()
    return folder / "a_folder.onnx"


def empty(folder):
    (folder / "empty.onnx").write_bytes(b"")
    return folder / "empty.onnx"


def random_bytes(folder):
    (folder / "random.onnx").write_bytes(np.random.default_rng(7).bytes(50_000))
    return folder / "random.onnx"


def png_renamed(folder):
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
    (folder / "picture.onnx").write_bytes(header + np.random.default_rng(1).bytes(2000) + b"IEND\xaeB`\x82")
    return folder / "picture.onnx"


def truncated(folder):
    model = _model([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], {"x": [1, 64]}, {"W": np.ones((64, 64))})
    data = model.SerializeToString()
    (folder / "truncated.onnx").write_bytes(data[: len(data) // 2])
    return folder / "truncated.onnx"


def protobuf_not_a_model(folder):
    graph = _relu().graph  # a valid GraphProto, serialized on its own
    (folder / "graph_only.onnx").write_bytes(graph.SerializeToString())
    return folder / "graph_only.onnx"


def cycle(folder):
    return _write(folder, _model([
        helper.make_node("Relu", ["b"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
        helper.make_node("Add", ["x", "b"], ["y"], name="join"),
    ], {"x": [1, 4]}))


def undefined_input(folder):
    return _write(folder, _model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")], {"x": [1, 4]}))


def duplicate_output(folder):
    return _write(folder, _model([
        helper.make_node("Relu", ["x"], ["y"], name="first"), helper.make_node("Sigmoid", ["x"], ["y"], name="second"),
    ], {"x": [1, 4]}))


def negative_dimension(folder):
    return _write(folder, _relu((1, -4)))


def zero_dimension(folder):
    return _write(folder, _relu((0, 4)))


def overflowing_dimensions(folder):
    return _write(folder, _relu((2**40, 2**40)))


def conv_without_weight(folder):
    return _write(folder, _model([helper.make_node("Conv", ["x"], ["y"], name="conv")], {"x": [1, 3, 8, 8]}))


def attribute_of_wrong_type(folder):
    return _write(folder, _model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv", strides="two")],
                                 {"x": [1, 3, 8, 8]}, {"W": np.ones((4, 3, 3, 3))}))


def opset_from_the_future(folder):
    return _write(folder, _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": [1, 4]}, opset=999))


def no_default_opset(folder):
    """A Conv with no ai.onnx opset imported (only another domain's): onnx.checker and onnxruntime refuse it."""
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], {"x": [1, 8, 6, 6]},
                   {"w": np.ones((8, 8, 3, 3))})
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return _write(folder, model)


def external_missing(folder):
    return external(folder, "weights.bin")


def external_short(folder):
    (folder / "weights.bin").write_bytes(b"\0" * 100)
    return external(folder, "weights.bin")


def external_parent(folder):
    (folder.parent / "secret.bin").write_bytes(b"\0" * 64 * 64 * 4)
    return external(folder, "../secret.bin")


def external_absolute(folder):
    return external(folder, "/etc/passwd")


def external_symlink_out(folder):
    (folder.parent / "outside.bin").write_bytes(b"\0" * 64 * 64 * 4)
    os.symlink(folder.parent / "outside.bin", folder / "weights.bin")
    return external(folder, "weights.bin")


# name -> (case, words the error line must contain)
CORPUS: dict[str, tuple[Case, str]] = {
    "missing file": (missing, "no such file"),
    "directory": (directory, "is a directory"),
    "empty file": (empty, "empty file"),
    "random bytes": (random_bytes, "not an ONNX model"),
    "png renamed": (png_renamed, "not an ONNX model"),
    "truncated protobuf": (truncated, "not an ONNX model"),
    "protobuf, not a model": (protobuf_not_a_model, "not an ONNX model"),
    "cycle": (cycle, "cycle"),
    "undefined input": (undefined_input, "'ghost'"),
    "duplicate output": (duplicate_output, "produced twice"),
    "negative dimension": (negative_dimension, "dimension of -4"),
    "zero dimension": (zero_dimension, "dimension of 0"),
    "overflowing dimensions": (overflowing_dimensions, "64-bit"),
    "conv without weight": (conv_without_weight, "input size 1"),
    "attribute of wrong type": (attribute_of_wrong_type, "strides"),
    "opset from the future": (opset_from_the_future, "opset 999"),
    "no default opset": (no_default_opset, "imports no opset of domain 'ai.onnx'"),
    "external data missing": (external_missing, "not found"),
    "external data short": (external_short, "shorter"),
    "external data ../": (external_parent, "leaves the model's folder"),
    "external data absolute": (external_absolute, "absolute"),
    "external data symlink out": (external_symlink_out, "outside the model's folder"),
}


def unknown_domain(folder):
    """Not an error: reported, with a warning naming the op."""
    return _write(folder, _model([helper.make_node("Mystery", ["x"], ["y"], name="m", domain="org.example")],
                                 {"x": [1, 4]}, extra_opsets={"org.example": 1}))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-inputs")
    for name, (case, _) in CORPUS.items():
        folder = target / name.replace(" ", "_").replace("/", "").replace(",", "")
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{name}: {case(folder)}")
