"""The surgery: a plan's replacements put into the graph (graphsurgeon), the result exported and checked, and
onnxcost's report of it held against the plan's prediction.

The report must confirm the predicted MACs and memory traffic of every rewritten layer and the MACs, params
and memory traffic of the whole model; any difference is a bug in a structure or its cost rule
(``PredictionMismatch``), never the user's input.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import onnx_graphsurgeon as gs
from google.protobuf.message import EncodeError

from onnxcost.errors import InvalidModelError, first_line
from onnxcost.files import save_with_external_data
from onnxcost.report import Report

from .emitters import Names
from .errors import PredictionMismatch
from .plan import Plan
from .protocol import Structure
from .sites import ConvSite

# Model fields the rewritten model keeps from the original (graphsurgeon's export sets its own).
KEPT_FIELDS = ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string")


def rewrite_graph(graph: gs.Graph, sites: dict[str, ConvSite], plan: Plan, structure: Structure,
                  factors: Callable[[ConvSite, int], Any], original: onnx.ModelProto) -> onnx.ModelProto:
    """Emit every rewritten layer's replacement into ``graph`` (changed in place) and export it as a model with
    the original's opsets, fields and metadata; ``factors(site, rank)`` gives what ``structure.emit`` writes.

    Records the emitted nodes' names in each layer's ``nodes``.
    """
    names = Names(graph)
    for layer in plan.rewritten:
        site = sites[layer.name]
        nodes = structure.emit(graph, site, factors(site, layer.rank), layer.emission, names)
        _replace(graph, site, nodes)
        layer.nodes = [n.name for n in nodes]
    model = gs.export_onnx(graph, do_type_check=False, opset_imports=list(original.opset_import))
    for name in KEPT_FIELDS:
        setattr(model, name, getattr(original, name))
    del model.metadata_props[:]
    model.metadata_props.extend(original.metadata_props)
    return model


def check(model: onnx.ModelProto, original: onnx.ModelProto) -> None:
    """onnx.checker's full check of the rewritten ``model``; when it fails, the original is checked too, to
    tell the user's model (InvalidModelError) from a bug of the pass (PredictionMismatch)."""
    try:
        full_check(model)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        try:
            full_check(original)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as failure:
            raise InvalidModelError(f"the input model fails onnx.checker already: {first_line(failure)}") from None
        raise PredictionMismatch(f"the rewritten model fails onnx.checker: {first_line(exc)}") from exc


def full_check(model: onnx.ModelProto) -> None:
    """onnx.checker's full check, through a file with external data for a model over protobuf's 2 GiB."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (EncodeError, ValueError):
        with tempfile.TemporaryDirectory(prefix="onnxcost-") as folder:
            path = save_with_external_data(model, Path(folder) / "model.onnx")
            onnx.checker.check_model(str(path), full_check=True)


def confirm(plan: Plan, report: Report) -> None:
    """The report of the rewritten model must agree with the prediction, per layer and in total."""
    rows = {row.name: row for row in report.nodes if row.scope == ""}
    for layer in plan.rewritten:
        for what, predicted in (("macs", layer.macs_after), ("memory_traffic_bytes", layer.traffic_after)):
            counted = sum(getattr(rows[name], what) for name in layer.nodes if name in rows)
            if counted != predicted:
                unit = "MACs" if what == "macs" else "bytes of memory traffic"
                raise PredictionMismatch(f"{layer.name}: the report counts {counted} {unit}, the pass predicted {predicted}")
    totals = report.totals
    if (totals.macs, totals.params, totals.memory_traffic_bytes) != (plan.macs_after, plan.params_after, plan.traffic_after):
        raise PredictionMismatch(
            f"the report of the rewritten model counts {totals.macs} MACs, {totals.params} params and "
            f"{totals.memory_traffic_bytes} bytes of memory traffic, the pass predicted {plan.macs_after}, "
            f"{plan.params_after} and {plan.traffic_after}"
        )


def _replace(graph: gs.Graph, site: ConvSite, nodes: list[gs.Node]) -> None:
    """Put ``nodes`` where the conv was; drop the conv, its folded chain, and Constant nodes only they used."""
    removed = [site.node, *site.chain]
    producers = [t.inputs[0] for n in removed for t in n.inputs
                 if isinstance(t, gs.Variable) and len(t.inputs) == 1 and t.inputs[0].op == "Constant"]
    position = graph.nodes.index(site.node)
    for node in removed:
        node.inputs.clear()
        node.outputs.clear()
    dead = {id(p) for p in producers if all(len(out.outputs) == 0 for out in p.outputs)}
    gone = {id(n) for n in removed} | dead
    kept_before = [n for n in graph.nodes[:position] if id(n) not in gone]
    kept_after = [n for n in graph.nodes[position:] if id(n) not in gone]
    graph.nodes = kept_before + list(nodes) + kept_after
