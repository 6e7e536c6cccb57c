"""One conv alone as a model: the original conv, or a structure's replacement of it, at its real input shape.

The planner costs a replacement by onnxcost's report of this model (so the data movement a structure writes,
a channel shuffle, is counted by the report's own rules) and times the original against each emission on it
(``measure``). The replacement is emitted by the structure itself into a fresh graph; nothing here is
specific to one structure.
"""

from __future__ import annotations

import dataclasses

import onnx
import onnx_graphsurgeon as gs

from .emitters import Names
from .sites import ConvSite

ORIGINAL = "original"  # the key of the original conv among ``layer_models``


def layer_models(site: ConvSite, structure, factors, variants: tuple[str, ...], opset: int,
                 ir_version: int) -> dict[str, onnx.ModelProto]:
    """One-layer models: the original conv (key ``ORIGINAL``) and, per variant, the structure's replacement."""
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
