"""Saved reports (``onnxcost report -f json``) read back as Reports: the baselines of check and diff."""

import json
import subprocess
import sys

import pytest
from onnx import TensorProto, helper

import onnxcost
from onnxcost.render.as_json import render_json
from onnxcost.saved import SavedReportError, load_report, report_from_dict
from support.builders import model, one_node, zeros


def test_round_trip_on_a_sample_through_json_text():
    from onnxcost.samples import build

    report = onnxcost.analyze(build("squeezenet1_1"))
    saved = json.loads(render_json(report))  # what `onnxcost report -f json` writes
    assert report_from_dict(saved).to_dict() == report.to_dict()
    assert report_from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_round_trip_keeps_subgraphs_uncosted_nodes_warnings_and_nulls():
    # An If (a scope, a branch with repeat 0), an op of an unknown domain (costed false, shape null) and an
    # unnamed dimension (a warning).
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], name="then_relu")], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], name="else_neg")], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("If", ["c"], ["b"], then_branch=then_g, else_branch=else_g, name="if"),
             helper.make_node("Mystery", ["b"], ["y"], name="mystery", domain="vendor")]
    built = model(nodes, {"x": ["batch", 4], "c": []}, ["y"], extra_opsets={"vendor": 1})
    built.graph.input[1].type.tensor_type.elem_type = TensorProto.BOOL
    data = onnxcost.analyze(built).to_dict()
    rows = {row["name"]: row for row in data["nodes"]}
    assert rows["mystery"]["costed"] is False and rows["else_neg"]["scope"] == "if/else_branch"
    # warnings: batch assumed 1, y's shape unknown, inference stopped at mystery, the If's branch, no cost rule,
    # and the nodes without a formula in batch (the If's output has no shape at the probes either)
    assert (rows["then_relu"]["repeat"], rows["else_neg"]["repeat"]) == (1, 0) and len(data["warnings"]) == 6
    assert report_from_dict(json.loads(json.dumps(data))).to_dict() == data
    # What the schema allows to be null (an unknown rank, a graph without nodes) survives too.
    data["model"]["outputs"][0]["shape"] = None
    data["nodes"][3]["output_shapes"] = [None]
    data["peak"].update(node=None, node_index=None)
    assert report_from_dict(data).to_dict() == data


def test_a_saved_report_is_read_and_a_model_is_analysed(tmp_path):
    # MatMul [1, 1000] x [1000, 10]: 1·1000·10 = 10,000 MACs, 10,000 parameters.
    path = tmp_path / "m.onnx"
    path.write_bytes(one_node("MatMul", {"x": [1, 1000]}, {"W": zeros(1000, 10)}).SerializeToString())
    saved = tmp_path / "m.json"
    saved.write_text(render_json(onnxcost.analyze(path)))
    no_suffix = tmp_path / "baseline"  # recognised by its first byte, '{'
    no_suffix.write_text(saved.read_text())
    for source in (path, saved, str(saved), no_suffix):
        report = load_report(source)
        assert (report.totals.macs, report.totals.params) == (10_000, 10_000)
    assert load_report(saved).model.source == str(path)  # the model the report was made from


def test_dims_apply_to_models_and_not_to_saved_reports(tmp_path):
    # MatMul [batch, 1000] x [1000, 10]: batch·10,000 MACs.
    path = tmp_path / "m.onnx"
    path.write_bytes(one_node("MatMul", {"x": ["batch", 1000]}, {"W": zeros(1000, 10)}).SerializeToString())
    saved = tmp_path / "m.json"
    saved.write_text(render_json(onnxcost.analyze(path, dims={"batch": 2})))
    assert load_report(path, dims={"batch": 4}).totals.macs == 40_000
    assert load_report(saved, dims={"batch": 4}).totals.macs == 20_000  # the shapes it was saved with


@pytest.mark.parametrize("text, message", [
    ("{not json", "broken JSON"),
    ("[1, 2]", "expected a JSON object, found a list"),
    ('{"schema": "onnxcost.check/1"}', "expected schema 'onnxcost.report/1'"),
    ('{"totals": {}}', "found no 'schema' key"),
])
def test_not_a_saved_report_is_refused_in_one_line(tmp_path, text, message):
    path = tmp_path / "base.json"
    path.write_text(text)
    with pytest.raises(SavedReportError, match=message) as caught:
        load_report(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["totals"].pop("macs"), "totals.macs is missing"),  # not 0 MACs: Totals has that default
    (lambda d: d["nodes"][0].pop("costed"), r"nodes\[0\].costed is missing"),
    (lambda d: d["totals"].update(macs="15G"), "totals.macs should be an integer, found a string"),
    (lambda d: d["totals"].update(macs=True), "totals.macs should be an integer, found a boolean"),
    (lambda d: d["nodes"][0].update(output_shapes=[["1"]]), r"nodes\[0\].output_shapes\[0\]\[0\] should be an integer"),
    (lambda d: d["model"]["inputs"][0].pop("dtype"), r"model.inputs\[0\].dtype is missing"),
    (lambda d: d.update(by_op_type=[]), "by_op_type should be an object, found a list"),
])
def test_a_damaged_field_is_named(edit, message):
    data = onnxcost.analyze(one_node("MatMul", {"x": [1, 4]}, {"W": zeros(4, 2)})).to_dict()
    edit(data)
    with pytest.raises(SavedReportError, match=message):
        report_from_dict(data)


def test_unknown_keys_are_ignored():
    data = onnxcost.analyze(one_node("MatMul", {"x": [1, 4]}, {"W": zeros(4, 2)})).to_dict()
    data["totals"]["a_later_total"] = 5
    data["later_section"] = {}
    assert report_from_dict(data).totals.macs == 8  # 1·4·2 MACs


def test_cli_names_the_broken_baseline_in_one_line(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(one_node("MatMul", {"x": [1, 4]}, {"W": zeros(4, 2)}).SerializeToString())
    base = tmp_path / "base.json"
    base.write_text('{"schema": "onnxcost.report/1", "totals": 3}')
    result = subprocess.run([sys.executable, "-m", "onnxcost", "check", str(path), "--baseline", str(base),
                             "--max-growth", "macs=2%"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {base}: model is missing"]


def test_the_parse_limit_applies_to_saved_reports(tmp_path):
    saved = tmp_path / "m.json"
    saved.write_text(render_json(onnxcost.analyze(one_node("MatMul", {"x": [1, 4]}, {"W": zeros(4, 2)}))))
    with pytest.raises(SavedReportError, match="parse limit"):
        load_report(saved, max_file_bytes=100)


def test_a_report_saved_before_the_precision_breakdown_reads_it_as_zero():
    from onnxcost.saved import ADDED_LATER

    # y = x·W, x [1, 4], W [4, 3]: 4·3 = 12 MACs, 12 params.
    data = onnxcost.analyze_model(model([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], {"x": [1, 4]}, ["y"],
                                        {"W": zeros(4, 3)})).to_dict()
    for record in [data["totals"], *data["by_op_type"].values(), *data["nodes"]]:
        for key in ADDED_LATER:
            record.pop(key, None)
    report = report_from_dict(data)
    assert (report.totals.macs, report.totals.params, report.totals.macs_float) == (12, 12, 0)
    del data["totals"]["macs"]  # the figures that were always there stay required
    with pytest.raises(SavedReportError, match="totals.macs is missing"):
        report_from_dict(data)
