"""The shape machinery's bounds: sizes checked before anything is allocated, and the bound that decides whether
onnx's data propagation (which has no limit of its own) may run."""

import tracemalloc

import numpy as np
from onnx import helper, numpy_helper

from onnxcost.shape_folding import MAX_FOLDED_ELEMENTS, fold, propagation_bound
from support.builders import model


def constant(name: str, count: int):
    return numpy_helper.from_array(np.arange(count, dtype=np.int64), name)


def with_constants(nodes, inputs, outputs, *constants):
    built = model(nodes, inputs, outputs)
    built.graph.initializer.extend(constants)
    return built


def test_a_concat_holds_the_sum_of_its_inputs():
    built = with_constants([helper.make_node("Concat", ["c"] * 3, ["s"], axis=0)], {}, ["s"], constant("c", 4096))
    assert propagation_bound(built) == 3 * 4096


def test_shape_holds_the_rank_and_a_reshape_takes_the_rank_its_shape_gives():
    built = with_constants([
        helper.make_node("Shape", ["x"], ["s"]),                     # rank 4: 4 elements
        helper.make_node("Reshape", ["x", "target"], ["r"]),         # rank = the 10 elements of 'target'
        helper.make_node("Shape", ["r"], ["t"]),                     # 10 elements
        helper.make_node("Concat", ["s", "t", "t"], ["all"], axis=0),  # 4 + 10 + 10
    ], {"x": [1, 3, 8, 8]}, ["all"], constant("target", 10))
    assert propagation_bound(built) == 24


def test_what_an_activation_computes_is_no_value():
    # Add(x, c) reads the activation x: data propagation has nothing to propagate; the bound is the constant's 64
    built = with_constants([helper.make_node("Add", ["x", "c"], ["y"]), helper.make_node("Concat", ["y", "y"], ["z"], axis=0)],
                           {"x": [64]}, ["z"], constant("c", 64))
    assert propagation_bound(built) == 64


def peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_concat_past_the_limit_is_refused_before_it_is_allocated():
    values = {"c": np.arange(4096, dtype=np.int64)}
    node = helper.make_node("Concat", ["c"] * 65536, ["big"], axis=0)  # 2^28 int64 = 2 GiB if materialized
    assert peak_bytes(lambda: fold([node], values, {})) < 2**20
    assert "big" not in values


def test_a_tile_past_the_limit_is_refused_before_it_is_allocated():
    values = {"one": np.array([1], np.int64), "repeats": np.array([2**28], np.int64)}
    assert peak_bytes(lambda: fold([helper.make_node("Tile", ["one", "repeats"], ["t"])], values, {})) < 2**20
    assert "t" not in values


def test_a_max_over_many_inputs_is_folded_pairwise():
    values = {"c": np.arange(4096, dtype=np.int64)}
    node = helper.make_node("Max", ["c"] * 65536, ["m"])  # stacked: 2^28 int64 = 2 GiB
    assert peak_bytes(lambda: fold([node], values, {})) < 2**26  # pairwise: one 32 KiB result (and numpy's bookkeeping)
    assert np.array_equal(values["m"], np.arange(4096))


def test_a_gather_past_the_limit_is_refused():
    values = {"data": np.zeros((64, 64), np.int64), "indices": np.zeros(4096, np.int64)}  # 4096 · 64 = 2^18 > 2^16
    fold([helper.make_node("Gather", ["data", "indices"], ["g"], axis=0)], values, {})
    assert "g" not in values and 4096 * 64 > MAX_FOLDED_ELEMENTS
