"""Loading: external weights are never read for a report; unsafe locations are refused before any read."""

import builtins
import os
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onnxcost
from onnxcost.errors import ExternalDataError, InvalidModelError, ModelLoadError
from onnxcost.loading import load_model
from support import bad_inputs
from support.builders import model, zeros


def external_model(folder: Path, location: str, data_bytes: int | None = None) -> Path:
    """A MatMul whose [64, 64] float weight is stored at ``location``; a sparse file of ``data_bytes`` there."""
    path = bad_inputs.external(folder, location)
    if data_bytes is not None:
        with open(folder / location, "wb") as handle:
            handle.truncate(data_bytes)
    return path


def test_report_never_opens_the_external_weights(tmp_path, monkeypatch):
    path = external_model(tmp_path, "weights.bin", data_bytes=4 * 64 * 64)
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: (opened.append(str(file)), real_open(file, *a, **k))[1])
    report = onnxcost.analyze(path)
    assert report.totals.params == 64 * 64 and report.totals.macs == 64 * 64
    assert not any(name.endswith("weights.bin") for name in opened)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_escaping_locations_are_refused(tmp_path, location):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4 * 64 * 64)
    with pytest.raises(ExternalDataError, match="refused"):
        onnxcost.analyze(external_model(folder, location))


def test_symlink_pointing_out_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4 * 64 * 64)
    os.symlink(tmp_path / "outside.bin", folder / "weights.bin")
    with pytest.raises(ExternalDataError, match="outside"):
        onnxcost.analyze(external_model(folder, "weights.bin"))


def test_missing_and_short_external_data(tmp_path):
    with pytest.raises(ExternalDataError, match="not found"):
        onnxcost.analyze(external_model(tmp_path, "weights.bin"))
    with pytest.raises(ExternalDataError, match="shorter"):
        onnxcost.analyze(external_model(tmp_path, "weights.bin", data_bytes=100))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not an ONNX model"),
])
def test_not_a_model(tmp_path, content, message):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        onnxcost.analyze(path)


def test_truncated_model(tmp_path):
    full = model([helper.make_node("Relu", ["x"], ["y"], name="r")], {"x": [1, 4]}, ["y"], {"W": zeros(1000)})
    path = tmp_path / "cut.onnx"
    path.write_bytes(full.SerializeToString()[:-2000])
    with pytest.raises(ModelLoadError):
        onnxcost.analyze(path)


def test_a_fifo_is_refused_before_it_is_opened(tmp_path):
    os.mkfifo(tmp_path / "model.onnx")  # opening it for reading would wait for a writer forever
    with pytest.raises(ModelLoadError, match="not a regular file"):
        onnxcost.analyze(tmp_path / "model.onnx")


@pytest.mark.parametrize("location, message", [
    ("weights\0.bin", "NUL byte"),
    ("w" * 5000 + ".bin", "File name too long"),
])
def test_locations_no_file_system_takes_are_refused(tmp_path, location, message):
    with pytest.raises(ExternalDataError, match=message):
        onnxcost.analyze(external_model(tmp_path, location))


def test_a_symlink_loop_is_refused(tmp_path):
    os.symlink("b.bin", tmp_path / "a.bin")
    os.symlink("a.bin", tmp_path / "b.bin")
    with pytest.raises(ExternalDataError, match="cannot be used"):
        onnxcost.analyze(external_model(tmp_path, "a.bin"))


def test_a_length_other_than_the_tensors_is_refused(tmp_path):
    path = external_model(tmp_path, "weights.bin", data_bytes=2 * 4 * 64 * 64)
    loaded = onnx.load(str(path), load_external_data=False)
    next(e for e in loaded.graph.initializer[0].external_data if e.key == "length").value = str(2 * 4 * 64 * 64)
    path.write_bytes(loaded.SerializeToString())
    with pytest.raises(ExternalDataError, match="length 32768 does not match the 16384 bytes"):  # 64·64 float32
        onnxcost.analyze(path)


def test_without_a_length_only_the_tensors_bytes_are_read(tmp_path):
    path = bad_inputs.external_without_length(tmp_path)  # a 2 GiB sparse file, an offset and no length
    loaded = load_model(path, load_weights=True)
    assert len(loaded.model.graph.initializer[0].raw_data) == 4 * 64 * 64  # not the whole file


@pytest.mark.parametrize("case, message", [
    (bad_inputs.weight_short, "raw_data holds 100 bytes, its dims [8, 6, 3, 3] and type need 1728"),  # 432 floats
    (bad_inputs.weight_long, "raw_data holds 2128 bytes, its dims [8, 6, 3, 3] and type need 1728"),  # 1728 + 400
    (bad_inputs.weight_without_data, "its dims [8, 6, 3, 3] say 432 elements, and it holds no data"),
])
def test_weights_must_match_their_dims_when_they_are_read(tmp_path, case, message):
    path = case(tmp_path)
    assert onnxcost.analyze(path).totals.params == 8 * 6 * 3 * 3  # a report reads no weight: dims are enough
    with pytest.raises(InvalidModelError, match=re.escape(message)):
        load_model(path, load_weights=True)


def test_typed_fields_are_counted_too():
    def matmul_with(weight):
        return model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, 2]}, ["y"], {"w": weight})

    load_model(matmul_with(np.ones((2, 3), np.float32)), load_weights=True)
    short = matmul_with(np.ones((2, 3), np.float32))
    short.graph.initializer[0].CopyFrom(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3], float_data=[1.0] * 5))
    with pytest.raises(InvalidModelError, match=re.escape("float_data holds 5 values, its dims [2, 3] need 6")):
        load_model(short, load_weights=True)


def test_a_report_leaves_large_inline_weights_in_the_file(tmp_path):
    # A [256, 256] float weight (256 KiB) and a [256] bias (1 KiB) stored inline: the report's parse leaves the
    # weight's bytes in the file (a reference to the file itself), parses the small bias as it is, and counts both:
    # 1x256 @ 256x256 is 65,536 MACs; 65,536 + 256 parameters of 4 bytes.
    rng = np.random.default_rng(0)
    built = model([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                   helper.make_node("Add", ["h", "b"], ["y"], name="add")], {"x": [1, 256]}, ["y"],
                  {"w": rng.standard_normal((256, 256)).astype(np.float32), "b": zeros(256)})
    path = tmp_path / "m.onnx"
    onnx.save(built, str(path))
    loaded = load_model(path, inline_weights=False).model
    weight, bias = loaded.graph.initializer
    assert weight.data_location == TensorProto.EXTERNAL and not weight.HasField("raw_data")
    assert {e.key: e.value for e in weight.external_data}["location"] == "m.onnx"
    assert bias.data_location != TensorProto.EXTERNAL and len(bias.raw_data) == 256 * 4
    assert loaded.graph.node == built.graph.node
    report = onnxcost.analyze(path)
    assert (report.totals.macs, report.totals.params) == (256 * 256, 256 * 256 + 256)
    assert report.totals.param_bytes == 4 * (256 * 256 + 256)
    assert load_model(path).model == onnx.load(str(path))  # the default parse is the whole model


def test_a_graph_of_many_nodes_and_small_weights_is_parsed_as_it_is(tmp_path):
    # Past 10,000 fields without a weight to leave, the walk stops: the model parses whole, nothing refers to the file.
    from onnxcost.weights_in_file import _FIELDS_WITHOUT_STUBS, parse_leaving_weights

    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(_FIELDS_WITHOUT_STUBS + 1)]
    built = model(nodes, {"t0": [1, 4]}, [f"t{len(nodes)}"])
    path = tmp_path / "long.onnx"
    onnx.save(built, str(path))
    parsed = parse_leaving_weights(path, give_up=True)
    assert parsed == built
    assert onnxcost.analyze(path).totals.nodes == _FIELDS_WITHOUT_STUBS + 1


def test_a_report_of_inline_and_external_weights_reads_neither(tmp_path, monkeypatch):
    # W1 [256, 256] inline (256 KiB: left in the file), W2 [256, 64] in weights.bin (never opened); 1x256 @ 256x256
    # then @ 256x64: 65,536 + 16,384 MACs and parameters.
    built = model([helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
                   helper.make_node("MatMul", ["h", "w2"], ["y"], name="mm2")], {"x": [1, 256]}, ["y"],
                  {"w1": zeros(256, 256), "w2": zeros(256, 64)})
    outside = built.graph.initializer[1]
    outside.ClearField("raw_data")
    outside.data_location = TensorProto.EXTERNAL
    for key, value in {"location": "weights.bin", "offset": "0", "length": str(256 * 64 * 4)}.items():
        entry = outside.external_data.add()
        entry.key, entry.value = key, value
    path = tmp_path / "mixed.onnx"
    onnx.save(built, str(path))
    with open(tmp_path / "weights.bin", "wb") as handle:
        handle.truncate(256 * 64 * 4)
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: (opened.append(str(file)), real_open(file, *a, **k))[1])
    report = onnxcost.analyze(path)
    assert (report.totals.macs, report.totals.params) == (65_536 + 16_384, 65_536 + 16_384)
    assert not any(name.endswith("weights.bin") for name in opened)
    parsed = load_model(path, inline_weights=False).model
    stored = {t.name: {e.key: e.value for e in t.external_data} for t in parsed.graph.initializer}
    assert stored["w1"]["location"] == "mixed.onnx" and stored["w2"]["location"] == "weights.bin"


def test_loading_reads_the_main_graph_nodes_fields_once_for_the_analysis(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"), helper.make_node("Relu", ["y"], ["z"])]
    path = tmp_path / "m.onnx"
    onnx.save(model(nodes, {"x": [2, 3]}, ["z"], {"W": np.ones((3, 4), np.float32)}), path)
    table = load_model(path).table
    assert table.fields == [("MatMul", "", "mm", ["x", "W"], ["y"]), ("Relu", "", "", ["y"], ["z"])]


@pytest.mark.parametrize("weight_in", ["initializer", "constant node"])
def test_a_file_is_costed_node_by_node_whether_or_not_the_skeleton_drops_constant_nodes(tmp_path, weight_in):
    # The analysis reuses loading's node fields only when the skeleton kept every node: a Constant node it turns
    # into an initializer must leave no row, and shift no other row's fields.
    weight = np.ones((3, 4), np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Relu", ["y"], ["z"])]
    if weight_in == "constant node":
        nodes.insert(0, helper.make_node("Constant", [], ["W"], value=onnx.numpy_helper.from_array(weight)))
    path = tmp_path / "m.onnx"
    onnx.save(model(nodes, {"x": [2, 3]}, ["z"], {"W": weight} if weight_in == "initializer" else None), path)
    report = onnxcost.analyze(path)
    assert [(row.op_type, row.inputs, row.outputs) for row in report.nodes] == [
        ("MatMul", ["x", "W"], ["y"]), ("Relu", ["y"], ["z"])]
    matmul, relu = report.nodes
    assert (matmul.macs, matmul.params) == (2 * 4 * 3, 12)  # [2, 3] @ [3, 4]: 8 outputs of 3 products each
    assert relu.flops == 8  # one per element of [2, 4]
