"""Peak of live activations over the topological schedule, computed by hand."""

from onnx import helper

import onnxcost
from support.builders import model

TENSOR = 1000 * 4  # a float [1, 1000] tensor


def skip_chain():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
        helper.make_node("Add", ["a", "b"], ["c"], name="join"),  # keeps 'a' alive across 'second'
        helper.make_node("Relu", ["c"], ["y"], name="last"),
    ]
    return model(nodes, {"x": [1, 1000]}, ["y"])


def test_peak_is_at_the_join_with_three_tensors_live():
    report = onnxcost.analyze_model(skip_chain())
    # step 'first': x, a | 'second': a, b | 'join': a, b, c | 'last': c, y
    assert report.totals.peak_activation_bytes == 3 * TENSOR
    assert report.peak.node == "join"
    assert sorted(t.name for t in report.peak.live_tensors) == ["a", "b", "c"]
    assert report.totals.activation_bytes == 4 * TENSOR  # a, b, c, y


def test_memory_traffic_is_reads_plus_writes():
    rows = {r.name: r for r in onnxcost.analyze_model(skip_chain()).nodes}
    assert rows["join"].bytes_read == 2 * TENSOR and rows["join"].output_bytes == TENSOR
    assert rows["join"].memory_traffic_bytes == 3 * TENSOR
    assert onnxcost.analyze_model(skip_chain()).totals.memory_traffic_bytes == (2 + 2 + 3 + 2) * TENSOR


def test_a_graph_without_nodes_has_no_peak():
    # y is x itself: nothing runs, so no step holds a tensor and no node is at the peak.
    report = onnxcost.analyze_model(model([], {"x": [1, 4]}, ["x"]))
    assert (report.totals.peak_activation_bytes, report.peak.node, report.peak.live_tensors) == (0, None, [])
    assert report.totals.nodes == 0
