"""Rewrites that hold a model's weights once: weights left in the file they came from, sessions that map them,
and models written one initializer at a time, all with the bytes and figures of the in-memory way.

The model: x [1, 32, 6, 6] -> Conv 32 -> 64, 3x3, pads 1, bias -> Flatten -> Gemm (W [2304, 16], bias) -> y [1, 16].
Its tensors' raw bytes, by hand: conv weight 64·32·9·4 = 73,728; conv bias 64·4 = 256; W 2304·16·4 = 147,456
(64·6·6 = 2,304 inputs to the Gemm); Gemm bias 16·4 = 64. Tensors of 64 KiB (65,536 bytes) or more are left in
the file: the conv weight and W.
"""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxcost import files, weights_in_file
from onnxcost.errors import InvalidModelError
from onnxcost import passes
from onnxcost.validation import comparison

from support.rewrite_models import finish

CONV_WEIGHT_BYTES = 64 * 32 * 9 * 4  # 73,728
DENSE_WEIGHT_BYTES = 2304 * 16 * 4  # 147,456


def conv_then_dense(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    weights = {
        "conv.weight": rng.standard_normal((64, 32, 3, 3)).astype(np.float32),
        "conv.bias": rng.standard_normal(64).astype(np.float32),
        "fc.weight": rng.standard_normal((2304, 16)).astype(np.float32),
        "fc.bias": rng.standard_normal(16).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["c"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc"),
    ]
    return finish(nodes, {"x": [1, 32, 6, 6]}, ["y"], weights)


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(conv_then_dense().SerializeToString())
    return path


def tensors(model):
    return {t.name: t for t in model.graph.initializer}


def external(tensor) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def test_weights_left_in_the_file_point_at_their_raw_bytes(model_file):
    view = weights_in_file.load_leaving_weights(model_file)
    data = model_file.read_bytes()
    original = tensors(conv_then_dense())
    for name, size in (("conv.weight", CONV_WEIGHT_BYTES), ("fc.weight", DENSE_WEIGHT_BYTES)):
        tensor = tensors(view)[name]
        assert tensor.data_location == TensorProto.EXTERNAL and not tensor.HasField("raw_data")
        where = external(tensor)
        assert where["location"] == "m.onnx" and int(where["length"]) == size
        offset = int(where["offset"])
        assert data[offset:offset + size] == original[name].raw_data
    for name in ("conv.bias", "fc.bias"):  # 256 and 64 bytes: kept
        assert tensors(view)[name].raw_data == original[name].raw_data
    assert view.ByteSize() < 2_000  # the graph and the two biases, not the 221,184 bytes of the two weights


def test_choosing_none_parses_the_same_model(model_file):
    view = weights_in_file.load_leaving_weights(model_file, lambda model: set())
    assert view.SerializeToString() == model_file.read_bytes()


def test_choosing_leaves_only_the_chosen(model_file):
    view = weights_in_file.load_leaving_weights(model_file, lambda model: {"fc.weight"})
    assert tensors(view)["fc.weight"].data_location == TensorProto.EXTERNAL
    assert tensors(view)["conv.weight"].raw_data == tensors(conv_then_dense())["conv.weight"].raw_data


def test_files_it_cannot_read_that_way_are_left_to_the_usual_loading(tmp_path, model_file):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff" * 100)
    assert weights_in_file.load_leaving_weights(garbage) is None
    folder = tmp_path / "ext"
    folder.mkdir()
    onnx.save_model(conv_then_dense(), str(folder / "m.onnx"), save_as_external_data=True, location="m.data",
                    size_threshold=1024)
    assert weights_in_file.load_leaving_weights(folder / "m.onnx") is None  # external data of its own


def test_read_back_restores_the_tensors_as_they_were(model_file):
    view = weights_in_file.load_leaving_weights(model_file)
    weights_in_file.read_weights_back(view, model_file.parent)
    assert view.SerializeToString() == model_file.read_bytes()


def rich_model() -> onnx.ModelProto:
    """Fields on both sides of the graph and of the initializers, a large tensor with a doc_string (field 12, after
    raw_data), a large one in float_data (no raw_data) and a small int64 one."""
    model = conv_then_dense()
    model.doc_string = "a model"
    model.producer_name = "tests"
    helper.set_model_props(model, {"k": "v"})
    model.graph.doc_string = "a graph"
    model.graph.value_info.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 64, 6, 6]))
    tensors(model)["fc.weight"].doc_string = "dense"
    model.graph.initializer.append(helper.make_tensor("typed", TensorProto.FLOAT, [20000], np.ones(20000).tolist()))
    model.graph.initializer.append(numpy_helper.from_array(np.array([1, -2], dtype=np.int64), "shape"))
    return model


def test_streamed_writing_writes_protobufs_bytes(tmp_path, monkeypatch):
    model = rich_model()
    monkeypatch.setattr(files, "STREAMED_BYTES", 0)
    target = files.save_model(model, tmp_path / "out.onnx", full_check=False)
    assert target.read_bytes() == model.SerializeToString()


def test_streamed_writing_still_refuses_a_model_the_checker_refuses(tmp_path, monkeypatch):
    model = conv_then_dense()
    model.graph.node[2].input[0] = "nowhere"  # read before anything writes it
    monkeypatch.setattr(files, "STREAMED_BYTES", 0)
    target = tmp_path / "out.onnx"
    target.write_bytes(b"kept")
    with pytest.raises(InvalidModelError, match="fails onnx.checker, nothing written"):
        files.save_model(model, target)
    assert target.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["out.onnx"]


def as_json(record):
    return json.dumps(record, indent=2, default=lambda value: value.item())


def test_rewrite_of_a_file_maps_the_dense_weights_and_gives_the_in_memory_result(model_file, monkeypatch):
    made = []
    real_session = comparison.session

    def recording(model, what, **options):  # where each tensor was when the session was made
        where = {name: external(t).get("location") for name, t in tensors(model).items()}
        made.append((where, options.get("weights_folder")))
        return real_session(model, what, **options)

    monkeypatch.setattr(comparison, "session", recording)
    # full_check=False, as the CLI calls it: the checker then checks the written file
    from_file = passes.rewrite(str(model_file), passes.Separable(), passes.Rank(1), source="m", full_check=False)
    (original, folder), (rewritten, same_folder) = made
    assert folder == same_folder == model_file.parent
    # The original as onnxruntime sees it: every weight of 64 KiB or more read from the user's file.
    assert {n: where for n, where in original.items() if where} == {"conv.weight": "m.onnx", "fc.weight": "m.onnx"}
    # The rewritten one: the dense weight (no pass reads it) from the same file, the new factors in memory.
    assert {n: where for n, where in rewritten.items() if where} == {"fc.weight": "m.onnx"}

    made.clear()
    in_memory = passes.rewrite(conv_then_dense(), passes.Separable(), passes.Rank(1), source="m", full_check=False)
    assert [folder for _, folder in made] == [None, None]
    assert from_file.model.SerializeToString() == in_memory.model.SerializeToString()
    assert as_json(from_file.to_dict()) == as_json(in_memory.to_dict())
    # rank 1 of a 64x9 block per input channel: 64·36·(32·9 + 64·32) MACs, the Gemm's 2304·16 unchanged
    assert from_file.report.totals.macs == 36 * (32 * 9 + 64 * 32) + 2304 * 16


def test_a_rewrite_checked_in_memory_reads_every_weight(model_file, monkeypatch):
    folders = []
    real_session = comparison.session
    monkeypatch.setattr(comparison, "session",
                        lambda model, what, **options: folders.append(options.get("weights_folder"))
                        or real_session(model, what, **options))
    result = passes.rewrite(str(model_file), passes.Separable(), passes.Rank(1))  # full_check=True by default
    assert folders == [None, None] and result.ok


def test_the_rewriter_keeps_what_passes_read_in_memory(model_file):
    rewriter = passes.Rewriter(str(model_file), passes.Separable(), weights_in_file=True)
    assert rewriter.weights_folder == model_file.parent
    kept = tensors(rewriter.model)
    assert kept["fc.weight"].data_location == TensorProto.EXTERNAL
    assert len(kept["conv.weight"].raw_data) == CONV_WEIGHT_BYTES
    assert passes.Rewriter(str(model_file), passes.Separable()).weights_folder is None


def test_a_written_rewrite_is_the_in_memory_one(model_file, tmp_path):
    from typer.testing import CliRunner

    from onnxcost.cli import commands

    out = tmp_path / "out.onnx"
    result = CliRunner().invoke(commands(), ["rewrite", "--separable", "--rank", "1", str(model_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    in_memory = passes.rewrite(conv_then_dense(), passes.Separable(), passes.Rank(1))
    assert out.read_bytes() == in_memory.model.SerializeToString()


def test_a_dataset_is_compared_one_session_at_a_time(tmp_path, monkeypatch):
    """y = 2x against y = 2x + 0.5 over 3 samples of x [1, 2] (a batch-1 model: 3 runs): ||b - a|| = 0.5·√6,
    ||a|| = 2·||x|| with ||x||² = 1 + 4 + 9 + 16 + 1 + 1 = 32: rel L2 = 0.5·√6 / (2·√32) = √6 / (4·√32)."""
    def affine(name: str, shift: float) -> onnx.ModelProto:
        nodes = [helper.make_node("Mul", ["x", "two"], ["t"], name="mul"),
                 helper.make_node("Add", ["t", "shift"], ["y"], name="add")]
        weights = {"two": np.array(2.0, np.float32), "shift": np.array(shift, np.float32)}
        return finish(nodes, {"x": [1, 2]}, ["y"], weights)

    data = tmp_path / "samples.npz"
    np.savez(data, x=np.array([[1, 2], [3, 4], [1, -1]], np.float32))
    from onnxcost.datasets import open_dataset

    made = []
    real_session = comparison.session
    monkeypatch.setattr(comparison, "session",
                        lambda model, what, **options: made.append(what) or real_session(model, what, **options))
    figures = {}
    for held in (comparison.HELD_BYTES, 1):  # all 3 batches held at once; then one at a time (each over 1 byte)
        monkeypatch.setattr(comparison, "HELD_BYTES", held)
        made.clear()
        reference = affine("a", 0.0)
        result = comparison.compare_models(reference, affine("b", 0.5), open_dataset(data, reference))
        figures[held] = (result.samples, as_json(result.to_dict()))
        assert made == ["the original model", "the rewritten model"] * (1 if held > 1 else 3)
    assert figures[1] == figures[comparison.HELD_BYTES]
    (row,) = result.outputs
    assert result.samples == 3 and row.rel_l2_error == pytest.approx(6 ** 0.5 / (4 * 32 ** 0.5), rel=1e-12)


def test_an_onnxruntime_that_cannot_map_the_weights_gets_them_read_in(model_file, monkeypatch):
    from onnxcost.validation import sessions

    mapped = passes.rewrite(str(model_file), passes.Separable(), passes.Rank(1), full_check=False)
    monkeypatch.setattr(sessions, "MAPS_EXTERNAL_DATA_FROM", (99,))  # as onnxruntime 1.17 would be
    read_in = passes.rewrite(str(model_file), passes.Separable(), passes.Rank(1), full_check=False)
    assert as_json(read_in.to_dict()) == as_json(mapped.to_dict())


def test_validate_maps_the_weights_of_files_and_finds_what_it_finds_in_memory(model_file, tmp_path, monkeypatch):
    import onnxcost

    other = tmp_path / "other"
    other.mkdir()
    candidate = other / "c.onnx"
    candidate.write_bytes(conv_then_dense(seed=1).SerializeToString())
    folders = []
    real_session = comparison.session
    monkeypatch.setattr(comparison, "session",
                        lambda model, what, **options: folders.append(options.get("weights_folder"))
                        or real_session(model, what, **options))
    from_files = onnxcost.validate(str(model_file), str(candidate))
    assert folders == [model_file.parent, other]
    folders.clear()
    in_memory = onnxcost.validate(conv_then_dense(), conv_then_dense(seed=1))
    assert folders == [None, None]
    assert as_json(from_files.comparison.to_dict()) == as_json(in_memory.comparison.to_dict())
    assert from_files.macs == in_memory.macs == {"a": 36 * 64 * 32 * 9 + 2304 * 16, "b": 36 * 64 * 32 * 9 + 2304 * 16}
