"""Budgets: the most a model may cost (MACs, parameters, bytes...) and how much it may grow against a baseline.

Three sources say the same things with the same keys: flags (``--max-macs 5G``), a config file
(``max-macs = "5G"``, see ``onnxcost.config``) and the Python API (``{"max-macs": "5G"}``); ``parse_budgets``
reads them all. ``check_report`` judges a report against a BudgetSet and reads no file; ``check`` loads the
model, the baseline and the config, then calls it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from .errors import OnnxcostError
from .loading import DEFAULT_MAX_FILE_BYTES
from .report import Report
from .units import parse_quantity

SCHEMA = "onnxcost.check/1"


class BudgetError(OnnxcostError):
    """A budget cannot be read (bad number or unit, unknown key) or cannot be checked (no budget, no baseline)."""


@dataclass(frozen=True)
class Metric:
    """A total a budget can bound."""

    name: str  # as written in max-growth: "peak_memory"
    label: str  # for people: "peak activations"
    unit: str  # "count" (K, M, G: powers of 1000) or "bytes" (also KiB, MiB, GiB)
    total: str  # the attribute of report.Totals, or "" for a figure planned from the report's rows (the arena)

    @property
    def key(self) -> str:
        """The budget's key in flags and config files: "max-peak-memory"."""
        return "max-" + self.name.replace("_", "-")

    def of(self, report: Report) -> int:
        """The report's figure: a total, or the size of its planned activation arena (onnxcost.arena)."""
        if self.total:
            return getattr(report.totals, self.total)
        from .arena import plan_arena

        return plan_arena(report).size


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("macs", "MACs", "count", "macs"),
    Metric("flops", "FLOPs", "count", "flops"),
    Metric("params", "parameters", "count", "params"),
    Metric("param_bytes", "parameter bytes", "bytes", "param_bytes"),
    Metric("peak_memory", "peak activations", "bytes", "peak_activation_bytes"),
    Metric("memory_traffic", "memory traffic", "bytes", "memory_traffic_bytes"),
    Metric("arena", "activation arena", "bytes", ""),
)}
LIMIT_KEYS = {m.key: m for m in METRICS.values()}
GROWTH_KEY, BASELINE_KEY = "max-growth", "baseline"
KEYS = (*LIMIT_KEYS, GROWTH_KEY, BASELINE_KEY)


@dataclass
class BudgetSet:
    """Limits on totals and on their growth; ``origins`` says where each was set (for the report)."""

    limits: dict[str, int] = field(default_factory=dict)  # metric -> the largest total allowed
    growth: dict[str, float] = field(default_factory=dict)  # metric -> the largest growth allowed, in percent
    baseline: str | None = None  # what growth is measured against: a model or a saved report
    origins: dict[str, str] = field(default_factory=dict)  # "max-macs", "max-growth-macs", "baseline" -> where set

    def __bool__(self) -> bool:
        return bool(self.limits or self.growth)

    def merged(self, over: BudgetSet) -> BudgetSet:
        """This set with every budget ``over`` sets replaced by its value (flags over the config file)."""
        return BudgetSet(
            limits=_ordered({**self.limits, **over.limits}),
            growth=_ordered({**self.growth, **over.growth}),
            baseline=over.baseline if over.baseline is not None else self.baseline,
            origins={**self.origins, **over.origins},
        )

    def to_dict(self) -> dict:
        return {"limits": dict(self.limits), "growth": dict(self.growth), "baseline": self.baseline,
                "origins": dict(self.origins)}


def parse_budgets(values: Mapping[str, object], where: str = "",
                  relative_to: str | os.PathLike | None = None) -> BudgetSet:
    """A BudgetSet from ``{"max-macs": "5G", "max-growth": "macs=2%", "baseline": "main.json"}``.

    Keys may be written with ``--`` in front and ``_`` for ``-`` (errors quote them as written); ``where``
    prefixes error messages and becomes each budget's origin; a relative ``baseline`` is taken from
    ``relative_to`` (a config file's folder). Values of None are skipped (a flag not given).
    """
    budgets = BudgetSet()
    origin = where or "command line"
    prefix = f"{where}: " if where else ""
    for written, value in values.items():
        if value is None:
            continue
        key = written.lstrip("-").replace("_", "-")
        if key in LIMIT_KEYS:
            metric = LIMIT_KEYS[key]
            budgets.limits[metric.name] = parse_limit(value, metric, f"{prefix}{written}")
            budgets.origins[key] = origin
        elif key == GROWTH_KEY:
            for name, percent in parse_growth(value, f"{prefix}{written}").items():
                budgets.growth[name] = percent
                budgets.origins[f"{GROWTH_KEY}-{name.replace('_', '-')}"] = origin
        elif key == BASELINE_KEY:
            if not isinstance(value, (str, os.PathLike)) or not str(value):
                raise BudgetError(f"{prefix}{written} should be the path of a model or a saved report")
            path = Path(value)
            if relative_to is not None and not path.is_absolute():
                path = Path(relative_to) / path
            budgets.baseline = str(path)
            budgets.origins[BASELINE_KEY] = origin
        else:
            raise BudgetError(f"{prefix}unknown key '{written}' (known: {', '.join(KEYS)})")
    budgets.limits, budgets.growth = _ordered(budgets.limits), _ordered(budgets.growth)
    return budgets


_UNIT = re.compile(r"[A-Za-z]*\s*$")


def parse_limit(value: object, metric: Metric, what: str) -> int:
    """An integer limit: a plain integer (exact, however large), or a number with a unit. Every metric takes
    K, M, G, T, P (powers of 1000: "5G" = 5,000,000,000); byte metrics also take B, KB, MB, GB (powers of
    1000) and KiB, MiB, GiB, TiB (powers of 1024)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BudgetError(f"{what}: expected a number such as 5G or 25000000, found {value!r}")
    if isinstance(value, float):  # TOML's 5e9
        if not (math.isfinite(value) and value.is_integer()):
            raise BudgetError(f"{what} = {value!r}: expected a whole number")
        value = int(value)
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().replace("_", "").replace(",", "")
        unit = _UNIT.search(text).group().strip().lower()
        if metric.unit == "count" and unit.endswith("b"):
            raise BudgetError(f"{what} '{value}': {metric.label} are counted, not bytes: use K, M, G, T "
                              "(powers of 1000)")
        try:
            number = int(text) if text.isdigit() else parse_quantity(text)
        except ValueError as exc:
            raise BudgetError(f"{what} '{value}': {exc}") from None
    if number < 0:
        raise BudgetError(f"{what} = {value!r}: a limit cannot be negative")
    return number


def parse_growth(value: object, what: str) -> dict[str, float]:
    """``"macs=2%,params=0%"`` or ``{"macs": "2%", "params": 0}`` -> {"macs": 2.0, "params": 0.0}: the largest
    growth allowed against the baseline, in percent of the baseline (a negative one requires a reduction)."""
    if isinstance(value, str):
        pairs = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, percent = part.partition("=")
            if not sep:
                raise BudgetError(f"{what} '{value}': expected METRIC=PERCENT, e.g. macs=2%,params=0%")
            pairs.append((name.strip(), percent.strip()))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise BudgetError(f"{what}: expected METRIC=PERCENT, e.g. macs=2%,params=0%, found {value!r}")
    if not pairs:
        raise BudgetError(f"{what}: no METRIC=PERCENT given, e.g. macs=2%")
    growth = {}
    for name, percent in pairs:
        metric = str(name).replace("-", "_")
        if metric not in METRICS:
            raise BudgetError(f"{what}: unknown metric '{name}' (known: {', '.join(METRICS)})")
        growth[metric] = _percent(percent, f"{what} {name}")
    return growth


def _percent(value: object, what: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value.strip().removesuffix("%")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise BudgetError(f"{what}: '{value}' is not a percentage such as 2% or 0.5%") from None
    if not math.isfinite(number) or number < -100:
        raise BudgetError(f"{what}: '{value}' is not a percentage of at least -100%")
    return number


def _ordered(by_metric: dict) -> dict:
    return {name: by_metric[name] for name in METRICS if name in by_metric}


@dataclass
class BudgetRow:
    """One budget judged: its limit, the actual total, the margin left (negative when over) and the verdict."""

    name: str  # "max-macs", or "max-growth-macs" for a growth budget
    metric: str
    limit: int  # the largest total allowed; for growth, baseline × (1 + growth/100) rounded down
    actual: int
    margin: int  # limit - actual
    ok: bool
    baseline: int | None = None  # growth budgets: the baseline's total
    max_growth_percent: float | None = None
    growth_percent: float | None = None  # (actual - baseline) / baseline; None when the baseline is 0 and actual isn't
    source: str = ""  # where the budget was set: "command line", a config file and table

    def describe(self) -> str:
        """One phrase for summaries: 'max-macs (15,470,264,320 > 15,470,264,319)'."""
        if self.max_growth_percent is None:
            return f"{self.name} ({self.actual:,} > {self.limit:,})"
        grown = "from 0" if self.growth_percent is None else f"{self.growth_percent:+.2f}%"
        return f"{self.name} ({grown} > {self.max_growth_percent:+g}%: {self.actual:,} against {self.baseline:,})"


@dataclass
class CheckResult:
    """A model's totals judged against its budgets: ``ok`` when every row holds."""

    model: str
    rows: list[BudgetRow]
    baseline: str | None = None
    warnings: list[str] = field(default_factory=list)  # the report's (assumed dimensions, ops without cost rules)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list[BudgetRow]:
        return [row for row in self.rows if not row.ok]

    def summary(self) -> str:
        """One line: 'm.onnx: 3 of 3 budgets hold' or 'm.onnx: 1 of 3 budgets failed: max-macs (... > ...)'."""
        counted = f"of {len(self.rows)} budget{'' if len(self.rows) == 1 else 's'}"
        if self.ok:
            return f"{self.model}: {len(self.rows)} {counted} {'holds' if len(self.rows) == 1 else 'hold'}"
        return f"{self.model}: {len(self.failures)} {counted} failed: " + "; ".join(r.describe() for r in self.failures)

    def to_dict(self) -> dict:
        """The machine form (docs/ci.md, "check"); key order is part of the format."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "baseline": self.baseline,
            "ok": self.ok,
            "checked": len(self.rows),
            "failed": len(self.failures),
            "budgets": [asdict(row) for row in self.rows],
            "warnings": list(self.warnings),
        }


def check_report(report: Report, budgets: BudgetSet, baseline: Report | None = None) -> CheckResult:
    """Judge ``report`` against ``budgets`` (growth ones against ``baseline``'s totals). Pure: reads nothing.

    A limit holds when the total is at most the limit; a growth budget of g% holds when the total is at most
    baseline × (1 + g/100), computed exactly. An empty BudgetSet gives a result with no rows, which holds.
    """
    if budgets.growth and baseline is None:
        raise BudgetError("max-growth needs a baseline (a model or a saved report) to measure growth against")
    rows = []
    for name, limit in budgets.limits.items():
        metric, actual = METRICS[name], METRICS[name].of(report)
        rows.append(BudgetRow(metric.key, name, limit, actual, limit - actual, actual <= limit,
                              source=budgets.origins.get(metric.key, "")))
    for name, percent in budgets.growth.items():
        metric, actual = METRICS[name], METRICS[name].of(report)
        before = metric.of(baseline)
        # Exact: Fraction of the shortest decimal of the float ("2.1" is 21/10, not 2.10000000000000008882).
        limit = math.floor(before * (100 + Fraction(repr(percent))) / 100)
        grown = (actual - before) * 100 / before if before else (0.0 if actual == 0 else None)  # one rounding
        key = f"{GROWTH_KEY}-{name.replace('_', '-')}"
        rows.append(BudgetRow(key, name, limit, actual, limit - actual, actual <= limit, baseline=before,
                              max_growth_percent=percent, growth_percent=grown, source=budgets.origins.get(key, "")))
    return CheckResult(report.model.source, rows, baseline.model.source if baseline is not None else None,
                       list(report.warnings))


def check(
    model,
    budgets: BudgetSet | Mapping[str, object] | None = None,
    *,
    baseline=None,
    config=None,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> CheckResult:
    """Check ``model`` (an .onnx file, a saved report .json, a ModelProto or a Report) against its budgets.

    ``budgets``: a BudgetSet or ``{"max-macs": "5G", "max-growth": "macs=2%"}``; they override the budgets that
    ``config`` (a Config, or the path of a pyproject.toml or onnxcost.toml; None: no config file) gives this
    model. ``baseline`` (a model or a saved report) overrides the config's. Raises BudgetError when no budget
    applies, and when growth budgets lack a baseline or a baseline has no growth budget to serve.
    """
    from .config import Config, budgets_for, load_config
    from .saved import load_report

    if config is not None and not isinstance(config, Config):
        config = load_config(config)
    name = str(model) if isinstance(model, (str, os.PathLike)) else None
    given = budgets if isinstance(budgets, BudgetSet) else parse_budgets(budgets or {})
    merged = (budgets_for(name, config) if config is not None and name else BudgetSet()).merged(given)
    if baseline is not None and not merged.growth:  # a config's baseline may serve other models' growth budgets
        raise BudgetError(f"a baseline ({baseline if isinstance(baseline, (str, os.PathLike)) else 'given'}) but no "
                          "max-growth budget to measure against it (e.g. --max-growth macs=2%)")
    if not merged:
        where = f" ({config.shown} sets none for it)" if config is not None else ""
        raise BudgetError(f"no budget to check {name or 'the model'} against{where}: give a limit such as "
                          "--max-macs 5G or --max-growth macs=2%, or set budgets in pyproject.toml [tool.onnxcost] "
                          "or onnxcost.toml (see docs/ci.md)")
    base_source = baseline if baseline is not None else merged.baseline
    if merged.growth and base_source is None:
        raise BudgetError("max-growth needs a baseline: --baseline BASE (a model or a saved report .json) or "
                          "baseline = \"...\" in the config")
    report = load_report(model, inputs=inputs, dims=dims, max_file_bytes=max_file_bytes)
    base = None
    if merged.growth:
        base = load_report(base_source, inputs=inputs, dims=dims, max_file_bytes=max_file_bytes)
    result = check_report(report, merged, base)
    named = isinstance(base_source, (str, os.PathLike)) and base is not None
    base_name = str(base_source) if named else result.baseline
    return replace(result, model=name or result.model, baseline=base_name)
