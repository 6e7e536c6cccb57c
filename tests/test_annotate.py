"""onnxcost.annotate: costs in the metadata of a copy of the model, everything else untouched."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxcost
from onnxcost.annotate import annotate
from onnxcost.errors import OnnxcostError, OutputWriteError
from onnxcost.files import save_with_external_data
from support.builders import model, zeros


def props(message) -> dict[str, str]:
    return {p.key: p.value for p in message.metadata_props}


def run(model_or_path, feeds):
    source = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, feeds)


def test_annotated_vgg16_runs_identically_and_keeps_its_weights_byte_for_byte(vgg16, tmp_path):
    report = onnxcost.analyze(vgg16)
    written = annotate(vgg16, report, tmp_path / "vgg16.annotated.onnx")
    assert (written.annotated, written.unmatched) == (37, [])  # 13 conv + 13 relu + 5 pool + flatten + 3 fc + 2 relu
    assert not vgg16.metadata_props and not any(n.metadata_props for n in vgg16.graph.node)  # the caller's copy as it was

    annotated = onnx.load(str(written.path))
    assert [t.name for t in annotated.graph.initializer] == [t.name for t in vgg16.graph.initializer]
    for before, after in zip(vgg16.graph.initializer, annotated.graph.initializer):
        assert after.SerializeToString() == before.SerializeToString()

    nodes = {n.name: props(n) for n in annotated.graph.node}
    assert all(nodes.values())
    # conv1_2: 224·224 outputs · 64 output channels · 64 input channels · 3·3 = 1,849,688,064 MACs;
    # weights 64·64·9 + bias 64 = 36,928; output 64·224·224 floats · 4 B = 12,845,056 B.
    assert nodes["conv1_2"]["onnxcost.macs"] == "1849688064"
    assert nodes["conv1_2"]["onnxcost.params"] == "36928"
    assert nodes["conv1_2"]["onnxcost.output_bytes"] == "12845056"
    # fc6: 512·7·7 = 25,088 inputs · 4096 outputs = 102,760,448 MACs and weights, + 4096 biases.
    assert nodes["fc6"]["onnxcost.macs"] == "102760448"
    assert nodes["fc6"]["onnxcost.params"] == "102764544"
    assert nodes["relu1_1"]["onnxcost.macs"] == "0"
    model_props = props(annotated)
    # Simonyan & Zisserman's VGG-16 (configuration D) at 224x224: 15.47 G MACs, 138,357,544 parameters.
    assert model_props["onnxcost.macs"] == "15470264320"
    assert model_props["onnxcost.params"] == "138357544"
    assert model_props["onnxcost.inputs"] == "input=1x3x224x224"

    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    (expected,), (got,) = run(vgg16, {"input": x}), run(written.path, {"input": x})
    assert np.array_equal(got, expected)


def branch(name: str, op: str, output: str) -> onnx.GraphProto:
    node = (helper.make_node("MatMul", ["x", "w"], [output], name=f"{name}_mm") if op == "MatMul"
            else helper.make_node("Relu", ["x"], [output], name=f"{name}_relu"))
    return helper.make_graph([node], name, [], [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)])


def if_model() -> onnx.ModelProto:
    """x[1,8] -> If (then: MatMul by w[8,8], else: Relu) -> y."""
    node = helper.make_node("If", ["cond"], ["y"], name="choose", then_branch=branch("then", "MatMul", "t"),
                            else_branch=branch("else", "Relu", "e"))
    built = model([node], {"x": [1, 8]}, ["y"], {"w": zeros(8, 8)})
    built.graph.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    return built


def test_nodes_inside_subgraphs_carry_their_figures_and_repeat(tmp_path):
    built = if_model()
    written = annotate(built, onnxcost.analyze(built), tmp_path / "if.onnx")
    assert (written.annotated, written.unmatched) == (3, [])
    annotated = onnx.load(str(written.path))
    choose = annotated.graph.node[0]
    branches = {a.name: props(a.g.node[0]) for a in choose.attribute}
    assert branches["then_branch"]["onnxcost.macs"] == "64"  # [1,8]·[8,8]: 8·8 MACs
    assert "onnxcost.repeat" not in branches["then_branch"]  # the heavier branch counts once
    assert branches["else_branch"]["onnxcost.repeat"] == "0"  # the other is listed, not counted
    assert props(choose)["onnxcost.macs"] == "0"


def test_annotating_again_replaces_its_entries_and_keeps_the_others(tmp_path):
    built = model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": [2, 3]}, ["y"])
    helper.set_model_props(built, {"author": "someone"})
    built.graph.node[0].metadata_props.add(key="pkg.torch.onnx.stack_trace", value="model.py:12")
    first = annotate(built, onnxcost.analyze(built), tmp_path / "once.onnx").path
    again = onnx.load(str(annotate(first, onnxcost.analyze(first), tmp_path / "twice.onnx").path))
    keys = [p.key for p in again.metadata_props]
    assert keys[0] == "author" and len(keys) == len(set(keys))
    node = again.graph.node[0]
    assert [p.key for p in node.metadata_props].count("onnxcost.flops") == 1
    assert props(node)["pkg.torch.onnx.stack_trace"] == "model.py:12"
    assert props(node)["onnxcost.flops"] == "6"  # Relu: one FLOP per element of [2,3]


def test_the_model_itself_is_never_overwritten(tmp_path):
    source = tmp_path / "relu.onnx"
    onnx.save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": [2]}, ["y"]), str(source))
    before = source.read_bytes()
    with pytest.raises(OutputWriteError, match="it is the input"):
        annotate(source, onnxcost.analyze(source), source)
    assert source.read_bytes() == before


def test_a_report_of_another_model_is_refused(tmp_path):
    relu = model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": [2]}, ["y"])
    other = model([helper.make_node("Relu", ["x"], ["z"], name="relu")], {"x": [2]}, ["z"])
    with pytest.raises(OnnxcostError, match="not of this model"):
        annotate(relu, onnxcost.analyze(other), tmp_path / "wrong.onnx")
    assert not (tmp_path / "wrong.onnx").exists()


def test_external_weights_are_left_where_they_are(tmp_path):
    weight = np.random.default_rng(1).standard_normal((16, 16)).astype(np.float32)  # 1 KiB: external
    built = model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, 16]}, ["y"], {"w": weight})
    folder = tmp_path / "model"
    folder.mkdir()
    source = save_with_external_data(built, folder / "m.onnx", location="m.data")
    data = (folder / "m.data").read_bytes()
    report = onnxcost.analyze(source)
    with pytest.raises(OutputWriteError, match="external data") as refused:
        annotate(source, report, tmp_path / "elsewhere.onnx")
    assert refused.value.parameter == "target" and not (tmp_path / "elsewhere.onnx").exists()
    written = annotate(source, report, folder / "m.annotated.onnx")
    assert (folder / "m.data").read_bytes() == data
    assert props(onnx.load(str(written.path), load_external_data=False).graph.node[0])["onnxcost.macs"] == "256"  # 16·16
    x = np.ones((1, 16), np.float32)
    # the same runtime on the same weights: the same bits (numpy's x @ weight may sum in another order)
    assert np.array_equal(run(written.path, {"x": x})[0], run(source, {"x": x})[0])
    assert np.allclose(run(written.path, {"x": x})[0], x @ weight, rtol=1e-5, atol=1e-6)
    assert numpy_helper.to_array(onnx.load(str(written.path)).graph.initializer[0]).tobytes() == weight.tobytes()


def test_report_command_annotates_a_copy(tmp_path):
    import onnx
    from typer.testing import CliRunner

    from onnxcost import samples
    from onnxcost.cli import app
    from onnxcost.files import save_model

    source, target = tmp_path / "sq.onnx", tmp_path / "sq.annotated.onnx"
    save_model(samples.build("squeezenet1_1"), source)
    result = CliRunner().invoke(app, ["report", str(source), "-f", "json", "--annotate", str(target)])
    assert result.exit_code == 0, result.output
    first = onnx.load(str(target)).graph.node[0]
    # SqueezeNet 1.1's first conv: 64 filters of 3x3x3 over a 111x111 output: 64·111·111·27 = 21,290,688 MACs.
    assert {p.key: p.value for p in first.metadata_props}["onnxcost.macs"] == "21290688"
    refused = CliRunner().invoke(app, ["report", str(source), "--annotate", str(source)])
    assert refused.exit_code == 2
