"""onnxcost.skeleton: the weightless working copy the analysis reads."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxcost.errors import InvalidModelError
from onnxcost.skeleton import SMALL_FLOAT_ELEMENTS, SMALL_INTEGER_ELEMENTS, build_skeleton, keeps_data

from support.builders import model


def initializers(built: onnx.ModelProto) -> dict[str, TensorProto]:
    return {t.name: t for t in built.graph.initializer}


def has_data(tensor: TensorProto) -> bool:
    return bool(tensor.raw_data or tensor.float_data or tensor.int64_data or tensor.int32_data)


@pytest.mark.parametrize("in_place", [False, True])
def test_weights_are_dropped_and_small_tensors_kept(in_place):
    weights = {
        "W": np.ones((4, 3, 3, 3), np.float32),  # 108 floats: a weight
        "floats_at_limit": np.ones(SMALL_FLOAT_ELEMENTS, np.float32),  # 64: kept
        "floats_over": np.ones(SMALL_FLOAT_ELEMENTS + 1, np.float32),  # 65: dropped
        "ints_at_limit": np.arange(SMALL_INTEGER_ELEMENTS, dtype=np.int64),  # 4096: kept (indices, shapes)
        "ints_over": np.arange(SMALL_INTEGER_ELEMENTS + 1, dtype=np.int64),  # 4097: dropped
    }
    nodes = [helper.make_node("Identity", [name], [f"{name}_out"]) for name in weights]
    original = model(nodes, {}, [f"{name}_out" for name in weights], weights)
    before = original.SerializeToString()
    built = build_skeleton(original, in_place=in_place)
    skeleton = initializers(built)
    if in_place:
        assert built is original
    else:
        assert original.SerializeToString() == before  # the model given is not touched
    for name, array in weights.items():
        tensor = skeleton[name]
        assert list(tensor.dims) == list(array.shape) and tensor.data_type == numpy_helper.from_array(array).data_type
    assert not has_data(skeleton["W"]) and not has_data(skeleton["floats_over"]) and not has_data(skeleton["ints_over"])
    assert numpy_helper.to_array(skeleton["floats_at_limit"]).tolist() == [1.0] * 64
    assert numpy_helper.to_array(skeleton["ints_at_limit"])[-1] == 4095


def test_external_data_is_never_kept():
    tensor = numpy_helper.from_array(np.array([1, 2], np.int64), "ids")
    tensor.data_location = TensorProto.EXTERNAL
    assert not keeps_data(tensor)


@pytest.mark.parametrize("in_place", [False, True])
def test_constant_nodes_become_initializers(in_place):
    shape = numpy_helper.from_array(np.array([1, -1], np.int64))
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=shape),
        helper.make_node("Constant", [], ["scale"], value_float=0.5),
        helper.make_node("Constant", [], ["axes"], value_ints=[0, 2]),
        helper.make_node("Constant", [], ["big"], value=numpy_helper.from_array(np.zeros((10, 10), np.float32))),
        helper.make_node("Constant", [], ["word"], value_string="text"),  # a string: stays a node
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    skeleton = build_skeleton(model(nodes, {"x": [2, 3]}, ["y"]), in_place=in_place)
    assert [node.op_type for node in skeleton.graph.node] == ["Constant", "Reshape"]
    kept = initializers(skeleton)
    assert numpy_helper.to_array(kept["shape"]).tolist() == [1, -1]
    scale = numpy_helper.to_array(kept["scale"])
    assert scale.dtype == np.float32 and float(scale) == 0.5
    assert numpy_helper.to_array(kept["axes"]).tolist() == [0, 2] and kept["axes"].data_type == TensorProto.INT64
    assert list(kept["big"].dims) == [10, 10] and not has_data(kept["big"])  # 100 floats: a weight, stripped


def test_constants_inside_subgraphs_too():
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["one"], value_int=1), helper.make_node("Add", ["x", "one"], ["out"])],
        "branch", [], [helper.make_tensor_value_info("out", TensorProto.INT64, [2])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    built = model([node], {}, ["y"], {"c": np.array(True), "x": np.array([1, 2], np.int64)})
    then_branch = build_skeleton(built).graph.node[0].attribute[0].g
    assert [n.op_type for n in then_branch.node] == ["Add"]
    assert numpy_helper.to_array(then_branch.initializer[0]).tolist() == 1


@pytest.mark.parametrize("in_place", [False, True])
def test_sparse_initializers_become_dense_metadata(in_place):
    values = numpy_helper.from_array(np.ones(3, np.float32), "table")
    indices = numpy_helper.from_array(np.array([0, 5, 9], np.int64))
    built = model([helper.make_node("Identity", ["table"], ["y"])], {}, ["y"])
    built.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [100]))
    skeleton = build_skeleton(built, in_place=in_place)
    table = initializers(skeleton)["table"]
    assert list(table.dims) == [100] and table.data_type == TensorProto.FLOAT
    assert len(skeleton.graph.sparse_initializer) == 0


def local_function_model(body_op: str = "Add") -> onnx.ModelProto:
    double = helper.make_function("local", "Double", ["a"], ["b"], [helper.make_node(body_op, ["a", "a"], ["b"])],
                                  [helper.make_opsetid("", 17)])
    built = model([helper.make_node("Double", ["x"], ["y"], domain="local")], {"x": [3]}, ["y"],
                  extra_opsets={"local": 1})
    built.functions.append(double)
    return built


@pytest.mark.parametrize("in_place", [False, True])
def test_local_functions_are_inlined(in_place):
    skeleton = build_skeleton(local_function_model(), in_place=in_place)
    assert [(n.op_type, n.domain) for n in skeleton.graph.node] == [("Add", "")]
    assert len(skeleton.functions) == 0


def test_a_function_that_cannot_be_inlined_is_refused():
    broken = local_function_model()
    broken.graph.node[0].input.append("x")  # two inputs to a function of one: the inliner asserts
    with pytest.raises(InvalidModelError, match="cannot inline the model's local functions"):
        build_skeleton(broken)


def test_in_place_the_model_becomes_what_the_copy_holds():
    weights = {"W": np.ones((4, 3), np.float32), "shape": np.array([2, 2], np.int64)}
    nodes = [helper.make_node("Constant", [], ["half"], value_float=0.5),
             helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Mul", ["m", "half"], ["y"])]
    built = model(nodes, {"x": [2, 4]}, ["y"], weights)
    built.doc_string, built.model_version, built.graph.doc_string = "notes", 7, "graph notes"
    helper.set_model_props(built, {"author": "someone"})
    copied = build_skeleton(built)
    stripped = build_skeleton(built, in_place=True)
    assert stripped.graph == copied.graph
    for field in ("ir_version", "producer_name", "producer_version", "opset_import", "functions", "doc_string",
                  "model_version", "metadata_props"):
        assert getattr(stripped, field) == getattr(copied, field), field
    assert stripped.doc_string == "" and len(stripped.metadata_props) == 0
