"""Strings from a file reach the terminal and the text formats escaped, never interpreted; JSON keeps them exact."""

import json

import pytest
from onnx import helper

import onnxcost
from onnxcost.render import render
from onnxcost.render.safe_console import SafeConsole
from onnxcost.render.sanitize import terminal_safe, visible
from support.builders import model

ESC_NAME = "evil\x1b[2J\x1b[31mRED"  # clears the screen, turns it red
RLO_NAME = "sig\u202egnp.exe"  # shows as 'sigexe.png'
MARKUP_NAMES = ["[/bogus]", "conv[red]", ":warning:"]  # a MarkupError, a colour tag, an emoji code for rich


@pytest.mark.parametrize("text, shown", [
    ("evil\x1b[2J", "evil\\x1b[2J"),
    ("a\nerror: forged", "a\\nerror: forged"),
    ("tab\there\rcr", "tab\\there\\rcr"),
    ("nul\x00del\x7f", "nul\\x00del\\x7f"),
    ("csi\x9b31m", "csi\\u009b31m"),  # C1: an 8-bit CSI some terminals obey
    (RLO_NAME, "sig\\u202egnp.exe"),
    ("isolate\u2066x\u2069", "isolate\\u2066x\\u2069"),
    ("line\u2028sep", "line\\u2028sep"),
    ("conv1/dw é 中文 [red]", "conv1/dw é 中文 [red]"),  # printable text, other scripts and brackets as they are
])
def test_visible_escapes_what_would_act_on_the_terminal(text, shown):
    assert visible(text) == shown


def test_terminal_safe_keeps_the_layout_and_json_stays_exact():
    assert terminal_safe("a\tb\nc\x1b") == "a\tb\nc\\x1b"
    record = {"name": RLO_NAME + "\x85" + ESC_NAME}
    text = terminal_safe(json.dumps(record, ensure_ascii=False))
    assert "\u202e" not in text and "\x85" not in text
    assert json.loads(text) == record  # \u202e and \u0085 are JSON escapes of the same characters


@pytest.fixture(scope="module")
def hostile_report():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name=ESC_NAME), helper.make_node("Sigmoid", ["a"], ["b"], name=RLO_NAME)]
    previous = "b"
    for index, name in enumerate(MARKUP_NAMES):
        nodes.append(helper.make_node("Relu", [previous], [f"m{index}"], name=name))
        previous = f"m{index}"
    return onnxcost.analyze(model(nodes, {"x": [1, 4]}, [previous]))


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_text_formats_show_names_escaped_and_markup_as_written(hostile_report, fmt):
    text = render(hostile_report, fmt)
    assert "\x1b" not in text and "\u202e" not in text
    assert "evil\\x1b[2J\\x1b[31mRED" in text and "sig\\u202egnp.exe" in text
    for name in MARKUP_NAMES:
        assert name in text


def test_json_keeps_the_exact_names(hostile_report):
    nodes = json.loads(render(hostile_report, "json"))["nodes"]
    assert [row["name"] for row in nodes] == [ESC_NAME, RLO_NAME, *MARKUP_NAMES]


def test_the_console_prints_markup_and_emoji_codes_as_written():
    console = SafeConsole(width=200, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print("[/bogus] conv[red] :warning: \x1b[2J")
    assert captured.get() == "[/bogus] conv[red] :warning: \\x1b[2J\n"


@pytest.mark.parametrize("char", [chr(code) for code in range(0x80)])
def test_terminal_safe_on_ascii_escapes_exactly_the_controls(char):
    # ASCII text takes a shortcut (the safe bytes deleted in C): every ASCII character, alone and in a line.
    expected = char if char in "\t\n" or 0x20 <= ord(char) < 0x7F else \
        {"\r": "\\r"}.get(char, f"\\x{ord(char):02x}")
    assert terminal_safe(char) == expected
    assert terminal_safe(f"name {char} end\n") == f"name {expected} end\n"
