"""The corpus of bad inputs, generated on demand (no binaries in git).

Each entry writes one case into a folder and returns the path to give the CLI,
with the words the one-line error must contain. ``python -m support.bad_inputs DIR`` (run in tests/)
writes the whole corpus for a look by hand.

``CORPUS``: broken files every command refuses. ``HOSTILE``: files crafted to attack the tool (issue 11's
thirteen classes: terminal injection, markup, forged lines, crashes, hangs and memory blow-ups, outputs that
would destroy something), each with what report, rewrite and validate must do with it.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
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


# Not bad inputs since issue 10 (tests/test_structure_dims.py): a negative dim_value is a free dimension, named
# x_dim1 here; a zero one an empty tensor, which ONNX allows.
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


# --- hostile files (issue 11) ------------------------------------------------------------------------------------

COMMANDS = ("report", "rewrite", "validate")
ESC = "evil\x1b[2J\x1b[31mRED"  # clears the screen and turns the terminal red when printed raw
RLO = "\u202e"  # right-to-left override: the rest of the line shows reversed


@dataclass(frozen=True)
class Hostile:
    """A crafted file and what each command must do with it.

    ``build(folder)`` writes the model and returns its path. ``errors`` maps a command to the words its one-line
    error must contain (exit 2); a command not in it must succeed (exit 0). ``extra(folder)`` adds arguments to
    rewrite and validate (an .npz given with --inputs); ``output(folder, model)`` is the -o of report and rewrite,
    which must be refused and left as it was.
    """

    build: Callable[[Path], Path]
    errors: dict[str, str] = field(default_factory=dict)
    extra: Callable[[Path], list[str]] | None = None
    output: Callable[[Path, Path], Path] | None = None


def everywhere(words: str) -> dict[str, str]:
    return dict.fromkeys(COMMANDS, words)


def _graph_model(nodes, inputs, outputs, initializers=(), opset=17, domains=()) -> onnx.ModelProto:
    """Float inputs and outputs by name and shape (an output's shape None when it is not known)."""
    graph = helper.make_graph(
        nodes, "hostile", [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in outputs.items()],
        list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    *(helper.make_opsetid(d, 1) for d in domains)])
    model.ir_version = 8
    return model


# 1. Terminal injection.

def escape_names(folder):
    """ESC sequences and a right-to-left override in node and tensor names of standard ops: reported, escaped."""
    return _write(folder, _graph_model([
        helper.make_node("Relu", ["x"], [ESC + "t"], name=ESC),
        helper.make_node("Sigmoid", [ESC + "t"], ["y"], name=f"sig{RLO}gnp.exe"),
    ], {"x": [1, 4]}, {"y": [1, 4]}))


def escape_op_type(folder):
    """An op type with an ESC sequence (a custom domain): reported with a warning naming it, escaped; onnxruntime
    has no kernel for it."""
    return _write(folder, _graph_model([helper.make_node("Op" + ESC, ["x"], ["y"], name="custom", domain="org.evil")],
                                       {"x": [1, 4]}, {"y": None}, domains=["org.evil"]))


def escape_in_an_error(folder):
    return _write(folder, _graph_model([helper.make_node("Add", ["x", "ghost" + ESC], ["y"], name="add")],
                                       {"x": [1, 4]}, {"y": None}))


# 2. Rich markup.

def markup_names(folder):
    """Names rich would read as markup (a closing tag alone raised MarkupError) or emoji codes."""
    return _write(folder, _graph_model([
        helper.make_node("Relu", ["x"], ["a"], name="[/bogus]"),
        helper.make_node("Relu", ["a"], ["b"], name="conv[red]"),
        helper.make_node("Relu", ["b"], ["y"], name=":warning:"),
    ], {"x": [1, 4]}, {"y": [1, 4]}))


def markup_path(folder):
    """A model whose path holds '[/b]'."""
    (folder / "dir[").mkdir()
    return _write(folder / "dir[", _graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                                {"x": [1, 4]}, {"y": [1, 4]}), name="b]model.onnx")


# 3. Forged lines.

def newline_in_an_error(folder):
    return _write(folder, _graph_model([helper.make_node("Add", ["x", "ghost\nerror: forged"], ["y"], name="add")],
                                       {"x": [1, 4]}, {"y": None}))


# 4. Crashes (exit 3) in report.

def _scan(num_scan_inputs=1, axes=None, xs_shape=(3, 4)) -> onnx.ModelProto:
    width = xs_shape[-1]
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_in"], ["s_out"], name="step"),
         helper.make_node("Identity", ["s_out"], ["y_out"], name="emit")], "body",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [width]) for n in ("s_in", "x_in")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [width]) for n in ("s_out", "y_out")])
    node = helper.make_node("Scan", ["init", "xs"], ["final", "ys"], name="scan", body=body,
                            num_scan_inputs=num_scan_inputs)
    if axes is not None:
        node.attribute.append(helper.make_attribute("scan_input_axes", axes))
    return _graph_model([node], {"init": [width], "xs": list(xs_shape)}, {"final": None, "ys": None})


def scan_inputs(count):
    return lambda folder: _write(folder, _scan(count))


def scan_inputs_as_text(folder):
    model = _scan()
    next(a for a in model.graph.node[0].attribute if a.name == "num_scan_inputs").CopyFrom(
        helper.make_attribute("num_scan_inputs", "one"))
    return _write(folder, model)


def scan_axes_not_integers(folder):
    return _write(folder, _scan(axes=[0.5]))


def nested_scans(folder, depth=16):
    """16 Scans, each in the body of the one before, over [2^62, 1]: the innermost body would run 2^992 times."""
    def body(inner: onnx.GraphProto | None, index: int) -> onnx.GraphProto:
        nodes = [helper.make_node("Add", ["s_in", "x_in"], ["s_out"], name=f"add{index}")]
        if inner is not None:  # the next Scan reads the outer 'seq' from the enclosing scope
            nodes.append(helper.make_node("Scan", ["s_out", "seq"], ["s_last"], name=f"scan{index}", body=inner,
                                          num_scan_inputs=1))
        last = "s_last" if inner is not None else "s_out"
        return helper.make_graph(nodes, f"body{index}",
                                 [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("s_in", "x_in")],
                                 [helper.make_tensor_value_info(last, TensorProto.FLOAT, [1])])
    inner = None
    for index in range(depth - 1):
        inner = body(inner, index)
    outer = helper.make_node("Scan", ["init", "seq"], ["final"], name="outer", body=inner, num_scan_inputs=1)
    return _write(folder, _graph_model([outer], {"init": [1], "seq": [2**62, 1]}, {"final": None}))


def external_nul(folder):
    return external(folder, "weights\0.bin")


def external_too_long(folder):
    return external(folder, "w" * 5000 + ".bin")


def external_symlink_loop(folder):
    os.symlink("loop_b", folder / "loop_a")
    os.symlink("loop_a", folder / "loop_b")
    return external(folder, "loop_a")


def ir_version_2_62(folder):
    model = _relu()
    model.ir_version = 2**62
    return _write(folder, model)


# 5. Crashes in rewrite: weights whose data does not match their dims, group 0.

def _conv(group=1, data: Callable[[TensorProto], None] | None = None) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 6, 3, 3)).astype(np.float32), "W")
    if data is not None:
        data(weight)
    node = helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1], group=group)
    return _graph_model([node], {"x": [1, 6, 8, 8]}, {"y": [1, 8, 8, 8]}, [weight])


def weight_short(folder):
    return _write(folder, _conv(data=lambda w: setattr(w, "raw_data", w.raw_data[:100])))


def weight_long(folder):
    return _write(folder, _conv(data=lambda w: setattr(w, "raw_data", w.raw_data + bytes(400))))


def weight_without_data(folder):
    return _write(folder, _conv(data=lambda w: w.ClearField("raw_data")))


def group_zero(folder):
    return _write(folder, _conv(group=0))


# 6. Validation inputs.

def small_model(folder):
    return _write(folder, _graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": [1, 4]},
                                       {"y": [1, 4]}))


def npz_file(builder: Callable[[Path], Path]):
    return lambda folder: ["--inputs", str(builder(folder))]


def npy_not_npz(folder):
    np.save(folder / "inputs.npy", np.ones((1, 4), np.float32))
    return folder / "inputs.npy"


def corrupt_zip(folder):
    np.savez(folder / "inputs.npz", x=np.ones((1, 4), np.float32))
    data = bytearray((folder / "inputs.npz").read_bytes())
    data[len(data) // 2:] = bytes(len(data) - len(data) // 2)  # the central directory is gone
    (folder / "inputs.npz").write_bytes(bytes(data))
    return folder / "inputs.npz"


def crc_error(folder):
    np.savez(folder / "inputs.npz", x=np.ones((1, 4), np.float32))
    data = bytearray((folder / "inputs.npz").read_bytes())
    data[data.index(b"\x93NUMPY") + 128 + 4] ^= 0xFF  # a byte of the stored array's data, past its .npy header
    (folder / "inputs.npz").write_bytes(bytes(data))
    return folder / "inputs.npz"


def member_not_an_array(folder):
    with zipfile.ZipFile(folder / "inputs.npz", "w") as archive:
        archive.writestr("x.npy", _npy_bytes(np.ones((1, 4), np.float32)))
        archive.writestr("notes.txt", b"not an array")
    return folder / "inputs.npz"


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def huge_input(shape):
    return lambda folder: _write(folder, _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": list(shape)}))


# 7. Shape machinery allocating far beyond the file.

def concat_bomb(folder):
    """A 229 KB file: Concat of one 4096-element int64 constant 65,536 times (2^28 elements), into an unknown op."""
    constant = numpy_helper.from_array(np.arange(4096, dtype=np.int64), "c")
    return _write(folder, _graph_model([
        helper.make_node("Concat", ["c"] * 65536, ["big"], axis=0, name="cat"),
        helper.make_node("Mystery", ["big"], ["y"], name="m", domain="org.x"),
    ], {}, {"y": None}, [constant], domains=["org.x"]))


def tile_bomb(folder):
    """A 200-byte file: Tile of [1] by 2^28 as a Reshape's shape (2 GiB in the folding; 2^28 symbols in onnxruntime's
    symbolic inference). An unknown op after it keeps onnxruntime (validate) from computing the Tile: that would
    be the model's own 2 GiB, not the shape machinery's."""
    return _write(folder, _graph_model([
        helper.make_node("Tile", ["one", "repeats"], ["shape"], name="tile"),
        helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
        helper.make_node("Mystery", ["r"], ["y"], name="m", domain="org.x"),
    ], {"x": [2, 2]}, {"y": None}, [numpy_helper.from_array(np.array([1], np.int64), "one"),
                                    numpy_helper.from_array(np.array([2**28], np.int64), "repeats")], domains=["org.x"]))


def max_bomb(folder):
    """A Max over 65,536 copies of a 4096-element constant (stacked, 2 GiB before the size check)."""
    constant = numpy_helper.from_array(np.arange(4096, dtype=np.int64), "c")
    return _write(folder, _graph_model([
        helper.make_node("Max", ["c"] * 65536, ["shape"], name="max"),
        helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"),
    ], {"x": [2, 2]}, {"y": None}, [constant]))


# 8. External data with an offset and no length, in a 2 GiB sparse file.

def external_without_length(folder):
    with open(folder / "weights.bin", "wb") as handle:
        handle.truncate(2**31)  # sparse: no disk used
    path = external(folder, "weights.bin")
    model = onnx.load(str(path), load_external_data=False)
    entries = model.graph.initializer[0].external_data
    kept = [(e.key, e.value) for e in entries if e.key != "length"]
    del entries[:]
    for key, value in kept:
        entry = entries.add()
        entry.key, entry.value = key, value
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64]))
    return _write(folder, model)


# 9. An npz bomb: 2 MB holding the input and 2 GiB of compressed zeros under another name.

def npz_bomb(folder):
    x = _npy_bytes(np.ones((1, 4), np.float32))
    zeros, crc, size = _zeros_member()
    _write_zip(folder / "inputs.npz", [("x.npy", x, zlib.crc32(x), len(x), zipfile.ZIP_STORED),
                                       ("junk.npy", zeros, crc, size, zipfile.ZIP_DEFLATED)])
    return folder / "inputs.npz"


@lru_cache(maxsize=1)
def _zeros_member() -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, size) of a .npy holding 2^28 float64 zeros (2 GiB), in 2 MB: one compressed MiB
    of zeros repeated (after a full flush a deflate block stands alone), then an empty final block."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**28,)})
    head, mib = header.getvalue(), bytes(2**20)
    first, block = zlib.compressobj(9, zlib.DEFLATED, -15), zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = block.compress(mib) + block.flush(zlib.Z_FULL_FLUSH)
    stream = [first.compress(head) + first.flush(zlib.Z_FULL_FLUSH), chunk * 2048,
              zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)]
    crc = zlib.crc32(head)
    for _ in range(2048):
        crc = zlib.crc32(mib, crc)
    return b"".join(stream), crc, len(head) + 2**31


def _write_zip(path: Path, members) -> None:
    """A zip of (name, data as stored, CRC-32, uncompressed size, method) members, written by hand: zipfile cannot
    store data compressed elsewhere."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size, method in members:
        encoded = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, len(local)) + encoded
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0)
        local += encoded + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))


# 10. A FIFO given as the model.

def fifo_model(folder):
    os.mkfifo(folder / "model.onnx")
    return folder / "model.onnx"


def fifo_inputs(folder):
    os.mkfifo(folder / "inputs.npz")
    return folder / "inputs.npz"


# 11 and 12. Outputs: the input itself, a FIFO, a link to a character device.

def same_as_input(folder, model):
    return model


def fifo_output(folder, model):
    os.mkfifo(folder / "out.onnx")
    return folder / "out.onnx"


def device_output(folder, model):
    os.symlink("/dev/null", folder / "out.onnx")  # replacing the link would not touch /dev/null even if it went wrong
    return folder / "out.onnx"


HOSTILE: dict[str, Hostile] = {
    "1 escape sequences in names": Hostile(escape_names),
    "1 escape sequence in an op type": Hostile(escape_op_type, {"rewrite": "Op" + "evil\\x1b[2J",
                                                                 "validate": "Op" + "evil\\x1b[2J"}),
    "1 escape sequence in an error": Hostile(escape_in_an_error, everywhere("'ghostevil\\x1b[2J\\x1b[31mRED'")),
    "2 markup in names": Hostile(markup_names),
    "2 markup in the path": Hostile(markup_path),
    "3 newline in an error": Hostile(newline_in_an_error, everywhere("'ghost\\nerror: forged'")),
    "4 scan of 0 inputs": Hostile(scan_inputs(0), everywhere("num_scan_inputs is 0")),
    "4 scan of 99 inputs": Hostile(scan_inputs(99), everywhere("num_scan_inputs is 99")),
    "4 scan inputs as text": Hostile(scan_inputs_as_text, everywhere("num_scan_inputs is b'one'")),
    "4 scan axes not integers": Hostile(scan_axes_not_integers, everywhere("scan_input_axes must be integers")),
    "4 16 nested scans over 2^62": Hostile(nested_scans, everywhere("more than 2^63 - 1 times")),
    "4 external data location with NUL": Hostile(external_nul, everywhere("NUL byte")),
    "4 external data location too long": Hostile(external_too_long, everywhere("File name too long")),
    "4 external data symlink loop": Hostile(external_symlink_loop, everywhere("cannot be used")),
    "4 ir_version 2^62": Hostile(ir_version_2_62, everywhere("IR version 4611686018427387904")),
    "5 weight data too short": Hostile(weight_short, {"rewrite": "raw_data holds 100 bytes", "validate": "raw_data holds 100 bytes"}),
    "5 weight data too long": Hostile(weight_long, {"rewrite": "raw_data holds 2128 bytes", "validate": "raw_data holds 2128 bytes"}),
    "5 weight without data": Hostile(weight_without_data, {"rewrite": "holds no data", "validate": "holds no data"}),
    "5 conv group 0": Hostile(group_zero, {"rewrite": "group 0", "validate": "group must be greater than 0"}),
    "6 .npy for --inputs": Hostile(small_model, {"rewrite": "a single .npy file", "validate": "a single .npy file"},
                                   extra=npz_file(npy_not_npz)),
    "6 corrupt zip for --inputs": Hostile(small_model, {"rewrite": "not a readable .npz", "validate": "not a readable .npz"},
                                          extra=npz_file(corrupt_zip)),
    "6 CRC error in --inputs": Hostile(small_model, {"rewrite": "Bad CRC-32", "validate": "Bad CRC-32"},
                                       extra=npz_file(crc_error)),
    "6 --inputs member not an array": Hostile(small_model, {"rewrite": "'notes.txt' is not an array",
                                                            "validate": "'notes.txt' is not an array"},
                                              extra=npz_file(member_not_an_array)),
    "6 input of 2^40 x 4": Hostile(huge_input((2**40, 4)), {"rewrite": "over the 1.0 GiB", "validate": "over the 1.0 GiB"}),
    "6 input of 1x8x16384x4096": Hostile(huge_input((1, 8, 16384, 4096)), {"rewrite": "over the 1.0 GiB",
                                                                           "validate": "over the 1.0 GiB"}),
    "7 concat of 65,536 copies": Hostile(concat_bomb, {"rewrite": "Mystery", "validate": "Mystery"}),
    "7 tile by 2^28": Hostile(tile_bomb, {"rewrite": "Mystery", "validate": "Mystery"}),
    "7 max over 65,536 copies": Hostile(max_bomb, {"rewrite": "onnxruntime cannot", "validate": "onnxruntime cannot"}),
    "8 external data without a length": Hostile(external_without_length),
    "9 npz bomb": Hostile(small_model, {"rewrite": "match no input", "validate": "match no input"}, extra=npz_file(npz_bomb)),
    "10 FIFO as the model": Hostile(fifo_model, everywhere("not a regular file")),
    "10 FIFO as --inputs": Hostile(small_model, {"rewrite": "not a regular file", "validate": "not a regular file"},
                                   extra=npz_file(fifo_inputs)),
    "11 -o onto the input": Hostile(small_model, {"report": "it is the input", "rewrite": "refused without --in-place"},
                                    output=same_as_input),
    "12 -o onto a FIFO": Hostile(small_model, {"report": "it is a FIFO", "rewrite": "it is a FIFO"}, output=fifo_output),
    "12 -o onto a character device": Hostile(small_model, {"report": "it is a character device",
                                                           "rewrite": "it is a character device"}, output=device_output),
}


def unknown_domain(folder):
    """Not an error: reported, with a warning naming the op."""
    return _write(folder, _model([helper.make_node("Mystery", ["x"], ["y"], name="m", domain="org.example")],
                                 {"x": [1, 4]}, extra_opsets={"org.example": 1}))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-inputs")
    builds = {name: case for name, (case, _) in CORPUS.items()}
    builds.update((f"hostile {name}", hostile.build) for name, hostile in HOSTILE.items())
    for name, build in builds.items():
        folder = target / "".join(c if c.isalnum() or c in "-." else "_" for c in name)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{name}: {build(folder)}")  # the --inputs files and -o targets are made by the tests
