"""onnxcost.validate, the library call behind `onnxcost validate`: figures by hand, the record, inputs, errors."""

import json
import math

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxcost
from onnxcost.errors import InputSpecError, InvalidModelError, ModelLoadError
from onnxcost.validation import VALIDATE_SCHEMA, Bounds, InputsError

from support.builders import model

# y = x·W with W = 2·I: y = 2x, and MatMul MACs = ∏output·K = (1·2)·2 = 4.
TWICE = np.array([[2.0, 0.0], [0.0, 2.0]], np.float32)
X = np.array([[1.0, 2.0]], np.float32)


def twice(offset: float | None = None) -> onnx.ModelProto:
    """y = 2x, or y = 2x + offset (an Add after the MatMul: 0 MACs, so both models have 4)."""
    if offset is None:
        return model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": [1, 2]}, ["y"], {"W": TWICE})
    nodes = [helper.make_node("MatMul", ["x", "W"], ["t"]), helper.make_node("Add", ["t", "c"], ["y"])]
    return model(nodes, {"x": [1, 2]}, ["y"], {"W": TWICE, "c": np.array([offset], np.float32)})


@pytest.fixture
def files(tmp_path):
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    onnx.save(twice(), a)
    onnx.save(twice(0.5), b)
    return a, b


def test_figures_by_hand(files):
    a, b = files
    result = onnxcost.validate(str(a), str(b), feeds={"x": X})
    # a = 2x = [2, 4], b = 2x + 0.5 = [2.5, 4.5]: b - a = [0.5, 0.5]
    (row,) = result.comparison.outputs
    assert row.name == "y" and row.shape == [1, 2] and row.dtype == "float32"
    assert row.max_abs_error == 0.5
    assert row.rel_l2_error == pytest.approx(math.sqrt(0.5) / math.sqrt(20))  # ||[.5, .5]|| / ||[2, 4]||
    assert row.cosine == pytest.approx((5 + 18) / (math.sqrt(20) * math.sqrt(6.25 + 20.25)))  # a·b / (||a||·||b||)
    assert row.top1_agreement == 1.0  # a 2-D output counts as [N, classes]: argmax 1 in a and in b
    assert row.within_tolerance is None and row.new_nonfinite == 0
    assert result.ok and result.comparison.input_source == "given" and result.comparison.inputs == {"x": [1, 2]}
    assert result.macs == {"a": 4, "b": 4} and result.timings is None and result.warnings == []
    assert result.reference == str(a) and result.candidate == str(b)


def test_a_bound_fails_the_result_without_raising(files):
    a, b = files
    # relative L2 error: sqrt(0.5) / sqrt(20) = 0.7071 / 4.4721 = 0.158
    result = onnxcost.validate(a, b, feeds={"x": X}, bounds=Bounds(max_rel_error=0.16))
    assert result.ok and result.comparison.failures == []
    result = onnxcost.validate(a, b, feeds={"x": X}, bounds=Bounds(max_rel_error=0.15))
    assert not result.ok
    assert result.comparison.failures == ["output 'y': relative L2 error 0.158 > 0.15"]
    result = onnxcost.validate(a, b, feeds={"x": X}, bounds=Bounds(atol=0.5))  # |b - a| = 0.5 <= 0.5 everywhere
    assert result.ok and result.comparison.outputs[0].within_tolerance is True


def test_the_record(files):
    a, b = files
    record = onnxcost.validate(a, b, feeds={"x": X}).to_dict()
    assert list(record) == ["schema", "reference", "candidate", "comparison"]  # no "bench" unless timed
    assert record["schema"] == VALIDATE_SCHEMA == "onnxcost.validate/1"
    assert list(record["comparison"]) == ["outputs", "inputs", "input_source", "bounds", "failures", "warnings"]
    assert record["comparison"]["bounds"] == {"max_rel_error": None, "atol": None, "rtol": None}
    assert record["comparison"]["outputs"][0]["max_abs_error"] == 0.5
    assert json.loads(json.dumps(record)) == record  # plain JSON types only


def test_bench_times_both_and_keeps_the_macs(files):
    a, b = files
    result = onnxcost.validate(a, b, feeds={"x": X}, bench=True, warmup=0, runs=3)
    assert set(result.timings) == {"a", "b"} and all(len(t.runs) == 3 for t in result.timings.values())
    bench = result.to_dict()["bench"]
    assert list(bench) == ["a", "b"] and list(bench["a"]) == ["median_s", "min_s", "runs_s", "macs"]
    assert bench["a"]["macs"] == bench["b"]["macs"] == 4
    assert bench["b"]["min_s"] == min(bench["b"]["runs_s"]) > 0


def test_models_in_memory_and_inputs_from_a_file(tmp_path):
    data = tmp_path / "x.npz"
    np.savez(data, x=X)
    result = onnxcost.validate(twice(), twice(0.5), feeds=data)
    assert result.reference == "<in-memory reference>" and result.candidate == "<in-memory candidate>"
    assert result.comparison.input_source == str(data) and result.comparison.outputs[0].max_abs_error == 0.5


def test_random_inputs_are_seeded_and_symbolic_dims_named():
    symbolic = model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": ["batch", 2]}, ["y"], {"W": TWICE})
    result = onnxcost.validate(symbolic, symbolic, seed=3)
    assert result.comparison.input_source == "random, seed 3" and result.comparison.inputs == {"x": [1, 2]}
    assert result.warnings == ["dimension(s) 'batch' set to 1 for the validation inputs (give them with --dim/--input)"]
    result = onnxcost.validate(symbolic, symbolic, dims={"batch": 4})
    assert result.comparison.inputs == {"x": [4, 2]} and result.warnings == []
    assert result.macs == {"a": 4 * 2 * 2, "b": 4 * 2 * 2}  # output [4, 2], K = 2


def test_what_cannot_be_validated_raises(files, tmp_path):
    a, b = files
    with pytest.raises(ModelLoadError, match="no such file"):
        onnxcost.validate(a, tmp_path / "none.onnx")
    with pytest.raises(ModelLoadError, match="parse limit") as info:
        onnxcost.validate(a, b, max_file_bytes=10)
    assert info.value.parameter == "max_file_bytes" and "max_file_bytes" in str(info.value)
    with pytest.raises(InputSpecError, match="inputs names 'z', but the model's inputs are 'x'") as info:
        onnxcost.validate(a, b, inputs={"z": [1]})
    assert info.value.message_for({"inputs": "--input"}) == "--input names 'z', but the model's inputs are 'x'"
    with pytest.raises(InputsError, match="the models take different inputs"):
        onnxcost.validate(a, model([helper.make_node("Relu", ["z"], ["y"])], {"z": [1, 2]}, ["y"]))
    cycle = model([helper.make_node("Relu", ["t"], ["y"]), helper.make_node("Relu", ["y"], ["t"])], {"x": [1]}, ["y"])
    with pytest.raises(InvalidModelError, match="cycle"):  # refused by the analysis, before onnxruntime sees it
        onnxcost.validate(cycle, cycle)
