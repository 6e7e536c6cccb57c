"""onnxcost check: budgets on totals and on growth against a baseline, from flags or pyproject.toml, and the
formats CI systems read (JSON, JUnit XML, Markdown). Exit 0 when every budget holds, 1 when one fails, 2 for
bad input."""

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import onnxcost
from onnxcost.budgets import BudgetError, check, check_report, parse_budgets
from onnxcost.render.as_json import render_json
from support.builders import one_node, zeros

VGG16_MACS, VGG16_PARAMS = 15_470_264_320, 138_357_544  # published (Simonyan & Zisserman), at 224x224


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "onnxcost", "check", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory, vgg16):
    from onnxcost.files import save_with_external_data

    # Weights beside the model: the check reads the graph only, as it does for any large model.
    return save_with_external_data(vgg16, tmp_path_factory.mktemp("vgg16") / "vgg16.onnx")


def test_vgg16_one_mac_below_fails_and_its_exact_macs_pass(vgg16_file):
    below = run(vgg16_file, "--max-macs", VGG16_MACS - 1)
    assert below.returncode == 1
    assert "FAIL" in below.stdout
    assert below.stderr.splitlines() == [f"error: {vgg16_file}: 1 of 1 budget failed: max-macs (15,470,264,320 > "
                                         "15,470,264,319)"]
    exact = run(vgg16_file, "--max-macs", VGG16_MACS, "--max-params", VGG16_PARAMS, "-f", "json")
    assert exact.returncode == 0, exact.stderr
    data = json.loads(exact.stdout)
    assert data["schema"] == "onnxcost.check/1" and data["ok"] is True
    assert [(row["name"], row["actual"], row["margin"]) for row in data["budgets"]] == [
        ("max-macs", VGG16_MACS, 0), ("max-params", VGG16_PARAMS, 0)]


def test_vgg16_through_the_api(vgg16):
    result = check(vgg16, {"max-macs": "15.47G", "max-param-bytes": "30MB"})
    # 15.47 G = 15,470,000,000: 264,320 MACs under VGG-16's; its 138,357,544 float32 weights are 553,430,176 bytes.
    assert [(row.name, row.limit, row.margin, row.ok) for row in result.rows] == [
        ("max-macs", 15_470_000_000, -264_320, False), ("max-param-bytes", 30_000_000, 30_000_000 - 553_430_176, False)]
    assert not result.ok and result.to_dict()["failed"] == 2


def matmul(k):
    """x [1, k] · W [k, 10]: 1·k·10 MACs and k·10 parameters."""
    return one_node("MatMul", {"x": [1, k]}, {"W": zeros(k, 10)})


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A base of 10,000 MACs (K=1000), its report saved as JSON, and the model grown by 1%, 2% and 3% in K."""
    folder = tmp_path_factory.mktemp("growth")
    paths = {}
    for name, k in {"base": 1000, "grown1": 1010, "grown2": 1020, "grown3": 1030}.items():
        paths[name] = folder / f"{name}.onnx"
        paths[name].write_bytes(matmul(k).SerializeToString())
    paths["base.json"] = folder / "base.json"
    paths["base.json"].write_text(render_json(onnxcost.analyze(paths["base"])))  # what `report -f json` writes
    return paths


@pytest.mark.parametrize("model, code, actual", [
    ("grown3", 1, 10_300),  # 1030·10 MACs: +3%
    ("grown2", 0, 10_200),  # exactly +2%: at the limit, which holds
    ("grown1", 0, 10_100),  # +1%
])
def test_growth_against_a_saved_baseline(grown, model, code, actual):
    result = run(grown[model], "--baseline", grown["base.json"], "--max-growth", "macs=2%", "-f", "json")
    assert result.returncode == code, result.stderr
    [row] = json.loads(result.stdout)["budgets"]
    # The limit is 10,000 · 1.02 = 10,200 MACs.
    assert (row["name"], row["baseline"], row["limit"], row["actual"]) == ("max-growth-macs", 10_000, 10_200, actual)
    assert row["margin"] == 10_200 - actual and row["growth_percent"] == (actual - 10_000) / 100
    if code:
        assert result.stderr.splitlines() == [f"error: {grown[model]}: 1 of 1 budget failed: max-growth-macs "
                                              "(+3.00% > +2%: 10,300 against 10,000)"]


def test_a_model_file_is_a_baseline_too(grown):
    result = check(grown["grown3"], {"max-growth": "macs=2%,params=5%"}, baseline=grown["base"])
    # Parameters grow as MACs: 10,300 against at most 10,000 · 1.05 = 10,500.
    assert [(row.name, row.limit, row.actual, row.ok) for row in result.rows] == [
        ("max-growth-macs", 10_200, 10_300, False), ("max-growth-params", 10_500, 10_300, True)]
    assert result.baseline == str(grown["base"])


def test_check_report_is_pure_and_needs_a_baseline_for_growth(grown):
    report = onnxcost.analyze(grown["grown1"])
    assert check_report(report, parse_budgets({"max-macs": "10K"})).rows[0].margin == -100  # 10,000 - 10,100
    assert check_report(report, parse_budgets({})).ok  # nothing to fail (audit rows without budgets)
    with pytest.raises(BudgetError, match="needs a baseline"):
        check_report(report, parse_budgets({"max-growth": "macs=2%"}))


PYPROJECT = """
[tool.onnxcost]
max-params = "1M"

[tool.onnxcost.budgets."small/*.onnx"]
max-macs = "10K"

[tool.onnxcost.budgets."big/*.onnx"]
max-macs = "20K"
max-growth = "macs=2%"
baseline = "baselines/{stem}.json"
"""


@pytest.fixture
def repo(tmp_path, grown):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    for folder in ("small", "big", "baselines"):
        (tmp_path / folder).mkdir()
    for name in ("base", "grown3"):
        shutil.copy(grown[name], tmp_path / "small" / f"{name}.onnx")
    for name in ("grown1", "grown3"):
        shutil.copy(grown[name], tmp_path / "big" / f"{name}.onnx")
        shutil.copy(grown["base.json"], tmp_path / "baselines" / f"{name}.json")  # both grew from the base
    return tmp_path


@pytest.mark.parametrize("model, code, failed", [
    ("small/base.onnx", 0, []),  # 10,000 MACs against 10K
    ("small/grown3.onnx", 1, ["max-macs"]),  # 10,300 against 10K
    ("big/grown1.onnx", 0, []),  # under 20K, +1% against its baseline
    ("big/grown3.onnx", 1, ["max-growth-macs"]),  # under 20K, but +3%
])
def test_budgets_from_pyproject_with_two_globs(repo, model, code, failed):
    result = run(f"../{model}", "-f", "json", cwd=repo / "small")  # the config is found in the folder above
    assert result.returncode == code, result.stderr
    data = json.loads(result.stdout)
    assert [row["name"] for row in data["budgets"] if not row["ok"]] == failed
    rows = {row["name"]: row for row in data["budgets"]}
    assert rows["max-params"]["limit"] == 1_000_000
    assert rows["max-params"]["source"].endswith("pyproject.toml [tool.onnxcost]")
    folder = model.partition("/")[0]
    assert rows["max-macs"]["source"].endswith(f'pyproject.toml [tool.onnxcost.budgets."{folder}/*.onnx"]')


def test_flags_win_over_the_config(repo):
    assert run("small/grown3.onnx", cwd=repo).returncode == 1
    result = run("small/grown3.onnx", "--max-macs", "11K", "-f", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["budgets"]}
    assert (rows["max-macs"]["limit"], rows["max-macs"]["source"]) == (11_000, "command line")


def test_an_explicit_config_file(repo, grown, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cwd")
    result = run(repo / "small" / "grown3.onnx", "--config", repo / "pyproject.toml", cwd=elsewhere)
    assert result.returncode == 1 and "max-macs" in result.stderr
    assert run(grown["grown3"], "--config", elsewhere / "missing.toml").stderr.startswith("error: ")


# The structure of the JUnit schema that Jenkins' xUnit plugin validates against (junit-10.xsd), which GitLab,
# GitHub test-report actions and others read too: element -> (children allowed, attributes allowed, required).
_CONTENT = ({"type", "message"}, set())
JUNIT_10 = {
    "testsuites": ({"testsuite"}, {"name", "time", "tests", "failures", "errors"}, set()),
    "testsuite": ({"testsuite", "properties", "testcase", "system-out", "system-err"},
                  {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
                   "package", "file", "log", "url"}, {"name", "tests", "failures", "errors"}),
    "properties": ({"property"}, set(), set()),
    "property": (set(), {"name", "value"}, {"name", "value"}),
    "testcase": ({"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure", "flakyError",
                  "system-out", "system-err"}, {"name", "time", "classname", "group"}, {"name"}),
    "failure": (set(), *_CONTENT), "error": (set(), *_CONTENT), "skipped": (set(), *_CONTENT),
    "system-out": (set(), set(), set()), "system-err": (set(), set(), set()),
}


def validate_junit(element):
    children, allowed, required = JUNIT_10[element.tag]
    assert set(element.attrib) <= allowed and required <= set(element.attrib), (element.tag, element.attrib)
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        validate_junit(child)
    if element.tag in ("testsuites", "testsuite"):  # the counts agree with the cases
        cases = element.findall(".//testcase")
        assert int(element.get("tests")) == len(cases)
        assert int(element.get("failures")) == sum(len(case.findall("failure")) for case in cases)
        assert int(element.get("errors")) == 0


def test_junit_is_one_suite_with_a_case_per_budget(vgg16_file, tmp_path):
    target = tmp_path / "check.xml"
    result = run(vgg16_file, "--max-macs", VGG16_MACS - 1, "--max-params", VGG16_PARAMS, "-f", "junit", "-o", target)
    assert result.returncode == 1 and result.stdout == ""
    root = ET.parse(target).getroot()
    assert root.tag == "testsuites"
    validate_junit(root)
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"max-macs", "max-params"} and cases["max-macs"].get("classname") == str(vgg16_file)
    assert cases["max-params"].find("failure") is None
    message = cases["max-macs"].find("failure").get("message")
    assert message == "MACs 15,470,264,320 is over the limit 15,470,264,319 by 1"


def test_junit_escapes_what_xml_cannot_hold_as_is(grown, tmp_path):
    odd = tmp_path / 'a&b<c>"d\'.onnx'
    shutil.copy(grown["grown3"], odd)
    result = run(odd, "--baseline", grown["base.json"], "--max-growth", "macs=2%", "-f", "junit")
    assert result.returncode == 1
    root = ET.fromstring(result.stdout)
    validate_junit(root)
    case = root.find("testsuite/testcase")
    assert (case.get("name"), case.get("classname")) == ("max-growth-macs", str(odd))
    assert case.find("failure").get("message") == ("MACs grew +3.00% (10,000 to 10,300), more than the +2% allowed "
                                                   "(at most 10,200)")


def test_markdown_summary_for_a_pull_request(grown):
    result = run(grown["grown3"], "--baseline", grown["base.json"], "--max-growth", "macs=2%", "--max-params", "1M",
                 "-f", "md")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"### ❌ onnxcost check: `{grown['grown3']}`: 1 of 2 budgets failed"
    assert "| `max-params` |  |  | 1,000,000 | 10,300 | +989,700 | ✅ ok |" in lines
    assert "| `max-growth-macs` | 10,000 | +3.00% (max +2%) | 10,200 | 10,300 | -100 | ❌ **FAIL** |" in lines


def test_the_table_shows_human_units_and_exact_integers(vgg16_file):
    result = run(vgg16_file, "--max-macs", "16G", "--max-peak-memory", "64MiB")
    assert result.returncode == 0, result.stderr
    macs = next(line for line in result.stdout.splitlines() if "max-macs" in line).split()
    # 16 G limit, 15.47 G actual, margin 16,000,000,000 - 15,470,264,320 = 529,735,680.
    assert macs == ["max-macs", "16.00", "G", "(16,000,000,000)", "15.47", "G", "(15,470,264,320)", "529.74", "M",
                    "(529,735,680)", "ok"]
    assert "64.0 MiB (67,108,864)" in result.stdout and "2 of 2 budgets hold" in result.stdout


@pytest.mark.parametrize("args, message", [
    ([], "no budget to check"),
    (["--max-macs", "5GiB"], "--max-macs '5GiB': MACs are counted, not bytes"),
    (["--max-params", "lots"], "--max-params 'lots'"),
    (["--max-growth", "macs=2%"], "max-growth needs a baseline"),
    (["--baseline", "BASE"], "but no max-growth budget"),
    (["--max-growth", "flops:2"], "expected METRIC=PERCENT"),
    (["--max-macs", "5G", "-f", "xml"], "Invalid value for '--format'"),
    (["--max-macs", "5G", "--config", "missing.toml"], "missing.toml: no such file"),
])
def test_bad_input_is_one_line_and_exit_2(grown, tmp_path, args, message):
    args = [grown["base.json"] if a == "BASE" else a for a in args]
    result = run(grown["grown1"], *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_broken_config_found_on_the_way_up_is_exit_2(grown, tmp_path):
    (tmp_path / "onnxcost.toml").write_text("max-macs = [\n")
    result = run(grown["grown1"], "--max-macs", "5G", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: onnxcost.toml: not valid TOML")


def test_missing_model_is_exit_2(tmp_path):
    result = run(tmp_path / "nope.onnx", "--max-macs", "5G")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_json_record_keys_in_order(grown):
    result = run(grown["grown1"], "--max-macs", "10K", "-f", "json")
    data = json.loads(result.stdout)
    assert list(data) == ["schema", "model", "baseline", "ok", "checked", "failed", "budgets", "warnings"]
    assert list(data["budgets"][0]) == ["name", "metric", "limit", "actual", "margin", "ok", "baseline",
                                        "max_growth_percent", "growth_percent", "source"]
    assert (data["ok"], data["checked"], data["failed"]) == (False, 1, 1)  # 10,100 MACs against 10,000


def test_the_pre_commit_hook_of_the_docs_checks_each_file(repo):
    docs = (Path(__file__).resolve().parent.parent / "docs" / "ci.md").read_text()
    script = re.search(r"entry: sh -c '(.*)' --\n", docs).group(1)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def hook(*files):
        return subprocess.run(["sh", "-c", script, "--", *files], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300).returncode

    assert hook("small/base.onnx", "big/grown1.onnx") == 0
    assert hook("small/base.onnx", "small/grown3.onnx", "big/grown1.onnx") == 1  # 10,300 MACs over 10K


def test_the_reports_warnings_reach_stderr_and_the_junit_output(tmp_path):
    path = tmp_path / "batch.onnx"  # x [batch, 1000] · W [1000, 10]: batch is assumed 1, 10,000 MACs
    path.write_bytes(one_node("MatMul", {"x": ["batch", 1000]}, {"W": zeros(1000, 10)}).SerializeToString())
    result = run(path, "--max-macs", "10K", "-f", "junit")
    assert result.returncode == 0 and "warning:" in result.stderr and "--dim batch=N" in result.stderr
    root = ET.fromstring(result.stdout)
    validate_junit(root)
    assert "--dim batch=N" in root.find("testsuite/system-out").text
    assert run(path, "--max-macs", "10K", "--dim", "batch=2").returncode == 1  # 20,000 MACs


# --- the activation arena (onnxcost.arena) as a budget ---------------------------------------------------------

def test_max_arena_through_the_api_and_the_flag(grown):
    # x [1, 1000] and y [1, 10] floats, alive together at the one MatMul: 4,000 + 40 = 4,040 bytes, the peak too.
    report = onnxcost.analyze(grown["base"])
    rows = check_report(report, parse_budgets({"max-arena": 4_040, "max-peak-memory": 4_040})).rows
    assert [(row.name, row.actual, row.ok) for row in rows] == [("max-peak-memory", 4_040, True),
                                                               ("max-arena", 4_040, True)]
    below = check_report(report, parse_budgets({"max-arena": "4039"}))
    assert not below.ok and below.failures[0].describe() == "max-arena (4,040 > 4,039)"
    done = run(grown["base"], "--max-arena", "4KiB", "-f", "json")  # 4,096 bytes
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["budgets"][0] | {"source": ""} == {
        "name": "max-arena", "metric": "arena", "limit": 4_096, "actual": 4_040, "margin": 56, "ok": True,
        "baseline": None, "max_growth_percent": None, "growth_percent": None, "source": ""}
    assert run(grown["base"], "--max-arena", "4000").returncode == 1


def test_arena_growth_against_a_saved_report(grown):
    # The saved report keeps its rows, so its arena is planned again: 4,040 bytes; grown3 has x [1, 1030]:
    # 4,120 + 40 = 4,160 bytes, +2.97%.
    result = check(grown["grown3"], {"max-growth": "arena=2%"}, baseline=grown["base.json"])
    row = result.rows[0]
    assert (row.name, row.baseline, row.actual, row.limit, row.ok) == ("max-growth-arena", 4_040, 4_160, 4_120, False)
    assert row.growth_percent == pytest.approx(120 / 4_040 * 100)
