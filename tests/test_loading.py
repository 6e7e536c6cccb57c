"""Loading: external weights are never read for a report; unsafe locations are refused before any read."""

import builtins
import os
from pathlib import Path

import pytest
from onnx import helper

import onnxcost
from onnxcost.errors import ExternalDataError, ModelLoadError
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
