"""Shapes: overrides, inference through exporter-style shape subgraphs, unknown dims."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxcost
from onnxcost.errors import InputSpecError
from support.builders import model, zeros

CONV_W = zeros(8, 3, 3, 3)  # 3 -> 8 channels, 3x3, pads 1: spatial size kept
FC_W = zeros(10, 8 * 16 * 16)


def torch_style_flatten(batch, opset=13):
    """Conv -> Relu -> flatten written as PyTorch's TorchScript exporter does -> Gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64)), name="c0"),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsqueeze") if opset >= 13
        else helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0, name="concat"),
        helper.make_node("Reshape", ["r", "target"], ["f"], name="reshape"),
        helper.make_node("Gemm", ["f", "FW"], ["y"], transB=1, name="fc"),
    ]
    weights = {"W": CONV_W, "FW": FC_W, "minus1": np.array([-1], np.int64)}
    if opset >= 13:
        weights["axes0"] = np.array([0], np.int64)
    return model(nodes, {"x": [batch, 3, 16, 16]}, ["y"], weights, opset=opset)


# conv: N·8·16·16 outputs, each 3·3·3 MACs; fc: N·10 outputs, each 2048 MACs.
def expected_macs(batch):
    return batch * 8 * 16 * 16 * 27 + batch * 10 * 2048


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_dynamic_batch_flatten_matches_static_twin(opset):
    static = onnxcost.analyze_model(torch_style_flatten(4, opset))
    dynamic = onnxcost.analyze_model(torch_style_flatten("batch", opset), dims={"batch": 4})
    assert static.totals.macs == dynamic.totals.macs == expected_macs(4)
    assert [r.output_shapes for r in static.nodes] == [r.output_shapes for r in dynamic.nodes]
    assert dynamic.warnings == []


def test_input_override_sets_the_shape_and_binds_its_symbols():
    report = onnxcost.analyze_model(torch_style_flatten("batch"), inputs={"x": [3, 3, 16, 16]})
    assert report.totals.macs == expected_macs(3)
    assert report.model.inputs[0].shape == [3, 3, 16, 16]


def test_unknown_dimension_is_one_and_named_in_a_warning():
    report = onnxcost.analyze_model(torch_style_flatten("batch"))
    assert report.totals.macs == expected_macs(1)
    assert any("'batch'" in w and "--dim batch=N" in w for w in report.warnings)


def test_bad_overrides_are_refused():
    with pytest.raises(InputSpecError, match="'nope'"):
        onnxcost.analyze_model(torch_style_flatten(1), inputs={"nope": [1, 3, 16, 16]})
    with pytest.raises(InputSpecError, match="rank 4"):
        onnxcost.analyze_model(torch_style_flatten(1), inputs={"x": [1, 3, 16]})
    with pytest.raises(InputSpecError, match="both"):
        onnxcost.analyze_model(torch_style_flatten("batch"), inputs={"x": [2, 3, 16, 16]}, dims={"batch": 3})


def test_unused_dim_symbol_is_reported():
    report = onnxcost.analyze_model(torch_style_flatten("batch"), dims={"batch": 2, "seq": 7})
    assert any("--dim seq" in w for w in report.warnings)


def test_window_partition_computed_with_mod_and_where():
    """Swin-style padding to a multiple of the window: pad = (w - H % w) % w, computed at run time.

    H = W = 14, window 4: pad 2 -> 16x16, reshaped into 16 windows of 4x4, then a
    per-window MatMul with a [C, C] weight: 16·16 positions · C·C MACs.
    """
    C, H, win = 8, 14, 4
    i64 = lambda *v: np.array(v, np.int64)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "two"], ["h"], axis=0, name="take_h"),
        helper.make_node("Mod", ["h", "win"], ["h_mod"], name="mod"),
        helper.make_node("Sub", ["win", "h_mod"], ["short"], name="sub"),
        helper.make_node("Mod", ["short", "win"], ["pad"], name="mod2"),
        helper.make_node("Equal", ["pad", "zero"], ["no_pad"], name="eq"),
        helper.make_node("Where", ["no_pad", "zero", "pad"], ["pad_w"], name="where"),
        helper.make_node("Concat", ["zeros6", "pad_w", "pad_w"], ["pads"], axis=0, name="pads"),
        helper.make_node("Pad", ["x", "pads"], ["padded"], name="pad"),
        helper.make_node("Add", ["h", "pad_w"], ["hp"], name="hp"),
        helper.make_node("Div", ["hp", "win"], ["nwin"], name="nwin"),
        helper.make_node("Concat", ["one", "c", "nwin", "win1", "nwin", "win1"], ["wshape"], axis=0, name="wshape"),
        helper.make_node("Reshape", ["padded", "wshape"], ["windows"], name="partition"),
        helper.make_node("Transpose", ["windows"], ["tokens"], perm=[0, 2, 4, 3, 5, 1], name="to_tokens"),
        helper.make_node("MatMul", ["tokens", "proj"], ["y"], name="proj"),
    ]
    weights = {
        "two": i64(2), "win": i64(win), "zero": i64(0), "zeros6": i64(0, 0, 0, 0, 0, 0), "one": i64(1),
        "c": i64(C), "win1": i64(win), "proj": zeros(C, C),
    }
    m = model(nodes, {"x": ["n", C, "h", "w"]}, ["y"], weights)
    for init in m.graph.initializer:  # Concat needs 1-D pieces
        if init.name in ("one", "c", "win1"):
            init.dims[:] = [1]
    report = onnxcost.analyze_model(m, dims={"n": 1, "h": H, "w": H})
    rows = {r.name: r for r in report.nodes}
    assert rows["pad"].output_shapes == [[1, C, 16, 16]]
    assert rows["partition"].output_shapes == [[1, C, 4, 4, 4, 4]]
    assert rows["proj"].macs == 16 * 16 * C * C
    assert not any("assumed 1" in w for w in report.warnings)


def test_data_dependent_dimension_is_named():
    nodes = [
        helper.make_node("NonZero", ["x"], ["idx"], name="nonzero"),
        helper.make_node("Transpose", ["idx"], ["pairs"], name="t"),
    ]
    report = onnxcost.analyze_model(model(nodes, {"x": [4, 4]}, ["pairs"], output_types={"pairs": TensorProto.INT64}))
    assert any("'idx' (NonZero)" in w and "assumed 1" in w for w in report.warnings)


def test_a_shape_computed_by_an_op_numpy_does_not_evaluate():
    # Reshape x [4, 6] to Shape(x) >> 1 = [2, 3] (BitShift on uint64, evaluated by onnx's reference), then Relu.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Cast", ["s"], ["su"], to=TensorProto.UINT64, name="to_uint"),
        helper.make_node("BitShift", ["su", "one"], ["half"], direction="RIGHT", name="shift"),
        helper.make_node("Cast", ["half"], ["target"], to=TensorProto.INT64, name="to_int"),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
        helper.make_node("Relu", ["y"], ["z"], name="relu"),
    ]
    report = onnxcost.analyze_model(model(nodes, {"x": [4, 6]}, ["z"], {"one": np.array([1], np.uint64)}))
    assert report.warnings == []
    assert report.nodes[-1].output_shapes == [[2, 3]]


def test_where_inference_stopped_is_named():
    # A shape computed by an op of another domain: nothing can evaluate it, so the Reshape's dims stay unknown;
    # the warning names the Reshape and the node whose value it lacks.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Halve", ["s"], ["target"], domain="org.example", name="halve"),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
    ]
    built = model(nodes, {"x": [4, 6]}, ["y"], extra_opsets={"org.example": 1})
    built.graph.value_info.append(helper.make_tensor_value_info("target", TensorProto.INT64, [2]))
    report = onnxcost.analyze_model(built)
    assert ("shape inference stopped at node 'reshape' (Reshape): its inputs' shapes are known, not its outputs'; "
            "the value of 'target' it needs is unknown: node 'halve' (Halve) could not be evaluated") in report.warnings


def test_dropout_mask_of_old_opsets_has_the_data_shape():
    # onnx infers no Dropout mask before opset 12 (bvlc_alexnet in onnx's own test data has two): it is the
    # shape of the data, [2, 5]; the mask's type is the data's at opset 9.
    node = helper.make_node("Dropout", ["x"], ["y", "mask"], ratio=0.5, name="drop")
    report = onnxcost.analyze_model(model([node], {"x": [2, 5]}, ["y", "mask"], opset=9))
    assert report.warnings == []
    assert report.nodes[0].output_shapes == [[2, 5], [2, 5]]
