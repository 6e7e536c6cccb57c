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


# --- many samples ---------------------------------------------------------------------------------

SAMPLES = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0], [-1.0, 1.0], [2.0, -2.0]], np.float32)  # 5 samples of x


def test_many_samples_of_a_batch_1_model_run_one_at_a_time(tmp_path):
    data = tmp_path / "many.npz"
    np.savez(data, x=SAMPLES)
    steps = []
    result = onnxcost.validate(twice(), twice(0.5), feeds=data, progress=lambda what, done, total: steps.append((what, done, total)))
    comparison = result.comparison
    assert comparison.samples == 5 and comparison.inputs == {"x": [1, 2]}  # the model's batch is fixed at 1
    assert [s for s in steps if s[0].startswith("validating: batch")][-1] == ("validating: batch 5/5", 4, 5)
    (row,) = comparison.outputs
    # a = 2x, b = 2x + 0.5 over all 10 elements: ||b - a|| = 0.5·√10; ||a|| = 2·||x||, ||x||² = 1+4+9+16+0+0+1+1+4+4 = 40
    assert row.rel_l2_error == pytest.approx(0.5 * 10 ** 0.5 / (2 * 40 ** 0.5))  # = 0.125
    assert row.max_abs_error == 0.5
    # cosine: a·b = Σ 2x(2x + 0.5) = 4·40 + Σx = 160 + 10 = 170; ||b||² = Σ(2x + 0.5)² = 160 + 2·10 + 2.5 = 182.5
    assert row.cosine == pytest.approx(170 / (160 ** 0.5 * 182.5 ** 0.5))
    # [1, 2] is [N, classes]: argmax of 2x and 2x + 0.5 is the same in every row, the top-1 over all samples
    assert row.top1_agreement == 1.0 and row.agreement == {"task": "classify", "samples": 5, "top1": 1.0, "top5": None}
    assert result.notes == []  # real inputs: no word about random ones


def test_a_fixed_batch_leaves_out_the_samples_past_the_last_full_batch(tmp_path):
    pairs = model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": [2, 2]}, ["y"], {"W": TWICE})
    for name, array in {"x": SAMPLES}.items():
        np.save(tmp_path / f"{name}.npy", array)
    result = onnxcost.validate(pairs, pairs, feeds=tmp_path)
    assert result.comparison.samples == 4 and result.comparison.inputs == {"x": [2, 2]}  # 5 = 2 + 2 + 1 left out
    assert result.comparison.warnings == ["1 sample(s) left out: the model's batch is fixed at 2"]
    with pytest.raises(InputsError, match="batch_size 3: the model's batch is fixed at 2"):
        onnxcost.validate(pairs, pairs, feeds=tmp_path, batch_size=3)


def test_random_inputs_say_they_show_nothing_of_a_trained_model():
    result = onnxcost.validate(twice(), twice(0.5))
    assert result.notes == ["random inputs: these errors do not show what a trained model loses; give --inputs with real data"]
    assert "notes" not in result.to_dict()


def test_bench_macs_are_those_of_the_shapes_run(tmp_path):
    symbolic = model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": ["batch", 2]}, ["y"], {"W": TWICE})
    data = tmp_path / "five.npz"
    np.savez(data, x=SAMPLES)
    result = onnxcost.validate(symbolic, symbolic, feeds=data, bench=True, warmup=0, runs=1)
    assert result.comparison.inputs == {"x": [5, 2]}  # 5 samples, a batch of up to 8
    expected = onnxcost.analyze(symbolic, inputs={"x": [5, 2]}).totals.macs
    assert result.to_dict()["bench"]["a"]["macs"] == result.macs["b"] == expected == 5 * 2 * 2  # output 5x2, K = 2
    result = onnxcost.validate(symbolic, symbolic, feeds=data, batch_size=2, bench=True, warmup=0, runs=1)
    assert result.macs == {"a": 2 * 2 * 2, "b": 2 * 2 * 2}  # timed on the first batch of 2


def test_bench_macs_of_a_model_with_symbolic_height_and_width(tmp_path):
    # The report's own guess for h and w is 1 (216 MACs); the runs are 32x48: 32·48 outputs · 8 channels · 3·3·3 = 331776.
    conv = model([helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])], {"x": [1, 3, "h", "w"]}, ["y"],
                 {"W": np.ones((8, 3, 3, 3), np.float32)})
    np.savez(tmp_path / "pages.npz", x=np.zeros((2, 3, 32, 48), np.float32))
    result = onnxcost.validate(conv, conv, feeds=tmp_path / "pages.npz", bench=True, warmup=0, runs=1)
    assert result.comparison.inputs == {"x": [1, 3, 32, 48]} and result.comparison.samples == 2
    assert result.macs["a"] == result.macs["b"] == onnxcost.analyze(conv, inputs={"x": [1, 3, 32, 48]}).totals.macs == 331776
