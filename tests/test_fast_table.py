"""The piped table written without rich (render/piped.py) is byte for byte what rich writes: rich is the reference.

Each report is rendered twice, piped (width None): as the command does, and with the fast path switched off so that
every table and line goes through rich's TextConsole as before. Reports: samples, formulas (with and without
ranges), --top, an op without a cost rule (the starred row and the footnote), names with wide, combining, control
and bidi characters, long titles that rich wraps or folds."""

from __future__ import annotations

import pytest
from onnx import helper

import onnxcost
from onnxcost import samples
from onnxcost.render import piped, render
from onnxcost.render.grid import Grid
from onnxcost.render.terminal import text_console
from support.builders import model, zeros


def through_rich(monkeypatch, produce):
    """What ``produce()`` returns with the piped fast path off (every object printed through rich)."""
    with monkeypatch.context() as patched:
        patched.setattr(piped, "_plain", lambda item: None)
        return produce()


def assert_same_as_rich(monkeypatch, report, **options):
    fast = render(report, "table", **options)
    assert fast == through_rich(monkeypatch, lambda: render(report, "table", **options))
    return fast


@pytest.fixture(scope="module")
def mobilenet_v2():
    return onnxcost.analyze_model(samples.build("mobilenet_v2"))


def test_mobilenet_v2_sample(monkeypatch, mobilenet_v2):
    text = assert_same_as_rich(monkeypatch, mobilenet_v2)
    # torchvision's MobileNet V2: 0.301 GMACs (Sandler et al.: 300M multiply-adds; test_zoo checks the count)
    assert "300.77 M" in text


@pytest.mark.parametrize("top", [1, 3, 10])
def test_top(monkeypatch, mobilenet_v2, top):
    text = assert_same_as_rich(monkeypatch, mobilenet_v2, top=top)
    assert text.startswith(f"Top {top} nodes by MACs")


@pytest.mark.parametrize("name", ["squeezenet1_1", "shufflenet_v2_x1_0"])
def test_other_samples(monkeypatch, name):
    assert_same_as_rich(monkeypatch, onnxcost.analyze_model(samples.build(name)))


def matmul_chain(x_shape):
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    return model(nodes, {"x": x_shape}, ["y"], {"w1": zeros(64, 256), "w2": zeros(256, 64)})


def test_formulas_with_and_without_ranges(monkeypatch):
    free = matmul_chain(["batch", "seq", 64])
    plain = assert_same_as_rich(monkeypatch, onnxcost.analyze(free))
    # fc1: 64·256 = 16,384 MACs per (batch, seq) position, shown as a formula
    assert "16.38 K·batch·seq" in plain
    ranged = assert_same_as_rich(monkeypatch, onnxcost.analyze(free, ranges={"batch": (1, 8)}))
    # batch 8, seq 1: 2 · 16,384 · 8 = 262,144 MACs at the top of the range
    assert "262.14 K" in ranged


def odd_names_model(names):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name=names[0], pads=[1] * 4),
             helper.make_node("Relu", ["c"], ["r"], name=names[1]),
             helper.make_node("Mystery", ["r"], ["y"], name=names[2], domain="my.domain")]
    return model(nodes, {"x": [1, 8, 16, 16]}, ["y"], {"w": zeros(16, 8, 3, 3)}, extra_opsets={"my.domain": 1})


NAMES = [
    ("层/卷积_😀_ｗｉｄｅ", "evil\x1b[2Jname\u202e", "custom op ünïcödé"),  # wide, control, bidi
    ("e\u0301" * 30, "tab\there", "  leading and trailing  "),  # combining marks: fewer cells than characters
    ("a" * 40, "word " * 12, "x"),  # a word longer than LONGEST_UNBROKEN_WORD, many short words
]


@pytest.mark.parametrize("names", NAMES, ids=range(len(NAMES)))
def test_odd_names_and_an_uncosted_op(monkeypatch, names):
    report = onnxcost.analyze(odd_names_model(names))
    text = assert_same_as_rich(monkeypatch, report)
    assert "Mystery*" in text and "* no cost rule" in text
    # conv: 16·16·16 outputs, 8·3·3 = 72 MACs each: 294,912
    assert "294,912" in text


@pytest.mark.parametrize("source", ["m.onnx", "/a/long folder name/with spaces/" * 3 + "model.onnx",
                                    "/" + "x" * 150 + ".onnx", "界" * 60])
def test_titles_rich_wraps_or_folds(monkeypatch, source):
    report = onnxcost.analyze(odd_names_model(NAMES[0]), source=source)
    assert_same_as_rich(monkeypatch, report)


def console_text(print_all) -> str:
    console, buffer = text_console(None)
    print_all(console)
    return buffer.getvalue()


GRIDS = {
    "empty cells and trailing spaces": ([("a", "left"), ("b", "right")], [("", "1  "), ("x y ", ""), (" ", " 2")]),
    "no rows": ([("only", "left"), ("header", "right")], []),
    "a cell with a newline (rich draws it)": ([("a", "left"), ("b", "right")], [("one\ntwo", "3\n4")]),
    "a missing trailing cell": ([("a", "left"), ("b", "right"), ("c", "left")], [("1",), ("2", "3")]),
}


@pytest.mark.parametrize("case", GRIDS)
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("title", [None, "T", "a title longer than the table it is the title of"])
def test_grids(monkeypatch, case, header, title):
    columns, rows = GRIDS[case]

    def grid():
        made = Grid(title=title, show_header=header)
        for name, justify in columns:
            made.add_column(name, justify=justify)
        for row in rows:
            made.add_row(*row)
        return made

    def print_all(console):
        console.print(grid())
        console.print(grid())

    assert console_text(print_all) == through_rich(monkeypatch, lambda: console_text(print_all))


@pytest.mark.parametrize("line", ["", "short", "x" * 160, "x" * 161, "word " * 40, "a\tb", "esc\x1b[2J"])
def test_plain_lines(monkeypatch, line):
    def print_all(console):
        console.print(line)

    assert console_text(print_all) == through_rich(monkeypatch, lambda: console_text(print_all))


def test_the_fast_path_is_the_one_taken(monkeypatch, mobilenet_v2):
    # The comparisons above would pass trivially if rich drew both: piped, rich's table module is never used.
    import rich.table

    monkeypatch.setattr(rich.table.Table, "__rich_console__", None)
    assert render(mobilenet_v2, "table").count("\n") > 152  # 152 nodes, a row each, and the totals
    assert render(mobilenet_v2, "table", top=3).startswith("Top 3 nodes by MACs")
    with pytest.raises(TypeError):  # the check works: through rich, the same table fails
        through_rich(monkeypatch, lambda: render(mobilenet_v2, "table"))


def test_cells_are_counted_as_rich_counts_them():
    # piped.cell_len counts ASCII and trailing share bars itself (no rich import), and asks rich for anything else.
    from rich.cells import cell_len as rich_cell_len

    from onnxcost.render.grid import BAR_EIGHTHS
    from onnxcost.render.piped import cell_len

    for text in ["  3.6% ███▎", BAR_EIGHTHS, "conv" + BAR_EIGHTHS, "█a", "漢字 ██", "é ▏", ""]:
        assert cell_len(text) == rich_cell_len(text), text
