"""Costs written into a copy of the model, so that Netron (node and model properties) and any ONNX tool show them
with the model itself: each node's ``metadata_props`` get its figures, the model's ``metadata_props`` the totals.

Nothing else changes: weights stay byte for byte as they were (a model whose weights are external data keeps
pointing at the same files, so its copy goes in the same folder), and entries of other tools are kept. Keys are
'onnxcost.<figure>' with exact integers as decimal text; annotating again replaces them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnx

from . import files, walk
from .errors import OnnxcostError, OutputWriteError
from .loading import DEFAULT_MAX_FILE_BYTES, external_tensors, load_model
from .render.as_csv import shape_text
from .report import SCHEMA, NodeRow, Report

PREFIX = "onnxcost."
NODE_FIGURES = ["macs", "flops", "special_ops", "params", "param_bytes", "output_bytes", "bytes_read", "memory_traffic_bytes"]


@dataclass
class Annotation:
    """What ``annotate`` wrote: the file, how many nodes carry their figures, and the nodes of the model that have
    no row in the report (a local function's call, costed as the nodes inlined from it); Constant nodes aside."""

    path: Path
    annotated: int
    unmatched: list[str]


def annotate(model: str | os.PathLike | onnx.ModelProto, report: Report, target: str | os.PathLike, *,
             max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Annotation:
    """Write ``model`` (a path or a ModelProto, left unchanged) to ``target`` atomically with ``report``'s figures
    in its metadata. Nodes are matched to rows by their subgraph and output names, so ``report`` must be of
    this model. Raises an OnnxcostError when it is not, when ``target`` is the model itself (or not a regular file),
    or when external weights would be left behind."""
    loaded = load_model(model, max_file_bytes=max_file_bytes)
    files.check_target(target, [loaded.path] if loaded.path is not None else [])  # never over the model itself
    annotated = loaded.model
    if loaded.path is None:  # the caller's ModelProto stays as it was
        annotated = onnx.ModelProto()
        annotated.CopyFrom(loaded.model)
    elif external_tensors(annotated) and Path(target).resolve().parent != loaded.path.resolve().parent:
        raise OutputWriteError(f"target {target} is not in {loaded.path.parent}, the folder of the external data files "
                               "that hold the model's weights: write the annotated copy there", parameter="target")
    rows = {(row.scope, tuple(row.outputs)): row for row in report.nodes}
    matched, unmatched = _annotate_graph(annotated.graph, "", rows)
    if report.nodes and not matched:
        raise OnnxcostError(f"the report is not of this model: none of its {len(report.nodes)} nodes matches a node "
                            "of the model")
    _replace(annotated.metadata_props, _model_entries(report))
    return Annotation(_write(annotated, target), matched, unmatched)


def _write(model: onnx.ModelProto, target: str | os.PathLike) -> Path:
    """The bytes as they are, atomically: only metadata changed, so there is nothing for onnx.checker to find that
    the analysis did not accept. A ModelProto past protobuf's 2 GiB goes out with its weights beside it."""
    from google.protobuf.message import EncodeError

    try:
        data = model.SerializeToString()
    except (ValueError, EncodeError):  # over 2 GiB
        return files.save_model(model, target, full_check=False)
    return files.write_atomic(target, data)


def _annotate_graph(graph: onnx.GraphProto, scope: str, rows: dict[tuple, NodeRow]) -> tuple[int, list[str]]:
    """Figures into the nodes of ``graph`` and its subgraphs (scopes named as analysis.py names them)."""
    matched, unmatched = 0, []
    for position, node in enumerate(graph.node):
        row = rows.get((scope, tuple(node.output)))
        if row is None:
            if not (node.op_type == "Constant" and node.domain in ("", "ai.onnx")):  # a Constant is a weight, not a row
                unmatched.append((f"{scope}/" if scope else "") + (node.name or f"{node.op_type} #{position}"))
            continue
        entries = {name: str(getattr(row, name)) for name in NODE_FIGURES}
        if row.repeat != 1:
            entries["repeat"] = str(row.repeat)  # the figures are for one execution
        if not row.costed:
            entries["costed"] = "false"
        _replace(node.metadata_props, entries)
        matched += 1
        for attribute, subgraph in walk.subgraphs(node):
            inner = f"{scope}/{row.name}/{attribute}" if scope else f"{row.name}/{attribute}"
            more, missing = _annotate_graph(subgraph, inner, rows)
            matched += more
            unmatched += missing
    return matched, unmatched


def _model_entries(report: Report) -> dict[str, str]:
    entries = {"report": SCHEMA}
    entries.update((name, str(value)) for name, value in vars(report.totals).items())
    if report.peak.node is not None:
        entries["peak_node"] = report.peak.node
    # The figures hold for these input shapes only.
    entries["inputs"] = ", ".join(f"{t.name}={shape_text(t.shape)}" for t in report.model.inputs)
    return entries


def _replace(props, entries: dict[str, str]) -> None:
    """Set 'onnxcost.<key>' entries of a metadata_props field; other entries are kept in their order."""
    keys = {PREFIX + key for key in entries}
    kept = [(p.key, p.value) for p in props if p.key not in keys]
    del props[:]
    for key, value in kept + [(PREFIX + k, v) for k, v in entries.items()]:
        props.add(key=key, value=value)
