"""The HTML pages, opened in headless Chromium with the network off: every chart drawn with marks, one table row
per node, sorting and filtering by hand, no request leaving the page, hostile names shown as text.

Screenshots go to pytest's temporary folder; their paths are printed (pytest -s shows them). Without Chromium
these tests skip, except in CI (CI=true), where they fail: CI installs it.
"""

from __future__ import annotations

import json
import time

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxcost
from onnxcost.render.html import render_html
from onnxcost.render.html_rewrite import render_rewrite_html
from support.browser import Page
from support.builders import model

# Every chart of the report page; each must hold at least one mark of non-zero size.
REPORT_CHARTS = ["macs", "params", "output", "memory", "op-types", "intensity"]
# VGG-16's six convs with 224·224·64·64·9 = 112·112·128·128·9 = 56·56·256·256·9 = 28·28·512·512·9 = 1,849,688,064 MACs.
HEAVIEST_VGG_CONVS = {"conv1_2", "conv2_2", "conv3_2", "conv3_3", "conv4_2", "conv4_3"}

CHART_MARKS = """[...document.querySelectorAll('figure.chart')].map(f => [f.dataset.chart,
    [...f.querySelectorAll('.mark')].filter(m => { const r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length])"""
ROWS = "document.querySelectorAll('#node-table tbody tr').length"
FIRST_ROW = "[...document.querySelector('#node-table tbody tr').cells].map(c => [c.textContent, c.title])"


def open_page(html: str, path) -> Page:
    path.write_text(html, encoding="utf-8")
    return Page.open(path)


def assert_offline(page: Page) -> None:
    assert page.requests == [page.url], "the page asked for something besides itself"
    assert page.errors == []


def test_vgg16_report_in_a_browser(vgg16, tmp_path):
    html = render_html(onnxcost.analyze(vgg16, source="vgg16.onnx"))
    print(f"\nVGG-16 report: {len(html.encode()):,} bytes")
    with open_page(html, tmp_path / "vgg16.html") as page:
        marks = dict(page.evaluate(CHART_MARKS))
        assert list(marks) == REPORT_CHARTS and all(marks.values()), marks
        assert marks["macs"] == 16  # 13 convs and 3 fully connected layers have MACs: one bar each
        assert page.evaluate(ROWS) == 37  # 13 convs, 13+2 ReLUs, 5 pools, flatten, 3 fully connected layers

        page.click("#node-table th:nth-child(5)")  # MACs: the heaviest first
        first = page.evaluate(FIRST_ROW)
        assert first[1][0] in HEAVIEST_VGG_CONVS
        assert first[4] == ["1.85 G", "1,849,688,064"]  # as the terminal shows it, exact on hover
        assert page.evaluate("document.querySelector('#node-table th:nth-child(5)').getAttribute('aria-sort')") == "descending"

        page.type("#node-filter", "conv")
        assert page.evaluate(ROWS) == 13
        assert page.evaluate("document.getElementById('node-status').textContent") == "rows 1-13 of 13 (filtered from 37)"
        page.evaluate("document.getElementById('node-filter').value = ''; "
                      "document.getElementById('node-filter').dispatchEvent(new Event('input'))")
        assert_offline(page)
        print(f"screenshot: {page.screenshot(tmp_path / 'vgg16.png')}")


def stack(blocks_per_stage: int = 500, widths=(32, 64, 128, 256, 64)) -> onnx.ModelProto:
    """Stages of blocks MatMul -> Add -> Relu -> Mul on x[1, width], one weight per stage shared by its blocks
    (the first block of a stage widens from the one before): 4 nodes per block."""
    nodes, weights, x, previous, block = [], {}, "x", widths[0], 0
    for stage, width in enumerate(widths):
        weights[f"w{stage}"] = np.full((width, width), 0.01, np.float32)
        weights[f"t{stage}"] = np.full((previous, width), 0.01, np.float32)
        weights[f"bias{stage}"] = np.full(width, 0.1, np.float32)
        for b in range(blocks_per_stage):
            name = f"block{block}"
            nodes += [helper.make_node("MatMul", [x, f"w{stage}" if b else f"t{stage}"], [f"{name}.mm"], name=f"{name}.matmul"),
                      helper.make_node("Add", [f"{name}.mm", f"bias{stage}"], [f"{name}.add"], name=f"{name}.add"),
                      helper.make_node("Relu", [f"{name}.add"], [f"{name}.relu"], name=f"{name}.relu"),
                      helper.make_node("Mul", [f"{name}.relu", f"bias{stage}"], [f"{name}.out"], name=f"{name}.scale")]
            x, block = f"{name}.out", block + 1
        previous = width
    return model(nodes, {"x": [1, widths[0]]}, [x], weights)


def test_10k_node_report_in_a_browser(tmp_path):
    report = onnxcost.analyze(stack(), source="stack-10k.onnx")
    assert len(report.nodes) == 10_000  # 5 stages · 500 blocks · 4 nodes
    started = time.perf_counter()
    html = render_html(report)
    rendered = time.perf_counter() - started
    print(f"\n10k-node report: {len(html.encode()):,} bytes, rendered in {rendered:.2f} s")
    assert len(html.encode()) < 4_000_000  # light enough to mail

    started = time.perf_counter()
    with open_page(html, tmp_path / "stack.html") as page:
        print(f"opened in {time.perf_counter() - started:.2f} s (Chromium's start included)")
        marks = dict(page.evaluate(CHART_MARKS))
        assert list(marks) == REPORT_CHARTS and all(marks.values()), marks
        assert page.evaluate(ROWS) == 100  # one page of the table
        page.click("#node-table th:nth-child(5)")
        first = page.evaluate(FIRST_ROW)
        # The heaviest MatMuls are stage 3's [1,256]·[256,256]: 65,536 MACs; its first block (1500) widens from
        # 128 (32,768 MACs), so the first of the heaviest is block 1501.
        assert first[1][0] == "block1501.matmul" and first[4][1] == "65,536"
        started = time.perf_counter()
        page.evaluate("const s = document.getElementById('node-page-size'); s.value = '0'; s.dispatchEvent(new Event('change'))")
        assert page.evaluate(ROWS) == 10_000
        print(f"all 10,000 rows drawn in {time.perf_counter() - started:.2f} s")
        page.evaluate("const t = document.getElementById('node-page-size'); t.value = '100'; t.dispatchEvent(new Event('change'))")
        assert_offline(page)
        print(f"screenshot: {page.screenshot(tmp_path / 'stack-10k.png')}")


HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def test_hostile_names_stay_text(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["<svg onload=window.pwned=3>"], name=HOSTILE),
             helper.make_node("<b>Op</b>", ["<svg onload=window.pwned=3>"], ["y"], name="a&b\u202egnp.exe", domain="evil.<i>")]
    report = onnxcost.analyze(model(nodes, {"x": [1, 4]}, ["y"], extra_opsets={"evil.<i>": 1}))
    html = render_html(report)
    assert HOSTILE not in html and "<b>Op</b>" not in html and "<svg onload" not in html and "\u202e" not in html
    with open_page(html, tmp_path / "hostile.html") as page:
        assert page.evaluate("window.pwned === undefined")
        assert page.evaluate("document.querySelectorAll('img, b, i:not(.legend i), svg[onload]').length") == 0
        names = page.evaluate("[...document.querySelectorAll('#node-table tbody td:nth-child(2)')].map(c => c.textContent)")
        assert names == [HOSTILE, "a&b\\u202egnp.exe"]  # the right-to-left override shown, not obeyed, as in the terminal
        assert "evil.<i>.<b>Op</b>" in page.evaluate("document.getElementById('warnings').textContent")
        assert_offline(page)


def test_rewrite_page_in_a_browser(tmp_path):
    from support.rewrite_models import resnet_block

    import onnxcost.passes as passes

    result = passes.rewrite(resnet_block(), passes.Separable(), passes.Rank(1))
    for layer, (original, emitted) in zip(result.plan.rewritten, [(0.030e-3, 0.020e-3), (0.040e-3, 0.025e-3)]):
        layer.timings = {"original": original, layer.emission: emitted}  # as --measure records them, in seconds
    html = render_rewrite_html(result, "resnet_block.onnx")
    # conv_a: 16 -> 32 channels, 3x3, stride 2 on 16x16: 8·8 outputs · 32 · 16 · 9 = 294,912 MACs before; rank 1:
    # depthwise 16 channels · 9 · 64 = 9,216 plus pointwise 16 -> 32 · 64 = 32,768, 41,984 MACs after.
    assert "294.91 K → 41.98 K" in html
    with open_page(html, tmp_path / "rewrite.html") as page:
        marks = dict(page.evaluate(CHART_MARKS))
        assert list(marks) == ["layers", "latency"] and marks["layers"] == 6, marks  # 2 layers · 3 figures
        layers = "[...document.querySelectorAll('#layers tbody tr')].map(r => r.cells[0].textContent)"
        assert page.evaluate(layers) == ["conv_a +bn_a", "conv_b +bn_b"]
        page.click("#layers th:nth-child(7)")  # MACs after, largest first
        assert page.evaluate(layers) == ["conv_b +bn_b", "conv_a +bn_a"]  # conv_b: 32 -> 32 on 8x8, 83,968 MACs after
        assert page.evaluate("document.querySelectorAll('#validation tbody tr').length") == 1
        assert "0.03 → 0.02 ms" in page.evaluate("document.getElementById('timings').textContent")
        assert "conv_s" in page.evaluate("document.getElementById('left').textContent")
        assert_offline(page)
        print(f"\nscreenshot: {page.screenshot(tmp_path / 'rewrite.png')}")


def test_same_report_same_page_byte_for_byte(vgg16):
    first = render_html(onnxcost.analyze(vgg16, source="vgg16.onnx"))
    assert render_html(onnxcost.analyze(vgg16, source="vgg16.onnx")) == first


def test_the_page_names_what_the_user_gave():
    built = model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": ["batch", 4]}, ["y"])
    html = render_html(onnxcost.analyze(built, dims={"batch": 8}), dims={"batch": 8})
    assert "dims given: batch=8" in html and "8x4" in html  # the input's shape with batch = 8


def node_rows(html: str) -> list[list]:
    """The node table's rows as the page holds them (its JSON block)."""
    block = html.split('<script type="application/json" id="node-data">', 1)[1].split("</script>", 1)[0]
    return json.loads(block)["rows"]


def test_top_keeps_the_heaviest_rows_and_every_chart(vgg16):
    html = render_html(onnxcost.analyze(vgg16), top=5)
    # Six convs tie at 1,849,688,064 MACs; FLOPs (2 per MAC plus one bias add per output) break the tie by the
    # outputs: 64·224·224 for conv1_2, 128·112·112 for conv2_2, 256·56·56 for conv3_x, 512·28·28 for conv4_x;
    # conv4_2 and conv4_3 tie on traffic too and keep their order.
    assert [row[1] for row in node_rows(html)] == ["conv1_2", "conv2_2", "conv3_2", "conv3_3", "conv4_2"]
    assert html.count('<rect class="mark"') > 16  # the charts still show every node


def test_without_chromium_ci_fails_and_elsewhere_skips(monkeypatch):
    from support import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        browser.chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        browser.chromium()


def test_report_command_writes_the_page(tmp_path):
    from typer.testing import CliRunner

    from onnxcost.cli import app

    target = tmp_path / "vgg16.html"
    result = CliRunner().invoke(app, ["report", "--sample", "vgg16", "-f", "html", "-o", str(target)])
    assert result.exit_code == 0, result.output
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "15,470,264,320" in page  # VGG-16's MACs, Simonyan & Zisserman
