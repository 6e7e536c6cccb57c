"""The plan of a rewrite as data: per layer what happens and what it costs, and the model's totals.

MACs are for the batch size of the model's shapes; params are weight elements; traffic is memory traffic in
bytes (read + written per node, weights included), all by onnxcost's own rules. "after" figures are
predictions until ``Rewriter.apply`` confirms them against onnxcost's report of the written model.
``Plan.to_dict`` is the ``plan`` record of the rewrite JSON (docs/rewrite-schema.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Alternative:
    """Another structure at (at most) the same MACs as the chosen rewrite of a layer: its best weight error there."""

    structure: str
    rank: int | None  # the least-error rank whose MACs do not exceed the layer's: the largest (None: no rank fits)
    macs: int | None
    weight_rel_error: float | None  # ||W - W_r|| / ||W|| of that structure at that rank
    reason: str | None = None  # why there is none


@dataclass
class LayerPlan:
    """One conv of the model: whether it is rewritten (else why not), at which rank, and its cost before/after."""

    name: str
    cin: int | None
    cout: int | None
    kernel: list[int]
    group: int
    rewrite: bool
    reason: str | None  # why it stays as it is (None when rewritten)
    rank: int | None = None  # chosen (or, for a layer left alone, considered) rank
    max_rank: int | None = None
    exact_rank: int | None = None
    kept_energy: float | None = None  # fraction of ||W||² kept at ``rank``
    weight_rel_error: float | None = None  # ||W - W_r|| / ||W||
    macs_before: int = 0
    macs_after: int = 0  # predicted
    params_before: int = 0
    params_after: int = 0  # predicted
    traffic_before: int = 0  # memory traffic bytes of the conv and its folded chain
    traffic_after: int = 0  # predicted: onnxcost's report of the replacement alone
    emission: str | None = None
    folded: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # best-of-runs seconds: "original" and per variant
    note: str | None = None
    nodes: list[str] = field(default_factory=list)  # names of the emitted nodes (after apply)
    alternatives: list[Alternative] = field(default_factory=list)  # with plan(compare=True), rewritten layers only
    least_error: str | None = None  # with plan(compare=True): the structure with the least weight error at macs_after
    output_rel_error: float | None = None  # calibrated only: predicted sqrt(E‖(W − Ŵ)p‖² / E‖W p‖²) on the data


@dataclass
class Plan:
    """Every conv's ``LayerPlan`` in graph order and the whole model's totals before and (predicted) after."""

    structure: str
    mode: str
    exact: bool
    layers: list[LayerPlan]
    macs_before: int
    params_before: int
    macs_after: int  # predicted
    params_after: int  # predicted
    traffic_before: int = 0  # memory traffic bytes of the whole model
    traffic_after: int = 0  # predicted
    budget: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    calibration: dict | None = None  # calibrated only: samples, held_out, refit (docs/rewrite-schema.md)

    @property
    def rewritten(self) -> list[LayerPlan]:
        """The layers that are rewritten, in graph order."""
        return [layer for layer in self.layers if layer.rewrite]

    def to_dict(self) -> dict:
        """Every field, layers and alternatives as dicts (values may be numpy scalars); the calibrated-only keys
        (``calibration``, a layer's ``output_rel_error``) only when calibrated, so other records keep their bytes."""
        record = asdict(self)
        if self.calibration is None:
            del record["calibration"]
            for layer in record["layers"]:
                del layer["output_rel_error"]
        return record
