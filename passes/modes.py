"""How much of each conv a rewrite keeps: the modes, and the rank each per-layer mode picks.

``Exact``, ``Rank`` and ``Energy`` pick a rank per layer from its decomposition alone (``layer_rank``);
``TargetMacs`` is a budget for the whole model, spent by the planner (``budget.allocate``); ``TargetLatency`` a
budget of the whole model's latency measured in onnxruntime, spent by ``latency``. Option errors name the
parameter they are about (``rank``, ``energy``, ``target_macs``, ``target_latency``), for the CLI to map to its flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from onnxcost.units import human_count, parse_quantity

from .errors import RewriteOptionError

if TYPE_CHECKING:
    from .protocol import Decomposition


@dataclass(frozen=True)
class Exact:
    """The rank that reproduces every layer (up to float rounding); MACs may grow."""

    def layer_rank(self, d: Decomposition) -> int:
        """The decomposition's exact rank."""
        return d.exact_rank

    def describe(self) -> str:
        """The mode as the plan names it: "exact"."""
        return "exact"


@dataclass(frozen=True)
class Rank:
    """The same rank for every layer (clipped to the layer's full rank)."""

    rank: int

    def __post_init__(self):
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise RewriteOptionError(f"rank must be an integer >= 1, got {self.rank}", parameter="rank")

    def layer_rank(self, d: Decomposition) -> int:
        """``rank``, at most the layer's full rank."""
        return min(self.rank, d.max_rank)

    def describe(self) -> str:
        """The mode as the plan names it: "rank R"."""
        return f"rank {self.rank}"


@dataclass(frozen=True)
class Energy:
    """Per layer, the smallest rank keeping ``fraction`` of the squared singular values."""

    fraction: float

    def __post_init__(self):
        if not (isinstance(self.fraction, (int, float)) and 0 < self.fraction <= 1):
            raise RewriteOptionError(f"energy must be in (0, 1], got {self.fraction}", parameter="energy")

    def layer_rank(self, d: Decomposition) -> int:
        """``energy_rank`` of the layer's decomposition."""
        return energy_rank(d, self.fraction)

    def describe(self) -> str:
        """The mode as the plan names it: "energy E"."""
        return f"energy {self.fraction:g}"


@dataclass(frozen=True)
class TargetMacs:
    """A budget for the whole model's MACs: absolute (``macs``) or a fraction of the original (``ratio``)."""

    macs: int | None = None
    ratio: float | None = None

    def __post_init__(self):
        if (self.macs is None) == (self.ratio is None):
            raise RewriteOptionError("target_macs: give either an absolute number of MACs or a ratio",
                                     parameter="target_macs")
        if self.macs is not None and self.macs <= 0:
            raise RewriteOptionError(f"target_macs must be positive, got {self.macs}", parameter="target_macs")
        if self.ratio is not None and not 0 < self.ratio:
            raise RewriteOptionError(f"target_macs ratio must be positive, got {self.ratio}", parameter="target_macs")

    @classmethod
    def parse(cls, text: str) -> TargetMacs:
        """'3G' -> 3·10⁹ MACs, '0.5x' -> half the model's MACs."""
        spec = text.strip()
        if spec.lower().endswith("x"):
            try:
                return cls(ratio=float(spec[:-1]))
            except ValueError:
                raise RewriteOptionError(f"target_macs '{text}': a ratio is a number followed by x, e.g. 0.5x",
                                         parameter="target_macs") from None
        try:
            return cls(macs=parse_quantity(spec))
        except ValueError as exc:
            raise RewriteOptionError(f"target_macs '{text}': {exc}; or a ratio like 0.5x", parameter="target_macs") from None

    def budget(self, total_macs: int) -> int:
        """The MACs the rewritten model may have, for a model of ``total_macs``."""
        return self.macs if self.macs is not None else int(math.floor(self.ratio * total_macs))

    def describe(self) -> str:
        """The mode as the plan names it: "target 3 G MACs" or "target 0.5x MACs"."""
        return f"target {human_count(self.macs)} MACs" if self.macs is not None else f"target {self.ratio:g}x MACs"


@dataclass(frozen=True)
class TargetLatency:
    """A budget for the whole model's latency in onnxruntime (CPU): ``ratio`` of the original's measured median,
    every timing with ``threads`` intra-op threads (None: onnxruntime's default, one per core). Time as the model
    is deployed: a rewrite's share of the time differs with the threads (on PP-OCRv4 det, a plan measured 0.80x at
    one thread and 0.84x at two), and one thread is the steadiest on a shared machine."""

    ratio: float
    threads: int | None = None

    def __post_init__(self):
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, (int, float)) or not 0 < self.ratio < 1:
            raise RewriteOptionError(f"target_latency must be a ratio in (0, 1), got {self.ratio}",
                                     parameter="target_latency")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise RewriteOptionError(f"threads must be an integer >= 1, got {self.threads}", parameter="threads")

    @classmethod
    def parse(cls, text: str, threads: int | None = None) -> TargetLatency:
        """'0.8x' (or '0.8') -> 0.8 of the original model's measured latency."""
        spec = text.strip()
        try:
            return cls(ratio=float(spec[:-1] if spec.lower().endswith("x") else spec), threads=threads)
        except ValueError:
            raise RewriteOptionError(f"target_latency '{text}': a ratio of the measured latency, e.g. 0.8x",
                                     parameter="target_latency") from None

    def describe(self) -> str:
        """The mode as the plan names it: "target 0.8x latency" (", 1 thread" when the threads are set)."""
        threads = "" if self.threads is None else f", {self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"target {self.ratio:g}x latency{threads}"


Mode = Union[Exact, Rank, Energy, TargetMacs, TargetLatency]
DEFAULT_MODE = Energy(0.99)  # see docs/rewrite.md: with the MACs rule it never makes a model more expensive


def energy_rank(d: Decomposition, fraction: float) -> int:
    """Smallest rank r >= 1 whose kept squared singular values, ||W||² - squared_error(r), reach ``fraction``
    (0 < fraction <= 1) of ||W||²; 1 for all-zero weights."""
    norm = d.squared_norm
    if norm <= 0:
        return 1
    for rank in range(1, d.max_rank + 1):
        # A relative slack of a few ulps so that fraction=1 reaches full rank despite rounding in the sums.
        if norm - d.squared_error(rank) >= fraction * norm * (1 - 1e-12):
            return rank
    return d.max_rank
