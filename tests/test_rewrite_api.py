"""``passes.rewrite``, the one call the CLI makes: dry runs, the JSON record, validation inputs, progress.

The model is one conv, x [1, 8, 10, 10] float32 -> Conv 8 -> 16, 3x3, pads 1, bias -> y [1, 16, 10, 10]
(100 output positions). By hand:

- dense: MACs 100·16·8·9 = 115,200; params 16·8·9 + 16 = 1,168; memory traffic: reads x 8·100·4 = 3,200 B,
  W 16·8·9·4 = 4,608 B, b 16·4 = 64 B, writes y 16·100·4 = 6,400 B: 14,272 B.
- separable, rank 1: MACs 100·(8·1·9 + 16·8·1) = 100·200 = 20,000; params 8·9 + 16·8 + 16 = 216;
  traffic: dw reads x 3,200 + 8·9·4 = 288, writes 8·100·4 = 3,200 (6,688 B); pw reads 3,200 + 16·8·4 = 512
  + 64, writes 6,400 (10,176 B): 16,864 B.
"""

import json

import numpy as np
import pytest
from onnx import helper

import onnxcost
from onnxcost import passes

from support.rewrite_models import finish, resnet_block, single_conv


def one_conv():
    return single_conv(8, 16, [3, 3], [10, 10], pads=[1] * 4)


def as_json(record):
    """As the CLI writes it: numpy scalars as Python numbers."""
    return json.dumps(record, indent=2, default=lambda value: value.item()) + "\n"


def test_dry_run_returns_the_plan_and_no_model():
    result = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), dry_run=True)
    assert result.dry_run and result.model is None and result.report is None and result.comparison is None
    assert result.ok
    (layer,) = result.plan.layers
    assert layer.rewrite and layer.rank == 1
    assert (result.plan.macs_before, result.plan.macs_after) == (115_200, 20_000)
    assert (result.plan.params_before, result.plan.params_after) == (1_168, 216)
    record = result.to_dict()
    assert record["schema"] == passes.REWRITE_SCHEMA == "onnxcost.rewrite/1"
    assert record["dry_run"] is True and record["report_after"] is None and record["validation"] is None
    assert record["plan"]["layers"][0]["nodes"] == []  # nothing was emitted
    with pytest.raises(ValueError, match="dry run"):
        result.save("never.onnx")


def test_a_dry_run_compares_the_rivals_unless_told_not_to():
    """conv_a of the block (16 -> 32, 3x3, 8x8 out) at G = 2, rank 2: 64·2·2·(16·9 + 32) = 45,056 MACs; the
    separable form at rank 1 costs 64·(16·9 + 32·16) = 41,984 and fits."""
    result = passes.rewrite(resnet_block(), passes.Grouped(2), passes.Rank(2), emission="shuffle", dry_run=True)
    a = next(layer for layer in result.plan.layers if layer.name == "conv_a")
    assert a.macs_after == 45_056
    separable = next(x for x in a.alternatives if x.structure == "separable")
    assert separable.rank == 1 and separable.macs == 41_984
    quiet = passes.rewrite(resnet_block(), passes.Grouped(2), passes.Rank(2), emission="shuffle", dry_run=True,
                           compare=False)
    assert all(layer.alternatives == [] for layer in quiet.plan.layers)


def test_the_record_of_a_rewrite_has_the_hand_counted_figures():
    result = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1))
    record = result.to_dict()
    assert list(record) == ["schema", "dry_run", "plan", "report_after", "validation"]
    assert record["schema"] == "onnxcost.rewrite/1" and record["dry_run"] is False
    assert (record["plan"]["macs_before"], record["plan"]["params_before"], record["plan"]["traffic_before"]) == \
        (115_200, 1_168, 14_272)
    assert record["report_after"] == {"macs": 20_000, "params": 216, "memory_traffic_bytes": 16_864}
    assert record["plan"]["layers"][0]["nodes"] == ["conv/dw", "conv/pw"]
    validation = record["validation"]
    assert validation["input_source"] == "random, seed 0" and validation["inputs"] == {"x": [1, 8, 10, 10]}
    assert validation["failures"] == [] and validation["outputs"][0]["name"] == "y"
    # What the CLI prints: plain JSON that reads back to the same record.
    assert json.loads(as_json(record))["report_after"] == record["report_after"]


def test_feeds_from_an_npz_path_are_used(tmp_path):
    x = np.random.default_rng(7).standard_normal((1, 8, 10, 10)).astype(np.float32)
    path = tmp_path / "inputs.npz"
    np.savez(path, x=x)
    from_file = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), feeds=path)
    assert from_file.comparison.input_source == str(path)
    assert from_file.to_dict()["validation"]["input_source"] == str(path)
    # The same arrays given in memory compare the same; the default random inputs do not.
    given = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), feeds={"x": x})
    assert given.comparison.input_source == "given"
    assert given.comparison.outputs[0].rel_l2_error == from_file.comparison.outputs[0].rel_l2_error
    drawn = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1))
    assert drawn.comparison.outputs[0].rel_l2_error != from_file.comparison.outputs[0].rel_l2_error


def test_warnings_about_the_inputs_are_kept_apart_from_the_comparison():
    w = {"conv.weight": np.random.default_rng(0).standard_normal((16, 8, 3, 3)).astype(np.float32)}
    node = helper.make_node("Conv", ["x", "conv.weight"], ["y"], name="conv", pads=[1] * 4)
    model = finish([node], {"x": ["n", 8, 10, 10]}, ["y"], w)
    result = passes.rewrite(model, passes.Separable(), passes.Rank(1))
    # Apart, so that the JSON record's validation is the comparison alone (as the CLI has always printed it).
    assert result.input_warnings == ["dimension(s) 'n' set to 1 for the validation inputs (give them with --dim/--input)"]
    assert result.comparison.warnings == [] and result.comparison.inputs == {"x": [1, 8, 10, 10]}


def test_progress_reports_costing_then_rewriting_then_validating():
    heard = []
    passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), progress=lambda what, done, total: heard.append(what))
    assert heard[0] == "costing the model"
    rewriting = heard.index("rewriting and costing the rewritten model")
    assert heard[1:rewriting] == ["decomposing conv", "decomposing: done", "measuring: done"]  # the planning
    assert all(what.startswith("validating") for what in heard[rewriting + 1:]) and heard[-1] == "validating: done"


def test_source_names_the_model_and_max_file_bytes_limits_a_path(tmp_path):
    result = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), source="sample:one-conv", validate=False)
    assert result.report.model.source == "sample:one-conv" and result.comparison is None
    path = tmp_path / "conv.onnx"
    path.write_bytes(one_conv().SerializeToString())
    assert passes.rewrite(path, passes.Separable(), passes.Rank(1), dry_run=True).plan.macs_after == 20_000
    with pytest.raises(onnxcost.OnnxcostError, match="parse limit") as info:
        passes.rewrite(path, passes.Separable(), passes.Rank(1), max_file_bytes=100)
    assert info.value.exit_code == 2


def test_a_failed_validation_is_data_without_check():
    """Rank 1 keeps a fraction of random weights: far past a relative L2 error of 1e-6."""
    bounds = onnxcost.validation.Bounds(max_rel_error=1e-6)
    result = passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), bounds=bounds, check=False)
    assert not result.ok and result.to_dict()["validation"]["failures"]
    with pytest.raises(passes.RewriteValidationFailed) as info:
        passes.rewrite(one_conv(), passes.Separable(), passes.Rank(1), bounds=bounds)
    assert info.value.result.comparison.failures == result.comparison.failures
