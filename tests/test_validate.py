"""onnxruntime comparison and timing: figures against hand computations, inputs, bounds, the validate command."""

import json
import re

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from onnxcost import datasets
from onnxcost.cli import commands
from onnxcost.datasets import DatasetError, open_dataset
from onnxcost.validation import (
    Bounds, InputsError, compare_arrays, compare_models, input_specs, random_inputs, time_models,
)

from support import bad_inputs
from support.rewrite_models import finish, single_conv

app = commands()

runner = CliRunner()


# --- figures --------------------------------------------------------------------------------------

def test_figures_by_hand():
    a = np.array([3.0, 4.0], np.float32)  # ||a|| = 5
    b = np.array([3.0, 4.5], np.float32)
    row, failures = compare_arrays("y", a, b, Bounds())
    assert row.max_abs_error == 0.5
    assert row.rel_l2_error == pytest.approx(0.5 / 5)
    assert row.cosine == pytest.approx((9 + 18) / (5 * np.sqrt(9 + 20.25)))
    assert row.top1_agreement is None and row.within_tolerance is None
    assert failures == []


def test_top1_agreement_of_a_classifier_output():
    a = np.array([[1.0, 2.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 1.0], [5.0, 4.0, 0.0]])
    b = np.array([[2.0, 1.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 2.0], [4.0, 5.0, 0.0]])
    row, _ = compare_arrays("logits", a, b, Bounds())
    assert row.top1_agreement == 0.5  # rows 1 and 2 agree, rows 0 and 3 do not


def test_bounds():
    a = np.array([1.0, 2.0, 4.0])
    b = np.array([1.0, 2.0, 4.3])  # rel L2 = 0.3 / sqrt(21) = 0.0655
    _, failures = compare_arrays("y", a, b, Bounds(max_rel_error=0.07))
    assert failures == []
    _, failures = compare_arrays("y", a, b, Bounds(max_rel_error=0.06))
    assert failures == ["output 'y': relative L2 error 0.0655 > 0.06"]
    row, failures = compare_arrays("y", a, b, Bounds(atol=0.1, rtol=0.05))  # 0.3 <= 0.1 + 0.05·4 = 0.3
    assert row.within_tolerance and failures == []
    row, failures = compare_arrays("y", a, b, Bounds(atol=0.05, rtol=0.05))
    assert not row.within_tolerance and len(failures) == 1


def test_outputs_turning_non_finite_always_fail():
    _, failures = compare_arrays("y", np.ones(3), np.array([1.0, np.nan, np.inf]), Bounds())
    assert failures == ["output 'y': 2 value(s) non-finite where the reference is finite"]


def test_zero_reference():
    row, _ = compare_arrays("y", np.zeros(2), np.zeros(2), Bounds(max_rel_error=0))
    assert row.rel_l2_error == 0 and row.cosine == 1
    row, failures = compare_arrays("y", np.zeros(2), np.ones(2), Bounds(max_rel_error=1))
    assert row.rel_l2_error == float("inf") and failures


def test_shape_mismatch_fails():
    _, failures = compare_arrays("y", np.ones((2, 3)), np.ones((3, 2)), Bounds())
    assert "shape [3, 2] differs" in failures[0]


# --- inputs ---------------------------------------------------------------------------------------

def symbolic_model():
    node = onnx.helper.make_node("Relu", ["x"], ["y"], name="relu")
    node2 = onnx.helper.make_node("Cast", ["ids"], ["z"], name="cast", to=onnx.TensorProto.FLOAT)
    graph = onnx.helper.make_graph(
        [node, node2], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 3, "side"]),
         onnx.helper.make_tensor_value_info("ids", onnx.TensorProto.INT64, [2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 3, "side"]),
         onnx.helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [2])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_random_inputs_are_seeded_and_typed():
    model = symbolic_model()
    feeds, warnings = random_inputs(model, seed=3, dims={"batch": 2})
    assert feeds["x"].shape == (2, 3, 1) and feeds["x"].dtype == np.float32
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].min() >= 0 and feeds["ids"].max() < 16
    assert warnings == ["dimension(s) 'side' set to 1 for the validation inputs (give them with --dim/--input)"]
    again, _ = random_inputs(model, seed=3, dims={"batch": 2})
    assert np.array_equal(again["x"], feeds["x"])
    other, _ = random_inputs(model, seed=4, dims={"batch": 2})
    assert not np.array_equal(other["x"], feeds["x"])
    feeds, warnings = random_inputs(model, shapes={"x": [1, 3, 5]})
    assert feeds["x"].shape == (1, 3, 5) and warnings == []


def relu_model(shape) -> onnx.ModelProto:
    helper = onnx.helper
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_an_npz_bomb_is_refused_before_any_array_is_read(tmp_path, monkeypatch):
    path = bad_inputs.npz_bomb(tmp_path)  # 2 MB: 'x' and 'junk', 2 GiB of compressed zeros
    assert path.stat().st_size < 3 * 2**20
    monkeypatch.setattr(datasets, "_read_rows", lambda *args, **kwargs: pytest.fail("data read"))
    with pytest.raises(DatasetError, match=re.escape("array(s) junk match no input of the model")):
        open_dataset(path, input_specs(relu_model([1, 4])))


@pytest.mark.parametrize("case, message", [
    (bad_inputs.npy_not_npz, "a single .npy file: give the folder of <input name>.npy files, or an .npz"),
    (bad_inputs.corrupt_zip, "not a readable .npz file"),
    (bad_inputs.crc_error, "Bad CRC-32 for file 'x.npy'"),
    (bad_inputs.member_not_an_array, "member 'notes.txt' is not an array (.npy)"),
    (bad_inputs.fifo_inputs, "not a regular file"),
])
def test_broken_npz_files_are_one_dataset_error(tmp_path, case, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        list(open_dataset(case(tmp_path), input_specs(relu_model([1, 4]))).batches(1))


def test_random_inputs_past_the_size_limit_are_refused_before_drawing():
    # 2^40 x 4 float32: 2^40 · 4 · 4 bytes = 2^44 = 16 TiB
    with pytest.raises(InputsError, match=re.escape("the random validation arrays would take 16.0 TiB, over the 1.0 GiB")):
        random_inputs(relu_model([2**40, 4]))
    # 1x8x16384x4096 float32: 2^29 elements · 4 bytes = 2 GiB
    with pytest.raises(InputsError, match=re.escape("would take 2.0 GiB")):
        random_inputs(relu_model([1, 8, 16384, 4096]))


def test_onnxruntime_logs_nothing_and_sends_no_telemetry(monkeypatch):
    import onnxruntime as ort

    from onnxcost.validation import session

    calls = []
    monkeypatch.setattr(ort, "disable_telemetry_events", lambda: calls.append("telemetry off"), raising=False)
    made = session(relu_model([1, 4]))
    assert calls == ["telemetry off"]
    assert made.get_session_options().log_severity_level == 4  # fatal only: errors come back as exceptions


# --- models ----------------------------------------------------------------------------------------

def test_compare_models_in_onnxruntime():
    a = single_conv(4, 8, [3, 3], [6, 6], seed=0)
    b = single_conv(4, 8, [3, 3], [6, 6], seed=0)
    feeds, _ = random_inputs(a)
    comparison = compare_models(a, b, feeds, Bounds(max_rel_error=0))
    assert comparison.ok and comparison.outputs[0].max_abs_error == 0 and comparison.outputs[0].cosine == pytest.approx(1)
    c = single_conv(4, 8, [3, 3], [6, 6], seed=1)
    comparison = compare_models(a, c, feeds, Bounds(max_rel_error=0.1))
    assert not comparison.ok and comparison.worst_rel_l2_error > 0.1


def test_time_models_interleaves_runs():
    model = single_conv(4, 8, [3, 3], [6, 6])
    feeds, _ = random_inputs(model)
    timings = time_models({"a": model, "b": model}, feeds, warmup=1, runs=5)
    assert set(timings) == {"a", "b"} and all(len(t.runs) == 5 and t.median > 0 for t in timings.values())


# --- the command ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("validate")
    a, b, c = folder / "a.onnx", folder / "b.onnx", folder / "c.onnx"
    onnx.save(single_conv(4, 8, [3, 3], [6, 6], seed=0), a)
    onnx.save(single_conv(4, 8, [3, 3], [6, 6], seed=0), b)
    onnx.save(single_conv(4, 8, [3, 3], [6, 6], seed=1), c)
    return a, b, c


def test_validate_same_model(files):
    a, b, _ = files
    result = runner.invoke(app, ["validate", str(a), str(b), "--max-rel-error", "0"])
    assert result.exit_code == 0, result.output
    assert "validation passed" in result.stdout and "rel. L2 error" in result.stdout


def test_validate_fails_past_the_bound(files):
    a, _, c = files
    result = runner.invoke(app, ["validate", str(a), str(c), "--max-rel-error", "0.01"])
    assert result.exit_code == 1
    assert "validation FAILED" in result.stdout
    assert "error: output 'y': relative L2 error" in result.stderr
    result = runner.invoke(app, ["validate", str(a), str(c)])  # no bound: reported, not failed
    assert result.exit_code == 0


def test_validate_bench_shows_latency_next_to_macs(files):
    a, b, _ = files
    result = runner.invoke(app, ["validate", str(a), str(b), "--bench", "--warmup", "1", "--runs", "3"])
    assert result.exit_code == 0, result.output
    assert "Latency (onnxruntime CPU, 3 runs each, interleaved)" in result.stdout
    assert "b / a" in result.stdout and "1.000x" in result.stdout  # same MACs
    result = runner.invoke(app, ["validate", str(a), str(b), "--bench", "--runs", "2", "--warmup", "0", "-f", "json"])
    payload = json.loads(result.stdout)
    assert payload["comparison"]["outputs"][0]["max_abs_error"] == 0
    assert payload["bench"]["a"]["macs"] == 4 * 4 * 8 * 4 * 9  # 3x3 on 6x6 without padding: 4x4 outputs
    assert len(payload["bench"]["b"]["runs_s"]) == 2


def test_validate_bad_input_is_one_line_exit_2(files, tmp_path):
    a, _, _ = files
    for args, message in [
        (["validate", str(a), str(tmp_path / "none.onnx")], "no such file"),
        (["validate", str(a), str(a), "--inputs", str(tmp_path / "none.npz")], "no such file"),
        (["validate", str(a), str(a), "--max-rel-error", "-1"], "--max-rel-error must be >= 0"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1


def test_validate_models_with_different_inputs(files, tmp_path):
    a, _, _ = files
    other = tmp_path / "other.onnx"
    onnx.save(finish([onnx.helper.make_node("Relu", ["z"], ["y"])], {"z": [2]}, ["y"], {}), other)
    result = runner.invoke(app, ["validate", str(a), str(other)])
    assert result.exit_code == 2 and "different inputs" in result.stderr


# --- real inputs and task-level agreement ---------------------------------------------------------

def mean_map(offset: float):
    """N x 3 x 4 x 4 images -> N x 1 x 4 x 4: the mean of the channels, plus ``offset``."""
    nodes = [onnx.helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
             onnx.helper.make_node("Add", ["m", "c"], ["y"])]
    return finish(nodes, {"x": [1, 3, 4, 4]}, ["y"], {"c": np.array([offset], np.float32)})


def test_validate_a_folder_of_images_with_mask_iou(tmp_path):
    from PIL import Image

    a, b, pages = tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path / "pages"
    onnx.save(mean_map(0.0), a)
    onnx.save(mean_map(0.1), b)
    pages.mkdir()
    Image.new("RGB", (4, 4), (255, 255, 255)).save(pages / "1.png")  # 1.0 in a, 1.1 in b: on in both
    Image.new("RGB", (4, 4), (115, 115, 115)).save(pages / "2.png")  # 115/255 = 0.451 in a (off), 0.551 in b (on)
    result = runner.invoke(app, ["validate", str(a), str(b), "--inputs", str(pages), "--preprocess", "mean=0 std=1",
                                 "--task", "mask", "--mask-threshold", "0.5", "-f", "json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)["comparison"]["outputs"][0]
    # intersection: the 16 pixels of image 1; union: those and the 16 of image 2 -> 16 / 32
    assert output["agreement"] == {"task": "mask", "samples": 2, "threshold": 0.5, "iou": 0.5, "intersection": 16,
                                   "union": 32}
    assert "random inputs" not in result.stderr
    table = runner.invoke(app, ["validate", str(a), str(b), "--inputs", str(pages), "--task", "mask"])
    assert "(2 samples)" in table.stdout and "mask IoU 0.5000 (> 0.5)" in table.stdout


def test_validate_on_random_inputs_says_so_once(files):
    a, b, _ = files
    result = runner.invoke(app, ["validate", str(a), str(b)])
    assert result.exit_code == 0, result.output
    note = "warning: random inputs: these errors do not show what a trained model loses; give --inputs with real data"
    assert result.stderr.count(note) == 1


def test_bad_real_input_options_are_one_line_exit_2(files, tmp_path):
    a, _, _ = files
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 6, 6), np.float32))
    for args, message in [
        (["--inputs", str(tmp_path), "--preprocess", "size=big"], "--preprocess: cannot read 'size=big'"),
        (["--inputs", str(tmp_path), "--blank", "b"], "--blank must be a class index or 'none'"),
        (["--inputs", str(tmp_path / "x.npy")], "a single .npy file: give the folder of <input name>.npy files"),
    ]:
        result = runner.invoke(app, ["validate", str(a), str(a), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1
