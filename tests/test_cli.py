"""The command line end to end: output formats, files, and one clear line with exit code 2 on bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

from support.builders import model, zeros


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "onnxcost", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"], name="relu")]
    path = tmp_path_factory.mktemp("m") / "small.onnx"
    path.write_bytes(model(nodes, {"x": ["batch", 2, 5, 5]}, ["y"], {"W": zeros(3, 2, 3, 3)}).SerializeToString())
    return path


def test_json_to_stdout_pipes(small):
    result = run("report", str(small), "-f", "json", "--dim", "batch=2")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["macs"] == 2 * 3 * 3 * 3 * (2 * 3 * 3)  # N·Cout·3·3 outputs, 18 MACs each
    assert result.stderr == ""


def test_warning_names_the_missing_dimension(small):
    result = run("report", str(small), "-f", "csv")
    assert result.returncode == 0
    assert "warning:" in result.stderr and "--dim batch=N" in result.stderr


def test_output_file_is_written(small, tmp_path):
    target = tmp_path / "cost.md"
    result = run("report", str(small), "-f", "md", "-o", str(target))
    assert result.returncode == 0 and target.read_text().startswith("# onnxcost report")


@pytest.mark.parametrize("args, message", [
    (["report", "does-not-exist.onnx"], "no such file"),
    (["report", "."], "is a directory"),
    (["report", "--sample", "nope"], "no sample named"),
    (["report", "SMALL", "--input", "x"], "expected NAME:DIMS"),
    (["report", "SMALL", "--dim", "batch"], "expected SYMBOL=INTEGER"),
    (["report", "SMALL", "--input", "y:1x2"], "the model's inputs are"),
    (["report", "SMALL", "--max-file-size", "10"], "parse limit"),
    (["report", "SMALL", "--bogus"], "No such option: --bogus"),
    (["report", "SMALL", "--top", "zero"], "Invalid value for '--top'"),
    (["rewrite", "--grouped", "x", "SMALL"], "Invalid value for '--grouped'"),
])
def test_bad_input_gets_one_line_and_exit_2(small, args, message):
    result = run(*[str(small) if a == "SMALL" else a for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_not_onnx_and_truncated(tmp_path, small):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(small.read_bytes()[:-40])
    for path in (junk, cut):
        result = run("report", str(path))
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_debug_shows_the_traceback():
    result = run("report", "does-not-exist.onnx", "--debug")
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_sample_list():
    result = run("sample", "--list")
    assert "vgg16" in result.stdout.split()
