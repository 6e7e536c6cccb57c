"""Timing one conv against its replacements in onnxruntime, at the conv's real input shape.

For a site the driver builds small models of one layer each: the original
conv (with its folded followers' effect, as onnxruntime fuses them anyway) and
the replacement of every emission variant, emitted by the structure itself into
a fresh graph. They are timed interleaved in one process (``validation.time_models``)
and compared by their fastest run (see ``default_timer``). Nothing here is specific
to one structure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from onnxcost.validation import Progress, time_models

from .sites import ConvSite

# (models by key, feeds) -> seconds by key (the default: fastest of repeated runs)
Timer = Callable[[Mapping[str, onnx.ModelProto], Mapping[str, np.ndarray]], dict[str, float]]

ORIGINAL = "original"


class Names:
    """Fresh node and tensor names (``base``, then ``base_2``, ...) in a graph."""

    def __init__(self, graph: gs.Graph):
        self.nodes = {n.name for n in graph.nodes if n.name}
        self.tensors = set(graph.tensors().keys())

    def node(self, base: str) -> str:
        return _fresh(base, self.nodes)

    def tensor(self, base: str) -> str:
        return _fresh(base, self.tensors)


def _fresh(base: str, used: set[str]) -> str:
    candidate, counter = base, 1
    while candidate in used:
        counter += 1
        candidate = f"{base}_{counter}"
    used.add(candidate)
    return candidate


def default_timer(warmup: int = 2, runs: int = 7, max_runs: int = 51, target_seconds: float = 1.0,
                  progress: Progress | None = None, what: str = "measuring") -> Timer:
    """Best-of-runs seconds per model: ``warmup`` runs, then ``runs`` to ``max_runs`` interleaved runs filling
    ~``target_seconds``.

    The minimum, not the median: a layer alone runs for milliseconds, and on a shared machine other work only
    ever adds time to a run, in bursts that can cover half of them; the fastest run is the layer's own cost.
    """
    def timer(models: Mapping[str, onnx.ModelProto], feeds: Mapping[str, np.ndarray]) -> dict[str, float]:
        timings = time_models(models, feeds, warmup=warmup, runs=runs, max_runs=max_runs, target_seconds=target_seconds,
                              progress=progress, what=what)
        return {key: t.minimum for key, t in timings.items()}
    return timer


def layer_models(site: ConvSite, structure, factors, variants: tuple[str, ...], opset: int,
                 ir_version: int) -> dict[str, onnx.ModelProto]:
    """One-layer models: the original conv and, per variant, the structure's replacement."""
    models = {ORIGINAL: _export(_original_graph(site, opset), opset, ir_version)}
    for variant in variants:
        models[variant] = replacement_model(site, structure, factors, variant, opset, ir_version)
    return models


def replacement_model(site: ConvSite, structure, factors, variant: str, opset: int, ir_version: int) -> onnx.ModelProto:
    """The structure's replacement of ``site`` alone: input x of the conv's input shape, output y.

    Its nodes see the shapes they have in the whole model, so onnxcost's report of it gives their costs there.
    """
    graph, x, y = _empty_graph(site, opset)
    alone = dataclasses.replace(site, input=x, output=y, chain=[], folded=[])
    graph.nodes.extend(structure.emit(graph, alone, factors, variant, Names(graph)))
    return _export(graph, opset, ir_version)


def layer_feeds(site: ConvSite, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(site.input_shape).astype(site.dtype)}


def _empty_graph(site: ConvSite, opset: int) -> tuple[gs.Graph, gs.Variable, gs.Variable]:
    x = gs.Variable("x", dtype=site.dtype, shape=list(site.input_shape))
    y = gs.Variable("y", dtype=site.dtype)
    return gs.Graph(inputs=[x], outputs=[y], opset=opset, name=f"{site.name} alone"), x, y


def _original_graph(site: ConvSite, opset: int) -> gs.Graph:
    graph, x, y = _empty_graph(site, opset)
    inputs = [x, gs.Constant("w", site.weight)] + ([gs.Constant("b", site.bias)] if site.bias is not None else [])
    graph.nodes.append(gs.Node("Conv", name=site.name, attrs={**site.conv_attrs(), "group": site.group},
                               inputs=inputs, outputs=[y]))
    return graph


def _export(graph: gs.Graph, opset: int, ir_version: int) -> onnx.ModelProto:
    model = gs.export_onnx(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    model.ir_version = ir_version  # the original model's: onnxruntime accepts what it accepted there
    return model
