"""Walking a model's protobuf: subgraphs of control-flow nodes and every stored tensor."""

from __future__ import annotations

from collections.abc import Iterator

import onnx
from onnx import AttributeProto

_GRAPH, _GRAPHS = AttributeProto.GRAPH, AttributeProto.GRAPHS


def subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """(attribute name, graph) for each graph attribute of ``node`` (If branches, Loop/Scan bodies)."""
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            yield attr.name, attr.g
        elif attr.type == AttributeProto.GRAPHS:
            for index, graph in enumerate(attr.graphs):
                yield f"{attr.name}[{index}]", graph


def has_subgraphs(node: onnx.NodeProto) -> bool:
    """Whether ``node`` holds a graph attribute (the test ``subgraphs`` makes, without a generator per node)."""
    for attr in node.attribute:
        if attr.type == _GRAPH or attr.type == _GRAPHS:
            return True
    return False


def nests(graph: onnx.GraphProto) -> bool:
    """Whether any node of ``graph`` holds a graph attribute: one walk, after which ``graphs(..., nested=False)`` and
    the per-node tests of a flat model (most models) cost nothing."""
    return any(has_subgraphs(node) for node in graph.node)


def graphs(graph: onnx.GraphProto, nested: bool = True) -> Iterator[onnx.GraphProto]:
    """``graph`` and all graphs nested in it, outermost first. ``nested=False``: the caller knows there are none
    (``nests``), and ``graph`` alone is yielded without reading a node."""
    if not nested:
        yield graph
        return
    stack = [graph]
    while stack:
        current = stack.pop()
        yield current
        # Inline rather than through subgraphs(): this runs over every node of the model, several times per report.
        for node in current.node:
            for attr in node.attribute:
                if attr.type == _GRAPH:
                    stack.append(attr.g)
                elif attr.type == _GRAPHS:
                    stack.extend(attr.graphs)


def model_graphs(model: onnx.ModelProto) -> Iterator[onnx.GraphProto]:
    """The main graph and every graph nested in it or in the model's local functions."""
    yield from graphs(model.graph)
    for function in model.functions:
        for node in function.node:
            for _, sub in subgraphs(node):
                yield from graphs(sub)


def tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto the model stores: initializers and tensor attributes, in all graphs and functions."""
    all_nodes: list[onnx.NodeProto] = []
    for graph in model_graphs(model):
        yield from graph.initializer
        yield from (sparse.values for sparse in graph.sparse_initializer)
        all_nodes.extend(graph.node)
    for function in model.functions:
        all_nodes.extend(function.node)
    for node in all_nodes:
        for attr in node.attribute:
            if attr.type == AttributeProto.TENSOR:
                yield attr.t
            elif attr.type == AttributeProto.TENSORS:
                yield from attr.tensors
