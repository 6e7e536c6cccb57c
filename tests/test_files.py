"""Safe writes: all or nothing, the target untouched on any failure, external data for big models."""

import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnxcost import files
from onnxcost.errors import InvalidModelError, OutputWriteError
from support.builders import model


def small_model(scale=1.0):
    weights = {"W": np.full((64, 64), scale, np.float32)}
    built = model([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], {"x": [1, 64]}, ["y"], weights)
    built.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 64]))
    return built


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "out.onnx"
    path.write_bytes(b"what the user had")
    return path


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("failing_step", ["fsync", "replace"])
def test_interrupted_write_leaves_the_target_byte_identical(target, monkeypatch, failing_step):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt  # the user pressing Ctrl-C mid-write
    monkeypatch.setattr(files.os, failing_step, interrupt)
    with pytest.raises(KeyboardInterrupt):
        files.save_model(small_model(), target)
    assert target.read_bytes() == b"what the user had"
    assert leftovers(target.parent) == []


def test_a_model_failing_the_checker_is_not_written(target):
    broken = small_model()
    broken.graph.node[0].input[1] = "nowhere"
    with pytest.raises(InvalidModelError, match="nothing written"):
        files.save_model(broken, target)
    assert target.read_bytes() == b"what the user had"
    assert leftovers(target.parent) == []


def test_successful_write_replaces_and_keeps_permissions(target):
    os.chmod(target, 0o640)
    files.save_model(small_model(), target)
    assert onnx.load(str(target)).graph.node[0].op_type == "MatMul"
    assert target.stat().st_mode & 0o777 == 0o640


def test_models_over_the_protobuf_limit_get_external_data(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "PROTOBUF_LIMIT", 1000)  # this 16 KB model now counts as "over 2 GB"
    target = tmp_path / "big.onnx"
    files.save_model(small_model(scale=3.0), target)
    assert (tmp_path / "big.onnx.data").stat().st_size == 64 * 64 * 4
    reloaded = onnx.load(str(target))
    assert numpy_helper.to_array(reloaded.graph.initializer[0])[5, 7] == 3.0
    assert leftovers(tmp_path) == []


def test_only_a_regular_file_is_replaced(tmp_path):
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    os.symlink("/dev/null", tmp_path / "device.txt")  # a link: replacing it would not touch /dev/null if this failed
    (tmp_path / "folder.txt").mkdir()
    for name, kind in [("pipe.onnx", "a FIFO"), ("device.txt", "a character device"), ("folder.txt", "a directory")]:
        with pytest.raises(OutputWriteError, match=f"it is {kind}, not a regular file"):
            files.write_atomic(tmp_path / name, "report")
    assert os.path.islink(tmp_path / "device.txt") and os.path.realpath(tmp_path / "device.txt") == "/dev/null"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.txt", "folder.txt", "pipe.onnx"]  # no temporary left


def test_an_input_is_never_replaced_whatever_it_is_called(tmp_path):
    model = tmp_path / "keep.onnx"
    model.write_bytes(b"the model")
    os.link(model, tmp_path / "hard.onnx")
    os.symlink("keep.onnx", tmp_path / "soft.onnx")
    for target in ("keep.onnx", "hard.onnx", "soft.onnx"):
        with pytest.raises(OutputWriteError, match="it is the input"):
            files.write_atomic(tmp_path / target, "a text report", keep=[str(model)])
    assert model.read_bytes() == b"the model"
    files.write_atomic(tmp_path / "report.txt", "a text report", keep=[str(model)])  # any other file is fine
    assert (tmp_path / "report.txt").read_text() == "a text report"
