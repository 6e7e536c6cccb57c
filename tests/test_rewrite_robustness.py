"""Hostile input and failing writes for the commands that rewrite and compare models."""

import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

from support.bad_inputs import CORPUS
from support.builders import model


def run(*args):
    return subprocess.run([sys.executable, "-m", "onnxcost", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["rewrite", "validate"])
@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_input(command, name, tmp_path):
    case, words = CORPUS[name]
    folder = tmp_path / "model"
    folder.mkdir()
    path = str(case(folder))
    if command == "rewrite":
        result = run("rewrite", "--separable", "--exact", path, "-o", str(tmp_path / "out.onnx"))
    else:
        result = run("validate", path, path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert not (tmp_path / "out.onnx").exists()


@pytest.fixture
def conv_model(tmp_path):
    weight = np.random.default_rng(0).standard_normal((8, 6, 3, 3)).astype(np.float32)
    built = model([helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1], name="conv")],
                  {"x": [1, 6, 8, 8]}, ["y"], {"W": weight})
    built.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", 1, [1, 8, 8, 8]))
    path = tmp_path / "conv.onnx"
    path.write_bytes(built.SerializeToString())
    return path


def test_rewrite_interrupted_mid_write_leaves_the_target_byte_identical(conv_model, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from onnxcost import files
    from onnxcost.cli import commands

    target = tmp_path / "out.onnx"
    target.write_bytes(b"the user's earlier result")

    def disk_full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", disk_full)
    result = CliRunner().invoke(commands(), ["rewrite", "--separable", "--exact", str(conv_model), "-o", str(target)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot write {target}: No space left on device; it is left as it was"]
    assert target.read_bytes() == b"the user's earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv.onnx", "out.onnx"]


def test_rewrite_killed_before_the_rename_leaves_the_input_intact(conv_model, monkeypatch):
    from onnxcost import files, passes

    before = conv_model.read_bytes()
    result = passes.separable(str(conv_model), passes.Exact())

    def killed(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        result.save(conv_model)  # even over the input itself
    assert conv_model.read_bytes() == before
    assert [p.name for p in conv_model.parent.iterdir()] == ["conv.onnx"]
