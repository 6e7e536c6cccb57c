"""``onnxcost diff``'s library: what got more expensive from model (or saved report) A to B, where, by how much.

    result = onnxcost.diff("model.onnx", "model.sep.onnx")          # or saved report .json files, or Reports
    print(result.totals["macs"].delta, result.totals["macs"].percent)
    for change in result.changes[:10]:                             # heaviest first
        print(change.kind, change.label, change.macs.delta)

- ``matching``: which node of A is which node of B (name, name prefix, signature, position);
- ``deltas``: ``diff_reports``, the totals, op types and node changes of two reports;
- ``result``: ``DiffResult`` and its JSON record ("onnxcost.diff/1").
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import onnx

from ..loading import DEFAULT_MAX_FILE_BYTES
from ..report import Report
from .deltas import diff_reports
from .matching import Matching, Pair, match
from .result import SCHEMA, Delta, DiffResult, MatchSummary, NodeChange, NodeRef

Model = str | os.PathLike | onnx.ModelProto | Report


def diff(
    a: Model,
    b: Model,
    *,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> DiffResult:
    """A against B: each a model file (analysed with ``inputs``, ``dims`` and ``max_file_bytes``), a saved report
    (``onnxcost report -f json``; it keeps the shapes it was made with), a ModelProto or a Report."""
    from ..saved import load_report

    options = {"inputs": inputs, "dims": dims, "max_file_bytes": max_file_bytes}
    return diff_reports(load_report(a, **options), load_report(b, **options))


__all__ = ["SCHEMA", "Delta", "DiffResult", "MatchSummary", "Matching", "NodeChange", "NodeRef", "Pair", "diff",
           "diff_reports", "match"]
