"""onnxcost diff: totals side by side, nodes paired by name, by name prefix (a rewrite), by signature (a re-export
that renames everything) and by position; added and removed nodes; a saved report as A; the command line."""

import json
import random
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxcost
import onnxcost.samples
from onnxcost import passes
from onnxcost.diffing import Delta, diff, diff_reports
from onnxcost.diffing.matching import _align
from onnxcost.samples.exporters import torchscript_style
from support.builders import model, zeros


def run(*args):
    return subprocess.run([sys.executable, "-m", "onnxcost", *args], capture_output=True, text=True, timeout=120)


def kinds(result):
    return [(c.kind, c.label) for c in result.changes]


def renamed(original: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(original)
    for k, node in enumerate(copy.graph.node):
        node.name = f"renamed_{len(copy.graph.node) - k}"
    return copy


def conv_model(out_channels: int, names=("conv", "relu")) -> onnx.ModelProto:
    """x 1x2x5x5 -> Conv 3x3 (no padding, out_channels) -> Relu."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name=names[0]),
             helper.make_node("Relu", ["c"], ["y"], name=names[1])]
    return model(nodes, {"x": [1, 2, 5, 5]}, ["y"], {"W": zeros(out_channels, 2, 3, 3)})


# --- VGG-16 against its rank-1 separable rewrite ------------------------------------------------------------

@pytest.fixture(scope="module")
def vgg16_rewrite(vgg16):
    rewritten = passes.separable(vgg16, passes.Rank(1), validate=False)
    return rewritten, diff(vgg16, rewritten.model)


def test_every_rewritten_vgg16_layer_is_one_change_with_the_rewrites_macs(vgg16_rewrite):
    rewritten, result = vgg16_rewrite
    layers = {layer.name: layer for layer in rewritten.plan.rewritten}
    assert len(layers) == 12  # conv1_2 .. conv5_3; conv1_1 reads 3 channels and is left alone
    replaced = {c.a[0].name: c for c in result.changes if c.kind == "replaced"}
    assert set(replaced) == set(layers)
    assert [c.kind for c in result.changes] == ["replaced"] * 12  # nothing else changed, was added or removed
    for name, layer in layers.items():
        change = replaced[name]
        assert change.label == f"{name} -> {name}/dw + {name}/pw"
        assert [r.op_type for r in change.b] == ["Conv", "Conv"]
        assert change.macs.delta == layer.macs_after - layer.macs_before
        assert change.params.delta == layer.params_after - layer.params_before

    conv1_2 = replaced["conv1_2"]
    # 64->64 3x3 conv at 224x224, rank 1 separable: depthwise 3x3 (64·9 per pixel) + pointwise 64->64 (64·64)
    assert conv1_2.macs.a == 224 * 224 * 64 * 64 * 9 == 1_849_688_064
    assert conv1_2.macs.b == 224 * 224 * (64 * 9 + 64 * 64) == 234_422_272
    assert conv1_2.macs.delta == 224 * 224 * (64 * 9 + 64 * 64) - 224 * 224 * 64 * 64 * 9 == -1_615_265_792
    # params: 64·64·9 weights + 64 bias before; 64·9 depthwise + 64·64 pointwise + 64 bias after
    assert conv1_2.params.delta == (64 * 9 + 64 * 64 + 64) - (64 * 64 * 9 + 64)


def test_vgg16_totals_side_by_side(vgg16_rewrite):
    rewritten, result = vgg16_rewrite
    macs = result.totals["macs"]
    assert macs.a == 15_470_264_320  # published
    assert macs.delta == sum(layer.macs_after - layer.macs_before for layer in rewritten.plan.rewritten)
    assert macs.percent == pytest.approx(100 * macs.delta / 15_470_264_320)
    assert result.totals["params"].a == 138_357_544
    assert result.totals["nodes"].delta == 12  # each of the 12 convs became two
    assert result.by_op_type["Conv"]["count"].delta == 12
    assert result.by_op_type["Conv"]["macs"].delta == macs.delta
    assert result.matching.by_name == 37 - 12 and result.matching.by_prefix == 12
    assert list(result.by_op_type)[0] == "Conv"  # the op type that moved comes first


def test_changes_come_heaviest_first(vgg16_rewrite):
    _, result = vgg16_rewrite
    keys = [(abs(c.macs.delta), abs(c.params.delta), abs(c.memory_traffic_bytes.delta)) for c in result.changes]
    assert keys == sorted(keys, reverse=True)
    assert result.changes[0].a[0].name in {"conv4_2", "conv4_3"}  # 28·28·512·(512·9 - 9 - 512): the largest saving


def test_diff_record(vgg16_rewrite):
    _, result = vgg16_rewrite
    record = json.loads(json.dumps(result.to_dict()))
    assert list(record)[0] == "schema" and record["schema"] == "onnxcost.diff/1"
    assert record["totals"]["macs"]["a"] == 15_470_264_320
    first = record["changes"][0]
    assert first["kind"] == "replaced" and first["matched_by"] == "prefix"
    assert first["macs"]["delta"] == first["macs"]["b"] - first["macs"]["a"]
    assert [n["name"] for n in first["b"]] == [first["a"][0]["name"] + "/dw", first["a"][0]["name"] + "/pw"]


# --- rewrites of a small model: a folded BatchNormalization, and the grouped structure -------------------------

def conv_bn_relu() -> onnx.ModelProto:
    """x 1x16x8x8 -> conv1 (16->16, 3x3, pad 1) -> bn1 -> relu1."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["b"], name="bn1"),
             helper.make_node("Relu", ["b"], ["y"], name="relu1")]
    weights = {"W": rng.standard_normal((16, 16, 3, 3)).astype(np.float32),
               **{k: rng.uniform(0.5, 1.5, 16).astype(np.float32) for k in ("scale", "bias", "mean", "var")}}
    built = model(nodes, {"x": [1, 16, 8, 8]}, ["y"], weights)
    built.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16, 8, 8]))
    return built  # with its output's shape: the rewrite runs onnx.checker's full check


def test_a_folded_batchnorm_is_listed_as_removed():
    original = conv_bn_relu()
    rewritten = passes.separable(original, passes.Rank(1), validate=False)
    assert rewritten.plan.rewritten[0].folded == ["bn1"]
    result = diff(original, rewritten.model)
    assert kinds(result) == [("replaced", "conv1 -> conv1/dw + conv1/pw"), ("removed", "bn1")]
    conv, bn = result.changes
    # 8·8 pixels: 16·16·9 MACs each before; depthwise 16·9 + pointwise 16·16 after
    assert conv.macs.a == 64 * 16 * 16 * 9 == 147_456
    assert conv.macs.b == 64 * (16 * 9 + 16 * 16) == 25_600
    assert conv.macs.delta == rewritten.plan.rewritten[0].macs_after - rewritten.plan.rewritten[0].macs_before
    assert bn.params.delta == -4 * 16  # scale, bias, mean, var: 16 channels each
    assert result.matching.by_name == 1  # relu1


def test_a_grouped_rewrite_is_one_change():
    original = conv_bn_relu()
    rewritten = passes.grouped(original, 4, passes.Rank(1), validate=False)
    layer = rewritten.plan.rewritten[0]
    result = diff(original, rewritten.model)
    conv = result.changes[0]
    assert conv.kind == "replaced" and conv.a[0].name == "conv1"
    assert [r.name for r in conv.b] == layer.nodes  # gconv, the shuffle's nodes, gpw
    assert conv.b[0].name == "conv1/gconv" and conv.b[-1].name == "conv1/gpw"
    assert conv.macs.delta == layer.macs_after - layer.macs_before
    assert ("removed", "bn1") in kinds(result)


def test_the_reverse_diff_reads_the_other_way_round():
    original = conv_bn_relu()
    rewritten = passes.separable(original, passes.Rank(1), validate=False).model
    result = diff(rewritten, original)
    assert kinds(result) == [("replaced", "conv1/dw + conv1/pw -> conv1"), ("added", "bn1")]
    assert result.changes[0].macs.delta == 147_456 - 25_600


# --- re-exports: names differ, nodes are paired by their signature and place ---------------------------------

def test_two_exports_with_different_names_match_node_for_node(tmp_path):
    exported = torchscript_style(onnxcost.samples.build("resnet50"))
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    a.write_bytes(exported.SerializeToString())
    b.write_bytes(renamed(exported).SerializeToString())
    result = diff(a, b, dims={"batch_size": 1})
    nodes = result.totals["nodes"].a  # the report's rows (Constant nodes are folded away)
    assert nodes > 120
    assert result.matching.by_name == 0 and result.matching.by_signature == nodes
    assert [(p.a, p.b) for p in result.pairs] == [((k,), (k,)) for k in range(nodes)]
    assert result.changes == []
    assert all(d.delta == 0 for d in result.totals.values())
    assert result.totals["macs"].a == 4_089_184_256  # ResNet-50 at 224x224 (He et al.: ~4.1 GMACs; docs/zoo.md)


def test_a_renamed_node_whose_shapes_changed_is_paired_by_position():
    a = conv_model(4, names=("conv", "relu"))
    b = conv_model(8, names=("c0", "r0"))
    result = diff(a, b)
    assert [(c.kind, c.label, c.matched_by) for c in result.changes] == [
        ("changed", "conv -> c0", "position"), ("changed", "relu -> r0", "position")]
    conv = result.changes[0]
    # output 1x{4,8}x3x3, each output 2·3·3 = 18 MACs
    assert (conv.macs.a, conv.macs.b) == (4 * 9 * 18, 8 * 9 * 18)
    assert conv.params.delta == (8 - 4) * 2 * 3 * 3
    assert conv.b[0].output_shapes == [[1, 8, 3, 3]]


def test_made_up_names_of_unnamed_nodes_are_not_matched_by_name():
    # unnamed nodes get their op type and row index as names: Relu_1 is the second node of A and the first Relu of B
    a = model([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])], {"x": [1, 8]}, ["y"])
    b = model([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Relu", ["s"], ["a"]),
               helper.make_node("Relu", ["a"], ["y"])], {"x": [1, 8]}, ["y"])
    result = diff(a, b)
    assert [(p.a, p.b, p.how) for p in result.pairs] == [((0,), (1,), "signature"), ((1,), (2,), "signature")]
    assert kinds(result) == [("added", "Sigmoid_0")]


# --- added and removed nodes -------------------------------------------------------------------------------------

def chain(with_bn: bool, with_gate: bool, prefix: str = "") -> onnx.ModelProto:
    """conv1 (4->4, 3x3, pad 1, on 1x4x6x6) -> [bn1] -> relu1 -> [gate: Sigmoid]."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name=prefix + "conv1", pads=[1, 1, 1, 1])]
    weights = {"W": zeros(4, 4, 3, 3)}
    if with_bn:
        nodes.append(helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name=prefix + "bn1"))
        weights |= {k: np.ones(4, np.float32) for k in "sbmv"}
    nodes.append(helper.make_node("Relu", ["n" if with_bn else "c"], ["r"], name=prefix + "relu1"))
    if with_gate:
        nodes.append(helper.make_node("Sigmoid", ["r"], ["g"], name=prefix + "gate"))
    return model(nodes, {"x": [1, 4, 6, 6]}, ["g" if with_gate else "r"], weights)


@pytest.mark.parametrize("prefix", ["", "exported/"], ids=["same names", "renamed"])
def test_an_added_and_a_removed_node(prefix):
    result = diff(chain(with_bn=True, with_gate=False), chain(with_bn=False, with_gate=True, prefix=prefix))
    assert kinds(result) == [("removed", "bn1"), ("added", prefix + "gate")]  # bn1 first: 16 params
    removed, added = result.changes
    assert removed.b == [] and added.a == []
    assert removed.params.delta == -4 * 4  # 4 vectors of 4 channels
    # the Sigmoid reads and writes 1x4x6x6 float32: 144 elements, 4 bytes each, both ways
    assert added.memory_traffic_bytes.delta == 2 * 144 * 4
    assert result.matching.unchanged == 2  # conv1 and relu1
    assert result.totals["nodes"].delta == 0 and result.totals["params"].delta == -16


# --- a saved report as A, and the command line ---------------------------------------------------------------------

def test_a_saved_report_as_a(tmp_path):
    a_model, b_model = tmp_path / "a.onnx", tmp_path / "b.onnx"
    a_model.write_bytes(conv_model(4).SerializeToString())
    b_model.write_bytes(conv_model(8).SerializeToString())
    saved = tmp_path / "a.json"
    assert run("report", str(a_model), "-f", "json", "-o", str(saved)).returncode == 0
    a_model.unlink()  # the old model need not exist

    result = diff(saved, b_model)
    assert result.a.source == str(a_model)
    assert kinds(result) == [("changed", "conv"), ("changed", "relu")]
    assert result.totals["macs"].delta == (8 - 4) * 9 * 18  # 4 more output channels of 3x3 pixels, 18 MACs each

    cli = run("diff", str(saved), str(b_model), "-f", "json")
    assert cli.returncode == 0, cli.stderr
    record = json.loads(cli.stdout)
    assert record["schema"] == "onnxcost.diff/1" and record["totals"]["macs"]["delta"] == 648
    assert record["changes"][0]["label"] == "conv" and record["changes"][0]["macs"] == {
        "a": 648, "b": 1296, "delta": 648, "percent": 100.0}


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    a, b = folder / "a.onnx", folder / "b.onnx"
    a.write_bytes(conv_model(4).SerializeToString())
    b.write_bytes(conv_model(8).SerializeToString())
    return str(a), str(b)


def test_table(two_files):
    result = run("diff", *two_files)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    macs = next(line for line in lines if line.strip().startswith("MACs "))
    assert macs.split() == ["MACs", "648", "1.30", "K", "+648", "+100.00%", "648", "1,296", "+648"]
    conv = next(line for line in lines if line.strip().startswith("changed") and " conv " in line)
    assert conv.split()[:11] == ["changed", "conv", "Conv", "1x4x3x3", "->", "1x8x3x3", "648", "1.30", "K", "+648",
                                 "+100.00%"]
    assert "nodes paired: 2 by name" in result.stdout


def test_markdown_and_csv(two_files, tmp_path):
    target = tmp_path / "diff.md"
    assert run("diff", *two_files, "-f", "md", "-o", str(target)).returncode == 0
    text = target.read_text()
    assert text.startswith("# onnxcost diff: ") and "| MACs | 648 | 1,296 | +648 | +100.00% |" in text
    assert "| changed | `conv` | Conv | 1x4x3x3 -> 1x8x3x3 | 648 | 1,296 | +648 | +100.00% | +72 |" in text

    result = run("diff", *two_files, "-f", "csv", "--top", "1")
    rows = result.stdout.splitlines()
    assert len(rows) == 2  # the header and the heaviest change
    header, row = rows[0].split(","), rows[1].split(",")
    values = dict(zip(header, row))
    assert values["label"] == "conv" and values["macs_a"] == "648" and values["macs_delta"] == "648"
    assert values["params_delta"] == str(4 * 2 * 3 * 3)


@pytest.mark.parametrize("args, message", [
    (["diff", "missing.onnx", "B"], "no such file"),
    (["diff", "A", "B", "--dim", "batch"], "expected SYMBOL=INTEGER"),
    (["diff", "A", "B", "-f", "netron"], "Invalid value for '--format'"),
    (["diff", "A"], "Missing argument 'B'"),
])
def test_bad_input_gets_one_line_and_exit_2(two_files, args, message):
    result = run(*[{"A": two_files[0], "B": two_files[1]}.get(a, a) for a in args])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_report_of_another_schema_is_refused(two_files, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "onnxcost.diff/1"}))
    result = run("diff", str(other), two_files[1])
    assert result.returncode == 2 and "expected schema 'onnxcost.report/1'" in result.stderr


# --- the pieces --------------------------------------------------------------------------------------------------

def test_percent_is_none_where_a_is_zero():
    assert Delta(0, 5).percent is None
    assert Delta(200, 201).percent == 0.5
    assert Delta(200, 100).delta == -100


def lcs_length(x, y) -> int:
    table = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i in range(len(x)):
        for j in range(len(y)):
            table[i + 1][j + 1] = table[i][j] + 1 if x[i] == y[j] else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_alignment_is_a_longest_common_subsequence():
    rng = random.Random(14)
    for _ in range(300):
        x = [rng.choice("abc") for _ in range(rng.randrange(0, 25))]
        y = [rng.choice("abcd") for _ in range(rng.randrange(0, 25))]
        pairs, exact = _align(x, y)
        assert exact
        assert all(x[i] == y[j] for i, j in pairs)
        assert all(i0 < i1 and j0 < j1 for (i0, j0), (i1, j1) in zip(pairs, pairs[1:]))
        assert len(pairs) == lcs_length(x, y)


def test_diff_reports_is_pure():
    a, b = onnxcost.analyze(conv_model(4)), onnxcost.analyze(conv_model(8))
    before = (a.to_dict(), b.to_dict())
    first, second = diff_reports(a, b), diff_reports(a, b)
    assert first.to_dict() == second.to_dict()
    assert (a.to_dict(), b.to_dict()) == before


def test_graphs_that_differ_in_many_places_are_paired_roughly_with_a_warning(monkeypatch):
    from onnxcost.diffing import matching

    monkeypatch.setattr(matching, "MAX_EDITS", 2)  # Myers' diff gives up past 2 edits; difflib's rough pairs then
    ops_a = ["Relu", "Sigmoid", "Relu", "Tanh", "Relu", "Sigmoid"]
    ops_b = ["Sigmoid", "Relu", "Tanh", "Tanh", "Relu", "Relu"]

    def unnamed(ops):
        tensors = ["x"] + [f"t{k}" for k in range(len(ops))]
        return model([helper.make_node(op, [tensors[k]], [tensors[k + 1]]) for k, op in enumerate(ops)],
                     {"x": [1, 8]}, [tensors[-1]])

    a, b = onnxcost.analyze(unnamed(ops_a)), onnxcost.analyze(unnamed(ops_b))
    result = diff_reports(a, b)
    assert any("paired roughly" in w for w in result.warnings)
    assert all(a.nodes[p.a[0]].op_type == b.nodes[p.b[0]].op_type for p in result.pairs)
    removed = [c.a[0].index for c in result.changes if c.kind == "removed"]
    assert sorted([i for p in result.pairs for i in p.a] + removed) == list(range(6))  # every row of A accounted for
    assert diff_reports(a, a).warnings == []  # equal graphs align without an edit
