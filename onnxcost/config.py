"""Budgets kept in the repository: ``[tool.onnxcost]`` in pyproject.toml, or the same keys at the top of an
onnxcost.toml; found by walking up from the current folder. The format is in docs/ci.md.

```toml
[tool.onnxcost]                      # defaults for every model
max-param-bytes = "100MB"

[tool.onnxcost.budgets."models/*.onnx"]
max-macs = "5G"
max-growth = "macs=2%"
baseline = "baselines/{stem}.json"
```

A model takes the defaults, then every ``budgets`` table whose glob matches it, in the order of the file
(a later table wins for the keys it sets). Reading needs Python 3.11's tomllib (tomli on 3.10).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .budgets import BudgetSet, parse_budgets
from .errors import OnnxcostError

CONFIG_FILES = ("onnxcost.toml", "pyproject.toml")  # the first found in a folder wins
RULES_KEY = "budgets"


class ConfigError(OnnxcostError):
    """A config file cannot be read: not TOML, no [tool.onnxcost] table, or a value that is not a budget."""


@dataclass
class BudgetRule:
    """The budgets of the models a glob matches."""

    pattern: str
    budgets: BudgetSet  # its baseline may hold {stem} / {name}, filled in per model

    def matches(self, relative: str | None, name: str) -> bool:
        """Whether the model at ``relative`` (its path from the config's folder with '/', None when outside it)
        and named ``name`` is one of this rule's."""
        if "/" not in self.pattern.strip("/"):
            return glob_regex(self.pattern).fullmatch(name) is not None
        return relative is not None and glob_regex(self.pattern).fullmatch(relative) is not None


@dataclass
class Config:
    """A parsed config file: the budgets for every model, then per glob."""

    path: Path
    defaults: BudgetSet = field(default_factory=BudgetSet)
    rules: list[BudgetRule] = field(default_factory=list)

    @property
    def root(self) -> Path:
        """The folder globs and relative baselines are taken from."""
        return self.path.parent

    @property
    def shown(self) -> str:
        """The file as people should read it: relative to the current folder when inside it."""
        return _shown(self.path)


def find_config(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest onnxcost.toml, or pyproject.toml with a [tool.onnxcost] table, in ``start`` (default: the
    current folder) or a folder above it; None when there is none."""
    folder = Path(os.path.abspath(start if start is not None else os.getcwd()))
    for candidate in (folder, *folder.parents):
        for name in CONFIG_FILES:
            path = candidate / name
            if path.is_file() and (name != "pyproject.toml" or _mentions_onnxcost(path)):
                return path
    return None


def load_config(path: str | os.PathLike) -> Config:
    """Parse ``path``: a pyproject.toml's [tool.onnxcost] table, any other file's top level."""
    path = Path(os.path.abspath(path))
    data = _read_toml(path)
    pyproject = path.name == "pyproject.toml"
    if pyproject:
        tool = data.get("tool")
        table = tool.get("onnxcost") if isinstance(tool, dict) else None
    else:
        table = data
    where = f"{_shown(path)}{' [tool.onnxcost]' if pyproject else ''}"
    if table is None:
        raise ConfigError(f"{_shown(path)} has no [tool.onnxcost] table")
    if not isinstance(table, dict):
        raise ConfigError(f"{where} should be a table")
    defaults = {key: value for key, value in table.items() if key != RULES_KEY}
    rules_table = table.get(RULES_KEY, {})
    if not isinstance(rules_table, dict):
        example = f'[{_prefix(pyproject)}{RULES_KEY}."models/*.onnx"]'
        raise ConfigError(f"{where}: {RULES_KEY} should be a table of globs, e.g. {example}")
    config = Config(path, parse_budgets(defaults, where, relative_to=path.parent))
    for pattern, values in rules_table.items():
        rule_where = f"{_shown(path)} [{_prefix(pyproject)}{RULES_KEY}.\"{pattern}\"]"
        if not isinstance(values, dict):
            raise ConfigError(f"{rule_where} should be a table of budgets, e.g. max-macs = \"5G\"")
        glob_regex(pattern, rule_where)  # refuse a broken glob now, not when a model happens to be checked
        config.rules.append(BudgetRule(pattern, parse_budgets(values, rule_where, relative_to=path.parent)))
    return config


def budgets_for(path: str | os.PathLike, config: Config | None) -> BudgetSet:
    """The budgets ``config`` gives the model at ``path``: the defaults, then each matching rule in file order.

    Globs are matched against the model's path relative to the config's folder (``*`` and ``?`` stop at '/',
    ``**/`` spans folders); a glob without '/' is matched against the file name, wherever the file is. A
    baseline's ``{stem}`` and ``{name}`` become the model's file name without and with its suffix.
    """
    if config is None:
        return BudgetSet()
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(config.root).as_posix()
    except ValueError:  # outside the config's folder: only name-only globs can match it
        relative = None
    budgets = BudgetSet().merged(config.defaults)  # a copy: the config is not changed below
    for rule in config.rules:
        if rule.matches(relative, absolute.name):
            budgets = budgets.merged(rule.budgets)
    if budgets.baseline is not None:
        budgets.baseline = budgets.baseline.replace("{stem}", absolute.stem).replace("{name}", absolute.name)
    return budgets


@lru_cache(maxsize=256)  # an audit matches thousands of paths against the same few globs
def glob_regex(pattern: str, where: str = "") -> re.Pattern:
    """A glob as a regex over '/'-separated paths: ``*`` and ``?`` stay within one folder, ``**/`` spans any
    number of folders (none included), ``[abc]``/``[!abc]`` are classes."""
    text = pattern.strip()
    text = text[2:] if text.startswith("./") else text.lstrip("/")
    out, i = [], 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        elif text[i] == "[":
            end = text.find("]", i + 2)
            if end < 0:
                raise ConfigError(f"{where + ': ' if where else ''}glob '{pattern}' has a '[' without its ']'")
            body = text[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:  # a class such as [z-a]
        raise ConfigError(f"{where + ': ' if where else ''}glob '{pattern}' is not valid ({exc})") from None


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser as a package (a dependency there)
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError(f"{_shown(path)}: reading config files needs Python 3.11 or newer (tomllib) or the "
                              "tomli package; or give the budgets as flags") from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{_shown(path)}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{_shown(path)}: is a directory, expected a .toml file") from None
    except OSError as exc:
        raise ConfigError(f"{_shown(path)}: cannot read ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{_shown(path)}: not valid TOML ({exc})") from None


def _mentions_onnxcost(path: Path) -> bool:
    # A text search, so that finding the file needs no TOML parser (Python 3.10) and no full parse per folder.
    try:
        return "[tool.onnxcost" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _prefix(pyproject: bool) -> str:
    return "tool.onnxcost." if pyproject else ""


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
