"""No terminal table ever cuts a number or a header: the report, rewrite, validate and diff tables rendered at 60,
100 and 250 columns and piped (width None). Every table printed is captured with its cells; each cell must come out
whole: a number (right-aligned) on one line, a header and every word of a left-aligned cell unbroken (only words
longer than LONGEST_UNBROKEN_WORD, long node names, may fold)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxcost
import onnxcost.passes as passes
from onnxcost.render import render, render_rewrite, render_validation
from onnxcost.render.diff import render_diff
from onnxcost.render.grid import Grid
from onnxcost.render.piped import PipedConsole
from onnxcost.render.piped import LONGEST_UNBROKEN_WORD
from onnxcost.render.terminal import share_bar
from onnxcost.render.text_console import TextConsole
from support.builders import model
from support.rewrite_models import resnet_block

WIDTHS = [60, 100, 250, None]  # None: piped


@pytest.fixture()
def printed_tables(monkeypatch):
    """The tables each rendering prints, as (header, justify, cells) per column: the rich tables as TextConsole
    fitted them (optional columns dropped) and the Grids the piped console wrote without rich."""
    tables = []
    original_fit, original_piped = TextConsole._fit, PipedConsole.print

    def fitting(self, table):
        original_fit(self, table)
        tables.append(_columns(table))

    def piped(self, *objects, **options):
        original_piped(self, *objects, **options)
        tables.extend(_columns(table) for table in objects if isinstance(table, Grid))

    monkeypatch.setattr(TextConsole, "_fit", fitting)
    monkeypatch.setattr(PipedConsole, "print", piped)
    return tables


def _columns(table) -> list:
    return [(str(c.header) if table.show_header else "", c.justify, [str(x) for x in c.cells]) for c in table.columns]


def assert_nothing_cut(text: str, tables: list) -> None:
    lines = text.splitlines()
    assert tables, "no table was printed"
    for columns in tables:
        for header, justify, cells in columns:
            for word in header.split():
                assert any(word in line for line in lines), f"header word {word!r} cut"
            for cell in cells:
                if justify == "right":
                    for part in cell.splitlines():
                        assert any(part in line for line in lines), f"number {part!r} cut"
                else:
                    for word in cell.split():
                        if len(word) <= LONGEST_UNBROKEN_WORD:
                            assert any(word in line for line in lines), f"word {word!r} of {cell!r} cut"


def long_named_block():
    """A conv, a very long node name and a BatchNormalization: the columns a narrow terminal squeezes."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="backbone.stage4.block12.depthwise_conv_with_a_long_name", pads=[1] * 4),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return model(nodes, {"x": [1, 16, 56, 56]}, ["y"], {"w": np.ones((32, 16, 3, 3), np.float32)})


@pytest.mark.parametrize("width", WIDTHS)
def test_report_tables(width, printed_tables):
    text = render(onnxcost.analyze(long_named_block()), "table", width=width)
    assert_nothing_cut(text, printed_tables)
    # 56·56·32·16·9 = 14,450,688 MACs in the conv, all of the model's
    assert "14,450,688" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_rewrite_tables(width, printed_tables):
    result = passes.rewrite(resnet_block(), passes.Separable(), passes.Rank(1))
    text = render_rewrite(result, "table", "resnet_block.onnx", width=width)
    assert_nothing_cut(text, printed_tables)
    # conv_a: 294,912 MACs before; rank 1: 16·9·64 + 16·32·64 = 41,984 after (see test_html)
    assert "294.91 K -> 41.98 K" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_validate_tables(width, printed_tables, tmp_path):
    a = long_named_block()
    result = onnxcost.validate(a, a)
    text = render_validation(result, "table", width=width)
    assert_nothing_cut(text, printed_tables)


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_tables(width, printed_tables):
    before = onnxcost.analyze(long_named_block())
    after = onnxcost.analyze(resnet_block())
    text = render_diff(onnxcost.diff(before, after), "table", width=width)
    assert_nothing_cut(text, printed_tables)


def test_piped_tables_print_in_full():
    text = render(onnxcost.analyze(long_named_block()), "table", width=None)
    # piped: nothing wraps, so the long name is on one line with its numbers
    assert any("backbone.stage4.block12.depthwise_conv_with_a_long_name" in line and "14.45 M" in line
               for line in text.splitlines())


def test_a_narrow_terminal_drops_optional_columns_and_says_so():
    text = render(onnxcost.analyze(long_named_block()), "table", width=60)
    assert "left out for this terminal's width: MACs share" in text
    assert "MACs share" not in text.split("left out")[0]


def test_share_bar():
    # 12% of the model, the heaviest node: 6 full cells; half of the heaviest: 3 cells; an eighth of a cell at least
    assert share_bar(12, 100, 12) == " 12.0% ██████"
    assert share_bar(6, 100, 12) == "  6.0% ███"
    assert share_bar(1, 1000, 12) == "  0.1% ▌"  # 1/12 of 6 cells = 4 eighths
    assert share_bar(1, 100_000, 1000) == "  0.0% ▏"  # 0.048 cell: an eighth, never nothing
    assert share_bar(0, 100, 12) == ""
