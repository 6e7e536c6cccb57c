"""ShuffleNet V2's G1 and G2 on the paper's own settings (Ma et al. 2018, Tables 1 and 2: 56x56 feature maps,
hw = 3136), and the findings on a small model, all computed by hand."""

from __future__ import annotations

import json

import pytest
import typer
from onnx import helper
from typer.testing import CliRunner

from onnxcost.advice import advise, g1_bound, g1_flops, g1_mac, g2_mac, g2_mac_ungrouped, stacked_3x3
from onnxcost.cli.advise import advise as advise_command
from support.builders import model, zeros

HW = 56 * 56  # 3136

# Table 1: c1:c2 = 1:1, 1:2, 1:6, 1:12 at (about) equal FLOPs, the paper's "x1" column.
# MAC = hw·(c1 + c2) + c1·c2; bound = 2·sqrt(hw·B) + B/hw = 2·hw·sqrt(c1·c2) + c1·c2 (B = hw·c1·c2).
TABLE_1 = [
    # c1, c2, MAC, B, bound
    (128, 128, 3136 * 256 + 16384, 3136 * 16384, 2 * 3136 * 128 + 16384),   # 819,200 = 819,200: ratio 1
    (90, 180, 3136 * 270 + 16200, 3136 * 16200, 6272 * 127.2792206 + 16200),  # 862,920 vs 814,495.27: 1.05945
    (52, 312, 3136 * 364 + 16224, 3136 * 16224, 6272 * 127.3734666 + 16224),  # 1,157,728 vs 815,110.38: 1.42033
    (36, 432, 3136 * 468 + 15552, 3136 * 15552, 6272 * 124.7076581 + 15552),  # 1,483,200 vs 797,718.43: 1.85930
]


@pytest.mark.parametrize("c1, c2, mac, flops, bound", TABLE_1)
def test_g1_on_table_1(c1, c2, mac, flops, bound):
    assert g1_mac(HW, c1, c2) == mac
    assert g1_flops(HW, c1, c2) == flops
    assert g1_bound(HW, flops) == pytest.approx(bound, rel=1e-9)
    assert mac >= bound  # the bound holds, with equality at 1:1 only


def test_g1_table_1_settings_have_equal_flops_and_growing_mac():
    flops = [g1_flops(HW, c1, c2) for c1, c2, *_ in TABLE_1]
    assert max(flops) / min(flops) < 1.06  # 51,380,224 / 48,771,072 = 1.0535: the paper's rounded channels
    ratios = [g1_mac(HW, c1, c2) / g1_bound(HW, g1_flops(HW, c1, c2)) for c1, c2, *_ in TABLE_1]
    assert ratios == pytest.approx([1.0, 1.0594537, 1.4203328, 1.8593027], rel=1e-6)


# Table 2: g = 1, 2, 4, 8 with c1 = c2 = c chosen for equal FLOPs B = hw·c²/g (c = 128, 180, 256, 360).
# MAC = hw·(c + c) + c·c/g.
# The g = 1 conv of the same FLOPs has c/sqrt(g) channels (128, 127.28, 128, 127.28): its MAC is
# 2·hw·c/sqrt(g) + c²/g, Table 1's 1:1 setting at about 128 channels.
TABLE_2 = [
    # g, c, MAC, B, MAC of the g = 1 twin
    (1, 128, 6272 * 128 + 16384, 3136 * 16384, 819200),                   # 802,816 + 16,384 = 819,200
    (2, 180, 6272 * 180 + 32400 / 2, 3136 * 32400 // 2, 814495.2716884),  # 1,128,960 + 16,200; 6,272·127.2792 + 16,200
    (4, 256, 6272 * 256 + 65536 / 4, 3136 * 65536 // 4, 819200),          # 1,605,632 + 16,384; 6,272·128 + 16,384
    (8, 360, 6272 * 360 + 129600 / 8, 3136 * 129600 // 8, 814495.2716884),  # 2,257,920 + 16,200; as g = 2
]


@pytest.mark.parametrize("g, c, mac, flops, ungrouped", TABLE_2)
def test_g2_on_table_2(g, c, mac, flops, ungrouped):
    assert g2_mac(HW, c, c, g) == mac
    assert abs(flops - 3136 * 16384) / (3136 * 16384) < 0.012  # equal FLOPs: 51,380,224 or 50,803,200
    assert g2_mac_ungrouped(HW, c, c, g) == pytest.approx(ungrouped, rel=1e-9)


def test_g2_mac_grows_with_groups_as_in_table_2():
    macs = [g2_mac(HW, c, c, g) for g, c, *_ in TABLE_2]
    assert macs == [819200, 1145160, 1622016, 2274120]
    # g = 8 against its ungrouped twin: 2,274,120 / (2·3136·127.2792 + 16,200 = 814,495.27) = 2.7921
    assert macs[3] / g2_mac_ungrouped(HW, 360, 360, 8) == pytest.approx(2.7920604, rel=1e-6)


def test_stacked_3x3_fields():
    assert stacked_3x3(5, 1) == (2, 5)  # 3 + 2·1·1
    assert stacked_3x3(7, 1) == (3, 7)  # VGG: three 3x3 for a 7x7
    assert stacked_3x3(7, 2) == (2, 7)  # stride 2 on the first: 3 + 2·2·1
    assert stacked_3x3(5, 2) == (2, 7)  # one 3x3 is not enough; two reach 7


def conv(name, x, y, cin, cout, k, w, group=1, pad=0):
    w[f"{name}.w"] = zeros(cout, cin // group, k, k)
    return helper.make_node("Conv", [x, f"{name}.w"], [y], name=name, group=group, pads=[pad] * 4)


def small_model():
    """x 1x16x8x8 -> 1x1 16->64 -> Relu -> 1x1 64->64 g4 -> dw 3x3 -> 5x5 64->64 -> Add(., relu) ->
    [1x1 64->32 | 3x3 64->32] -> Concat. hw = 64 everywhere, float32 (4 bytes)."""
    w = {}
    nodes = [
        conv("c1", "x", "a", 16, 64, 1, w),
        helper.make_node("Relu", ["a"], ["r"], name="relu"),
        conv("grouped", "r", "b", 64, 64, 1, w, group=4),
        conv("dw", "b", "d", 64, 64, 3, w, group=64, pad=1),
        conv("c5", "d", "e", 64, 64, 5, w, pad=2),
        helper.make_node("Add", ["e", "r"], ["s"], name="add"),
        conv("p1", "s", "q1", 64, 32, 1, w),
        conv("p2", "s", "q2", 64, 32, 3, w, pad=1),
        helper.make_node("Concat", ["q1", "q2"], ["y"], name="concat", axis=1),
    ]
    return model(nodes, {"x": [1, 16, 8, 8]}, ["y"], w)


@pytest.fixture(scope="module")
def small_advice():
    return advise(small_model())


def by_node(advice, guideline):
    return {f.node: f for f in advice.findings if f.guideline == guideline}


def test_g1_findings_on_a_small_model(small_advice):
    g1 = by_node(small_advice, "G1")
    assert set(g1) == {"c1", "p1"}  # 'grouped' has g = 4, the others are not 1x1
    # c1: 64·(16 + 64) + 16·64 = 6,144; B = 64·1024 = 65,536; bound = 2·sqrt(64·65,536) + 65,536/64 = 4,096 + 1,024
    assert g1["c1"].figures["mac"] == 6144 and g1["c1"].figures["bound"] == 5120.0
    assert g1["c1"].figures["ratio"] == 1.2
    assert g1["c1"].saving == (6144 - 5120) * 4 and g1["c1"].unit == "bytes"
    # p1: 64·(64 + 32) + 2,048 = 8,192; bound = 2·sqrt(64·131,072) + 2,048 = 5,792.62 + 2,048 = 7,840.62
    assert g1["p1"].figures["mac"] == 8192 and g1["p1"].figures["bound"] == 7840.6
    assert g1["p1"].saving == 1406  # (8,192 − 7,840.62)·4 = 1,405.5


def test_g2_finding_skips_depthwise(small_advice):
    g2 = by_node(small_advice, "G2")
    assert set(g2) == {"grouped"}  # dw has g = c1 = 64: depthwise is not listed
    # MAC = 64·64 + 64·64 + 1·64·64/4 = 9,216; ungrouped, same FLOPs: (4,096 + 4,096)/sqrt(4) + 1,024 = 5,120
    assert g2["grouped"].figures["mac"] == 9216 and g2["grouped"].figures["mac_g1"] == 5120.0
    assert g2["grouped"].figures["ratio"] == 1.8
    assert g2["grouped"].saving == (9216 - 5120) * 4


def test_vgg_lesson_on_the_5x5(small_advice):
    vgg = by_node(small_advice, "VGG")
    assert set(vgg) == {"c5"}
    figures = vgg["c5"].figures
    # 25·64·64 = 102,400 weights; two 3x3 (field 5): 9·64·(64 + 64) = 73,728; 28,672 fewer, times hw 64 MACs
    assert (figures["params"], figures["params_stacked"], figures["params_saved"]) == (102400, 73728, 28672)
    assert figures["macs_saved"] == 64 * 28672 and figures["field"] == 5
    assert vgg["c5"].saving == 28672 * 4


def test_g3_the_two_branch_block(small_advice):
    g3 = by_node(small_advice, "G3")
    # the Add joins the 5x5 path and an identity: one branch with convs, not a finding; p1 | p2 -> concat is:
    assert list(g3) == ["p1..concat"]
    figures = g3["p1..concat"].figures
    assert (figures["ops"], figures["branches"], figures["compute_branches"]) == (3, 2, 2)
    assert (figures["longest_path"], figures["off_path"]) == (2, 1)  # p2 -> concat; p1 beside it
    assert g3["p1..concat"].saving == 1 and g3["p1..concat"].unit == "ops"


def test_g4_share_of_traffic(small_advice):
    (g4,) = by_node(small_advice, "G4").values()
    # Relu: 16,384 read + 16,384 written; Add: 2·16,384 + 16,384 = 81,920 bytes of element-wise traffic.
    # All traffic, inputs + weights + outputs: c1 4,096+4,096+16,384; relu 32,768; grouped 16,384+4,096+16,384;
    # dw 16,384+2,304+16,384; c5 16,384+409,600+16,384; add 49,152; p1 16,384+8,192+8,192;
    # p2 16,384+73,728+8,192; concat 16,384+16,384 = 784,640
    assert g4.figures["traffic_bytes"] == 81920 and g4.figures["total_traffic_bytes"] == 784640
    assert g4.figures["traffic_share"] == round(81920 / 784640, 4)
    assert g4.figures["flops"] == 64 * 64 * 2  # one FLOP per element each
    assert g4.saving == 81920


def test_findings_are_ranked_by_bytes_saved_then_ops(small_advice):
    order = [(f.guideline, f.node) for f in small_advice.findings]
    # VGG 114,688 > G4 81,920 > G2 16,384 > G1 c1 4,096 > G1 p1 1,406 bytes, then G3 in ops
    assert order == [("VGG", "c5"), ("G4", ""), ("G2", "grouped"), ("G1", "c1"), ("G1", "p1"), ("G3", "p1..concat")]
    summary = {s.guideline: s for s in small_advice.summary}
    assert (summary["G1"].findings, summary["G1"].saving, summary["G1"].worst_node) == (2, 4096 + 1406, "c1")
    assert summary["G2"].worst == 1.8


def run(*args: str):
    app = typer.Typer()
    app.command()(advise_command)

    @app.callback()
    def _root() -> None:
        """A local app: the command is registered in onnxcost.cli by the CLI's owner."""

    return CliRunner().invoke(app, ["advise", *args])


def test_cli_formats(tmp_path):
    path = tmp_path / "small.onnx"
    path.write_bytes(small_model().SerializeToString())
    result = run(str(path), "-f", "json", "--top", "2")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert list(record)[:2] == ["schema", "model"] and record["schema"] == "onnxcost.advice/1"
    assert [f["guideline"] for f in record["findings"]] == ["VGG", "G4"]
    md = run(str(path), "-f", "md")
    assert md.exit_code == 0 and "| 1 | VGG | `c5` | 112.0 KiB |" in md.stdout
    table = run(str(path))
    assert table.exit_code == 0 and "MAC = hw·(c1 + c2) + c1·c2 = 64·(16 + 64) + 16·64 = 6,144" in table.stdout


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    result = run(str(tmp_path / "missing.onnx"))
    assert result.exit_code == 2
    assert run("--sample", "nope").exit_code == 2
