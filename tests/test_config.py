"""Budgets in pyproject.toml or onnxcost.toml: finding the file, its format, globs and precedence."""

import re
import sys

import pytest

from onnxcost.budgets import BudgetError, BudgetSet, parse_budgets, parse_growth, parse_limit, METRICS
from onnxcost.config import ConfigError, budgets_for, find_config, glob_regex, load_config

PYPROJECT = """
[project]
name = "models"

[tool.onnxcost]
max-params = "25M"
max-peak-memory = "64MiB"

[tool.onnxcost.budgets."models/*.onnx"]
max-macs = "5G"

[tool.onnxcost.budgets."models/detectors/*.onnx"]
max-macs = "20G"
max-growth = { macs = "2%", params = 0 }
baseline = "baselines/{stem}.json"

[tool.onnxcost.budgets."tiny_*.onnx"]
max-params = 100_000
"""


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "models" / "detectors").mkdir(parents=True)
    return tmp_path


def test_found_by_walking_up_past_a_pyproject_without_the_table(repo, monkeypatch):
    inner = repo / "models" / "detectors"
    (repo / "models" / "pyproject.toml").write_text("[project]\nname = 'other'\n")  # no [tool.onnxcost]: skipped
    assert find_config(inner) == repo / "pyproject.toml"
    monkeypatch.chdir(inner)
    assert find_config() == repo / "pyproject.toml"
    (inner / "onnxcost.toml").write_text('max-macs = "1G"\n')
    assert find_config() == inner / "onnxcost.toml"


def test_nothing_found_is_none(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(tmp_path) is None  # pytest's temporary folders have no config above them


def test_two_globs_and_the_defaults(repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = load_config(repo / "pyproject.toml")
    classifier = budgets_for(repo / "models" / "resnet.onnx", config)
    assert classifier.limits == {"macs": 5_000_000_000, "params": 25_000_000, "peak_memory": 64 * 2**20}
    assert classifier.growth == {} and classifier.baseline is None
    detector = budgets_for(repo / "models" / "detectors" / "yolo.onnx", config)
    # "models/*.onnx" stops at the folder: only the detectors' table applies, with the defaults.
    assert detector.limits == {"macs": 20_000_000_000, "params": 25_000_000, "peak_memory": 64 * 2**20}
    assert detector.growth == {"macs": 2.0, "params": 0.0}
    assert detector.baseline == str(repo / "baselines" / "yolo.json")
    assert detector.origins["max-macs"] == 'pyproject.toml [tool.onnxcost.budgets."models/detectors/*.onnx"]'
    assert detector.origins["max-params"] == "pyproject.toml [tool.onnxcost]"
    elsewhere = budgets_for(repo / "scripts" / "x.onnx", config)
    assert elsewhere.limits == {"params": 25_000_000, "peak_memory": 64 * 2**20}


def test_a_later_table_wins_and_a_name_glob_matches_anywhere(repo, tmp_path_factory):
    config = load_config(repo / "pyproject.toml")
    tiny = budgets_for(repo / "models" / "tiny_net.onnx", config)
    assert tiny.limits["macs"] == 5_000_000_000 and tiny.limits["params"] == 100_000  # both tables apply
    outside = tmp_path_factory.mktemp("elsewhere") / "tiny_x.onnx"
    assert budgets_for(outside, config).limits["params"] == 100_000  # name-only globs match outside the folder too
    assert "macs" not in budgets_for(outside, config).limits


def test_relative_paths_are_taken_from_the_current_folder(repo, monkeypatch):
    monkeypatch.chdir(repo / "models")
    config = load_config("../pyproject.toml")
    assert budgets_for("resnet.onnx", config).limits["macs"] == 5_000_000_000


def test_onnxcost_toml_has_the_keys_at_the_top(tmp_path):
    path = tmp_path / "onnxcost.toml"
    path.write_text('max-macs = "1G"\n[budgets."big/**/*.onnx"]\nmax-macs = "2G"\n')
    config = load_config(path)
    assert budgets_for(tmp_path / "a.onnx", config).limits == {"macs": 1_000_000_000}
    assert budgets_for(tmp_path / "big" / "x" / "y" / "a.onnx", config).limits == {"macs": 2_000_000_000}
    assert budgets_for(tmp_path / "big" / "a.onnx", config).limits == {"macs": 2_000_000_000}  # **/ spans none too


@pytest.mark.parametrize("pattern, path, matches", [
    ("models/*.onnx", "models/a.onnx", True),
    ("models/*.onnx", "models/sub/a.onnx", False),
    ("models/**/*.onnx", "models/sub/deeper/a.onnx", True),
    ("models/**/*.onnx", "models/a.onnx", True),
    ("./models/?.onnx", "models/a.onnx", True),
    ("models/?.onnx", "models/ab.onnx", False),
    ("models/[!x]*.onnx", "models/a.onnx", True),
    ("models/[!x]*.onnx", "models/xa.onnx", False),
    ("models/v1.0+/*.onnx", "models/v1.0+/a.onnx", True),  # regex characters are literal
    ("models/v1.0+/*.onnx", "models/v1x0/a.onnx", False),
])
def test_glob_semantics(pattern, path, matches):
    assert (glob_regex(pattern).fullmatch(path) is not None) == matches


@pytest.mark.parametrize("text, message", [
    ('[tool.onnxcost]\nmax-mac = "5G"\n', "unknown key 'max-mac'"),
    ('[tool.onnxcost]\nmax-macs = "5GiB"\n', "MACs are counted, not bytes"),
    ('[tool.onnxcost]\nmax-macs = "five"\n', "max-macs 'five'"),
    ('[tool.onnxcost]\nmax-macs = -3\n', "cannot be negative"),
    ('[tool.onnxcost]\nmax-growth = "macs=two"\n', "not a percentage"),
    ('[tool.onnxcost]\nmax-growth = "mac=2%"\n', "unknown metric 'mac'"),
    ('[tool.onnxcost]\nbudgets = 3\n', "budgets should be a table of globs"),
    ('[tool.onnxcost.budgets."m/[x.onnx"]\nmax-macs = "1G"\n', "has a '[' without its ']'"),
    ('[tool.onnxcost.budgets."m/*.onnx"]\nmax-macs = "1G"\nmax-macs = "2G"\n', "not valid TOML"),
    ('[project]\nname = "x"\n', "has no [tool.onnxcost] table"),
])
def test_a_bad_config_is_one_line_naming_the_file(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises((ConfigError, BudgetError), match=re.escape(message)) as caught:
        load_config("pyproject.toml")
    assert str(caught.value).startswith("pyproject.toml") and "\n" not in str(caught.value)


def test_python_without_tomllib_is_told_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "onnxcost.toml").write_text('max-macs = "1G"\n')
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10 without tomli: the imports fail
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ConfigError, match="needs Python 3.11 or newer"):
        load_config(tmp_path / "onnxcost.toml")


@pytest.mark.parametrize("metric, text, value", [
    ("macs", "5G", 5_000_000_000),
    ("macs", "15470264319", 15_470_264_319),  # exact, not through a float
    ("macs", "123456789012345678901", 123_456_789_012_345_678_901),
    ("macs", "1.5M", 1_500_000),
    ("params", "25M", 25_000_000),
    ("params", "25_000_000", 25_000_000),
    ("param_bytes", "30MB", 30_000_000),
    ("param_bytes", "64MiB", 64 * 1024 * 1024),
    ("peak_memory", "1GiB", 2**30),
    ("peak_memory", "512", 512),
    ("memory_traffic", "2G", 2_000_000_000),
])
def test_limits_take_units(metric, text, value):
    assert parse_limit(text, METRICS[metric], "x") == value


def test_growth_as_text_or_table_and_flags_win():
    assert parse_growth("macs=2%, params=0%,peak-memory=0.5", "x") == {"macs": 2.0, "params": 0.0, "peak_memory": 0.5}
    assert parse_growth({"macs": 2, "param_bytes": "-1%"}, "x") == {"macs": 2.0, "param_bytes": -1.0}
    configured = parse_budgets({"max-macs": "5G", "max-params": "25M", "max-growth": "macs=2%"}, "cfg")
    flags = parse_budgets({"--max-macs": "6G", "--max-flops": None, "--max-growth": "macs=5%"})
    merged = configured.merged(flags)
    assert merged.limits == {"macs": 6_000_000_000, "params": 25_000_000} and merged.growth == {"macs": 5.0}
    assert merged.origins == {"max-macs": "command line", "max-params": "cfg", "max-growth-macs": "command line"}
    assert not BudgetSet() and not parse_budgets({"--max-macs": None})


def test_max_arena_is_a_budget_key(tmp_path):
    (tmp_path / "onnxcost.toml").write_text('max-arena = "8MiB"\n[budgets."*.onnx"]\nmax-growth = "arena=1%"\n')
    config = load_config(tmp_path / "onnxcost.toml")
    assert config.defaults.limits == {"arena": 8 * 2**20}
    assert config.rules[0].budgets.growth == {"arena": 1.0}
    assert parse_limit("64MiB", METRICS["arena"], "x") == 64 * 2**20  # bytes, like the peak
