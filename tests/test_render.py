"""Renderers: the JSON schema, exact integers, byte-for-byte determinism, and the other formats."""

import csv
import enum
import io
import json

import pytest
from onnx import helper

import onnxcost
from onnxcost.render import render
from support.builders import model, zeros


@pytest.fixture(scope="module")
def report():
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["y"], name="pool"),
    ]
    return onnxcost.analyze_model(model(nodes, {"x": [1, 3, 8, 8]}, ["y"], {"W": zeros(4, 3, 3, 3), "B": zeros(4)}))


CONV_MACS = 4 * 8 * 8 * 3 * 3 * 3  # 4·8·8 outputs, 27 MACs each


def test_json_has_the_documented_keys_and_exact_integers(report):
    data = json.loads(render(report, "json"))
    for key in ["macs", "flops", "params", "param_bytes", "activation_bytes", "peak_activation_bytes",
                "memory_traffic_bytes", "compute_layers"]:
        assert isinstance(data["totals"][key], int), key
    assert data["totals"]["macs"] == CONV_MACS
    assert data["totals"]["params"] == 4 * 3 * 3 * 3 + 4
    assert [n["name"] for n in data["nodes"]] == ["conv", "relu", "pool"]
    for node in data["nodes"]:
        assert {"name", "op_type", "macs", "flops", "params", "output_shapes", "output_bytes",
                "memory_traffic_bytes"} <= set(node)
    assert data["nodes"][0]["output_shapes"] == [[1, 4, 8, 8]]
    assert set(data["by_op_type"]) == {"Conv", "Relu", "GlobalAveragePool"}
    assert data["warnings"] == []


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "md", "netron"])
def test_same_input_same_output_byte_for_byte(report, fmt):
    again = onnxcost.analyze_model(model(
        [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("GlobalAveragePool", ["r"], ["y"], name="pool")],
        {"x": [1, 3, 8, 8]}, ["y"], {"W": zeros(4, 3, 3, 3), "B": zeros(4)}))
    assert render(report, fmt) == render(again, fmt)


def test_csv_rows(report):
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [r["name"] for r in rows] == ["conv", "relu", "pool"]
    assert rows[0]["macs"] == str(CONV_MACS) and rows[0]["output_shapes"] == "1x4x8x8"


def test_netron_attachment(report):
    data = json.loads(render(report, "netron"))
    assert data["signature"] == "netron:attachment"
    macs = {(m["kind"], m["target"]): m["value"] for m in data["metrics"] if m["name"] == "macs"}
    assert macs[("node", "conv")] == CONV_MACS and macs[("model", "")] == CONV_MACS


def test_table_and_markdown_use_their_units(report):
    table = render(report, "table")
    assert "6.91 K" in table  # 6,912 MACs in human units
    assert "6,912" in table  # and exact in the totals
    assert "| MACs | 6,912 |" in render(report, "md")


def test_top_keeps_the_heaviest(report):
    data = json.loads(render(report, "json", top=1))
    assert [n["name"] for n in data["nodes"]] == ["conv"]
    assert data["totals"]["macs"] == CONV_MACS  # totals stay whole


# --- indented JSON: the same text as json.dumps(indent=...), written faster ------------------------------------

class _Level(enum.IntEnum):
    HIGH = 3


class _Ratio(float):
    def __repr__(self):  # json writes float subclasses with float.__repr__, not their own
        return "ratio"


def _numpy_scalar(value):
    return value.item()


JSON_VALUES = [
    {"schema": "onnxcost.report/1", "nodes": [{"index": 0, "inputs": ["x", ""], "output_shapes": [[1, 4], None, []]}]},
    {}, [], [{}], [[]], {"a": {}, "b": [], "c": [[], {}]}, (1, (2, 3)),
    "plain", "", 0, -7, 2**70, True, False, None, 1.5, -0.0, 1e-05, 1e22, 0.1 + 0.2,
    float("nan"), float("inf"), float("-inf"), [float("nan"), {"e": float("-inf")}],
    {"ünï": "ço∂é ✓ 😀", "ctrl": "tab\tnew\nline\u2028 quote\" back\\ nul\x00 del\x7f"},
    {1: "int key", 2.5: "float key", True: "bool key", None: "none key", "s": "str"},
    {False: 0, 0.0: 1},  # equal keys: json keeps the last value under the first key's text
    {"level": _Level.HIGH, "ratio": _Ratio(0.25), "levels": [_Level.HIGH]},
    [[[[[1]]]]],
    # the edges of orjson's path: 64-bit integers and past them, every character up to U+3000, a lone surrogate
    {"ints": [2**63 - 1, 2**63, 2**64 - 1, -2**63]}, [2**64], [-2**63 - 1], "".join(map(chr, range(0x3000))),
    ["\ud800"], {"nested": [[["deep", 1, None, True]], {"x": ()}]},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=range(len(JSON_VALUES)))
@pytest.mark.parametrize("indent", [1, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_indented_json_is_json_dumps_byte_for_byte(value, indent, ensure_ascii):
    from onnxcost.render.indented_json import dumps

    assert dumps(value, indent=indent, ensure_ascii=ensure_ascii) == json.dumps(value, indent=indent,
                                                                                 ensure_ascii=ensure_ascii)


def test_plain_values_take_orjson_and_floats_do_not():
    from onnxcost.render.indented_json import _orjson_writes_it

    assert _orjson_writes_it({"nodes": [{"index": 0, "shape": [1, 3], "name": "c", "f": None, "t": (True,)}]})
    assert not _orjson_writes_it({"nodes": [{"ratio": 0.5}]})  # '1e-05' would come out as '0.00001'
    assert not _orjson_writes_it([_Level.HIGH])  # a subclass: left to the standard rules


def test_indented_json_layout_by_hand():
    from onnxcost.render.indented_json import dumps

    # Two spaces per level, ',' at line ends, ': ' after keys, empty containers closed on the spot.
    assert dumps({"a": [1, {"b": None}], "c": [], "d": "é"}, indent=2) == (
        '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ],\n  "c": [],\n  "d": "\\u00e9"\n}'
    )


def test_indented_json_hands_other_objects_to_default():
    import numpy as np

    from onnxcost.render.as_json import json_text
    from onnxcost.render.indented_json import dumps

    record = {"error": np.float32(0.5), "count": np.int64(3), "shape": [np.int64(2)]}
    assert json_text(record) == '{\n  "error": 0.5,\n  "count": 3,\n  "shape": [\n    2\n  ]\n}\n'
    assert dumps(record, default=_numpy_scalar) == json.dumps(record, indent=2, default=_numpy_scalar)
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": object()})


def test_netron_attachment_of_a_report_with_free_dimensions():
    # The formulas a free dimension brings are not Netron metrics (they made the attachment fail to encode).
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="fc2")]
    free = onnxcost.analyze_model(model(nodes, {"x": ["batch", 64]}, ["y"], {"w1": zeros(64, 256), "w2": zeros(256, 64)}))
    assert free.formulas is not None
    metrics = json.loads(render(free, "netron"))["metrics"]
    model_wide = {m["name"]: m["value"] for m in metrics if m["kind"] == "model"}
    # at batch = 1: 64·256 + 256·64 = 32,768 MACs
    assert model_wide["macs"] == 32_768 and "formulas" not in model_wide
    assert {m["target"] for m in metrics if m["kind"] == "node"} == {"fc1", "fc2"}
