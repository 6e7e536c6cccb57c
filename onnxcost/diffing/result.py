"""The diff as data: totals and op types side by side, and the node changes, heaviest first.

Every figure is an exact integer; a node's figures are what it adds to the totals (per execution times
``repeat``), so the changes' deltas add up to the totals' deltas when every node is matched one to one.
``DiffResult.to_dict`` is the JSON record (docs/diff.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..report import ModelInfo
from .matching import Pair

SCHEMA = "onnxcost.diff/1"

CHANGED, REPLACED, ADDED, REMOVED = "changed", "replaced", "added", "removed"
NODE_FIGURES = ("macs", "flops", "params", "param_bytes", "memory_traffic_bytes")


@dataclass(frozen=True)
class Delta:
    """One figure in A and in B."""

    a: int
    b: int

    @property
    def delta(self) -> int:
        return self.b - self.a

    @property
    def percent(self) -> float | None:
        """100·(B - A)/A; None when A is 0 (no percentage of nothing)."""
        return None if self.a == 0 else 100 * (self.b - self.a) / self.a

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "delta": self.delta, "percent": self.percent}


@dataclass
class NodeRef:
    """A node of one side, as the change lists it."""

    index: int
    name: str  # with its scope, e.g. "loop_1/body/add"
    op_type: str
    output_shapes: list[list[int] | None]
    repeat: int


@dataclass
class NodeChange:
    """A node that changed, a group that replaced a node (or the other way round), or a node added or removed.

    ``a``, ``b``: the nodes on each side (none for an added or a removed node); the figures: the sums over them."""

    kind: str  # CHANGED, REPLACED, ADDED or REMOVED
    matched_by: str | None  # how the sides were paired (matching.NAME, PREFIX, SIGNATURE, POSITION); None: unpaired
    a: list[NodeRef]
    b: list[NodeRef]
    macs: Delta
    flops: Delta
    params: Delta
    param_bytes: Delta
    memory_traffic_bytes: Delta

    @property
    def label(self) -> str:
        """'conv1', 'old -> new' (renamed), 'conv3_1 -> conv3_1/dw + conv3_1/pw', or the added or removed node;
        a group of more than three nodes under one name as 'conv1 -> conv1/{dw.0, dw.1, dw.2, dw, pw}'."""
        names_a, names_b = _names(self.a, self.b), _names(self.b, self.a)
        if not self.a or not self.b:
            return names_a or names_b
        return names_a if names_a == names_b else f"{names_a} -> {names_b}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "matched_by": self.matched_by,
            "a": [asdict(r) for r in self.a],
            "b": [asdict(r) for r in self.b],
            **{name: getattr(self, name).to_dict() for name in NODE_FIGURES},
        }


def _names(refs: list[NodeRef], other: list[NodeRef]) -> str:
    if len(refs) > 3 and len(other) == 1 and all(r.name.startswith(other[0].name + "/") for r in refs):
        cut = len(other[0].name) + 1
        return f"{other[0].name}/{{{', '.join(r.name[cut:] for r in refs)}}}"
    return " + ".join(r.name for r in refs)


@dataclass
class MatchSummary:
    """How many rows were paired by each rule, and how many pairs changed."""

    by_name: int = 0
    by_prefix: int = 0  # groups
    by_signature: int = 0
    by_position: int = 0
    unchanged: int = 0
    changed: int = 0
    replaced: int = 0
    added: int = 0
    removed: int = 0


@dataclass
class DiffResult:
    """A against B: ``totals`` (every field of ``Report.totals``), ``by_op_type`` (op type -> figure -> Delta,
    heaviest change first), ``changes`` (heaviest first: |MACs delta|, then |params delta|, then |traffic delta|).

    ``pairs`` holds every pairing of rows (positions in each report's ``nodes``), changed or not; the record
    gives their counts (``matching``)."""

    a: ModelInfo
    b: ModelInfo
    totals: dict[str, Delta]
    by_op_type: dict[str, dict[str, Delta]]
    changes: list[NodeChange]
    matching: MatchSummary
    pairs: list[Pair] = field(default_factory=list, repr=False)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The machine form ("schema": "onnxcost.diff/1"); key order is part of the format."""
        return {
            "schema": SCHEMA,
            "a": asdict(self.a),
            "b": asdict(self.b),
            "totals": {name: delta.to_dict() for name, delta in self.totals.items()},
            "by_op_type": {op: {name: delta.to_dict() for name, delta in figures.items()}
                           for op, figures in self.by_op_type.items()},
            "matching": asdict(self.matching),
            "changes": [change.to_dict() for change in self.changes],
            "warnings": list(self.warnings),
        }
